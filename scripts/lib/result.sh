# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by the runners that count their own checks (scripts/lint.sh,
# scripts/qemu-e2e.sh, scripts/install-check.sh, tests/buddyctl-golden.sh).

# result STATUS WHAT: "ok - WHAT" and one more in $passed when STATUS is 0,
# else "not ok - WHAT" and one more in $failed.
result() {
	if [ "$1" = 0 ]; then
		passed=$((passed + 1))
		echo "ok - $2"
	else
		failed=$((failed + 1))
		echo "not ok - $2"
	fi
}
