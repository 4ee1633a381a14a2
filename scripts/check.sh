#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every test the project has, in one run (make check):
#   kernel-tree  scripts/kernel-tree.sh's patch handling, on a stand-in
#             source (tests/kernel-tree-test.sh)
#   lint      checkpatch --strict on the kernel sources; buddy_alloc.ko built with
#             W=1 and sparse (C=2) with no warning
#   core      the userspace build of both cores, buddy_core.c and buddy_tree.c
#             (-Werror, sanitizers, -funsigned-char, pools too large for UML)
#   fpu       FPU and vector registers survive in UML processes on this
#             host (scripts/fpu-check.sh; scripts/patches/ fix AMX hosts)
#   tools     buddyctl without a kernel: golden terminal and SVG pictures
#             from recorded debugfs files, SVG parsed by xmllint, JSON, error
#             lines, 2^20 live blocks, the man page (tests/buddyctl-golden.sh)
#   install   make install / uninstall into a DESTDIR (every file where the
#             README says), dkms build for Debian's 6.12 and 6.1 headers,
#             and in qemu on Debian 6.12 the installed module: modprobe
#             buddy, buddyctl, modprobe -r (scripts/install-check.sh)
#   kunit     the KUnit suites under UML
#   e2e       the module end to end under UML, several parameter sets
#   fuzz      libFuzzer on both cores against their model, 5 s (make fuzz: longer)
#   bench     every benchmark at smoke size (bench-smp in qemu too): it
#             builds, runs and prints its table (nothing timed; the figures
#             come from the full runs)
#   stress    SMP stress on Debian 6.12 in qemu -smp 2, 10 s per pool, and
#             10 s more while CPU 1 goes offline and back (make stress: 30 s)
#   debug-fpu, debug-kunit, debug-e2e, debug-extra (also make check-debug)
#             the FPU check, KUnit, end to end, fault injection of every allocation one at
#             a time, and the ioctl fuzzer, on the sanitizer kernel
#             (scripts/configs/uml-debug.config)
#   qemu      the end-to-end tests on Debian's own 6.12 kernel under qemu,
#             default pool and a 256 MiB pool reserved at boot, plus builds
#             against Debian's 6.1 and 6.12 headers (make check-qemu)
#
# Each stage prints its own closing line; this script adds them up and ends
# with "N passed, N failed".  Exit status: non-zero if anything failed or a
# stage could not run.
#
#   scripts/check.sh [STAGE...]     (default: all stages)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(kernel-tree lint core tools fuzz fpu kunit e2e install bench qemu stress debug-fpu debug-kunit debug-e2e debug-extra)

total_pass=0
total_fail=0
broken=""
per_stage=""
failures=$(mktemp)
trap 'rm -f "$failures"' EXIT

# Runs a stage, shows its output, and adds its counts.  $2 is a sed program
# printing "PASSED FAILED" from the stage's closing line.
run_stage() {
	local name=$1 parse=$2 out rc counts
	shift 2
	echo "=== $name: $*"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	counts=$(sed -nE "$parse" "$out" | tail -1)
	# What failed, named by the last "# === PROGRAM [PARAMS]" header above
	# it, so that the end of the log says where to look.
	awk -v stage="$name" '
		/^# === / { where = substr($0, 7) ": " }
		/^[[:space:]]*not ok |\[FAILED\]/ {
			sub(/^[[:space:]]+/, "")
			print stage ": " where $0
		}' "$out" >>"$failures"
	rm -f "$out"
	if [ -z "$counts" ]; then
		echo "=== $name: no result line (exit $rc)"
		broken="$broken $name"
		return
	fi
	read -r p f <<<"$counts"
	f=${f:-0}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "=== $name: exit $rc despite no failed test"
		broken="$broken $name"
	fi
	echo "=== $name: $p passed, $f failed"
	per_stage="$per_stage $name $p/$f"
}

plain='s/^([0-9]+) passed, ([0-9]+) failed.*$/\1 \2/p'
# kunit.py: "Testing complete. Ran 25 tests: passed: 24, failed: 1"
kunit='s/.*Ran ([0-9]+) tests: passed: ([0-9]+)(, failed: ([0-9]+))?.*/\2 \4/p'

for stage in "${stages[@]}"; do
	case "$stage" in
	kernel-tree) run_stage kernel-tree "$plain" tests/kernel-tree-test.sh ;;
	lint) run_stage lint "$plain" scripts/lint.sh ;;
	core) run_stage core "$plain" make -s -C tests core-test ;;
	fpu) run_stage fpu "$plain" scripts/fpu-check.sh ;;
	debug-fpu)
		run_stage debug-fpu "$plain" scripts/fpu-check.sh --config scripts/configs/uml-debug.config ;;
	tools) run_stage tools "$plain" tests/buddyctl-golden.sh ;;
	install) run_stage install "$plain" scripts/install-check.sh ;;
	kunit) run_stage kunit "$kunit" scripts/kunit.sh ;;
	e2e) run_stage e2e "$plain" tests/run-e2e.sh ;;
	qemu) run_stage qemu "$plain" scripts/qemu-e2e.sh ;;
	debug-kunit)
		run_stage debug-kunit "$kunit" scripts/kunit.sh --config scripts/configs/uml-debug.config ;;
	debug-e2e)
		run_stage debug-e2e "$plain" tests/run-e2e.sh --config scripts/configs/uml-debug.config ;;
	debug-extra) run_stage debug-extra "$plain" scripts/check-debug-extra.sh ;;
	fuzz) run_stage fuzz "$plain" scripts/fuzz-smoke.sh 5 ;;
	bench) run_stage bench "$plain" scripts/bench-smoke.sh ;;
	stress) run_stage stress "$plain" scripts/smp-stress.sh --seconds 10 ;;
	*) echo "check: unknown stage $stage" >&2; exit 2 ;;
	esac
done

# The last lines are all a CI log may keep: the counts per stage, then up
# to ten of the failed checks, then the total.
echo "=== stages (passed/failed):$per_stage"
if [ -s "$failures" ]; then
	echo "=== failed checks ($(wc -l <"$failures"), the first 10):"
	head -10 "$failures" | cut -c1-300
fi
[ -z "$broken" ] || echo "stages that did not report cleanly:$broken"
echo "$total_pass passed, $total_fail failed"
[ -z "$broken" ] && [ "$total_fail" = 0 ]
