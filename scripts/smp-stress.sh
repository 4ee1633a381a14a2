#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# SMP stress of /dev/buddy on Debian's own 6.12 kernel under qemu (TCG,
# -smp 2), through scripts/qemu-run.sh: tests/smp_stress.c, several
# processes of several threads allocating, mapping, stamping, verifying and
# freeing at once (see its header).  Stages:
#   default    the module's default pool (4 MiB of 4 KiB units)
#   reserved   a 256 MiB pool reserved at boot: -m 1024,
#              memmap=256M$0x30000000, phys_base=0x30000000
#              pool_size=268435456 (as scripts/qemu-e2e.sh does)
#   hotplug    the default pool while CPU 1 goes offline and back once a
#              second and the per-CPU caches are turned off and on at
#              runtime (scripts/lib/smp-hotplug.sh, the guest half): each
#              offline must leave CPU 1's cache empty, each caches-off
#              every cache
#
#   scripts/smp-stress.sh [--seconds S] [--seed N] [--procs N] [--threads N]
#                         [STAGE...]
#
# smp_stress is built statically (the guest has only busybox) into
# build/qemu.  qemu-run.sh fails a boot whose kernel log has a warning, BUG,
# Oops or lockdep/KASAN/UBSAN report, or whose insmod or rmmod failed; that
# counts as one more failure, as does a run that prints no summary.  Each
# run's summary shows as "# smp_stress [STAGE]: N passed, N failed"; the last
# line, "N passed, N failed", adds them up.  Exits non-zero on any failure.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/tally.sh
. "$repo/scripts/lib/tally.sh"
out=$repo/build/qemu
seconds=30
seed=""
extra=()
stages=()

while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--procs | --threads) extra+=("$1" "$2"); shift 2 ;;
	-h | --help) sed -n '3,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	default | reserved | hotplug) stages+=("$1"); shift ;;
	*) echo "smp-stress: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ ${#stages[@]} -gt 0 ] || stages=(default reserved hotplug)
[ -n "$seed" ] || seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')

passed=0
failed=0
start=$SECONDS

mkdir -p "$out"
if ! ${CC:-cc} -O2 -g -std=gnu11 -Wall -Wextra -Werror -I"$repo/include/uapi" \
	-pthread -static -o "$out/smp_stress" "$repo/tests/smp_stress.c"; then
	echo "not ok - smp_stress builds statically"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "# smp-stress: seed $seed, $seconds s a stage (replay: scripts/smp-stress.sh --seed $seed)"

# run STAGE [qemu-run.sh options] [-- GUEST COMMAND]: one boot (by default
# smp_stress alone); adds to passed/failed.
run() {
	local stage=$1 label log rc t=$SECONDS opts=() cmd
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	if [ $# -gt 0 ]; then
		shift
		cmd=("$@")
	else
		cmd=("$out/smp_stress" --seconds "$seconds" --seed "$seed" "${extra[@]}")
	fi
	label="smp_stress [$stage]"
	log=$(mktemp /tmp/buddy-smp-stress.XXXXXX)
	echo "# === $label"
	"$repo"/scripts/qemu-run.sh --timeout $((seconds + 600)) "${opts[@]}" -- \
		"${cmd[@]}" >"$log" 2>&1
	rc=$?
	echo "# $label: boot and run took $((SECONDS - t)) s"
	tally "$label" "$log" "$rc" qemu-run.sh
	rm -f "$log"
}

for stage in "${stages[@]}"; do
	case "$stage" in
	default) run default ;;
	reserved)
		# shellcheck disable=SC2016 # the $ is for the kernel, not the shell
		run reserved --mem 1024 --append 'memmap=256M$0x30000000' \
			--params "phys_base=0x30000000 pool_size=268435456"
		;;
	hotplug)
		run hotplug -- "$repo/scripts/lib/smp-hotplug.sh" "$out/smp_stress" \
			"$seconds" "$seed" "${extra[@]}"
		;;
	esac
done

echo "# smp-stress: took $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
