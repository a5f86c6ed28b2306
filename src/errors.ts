// The errors simclr raises on purpose, each of one kind that fixes its exit code. This module imports nothing, so every
// layer, from src/torch up to src/cli, can throw them without reaching up. The CLI reads `exitCode`; it never looks at
// an error's name or message. An error that crosses the training worker's message port travels as plain fields
// (toWire) and is rebuilt as the same class, or else as an error of the same kind (fromWire).

/**
 * usage: a flag, config file, run folder or device the user can fix. data: a dataset spec, or files that are missing
 * or corrupt. io: a file simclr must read or write cannot be (a bad checkpoint, an unwritable path). divergence: the
 * loss or the weights went NaN or infinite. distributed: a rank, the rendezvous or a collective failed. internal:
 * anything else (a bug, or an error simclr did not raise itself).
 */
export type ErrorKind = 'usage' | 'data' | 'io' | 'divergence' | 'distributed' | 'internal';

// Exit codes (README, The command line): 0 success, 1 a run failed, 2 a usage problem, 3 aborted by a second stop
// request before the step in progress was checkpointed, 130 interrupted by the user after a checkpoint was written.
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_ABORTED = 3;
export const EXIT_INTERRUPTED = 130;

export const KIND_EXIT_CODES: Readonly<Record<ErrorKind, number>> = {
  usage: EXIT_USAGE,
  data: EXIT_USAGE,
  io: EXIT_USAGE,
  divergence: EXIT_FAILURE,
  distributed: EXIT_FAILURE,
  internal: EXIT_FAILURE,
};

const KINDS = new Set<string>(Object.keys(KIND_EXIT_CODES));

/** The base of every error simclr raises on purpose. */
export class SimclrError extends Error {
  readonly kind: ErrorKind;
  readonly exitCode: number;
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SimclrError';
    this.kind = kind;
    this.exitCode = KIND_EXIT_CODES[kind];
  }
}

/** A command-line problem: a bad flag or combination of flags. */
export class UsageError extends SimclrError {
  constructor(message: string, options?: ErrorOptions) {
    super('usage', message, options);
    this.name = 'UsageError';
  }
}

/** A configuration problem the user can fix (a setting, a config file, a run folder's stored config). */
export class ConfigError extends UsageError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** The requested device cannot be used here (no CUDA in this libtorch, no GPU visible, index out of range). */
export class DeviceError extends UsageError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeviceError';
  }
}

/** Bad spec, missing files or corrupt data. */
export class DataError extends SimclrError {
  constructor(message: string, options?: ErrorOptions) {
    super('data', message, options);
    this.name = 'DataError';
  }
}

/** Reading, validating or writing safetensors data failed; `code` carries the fs error code when there is one. */
export class SafetensorsError extends SimclrError {
  readonly code: string | undefined;
  constructor(message: string, code?: string, options?: ErrorOptions) {
    super('io', message, options);
    this.name = 'SafetensorsError';
    this.code = code;
  }
}

/** The loss went NaN or infinite: the run stops and the last good checkpoint stays as it was. */
export class DivergenceError extends SimclrError {
  constructor(message: string, options?: ErrorOptions) {
    super('divergence', message, options);
    this.name = 'DivergenceError';
  }
}

/** A checkpoint was not written because the state to save holds NaN or infinite values. */
export class NonFiniteStateError extends SimclrError {
  constructor(message: string, options?: ErrorOptions) {
    super('divergence', message, options);
    this.name = 'NonFiniteStateError';
  }
}

/** A distributed setup problem or a failed collective; the message says which rank and what to check. */
export class DistributedError extends SimclrError {
  constructor(message: string, options?: ErrorOptions) {
    super('distributed', message, options);
    this.name = 'DistributedError';
  }
}

/**
 * The libtorch addon did not load. `libtorchMismatch`: the dynamic loader refused it (missing symbol, wrong ELF, a
 * library it needs not found), so the addon and the libtorch it finds do not go together.
 */
export class AddonLoadError extends SimclrError {
  readonly libtorchMismatch: boolean;
  constructor(message: string, libtorchMismatch: boolean, options?: ErrorOptions) {
    super('internal', message, options);
    this.name = 'AddonLoadError';
    this.libtorchMismatch = libtorchMismatch;
  }
}

/** An error as it crosses a worker's message port: structured-clone-safe fields only. */
export interface WireError {
  kind: ErrorKind;
  name: string;
  message: string;
  exitCode: number;
  stack?: string;
}

/** The fields of any thrown value; an error simclr did not raise itself is 'internal'. */
export function toWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  const kind: ErrorKind = err instanceof SimclrError ? err.kind : 'internal';
  return {
    kind,
    name: err.name,
    message: err.message,
    exitCode: KIND_EXIT_CODES[kind],
    ...(err.stack !== undefined ? { stack: err.stack } : {}),
  };
}

// The classes that can be rebuilt from a message alone. Others (RunInUseError, which is built from a lock's owner)
// come back as an error of their kind that keeps their name.
const REBUILD: Readonly<Record<string, (message: string) => SimclrError>> = {
  UsageError: (m) => new UsageError(m),
  ConfigError: (m) => new ConfigError(m),
  DeviceError: (m) => new DeviceError(m),
  DataError: (m) => new DataError(m),
  SafetensorsError: (m) => new SafetensorsError(m),
  DivergenceError: (m) => new DivergenceError(m),
  NonFiniteStateError: (m) => new NonFiniteStateError(m),
  DistributedError: (m) => new DistributedError(m),
};

/** The error a WireError describes: its own class where REBUILD knows it, else a SimclrError of its kind and name. */
export function fromWire(w: WireError): SimclrError {
  const kind: ErrorKind = KINDS.has(w.kind) ? w.kind : 'internal';
  const rebuild = Object.hasOwn(REBUILD, w.name) ? REBUILD[w.name]! : null;
  const err = rebuild !== null ? rebuild(w.message) : new SimclrError(kind, w.message);
  if (rebuild === null) err.name = w.name;
  // The worker's stack says where it was thrown; the one made here would only point at the message handler.
  if (w.stack !== undefined) err.stack = w.stack;
  return err;
}

/** The exit code for a thrown value: its own for a SimclrError, EXIT_FAILURE for anything else. */
export function exitCodeOf(e: unknown): number {
  return e instanceof SimclrError ? e.exitCode : EXIT_FAILURE;
}
