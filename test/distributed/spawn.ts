// Helpers for tests that run ranks as real processes on this machine: each child runs a sibling script (or the CLI)
// under the same Node flags as the test (tsx's loader when run from source).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export { freePort } from '../../src/distributed/launch.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Absolute path of a script beside this file (name without extension). */
export function sibling(name: string): string {
  return fileURLToPath(new URL(`./${name}${EXT}`, import.meta.url));
}

/** The simclr CLI entry. */
export const CLI = fileURLToPath(new URL(`../../src/cli/main${EXT}`, import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, ms. */
  ms: number;
}

export interface Running {
  pid: number;
  done: Promise<Finished>;
  /** Resolves once stderr has contained the text. */
  waitFor(text: string | RegExp): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `node [test's flags] script args` with extra environment; killed after limitMs so a hang fails the test. */
export function start(script: string, args: readonly string[], env: NodeJS.ProcessEnv, limitMs = 240_000): Running {
  const started = Date.now();
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { test: string | RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiters]) {
      if (typeof w.test === 'string' ? stderr.includes(w.test) : w.test.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return {
    pid: child.pid!,
    done,
    waitFor: (test) =>
      new Promise<void>((resolve, reject) => {
        if (typeof test === 'string' ? stderr.includes(test) : test.test(stderr)) {
          resolve();
          return;
        }
        waiters.push({ test, resolve });
        void done.then((f) =>
          reject(new Error(`process exited (${f.code ?? f.signal}) before printing ${String(test)}:\n${f.stderr}`)),
        );
      }),
    kill: (signal) => {
      child.kill(signal);
    },
  };
}

/** Environment of rank `rank` in a local group of `world`. */
export function rankEnv(rank: number, world: number, port: number, timeoutS: number): NodeJS.ProcessEnv {
  return {
    RANK: String(rank),
    WORLD_SIZE: String(world),
    LOCAL_RANK: String(rank),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    SIMCLR_DIST_TIMEOUT: String(timeoutS),
    SIMCLR_NUM_THREADS: '1',
    OMP_NUM_THREADS: '1',
    OPENBLAS_NUM_THREADS: '1',
  };
}
