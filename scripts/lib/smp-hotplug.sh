#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of scripts/smp-stress.sh's "hotplug" stage, run by
# scripts/qemu-run.sh inside Debian's 6.12 with two CPUs and buddy_alloc.ko
# loaded:
#
#   smp-hotplug.sh SMP_STRESS SECONDS SEED [SMP_STRESS OPTIONS...]
#
# First, with nothing else running: smp_stress --fill-cache 1 leaves blocks
# in CPU 1's cache, and taking CPU 1 offline
# (echo 0 > /sys/devices/system/cpu/cpu1/online) must leave debugfs percpu
# showing it offline with nothing cached, which only the pool's cpuhp dead
# callback does (nothing reads INFO in between, whose drain would too).
# Then smp_stress runs for SECONDS and meanwhile, once a second, CPU 1 goes
# offline and back, and every other round the per-CPU caches are turned off
# and on again at runtime (/sys/module/buddy_alloc/parameters/percpu_cache): each
# offline must leave CPU 1's cache empty, each caches-off every cache, and
# smp_stress's own checks (no block with two owners, pool whole) must hold.
# Ends with smp_stress's checks plus these as one "N passed, N failed" line.
set -u

stress=$1
seconds=$2
seed=$3
shift 3
cpu1=/sys/devices/system/cpu/cpu1/online
percpu=/sys/kernel/debug/buddy/percpu
param=/sys/module/buddy_alloc/parameters/percpu_cache
passed=0
failed=0
log=/tmp/smp-stress.log

check() {
	if [ "$1" = 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "not ok - $2"
	fi
}

# CPU 1's line of debugfs percpu: "1 ONLINE C0 C1 C2 C3 ..." -> "ONLINE CACHED"
cpu1_state() {
	awk '$1 == "1" { print $2, $3 + $4 + $5 + $6 }' "$percpu"
}

all_cached() {
	awk '$1 !~ /^#/ { n += $3 + $4 + $5 + $6 } END { print n + 0 }' "$percpu"
}

if [ ! -w "$cpu1" ]; then
	echo "not ok - $cpu1 is not writable: no CPU hotplug in this kernel"
	echo "0 passed, 1 failed"
	exit 1
fi

# The dead callback alone, on a quiet pool.
"$stress" --fill-cache 1 >"$log" 2>&1
check $? "smp_stress --fill-cache 1: $(tr '\n' ' ' <"$log")"
before=$(cpu1_state)
check "$([ "${before#* }" -gt 0 ]; echo $?)" "CPU 1's cache holds blocks after --fill-cache 1 (online/cached: $before)"
up=0
echo 0 >"$cpu1" || up=1
check "$up" "quiet pool: echo 0 > $cpu1"
after=$(cpu1_state)
check "$([ "$after" = "0 0" ]; echo $?)" \
	"quiet pool: CPU 1 offline, its cache drained by the dead callback (before: $before; after: $after)"
quiet="online/cached before: $before, after offline: $after"
up=0
echo 1 >"$cpu1" || up=1
check "$up" "quiet pool: echo 1 > $cpu1"

"$stress" --seconds "$seconds" --seed "$seed" "$@" >"$log" 2>&1 &
pid=$!
rounds=0
offlined=0
toggles=0
had_cached=0
sleep 1
while kill -0 "$pid" 2>/dev/null; do
	rounds=$((rounds + 1))
	before=$(cpu1_state)
	[ "${before#* }" != 0 ] && had_cached=$((had_cached + 1))
	if echo 0 >"$cpu1"; then
		offlined=$((offlined + 1))
		after=$(cpu1_state)
		check "$([ "$after" = "0 0" ]; echo $?)" \
			"round $rounds: CPU 1 offline, its cache drained (before: online/cached $before; after: $after)"
	else
		check 1 "round $rounds: echo 0 > $cpu1 failed"
	fi
	sleep 0.5
	up=0
	echo 1 >"$cpu1" || up=1
	check "$up" "round $rounds: echo 1 > $cpu1"
	if [ $((rounds % 2)) = 0 ]; then
		echo 0 >"$param"
		n=$(all_cached)
		check "$([ "$n" = 0 ] && grep -q '^# percpu_cache: 0' "$percpu"; echo $?)" \
			"round $rounds: percpu_cache=0 drains every cache ($n units cached)"
		sleep 0.3
		echo 1 >"$param"
		toggles=$((toggles + 1))
	fi
	sleep 0.5
done
wait "$pid"
rc=$?
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$log"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
if [ -n "$summary" ]; then
	read -r p _ f _ <<EOF
$summary
EOF
	passed=$((passed + p))
	failed=$((failed + f))
else
	check 1 "smp_stress printed no summary (status $rc)"
fi
[ "$rc" = 0 ] || [ -z "$summary" ] || [ "${summary#* passed, }" != "0 failed" ] ||
	check 1 "smp_stress exited with status $rc"
check "$([ "$offlined" -gt 0 ]; echo $?)" "CPU 1 went offline during the run ($offlined times)"
echo "# hotplug, quiet pool: CPU 1 $quiet"
echo "# hotplug: $rounds rounds, CPU 1 offline $offlined times ($had_cached with blocks in its cache just before), caches toggled $toggles times"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
