// Run folders and processes as a user meets them: a second writer is refused while the first lives, children stop
// when the wrapper or the launcher that started them is killed (SIGKILL included), and the wrapper reports a signal
// that killed the command with the shell's code for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { alive, trained, unlocked, until } from '../support/processes.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, start, type Running } from '../distributed/spawn.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-runfolder-cli-'));
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
  '0.0625',
  '--proj-dim',
  '16',
  '--batch-size',
  '16',
  '--epochs',
  '100',
  '--log-steps',
  '1',
  '--threads',
  '1',
];

/** Pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

const logged = trained;

/** Kills what a test left running (only on failure: a passing test leaves nothing). */
function cleanup(pids: number[], ...runs: Running[]): void {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const r of runs) r.kill('SIGKILL');
}

test('a second writer is refused while the first lives: exit 2, "run folder DIR in use by pid N"', async () => {
  const dir = join(tmp(), 'run');
  const first = start(CLI, ['pretrain', ...LONG, '--checkpoint-steps', '1', '--out', dir], {});
  try {
    await until('the first run to train', () => logged(dir));
    for (const extra of [['--resume', '--max-steps', '3'], [], ['--overwrite']]) {
      const second = spawnSync(process.execPath, [CLI, 'pretrain', ...LONG, '--out', dir, ...extra], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(second.status, 2, `${extra.join(' ')}: ${second.stderr}`);
      assert.equal(second.stderr.trim(), second.stderr.trim().split('\n')[0], 'one line');
      assert.match(second.stderr, new RegExp(`^simclr: run folder ${dir} in use by pid ${first.pid} `));
    }
    assert.ok(alive(first.pid));
    first.kill('SIGTERM');
    const r = await first.done;
    assert.equal(r.code, 130, r.stderr);
    assert.ok(unlocked(dir), 'the lock goes with its process');
  } finally {
    cleanup([], first);
  }
});

test('killing the wrapper with SIGKILL stops the trainer it started, which checkpoints and unlocks', {
  skip: !TCMALLOC && 'no tcmalloc: no wrapper',
}, async () => {
  const dir = join(tmp(), 'run');
  const wrapper = start(CLI, ['pretrain', ...LONG, '--out', dir], WRAPPED);
  let trainer = 0;
  try {
    await until('the trainer to train', () => logged(dir));
    [trainer] = childrenOf(wrapper.pid);
    assert.ok(trainer !== undefined && trainer > 0, 'the wrapper runs the trainer as its child');
    wrapper.kill('SIGKILL');
    await until(`trainer pid ${trainer} to exit`, () => !alive(trainer), 30_000);
    assert.ok(unlocked(dir), 'the lock goes with its process');
    assert.ok(existsSync(join(dir, 'checkpoints', 'last.safetensors')), 'it stopped as on SIGTERM: with a checkpoint');
  } finally {
    cleanup([trainer], wrapper);
  }
});

// Rank 1's output goes through the launcher's pipes: once it is dead, writes fail with EPIPE, which must not crash the
// rank (and rank 0 with it, in the next collective) before the stop that all ranks agree on is checkpointed.
test('killing simclr launch with SIGKILL stops its ranks gracefully, with a checkpoint', async () => {
  const dir = join(tmp(), 'run');
  const launcher = start(
    CLI,
    ['launch', '--nproc', '2', '--timeout', '30', '--', 'pretrain', ...LONG, '--out', dir],
    {},
  );
  let ranks: number[] = [];
  try {
    await until('the ranks to train', () => logged(dir));
    ranks = childrenOf(launcher.pid);
    assert.equal(ranks.length, 2);
    launcher.kill('SIGKILL');
    await until('both ranks to exit', () => ranks.every((p) => !alive(p)), 30_000);
    assert.ok(unlocked(dir), 'the lock goes with its process');
    assert.ok(
      existsSync(join(dir, 'checkpoints', 'last.safetensors')),
      'the ranks stopped together, with a checkpoint',
    );
  } finally {
    cleanup(ranks, launcher);
  }
});

for (const signal of ['SIGKILL', 'SIGSEGV'] as const) {
  test(`the wrapper names a ${signal} that killed the command and exits 128 + its number`, {
    skip: !TCMALLOC && 'no tcmalloc: no wrapper',
  }, async () => {
    const dir = join(tmp(), 'run');
    const wrapper = start(CLI, ['pretrain', ...LONG, '--out', dir], WRAPPED);
    let child = 0;
    try {
      await wrapper.waitFor('pretrain on ');
      [child] = childrenOf(wrapper.pid);
      process.kill(child!, signal);
      const r = await wrapper.done;
      assert.equal(r.code, signal === 'SIGKILL' ? 137 : 139, r.stderr);
      assert.match(r.stderr, new RegExp(`^simclr: the simclr process was killed by ${signal} \\(`, 'm'));
    } finally {
      cleanup([child], wrapper);
    }
  });
}
