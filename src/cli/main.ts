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

// Loading the commands loads the libtorch addon: a missing, stale or mismatched build is one line, not a stack trace.
async function loadCli(): Promise<typeof import('./commands.js') | null> {
  try {
    return await import('./commands.js');
  } catch (e) {
    const message = (e instanceof Error ? e.message.split('\n')[0]! : String(e)).replace(/^simclr: /, '');
    const stale = /undefined symbol|version `|wrong ELF|cannot open shared object/.test(message)
      ? ' (the addon and the libtorch it finds do not match: was it built against another libtorch, or has that one moved?)'
      : '';
    process.stderr.write(`simclr: cannot load the libtorch addon: ${message}${stale}. Run \`npm run build\`; \`SIMCLR_LIBTORCH\`, \`LIBTORCH\` and \`SIMCLR_ADDON_DIR\` choose what it loads (README, libtorch).\n`);
    return null;
  }
}

if (!relaunchWithTcmalloc()) {
  const cli = await loadCli();
  process.exitCode = cli === null ? 1 : await cli.runCli(process.argv);
}
