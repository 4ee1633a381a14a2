#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What scripts/install-check.sh needs beyond scripts/qemu-deps.sh (Debian's
# 6.12 and 6.1 headers, the 6.12 image, qemu): the dkms package.  Idempotent:
# with it installed it only checks.
set -euo pipefail

"$(dirname "$0")"/qemu-deps.sh >/dev/null
dpkg-query -W -f='${Status}' dkms 2>/dev/null | grep -q 'ok installed' && exit 0
echo "install-deps: installing dkms" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
install() {
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends -o DPkg::Lock::Timeout=600 dkms >&2
}
install || { $SUDO apt-get update -qq >&2 && install; }
