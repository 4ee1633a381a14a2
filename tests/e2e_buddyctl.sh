#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# e2e_buddyctl: buddyctl against the live module, as a new user would try
# it, run inside UML by tests/run-e2e.sh (root, buddy_alloc.ko loaded, the host's
# root read-only, so python3 and xmllint are there; no /dev/fd, so no
# process substitution).
#
#   - info, stats and buddyinfo, plain and --json, agree with debugfs;
#   - `buddyctl alloc ... --hold` in the background (two of them, the
#     second with --exact, so one of its blocks is 3 units), then
#     `buddyctl map` with one cell per unit: every cell of every held block
#     shows its holder's letter, every other cell is free, the legend names
#     each holder's pid, and the largest free block is the one INFO reports;
#   - `buddyctl map --svg` writes an SVG that xmllint parses, with one row
#     per order whose free counts are buddyinfo's;
#   - interrupted, the holders free everything; watch draws its frames;
#   - alloc --topdown and --exact place and size blocks as the kernel says;
#   - errors, each one line and its exit status: bad sizes, a size above the pool, unknown
#     commands, not root, debugfs not mounted, module not loaded.
#
# Prints "ok - ..." / "not ok - ..." and ends with "N passed, N failed".
# The checks given to eval expand when they run, so single quotes.
# shellcheck disable=SC2016
set -u

here=$(cd "$(dirname "$0")" && pwd)
ctl=$here/buddyctl
dbg=/sys/kernel/debug/buddy
tmp=$(mktemp -d /tmp/e2e_buddyctl.XXXXXX)
holders=()
# shellcheck source=tests/sh-check.sh
. "$here/sh-check.sh"

cleanup() {
	local p
	for p in "${holders[@]}"; do
		kill -INT "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# run NAME CMD...: CMD's stdout in $tmp/NAME.out, stderr in .err, status in rc.
rc=0
run() {
	local name=$1
	shift
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
}

# expect_error NAME RC PATTERN CMD...: status RC and one stderr line matching.
expect_error() {
	local name=$1 want=$2 pattern=$3
	shift 3
	run "$name" "$@"
	check "$name: exit status $want (got $rc)" [ "$rc" = "$want" ]
	check "$name: one line on stderr matching '$pattern': $(head -c 200 "$tmp/$name.err")" \
		eval '[ "$(wc -l <"$tmp/$name.err")" = 1 ] && grep -q "^buddyctl: .*$pattern" "$tmp/$name.err"'
}

json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }
stat_of() { sed -n "s/^$1: //p" "$dbg/stats"; }

echo "# e2e_buddyctl: $(stat_of pool_size)-byte pool of $(stat_of unit_size)-byte units"
pool=$(stat_of pool_size)
unit=$(stat_of unit_size)
max_order=$(stat_of max_order)
units=$((pool / unit))

# --- info, stats, buddyinfo ---
run info "$ctl" info
check "info: exit 0" [ "$rc" = 0 ]
check "info: pool_size and unit_size as debugfs has them" \
	grep -qx "pool_size: $pool (.*)" "$tmp/info.out"
core=$(cat /sys/module/buddy_alloc/parameters/core)
check "info: the core the module runs ($core)" grep -qx "core: $core" "$tmp/info.out"
run info_json "$ctl" info --json
check "info --json: parses, pool_size $pool, unit_size $unit, max_order $max_order, core $core" \
	[ "$(json "$tmp/info_json.out" 'd["pool_size"], d["unit_size"], d["max_order"], d["core"]')" = "$pool $unit $max_order $core" ]
run stats "$ctl" stats
check "stats: the debugfs file's lines" diff -q "$tmp/stats.out" "$dbg/stats"
run stats_json "$ctl" stats --json
check "stats --json: every debugfs stat with its value" \
	[ "$(json "$tmp/stats_json.out" '"\n".join("%s: %d" % kv for kv in d.items())')" = "$(cat "$dbg/stats")" ]
run buddyinfo_json "$ctl" buddyinfo --json
check "buddyinfo --json: the free blocks of every order, with their size" \
	[ "$(json "$tmp/buddyinfo_json.out" '"\n".join("%d %d" % (o["order"], o["free_blocks"]) for o in d if o["block_size"] == '"$unit"' << o["order"])')" = "$(grep -v '^#' "$dbg/buddyinfo")" ]
run buddyinfo "$ctl" buddyinfo
check "buddyinfo: a header and $((max_order + 1)) orders" \
	[ "$(wc -l <"$tmp/buddyinfo.out")" = $((max_order + 2)) ]

# --- two holders in the background, then the map ---
# hold NAME SIZE...: starts buddyctl alloc SIZE... --hold; sets holder_pid.
holder_pid=""
hold() {
	local name=$1
	shift
	"$ctl" alloc "$@" --hold >"$tmp/$name.out" 2>"$tmp/$name.err" &
	holder_pid=$!
	holders+=("$holder_pid")
	for _ in $(seq 100); do
		grep -q '^holding' "$tmp/$name.out" && return 0
		sleep 0.1
	done
	return 1
}

sizes_a=(3 $((unit * 4)) $((unit * 2 + 1)))
# The second holder's blocks are EXACT: 3 units less a byte takes 3 cells.
sizes_b=($((unit * 8)) "$unit" $((unit * 3 - 1)))
[ "$pool" -ge $((unit * 64)) ] && sizes_b+=($((pool / 8)))
check "buddyctl alloc ${sizes_a[*]} --hold: holding" hold a "${sizes_a[@]}"
pid_a=$holder_pid
check "buddyctl alloc --exact ${sizes_b[*]} --hold: holding" hold b --exact "${sizes_b[@]}"
pid_b=$holder_pid
check "the first holder printed one line per block" \
	[ "$(grep -c '^alloc .* bytes: offset [0-9]*, block [0-9]* bytes$' "$tmp/a.out")" = ${#sizes_a[@]} ]

run map "$ctl" map --cells "$units" --color never
check "map: exit 0" [ "$rc" = 0 ]
# The cells, one per unit, in a row: 64 to a line after the offset column.
cells=$(sed -n '/^map: /,/^legend:/p' "$tmp/map.out" | grep -E '^ *[0-9]+ ' |
	awk '{ printf "%s", $2 }')
check "map: $units cells" [ "${#cells}" = "$units" ]

# want_cells HOLDER LETTER: every unit of its blocks shows LETTER.
expected=$(printf '%*s' "$units" '' | tr ' ' .)
want_cells() {
	local out=$1 letter=$2 off size first n
	while read -r off size; do
		first=$((off / unit))
		n=$((size / unit))
		expected=${expected:0:first}$(printf '%*s' "$n" '' | tr ' ' "$letter")${expected:first+n}
	done <<<"$(sed -nE 's/^alloc .* bytes: offset ([0-9]+), block ([0-9]+) bytes$/\1 \2/p' "$out")"
}
want_cells "$tmp/a.out" A
want_cells "$tmp/b.out" B
check "map: the held blocks where the kernel put them (A: pid $pid_a, B: pid $pid_b), the rest free" \
	[ "$cells" = "$expected" ]
[ "$cells" = "$expected" ] || { echo "# got:  $cells"; echo "# want: $expected"; }
check "map: the legend names both holders" \
	eval 'grep -q "^  A file [0-9]* of pid $pid_a (buddyctl): ${#sizes_a[@]} blocks" "$tmp/map.out" &&
	      grep -q "^  B file [0-9]* of pid $pid_b (buddyctl): ${#sizes_b[@]} blocks" "$tmp/map.out"'
run info_now "$ctl" info --json
largest=$(json "$tmp/info_now.out" 'd["largest_free"]')
free=$(json "$tmp/info_now.out" 'd["free_bytes"]')
check "map: free bytes and largest free block as INFO has them ($free, $largest)" \
	eval 'grep -q "^free $free bytes .*, largest free block .* at offset [0-9]*" "$tmp/map.out" &&
	      [ "$(sed -nE "s/^free .* at offset ([0-9]+).*/\1/p" "$tmp/map.out")" != "" ]'
# The marked cells are one naturally aligned free run of the largest size.
marks=$(grep -E '^[ ^]*\^[ ^]*$' "$tmp/map.out" | tr -cd '^' | wc -c)
check "map: ^ marks $((largest / unit)) cells, the largest free block" [ "$marks" = $((largest / unit)) ]
check "map: no note that buddyinfo differs" eval '! grep -q "^note:" "$tmp/map.out"'
for order in 0 "$max_order"; do
	idx=$(awk -v o="$order" '$1 == o { print $2 }' "$dbg/unusable_index")
	run map_o "$ctl" map --order "$order" --color never
	check "map --order $order: the kernel's unusable index $idx" \
		grep -q "^unusable index at order $order (.*): $idx " "$tmp/map_o.out"
done

run svg "$ctl" map --svg "$tmp/pool.svg"
check "map --svg: exit 0, the terminal map too" eval '[ "$rc" = 0 ] && grep -q "^legend:" "$tmp/svg.out"'
check "map --svg: xmllint parses the SVG" xmllint --noout "$tmp/pool.svg"
xp() { xmllint --xpath "$1" "$tmp/pool.svg" 2>/dev/null; }
check "map --svg: the root is an SVG svg element" \
	[ "$(xp 'local-name(/*)'):$(xp 'namespace-uri(/*)')" = "svg:http://www.w3.org/2000/svg" ]
check "map --svg: one row per order, $((max_order + 1))" \
	[ "$(xp 'count(//*[@class="order"])')" = $((max_order + 1)) ]
good=1
while read -r o n; do
	[ "$(xp "string(//*[@class='order'][@data-order='$o']/@data-free)")" = "$n" ] || good=0
	# a row with free blocks draws some, one without draws none
	drawn=$(xp "count(//*[@class='order'][@data-order='$o']/*[@class='free'])")
	{ [ "$n" = 0 ] && [ "$drawn" = 0 ]; } || { [ "$n" != 0 ] && [ "$drawn" != 0 ]; } || good=0
done <<<"$(grep -v '^#' "$dbg/buddyinfo")"
check "map --svg: each order's row has buddyinfo's free blocks" [ "$good" = 1 ]
check "map --svg: blocks drawn, the largest free block outlined" \
	eval '[ "$(xp "count(//*[@class=\"block\"])")" -gt 0 ] && [ "$(xp "count(//*[@class=\"largest\"])")" = 1 ]'

# --- the holders let go ---
kill -INT "$pid_a" "$pid_b"
wait "$pid_a"
rc_a=$?
wait "$pid_b"
rc_b=$?
holders=()
check "interrupted holders exit 0 ($rc_a, $rc_b) and say they free" \
	eval '[ "$rc_a" = 0 ] && [ "$rc_b" = 0 ] && grep -q "^freeing them" "$tmp/a.out"'
run map_after "$ctl" map --color never
check "map after: all free, no block" \
	grep -q "^free $pool bytes (100.0%), largest free block .* at offset 0$" "$tmp/map_after.out"
run watch "$ctl" watch --count 3 --interval 0.1
check "watch --count 3: three pictures, exit 0" \
	eval '[ "$rc" = 0 ] && [ "$(grep -c "^buddyctl watch" "$tmp/watch.out")" = 3 ]'
run demo "$ctl" demo
check "demo: exit 0, with a map" eval '[ "$rc" = 0 ] && grep -q "^legend:" "$tmp/demo.out"'

# --- errors ---
# --- the placement flags, on the empty pool ---
run topdown "$ctl" alloc "$unit" --topdown
check "alloc --topdown: exit 0, the top unit" \
	eval '[ "$rc" = 0 ] && grep -q "^alloc $unit bytes: offset $((pool - unit)), block $unit bytes$" "$tmp/topdown.out"'
if [ $((pool / unit)) -ge 4 ]; then
	run exact "$ctl" alloc $((3 * unit - 1)) --exact
	check "alloc --exact: exit 0, a block of 3 units, not 4" \
		eval '[ "$rc" = 0 ] && grep -q "^alloc $((3 * unit - 1)) bytes: offset [0-9]*, block $((3 * unit)) bytes$" "$tmp/exact.out"'
fi
check "the placed allocations were freed at exit" \
	[ "$(stat_of live_blocks)" = 0 ]
expect_error size_zero 2 'alloc: "0" is not a size' "$ctl" alloc 0
expect_error size_word 2 'alloc: "lots" is not a size' "$ctl" alloc lots
expect_error size_big 2 "alloc: $((pool * 2)) is larger than the pool" "$ctl" alloc $((pool * 2))
expect_error enomem 1 "no free block that large now" "$ctl" alloc "$pool" "$unit"
expect_error unknown 2 "frobnicate: unknown command" "$ctl" frobnicate
expect_error no_sizes 2 "alloc: which sizes" "$ctl" alloc
expect_error bad_cells 2 "--cells 3: a power of two" "$ctl" map --cells 3
expect_error bad_order 2 "--order $((max_order + 1)): the pool's largest order is $max_order" \
	"$ctl" map --order $((max_order + 1))
expect_error not_root_info 4 "/dev/buddy: permission denied: run as root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" info
expect_error not_root_map 4 "permission denied: the debugfs files are root's" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" map
expect_error bad_dir 3 "/nonexistent/stats: No such file or directory" \
	"$ctl" --debugfs /nonexistent map
if umount /sys/kernel/debug; then
	expect_error no_debugfs 3 "debugfs is not mounted on /sys/kernel/debug" "$ctl" stats
	mount -t debugfs debugfs /sys/kernel/debug
else
	check "umount /sys/kernel/debug" false
fi
if rmmod buddy_alloc; then
	expect_error unloaded_info 3 "/dev/buddy: buddy_alloc.ko is not loaded (modprobe buddy)" "$ctl" info
	expect_error unloaded_map 3 "buddy_alloc.ko is not loaded (modprobe buddy)" "$ctl" map
	# shellcheck disable=SC2086 # the parameters are words
	check "insmod again" insmod "$BUDDY_KO" $BUDDY_PARAMS
else
	check "rmmod buddy_alloc" false
fi
run help "$ctl" --help
check "--help: exit 0, usage on stdout" eval '[ "$rc" = 0 ] && grep -q "^usage: buddyctl" "$tmp/help.out"'

check_done
