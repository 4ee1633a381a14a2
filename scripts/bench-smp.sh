#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The SMP benchmark (make bench-smp): bench/bench_smp.c on Debian's own 6.12
# in qemu -smp 2 (scripts/qemu-run.sh), 1 and 2 threads, batches and single
# ioctls, per-CPU caches on and off in one boot, beside a getppid() loop as
# the host's ceiling.  bench_smp.c says what it measures.
#
#   scripts/bench-smp.sh [--seconds S] [--runs N]
#
# qemu runs with -name buddy-bench-smp-PID,debug-threads=on, so that its
# threads carry names: with multi-threaded TCG each vCPU has its own thread
# ("CPU 0/TCG", "CPU 1/TCG"), with single-threaded TCG one thread runs both
# ("ALL CPUs/TCG").  The script prints the host's thread list of that qemu
# while the benchmark runs, each thread's CPU time at the end, and fails if
# the vCPUs did not have a thread each.  Exits non-zero if the benchmark
# failed or the check did.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/build/qemu
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds | --runs) args+=("$1" "$2"); shift 2 ;;
	-h | --help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-smp: unknown argument $1" >&2; exit 2 ;;
	esac
done

mkdir -p "$out"
${CC:-cc} -O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$repo/include/uapi" \
	-pthread -static -o "$out/bench_smp" "$repo/bench/bench_smp.c" || exit 1

name=buddy-bench-smp-$$
log=$(mktemp /tmp/buddy-bench-smp.XXXXXX)
threads=$(mktemp /tmp/buddy-bench-smp-threads.XXXXXX)
trap 'rm -f "$log" "$threads"' EXIT
start=$SECONDS
"$repo"/scripts/qemu-run.sh --mem 1024 --timeout 1800 \
	--qemu-args "-name $name,debug-threads=on" -- \
	"$out/bench_smp" "${args[@]}" >"$log" 2>&1 &
runner=$!

# Find our qemu by its -name, then sample its threads while the guest works.
qpid=""
for _ in $(seq 1 120); do
	# qemu itself, not the scripts whose arguments hold the same words.
	for p in $(pgrep -f -- "-name $name,"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = qemu-system-x86 ] && qpid=$p
	done
	[ -n "$qpid" ] && break
	kill -0 "$runner" 2>/dev/null || break
	sleep 0.5
done
if [ -n "$qpid" ]; then
	sleep 3	# qemu creates its vCPU threads at start
	for t in /proc/"$qpid"/task/*; do
		printf '%s %s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)"
	done >"$threads"
	# Each thread's CPU seconds (utime + stime) while it still runs.
	while kill -0 "$qpid" 2>/dev/null; do
		while read -r tid comm; do
			st=/proc/$qpid/task/$tid/stat
			[ -r "$st" ] || continue
			# Fields after the "(comm)": utime is 14th, stime 15th overall.
			cpu=$(sed -E 's/^.*\) //' "$st" | awk '{ print $12 + $13 }')
			echo "$tid $cpu $comm"
		done <"$threads" >"$threads.cpu.new" 2>/dev/null
		mv -f "$threads.cpu.new" "$threads.cpu"
		sleep 2
	done
fi
wait "$runner"
rc=$?
cat "$log"
hz=$(getconf CLK_TCK)
echo
echo "# qemu -smp 2 (pid ${qpid:-?}), thread list on the host during the run: tid, name, CPU seconds by the last sample"
vcpu_threads=0
if [ -s "$threads" ]; then
	while read -r tid comm; do
		cpu=$(awk -v t="$tid" -v hz="$hz" '$1 == t { printf "%.1f", $2 / hz }' "$threads.cpu" 2>/dev/null)
		echo "#   $tid  $comm  ${cpu:-?} s"
	done <"$threads"
	vcpu_threads=$(grep -cE ' CPU [0-9]+/TCG$' "$threads")
fi
rm -f "$threads.cpu"
if [ "$vcpu_threads" = 2 ]; then
	echo "# multi-threaded TCG: 2 vCPU threads (CPU 0/TCG, CPU 1/TCG)"
else
	echo "# NOT multi-threaded TCG: $vcpu_threads 'CPU N/TCG' threads"
	rc=1
fi
echo "# bench-smp: $((SECONDS - start)) s in all, exit $rc"
exit "$rc"
