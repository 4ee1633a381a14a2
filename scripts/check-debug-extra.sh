#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The sanitizer-kernel tests of the "Hardening" issue, each program in a boot
# of its own of the debug UML kernel (scripts/configs/uml-debug.config: KASAN,
# UBSAN, lockdep, kmemleak, failslab, fail_page_alloc):
#
#   fault_inject  every allocation of the load (finit_module, so the boot is
#                 uml-run.sh --no-insmod), of open, ALLOC, FREE, BATCH, mmap
#                 and close failed one at a time through fail-nth; then
#                 kmemleak scans after the program unloaded the module
#   ioctl_fuzz    the random ioctl/mmap fuzzer, checked against its model
#
#   scripts/check-debug-extra.sh [--seconds S] [--seed N]
#                                [--fi-params "k=v ..."]... [--fuzz-params "k=v ..."]...
#                                [fault_inject | ioctl_fuzz]...
#
#   --seconds S        the fuzzer's run time per parameter set (default 60)
#   --seed N           the fuzzer's seed (default: a new one, printed)
#   --fi-params "..."  a parameter set for fault_inject (repeatable; default
#                      the module's defaults and unit_size=64, whose metadata
#                      is above a page: kvmalloc's vmalloc fallback)
#   --fuzz-params "..."  a parameter set for the fuzzer (repeatable; default
#                      the module's defaults, and unit_size=1024 core=tree:
#                      EXACT extents that end inside a page, the tree core)
#
# uml-run.sh fails a boot whose kernel log has a warning or a sanitizer
# report, or where kmemleak finds a leak: that counts as one more failure.
# Each program's summary shows as "# PROGRAM [PARAMS]: N passed, N failed";
# the last line, "N passed, N failed", sums them.  Exit status non-zero on
# any failure.  (The UML console ends lines with CR LF; the CRs are dropped.)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/tally.sh
. "$repo/scripts/lib/tally.sh"
out=$repo/build/debug-extra
config=$repo/scripts/configs/uml-debug.config
seconds=60
seed=""
fi_sets=()
fuzz_sets=()
progs=()

while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--fi-params) fi_sets+=("$2"); shift 2 ;;
	--fuzz-params) fuzz_sets+=("$2"); shift 2 ;;
	-h|--help) sed -n '3,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "check-debug-extra: unknown option $1" >&2; exit 2 ;;
	fault_inject|ioctl_fuzz) progs+=("$1"); shift ;;
	*) echo "check-debug-extra: unknown program $1" >&2; exit 2 ;;
	esac
done
[ ${#fi_sets[@]} -gt 0 ] || fi_sets=("" "unit_size=64")
[ ${#fuzz_sets[@]} -gt 0 ] || fuzz_sets=("" "unit_size=1024 core=tree")
[ ${#progs[@]} -gt 0 ] || progs=(fault_inject ioctl_fuzz)
[ -n "$seed" ] || seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')

passed=0
failed=0
# kmemleak's hex dump of the leaked name (see fault_inject below).
slub_name_leak='62 75 64 64 79 5f 62 6c 6f 63 6b 00 00 00 00 00  buddy_block.....'

# tests/Makefile's pattern rule builds any tests/NAME.c with e2e.o.
if ! make -s -C "$repo/tests" OUT="$out" "$out/fault_inject" "$out/ioctl_fuzz"; then
	echo "# check-debug-extra: building the programs failed"
	echo "0 passed, 1 failed"
	exit 1
fi

# run LABEL UML-RUN-OPTIONS... -- PROGRAM ARGS...: one boot; adds up.
run() {
	local label=$1 log rc start
	shift
	log=$(mktemp /tmp/buddy-debug-extra.XXXXXX)
	echo "# === $label"
	start=$SECONDS
	"$repo"/scripts/uml-run.sh --config "$config" "$@" 2>&1 | tr -d '\r' >"$log"
	rc=${PIPESTATUS[0]}
	echo "# $label: $((SECONDS - start)) s"
	tally "$label" "$log" "$rc" uml-run.sh
	rm -f "$log"
}

for prog in "${progs[@]}"; do
	case "$prog" in
	fault_inject)
		# Every injected fault logs a stack trace: keep the whole log.
		# A fault injected while kmem_cache_create() adds the buddy_block
		# cache to sysfs leaks the kobject's name, the 16-byte string
		# "buddy_block": 6.12's mm/slub.c sysfs_slab_add() returns when
		# kobject_init_and_add() or sysfs_create_group() fails without
		# the kobject_put() that frees it.  That one report is accepted.
		for params in "${fi_sets[@]}"; do
			run "fault_inject [${params:-defaults}]" --no-insmod \
				--params "$params" --cmdline log_buf_len=8M \
				--known-leak "$slub_name_leak" \
				--timeout 900 -- "$out/fault_inject"
		done
		;;
	ioctl_fuzz)
		for params in "${fuzz_sets[@]}"; do
			run "ioctl_fuzz [${params:-defaults}]" --params "$params" \
				--timeout $((${seconds%.*} + 300)) -- \
				"$out/ioctl_fuzz" --seconds "$seconds" --seed "$seed"
		done
		;;
	esac
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
