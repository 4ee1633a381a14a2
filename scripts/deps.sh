#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages buddy needs, then unpack the kernel tree into
# the cache.  Idempotent: with everything present it only checks (~1 s).
set -euo pipefail

packages=(
	# the kernel tree and what building it needs
	linux-source-6.12 build-essential flex bison bc libelf-dev libssl-dev
	python3 perl kmod cpio xz-utils
	# checks: sparse (make C=1), userspace sanitizers and benchmarks
	sparse gcc clang valgrind
	# buddyctl's tests: the SVG parsed by xmllint, the man page by groff
	libxml2-utils groff-base
	# clang's sanitizer and libFuzzer runtimes (make fuzz): only recommended
	# by clang-14, so not pulled in by --no-install-recommends
	libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}" >&2
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2
fi
"$(dirname "$0")"/kernel-tree.sh src >/dev/null
