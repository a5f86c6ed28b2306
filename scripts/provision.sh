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

node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "Node.js >= 20 is required (found $(node --version))"

# ---- libtorch from pip (default) ------------------------------------------------------------------------
TORCH_PIP_VERSION=2.13.0   # the release the suite is checked against besides Debian's 1.13 (README, libtorch)
choice=${SIMCLR_LIBTORCH:-pip}
case "$choice" in pip|system) ;; *) die "SIMCLR_LIBTORCH=$choice: expected 'pip' (the default) or 'system'" ;; esac
venv=.venv-torch
if [ -z "${LIBTORCH:-}" ] && [ "$choice" = pip ] && [ -e "$venv.unavailable" ] && [ ! -e "$venv/libtorch.json" ]; then
  say "pip torch==$TORCH_PIP_VERSION could not be installed earlier ($(cat "$venv.unavailable")); using Debian's libtorch-dev 1.13 (rm $venv.unavailable to retry)"
  choice=system
fi
if [ -z "${LIBTORCH:-}" ] && [ "$choice" = pip ] && [ ! -e "$venv/libtorch.json" ]; then
  # Debian's own python3 needs python3-venv for `-m venv`; a python3 without it takes this path only once it has it.
  py=$(command -v python3 || true)
  if [ -n "$py" ] && ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "${SIMCLR_SKIP_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2 || true
  fi
  say "installing torch==$TORCH_PIP_VERSION with pip into $venv (about 900 MB for the CPU build; SIMCLR_LIBTORCH=system uses Debian's libtorch-dev instead)"
  # libtorch.json, written last, marks a complete install; anything short of it is started over.
  rm -rf "$venv"
  # SIMCLR_PIP_ARGS adds pip options, e.g. PyTorch's CPU-only index on a machine where PyPI serves the CUDA build.
  # shellcheck disable=SC2086
  if [ -n "$py" ] && "$py" -m venv "$venv" >&2 \
     && PIP_RETRIES="${PIP_RETRIES:-1}" "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
          ${SIMCLR_PIP_ARGS:-} "torch==$TORCH_PIP_VERSION" >&2 \
     && "$venv/bin/python" -c 'import json,os,torch; print(json.dumps({"root": os.path.dirname(torch.__file__), "cxx11Abi": bool(torch._C._GLIBCXX_USE_CXX11_ABI), "version": torch.__version__}))' \
          2>/dev/null > "$venv/libtorch.json.tmp"; then
    mv "$venv/libtorch.json.tmp" "$venv/libtorch.json"
  else
    rm -rf "$venv"
    echo "pip failed on $(date -u +%F)" > "$venv.unavailable"
    say "pip could not install torch==$TORCH_PIP_VERSION (see above): falling back to Debian's libtorch-dev 1.13"
    choice=system
  fi
fi
export SIMCLR_LIBTORCH=$choice

# ---- system packages ------------------------------------------------------------------------------------
missing=()
node scripts/find-libtorch.mjs root >/dev/null 2>&1 || missing+=(libtorch-dev)
# Debian's libtorch links the generic libblas.so.3, which is the slow reference BLAS unless an optimised one is
# installed (Debian recommends OpenBLAS; --no-install-recommends below leaves it out).
if [ "$SIMCLR_LIBTORCH" = system ] && [ -z "${LIBTORCH:-}" ] && command -v dpkg >/dev/null 2>&1 \
   && ! dpkg -s libopenblas0-pthread >/dev/null 2>&1 && ! dpkg -s libopenblas0-openmp >/dev/null 2>&1; then
  missing+=(libopenblas0-pthread)
fi
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)   # node-gyp runs on python3
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
ls /usr/lib/*/libtcmalloc_minimal.so.4 >/dev/null 2>&1 || missing+=(libtcmalloc-minimal4)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)   # headless browser for the HTML report test
# c10d's ProcessGroupGloo.hpp includes gloo's headers, which Debian's libtorch-dev does not ship.
[ -e /usr/include/gloo/algorithm.h ] || [ -e "$(node scripts/find-libtorch.mjs include 2>/dev/null | cut -d' ' -f1)/gloo/algorithm.h" ] || missing+=(libgloo-dev)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "${SIMCLR_SKIP_APT:-0}" = 1 ]; then
    say "SIMCLR_SKIP_APT=1: not installing ${missing[*]}"
  elif ! command -v apt-get >/dev/null 2>&1; then
    die "missing ${missing[*]} and this is not a Debian/Ubuntu system. Install a libtorch (pytorch.org zip, then LIBTORCH=/path/to/libtorch), a C++17 compiler, make and python3; Fashion-MNIST IDX files can be given with --data fashion-mnist:DIR."
  else
    sudo=""
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && sudo="sudo -n" \
        || die "missing ${missing[*]}; as root run: apt-get update && apt-get install -y ${missing[*]}"
    fi
    say "installing ${missing[*]} (apt)"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
      || die "apt-get install ${missing[*]} failed (see above)"
  fi
fi
node scripts/find-libtorch.mjs root >/dev/null || exit 1

# ---- npm dependencies -----------------------------------------------------------------------------------
if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  # onnxruntime-node (used by tests) would otherwise download GPU binaries at install; its CPU build is bundled.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >&2
fi

# ---- native addon: rebuilt only when its sources or the libtorch it links change -------------------------
stamp_now=$( { cat native/binding.gyp native/src/* native/kernels/*; node scripts/find-libtorch.mjs; } | sha256sum | cut -d' ' -f1)
stamp_file=native/build/.simclr-stamp
if [ ! -e native/build/Release/torch_node.node ] || [ ! -e native/build/Release/simclr_ops.node ] || [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp_now" ]; then
  say "building the libtorch addon and kernels ($(node scripts/find-libtorch.mjs source), libtorch $(node scripts/find-libtorch.mjs version))"
  npx --no-install node-gyp rebuild --directory native -j "$(nproc)" > native-build.log 2>&1 \
    || { tail -n 40 native-build.log >&2; die "native build failed (full log: native-build.log)"; }
  echo "$stamp_now" > "$stamp_file"
fi
# Which libtorch the addon links, for `simclr doctor` (a copied build folder carries it along).
[ -e native/build/Release/libtorch.json ] && [ native/build/Release/libtorch.json -nt "$stamp_file" ] \
  || node scripts/find-libtorch.mjs > native/build/Release/libtorch.json

# ---- TypeScript (incremental) ---------------------------------------------------------------------------
npx --no-install tsc -p . >&2 || die "TypeScript build failed (see above)"
# Compiled tests read the committed golden files through dist/test/golden.
[ -e dist/test/golden ] || ln -s ../../test/golden dist/test/golden
