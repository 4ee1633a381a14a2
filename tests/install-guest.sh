#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Inside qemu on Debian's 6.12 (scripts/install-check.sh qemu): the guest's
# root holds what `make install` put in a staging root over the image's
# module metadata.  The module must load by name with kmod's modprobe, from
# where make install put it, and work through the installed buddyctl.
#
#   install-guest.sh KVER KMOD
#
# KMOD is the host's kmod binary (copied in with its libraries): busybox's
# modprobe is not what a Debian user runs.  Ends with "N passed, N failed".
kver=$1
kmod=$2
# shellcheck source=tests/sh-check.sh
. "$(dirname "$0")/sh-check.sh"
# By path: busybox's sh prefers its own applets to PATH.
mkdir -p /tmp/kbin
for tool in modprobe modinfo insmod; do
	ln -sf "$kmod" /tmp/kbin/$tool
done
modprobe=/tmp/kbin/modprobe
modinfo=/tmp/kbin/modinfo

check "buddy is not loaded at boot" sh -c "! grep -q '^buddy ' /proc/modules"
where=$($modinfo -n buddy)
check "modinfo -n buddy: $where, where make install put it" \
	[ "$where" = "/lib/modules/$kver/updates/buddy.ko.xz" ]
# Debian's 6.12 builds gpu_buddy (drivers/gpu/buddy.c) in, under the same
# name, and kmod takes a name in modules.builtin as loaded: there modprobe
# buddy does nothing and says nothing.  Until buddy.ko has a name of its
# own (README, "Known problem"), that is what is checked there: that it is
# exactly this clash, and that the installed file then loads by path.
builtin=$(grep '/buddy\.ko$' "/lib/modules/$kver/modules.builtin")
$modprobe buddy
if [ -z "$builtin" ]; then
	check "modprobe buddy loads the installed module" grep -q '^buddy ' /proc/modules
else
	check "modprobe buddy is a no-op here: the kernel's built-in $builtin holds the name" \
		sh -c "! grep -q '^buddy ' /proc/modules && $modprobe -n --first-time buddy 2>&1 | grep -q 'already in kernel'"
	check "the installed file loads by path (insmod $where)" /tmp/kbin/insmod "$where"
fi
check "buddy is in /proc/modules" grep -q '^buddy ' /proc/modules
check "/dev/buddy is a character device" [ -c /dev/buddy ]
check "the installed buddyctl info" sh -c '/usr/bin/buddyctl info >/tmp/info.out'
check "a 4 MiB pool" grep -q '^pool_size: 4194304 ' /tmp/info.out
/usr/bin/buddyctl alloc 64K 4K --hold >/tmp/hold.out 2>&1 &
holder=$!
n=0
while ! grep -q '^holding' /tmp/hold.out && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
check "buddyctl alloc 64K 4K --hold" grep -q '^holding 2 blocks' /tmp/hold.out
/usr/bin/buddyctl map --color never >/tmp/map.out 2>&1
check "buddyctl map shows the 2 held blocks" grep -q '; 2 blocks live$' /tmp/map.out
kill -INT $holder
wait $holder
check "the holder freed them on interrupt" grep -q '^freeing them' /tmp/hold.out
if [ -n "${builtin:-}" ]; then
	# kmod refuses that name for rmmod too; busybox asks the kernel.
	check "rmmod buddy" busybox rmmod buddy
else
	check "modprobe -r buddy" $modprobe -r buddy
fi
check "buddy is unloaded" sh -c "! grep -q '^buddy ' /proc/modules"
check_done
