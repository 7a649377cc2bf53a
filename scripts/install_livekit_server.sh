#!/usr/bin/env bash
# Install the pinned livekit-server release (scripts/livekit-server.version) into
# .tools/bin/livekit-server, built from LiveKit's Go module (needs Go >= 1.24).
# Go's build cache makes a rebuild in a fresh clone take seconds after the first build.
#   bash scripts/install_livekit_server.sh          # only if missing or another version
# Without Go, download the same release from https://github.com/livekit/livekit/releases
# and put the binary at .tools/bin/livekit-server (or set AVATARKIT_LIVEKIT_SERVER).
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(tr -d '[:space:]' < scripts/livekit-server.version)"
dest=".tools/bin/livekit-server"
if [[ -x "$dest" ]] && "$dest" --version 2>/dev/null | grep -qF " ${version#v}"; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: livekit-server $version is needed for the room tests, and Go is not installed:" >&2
  echo "  install Go (https://go.dev/dl), or put LiveKit's release binary at $dest" >&2
  exit 1
fi
mkdir -p .tools/bin
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "setup: building livekit-server $version with $(go version | cut -d' ' -f3) (about 4 min on 2 cores the first time)..."
start=$SECONDS
# The module's main package is cmd/server (the bare module path has no main package).
GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/livekit/livekit-server/cmd/server@${version}"
mv "$tmp/server" "$dest"
echo "setup: livekit-server $("$dest" --version | awk '{print $3}') in $dest ($((SECONDS - start)) s)"
