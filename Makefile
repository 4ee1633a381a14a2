# SPDX-License-Identifier: GPL-2.0
#
# buddy: out-of-tree module.  Kbuild (the Kbuild file) lists the objects;
# this Makefile drives builds and tests.  Kernel trees and build output for
# UML live under $(BUDDY_CACHE) (default /var/tmp/buddy), never in here.
#
#   make                 buddy.ko against KDIR (default: the running kernel)
#   make deps            install Debian packages, unpack linux-source-6.12
#   make demo            boot UML with buddy.ko: allocate, free, show stats
#   make check           every test (lint, userspace core, KUnit, end to end)
#   make kunit           the KUnit suites under UML
#   make core-test       the userspace build of the core and its tests
#   make e2e             the module's end-to-end tests under UML
#   make lint            checkpatch --strict, W=1 and sparse
#   make uml             just build the cached UML kernel and buddy.ko for it

KDIR ?= /lib/modules/$(shell uname -r)/build
BUILD := $(CURDIR)/build
CFLAGS_USER := -O2 -Wall -Wextra -Werror -I$(CURDIR)/include/uapi

.PHONY: all modules clean deps demo check kunit core-test e2e lint uml

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

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

lint: deps
	scripts/check.sh lint
