#!/usr/bin/env bash
# The main job on a fresh machine: install avatarkit[local], then talk to the offline
# avatar: a bundled spoken question goes in, demo.mp4 (a lip-synced answer) comes out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh local
export HF_HUB_OFFLINE=1
exec avatarkit demo --output "${1:-demo.mp4}"
