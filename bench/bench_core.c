// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace benchmark of both cores, the same buddy_core.c and buddy_tree.c
 * the kernel builds.  docs/PERFORMANCE.md ("Core: make bench-core") has the
 * figures.
 *
 *   bench_core [name=value ...]
 *
 * Parameters (defaults in brackets): core [both] (bitmap, tree or both),
 * order [20] (the pool of W1-W3 holds 2^order units), ops [2000000] (W2
 * operations), w3_ops [200000], sweep_ops [200000] (churn operations per
 * sweep size), sweep_min [10] and sweep_max [24] (sweep pool orders), reps
 * [5] (timed repetitions), seed [1], valgrind [1] (0: skip the instruction
 * counts).
 *
 * Workloads (one "op" is one allocation or free call, failed allocations
 * included):
 *   W1     allocate single units until the pool is full (2^order calls),
 *          then free them all in a random order
 *   W2     first fill the pool to the budget (60%, 90% or 95% of its
 *          units; allocations only, not measured, until the next request
 *          would pass the budget), then @ops operations: sizes 70% 1-4
 *          units, 25% 5-64, 5% 65-1024; free a random live block when the
 *          live units exceed the budget, or with probability 1/2, else
 *          allocate.  The walk starts at the budget and drifts below it
 *          (the budget caps it); each row prints the fill and the mean and
 *          lowest live share of the churn.
 *   W2 with a flag: the 60% W2, every allocation (the fill's too) with
 *          TOPDOWN; with RANGE, inside a window of 1/8 of the pool placed
 *          at random for each request; or with EXACT, the request's units
 *          exactly (not rounded up), freed with free_extent().
 *   W3     blocks of 2^k units, k uniform in 8..16; whenever more than 16
 *          are live free the oldest, so allocations and frees alternate;
 *          @w3_ops operations
 *   sweep  for each pool order sweep_min..sweep_max: fill to 60% live, then
 *          @sweep_ops W2-like operations with sizes 70% 1-4, 30% 5-64 (no
 *          large class, so the same workload fits every pool size)
 *
 * Figures:
 *   Ir/op  instructions per op from callgrind, counted inside the call
 *          wrappers bench_op_*() alone (--collect-atstart=no
 *          --toggle-collect=...), minus the same count from a run with the
 *          core replaced by no-op stubs (the harness baseline: the wrapper
 *          and its indirect call), divided by the ops.  The program runs
 *          itself under valgrind, once per workload, core and mode.
 *   ns/op  median of @reps timed runs (clock_gettime(CLOCK_MONOTONIC),
 *          outside valgrind, measured phases only) minus the median of the
 *          stub runs: the core's share of the time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../buddy_core.h"
#include "../buddy_tree.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define W3_LIVE		16

struct params {
	u64 core, order, ops, w3_ops, sweep_ops, sweep_min, sweep_max, reps;
	u64 seed, valgrind;
};

/* core: 0 bitmap, 1 tree, 2 both. */
static struct params prm = {
	.core = 2, .order = 20, .ops = 2000000, .w3_ops = 200000,
	.sweep_ops = 200000, .sweep_min = 10, .sweep_max = 24, .reps = 5,
	.seed = 1, .valgrind = 1,
};

static const struct buddy_core_ops *const cores[] = {
	&buddy_core_bitmap_ops, &buddy_tree_ops,
};

/* ------------------------------------------------------------------ */
/* The measured calls: a core or the stubs, through the same pointers. */

static __attribute__((__noinline__, __noclone__)) s64
stub_alloc(void *core, unsigned int order, unsigned int flags)
{
	__asm__ volatile("" : : "r"(core), "r"(order), "r"(flags) : "memory");
	return 0;
}

static __attribute__((__noinline__, __noclone__)) s64
stub_alloc_req(void *core, const struct buddy_core_req *req)
{
	__asm__ volatile("" : : "r"(core), "r"(req) : "memory");
	return 0;
}

static __attribute__((__noinline__, __noclone__)) int
stub_free(void *core, u64 offset, unsigned int order)
{
	__asm__ volatile("" : : "r"(core), "r"(offset), "r"(order) : "memory");
	return 0;
}

static __attribute__((__noinline__, __noclone__)) int
stub_free_extent(void *core, u64 offset, u64 units)
{
	__asm__ volatile("" : : "r"(core), "r"(offset), "r"(units) : "memory");
	return 0;
}

static struct buddy_core_ops stub_ops;
static const struct buddy_core_ops *volatile run_ops = &buddy_core_bitmap_ops;
static const struct buddy_core_ops *real_ops = &buddy_core_bitmap_ops;
static bool stub;

/* callgrind counts inside these only (--toggle-collect). */
__attribute__((__noinline__, __noclone__, __used__)) s64
bench_op_alloc(void *core, unsigned int order)
{
	return run_ops->alloc(core, order, 0);
}

__attribute__((__noinline__, __noclone__, __used__)) s64
bench_op_alloc_req(void *core, const struct buddy_core_req *req)
{
	return run_ops->alloc_req(core, req);
}

__attribute__((__noinline__, __noclone__, __used__)) int
bench_op_free(void *core, u64 offset, unsigned int order)
{
	return run_ops->free(core, offset, order);
}

__attribute__((__noinline__, __noclone__, __used__)) int
bench_op_free_extent(void *core, u64 offset, u64 units)
{
	return run_ops->free_extent(core, offset, units);
}

/* ------------------------------------------------------------------ */

/* splitmix64, as in core_test.c and placement.c. */
static u64 rnd_next(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_core: %s\n", what);
	exit(1);
}

struct result {
	u64 ops;		/* measured calls */
	u64 ns;			/* time in measured phases */
	u64 fill;		/* unmeasured fill allocations */
	u64 fill_failed;	/* of those, failed (RANGE: a full window) */
	u64 allocs, failed, failed_free_enough;
	int largest;
	double fill_live, live_mean, live_min;
};

struct pool {
	union {
		struct buddy_core bc;
		struct buddy_tree bt;
	} state;
	void *meta;
	u64 *off, *units;
	u8 *ord;
	u64 n, live_units, cap;
};

static void pool_init(struct pool *p, unsigned int order, u64 cap)
{
	size_t size = real_ops->meta_size(order);

	memset(p, 0, sizeof(*p));
	p->meta = malloc(size);
	p->off = malloc(cap * sizeof(*p->off));
	p->units = malloc(cap * sizeof(*p->units));
	p->ord = malloc(cap);
	p->cap = cap;
	if (!p->meta || !p->off || !p->units || !p->ord)
		die("out of memory");
	if (real_ops->init(&p->state, order, p->meta, size))
		die("core init failed");
}

/* Checks the pool (real runs only) and frees it. */
static void pool_done(struct pool *p)
{
	if (!stub && (real_ops->check(&p->state) ||
		      real_ops->free_units(&p->state) !=
		      (1ULL << real_ops->max_order(&p->state)) - p->live_units))
		die("pool inconsistent after the run");
	free(p->meta);
	free(p->off);
	free(p->units);
	free(p->ord);
}

static void live_add(struct pool *p, s64 off, unsigned int order, u64 units)
{
	if (p->n == p->cap)
		die("live table full");
	p->off[p->n] = (u64)off;
	p->units[p->n] = units;
	p->ord[p->n++] = (u8)order;
	p->live_units += units;
}

/* Frees live block @k with a measured call, keeping the table dense. */
static void live_free_measured(struct pool *p, u64 k, bool extent)
{
	if (extent ? bench_op_free_extent(&p->state, p->off[k], p->units[k]) :
		     bench_op_free(&p->state, p->off[k], p->ord[k]))
		die("free failed");
	p->live_units -= p->units[k];
	p->n--;
	p->off[k] = p->off[p->n];
	p->units[k] = p->units[p->n];
	p->ord[k] = p->ord[p->n];
}

/* W1 ---------------------------------------------------------------- */

static void run_w1(struct result *res)
{
	u64 units = 1ULL << prm.order, rnd = prm.seed, i, t;
	struct pool p;

	memset(res, 0, sizeof(*res));
	pool_init(&p, prm.order, units);
	t = now_ns();
	for (i = 0; i < units; i++) {
		s64 off = bench_op_alloc(&p.state, 0);

		if (off < 0)
			die("W1: allocation failed before the pool was full");
		p.off[i] = (u64)off;
	}
	res->ns += now_ns() - t;
	if (!stub && real_ops->free_units(&p.state))
		die("W1: pool not full");
	/* Random order, outside the timed and counted phases. */
	for (i = units - 1; i > 0; i--) {
		u64 j = rnd_next(&rnd) % (i + 1), tmp = p.off[i];

		p.off[i] = p.off[j];
		p.off[j] = tmp;
	}
	t = now_ns();
	for (i = 0; i < units; i++)
		if (bench_op_free(&p.state, p.off[i], 0))
			die("W1: free failed");
	res->ns += now_ns() - t;
	res->ops = 2 * units;
	res->largest = real_ops->largest_order(&p.state);
	p.live_units = 0;
	pool_done(&p);
}

/* W2 and the sweep ---------------------------------------------------- */

enum mode { PLAIN, TOPDOWN, RANGE, EXACT };

/* A request's size in units: 70% 1-4, 25% 5-64 (@large: else 30%), 5% 65-1024. */
static u64 request_units(u64 r, u64 s, bool large)
{
	unsigned int class = r % 100;

	if (class < 70)
		return 1 + s % 4;
	if (class < 95 || !large)
		return 5 + s % 60;
	return 65 + s % 960;
}

/*
 * One allocation in @mode; @measured: through the counted wrappers.  For
 * RANGE, @w places the window of 1/8 of the pool.
 */
static s64 churn_alloc(struct pool *p, enum mode mode, u64 units,
		       unsigned int order, u64 w, bool measured)
{
	u64 pool = 1ULL << real_ops->max_order(&p->state), len = pool / 8;
	struct buddy_core_req req = { .units = units };

	switch (mode) {
	case PLAIN:
		if (measured)
			return bench_op_alloc(&p->state, order);
		return real_ops->alloc(&p->state, order, 0);
	case TOPDOWN:
		req.units = 1ULL << order;
		req.flags = BUDDY_CORE_ALLOC_TOPDOWN;
		break;
	case RANGE:
		req.units = 1ULL << order;
		req.flags = BUDDY_CORE_ALLOC_RANGE;
		req.start = w % (pool - len + 1);
		req.end = req.start + len;
		break;
	case EXACT:
		req.flags = BUDDY_CORE_ALLOC_EXACT;
		break;
	}
	if (measured)
		return bench_op_alloc_req(&p->state, &req);
	return real_ops->alloc_req(&p->state, &req);
}

/*
 * First allocate (unmeasured, calling the core directly) until the next
 * request would exceed the budget, then churn.
 */
static void run_churn(unsigned int order, u64 ops, unsigned int budget_pct,
		      enum mode mode, bool large, struct result *res)
{
	u64 units = 1ULL << order, budget = units * budget_pct / 100;
	u64 rnd = prm.seed, i, t, live_min = units;
	double live_sum = 0;
	struct pool p;

	memset(res, 0, sizeof(*res));
	pool_init(&p, order, units);
	for (;;) {
		u64 r = rnd_next(&rnd), s = rnd_next(&rnd), v = rnd_next(&rnd);
		u64 u = request_units(r & 0xffffffff, s, large);
		unsigned int o = buddy_core_order_for(u);
		u64 held = mode == EXACT ? u : 1ULL << o;
		s64 off;

		if (p.live_units + held > budget)
			break;
		off = stub ? (s64)p.n : churn_alloc(&p, mode, u, o, v, false);
		/* A RANGE window may be full: skip the request, not the fill. */
		if (off < 0) {
			if (++res->fill_failed > 100000)
				break;
			continue;
		}
		live_add(&p, off, o, held);
		res->fill++;
	}
	res->fill_live = (double)p.live_units / (double)units;
	t = now_ns();
	for (i = 0; i < ops; i++) {
		u64 r = rnd_next(&rnd), s = rnd_next(&rnd), v = rnd_next(&rnd);
		u64 u = request_units(r & 0xffffffff, s, large);
		unsigned int o = buddy_core_order_for(u);
		u64 held = mode == EXACT ? u : 1ULL << o;

		if (p.n && (p.live_units > budget || (r >> 32) % 100 < 50)) {
			live_free_measured(&p, v % p.n, mode == EXACT);
		} else {
			u64 free_units = stub ? units :
				real_ops->free_units(&p.state);
			s64 off = churn_alloc(&p, mode, u, o, v, true);

			res->allocs++;
			if (stub)
				off = (s64)p.n;
			if (off >= 0) {
				live_add(&p, off, o, held);
			} else {
				res->failed++;
				res->failed_free_enough += free_units >= held;
			}
		}
		live_sum += (double)p.live_units;
		if (p.live_units < live_min)
			live_min = p.live_units;
	}
	res->ns = now_ns() - t;
	res->ops = ops;
	res->live_mean = live_sum / (double)ops / (double)units;
	res->live_min = (double)live_min / (double)units;
	res->largest = real_ops->largest_order(&p.state);
	if (stub)
		p.live_units = 0;
	pool_done(&p);
}

/* W3 ---------------------------------------------------------------- */

static void run_w3(struct result *res)
{
	unsigned int kmax = prm.order >= 20 ? 16 : (unsigned int)prm.order - 5;
	u64 rnd = prm.seed, i, head = 0, t;
	u64 off[W3_LIVE + 1];
	u8 ord[W3_LIVE + 1];
	unsigned int n = 0;
	struct pool p;

	memset(res, 0, sizeof(*res));
	pool_init(&p, prm.order, 1);
	t = now_ns();
	for (i = 0; i < prm.w3_ops; i++) {
		if (n > W3_LIVE) {
			/* Free the oldest. */
			if (bench_op_free(&p.state, off[head], ord[head]))
				die("W3: free failed");
			head = (head + 1) % (W3_LIVE + 1);
			n--;
		} else {
			unsigned int k = 8 + rnd_next(&rnd) % (kmax - 8 + 1);
			unsigned int slot = (head + n) % (W3_LIVE + 1);
			s64 o = bench_op_alloc(&p.state, k);

			res->allocs++;
			if (o < 0) {
				/* Only in pools too small for 17 blocks. */
				res->failed++;
				continue;
			}
			off[slot] = (u64)o;
			ord[slot] = (u8)k;
			n++;
		}
	}
	res->ns = now_ns() - t;
	res->ops = prm.w3_ops;
	while (n) {
		if (!stub && real_ops->free(&p.state, off[head], ord[head]))
			die("W3: final free failed");
		head = (head + 1) % (W3_LIVE + 1);
		n--;
	}
	res->largest = real_ops->largest_order(&p.state);
	pool_done(&p);
}

/* ------------------------------------------------------------------ */

enum { W1, W2_60F, W2_90F, W2_95F, W2_TOPDOWN, W2_RANGE, W2_EXACT, W3, SWEEP };

struct workload {
	const char *name;
	unsigned int budget;
	enum mode mode;
};

static const struct workload workloads[] = {
	[W1] = { "W1 fill units, free random", 0, PLAIN },
	[W2_60F] = { "W2 60% filled", 60, PLAIN },
	[W2_90F] = { "W2 90% filled", 90, PLAIN },
	[W2_95F] = { "W2 95% filled", 95, PLAIN },
	[W2_TOPDOWN] = { "W2 60% filled, TOPDOWN", 60, TOPDOWN },
	[W2_RANGE] = { "W2 60% filled, RANGE 1/8", 60, RANGE },
	[W2_EXACT] = { "W2 60% filled, EXACT", 60, EXACT },
	[W3] = { "W3 256..65536-unit blocks", 0, PLAIN },
};

/* @sweep_order is used by SWEEP only. */
static void run_one(int w, unsigned int sweep_order, struct result *res)
{
	switch (w) {
	case W1:
		run_w1(res);
		break;
	case W3:
		run_w3(res);
		break;
	case SWEEP:
		run_churn(sweep_order, prm.sweep_ops, 60, PLAIN, false, res);
		break;
	default:
		run_churn(prm.order, prm.ops, workloads[w].budget,
			  workloads[w].mode, true, res);
	}
}

static void set_core(unsigned int c)
{
	real_ops = cores[c];
	run_ops = real_ops;
}

static void set_stub(bool on)
{
	stub_ops.alloc = stub_alloc;
	stub_ops.alloc_req = stub_alloc_req;
	stub_ops.free = stub_free;
	stub_ops.free_extent = stub_free_extent;
	stub = on;
	run_ops = on ? &stub_ops : real_ops;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Median ns of @reps runs; @res gets the last run's figures. */
static u64 time_median(int w, unsigned int so, bool on, struct result *res)
{
	u64 ns[64];
	unsigned int r, reps = prm.reps < 64 ? (unsigned int)prm.reps : 64;

	set_stub(on);
	for (r = 0; r < reps; r++) {
		run_one(w, so, res);
		ns[r] = res->ns;
	}
	set_stub(false);
	qsort(ns, reps, sizeof(ns[0]), cmp_u64);
	return ns[reps / 2];
}

static char self_path[4096];

/* Instructions counted in the wrappers, from a callgrind run of ourselves. */
static int callgrind_ir(int w, unsigned int so, bool on, u64 *ir, u64 *ops)
{
	char out[] = "/tmp/bench_core.cg.XXXXXX", cmd[8192], line[512];
	int fd = mkstemp(out), ret = -1;
	FILE *f;

	if (fd < 0)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "valgrind -q --tool=callgrind --callgrind-out-file=%s "
		 "--collect-atstart=no --toggle-collect=bench_op_alloc "
		 "--toggle-collect=bench_op_alloc_req "
		 "--toggle-collect=bench_op_free "
		 "--toggle-collect=bench_op_free_extent "
		 "%s child=%d,%u,%d,%u order=%" PRIu64
		 " ops=%" PRIu64 " w3_ops=%" PRIu64 " sweep_ops=%" PRIu64
		 " seed=%" PRIu64,
		 out, self_path, w, so, on, real_ops == &buddy_tree_ops,
		 prm.order, prm.ops, prm.w3_ops, prm.sweep_ops, prm.seed);
	f = popen(cmd, "r");
	if (!f)
		goto out;
	*ops = 0;
	while (fgets(line, sizeof(line), f))
		sscanf(line, "ops %" SCNu64, ops);
	if (pclose(f) || !*ops)
		goto out;
	f = fopen(out, "r");
	if (!f)
		goto out;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "totals: %" SCNu64, ir) == 1 ||
		    sscanf(line, "summary: %" SCNu64, ir) == 1)
			ret = 0;
	fclose(f);
out:
	unlink(out);
	return ret;
}

struct figures {
	double ir, ns, ns_harness;
	bool have_ir;
};

static void measure(int w, unsigned int so, struct figures *fg,
		    struct result *res)
{
	struct result sres;
	u64 real = time_median(w, so, false, res);
	u64 base = time_median(w, so, true, &sres);
	u64 ir, ops, bir, bops;

	fg->ns = ((double)real - (double)base) / (double)res->ops;
	fg->ns_harness = (double)base / (double)res->ops;
	fg->have_ir = prm.valgrind &&
		      !callgrind_ir(w, so, false, &ir, &ops) &&
		      !callgrind_ir(w, so, true, &bir, &bops) && ops == bops;
	if (fg->have_ir)
		fg->ir = ((double)ir - (double)bir) / (double)ops;
}

static void parse(int argc, char **argv, int *child_w, unsigned int *child_so,
		  int *child_stub, unsigned int *child_core)
{
	static const struct { const char *name; u64 *val; } names[] = {
		{ "order", &prm.order }, { "ops", &prm.ops },
		{ "w3_ops", &prm.w3_ops }, { "sweep_ops", &prm.sweep_ops },
		{ "sweep_min", &prm.sweep_min }, { "sweep_max", &prm.sweep_max },
		{ "reps", &prm.reps }, { "seed", &prm.seed },
		{ "valgrind", &prm.valgrind },
	};
	static const char *const core_names[] = { "bitmap", "tree", "both" };
	int a;
	size_t k;

	for (a = 1; a < argc; a++) {
		char *eq = strchr(argv[a], '='), *end;

		if (!eq)
			goto bad;
		*eq = '\0';
		if (!strcmp(argv[a], "child")) {
			if (sscanf(eq + 1, "%d,%u,%d,%u", child_w, child_so,
				   child_stub, child_core) != 4 || *child_core > 1)
				goto bad;
			continue;
		}
		if (!strcmp(argv[a], "core")) {
			for (k = 0; k < ARRAY_SIZE(core_names); k++)
				if (!strcmp(eq + 1, core_names[k]))
					break;
			if (k == ARRAY_SIZE(core_names))
				goto bad;
			prm.core = k;
			continue;
		}
		for (k = 0; k < ARRAY_SIZE(names); k++)
			if (!strcmp(argv[a], names[k].name))
				break;
		if (k == ARRAY_SIZE(names))
			goto bad;
		*names[k].val = strtoull(eq + 1, &end, 0);
		if (!eq[1] || *end)
			goto bad;
	}
	if (prm.order < 12 || prm.order > 30 || prm.sweep_min < 7 ||
	    prm.sweep_max > 30 || prm.sweep_min > prm.sweep_max || !prm.reps ||
	    prm.w3_ops < 1 || prm.ops < 1 || prm.sweep_ops < 1)
		goto bad;
	return;
bad:
	fprintf(stderr, "usage: bench_core [core=bitmap|tree|both] [order=12..30] "
		"[ops=N] [w3_ops=N] [sweep_ops=N] [sweep_min=7..] [sweep_max=..30] "
		"[reps=N] [seed=N] [valgrind=0|1]\n");
	exit(2);
}

static void print_ir(const struct figures *fg)
{
	if (fg->have_ir)
		printf(" %8.1f |", fg->ir);
	else
		printf(" %8s |", "n/a");
}

static void run_core(void)
{
	struct figures fg, f12 = { 0 }, f24 = { 0 };
	struct result res;
	unsigned int so;
	int w;

	printf("core %s: metadata %zu bytes for 2^%" PRIu64 " units = %.6f "
	       "bytes/unit (state %zu bytes; nothing inside the managed memory)\n\n",
	       real_ops->name, real_ops->meta_size(prm.order), prm.order,
	       (double)real_ops->meta_size(prm.order) / (double)(1ULL << prm.order),
	       real_ops->state_size);
	printf("| %s: workload | ops | Ir/op | ns/op | harness ns/op | allocs | "
	       "failed, free >= size | of allocs | largest free order at end "
	       "| live after fill | mean live | min live |\n", real_ops->name);
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (w = W1; w <= W3; w++) {
		measure(w, 0, &fg, &res);
		printf("| %s | %" PRIu64 " |", workloads[w].name, res.ops);
		print_ir(&fg);
		printf(" %6.1f | %6.1f |", fg.ns, fg.ns_harness);
		if (w == W1) {
			printf(" %" PRIu64 " | - | - | %d | - | - | - |\n",
			       res.ops / 2, res.largest);
		} else if (w == W3) {
			printf(" %" PRIu64 " | %" PRIu64 " (all) | - | %d | - | - | - |\n",
			       res.allocs, res.failed, res.largest);
		} else {
			printf(" %" PRIu64 " | %" PRIu64 " | %.2e | %d | %.1f%% "
			       "(%" PRIu64 " allocs) | %.1f%% | %.1f%% |\n",
			       res.allocs, res.failed_free_enough,
			       res.allocs ? (double)res.failed_free_enough /
					    (double)res.allocs : 0.0,
			       res.largest, 100.0 * res.fill_live, res.fill,
			       100.0 * res.live_mean, 100.0 * res.live_min);
			if (res.failed != res.failed_free_enough)
				printf("|   (%" PRIu64 " failures in all) |||||||||||\n",
				       res.failed);
			if (res.fill_failed)
				printf("|   (%" PRIu64 " fill requests failed) |||||||||||\n",
				       res.fill_failed);
		}
		fflush(stdout);
	}

	printf("\n%s: scaling sweep: fill to 60%% live, then %" PRIu64
	       " churn ops, sizes 70%% 1-4 / 30%% 5-64 units\n\n", real_ops->name,
	       prm.sweep_ops);
	printf("| pool | Ir/op | ns/op | harness ns/op | failed, free >= size |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (so = (unsigned int)prm.sweep_min; so <= prm.sweep_max; so++) {
		measure(SWEEP, so, &fg, &res);
		printf("| 2^%u |", so);
		print_ir(&fg);
		printf(" %6.1f | %6.1f | %" PRIu64 " |\n", fg.ns, fg.ns_harness,
		       res.failed_free_enough);
		if (so == 12)
			f12 = fg;
		if (so == 24)
			f24 = fg;
		fflush(stdout);
	}
	if (prm.sweep_min <= 12 && prm.sweep_max >= 24) {
		printf("\n%s: cost per op, 2^24 / 2^12:", real_ops->name);
		if (f12.have_ir && f24.have_ir)
			printf(" %.3fx in instructions,", f24.ir / f12.ir);
		printf(" %.2fx in ns\n", f24.ns / f12.ns);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	int child_w = -1, child_stub = 0;
	unsigned int child_so = 0, child_core = 0, c;
	struct result res;
	ssize_t len;

	parse(argc, argv, &child_w, &child_so, &child_stub, &child_core);
	if (child_w >= 0) {
		/* Under valgrind: one run, print the measured call count. */
		set_core(child_core);
		set_stub(child_stub);
		run_one(child_w, child_so, &res);
		printf("ops %" PRIu64 "\n", res.ops);
		return 0;
	}
	len = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (len <= 0)
		die("cannot find /proc/self/exe");
	self_path[len] = '\0';
	if (prm.valgrind && system("valgrind --version >/dev/null 2>&1")) {
		fprintf(stderr, "bench_core: no valgrind, instruction counts skipped\n");
		prm.valgrind = 0;
	}

	printf("core userspace benchmark: pool 2^%" PRIu64 " units, seed %"
	       PRIu64 ", W2 %" PRIu64 " ops, W3 %" PRIu64 " ops, %" PRIu64
	       " timed reps\n\n", prm.order, prm.seed, prm.ops, prm.w3_ops,
	       prm.reps);
	for (c = 0; c < ARRAY_SIZE(cores); c++) {
		if (prm.core != 2 && prm.core != c)
			continue;
		set_core(c);
		run_core();
	}
	return 0;
}
