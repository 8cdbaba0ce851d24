#!/usr/bin/env bash
# Installs what is missing, builds, and runs the agent on this host with the
# embedded defaults: events as JSON lines on stdout, logs on stderr,
# Prometheus metrics on 127.0.0.1:9417. Extra arguments go to `podguard run`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# The set-up and build talk on stderr: stdout carries only the events, so
# `run.sh | jq` works.
"$here/scripts/setup.sh" >&2
exec "${PODGUARD_BUILD_DIR:-$here/build}/userspace/podguard" run "$@"
