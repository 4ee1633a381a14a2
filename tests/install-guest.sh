#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Inside qemu on Debian's 6.12 (scripts/install-check.sh qemu): the guest's
# root holds what `make install` put in a staging root over the image's
# module metadata.  The module must load as `modprobe buddy` with kmod's
# modprobe, from where make install put it, work through the installed
# buddyctl, and unload with modprobe -r.
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
for tool in modprobe modinfo; do
	ln -sf "$kmod" /tmp/kbin/$tool
done
modprobe=/tmp/kbin/modprobe
modinfo=/tmp/kbin/modinfo

check "buddy_alloc is not loaded at boot" sh -c "! grep -q '^buddy_alloc ' /proc/modules"
where=$($modinfo -n buddy_alloc)
check "modinfo -n buddy_alloc: $where, where make install put it" \
	[ "$where" = "/lib/modules/$kver/updates/buddy_alloc.ko.xz" ]
# Debian's 6.12 builds gpu_buddy (drivers/gpu/buddy.c) in under the name
# buddy, and kmod takes a name in modules.builtin as loaded: the module is
# buddy_alloc.ko, and MODULE_ALIAS("buddy") makes modprobe buddy find it.
# That the clash is there is checked, so that a passing modprobe buddy shows
# the alias winning over it, not a kernel without gpu_buddy.
check "modules.builtin has the kernel's own buddy (gpu_buddy)" \
	grep -qx 'kernel/drivers/gpu/buddy.ko' "/lib/modules/$kver/modules.builtin"
check "modules.alias maps buddy to buddy_alloc" \
	grep -qx 'alias buddy buddy_alloc' "/lib/modules/$kver/modules.alias"
check "modprobe buddy" $modprobe buddy
check "modprobe buddy loaded buddy_alloc (/proc/modules)" grep -q '^buddy_alloc ' /proc/modules
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
check "modprobe buddy again: loaded, nothing to do" $modprobe buddy
check "modprobe -r buddy_alloc" $modprobe -r buddy_alloc
check "buddy_alloc is unloaded (/proc/modules)" sh -c "! grep -q '^buddy_alloc ' /proc/modules"
check "/dev/buddy is gone" [ ! -e /dev/buddy ]
# The alias names it for unloading too.
check "modprobe buddy, once more" $modprobe buddy
check "modprobe -r buddy unloads buddy_alloc" $modprobe -r buddy
check "buddy_alloc is unloaded again" sh -c "! grep -q '^buddy_alloc ' /proc/modules"
check_done
