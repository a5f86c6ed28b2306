// Worker-thread entry for pretraining: the loop owns every tensor here, so the parent's event loop stays free
// for progress rendering and signals. Protocol: parent -> {config, resume, stop: SharedArrayBuffer};
// worker -> 'start' | 'progress' | 'log' | 'checkpoint' | 'warning' | 'done' | 'error' messages.
import { parentPort, workerData } from 'node:worker_threads';
import { pretrain } from './pretrain.js';
import { toWire } from '../errors.js';
import type { PretrainConfig } from '../run/config.js';
import type { RunStart } from '../run/resume.js';

export interface WorkerInput {
  config: PretrainConfig;
  resume: boolean | RunStart;
  /** Int32Array(1) over shared memory: set to 1 by the parent to request checkpoint-and-stop. */
  stop: SharedArrayBuffer;
}

const input = workerData as WorkerInput;
const stopFlag = new Int32Array(input.stop);
const port = parentPort!;

pretrain(
  input.config,
  {
    onStart: (info) => port.postMessage({ type: 'start', info }),
    onProgress: (p) => port.postMessage({ type: 'progress', progress: p }),
    onLog: (row) => port.postMessage({ type: 'log', row }),
    onCheckpoint: (path, step) => port.postMessage({ type: 'checkpoint', path, step }),
    onWarning: (message) => port.postMessage({ type: 'warning', message }),
    shouldStop: () => Atomics.load(stopFlag, 0) === 1,
  },
  input.resume,
).then(
  (result) => port.postMessage({ type: 'done', result }),
  // Kind and exit code travel with the error, so the parent rebuilds it without reading its message.
  (e: unknown) => port.postMessage({ type: 'error', error: toWire(e) }),
);
