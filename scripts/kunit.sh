#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the KUnit suites under UML and print kunit.py's summary.
#
#   scripts/kunit.sh [--config FRAGMENT] [--seed N]
#
# The suites (buddy_core, buddy_core_stress, buddy_pool) are one module,
# kunit/buddy_kunit.ko, built against a cached UML kernel with CONFIG_KUNIT=y
# and CONFIG_MODULES=y: a change to our sources rebuilds the module in
# seconds and never the kernel.  kunit.py cannot drive
# module runs (it halts the kernel before userspace), so uml-run.sh boots UML,
# this script's guest half loads the module, and kunit.py parses the log.
set -euo pipefail

if [ "${1:-}" = --guest ]; then
	# Inside UML.  kunit.py parse reads only the first KTAP stream: clear
	# the log first, so the stream is ours.
	dmesg -C
	insmod "$BUDDY_MODDIR/kunit/buddy_kunit.ko" ${2:+seed=$2 pool_seed=$2}
	dmesg > "$BUDDY_RESULTS/kunit.log"
	rmmod buddy_kunit
	exit 0
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
config=$repo/scripts/configs/uml.config
seed=""
while [ $# -gt 0 ]; do
	case "$1" in
	--config) config=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	*) echo "usage: $0 [--config FRAGMENT] [--seed N]" >&2; exit 2 ;;
	esac
done

src=$("$repo"/scripts/kernel-tree.sh src)
log=$(mktemp /tmp/buddy-kunit.XXXXXX)
trap 'rm -f "$log"' EXIT
# The guest writes the log into BUDDY_RESULTS; copy it out before cleanup.
"$repo"/scripts/uml-run.sh --config "$config" -- /bin/sh -c \
	"'$0' --guest '$seed' && cp \"\$BUDDY_RESULTS/kunit.log\" '$log'"
python3 "$src/tools/testing/kunit/kunit.py" parse "$log"
