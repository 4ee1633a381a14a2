# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# Sourced by the shell tests that run inside a guest (tests/e2e_buddyctl.sh
# in UML, tests/install-guest.sh in qemu's busybox sh): POSIX sh only.

passed=0
failed=0

# check WHAT CMD...: runs CMD; "ok - WHAT" if it succeeds, else "not ok".
check() {
	what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok - $what"
	else
		failed=$((failed + 1))
		echo "not ok - $what"
	fi
}

# The closing line; the exit status the test should end with.
check_done() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
