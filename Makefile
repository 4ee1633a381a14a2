# SPDX-License-Identifier: GPL-2.0
#
# buddy: out-of-tree module.  Kbuild (the Kbuild file) lists the objects;
# this Makefile drives builds and tests.  Kernel trees and build output for
# UML live under $(BUDDY_CACHE) (default /var/tmp/buddy), never in here.
#
#   make                 buddy_alloc.ko against KDIR (default: running kernel)
#   make deps            install Debian packages, unpack linux-source-6.12
#   make demo            boot UML with buddy_alloc.ko: alloc, free, show stats
#   make check           every test (lint, userspace core, KUnit, end to end)
#   make kunit           the KUnit suites under UML
#   make core-test       the userspace build of both cores and their tests
#   make e2e             the module's end-to-end tests under UML
#   make fpu-check       FPU/vector state survives in UML processes on this host
#   make lint            checkpatch --strict, W=1 and sparse
#   make uml             just build the cached UML kernel and buddy_alloc.ko
#   make bench-kernel    in UML: buddy_core against gpu_buddy, gen_pool, alloc_pages
#   make bench-ioctl     in UML: single ioctls against batches
#   make bench-core      userspace: instructions/op (callgrind), ns/op, fragmentation
#   make bench-smp       in qemu -smp 2: 1 and 2 threads, per-CPU caches on and off
#   make check-qemu      end to end on Debian's own 6.12 kernel under qemu (default
#                        pool, then 256 MiB reserved at boot) + Debian header builds
#   make check-debug     KUnit, end to end, fault injection, ioctl fuzzer on the
#                        sanitizer UML kernel (also part of make check)
#   make fuzz            libFuzzer on the core (FUZZ_SECONDS, FUZZ_RUNS)
#   make stress          SMP stress on Debian 6.12 in qemu -smp 2
#   make modules-6.1     buddy_alloc.ko against Debian's 6.1 headers, W=1, no
#                        warning
#   make install         buddy_alloc.ko (modules_install, depmod),
#                        <linux/buddy.h>, buddyctl and its man page, the udev
#                        rule; DESTDIR, INSTALL_MOD_PATH (default DESTDIR),
#                        PREFIX (/usr)
#   make uninstall       removes what make install put there
#   make dkms-source     the module's sources and dkms.conf in
#                        $(DESTDIR)/usr/src/buddy-VERSION, for dkms install

KDIR ?= /lib/modules/$(shell uname -r)/build
BUILD := $(CURDIR)/build
CFLAGS_USER := -O2 -Wall -Wextra -Werror -I$(CURDIR)/include/uapi

.PHONY: all modules clean deps demo check kunit core-test e2e lint uml

all: modules

# BUDDY_MODULE_ONLY: buddy_alloc.ko alone, without the KUnit and benchmark
# modules that make check builds elsewhere (scripts/build-module.sh).
modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) BUDDY_MODULE_ONLY=1 modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true
	rm -rf $(BUILD)

deps:
	scripts/deps.sh

uml: deps
	scripts/build-module.sh um "$$(scripts/kernel-tree.sh uml)" >/dev/null

$(BUILD)/buddyctl: tools/buddyctl.c include/uapi/linux/buddy.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_USER) -o $@ $<

demo: deps $(BUILD)/buddyctl
	scripts/uml-run.sh -- $(BUILD)/buddyctl demo

check: deps
	scripts/check.sh

kunit: deps
	scripts/check.sh kunit

core-test:
	scripts/check.sh core

e2e: deps
	scripts/check.sh e2e

# FPU state across yields, signals, faults and fork in UML on this host.
.PHONY: fpu-check
fpu-check: deps
	scripts/check.sh fpu

lint: deps
	scripts/check.sh lint

# The in-kernel benchmark in UML (bench/buddy_bench.c): buddy_core against
# gpu_buddy, gen_pool and alloc_pages, a table on stdout.  BENCH_ARGS are
# buddy_bench.ko parameters, for a smoke run:
#   make bench-kernel BENCH_ARGS="order=14 ops=20000 w3_ops=2000 pair_ops=10000 reps=1"
BENCH_ARGS ?=
.PHONY: bench-kernel bench-ioctl
bench-kernel: deps
	scripts/bench-kernel.sh $(BENCH_ARGS)

# Single ioctls against BUDDY_IOC_BATCH of 1, 8, 64 and 256, in UML.
BENCH_IOCTL_OPS ?= 100000
$(BUILD)/bench_ioctl: bench/bench_ioctl.c include/uapi/linux/buddy.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_USER) -o $@ $<

bench-ioctl: deps $(BUILD)/bench_ioctl
	scripts/uml-run.sh -- $(BUILD)/bench_ioctl $(BENCH_IOCTL_OPS)

.PHONY: check-qemu modules-6.1

check-qemu:
	scripts/check.sh qemu

# KUnit and the end-to-end tests on UML with KASAN, UBSAN, lockdep, kmemleak
# and fault injection built in (a second cached kernel, built on first use).
.PHONY: check-debug
check-debug: deps
	scripts/check.sh debug-fpu debug-kunit debug-e2e debug-extra

modules-6.1:
	scripts/qemu-e2e.sh build-6.1

# Userspace benchmark of both cores (bench/bench_core.c): instructions per op
# under callgrind, ns/op, metadata and fragmentation; docs/PERFORMANCE.md.
# BENCH_CORE_ARGS are its name=value parameters, for a smoke run:
#   make bench-core BENCH_CORE_ARGS="order=14 ops=20000 w3_ops=2000 sweep_ops=2000 sweep_max=14 reps=1"
BENCH_CORE_ARGS ?=
.PHONY: bench-core
bench-core:
	$(MAKE) -C bench bench-core BENCH_CORE_ARGS="$(BENCH_CORE_ARGS)"

# Throughput of 1 and 2 threads on Debian's 6.12 in qemu -smp 2 (multi-threaded
# TCG, checked), per-CPU caches on and off in one boot, beside a getppid()
# loop (scripts/bench-smp.sh, bench/bench_smp.c).  BENCH_SMP_ARGS, e.g.
# "--seconds 0.2 --runs 1" for a smoke run.
BENCH_SMP_ARGS ?=
.PHONY: bench-smp
bench-smp:
	scripts/bench-smp.sh $(BENCH_SMP_ARGS)

# SMP stress on Debian's 6.12 in qemu (-smp 2): tests/smp_stress.c, processes
# and threads allocating, mapping, stamping and freeing at once, with the
# default pool, a 256 MiB pool reserved at boot, and the default pool while
# CPU 1 goes offline and back (scripts/smp-stress.sh).
# STRESS_ARGS for the script, e.g. "--seconds 10 --seed 1 default".
STRESS_ARGS ?=
.PHONY: stress
stress:
	scripts/smp-stress.sh $(STRESS_ARGS)

# libFuzzer on the core (fuzz/core_fuzz.c, clang, ASan+UBSan) from the seed
# corpus fuzz/corpus, copied into build/fuzz/corpus: FUZZ_SECONDS of fuzzing,
# or FUZZ_RUNS executions when set.  A failing input lands in build/fuzz/.
FUZZ_SECONDS ?= 10
FUZZ_RUNS ?=
.PHONY: fuzz
fuzz:
	$(MAKE) -C fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS)

# Installing, as README.md's "Installing" lists it.  DESTDIR stages a tree
# (packages); INSTALL_MOD_PATH is where lib/modules/KVER goes, DESTDIR by
# default.  The module goes to updates/ (6.1's Kbuild would pick extra/),
# compressed where the kernel compresses its modules, as Debian's 6.12
# does (buddy_alloc.ko.xz); depmod runs
# here because Kbuild skips it without the kernel's System.map, as against
# a distribution's headers.
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' $(CURDIR)/dkms.conf)
PREFIX ?= /usr
UDEVRULESDIR ?= /etc/udev/rules.d
INSTALL_MOD_PATH ?= $(DESTDIR)
# The release the module is built for (its vermagic), which names
# /lib/modules: Debian's 6.1 headers say 6.1.192 in kernel.release but
# 6.1.0-N-amd64 in utsrelease.h.
KVER = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' $(KDIR)/include/generated/utsrelease.h)
MODDIR = $(INSTALL_MOD_PATH)/lib/modules/$(KVER)
DEPMOD := $(shell PATH="$$PATH:/sbin:/usr/sbin" command -v depmod)
DKMS_SOURCES := Kbuild dkms.conf $(wildcard *.c *.h) include/uapi/linux/buddy.h

.PHONY: install uninstall dkms-source
# Without the kernel's signing key (a distribution's headers), Kbuild would
# try to sign and fail loudly; the module is installed unsigned instead.
SIGN_KEY = $(shell sed -n 's/^CONFIG_MODULE_SIG_KEY="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' \
	     $(KDIR)/include/config/auto.conf 2>/dev/null)
NO_SIGN = $(if $(SIGN_KEY),$(if $(wildcard $(SIGN_KEY) $(KDIR)/$(SIGN_KEY)),,CONFIG_MODULE_SIG_ALL=))

install: modules $(BUILD)/buddyctl
	$(MAKE) -C $(KDIR) M=$(CURDIR) BUDDY_MODULE_ONLY=1 $(NO_SIGN) \
		KERNELRELEASE=$(KVER) INSTALL_MOD_DIR=updates INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) \
		modules_install
	$(DEPMOD) $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)
	install -D -m 0644 include/uapi/linux/buddy.h $(DESTDIR)$(PREFIX)/include/linux/buddy.h
	install -D -m 0755 $(BUILD)/buddyctl $(DESTDIR)$(PREFIX)/bin/buddyctl
	install -D -m 0644 tools/buddyctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/buddyctl.1
	install -D -m 0644 tools/60-buddy.rules $(DESTDIR)$(UDEVRULESDIR)/60-buddy.rules

uninstall:
	rm -f $(MODDIR)/updates/buddy_alloc.ko $(MODDIR)/updates/buddy_alloc.ko.gz \
		$(MODDIR)/updates/buddy_alloc.ko.xz $(MODDIR)/updates/buddy_alloc.ko.zst
	if [ -d $(MODDIR) ]; then $(DEPMOD) $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER); fi
	rm -f $(DESTDIR)$(PREFIX)/include/linux/buddy.h $(DESTDIR)$(PREFIX)/bin/buddyctl \
		$(DESTDIR)$(PREFIX)/share/man/man1/buddyctl.1 \
		$(DESTDIR)$(UDEVRULESDIR)/60-buddy.rules

dkms-source:
	rm -rf $(DESTDIR)/usr/src/buddy-$(VERSION)
	for f in $(DKMS_SOURCES); do \
		install -D -m 0644 $$f $(DESTDIR)/usr/src/buddy-$(VERSION)/$$f || exit 1; \
	done
