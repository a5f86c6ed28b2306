// Runs pretrain() in a worker thread and relays its messages; the caller's event loop stays responsive.
import { Worker } from 'node:worker_threads';
import { fromWire, type WireError } from '../errors.js';
import type { PretrainConfig } from '../run/config.js';
import type { RunStart } from '../run/resume.js';
import type { MetricsRow, PretrainResult, Progress, StartInfo } from './pretrain.js';

export interface BackgroundHooks {
  onStart?: (info: StartInfo) => void;
  onProgress?: (p: Progress) => void;
  onLog?: (row: MetricsRow) => void;
  onCheckpoint?: (path: string, step: number) => void;
  onWarning?: (msg: string) => void;
}

export interface BackgroundRun {
  /** Asks the loop to checkpoint and stop after the current step. */
  requestStop(): void;
  result: Promise<PretrainResult>;
}

export function pretrainInBackground(
  config: PretrainConfig,
  hooks: BackgroundHooks = {},
  resume: boolean | RunStart = false,
): BackgroundRun {
  const stop = new SharedArrayBuffer(4);
  // Under a TS loader (tests via tsx) this module is worker.ts's sibling source; compiled, worker.js's.
  // Run from TypeScript sources (tests under tsx), the worker registers tsx itself: loader hooks are per thread.
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url);
  const worker = fromSource
    ? new Worker(
        `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`,
        { eval: true, workerData: { config, resume, stop } },
      )
    : new Worker(entry, { workerData: { config, resume, stop } });
  const result = new Promise<PretrainResult>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: { type: string } & Record<string, unknown>) => {
      switch (m.type) {
        case 'start':
          hooks.onStart?.(m.info as StartInfo);
          break;
        case 'progress':
          hooks.onProgress?.(m.progress as Progress);
          break;
        case 'log':
          hooks.onLog?.(m.row as MetricsRow);
          break;
        case 'checkpoint':
          hooks.onCheckpoint?.(m.path as string, m.step as number);
          break;
        case 'warning':
          hooks.onWarning?.(m.message as string);
          break;
        case 'done':
          settled = true;
          resolve(m.result as PretrainResult);
          void worker.terminate();
          break;
        // Rebuilt as its own class (DivergenceError, DataError, ...) or one of its kind: same exit code either way.
        case 'error':
          settled = true;
          reject(fromWire(m.error as WireError));
          void worker.terminate();
          break;
      }
    });
    worker.on('error', (e) => {
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
    worker.on('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new Error(`training worker exited with code ${code}`));
      }
    });
  });
  return { requestStop: () => Atomics.store(new Int32Array(stop), 0, 1), result };
}
