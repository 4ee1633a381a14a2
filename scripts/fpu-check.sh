#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Does UML keep its processes' FPU state on this host?  (scripts/patches/
# size UML's XSAVE buffer for the host; this is the test of that.)
#
#   1. tests/fpu_state in UML: the vector registers (SSE, AVX, AVX-512 as the
#      CPU has them) loaded with a pattern survive yields between threads,
#      sleeps, signals, page faults and fork, checked after each;
#   2. uml-run.sh's own messages for a UML that cannot run on this host,
#      from a stand-in kernel that prints what such a kernel prints: the
#      unpatched kernel's "ptrace set fp regs failed", and the patched one's
#      refusal of an XSAVE area larger than its buffer.  Each must end in
#      one line naming the sizes, not in "UML ended".
#
#   scripts/fpu-check.sh [--config FRAGMENT] [--threads N] [--iterations N]
#
# Ends with "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/tally.sh
. "$repo/scripts/lib/tally.sh"
config=$repo/scripts/configs/uml.config
threads=4
iterations=100
while [ $# -gt 0 ]; do
	case "$1" in
	--config) config=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--iterations) iterations=$2; shift 2 ;;
	*) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

out=$repo/build/tests
make -s -C "$repo/tests" OUT="$out" "$out/fpu_state" || exit 1
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"; rm -rf "$fake"' EXIT

# The real run, on this host's CPU.
"$repo/scripts/uml-run.sh" --no-insmod --config "$config" -- \
	"$out/fpu_state" --threads "$threads" --iterations "$iterations" \
	2>&1 | tr -d '\r' >"$log"
tally "fpu_state $(basename "$config" .config)" "$log" "${PIPESTATUS[0]}" uml-run.sh

# The messages, from stand-ins that print what a kernel that cannot run
# here prints and die as it does, or (timeout) never end.
fake=$(mktemp -d)
# expect_message NAME STAND-IN-BODY WANT [uml-run.sh options]
expect_message() {
	local name=$1 body=$2 want=$3 got
	shift 3
	printf '#!/bin/sh\n%s\n' "$body" >"$fake/$name"
	chmod +x "$fake/$name"
	got=$(BUDDY_UML_LINUX=$fake/$name "$repo/scripts/uml-run.sh" --no-insmod \
		--config "$config" "$@" -- /bin/true 2>&1 | grep '^uml-run: ' || true)
	if grep -Eq "$want" <<<"$got"; then
		echo "ok - $name: $got"
		passed=$((passed + 1))
	else
		echo "not ok - $name: wanted /$want/, got: ${got:-nothing}"
		failed=$((failed + 1))
	fi
}
expect_message unpatched-on-amx \
	"echo 'userspace - ptrace set fp regs failed, errno = 14'; exit 134" \
	"XSAVE area is [0-9]+ bytes and this UML kernel .* passes a fixed 2696; build it with scripts/patches/"
expect_message buffer-too-small \
	"echo \"UML: the host's FPU state (XSAVE) is 20480 bytes, this kernel supports at most 12288\"; exit 134" \
	"^uml-run: UML: the host's FPU state \(XSAVE\) is 20480 bytes, this kernel supports at most 12288$"
# Not an FPU message, but the same script's: a kernel that outlives --timeout.
expect_message timeout "exec sleep 60" \
	"^uml-run: UML was still running after --timeout 2 s: killed" --timeout 2

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
