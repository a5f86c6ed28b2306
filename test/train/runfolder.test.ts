// What a run folder guarantees, through the library: no new run over an existing one without overwrite, per-field
// resume rules with a history beside the original config.json, and the lock of the process writing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, ConfigError, resolveConfig, type PretrainConfig } from '../../src/run/config.js';
import { pretrain } from '../../src/train/pretrain.js';
import { readRunConfig, runPaths } from '../../src/run/folder.js';
import { RESUME_RULES, HISTORY_FILE, checkResume, type HistoryEntry } from '../../src/run/resume.js';
import { LOCK_FILE, RunInUseError, acquireRunLock } from '../../src/run/lock.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-runfolder-'));

function tiny(out: string, extra: Record<string, unknown> = {}): PretrainConfig {
  return resolveConfig({
    data: 'fashion-mnist',
    out,
    width: 0.125,
    batchSize: 16,
    epochs: 0.02,
    maxSteps: 2,
    logSteps: 1,
    threads: 2,
    ...extra,
  });
}

const history = (dir: string): HistoryEntry[] =>
  readFileSync(join(dir, HISTORY_FILE), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as HistoryEntry);

test('every setting has a resume rule', () => {
  assert.deepEqual(Object.keys(RESUME_RULES).sort(), [...Object.keys(DEFAULT_CONFIG), 'data', 'out'].sort());
});

test(
  "a folder holding files of a run's names that simclr did not write is never replaced, --overwrite " + 'included',
  async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), '{"my": "tool settings"}');
    writeFileSync(join(dir, 'report.html'), 'mine');
    writeFileSync(join(dir, 'eval.json'), '[1, 2]');
    for (const start of [{}, { overwrite: true }]) {
      await assert.rejects(pretrain(tiny(dir), {}, start), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(
          e.message,
          new RegExp(
            `^${dir} holds files simclr did not write \\(.*config\\.json.*\\); it replaces or removes only its own ` +
              `runs, --overwrite included`,
          ),
        );
        return true;
      });
    }
    assert.equal(readFileSync(join(dir, 'config.json'), 'utf8'), '{"my": "tool settings"}');
    assert.equal(readFileSync(join(dir, 'report.html'), 'utf8'), 'mine');
    assert.equal(readFileSync(join(dir, 'eval.json'), 'utf8'), '[1, 2]');
    // Files of those names beside no run at all are left alone by --overwrite too.
    const loose = tmp();
    writeFileSync(join(loose, 'report.html'), 'mine');
    await pretrain(tiny(loose), {}, { overwrite: true });
    assert.equal(readFileSync(join(loose, 'report.html'), 'utf8'), 'mine');
  },
);

test("a stored config may hold values today's bounds refuse, but not a model no run could have had", () => {
  const stored = { ...DEFAULT_CONFIG, data: 'fashion-mnist', out: 'x' } as Record<string, unknown>;
  assert.equal(resolveConfig({ ...stored, lr: 150 }, { stored: true }).lr, 150);
  assert.equal(resolveConfig({ ...stored, projDim: 16 * 16384 }, { stored: true }).projDim, 16 * 16384);
  assert.throws(
    () => resolveConfig({ ...stored, projDim: 1e12 }, { stored: true }),
    /proj-dim must be an integer in \[1, 262144\] \(a model larger than any simclr run\), got 1000000000000/,
  );
  assert.throws(
    () => resolveConfig({ ...stored, width: 1000 }, { stored: true }),
    /width must be a number in \(0, 128\]/,
  );
});

test('a new run into a folder holding one is refused unless overwrite, which replaces it', async () => {
  const dir = tmp();
  await pretrain(tiny(dir));
  const { checkpoint, metrics, config } = runPaths(dir);
  const before = [checkpoint, metrics, config].map((p) => readFileSync(p));
  await assert.rejects(pretrain(tiny(dir, { seed: 5 })), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /holds a run with a checkpoint: pass --resume to continue it or --overwrite to replace it/);
    return true;
  });
  assert.deepEqual(
    [checkpoint, metrics, config].map((p) => readFileSync(p)),
    before,
    'the run is untouched',
  );
  await assert.rejects(pretrain(tiny(dir), {}, { resume: true, overwrite: true }), /exclude each other/);

  // A run that wrote its config but no checkpoint yet also counts.
  const early = tmp();
  writeFileSync(runPaths(early).config, readFileSync(config));
  await assert.rejects(
    pretrain(tiny(early)),
    /holds a run that never wrote a checkpoint: there is nothing to resume; pass --overwrite/,
  );

  const r = await pretrain(tiny(dir, { seed: 5, maxSteps: 1 }), {}, { overwrite: true });
  assert.equal(r.steps, 1);
  assert.equal(readRunConfig(dir).config.seed, 5);
  assert.equal(readFileSync(metrics, 'utf8').trim().split('\n').length, 1);
});

test(
  'resume refuses changes to the step counter, data order, schedule or loss unless forced, never to the model, ' +
    'and keeps a history',
  async () => {
    const dir = tmp();
    await pretrain(tiny(dir));
    const original = readFileSync(runPaths(dir).config, 'utf8');
    // The kind of change the issue saw (batch 32 -> 64 moved the lr mid-run), and every other such field at once.
    await assert.rejects(pretrain(tiny(dir, { batchSize: 32, maxSteps: 4 }), {}, true), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /--resume would change batch-size 16 -> 32 of the run in .*; pass --force-resume/);
      return true;
    });
    await assert.rejects(
      pretrain(
        tiny(dir, { epochs: 0.04, seed: 1, lr: 0.5, temperature: 0.3, warmupEpochs: 0, colorStrength: 0.8 }),
        {},
        true,
      ),
      new RegExp(
        String.raw`epochs 0\.02 -> 0\.04, seed 0 -> 1, lr default -> 0\.5, warmup-epochs default -> 0, ` +
          String.raw`temperature 0\.1 -> 0\.3, color-strength 0\.5 -> 0\.8`,
      ),
    );
    await assert.rejects(pretrain(tiny(dir, { lr: 0.5 }), {}, true), /lr default -> 0\.5/);
    // A different model cannot load the checkpoint, forced or not.
    await assert.rejects(
      pretrain(tiny(dir, { width: 0.25, projDim: 64 }), {}, { resume: true, forceResume: true }),
      /cannot change width 0\.125 -> 0\.25, proj-dim 128 -> 64/,
    );
    await assert.rejects(
      pretrain(tiny(dir, { optimizer: 'sgd' }), {}, { resume: true, forceResume: true }),
      /cannot change optimizer lars -> sgd/,
    );
    assert.equal(readFileSync(runPaths(dir).config, 'utf8'), original);
    assert.equal(existsSync(join(dir, HISTORY_FILE)), false, 'a refused resume records nothing');

    // Harmless changes: a warning, and the history; maxSteps (how far to go) without one.
    const warnings: string[] = [];
    await pretrain(tiny(dir, { maxSteps: 3, logSteps: 2 }), { onWarning: (m) => warnings.push(m) }, true);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /resuming .* with log-steps 1 -> 2 \(recorded in config-history\.jsonl/);
    assert.doesNotMatch(warnings[0]!, /max-steps/);
    // Forced: trains with the new rate, says so, and records it. (A forced change of the steps per epoch, such as
    // --batch-size, continues at the next epoch boundary: test/train/resume-edges.test.ts.)
    warnings.length = 0;
    await pretrain(
      tiny(dir, { maxSteps: 4, logSteps: 2, lr: 0.5 }),
      { onWarning: (m) => warnings.push(m) },
      { resume: true, forceResume: true },
    );
    assert.match(warnings.join('\n'), /lr default -> 0\.5: the result will differ from an uninterrupted run's/);

    assert.equal(readFileSync(runPaths(dir).config, 'utf8'), original, 'config.json keeps the original settings');
    const h = history(dir);
    assert.equal(h.length, 2);
    assert.deepEqual(
      [h[0]!.step, h[0]!.forced, h[0]!.changes],
      [2, false, { maxSteps: { from: 2, to: 3 }, logSteps: { from: 1, to: 2 } }],
    );
    assert.deepEqual(
      [h[1]!.step, h[1]!.forced, h[1]!.changes],
      [3, true, { maxSteps: { from: 3, to: 4 }, lr: { from: null, to: 0.5 } }],
    );
    assert.deepEqual(h[1]!.facts, { worldSize: 1, device: 'cpu' });
    // Readers and the next resume see the settings the run trains with now.
    assert.equal(readRunConfig(dir).config.lr, 0.5);
    await pretrain(tiny(dir, { maxSteps: 5, logSteps: 2, lr: 0.5 }), {}, true);
    assert.deepEqual(history(dir)[2]!.changes, { maxSteps: { from: 4, to: 5 } });
  },
);

test('precision, device and world size changes are warned about, not refused', () => {
  const dir = tmp();
  const cfg = tiny(dir);
  const r = checkResume(
    dir,
    cfg,
    { ...cfg, precision: 'bf16', threads: 1 },
    { before: { worldSize: 2, device: 'cuda:0' }, now: { worldSize: 1, device: 'cpu' } },
    false,
  );
  assert.deepEqual(Object.keys(r.changes).sort(), ['precision', 'threads', 'trainingDevice', 'worldSize']);
  assert.match(
    r.warning!,
    /precision fp32 -> bf16, threads 2 -> 1, world-size 2 -> 1, training-device cuda:0 -> cpu: the result will differ/,
  );
});

test(
  'the run lock: a live holder refuses a second writer; a ' + 'holder that dies, however, leaves nothing to take over',
  async () => {
    const dir = tmp();
    const path = join(dir, LOCK_FILE);
    const release = acquireRunLock(dir);
    // A second open in this very process is refused too: flock(2) locks belong to the open file, not the process.
    assert.throws(
      () => acquireRunLock(dir),
      (e: unknown) => {
        assert.ok(e instanceof RunInUseError);
        assert.match(e.message, new RegExp(`^run folder ${dir} in use by pid ${process.pid} \\(since `));
        return true;
      },
    );
    release();
    release(); // idempotent
    assert.equal(readFileSync(path, 'utf8'), '', 'a released lock names nobody');

    // A record left by hand (or by an older simclr's pid-file lock) names a process, but no one holds the lock.
    writeFileSync(path, JSON.stringify({ pid: 1, host: hostname(), since: 'then' }));
    acquireRunLock(dir)();

    // Another process holds it, then dies by SIGKILL: the kernel drops its lock at once.
    const lockModule = new URL('../../src/run/lock.js', import.meta.url).href;
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { acquireRunLock } = await import(${JSON.stringify(lockModule)}); ` +
          `acquireRunLock(${JSON.stringify(dir)}); console.log('held'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (d: Buffer) => {
        if (String(d).includes('held')) resolve();
      });
      holder.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
    });
    assert.throws(() => acquireRunLock(dir), new RegExp(`in use by pid ${holder.pid} \\(since `));
    const gone = new Promise((resolve) => holder.on('exit', resolve));
    holder.kill('SIGKILL');
    await gone;
    acquireRunLock(dir)();

    // A link planted at run.lock is not followed.
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    rmSync(path);
    symlinkSync(victim, path);
    assert.throws(
      () => acquireRunLock(dir),
      /cannot take the run folder's lock: .*run\.lock: too many symbolic links \(ELOOP\) \(a symbolic link/,
    );
    assert.equal(readFileSync(victim, 'utf8'), 'keep');

    // Nor is a FIFO opened for good or read (it would block): one line, at once.
    rmSync(path);
    spawnSync('mkfifo', [path]);
    assert.throws(
      () => acquireRunLock(dir),
      /cannot take the run folder's lock: .*run\.lock is not a regular file; remove it/,
    );
  },
);
