#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Record the debugfs files of a fragmented pool into DIR, for the golden
# tests (tests/buddyctl-golden.sh): three holders, the middle one's blocks
# interleaved with the first's.  Run inside UML with the default pool:
#
#   scripts/uml-run.sh -- tests/buddyctl/record.sh BUILD/buddyctl DIR
set -eu
ctl=$1
dir=$2
mkdir -p "$dir"
pids=()
hold() {
	"$ctl" alloc "$@" --hold >/tmp/record.$$.out &
	pids+=($!)
	until grep -q '^holding' /tmp/record.$$.out 2>/dev/null; do sleep 0.1; done
}
hold 4K 4K 16K 64K 3000
hold 8K 128K 4K 1M
hold 256K 12K 512K
for f in stats buddyinfo unusable_index blocks; do
	cp /sys/kernel/debug/buddy/$f "$dir/$f"
done
kill -INT "${pids[@]}"
wait
rm -f /tmp/record.$$.out
