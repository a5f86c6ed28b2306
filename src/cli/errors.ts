// Exit codes: 0 success, 1 a run failed (e.g. diverged), 2 a usage problem (bad flag, missing data, unwritable --out),
// 3 aborted by a second stop request before the step in progress was checkpointed (the previous checkpoint, if any,
// is kept), 130 interrupted by the user after a checkpoint was written.
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;
export const EXIT_ABORTED = 3;
export const EXIT_INTERRUPTED = 130;

// RunInUseError: another process writes the run folder (src/train/lock.ts).
const USAGE_ERRORS = new Set(['ConfigError', 'DataError', 'SafetensorsError', 'UsageError', 'DeviceError', 'RunInUseError']);

export class UsageError extends Error {
  override name = 'UsageError';
}

/** One line for the user, and the exit code that goes with the error's kind. */
export function describeError(e: unknown): { message: string; code: number } {
  const err = e instanceof Error ? e : new Error(String(e));
  const name = (err as { originalName?: string }).originalName ?? err.name;
  if (USAGE_ERRORS.has(name)) return { message: `simclr: ${err.message}`, code: EXIT_USAGE };
  return { message: `simclr: ${err.message}`, code: EXIT_FAILURE };
}

// Commands report a non-zero outcome here rather than in process.exitCode, which test runners also write.
let commandExitCode = 0;
export function setCommandExitCode(code: number): void {
  commandExitCode = code;
}
export function takeCommandExitCode(): number {
  const c = commandExitCode;
  commandExitCode = 0;
  return c;
}
