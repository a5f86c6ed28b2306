// ONNX export of a ResNet encoder, written directly as protobuf bytes: a minimal encoder for the few ONNX
// messages needed (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) and a graph
// of Conv (BatchNorm folded in), Relu, MaxPool, Add, GlobalAveragePool and Flatten, weights as initializers.
import { endianness } from 'node:os';
import * as torch from '../torch/index.js';
import { BatchNorm2d, Conv2d, type AnyModule } from '../nn/index.js';
import { Bottleneck, ResNet } from '../models/resnet.js';
import type { Encoder } from '../models/simclr.js';

/** The operator set the graph declares; every operator used has had its current form since opset 13. */
export const ONNX_OPSET = 13;
/** IR version 7 is the one that goes with opset 13, so older runtimes load the file too. */
export const ONNX_IR_VERSION = 7;
export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'h';

// ------------------------------------------------------------------------------------------------ protobuf
const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const utf8 = new TextEncoder();

/**
 * A protobuf message being built: its encoded fields as a list of byte chunks, so nesting a message (a weight
 * inside a graph inside a model) appends references rather than copying megabytes at every level.
 */
class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  // Non-negative only: every int64 this exporter writes (sizes, versions, attribute values) is >= 0, and
  // negative int64s need ten-byte two's-complement varints.
  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`protobuf varint: expected a non-negative safe integer, got ${value}`);
    const out: number[] = [];
    let v = value;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** An int32/int64/enum field. */
  int(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  /** A repeated int64 field, packed (the proto3 default, accepted by every proto2 reader too). */
  ints(field: number, values: readonly number[]): this {
    const packed = new ProtoMessage();
    for (const v of values) packed.varint(v);
    return this.bytes(field, packed.toBytes());
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_BYTES);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  message(field: number, value: ProtoMessage): this {
    this.key(field, WIRE_BYTES);
    this.varint(value.length);
    for (const c of value.chunks) this.push(c);
    return this;
  }

  toBytes(): Uint8Array {
    return Buffer.concat(this.chunks, this.length);
  }
}

// Field numbers and enum values from onnx.proto.
const TENSOR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

type AttrValue = number | readonly number[];

function attribute(name: string, value: AttrValue): ProtoMessage {
  const a = new ProtoMessage().string(1, name);
  return typeof value === 'number' ? a.int(20, ATTR_INT).int(3, value) : a.int(20, ATTR_INTS).ints(8, value);
}

/** A float32 initializer; the values go in raw_data as little-endian bytes, as the format requires. */
function floatTensor(name: string, t: torch.Tensor): ProtoMessage {
  const data = t.contiguous().toArray() as Float32Array;
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (endianness() === 'BE') raw.swap32();
  return new ProtoMessage().ints(1, t.shape).int(2, TENSOR_FLOAT).string(8, name).bytes(9, raw);
}

/** One dimension: a fixed size, or a name that marks it as dynamic. */
type Dim = number | string;

function floatValueInfo(name: string, dims: readonly Dim[]): ProtoMessage {
  const shape = new ProtoMessage();
  for (const d of dims)
    shape.message(1, typeof d === 'number' ? new ProtoMessage().int(1, d) : new ProtoMessage().string(2, d));
  const tensorType = new ProtoMessage().int(1, TENSOR_FLOAT).message(2, shape);
  return new ProtoMessage().string(1, name).message(2, new ProtoMessage().message(1, tensorType));
}

// ------------------------------------------------------------------------------------------------ graph
class GraphBuilder {
  readonly nodes: ProtoMessage[] = [];
  readonly initializers: ProtoMessage[] = [];

  /** Adds a node whose single output is named after it; returns that output's name. */
  node(opType: string, name: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    const n = new ProtoMessage();
    for (const i of inputs) n.string(1, i);
    n.string(2, name).string(3, name).string(4, opType);
    for (const [k, v] of Object.entries(attrs)) n.message(5, attribute(k, v));
    this.nodes.push(n);
    return name;
  }

  /**
   * conv followed by eval-mode bn, as one Conv: w' = w * s and b' = beta - mean * s with s = gamma / sqrt(var + eps),
   * computed in float64 so folding adds no error beyond the final rounding to float32.
   */
  convBn(name: string, x: string, conv: Conv2d, bn: BatchNorm2d): string {
    const { weight, bias, runningMean, runningVar } = bn;
    if (weight === null || bias === null || runningMean === null || runningVar === null) {
      throw new Error(`ONNX export: ${name}: BatchNorm2d needs affine parameters and running statistics`);
    }
    if (typeof conv.padding === 'string' || conv.getParameter('weight').dtype !== 'float32') {
      throw new Error(`ONNX export: ${name}: only float32 convolutions with numeric padding are supported`);
    }
    torch.scope(() =>
      torch.noGrad(() => {
        const scale = weight.double().div(runningVar.double().add(bn.eps).sqrt());
        const w = conv
          .getParameter('weight')
          .double()
          .mul(scale.view(-1, 1, 1, 1))
          .float();
        let b = bias.double().sub(runningMean.double().mul(scale));
        if (conv.namedParameters('', false).some(([k]) => k === 'bias'))
          b = b.add(conv.getParameter('bias').double().mul(scale));
        this.initializers.push(floatTensor(`${name}.weight`, w), floatTensor(`${name}.bias`, b.float()));
      }),
    );
    const [ph, pw] = conv.padding;
    return this.node('Conv', name, [x, `${name}.weight`, `${name}.bias`], {
      kernel_shape: conv.kernelSize,
      strides: conv.stride,
      pads: [ph, pw, ph, pw],
      dilations: conv.dilation,
      group: conv.groups,
    });
  }
}

function sub<T>(m: AnyModule, path: string, kind: abstract new (...args: never[]) => T): T {
  const found = m.getSubmodule(path);
  if (!(found instanceof kind))
    throw new Error(`ONNX export: '${path}' is a ${found.constructor.name}, expected ${kind.name}`);
  return found;
}

// Mirrors BasicBlock/Bottleneck.forward: relu(body(x) + shortcut(x)).
function residualBlock(g: GraphBuilder, name: string, block: AnyModule, x: string): string {
  const convs = block instanceof Bottleneck ? 3 : 2;
  let y = x;
  for (let i = 1; i <= convs; i++) {
    y = g.convBn(`${name}.conv${i}`, y, sub(block, `conv${i}`, Conv2d), sub(block, `bn${i}`, BatchNorm2d));
    if (i < convs) y = g.node('Relu', `${name}.relu${i}`, [y]);
  }
  const hasDownsample = block.namedChildren().some(([k]) => k === 'downsample');
  const shortcut = hasDownsample
    ? g.convBn(`${name}.downsample`, x, sub(block, 'downsample.0', Conv2d), sub(block, 'downsample.1', BatchNorm2d))
    : x;
  const sum = g.node('Add', `${name}.add`, [y, shortcut]);
  return g.node('Relu', `${name}.relu`, [sum]);
}

export interface OnnxExportOptions {
  /** Fixes the input's height and width (the run's image size); omitted, they are dynamic like the batch. */
  inputSize?: { height: number; width: number };
  /** Stored in the model's metadata_props. */
  metadata?: Record<string, string>;
}

/**
 * The encoder as an ONNX model (opset 13) in eval mode: input 'input' float32 [batch, C, H, W] with values in
 * [0, 1] (as the encoder sees them in training), output 'h' float32 [batch, featureDim]. The batch is dynamic.
 * @throws TypeError for an encoder this exporter has no graph for (anything but a ResNet)
 */
export function encoderToOnnx(encoder: Encoder, opts: OnnxExportOptions = {}): Uint8Array {
  if (!(encoder instanceof ResNet)) {
    throw new TypeError(
      `encoderToOnnx: the ONNX exporter writes ResNet encoders only (resnet18, resnet34, resnet50), got ` +
        `${encoder.constructor.name}`,
    );
  }
  const g = new GraphBuilder();
  let x = g.convBn('conv1', ONNX_INPUT_NAME, sub(encoder, 'conv1', Conv2d), sub(encoder, 'bn1', BatchNorm2d));
  x = g.node('Relu', 'relu', [x]);
  // Same pooling as ResNet.forward's imagenet stem; padded cells never win a max, as in PyTorch.
  if (encoder.stem === 'imagenet')
    x = g.node('MaxPool', 'maxpool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  for (let s = 1; s <= 4; s++) {
    for (const [i, block] of encoder.getSubmodule(`layer${s}`).namedChildren())
      x = residualBlock(g, `layer${s}.${i}`, block, x);
  }
  x = g.node('GlobalAveragePool', 'avgpool', [x]);
  g.node('Flatten', ONNX_OUTPUT_NAME, [x], { axis: 1 });

  const graph = new ProtoMessage();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, `resnet${encoder.depth}_encoder`);
  for (const t of g.initializers) graph.message(5, t);
  graph.string(10, 'SimCLR ResNet encoder; BatchNorm folded into the preceding convolutions (eval mode).');
  const [h, w]: Dim[] = opts.inputSize ? [opts.inputSize.height, opts.inputSize.width] : ['height', 'width'];
  graph.message(11, floatValueInfo(ONNX_INPUT_NAME, ['batch', encoder.inChannels, h!, w!]));
  graph.message(12, floatValueInfo(ONNX_OUTPUT_NAME, ['batch', encoder.featureDim]));

  const model = new ProtoMessage()
    .int(1, ONNX_IR_VERSION)
    .string(2, 'simclr')
    .message(7, graph)
    .message(8, new ProtoMessage().string(1, '').int(2, ONNX_OPSET));
  for (const [k, v] of Object.entries(opts.metadata ?? {}))
    model.message(14, new ProtoMessage().string(1, k).string(2, v));
  return model.toBytes();
}
