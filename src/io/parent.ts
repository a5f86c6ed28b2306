// Children die with their parent, however it dies. A parent (the tcmalloc wrapper, `simclr launch`) gives each child
// one end of a pipe as fd 3 and names it in SIMCLR_PARENT_FD; the kernel closes the parent's end when the parent exits
// for any reason, SIGKILL included, and the child then reads end-of-file and stops as on SIGTERM: pretraining
// finishes its step, however long it takes, writes a checkpoint and exits 130. The pipe is watched from a worker
// thread, so a busy main thread does not delay the SIGTERM (a signal without a handler ends the process at once).
import type { StdioOptions } from 'node:child_process';
import { Worker } from 'node:worker_threads';

export const PARENT_FD_ENV = 'SIMCLR_PARENT_FD';
const FD = 3;

/** stdio and environment that make a spawned simclr process watch this one. */
export function watchedChild(
  stdio: 'inherit' | ['ignore', 'pipe', 'pipe'],
  env: NodeJS.ProcessEnv,
): { stdio: StdioOptions; env: NodeJS.ProcessEnv } {
  const base = stdio === 'inherit' ? ['inherit', 'inherit', 'inherit'] : stdio;
  return { stdio: [...base, 'pipe'] as StdioOptions, env: { ...env, [PARENT_FD_ENV]: String(FD) } };
}

// One SIGTERM only: a second would abort pretraining without a checkpoint, and a ResNet-50 step on a CPU can take
// longer than any short grace period. SIGKILL after this many seconds is the safety net for a process stuck for good
// (a wedged file system, say); README, Run folders, names the figure.
export const PARENT_GONE_KILL_S = 600;

const WATCHER = `
const { Socket } = require('node:net');
const { workerData } = require('node:worker_threads');
const pipe = new Socket({ fd: workerData.fd, readable: true, writable: false });
let ended = false;
const gone = () => {
  if (ended) return;
  ended = true;
  Atomics.store(workerData.gone, 0, 1);
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), workerData.kill * 1000).unref();
  // Keep this thread's loop alive for the timers until the process ends.
  setInterval(() => {}, 1 << 30);
};
pipe.on('data', () => {});
pipe.on('end', gone);
pipe.on('close', gone);
pipe.on('error', gone);
`;

// Set by the watcher before its SIGTERM, so a stop handler can tell the parent's death from a user's second request.
const GONE = new Int32Array(new SharedArrayBuffer(4));

/** Whether this process's parent has died (and the watcher has sent, or is sending, its one SIGTERM). */
export function parentGone(): boolean {
  return Atomics.load(GONE, 0) === 1;
}

/**
 * In a process started by watchedChild: watches the parent (never keeping this process alive) and removes the variable,
 * so that processes this one starts do not watch an fd they were not given.
 */
export function watchParent(): void {
  const fd = process.env[PARENT_FD_ENV];
  if (fd === undefined) return;
  delete process.env[PARENT_FD_ENV];
  if (fd !== String(FD)) return;
  const worker = new Worker(WATCHER, {
    eval: true,
    workerData: { fd: FD, kill: PARENT_GONE_KILL_S, gone: GONE },
    stdout: false,
    stderr: false,
  });
  worker.unref();
}
