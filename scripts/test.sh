#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: a bounded fuzz run of
# the policy parser, the container image build, then the GoogleTest suite against the real kernel (BPF
# programs, namespaces, cgroups, podman pods, a real Prometheus, a nested VM
# with a BPF-LSM kernel). Needs root. Under CI=true nothing may skip.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${PODGUARD_BUILD_DIR:-$here/build}
"$here/scripts/setup.sh"
echo "== policy parser fuzzing (${PODGUARD_FUZZ_SECONDS:-60} s)"
"$here/scripts/fuzz-policy.sh" "${PODGUARD_FUZZ_SECONDS:-60}" 2>&1 | tail -n 12
echo "== container image (from this build; ImageTest runs it as the DaemonSet does)"
"$here/scripts/build-image.sh" --from-host-build "$build" | tail -n 2
echo "== test suite"
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
