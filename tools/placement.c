// SPDX-License-Identifier: GPL-2.0
/*
 * Placement policy benchmark: the seed's left-first descent against best fit
 * by branch, on one churn workload.  docs/PLACEMENT.md has the figures.
 *
 * Both policies are the same buddy_core.c: once as built, once built with
 * BUDDY_CORE_LEFT_FIRST and its names prefixed lf_ (see tools/Makefile).
 * Every step draws the same three random numbers whatever the outcome, so
 * both policies see the same requests for as long as their pools agree.
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

/* The left-first build of buddy_core.c (tools/Makefile renames it). */
int lf_buddy_core_init(struct buddy_core *bc, unsigned int max_order,
		       void *meta, size_t meta_size);
s64 lf_buddy_core_alloc(struct buddy_core *bc, unsigned int order,
			unsigned int flags);
int lf_buddy_core_free(struct buddy_core *bc, u64 offset, unsigned int order);
int lf_buddy_core_check(const struct buddy_core *bc);

#define POOL_ORDER	20
#define POOL_UNITS	(1ULL << POOL_ORDER)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct policy {
	const char *name;
	int (*init)(struct buddy_core *bc, unsigned int max_order, void *meta,
		    size_t meta_size);
	s64 (*alloc)(struct buddy_core *bc, unsigned int order, unsigned int flags);
	int (*free)(struct buddy_core *bc, u64 offset, unsigned int order);
	int (*check)(const struct buddy_core *bc);
};

static const struct policy policies[] = {
	{ "left-first", lf_buddy_core_init, lf_buddy_core_alloc,
	  lf_buddy_core_free, lf_buddy_core_check },
	{ "best-fit-by-branch", buddy_core_init, buddy_core_alloc,
	  buddy_core_free, buddy_core_check },
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
	size_t size = buddy_core_meta_size(POOL_ORDER);
	u64 budget = POOL_UNITS * budget_pct / 100, rnd = seed, i;
	struct live lv = { 0 };
	bool filling = true;
	struct buddy_core bc;
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
			u64 free_units = buddy_core_free_units(&bc);

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
		res->largest_sum += buddy_core_largest_order(&bc);
		if (lv.units < res->live_min)
			res->live_min = lv.units;
		i++;
	}
	res->ops = i;
	res->largest = buddy_core_largest_order(&bc);
	/* The figures are only worth something if the pool is sound. */
	ret = pol->check(&bc);
	if (!ret && buddy_core_free_units(&bc) != POOL_UNITS - lv.units)
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
	printf("| policy             | budget | ops     | allocs  | failed, free >= size"
	       " | of allocs | of large | largest at end | mean largest"
	       " | mean live | min live |\n");
	printf("|--------------------|--------|---------|---------|---------------------:"
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
			printf("| %-18s | %5u%% | %7" PRIu64 " | %7" PRIu64 " | %20" PRIu64
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
