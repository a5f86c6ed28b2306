// Exporting a run's encoder for use outside simclr: safetensors under torchvision's parameter names (with a
// recipe for loading it into torchvision's ResNet in the file's metadata), or an ONNX model (see onnx.ts).
import { mkdirSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../io/files.js';
import { basename, dirname, resolve } from 'node:path';
import * as torch from '../torch/index.js';
import { ResNet } from '../models/resnet.js';
import type { Encoder } from '../models/simclr.js';
import { ConfigError } from '../run/config.js';
import { loadRunModel, runPaths } from '../run/folder.js';
import { EXPORT_FORMATS, type ExportFormat } from '../run/options/export.js';
import { encoderToOnnx } from './onnx.js';

// The format list is the export command's (src/run/options/export.ts), so the CLI offers it without loading this.
export { EXPORT_FORMATS, type ExportFormat };

/** What the exported encoder is; stored as JSON under the 'simclr_encoder' metadata key of both formats. */
export interface EncoderDescription {
  arch: `resnet${ResNet['depth']}`;
  width: number;
  stem: ResNet['stem'];
  inChannels: number;
  /** Block widths of the four stages (64, 128, 256, 512 at width 1). */
  stageChannels: [number, number, number, number];
  featureDim: number;
  /** The training images' size: the encoder's input is float32 NCHW [N, inChannels, height, width] in [0, 1]. */
  input: { height: number; width: number };
  /** Optimizer steps of the checkpoint the weights come from. */
  step: number;
}

/**
 * What an exported encoder is, for its metadata and the torchvision recipe.
 * @throws TypeError for an encoder the exporters cannot describe (anything but a ResNet, whose layout both formats
 *   and the recipe spell out)
 */
export function describeEncoder(
  encoder: Encoder,
  input: { height: number; width: number },
  step: number,
): EncoderDescription {
  if (!(encoder instanceof ResNet)) throw new TypeError(unsupported(encoder));
  return {
    arch: `resnet${encoder.depth}`,
    width: encoder.width,
    stem: encoder.stem,
    inChannels: encoder.inChannels,
    stageChannels: [...encoder.stageChannels],
    featureDim: encoder.featureDim,
    input: { ...input },
    step,
  };
}

function unsupported(encoder: Encoder): string {
  return (
    `the exporters (safetensors with a torchvision recipe, ONNX) handle ResNet encoders only (resnet18, ` +
    `resnet34, resnet50), not ${encoder.constructor.name}`
  );
}

const TORCHVISION_LAYERS: Record<EncoderDescription['arch'], string> = {
  resnet18: '[2, 2, 2, 2]',
  resnet34: '[3, 4, 6, 3]',
  resnet50: '[3, 4, 6, 3]',
};

/**
 * Python that loads the exported file into torchvision's ResNet: fc becomes Identity (the output is h); the
 * CIFAR stem swaps conv1 for a 3x3 stride-1 convolution and maxpool for Identity; another input channel count
 * swaps conv1 too; a width other than 1 rebuilds the stages at the stored widths (torchvision fixes 64..512).
 */
export function torchvisionRecipe(d: EncoderDescription, fileName: string): string {
  const [c0] = d.stageChannels;
  const lines = ['import torch, torchvision', 'from safetensors.torch import load_file'];
  if (d.width === 1) {
    lines.push(`m = torchvision.models.${d.arch}()`);
  } else {
    const block = d.arch === 'resnet50' ? 'Bottleneck' : 'BasicBlock';
    const widths = [64, 128, 256, 512].map((c, i) => `${c}: ${d.stageChannels[i]}`).join(', ');
    lines.push(
      `from torchvision.models.resnet import ResNet, ${block}`,
      `widths = {${widths}}  # width multiplier ${d.width}`,
      'class SimCLRResNet(ResNet):',
      '    def _make_layer(self, block, planes, *args, **kwargs):',
      '        if planes == 64:',
      '            self.inplanes = widths[64]',
      '        return super()._make_layer(block, widths[planes], *args, **kwargs)',
      `m = SimCLRResNet(${block}, ${TORCHVISION_LAYERS[d.arch]})`,
      `m.bn1 = torch.nn.BatchNorm2d(${c0})`,
    );
  }
  lines.push('m.fc = torch.nn.Identity()');
  if (d.stem === 'cifar') {
    lines.push(
      `m.conv1 = torch.nn.Conv2d(${d.inChannels}, ${c0}, kernel_size=3, stride=1, padding=1, bias=False)  # CIFAR stem`,
      'm.maxpool = torch.nn.Identity()',
    );
  } else if (d.inChannels !== 3 || d.width !== 1) {
    lines.push(`m.conv1 = torch.nn.Conv2d(${d.inChannels}, ${c0}, kernel_size=7, stride=2, padding=3, bias=False)`);
  }
  lines.push(
    `m.load_state_dict(load_file(${JSON.stringify(fileName)}))`,
    `m.eval()  # m(x) is h [N, ${d.featureDim}] for float32 x [N, ${d.inChannels}, H, W] in [0, 1] (no mean/std ` +
      `normalisation)`,
  );
  return lines.join('\n');
}

/** Saves the encoder's state dict (torchvision names, BN running statistics included) with the recipe as metadata. */
export function saveEncoderSafetensors(encoder: Encoder, path: string, d: EncoderDescription): void {
  torch.scope(() => {
    torch.safetensors.saveFile(path, encoder.stateDict(), {
      format: 'pt',
      simclr_encoder: JSON.stringify(d),
      torchvision_recipe: torchvisionRecipe(d, basename(path)),
    });
  });
}

export function saveEncoderOnnx(encoder: Encoder, path: string, d: EncoderDescription): void {
  writeFileAtomic(
    path,
    encoderToOnnx(encoder, { inputSize: d.input, metadata: { simclr_encoder: JSON.stringify(d) } }),
  );
}

export interface ExportOptions {
  run: string;
  /** A checkpoint other than the run's last one. */
  checkpoint?: string;
  format: ExportFormat;
  out: string;
}

export interface ExportResult {
  path: string;
  format: ExportFormat;
  encoder: EncoderDescription;
  bytes: number;
}

/** Exports the encoder of a run's checkpoint; problems the user can fix are ConfigErrors (exit code 2). */
export function exportRunEncoder(o: ExportOptions): ExportResult {
  if (!EXPORT_FORMATS.includes(o.format))
    throw new ConfigError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got '${o.format}'`);
  const out = resolve(o.out);
  try {
    mkdirSync(dirname(out), { recursive: true });
  } catch (e) {
    throw new ConfigError(
      `--out ${o.out}: cannot create its folder: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const { model, run, meta } = loadRunModel(o.run, o.checkpoint ?? runPaths(o.run).checkpoint);
  try {
    const encoder = model.encoder;
    if (!(encoder instanceof ResNet))
      throw new ConfigError(`${o.run} (--arch ${run.config.arch}): ${unsupported(encoder)}`);
    const d = describeEncoder(encoder, { height: run.input.height, width: run.input.width }, meta.step);
    try {
      if (o.format === 'safetensors') saveEncoderSafetensors(encoder, out, d);
      else saveEncoderOnnx(encoder, out, d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === undefined) throw e;
      throw new ConfigError(`--out ${o.out} is not writable: ${code}`);
    }
    return { path: out, format: o.format, encoder: d, bytes: statSync(out).size };
  } finally {
    model.dispose();
  }
}
