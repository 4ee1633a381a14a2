#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build buddy_alloc.ko (and the KUnit module where the kernel has KUnit, the
# bench module where it has gpu_buddy)
# against one kernel, in a directory of its own, so that builds for several
# kernels (UML, UML debug, Debian's headers) never share object files.  The
# directory mirrors the sources with symlinks; Kbuild writes only there.
#
#   scripts/build-module.sh um KBUILD       UML: KBUILD from kernel-tree.sh uml
#   scripts/build-module.sh headers KDIR    a headers tree (Debian's packages)
#
# Extra arguments after these go to make (W=1, C=1, ...).  Prints the output
# directory on stdout.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${BUDDY_CACHE:-/var/tmp/buddy}
kind=${1:?usage: $0 um KBUILD | headers KDIR [make args]}
kdir=${2:?usage: $0 um KBUILD | headers KDIR [make args]}
shift 2

# One directory per kernel and per checkout: two clones never share links.
out=$cache/mod/$(basename "$kdir")-$(echo "$repo" | sha256sum | cut -c1-8)
mkdir -p "$out"
# Mirror the sources; drop links to files that no longer exist.
(cd "$repo" && cp -rsf "$repo"/Kbuild "$repo"/*.[ch] "$repo"/kunit "$repo"/include \
	"$repo"/bench "$out"/)
mkdir -p "$out/tests"
cp -rsf "$repo"/tests/kmod "$out/tests/"
find "$out" -xtype l -delete
# A full rebuild, so warnings (W=1, sparse) of unchanged files show again.
[ -z "${BUDDY_MOD_REBUILD:-}" ] || find "$out" -name '*.o' -delete

case "$kind" in
um)
	src=$("$repo"/scripts/kernel-tree.sh src)
	make -s -C "$src" O="$kdir" ARCH=um M="$out" "$@" modules >&2
	;;
headers)
	make -s -C "$kdir" M="$out" "$@" modules >&2
	;;
*)
	echo "build-module.sh: unknown kind $kind" >&2
	exit 2
	;;
esac
echo "$out"
