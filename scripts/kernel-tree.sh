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
#
# Layout, under $BUDDY_CACHE (default /var/tmp/buddy):
#   src/<debian-version>/linux-source-6.12     Debian's linux-source-6.12
#   build/<debian-version>-um-<config-hash>     one O= build per fragment
#
# Progress goes to stderr; stdout carries only the path asked for.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BUDDY_CACHE:-/var/tmp/buddy}
tarball=/usr/src/linux-source-6.12.tar.xz
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

build_uml() {
	local frag hash build
	frag=$(mktemp)
	expand_fragment "$1" > "$frag"
	hash=$(sha256sum "$frag" | cut -c1-12)
	build=$cache/build/$src_ver-um-$hash
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
	echo "$src_dir"
	;;
uml)
	need_source
	build_uml "${2:-$here/configs/uml.config}"
	;;
*)
	echo "usage: $0 src | uml [CONFIG_FRAGMENT]" >&2
	exit 2
	;;
esac
