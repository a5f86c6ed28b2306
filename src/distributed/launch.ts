// A local launcher in the manner of torchrun: starts one process per local rank with the rendezvous environment,
// splits the machine's cores between them, and ends them all when one fails, so a crash never leaves the others
// waiting. It loads no libtorch itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { watchedChild } from '../io/parent.js';

const INTERRUPTED = 130;

export interface LaunchOptions {
  /** Processes on this machine. */
  nproc: number;
  /** Machines in the job, and this one's index; ranks are nodeRank * nproc + localRank. */
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  /** null: a free port on this machine (single-node jobs only). */
  masterPort: number | null;
  /** Collective and rendezvous timeout, seconds. */
  timeoutS: number;
  /** The command each rank runs: argv[0] is the executable. */
  argv: readonly string[];
  /** Seconds a rank gets to exit after SIGTERM before SIGKILL (default 5). */
  gracePeriodS?: number;
  /** Where launcher messages and other ranks' prefixed output go (default stderr). */
  log?: (line: string) => void;
}

export interface LaunchResult {
  /** 0 if every rank succeeded, 130 if they were interrupted (and checkpointed), else the first failing rank's exit
   * code (128 + the signal's number for a signal). */
  exitCode: number;
  /** The first rank that failed, if any. */
  failedRank: number | null;
}

/** A TCP port that was free a moment ago on this machine. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function checkOptions(o: LaunchOptions): void {
  const positive = (v: number, name: string): void => {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  positive(o.nproc, '--nproc');
  positive(o.nnodes, '--nnodes');
  if (!Number.isInteger(o.nodeRank) || o.nodeRank < 0 || o.nodeRank >= o.nnodes)
    throw new RangeError(`--node-rank must be in [0, ${o.nnodes}), got ${o.nodeRank}`);
  if (o.masterPort !== null && (!Number.isInteger(o.masterPort) || o.masterPort < 1 || o.masterPort > 65535))
    throw new RangeError(`--master-port must be a TCP port, got ${o.masterPort}`);
  if (o.masterPort === null && o.nnodes > 1)
    throw new RangeError('--master-port is required with --nnodes > 1 (every node must name the same port)');
  if (!(o.timeoutS > 0)) throw new RangeError(`--timeout must be a positive number of seconds, got ${o.timeoutS}`);
  if (o.argv.length === 0) throw new RangeError('nothing to launch');
}

/** Intra-op threads per rank: the machine's cores split evenly between the local ranks (at least one). */
export function threadsPerRank(nproc: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / nproc));
}

/**
 * Runs the ranks of this node to completion. Local rank 0 shares this process's terminal; the others' output is
 * prefixed with their rank. If a rank exits non-zero (or is killed), the rest get SIGTERM, then SIGKILL after the
 * grace period. SIGINT and SIGTERM sent to the launcher are forwarded to every rank, SIGHUP as SIGTERM (the ranks are
 * in their own process group, so a terminal's Ctrl-C or hangup reaches them once, through here). Each rank watches this
 * process through a pipe
 * (src/io/parent.ts) and stops as on SIGTERM when it dies, even by SIGKILL.
 */
export async function launch(opts: LaunchOptions): Promise<LaunchResult> {
  checkOptions(opts);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const worldSize = opts.nproc * opts.nnodes;
  const port = opts.masterPort ?? (await freePort(opts.masterAddr));
  const threads = threadsPerRank(opts.nproc);
  const grace = (opts.gracePeriodS ?? 5) * 1000;
  const children: ChildProcess[] = [];
  const running = new Set<number>();
  let failedRank: number | null = null;
  let exitCode = 0;
  let killTimer: NodeJS.Timeout | null = null;

  const stopAll = (signal: NodeJS.Signals): void => {
    for (const i of running) children[i]!.kill(signal);
  };
  const failFast = (): void => {
    stopAll('SIGTERM');
    killTimer ??= setTimeout(() => stopAll('SIGKILL'), grace);
  };
  const onSignal = (signal: NodeJS.Signals): void => stopAll(signal);
  // A hangup (closed terminal, dropped SSH session) stops the ranks as SIGTERM does, and this process stays to report.
  const onHangup = (): void => stopAll('SIGTERM');
  const onExit = (): void => stopAll('SIGKILL');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onHangup);
  process.on('exit', onExit);

  log(
    `simclr launch: ${opts.nproc} rank(s) on this node of ${worldSize}, ${threads} thread(s) each, rendezvous ` +
      `${opts.masterAddr}:${port}, timeout ${opts.timeoutS} s`,
  );
  try {
    const done = new Promise<void>((resolve) => {
      for (let local = 0; local < opts.nproc; local++) {
        const rank = opts.nodeRank * opts.nproc + local;
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          RANK: String(rank),
          WORLD_SIZE: String(worldSize),
          LOCAL_RANK: String(local),
          LOCAL_WORLD_SIZE: String(opts.nproc),
          MASTER_ADDR: opts.masterAddr,
          MASTER_PORT: String(port),
          SIMCLR_DIST_TIMEOUT: String(opts.timeoutS),
          SIMCLR_NUM_THREADS: String(threads),
          // OpenBLAS and OpenMP size their own pools from the core count unless told; ranks would oversubscribe.
          OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(threads),
          OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? String(threads),
        };
        const child = spawn(opts.argv[0]!, opts.argv.slice(1), {
          detached: true,
          ...watchedChild(local === 0 ? 'inherit' : ['ignore', 'pipe', 'pipe'], env),
        });
        children.push(child);
        running.add(local);
        for (const stream of [child.stdout, child.stderr]) {
          if (stream) createInterface({ input: stream }).on('line', (line) => log(`[rank ${rank}] ${line}`));
        }
        let ended = false;
        // 'close' comes after the rank's output has been read to the end.
        const finish = (code: number | null, why: string, signal: NodeJS.Signals | null = null): void => {
          if (ended) return;
          ended = true;
          running.delete(local);
          // 130: the rank was interrupted and checkpointed; the others stop at the same step on their own.
          if (code === INTERRUPTED) exitCode ||= INTERRUPTED;
          else if (code !== 0 && failedRank === null) {
            failedRank = rank;
            exitCode = code ?? (signal !== null ? 128 + (constants.signals[signal] ?? 0) : 1);
            log(`simclr launch: rank ${rank} ${why}${running.size > 0 ? '; stopping the other ranks' : ''}`);
            if (running.size > 0) failFast();
          }
          if (running.size === 0) resolve();
        };
        child.on('error', (e) => finish(1, `could not start (${e.message})`));
        child.on('close', (code, signal) =>
          finish(code, code !== null ? `exited with code ${code}` : `was killed by ${signal}`, signal),
        );
        log(`simclr launch: rank ${rank} (local ${local}) pid ${child.pid}`);
      }
    });
    await done;
  } finally {
    if (killTimer !== null) clearTimeout(killTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onHangup);
    process.off('exit', onExit);
  }
  return { exitCode, failedRank };
}
