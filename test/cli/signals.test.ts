// How simclr processes stop, as users stop them: a hangup, Ctrl-C in a terminal (which reaches the tcmalloc wrapper
// and the trainer), a signal to the wrapper alone, a second Ctrl-C, a reader of its output that went away, a parent
// that died during a long step, and Ctrl-C during the demo. A graceful stop ends with a checkpoint and exit 130.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from '../distributed/spawn.js';
import { alive, killGroup, sleep, spawnNode, trained, unlocked, until } from '../support/processes.js';
import { SAME_REQUEST_MS, stopRequests } from '../../src/cli/pretrain.js';
import { watchedChild } from '../../src/io/parent.js';
import { EXIT_ABORTED, EXIT_INTERRUPTED } from '../../src/errors.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-signals-'));
const TCMALLOC =
  existsSync('/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4') ||
  existsSync('/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4');
// The wrapper re-executes the CLI only where tcmalloc is installed and LD_PRELOAD is empty.
const WRAPPED = { LD_PRELOAD: '', SIMCLR_ALLOCATOR: '' };
// A run that would go on for hours: the tests stop it.
const LONG = [
  '--data',
  'fashion-mnist',
  '--width',
  '0.125',
  '--batch-size',
  '32',
  '--threads',
  '1',
  '--epochs',
  '100',
  '--log-steps',
  '1',
];
const checkpointed = (dir: string): boolean => existsSync(join(dir, 'checkpoints', 'last.safetensors'));
const stopLines = (stderr: string): number => stderr.split('stopping after this step').length - 1;

function assertGracefulStop(
  dir: string,
  r: { code: number | null; signal: NodeJS.Signals | null },
  stderr: string,
): void {
  assert.equal(r.code, EXIT_INTERRUPTED, `exit ${r.code ?? r.signal}:\n${stderr}`);
  assert.ok(checkpointed(dir), 'a checkpoint was written');
  assert.ok(unlocked(dir), 'the lock went with the process');
}

test('stop requests within SAME_REQUEST_MS of the first are that request; a later one aborts', () => {
  let now = 0;
  const calls: string[] = [];
  const request = stopRequests(
    () => calls.push('stop'),
    () => calls.push('abort'),
    () => now,
  );
  request();
  now = 5;
  request(); // the terminal's Ctrl-C and the wrapper's forwarded copy
  now = SAME_REQUEST_MS - 1;
  request();
  assert.deepEqual(calls, ['stop']);
  now = SAME_REQUEST_MS + 500;
  request();
  assert.deepEqual(calls, ['stop', 'abort']);
  assert.ok(SAME_REQUEST_MS <= 2000, 'a window a user would not notice');
});

test('the parent-death SIGTERM never aborts a stop already under way', () => {
  let now = 0;
  let parentGone = false;
  const calls: string[] = [];
  const request = stopRequests(
    () => calls.push('stop'),
    () => calls.push('abort'),
    () => now,
    () => parentGone,
  );
  request(); // the user's Ctrl-C to the wrapper alone
  now = SAME_REQUEST_MS + 500;
  parentGone = true; // then the wrapper is killed: the watcher's one SIGTERM
  request();
  assert.deepEqual(calls, ['stop']);
});

for (const signal of ['SIGHUP', 'SIGINT'] as const) {
  test(
    `${signal} to the process group (${signal === 'SIGHUP' ? 'a closed terminal' : 'one Ctrl-C'}) is one ` +
      `graceful stop: checkpoint, exit 130`,
    async () => {
      const dir = join(tmp(), 'run');
      // Its own group, as a shell job: the wrapper and the trainer both get the signal, and the wrapper forwards it.
      const p = spawnNode(CLI, ['pretrain', ...LONG, '--out', dir], WRAPPED, { detached: true });
      try {
        await until('the run to train', () => trained(dir));
        killGroup(p.pid, signal);
        const r = await p.done;
        assertGracefulStop(dir, r, p.stderr());
        assert.equal(stopLines(p.stderr()), 1, p.stderr());
        assert.doesNotMatch(p.stderr(), /aborted/);
      } finally {
        killGroup(p.pid, 'SIGKILL');
      }
    },
  );
}

test('SIGINT to the wrapper alone (kill -INT, timeout -s INT, an IDE stop button) stops the run gracefully', {
  skip: !TCMALLOC && 'no tcmalloc: no wrapper',
}, async () => {
  const dir = join(tmp(), 'run');
  const p = spawnNode(CLI, ['pretrain', ...LONG, '--out', dir], WRAPPED, { limitMs: 90_000 });
  try {
    await until('the run to train', () => trained(dir));
    p.child.kill('SIGINT');
    assertGracefulStop(dir, await p.done, p.stderr());
  } finally {
    p.child.kill('SIGKILL');
  }
});

// Terminating the training worker during a native op used to crash the process (SIGABRT, "terminate called after
// throwing an instance of 'Napi::Error'"): node-addon-api rethrows when it cannot throw into a terminating
// environment unless built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (native/binding.gyp).
test('a second Ctrl-C a second or more after the first aborts with exit 3, which claims no checkpoint', async () => {
  const dir = join(tmp(), 'run');
  // A step of several seconds (ResNet-50 on one thread), so the second request comes while the first step runs.
  const p = spawnNode(
    CLI,
    [
      'pretrain',
      '--data',
      'fashion-mnist',
      '--arch',
      'resnet50',
      '--width',
      '0.5',
      '--batch-size',
      '32',
      '--threads',
      '1',
      '--out',
      dir,
    ],
    {},
  );
  try {
    await until('training to start', () => p.stderr().includes('pretrain on '));
    p.child.kill('SIGINT');
    await sleep(SAME_REQUEST_MS + 300);
    p.child.kill('SIGINT');
    const r = await p.done;
    assert.equal(r.code, EXIT_ABORTED, `exit ${r.code ?? r.signal}:\n${p.stderr()}`);
    assert.match(p.stderr(), /^aborted: the step in progress was not checkpointed/m);
    assert.equal(checkpointed(dir), false, 'the first step never finished');
    assert.ok(unlocked(dir), 'the lock went with the process');
  } finally {
    p.child.kill('SIGKILL');
  }
});

for (const gone of ['stderr', 'stdout', 'both'] as const) {
  test(
    `a trainer whose ${gone === 'both' ? 'stdout and stderr' : gone} reader went away (a killed tee) still stops ` +
      `with a checkpoint on SIGTERM`,
    async () => {
      const dir = join(tmp(), 'run');
      const p = spawnNode(CLI, ['pretrain', ...LONG, '--out', dir], {});
      try {
        await until('the run to train', () => trained(dir));
        if (gone !== 'stdout') p.child.stderr!.destroy();
        if (gone !== 'stderr') p.child.stdout!.destroy();
        await sleep(500); // a few log lines into the broken pipe
        p.child.kill('SIGTERM');
        assertGracefulStop(dir, await p.done, p.stderr());
      } finally {
        p.child.kill('SIGKILL');
      }
    },
  );
}

test('a child whose parent died gets one SIGTERM and no second one that would abort a long step', async () => {
  const script = fileURLToPath(
    new URL(`./watched-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
  );
  const { stdio, env } = watchedChild(['ignore', 'pipe', 'pipe'], {});
  const p = spawnNode(script, [], env, { stdio });
  try {
    await until('the child to watch', () => p.stdout().includes('watching'), 30_000);
    // What the kernel does when the parent dies.
    (p.child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
    await until('the first SIGTERM', () => p.stdout().includes('SIGTERM 1'), 10_000);
    await sleep(11_000); // the old watcher sent a second SIGTERM after 10 s
    assert.doesNotMatch(p.stdout(), /SIGTERM 2/);
    assert.ok(alive(p.pid), 'no SIGKILL this soon');
  } finally {
    p.child.kill('SIGKILL');
  }
});

test(
  'Ctrl-C during the demo ends it after pretraining: exit ' + '130, where the run is and how to resume, no evaluation',
  async () => {
    const dir = join(tmp(), 'demo');
    const p = spawnNode(CLI, ['demo', '--out', dir, '--max-steps', '40'], {});
    try {
      await until('pretraining to start', () => p.stderr().includes('pretrain on '));
      p.child.kill('SIGINT');
      const r = await p.done;
      assert.equal(r.code, EXIT_INTERRUPTED, `exit ${r.code ?? r.signal}:\n${p.stderr()}`);
      assert.ok(checkpointed(dir));
      assert.match(
        p.stdout(),
        new RegExp(`^stopped at step \\d+ of \\d+; the run is in ${dir} .*simclr pretrain --resume --out ${dir}$`, 'm'),
      );
      assert.doesNotMatch(p.stdout(), /evaluating/);
    } finally {
      p.child.kill('SIGKILL');
    }
  },
);
