// `simclr explore` on the command line: bad flags end in one line and exit 2 before any work; a non-loopback
// --host is served with a warning; SIGTERM stops the server and the command exits 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from '../support/cli.js';
import { prepareExplore } from '../../src/explore/session.js';
import { trainTinyRun, writeExploreIdx } from './fixture.js';
import { request } from './http.js';

const dir = mkdtempSync(join(tmpdir(), 'simclr-explore-cli-'));
const data = join(dir, 'data');
const run = join(dir, 'run');

before(async () => {
  mkdirSync(data);
  writeExploreIdx(data);
  await trainTinyRun(run, `mnist:${data}`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('bad flags exit 2 with one line naming the problem', async (t) => {
  const spec = `mnist:${data}`;
  // A port already taken is found before the preparation, not after it.
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const takenPort = String((taken.address() as AddressInfo).port);
  t.after(() => taken.close());
  const cases: [string[], RegExp][] = [
    [['explore', '--data', spec], /--run/],
    [['explore', '--run', run], /--data/],
    [['explore', '--run', run, '--data', spec, '--port', '70000'], /--port.*\[0, 65535\]/],
    [['explore', '--run', run, '--data', spec, '--port', 'http'], /--port/],
    [['explore', '--run', run, '--data', spec, '--host', 'not a host!'], /--host must be an IP address or a host name/],
    [['explore', '--run', run, '--data', spec, '--index', 'fast'], /--index.*exact/],
    [['explore', '--run', run, '--data', spec, '--map', 'tsne'], /--map.*umap/],
    [['explore', '--run', run, '--data', spec, '--max-upload', '0'], /--max-upload/],
    [['explore', '--run', run, '--data', spec, '--limit', '-3'], /--limit/],
    [['explore', '--run', join(dir, 'nothing'), '--data', spec], /not a simclr run folder/],
    [['explore', '--run', run, '--data', `mnist:${join(dir, 'nothing')}`], /nothing/],
    [['explore', '--run', run, '--data', spec, '--limit', '1'], /at least 2 samples/],
    [['explore', '--run', run, '--data', spec, '--embeddings', join(dir, 'none.safetensors')], /--embeddings/],
    [['explore', '--run', run, '--data', spec, '--port', takenPort], /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
});

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const NODE_ARGS = process.execArgv.filter((a) => !a.startsWith('--test'));

/** Starts `simclr explore ARGS`, waits for its URL, runs `whileServing`, stops it with SIGTERM. */
async function serve(
  args: string[],
  whileServing: (url: string) => Promise<void>,
): Promise<{ code: number | null; stderr: string; url: string }> {
  const child = spawn(process.execPath, [...NODE_ARGS, MAIN, 'explore', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      const m = /simclr explore: (http:\/\/\S+)/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`explore exited (${code}) before serving: ${stderr}`)));
  });
  try {
    await whileServing(url);
  } finally {
    child.kill('SIGTERM');
  }
  return { code: await exited, stderr, url };
}

test('a non-loopback --host serves with a warning; the default serves on 127.0.0.1 without one', async () => {
  const common = ['--run', run, '--data', `mnist:${data}`, '--port', '0', '--threads', '1'];
  const open = await serve([...common, '--host', '0.0.0.0'], async (url) => {
    const port = new URL(url).port;
    const r = await request(`http://127.0.0.1:${port}/`, '/api/info', { headers: { host: 'example.org' } });
    assert.equal(r.status, 200, 'no Host check once the user chose to expose the server');
  });
  assert.equal(open.code, 0, open.stderr);
  assert.match(open.url, /^http:\/\/0\.0\.0\.0:\d+\/$/);
  assert.match(open.stderr, /warning: --host 0\.0\.0\.0 is not a loopback address/);

  const local = await serve(common, async (url) => {
    assert.equal((await request(url, '/api/info')).status, 200);
  });
  assert.equal(local.code, 0, local.stderr);
  assert.match(local.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.doesNotMatch(local.stderr, /warning/);
  assert.match(local.stderr, /embeddings: 120 x \d+ read from/, "the second start reads the first one's cache");
});

test('a current `simclr embed` output is used with --embeddings; a stale one is refused, saying why', async () => {
  const out = join(dir, 'feats.safetensors');
  const e = await cli('embed', '--run', run, '--data', `mnist:${data}`, '--out', out, '--threads', '1');
  assert.equal(e.code, 0, e.stderr);
  const phases: string[] = [];
  const s = await prepareExplore({
    run,
    data: `mnist:${data}`,
    embeddings: out,
    cache: false,
    onPhase: (p, summary) => phases.push(`${p}: ${summary}`),
  });
  s.close();
  assert.match(phases[0]!, /^embeddings: 120 x \d+ read from /);
  assert.ok(phases[0]!.endsWith(out), phases[0]);
  const part = join(dir, 'part.safetensors');
  assert.equal((await cli('embed', '--run', run, '--data', `mnist:${data}`, '--out', part, '--limit', '50')).code, 0);
  const r = await cli('explore', '--run', run, '--data', `mnist:${data}`, '--embeddings', part, '--port', '0');
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /--embeddings .* cannot be used: it was made from another number of samples: count 50, now 120/,
  );
});
