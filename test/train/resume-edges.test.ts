// Run-folder edge cases of resume and overwrite: a forced change of steps per epoch continues at the next epoch
// boundary; --overwrite removes everything simclr wrote (only once the new run can start); a run that never
// checkpointed is not offered to --resume; stored configs from older versions open; a resume with nothing to do
// writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import * as torch from '../../src/torch/index.js';
import { ConfigError, resolveConfig, type PretrainConfig } from '../../src/run/config.js';
import { pretrain, type MetricsRow } from '../../src/train/pretrain.js';
import { readCheckpointMeta, readRunConfig, runPaths } from '../../src/run/folder.js';
import { HISTORY_FILE, type HistoryEntry } from '../../src/run/resume.js';
import { appendEvalResult, writeReport } from '../../src/eval/report.js';
import { cli } from '../support/cli.js';
import { scratchDir } from '../data/tmp.js';

const root = scratchDir('resume-edges');
let count = 0;
const fresh = (): string => {
  const dir = join(root, `run${count++}`);
  mkdirSync(dir);
  return dir;
};

/** 48 tiny RGB PNGs: 6 steps per epoch at batch 8. */
const images = (async (): Promise<string> => {
  const dir = join(root, 'images');
  mkdirSync(dir);
  const gen = new torch.Generator().manualSeed(7);
  for (let i = 0; i < 48; i++) {
    const pixels = torch.randint(0, 256, [16, 16, 3], { generator: gen, dtype: 'uint8' });
    await sharp(Buffer.from((pixels.toArray() as Uint8Array).buffer), { raw: { width: 16, height: 16, channels: 3 } })
      .png()
      .toFile(join(dir, `img${i}.png`));
    pixels.dispose();
  }
  return dir;
})();

async function folderRun(out: string, extra: Record<string, unknown> = {}): Promise<PretrainConfig> {
  return resolveConfig({
    data: `folder:${await images}`,
    out,
    imageSize: 16,
    width: 0.125,
    batchSize: 8,
    epochs: 3,
    logSteps: 1,
    threads: 2,
    ...extra,
  });
}

function fm(out: string, extra: Record<string, unknown> = {}): PretrainConfig {
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

const steps = (dir: string): number[] =>
  readFileSync(runPaths(dir).metrics, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as MetricsRow).step);
const history = (dir: string): HistoryEntry[] =>
  readFileSync(join(dir, HISTORY_FILE), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as HistoryEntry);

test('a forced change of steps per epoch continues at the next epoch boundary', async () => {
  // Batch 8: 6 steps per epoch, stopped at step 8 (epoch 2, 2 steps into it).
  const up = fresh();
  await pretrain(await folderRun(up, { maxSteps: 8 }));
  // Batch 4 (12 steps per epoch): epoch 2 starts at step 24; steps 25-26 follow.
  const warnings: string[] = [];
  const r = await pretrain(
    await folderRun(up, { batchSize: 4, maxSteps: 26 }),
    { onWarning: (m) => warnings.push(m) },
    { resume: true, forceResume: true },
  );
  assert.equal(r.steps, 26);
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings[0]!, /batch-size 8 -> 4/);
  assert.match(
    warnings[1]!,
    new RegExp(
      String.raw`steps per epoch of the run in .* from 6 to 12: it continues at the start of epoch 3, ` +
        String.raw`step 8 -> 24; the rest of a partly done epoch is skipped`,
    ),
  );
  assert.deepEqual(steps(up), [1, 2, 3, 4, 5, 6, 7, 8, 25, 26]);
  assert.deepEqual(history(up)[0]!.renumbered, { step: 24, stepsPerEpoch: { from: 6, to: 12 } });
  assert.equal(history(up)[0]!.step, 8);
  const meta = readCheckpointMeta(runPaths(up).checkpoint);
  assert.deepEqual([meta.step, meta.epoch, meta.stepInEpoch, meta.stepsPerEpoch], [26, 2, 2, 12]);

  // Batch 16 (3 per epoch): epoch 2 starts at step 6, below the old numbering. Stopped after one step (7), then a
  // row logged after that checkpoint by a trainer killed before the next: a plain resume keeps the rows before its
  // checkpoint (the old run's 1-8 included) and continues.
  const down = fresh();
  await pretrain(await folderRun(down, { maxSteps: 8 }));
  await pretrain(
    await folderRun(down, { batchSize: 16, maxSteps: null }),
    { shouldStop: () => true },
    { resume: true, forceResume: true },
  );
  assert.deepEqual(steps(down), [1, 2, 3, 4, 5, 6, 7, 8, 7]);
  appendFileSync(
    runPaths(down).metrics,
    `${JSON.stringify({ epoch: 3, step: 8, loss: 1, lr: 0.1, contrastive_acc: 0.5, images_per_s: 1 })}\n`,
  );
  const last = await pretrain(await folderRun(down, { batchSize: 16, maxSteps: null }), {}, true);
  assert.equal(last.stopped, 'completed');
  assert.deepEqual(steps(down), [1, 2, 3, 4, 5, 6, 7, 8, 7, 8, 9]);
  assert.equal(history(down).length, 2);
  assert.equal(history(down)[1]!.renumbered, undefined);

  // Of 2 epochs: batch 24 (2 per epoch, 4 in all) puts the next boundary at the end: complete, nothing written.
  const done = fresh();
  await pretrain(await folderRun(done, { maxSteps: 8, epochs: 2 }));
  const files = (): [string, Buffer][] =>
    readdirSync(done)
      .filter((f) => f !== 'checkpoints' && f !== 'run.lock')
      .map((f) => [f, readFileSync(join(done, f))]);
  const before = files();
  const ckpt = readFileSync(runPaths(done).checkpoint);
  const c = await cli('pretrain', '--out', done, '--force-resume', '--batch-size', '24', '--max-steps', '100');
  assert.equal(c.code, 0, c.stderr);
  assert.match(
    c.stdout,
    new RegExp(
      String.raw`^nothing to do: the run in .* is already complete \(step 4 of 4\) once moved to the ` +
        String.raw`next epoch boundary at 2 steps per epoch \(its checkpoint is at step 8\)$`,
    ),
  );
  assert.doesNotMatch(c.stderr, /recorded in/);
  assert.deepEqual(files(), before);
  assert.deepEqual(readFileSync(runPaths(done).checkpoint), ckpt);

  // Unforced, a changed count (the folder gained images) is refused, naming it; nothing is recorded.
  for (let i = 48; i < 60; i++)
    writeFileSync(join(await images, `img${i}.png`), readFileSync(join(await images, 'img0.png')));
  try {
    await assert.rejects(
      pretrain(await folderRun(up, { batchSize: 4, maxSteps: 40 }), {}, true),
      /did 12 steps per epoch and would now do 15 .*pass --force-resume to continue at the next epoch boundary/,
    );
  } finally {
    for (let i = 48; i < 60; i++) rmSync(join(await images, `img${i}.png`));
  }
  assert.equal(history(up).length, 1);
});

test(
  '--overwrite removes every file simclr wrote into ' + 'the run folder, and only once the new run can start',
  async () => {
    const dir = fresh();
    await pretrain(await folderRun(dir, { maxSteps: 2 }));
    appendEvalResult(dir, { metric: 'knn', top1: 0.5 });
    await writeReport(dir);
    const ft = join(dir, 'finetune-0.1');
    mkdirSync(ft);
    for (const f of ['labels.json', 'model.safetensors', 'result.json']) writeFileSync(join(ft, f), '{}');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const all = (): string[] => {
      const walk = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(d, e.name)) : [relative(dir, join(d, e.name))],
        );
      return walk(dir)
        .filter((f) => f !== 'run.lock')
        .sort();
    };
    const old = all();
    assert.ok(
      old.includes('report.html') && old.includes('augment-grid.png') && old.includes('eval.json'),
      old.join(' '),
    );

    // Checks that fail before training leave the old run as it was.
    const snapshot = old.map((f) => readFileSync(join(dir, f)));
    await assert.rejects(
      pretrain(await folderRun(dir, { data: `folder:${join(root, 'typo')}` }), {}, { overwrite: true }),
    );
    await assert.rejects(pretrain(await folderRun(dir, { epochs: 0.01 }), {}, { overwrite: true }), /gives 0 steps/);
    assert.deepEqual(all(), old);
    assert.deepEqual(
      old.map((f) => readFileSync(join(dir, f))),
      snapshot,
    );

    const warnings: string[] = [];
    await pretrain(
      await folderRun(dir, { maxSteps: 1, seed: 3 }),
      { onWarning: (m) => warnings.push(m) },
      { overwrite: true },
    );
    assert.deepEqual(all(), ['checkpoints/last.safetensors', 'config.json', 'metrics.jsonl', 'notes.txt']);
    assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
    assert.equal(warnings.length, 1);
    for (const f of old.filter((f) => f !== 'notes.txt'))
      assert.ok(warnings[0]!.includes(f), `${f} not named in: ${warnings[0]}`);
    const info = await cli('report', dir);
    assert.equal(info.code, 0, info.stderr);
    assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /No evaluation results yet/);
  },
);

test('a run that never checkpointed is offered --overwrite, not --resume', async () => {
  const made = fresh();
  await pretrain(fm(made, { maxSteps: 1 }));
  const dir = fresh();
  writeFileSync(runPaths(dir).config, readFileSync(runPaths(made).config));
  writeFileSync(runPaths(dir).metrics, '');
  const fresh1 = await cli(
    'pretrain',
    '--data',
    'fashion-mnist',
    '--out',
    dir,
    '--width',
    '0.125',
    '--batch-size',
    '16',
    '--max-steps',
    '1',
  );
  assert.equal(fresh1.code, 2);
  assert.match(
    fresh1.stderr,
    /holds a run that never wrote a checkpoint: there is nothing to resume; pass --overwrite to start again/,
  );
  assert.doesNotMatch(fresh1.stderr, /--resume/);
  const resumed = await cli('pretrain', '--out', dir, '--resume');
  assert.equal(resumed.code, 2);
  assert.match(
    resumed.stderr,
    new RegExp(
      String.raw`holds a run that never wrote a checkpoint \(no .*last\.safetensors\): there is nothing ` +
        String.raw`to resume; pass --overwrite to start it again`,
    ),
  );
});

test("a stored config with values outside today's bounds opens for reading; training it says why not", async () => {
  const dir = fresh();
  await pretrain(fm(dir));
  const path = runPaths(dir).config;
  const file = JSON.parse(readFileSync(path, 'utf8')) as { config: Record<string, unknown> };
  writeFileSync(path, JSON.stringify({ ...file, config: { ...file.config, lr: 150, batchSize: 1, threads: 5000 } }));
  assert.equal(readRunConfig(dir).config.lr, 150);
  const info = await cli('info', dir);
  assert.equal(info.code, 0, info.stderr);
  const exp = await cli('export', '--run', dir, '--format', 'safetensors', '--out', join(dir, 'enc.safetensors'));
  assert.equal(exp.code, 0, exp.stderr);
  // What rebuilding needs is still checked: types and signs.
  for (const [k, v] of [
    ['lr', 'fast'],
    ['width', 0],
    ['projDim', 2.5],
    ['batchSize', 0],
  ] as const) {
    writeFileSync(path, JSON.stringify({ ...file, config: { ...file.config, [k]: v } }));
    assert.throws(() => readRunConfig(dir), ConfigError, `${k} ${v}`);
  }
  // Model-shape fields beyond the bounds also open (width 1/32, image size 4, proj-dim 20000).
  writeFileSync(
    path,
    JSON.stringify({ ...file, config: { ...file.config, width: 1 / 32, imageSize: 4, projDim: 20000 } }),
  );
  assert.equal(readRunConfig(dir).config.projDim, 20000);

  writeFileSync(path, JSON.stringify({ ...file, config: { ...file.config, lr: 150, threads: 5000 } }));
  const r = await cli('pretrain', '--out', dir, '--resume', '--max-steps', '3');
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    new RegExp(
      String.raw`--lr must be a number in \(0, 100\], got 150: the run in .* has it from an older simclr, ` +
        String.raw`whose bounds were wider; resume with --lr within them and --force-resume; --threads ` +
        String.raw`must be .*got 5000: .*resume with --threads within them$`,
      'm',
    ),
  );
  const ok = await cli('pretrain', '--out', dir, '--force-resume', '--lr', '0.3', '--threads', '2', '--max-steps', '3');
  assert.equal(ok.code, 0, ok.stderr);
});

test('a resume with nothing to do says so and writes nothing', async () => {
  const dir = fresh();
  await pretrain(fm(dir));
  const snapshot = (): Buffer[] => [runPaths(dir).metrics, runPaths(dir).checkpoint].map((p) => readFileSync(p));
  const before = snapshot();
  const atMax = await cli('pretrain', '--out', dir, '--resume');
  assert.equal(atMax.code, 0, atMax.stderr);
  assert.match(
    atMax.stdout,
    new RegExp(
      String.raw`^nothing to do: the run in .* is at step 2 of 2 \(--max-steps 2; the schedule has \d+\): ` +
        String.raw`raise --max-steps to continue$`,
    ),
  );
  assert.doesNotMatch(atMax.stdout, /NaN/);
  assert.equal(existsSync(join(dir, HISTORY_FILE)), false);
  assert.deepEqual(snapshot(), before);

  const complete = fresh();
  await pretrain(fm(complete, { maxSteps: null, epochs: 0.001 }));
  const r = await pretrain(fm(complete, { maxSteps: null, epochs: 0.001, logSteps: 5 }), {}, true);
  assert.equal(r.stopped, 'nothing-to-do');
  assert.match(r.message!, /already complete \(step 4 of 4\)/);
  assert.equal(existsSync(join(complete, HISTORY_FILE)), false);
});
