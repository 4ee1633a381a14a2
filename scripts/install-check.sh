#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installing buddy as a user would (the `install` stage of scripts/check.sh),
# each stage from a copy of the checkout (git's files only, no build/):
#   destdir  make install DESTDIR=... against Debian's 6.12 headers puts
#            exactly the files README.md's "Installing" table lists, where
#            it lists them (buddy_alloc.ko through modules_install, then depmod:
#            modules.dep names it); with INSTALL_MOD_PATH apart from
#            DESTDIR the module goes there and the rest to DESTDIR; make
#            uninstall removes every one of them again; the same against
#            Debian's 6.1 headers (uncompressed buddy_alloc.ko)
#   dkms     dkms (scripts/install-deps.sh installs it) adds the tree make
#            dkms-source writes and builds buddy_alloc.ko for Debian's 6.12 and
#            6.1 headers, in a DKMS tree of its own (--dkmstree,
#            --sourcetree: the system's /var/lib/dkms is not touched)
#   qemu     Debian's 6.12 in qemu whose root is a make install over the
#            image's module metadata: modprobe buddy loads buddy_alloc
#            through its alias despite the built-in gpu_buddy's name, the
#            installed buddyctl, modprobe -r (tests/install-guest.sh)
#
#   scripts/install-check.sh [destdir|dkms|qemu]...     (default: all)
#
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/result.sh
. "$repo/scripts/lib/result.sh"
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(destdir dkms qemu)
passed=0
failed=0
tmp=$(mktemp -d /tmp/buddy-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! "$repo"/scripts/install-deps.sh; then
	echo "# install-check: scripts/install-deps.sh failed"
	echo "0 passed, 1 failed"
	exit 1
fi
{ read -r kver && read -r kdir && read -r kdir61; } < <("$repo"/scripts/qemu-deps.sh kver kdir kdir-6.1)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$repo/dkms.conf")

# A copy of the checkout's files as git knows them (committed or not).
src=$tmp/src
mkdir -p "$src"
(cd "$repo" && git ls-files -co --exclude-standard | grep -v '^build/' | tar -cf - -T -) |
	tar -xf - -C "$src"

# The paths README.md's Installing table gives, KVER filled in.
# shellcheck disable=SC2016 # the backquotes are the README's
readme_paths() {
	sed -n '/^<!-- install-files -->$/,/^<!-- \/install-files -->$/p' "$repo/README.md" |
		sed -nE 's/^\| `([^`]+)` \|.*/\1/p' | sed "s/KVER/$kver/g"
}

# mk LOG ARGS...: make in the copy, quietly; its output in LOG.
mk() {
	local log=$1
	shift
	make -C "$src" "$@" >"$log" 2>&1 || { tail -n 30 "$log"; return 1; }
}

stage_destdir() {
	local root=$tmp/root mods=$tmp/mods base=$tmp/base want got p missing=""
	mk "$tmp/install.log" install DESTDIR="$root" KDIR="$kdir"
	result $? "make install DESTDIR=$root KDIR=$kdir"
	want=$(readme_paths | sort)
	[ -n "$want" ]
	result $? "README.md lists the installed files ($(echo "$want" | wc -l))"
	for p in $want; do
		[ -f "$root$p" ] || missing="$missing $p"
	done
	result "$([ -z "$missing" ]; echo $?)" "every file is where README.md says${missing:+ (missing:$missing)}"
	got=$(cd "$root" && find . -type f ! -name 'modules.*' | sed 's/^\.//' | sort)
	[ "$got" = "$want" ]
	result $? "and nothing else but depmod's modules.* files"
	[ "$got" = "$want" ] || diff <(echo "$want") <(echo "$got")
	grep -q "^updates/buddy_alloc.ko.xz:" "$root/lib/modules/$kver/modules.dep"
	result $? "depmod ran: modules.dep lists updates/buddy_alloc.ko.xz"
	grep -qx 'alias buddy buddy_alloc' "$root/lib/modules/$kver/modules.alias"
	result $? "modules.alias maps buddy to buddy_alloc (MODULE_ALIAS)"
	[ "$(modinfo -F vermagic "$root/lib/modules/$kver/updates/buddy_alloc.ko.xz" | cut -d' ' -f1)" = "$kver" ]
	result $? "the installed buddy_alloc.ko is built for $kver"
	cmp -s "$root/usr/include/linux/buddy.h" "$repo/include/uapi/linux/buddy.h" &&
		echo '#include <linux/buddy.h>
int main(void) { return BUDDY_IOC_INFO == 0; }' | cc -x c -I"$root/usr/include" -o "$tmp/hdr" -
	result $? "the installed <linux/buddy.h> is the uapi header and compiles"
	"$root/usr/bin/buddyctl" --help | grep -q '^usage: buddyctl'
	result $? "the installed buddyctl runs"
	mk "$tmp/uninstall.log" uninstall DESTDIR="$root" KDIR="$kdir"
	result $? "make uninstall DESTDIR=$root"
	got=$(cd "$root" && find . -type f ! -name 'modules.*')
	[ -z "$got" ] && ! grep -q buddy "$root/lib/modules/$kver/modules.dep"
	result $? "make uninstall leaves none of them (and depmod forgets buddy)${got:+: $got}"

	# Debian's 6.1 headers: kernel.release says 6.1.192, the kernel 6.1.0-N-amd64.
	local r61=$tmp/root61 rel61=${kdir61##*/linux-headers-}
	mk "$tmp/install61.log" install DESTDIR="$r61" KDIR="$kdir61" &&
		[ -f "$r61/lib/modules/$rel61/updates/buddy_alloc.ko" ] &&
		grep -q '^updates/buddy_alloc.ko:' "$r61/lib/modules/$rel61/modules.dep"
	result $? "make install against the 6.1 headers: /lib/modules/$rel61/updates/buddy_alloc.ko, in modules.dep"
	mk "$tmp/uninstall61.log" uninstall DESTDIR="$r61" KDIR="$kdir61" &&
		[ -z "$(find "$r61" -type f ! -name 'modules.*')" ]
	result $? "make uninstall against the 6.1 headers removes everything"

	mk "$tmp/install2.log" install DESTDIR="$base" INSTALL_MOD_PATH="$mods" KDIR="$kdir"
	result $? "make install DESTDIR=$base INSTALL_MOD_PATH=$mods"
	[ -f "$mods/lib/modules/$kver/updates/buddy_alloc.ko.xz" ] && [ ! -e "$base/lib" ] &&
		[ -f "$base/usr/bin/buddyctl" ] && [ ! -e "$mods/usr" ]
	result $? "INSTALL_MOD_PATH takes the module, DESTDIR the rest"
	mk "$tmp/uninstall2.log" uninstall DESTDIR="$base" INSTALL_MOD_PATH="$mods" KDIR="$kdir" &&
		[ -z "$(find "$base" "$mods" -type f ! -name 'modules.*')" ]
	result $? "make uninstall with both removes both"
}

stage_dkms() {
	local tree=$tmp/dkms st=$tmp/dkms-src k log
	command -v dkms >/dev/null
	result $? "dkms is installed ($(dkms --version 2>/dev/null))"
	mk "$tmp/dkms-source.log" dkms-source DESTDIR="$st"
	result $? "make dkms-source DESTDIR=$st: /usr/src/buddy-$version"
	grep -q '^AUTOINSTALL="yes"$' "$st/usr/src/buddy-$version/dkms.conf"
	result $? "dkms.conf has AUTOINSTALL"
	mkdir -p "$tree"
	dkms add --dkmstree "$tree" --sourcetree "$st/usr/src" -m buddy -v "$version" \
		>"$tmp/dkms-add.log" 2>&1
	result $? "dkms add buddy/$version" || cat "$tmp/dkms-add.log"
	for k in "$kdir" "$kdir61"; do
		# The release /lib/modules names, whose build link DKMS follows
		# as on a kernel upgrade.
		local rel=${k##*/linux-headers-}
		log=$tmp/dkms-build-$rel.log
		dkms build --dkmstree "$tree" --sourcetree "$st/usr/src" -m buddy -v "$version" \
			-k "$rel" >"$log" 2>&1
		result $? "dkms build buddy/$version for $rel" || tail -n 30 "$log"
		ls "$tree/buddy/$version/$rel"/*/module/buddy_alloc.ko* >/dev/null 2>&1
		result $? "dkms built buddy_alloc.ko for $rel" ||
			tail -n 20 "$tree/buddy/$version/build/make.log" 2>/dev/null
	done
}

stage_qemu() {
	local guest=$tmp/guest img log rc
	img=$(dirname "$("$repo"/scripts/qemu-deps.sh kernel)")/../lib/modules/$kver
	mkdir -p "$guest/lib/modules/$kver"
	cp "$img"/modules.order "$img"/modules.builtin "$img"/modules.builtin.modinfo \
		"$guest/lib/modules/$kver/"
	mk "$tmp/guest-install.log" install DESTDIR="$guest" KDIR="$kdir"
	result $? "make install into a guest root over $kver's module metadata"
	log=$tmp/qemu.log
	"$repo"/scripts/qemu-run.sh --no-insmod --timeout 300 --root "$guest" --copy /usr/bin/kmod \
		-- "$src/tests/install-guest.sh" "$kver" /usr/bin/kmod >"$log" 2>&1
	rc=$?
	# shellcheck source=scripts/lib/tally.sh
	. "$repo/scripts/lib/tally.sh"
	tally "install-guest [$kver]" "$log" "$rc" qemu-run.sh
}

for stage in "${stages[@]}"; do
	echo "# === install: $stage"
	case "$stage" in
	destdir) stage_destdir ;;
	dkms) stage_dkms ;;
	qemu) stage_qemu ;;
	*) echo "install-check: unknown stage $stage" >&2; exit 2 ;;
	esac
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
