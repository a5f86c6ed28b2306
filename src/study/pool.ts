// Study worker processes: each runs one cell at a time (worker.ts) with its own libtorch thread count, so `nproc`
// runs proceed side by side on a machine's cores. Processes rather than threads: libtorch's default generator and
// thread count are per process, and two runs in one process would seed and size them for each other.
import { fork, type ChildProcess } from 'node:child_process';
import { fromWire } from '../errors.js';
import type { CellJob, CellRunResult } from './cell.js';
import type { WorkerMessage } from './worker.js';

export interface JobHooks {
  onProgress?: (p: { step: number; totalSteps: number; loss: number }) => void;
  onWarning?: (message: string) => void;
}

interface Slot {
  child: ChildProcess;
  /** The job in progress: how to settle it. */
  current: { resolve: (r: CellRunResult | null) => void; reject: (e: Error) => void; hooks: JobHooks } | null;
  exited: boolean;
}

/** The entry of a worker process: the compiled worker.js beside this file (worker.ts under a TypeScript loader). */
function workerEntry(): { path: URL; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  return {
    path: new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url),
    execArgv: fromSource ? ['--import', 'tsx'] : [],
  };
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiting: { resolve: (s: Slot) => void; reject: (e: Error) => void }[] = [];

  /** Starts `size` worker processes. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker pool size must be >= 1, got ${size}`);
    const { path, execArgv } = workerEntry();
    for (let i = 0; i < size; i++) {
      const child = fork(path, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const slot: Slot = { child, current: null, exited: false };
      child.on('message', (m: WorkerMessage) => this.onMessage(slot, m));
      child.on('exit', (code, signal) => {
        slot.exited = true;
        const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
        const error = new Error(`a study worker process (pid ${child.pid}) ${how}`);
        slot.current?.reject(error);
        slot.current = null;
        // Jobs waiting for a worker would wait forever once none is left.
        if (this.slots.every((s) => s.exited)) for (const w of this.waiting.splice(0)) w.reject(error);
      });
      this.slots.push(slot);
      this.idle.push(slot);
    }
  }

  private onMessage(slot: Slot, m: WorkerMessage): void {
    const cur = slot.current;
    if (cur === null) return;
    switch (m.type) {
      case 'progress':
        cur.hooks.onProgress?.(m);
        return;
      case 'warning':
        cur.hooks.onWarning?.(m.message);
        return;
      case 'done':
      case 'stopped':
        slot.current = null;
        this.release(slot);
        cur.resolve(m.type === 'done' ? m.result : null);
        return;
      case 'error':
        slot.current = null;
        this.release(slot);
        cur.reject(fromWire(m.error));
        return;
    }
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.idle.push(slot);
  }

  private acquire(): Promise<Slot> {
    let slot = this.idle.shift();
    while (slot?.exited) slot = this.idle.shift();
    if (slot) return Promise.resolve(slot);
    if (this.slots.every((s) => s.exited)) return Promise.reject(new Error('every study worker process is gone'));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /**
   * Runs a job on the next free worker. Resolves with its result, or null when a stop request ended it before it
   * finished; rejects with the worker's error (rebuilt as its class: src/errors.ts fromWire).
   */
  async run(job: CellJob, hooks: JobHooks = {}): Promise<CellRunResult | null> {
    const slot = await this.acquire();
    return new Promise((resolve, reject) => {
      slot.current = { resolve, reject, hooks };
      slot.child.send({ type: 'job', job });
    });
  }

  /** Asks every worker to checkpoint its run and take no more jobs. */
  stop(): void {
    for (const s of this.slots) if (!s.exited && s.child.connected) s.child.send({ type: 'stop' });
  }

  /** Ends the worker processes (after their runs: call once no job is in progress). */
  close(): void {
    for (const s of this.slots) if (!s.exited && s.child.connected) s.child.disconnect();
  }
}
