// The simclr command as a user runs it: help, exit codes and one-line errors, --config files, augment, info.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const MAIN = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

function simclr(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'simclr-cli-'));

test('pretrain --help lists every documented flag', () => {
  const r = simclr('pretrain', '--help');
  assert.equal(r.code, 0);
  for (const flag of [
    '--data',
    '--out',
    '--arch',
    '--width',
    '--image-size',
    '--epochs',
    '--batch-size',
    '--optimizer',
    '--lr ',
    '--lr-scaling',
    '--warmup-epochs',
    '--weight-decay',
    '--loss',
    '--temperature',
    '--margin',
    '--proj-layers',
    '--proj-dim',
    '--color-strength',
    '--blur',
    '--no-blur',
    '--seed',
    '--resume',
    '--force-resume',
    '--overwrite',
    '--max-steps',
    '--log-steps',
    '--checkpoint-steps',
    '--threads',
    '--config',
    '--precision',
    '--device',
  ]) {
    assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
  }
});

test('usage problems exit 2 with one line naming the problem', () => {
  const cases: [string[], RegExp][] = [
    [['pretrain', '--data', 'fashion-mnist', '--out', tmp(), '--bogus'], /unknown option '--bogus'/],
    [['pretrain', '--data', 'fashion-mnist', '--out', tmp(), '--batch-size', 'abc'], /--batch-size.*abc/],
    [['pretrain', '--data', 'fashion-mnist', '--out', tmp(), '--arch', 'vgg'], /--arch.*vgg/],
    [
      ['pretrain', '--data', 'fashion-mnist', '--out', tmp(), '--loss', 'infonce'],
      /--loss.*infonce.*ntxent, ntlogistic, margintriplet/,
    ],
    [
      ['pretrain', '--data', 'fashion-mnist', '--out', tmp(), '--margin', '3'],
      /--margin <m>.*expected a number in \[0, 2\]/,
    ],
    [['pretrain', '--data', `cifar10:${join(tmp(), 'missing')}`, '--out', tmp()], /cifar10.*missing/],
    [['pretrain', '--data', 'nope:x', '--out', tmp()], /unknown dataset kind 'nope'/],
    [
      ['pretrain', '--data', 'fashion-mnist', '--out', '/etc/hostname/run'],
      /--out \/etc\/hostname\/run is not writable/,
    ],
    [['pretrain', '--out', tmp()], /--data is required/],
    [
      ['pretrain', '--data', 'fashion-mnist', '--out', tmp(), '--temperature', '-1'],
      /--temperature <t>.*expected a number in \(0, 100\], got '-1'/,
    ],
    [
      ['pretrain', '--data', 'fashion-mnist', '--out', tmp(), '--config', '/nonexistent.yaml'],
      /--config \/nonexistent.yaml: no such file/,
    ],
    [['info', tmp()], /not a simclr run folder/],
  ];
  for (const [args, pattern] of cases) {
    const r = simclr(...args);
    assert.equal(r.code, 2, `${args.join(' ')} -> exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
});

test('--config (YAML) sets options, flags override it, and info summarises the run', () => {
  const dir = tmp();
  const out = join(dir, 'run');
  const cfg = join(dir, 'cfg.yaml');
  writeFileSync(
    cfg,
    [
      'data: fashion-mnist',
      'width: 0.125',
      'batch-size: 16',
      'epochs: 0.01',
      'temperature: 0.2',
      'max-steps: 2',
      'log-steps: 1',
    ].join('\n'),
  );
  const r = simclr('pretrain', '--config', cfg, '--out', out, '--temperature', '0.3');
  assert.equal(r.code, 0, r.stderr);
  // The preset's settings as resolved, the flag's value marked as given.
  assert.match(
    r.stderr,
    new RegExp(
      String.raw`^preset auto \(28 px images, batch 16, 0\.01 epochs: small-image augmentation, short run\): ` +
        String.raw`temperature 0\.3 \(set\), lr 0\.075 x sqrt\(16\) = 0\.3, colour strength 0\.5, crops >= 25%, ` +
        'no blur, linear head$',
      'm',
    ),
  );
  const run = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { config: Record<string, unknown> };
  assert.equal(run.config.width, 0.125);
  assert.equal(run.config.batchSize, 16);
  assert.equal(run.config.temperature, 0.3);
  assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 2);
  const info = simclr('info', out);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /checkpoint step 2/);
  assert.match(info.stdout, /resnet18 width 0.125/);
  // The rate the schedule peaked at (LARS default 0.075 x sqrt(16), the auto preset's scaling), and the libtorch the
  // run was trained with.
  assert.match(info.stdout, /lars peak lr 0\.3 \(base default, sqrt scaling\)/);
  assert.match(info.stdout, /^libtorch {3}\d+\.\d+\.\d+/m);
  // The loss with the settings it reads (not --margin), and the augmentations in the order they ran (grayscale on
  // one-channel images, blur and solarize stay in at probability 0, marked off).
  assert.match(info.stdout, /^objective {2}ntxent \(temperature 0\.3\)$/m);
  assert.match(
    info.stdout,
    new RegExp(
      String.raw`^augment {4}randomResizedCrop -> horizontalFlip -> colorJitter -> grayscale \(off\) -> ` +
        String.raw`gaussianBlur \(off\) -> solarize \(off\)$`,
      'm',
    ),
  );
});

test('augment writes a grid of originals beside two views', async () => {
  const png = join(tmp(), 'grid.png');
  const r = simclr('augment', '--data', 'fashion-mnist', '--out', png, '--count', '5');
  assert.equal(r.code, 0, r.stderr);
  // Issue 15, item 13 (test/torch/library.test.ts has the cause): nothing from GLib on stderr.
  assert.doesNotMatch(r.stderr, /GLib|CRITICAL/);
  const meta = await sharp(png).metadata();
  assert.equal(meta.width, 3 * 28);
  assert.equal(meta.height, 5 * 28);
});

test('doctor and info --env report libtorch, CPU capability, BLAS, threads, allocator and CUDA', () => {
  const r = simclr('doctor', '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    torch: {
      libtorch: { version: string; source: string; addon: string | null };
      cpu: { capability: string; cores: number; features: string[] };
      blas: string;
      onednn: string | null;
      threads: { intraOp: number; interOp: number };
      allocator: string;
      cuda: { built: boolean; deviceCount: number };
    };
    augmentKernel: { loaded: boolean };
  };
  const t = report.torch;
  assert.match(t.libtorch.version, /^\d+\.\d+\.\d+/);
  assert.ok(t.libtorch.source.length > 0 && t.libtorch.addon !== null);
  assert.match(t.cpu.capability, /^(DEFAULT|AVX2|AVX512|ZVECTOR|VSX|SVE\d*|NEON)$/);
  assert.ok(t.cpu.cores >= 1);
  assert.ok(t.blas !== 'unknown' && t.blas.length > 0);
  assert.ok(t.threads.intraOp >= 1 && t.threads.interOp >= 1);
  // The CLI re-executes itself under tcmalloc where Debian's libtcmalloc-minimal4 is installed (provision does).
  assert.match(
    t.allocator,
    existsSync('/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4') ? /^tcmalloc/ : /^(glibc|tcmalloc|jemalloc)/,
  );
  if (!t.cuda.built) assert.equal(t.cuda.deviceCount, 0);
  assert.equal(report.augmentKernel.loaded, true);
  const text = simclr('info', '--env');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^libtorch +${t.libtorch.version.replace(/\./g, '\\.')} from `, 'm'));
  assert.match(text.stdout, new RegExp(`^aten kernels +${t.cpu.capability} `, 'm'));
  assert.match(text.stdout, /^cuda +/m);
  const bare = simclr('info');
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /give a run folder, or --env/);
});

test('out-of-range numbers and mistyped config values: one line and exit 2 before any work (issue 15, item 14)', () => {
  const out = join(tmp(), 'run');
  const cases: [string[], RegExp][] = [
    [
      ['pretrain', '--data', 'fashion-mnist', '--out', out, '--threads', '100000'],
      /--threads <n>.*expected an integer in \[1, \d+\]/,
    ],
    [['pretrain', '--data', 'fashion-mnist', '--out', out, '--batch-size', '1'], /--batch-size <n>.*NT-Xent/],
    [
      ['pretrain', '--data', 'fashion-mnist', '--out', out, '--seed', '1e300'],
      /--seed <n>.*expected an integer in \[0, 2\^53-1\]/,
    ],
    [
      ['eval', 'knn', '--run', out, '--data', 'fashion-mnist', '--k', '0'],
      /--k <n>.*expected an integer in \[1, 1000000\]/,
    ],
    [['launch', '--master-port', '70000', '--', 'pretrain'], /--master-port <port>.*TCP port/],
  ];
  const cfg = join(tmp(), 'c.yaml');
  writeFileSync(cfg, ['data: fashion-mnist', 'strict: yes', 'batch-size: "32"'].join('\n'));
  for (const [args, pattern] of cases) {
    const r = simclr(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const r = simclr('pretrain', '--config', cfg, '--out', out);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr.trim(),
    new RegExp(`^simclr: --config ${cfg}: --batch-size must be an integer in .*, got the string "32"$`),
  );
  writeFileSync(cfg, ['data: fashion-mnist', 'strict: yes'].join('\n'));
  const s = simclr('pretrain', '--config', cfg, '--out', out);
  assert.equal(s.code, 2);
  assert.equal(s.stderr.trim(), `simclr: --config ${cfg}: --strict must be true or false, got the string "yes"`);
  assert.ok(!existsSync(out), 'no run folder');
});
