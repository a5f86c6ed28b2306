#!/usr/bin/env python3
"""Writes the safetensors golden files that test/torch/safetensors.test.ts checks the TypeScript reader and writer
against:

    /usr/bin/python3 test/golden/gen_safetensors.py

The `safetensors` Python package cannot be installed here (not packaged for Debian, no PyPI access), so this
script carries a small writer that follows the published format exactly and makes the same choices as the
reference (Rust) serializer, so that the file is what `safetensors.torch.save_file` writes for these tensors:

  * an 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON, then the data buffer;
  * compact JSON (no whitespace, non-ASCII kept as UTF-8); "__metadata__" first, then one entry per tensor with
    its keys in the order dtype, shape, data_offsets;
  * tensors ordered by descending dtype alignment (the reference's Dtype enum order), ties by the UTF-8 bytes of
    the name; data_offsets are relative to the start of the data buffer, packed back to back in that order;
  * the JSON padded with spaces to a multiple of 8 bytes;
  * element bytes little-endian, C order.

The reference keeps __metadata__ in a hash map, so its key order is unspecified; this writer (and the TypeScript
one) sorts the keys, which is one of the orders the reference may emit.

Expected values come from torch itself and go to a JSON companion file: floats as numbers (float16/bfloat16 read
back as float, which is exact), non-finite floats as the strings "nan"/"inf"/"-inf", int64 as decimal strings.
"""

import json
import math
import struct
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
NAME = 'safetensors_all_dtypes'

# dtype -> (safetensors name, alignment rank in the reference's Dtype enum, ascending)
DTYPES = {
    torch.bool: ('BOOL', 0),
    torch.uint8: ('U8', 1),
    torch.int8: ('I8', 2),
    torch.int16: ('I16', 3),
    torch.float16: ('F16', 4),
    torch.bfloat16: ('BF16', 5),
    torch.int32: ('I32', 6),
    torch.float32: ('F32', 7),
    torch.float64: ('F64', 8),
    torch.int64: ('I64', 9),
}
TORCH_NAMES = {
    torch.bool: 'bool', torch.uint8: 'uint8', torch.int8: 'int8', torch.int16: 'int16', torch.float16: 'float16',
    torch.bfloat16: 'bfloat16', torch.int32: 'int32', torch.float32: 'float32', torch.float64: 'float64',
    torch.int64: 'int64',
}


def raw_bytes(t):
    # Reinterpreting as uint8 gives the in-memory bytes; the assert below makes sure memory is little-endian.
    return bytes(t.contiguous().reshape(-1).view(torch.uint8).tolist())


def write_safetensors(path, tensors, metadata):
    entries = sorted(tensors.items(), key=lambda kv: (-DTYPES[kv[1].dtype][1], kv[0].encode('utf-8')))
    header = {}
    if metadata:
        header['__metadata__'] = {k: metadata[k] for k in sorted(metadata, key=lambda k: k.encode('utf-8'))}
    chunks = []
    offset = 0
    for name, t in entries:
        data = raw_bytes(t)
        header[name] = {'dtype': DTYPES[t.dtype][0], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack('<Q', len(text)) + text + b''.join(chunks))
    return [name for name, _ in entries]


def expected_value(v, dtype):
    if dtype == torch.int64:
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return 'nan' if math.isnan(v) else ('inf' if v > 0 else '-inf')
    return v


def describe(t):
    values = t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
    return {
        'st_dtype': DTYPES[t.dtype][0],
        'dtype': TORCH_NAMES[t.dtype],
        'shape': list(t.shape),
        'values': [expected_value(v, t.dtype) for v in values.reshape(-1).tolist()],
    }


def main():
    assert sys.byteorder == 'little', 'the golden files hold little-endian data'
    nan, inf = float('nan'), float('inf')
    f32 = torch.float32
    tensors = {
        # Names exercise the ordering rules: within a dtype by UTF-8 bytes ('10' < '9' < 'pixels' < 'é...').
        'encoder.weight': torch.tensor([[0.1, -2.5, 3.4028234663852886e38], [-0.0, 1e-45, nan]], dtype=f32),
        'encoder.bias': torch.tensor([inf, -inf, 1.0 / 3.0], dtype=f32),
        'scalar': torch.tensor(3.5, dtype=f32),
        'empty': torch.zeros(0, 3, dtype=f32),
        'f64': torch.tensor([math.pi, -0.0, 1e300, 5e-324, nan], dtype=torch.float64),
        # float16/bfloat16 are made from float32 as the TypeScript test makes them, so NaN bits agree.
        'half': torch.tensor([[1.0 / 3.0, 65504.0], [6e-8, -inf], [nan, -0.0]], dtype=f32).to(torch.float16),
        'bf16': torch.tensor([1.0 / 3.0, 3e38, -1e-40, nan], dtype=f32).to(torch.bfloat16),
        'step': torch.tensor([0, -(2 ** 63), 2 ** 62 + 1, 2 ** 53 + 1], dtype=torch.int64),
        'i32': torch.tensor([[-(2 ** 31), 2 ** 31 - 1], [7, -7]], dtype=torch.int32),
        'i16': torch.tensor([-32768, 32767, 12], dtype=torch.int16),
        'i8': torch.tensor([-128, 127], dtype=torch.int8),
        'pixels': torch.tensor([0, 255, 128, 7], dtype=torch.uint8),
        'mask': torch.tensor([[True, False], [False, True]]),
        '10': torch.tensor([10], dtype=torch.uint8),
        '9': torch.tensor([9], dtype=torch.uint8),
        'é/layer"0"': torch.tensor([1], dtype=torch.uint8),
    }
    metadata = {'format': 'pt', 'epoch': '3', 'note': 'h\u00e9llo "quoted"\n\ttab \\ slash'}
    order = write_safetensors(HERE / f'{NAME}.safetensors', tensors, metadata)
    expected = {
        'file': f'{NAME}.safetensors',
        'metadata': metadata,
        'order': order,
        'tensors': {name: describe(t) for name, t in tensors.items()},
    }
    (HERE / f'{NAME}.json').write_text(json.dumps(expected, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')


if __name__ == '__main__':
    main()
