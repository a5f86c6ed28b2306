#!/usr/bin/env bash
# Brings a checkout to a runnable state, idempotently and quickly when nothing changed:
#   system packages (libtorch, build tools, Fashion-MNIST) -> npm dependencies -> native addon -> TypeScript.
# libtorch: PyTorch 2.13's CPU build from pip in the project's own virtual environment .venv-torch (the default,
# SIMCLR_LIBTORCH=pip), or Debian's libtorch-dev 1.13 (SIMCLR_LIBTORCH=system); LIBTORCH=/path overrides both.
# Where pip or the wheel cannot be had, the pip choice falls back to Debian's libtorch-dev, saying so.
# Set SIMCLR_SKIP_APT=1 to never touch system packages (you provide libtorch via LIBTORCH or a pip torch).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[provision] %s\n' "$*" >&2; }
die() { printf '[provision] error: %s\n' "$*" >&2; exit 1; }
# One line per step on the terminal; what the tools print (apt, pip, npm, nvcc) goes to provision.log.
LOG=provision.log
# run_logged WHAT CMD...: runs CMD with its output appended to $LOG; on failure shows the log's last lines.
run_logged() {
  local what=$1 rc=0
  shift
  printf '\n== %s %s\n' "$(date -u +%FT%TZ)" "$what" >> "$LOG"
  "$@" >> "$LOG" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 30 "$LOG" | sed 's/^/  | /' >&2
    say "$what failed (exit $rc); the full output is in $LOG"
  fi
  return "$rc"
}

node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "Node.js >= 20 is required (found $(node --version))"

# ---- apt: one place that installs Debian packages (as root, or with passwordless sudo) -----------------------
# apt_install REASON PKG...: installs, or dies with the exact command to run where it cannot.
apt_install() {
  local reason=$1; shift
  [ $# -gt 0 ] || return 0
  if [ "${SIMCLR_SKIP_APT:-0}" = 1 ]; then
    say "SIMCLR_SKIP_APT=1: not installing $* ($reason)"; return 0
  fi
  command -v apt-get >/dev/null 2>&1 \
    || die "missing $* ($reason) and this is not a Debian/Ubuntu system. Install a libtorch (pip install torch, or a pytorch.org zip, then LIBTORCH=/path), a C++17 compiler, make and python3; Fashion-MNIST IDX files can be given with --data fashion-mnist:DIR."
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && sudo="sudo -n" \
      || die "missing $* ($reason); as root run: apt-get update && apt-get install -y $*"
  fi
  say "installing $* (apt: $reason; details in $LOG)"
  run_logged "apt-get update" $sudo apt-get update -q || die "apt-get update failed (see above)"
  run_logged "apt-get install $*" $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "$@" || die "apt-get install $* failed (see above)"
}
can_apt() { [ "${SIMCLR_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; }

# ---- which libtorch --------------------------------------------------------------------------------------
TORCH_PIP_VERSION=2.13.0   # the release the suite is checked against besides Debian's 1.13 (README, libtorch)
choice=${SIMCLR_LIBTORCH:-pip}
case "$choice" in pip|system) ;; *) die "SIMCLR_LIBTORCH=$choice: expected 'pip' (the default) or 'system'" ;; esac
venv=.venv-torch
# LIBTORCH names the libtorch outright: check it before anything is installed for another one.
if [ -n "${LIBTORCH:-}" ]; then
  why=$(node scripts/find-libtorch.mjs root 2>&1 >/dev/null) || die "$why"
fi
# A complete install: the record provision writes last names this version and a package folder inside the venv
# whose headers are that version (find-libtorch checks the same when it reads the record).
venv_complete() {
  [ -e "$venv/libtorch.json" ] && SIMCLR_LIBTORCH=pip node scripts/find-libtorch.mjs version 2>/dev/null | grep -qx "$TORCH_PIP_VERSION"
}
want_pip=0
if [ -z "${LIBTORCH:-}" ] && [ "$choice" = pip ] && ! venv_complete; then
  if [ -e "$venv.unavailable" ]; then
    say "pip torch==$TORCH_PIP_VERSION could not be installed earlier ($(cat "$venv.unavailable")); using Debian's libtorch-dev 1.13 (rm $venv.unavailable to retry)"
    choice=system
  else
    want_pip=1
    [ ! -e "$venv/libtorch.json" ] || say "$venv does not hold the torch==$TORCH_PIP_VERSION its record names (edited, or moved?): reinstalling"
  fi
fi

# ---- system packages (libtorch-dev comes later, once it is known to be needed) ----------------------------
missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)   # node-gyp runs on python3; pip torch needs it too
# Debian's own python3 makes virtual environments only with python3-venv.
if [ $want_pip = 1 ] && { ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; }; then
  missing+=(python3-venv)
fi
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
ls /usr/lib/*/libtcmalloc_minimal.so.4 >/dev/null 2>&1 || missing+=(libtcmalloc-minimal4)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)   # headless browser for the HTML report test
# c10d's ProcessGroupGloo.hpp includes gloo's headers, which neither Debian's libtorch-dev nor the pip wheel ships.
# The binding holds gloo objects only through shared_ptr and never lays out a gloo type itself, so Debian's
# headers serve the gloo that pip's libtorch has built in as well.
[ -e /usr/include/gloo/algorithm.h ] || missing+=(libgloo-dev)
apt_install "build tools, data and headers" "${missing[@]}"

# ---- libtorch from pip (the default) ---------------------------------------------------------------------
if [ $want_pip = 1 ]; then
  say "installing torch==$TORCH_PIP_VERSION with pip into $venv (SIMCLR_LIBTORCH=system uses Debian's libtorch-dev instead)"
  # libtorch.json, written last, marks a complete install; anything short of it is started over.
  rm -rf "$venv"
  run_logged "python3 -m venv $venv" python3 -m venv "$venv" || die "python3 -m venv $venv failed (see above)"
  # SIMCLR_PIP_ARGS adds pip options, e.g. PyTorch's CPU-only wheel index: on Linux x86-64 PyPI serves the CUDA
  # build of torch, whose nvidia-* wheels add several GB.
  # shellcheck disable=SC2086
  if run_logged "pip install torch==$TORCH_PIP_VERSION" env PIP_RETRIES="${PIP_RETRIES:-1}" "$venv/bin/python" -m pip \
       install --disable-pip-version-check --no-input ${SIMCLR_PIP_ARGS:-} "torch==$TORCH_PIP_VERSION"; then
    "$venv/bin/python" -c 'import json,os,torch; print(json.dumps({"root": os.path.dirname(torch.__file__), "cxx11Abi": bool(torch._C._GLIBCXX_USE_CXX11_ABI), "version": torch.__version__}))' \
      2>/dev/null > "$venv/libtorch.json.tmp" || die "torch==$TORCH_PIP_VERSION installed into $venv but does not import (see above)"
    mv "$venv/libtorch.json.tmp" "$venv/libtorch.json"
  else
    rm -rf "$venv"
    echo "pip failed on $(date -u +%F)" > "$venv.unavailable"
    say "pip could not install torch==$TORCH_PIP_VERSION (see above): falling back to Debian's libtorch-dev 1.13"
    choice=system
  fi
fi
export SIMCLR_LIBTORCH=$choice

# ---- libtorch from Debian (SIMCLR_LIBTORCH=system, or the fallback) ----------------------------------------
node scripts/find-libtorch.mjs root >/dev/null 2>&1 || apt_install "libtorch" libtorch-dev
# Debian's libtorch links the generic libblas.so.3: the slow reference BLAS unless an optimised one is installed
# (Debian recommends OpenBLAS, which --no-install-recommends leaves out). A speed-up only: warn where it cannot be had.
if [ "$choice" = system ] && [ -z "${LIBTORCH:-}" ] && command -v dpkg >/dev/null 2>&1 \
   && ! dpkg -s libopenblas0-pthread >/dev/null 2>&1 && ! dpkg -s libopenblas0-openmp >/dev/null 2>&1; then
  if can_apt; then apt_install "an optimised BLAS for Debian's libtorch" libopenblas0-pthread
  else say "warning: Debian's libtorch will use the reference BLAS (slow); install libopenblas0-pthread"; fi
fi
root=$(node scripts/find-libtorch.mjs root) || exit 1
# node-gyp splits include and library paths at whitespace.
case "$root" in *[[:space:]]*) die "libtorch's folder '$root' contains a space, which node-gyp cannot build against: move the checkout (pip's libtorch lives inside it) or use SIMCLR_LIBTORCH=system" ;; esac

# ---- npm dependencies -----------------------------------------------------------------------------------
if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (details in $LOG)"
  # onnxruntime-node (used by tests) would otherwise download GPU binaries at install; its CPU build is bundled.
  run_logged "npm ci" env ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund || die "npm ci failed (see above)"
fi

# ---- native addon: rebuilt only when its sources or the libtorch it links change -------------------------
stamp_now=$(node scripts/find-libtorch.mjs stamp)
stamp_file=native/build/.simclr-stamp
if [ ! -e native/build/Release/torch_node.node ] || [ ! -e native/build/Release/simclr_ops.node ] || [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp_now" ]; then
  say "building the libtorch addon and kernels ($(node scripts/find-libtorch.mjs source), libtorch $(node scripts/find-libtorch.mjs version))"
  npx --no-install node-gyp rebuild --directory native -j "$(nproc)" > native-build.log 2>&1 \
    || { tail -n 40 native-build.log >&2; die "native build failed (full log: native-build.log)"; }
  echo "$stamp_now" > "$stamp_file"
fi
# The CUDA augmentation kernel, with a CUDA libtorch only (nvcc; scripts/build-cuda-kernels.mjs says why it skips).
cuda_stamp=native/build/.simclr-cuda-stamp
if [ -e "$(node scripts/find-libtorch.mjs lib)/libtorch_cuda.so" ] \
   && { [ ! -e native/build/Release/simclr_ops_cuda.so ] || [ "$(cat "$cuda_stamp" 2>/dev/null)" != "$stamp_now" ]; }; then
  say "building the CUDA augmentation kernel"
  node scripts/build-cuda-kernels.mjs >&2 || die "CUDA kernel build failed (see above)"
  [ ! -e native/build/Release/simclr_ops_cuda.so ] || echo "$stamp_now" > "$cuda_stamp"
fi
# Which libtorch the addon links, for `simclr doctor` (a copied build folder carries it along).
[ -e native/build/Release/libtorch.json ] && [ native/build/Release/libtorch.json -nt "$stamp_file" ] \
  || node scripts/find-libtorch.mjs > native/build/Release/libtorch.json

# ---- TypeScript (incremental) ---------------------------------------------------------------------------
npx --no-install tsc -p . >&2 || die "TypeScript build failed (see above)"
# The explore page's browser modules (their own tsconfig: DOM types, plain ES modules) and its html/css: dist/web.
npx --no-install tsc -p src/explore/web >&2 && cp src/explore/web/index.html src/explore/web/style.css dist/web/ \
  || die "explore page build failed (see above)"
# Compiled tests read the committed golden files through dist/test/golden.
[ -e dist/test/golden ] || ln -s ../../test/golden dist/test/golden
