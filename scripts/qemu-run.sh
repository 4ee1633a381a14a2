#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Debian's own 6.12 kernel under qemu (TCG: no KVM needed) from a
# busybox initramfs, insmod buddy_alloc.ko, run a program as root inside, rmmod,
# power off.  The counterpart of uml-run.sh on a real distribution kernel:
# same options where they apply, same environment, same exit status.
#
#   scripts/qemu-run.sh [options] -- PROGRAM [ARGS...]
#
#   --params "k=v ..."   module parameters for insmod
#   --no-insmod          do not load buddy_alloc.ko (the program loads what it needs)
#   --mem SIZE           guest memory, qemu -m syntax: MB or 1G (default 512)
#   --append "..."       extra kernel command line (also --cmdline); quote a
#                        `$` for the shell: --append 'memmap=256M$0x30000000'
#   --copy PATH          also copy PATH (file or directory) into the guest
#   --root DIR           copy DIR's tree onto the guest's root (a staged
#                        `make install DESTDIR=DIR`), with the libraries of
#                        its programs
#   --timeout SECONDS    whole-run limit (default 900)
#   --log FILE           keep the whole kernel log (from boot) in FILE
#   --qemu-args "..."    extra qemu options, split at spaces (e.g.
#                        "-name NAME,debug-threads=on", so the host's thread
#                        list names the vCPU threads)
#
# Builds what is missing first (scripts/qemu-deps.sh; buddy_alloc.ko against the
# kernel's headers, about 5 s, when a source is newer than it).  Exits with
# PROGRAM's status, or non-zero if insmod or rmmod failed, the kernel ignored
# an unknown module parameter (it loads the module anyway), the kernel log
# shows a WARNING, BUG, Oops, or a KASAN/UBSAN/lockdep report, or the guest
# did not finish (panic, timeout); on failure it prints the kernel log (from
# init on, unless the boot itself has a report).  A run takes about 5-15 s.
#
# The guest has only busybox, so what runs there is copied in, each file at
# its host path: PROGRAM; if PROGRAM is a script, every regular file next to
# it (so it can run its sibling test binaries) and its interpreter; each ARG
# that names an existing regular file; --copy paths; and the shared libraries
# (ldd) of every dynamically linked ELF among them.  A bare PROGRAM name is a
# busybox applet if busybox has one (sh, cat, ...), else it is looked up in
# the host's PATH.  The program starts in the host's current directory (empty
# but for what was copied).
#
# vgem (a DMA-BUF importer) and the modules it needs are loaded from the
# kernel's own package before the program.
#
# Inside, the program finds: BUDDY_KO (buddy_alloc.ko), BUDDY_MODDIR (the module
# build directory, its .ko files), BUDDY_PARAMS, and BUDDY_RESULTS, an empty
# directory in the guest's root, a tmpfs (scratch space: unlike under UML it
# is not shared with the host).  The console is the program's (ttyS1, the host's stdout); the kernel
# logs to ttyS0, a file on the host, from boot, so a panic or a hang still
# leaves the whole log.  The guest reports its status there, then ends qemu
# through isa-debug-exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${BUDDY_CACHE:-/var/tmp/buddy}
params=""
insmod=1
mem=512
append=""
copies=()
roots=()
limit=900
log=""
qemu_args=()

usage() {
	sed -n '9,21p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--params) params=$2; shift 2 ;;
	--no-insmod) insmod=0; shift ;;
	--mem) mem=$2; shift 2 ;;
	--append | --cmdline) append="$append $2"; shift 2 ;;
	--copy) copies+=("$2"); shift 2 ;;
	--root) roots+=("$2"); shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--qemu-args) read -r -a more <<<"$2"; qemu_args+=("${more[@]}"); shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -ge 1 ] || usage

deps=$("$repo"/scripts/qemu-deps.sh kver kernel kdir) || {
	echo "qemu-run: scripts/qemu-deps.sh failed (status $?)" >&2
	exit 1
}
{ read -r kver; read -r kernel; read -r kdir; } <<<"$deps" || true
[ -n "$kdir" ] || { echo "qemu-run: scripts/qemu-deps.sh named no kernel: $deps" >&2; exit 1; }

res=$(mktemp -d /tmp/buddy-qemu.XXXXXX)
trap 'rm -rf "$res"' EXIT
stage=$res/root
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,etc,root}
chmod 1777 "$stage/tmp"

# busybox, with a link for every applet at its usual path.
cp /bin/busybox "$stage/bin/busybox"
while read -r applet; do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done < <(/bin/busybox --list-full)
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
# busybox modinfo wants a modules.dep even for a path.
mkdir -p "$stage/lib/modules/$kver"
: >"$stage/lib/modules/$kver/modules.dep"

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null)" = $'\177ELF' ]; }

# Copies the shared libraries of an ELF file into the guest, at their paths.
copy_libs() {
	local lib
	is_elf "$1" || return 0
	# "libc.so.6 => /lib/.../libc.so.6 (0x...)", "/lib64/ld-linux... (0x...)"
	for lib in $(ldd "$1" 2>/dev/null | sed -nE 's@^\s*(\S+ => )?(/\S+) \(0x.*@\2@p'); do
		copy_in "$lib"
	done
}

# Copies a host file into the guest at the same path, with its libraries.
copy_in() {
	local src=$1 dst=$stage$1
	[ -f "$dst" ] && [ ! -L "$dst" ] && return 0
	mkdir -p "$(dirname "$dst")"
	rm -f "$dst"
	cp -L "$src" "$dst"
	copy_libs "$src"
}

abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

prog=$1
shift
case "$prog" in
*/*) prog=$(cd "$(dirname "$prog")" && pwd)/$(basename "$prog") ;;
*)
	if ! /bin/busybox --list | grep -qxF "$prog"; then
		prog=$(command -v "$prog") ||
			{ echo "qemu-run: $1: not found" >&2; exit 2; }
	fi
	;;
esac
if [[ "$prog" == /* ]]; then
	[ -x "$prog" ] || { echo "qemu-run: $prog: not executable" >&2; exit 2; }
	copy_in "$prog"
	if [ "$(head -c 2 "$prog")" = '#!' ]; then
		interp=$(head -n 1 "$prog" | sed -E 's/^#!\s*(\S+).*/\1/')
		[ -e "$stage$interp" ] || [ -L "$stage$interp" ] ||
			{ [ -f "$interp" ] && copy_in "$interp"; } || true
		for f in "$(dirname "$prog")"/*; do
			[ -f "$f" ] || continue
			if [ "$(stat -c %s "$f")" -gt $((64 << 20)) ]; then
				echo "qemu-run: not copying $f (over 64 MiB)" >&2
				continue
			fi
			copy_in "$f"
		done
	fi
fi
for a in "$@"; do
	if [ -n "$a" ] && [ -f "$a" ]; then
		copy_in "$(abspath "$a")"
	fi
done
for c in "${copies[@]}"; do
	c=$(abspath "$c")
	if [ -d "$c" ]; then
		mkdir -p "$stage$(dirname "$c")"
		cp -aL "$c" "$stage$(dirname "$c")/"
	else
		copy_in "$c"
	fi
done
for r in "${roots[@]}"; do
	[ -d "$r" ] || { echo "qemu-run: --root $r: not a directory" >&2; exit 2; }
	cp -a "$r"/. "$stage"/
	while read -r f; do
		copy_libs "$f"
	done < <(find "$r" -type f)
done
mkdir -p "$stage$PWD"

# buddy_alloc.ko for this kernel (build-module.sh's directory for it), one build
# at a time there.  Kbuild's no-op run against Debian's headers takes seconds,
# so it is skipped while buddy_alloc.ko is newer than every source.
mkdir -p "$cache/mod"
# As build-module.sh names it: per kernel and per checkout.
moddir=$cache/mod/$(basename "$kdir")-$(echo "$repo" | sha256sum | cut -c1-8)
exec 8>"$cache/mod/.$(basename "$kdir").lock"
flock 8
if [ ! -f "$moddir/buddy_alloc.ko" ] || [ -n "$(find "$repo"/Kbuild "$repo"/*.[ch] \
	"$repo"/include "$repo"/kunit "$repo"/tests/kmod -newer "$moddir/buddy_alloc.ko" \
	-print -quit)" ]; then
	moddir=$("$repo"/scripts/build-module.sh headers "$kdir")
fi
while read -r ko; do
	copy_in "$ko"
done < <(find "$moddir" -name '*.ko')
exec 8>&-
[ -f "$stage$moddir/buddy_alloc.ko" ] || { echo "qemu-run: no buddy_alloc.ko in $moddir" >&2; exit 1; }

# vgem, the DMA-BUF importer of the export tests, and the modules it needs
# (modinfo's depends, recursively), from the kernel's own package:
# decompressed into the guest's /lib/modules (busybox insmod reads plain
# .ko files) and loaded before the program, dependencies first.
kmods=$cache/qemu/$kver/lib/modules/$kver
preload=()
module_file() {
	find "$kmods/kernel" \( -name "$1.ko*" -o -name "${1//_/-}.ko*" \) -print -quit
}
add_module() {
	local name=$1 path dep rel m
	for m in "${preload[@]}"; do
		[ "${m##*/}" != "$name.ko" ] || return 0
	done
	path=$(module_file "$name")
	[ -n "$path" ] || { echo "qemu-run: module $name not in $kmods" >&2; return 1; }
	for dep in $(/sbin/modinfo -F depends "$path" | tr ',' ' '); do
		add_module "$dep" || return 1
	done
	rel=${path#"$kmods/"}
	rel=${rel%.ko*}.ko
	mkdir -p "$(dirname "$stage/lib/modules/$kver/$rel")"
	case "$path" in
	*.xz) xz -dc "$path" ;;
	*.zst) zstd -dcq "$path" ;;
	*.gz) gzip -dc "$path" ;;
	*) cat "$path" ;;
	esac >"$stage/lib/modules/$kver/$rel"
	preload+=("/lib/modules/$kver/$rel")
}
if [ -n "$(module_file vgem)" ]; then
	add_module vgem || exit 1
fi

# POSIX single quoting for the init script.
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
cmd=$(sq "$prog")
for a in "$@"; do
	cmd="$cmd $(sq "$a")"
done

{
	echo '#!/bin/sh'
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'export HOME=/root'
	echo 'mount -t devtmpfs devtmpfs /dev'
	echo '# ttyS1 is the program console (the host stdout); ttyS0 the kernel log.'
	echo 'exec </dev/null >/dev/ttyS1 2>&1'
	echo 'stty -F /dev/ttyS1 -onlcr 2>/dev/null'
	echo "export BUDDY_RESULTS=/tmp/results"
	echo "export BUDDY_KO=$(sq "$moddir/buddy_alloc.ko")"
	echo "export BUDDY_MODDIR=$(sq "$moddir")"
	echo "export BUDDY_PARAMS=$(sq "$params")"
	# Per-CPU page lists make nr_free_pages noisy on SMP (tests/e2e_params.c).
	echo "export BUDDY_E2E_PAGE_SLACK=400"
	echo "insmod_wanted=$insmod"
	echo "preload=$(sq "${preload[*]}")"
	echo "cwd=$(sq "$PWD")"
	cat <<'EOF'
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p "$BUDDY_RESULTS"
for m in $preload; do
	insmod "$m" || echo "qemu-run: insmod $m failed" > /dev/kmsg
done
insmod_rc=0 prog_rc=0 rmmod_rc=0
if [ "$insmod_wanted" = 1 ]; then
	# shellcheck disable=SC2086
	insmod "$BUDDY_KO" $BUDDY_PARAMS || insmod_rc=$?
fi
if [ "$insmod_rc" = 0 ]; then
EOF
	echo "	cd \"\$cwd\" && $cmd || prog_rc=\$?"
	cat <<'EOF'
	cd /
	if [ "$insmod_wanted" = 1 ] && grep -q '^buddy_alloc ' /proc/modules; then
		rmmod buddy_alloc || rmmod_rc=$?
	fi
fi
# The program's last lines may still be in ttyS1's buffers, and qemu exits
# at once below: stty sets with TCSADRAIN, which waits until they are sent.
stty -F /dev/ttyS1 -onlcr 2>/dev/null
echo "buddy-qemu-run: status $insmod_rc $prog_rc $rmmod_rc" > /dev/kmsg
# isa-debug-exit: qemu exits at once, with status 1.
printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
EOF
} >"$stage/init"
chmod 755 "$stage/init"
(cd "$stage" && find . | cpio -o -H newc -R 0:0 --quiet) >"$res/initrd.cpio"

set +e
timeout "$limit" qemu-system-x86_64 -nodefaults -nographic -no-reboot \
	-machine accel=tcg -smp 2 -m "$mem" \
	-kernel "$kernel" -initrd "$res/initrd.cpio" \
	-append "console=ttyS0 ignore_loglevel panic=-1 $append" \
	-serial "file:$res/console.log" -serial stdio \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 "${qemu_args[@]}" </dev/null |
	sed -u 's/\r$//'
qemu_rc=${PIPESTATUS[0]}
set -e

# The kernel's log from its first line (before it: the firmware's output).
tr -d '\r' <"$res/console.log" 2>/dev/null | sed -n '/Linux version/,$p' |
	sed -E '1s/^.*(\[ *[0-9.]+\] Linux version)/\1/' >"$res/kernel.log"
[ -z "$log" ] || cp "$res/kernel.log" "$log"
status=$(sed -nE 's/.*buddy-qemu-run: status ([0-9]+ [0-9]+ [0-9]+)$/\1/p' "$res/kernel.log" | tail -1)
reports='WARNING:|BUG:|Oops|KASAN|UBSAN|kmemleak: .*suspected|INFO: possible|circular locking|general protection|Kernel panic|list_(add|del) corruption'
fail=""
if [ -z "$status" ]; then
	if [ "$qemu_rc" = 124 ]; then
		fail="timed out after $limit s"
	else
		fail="qemu ended (status $qemu_rc) before the run finished"
	fi
	status="1 1 1"
fi
read -r insmod_rc prog_rc rmmod_rc <<<"$status"
if [ -z "$fail" ] && [ "$insmod_rc" != 0 ]; then
	fail="insmod buddy_alloc.ko $params failed ($insmod_rc)"
elif [ -z "$fail" ] && [ "$rmmod_rc" != 0 ]; then
	fail="rmmod buddy_alloc failed ($rmmod_rc)"
elif [ -z "$fail" ] && grep -q "buddy_alloc: unknown parameter '.*' ignored" "$res/kernel.log"; then
	# The kernel loads a module despite an unknown parameter.
	fail="insmod buddy_alloc.ko $params: $(grep -o "unknown parameter '.*' ignored" "$res/kernel.log" |
		head -1)"
elif [ -z "$fail" ] && grep -Eq "$reports" "$res/kernel.log"; then
	fail="the kernel log has a warning or an error report"
fi
if [ -n "$fail" ]; then
	# The log from init on, unless the boot itself has a report.
	boot=$(grep -n -m 1 'Run /init as init process' "$res/kernel.log" | cut -d: -f1)
	if [ -n "$boot" ] && ! head -n "$boot" "$res/kernel.log" | grep -Eq "$reports"; then
		echo "qemu-run: $fail; kernel log ($kver) from init on:" >&2
		tail -n "+$boot" "$res/kernel.log" >&2
	else
		echo "qemu-run: $fail; kernel log ($kver):" >&2
		cat "$res/kernel.log" >&2
	fi
	[ "$prog_rc" != 0 ] && exit "$prog_rc"
	exit 1
fi
exit "$prog_rc"
