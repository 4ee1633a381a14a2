#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/kernel-tree.sh's patch handling, on a small stand-in source tree
# (BUDDY_KERNEL_TARBALL) in a scratch cache, so it takes a second and builds
# nothing:
#   - the patches apply, in name order, and the source records the set;
#   - applying the same set again changes nothing (idempotent);
#   - the build directory's key changes with the patch set;
#   - a changed set is reversed and the new one applied;
#   - a patch that does not apply stops with a message naming it, and a
#     fixed set then applies cleanly.
# Ends with "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() {
	if [ "$1" = 0 ]; then
		echo "ok - $2"
		passed=$((passed + 1))
	else
		echo "not ok - $2"
		failed=$((failed + 1))
	fi
}

# The stand-in source: two files, packed as Debian packs linux-source.
mkdir -p "$tmp/pack/linux-source-6.12"
printf 'one\ntwo\nthree\n' >"$tmp/pack/linux-source-6.12/a.c"
printf 'alpha\nbeta\n' >"$tmp/pack/linux-source-6.12/b.c"
tar -C "$tmp/pack" -cJf "$tmp/linux.tar.xz" linux-source-6.12
export BUDDY_KERNEL_TARBALL=$tmp/linux.tar.xz
export BUDDY_CACHE=$tmp/cache

# make_patch NAME FILE OLD NEW: a unified diff replacing line OLD by NEW.
make_patch() {
	local dir=$1 name=$2 file=$3 old=$4 new=$5 n
	n=$(wc -l <"$tmp/pack/linux-source-6.12/$file")
	mkdir -p "$dir"
	cat >"$dir/$name" <<EOF
Subject: [PATCH] test: $old -> $new in $file

--- a/$file
+++ b/$file
@@ -1,$n +1,$n @@
$(sed "s/^/ /; s/^ $old\$/-$old\n+$new/" "$tmp/pack/linux-source-6.12/$file")
EOF
}
make_patch "$tmp/set1" 0001-a.patch a.c two TWO
make_patch "$tmp/set1" 0002-b.patch b.c beta BETA
make_patch "$tmp/set2" 0001-a.patch a.c three THREE
cp "$tmp/set2/0001-a.patch" "$tmp/bad.patch"
# It removes a line the source does not have: no fuzz can make it fit.
sed -i 's/^-three$/-tres/' "$tmp/bad.patch"

tree() { BUDDY_PATCHES=$1 "$repo/scripts/kernel-tree.sh" "${@:2}"; }

src=$(tree "$tmp/set1" src 2>"$tmp/log1")
check $? "a set of two patches applies"
[ "$(grep -c '^kernel-tree: applying' "$tmp/log1")" = 2 ]
check $? "both patches were applied, once each"
[ "$(cat "$src/a.c" "$src/b.c" | tr '\n' ' ')" = "one TWO three alpha BETA " ]
check $? "the source carries both changes"
key1=$(tree "$tmp/set1" build-dir 2>/dev/null)

tree "$tmp/set1" src >/dev/null 2>"$tmp/log2"
check $? "applying the same set again succeeds"
! grep -q 'applying\|reversing' "$tmp/log2" &&
	[ "$(cat "$src/a.c" "$src/b.c" | tr '\n' ' ')" = "one TWO three alpha BETA " ]
check $? "... and changes nothing"

tree "$tmp/set2" src >/dev/null 2>"$tmp/log3"
check $? "another set replaces it"
[ "$(cat "$src/a.c" "$src/b.c" | tr '\n' ' ')" = "one two THREE alpha beta " ]
check $? "... the old changes reversed, the new one applied"
key2=$(tree "$tmp/set2" build-dir 2>/dev/null)
[ -n "$key1" ] && [ -n "$key2" ] && [ "$key1" != "$key2" ]
check $? "the build directory differs with the patch set ($(basename "$key1") vs $(basename "$key2"))"

# A set that changes only its second patch keeps the first applied, so
# the files only it touches keep their time and nothing rebuilds for them.
tree "$tmp/set1" src >/dev/null 2>&1
mkdir -p "$tmp/set4"
cp "$tmp/set1/0001-a.patch" "$tmp/set4/"
make_patch "$tmp/set4" 0002-b.patch b.c alpha ALPHA
before=$(stat -c %Y.%y "$src/a.c")
sleep 1
tree "$tmp/set4" src >/dev/null 2>"$tmp/log4"
check $? "a set whose second patch changed applies"
[ "$(cat "$src/a.c" "$src/b.c" | tr '\n' ' ')" = "one TWO three ALPHA beta " ] &&
	[ "$(stat -c %Y.%y "$src/a.c")" = "$before" ] &&
	! grep -q '0001-a' "$tmp/log4"
check $? "... the shared first patch stays applied and its file untouched"

mkdir -p "$tmp/set3"
cp "$tmp/set2/0001-a.patch" "$tmp/set3/"
cp "$tmp/bad.patch" "$tmp/set3/0002-does-not-fit.patch"
out=$(tree "$tmp/set3" src 2>&1 >/dev/null)
rc=$?
[ $rc != 0 ] && grep -q "patch .*0002-does-not-fit.patch does not apply" <<<"$out"
check $? "a patch that does not apply stops with its name (exit $rc)"

tree "$tmp/set1" src >/dev/null 2>&1 &&
	[ "$(cat "$src/a.c" "$src/b.c" | tr '\n' ' ')" = "one TWO three alpha BETA " ]
check $? "after the failure, a good set applies cleanly"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
