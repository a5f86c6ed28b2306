#!/usr/bin/env node
// The `simclr` command. Before loading libtorch it re-executes itself with tcmalloc preloaded where Debian's
// libtcmalloc-minimal4 is installed: measured faster than glibc malloc and flat in RSS (README, Performance).
// SIMCLR_ALLOCATOR=system opts out.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { watchedChild, watchParent } from '../io/parent.js';
import { dropOutputOnStreamErrors } from './stdio.js';
import { AddonLoadError } from '../errors.js';

const TCMALLOC_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
  '/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4',
];

function relaunchWithTcmalloc(): boolean {
  if (process.env.LD_PRELOAD || process.env.SIMCLR_ALLOCATOR === 'system') return false;
  const lib = TCMALLOC_PATHS.find((p) => existsSync(p));
  if (lib === undefined) return false;
  // The child watches this process through a pipe and stops when it dies, even by SIGKILL (./parent.ts).
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...process.argv.slice(1)],
    watchedChild('inherit', { ...process.env, LD_PRELOAD: lib }),
  );
  // SIGINT is forwarded, so that `kill -INT`, `timeout -s INT` or an IDE's stop button sent to this process alone
  // stop the run. A terminal's Ctrl-C reaches the child as well, directly: the child counts stop requests that come
  // within a second of the first as one (src/cli/pretrain.ts), so one Ctrl-C is still one graceful stop. SIGTERM and
  // SIGHUP (kill -HUP, or a hangup, which also reaches the child) are forwarded as SIGTERM, a graceful stop.
  process.on('SIGINT', () => child.kill('SIGINT'));
  process.on('SIGHUP', () => child.kill('SIGTERM'));
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('error', (e) => {
    process.stderr.write(`simclr: cannot start ${process.execPath}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? exitForSignal(signal)));
  return true;
}

// Why a process may have been killed by a signal it did not ask for: a hint for the one line the wrapper prints.
const SIGNAL_HINTS: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: " (out of memory? `dmesg` names the OOM killer's victims)",
  SIGSEGV: ' (a crash in native code: please report it with the output of `simclr doctor`)',
  SIGBUS: ' (a crash in native code, or a memory-mapped file that shrank)',
  SIGABRT: ' (libtorch or Node aborted: the lines above say why)',
  SIGILL: ' (an instruction this CPU lacks: was the addon built on another machine?)',
};

/** Names the signal that ended the command on one line; the shell's code for it, 128 + its number. */
function exitForSignal(signal: NodeJS.Signals | null): number {
  if (signal === null) return 1;
  process.stderr.write(`simclr: the simclr process was killed by ${signal}${SIGNAL_HINTS[signal] ?? ''}\n`);
  return 128 + (constants.signals[signal] ?? 0);
}

// Loading the commands loads the libtorch addon: a missing, stale or mismatched build is one line, not a stack trace.
async function loadCli(): Promise<typeof import('./commands.js') | null> {
  try {
    return await import('./commands.js');
  } catch (e) {
    // src/torch/native.ts raises AddonLoadError for the addon itself; anything else (a module of ours failing to
    // load) is shown as it is.
    const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    const stale =
      e instanceof AddonLoadError && e.libtorchMismatch
        ? ' (the addon and the libtorch it finds do not match: was it built against another libtorch, or has that ' +
          'one moved?)'
        : '';
    process.stderr.write(
      `simclr: cannot load the libtorch addon: ${message}${stale}. Run \`npm run build\`; \`SIMCLR_LIBTORCH\`, ` +
        `\`LIBTORCH\` and \`SIMCLR_ADDON_DIR\` choose what it loads (README, libtorch).\n`,
    );
    return null;
  }
}

dropOutputOnStreamErrors();
if (!relaunchWithTcmalloc()) {
  watchParent();
  const cli = await loadCli();
  process.exitCode = cli === null ? 1 : await cli.runCli(process.argv);
}
