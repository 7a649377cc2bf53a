#!/usr/bin/env bash
# Refresh the vendored LiveKit JS client used by `avatarkit serve`'s room page.
# Run at build/release time (needs npm and network), then commit the result: at run time the
# page loads src/avatarkit/web/static/vendor/livekit-client.umd.js, never a CDN.
#   bash scripts/vendor_livekit_client.sh            # the pinned version
#   bash scripts/vendor_livekit_client.sh 2.24.0     # another version (update PINNED too)
set -euo pipefail
PINNED="2.23.0"
version="${1:-$PINNED}"
cd "$(dirname "$0")/.."
dest="src/avatarkit/web/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "livekit-client@${version}" >/dev/null && tar xzf "livekit-client-${version}.tgz")
got="$(node -p "require('$tmp/package/package.json').version")"
[[ "$got" == "$version" ]] || { echo "npm gave livekit-client $got, wanted $version" >&2; exit 1; }
mkdir -p "$dest"
cp "$tmp/package/dist/livekit-client.umd.js" "$dest/livekit-client.umd.js"
cp "$tmp/package/LICENSE" "$dest/LICENSE.livekit-client.txt"
sha="$(sha256sum "$dest/livekit-client.umd.js" | cut -d' ' -f1)"
cat > "$dest/livekit-client.json" <<JSON
{
  "package": "livekit-client",
  "version": "${version}",
  "file": "dist/livekit-client.umd.js",
  "global": "LivekitClient",
  "sha256": "${sha}",
  "license": "Apache-2.0",
  "source": "npm pack livekit-client@${version} (scripts/vendor_livekit_client.sh)"
}
JSON
echo "vendored livekit-client ${version} into ${dest} (sha256 ${sha})"
