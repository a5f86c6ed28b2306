// Safetensors reader/writer: against golden files written by test/golden/gen_safetensors.py from PyTorch, round
// trips, validation of damaged files, and atomic saving.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../src/torch/index.js';
import { safetensors as st } from '../../src/torch/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'simclr-safetensors-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirCount = 0;
function freshDir(): string {
  const dir = join(scratch, `d${dirCount++}`);
  mkdirSync(dir);
  return dir;
}

interface ExpectedTensor {
  st_dtype: st.SafetensorsDType;
  dtype: torch.DType;
  shape: number[];
  values: (number | string | boolean)[];
}
interface Expected {
  file: string;
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<string, ExpectedTensor>;
}

// test/golden, reached from test/torch (tsx) and from dist/test/torch (compiled tests).
function goldenDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'test', 'golden');
    if (existsSync(join(candidate, 'safetensors_all_dtypes.json'))) return candidate;
  }
  throw new Error(
    'test/golden/safetensors_all_dtypes.json not found; run /usr/bin/python3 test/golden/gen_safetensors.py',
  );
}
const GOLDEN = goldenDir();
const expected = JSON.parse(readFileSync(join(GOLDEN, 'safetensors_all_dtypes.json'), 'utf8')) as Expected;
const goldenPath = join(GOLDEN, expected.file);
const goldenBytes = new Uint8Array(readFileSync(goldenPath));

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function num(v: number | string | boolean): number {
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  return Number(v);
}

/** The tensor the golden file describes, built in TypeScript the way the generator built it in Python. */
function build(e: ExpectedTensor): torch.Tensor {
  const opts = { shape: e.shape };
  switch (e.dtype) {
    case 'float64':
      return torch.tensor(Float64Array.from(e.values, num), opts);
    case 'float32':
    case 'float16':
    case 'bfloat16':
      return torch.tensor(Float32Array.from(e.values, num), { ...opts, dtype: e.dtype });
    case 'int64':
      return torch.tensor(
        BigInt64Array.from(e.values, (v) => BigInt(v as string)),
        opts,
      );
    case 'int32':
      return torch.tensor(Int32Array.from(e.values, num), opts);
    case 'int16':
      return torch.tensor(Int16Array.from(e.values, num), opts);
    case 'int8':
      return torch.tensor(Int8Array.from(e.values, num), opts);
    case 'uint8':
      return torch.tensor(Uint8Array.from(e.values, num), opts);
    case 'bool':
      return torch.tensor(
        Uint8Array.from(e.values, (v) => (v ? 1 : 0)),
        { ...opts, dtype: 'bool' },
      );
  }
}

function assertMatches(name: string, t: torch.Tensor, e: ExpectedTensor): void {
  assert.equal(t.dtype, e.dtype, `${name} dtype`);
  assert.deepEqual(t.shape, e.shape, `${name} shape`);
  const got = t.toArray();
  assert.equal(got.length, e.values.length, `${name} length`);
  e.values.forEach((v, i) => {
    const g = got[i]!;
    if (e.dtype === 'int64') assert.equal(g, BigInt(v as string), `${name}[${i}]`);
    else if (e.dtype === 'bool') assert.equal(g, v ? 1 : 0, `${name}[${i}]`);
    else assert.ok(Object.is(g, num(v)), `${name}[${i}]: got ${String(g)}, expected ${String(v)}`);
  });
}

// Independent decoders for the 16-bit float formats, to check the raw bytes the file holds.
function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
function bf16BitsToNumber(b: number): number {
  return new Float32Array(new Uint32Array([b << 16]).buffer)[0]!;
}

function header(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
}

/** A file with an arbitrary header text and data, for damaged-file tests. */
function fileWith(json: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function f32(values: number[], shape = [values.length]): st.RawTensor {
  return { dtype: 'F32', shape, data: new Uint8Array(new Float32Array(values).buffer) };
}

describe('golden file written by PyTorch to the published format', () => {
  test('loadFile reads every dtype, shape, value and the metadata, in file order', () => {
    const { tensors, metadata } = st.loadFile(goldenPath);
    assert.deepEqual([...tensors.keys()], expected.order);
    assert.deepEqual(metadata, expected.metadata);
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = tensors.get(name)!;
      assert.equal(t.device, 'cpu');
      assertMatches(name, t, e);
    }
  });

  test('decodeSafetensors gives the raw dtypes, shapes and IEEE bits of float16/bfloat16 values', () => {
    const { tensors, metadata } = st.decodeSafetensors(goldenBytes, expected.file);
    assert.deepEqual(metadata, expected.metadata);
    for (const [name, e] of Object.entries(expected.tensors)) {
      const raw = tensors.get(name)!;
      assert.equal(raw.dtype, e.st_dtype, `${name} dtype`);
      assert.deepEqual(raw.shape, e.shape, `${name} shape`);
      if (raw.dtype !== 'F16' && raw.dtype !== 'BF16') continue;
      const words = new Uint16Array(raw.data.slice().buffer);
      const decode = raw.dtype === 'F16' ? halfBitsToNumber : bf16BitsToNumber;
      assert.deepEqual(Array.from(words, decode), e.values.map(num), name);
    }
  });

  test('the same tensors saved from TypeScript give the golden file byte for byte', () => {
    // Reverse insertion order: the writer must sort as the reference does, not keep the caller's order.
    const tensors = new Map(
      Object.entries(expected.tensors)
        .reverse()
        .map(([name, e]) => [name, build(e)] as const),
    );
    assert.deepEqual(st.serialize(tensors, expected.metadata), goldenBytes);
    const path = join(freshDir(), 'model.safetensors');
    st.saveFile(path, tensors, expected.metadata);
    assert.deepEqual(new Uint8Array(readFileSync(path)), goldenBytes);
  });

  test('encodeSafetensors of the decoded entries gives the golden file back', () => {
    const { tensors, metadata } = st.decodeSafetensors(goldenBytes);
    assert.deepEqual(st.encodeSafetensors(tensors, metadata), goldenBytes);
  });
});

describe('round trips', () => {
  function sample(): Map<string, torch.Tensor> {
    const g = new torch.Generator().manualSeed(7);
    const x = torch.randn([3, 4], { generator: g });
    return new Map<string, torch.Tensor>([
      ['f32', x],
      ['f64', torch.randn([5], { dtype: 'float64', generator: g })],
      ['f16', torch.randn([2, 3], { generator: g }).to('float16')],
      ['bf16', torch.randn([4], { generator: g }).to('bfloat16')],
      ['i64', torch.tensor(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]))],
      ['i32', torch.randint(-1000, 1000, [2, 2], { dtype: 'int32', generator: g })],
      ['i16', torch.tensor(new Int16Array([-32768, 1, 32767]))],
      ['i8', torch.tensor(new Int8Array([-128, 0, 127]))],
      ['u8', torch.tensor(new Uint8Array([0, 200, 255]))],
      ['bool', torch.tensor([[true, false, true]])],
      ['scalar', torch.scalarTensor(-1.25)],
      ['empty', torch.zeros([2, 0, 5], { dtype: 'int64' })],
      ['transposed', x.t()],
      ['trainable', torch.ones([2], { requiresGrad: true })],
    ]);
  }

  function assertSame(loaded: Map<string, torch.Tensor>, original: Map<string, torch.Tensor>): void {
    assert.deepEqual([...loaded.keys()].sort(), [...original.keys()].sort());
    for (const [name, t] of original) {
      const u = loaded.get(name)!;
      assert.equal(u.dtype, t.dtype, name);
      assert.deepEqual(u.shape, t.shape, name);
      assert.ok(u.isContiguous(), name);
      assert.equal(u.requiresGrad, false, name);
      assert.ok(u.equal(t.detach()), `${name} values`);
    }
  }

  test('serialize/deserialize keeps every dtype, 0-d and empty tensors, and non-contiguous values', () => {
    const tensors = sample();
    const { tensors: loaded, metadata } = st.deserialize(st.serialize(tensors, { run: 'x' }));
    assertSame(loaded, tensors);
    assert.deepEqual(metadata, { run: 'x' });
  });

  test('saveFile/loadFile keep the same, with a plain-object argument', () => {
    const tensors = sample();
    const path = join(freshDir(), 'ckpt.safetensors');
    st.saveFile(path, Object.fromEntries(tensors));
    const { tensors: loaded, metadata } = st.loadFile(path);
    assertSame(loaded, tensors);
    assert.deepEqual(metadata, {});
  });

  test('float16 and bfloat16 keep all 65536 bit patterns, NaN payloads and subnormals included', () => {
    const words = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const data = new Uint8Array(words.buffer);
    const bytes = st.encodeSafetensors({
      h: { dtype: 'F16', shape: [256, 256], data },
      b: { dtype: 'BF16', shape: [65536], data },
    });
    const { tensors } = st.deserialize(bytes);
    assert.equal(tensors.get('h')!.dtype, 'float16');
    assert.equal(tensors.get('b')!.dtype, 'bfloat16');
    for (const name of ['h', 'b']) {
      const asInt16 = torch.raw.view$dtype(tensors.get(name)!, 2).toArray();
      assert.deepEqual(new Uint16Array((asInt16 as Int16Array).buffer), words, name);
    }
    assert.deepEqual(st.serialize(tensors), bytes);
  });

  test('tensors are laid out by descending dtype alignment, then by the UTF-8 bytes of their names', () => {
    const one = (dtype: st.SafetensorsDType, size: number): st.RawTensor => ({
      dtype,
      shape: [1],
      data: new Uint8Array(size),
    });
    const bytes = st.encodeSafetensors({
      b: one('U8', 1),
      a: one('U8', 1),
      '9': one('U8', 1),
      '10': one('U8', 1),
      flag: one('BOOL', 1),
      '\u{1F600}': one('F32', 4),
      '\uFFFD': one('F32', 4),
      h: one('F16', 2),
      bh: one('BF16', 2),
      z: one('I64', 8),
      d: one('F64', 8),
      i: one('I32', 4),
      s: one('I16', 2),
      c: one('I8', 1),
    });
    // U+FFFD precedes U+1F600 in UTF-8 (EF.. < F0..) though not in UTF-16 (FFFD > D83D).
    const order = ['z', 'd', '\uFFFD', '\u{1F600}', 'i', 'bh', 'h', 's', 'c', '10', '9', 'a', 'b', 'flag'];
    assert.deepEqual([...st.decodeSafetensors(bytes).tensors.keys()], order);
    const text = header(bytes);
    assert.deepEqual(
      Object.keys(JSON.parse(text)).filter((k) => !/^\d+$/.test(k)),
      order.filter((k) => !/^\d+$/.test(k)),
    );
    assert.ok(text.indexOf('"10"') < text.indexOf('"9"'), 'integer-like names keep the sorted order in the JSON');
  });

  test('the header is compact JSON padded with spaces to 8 bytes; empty metadata is omitted', () => {
    const bytes = st.encodeSafetensors({ x: f32([1, 2]) }, {});
    const text = header(bytes);
    assert.equal(text.length % 8, 0);
    assert.equal(text, `${'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'.padEnd(text.length, ' ')}`);
    assert.deepEqual(
      st.encodeSafetensors({}),
      Uint8Array.from([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]),
    );
  });
});

describe('validation', () => {
  test('encoding rejects inconsistent entries, naming the tensor', () => {
    assert.throws(
      () => st.encodeSafetensors({ w: f32([1, 2], [3]) }),
      /tensor 'w': F32 \[3\] needs 12 bytes of data, got 8/,
    );
    assert.throws(
      () => st.encodeSafetensors({ w: { ...f32([1]), dtype: 'F8' as st.SafetensorsDType } }),
      /tensor 'w': unknown dtype "F8"/,
    );
    assert.throws(
      () => st.encodeSafetensors({ w: f32([1], [1.5]) }),
      /tensor 'w': shape must be an array of non-negative integers/,
    );
    assert.throws(() => st.encodeSafetensors({ __metadata__: f32([1]) }), /'__metadata__' is reserved/);
    assert.throws(() => st.encodeSafetensors({ 'a\uD800': f32([1]) }), /is not valid Unicode/);
    assert.throws(
      () => st.encodeSafetensors({}, { epoch: 3 as unknown as string }),
      /metadata 'epoch' must be a string, got number/,
    );
    assert.throws(
      () =>
        st.serialize({
          gone: (() => {
            const t = torch.zeros([1]);
            t.dispose();
            return t;
          })(),
        }),
      /tensor 'gone' has been disposed/,
    );
  });

  const damaged: [string, Uint8Array, RegExp][] = [
    ['a file shorter than the length prefix', new Uint8Array(4), /4 bytes is too short/],
    [
      'an absurd header length',
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true);
        return b;
      })(),
      /header length 1099511627776 exceeds/,
    ],
    [
      'a header length past the end',
      (() => {
        const b = new Uint8Array(24);
        b[0] = 100;
        return b;
      })(),
      /header length 100 runs past the end of the 24-byte file/,
    ],
    ['a header that is not UTF-8', fileWith('{"a":1}').fill(0xff, 9, 10), /header is not valid UTF-8/],
    ['a header that is not an object', fileWith('[1,2]   '), /header does not start with '\{'/],
    ['a header that is not JSON', fileWith('{"a":   '), /header is not valid JSON/],
    [
      'an unsupported dtype',
      fileWith('{"a":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      /tensor 'a': unsupported dtype "U32"/,
    ],
    [
      'a negative dimension',
      fileWith('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      /tensor 'a': shape must be/,
    ],
    [
      'reversed offsets',
      fileWith('{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', new Uint8Array(4)),
      /tensor 'a': data_offsets must be \[begin, end\]/,
    ],
    [
      'a size that disagrees with the shape',
      fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}', new Uint8Array(8)),
      /tensor 'a': data_offsets \[0, 8\] span 8 bytes but F32 \[1\] needs 4/,
    ],
    [
      'a gap before a tensor',
      fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)),
      /bytes 0\.\.4 of the data belong to no tensor \(before 'a'\)/,
    ],
    [
      'overlapping tensors',
      fileWith(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}',
        new Uint8Array(6),
      ),
      /tensor 'b' \(data_offsets \[2, 6\]\) overlaps tensor 'a'/,
    ],
    [
      'a truncated data section',
      goldenBytes.subarray(0, goldenBytes.length - 3),
      /tensor 'mask' \(data_offsets \[163, 167\]\) runs past the end of the 164-byte data; the file is truncated/,
    ],
    [
      'trailing bytes',
      fileWith('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(4)),
      /3 bytes follow the last tensor's data/,
    ],
    ['non-string metadata', fileWith('{"__metadata__":{"k":1}}'), /metadata 'k' must be a string, got number/],
    ['a tensor entry that is not an object', fileWith('{"a":[1]}'), /tensor 'a': header entry is not an object/],
  ];
  for (const [what, bytes, message] of damaged) {
    test(`decoding rejects ${what}, naming the file`, () => {
      assert.throws(
        () => st.decodeSafetensors(bytes, 'bad.safetensors'),
        (e: unknown) => {
          assert.ok(e instanceof st.SafetensorsError);
          assert.match(e.message, /^safetensors: bad\.safetensors: /);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }

  test('booleans other than 0 and 1 are refused before any tensor is made', () => {
    const bytes = fileWith('{"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}     ', Uint8Array.from([1, 0, 2]));
    assert.throws(
      () => st.deserialize(bytes, 'm.safetensors'),
      /m\.safetensors: tensor 'm' \(BOOL\) holds byte 2 at element 2/,
    );
  });

  test('loadFile names the path of a truncated or missing file', () => {
    const dir = freshDir();
    const path = join(dir, 'cut.safetensors');
    writeFileSync(path, goldenBytes.subarray(0, 500));
    assert.throws(
      () => st.loadFile(path),
      new RegExp(`safetensors: ${escapeRe(path)}: header length 1072 runs past the end of the 500-byte file`),
    );
    assert.throws(
      () => st.loadFile(join(dir, 'missing.safetensors')),
      (e: unknown) => {
        assert.ok(e instanceof st.SafetensorsError);
        assert.equal(e.code, 'ENOENT');
        assert.match(e.message, /could not read '.*missing\.safetensors': no such file or directory/);
        return true;
      },
    );
  });
});

describe('atomic saving', () => {
  const good = (): Record<string, torch.Tensor> => ({ w: torch.arange(6).reshape(2, 3), b: torch.ones([3]) });

  test('overwriting replaces the file and leaves nothing else in the directory', () => {
    const dir = freshDir();
    const path = join(dir, 'ckpt.safetensors');
    st.saveFile(path, good(), { step: '1' });
    st.saveFile(path, { only: torch.zeros([2]) }, { step: '2' });
    const { tensors, metadata } = st.loadFile(path);
    assert.deepEqual([...tensors.keys()], ['only']);
    assert.deepEqual(metadata, { step: '2' });
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
  });

  test('a tensor that cannot be read mid-save keeps the old file and removes the temporary one', () => {
    const dir = freshDir();
    const path = join(dir, 'ckpt.safetensors');
    st.saveFile(path, good());
    const before = readFileSync(path);
    // A meta tensor has a shape and dtype (so the header is written) but no data to copy.
    const tensors = { ...good(), ghost: torch.empty([4], { device: 'meta' }) };
    assert.throws(
      () => st.saveFile(path, tensors),
      new RegExp(`could not save '${escapeRe(path)}': tensor 'ghost': .*meta.*; any existing file there is unchanged`),
    );
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
  });

  test('a failed rename removes the temporary file', () => {
    const dir = freshDir();
    const target = join(dir, 'taken');
    mkdirSync(target);
    assert.throws(
      () => st.saveFile(target, good()),
      (e: unknown) => {
        assert.ok(e instanceof st.SafetensorsError);
        assert.equal(e.code, 'EISDIR');
        assert.match(e.message, new RegExp(`could not save '${escapeRe(target)}': the path is a directory`));
        return true;
      },
    );
    assert.deepEqual(readdirSync(dir), ['taken']);
    assert.deepEqual(readdirSync(target), []);
  });

  test('a missing directory is reported with the path', () => {
    const path = join(freshDir(), 'no', 'such', 'ckpt.safetensors');
    assert.throws(
      () => st.saveFile(path, good()),
      (e: unknown) => {
        assert.ok(e instanceof st.SafetensorsError);
        assert.equal(e.code, 'ENOENT');
        assert.match(e.message, new RegExp(`could not save '${escapeRe(path)}': no such file or directory`));
        return true;
      },
    );
  });

  const isRoot = process.getuid?.() === 0;
  test('a read-only directory gives a permission error naming the path and keeps the old file', {
    skip: isRoot && 'root ignores directory permissions',
  }, () => {
    const dir = freshDir();
    const path = join(dir, 'ckpt.safetensors');
    st.saveFile(path, good());
    const before = readFileSync(path);
    chmodSync(dir, 0o555);
    try {
      assert.throws(
        () => st.saveFile(path, { x: torch.zeros([1]) }),
        (e: unknown) => {
          assert.ok(e instanceof st.SafetensorsError);
          assert.equal(e.code, 'EACCES');
          assert.match(e.message, new RegExp(`could not save '${escapeRe(path)}': permission denied \\(EACCES\\)`));
          return true;
        },
      );
    } finally {
      chmodSync(dir, 0o755);
    }
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
  });
});
