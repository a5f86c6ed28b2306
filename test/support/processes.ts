// Real simclr processes for tests about signals and pipes: spawned with their output collected, optionally in a
// process group of their own (as a shell job is), with the pid checks and waits such tests need.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireRunLock, RunInUseError } from '../../src/run/lock.js';

export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Exit code (null when killed by a signal) and signal. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node [the test's flags] script args`, stdout and stderr piped here; SIGKILLed after limitMs so a hang fails the
 * test. */
export function spawnNode(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  o: { detached?: boolean; stdio?: StdioOptions; limitMs?: number } = {},
): Proc {
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    env: { ...process.env, ...env },
    stdio: o.stdio ?? ['ignore', 'pipe', 'pipe'],
    detached: o.detached === true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), o.limitMs ?? 180_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  return { child, pid: child.pid!, stdout: () => out, stderr: () => err, done };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); // a zombie has exited
  } catch {
    return false;
  }
}

export async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * No process holds a run folder's lock: it can be taken (and is released at once). Its record may still name a
 * process that ended without releasing it (an abort, SIGKILL): the kernel dropped the flock all the same.
 */
export function unlocked(dir: string): boolean {
  try {
    acquireRunLock(dir)();
    return true;
  } catch (e) {
    if (e instanceof RunInUseError) return false;
    throw e;
  }
}

/** Whether a run folder's metrics.jsonl has its step-2 row: the run is training. */
export const trained = (dir: string): boolean =>
  existsSync(join(dir, 'metrics.jsonl')) && readFileSync(join(dir, 'metrics.jsonl'), 'utf8').includes('"step":2');

/** Sends a signal to a process group, ignoring one that has gone. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* gone */
  }
}
