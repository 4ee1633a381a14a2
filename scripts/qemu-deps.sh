#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what running buddy_alloc.ko on Debian's own kernels needs, so the module
# is tested on a real distribution kernel (under qemu, TCG: no KVM needed) as
# well as under UML, and built against more than one kernel version:
#   - qemu-system-x86, cpio, busybox-static (the guest's whole userland),
#     build-essential (static test programs);
#   - the headers of the newest Debian 6.12 amd64 kernel apt offers
#     (linux-headers-VER; apt pulls in kbuild and dwarves), and the image of
#     the SAME version, downloaded and unpacked into the cache
#     ($BUDDY_CACHE/qemu/VER/, default /var/tmp/buddy) rather than booted
#     from /boot, so qemu boots exactly the kernel the module was built for;
#   - bookworm's linux-headers-amd64 (6.1), for `make modules-6.1`.
#
#   scripts/qemu-deps.sh [kver|kernel|kdir|kdir-6.1]...
#
# After making sure everything is there, it prints one line per argument: the
# 6.12 kernel release (6.12.117+deb12-amd64), the path of its vmlinuz, its
# headers directory, the 6.1 headers directory.  BUDDY_QEMU_KVER=RELEASE pins the
# 6.12 release instead of the newest.
#
# Idempotent: with everything present it only checks (well under a second;
# the newest version is looked up again only after apt's lists change).
# `apt-get update` runs only when something is missing.  Installing the
# headers also installs their image package, whose initramfs hook would take
# minutes; INITRD=No is passed so that hook is skipped where it honours it.
set -euo pipefail

cache=${BUDDY_CACHE:-/var/tmp/buddy}
qdir=$cache/qemu
for what in "$@"; do
	case "$what" in
	kver | kernel | kdir | kdir-6.1) ;;
	*) echo "usage: $0 [kver|kernel|kdir|kdir-6.1]..." >&2; exit 2 ;;
	esac
done
mkdir -p "$qdir"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
apt_update() {
	echo "qemu-deps: apt-get update" >&2
	$SUDO apt-get update -qq >&2
}

# The newest 6.12 amd64 release with both an image and headers in apt's
# lists, remembered in $qdir/kver until the lists change (ctime, which apt
# cannot backdate as it does mtime).
pick_kver() {
	local names v
	if [ -n "${BUDDY_QEMU_KVER:-}" ]; then
		echo "$BUDDY_QEMU_KVER"
		return
	fi
	if [ -s "$qdir/kver" ] && [ -z "$(find /var/lib/apt/lists -maxdepth 1 \
		-cnewer "$qdir/kver" -name '*Packages*' -print -quit)" ]; then
		cat "$qdir/kver"
		return
	fi
	names=$(apt-cache pkgnames linux- 2>/dev/null || true)
	while read -r v; do
		if grep -qxF "linux-headers-$v" <<<"$names"; then
			echo "$v" >"$qdir/kver.tmp"
			mv "$qdir/kver.tmp" "$qdir/kver"
			echo "$v"
			return
		fi
	done < <(sed -nE 's/^linux-image-(6\.12\.[0-9]+\+deb12-amd64)-unsigned$/\1/p' <<<"$names" |
		sort -rV)
}

missing_pkgs() {
	local p
	for p in qemu-system-x86 cpio busybox-static build-essential \
		"linux-headers-$1" linux-headers-amd64; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			echo "$p"
	done
}

kver=$(pick_kver)
image_ok() { [ -n "$kver" ] && [ -f "$qdir/$kver/boot/vmlinuz-$kver" ]; }

if [ -z "$kver" ] || [ -n "$(missing_pkgs "$kver")" ] || ! image_ok; then
	# One installer at a time (two runs may start together on a fresh machine).
	exec 9>"$qdir/.lock"
	flock 9
	kver=$(pick_kver)
	missing=""
	[ -z "$kver" ] || missing=$(missing_pkgs "$kver")
	if [ -z "$kver" ] || [ -n "$missing" ]; then
		apt_update
		rm -f "$qdir/kver"
		kver=$(pick_kver)
		if [ -z "$kver" ]; then
			echo "qemu-deps: apt offers no linux-image-6.12.*+deb12-amd64-unsigned" \
				"with matching headers" >&2
			exit 1
		fi
		missing=$(missing_pkgs "$kver")
	fi
	if [ -n "$missing" ]; then
		# shellcheck disable=SC2086
		echo "qemu-deps: installing" $missing >&2
		# shellcheck disable=SC2086
		$SUDO env INITRD=No DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends -o DPkg::Lock::Timeout=600 $missing >&2
	fi
	if ! image_ok; then
		echo "qemu-deps: unpacking linux-image-$kver-unsigned into $qdir/$kver" >&2
		tmp=$(mktemp -d "$qdir/.image.XXXXXX")
		chmod 755 "$tmp" # apt-get download writes as _apt where it can
		dl() { (cd "$tmp" && apt-get download -qq "linux-image-$kver-unsigned" 2>&1 |
			grep -v 'Download is performed unsandboxed' >&2 || true) &&
			ls "$tmp"/linux-image-*.deb >/dev/null 2>&1; }
		dl || { apt_update && dl; } || {
			echo "qemu-deps: cannot download linux-image-$kver-unsigned" >&2
			rm -rf "$tmp"
			exit 1
		}
		dpkg -x "$tmp"/linux-image-*.deb "$tmp/root"
		rm -rf "${qdir:?}/$kver"
		mv "$tmp/root" "$qdir/$kver"
		rm -rf "$tmp"
	fi
	exec 9>&-
fi

image_ok || { echo "qemu-deps: no kernel image for $kver" >&2; exit 1; }

for what in "$@"; do
	case "$what" in
	kver) echo "$kver" ;;
	kernel) echo "$qdir/$kver/boot/vmlinuz-$kver" ;;
	kdir) echo "/usr/src/linux-headers-$kver" ;;
	kdir-6.1)
		# linux-headers-amd64 depends on exactly one linux-headers-6.1.0-N-amd64.
		dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64)
		dir=/usr/src/${dep%% *}
		[ -d "$dir" ] || { echo "qemu-deps: $dir missing" >&2; exit 1; }
		echo "$dir"
		;;
	esac
done
