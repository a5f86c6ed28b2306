// `simclr explore`: a run's encoder over a dataset, served on a web page (src/explore/). Also the sizes at which its
// `auto` choices change method, which its help names and src/explore/ applies (measured: README, Explore).
import { isIP } from 'node:net';
import { bool, commandSchema, num, oneOf, parsed, text } from './fields.js';
import { CHECKPOINT, configFlag, dataSpec, ENCODER_COMPUTE, firstSamples, RUN } from './common.js';

/**
 * Samples from which `--index auto` builds an HNSW graph. Below it exact search through libtorch answers a query in
 * 22 ms (p50) at 100,000 samples here, needs no build, and its whole neighbour graph costs less than building an
 * HNSW graph and searching it once a sample (95 s against 75 s + 81 s at 100,000).
 */
export const EXPLORE_HNSW_FROM = 200_000;

/**
 * Largest set `--map auto` maps with UMAP: umap-js optimises in plain JavaScript at about 10 ms a point here (78 s
 * for 5,000 points on a busy machine); PCA maps 100,000 in 3 s.
 */
export const EXPLORE_UMAP_UP_TO = 5_000;

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const thousands = (n: number): string => n.toLocaleString('en');

export const EXPLORE = commandSchema(
  'explore',
  {
    run: RUN,
    data: dataSpec(
      'dataset spec (as pretrain); a split in the spec wins over --split',
      'dataset to explore (as `pretrain`); a split in it (`stl10:DIR:unlabeled`) wins over `--split`',
    ),
    port: num({ kind: 'int', min: 0, max: 65535, why: 'a TCP port' }, 8080, {
      arg: '<n>',
      help: 'TCP port; 0 picks a free one (default {default})',
    }),
    host: parsed(
      (v) => {
        if (typeof v === 'string' && (isIP(v) !== 0 || HOST_NAME.test(v))) return v;
        throw new Error(`--host must be an IP address or a host name, got ${JSON.stringify(v)}`);
      },
      '127.0.0.1',
      {
        arg: '<addr>',
        help: 'address to listen on; any but loopback exposes the data, with a warning (default {default})',
      },
    ),
    split: oneOf(['train', 'test'] as const, 'train', { arg: '<name>', help: 'split to explore (default {default})' }),
    checkpoint: CHECKPOINT,
    limit: firstSamples('samples'),
    index: oneOf(['auto', 'exact', 'hnsw'] as const, 'auto', {
      arg: '<kind>',
      help: `neighbour index; auto: exact below ${thousands(EXPLORE_HNSW_FROM)} samples, else HNSW (default {default})`,
    }),
    map: oneOf(['auto', 'umap', 'pca'] as const, 'auto', {
      arg: '<method>',
      help: `2-D map; auto: UMAP up to ${thousands(EXPLORE_UMAP_UP_TO)} samples, else PCA (default {default})`,
    }),
    embeddings: text(null, {
      arg: '<file>',
      help: 'use this `simclr embed` output, if it is current (same run, checkpoint and data)',
      readme: { flag: '`--embeddings FILE`' },
    }),
    cache: bool(true, { help: 'neither read nor write the caches in RUN/explore/', negatedOnly: true }),
    maxUpload: num({ kind: 'number', min: 0, minExclusive: true, max: 1024, why: 'MiB held in memory' }, 8, {
      arg: '<MiB>',
      help: 'largest image, in MiB, that the page may send for its neighbours (default {default})',
    }),
    webRoot: text(null, {
      arg: '<dir>',
      help: "the page's files (default: the package's dist/web)",
      readme: { flag: '`--web-root DIR`', default: '`dist/web`' },
    }),
    ...ENCODER_COMPUTE,
  },
  [configFlag()],
);
