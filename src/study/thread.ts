// The training thread of a study worker process (worker.ts): runs the cells it is sent one after another, so libtorch
// and the addon load once per process rather than once per run. The process's main thread stays free for the
// parent's messages and sets `stop` (shared memory) to end the run in progress after a checkpoint.
// Protocol: parent -> { job }; thread -> the worker's messages (WorkerMessage).
import { parentPort, workerData } from 'node:worker_threads';
import { toWire } from '../errors.js';
import { runCell, type CellJob } from './cell.js';
import type { WorkerMessage } from './worker.js';

const stop = new Int32Array((workerData as { stop: SharedArrayBuffer }).stop);
const port = parentPort!;
const send = (m: WorkerMessage): void => port.postMessage(m);

port.on('message', (job: CellJob) => {
  runCell(job, {
    onProgress: (p) => send({ type: 'progress', step: p.step, totalSteps: p.totalSteps, loss: p.loss }),
    onWarning: (message) => send({ type: 'warning', message }),
    shouldStop: () => Atomics.load(stop, 0) === 1,
  }).then(
    (result) => send(result === null ? { type: 'stopped' } : { type: 'done', result }),
    (e: unknown) => send({ type: 'error', error: toWire(e) }),
  );
});
