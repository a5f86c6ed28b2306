#!/usr/bin/env bash
# simclr's GPU check, for a machine with an NVIDIA GPU, a CUDA PyTorch in python3 (headers included), g++, make and
# no Node and no network. From the repository root, with the pack scripts/gpu-pack.sh made (.gpu/, carried along):
#   1. unpack Node, its headers, node_modules and the compiled dist/ from the pack
#   2. build the addon against python3's torch (node-gyp --nodedir, no download), and the CUDA augmentation kernel
#      (scripts/build-cuda-kernels.mjs) when the script exists and the torch has CUDA
#   3. doctor facts, the CUDA tests (dist/test/cuda), one pretraining step on the CPU and on cuda:0 compared
#   4. img/s fp32 and bf16 against Python torch on the same GPU: ResNet-18 (CIFAR stem) 32 px batch 512 and
#      ResNet-50 224 px batch 256, model step on pre-made views and simclr's full input pipeline
# and writes one JSON file ($OUT/gpu-check.json; a log beside it). Every phase is guarded: a failure is recorded
# and the next phase runs; the exit status is 1 when anything failed. Benchmark cases not started by the time
# guard (--budget seconds after the start, default 450) are skipped, so the whole run ends within 8 minutes.
#
# --dry-run runs the same path on a CPU-only machine: the pack is unpacked into a work folder, the addon is built
# there from a copy of native/ (never touching native/build), the CUDA tests skip, and the comparison and the
# benchmark run on the CPU at tiny sizes.
# Usage: scripts/gpu-check.sh [--dry-run] [--reuse-build] [--out DIR] [--pack DIR] [--python PATH] [--budget S]
#   --reuse-build  (dry run) keep the work folder's addon from an earlier dry run instead of rebuilding it
#   --python       the Python whose torch to build against and compare with (default python3; dry run: the
#                  project's .venv-torch of /work/main when present)
set -uo pipefail

START=$(date +%s)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DRY=0
REUSE=0
OUT_DIR=${OUT:-}
PACK=$ROOT/.gpu
PY=""
BUDGET=450
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1; shift ;;
    --reuse-build) REUSE=1; shift ;;
    --out) OUT_DIR=$2; shift 2 ;;
    --pack) PACK=$(cd "$2" && pwd); shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --budget) BUDGET=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
OUT_DIR=${OUT_DIR:-$ROOT/.gpu-out}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
LOG=$OUT_DIR/gpu-check.log
JSON=$OUT_DIR/gpu-check.json
: > "$LOG"
DEADLINE=$((START + BUDGET))

log() { local now; now=$(date +%s); echo "[gpu-check $(date +%T) +$((now - START))s] $*" | tee -a "$LOG"; }
# Seconds left before the guard; never below 1 so `timeout` always gets a valid value.
left() { local l=$((DEADLINE - $(date +%s))); [ "$l" -lt 1 ] && l=1; echo "$l"; }

if [ "$DRY" = 1 ]; then
  WORK=${TMPDIR:-/tmp}/simclr-gpu-check-dry
  if [ -z "$PY" ]; then
    PY=python3
    [ -x /work/main/.venv-torch/bin/python ] && PY=/work/main/.venv-torch/bin/python
  fi
else
  WORK=$ROOT
  PY=${PY:-python3}
  # Real mode replaces dist/ and node_modules in the tree: only on the machine it is meant for.
  if ! { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; } && [ ! -e /dev/nvidia0 ]; then
    echo "gpu-check: no NVIDIA GPU visible here; use --dry-run on a machine without one" >&2
    exit 2
  fi
fi
TOOLS=$WORK/.gpu-tools
# Outside $OUT: only the JSON and the log come back from the GPU machine.
FRAG=${TMPDIR:-/tmp}/simclr-gpu-check-fragments.$$
rm -rf "$FRAG"
mkdir -p "$FRAG"
printf 'name\tstatus\tseconds\tnote\n' > "$FRAG/phases.tsv"
FAILED=0

# The console, for progress lines of the comparison and the benchmarks while a phase's output goes to the log.
exec 3>&1
# phase NAME FUNCTION: runs the function in a subshell (output to the log, indented), records status and time.
phase() {
  local name=$1 fn=$2 t0 rc status note ms
  t0=$(date +%s%N)
  log "phase $name"
  local first=$(( $(wc -l < "$LOG") + 1 ))
  ( "$fn" ) >> "$LOG" 2>&1
  rc=$?
  note=$(cat "$FRAG/$name.note" 2>/dev/null || true)
  if [ "$rc" = 0 ]; then status=ok
  elif [ "$rc" = 99 ]; then status=skipped
  else
    status=failed
    FAILED=1
    [ -z "$note" ] && note="exit status $rc$([ "$rc" = 124 ] && echo ' (timed out)')"
    # The end of the phase's output goes into the JSON.
    # The phase's first and last lines (a libtorch error's point comes first, then pages of dispatcher table).
    tail -n "+$first" "$LOG" | awk '{ l[NR] = $0 } END { for (i = 1; i <= NR; i++) if (i <= 12 || i > NR - 28) print l[i]; else if (i == 13) print "[...]" }' > "$FRAG/$name.tail"
  fi
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%s\t%s\t%d.%03d\t%s\n' "$name" "$status" $((ms / 1000)) $((ms % 1000)) "$(echo "$note" | tr '\t\n' '  ')" >> "$FRAG/phases.tsv"
  log "phase $name: $status ($((ms / 1000)).$(( (ms % 1000) / 100 )) s)${note:+: $note}"
  report 0 >> "$LOG" 2>&1
}
skip() { echo "$1" > "$FRAG/$CURRENT.note"; exit 99; }
note() { echo "$1" > "$FRAG/$CURRENT.note"; }

NODE=$TOOLS/bin/node
# xz -dc, or Python's lzma where xz is not installed.
unxz() { if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma,shutil,sys;shutil.copyfileobj(lzma.open(sys.argv[1]),sys.stdout.buffer)' "$1"; fi; }
node_ok() { [ -x "$NODE" ] && "$NODE" --version >/dev/null 2>&1; }
addon_ok() { [ -f "$WORK/native/build/Release/torch_node.node" ]; }

# ------------------------------------------------------------------------------------------------ phases
p_unpack() {
  CURRENT=unpack
  for f in node.xz node-headers.tar.xz gloo-headers.tar.xz node_modules.tar.xz dist.tar.xz manifest.json; do
    [ -f "$PACK/$f" ] || { note "$PACK/$f is missing: run scripts/gpu-pack.sh and carry .gpu"; exit 1; }
  done
  local machine
  machine=$(sed -n 's/.*"machine": "\(.*\)".*/\1/p' "$PACK/manifest.json")
  [ "$machine" = "$(uname -m)" ] || { note "the pack is for $machine, this machine is $(uname -m)"; exit 1; }
  mkdir -p "$WORK"
  rm -rf "$TOOLS"
  mkdir -p "$TOOLS/bin" "$TOOLS/nodedir"
  unxz "$PACK/node.xz" > "$NODE" && chmod +x "$NODE" || exit 1
  "$NODE" --version || { note "the packed node does not run here (glibc?)"; exit 1; }
  unxz "$PACK/node-headers.tar.xz" | tar -C "$TOOLS/nodedir" -xf - || exit 1
  # gloo's headers, for torch's ProcessGroupGloo.hpp (pip's torch ships gloo's library inside libtorch, not its headers).
  mkdir -p "$TOOLS/sysroot" && unxz "$PACK/gloo-headers.tar.xz" | tar -C "$TOOLS/sysroot" -xf - || exit 1
  if [ "$DRY" = 1 ]; then
    # A copy of what the build and the JavaScript read from the repository; native/build survives --reuse-build.
    mkdir -p "$WORK/native"
    cp "$ROOT/package.json" "$WORK/"
    rm -rf "$WORK/scripts" "$WORK/bench" "$WORK/dist" "$WORK/node_modules" "$WORK/native/src" "$WORK/native/kernels"
    rm -rf "$WORK/test"
    mkdir -p "$WORK/test"
    cp -r "$ROOT/scripts" "$ROOT/bench" "$WORK/"
    cp -r "$ROOT/test/golden" "$WORK/test/"
    cp -r "$ROOT/native/src" "$ROOT/native/kernels" "$ROOT/native/binding.gyp" "$WORK/native/"
    [ "$REUSE" = 1 ] || rm -rf "$WORK/native/build"
  else
    # A worktree's node_modules is a symlink to another checkout (absent here); a real folder is moved aside.
    if [ -L "$WORK/node_modules" ]; then rm -f "$WORK/node_modules"
    elif [ -e "$WORK/node_modules" ]; then rm -rf "$WORK/.gpu-node_modules.before"; mv "$WORK/node_modules" "$WORK/.gpu-node_modules.before"; fi
    rm -rf "$WORK/dist"
  fi
  unxz "$PACK/node_modules.tar.xz" | tar -C "$WORK" -xf - || exit 1
  unxz "$PACK/dist.tar.xz" | tar -C "$WORK" -xf - || exit 1
  echo "unpacked into $WORK: node $("$NODE" --version), $(ls "$WORK/node_modules" | wc -l) packages"
}

p_facts() {
  CURRENT=facts
  "$PY" - > "$FRAG/python.json" <<'EOF' || { note "$PY cannot import torch"; exit 1; }
import json, os, platform, sys
import torch
out = dict(python=platform.python_version(), executable=sys.executable, torch=torch.__version__,
           torchDir=os.path.dirname(torch.__file__), cxx11Abi=int(torch._C._GLIBCXX_USE_CXX11_ABI),
           cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
           cudaAvailable=torch.cuda.is_available(), deviceCount=torch.cuda.device_count())
try:
    import torchvision
    out["torchvision"] = torchvision.__version__
except Exception:
    out["torchvision"] = None
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    out["gpu"] = dict(name=p.name, totalMemory=p.total_memory, major=p.major, minor=p.minor, multiProcessorCount=p.multi_processor_count)
print(json.dumps(out))
EOF
  {
    echo "node=$("$NODE" --version 2>/dev/null)"
    echo "nvcc=$(nvcc --version 2>/dev/null | tail -n 2 | tr '\n' ' ')"
    echo "gxx=$(g++ --version 2>/dev/null | head -n 1)"
    echo "make=$(make --version 2>/dev/null | head -n 1)"
    echo "nvidiaSmi=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)"
    echo "cpus=$(nproc)"
    echo "kernel=$(uname -sr)"
  } > "$FRAG/tools.txt"
  cat "$FRAG/python.json" "$FRAG/tools.txt"
  # dist/ came compiled in the pack: it must be of these sources.
  local here packed
  here=$(cd "$ROOT" && find src bench test -name '*.ts' -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-64)
  packed=$(sed -n 's/.*"sourcesSha256": "\(.*\)".*/\1/p' "$PACK/manifest.json")
  echo "sourcesMatchPack=$([ "$here" = "$packed" ] && echo true || echo false)" >> "$FRAG/tools.txt"
  if [ "$here" != "$packed" ]; then
    note "the pack's dist/ was compiled from other sources than this tree's (rerun scripts/gpu-pack.sh); going on with it"
    echo "WARNING: sources differ from the pack's" | tee -a "$LOG" >&3
  fi
}

p_build() {
  CURRENT=build
  local torch_dir abi
  torch_dir=$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["torchDir"])' "$FRAG/python.json" 2>/dev/null) || { note "no torch facts (facts phase failed)"; exit 1; }
  abi=$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["cxx11Abi"])' "$FRAG/python.json")
  if [ "$DRY" = 1 ] && [ "$REUSE" = 1 ] && addon_ok; then skip "reused the addon of an earlier dry run (--reuse-build)"; fi
  node_ok || { note "no node (unpack failed)"; exit 1; }
  cd "$WORK" || exit 1
  # find-libtorch.mjs (called by binding.gyp) takes LIBTORCH: python3's torch, whose lib/ the addon links.
  LIBTORCH=$torch_dir TORCH_CXX11_ABI=$abi PATH="$TOOLS/bin:$PATH" CPATH="$TOOLS/sysroot/include${CPATH:+:$CPATH}" timeout -k 5 "$(left)" \
    "$NODE" node_modules/node-gyp/bin/node-gyp.js rebuild --directory native --nodedir "$TOOLS/nodedir" -j "$(nproc)" \
    || { note "node-gyp rebuild failed (see the log)"; exit 1; }
  addon_ok || { note "no native/build/Release/torch_node.node after the build"; exit 1; }
  # The record provision.sh leaves, which doctor reads to name the libtorch the addon was built against.
  LIBTORCH=$torch_dir TORCH_CXX11_ABI=$abi "$NODE" scripts/find-libtorch.mjs > native/build/Release/libtorch.json || true
}

# The CUDA kernel compiles (nvcc, one translation unit) while node-gyp builds the addon: started in the background
# after the facts phase into a file of its own (node-gyp rebuild empties native/build), collected here.
kernels_bg_start() {
  KBG=""
  [ -f "$WORK/scripts/build-cuda-kernels.mjs" ] || return 0
  node_ok || return 0
  local torch_dir
  torch_dir=$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["torchDir"])' "$FRAG/python.json" 2>/dev/null) || return 0
  [ -f "$torch_dir/lib/libtorch_cuda.so" ] || return 0
  ( cd "$WORK" && SIMCLR_CUDA_ARCH=${SIMCLR_CUDA_ARCH:-sm_90} LIBTORCH=$torch_dir PATH="$TOOLS/bin:$PATH" timeout -k 5 "$(left)" \
      "$NODE" scripts/build-cuda-kernels.mjs --out "$FRAG/kernels/simclr_ops_cuda.so" > "$FRAG/kernels.log" 2>&1; echo $? > "$FRAG/kernels.rc" ) &
  KBG=$!
  log "CUDA kernel build started in the background"
}

p_kernels() {
  CURRENT=kernels
  cd "$WORK" || exit 1
  [ -f scripts/build-cuda-kernels.mjs ] || skip "scripts/build-cuda-kernels.mjs does not exist in this tree"
  local torch_dir
  torch_dir=$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["torchDir"])' "$FRAG/python.json")
  [ -f "$torch_dir/lib/libtorch_cuda.so" ] || skip "the torch at $torch_dir has no CUDA"
  addon_ok || skip "no addon"
  [ -f "$FRAG/kernels.rc" ] || { note "the background kernel build did not finish"; exit 1; }
  cat "$FRAG/kernels.log"
  [ "$(cat "$FRAG/kernels.rc")" = 0 ] || { note "build-cuda-kernels.mjs failed (see the log)"; exit 1; }
  cp "$FRAG/kernels/simclr_ops_cuda.so" native/build/Release/ || { note "no simclr_ops_cuda.so from the kernel build"; exit 1; }
}

p_doctor() {
  CURRENT=doctor
  addon_ok || skip "no addon"
  cd "$WORK" || exit 1
  timeout -k 5 60 "$NODE" dist/src/cli/main.js doctor --json > "$FRAG/doctor.json" || { note "simclr doctor --json failed"; exit 1; }
  timeout -k 5 60 "$NODE" dist/bench/gpu.js '{"mode":"info"}' > "$FRAG/info.json" || { note "bench/gpu.js info failed"; exit 1; }
  cat "$FRAG/info.json"
  "$NODE" -e 'const fs=require("fs");const d=JSON.parse(fs.readFileSync(process.argv[1],"utf8")),i=JSON.parse(fs.readFileSync(process.argv[2],"utf8"));
    const t=d.torch;console.log(`  libtorch ${t.libtorch.version} (${t.libtorch.source}); CUDA ${t.cuda.built?"built":"not built"}, ${i.deviceCount} device(s)${i.devices.map((x)=>`; ${x.index}: ${x.name??"?"}`).join("")}; CPU augment kernel ${d.augmentKernel.loaded?"loaded":"missing"}; missing APIs: ${i.missingApis.join(", ")||"none"}`)' \
    "$FRAG/doctor.json" "$FRAG/info.json" | tee -a "$LOG" >&3 || true
}

p_tests() {
  CURRENT=tests
  addon_ok || skip "no addon"
  cd "$WORK" || exit 1
  local files
  files=$(find dist/test/cuda -name '*.test.js' 2>/dev/null | sort)
  if [ -z "$files" ]; then
    echo '{"files":[],"pass":0,"fail":0,"skip":0,"todo":0,"failures":[],"skips":[]}' > "$FRAG/tests.json"
    skip "no test files under dist/test/cuda"
  fi
  cat > "$TOOLS/reporter.mjs" <<'EOF'
// Counts leaf tests (suites excluded) and keeps failure messages; a file that fails outside any test is one failure,
// with the end of what it wrote to stderr.
export default async function* reporter(source) {
  const r = { files: [], pass: 0, fail: 0, skip: 0, todo: 0, failures: [], skips: [] };
  const stderr = new Map();
  for await (const ev of source) {
    const d = ev.data ?? {};
    if (ev.type === 'test:stderr' && d.file) stderr.set(d.file, ((stderr.get(d.file) ?? '') + d.message).slice(-1500));
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    if (d.file && !r.files.includes(d.file)) r.files.push(d.file);
    if (d.details?.type === 'suite') continue;
    if (d.skip !== undefined && d.skip !== false) {
      r.skip++;
      r.skips.push({ file: d.file, name: d.name, reason: d.skip === true ? '' : String(d.skip) });
    } else if (d.todo !== undefined && d.todo !== false) r.todo++;
    else if (ev.type === 'test:pass') r.pass++;
    else {
      r.fail++;
      const e = d.details?.error;
      let message = String(e?.cause?.stack ?? e?.cause?.message ?? e?.cause ?? e?.message ?? e);
      if (d.name === d.file) message += `\n${stderr.get(d.file) ?? ''}`;
      r.failures.push({ file: d.file, name: d.name, message: message.slice(0, 3000) });
    }
  }
  yield `${JSON.stringify(r)}\n`;
}
EOF
  # shellcheck disable=SC2086
  timeout -k 5 "$(( $(left) < 90 ? $(left) : 90 ))" "$NODE" --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter="$TOOLS/reporter.mjs" --test-reporter-destination="$FRAG/tests.json" $files
  local rc=$?
  local counts
  counts=$("$NODE" -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(`${r.files.length} files: ${r.pass} pass, ${r.fail} fail, ${r.skip} skip${r.fail?`; failed: ${r.failures.map((f)=>f.name).join(", ").slice(0,300)}`:""}`)' "$FRAG/tests.json" 2>/dev/null)
  note "${counts:-no counts}"
  exit $rc
}

# The comparison's sizes: a real ResNet-18 CIFAR step on the GPU; a tiny one for the dry run (CPU against CPU).
p_compare() {
  CURRENT=compare
  addon_ok || skip "no addon"
  cd "$WORK" || exit 1
  local spec
  if [ "$DRY" = 1 ]; then
    spec='{"mode":"compare","device":"cpu","arch":"resnet18","width":0.25,"size":32,"batch":16,"seed":0,"tolTf32":3e-2,"tolFp32":2e-3}'
  else
    spec='{"mode":"compare","device":"cuda:0","arch":"resnet18","width":1,"size":32,"batch":64,"seed":0,"tolTf32":3e-2,"tolFp32":2e-3}'
  fi
  timeout -k 5 "$(( $(left) < 90 ? $(left) : 90 ))" "$NODE" dist/bench/gpu.js "$spec" > "$FRAG/compare.json" 2> >(tee -a "$LOG" >&3)
  local rc=$?
  [ "$rc" = 3 ] && note "outside tolerance (see comparison in the JSON)"
  exit "$rc"
}

# Benchmark cases: the issue's sizes on the GPU; tiny ones on the CPU for the dry run. Ours runs first so that
# Python gets the cudnn.benchmark setting ours could actually set.
bench_cases() {
  local arch=$1
  if [ "$DRY" = 1 ]; then
    case $arch in
      resnet18) echo '{"arch":"resnet18","width":0.125,"size":32,"sourceSize":32,"batch":16}' ;;
      resnet50) echo '{"arch":"resnet50","width":0.125,"size":64,"sourceSize":72,"batch":4}' ;;
    esac
  else
    case $arch in
      resnet18) echo '{"arch":"resnet18","width":1,"size":32,"sourceSize":32,"batch":512}' ;;
      resnet50) echo '{"arch":"resnet50","width":1,"size":224,"sourceSize":256,"batch":256}' ;;
    esac
  fi
}
bench_spec() { # side arch cudnnBenchmark
  local m device warm steps
  m=$(bench_cases "$2")
  if [ "$DRY" = 1 ]; then device=cpu; warm=1; steps=2; else device=cuda:0; warm=5; steps=15; fi
  local short=${2/resnet/r}
  # Cases are not started within 60 s of the guard: the longest (ResNet-50 fp32) takes about that.
  echo "{\"mode\":\"ours\",\"device\":\"$device\",\"warmup\":$warm,\"steps\":$steps,\"seed\":0,\"cudnnBenchmark\":$3,\"deadline\":$(( (DEADLINE - 60) * 1000 )),\"cases\":[{\"name\":\"$short-fp32\",\"precision\":\"fp32\",${m#\{},{\"name\":\"$short-bf16\",\"precision\":\"bf16\",${m#\{}]}"
}

p_bench_ours() { # arch
  addon_ok || skip "no addon"
  cd "$WORK" || exit 1
  [ "$(left)" -gt 60 ] || skip "time guard"
  timeout -k 5 "$(( $(left) + 15 ))" "$NODE" dist/bench/gpu.js "$(bench_spec ours "$1" true)" > "$FRAG/$CURRENT.json" 2> >(tee -a "$LOG" >&3)
  local rc=$?
  [ "$rc" = 0 ] || exit "$rc"
  "$NODE" -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").at(-1));process.exit(r.cases.some((c)=>c.error)?3:0)' "$FRAG/$CURRENT.json" \
    || { note "a case failed (see benchmark in the JSON)"; exit 3; }
}
p_bench_python() { # arch
  cd "$WORK" || exit 1
  [ "$(left)" -gt 60 ] || skip "time guard"
  # The cudnn.benchmark setting ours ran with (libtorch's default, off, where ours cannot set it).
  local bm=true ours_json=$FRAG/ours-$1.json
  if [ -f "$ours_json" ]; then
    bm=$("$PY" -c 'import json,sys;v=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["switches"]["cudnnBenchmark"];print("false" if v is False or v is None else "true")' "$ours_json" 2>/dev/null || echo true)
  fi
  timeout -k 5 "$(( $(left) + 15 ))" "$PY" bench/torch_gpu.py "$(bench_spec python "$1" "$bm")" > "$FRAG/$CURRENT.json" 2> >(tee -a "$LOG" >&3)
  local rc=$?
  [ "$rc" = 0 ] || exit "$rc"
  "$PY" -c 'import json,sys;sys.exit(3 if any("error" in c for c in json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["cases"]) else 0)' "$FRAG/$CURRENT.json" \
    || { note "a case failed (see benchmark in the JSON)"; exit 3; }
}
p_loop_r18() {
  CURRENT=loop-resnet18
  addon_ok || skip "no addon"
  cd "$WORK" || exit 1
  [ "$(left)" -gt 60 ] || skip "time guard"
  local spec
  if [ "$DRY" = 1 ]; then
    spec='{"mode":"loop","device":"cpu","images":160,"batch":16,"steps":12,"precisions":["fp32"],"cudnnBenchmark":true,"deadline":'$(( (DEADLINE - 60) * 1000 ))'}'
  else
    spec='{"mode":"loop","device":"cuda:0","images":10240,"batch":512,"steps":40,"precisions":["fp32","bf16"],"cudnnBenchmark":true,"deadline":'$(( (DEADLINE - 60) * 1000 ))'}'
  fi
  timeout -k 5 "$(( $(left) + 15 ))" "$NODE" dist/bench/gpu.js "$spec" > "$FRAG/$CURRENT.json" 2> >(tee -a "$LOG" >&3)
}
p_ours_r18() { CURRENT=ours-resnet18; p_bench_ours resnet18; }
p_python_r18() { CURRENT=python-resnet18; p_bench_python resnet18; }
# SIMCLR_GPU_CHECK_R18_ONLY=1 leaves ResNet-50 out (a short rerun where device time is scarce).
p_ours_r50() { CURRENT=ours-resnet50; [ -z "${SIMCLR_GPU_CHECK_R18_ONLY:-}" ] || skip "SIMCLR_GPU_CHECK_R18_ONLY"; p_bench_ours resnet50; }
p_python_r50() { CURRENT=python-resnet50; [ -z "${SIMCLR_GPU_CHECK_R18_ONLY:-}" ] || skip "SIMCLR_GPU_CHECK_R18_ONLY"; p_bench_python resnet50; }

# ------------------------------------------------------------------------------------------------ report
# The JSON is rewritten after every phase, so a run stopped from outside still leaves what it measured.
cat > "$FRAG/report.py" <<'EOF'
import json, os, sys, time
frag, out, manifest, dry, start, budget, work, final = sys.argv[1:9]

def load(name):
    p = os.path.join(frag, name)
    if not os.path.exists(p):
        return None
    try:
        with open(p) as f:
            text = f.read().strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            pass
        # Benchmarks print the object so far after each case: the last whole line is the latest.
        for line in reversed(text.splitlines()):
            try:
                return json.loads(line)
            except ValueError:
                continue
        return dict(unreadable=f"{name}: no JSON line")
    except Exception as e:
        return dict(unreadable=f"{name}: {e}")

def text(name):
    p = os.path.join(frag, name)
    return open(p).read() if os.path.exists(p) else None

phases = {}
for line in open(os.path.join(frag, "phases.tsv")).read().splitlines()[1:]:
    name, status, secs, note = (line.split("\t") + [""] * 4)[:4]
    phases[name] = dict(status=status, seconds=float(secs or 0), note=note or None)
    tail = text(f"{name}.tail")
    if tail:
        phases[name]["logTail"] = tail[-4000:]

tools = dict(l.split("=", 1) for l in (text("tools.txt") or "").splitlines() if "=" in l)
python = load("python.json") or {}
info = load("info.json") or {}
doctor = load("doctor.json")
mf = {}
try:
    mf = json.load(open(manifest))
except Exception:
    pass

rows = []
for arch in ("resnet18", "resnet50"):
    ours = load(f"ours-{arch}.json") or {}
    py = load(f"python-{arch}.json") or {}
    pyc = {c["name"]: c for c in py.get("cases", [])}
    for c in ours.get("cases", []) or [dict(name=f"{arch.replace('resnet', 'r')}-{p}") for p in ("fp32", "bf16")]:
        p = pyc.get(c["name"], {})
        r = dict(case=c["name"], arch=arch, precision=c.get("precision", p.get("precision")),
                 size=c.get("size", p.get("size")), batch=c.get("batch", p.get("batch")),
                 oursImgPerSec=c.get("imgPerSec"), pythonImgPerSec=p.get("imgPerSec"),
                 oursStepMs=c.get("stepMs"), pythonStepMs=p.get("stepMs"),
                 oursFullImgPerSec=c.get("fullImgPerSec"), pipelineShare=c.get("pipelineShare"),
                 viewsOnlyMs=c.get("viewsOnlyMs"), oursPeakMemoryBytes=c.get("peakMemoryBytes"),
                 pythonPeakMemoryBytes=p.get("peakMemoryBytes"), pinnedHostMemory=c.get("pinnedHostMemory"))
        if r["oursImgPerSec"] and r["pythonImgPerSec"]:
            r["ratioOursToPython"] = r["oursImgPerSec"] / r["pythonImgPerSec"]
        notes = [x for x in (c.get("skipped"), c.get("error"), p.get("skipped"), p.get("error")) if x]
        if notes:
            r["notes"] = notes
        rows.append(r)

def fmt(v, spec):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return format(v, spec)
    return "-".rjust(int(spec.split(".")[0] or 1))

table = ["case       prec  ours img/s  python img/s  ours/python  full-pipeline img/s  pipeline share  views ms"]
for r in rows:
    table.append(f"{r['case']:<10} {str(r['precision'] or '-'):<5} {fmt(r['oursImgPerSec'], '10.0f')}  {fmt(r['pythonImgPerSec'], '12.0f')}  "
                 f"{fmt(r.get('ratioOursToPython'), '10.2f')}x  {fmt(r['oursFullImgPerSec'], '19.0f')}  {fmt(r['pipelineShare'] and 100 * r['pipelineShare'], '13.1f')}%  "
                 f"{fmt(r['viewsOnlyMs'], '8.1f')}" + (f"  ({'; '.join(r['notes'])[:120]})" if r.get("notes") else ""))

loop = load("loop-resnet18.json") or {}
for c in loop.get("cases", []):
    if "imgPerSec" in c:
        table.append(f"{c['name']:<14} pretrain() loop: {c['imgPerSec']:.0f} img/s; host {c['hostMsPerStep']:.1f} ms/step queuing, "
                     f"{c['waitMsPerStep']:.1f} ms/step waiting for the device")
    else:
        table.append(f"{c.get('name', c.get('precision'))}: {c.get('skipped') or c.get('error', '')[:120]}")

ours_any = load("ours-resnet18.json") or load("ours-resnet50.json") or {}
py_any = load("python-resnet18.json") or load("python-resnet50.json") or {}
failed = [n for n, p in phases.items() if p["status"] == "failed"]
report = dict(
    schema="simclr-gpu-check/1",
    mode="dry-run (CPU only, tiny sizes)" if dry == "1" else "gpu",
    finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    totalSeconds=round(time.time() - int(start), 1),
    budgetSeconds=int(budget),
    ok=not failed,
    failedPhases=failed,
    pack=mf,
    versions=dict(node=tools.get("node"), python=python.get("python"), pythonTorch=python.get("torch"),
                  torchvision=python.get("torchvision"), cuda=python.get("cuda"), cudnn=python.get("cudnn"),
                  addonLibtorch=info.get("libtorch"), nvcc=tools.get("nvcc"), gxx=tools.get("gxx"),
                  nvidiaSmi=tools.get("nvidiaSmi"), cpus=tools.get("cpus"), kernel=tools.get("kernel"),
                  sourcesMatchPack=tools.get("sourcesMatchPack") == "true"),
    gpu=dict(python=python.get("gpu"), ours=info.get("devices"), cudaAvailableOurs=info.get("cudaAvailable"),
             cudaAvailablePython=python.get("cudaAvailable")),
    phases=phases,
    doctor=doctor,
    tests=load("tests.json"),
    comparison=load("compare.json"),
    loop=loop or None,
    benchmark=dict(
        note="img/s counts views (2 per image) per second over the timed steps, synchronised; 'ours' = model step on "
             "pre-made views (comparable with python); full pipeline = uint8 batch from pinned host memory, views made "
             "on the device by createViewBatch, then the step; pipeline share = 1 - step time / full step time",
        settings=dict(ours=ours_any.get("switches"), python=py_any.get("switches"), channelsLast=True,
                      augmentKernelCpu=ours_any.get("augmentKernelCpu")),
        missingApisOurs=sorted(set(sum([(load(f) or {}).get("missingApis", []) for f in
                                        ("info.json", "compare.json", "ours-resnet18.json", "ours-resnet50.json")], []))),
        rows=rows, table=table),
)
report["complete"] = final == "1"
with open(out + ".tmp", "w") as f:
    json.dump(report, f, indent=1)
os.replace(out + ".tmp", out)
if final == "1":
    print("\n".join(table))
    print(f"phases: " + ", ".join(f"{n} {p['status']} {p['seconds']:.0f}s" for n, p in phases.items()))
EOF
REPORT_PY=python3
command -v python3 >/dev/null || REPORT_PY=$PY
report() { "$REPORT_PY" "$FRAG/report.py" "$FRAG" "$JSON" "$PACK/manifest.json" "$DRY" "$START" "$BUDGET" "$WORK" "$1"; }

# ------------------------------------------------------------------------------------------------ run
log "simclr GPU check ($([ "$DRY" = 1 ] && echo 'dry run, CPU only' || echo GPU)); work folder $WORK, pack $PACK, python $PY, out $OUT_DIR, budget ${BUDGET}s"
phase unpack p_unpack
phase facts p_facts
KBG=""
kernels_bg_start
phase build p_build
[ -n "$KBG" ] && wait "$KBG"
phase kernels p_kernels
phase doctor p_doctor
phase tests p_tests
phase compare p_compare
phase ours-resnet18 p_ours_r18
phase python-resnet18 p_python_r18
phase ours-resnet50 p_ours_r50
phase python-resnet50 p_python_r50
phase loop-resnet18 p_loop_r18

log "writing $JSON"
report 1 2>&1 | tee -a "$LOG"

rm -rf "$FRAG"
END=$(date +%s)
log "done in $((END - START)) s: $JSON ($([ "$FAILED" = 0 ] && echo 'all phases ok' || echo 'SOME PHASES FAILED'))"
exit "$FAILED"
