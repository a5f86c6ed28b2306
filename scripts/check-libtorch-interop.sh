#!/usr/bin/env bash
# Across libtorch releases (issue 10): a short pretraining run, `eval knn` and `export --format onnx` on each, and a
# checkpoint written under one release resumed under the other, both ways. .ci/run calls it twice:
#   check-libtorch-interop.sh first  DIR   with the addon built against the first release (native/build): keeps a
#                                          copy of that addon in DIR, writes run DIR/a
#   check-libtorch-interop.sh second DIR   with the addon built against the other release: resumes DIR/a, writes
#                                          DIR/b, and resumes DIR/b under the first release's addon (SIMCLR_ADDON_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:?usage: check-libtorch-interop.sh first|second DIR}
dir=${2:?usage: check-libtorch-interop.sh first|second DIR}
simclr() { node dist/src/cli/main.js "$@"; }
say() { printf '[interop] %s\n' "$*" >&2; }
version() { node -e 'console.log(require(require("path").resolve(process.argv[1])).buildInfo().version)' "${1:-native/build/Release}/torch_node.node"; }

# The last metrics row's step and a finite loss, or a failure naming the run.
last_step() {
  node -e '
    const rows = require("fs").readFileSync(process.argv[1] + "/metrics.jsonl", "utf8").trim().split("\n").map(JSON.parse);
    const last = rows[rows.length - 1];
    if (!Number.isFinite(last.loss)) { console.error(`${process.argv[1]}: loss ${last.loss} at step ${last.step}`); process.exit(1); }
    console.log(last.step);' "$1"
}

expect_step() {
  local got
  got=$(last_step "$1")
  [ "$got" = "$2" ] || { say "error: $1 ends at step $got, expected $2"; exit 1; }
}

# A run of 4 steps, its kNN accuracy and its ONNX export, under the addon in use.
short_run() {
  local out=$1
  simclr pretrain --data fashion-mnist --out "$out" --width 0.125 --batch-size 64 --epochs 1 --max-steps 4 --log-steps 2 --seed 1 >&2
  expect_step "$out" 4
  local knn
  knn=$(simclr eval knn --run "$out" --data fashion-mnist --limit 2000 --test-limit 500 --json)
  node -e 'const r = JSON.parse(process.argv[1]); if (!(r.top1 > 0.1 && r.top1 <= 1)) { console.error("kNN top-1 " + r.top1); process.exit(1); }' "$knn"
  simclr export --run "$out" --format onnx --out "$out/encoder.onnx" >&2
  [ -s "$out/encoder.onnx" ] || { say "error: no ONNX file"; exit 1; }
  say "libtorch $(version ${SIMCLR_ADDON_DIR:-}): 4 steps, kNN $knn, ONNX $(stat -c %s "$out/encoder.onnx") bytes"
}

resume_to_8() {
  simclr pretrain --out "$1" --resume --max-steps 8 >&2
  expect_step "$1" 8
  say "libtorch $(version ${SIMCLR_ADDON_DIR:-}): resumed $1 from step 4 to 8"
}

case "$phase" in
  first)
    rm -rf "$dir" && mkdir -p "$dir"
    cp -r native/build/Release "$dir/addon-first"
    short_run "$dir/a"
    ;;
  second)
    [ "$(version)" != "$(version "$dir/addon-first")" ] || { say "error: both phases ran libtorch $(version)"; exit 1; }
    resume_to_8 "$dir/a"
    short_run "$dir/b"
    SIMCLR_ADDON_DIR="$dir/addon-first" resume_to_8 "$dir/b"
    say "ok: runs, kNN, ONNX export and resume across libtorch $(version "$dir/addon-first") and $(version)"
    ;;
  *) say "error: unknown phase '$phase' (first or second)"; exit 2 ;;
esac
