#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the /dev/buddy end-to-end tests and run them inside UML, each program
# in a boot of its own (scripts/uml-run.sh loads buddy_alloc.ko with the parameter
# set, runs the program, unloads), then print one line "N passed, N failed"
# summing every program's checks.  Exits non-zero on any failure.  (The UML
# console ends lines with CR LF; the CRs are dropped.)
#
#   tests/run-e2e.sh [--seed N] [--params "k=v ..."]... [--config FRAGMENT]
#                    [PROGRAM...]
#
#   --seed N          seed for the randomised tests (default: a new one, logged)
#   --params "..."    a parameter set to run under (repeatable; default: the
#                     module's defaults, pool_size=1048576, unit_size=1024,
#                     core=tree, and for e2e_mmap and e2e_dmabuf also
#                     unit_size=64 pool_size=65536)
#   --config FRAGMENT UML config fragment for scripts/uml-run.sh (e.g.
#                     scripts/configs/uml-debug.config: KASAN, UBSAN, lockdep,
#                     kmemleak; its first build takes a while)
#   PROGRAM           e2e_ioctl e2e_files e2e_threads e2e_fill e2e_params
#                     e2e_mmap e2e_batch e2e_quota e2e_blocks e2e_buddyctl
#                     e2e_dmabuf e2e_placement (default: all; e2e_params runs once, with
#                     the defaults)
#
# A program that prints no summary, or a boot that uml-run.sh fails (insmod,
# rmmod, a warning or sanitizer report in the kernel log, a leak), counts as
# one more failure, also when some of the program's checks failed.  Each
# program's own summary is shown as "# PROGRAM [PARAMS]: N passed, N failed",
# so that the last line is the only bare one.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/tally.sh
. "$repo/scripts/lib/tally.sh"
out=$repo/build/tests
seed=""
config=""
param_sets=()
progs=()
all_progs=(e2e_ioctl e2e_files e2e_threads e2e_fill e2e_params e2e_mmap
	   e2e_batch e2e_quota e2e_blocks e2e_buddyctl e2e_dmabuf e2e_placement)
# Sets a program runs under too when --params is not given.
declare -A extra_sets=([e2e_mmap]="unit_size=64 pool_size=65536"
		       [e2e_dmabuf]="unit_size=64 pool_size=65536")

while [ $# -gt 0 ]; do
	case "$1" in
	--seed) seed=$2; shift 2 ;;
	--params) param_sets+=("$2"); shift 2 ;;
	--config) config=$2; shift 2 ;;
	-h|--help) sed -n '3,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run-e2e: unknown option $1" >&2; exit 2 ;;
	*) progs+=("$1"); shift ;;
	esac
done
default_sets=0
if [ ${#param_sets[@]} = 0 ]; then
	param_sets=("" "pool_size=1048576" "unit_size=1024" "core=tree")
	default_sets=1
fi
uml_args=()
if [ -n "$config" ]; then
	[ -f "$config" ] || { echo "run-e2e: $config: no such config fragment" >&2; exit 2; }
	uml_args=(--config "$(cd "$(dirname "$config")" && pwd)/$(basename "$config")")
fi
[ ${#progs[@]} -gt 0 ] || progs=("${all_progs[@]}")
[ -n "$seed" ] || seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')

passed=0
failed=0

if ! make -s -C "$repo/tests" OUT="$out"; then
	echo "# run-e2e: building the tests failed"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "# run-e2e: seed $seed (replay: tests/run-e2e.sh --seed $seed${config:+ --config $config})"

# run PARAMS PROGRAM: one UML boot; adds to passed/failed.
run() {
	local params=$1 prog=$2 label log rc start=$SECONDS
	label="$prog [${params:-defaults}]"
	log=$(mktemp /tmp/buddy-e2e.XXXXXX)
	echo "# === $label"
	"$repo"/scripts/uml-run.sh "${uml_args[@]}" --params "$params" --timeout 300 -- \
		"$out/$prog" "$seed" 2>&1 | tr -d '\r' >"$log"
	rc=${PIPESTATUS[0]}
	# insmod, rmmod, a kernel warning or sanitizer report, a leak
	tally "$label" "$log" "$rc" uml-run.sh "$(runner_reason "$log" uml-run.sh)"
	# Against the 300 s limit: a program near it fails on a slower host.
	echo "# $label: $((SECONDS - start)) s"
	rm -f "$log"
}

for prog in "${progs[@]}"; do
	if [ ! -x "$out/$prog" ]; then
		echo "not ok - $prog: no such test program"
		failed=$((failed + 1))
		continue
	fi
	if [ "$prog" = e2e_params ]; then
		run "" "$prog"
		continue
	fi
	sets=("${param_sets[@]}")
	if [ "$default_sets" = 1 ] && [ -n "${extra_sets[$prog]:-}" ]; then
		sets+=("${extra_sets[$prog]}")
	fi
	for params in "${sets[@]}"; do
		run "$params" "$prog"
	done
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
