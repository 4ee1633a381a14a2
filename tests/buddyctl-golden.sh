#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# buddyctl in userspace, no kernel (the `tools` stage of scripts/check.sh):
#   - golden output: each case of tests/buddyctl/cases runs buddyctl on a
#     directory of debugfs files (tests/buddyctl/FIXTURE: written by hand,
#     or recorded in UML by tests/buddyctl/record.sh) and must print exactly
#     tests/buddyctl/expected/NAME and exit with the status the case says;
#   - every SVG parses (xmllint) with an svg root in the SVG namespace and
#     one row per order, whose free counts are the fixture's buddyinfo;
#     every --json output parses (python3); every error is one line;
#   - a generated pool of 2^20 units, every one a live block of one of
#     three owners: map and map --svg read it, draw it full and finish
#     (the time is printed, not judged);
#   - the man page formats with no groff warning and names every command
#     and option of buddyctl --help.
#
#   tests/buddyctl-golden.sh [--update]    --update rewrites expected/
#
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/result.sh
. "$repo/scripts/lib/result.sh"
dir=$repo/tests/buddyctl
update=0
[ "${1:-}" = --update ] && update=1
passed=0
failed=0
tmp=$(mktemp -d /tmp/buddyctl-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! make -s -C "$repo" "$repo/build/buddyctl"; then
	echo "0 passed, 1 failed"
	exit 1
fi
ctl=$repo/build/buddyctl
mkdir -p "$dir/expected"

# svg_checks NAME FILE FIXTURE: parses, svg root, rows as buddyinfo says.
svg_checks() {
	local name=$1 svg=$2 fixture=$3 good=0 o n
	[[ "$fixture" == /* ]] || fixture=$dir/$fixture
	xp() { xmllint --xpath "$1" "$svg" 2>/dev/null; }
	xmllint --noout "$svg" 2>"$tmp/xmllint.err"
	result $? "$name: xmllint parses the SVG $(head -c 200 "$tmp/xmllint.err")"
	[ "$(xp 'local-name(/*)') $(xp 'namespace-uri(/*)')" = "svg http://www.w3.org/2000/svg" ]
	result $? "$name: the root is <svg> in the SVG namespace"
	while read -r o n; do
		[ "$(xp "string(//*[@class='order'][@data-order='$o']/@data-free)")" = "$n" ] ||
			good=1
	done < <(grep -v '^#' "$fixture/buddyinfo")
	[ "$(xp 'count(//*[@class="order"])')" = "$(grep -vc '^#' "$fixture/buddyinfo")" ] ||
		good=1
	result $good "$name: one row per order, each with buddyinfo's free blocks"
}

while read -r name fixture status args; do
	case "$name" in '' | '#'*) continue ;; esac
	svg=""
	read -ra argv <<<"${args//@SVG@/$tmp/$name.svg}"
	[[ "$args" == *@SVG@* ]] && svg=$tmp/$name.svg
	pre=()
	[ "$fixture" = - ] || pre=(--debugfs "$fixture")
	(cd "$dir" && "$ctl" "${pre[@]}" "${argv[@]}") >"$tmp/out" 2>"$tmp/err"
	rc=$?
	{
		sed -E 's/^(buddyctl watch, .*), [0-9]{2}:[0-9]{2}:[0-9]{2}$/\1, HH:MM:SS/' "$tmp/out"
		if [ -n "$svg" ]; then
			echo "--- $(basename "$svg")"
			cat "$svg"
		fi
		if [ -s "$tmp/err" ]; then
			echo "--- stderr"
			cat "$tmp/err"
		fi
		echo "--- exit $rc"
	} >"$tmp/actual"
	want=$dir/expected/$name
	if [ "$update" = 1 ]; then
		cp "$tmp/actual" "$want"
	fi
	[ "$rc" = "$status" ]
	result $? "$name: exit status $status (got $rc)"
	if [ -f "$want" ] && diff -u "$want" "$tmp/actual" >"$tmp/diff"; then
		result 0 "$name: output as tests/buddyctl/expected/$name"
	else
		[ -f "$want" ] || echo "# no tests/buddyctl/expected/$name (tests/buddyctl-golden.sh --update)"
		head -n 60 "$tmp/diff"
		result 1 "$name: output as tests/buddyctl/expected/$name"
	fi
	if [ "$status" != 0 ]; then
		[ "$(wc -l <"$tmp/err")" = 1 ] && grep -q '^buddyctl: ' "$tmp/err" && [ ! -s "$tmp/out" ]
		result $? "$name: the error is one line on stderr, nothing on stdout"
	fi
	if [[ " ${argv[*]} " == *" --json "* ]]; then
		python3 -m json.tool "$tmp/out" >/dev/null
		result $? "$name: the output parses as JSON"
	fi
	[ -z "$svg" ] || svg_checks "$name" "$svg" "$fixture"
	if [[ " ${argv[*]} " == *" --svg - "* ]]; then
		cp "$tmp/out" "$tmp/$name.svg"
		svg_checks "$name (stdout)" "$tmp/$name.svg" "$fixture"
	fi
done <"$dir/cases"

# 2^20 units of 256 bytes, all live, three owners taking turns.
big=$tmp/big
mkdir -p "$big"
units=$((1 << 20))
printf 'pool_size: %d\nunit_size: 256\nmax_order: 20\nfree_bytes: 0\n' $((units * 256)) >"$big/stats"
{ echo '# order free_blocks'; for o in $(seq 0 20); do echo "$o 0"; done; } >"$big/buddyinfo"
{ echo '# order unusable_index'; for o in $(seq 0 20); do echo "$o 1.000"; done; } >"$big/unusable_index"
awk -v n=$units 'BEGIN { print "# offset size file tgid comm";
	for (i = 0; i < n; i++) printf "%d 256 %d %d fill%d\n", i * 256, i % 3 + 1, 500 + i % 3, i % 3 }' \
	>"$big/blocks"
start=$(date +%s.%N)
"$ctl" --debugfs "$big" map --svg "$tmp/big.svg" --color never >"$tmp/big.out" 2>&1
rc=$?
echo "# map --svg of 2^20 live blocks: $(echo "$(date +%s.%N) - $start" | bc) s"
grep -q '^pool 268435456 bytes (256 MiB) of 256 bytes units, max order 20; 1048576 blocks live$' "$tmp/big.out" &&
	grep -q '^free 0 bytes (0.0%), no free block$' "$tmp/big.out" &&
	grep -qE '^  C file 3 of pid 502 \(fill2\): 349525 blocks, 89478400 bytes' "$tmp/big.out"
result $((rc || $?)) "2^20 live blocks: map reads them all, counts each owner's"
# 128 cells of 2 MiB, each holding all three owners.
[ "$(grep -E '^ *[0-9]+ ' "$tmp/big.out" | awk '{ printf "%s", $2 }')" = "$(printf '%128s' '' | tr ' ' '#')" ]
result $? "2^20 live blocks: every cell full and shared (#)"
svg_checks "2^20 live blocks" "$tmp/big.svg" "$big"
[ "$(stat -c %s "$tmp/big.svg")" -lt 200000 ]
result $? "2^20 live blocks: the SVG stays small ($(stat -c %s "$tmp/big.svg") bytes)"

# The man page: formats cleanly, and documents what --help lists.
man=$repo/tools/buddyctl.1
warn=$(groff -man -ww -z "$man" 2>&1)
[ -z "$warn" ] || echo "$warn"
result "$([ -z "$warn" ]; echo $?)" "buddyctl.1 formats with no groff warning"
missing=""
text=$(groff -man -Tascii -P-cbu "$man" 2>/dev/null)
for word in $("$ctl" --help | grep -oE '^  [a-z]+|--[a-z]+' | sort -u); do
	grep -qF -- "$word" <<<"$text" || missing="$missing $word"
done
[ -z "$missing" ]
result $? "buddyctl.1 names every command and option of --help${missing:+ (missing:$missing)}"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
