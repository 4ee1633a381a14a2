// SPDX-License-Identifier: GPL-2.0
/*
 * Placement policy benchmark, on one churn workload: both cores (the
 * lowest-addressed free block of the smallest order that fits), and the
 * two descents of the seed's tree that the project had before: left-first
 * (the seed's) and best fit by branch.  docs/PLACEMENT.md has the figures.
 *
 * The old descents are buddy_tree.c built again with BUDDY_TREE_LEFT_FIRST
 * or BUDDY_TREE_BEST_FIT_BRANCH and its exported names prefixed lf_ or bf_
 * (bench/Makefile); they change the plain allocation only.  Every step
 * draws the same three random numbers whatever the outcome, so all policies
 * see the same requests for as long as their pools agree.
 *
 *   placement [seed [ops [free_pct [unit_bytes]]]]
 *
 * The workload, on a pool of 2^20 units of @unit_bytes (4096): requests of
 * 1-4 pages of 4 KiB (70%), 5-64 (25%) or 65-1024 (5%), drawn in bytes:
 * uniform over the bytes of the class, (lo - 1) * 4096 + 1 .. hi * 4096.
 * A plain request takes the power of two of units that holds it; an EXACT
 * one (the second table) takes round_up(bytes, unit) and frees the rest of
 * the block at once.  First the pool is filled to the live budget (units held); then
 * each of @ops steps frees a random live request when the units held
 * exceed the budget, or with probability @free_pct%, and allocates
 * otherwise.  Without the fill, a 50/50 walk starting empty stays near 10%
 * live and never meets the budget.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../buddy_core.h"
#include "../buddy_tree.h"

extern const struct buddy_core_ops lf_buddy_tree_ops, bf_buddy_tree_ops;

#define POOL_ORDER	20
#define POOL_UNITS	(1ULL << POOL_ORDER)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The classes are in 4 KiB units; the pool's unit may be smaller. */
#define CLASS_BYTES	4096ULL

static u64 unit_bytes = 4096;

struct policy {
	const char *name;
	const struct buddy_core_ops *ops;
	bool exact_too;		/* also run with EXACT (the real cores) */
};

static const struct policy policies[] = {
	{ "tree, left-first", &lf_buddy_tree_ops, false },
	{ "tree, best-fit-branch", &bf_buddy_tree_ops, false },
	{ "buddy_tree", &buddy_tree_ops, true },
	{ "buddy_core (bitmap)", &buddy_core_bitmap_ops, true },
};

struct result {
	u64 fill_allocs, ops, allocs, frees, failed, failed_free_enough;
	u64 large_allocs, large_failed;
	double live_sum, largest_sum, held_bytes_sum, asked_bytes_sum;
	u64 live_min;
	int largest;
};

/* splitmix64, as in core_test.c. */
static u64 rnd_next(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The live requests, to free a random one in O(1). */
struct live {
	u64 *off, *units, *bytes;
	u64 n, units_held, bytes_asked;
};

/* A request in bytes: its class by @r, its size in the class by @s. */
static u64 request_bytes(u64 r, u64 s)
{
	unsigned int class = r % 100;
	u64 lo, hi;

	if (class < 70) {
		lo = 1;
		hi = 4;
	} else if (class < 95) {
		lo = 5;
		hi = 64;
	} else {
		lo = 65;
		hi = 1024;
	}
	return (lo - 1) * CLASS_BYTES + 1 + s % ((hi - lo + 1) * CLASS_BYTES);
}

static int churn(const struct policy *pol, bool exact, u64 seed,
		 unsigned int budget_pct, u64 ops, unsigned int free_pct,
		 struct result *res)
{
	const struct buddy_core_ops *ops_tbl = pol->ops;
	size_t size = ops_tbl->meta_size(POOL_ORDER);
	u64 budget = POOL_UNITS * budget_pct / 100, rnd = seed, i;
	union { struct buddy_core bc; struct buddy_tree bt; } state;
	struct live lv = { 0 };
	bool filling = true;
	void *meta;
	int ret = -ENOMEM;

	memset(res, 0, sizeof(*res));
	res->live_min = POOL_UNITS;
	meta = malloc(size);
	lv.off = malloc(POOL_UNITS * sizeof(*lv.off));
	lv.units = malloc(POOL_UNITS * sizeof(*lv.units));
	lv.bytes = malloc(POOL_UNITS * sizeof(*lv.bytes));
	if (!meta || !lv.off || !lv.units || !lv.bytes)
		goto out;
	ret = ops_tbl->init(&state, POOL_ORDER, meta, size);
	if (ret)
		goto out;

	for (i = 0; i < ops;) {
		u64 r = rnd_next(&rnd), s = rnd_next(&rnd), v = rnd_next(&rnd);
		u64 bytes = request_bytes(r & 0xffffffff, s);
		u64 units = (bytes + unit_bytes - 1) / unit_bytes;
		unsigned int order = buddy_core_order_for(units);
		u64 held = exact ? units : 1ULL << order;
		bool do_free;
		s64 off;

		if (filling) {
			/* The fill ends at the first request the budget cannot take. */
			if (lv.units_held + held > budget) {
				filling = false;
				continue;
			}
			do_free = false;
		} else {
			do_free = lv.n && (lv.units_held > budget ||
					   (r >> 32) % 100 < free_pct);
		}

		if (do_free) {
			u64 k = v % lv.n;

			ret = ops_tbl->free_extent(&state, lv.off[k], lv.units[k]);
			if (ret)
				goto out;
			lv.units_held -= lv.units[k];
			lv.bytes_asked -= lv.bytes[k];
			lv.n--;
			lv.off[k] = lv.off[lv.n];
			lv.units[k] = lv.units[lv.n];
			lv.bytes[k] = lv.bytes[lv.n];
			res->frees++;
		} else {
			u64 free_units = ops_tbl->free_units(&state);

			if (exact) {
				struct buddy_core_req req = {
					.units = units,
					.flags = BUDDY_CORE_ALLOC_EXACT,
				};

				off = ops_tbl->alloc_req(&state, &req);
			} else {
				off = ops_tbl->alloc(&state, order, 0);
			}
			if (filling) {
				res->fill_allocs++;
			} else {
				res->allocs++;
				res->large_allocs += units > 64;
			}
			if (off >= 0) {
				lv.off[lv.n] = off;
				lv.units[lv.n] = held;
				lv.bytes[lv.n++] = bytes;
				lv.units_held += held;
				lv.bytes_asked += bytes;
			} else if (off != -ENOMEM) {
				ret = (int)off;
				goto out;
			} else if (filling) {
				filling = false;	/* bounds the fill */
			} else {
				res->failed++;
				res->large_failed += units > 64;
				res->failed_free_enough += free_units >= held;
			}
		}
		if (filling)
			continue;
		res->live_sum += lv.units_held;
		res->held_bytes_sum += (double)lv.units_held * unit_bytes;
		res->asked_bytes_sum += lv.bytes_asked;
		res->largest_sum += ops_tbl->largest_order(&state);
		if (lv.units_held < res->live_min)
			res->live_min = lv.units_held;
		i++;
	}
	res->ops = i;
	res->largest = ops_tbl->largest_order(&state);
	/* The figures are only worth something if the pool is sound. */
	ret = ops_tbl->check(&state);
	if (!ret && ops_tbl->free_units(&state) != POOL_UNITS - lv.units_held)
		ret = -EUCLEAN;
out:
	free(meta);
	free(lv.off);
	free(lv.units);
	free(lv.bytes);
	return ret;
}

static u64 parse_arg(const char *s, const char *what)
{
	char *end;
	u64 v = strtoull(s, &end, 0);

	if (!*s || *end) {
		fprintf(stderr, "placement: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static int table(bool exact, u64 seed, u64 ops, unsigned int free_pct)
{
	static const unsigned int budgets[] = { 90, 95 };
	unsigned int b, p;

	printf("%s: pool 2^%u units of %llu bytes, seed %" PRIu64 ", %" PRIu64
	       " churn ops after the fill, free when over budget or %u%%\n\n",
	       exact ? "EXACT requests (round_up(bytes, unit))" :
		       "plain requests (a power of two of units)",
	       POOL_ORDER, (unsigned long long)unit_bytes, seed, ops, free_pct);
	printf("| policy                | budget | ops     | allocs  | failed, free >= size"
	       " | of allocs | of large | largest at end | mean largest"
	       " | mean live | min live | held / asked |\n");
	printf("|-----------------------|--------|---------|---------|---------------------:"
	       "|----------:|---------:|---------------:|-------------:"
	       "|----------:|---------:|-------------:|\n");
	for (b = 0; b < ARRAY_SIZE(budgets); b++) {
		for (p = 0; p < ARRAY_SIZE(policies); p++) {
			struct result r;
			int ret;

			if (exact && !policies[p].exact_too)
				continue;
			ret = churn(&policies[p], exact, seed, budgets[b], ops,
				    free_pct, &r);
			if (ret) {
				fprintf(stderr, "placement: %s, %u%%: error %d\n",
					policies[p].name, budgets[b], ret);
				return 1;
			}
			/* Every failure counts here: a budget leaves >= 5% free. */
			printf("| %-21s | %5u%% | %7" PRIu64 " | %7" PRIu64 " | %20" PRIu64
			       " | %8.4f%% | %7.3f%% | %14d | %12.2f | %8.2f%% | %7.2f%%"
			       " | %12.4f |\n",
			       policies[p].name, budgets[b], r.ops, r.allocs,
			       r.failed_free_enough,
			       r.allocs ? 100.0 * r.failed_free_enough / r.allocs : 0.0,
			       r.large_allocs ? 100.0 * r.large_failed / r.large_allocs : 0.0,
			       r.largest, r.largest_sum / r.ops,
			       100.0 * r.live_sum / r.ops / POOL_UNITS,
			       100.0 * r.live_min / POOL_UNITS,
			       r.held_bytes_sum / r.asked_bytes_sum);
			if (r.failed != r.failed_free_enough)
				printf("  (%" PRIu64 " failures in all)\n", r.failed);
		}
	}
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	u64 seed = 1, ops = 2000000;
	unsigned int free_pct = 50;

	if (argc > 5) {
		fprintf(stderr, "usage: %s [seed [ops [free_pct [unit_bytes]]]]\n",
			argv[0]);
		return 2;
	}
	if (argc > 1)
		seed = parse_arg(argv[1], "seed");
	if (argc > 2)
		ops = parse_arg(argv[2], "ops");
	if (argc > 3)
		free_pct = parse_arg(argv[3], "free_pct");
	if (argc > 4)
		unit_bytes = parse_arg(argv[4], "unit_bytes");
	if (unit_bytes < 64 || unit_bytes > CLASS_BYTES ||
	    unit_bytes & (unit_bytes - 1)) {
		fprintf(stderr, "placement: unit_bytes must be a power of two, 64..4096\n");
		return 2;
	}
	if (table(false, seed, ops, free_pct) || table(true, seed, ops, free_pct))
		return 1;
	return 0;
}
