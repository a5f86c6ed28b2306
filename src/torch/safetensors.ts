// Safetensors: named tensors in Hugging Face's safetensors format, written byte for byte as the reference
// serializer writes them. Two layers: bytes <-> raw entries (no tensors involved), and tensors <-> bytes or files.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import { openChecked, readFullyAt, tempPathFor } from '../io/files.js';
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { type DType, dtypeCode } from './dtype.js';
import { SafetensorsError } from '../errors.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** One tensor as the file stores it: little-endian, C-order element bytes. */
export interface RawTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Uint8Array;
}

export interface DecodedSafetensors {
  /** In file order. Each `data` is a view into the decoded bytes, not a copy. */
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export interface LoadedTensors {
  /** In file order; CPU tensors that own their memory. */
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export type NamedTensors = Record<string, Tensor> | ReadonlyMap<string, Tensor>;
export type NamedRawTensors = Record<string, RawTensor> | ReadonlyMap<string, RawTensor>;

// Errors from reading, validating or writing safetensors data; defined with the other typed errors in src/errors.ts.
export { SafetensorsError };

// rank: position in the reference implementation's Dtype enum, which is ordered by increasing alignment; it
// writes tensors by descending rank, then by name, so that every tensor's bytes start suitably aligned.
const DTYPES: Readonly<Record<SafetensorsDType, { size: number; rank: number; torch: DType }>> = {
  BOOL: { size: 1, rank: 0, torch: 'bool' },
  U8: { size: 1, rank: 1, torch: 'uint8' },
  I8: { size: 1, rank: 2, torch: 'int8' },
  I16: { size: 2, rank: 3, torch: 'int16' },
  F16: { size: 2, rank: 4, torch: 'float16' },
  BF16: { size: 2, rank: 5, torch: 'bfloat16' },
  I32: { size: 4, rank: 6, torch: 'int32' },
  F32: { size: 4, rank: 7, torch: 'float32' },
  F64: { size: 8, rank: 8, torch: 'float64' },
  I64: { size: 8, rank: 9, torch: 'int64' },
};
const FROM_TORCH = new Map<DType, SafetensorsDType>(
  (Object.keys(DTYPES) as SafetensorsDType[]).map((k) => [DTYPES[k].torch, k]),
);
const METADATA_KEY = '__metadata__';
// The reference reader refuses larger headers; so do we, so a corrupt length cannot request a huge allocation.
const MAX_HEADER_BYTES = 100_000_000;
// Lone UTF-16 surrogates cannot be encoded as UTF-8, so a name holding one could not be read back.
const LONE_SURROGATE = /\p{Cs}/u;

function isKnownDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.hasOwn(DTYPES, s);
}

function entriesOf<T>(named: Record<string, T> | ReadonlyMap<string, T>): [string, T][] {
  return named instanceof Map ? [...named.entries()] : Object.entries(named);
}

function fail(source: string, message: string): never {
  throw new SafetensorsError(`safetensors: ${source}: ${message}`);
}

/** Byte length of a tensor of this dtype and shape, or an error naming it when the shape is not valid. */
function byteLength(source: string, name: string, dtype: SafetensorsDType, shape: unknown): number {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
    fail(source, `tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const n = (shape as number[]).reduce((acc, d) => acc * d, DTYPES[dtype].size);
  if (!Number.isSafeInteger(n)) fail(source, `tensor '${name}': ${dtype} ${JSON.stringify(shape)} is too large`);
  return n;
}

function checkName(source: string, name: string): void {
  if (name === METADATA_KEY) fail(source, `'${METADATA_KEY}' is reserved for metadata and cannot name a tensor`);
  if (LONE_SURROGATE.test(name)) fail(source, `tensor name ${JSON.stringify(name)} is not valid Unicode`);
}

function checkMetadata(source: string, metadata: Record<string, string>): [string, string][] {
  const entries = Object.entries(metadata);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') fail(source, `metadata '${k}' must be a string, got ${typeof v}`);
    if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) fail(source, `metadata '${k}' is not valid Unicode`);
  }
  return entries;
}

interface Planned<T> {
  item: T;
  /** Offset into the data buffer. */
  begin: number;
}

interface Plan<T> {
  /** The 8-byte length prefix and the padded JSON header. */
  head: Uint8Array;
  /** Tensors in file order with their offsets into the data buffer. */
  order: Planned<T>[];
  dataBytes: number;
}

/**
 * Lays out a file as the reference serializer does: compact JSON with __metadata__ first (omitted when empty), then
 * the tensors by descending dtype rank and UTF-8 name, each as {dtype, shape, data_offsets}, padded with spaces
 * to a multiple of 8 bytes. Metadata keys are sorted (the reference uses a hash map, so any order is its order).
 */
function plan<T extends { name: string; dtype: SafetensorsDType; shape: readonly number[]; nbytes: number }>(
  items: T[],
  metadata: Record<string, string> | undefined,
  source: string,
): Plan<T> {
  // Names compare as UTF-8 bytes, as in Rust; JS string order (UTF-16 units) differs for some characters.
  const keyed = items.map((item) => ({ item, key: Buffer.from(item.name, 'utf8') }));
  keyed.sort((a, b) => DTYPES[b.item.dtype].rank - DTYPES[a.item.dtype].rank || Buffer.compare(a.key, b.key));
  // The JSON is assembled by hand: JS objects enumerate integer-like keys ('0', '12') first, which would reorder it.
  const parts: string[] = [];
  const meta = metadata === undefined ? [] : checkMetadata(source, metadata);
  if (meta.length > 0) {
    const sorted = meta
      .map(([k, v]) => ({ k, v, key: Buffer.from(k, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.key, b.key));
    const entries = sorted.map(({ k, v }) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${entries.join(',')}}`);
  }
  const order: Planned<T>[] = [];
  let offset = 0;
  for (const { item } of keyed) {
    const begin = offset;
    offset += item.nbytes;
    order.push({ item, begin });
    const shape = item.shape.join(',');
    parts.push(
      `${JSON.stringify(item.name)}:{"dtype":"${item.dtype}","shape":[${shape}],"data_offsets":[${begin},${offset}]}`,
    );
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { head, order, dataBytes: offset };
}

/** Serialises raw tensors (and optional string metadata) to the bytes of a safetensors file. */
export function encodeSafetensors(entries: NamedRawTensors, metadata?: Record<string, string>): Uint8Array {
  const source = 'encode';
  const items = entriesOf(entries).map(([name, t]) => {
    checkName(source, name);
    if (!isKnownDType(t.dtype))
      fail(
        source,
        `tensor '${name}': unknown dtype ${JSON.stringify(t.dtype)}; expected one of ${Object.keys(DTYPES).join(', ')}`,
      );
    const nbytes = byteLength(source, name, t.dtype, t.shape);
    if (!(t.data instanceof Uint8Array) || t.data.byteLength !== nbytes) {
      fail(
        source,
        `tensor '${name}': ${t.dtype} ${JSON.stringify(t.shape)} needs ${nbytes} bytes of data, got ` +
          `${t.data instanceof Uint8Array ? t.data.byteLength : 'no Uint8Array'}`,
      );
    }
    return { name, dtype: t.dtype, shape: t.shape, nbytes, data: t.data };
  });
  const { head, order, dataBytes } = plan(items, metadata, source);
  const out = new Uint8Array(head.byteLength + dataBytes);
  out.set(head);
  for (const { item, begin } of order) out.set(item.data, head.byteLength + begin);
  return out;
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(source: string, name: string, info: unknown): HeaderEntry {
  if (info === null || typeof info !== 'object' || Array.isArray(info))
    fail(source, `tensor '${name}': header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (!isKnownDType(dtype))
    fail(
      source,
      `tensor '${name}': unsupported dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPES).join(', ')}`,
    );
  const nbytes = byteLength(source, name, dtype, shape);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) ||
    offsets[0] > offsets[1]
  ) {
    fail(
      source,
      `tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end - begin !== nbytes) {
    fail(
      source,
      `tensor '${name}': data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ` +
        `${JSON.stringify(shape)} needs ${nbytes}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** A validated header: metadata, and the tensors in data order with offsets relative to the data section. */
interface ParsedHeader {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
}

/** The header length the first 8 bytes declare, checked against the limit and the file's size. */
function declaredHeaderBytes(prefix: Uint8Array, fileBytes: number, source: string): number {
  if (fileBytes < 8)
    fail(source, `${fileBytes} bytes is too short to be a safetensors file (the header length alone is 8)`);
  const declared = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES))
    fail(
      source,
      `header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit; not a safetensors file, or corrupt`,
    );
  const headerBytes = Number(declared);
  if (8 + headerBytes > fileBytes) {
    fail(
      source,
      `header length ${headerBytes} runs past the end of the ${fileBytes}-byte file; truncated or not a safetensors ` +
        `file`,
    );
  }
  return headerBytes;
}

/**
 * Parses the JSON header and checks that the tensors' data tile the `dataBytes` after it exactly: in bounds, no
 * overlaps, no gaps, nothing after the last tensor.
 */
function parseHeader(json: Uint8Array, dataBytes: number, source: string): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    fail(source, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(source, `header does not start with '{'; not a safetensors file`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(source, `header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    fail(source, 'header is not a JSON object');

  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (info === null || typeof info !== 'object' || Array.isArray(info))
        fail(source, `'${METADATA_KEY}' is not an object`);
      metadata = Object.fromEntries(checkMetadata(source, info as Record<string, string>));
    } else {
      entries.push(parseEntry(source, name, info));
    }
  }
  // Files from other writers may list tensors in any order; what matters is how their bytes tile the data.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: string | undefined;
  for (const e of entries) {
    if (e.begin < covered)
      fail(source, `tensor '${e.name}' (data_offsets [${e.begin}, ${e.end}]) overlaps tensor '${previous}'`);
    if (e.begin > covered)
      fail(source, `bytes ${covered}..${e.begin} of the data belong to no tensor (before '${e.name}')`);
    if (e.end > dataBytes) {
      fail(
        source,
        `tensor '${e.name}' (data_offsets [${e.begin}, ${e.end}]) runs past the end of the ${dataBytes}-byte data; ` +
          `the file is truncated`,
      );
    }
    covered = e.end;
    previous = e.name;
  }
  if (covered !== dataBytes)
    fail(source, `${dataBytes - covered} bytes follow the last tensor's data; corrupt or not a safetensors file`);
  return { entries, metadata };
}

/**
 * Parses and validates the bytes of a safetensors file. `source` (a path, say) names the data in error messages.
 * Tensor data must tile the data buffer exactly: in bounds, no overlaps, no gaps, nothing after the last tensor.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'buffer'): DecodedSafetensors {
  const headerBytes = declaredHeaderBytes(bytes, bytes.byteLength, source);
  const dataStart = 8 + headerBytes;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.byteLength - dataStart, source);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries)
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: bytes.subarray(dataStart + e.begin, dataStart + e.end),
    });
  return { tensors, metadata };
}

// ------------------------------------------------------------------------------------------------ tensor layer

// Tensor bytes are copied to and from native memory as they lie there; the format is little-endian.
function checkHostEndianness(source: string): void {
  if (endianness() !== 'LE') fail(source, 'tensor data can only be converted on a little-endian host');
}

interface TensorItem {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  nbytes: number;
  tensor: Tensor;
}

function describe(source: string, tensors: NamedTensors): TensorItem[] {
  checkHostEndianness(source);
  return entriesOf(tensors).map(([name, tensor]) => {
    checkName(source, name);
    if (!(tensor instanceof Tensor)) fail(source, `'${name}' is not a Tensor`);
    if (tensor.isDisposed) fail(source, `tensor '${name}' has been disposed`);
    const dtype = FROM_TORCH.get(tensor.dtype)!;
    const shape = tensor.shape;
    return { name, dtype, shape, nbytes: byteLength(source, name, dtype, shape), tensor };
  });
}

/** The tensor's elements as contiguous little-endian bytes (copied to the CPU first when elsewhere). */
function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(native.toBuffer(t._h));
}

/** Serialises tensors (any device, any layout; saved as contiguous CPU data) and metadata to safetensors bytes. */
export function serialize(tensors: NamedTensors, metadata?: Record<string, string>): Uint8Array {
  const source = 'serialize';
  const { head, order, dataBytes } = plan(describe(source, tensors), metadata, source);
  const out = new Uint8Array(head.byteLength + dataBytes);
  out.set(head);
  for (const { item, begin } of order) out.set(tensorBytes(item.tensor), head.byteLength + begin);
  return out;
}

function checkBooleans(source: string, name: string, dtype: SafetensorsDType, data: Uint8Array): void {
  if (dtype !== 'BOOL') return;
  const bad = data.findIndex((b) => b > 1);
  if (bad >= 0)
    fail(source, `tensor '${name}' (BOOL) holds byte ${data[bad]} at element ${bad}; booleans must be 0 or 1`);
}

/**
 * Builds CPU tensors from safetensors bytes. Elements are copied bit for bit, so float16/bfloat16 (NaN payloads
 * included) come back exactly as stored.
 */
export function deserialize(bytes: Uint8Array, source = 'buffer'): LoadedTensors {
  checkHostEndianness(source);
  const { tensors: raw, metadata } = decodeSafetensors(bytes, source);
  // Validate everything before allocating, so a bad file leaves no tensors behind.
  for (const [name, t] of raw) checkBooleans(source, name, t.dtype, t.data);
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of raw)
    tensors.set(name, new Tensor(native.fromBuffer(t.data, t.shape, dtypeCode(DTYPES[t.dtype].torch))));
  return { tensors, metadata };
}

function describeFsError(e: unknown): { reason: string; code: string | undefined } {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const reasons: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOENT: 'no such file or directory',
    ENOTDIR: 'a parent of the path is not a directory',
    EISDIR: 'the path is a directory',
  };
  const reason =
    code !== undefined && Object.hasOwn(reasons, code) ? `${reasons[code]} (${code})` : String(err?.message ?? e);
  return { reason, code };
}

function writeFully(fd: number, data: Uint8Array): void {
  for (let done = 0; done < data.byteLength; ) done += writeSync(fd, data, done, data.byteLength - done);
}

/**
 * Writes tensors and metadata to `path` atomically: the data goes to a temporary file in the same directory, is
 * fsynced, then renamed over `path`. On any failure the temporary file is removed and an existing `path` is left
 * as it was, so a crash or a full disk never leaves a partial checkpoint.
 */
export function saveFile(path: string, tensors: NamedTensors, metadata?: Record<string, string>): void {
  const { head, order } = plan(describe(path, tensors), metadata, path);
  const temp = tempPathFor(path);
  let fd: number | undefined;
  let current: string | undefined;
  try {
    fd = openSync(temp, 'wx');
    writeFully(fd, head);
    // One tensor in memory at a time, not the whole file.
    for (const { item } of order) {
      current = item.name;
      writeFully(fd, tensorBytes(item.tensor));
    }
    current = undefined;
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // The error that stopped the save is the one worth reporting.
      }
    }
    rmSync(temp, { force: true });
    const { reason, code } = describeFsError(e);
    // Without an fs error code the failure came from reading a tensor's data (e.g. a meta tensor has none).
    const what = code === undefined && current !== undefined ? `tensor '${current}': ${reason}` : reason;
    throw new SafetensorsError(
      `safetensors: could not save '${path}': ${what}; any existing file there is unchanged`,
      code,
      { cause: e },
    );
  }
  syncDirectory(dirname(path));
}

// Makes the rename itself durable. Best effort: the file is already complete and in place, and some platforms and
// filesystems refuse to fsync a directory.
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Only durability across a crash is at stake here, not correctness.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** What readHeader returns: the metadata, and each tensor's dtype and shape in data order. */
export interface SafetensorsHeader {
  tensors: Map<string, { dtype: SafetensorsDType; shape: number[] }>;
  metadata: Record<string, string>;
}

interface OpenedHeader extends ParsedHeader {
  fd: number;
  /** File offset of the data section. */
  dataStart: number;
}

// Opens `path` and reads and validates its header (not the data); the caller closes `fd`.
function openHeader(path: string): OpenedHeader {
  // Checked before it is read: a regular file (a FIFO or /dev/zero in its place must not hang or fill memory).
  const { fd, size } = openChecked(path, { what: 'a safetensors file', minBytes: 8 }, (message, cause) =>
    cause === undefined ? new SafetensorsError(`safetensors: ${message}`) : wrapReadError(path, cause),
  );
  try {
    const prefix = new Uint8Array(8);
    if (!readFullyAt(fd, prefix, 0, 8, 0)) fail(path, 'the file shrank while it was read');
    const headerBytes = declaredHeaderBytes(prefix, size, path);
    const json = new Uint8Array(headerBytes);
    if (!readFullyAt(fd, json, 0, headerBytes, 8)) fail(path, 'the file shrank while it was read');
    const dataStart = 8 + headerBytes;
    return { fd, dataStart, ...parseHeader(json, size - dataStart, path) };
  } catch (e) {
    closeSync(fd);
    throw wrapReadError(path, e);
  }
}

function wrapReadError(path: string, e: unknown): Error {
  if (e instanceof SafetensorsError) return e;
  const { reason, code } = describeFsError(e);
  return new SafetensorsError(`safetensors: could not read '${path}': ${reason}`, code, { cause: e });
}

/**
 * Reads a safetensors file's header only: tensor names, dtypes and shapes, and the metadata, validated as loadFile
 * validates them. Costs the header's bytes, whatever the size of the file. Throws SafetensorsError naming the file.
 */
export function readHeader(path: string): SafetensorsHeader {
  const { fd, entries, metadata } = openHeader(path);
  closeSync(fd);
  return { tensors: new Map(entries.map((e) => [e.name, { dtype: e.dtype, shape: e.shape }])), metadata };
}

/**
 * Reads a safetensors file into CPU tensors; errors (SafetensorsError) name the file and, where it applies, the
 * tensor. Reads as saveFile writes: the header first, then each tensor's bytes from its position, so the file may
 * be larger than any one buffer can hold (Node reads at most 2 GiB into one); a single tensor must fit one buffer.
 */
export function loadFile(path: string): LoadedTensors {
  checkHostEndianness(path);
  const { fd, dataStart, entries, metadata } = openHeader(path);
  const tensors = new Map<string, Tensor>();
  try {
    for (const e of entries) {
      const nbytes = e.end - e.begin;
      if (nbytes > bufferConstants.MAX_LENGTH)
        fail(
          path,
          `tensor '${e.name}' is ${nbytes} bytes, more than one buffer can hold here (${bufferConstants.MAX_LENGTH})`,
        );
      const data = new Uint8Array(nbytes);
      if (!readFullyAt(fd, data, 0, nbytes, dataStart + e.begin))
        fail(path, `tensor '${e.name}': the file shrank while it was read`);
      checkBooleans(path, e.name, e.dtype, data);
      tensors.set(e.name, new Tensor(native.fromBuffer(data, e.shape, dtypeCode(DTYPES[e.dtype].torch))));
    }
  } catch (err) {
    // A bad file leaves no tensors behind.
    for (const t of tensors.values()) t.dispose();
    throw wrapReadError(path, err);
  } finally {
    closeSync(fd);
  }
  return { tensors, metadata };
}
