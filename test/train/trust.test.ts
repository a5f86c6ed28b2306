// Issue 15 "Trust", items 4-8: what simclr writes can be read back and resumed, and what it reads is checked first.
// Checkpoints hold finite state only; checkpoint metadata and config.json are validated field by field; metrics.jsonl
// tolerates a torn tail; stale temps of killed writers go; checkpoints over 2 GiB load; odd files fail in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
  ftruncateSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { safetensors as st } from '../../src/torch/index.js';
import { resolveConfig, ConfigError, type PretrainConfig } from '../../src/run/config.js';
import { pretrain, DivergenceError, type MetricsRow } from '../../src/train/pretrain.js';
import { buildModel, loadCheckpoint, readRunConfig, runPaths, saveCheckpoint } from '../../src/run/folder.js';
import { readMetricsRows } from '../../src/eval/report.js';
import { cli } from '../support/cli.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-trust-'));
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function tiny(out: string, extra: Record<string, unknown> = {}): PretrainConfig {
  return resolveConfig({
    data: 'fashion-mnist',
    out,
    arch: 'resnet18',
    width: 0.125,
    batchSize: 32,
    epochs: 0.04,
    logSteps: 1,
    threads: 2,
    ...extra,
  });
}

function allFinite(path: string): { bad: string[]; total: number } {
  const { tensors } = st.loadFile(path);
  const bad: string[] = [];
  for (const [k, t] of tensors) {
    if (t.isFloatingPoint() && t.isfinite().all().item() === 0) bad.push(k);
    t.dispose();
  }
  return { bad, total: tensors.size };
}

// ------------------------------------------------------------------------------------------- item 4

test(
  'item 4: a checkpoint never holds non-finite state, ' + 'and a divergence names only a checkpoint that exists',
  async () => {
    // The issue's kind within today's option bounds (its lr of 2.4e39 is refused now). With T = 2e-38 the loss at
    // step 1 is finite and the step-1 weights reach ~1e37, so step 2 diverges with a checkpoint on disk; with
    // T = 1.2e-38 the loss is infinite at step 1, before any checkpoint (main claimed one there that did not exist).
    for (const [temperature, expectStep] of [
      [2e-38, 1],
      [1.2e-38, null],
    ] as const) {
      const dir = tmp();
      const cfg = tiny(dir, {
        optimizer: 'sgd',
        lr: 100,
        // The pipeline and lr scaling (12.5 at batch 32) the construction above was measured with, before presets.
        preset: 'paper',
        temperature,
        warmupEpochs: 0,
        checkpointSteps: 1,
        maxSteps: 4,
      });
      let message = '';
      await assert.rejects(pretrain(cfg), (e: unknown) => {
        assert.ok(e instanceof DivergenceError, String(e));
        message = e.message;
        return true;
      });
      const path = runPaths(dir).checkpoint;
      const named = /last good checkpoint \((.*), step (\d+)\)/.exec(message);
      if (expectStep === null) {
        assert.equal(named, null, message);
        assert.match(message, /no checkpoint was written/);
        assert.equal(existsSync(path), false, `${message}\nyet ${path} exists`);
      } else {
        assert.ok(named !== null, message);
        assert.equal(named[1], path);
        assert.equal(Number(named[2]), expectStep);
        assert.equal(loadCheckpoint(path).meta.step, expectStep);
        assert.deepEqual(allFinite(path).bad, [], 'a written checkpoint holds non-finite tensors');
      }
    }
  },
);

test(
  'item 4: saveCheckpoint refuses non-finite weights or ' + 'optimizer state and leaves the previous file as it was',
  () => {
    const dir = tmp();
    const path = join(dir, 'last.safetensors');
    const model = buildModel(tiny(dir), { channels: 1, height: 28 });
    const meta = {
      optimizer: 'sgd',
      paramGroups: [{ options: { lr: 0.1, weightDecay: 0, momentum: 0.9 }, size: model.parameters().length }],
      scalars: {},
    };
    saveCheckpoint(path, model, { tensors: {}, meta }, { step: 1, epoch: 0, stepInEpoch: 1 });
    const before = readFileSync(path);
    const inf = torch.full([3], Infinity);
    assert.throws(
      () =>
        saveCheckpoint(
          path,
          model,
          { tensors: { '0.momentum_buffer': inf }, meta },
          { step: 2, epoch: 0, stepInEpoch: 2 },
        ),
      /'optimizer\.0\.momentum_buffer' holds NaN or infinite values at step 2/,
    );
    torch.noGrad(() => model.parameters()[0]!.fill_(NaN));
    assert.throws(
      () => saveCheckpoint(path, model, { tensors: {}, meta }, { step: 3, epoch: 0, stepInEpoch: 3 }),
      /holds NaN or infinite values at step 3/,
    );
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(dir), ['last.safetensors']);
    inf.dispose();
    model.dispose();
  },
);

// ------------------------------------------------------------------------------------------- item 5

/** Rewrites the checkpoint's 'simclr' metadata (and optionally its tensors) as `edit` says. */
function tamper(
  path: string,
  edit: (meta: Record<string, unknown> | null) => unknown,
  dropTensors: (name: string) => boolean = () => false,
): void {
  const { tensors, metadata } = st.loadFile(path);
  const meta = JSON.parse(metadata.simclr!) as Record<string, unknown>;
  const edited = edit(meta);
  const kept = new Map([...tensors].filter(([k]) => !dropTensors(k)));
  st.saveFile(
    path,
    kept,
    edited === undefined ? {} : { simclr: typeof edited === 'string' ? edited : JSON.stringify(edited) },
  );
  for (const t of tensors.values()) t.dispose();
}

test(
  'item 5: every checkpoint field is validated; resume ' + 'and info fail in one line naming the file and field',
  async () => {
    const dir = tmp();
    await pretrain(tiny(dir, { maxSteps: 2 }));
    const path = runPaths(dir).checkpoint;
    const good = readFileSync(path);
    const cases: [string, (m: Record<string, unknown> | null) => unknown, RegExp, ((n: string) => boolean)?][] = [
      [
        'step "abc"',
        (m) => ({ ...m, step: 'abc' }),
        /checkpoint field 'step' must be a non-negative integer, got "abc"/,
      ],
      [
        'step 1e300',
        (m) => ({ ...m, step: 1e300 }),
        /checkpoint field 'step' must be a non-negative integer, got 1e\+300/,
      ],
      ['step -1', (m) => ({ ...m, step: -1 }), /checkpoint field 'step' must be a non-negative integer/],
      ['step 2.5', (m) => ({ ...m, step: 2.5 }), /checkpoint field 'step' must be a non-negative integer/],
      [
        'step past the schedule',
        (m) => ({ ...m, step: 5000, stepInEpoch: 5000 }),
        /checkpoint field 'step' \(5000\) is beyond this run's/,
      ],
      [
        'epoch inconsistent',
        (m) => ({ ...m, epoch: 1 }),
        new RegExp(
          String.raw`checkpoint fields 'epoch' \(1\) and 'stepInEpoch' \(2\) do not give 'step' \(2\)|'epoch' ` +
            String.raw`\(1\) exceeds|do not give`,
        ),
      ],
      ['null metadata', () => 'null', /checkpoint metadata must be a JSON object, got null/],
      ['metadata not JSON', () => '{"step":', /checkpoint metadata is not valid JSON/],
      ['no metadata', () => undefined, /not a simclr checkpoint \(no 'simclr' metadata\)/],
      ['format', (m) => ({ ...m, format: 2 }), /checkpoint format 2 is not supported/],
      [
        'missing epoch',
        (m) => {
          const { epoch: _, ...rest } = m!;
          return rest;
        },
        /checkpoint field 'epoch' must be a non-negative integer, got nothing/,
      ],
      [
        'missing optimizer',
        (m) => {
          const { optimizer: _, ...rest } = m!;
          return rest;
        },
        /checkpoint field 'optimizer' must be an object, got nothing/,
      ],
      [
        'optimizer name',
        (m) => ({ ...m, optimizer: { ...(m!.optimizer as object), optimizer: 7 } }),
        /checkpoint field 'optimizer\.optimizer' must be a non-empty string/,
      ],
      [
        'paramGroups',
        (m) => ({ ...m, optimizer: { ...(m!.optimizer as object), paramGroups: null } }),
        /checkpoint field 'optimizer\.paramGroups' must be an array/,
      ],
      [
        'group size',
        (m) => ({ ...m, optimizer: { ...(m!.optimizer as object), paramGroups: [{ options: {}, size: 'x' }] } }),
        /checkpoint field 'optimizer\.paramGroups\[0\]\.size' must be a positive integer/,
      ],
      [
        'group option',
        (m) => {
          const o = m!.optimizer as { paramGroups: { options: object; size: number }[] };
          return {
            ...m,
            optimizer: {
              ...o,
              paramGroups: [{ ...o.paramGroups[0], options: { lr: 'fast' } }, ...o.paramGroups.slice(1)],
            },
          };
        },
        /checkpoint field 'optimizer\.paramGroups\[0\]\.options\.lr' must be a finite number/,
      ],
      [
        'scalars',
        (m) => ({ ...m, optimizer: { ...(m!.optimizer as object), scalars: { 99999: { step: 1 } } } }),
        /checkpoint field 'optimizer\.scalars' has '99999'/,
      ],
      [
        'wrong optimizer',
        (m) => ({ ...m, optimizer: { ...(m!.optimizer as object), optimizer: 'adamw' } }),
        /does not fit this run's model and optimizer/,
      ],
      [
        'no optimizer tensors',
        (m) => m,
        /checkpoint holds no optimizer state after 2 steps/,
        (n) => n.startsWith('optimizer.'),
      ],
      ['no model tensors', (m) => m, /checkpoint holds no model tensors/, (n) => n.startsWith('model.')],
    ];
    for (const [what, edit, expected, drop] of cases) {
      writeFileSync(path, good);
      tamper(path, edit, drop);
      const line = new RegExp(`^${escapeRe(path)}: .*${expected.source}`);
      await assert.rejects(
        pretrain(tiny(dir, { maxSteps: 4 }), {}, true),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, `${what}: ${String(e)}`);
          assert.match(e.message, line, what);
          assert.doesNotMatch(e.message, /\n/);
          return true;
        },
        what,
      );
      if (!/schedule|inconsistent|wrong optimizer|no optimizer tensors/.test(what)) {
        // info reads the same metadata: exit 2, one line.
        const r = await cli('info', dir);
        assert.equal(r.code, 2, `${what}: info exit code`);
        assert.match(r.stderr.trim(), new RegExp(`^simclr: ${escapeRe(path)}: .*${expected.source}[^\\n]*$`), what);
      }
    }
  },
);

test('item 5: a corrupt or wrong config.json fails in one line naming the file', async () => {
  const dir = tmp();
  await pretrain(tiny(dir, { maxSteps: 1 }));
  const path = runPaths(dir).config;
  const good = readFileSync(path, 'utf8');
  for (const [text, expected] of [
    ['{"config": {', /not valid JSON/],
    ['null', /expected a JSON object, got null/],
    [JSON.stringify({ ...JSON.parse(good), input: null }), /field 'input' must be an object/],
    [
      JSON.stringify({ ...JSON.parse(good), input: { channels: 1, height: 'x', width: 28 } }),
      /field 'input\.height' must be a positive integer/,
    ],
  ] as const) {
    writeFileSync(path, text);
    assert.throws(
      () => readRunConfig(dir),
      (e: unknown) => e instanceof ConfigError && new RegExp(`^${escapeRe(path)}: ${expected.source}`).test(e.message),
      text,
    );
    const r = await cli('info', dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr.trim(), new RegExp(`^simclr: ${escapeRe(path)}: ${expected.source}[^\\n]*$`));
  }
});

// ------------------------------------------------------------------------------------------- item 6

test('item 6: a torn last line of metrics.jsonl is tolerated by info and cut off by --resume', async () => {
  const dir = tmp();
  let steps = 0;
  await pretrain(tiny(dir, { maxSteps: 4 }), { shouldStop: () => ++steps === 2 });
  const metrics = runPaths(dir).metrics;
  appendFileSync(metrics, '{"epoch":1,"step":3,"loss":4.1,"lr":0.3,"contr'); // a kill mid-append
  const info = await cli('info', dir);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /checkpoint step 2/);
  assert.equal(readMetricsRows(metrics).length, 2);
  await pretrain(tiny(dir, { maxSteps: 4 }), {}, true);
  const lines = readFileSync(metrics, 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as MetricsRow).step),
    [1, 2, 3, 4],
  );

  // A damaged line before the last is no torn tail: one line naming the file and the line.
  writeFileSync(
    metrics,
    lines
      .map((l, i) => (i === 1 ? l.slice(0, 10) : l))
      .map((l) => `${l}\n`)
      .join(''),
  );
  const bad = await cli('info', dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.trim(), new RegExp(`^simclr: ${escapeRe(metrics)}: line 2 is not valid JSON[^\\n]*$`));
  // (maxSteps 5: at 4 a resume would have nothing to do, and reads nothing.)
  await assert.rejects(pretrain(tiny(dir, { maxSteps: 5 }), {}, true), new RegExp(`${escapeRe(metrics)}: line 2`));
});

test('item 6: stale temporary files of killed writers are removed at start-up; live ones are kept', async () => {
  const dir = tmp();
  await pretrain(tiny(dir, { maxSteps: 1 }));
  // A process that has exited: its pid names temps nobody is writing.
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const dead = Number(child.stdout);
  const old = new Date(Date.now() - 3_600_000);
  const ckDir = dirname(runPaths(dir).checkpoint);
  const stale = [
    join(ckDir, `.last.safetensors.${dead}.0123456789ab.tmp`),
    join(dir, `.config.json.${dead}.a1b2c3d4e5f6.tmp`),
    join(dir, `.1700000000000.${dead}.tmp`),
  ];
  const live = [
    join(ckDir, `.last.safetensors.${process.pid}.0123456789ab.tmp`),
    join(dir, `.metrics.jsonl.${dead}.fedcba987654.tmp`),
  ];
  for (const p of [...stale, ...live]) writeFileSync(p, 'partial');
  for (const p of [...stale, live[0]!]) utimesSync(p, old, old);
  // live[1]: its pid is gone but it was written just now (a writer in another pid namespace looks dead): kept.
  await pretrain(tiny(dir, { maxSteps: 2 }), {}, true);
  for (const p of stale) assert.equal(existsSync(p), false, `${p} should be removed`);
  for (const p of live) assert.equal(existsSync(p), true, `${p} should be kept`);
});

// ------------------------------------------------------------------------------------------- item 7

test('item 7: a safetensors file over 2 GiB loads, read tensor by tensor', (t) => {
  const dir = tmp();
  const path = join(dir, 'big.safetensors');
  const n = 800_000_000; // three U8 tensors: 2.4 GB of data
  const free = statfsSync(dir).bavail * statfsSync(dir).bsize;
  if (free < 4 * n) {
    t.skip(`needs ${4 * n} free bytes in ${dir}, has ${free}`);
    return;
  }
  // Written as the reference writer lays it out, the data sparse: only the marked bytes take disk space.
  const json = JSON.stringify({
    __metadata__: { what: 'big' },
    a: { dtype: 'U8', shape: [n], data_offsets: [0, n] },
    b: { dtype: 'U8', shape: [n / 1000, 1000], data_offsets: [n, 2 * n] },
    c: { dtype: 'U8', shape: [n], data_offsets: [2 * n, 3 * n] },
  });
  const header = Buffer.from(json.padEnd(Math.ceil(json.length / 8) * 8, ' '));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  const start = 8 + header.length;
  try {
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, prefix, 0, 8, 0);
      writeSync(fd, header, 0, header.length, 8);
      for (const [k, v] of [
        [0, 1],
        [n - 1, 2],
        [n, 3],
        [2 * n - 1, 4],
        [2 * n, 5],
        [3 * n - 1, 6],
      ] as const)
        writeSync(fd, Uint8Array.of(v), 0, 1, start + k);
      ftruncateSync(fd, start + 3 * n);
    } finally {
      closeSync(fd);
    }
    assert.ok(statSync(path).size > 2 ** 31);
    const { tensors, metadata } = st.loadFile(path);
    assert.deepEqual(metadata, { what: 'big' });
    assert.deepEqual([...tensors.keys()], ['a', 'b', 'c']);
    const at = (x: torch.Tensor, i: number): number => x.reshape([-1]).narrow(0, i, 1).item();
    const [a, b, c] = [tensors.get('a')!, tensors.get('b')!, tensors.get('c')!];
    assert.deepEqual(b.shape, [n / 1000, 1000]);
    assert.deepEqual(
      [at(a, 0), at(a, 1), at(a, n - 1), at(b, 0), at(b, n - 1), at(c, 0), at(c, n - 1)],
      [1, 0, 2, 3, 4, 5, 6],
    );
    for (const x of tensors.values()) x.dispose();
  } finally {
    rmSync(path, { force: true });
  }
});

// ------------------------------------------------------------------------------------------- item 8

// The compiled tests' root (dist/), where the children import the compiled sources from.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs `code` (an ES module body) in a child, so a read that would hang or exhaust memory is stopped after 60 s. */
function inChild(code: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=512' },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test(
  "item 8: a directory, FIFO or device in a checkpoint's place fails in one line, without hanging or reading " + 'it',
  () => {
    const dir = tmp();
    const fifo = join(dir, 'fifo.safetensors');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return;
    const folder = join(dir, 'folder.safetensors');
    mkdirSync(folder);
    const tiny8 = join(dir, 'tiny.safetensors');
    writeFileSync(tiny8, 'abc');
    const code = `
    const st = await import('./src/torch/safetensors.js');
    for (const p of ${JSON.stringify([fifo, '/dev/zero', folder, tiny8])}) {
      try { st.loadFile(p); console.log('loaded ' + p); } catch (e) { console.log(e.name + ': ' + e.message); }
      try { st.readHeader(p); console.log('header ' + p); } catch (e) { console.log(e.name + ': ' + e.message); }
    }`;
    const r = inChild(code);
    assert.equal(r.status, 0, r.out);
    const lines = r.out.trim().split('\n');
    const expected = [
      `${fifo} is a FIFO, not a safetensors file`,
      `${fifo} is a FIFO, not a safetensors file`,
      '/dev/zero is a character device, not a safetensors file',
      '/dev/zero is a character device, not a safetensors file',
      `${folder} is a directory, not a safetensors file`,
      `${folder} is a directory, not a safetensors file`,
      `${tiny8} is 3 bytes; a safetensors file is at least 8`,
      `${tiny8} is 3 bytes; a safetensors file is at least 8`,
    ];
    assert.deepEqual(
      lines,
      expected.map((e) => `SafetensorsError: safetensors: ${e}`),
    );
  },
);

test(
  'item 8: run files (config.json, metrics.jsonl, eval.json) ' + 'and data files are checked before they are read',
  async () => {
    const dir = tmp();
    await pretrain(tiny(dir, { maxSteps: 1 }));
    const { metrics, config } = runPaths(dir);
    // metrics.jsonl as a directory, then config.json as a FIFO: one line each from info (exit 2), no hang.
    rmSync(metrics);
    mkdirSync(metrics);
    const r1 = await cli('info', dir);
    assert.equal(r1.code, 2);
    assert.equal(r1.stderr.trim(), `simclr: ${metrics} is a directory, not a metrics log`);
    rmSync(metrics, { recursive: true });
    rmSync(config);
    spawnSync('mkfifo', [config]);
    const eval1 = join(dir, 'eval.json');
    spawnSync('mkfifo', [eval1]);
    const r2 = inChild(`
    const { runCli } = await import('./src/cli/commands.js');
    const { readEvalResults } = await import('./src/eval/report.js');
    const code = await runCli(['node', 'simclr', 'info', ${JSON.stringify(dir)}]);
    try { readEvalResults(${JSON.stringify(dir)}); } catch (e) { console.error(e.message); }
    console.error('exit ' + code);`);
    assert.deepEqual(r2.out.trim().split('\n'), [
      `simclr: ${config} is a FIFO, not a run config`,
      `${eval1} is a FIFO, not an eval results file`,
      'exit 2',
    ]);

    // A CIFAR batch far larger than the whole dataset is refused from its size, before a byte of it is read.
    const cifar = join(dir, 'cifar');
    mkdirSync(cifar);
    const batch = join(cifar, 'data_batch_1.bin');
    const fd = openSync(batch, 'w');
    ftruncateSync(fd, 50 * 2 ** 30);
    closeSync(fd);
    const r3 = await cli('augment', '--data', `cifar10:${cifar}`, '--out', join(dir, 'g.png'));
    assert.equal(r3.code, 2);
    assert.match(
      r3.stderr.trim(),
      new RegExp(
        `^simclr: data spec '[^']*': ${escapeRe(batch)} is ${50 * 2 ** 30} bytes; a CIFAR batch is at most 184380000$`,
      ),
    );
  },
);
