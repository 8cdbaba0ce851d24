#!/usr/bin/env bash
# Builds the policy fuzzer with clang in its own build dir and runs it for a
# bounded time, seeded with deploy/policies. Usage: scripts/fuzz-policy.sh [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${PODGUARD_FUZZ_BUILD_DIR:-$here/build-fuzz}
secs=${1:-60}

CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPODGUARD_FUZZ=ON -DPODGUARD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j2 --target podguard_policy_fuzz

corpus=$build/fuzz/policy-corpus
artifacts=$build/fuzz/artifacts
mkdir -p "$corpus" "$artifacts"
cp "$here"/deploy/policies/*.yaml "$corpus"/

"$build/tests/fuzz/podguard_policy_fuzz" "$corpus" \
  -dict="$here/tests/fuzz/policy.dict" -max_total_time="$secs" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$artifacts/" -print_final_stats=1
