#!/usr/bin/env bash
# Proves, on a machine without a GPU, that the addon builds and works against a CUDA libtorch (issue 11):
#   1. builds native/ against it in a separate folder (native/build is left alone), with SIMCLR_WITH_CUDA and NCCL;
#   2. checks that the addon links libtorch_cuda and calls into c10d::ProcessGroupNCCL (ldd, nm);
#   3. loads it (SIMCLR_ADDON_DIR) and runs the CPU tests of torch/, nn/, distributed/ and the CUDA tests, which skip
#      without a GPU: everything must pass under a CUDA libtorch with no device.
# Prints one summary line. Safe to rerun: the build is incremental and skipped when nothing it depends on changed.
#
# Usage: scripts/check-cuda-build.sh [--install] [TORCH_DIR]
#   --install  create .venv-cuda with pip's torch 2.14.1 (CUDA 13) and its nvidia libraries when it is missing
#              (~5.5 GB; CI does this); where pip cannot get them it says so and exits 2 like a missing libtorch
#   TORCH_DIR  a CUDA libtorch (a pip torch package folder or an unpacked libtorch); default $SIMCLR_CUDA_LIBTORCH,
#              else the torch of .venv-cuda in this checkout or in the main checkout of this git worktree
#   SIMCLR_CUDA_BUILD_DIR  where to build (default .cache/cuda-build, ignored by git)
# Exit status: 0 all good, 1 a check failed, 2 no CUDA libtorch to check against.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .cache
say() { printf '[check-cuda-build] %s\n' "$*" >&2; }
start=$SECONDS

# ---------------------------------------------------------------------------------------------- the CUDA libtorch
find_venv_torch() {
  local base
  for base in "$root" "$(cd "$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo "$root/.git")/.." && pwd)"; do
    for t in "$base"/.venv-cuda/lib/python3*/site-packages/torch; do
      [ -d "$t" ] && { echo "$t"; return; }
    done
  done
  echo "$root/.venv-cuda/lib/python3.X/site-packages/torch"
}
install=0
if [ "${1:-}" = "--install" ]; then install=1; shift; fi
torch_dir=${1:-${SIMCLR_CUDA_LIBTORCH:-$(find_venv_torch)}}
# torch 2.14.1's declared dependencies include cuda-bindings, which the local wheel stores lack; the libraries the
# C++ side needs are these nvidia-* wheels, so they are named and installed without dependency resolution.
CUDA_WHEELS="torch==2.14.1 nvidia-cuda-runtime nvidia-cublas nvidia-cudnn-cu13 nvidia-nccl-cu13 nvidia-cusparse
  nvidia-cufft nvidia-curand nvidia-cusolver nvidia-nvjitlink nvidia-cusparselt-cu13 nvidia-nvtx nvidia-cuda-cupti
  nvidia-cuda-nvrtc nvidia-cufile nvidia-nvshmem-cu13 typing_extensions filelock sympy networkx jinja2 fsspec
  markupsafe mpmath"
if [ "$install" = 1 ] && [ ! -f "$torch_dir/lib/libtorch_cuda.so" ] && [ $# -eq 0 ] && [ -z "${SIMCLR_CUDA_LIBTORCH:-}" ]; then
  say "installing torch 2.14.1 (CUDA 13) and its nvidia libraries into $root/.venv-cuda (~5.5 GB)"
  t0=$SECONDS
  # shellcheck disable=SC2086
  if python3 -m venv "$root/.venv-cuda" && PIP_RETRIES=${PIP_RETRIES:-1} "$root/.venv-cuda/bin/pip" install -q --no-deps $CUDA_WHEELS >"$root/.cache/venv-cuda.log" 2>&1; then
    say "installed in $((SECONDS - t0)) s"
  else
    say "pip could not install the CUDA torch (see $root/.cache/venv-cuda.log)"
  fi
  torch_dir=$(find_venv_torch)
fi
if [ ! -f "$torch_dir/lib/libtorch_cuda.so" ]; then
  if [ -d "$torch_dir" ]; then
    say "$torch_dir has no lib/libtorch_cuda.so: it is not a CUDA libtorch"
  else
    say "no CUDA libtorch at $torch_dir (the CUDA virtual environment .venv-cuda is missing)."
    say "create one with: python3 -m venv .venv-cuda && .venv-cuda/bin/pip install torch==2.14.1   (a CUDA 13 build, ~5.5 GB)"
    say "or pass the torch package folder of a CUDA PyTorch: scripts/check-cuda-build.sh /path/to/site-packages/torch"
  fi
  echo "check-cuda-build: SKIPPED (no CUDA libtorch at $torch_dir)"
  exit 2
fi
export LIBTORCH=$torch_dir
version=$(node scripts/find-libtorch.mjs version)
[ "$(node scripts/find-libtorch.mjs cuda)" = 1 ] || { say "find-libtorch does not see CUDA in $torch_dir"; exit 1; }
node scripts/find-libtorch.mjs cudaInclude >/dev/null  # fails, saying why, without the CUDA headers

# ---------------------------------------------------------------------------------------------- build (a copy of native/)
dir=${SIMCLR_CUDA_BUILD_DIR:-$root/.cache/cuda-build}
mkdir -p "$dir/native" "$dir/scripts"
# cp -p keeps the sources' times, so make recompiles only what changed since the last run.
rm -rf "$dir/native/src" "$dir/native/kernels"
cp -p -r native/src native/kernels native/binding.gyp "$dir/native/"
cp -p scripts/find-libtorch.mjs "$dir/scripts/"
ln -sfn "$root/node_modules" "$dir/node_modules"  # binding.gyp resolves node-addon-api from the build folder
release=$dir/native/build/Release
addon=$release/torch_node.node
stamp=$(node "$dir/scripts/find-libtorch.mjs" stamp)
build_s=0
if [ -f "$addon" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
  say "addon up to date in $release (libtorch $version)"
else
  say "building the addon against libtorch $version (CUDA) in $dir/native (log: $dir/build.log)"
  rm -f "$dir/stamp"
  t0=$SECONDS
  # Through npx, so node-gyp sees npm's configuration (nodedir: local Node headers, no download).
  if ! (npx node-gyp configure --directory "$dir/native" && npx node-gyp build --directory "$dir/native" -j "${JOBS:-2}") >"$dir/build.log" 2>&1; then
    grep -E 'error|Error' "$dir/build.log" | head -20 >&2 || true
    say "build failed; see $dir/build.log"
    echo "check-cuda-build: FAIL (build against libtorch $version)"
    exit 1
  fi
  build_s=$((SECONDS - t0))
  echo "$stamp" >"$dir/stamp"
  say "built in ${build_s} s"
fi

# ---------------------------------------------------------------------------------------------- what the addon links
fail() { say "$*"; echo "check-cuda-build: FAIL ($*)"; exit 1; }
# (Captured first: grep -q ending a pipe early would fail it under pipefail.)
libs=$(ldd "$addon")
symbols=$(nm -DC --undefined-only "$addon")
grep -q 'libtorch_cuda\.so => /' <<<"$libs" || fail "the addon does not link libtorch_cuda.so"
grep -q 'libc10_cuda\.so => /' <<<"$libs" || fail "the addon does not link libc10_cuda.so"
nccl_symbols=$(grep -c 'c10d::ProcessGroupNCCL::' <<<"$symbols" || true)
[ "$nccl_symbols" -gt 0 ] || fail "the addon has no c10d::ProcessGroupNCCL code"
cuda_symbols=$(grep -c 'c10::cuda::' <<<"$symbols" || true)
[ "$cuda_symbols" -gt 0 ] || fail "the addon has no c10::cuda calls"

# ---------------------------------------------------------------------------------------------- the CUDA augmentation kernel
kernel=$release/simclr_ops_cuda.so
kernel_s=0
if command -v nvcc >/dev/null || [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
  if [ -f "$kernel" ] && [ "$(cat "$dir/kernel-stamp" 2>/dev/null)" = "$stamp $(cat native/kernels/*.cu native/kernels/*.h | sha256sum)" ]; then
    say "CUDA kernel up to date"
  else
    t0=$SECONDS
    node scripts/build-cuda-kernels.mjs --out "$kernel" >"$dir/kernel.log" 2>&1 || { cat "$dir/kernel.log" >&2; fail "the CUDA augmentation kernel did not compile"; }
    kernel_s=$((SECONDS - t0))
    echo "$stamp $(cat native/kernels/*.cu native/kernels/*.h | sha256sum)" >"$dir/kernel-stamp"
    say "CUDA kernel compiled in ${kernel_s} s"
  fi
  grep -q 'libtorch_cuda\.so => /' <<<"$(ldd "$kernel")" || fail "simclr_ops_cuda.so does not link libtorch_cuda.so"
  kernel_note="CUDA kernel compiled (${kernel_s} s)"
else
  kernel_note="no nvcc: CUDA kernel not compiled"
fi

# ---------------------------------------------------------------------------------------------- load it and run the tests
export SIMCLR_ADDON_DIR=$release
say "compiling TypeScript"
npx tsc -p .
[ -e dist/test/golden ] || ln -s ../../test/golden dist/test/golden  # as provision.sh links it
facts=$(node --input-type=module -e '
  const { native } = await import(process.argv[1]);
  const t = await import(process.argv[2]);
  const b = native.buildInfo();
  if (b.withCuda !== true) { console.error("the loaded addon has no CUDA code (buildInfo().withCuda " + b.withCuda + ")"); process.exit(1); }
  console.log(`libtorch ${b.version}, CUDA devices ${t.cuda.deviceCount()}`);' "$root/dist/src/torch/native.js" "$root/dist/src/torch/index.js") \
  || fail "the addon does not load with CUDA compiled in"
say "loaded: $facts"
log=$dir/tests.log
say "running tests torch/ nn/ distributed/ augment/ train/device cuda/ against it (log: $log)"
t0=$SECONDS
set +e
node scripts/run-tests.mjs /test/torch/ /test/nn/ /test/distributed/ /test/augment/ /test/train/device /test/cuda/ --test-reporter=tap >"$log" 2>&1
rc=$?
set -e
test_s=$((SECONDS - t0))
count() { grep -E "^# $1 [0-9]+" "$log" | tail -1 | awk '{print $3}'; }
pass=$(count pass); failed=$(count fail); skipped=$(count skipped)
if [ "$rc" -ne 0 ] || [ "${failed:-1}" != 0 ]; then
  grep -E '^not ok|^# Subtest' "$log" | grep -B1 '^not ok' | head -20 >&2 || true
  echo "check-cuda-build: FAIL (libtorch $version CUDA; tests: ${pass:-?} passed, ${failed:-?} failed, ${skipped:-?} skipped; see $log)"
  exit 1
fi
echo "check-cuda-build: OK (libtorch $version CUDA, no GPU: addon links libtorch_cuda, $nccl_symbols ProcessGroupNCCL symbols; $kernel_note; tests ${pass} passed, ${skipped} skipped, 0 failed; build ${build_s} s, tests ${test_s} s, total $((SECONDS - start)) s)"
