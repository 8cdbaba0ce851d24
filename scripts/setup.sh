#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks, mounts the kernel filesystems the
# agent needs, and configures the build. Safe to run again.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential cmake pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libyaml-cpp-dev prometheus-cpp-dev
  libcurl4-openssl-dev libcpp-httplib-dev libssl-dev libsqlite3-dev libbpfcc-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang-format libclang-rt-14-dev
  podman runc catatonit busybox-static prometheus qemu-system-x86 cpio iproute2 util-linux
  mmdebstrap python3-yaml python3-jsonschema libcivetweb-dev
  bpftrace
  liburing-dev
)
# kubectl (for `kubectl kustomize` of deploy/): Debian's, unless one is there.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

build=${PODGUARD_BUILD_DIR:-$here/build}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
