# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by the runners that boot a kernel per test program
# (tests/run-e2e.sh, scripts/qemu-e2e.sh, scripts/smp-stress.sh,
# scripts/check-debug-extra.sh) to add one program's log to their counts.

# runner_reason LOG RUNNER: the boot script's own one-line reason in LOG
# ("uml-run: ...", "qemu-run: ...": a timeout, insmod, rmmod, a kernel
# report), without the kernel log it announces; empty if it found none.
runner_reason() {
	grep -m1 "^${2%.sh}: " "$1" | sed 's/; kernel log.*$//'
}

# tally LABEL LOG RC RUNNER [WHY]: print LOG with its closing "N passed,
# N failed" line relabelled "# LABEL: ...", and add that line to $passed
# and $failed.  One more failure each for: no such line; a reason WHY (a
# kernel report the boot script found, counted even when checks failed
# too); RUNNER (the boot script) exiting with status RC != 0 though every
# check passed.
tally() {
	local label=$1 log=$2 rc=$3 runner=$4 why=${5:-} summary p f last

	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	sed -E "s/^([0-9]+ passed, [0-9]+ failed)$/# $label: \1/" "$log"
	if [ -z "$summary" ]; then
		# Where the output stopped: a hang, a crash, or lost output.
		last=$(grep -v '^[[:space:]]*$' "$log" | tail -1 | cut -c1-160)
		echo "not ok - $label: no summary line (status $rc)${why:+: $why}; last line: $last"
		failed=$((failed + 1))
		return
	fi
	read -r p _ f _ <<<"$summary"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ -n "$why" ]; then
		echo "not ok - $label: $why"
		failed=$((failed + 1))
	elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - $label: $runner failed (status $rc) though every check passed"
		failed=$((failed + 1))
	fi
}
