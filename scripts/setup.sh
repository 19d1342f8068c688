#!/usr/bin/env bash
# Installs everything camd needs on a fresh Debian 12 machine, idempotently:
# GStreamer and its plugins, the GObject-Introspection build deps for node-gtk,
# the real protocol clients the tests use, pnpm and the workspace's node modules.
# Set CAMD_SETUP_TEST=1 to also install the test-only clients (Chromium, OpenCV).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

runtime_pkgs=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
  gstreamer1.0-rtsp gstreamer1.0-nice
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-rtsp-server-1.0
  gir1.2-gdkpixbuf-2.0 libgirepository1.0-dev libcairo2-dev pkg-config g++ make python3
  ffmpeg iproute2
  # v4l2-ctl: a camera's V4L2 controls (GStreamer lists its formats, not its controls)
  v4l-utils
)
test_pkgs=(chromium python3-opencv python3-gi curl tesseract-ocr prometheus systemd
  nginx libnginx-mod-rtmp libnginx-mod-stream openssl srt-tools janus
  # the camera-board stand-ins (packages/core/standins): GStreamer elements written in Python
  gstreamer1.0-python3-plugin-loader python3-gst-1.0)

missing=()
want=("${runtime_pkgs[@]}")
if [ "${CAMD_SETUP_TEST:-0}" = 1 ]; then want+=("${test_pkgs[@]}"); fi
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # A GStreamer that scanned its plugins while apt was still unpacking them (another process started
  # meanwhile) keeps them blacklisted in its registry cache; the next run rescans from scratch.
  rm -f "${XDG_CACHE_HOME:-$HOME/.cache}"/gstreamer-1.0/registry.*.bin
fi

if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm"
  npm install -g pnpm@9 >/dev/null
fi

echo "setup: installing node modules"
pnpm install --frozen-lockfile=false --reporter=append-only 2>&1 | tail -n 5
