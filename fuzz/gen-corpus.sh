#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Writes the seed corpus of core_fuzz into DIR (default: fuzz/corpus): a few
# small programs in core_fuzz.c's input format, one per file.  Byte 0 is the
# pool's order; then opcodes (low nibble the kind, high nibble the variant)
# with their argument bytes:
#   00 ORDER              alloc            e0 ORDER BIT    alloc, a bad flag
#   10 ORDER REQ          TOPDOWN (REQ & 1: through alloc_req)
#   V0 ORDER [U16] [S16 L16]  flags V (2 RANGE, 4 EXACT, combined with 1):
#                         EXACT's units from U16, RANGE's [S, S + 1 + L)
#   09 IDX16 N16 0        free_extent(live[IDX], N)
#   06 IDX16              free live[IDX]   f0 ORDER8       alloc, any order
#   Va IDX16 ...          bogus free of variant V (1 inside, 2 misaligned,
#                         3 wrong order, 4 past the pool, 5 huge, 6 double,
#                         7 order past 62, else random)
#   Ve U64 order_for(U64 >> 4V)   0f R   drain (free all; pool whole)
#
#   fuzz/gen-corpus.sh [DIR]
set -euo pipefail

dir=${1:-$(cd "$(dirname "$0")" && pwd)/corpus}
mkdir -p "$dir"

# seed NAME BYTE...: the bytes (hex) as file NAME.
seed() {
	local name=$1 b out=""
	shift
	for b in "$@"; do
		out="$out\\x$b"
	done
	printf '%b' "$out" >"$dir/$name"
}

# A one-unit pool: alloc, full, free, double free, drain.
seed unit-pool 00  00 00  00 00  06 00 00  6a 00 00 00  0f 00
# 8 units: orders 0, 1, 2; frees inside, misaligned, wrong order, past the
# pool; free; drain.
seed small-mixed 03  00 00  00 01  00 02  00 00 \
	1a 01 00 01 00  2a 02 00 03 01  3a 01 00 00 01  4a 00 00 05 00 00 \
	06 01 00  00 03  0f 03
# 64 units filled with order-0 blocks until -ENOMEM, then freed one by one.
fill=()
for _ in $(seq 65); do fill+=(00 00); done
for i in $(seq 0 63); do fill+=(06 "$(printf '%02x' $((i * 7 % 64)))" 00); done
seed fill-64 06 "${fill[@]}"
# 4096 units: big and small blocks, bad flags and orders, huge offsets and
# orders, double frees, random frees, drain.
seed big-pool 0c  00 0a  00 00  00 03  00 0b  00 0c  e0 02 05  f0 ff  00 0d \
	06 00 00  5a 01 00 ff ff ff ff ff ff ff ff 3f 10 \
	6a 00 00 00  7a 00 00 07 01  8a 01 00 34 12 04  0f 09
# 256 units: TOPDOWN both ways, RANGE, EXACT, all three; extent frees,
# one of a live EXACT extent's pieces, one of no extent; drain.
seed flags 08  10 03 00  10 00 01  20 02 10 00 40 00  40 04 05 00 \
	70 03 02 00 20 00 30 00  30 01 00 01 00 00  50 05 11 00 \
	09 02 00 05 00 00  09 00 00 03 00 00  0f 00
# order_for at 0, 1, 2, 3, 2^32 + 1, 2^63 + 1, 2^64 - 1.
seed order-for 02  0e 00 00 00 00 00 00 00 00  0e 01 00 00 00 00 00 00 00 \
	0e 02 00 00 00 00 00 00 00  0e 03 00 00 00 00 00 00 00 \
	0e 01 00 00 00 01 00 00 00  0e 01 00 00 00 00 00 00 80 \
	0e ff ff ff ff ff ff ff ff  1e ff ff ff ff ff ff ff ff
