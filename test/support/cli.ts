// Runs the CLI in this process (runCli), capturing what it writes to stderr and console.log, for tests that check
// messages and exit codes without the cost of a child process.
import { runCli } from '../../src/cli/commands.js';

/** The exit code and what the command wrote to stderr and (through console.log) stdout. */
export async function cli(...args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const log = console.log;
  process.stderr.write = ((s: string | Uint8Array): boolean => {
    err.push(String(s));
    return true;
  }) as typeof process.stderr.write;
  console.log = (...a: unknown[]): void => {
    out.push(a.join(' '));
  };
  try {
    const code = await runCli(['node', 'simclr', ...args]);
    return { code, stderr: err.join(''), stdout: out.join('\n') };
  } finally {
    process.stderr.write = write;
    console.log = log;
  }
}
