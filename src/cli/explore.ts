// `simclr explore`: embeds a dataset with a run's encoder and serves a page to browse it (src/explore/). Progress
// and notes go to stderr, the URL to stdout; it serves until Ctrl-C (or SIGTERM, or a hangup), then exits 0.
import { createServer } from 'node:net';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import * as torch from '../torch/index.js';
import { UsageError } from '../errors.js';
import { schemaCommand } from './options.js';
import { EXPLORE } from '../run/options/explore.js';

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

/** The UsageError for an address the server cannot listen on; other errors as they are. */
function listenError(e: unknown, host: string, port: number): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new UsageError(`cannot listen on ${host}:${port}: ${code}`);
  return e;
}

/**
 * Listens on host:port and closes again, so that a taken port or an address this machine does not have ends the
 * command at once rather than after the preparation (minutes at 100,000 images). Throws UsageError (exit 2).
 */
async function checkListen(host: string, port: number): Promise<void> {
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port }, resolve);
    });
  } catch (e) {
    throw listenError(e, host, port);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

export function registerExploreCommand(program: Command): void {
  const description = "browse a dataset through a run's encoder: 2-D map, nearest neighbours, duplicates, outliers";
  schemaCommand(program, EXPLORE, description, async (o) => {
    if (o.threads !== null) torch.setNumThreads(o.threads);
    const device = torch.resolveDevice(o.device);
    const { isLoopback, startExploreServer } = await import('../explore/server.js');
    const { prepareExplore } = await import('../explore/session.js');
    if (!isLoopback(o.host))
      process.stderr.write(
        `warning: --host ${o.host} is not a loopback address: anyone who can reach it can browse the dataset's ` +
          'images and run the encoder (there is no authentication)\n',
      );
    await checkListen(o.host, o.port);
    const bars = progressBars();
    const session = await prepareExplore({
      run: o.run,
      data: o.data,
      split: o.split,
      ...(o.checkpoint !== null ? { checkpoint: o.checkpoint } : {}),
      ...(o.limit !== null ? { limit: o.limit } : {}),
      ...(o.embeddings !== null ? { embeddings: o.embeddings } : {}),
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
        host: o.host,
        port: o.port,
        maxUpload: Math.floor(o.maxUpload * 1024 * 1024),
        ...(o.webRoot !== null ? { webRoot: o.webRoot } : {}),
      });
    } catch (e) {
      session.close();
      throw listenError(e, o.host, o.port);
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
