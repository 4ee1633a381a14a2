// SPDX-License-Identifier: GPL-2.0
/*
 * Placement policy benchmark, on one churn workload: buddy_core (the
 * lowest-addressed free block of the smallest order) against the longest[]
 * tree it replaced, with the seed's left-first descent and with best fit by
 * branch.  docs/PLACEMENT.md has the figures.
 *
 * The tree is tools/tree_core.c, built twice: as is, and with
 * TREE_CORE_LEFT_FIRST and its names prefixed lf_ (see tools/Makefile).
 * Every step draws the same three random numbers whatever the outcome, so
 * all policies see the same requests for as long as their pools agree.
 *
 *   placement [seed [ops [free_pct]]]
 *
 * The workload, on a pool of 2^20 units: requests of 1-4 units (70%), 5-64
 * (25%) or 65-1024 (5%), rounded up to a power of two.  First the pool is
 * filled to the live budget; then each of @ops steps frees a random live
 * block when the live units exceed the budget, or with probability
 * @free_pct%, and allocates otherwise.  Without the fill, a 50/50 walk
 * starting empty stays near 10% live and never meets the budget.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../buddy_core.h"
#include "tree_core.h"

/* The left-first build of tree_core.c (tools/Makefile renames it). */
size_t lf_tree_core_meta_size(unsigned int max_order);
int lf_tree_core_init(struct tree_core *bc, unsigned int max_order,
		      void *meta, size_t meta_size);
s64 lf_tree_core_alloc(struct tree_core *bc, unsigned int order,
		       unsigned int flags);
int lf_tree_core_free(struct tree_core *bc, u64 offset, unsigned int order);
int lf_tree_core_check(const struct tree_core *bc);

#define POOL_ORDER	20
#define POOL_UNITS	(1ULL << POOL_ORDER)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* One pool of any policy; the wrappers below pick their member. */
union pool {
	struct buddy_core buddy;
	struct tree_core tree;
};

struct policy {
	const char *name;
	size_t (*meta_size)(unsigned int max_order);
	int (*init)(union pool *pl, unsigned int max_order, void *meta,
		    size_t meta_size);
	s64 (*alloc)(union pool *pl, unsigned int order, unsigned int flags);
	int (*free)(union pool *pl, u64 offset, unsigned int order);
	int (*check)(const union pool *pl);
	u64 (*free_units)(const union pool *pl);
	int (*largest)(const union pool *pl);
};

/*
 * Wrappers named @w##*, calling the allocator whose names start with @sym
 * on the union member @m (the inline getters are never renamed).
 */
#define POLICY_WRAPPERS(w, sym, m)					\
static int w##init(union pool *pl, unsigned int max_order, void *meta,	\
		   size_t meta_size)					\
{ return sym##_core_init(&pl->m, max_order, meta, meta_size); }	\
static s64 w##alloc(union pool *pl, unsigned int order, unsigned int flags) \
{ return sym##_core_alloc(&pl->m, order, flags); }			\
static int w##free(union pool *pl, u64 offset, unsigned int order)	\
{ return sym##_core_free(&pl->m, offset, order); }			\
static int w##check(const union pool *pl)				\
{ return sym##_core_check(&pl->m); }					\
static u64 w##free_units(const union pool *pl)				\
{ return m##_core_free_units(&pl->m); }				\
static int w##largest(const union pool *pl)				\
{ return m##_core_largest_order(&pl->m); }

#define POLICY(name, w, sym) { name, sym##_core_meta_size, w##init, w##alloc, \
			       w##free, w##check, w##free_units, w##largest }

POLICY_WRAPPERS(bc_, buddy, buddy)
POLICY_WRAPPERS(bf_, tree, tree)
POLICY_WRAPPERS(lf_, lf_tree, tree)

static const struct policy policies[] = {
	POLICY("tree, left-first", lf_, lf_tree),
	POLICY("tree, best-fit-branch", bf_, tree),
	POLICY("buddy_core", bc_, buddy),
};

struct result {
	u64 fill_allocs, ops, allocs, frees, failed, failed_free_enough;
	u64 large_allocs, large_failed;
	double live_sum, largest_sum;
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

/* The live blocks, to free a random one in O(1). */
struct live {
	u64 *off;
	u8 *order;
	u64 n, units;
};

static unsigned int request_order(u64 r, u64 s)
{
	unsigned int class = r % 100;
	u64 units;

	if (class < 70)
		units = 1 + s % 4;
	else if (class < 95)
		units = 5 + s % 60;
	else
		units = 65 + s % 960;
	return buddy_core_order_for(units);
}

static int churn(const struct policy *pol, u64 seed, unsigned int budget_pct,
		 u64 ops, unsigned int free_pct, struct result *res)
{
	size_t size = pol->meta_size(POOL_ORDER);
	u64 budget = POOL_UNITS * budget_pct / 100, rnd = seed, i;
	struct live lv = { 0 };
	bool filling = true;
	union pool bc;
	void *meta;
	int ret = -ENOMEM;

	memset(res, 0, sizeof(*res));
	res->live_min = POOL_UNITS;
	meta = malloc(size);
	lv.off = malloc(POOL_UNITS * sizeof(*lv.off));
	lv.order = malloc(POOL_UNITS);
	if (!meta || !lv.off || !lv.order)
		goto out;
	ret = pol->init(&bc, POOL_ORDER, meta, size);
	if (ret)
		goto out;

	for (i = 0; i < ops;) {
		u64 r = rnd_next(&rnd), s = rnd_next(&rnd), v = rnd_next(&rnd);
		unsigned int order = request_order(r & 0xffffffff, s);
		bool do_free;
		s64 off;

		if (filling) {
			/* The fill ends at the first request the budget cannot take. */
			if (lv.units + (1ULL << order) > budget) {
				filling = false;
				continue;
			}
			do_free = false;
		} else {
			do_free = lv.n && (lv.units > budget ||
					   (r >> 32) % 100 < free_pct);
		}

		if (do_free) {
			u64 k = v % lv.n;

			ret = pol->free(&bc, lv.off[k], lv.order[k]);
			if (ret)
				goto out;
			lv.units -= 1ULL << lv.order[k];
			lv.n--;
			lv.off[k] = lv.off[lv.n];
			lv.order[k] = lv.order[lv.n];
			res->frees++;
		} else {
			u64 free_units = pol->free_units(&bc);

			off = pol->alloc(&bc, order, 0);
			if (filling) {
				res->fill_allocs++;
			} else {
				res->allocs++;
				res->large_allocs += order > 6;
			}
			if (off >= 0) {
				lv.off[lv.n] = off;
				lv.order[lv.n++] = order;
				lv.units += 1ULL << order;
			} else if (off != -ENOMEM) {
				ret = (int)off;
				goto out;
			} else if (filling) {
				filling = false;	/* bounds the fill */
			} else {
				res->failed++;
				res->large_failed += order > 6;
				res->failed_free_enough += free_units >= (1ULL << order);
			}
		}
		if (filling)
			continue;
		res->live_sum += lv.units;
		res->largest_sum += pol->largest(&bc);
		if (lv.units < res->live_min)
			res->live_min = lv.units;
		i++;
	}
	res->ops = i;
	res->largest = pol->largest(&bc);
	/* The figures are only worth something if the pool is sound. */
	ret = pol->check(&bc);
	if (!ret && pol->free_units(&bc) != POOL_UNITS - lv.units)
		ret = -EUCLEAN;
out:
	free(meta);
	free(lv.off);
	free(lv.order);
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

int main(int argc, char **argv)
{
	static const unsigned int budgets[] = { 90, 95 };
	u64 seed = 1, ops = 2000000;
	unsigned int free_pct = 50, b, p;

	if (argc > 4) {
		fprintf(stderr, "usage: %s [seed [ops [free_pct]]]\n", argv[0]);
		return 2;
	}
	if (argc > 1)
		seed = parse_arg(argv[1], "seed");
	if (argc > 2)
		ops = parse_arg(argv[2], "ops");
	if (argc > 3)
		free_pct = parse_arg(argv[3], "free_pct");
	printf("pool 2^%u units, seed %" PRIu64 ", %" PRIu64
	       " churn ops after the fill, free when over budget or %u%%\n\n",
	       POOL_ORDER, seed, ops, free_pct);
	printf("| policy                | budget | ops     | allocs  | failed, free >= size"
	       " | of allocs | of large | largest at end | mean largest"
	       " | mean live | min live |\n");
	printf("|-----------------------|--------|---------|---------|---------------------:"
	       "|----------:|---------:|---------------:|-------------:"
	       "|----------:|---------:|\n");
	for (b = 0; b < ARRAY_SIZE(budgets); b++) {
		for (p = 0; p < ARRAY_SIZE(policies); p++) {
			struct result r;
			int ret = churn(&policies[p], seed, budgets[b], ops, free_pct, &r);

			if (ret) {
				fprintf(stderr, "placement: %s, %u%%: error %d\n",
					policies[p].name, budgets[b], ret);
				return 1;
			}
			/* Every failure counts here: a budget leaves >= 5% free. */
			printf("| %-21s | %5u%% | %7" PRIu64 " | %7" PRIu64 " | %20" PRIu64
			       " | %8.4f%% | %7.3f%% | %14d | %12.2f | %8.2f%% | %7.2f%% |\n",
			       policies[p].name, budgets[b], r.ops, r.allocs,
			       r.failed_free_enough,
			       r.allocs ? 100.0 * r.failed_free_enough / r.allocs : 0.0,
			       r.large_allocs ? 100.0 * r.large_failed / r.large_allocs : 0.0,
			       r.largest, r.largest_sum / r.ops,
			       100.0 * r.live_sum / r.ops / POOL_UNITS,
			       100.0 * r.live_min / POOL_UNITS);
			if (r.failed != r.failed_free_enough)
				printf("  (%" PRIu64 " failures in all)\n", r.failed);
		}
	}
	return 0;
}
