// The `simclr explore` web server (fastify): the page, onnxruntime-web's files, the encoder as ONNX, thumbnails,
// the dataset's own files (folder: data), and the JSON API of docs/EXPLORE-API.md over an ExploreSession.
// Every request is validated (zod); whatever cannot be answered gets a 4xx with { error } naming the problem, and
// nothing a client sends can crash the server or reach a file outside what it serves.
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import sharp from 'sharp';
import { z } from 'zod';
import { DEFAULT_DUPLICATE_THRESHOLD, OUTLIER_K } from './analysis.js';
import { parseFilesUrl } from './files.js';
import type { ExploreSession } from './session.js';

/** Largest image POST /api/embed accepts by default (bytes). */
export const DEFAULT_MAX_UPLOAD = 8 << 20;
/** Largest JSON body (POST /api/neighbors): an embedding of 16k numbers fits several times over. */
const MAX_JSON_BODY = 1 << 20;
/** Largest decoded image POST /api/embed works on (pixels): 25 megapixels, 100 MB as RGBA. */
const MAX_UPLOAD_PIXELS = 25_000_000;
export const MAX_K = 100;
const DEFAULT_K = 10;
const MAX_LIST = 10_000;
const DEFAULT_LIST = 100;

export interface ServerOptions {
  /** The page's files (index.html and what it loads); default <package root>/dist/web. */
  webRoot?: string;
  /** POST /api/embed's body limit in bytes (default DEFAULT_MAX_UPLOAD). */
  maxUpload?: number;
  /**
   * The host the server is bound to. On a loopback address only requests whose Host header names a loopback host
   * are answered (403 otherwise), so a web page elsewhere cannot reach the server through DNS rebinding.
   */
  host?: string;
}

/** The folder holding package.json above this module (the package root, from dist/src/explore or src/explore). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('simclr: package.json not found above the explore server module');
    dir = up;
  }
  return dir;
}

/** Where the page's build step (src/explore/web) writes the page. */
export function defaultWebRoot(): string {
  return join(packageRoot(), 'dist', 'web');
}

/** onnxruntime-web's dist/ folder, resolved from node_modules; null when the package is not installed. */
function ortDist(): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  } catch {
    return null;
  }
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Whether `host` (a name or an address) is a loopback one: localhost, 127.0.0.0/8 or ::1. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (LOOPBACK_NAMES.has(h)) return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The host name of a Host header ('127.0.0.1:8080' -> '127.0.0.1', '[::1]:80' -> '[::1]'). */
function hostName(header: string): string {
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1);
  const colon = header.lastIndexOf(':');
  return colon < 0 ? header : header.slice(0, colon);
}

/** An error the handlers throw for a bad request; the error handler turns it into { error } with its status. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A query parameter given once as a non-negative decimal integer within [min, max]. */
function intParam(name: string, min: number, max: number) {
  return z
    .string({ error: `${name} must be given once, as an integer` })
    .regex(/^(0|[1-9][0-9]{0,15})$/, { error: `${name} must be a non-negative integer` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `${name} must be at least ${min}` })
        .max(max, { error: `${name} must be at most ${max}` }),
    );
}

const kParam = intParam('k', 1, MAX_K).optional();
const limitParam = intParam('limit', 1, MAX_LIST).optional();
const thresholdParam = z
  .string({ error: 'threshold must be given once, as a number' })
  .regex(/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/, { error: 'threshold must be a decimal number' })
  .transform(Number)
  .pipe(z.number().min(-1, { error: 'threshold must be at least -1' }).max(1, { error: 'threshold must be at most 1' }))
  .optional();

/** Parses `value` with `schema` or throws a 400 naming the first problem. */
function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new HttpError(400, `${where}${issue.message}`);
}

/**
 * An embedding as float32 of unit L2 norm, refusing one of zero norm (it has no direction to compare). Scaled in
 * float64 by its largest value first: in float32 the squares of values beyond about 1e19 overflow and those below
 * about 1e-19 underflow, and the index's own normalisation would then answer for a direction of zeros.
 */
function embeddingOf(values: readonly number[]): Float32Array {
  const v = Float32Array.from(values);
  if (!v.every(Number.isFinite)) throw new HttpError(400, 'embedding: every value must be a finite float32 number');
  const largest = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  if (largest === 0) throw new HttpError(400, 'embedding: all zeros (no direction to compare by cosine)');
  const norm = Math.sqrt(v.reduce((s, x) => s + (x / largest) ** 2, 0));
  return Float32Array.from(v, (x) => x / largest / norm);
}

/** JSON of the map, made once: coordinates rounded to 1e-6 (well below a pixel of any screen). */
function mapJson(s: ExploreSession): string {
  const round = (v: Float32Array): number[] => Array.from(v, (x) => Math.round(x * 1e6) / 1e6);
  return JSON.stringify({
    method: s.map.method,
    x: round(s.map.x),
    y: round(s.map.y),
    labels: s.labels ? Array.from(s.labels) : null,
    paths: s.paths,
  });
}

/** An uploaded image as RGBA at its own size, decoded by sharp (EXIF orientation applied, sRGB, 8 bits). */
async function decodeUpload(body: Buffer): Promise<{ rgba: Uint8Array; width: number; height: number }> {
  try {
    const { data, info } = await sharp(body, { failOn: 'error', limitInputPixels: MAX_UPLOAD_PIXELS })
      .rotate()
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4 || data.length !== info.width * info.height * 4)
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected RGBA`);
    return { rgba: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (e) {
    const why = ((e as Error).message ?? String(e)).split('\n')[0]!;
    throw new HttpError(400, `the body is not an image simclr can decode (${why})`);
  }
}

function sendError(reply: FastifyReply, status: number, error: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error });
}

/**
 * The fastify app for a session (not listening yet: call listen, or startExploreServer). Routes and answers:
 * docs/EXPLORE-API.md.
 */
export async function createExploreServer(session: ExploreSession, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const webRoot = opts.webRoot ?? defaultWebRoot();
  const maxUpload = opts.maxUpload ?? DEFAULT_MAX_UPLOAD;
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_JSON_BODY,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // What fastify refuses before routing (a malformed percent-encoding, an over-long path parameter) is answered
    // in the same { error } shape as everything else, naming the problem.
    frameworkErrors: (err, _req, reply) => sendError(reply, err.statusCode ?? 400, err.message),
  });
  const { count, dim } = session.info;

  if (opts.host !== undefined && isLoopback(opts.host)) {
    app.addHook('onRequest', async (req, reply) => {
      const host = req.headers.host;
      if (host === undefined || !isLoopback(hostName(host)))
        return sendError(reply, 403, `Host ${JSON.stringify(host ?? '')} is not this loopback server's`);
    });
  }

  app.setErrorHandler((err: FastifyError | HttpError, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return sendError(reply, status, err.message);
    // Not the client's fault: said in one line, the process keeps serving.
    process.stderr.write(`explore: internal error: ${err.message}\n`);
    return sendError(reply, 500, 'internal error');
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, `no such route: ${req.method} ${req.url.split('?')[0]}`),
  );

  // Raw image bodies for /api/embed: held in memory, size-limited, never written anywhere.
  app.addContentTypeParser(/^image\//, { parseAs: 'buffer', bodyLimit: maxUpload }, (_req, body, done) =>
    done(null, body),
  );

  // --- the page
  if (existsSync(webRoot) && statSync(webRoot).isDirectory()) {
    await app.register(fastifyStatic, { root: webRoot, prefix: '/static/', index: false, dotfiles: 'deny' });
    app.get('/', async (_req, reply) => {
      if (!existsSync(join(webRoot, 'index.html')))
        return sendError(reply, 404, `the page is not built: ${join(webRoot, 'index.html')} is missing`);
      return reply.sendFile('index.html');
    });
  } else {
    app.get('/', async (_req, reply) =>
      sendError(reply, 404, `the page is not built: ${webRoot} is missing (npm run build makes it)`),
    );
  }

  // --- onnxruntime-web, from an allow-list made at start: its dist/ files ending in .mjs, .js or .wasm
  const ort = ortDist();
  const ortFiles = new Set(ort === null ? [] : readdirSync(ort).filter((f) => /^[\w.-]+\.(mjs|js|wasm)$/.test(f)));
  app.get('/vendor/ort/:file', async (req, reply) => {
    const { file } = req.params as { file: string };
    if (ort === null || !ortFiles.has(file))
      return sendError(reply, 404, `${file} is not one of onnxruntime-web's .mjs, .js or .wasm files`);
    reply.type(file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript; charset=utf-8');
    return reply.send(createReadStream(join(ort, file)));
  });

  app.get('/model.onnx', async (_req, reply) => reply.type('application/octet-stream').send(Buffer.from(session.onnx)));

  // --- the API
  const info = JSON.stringify(session.info);
  app.get('/api/info', async (_req, reply) => reply.type('application/json; charset=utf-8').send(info));
  let map: string | null = null;
  app.get('/api/map', async (_req, reply) => {
    map ??= mapJson(session);
    return reply.type('application/json; charset=utf-8').send(map);
  });

  const sampleIndex = (i: number): number => {
    if (i >= count) throw new HttpError(404, `no sample ${i}: the dataset has ${count} (0 to ${count - 1})`);
    return i;
  };

  app.get('/api/neighbors', async (req) => {
    const q = parse(z.object({ index: intParam('index', 0, Number.MAX_SAFE_INTEGER), k: kParam }), req.query);
    const index = sampleIndex(q.index);
    return { query: index, neighbors: session.neighboursOf(index, q.k ?? DEFAULT_K) };
  });

  const neighborsBody = z
    .object({
      embedding: z.array(z.number({ error: 'embedding values must be finite numbers' }), {
        error: `embedding must be an array of ${dim} numbers`,
      }),
      k: z
        .number({ error: 'k must be an integer' })
        .int({ error: 'k must be an integer' })
        .min(1, { error: 'k must be at least 1' })
        .max(MAX_K, { error: `k must be at most ${MAX_K}` })
        .optional(),
    })
    .strict();
  app.post('/api/neighbors', async (req) => {
    if (typeof req.body === 'string' || Buffer.isBuffer(req.body))
      throw new HttpError(415, 'expected Content-Type application/json and a JSON object { embedding, k? }');
    if (req.body === undefined) throw new HttpError(400, 'no body: expected a JSON object { embedding, k? }');
    const b = parse(neighborsBody, req.body);
    if (b.embedding.length !== dim)
      throw new HttpError(400, `embedding has ${b.embedding.length} values; the encoder's have ${dim}`);
    return { query: null, neighbors: session.neighboursOfEmbedding(embeddingOf(b.embedding), b.k ?? DEFAULT_K) };
  });

  app.post('/api/embed', async (req) => {
    if (!Buffer.isBuffer(req.body))
      throw new HttpError(415, 'expected the raw bytes of an image file with Content-Type image/*');
    if (req.body.length === 0) throw new HttpError(400, 'the body is empty: expected an image file');
    const q = parse(z.object({ k: kParam }), req.query);
    const { rgba, width, height } = await decodeUpload(req.body);
    const embedding = session.embedRgba(rgba, width, height);
    if (!embedding.every(Number.isFinite)) throw new HttpError(422, 'the encoder gave non-finite features');
    return { embedding: Array.from(embedding), neighbors: session.neighboursOfEmbedding(embedding, q.k ?? DEFAULT_K) };
  });

  app.get('/api/duplicates', async (req) => {
    const q = parse(z.object({ threshold: thresholdParam, limit: limitParam }), req.query);
    const threshold = q.threshold ?? DEFAULT_DUPLICATE_THRESHOLD;
    return { threshold, pairs: session.duplicates(threshold, q.limit ?? DEFAULT_LIST) };
  });

  app.get('/api/outliers', async (req) => {
    const q = parse(z.object({ limit: limitParam }), req.query);
    return { k: Math.min(OUTLIER_K, session.graph.k), items: session.outliers(q.limit ?? DEFAULT_LIST) };
  });

  // --- images
  app.get('/thumb/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    const m = /^(0|[1-9][0-9]{0,15})\.png$/.exec(name);
    if (!m) throw new HttpError(400, `expected /thumb/<index>.png, got /thumb/${name}`);
    const png = await session.thumbnails.png(sampleIndex(Number(m[1])));
    return reply.type('image/png').send(png);
  });

  app.get('/files/*', async (req, reply) => {
    const files = session.files;
    if (files === null) throw new HttpError(404, 'this dataset is not a folder of files: /files/ serves nothing');
    // The raw path, still percent-encoded: fastify's decoded wildcard would hide an encoded slash.
    const raw = req.raw.url ?? '';
    const tail = raw.slice(raw.indexOf('/files/') + '/files/'.length).split('?')[0]!;
    const parsed = parseFilesUrl(tail);
    if ('status' in parsed) throw new HttpError(parsed.status, parsed.error);
    const i = files.lookup(parsed.rel);
    if (i === null) throw new HttpError(404, `${parsed.rel} is not one of the dataset's files`);
    const opened = files.open(i);
    if ('status' in opened) throw new HttpError(opened.status, opened.error);
    reply.type(opened.type).header('content-length', opened.size);
    return reply.send(createReadStream('', { fd: opened.fd }));
  });

  return app;
}

/**
 * Creates the server for a session and listens on host:port (port 0: a free one). Resolves to the app and its URL.
 */
export async function startExploreServer(
  session: ExploreSession,
  o: ServerOptions & { host: string; port: number },
): Promise<{ app: FastifyInstance; url: string }> {
  const app = await createExploreServer(session, o);
  await app.listen({ host: o.host, port: o.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : o.port;
  const shown = o.host.includes(':') ? `[${o.host}]` : o.host;
  return { app, url: `http://${shown}:${port}/` };
}
