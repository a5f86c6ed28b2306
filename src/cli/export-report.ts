// `simclr export` and `simclr report`. The heavy modules load only when one of these commands runs.
import { Option, type Command } from 'commander';

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
  program
    .command('export')
    .description("export a run's encoder (the features h) as safetensors for torchvision, or as ONNX")
    .requiredOption('--run <dir>', 'run folder')
    .option('--checkpoint <file>', 'checkpoint to export (default: RUN/checkpoints/last.safetensors)')
    .addOption(
      new Option('--format <format>', 'safetensors or onnx').choices(['safetensors', 'onnx']).makeOptionMandatory(),
    )
    .requiredOption('--out <file>', 'output file')
    .addHelpText('after', EXPORT_HELP)
    .action(async (o: { run: string; checkpoint?: string; format: 'safetensors' | 'onnx'; out: string }) => {
      const { exportRunEncoder } = await import('../eval/export.js');
      const r = exportRunEncoder(o);
      const e = r.encoder;
      console.log(
        `wrote ${r.path} (${r.format}, ${(r.bytes / 1e6).toFixed(1)} MB): ${e.arch} width ${e.width}, ${e.stem} ` +
          `stem, ${e.inChannels} channel(s), h of ${e.featureDim}, step ${e.step}`,
      );
    });

  program
    .command('report')
    .description(
      'write an HTML report of a run (curves, evaluation results, augmented samples) and PNG charts beside it',
    )
    .argument('<run>', 'run folder')
    .option('--out <file.html>', 'HTML file (default: RUN/report.html); charts go beside it as <name>-<chart>.png')
    .action(async (dir: string, o: { out?: string }) => {
      const { writeReport } = await import('../eval/report.js');
      const r = await writeReport(dir, o.out === undefined ? {} : { out: o.out });
      for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
      console.log(`wrote ${r.html}`);
      for (const p of r.pngs) console.log(`wrote ${p}`);
    });
}
