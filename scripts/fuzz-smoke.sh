#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A short libFuzzer run of the core against its model (fuzz/), for make
# check: long runs are `make fuzz FUZZ_RUNS=...`.  One check: the run ends
# with no crash and no failed model check.  Ends with "N passed, N failed".
#
#   scripts/fuzz-smoke.sh [SECONDS]     (default 5)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
if make -s -C "$repo/fuzz" run FUZZ_SECONDS="${1:-5}" 2>&1 | tail -4; then
	echo "ok - core_fuzz for ${1:-5} s: no crash, no failed check"
	echo "1 passed, 0 failed"
	exit 0
fi
echo "not ok - core_fuzz found a failing input (see build/fuzz/crash-*)"
echo "0 passed, 1 failed"
exit 1
