// A study worker process (forked by pool.ts with an IPC channel): relays the cells it is sent to its training thread
// (thread.ts) and the thread's progress and results back. A stop request (the parent's message, SIGTERM, or the
// parent's death) reaches the run in progress through shared memory: it checkpoints and ends as 'stopped', and no
// later job starts. Protocol: parent -> { type: 'job', job } | { type: 'stop' }; worker -> WorkerMessage.
import { Worker } from 'node:worker_threads';
import type { WireError } from '../errors.js';
import type { CellJob, CellRunResult } from './cell.js';

/** Messages a worker sends. */
export type WorkerMessage =
  | { type: 'progress'; step: number; totalSteps: number; loss: number }
  | { type: 'warning'; message: string }
  | { type: 'done'; result: CellRunResult }
  | { type: 'stopped' }
  | { type: 'error'; error: WireError };

const stopBuffer = new SharedArrayBuffer(4);
const stopFlag = new Int32Array(stopBuffer);
let busy = false;

// Compiled, thread.js beside this file; under a TypeScript loader (tests via tsx) the thread registers tsx itself.
const fromSource = import.meta.url.endsWith('.ts');
const entry = new URL(fromSource ? './thread.ts' : './thread.js', import.meta.url);
const thread = fromSource
  ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, {
      eval: true,
      workerData: { stop: stopBuffer },
    })
  : new Worker(entry, { workerData: { stop: stopBuffer } });

function send(m: WorkerMessage): void {
  if (process.connected) process.send?.(m);
}

function requestStop(): void {
  Atomics.store(stopFlag, 0, 1);
}

function finish(): void {
  busy = false;
  if (!process.connected) process.exit(0);
}

thread.on('message', (m: WorkerMessage) => {
  send(m);
  if (m.type === 'done' || m.type === 'stopped' || m.type === 'error') finish();
});
thread.on('error', (e) => {
  send({ type: 'error', error: { kind: 'internal', name: e.name, message: e.message, exitCode: 1 } });
  process.exit(1);
});

process.on('message', (m: { type: string; job?: CellJob }) => {
  if (m.type === 'stop') requestStop();
  else if (m.type === 'job' && m.job !== undefined) {
    if (Atomics.load(stopFlag, 0) === 1) send({ type: 'stopped' });
    else {
      busy = true;
      thread.postMessage(m.job);
    }
  }
});
// The parent gone (killed, whatever the signal): checkpoint the run in progress and exit.
process.on('disconnect', () => {
  requestStop();
  if (!busy) process.exit(0);
});
// A terminal's Ctrl-C reaches the whole process group: the parent turns it into a stop request for every worker.
process.on('SIGINT', () => {});
process.on('SIGTERM', requestStop);
