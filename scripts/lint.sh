#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Kernel style gates, one result per check: checkpatch --strict on every
# kernel source, and a full module build with W=1 and sparse (C=2) that must
# print no warning.  Ends with "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
src=$(scripts/kernel-tree.sh src) || exit 1
# shellcheck source=scripts/lib/result.sh
. "$repo/scripts/lib/result.sh"
passed=0
failed=0

for f in buddy_core.c buddy_core.h buddy_core_ops.h buddy_tree.c buddy_tree.h buddy_pool.c buddy_pool.h buddy_mod.c buddy_dmabuf.c buddy_dmabuf.h include/uapi/linux/buddy.h kunit/*.c bench/buddy_bench.c tests/kmod/*.c; do
	out=$(perl "$src/scripts/checkpatch.pl" --strict --no-tree --terse -f "$f" 2>&1 |
		grep -E 'ERROR|WARNING|CHECK')
	[ -z "$out" ] || echo "$out"
	result "$([ -z "$out" ]; echo $?)" "checkpatch --strict $f"
done

# The kernel patches, as patches: checkpatch checks their commit messages
# too (Signed-off-by).  By absolute path: in this git tree checkpatch takes
# a relative one for a source file.
for p in "$repo"/scripts/patches/*.patch; do
	out=$(perl "$src/scripts/checkpatch.pl" --strict --no-tree --terse "$p" 2>&1 |
		grep -E 'ERROR|WARNING|CHECK')
	[ -z "$out" ] || echo "$out"
	result "$([ -z "$out" ]; echo $?)" "checkpatch --strict scripts/patches/$(basename "$p")"
done

build=$(scripts/kernel-tree.sh uml) || exit 1
out=$(BUDDY_MOD_REBUILD=1 scripts/build-module.sh um "$build" W=1 C=2 2>&1 >/dev/null)
rc=$?
[ -z "$out" ] || echo "$out"
result "$([ $rc = 0 ] && [ -z "$out" ]; echo $?)" "buddy_alloc.ko builds with W=1 and sparse, no warning"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
