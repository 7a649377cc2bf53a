#!/usr/bin/env bash
# The whole test suite on a fresh machine: install everything it needs, lint, type-check,
# then run every test (end-to-end ones included: they use the real offline stack).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh local,test
export HF_HUB_OFFLINE=1
export AVATARKIT_REQUIRE_LIVEKIT=1  # the room tests must run here, never skip
PY="${PYTHON:-python3}"
"$PY" -m ruff check src tests benchmarks plugins
"$PY" -m mypy
"$PY" -m pytest "$@"
