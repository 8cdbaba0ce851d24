#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the GoogleTest suite
# against the real kernel (BPF programs, namespaces, cgroups, podman pods, a
# real Prometheus). Needs root. Under CI=true nothing may skip.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${PODGUARD_BUILD_DIR:-$here/build}
"$here/scripts/setup.sh"
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
