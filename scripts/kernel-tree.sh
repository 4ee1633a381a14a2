#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare the kernel trees buddy builds against, outside the repository, and
# reuse them: nothing that has not changed is unpacked or rebuilt again.
#
#   scripts/kernel-tree.sh src              print the unpacked source dir
#   scripts/kernel-tree.sh uml [CONFIG]     build UML for a config fragment
#                                           (default scripts/configs/uml.config)
#                                           and print its O= build dir
#   scripts/kernel-tree.sh build-dir [CONFIG]
#                                           print that dir without building
#
# BUDDY_KERNEL_TARBALL=FILE unpacks FILE instead of Debian's tarball (the
# tests of this script use a small one).
#
# Layout, under $BUDDY_CACHE (default /var/tmp/buddy):
#   src/<debian-version>/linux-source-6.12     Debian's linux-source-6.12,
#                                               with the project's patches
#   build/<debian-version>-um-<hash>            one O= build per fragment and
#                                               patch set
#
# Patches: every scripts/patches/*.patch (BUDDY_PATCHES=DIR for another
# set), applied in name order with patch -p1.  The source records the set it
# carries; a different set is first reversed (so every file it touched gets
# a new time and rebuilds), then the new one applied.  Applying the same set
# again does nothing.  A patch that does not apply stops with its name.
#
# Progress goes to stderr; stdout carries only the path asked for.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BUDDY_CACHE:-/var/tmp/buddy}
tarball=${BUDDY_KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
patch_dir=${BUDDY_PATCHES:-$here/patches}
jobs=${JOBS:-$(nproc)}

log() { echo "kernel-tree: $*" >&2; }

need_source() {
	if [ ! -f "$tarball" ]; then
		log "$tarball missing; run 'make deps' (apt-get install linux-source-6.12)"
		exit 1
	fi
	local ver
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo unknown)
	src_ver=$ver
	src_dir=$cache/src/$ver/linux-source-6.12
	if [ -f "$src_dir/.buddy-unpacked" ]; then
		return
	fi
	log "unpacking $tarball into $cache/src/$ver"
	rm -rf "$cache/src/$ver"
	mkdir -p "$cache/src/$ver"
	tar -C "$cache/src/$ver" -xf "$tarball"
	touch "$src_dir/.buddy-unpacked"
}

# The patch set's identity: names and contents, in the order applied.
patch_set_hash() {
	local p
	for p in "$patch_dir"/*.patch; do
		[ -e "$p" ] || continue
		basename "$p"
		cat "$p"
	done | sha256sum | cut -c1-12
}

# Bring the source to carry exactly the patches in $patch_dir.  The set
# applied last is kept in .buddy-patches/ (its hash in .buddy-patches/set),
# so that it can be reversed even after scripts/patches changed.  Patches
# the old and new sets share at their start stay applied: reversing one
# would give every file it touches a new time (a header: the whole kernel
# rebuilds).
apply_patches() {
	local want have p name applied=$src_dir/.buddy-patches
	local -a old=() new=()
	local keep=0 i
	want=$(patch_set_hash)
	have=$(cat "$applied/set" 2>/dev/null || echo none)
	[ "$want" != "$have" ] || return 0
	exec 8>"$src_dir.lock"
	flock 8
	have=$(cat "$applied/set" 2>/dev/null || echo none)
	[ "$want" != "$have" ] || return 0
	mkdir -p "$applied"
	for p in "$applied"/*.patch; do
		[ -e "$p" ] && old+=("$p")
	done
	for p in "$patch_dir"/*.patch; do
		[ -e "$p" ] && new+=("$p")
	done
	while [ $keep -lt ${#old[@]} ] && [ $keep -lt ${#new[@]} ] &&
	      [ "$(basename "${old[$keep]}")" = "$(basename "${new[$keep]}")" ] &&
	      cmp -s "${old[$keep]}" "${new[$keep]}"; do
		keep=$((keep + 1))
	done
	echo partial >"$applied/set"
	for ((i = ${#old[@]} - 1; i >= keep; i--)); do
		p=${old[$i]}
		log "reversing $(basename "$p")"
		patch -d "$src_dir" -p1 -R -s -f <"$p" >&2 || {
			log "cannot reverse $(basename "$p"); remove $cache/src to start again"
			exit 1
		}
		rm -f "$p"
	done
	for p in "${new[@]:$keep}"; do
		name=$(basename "$p")
		# No fuzz: a patch whose context moved is reported, not
		# applied somewhere near.
		if ! patch -d "$src_dir" -p1 -N -s -f -F0 --dry-run <"$p" >/dev/null 2>&1; then
			log "patch $p does not apply to linux-source-6.12 $src_ver:"
			patch -d "$src_dir" -p1 -N -f -F0 --dry-run <"$p" >&2 || true
			# What was applied before it stays recorded, so a fixed
			# set can reverse it.
			exit 1
		fi
		log "applying $name"
		patch -d "$src_dir" -p1 -N -s -f -F0 <"$p" >&2
		cp "$p" "$applied/$name"
	done
	echo "$want" >"$applied/set"
}

# Build vmlinux ("linux") for ARCH=um with the given fragment on top of the
# kernel's defaults, then modules_prepare so M= builds work against it.
# A fragment may start with "#include NAME" lines (relative to itself).
expand_fragment() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"#include "*) expand_fragment "$(dirname "$1")/${line#\#include }" ;;
		*) echo "$line" ;;
		esac
	done < "$1"
}

# The O= directory for a fragment: keyed by the fragment's expanded text and
# the patch set, so a changed patch is a new build.
build_dir() {
	local hash
	hash=$({ expand_fragment "$1"; patch_set_hash; } | sha256sum | cut -c1-12)
	echo "$cache/build/$src_ver-um-$hash"
}

build_uml() {
	local frag build
	frag=$(mktemp)
	expand_fragment "$1" > "$frag"
	build=$(build_dir "$1")
	# One build per directory at a time: concurrent runs wait here, then
	# find it built.  Builds of other configs go on in parallel.
	mkdir -p "$cache/build"
	exec 9>"$build.lock"
	flock 9
	if [ ! -d "$build" ]; then
		# Start from a built sibling: copied file times let make redo
		# only what the changed options touch.
		local seed
		# No build yet: ls fails, which pipefail must not turn into
		# an exit.
		seed=$(ls -dt "$cache/build/$src_ver"-um-*/.buddy-built 2>/dev/null |
		       head -1 || true)
		mkdir -p "$cache/build"
		if [ -n "$seed" ]; then
			log "seeding $build from $(dirname "$seed")"
			cp -a "$(dirname "$seed")" "$build.tmp"
			rm -f "$build.tmp/.buddy-built" "$build.tmp/.buddy-fragment"
			mv "$build.tmp" "$build"
		fi
	fi
	mkdir -p "$build"
	if [ ! -f "$build/.config" ] || ! cmp -s "$frag" "$build/.buddy-fragment"; then
		log "configuring $build from $frag"
		cp "$frag" "$build/.config"
		make -s -C "$src_dir" O="$build" ARCH=um olddefconfig >&2
		# A fragment line the kernel dropped (a missing dependency) is
		# a silent test gap; refuse it.
		local line missing=0
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=n) grep -q "^${line%=n}=" "$build/.config" && missing=1 && log "not applied: $line" ;;
			CONFIG_*) grep -qx "$line" "$build/.config" || { missing=1; log "not applied: $line"; } ;;
			esac
		done < "$frag"
		[ $missing = 0 ] || exit 1
		cp "$frag" "$build/.buddy-fragment"
	fi
	rm -f "$frag"
	# make is itself incremental; an unchanged tree costs about 20 s.
	if [ ! -f "$build/.buddy-built" ] || [ "$build/.config" -nt "$build/.buddy-built" ]; then
		log "building UML in $build with $jobs jobs (first build: about 10 minutes)"
		make -s -C "$src_dir" O="$build" ARCH=um -j"$jobs" linux modules >&2
		make -s -C "$src_dir" O="$build" ARCH=um modules_prepare >&2
		touch "$build/.buddy-built"
	fi
	echo "$build"
}

case "${1:-}" in
src)
	need_source
	apply_patches
	echo "$src_dir"
	;;
uml)
	need_source
	apply_patches
	build_uml "${2:-$here/configs/uml.config}"
	;;
build-dir)
	need_source
	build_dir "${2:-$here/configs/uml.config}"
	;;
*)
	echo "usage: $0 src | uml [CONFIG_FRAGMENT] | build-dir [CONFIG_FRAGMENT]" >&2
	exit 2
	;;
esac
