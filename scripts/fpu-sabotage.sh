#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Can the FPU check (scripts/fpu-check.sh) fail?  Build UML with the size
# fix of scripts/patches/ undone or broken in four ways, and run the check
# on each; every broken kernel must fail it, not only panic.
#
#   revert          patch 0001 only: Debian's fixed 2696-byte buffer.  On a
#                   host whose XSAVE area is at most 2696 bytes (no AMX) it
#                   works, and the check passes: the breakage needs a host
#                   with more state than the buffer, which the next one
#                   makes on any host.
#   unpatched-small Debian's code with a 512-byte buffer, smaller than any
#                   XSAVE host's area: what an AMX host does to the 2696
#                   bytes.  Must fail ("ptrace set fp regs failed").
#   small-buffer    both patches, with a 64-byte buffer: the patched
#                   kernel must refuse to boot with its one line.
#   fxsave-only     both patches, but state moved with PTRACE_GETFPREGS
#                   (the 512-byte FXSAVE area): boots, and loses the upper
#                   halves of the ymm registers.  Must fail on a host with
#                   AVX, with the register named.
#
#   scripts/fpu-sabotage.sh [VARIANT...]
#
# Builds in its own cache ($BUDDY_CACHE-sabotage, default
# /var/tmp/buddy-sabotage), so the real build and source tree stay as they
# are: the first variant takes a full UML build (about 5 minutes on 2
# cores), each next one starts from it.  Not part of make check.  Ends with
# "N passed, N failed": a variant passes when the check did what it should.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export BUDDY_CACHE=${BUDDY_CACHE:-/var/tmp/buddy}-sabotage
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(revert unpatched-small small-buffer fxsave-only)
sab=$repo/tests/fpu-sabotage
passed=0
failed=0

for v in "${variants[@]}"; do
	dir=$BUDDY_CACHE/patches-$v
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$repo"/scripts/patches/0001-*.patch "$dir"/
	case "$v" in
	revert) want=pass ;;
	unpatched-small)
		cp "$sab/unpatched-small-buffer.patch" "$dir/0002-sabotage.patch"
		want="ptrace set fp regs failed|passes a fixed 2696"
		;;
	small-buffer)
		cp "$repo"/scripts/patches/0002-*.patch "$dir"/
		cp "$sab/small-buffer.patch" "$dir/0003-sabotage.patch"
		want="this kernel supports at most 64$"
		;;
	fxsave-only)
		cp "$repo"/scripts/patches/0002-*.patch "$dir"/
		cp "$sab/fxsave-only.patch" "$dir/0003-sabotage.patch"
		want="not ok - thread [0-9]+ [a-z]+: iteration [0-9]+: [xyz]mm[0-9]+ byte"
		;;
	*) echo "fpu-sabotage: unknown variant $v" >&2; exit 2 ;;
	esac
	echo "=== $v"
	if ! BUDDY_PATCHES=$dir "$repo/scripts/kernel-tree.sh" uml >/dev/null; then
		echo "not ok - $v: the kernel did not build"
		failed=$((failed + 1))
		continue
	fi
	log=$(BUDDY_PATCHES=$dir "$repo/scripts/fpu-check.sh" --iterations 20 2>&1)
	rc=$?
	grep -E '^(not ok|# fpu_state|uml-run:)' <<<"$log" | head -5
	if [ "$want" = pass ] && [ $rc = 0 ]; then
		echo "ok - $v: the check passes, as it must on this host"
		passed=$((passed + 1))
	elif [ "$want" != pass ] && [ $rc != 0 ] && grep -Eq "$want" <<<"$log"; then
		echo "ok - $v: the check fails, as it must"
		passed=$((passed + 1))
	else
		echo "not ok - $v: wanted ${want/pass/a pass}, the check exited $rc"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
