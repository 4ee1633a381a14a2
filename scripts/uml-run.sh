#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot User-Mode Linux with the host filesystem as root, insmod buddy_alloc.ko, run
# a program as root inside, rmmod, power off.
#
#   scripts/uml-run.sh [options] -- PROGRAM [ARGS...]
#
#   --params "k=v ..."   module parameters for insmod
#   --no-insmod          do not load buddy_alloc.ko (the program loads what it needs)
#   --config FRAGMENT    UML config fragment (default scripts/configs/uml.config)
#   --mem SIZE           guest memory (default 256M)
#   --cmdline "..."      extra kernel command line
#   --timeout SECONDS    whole-run limit (default 900)
#   --known-leak TEXT    accept kmemleak reports whose text contains TEXT (a
#                        kernel bug outside buddy_alloc.ko, named where it is
#                        passed); any other report still fails the run
#
# Builds what is missing first (the UML kernel, cached; buddy_alloc.ko, about 3 s).
# Exits with PROGRAM's status, or non-zero if insmod or rmmod failed, or the
# kernel log shows a WARNING, BUG, Oops, or a KASAN/UBSAN/kmemleak/lockdep
# report; on failure it prints the kernel log.  On a kernel with kmemleak
# (scripts/configs/uml-debug.config) it also scans for leaks after rmmod
# (about 7 s more: kmemleak reports only objects older than 5 s) and fails
# on any.
#
# The UML build's own modules (vgem, the DMA-BUF importer of the export
# tests, and what it needs) are the guest's /lib/modules/RELEASE, so
# `modprobe vgem` works inside; vgem is loaded before the program when the
# kernel has it, so /dev/dri/card0 is there from the start.
#
# BUDDY_UML_LINUX=PATH boots PATH instead of the built kernel (the tests of
# this script's own failure messages use it).
#
# Inside, the program finds: BUDDY_KO (buddy_alloc.ko), BUDDY_MODDIR (the module
# build directory), BUDDY_PARAMS, and BUDDY_RESULTS, a directory that is the
# same path on the host and writable from the guest.  The host root itself is
# mounted read-only, but for the host's /tmp, which stays writable (programs
# built there run, and test programs need scratch space).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
params=""
insmod=1
config=$repo/scripts/configs/uml.config
mem=256M
cmdline=""
limit=900
known_leak=""

usage() {
	sed -n '4,19p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--params) params=$2; shift 2 ;;
	--no-insmod) insmod=0; shift ;;
	--config) config=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--cmdline) cmdline=$2; shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	--known-leak) known_leak=$2; shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -ge 1 ] || usage

prog=$1
shift
case "$prog" in
*/*) prog=$(cd "$(dirname "$prog")" && pwd)/$(basename "$prog") ;;
*) prog=$(command -v "$prog") || { echo "uml-run: $1: not found" >&2; exit 2; } ;;
esac
[ -x "$prog" ] || { echo "uml-run: $prog: not executable" >&2; exit 2; }

build=$("$repo"/scripts/kernel-tree.sh uml "$config")
moddir=$("$repo"/scripts/build-module.sh um "$build")

res=$(mktemp -d /tmp/buddy-uml.XXXXXX)
trap 'rm -rf "$res"' EXIT

# The build's modules as an installed tree (links into the build), with
# depmod's indexes, for the guest's /lib/modules.  With the build's
# modules.builtin, as on Debian: gpu_buddy is built in there as "buddy",
# the name kmod then takes as loaded; ours is buddy_alloc (alias buddy).
krel=$(cat "$build/include/config/kernel.release")
modtree=$res/modroot/lib/modules/$krel
mkdir -p "$modtree/kernel"
while read -r ko; do
	mkdir -p "$modtree/kernel/$(dirname "$ko")"
	ln -s "$build/$ko" "$modtree/kernel/$ko"
done < <(cd "$build" && find . -name '*.ko' -printf '%P\n')
sed -E 's@^(.*)\.o$@kernel/\1.ko@' "$build/modules.order" >"$modtree/modules.order"
cp "$build/modules.builtin" "$build/modules.builtin.modinfo" "$modtree/"
/sbin/depmod -b "$res/modroot" "$krel"

{
	echo '#!/bin/sh'
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	printf 'res=%q\n' "$res"
	printf 'export BUDDY_RESULTS=%q\n' "$res/out"
	printf 'export BUDDY_KO=%q\n' "$moddir/buddy_alloc.ko"
	printf 'export BUDDY_MODDIR=%q\n' "$moddir"
	printf 'export BUDDY_PARAMS=%q\n' "$params"
	printf 'insmod_wanted=%d\n' "$insmod"
	printf 'cwd=%q\n' "$PWD"
	printf 'cmd=%s\n' "$(printf '%q ' "$prog" "$@" | sed 's/^/"/; s/ $/"/')"
	cat <<'EOF'
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
mount -t hostfs -o /tmp hostfs /tmp
mkdir -p "$BUDDY_RESULTS"
# The console is the program's; kernel messages go to the saved log only.
dmesg -n 1
mount --bind "$res/modroot/lib/modules" /lib/modules
# The DMA-BUF importer, before kmemleak forgets what boot allocated.
[ -f "/lib/modules/$(uname -r)/kernel/drivers/gpu/drm/vgem/vgem.ko" ] && modprobe vgem
leaks=/sys/kernel/debug/kmemleak
# What boot left behind is not ours to report.
[ -w "$leaks" ] && echo clear > "$leaks"
# On the sanitizer kernel, KASAN's quarantine holds freed memory for a while,
# so page counts lag; kmemleak checks leaks exactly there instead.
[ -e "$leaks" ] && export BUDDY_E2E_PAGE_SLACK=400
insmod_rc=0 prog_rc=0 rmmod_rc=0
if [ "$insmod_wanted" = 1 ]; then
	# shellcheck disable=SC2086
	insmod "$BUDDY_KO" $BUDDY_PARAMS || insmod_rc=$?
fi
if [ "$insmod_rc" = 0 ]; then
	cd "$cwd" && eval "$cmd" || prog_rc=$?
	if [ "$insmod_wanted" = 1 ] && grep -q '^buddy_alloc ' /proc/modules; then
		rmmod buddy_alloc || rmmod_rc=$?
	fi
fi
if [ -w "$leaks" ]; then
	sleep 6
	echo scan > "$leaks"
	echo scan > "$leaks"
	cat "$leaks" > "$res/kmemleak.txt"
fi
dmesg > "$res/dmesg.txt"
echo "$insmod_rc $prog_rc $rmmod_rc" > "$res/status"
poweroff -f 2>/dev/null
EOF
} > "$res/init.sh"
chmod +x "$res/init.sh"

set +e
# shellcheck disable=SC2086
timeout "$limit" "${BUDDY_UML_LINUX:-$build/linux}" mem="$mem" root=/dev/root rootfstype=hostfs \
	rootflags=/ ro init="$res/init.sh" con=null con0=fd:0,fd:1 quiet \
	$cmdline </dev/null 2>&1 | tee "$res/console.txt" |
	grep --line-buffered -v -e 'epollctl add err' -e '^reboot: Power down'
uml_rc=${PIPESTATUS[0]}
set -e

# Known kernel leaks out of the report, counted; if only they were found, the
# kernel's "N new suspected memory leaks" line is theirs.
reports='WARNING:|BUG:|Oops|KASAN|UBSAN|kmemleak: .*suspected|INFO: possible|circular locking|general protection|Kernel panic|list_(add|del) corruption'
if [ -n "$known_leak" ] && [ -s "$res/kmemleak.txt" ]; then
	known=$(awk -v pat="$known_leak" -v other="$res/kmemleak.other" '
		BEGIN { RS = "unreferenced object "; printf "" > other }
		NR > 1 { if (index($0, pat)) n++; else printf "%s%s", RS, $0 > other }
		END { print n + 0 }' "$res/kmemleak.txt")
	mv "$res/kmemleak.other" "$res/kmemleak.txt"
	if [ "$known" -gt 0 ]; then
		echo "# uml-run: $known kmemleak reports of the known kernel leak accepted (--known-leak)" >&2
		[ -s "$res/kmemleak.txt" ] ||
			reports=${reports/kmemleak: .\*suspected|/}
	fi
fi

# The host's XSAVE size (CPUID 0xD.0 ECX), for the message below.
host_xstate_size() {
	printf '#include <cpuid.h>\n#include <stdio.h>\nint main(void){unsigned a,b,c,d;__cpuid_count(0xd,0,a,b,c,d);printf("%%u\\n",c);return 0;}\n' |
		cc -x c -o "$res/xstate-size" - 2>/dev/null && "$res/xstate-size" || echo unknown
}

fail=""
if [ ! -f "$res/status" ] && grep -q "ptrace set fp regs failed" "$res/console.txt"; then
	# An unpatched UML on a host with a larger XSAVE area (AMX) than
	# its fixed buffer: scripts/patches/ fix it.
	fail="UML cannot load this host's FPU state: the host's XSAVE area is $(host_xstate_size) bytes and this UML kernel ($build) passes a fixed 2696; build it with scripts/patches/ (scripts/kernel-tree.sh uml)"
	status="1 1 1"
elif [ ! -f "$res/status" ] && grep -q "^UML: the host's FPU state" "$res/console.txt"; then
	fail=$(grep -m1 "^UML: the host's FPU state" "$res/console.txt" | tr -d '\r')
	status="1 1 1"
elif [ ! -f "$res/status" ] && [ "$uml_rc" = 124 ]; then
	fail="UML was still running after --timeout $limit s: killed"
	status="1 1 1"
elif [ ! -f "$res/status" ]; then
	fail="UML ended (status $uml_rc) before the run finished"
	status="1 1 1"
else
	status=$(cat "$res/status")
fi
read -r insmod_rc prog_rc rmmod_rc <<<"$status"
if [ -z "$fail" ] && [ "$insmod_rc" != 0 ]; then
	fail="insmod buddy_alloc.ko $params failed ($insmod_rc)"
elif [ -z "$fail" ] && [ "$rmmod_rc" != 0 ]; then
	fail="rmmod buddy_alloc failed ($rmmod_rc)"
elif [ -f "$res/dmesg.txt" ] && grep -Eq "$reports" "$res/dmesg.txt"; then
	fail="the kernel log has a warning or an error report"
elif [ -f "$res/dmesg.txt" ] && grep -q 'unknown parameter' "$res/dmesg.txt"; then
	# The kernel only logs an unknown module parameter and loads anyway.
	fail="a module parameter was not recognised"
elif [ -s "$res/kmemleak.txt" ]; then
	fail="kmemleak found leaks: $(cat "$res/kmemleak.txt")"
fi
if [ -n "$fail" ]; then
	if [ -f "$res/dmesg.txt" ]; then
		echo "uml-run: $fail; kernel log:" >&2
		cat "$res/dmesg.txt" >&2
	else
		echo "uml-run: $fail" >&2
	fi
	[ "$prog_rc" != 0 ] && exit "$prog_rc"
	exit 1
fi
exit "$prog_rc"
