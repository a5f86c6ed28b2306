// The JSON-lines logs (metrics.jsonl, config-history.jsonl): torn tails tolerated by the reader and the appender
// alike, damage reported with its line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendJsonLine, readJsonLines, type JsonLinesSpec } from '../../src/io/jsonl.js';

const spec: JsonLinesSpec = {
  what: 'a test log',
  maxBytes: 1 << 20,
  problem: (v) => (typeof (v as { n?: unknown }).n === 'number' ? null : "field 'n' is not a number"),
};
const read = (path: string) => readJsonLines<{ n: number }>(path, spec, (m) => new Error(m));
const file = (text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'simclr-jsonl-')), 'log.jsonl');
  writeFileSync(path, text);
  return path;
};

test('reader: a torn tail is left out, a whole entry missing only its newline is kept', () => {
  assert.deepEqual(read(file('{"n":1}\n{"n":2}\n')), {
    values: [{ n: 1 }, { n: 2 }],
    lines: ['{"n":1}', '{"n":2}'],
    torn: false,
  });
  assert.deepEqual(read(file('{"n":1}\n{"n":')), { values: [{ n: 1 }], lines: ['{"n":1}'], torn: true });
  assert.deepEqual(read(file('{"n":1}\n{"n":2}')).values, [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(read(join(tmpdir(), 'simclr-no-such-log.jsonl')).values, []);
});

test('reader: a damaged line with its newline is an error naming the file and line, last line included', () => {
  const middle = file('{"n":1}\n{"n":\n{"n":3}\n');
  assert.throws(
    () => read(middle),
    new RegExp(`^Error: ${middle.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: line 2 is not valid JSON`),
  );
  assert.throws(
    () => read(file('{"n":1}\n{"m":2}\n')),
    /: line 2 is not a valid test log entry: field 'n' is not a number$/,
  );
  assert.throws(() => read(file('{"n":1}\n[1]\n')), /: line 2 is not a JSON object$/);
});

test(
  'appender: cuts a torn tail off and keeps a whole entry ' + 'that lost its newline, so it agrees with the reader',
  () => {
    const torn = file('{"n":1}\n{"n":');
    appendJsonLine(torn, { n: 2 }, spec);
    assert.equal(readFileSync(torn, 'utf8'), '{"n":1}\n{"n":2}\n');
    const whole = file('{"n":1}\n{"n":2}');
    appendJsonLine(whole, { n: 3 }, spec);
    assert.equal(readFileSync(whole, 'utf8'), '{"n":1}\n{"n":2}\n{"n":3}\n');
    const onlyTorn = file('{"n');
    appendJsonLine(onlyTorn, { n: 1 }, spec);
    assert.equal(readFileSync(onlyTorn, 'utf8'), '{"n":1}\n');
    const fresh = join(mkdtempSync(join(tmpdir(), 'simclr-jsonl-')), 'new.jsonl');
    appendJsonLine(fresh, { n: 1 }, spec);
    assert.deepEqual(read(fresh).values, [{ n: 1 }]);
  },
);
