/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel names buddy_core.c uses, for building it as plain C in
 * userspace (tests, fuzzing, benchmarks).  Nothing else belongs here.
 */
#ifndef _BUDDY_COMPAT_H
#define _BUDDY_COMPAT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef int8_t s8;
typedef uint8_t u8;
typedef uint32_t u32;
typedef int64_t s64;
typedef uint64_t u64;

#define EXPORT_SYMBOL_GPL(sym)
#define BIT_ULL(nr)		((u64)1 << (nr))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define noinline		__attribute__((__noinline__))
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

/* Like the kernel's: index of the least significant set bit; undefined for 0. */
static inline unsigned int __ffs64(u64 x)
{
	return (unsigned int)__builtin_ctzll(x);
}

static inline unsigned int hweight64(u64 x)
{
	return (unsigned int)__builtin_popcountll(x);
}

/* Like the kernel's: index of the most significant set bit, 1-based; 0 for 0. */
static inline int fls64(u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

#endif /* _BUDDY_COMPAT_H */
