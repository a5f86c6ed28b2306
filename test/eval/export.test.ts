// `simclr export`: the encoder's safetensors under torchvision names (checked by loading it into torchvision with
// the recipe stored in the file, where Python has torch and torchvision), ONNX from a run, --checkpoint, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as torch from '../../src/torch/index.js';
import { BatchNorm2d } from '../../src/nn/index.js';
import { ResNet } from '../../src/models/index.js';
import type { SimCLRModel } from '../../src/models/simclr.js';
import { resolveConfig } from '../../src/run/config.js';
import { buildModel, saveCheckpoint, loadRunModel } from '../../src/run/folder.js';
import {
  describeEncoder,
  saveEncoderSafetensors,
  torchvisionRecipe,
  type EncoderDescription,
} from '../../src/eval/export.js';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from '../../src/eval/onnx.js';
import { runCli } from '../../src/cli/commands.js';
import { scratchDir } from '../data/tmp.js';

const root = scratchDir('export');

// BN affine parameters away from 1/0 and running statistics from real batches (as after training, so h stays
// O(1)): a wrongly named, dropped or mis-folded BN tensor changes h.
function trainLikeBn(model: ResNet, input: { channels: number; height: number }, gen: torch.Generator): void {
  torch.scope(() =>
    torch.noGrad(() => {
      for (const m of model.modules()) {
        if (!(m instanceof BatchNorm2d)) continue;
        m.weight!.copy_(torch.rand([m.numFeatures], { generator: gen }).add(0.5));
        m.bias!.copy_(torch.randn([m.numFeatures], { generator: gen }).mul(0.1));
      }
      model.train();
      for (let i = 0; i < 8; i++)
        model.call(torch.rand([4, input.channels, input.height, input.height], { generator: gen }));
      model.eval();
    }),
  );
}

/** A run folder as pretrain leaves it (config.json and a checkpoint), without training. */
function makeRun(
  dir: string,
  input: { channels: number; height: number; width: number },
  steps: number[],
  opts: Record<string, unknown> = {},
): void {
  const config = resolveConfig({ data: 'fashion-mnist', out: dir, arch: 'resnet18', width: 0.125, ...opts });
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ config, input, created: new Date().toISOString(), libtorch: torch.version() }),
  );
  for (const step of steps) {
    const model: SimCLRModel = buildModel(config, input, new torch.Generator().manualSeed(step));
    trainLikeBn(model.encoder as ResNet, input, new torch.Generator().manualSeed(step + 1));
    const path = join(
      dir,
      'checkpoints',
      step === steps[steps.length - 1] ? 'last.safetensors' : `step-${step}.safetensors`,
    );
    saveCheckpoint(
      path,
      model,
      { tensors: {}, meta: { optimizer: 'sgd', paramGroups: [], scalars: {} } },
      { step, epoch: 0, stepInEpoch: step },
    );
    model.dispose();
  }
}

async function cli(...args: string[]): Promise<number> {
  return runCli(['node', 'simclr', ...args]);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test(
  'export --format safetensors: torchvision names without the encoder prefix, same values, recipe and ' +
    'description in the metadata',
  async () => {
    const run = join(root, 'run-st');
    makeRun(run, { channels: 1, height: 28, width: 28 }, [5]);
    const out = join(root, 'out', 'encoder.safetensors');
    assert.equal(await cli('export', '--run', run, '--format', 'safetensors', '--out', out), 0);

    const { model } = loadRunModel(run);
    const { tensors, metadata } = torch.safetensors.loadFile(out);
    torch.scope(() => {
      const full = model.stateDict();
      const expected = [...full.keys()].filter((k) => k.startsWith('encoder.')).map((k) => k.slice('encoder.'.length));
      assert.deepEqual([...tensors.keys()].sort(), expected.sort());
      assert.ok(
        tensors.has('conv1.weight') &&
          tensors.has('layer4.1.bn2.running_var') &&
          tensors.has('layer2.0.downsample.0.weight'),
      );
      for (const [k, t] of tensors) assert.ok(t.equal(full.get(`encoder.${k}`)!), k);
    });
    const d = JSON.parse(metadata.simclr_encoder!) as EncoderDescription;
    assert.deepEqual(d, {
      arch: 'resnet18',
      width: 0.125,
      stem: 'cifar',
      inChannels: 1,
      stageChannels: [8, 16, 32, 64],
      featureDim: 64,
      input: { height: 28, width: 28 },
      step: 5,
    });
    assert.equal(metadata.torchvision_recipe, torchvisionRecipe(d, 'encoder.safetensors'));
    assert.match(metadata.torchvision_recipe!, /m\.fc = torch\.nn\.Identity\(\)/);
    assert.match(
      metadata.torchvision_recipe!,
      /m\.conv1 = torch\.nn\.Conv2d\(1, 8, kernel_size=3, stride=1, padding=1, bias=False\)/,
    );
    assert.match(metadata.torchvision_recipe!, /m\.maxpool = torch\.nn\.Identity\(\)/);
    for (const t of tensors.values()) t.dispose();
    model.dispose();
  },
);

test(
  'export --format onnx from a run: onnxruntime features equal the checkpoint encoder; --checkpoint picks ' +
    'another checkpoint',
  async () => {
    const run = join(root, 'run-onnx');
    makeRun(run, { channels: 3, height: 32, width: 32 }, [3, 9], { arch: 'resnet50', width: 0.0625, stem: 'imagenet' });
    for (const [checkpoint, step] of [
      [undefined, 9],
      [join(run, 'checkpoints', 'step-3.safetensors'), 3],
    ] as const) {
      const out = join(root, `encoder-${step}.onnx`);
      const args = [
        'export',
        '--run',
        run,
        '--format',
        'onnx',
        '--out',
        out,
        ...(checkpoint ? ['--checkpoint', checkpoint] : []),
      ];
      assert.equal(await cli(...args), 0);
      const { model } = loadRunModel(run, checkpoint);
      const x = torch.rand([2, 3, 32, 32], { generator: new torch.Generator().manualSeed(step) });
      const ours = torch.noGrad(() => model.encoder.call(x));
      const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
      const res = await session.run({
        [ONNX_INPUT_NAME]: new ort.Tensor('float32', x.toArray() as Float32Array, x.shape),
      });
      const diff = maxAbsDiff(res[ONNX_OUTPUT_NAME]!.data as Float32Array, ours.toArray() as Float32Array);
      console.log(
        `export onnx step ${step}: max |diff| ${diff.toExponential(2)}, max |h| ${ours.abs().max().item().toFixed(2)}`,
      );
      assert.ok(diff <= 1e-4, `max abs diff ${diff}`);
      await session.release();
      for (const t of [x, ours]) t.dispose();
      model.dispose();
    }
  },
);

test('export usage errors exit 2 and write nothing', async () => {
  const run = join(root, 'run-st');
  const out = join(root, 'never.onnx');
  assert.equal(await cli('export', '--run', run, '--format', 'tflite', '--out', out), 2);
  assert.equal(await cli('export', '--run', run, '--format', 'onnx'), 2);
  assert.equal(await cli('export', '--run', join(root, 'missing-run'), '--format', 'onnx', '--out', out), 2);
  assert.equal(
    await cli('export', '--run', run, '--checkpoint', join(root, 'none.safetensors'), '--format', 'onnx', '--out', out),
    2,
  );
  assert.equal(existsSync(out), false);
});

// Debian's python3-torch and python3-torchvision; the safetensors Python package is not packaged there, so a small
// reader of the (simple, documented) format stands in for safetensors.torch.load_file.
const PYTHON = '/usr/bin/python3';
const hasTorchvision = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
const LOAD_FILE_SHIM =
  `import json, struct, torch
DTYPES = {'F32': torch.float32, 'I64': torch.int64}
def load_file(path):
    data = open(path, 'rb').read()
    n = struct.unpack('<Q', data[:8])[0]
    out = {}
    for k, v in json.loads(data[8:8 + n]).items():
        if k != '__metadata__':
            s, e = v['data_offsets']
            out[k] = torch.frombuffer(bytearray(data[8 + n + s:8 + n + e]), ` +
  `dtype=DTYPES[v['dtype']]).reshape(v['shape'])
    return out
`;
// Runs each file's own recipe, then h for the stored input.
const RUN_RECIPES = `import json, struct, sys, torch
for name in sys.argv[1:]:
    data = open(name + '.safetensors', 'rb').read()
    recipe = json.loads(data[8:8 + struct.unpack('<Q', data[:8])[0]])['__metadata__']['torchvision_recipe']
    scope = {}
    exec(recipe, scope)
    shape = json.load(open(name + '.json'))
    x = torch.frombuffer(bytearray(open(name + '.x', 'rb').read()), dtype=torch.float32).reshape(shape)
    with torch.no_grad():
        open(name + '.h', 'wb').write(scope['m'](x).contiguous().numpy().tobytes())
`;

test('the safetensors recipe loads the encoder into torchvision and gives the same h', {
  skip: hasTorchvision
    ? false
    : `${PYTHON} with torch and torchvision not found (Debian: apt-get install python3-torchvision)`,
}, () => {
  const dir = join(root, 'torchvision');
  mkdirSync(join(dir, 'safetensors'), { recursive: true });
  writeFileSync(join(dir, 'safetensors', '__init__.py'), '');
  writeFileSync(join(dir, 'safetensors', 'torch.py'), LOAD_FILE_SHIM);
  const cases = [
    { name: 'r18-imagenet-rgb-w1', depth: 18, width: 1, stem: 'imagenet', inChannels: 3, size: 32 },
    { name: 'r18-cifar-grey', depth: 18, width: 0.25, stem: 'cifar', inChannels: 1, size: 28 },
    { name: 'r50-imagenet-grey', depth: 50, width: 0.125, stem: 'imagenet', inChannels: 1, size: 32 },
    { name: 'r34-imagenet-rgb', depth: 34, width: 0.375, stem: 'imagenet', inChannels: 3, size: 32 },
  ] as const;
  const expected = new Map<string, Float32Array>();
  for (const c of cases) {
    const gen = new torch.Generator().manualSeed(c.depth + c.size);
    const model = new ResNet(c.depth, { width: c.width, stem: c.stem, inChannels: c.inChannels, generator: gen });
    trainLikeBn(model, { channels: c.inChannels, height: c.size }, gen);
    saveEncoderSafetensors(
      model,
      join(dir, `${c.name}.safetensors`),
      describeEncoder(model, { height: c.size, width: c.size }, 0),
    );
    const x = torch.rand([2, c.inChannels, c.size, c.size], { generator: gen });
    writeFileSync(join(dir, `${c.name}.x`), x.toArray() as Float32Array);
    writeFileSync(join(dir, `${c.name}.json`), JSON.stringify(x.shape));
    expected.set(c.name, torch.noGrad(() => model.call(x)).toArray() as Float32Array);
    model.dispose();
  }
  const r = spawnSync(PYTHON, ['-c', RUN_RECIPES, ...cases.map((c) => c.name)], {
    cwd: dir,
    env: { ...process.env, PYTHONPATH: dir },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  for (const c of cases) {
    const h = new Float32Array(new Uint8Array(readFileSync(join(dir, `${c.name}.h`))).buffer);
    const diff = maxAbsDiff(h, expected.get(c.name)!);
    console.log(`torchvision ${c.name}: max |diff| ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, `${c.name}: max abs diff ${diff}`);
  }
});
