// What the CLI makes of an error: one line for the user and the exit code the error carries (src/errors.ts). Nothing
// here looks at an error's name or message to choose the code.
import { exitCodeOf } from '../errors.js';

/** One line for the user, and the exit code that goes with the error's kind. */
export function describeError(e: unknown): { message: string; code: number } {
  const message = e instanceof Error ? e.message : String(e);
  return { message: `simclr: ${message}`, code: exitCodeOf(e) };
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
