#!/usr/bin/env bash
# Builds .gpu/, what scripts/gpu-check.sh needs on a GPU machine that has a CUDA PyTorch, a compiler and python3
# but no Node and no network:
#   node.xz                 this machine's node binary (official/NodeSource builds need only glibc >= 2.28)
#   node-headers.tar.xz     Node's headers as include/node/..., for node-gyp --nodedir (no header download)
#   gloo-headers.tar.xz     gloo's headers (Debian's libgloo-dev), which torch's ProcessGroupGloo.hpp includes and
#                           pip's torch does not ship
#   node_modules.tar.xz     the packages the exercised code imports (package.json dependencies), node-addon-api,
#                           node-gyp and their dependency trees; not typescript, onnxruntime-node or esbuild
#   dist.tar.xz             the compiled JavaScript (npx tsc -p . runs first): the GPU machine compiles nothing
#   manifest.json           versions, the commit, the machine architecture, sizes
# Run it in the checkout that will travel, right before sending it: dist/ must match the tracked sources.
# Usage: scripts/gpu-pack.sh [--node PATH] [--nodedir DIR] [--no-tsc]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NODE_BIN=$(command -v node)
NODEDIR=""
TSC=1
while [ $# -gt 0 ]; do
  case "$1" in
    --node) NODE_BIN=$2; shift 2 ;;
    --nodedir) NODEDIR=$2; shift 2 ;;
    --no-tsc) TSC=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "gpu-pack: unknown argument $1" >&2; exit 2 ;;
  esac
done
NODE_BIN=$(readlink -f "$NODE_BIN")
# npm's nodedir is the install prefix: headers live in <prefix>/include/node.
if [ -z "$NODEDIR" ]; then NODEDIR=$(dirname "$(dirname "$NODE_BIN")"); fi
[ -f "$NODEDIR/include/node/node_api.h" ] || { echo "gpu-pack: no $NODEDIR/include/node/node_api.h (pass --nodedir)" >&2; exit 1; }
[ -d node_modules/node-gyp ] || { echo "gpu-pack: node_modules/node-gyp is missing (npm ci first)" >&2; exit 1; }

PACK=$ROOT/.gpu
rm -rf "$PACK.tmp"
mkdir -p "$PACK.tmp"
log() { echo "[gpu-pack $(date +%T)] $*"; }

if [ "$TSC" = 1 ]; then
  log "compiling TypeScript (npx tsc -p .)"
  rm -rf dist
  npx tsc -p .
fi
# Compiled tests read the committed golden files through dist/test/golden (as scripts/provision.sh links it).
[ -e dist/test/golden ] || ln -s ../../test/golden dist/test/golden
[ -f dist/src/cli/main.js ] && [ -f dist/bench/gpu.js ] || { echo "gpu-pack: dist/ is incomplete (run npx tsc -p .)" >&2; exit 1; }

# Compressing node takes a minute or two: an earlier pack's copy of the same binary is reused.
NODE_SUM=$(sha256sum "$NODE_BIN" | cut -d' ' -f1)
if [ -f "$PACK/node.xz" ] && [ "$(cat "$PACK/node.sha256" 2>/dev/null)" = "$NODE_SUM" ]; then
  log "node $("$NODE_BIN" --version) from $NODE_BIN (reusing the earlier pack's node.xz)"
  cp "$PACK/node.xz" "$PACK.tmp/node.xz"
else
  log "node $("$NODE_BIN" --version) from $NODE_BIN"
  xz -T2 -3 -c "$NODE_BIN" > "$PACK.tmp/node.xz"
fi
echo "$NODE_SUM" > "$PACK.tmp/node.sha256"

log "node headers from $NODEDIR/include/node"
tar -C "$NODEDIR" -cf - include/node | xz -T2 -3 -c > "$PACK.tmp/node-headers.tar.xz"
[ -f /usr/include/gloo/algorithm.h ] || { echo "gpu-pack: gloo's headers are missing (apt-get install libgloo-dev; provision.sh installs it)" >&2; exit 1; }
tar -C /usr -cf - include/gloo | xz -T2 -3 -c > "$PACK.tmp/gloo-headers.tar.xz"

# The packages to carry: a walk of the installed tree from the roots, resolving each dependency as Node does
# (nearest node_modules up from the dependent), so nested copies are found; absent optional ones are skipped.
log "node_modules closure"
"$NODE_BIN" --input-type=module - > "$PACK.tmp/modules.txt" <<'EOF'
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
const root = process.cwd();
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const roots = [...Object.keys(pkg.dependencies), 'node-gyp'];
const seen = new Set();
function resolveFrom(dir, name) {
  for (let d = dir; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return p;
    if (d === root || d === dirname(d)) return null;
  }
}
function walk(dir, name, optional) {
  const p = resolveFrom(dir, name);
  if (p === null) {
    if (!optional) throw new Error(`${name} (needed from ${relative(root, dir) || '.'}) is not installed`);
    return;
  }
  if (seen.has(p)) return;
  seen.add(p);
  const m = JSON.parse(readFileSync(join(p, 'package.json'), 'utf8'));
  for (const d of Object.keys(m.dependencies ?? {})) walk(p, d, d in (m.optionalDependencies ?? {}));
  for (const d of Object.keys(m.optionalDependencies ?? {})) walk(p, d, true);
  for (const d of Object.keys(m.peerDependencies ?? {})) if (!m.peerDependenciesMeta?.[d]?.optional) walk(p, d, true);
}
for (const r of roots) walk(root, r, false);
// Nested packages sit inside their parents: keep only the outermost folders (tar takes them whole).
const dirs = [...seen].map((p) => relative(root, p)).sort();
const top = dirs.filter((d) => !dirs.some((o) => o !== d && d.startsWith(`${o}/`)));
process.stdout.write(`${top.join('\n')}\n`);
EOF
# node_modules is often a symlink (a worktree sharing the main checkout's): tar follows it through the folder.
MODULES=$(readlink -f node_modules)
sed 's#^node_modules/##' "$PACK.tmp/modules.txt" > "$PACK.tmp/modules.rel"
tar -C "$MODULES" --transform 's#^#node_modules/#' -cf - -T "$PACK.tmp/modules.rel" | xz -T2 -3 -c > "$PACK.tmp/node_modules.tar.xz"
rm "$PACK.tmp/modules.rel"
log "$(wc -l < "$PACK.tmp/modules.txt") packages: $(tr '\n' ' ' < "$PACK.tmp/modules.txt" | cut -c1-300)..."

log "dist/ (JavaScript, source maps; no declaration files)"
tar -cf - --exclude='*.d.ts' --exclude='.tsbuildinfo' dist | xz -T2 -3 -c > "$PACK.tmp/dist.tar.xz"

COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# gpu-check.sh recomputes this over the tree that travelled: a different value means dist/ is stale.
SOURCES=$(find src bench test -name '*.ts' -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-64)
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
cat > "$PACK.tmp/manifest.json" <<EOF
{
  "created": "$(date -u +%FT%TZ)",
  "commit": "$COMMIT",
  "trackedFilesChanged": $DIRTY,
  "sourcesSha256": "$SOURCES",
  "machine": "$(uname -m)",
  "node": "$("$NODE_BIN" --version)",
  "nodeGyp": "$("$NODE_BIN" -p "require('./node_modules/node-gyp/package.json').version")",
  "nodeAddonApi": "$("$NODE_BIN" -p "require('./node_modules/node-addon-api/package.json').version")"
}
EOF
rm -rf "$PACK"
mv "$PACK.tmp" "$PACK"

# The tree that travels: tracked files plus untracked files git does not ignore, plus the pack (carried).
TREE=$( { git ls-files -z --cached --others --exclude-standard 2>/dev/null || true; } | while IFS= read -r -d '' f; do [ -f "$f" ] && [ ! -L "$f" ] && printf '%s\0' "$f"; done | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
TREE=${TREE:-0}
PACK_BYTES=$(du -cb "$PACK"/* | tail -1 | cut -f1)
TOTAL=$((TREE + PACK_BYTES))
ls -l "$PACK"
log "pack $(numfmt --to=iec-i --suffix=B "$PACK_BYTES"), tree $(numfmt --to=iec-i --suffix=B "$TREE"), total $(numfmt --to=iec-i --suffix=B "$TOTAL") (limit 64 MiB; this script stops at 60 MiB)"
if [ "$TOTAL" -gt $((60 * 1024 * 1024)) ]; then
  echo "gpu-pack: FAILED: pack + tree is $TOTAL bytes, over 60 MiB: the transfer allows 64 MiB in all" >&2
  exit 1
fi
log "done: send it with carry [\".gpu\"] and run: bash scripts/gpu-check.sh"
