// `simclr explore`: embeds a dataset with a run's encoder and serves a page to browse it (src/explore/). Progress
// and notes go to stderr, the URL to stdout; it serves until Ctrl-C (or SIGTERM, or a hangup), then exits 0.
import { isIP } from 'node:net';
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import * as torch from '../torch/index.js';
import { UsageError } from '../errors.js';
import { bounded as b } from './options.js';
import { COMMAND_BOUNDS } from '../run/bounds.js';
import { DEVICE_HELP } from './eval.js';
import { HNSW_FROM, UMAP_UP_TO } from '../explore/defaults.js';

const X = COMMAND_BOUNDS.explore;

interface ExploreFlags {
  run: string;
  data: string;
  port: number;
  host: string;
  split: 'train' | 'test';
  checkpoint?: string;
  limit?: number;
  index: 'auto' | 'exact' | 'hnsw';
  map: 'auto' | 'umap' | 'pca';
  embeddings?: string;
  cache: boolean;
  maxUpload: number;
  webRoot?: string;
  batchSize: number;
  device: string;
  threads?: number;
}

/** A host name (letters, digits, dots, hyphens) or an IP address; anything else is refused before any work. */
function checkHost(host: string): string {
  if (isIP(host) !== 0) return host;
  if (
    /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
      host,
    )
  )
    return host;
  throw new UsageError(`--host must be an IP address or a host name, got '${host}'`);
}

const PHASE_LABELS = {
  embeddings: 'embedding images',
  index: 'building the HNSW index',
  graph: 'nearest-neighbour graph',
  map: 'map',
} as const;

/** A progress bar with an ETA on a terminal, one per phase; nothing otherwise. */
function progressBars(): {
  update: (phase: keyof typeof PHASE_LABELS, done: number, total: number) => void;
  stop: () => void;
} {
  let bar: cliProgress.SingleBar | null = null;
  let current: string | null = null;
  const stop = (): void => {
    bar?.stop();
    bar = null;
    current = null;
  };
  if (!process.stderr.isTTY) return { update: () => {}, stop };
  return {
    update: (phase, done, total) => {
      if (current !== phase) {
        stop();
        bar = new cliProgress.SingleBar(
          {
            format: `${PHASE_LABELS[phase].padEnd(24)} |{bar}| {value}/{total} | ETA {eta_formatted}`,
            stream: process.stderr,
            hideCursor: true,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0);
        current = phase;
      }
      bar!.update(done);
      if (done === total) stop();
    },
    stop,
  };
}

/**
 * Resolves on the first SIGINT, SIGTERM or SIGHUP. The handlers stay: a terminal's Ctrl-C reaches this process both
 * directly and through the tcmalloc wrapper (src/cli/main.ts), and the second copy must not kill the shutdown.
 */
function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, resolve);
  });
}

export function registerExploreCommand(program: Command): void {
  program
    .command('explore')
    .description("browse a dataset through a run's encoder: 2-D map, nearest neighbours, duplicates, outliers")
    .requiredOption('--run <dir>', 'pretraining run folder (uses its last checkpoint)')
    .requiredOption('--data <spec>', 'dataset spec (as pretrain); a split in the spec wins over --split')
    .option('--port <n>', 'TCP port (0: a free one)', b(X.port), 8080)
    .option(
      '--host <addr>',
      'address to listen on; anything but loopback exposes the data (a warning says so)',
      '127.0.0.1',
    )
    .addOption(new Option('--split <name>', 'split to explore').choices(['train', 'test']).default('train'))
    .option('--checkpoint <file>', 'use this checkpoint instead of RUN/checkpoints/last.safetensors')
    .option('--limit <n>', 'only the first n samples', b(X.limit))
    .addOption(
      new Option(
        '--index <kind>',
        `nearest-neighbour index (auto: exact below ${HNSW_FROM.toLocaleString('en')} samples, else HNSW)`,
      )
        .choices(['auto', 'exact', 'hnsw'])
        .default('auto'),
    )
    .addOption(
      new Option('--map <method>', `2-D map (auto: UMAP up to ${UMAP_UP_TO.toLocaleString('en')} samples, else PCA)`)
        .choices(['auto', 'umap', 'pca'])
        .default('auto'),
    )
    .option('--embeddings <file>', 'use this `simclr embed` output (it must be current: same run, checkpoint, data)')
    .option('--no-cache', 'neither read nor write the caches in RUN/explore/')
    .option('--max-upload <MiB>', 'largest image POST /api/embed accepts', b(X.maxUpload), 8)
    .option('--web-root <dir>', "the page's files (default: the package's dist/web)")
    .option('--batch-size <n>', 'images per forward pass', b(X.batchSize), 256)
    .option('--device <dev>', DEVICE_HELP, 'auto')
    .option('--threads <n>', 'intra-op threads (default: all cores)', b(X.threads))
    .action(async (o: ExploreFlags) => {
      const host = checkHost(o.host);
      if (o.threads !== undefined) torch.setNumThreads(o.threads);
      const device = torch.resolveDevice(o.device);
      const { isLoopback, startExploreServer } = await import('../explore/server.js');
      const { prepareExplore } = await import('../explore/session.js');
      if (!isLoopback(host))
        process.stderr.write(
          `warning: --host ${host} is not a loopback address: anyone who can reach it can browse the dataset's ` +
            'images and run the encoder (there is no authentication)\n',
        );
      const bars = progressBars();
      const session = await prepareExplore({
        run: o.run,
        data: o.data,
        split: o.split,
        ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}),
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
        ...(o.embeddings !== undefined ? { embeddings: o.embeddings } : {}),
        device,
        batchSize: o.batchSize,
        index: o.index,
        map: o.map,
        cache: o.cache,
        onProgress: bars.update,
        onPhase: (phase, summary, ms) => {
          bars.stop();
          process.stderr.write(`${phase}: ${summary} (${(ms / 1000).toFixed(1)} s)\n`);
        },
        onWarning: (msg) => {
          bars.stop();
          process.stderr.write(`warning: ${msg}\n`);
        },
      });
      let server: Awaited<ReturnType<typeof startExploreServer>>;
      try {
        server = await startExploreServer(session, {
          host,
          port: o.port,
          maxUpload: Math.floor(o.maxUpload * 1024 * 1024),
          ...(o.webRoot !== undefined ? { webRoot: o.webRoot } : {}),
        });
      } catch (e) {
        session.close();
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
          throw new UsageError(`cannot listen on ${host}:${o.port}: ${code}`);
        throw e;
      }
      const i = session.info;
      process.stderr.write(
        `${i.count} samples of ${i.dataset}, ${i.dim}-d features at step ${i.checkpointStep}; ` +
          'Ctrl-C stops the server\n',
      );
      console.log(`simclr explore: ${server.url}`);
      await untilStopped();
      await server.app.close();
      session.close();
    });
}
