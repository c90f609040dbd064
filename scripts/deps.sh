#!/usr/bin/env bash
# Installs what roadlog's tests use beyond Go: Debian packages (ffmpeg, gpsd, chromium, …)
# and the independent Arrow reader (Apache Arrow's JavaScript implementation) from npm.
# Idempotent: skips what is already there. Needs root for apt-get (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

# (protobuf-compiler and libonnx-dev only regenerate detect/model/onnxpb: no test needs them.)
pkgs=(ffmpeg gpsd gpsd-clients chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: not root; tests needing ${missing[*]} will skip" >&2
  fi
fi

# The independent Arrow reader: ../shared/tools/arrowcheck, installed into .cache/.
if [ -d ../shared/tools/arrowcheck ] && command -v npm >/dev/null; then
  dst=.cache/arrowcheck
  if [ ! -d "$dst/node_modules/apache-arrow" ]; then
    mkdir -p "$dst"
    cp ../shared/tools/arrowcheck/check.js ../shared/tools/arrowcheck/package.json "$dst/"
    (cd "$dst" && npm install --silent --no-audit --no-fund >/dev/null 2>&1) || echo "deps: npm install of arrowcheck failed; the independent-reader test will skip" >&2
  fi
fi
