#!/usr/bin/env bash
# Installs what is missing, builds, and runs the agent on this host with the
# embedded defaults: events as JSON lines on stdout, logs on stderr,
# Prometheus metrics on 127.0.0.1:9417. Extra arguments go to `podguard run`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
exec "${PODGUARD_BUILD_DIR:-$here/build}/userspace/podguard" run "$@"
