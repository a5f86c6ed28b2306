#!/usr/bin/env node
// The `simclr` command. Before loading libtorch it re-executes itself with tcmalloc preloaded where Debian's
// libtcmalloc-minimal4 is installed: measured faster than glibc malloc and flat in RSS (README, Performance).
// SIMCLR_ALLOCATOR=system opts out.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const TCMALLOC_PATHS = ['/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4', '/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4'];

function relaunchWithTcmalloc(): boolean {
  if (process.env.LD_PRELOAD || process.env.SIMCLR_ALLOCATOR === 'system') return false;
  const lib = TCMALLOC_PATHS.find((p) => existsSync(p));
  if (lib === undefined) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit', env: { ...process.env, LD_PRELOAD: lib },
  });
  // The terminal delivers Ctrl-C to the child too; the parent only waits for it and forwards SIGTERM.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
  return true;
}

if (!relaunchWithTcmalloc()) {
  const { runCli } = await import('./commands.js');
  process.exitCode = await runCli(process.argv);
}
