#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# buddy_alloc.ko on Debian's own kernels (make check-qemu): UML runs a kernel built
# here; this runs the distribution's 6.12 kernel, as users would, under qemu
# (TCG, no KVM), and builds the module against Debian's 6.12 and 6.1 headers.
# Stages:
#   build-6.1    buddy_alloc.ko built against bookworm's 6.1 headers with W=1
#   build-6.12   the same against the 6.12 headers qemu boots
#   default      the end-to-end tests (tests/), each program in a boot of its
#                own (scripts/qemu-run.sh), the module's default pool
#   reserved     the same with a 256 MiB pool reserved at boot: -m 1024,
#                memmap=256M$0x30000000, phys_base=0x30000000
#                pool_size=268435456 (e2e_params runs in `default` only: it
#                checks that rmmod gives the pool back to the page allocator)
#   blocks-1m    e2e_blocks on that reserved range as 2^20 units of 256 bytes,
#                every one of them live at once (debugfs blocks is bounded)
#
#   scripts/qemu-e2e.sh [--seed N] [--prog NAME]... [STAGE...]
#
# The test programs are built statically (the guest has only busybox) into
# build/qemu/tests with tests/Makefile.  A build stage passes when make
# prints no warning (nothing but Kbuild's "Skipping BTF generation" note).
# A program that prints no summary, or a boot that qemu-run.sh fails (insmod,
# rmmod, a warning in the kernel log), counts as one more failure.  Each
# program's own summary is shown as "# PROGRAM [STAGE]: N passed, N failed",
# and the run's duration as a "#" line, so the last line, "N passed,
# N failed", is the only bare one.  Exits non-zero on any failure.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/tally.sh
. "$repo/scripts/lib/tally.sh"
# shellcheck source=scripts/lib/result.sh
. "$repo/scripts/lib/result.sh"
cache=${BUDDY_CACHE:-/var/tmp/buddy}
out=$repo/build/qemu/tests
seed=""
stages=()
progs=()

while [ $# -gt 0 ]; do
	case "$1" in
	--seed) seed=$2; shift 2 ;;
	--prog) progs+=("$2"); shift 2 ;;
	-h | --help) sed -n '3,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	build-6.1 | build-6.12 | default | reserved | blocks-1m) stages+=("$1"); shift ;;
	*) echo "qemu-e2e: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ ${#stages[@]} -gt 0 ] || stages=(build-6.1 build-6.12 default reserved blocks-1m)
[ -n "$seed" ] || seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
if [ ${#progs[@]} = 0 ]; then
	# Make itself reads the list, continuation lines and all.
	read -ra progs <<<"$(printf 'print-progs:\n\t@echo $(PROGS)\n' |
		make -s --no-print-directory -C "$repo/tests" -f Makefile -f - print-progs)"
fi

start=$SECONDS
passed=0
failed=0
times=""

if ! "$repo"/scripts/qemu-deps.sh; then
	echo "# qemu-e2e: scripts/qemu-deps.sh failed"
	echo "0 passed, 1 failed"
	exit 1
fi
kver=$("$repo"/scripts/qemu-deps.sh kver)
echo "# qemu-e2e: Debian $kver under qemu (TCG), seed $seed" \
	"(replay: scripts/qemu-e2e.sh --seed $seed)"

# build KDIR: buddy_alloc.ko against a headers tree, W=1, every object rebuilt.
# Sets build_rc.
build_rc=""
build() {
	local kdir=$1 lock log rc
	lock=$cache/mod/.$(basename "$kdir").lock
	log=$(mktemp /tmp/buddy-qemu-e2e.XXXXXX)
	mkdir -p "$cache/mod"
	(
		flock 9
		BUDDY_MOD_REBUILD=1 "$repo"/scripts/build-module.sh headers "$kdir" W=1 \
			2>&1 >/dev/null
	) 9>"$lock" | grep -v '^Skipping BTF generation for .* due to unavailability of vmlinux$' >"$log"
	rc=${PIPESTATUS[0]}
	build_rc=$rc
	cat "$log"
	result "$([ "$rc" = 0 ] && [ ! -s "$log" ]; echo $?)" \
		"buddy_alloc.ko builds against $(basename "$kdir") with W=1, no warning"
	rm -f "$log"
}

# run STAGE PROGRAM [qemu-run.sh options]: one boot; adds to passed/failed.
run() {
	local stage=$1 prog=$2 label log rc start=$SECONDS
	shift 2
	label="$prog [$stage]"
	log=$(mktemp /tmp/buddy-qemu-e2e.XXXXXX)
	echo "# === $label"
	"$repo"/scripts/qemu-run.sh --timeout 600 "$@" -- "$out/$prog" "$seed" >"$log" 2>&1
	rc=$?
	tally "$label" "$log" "$rc" qemu-run.sh "$(runner_reason "$log" qemu-run.sh)"
	echo "# $label: $((SECONDS - start)) s (limit 600)"
	rm -f "$log"
}

built=""
mod612=""
e2e() {
	local stage=$1 prog
	shift
	if [ -z "$built" ]; then
		if ! make -s -C "$repo/tests" OUT="$out" LDFLAGS=-static; then
			result 1 "the e2e programs build statically"
			built=no
		else
			built=yes
		fi
	fi
	[ "$built" = yes ] || return
	if [ -n "$mod612" ] && [ "$mod612" != 0 ]; then
		result 1 "e2e [$stage]: not run, buddy_alloc.ko does not build for $kver"
		return
	fi
	for prog in "${progs[@]}"; do
		if [ ! -x "$out/$prog" ]; then
			result 1 "$prog: no such test program"
			continue
		fi
		[ "$stage" = reserved ] && [ "$prog" = e2e_params ] && continue
		[ "$stage" = blocks-1m ] && [ "$prog" != e2e_blocks ] && continue
		run "$stage" "$prog" "$@"
	done
}

for stage in "${stages[@]}"; do
	t=$SECONDS
	echo "# === stage $stage"
	case "$stage" in
	build-6.1) build "$("$repo"/scripts/qemu-deps.sh kdir-6.1)" ;;
	build-6.12)
		build "$("$repo"/scripts/qemu-deps.sh kdir)"
		mod612=$build_rc
		;;
	default) e2e default ;;
	reserved)
		# shellcheck disable=SC2016 # the $ is for the kernel, not the shell
		e2e reserved --mem 1024 --append 'memmap=256M$0x30000000' \
			--params "phys_base=0x30000000 pool_size=268435456"
		;;
	blocks-1m)
		# shellcheck disable=SC2016 # likewise
		e2e blocks-1m --mem 1024 --append 'memmap=256M$0x30000000' \
			--params "phys_base=0x30000000 pool_size=268435456 unit_size=256"
		;;
	esac
	times="$times, $stage $((SECONDS - t)) s"
done

echo "# qemu-e2e: took $((SECONDS - start)) s (${times#, })"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
