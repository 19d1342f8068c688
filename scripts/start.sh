#!/usr/bin/env bash
# Sets up what is missing (Debian packages, pnpm, node modules), then starts camd on the embedded
# default: the seed's two streams, from /dev/video0 when present, else a test pattern.
# Extra arguments go to the daemon (e.g. --config FILE --state-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node apps/daemon/bin/camd.js "$@"
