#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmarks at smoke size, for make check: each must build, run to its
# end and print its table.  Nothing is timed against anything here (the
# figures are docs/PERFORMANCE.md's, from the full runs).  One check per
# benchmark; ends with "N passed, N failed".
#
#   scripts/bench-smoke.sh
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0

# smoke NAME MARKER COMMAND...: COMMAND exits 0 and prints a line matching
# the extended regex MARKER (its table's last part).
smoke() {
	local name=$1 marker=$2 log rc start=$SECONDS
	shift 2
	log=$(mktemp /tmp/buddy-bench-smoke.XXXXXX)
	"$@" >"$log" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -Eq -- "$marker" "$log"; then
		echo "ok - $name runs and prints its table ($((SECONDS - start)) s)"
		passed=$((passed + 1))
	else
		tail -n 30 "$log"
		echo "not ok - $name (exit $rc, or no line matching \"$marker\")"
		failed=$((failed + 1))
	fi
	rm -f "$log"
}

smoke bench-core '^tree: scaling sweep' \
	make -s -C "$repo" bench-core \
	BENCH_CORE_ARGS="order=14 ops=20000 w3_ops=2000 sweep_ops=2000 sweep_min=12 sweep_max=13 reps=1"
smoke placement '^\| buddy_core \(bitmap\) +\| +95% ' \
	make -s -C "$repo/bench" placement PLACEMENT_ARGS="1 20000"
smoke bench-kernel '^done in [0-9]+ ms' \
	make -s -C "$repo" bench-kernel \
	BENCH_ARGS="order=14 ops=20000 w3_ops=2000 pair_ops=10000 reps=1"
smoke bench-ioctl '^batch 256 ' \
	make -s -C "$repo" bench-ioctl BENCH_IOCTL_OPS=2000
smoke bench-smp '^# multi-threaded TCG: 2 vCPU threads' \
	make -s -C "$repo" bench-smp BENCH_SMP_ARGS="--seconds 0.2 --runs 1"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
