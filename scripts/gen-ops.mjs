#!/usr/bin/env node
// Generates src/torch/generated/ops.ts, the typed raw operator layer, from the operator schemas that the built
// addon reads out of libtorch's dispatcher (the same declarations as native_functions.yaml, as linked).
// Run after building the addon: `npm run gen:ops`. The output is committed, so builds need no generation step.
import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const native = createRequire(import.meta.url)(join(root, 'native/build/Release/torch_node.node'));
const outFile = join(root, 'src/torch/generated/ops.ts');

// Backend-specific, quantised, sparse and nested operators are outside this library's scope.
const EXCLUDED_PREFIXES = [
  ...['cudnn', 'miopen', 'mkldnn', 'fbgemm', 'quantize', 'quantized', 'q_', 'sparse', 'nested', 'mps', 'vulkan'],
  ...['xnnpack', 'to_sparse', 'to_mkldnn', 'fake_quantize', 'is_vulkan', 'to_padded_tensor', 'segment_reduce'],
  ...['choose_qparams', 'dequantize', 'int_repr', 'qscheme', 'ccol', 'crow', 'col_indices', 'row_indices'],
];
const EXCLUDED_NAME = new RegExp(`^_?(${EXCLUDED_PREFIXES.join('|')})`);
// Private operators are internal to ATen, except these that the public API or fast paths need.
const PRIVATE_ALLOWED =
  /^_(foreach_|to_copy$|softmax$|log_softmax$|cdist_forward$|fused_moving_avg|convolution$|copy_from$|amp_)/;
const EXCLUDED_OVERLOAD = /dimname|names|Dimname/;
const RESERVED = new Set([
  'default',
  'function',
  'var',
  'let',
  'const',
  'new',
  'delete',
  'in',
  'of',
  'class',
  'enum',
  'export',
  'import',
  'return',
  'switch',
  'case',
  'this',
  'with',
  'yield',
  'void',
  'typeof',
  'instanceof',
  'do',
  'if',
  'else',
  'for',
  'while',
  'break',
  'continue',
  'try',
  'catch',
  'finally',
  'throw',
  'super',
  'extends',
  'static',
  'package',
  'interface',
  'private',
  'protected',
  'public',
  'implements',
  'await',
  'debugger',
  'null',
  'true',
  'false',
  'arguments',
  'eval',
]);

function tsType(t, n) {
  const opt = /^Optional\[(.*)\]$/.exec(t);
  if (opt) {
    const inner = tsType(opt[1], n);
    return inner && `${inner} | null`;
  }
  const list = /^List\[(.*)\]$/.exec(t);
  if (list) {
    const elem = list[1];
    if (elem === 'Tensor') return 'readonly Tensor[]';
    if (elem === 'Optional[Tensor]') return 'readonly (Tensor | null)[]';
    if (elem === 'int') return n ? 'number | readonly number[]' : 'readonly number[]';
    if (elem === 'float') return n ? 'number | readonly number[]' : 'readonly number[]';
    if (elem === 'bool') return n ? 'boolean | readonly boolean[]' : 'readonly boolean[]';
    return null;
  }
  switch (t) {
    case 'Tensor':
      return 'Tensor';
    case 'int':
    case 'float':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'number':
      return 'number | boolean';
    case 'str':
      return 'string';
    case 'ScalarType':
      return 'DTypeCode';
    case 'Layout':
    case 'MemoryFormat':
      return 'number';
    case 'Device':
      return 'string';
    case 'Generator':
      return 'Generator';
    default:
      return null;
  }
}

function retType(rets) {
  const ts = rets.map((r) => {
    if (r.realType === 'Tensor') return 'Tensor';
    if (r.realType === 'List[Tensor]') return 'Tensor[]';
    if (r.realType === 'int' || r.realType === 'float' || r.realType === 'number') return 'number';
    if (r.realType === 'bool') return 'boolean';
    if (r.realType === 'List[int]') return 'number[]';
    if (r.realType === 'ScalarType') return 'DTypeCode';
    return null;
  });
  if (ts.includes(null)) return null;
  if (ts.length === 0) return 'void';
  if (ts.length === 1) return ts[0];
  return `[${ts.join(', ')}]`;
}

// How a JS argument is handed to the native call: tensors and generators by handle. A value that is not a tensor
// goes through as it is, so the addon's error names the operator, the argument and what it got.
function marshal(name, t) {
  const base = t.replace(/^Optional\[(.*)\]$/, '$1');
  const optional = base !== t;
  if (base === 'Tensor') return optional ? `${name}?._h ?? null` : `${name}?._h ?? ${name}`;
  if (base === 'List[Tensor]') return `${name}.map((t) => t?._h ?? t)`;
  if (base === 'List[Optional[Tensor]]') return `${name}.map((t) => t?._h ?? null)`;
  if (base === 'Generator') return `${name}?._h ?? null`;
  return name;
}

function unmarshal(expr, rets) {
  if (rets.length === 1) {
    const t = rets[0].realType;
    if (t === 'Tensor') return `wrap(${expr})`;
    if (t === 'List[Tensor]') return `wrapList(${expr})`;
    return expr;
  }
  const parts = rets.map((r, i) =>
    r.realType === 'Tensor' ? `wrap(r[${i}])` : r.realType === 'List[Tensor]' ? `wrapList(r[${i}])` : `r[${i}]`,
  );
  return `((r: unknown[]) => [${parts.join(', ')}])(${expr} as unknown[])`;
}

const schemas = native.listSchemas('aten::');
const version = native.buildInfo().version;
const functions = [];
const table = [];
const seen = new Set();
let skipped = 0;
for (const s of schemas.sort((a, b) => `${a.name}.${a.overload}`.localeCompare(`${b.name}.${b.overload}`))) {
  const name = s.name.slice('aten::'.length);
  if (EXCLUDED_NAME.test(name) || EXCLUDED_OVERLOAD.test(s.overload)) continue;
  if (name.startsWith('_') && !PRIVATE_ALLOWED.test(name)) continue;
  // out= variants: the functional forms cover them.
  if (s.arguments.some((a) => a.isWrite && a.kwargOnly)) continue;
  const params = s.arguments.map((a) => ({ ...a, ts: tsType(a.realType, a.N) }));
  const ret = retType(s.returns);
  if (params.some((p) => p.ts === null) || ret === null) {
    skipped++;
    continue;
  }
  const base = RESERVED.has(name) ? `${name}_op` : name;
  const fname = s.overload ? `${base}$${s.overload}` : base;
  if (seen.has(fname)) throw new Error(`duplicate operator function ${fname}`);
  seen.add(fname);
  const id = table.length;
  // The declaration as the addon describes it, compared at load with the linked libtorch's (src/torch/dispatch.ts).
  const resolved = native.resolveOp(s.name, s.overload);
  table.push([s.name, s.overload, native.opSignature(resolved)]);
  const lastRequired = params.reduce(
    (last, p, i) => (p.default === undefined && !p.realType.startsWith('Optional[') ? i : last),
    -1,
  );
  const sig = params.map((p, i) => {
    const pname = RESERVED.has(p.name) ? `${p.name}_` : p.name;
    p.js = pname;
    if (i > lastRequired) return `${pname}?: ${p.ts}`;
    if (p.default !== undefined || p.realType.startsWith('Optional[')) return `${pname}: ${p.ts} | undefined`;
    return `${pname}: ${p.ts}`;
  });
  const args = params.map((p, i) =>
    i > lastRequired && /Tensor|Generator/.test(p.realType) && !p.realType.startsWith('Optional')
      ? `${p.js}?._h`
      : marshal(p.js, p.realType),
  );
  // In-place and aliasing-write ops on self return self: give back the caller's object, not a new handle.
  const returnsSelf =
    s.returns.length === 1 && s.returns[0].isWrite && params[0]?.isWrite && params[0].realType === 'Tensor';
  const call = `invoke(${id}, [${args.join(', ')}]`;
  let body;
  if (returnsSelf) body = `${call}, true);\n  return ${params[0].js};`;
  else if (ret === 'void') body = `${call}, true);`;
  else body = `return ${unmarshal(`${call})`, s.returns)} as ${ret};`;
  functions.push(
    `/** ${s.schema.replace(/\*\//g, '*\\/')} */\nexport function ${fname}(${sig.join(', ')}): ${ret} {\n  ` +
      `${body}\n}\n`,
  );
}

const header = `// Generated by scripts/gen-ops.mjs from the operator schemas of libtorch ${version}. Do not edit.
// The raw operator layer: one function per ATen operator overload, PyTorch's names and argument order.
// The ergonomic API (Tensor methods, torch.*, torch.nn.functional) is written by hand on top of it.
/* eslint-disable */
import type { Tensor } from '../tensor.js';
import type { Generator } from '../random.js';
import type { DTypeCode } from '../dtype.js';
import { resolveOperators, invoke, wrap, wrapList } from '../dispatch.js';

resolveOperators(${JSON.stringify(table)}, ${JSON.stringify(version)});

`;
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, header + functions.join('\n'));
console.log(`wrote ${functions.length} operator functions to ${outFile} (${skipped} skipped for unsupported types)`);
