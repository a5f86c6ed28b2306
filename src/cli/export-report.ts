// `simclr export` and `simclr report`. The heavy modules load only when one of these commands runs.
import type { Command } from 'commander';
import { schemaCommand } from './options.js';
import { EXPORT } from '../run/options/export.js';
import { REPORT } from '../run/options/report.js';

const EXPORT_HELP = `
Formats:
  safetensors  the encoder with torchvision ResNet parameter names. Load it with
                 m = torchvision.models.resnet18(); m.fc = torch.nn.Identity()
                 # CIFAR stem (runs on images <= 32 px):
                 m.conv1 = torch.nn.Conv2d(C, 64, 3, 1, 1, bias=False); m.maxpool = torch.nn.Identity()
                 m.load_state_dict(safetensors.torch.load_file(FILE)); m.eval()
               The file's metadata holds the exact recipe for its model ('torchvision_recipe', covering other
               channel counts and widths) and a description ('simclr_encoder').
  onnx         opset 13, BatchNorm folded into the convolutions; input "input" float32 [batch, C, H, W]
               (H, W: the run's image size), output "h" float32 [batch, features]; the batch is dynamic.
Inputs are float32 NCHW in [0, 1] without mean/std normalisation, as in training.`;

export function registerExportReportCommands(program: Command): void {
  schemaCommand(
    program,
    EXPORT,
    "export a run's encoder (the features h) as safetensors for torchvision, or as ONNX",
    async (o) => {
      const { exportRunEncoder } = await import('../eval/export.js');
      const { checkpoint, ...rest } = o;
      const r = exportRunEncoder({ ...rest, ...(checkpoint !== null ? { checkpoint } : {}) });
      const e = r.encoder;
      console.log(
        `wrote ${r.path} (${r.format}, ${(r.bytes / 1e6).toFixed(1)} MB): ${e.arch} width ${e.width}, ${e.stem} ` +
          `stem, ${e.inChannels} channel(s), h of ${e.featureDim}, step ${e.step}`,
      );
    },
  ).addHelpText('after', EXPORT_HELP);

  schemaCommand(
    program,
    REPORT,
    'write an HTML report of a run (curves, evaluation results, augmented samples) and PNG charts beside it',
    async (o, cmd) => {
      const { writeReport } = await import('../eval/report.js');
      const r = await writeReport(cmd.processedArgs[0] as string, o.out === null ? {} : { out: o.out });
      for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
      console.log(`wrote ${r.html}`);
      for (const p of r.pngs) console.log(`wrote ${p}`);
    },
  ).argument('<run>', 'run folder');
}
