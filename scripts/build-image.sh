#!/usr/bin/env bash
# Builds the podguard container image here, without any image registry: the
# Debian 12 base is made from the Debian archive with mmdebstrap (or
# debootstrap) and imported, then the multi-stage Containerfile is built on it
# with podman (or buildah). The image is tagged with the project version; the
# last line printed is the image reference.
#
#   scripts/build-image.sh [--from-host-build BUILD_DIR] [--stacks] [--tag REF]
#
# --from-host-build: the build stage takes the podguard binary of a host build
#   instead of compiling (the host must be Debian 12 as well: same compiler and
#   libraries, so the binary is the one the build stage would make). CI uses it
#   to test the image without compiling twice.
# --stacks: also install BCC's runtime (libbpfcc, ~170 MB with LLVM) so that
#   `run --stacks` works in the image; without it the image stays small.
# The source build keeps its ccache in /var/cache/podguard/ccache (host), so a
# rebuild on 2 cores recompiles only what changed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
host_build=""
stacks=0
version=$(sed -n 's/^project(podguard VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
ref="localhost/podguard:$version"
while [ $# -gt 0 ]; do
  case "$1" in
    --from-host-build) host_build=$(cd "$2" && pwd); shift 2 ;;
    --stacks) stacks=1; shift ;;
    --tag) ref=$2; shift 2 ;;
    *) echo "build-image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if command -v podman >/dev/null; then
  builder=(podman build); images=(podman image); import=(podman import)
elif command -v buildah >/dev/null; then
  builder=(buildah bud); images=(buildah); import=(buildah pull)
else
  echo "build-image.sh: needs podman or buildah" >&2; exit 1
fi

# The base: Debian 12 minbase from the archive, made once and kept.
# (Documentation, manuals, locales and apt's lists are left out: a third of minbase.)
base=localhost/podguard-base:bookworm-slim
if ! podman image exists "$base" 2>/dev/null; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  mirror=${PODGUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  if command -v mmdebstrap >/dev/null; then
    mmdebstrap --quiet --variant=minbase --include=ca-certificates \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
      bookworm "$work/base.tar" \
      "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
      "deb http://deb.debian.org/debian-security bookworm-security main"
  else
    debootstrap --variant=minbase --include=ca-certificates bookworm "$work/root" "$mirror" >/dev/null
    rm -rf "$work"/root/usr/share/{doc,man,locale,info}/* "$work"/root/var/lib/apt/lists/* "$work"/root/var/cache/apt/*
    tar -C "$work/root" -cf "$work/base.tar" .
  fi
  podman import --quiet "$work/base.tar" "$base" >/dev/null
fi

# The build context: the source tree, plus the host binary when asked for.
ctx=$(mktemp -d); trap 'rm -rf "$ctx" ${work:-}' EXIT
git -C "$here" ls-files -z --cached --others --exclude-standard |
  (cd "$here" && xargs -0 cp --parents -t "$ctx" 2>/dev/null || true)
mode=source
if [ -n "$host_build" ]; then
  mkdir -p "$ctx/.prebuilt"
  strip --strip-debug -o "$ctx/.prebuilt/podguard" "$host_build/userspace/podguard"
  mode=prebuilt
fi

start=$(date +%s)
ccache_dir=${PODGUARD_CCACHE_DIR:-/var/cache/podguard/ccache}
mkdir -p "$ccache_dir"
"${builder[@]}" --quiet --network host --layers \
  --build-arg BASE="$base" --build-arg BUILD="$mode" --build-arg STACKS="$stacks" \
  --build-arg VERSION="$version" \
  -v "$ccache_dir":/ccache \
  -f "$here/Containerfile" -t "$ref" "$ctx" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$ref")
echo "built $ref in $(( $(date +%s) - start )) s ($mode build, stacks=$stacks): image size $(( size / 1000000 )) MB ($size bytes)"
echo "$ref"
