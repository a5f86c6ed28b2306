// A study worker process (forked by pool.ts with an IPC channel): runs the cells it is sent, one at a time, and
// reports progress and results. Pretraining runs in a worker thread (train/background.ts), so this process stays
// free to hear a stop request. Protocol: parent -> { type: 'job', job } | { type: 'stop' };
// worker -> 'progress' | 'warning' | 'done' | 'stopped' | 'error' messages.
import { toWire } from '../errors.js';
import { runCell, type CellJob } from './cell.js';

/** Messages a worker sends. */
export type WorkerMessage =
  | { type: 'progress'; step: number; totalSteps: number; loss: number }
  | { type: 'warning'; message: string }
  | { type: 'done'; result: import('./cell.js').CellRunResult }
  | { type: 'stopped' }
  | { type: 'error'; error: import('../errors.js').WireError };

let stopRun: (() => void) | null = null;
let stopping = false;
let busy = false;

function send(m: WorkerMessage): void {
  if (process.connected) process.send?.(m);
}

// A stop reaches the run in progress (a checkpoint, then the job ends as 'stopped'); no later job starts.
function requestStop(): void {
  stopping = true;
  stopRun?.();
}

async function run(job: CellJob): Promise<void> {
  busy = true;
  stopRun = null;
  try {
    const result = await runCell(job, {
      onProgress: (p) => send({ type: 'progress', step: p.step, totalSteps: p.totalSteps, loss: p.loss }),
      onWarning: (message) => send({ type: 'warning', message }),
      onStoppable: (stop) => {
        stopRun = stop;
        if (stopping) stop();
      },
    });
    send(result === null ? { type: 'stopped' } : { type: 'done', result });
  } catch (e) {
    send({ type: 'error', error: toWire(e) });
  } finally {
    busy = false;
    stopRun = null;
    if (!process.connected) process.exit(0);
  }
}

process.on('message', (m: { type: string; job?: CellJob }) => {
  if (m.type === 'stop') requestStop();
  else if (m.type === 'job' && m.job !== undefined) {
    if (stopping) send({ type: 'stopped' });
    else void run(m.job);
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
