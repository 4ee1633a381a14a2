#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The in-kernel benchmark (make bench-kernel): boots UML once, loads
# buddy_alloc.ko (uml-run.sh does) and bench/buddy_bench.ko, whose init runs
# every measurement; prints its table from the kernel log on stdout; unloads both.
# bench/buddy_bench.c says what it measures and how.
#
#   scripts/bench-kernel.sh [PARAM=VALUE...]     buddy_bench.ko parameters
#
#   full size (default): about 5 minutes
#   smoke:  scripts/bench-kernel.sh order=14 ops=20000 w3_ops=2000 pair_ops=10000 reps=1
#
# Exits non-zero if the module fails to load or unload, a measurement could
# not run or did not add up, or the kernel log shows a warning.
set -euo pipefail

if [ "${1:-}" = --guest ]; then
	# Inside UML: $2 is the host file for the table, then the parameters.
	table=$2
	shift 2
	dmesg -C
	rc=0
	insmod "$BUDDY_MODDIR/bench/buddy_bench.ko" "$@" || rc=$?
	dmesg -t | sed -n 's/^buddy_bench: //p' > "$table"
	if grep -q '^buddy_bench ' /proc/modules; then
		rmmod buddy_bench || rc=$?
	fi
	if grep -Eq 'failed to run|^stopped' "$table"; then
		rc=1
	fi
	exit "$rc"
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
start=$(date +%s)


table=$(mktemp /tmp/buddy-bench.XXXXXX)
trap 'rm -f "$table"' EXIT
# W1 at 2^20 units splits gpu_buddy into 2^21 blocks of 80 bytes: 1G of guest
# memory leaves room for that and the operation arrays.
rc=0
"$repo"/scripts/uml-run.sh --mem 1G --timeout 3600 -- \
	"$0" --guest "$table" "$@" || rc=$?
cat "$table"
echo "bench-kernel: $(($(date +%s) - start)) s in all, exit $rc" >&2
exit "$rc"
