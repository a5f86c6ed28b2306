// Process-group setup: the torchrun environment contract (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)
// read and checked, rendezvous through a TCP store hosted by rank 0 (or a file store on a shared filesystem), and
// the Gloo (CPU) or NCCL (CUDA) group built on it.
import * as torch from '../torch/index.js';
import { DistributedError } from '../errors.js';

// Defined with the other typed errors (src/errors.ts); exported here, where it is thrown, as before.
export { DistributedError };

/** Collective timeout unless SIMCLR_DIST_TIMEOUT (seconds) says otherwise. */
export const DEFAULT_TIMEOUT_S = 60;

/**
 * The rendezvous waits at least this long for every rank to start: process start-up, imports and opening the data
 * can take far longer than a collective may, and a launcher ends the others at once if a rank fails before.
 */
export const MIN_RENDEZVOUS_TIMEOUT_S = 300;

const HINT =
  'another rank exited or stopped responding (its own output says why), or the ranks ran different code; ' +
  'SIMCLR_DIST_TIMEOUT (seconds) sets the timeout';

/**
 * Runs fn; a collective failure from the binding (its message names the failing rank) becomes a DistributedError
 * that says what was being done and the likely cause. Other errors pass through unchanged.
 */
export function guardCollective<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const msg = (e as Error).message;
    if (!/ failed on rank \d+ of \d+/.test(msg)) throw e;
    throw new DistributedError(`${what}: ${msg}. Likely cause: ${HINT}.`);
  }
}

export interface DistEnv {
  rank: number;
  worldSize: number;
  /** Rank among the processes on this machine (picks the device on multi-GPU machines). */
  localRank: number;
  masterAddr: string;
  masterPort: number;
  timeoutMs: number;
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number): number {
  const raw = env[name];
  const n = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new DistributedError(
      `${name} must be an integer >= ${min}, got ${raw === undefined ? 'nothing' : `'${raw}'`}`,
    );
  }
  return n;
}

/** The timeout in ms from SIMCLR_DIST_TIMEOUT (seconds, fractions allowed), else DEFAULT_TIMEOUT_S. */
export function timeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SIMCLR_DIST_TIMEOUT;
  if (raw === undefined || raw === '') return DEFAULT_TIMEOUT_S * 1000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0)
    throw new DistributedError(`SIMCLR_DIST_TIMEOUT must be a positive number of seconds, got '${raw}'`);
  return Math.max(1, Math.round(s * 1000));
}

/**
 * The distributed environment of this process, or null when WORLD_SIZE is unset (a plain single-process run).
 * WORLD_SIZE=1 is a valid one-rank group.
 */
export function readDistEnv(env: NodeJS.ProcessEnv = process.env): DistEnv | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return null;
  const worldSize = intVar(env, 'WORLD_SIZE', 1);
  const rank = intVar(env, 'RANK', 0);
  if (rank >= worldSize) throw new DistributedError(`RANK ${rank} is not below WORLD_SIZE ${worldSize}`);
  const localRank = env.LOCAL_RANK === undefined ? 0 : intVar(env, 'LOCAL_RANK', 0);
  const masterAddr = env.MASTER_ADDR ?? '';
  if (masterAddr === '') throw new DistributedError('MASTER_ADDR must name the host of rank 0 (e.g. 127.0.0.1)');
  const masterPort = intVar(env, 'MASTER_PORT', 1);
  if (masterPort > 65535) throw new DistributedError(`MASTER_PORT must be a TCP port, got ${masterPort}`);
  return { rank, worldSize, localRank, masterAddr, masterPort, timeoutMs: timeoutFromEnv(env) };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export interface InitOptions {
  rank: number;
  worldSize: number;
  /** 'tcp://HOST:PORT' (rank 0 hosts the store) or 'file:///PATH' (a fresh file every rank can reach). */
  initMethod: string;
  /** Collective timeout; the rendezvous allows at least MIN_RENDEZVOUS_TIMEOUT_S. */
  timeoutMs: number;
  /** Address Gloo binds to; by default loopback when the store host is, else this machine's host name. */
  hostname?: string;
  /** Default 'gloo'; 'nccl' for CUDA training (torch.distributed.defaultBackend(device)). */
  backend?: torch.distributed.Backend;
  /** NCCL: this rank's GPU, 'cuda:N'. */
  device?: string;
}

/** Meets the other ranks and connects a process group; fails with a DistributedError after the timeout. */
export function initProcessGroup(opts: InitOptions): torch.distributed.ProcessGroup {
  const { rank, worldSize, initMethod, timeoutMs } = opts;
  const rendezvousMs = Math.max(timeoutMs, MIN_RENDEZVOUS_TIMEOUT_S * 1000);
  let store: torch.distributed.Store;
  let hostname = opts.hostname;
  try {
    if (initMethod.startsWith('tcp://')) {
      const url = new URL(initMethod);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = Number(url.port);
      if (!Number.isInteger(port) || port < 1) throw new DistributedError(`init method ${initMethod} needs a port`);
      store = torch.distributed.Store.tcp({ host, port, isServer: rank === 0, worldSize, timeoutMs: rendezvousMs });
      if (hostname === undefined && process.env.GLOO_SOCKET_IFNAME === undefined && LOOPBACK.has(host))
        hostname = '127.0.0.1';
    } else if (initMethod.startsWith('file://')) {
      store = torch.distributed.Store.file(new URL(initMethod).pathname, worldSize, rendezvousMs);
    } else {
      throw new DistributedError(`unknown init method '${initMethod}' (expected tcp://HOST:PORT or file:///PATH)`);
    }
  } catch (e) {
    if (e instanceof DistributedError) throw e;
    throw new DistributedError(
      `rank ${rank} of ${worldSize}: rendezvous through ${initMethod} failed within ${rendezvousMs / 1000} s (are ` +
        `all ranks started, with the same MASTER_ADDR/MASTER_PORT?): ${(e as Error).message}`,
    );
  }
  const backend = opts.backend ?? 'gloo';
  try {
    if (backend === 'nccl') {
      return new torch.distributed.ProcessGroup(store, rank, worldSize, {
        backend,
        timeoutMs,
        ...(opts.device !== undefined ? { device: opts.device } : {}),
      });
    }
    const iface = process.env.GLOO_SOCKET_IFNAME;
    return new torch.distributed.ProcessGroup(store, rank, worldSize, {
      timeoutMs,
      ...(iface !== undefined && iface !== '' ? { interface: iface } : hostname !== undefined ? { hostname } : {}),
    });
  } catch (e) {
    const name = backend === 'nccl' ? 'NCCL' : 'Gloo';
    throw new DistributedError(
      `rank ${rank} of ${worldSize}: connecting the ${name} process group failed within ${timeoutMs / 1000} s: ` +
        `${(e as Error).message}`,
    );
  }
}

/**
 * initProcessGroup from the torchrun-style environment; null when WORLD_SIZE is unset. `backend` defaults to 'gloo';
 * with 'nccl', `device` ('cuda:N', usually cuda:LOCAL_RANK) tells NCCL this rank's GPU.
 */
export function initFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  opts: { backend?: torch.distributed.Backend; device?: string } = {},
): { group: torch.distributed.ProcessGroup; env: DistEnv } | null {
  const d = readDistEnv(env);
  if (d === null) return null;
  const host = d.masterAddr.includes(':') ? `[${d.masterAddr}]` : d.masterAddr;
  return {
    group: initProcessGroup({
      rank: d.rank,
      worldSize: d.worldSize,
      initMethod: `tcp://${host}:${d.masterPort}`,
      timeoutMs: d.timeoutMs,
      ...opts,
    }),
    env: d,
  };
}
