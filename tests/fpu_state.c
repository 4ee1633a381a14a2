// SPDX-License-Identifier: GPL-2.0
/*
 * fpu_state: does a process's FPU and vector state survive the kernel it
 * runs on?  Written for User-Mode Linux, which keeps every guest thread's
 * state in its own buffer and moves it in and out of the host process with
 * PTRACE_GETREGSET/SETREGSET (scripts/patches/0002-*): a buffer of the
 * wrong size, a truncated save or a missed restore shows here as a changed
 * register, not only as a panic.
 *
 * Each check loads a pattern into the registers, does one thing with them
 * live, stores them and compares, all in one asm block, so that nothing the
 * compiler emits runs in between.  The things:
 *   yield     sched_yield() while other threads, with their own patterns,
 *             run in the same host process (UML switches their state)
 *   sleep     nanosleep() of 200 us
 *   getppid   a plain system call
 *   signal    tgkill() of itself; the handler loads other values into every
 *             register the signal frame holds
 *   spin      a busy loop of about a millisecond, while an interval timer
 *             delivers SIGALRM (the handler clobbers too) and preempts
 *   fault     a write to a page not yet mapped (UML resolves it through
 *             its stub, saving and restoring the state around it)
 *   fork      fork(); the child checks its copy, the parent its own
 * Registers: MXCSR and xmm0-15 (SSE), ymm0-15 where the CPU and OS have AVX,
 * zmm0-31 and k0-7 where they have AVX-512 (signal handlers clobber only
 * xmm/ymm0-15: UML's 6.12 signal frame holds just the 832-byte legacy and
 * AVX area, so AVX-512 state is not saved across a handler there; what
 * this test checks is that the handler's own changes do not leak back).
 * AMX tiles are not used: they need a permission (ARCH_REQ_XCOMP_PERM) that
 * UML does not grant, but their size is what the host's buffer must hold.
 *
 *   fpu_state [--threads N] [--iterations N] [--info]
 *
 * Prints the CPU's features and XSAVE size, a line per thread and check,
 * and "N passed, N failed".  A first check proves the comparison catches a
 * register changed inside the asm block.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum level { LEVEL_SSE, LEVEL_AVX, LEVEL_AVX512 };

static const char *const level_names[] = {
	[LEVEL_SSE] = "MXCSR, xmm0-15",
	[LEVEL_AVX] = "MXCSR, ymm0-15",
	[LEVEL_AVX512] = "MXCSR, zmm0-31, k0-7",
};

/* The register file as the asm blocks load and store it. */
struct vstate {
	uint8_t vec[32][64];
	uint64_t k[8];		/* at 2048: LD_K and ST_K rely on it */
	uint32_t mxcsr;
} __attribute__((aligned(64)));

/* What one check does between loading and storing the registers. */
struct action {
	long nr;		/* system call, or -1 for none */
	long a1, a2, a3, a4;
	volatile char *touch;	/* written after the call when not NULL */
	long spin;		/* loop iterations after that */
	int corrupt;		/* self-test: change ymm/xmm5 inside the block */
};

_Static_assert(__builtin_offsetof(struct vstate, k) == 2048,
	       "k0-7 must follow the vectors");

static enum level level;
static int nr_vecs;		/* registers compared */
static int vec_bytes;		/* bytes of each */

/* Stringify a register number for the asm templates. */
#define S(x) #x

#define LD_X(i) "movdqu " S(i) "*64(%[in]), %%xmm" S(i) "\n\t"
#define ST_X(i) "movdqu %%xmm" S(i) ", " S(i) "*64(%[out])\n\t"
#define LD_Y(i) "vmovdqu " S(i) "*64(%[in]), %%ymm" S(i) "\n\t"
#define ST_Y(i) "vmovdqu %%ymm" S(i) ", " S(i) "*64(%[out])\n\t"
#define LD_Z(i) "vmovdqu64 " S(i) "*64(%[in]), %%zmm" S(i) "\n\t"
#define ST_Z(i) "vmovdqu64 %%zmm" S(i) ", " S(i) "*64(%[out])\n\t"
/* k0-7 follow the 32 vectors of 64 bytes in struct vstate. */
#define LD_K(i) "kmovq 2048+" S(i) "*8(%[in]), %%k" S(i) "\n\t"
#define ST_K(i) "kmovq %%k" S(i) ", 2048+" S(i) "*8(%[out])\n\t"

#define ALL16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) \
		 M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define HI16(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) \
		M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31)
#define ALL8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)

/*
 * The part between load and store, the same at every level: the system
 * call (rax, rdi, rsi, rdx, r10; it clobbers rcx and r11), the write to a
 * fresh page, the busy loop, and for the self-test a change to register 5.
 */
#define ACTION(corrupt_insn)					\
	"cmp $-1, %%rax\n\t"					\
	"je 1f\n\t"						\
	"syscall\n\t"						\
	"1: test %[touch], %[touch]\n\t"			\
	"jz 2f\n\t"						\
	"movb $1, (%[touch])\n\t"				\
	"2: test %[spin], %[spin]\n\t"				\
	"jz 3f\n\t"						\
	"dec %[spin]\n\t"					\
	"jmp 2b\n\t"						\
	"3: test %[corrupt], %[corrupt]\n\t"			\
	"jz 4f\n\t"						\
	corrupt_insn "\n\t"					\
	"4:\n\t"

#define ACTION_OPERANDS(ret, spin, a)					\
	  [ret] "+a" (ret), [spin] "+r" (spin), [mxout] "=m" (out->mxcsr) \
	: [in] "r" (in->vec), [out] "r" (out->vec),			\
	  [touch] "r" ((a)->touch), [corrupt] "r" ((long)(a)->corrupt),	\
	  [mxin] "m" (in->mxcsr),					\
	  "D" ((a)->a1), "S" ((a)->a2), "d" ((a)->a3), "r" (r10)

#define XMM0_15 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", \
	"xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", \
	"xmm15"

/*
 * The body of every run_*(): MXCSR and @loads, the action, @stores and
 * MXCSR back; the clobbers name every register @loads writes.
 */
#define RUN(loads, corrupt_insn, stores, ...)				\
	register long r10 asm("r10") = a->a4;				\
	long ret = a->nr, spin = a->spin;				\
									\
	asm volatile("ldmxcsr %[mxin]\n\t" loads ACTION(corrupt_insn)	\
		     stores "stmxcsr %[mxout]\n\t"			\
		     : ACTION_OPERANDS(ret, spin, a)			\
		     : "rcx", "r11", "memory", __VA_ARGS__);		\
	return ret

static long run_sse(const struct vstate *in, struct vstate *out,
		    const struct action *a)
{
	RUN(ALL16(LD_X), "pxor %%xmm15, %%xmm5", ALL16(ST_X), XMM0_15);
}

/* The self-tests flip halves that only the XSAVE state keeps. */
__attribute__((target("avx")))
static long run_avx(const struct vstate *in, struct vstate *out,
		    const struct action *a)
{
	RUN(ALL16(LD_Y), "vperm2f128 $1, %%ymm5, %%ymm5, %%ymm5", ALL16(ST_Y),
	    XMM0_15);
}

__attribute__((target("avx512f")))
static long run_avx512(const struct vstate *in, struct vstate *out,
		       const struct action *a)
{
	RUN(ALL16(LD_Z) HI16(LD_Z) ALL8(LD_K),
	    "vshufi64x2 $0x4e, %%zmm5, %%zmm5, %%zmm5",
	    ALL16(ST_Z) HI16(ST_Z) ALL8(ST_K),
	    XMM0_15, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
	    "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",
	    "xmm29", "xmm30", "xmm31",
	    "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
}

static long run(const struct vstate *in, struct vstate *out,
		const struct action *a)
{
	switch (level) {
	case LEVEL_AVX512:
		return run_avx512(in, out, a);
	case LEVEL_AVX:
		return run_avx(in, out, a);
	default:
		return run_sse(in, out, a);
	}
}

/* Signal handlers: other values in every register the frame restores. */
static const uint8_t clobber_bytes[16 * 32] __attribute__((aligned(32))) = {
	[0 ... 16 * 32 - 1] = 0xee,
};

/* Load clobber_bytes into 16 registers, with MXCSR rounding toward zero. */
#define CLOBBER(loads)							\
	uint32_t mx = 0x1f80 | (3 << 13);				\
									\
	asm volatile("ldmxcsr %1\n\t" loads				\
		     : : "r" (clobber_bytes), "m" (mx) : "memory", XMM0_15)

__attribute__((target("avx")))
static void clobber_avx(void)
{
#define CL_Y(i) "vmovdqu " S(i) "*32(%0), %%ymm" S(i) "\n\t"
	CLOBBER(ALL16(CL_Y));
}

static void clobber_sse(void)
{
#define CL_X(i) "movdqu " S(i) "*16(%0), %%xmm" S(i) "\n\t"
	CLOBBER(ALL16(CL_X));
}

static atomic_long signals_taken;

static void on_signal(int sig)
{
	(void)sig;
	if (level >= LEVEL_AVX)
		clobber_avx();
	else
		clobber_sse();
	atomic_fetch_add(&signals_taken, 1);
}

/* A pattern unique to (thread, iteration, register, byte). */
static void fill(struct vstate *s, unsigned int thread, unsigned int iter)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (thread + 1) + iter * 0xbf58476d1ce4e5b9ULL;
	int r, i;

	memset(s, 0, sizeof(*s));
	for (r = 0; r < 32; r++)
		for (i = 0; i < 64; i++) {
			x ^= x >> 31;
			x *= 0x94d049bb133111ebULL;
			s->vec[r][i] = (uint8_t)(x >> 56);
		}
	for (r = 0; r < 8; r++) {
		x *= 0x94d049bb133111ebULL;
		s->k[r] = x ^ (x >> 29);
	}
	/* Exceptions stay masked; rounding and flush-to-zero vary. */
	s->mxcsr = 0x1f80 | ((thread + iter) & 3) << 13 | (iter & 1) << 15;
}

/* 0 if equal, else a description of the first difference in @why. */
static int compare(const struct vstate *want, const struct vstate *got,
		   char *why, size_t len)
{
	int r, i;

	if (want->mxcsr != got->mxcsr) {
		snprintf(why, len, "MXCSR %#x, expected %#x", got->mxcsr,
			 want->mxcsr);
		return 1;
	}
	for (r = 0; r < nr_vecs; r++)
		for (i = 0; i < vec_bytes; i++)
			if (want->vec[r][i] != got->vec[r][i]) {
				snprintf(why, len,
					 "%s%d byte %d is %#04x, expected %#04x",
					 level == LEVEL_AVX512 ? "zmm" :
					 level == LEVEL_AVX ? "ymm" : "xmm",
					 r, i, got->vec[r][i], want->vec[r][i]);
				return 1;
			}
	if (level == LEVEL_AVX512)
		for (r = 0; r < 8; r++)
			if (want->k[r] != got->k[r]) {
				snprintf(why, len, "k%d is %#llx, expected %#llx",
					 r, (unsigned long long)got->k[r],
					 (unsigned long long)want->k[r]);
				return 1;
			}
	return 0;
}

enum check {
	CHECK_YIELD, CHECK_SLEEP, CHECK_GETPPID, CHECK_SIGNAL, CHECK_SPIN,
	CHECK_FAULT, CHECK_FORK, NR_CHECKS
};

static const char *const check_names[NR_CHECKS] = {
	"yield", "sleep", "getppid", "signal", "spin", "fault", "fork",
};

#define FAULT_PAGES 64

struct worker {
	pthread_t thread;
	unsigned int id;
	unsigned int iterations;
	long spin_loops;
	volatile char *pages;	/* FAULT_PAGES, dropped and refaulted */
	long page_size;
	unsigned int done[NR_CHECKS];
	char why[NR_CHECKS][160];	/* first failure, empty if none */
};

static int check_once(struct worker *w, enum check c, unsigned int iter)
{
	struct vstate in, out;
	struct timespec ts = { 0, 200 * 1000 };
	struct action a = { .nr = -1 };
	char why[128];
	long ret;

	fill(&in, w->id, iter);
	memset(&out, 0, sizeof(out));
	switch (c) {
	case CHECK_YIELD:
		a.nr = SYS_sched_yield;
		break;
	case CHECK_SLEEP:
		a.nr = SYS_nanosleep;
		a.a1 = (long)&ts;
		break;
	case CHECK_GETPPID:
		a.nr = SYS_getppid;
		break;
	case CHECK_SIGNAL:
		a.nr = SYS_tgkill;
		a.a1 = getpid();
		a.a2 = gettid();
		a.a3 = SIGUSR1;
		break;
	case CHECK_SPIN:
		a.spin = w->spin_loops;
		break;
	case CHECK_FAULT: {
		volatile char *page = w->pages +
			(iter % FAULT_PAGES) * w->page_size;

		/* Unmapped again, so that the write below faults. */
		if (madvise((void *)page, w->page_size, MADV_DONTNEED)) {
			snprintf(w->why[c], sizeof(w->why[c]), "madvise: %s",
				 strerror(errno));
			return 1;
		}
		a.touch = page;
		break;
	}
	case CHECK_FORK:
		a.nr = SYS_fork;
		break;
	default:
		return 1;
	}
	ret = run(&in, &out, &a);
	if (c == CHECK_FORK && ret == 0)
		/* The child: its registers are a copy of the parent's. */
		_exit(compare(&in, &out, why, sizeof(why)) ? 3 : 0);
	if (compare(&in, &out, why, sizeof(why))) {
		snprintf(w->why[c], sizeof(w->why[c]), "iteration %u: %s",
			 iter, why);
		return 1;
	}
	if (c == CHECK_FORK) {
		int status;

		if (ret < 0) {
			snprintf(w->why[c], sizeof(w->why[c]), "fork: %s",
				 strerror((int)-ret));
			return 1;
		}
		if (waitpid(ret, &status, 0) != ret || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			snprintf(w->why[c], sizeof(w->why[c]),
				 "iteration %u: the child's registers differ (status %#x)",
				 iter, status);
			return 1;
		}
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int i;
	int c;

	/* Interleaved, so every check runs while the others' threads do. */
	for (i = 0; i < w->iterations; i++)
		for (c = 0; c < NR_CHECKS; c++)
			if (!w->why[c][0] && !check_once(w, c, i))
				w->done[c]++;
	return NULL;
}

static void cpu_features(int *avx, int *avx512, int *amx, uint64_t *xcr0,
			 unsigned int *xsave_enabled, unsigned int *xsave_max)
{
	unsigned int a, b, c, d;
	uint32_t lo = 0, hi = 0;

	*avx = *avx512 = *amx = 0;
	*xcr0 = 0;
	*xsave_enabled = *xsave_max = 0;
	__cpuid(1, a, b, c, d);
	if (!(c & bit_OSXSAVE))
		return;
	asm volatile("xgetbv" : "=a" (lo), "=d" (hi) : "c" (0));
	*xcr0 = (uint64_t)hi << 32 | lo;
	*avx = (c & bit_AVX) && (*xcr0 & 0x6) == 0x6;
	__cpuid_count(7, 0, a, b, c, d);
	/* kmovq, for the 64-bit masks, is AVX512BW's. */
	*avx512 = (b & bit_AVX512F) && (b & bit_AVX512BW) &&
		  (*xcr0 & 0xe6) == 0xe6;
	*amx = !!(d & (1U << 24));		/* AMX-TILE */
	__cpuid_count(0xd, 0, a, b, c, d);
	*xsave_enabled = b;
	*xsave_max = c;
}

int main(int argc, char **argv)
{
	unsigned int nr_threads = 4, iterations = 100, t;
	struct itimerval timer = { { 0, 1000 }, { 0, 1000 } };
	int avx, avx512, amx, info_only = 0, passed = 0, failed = 0, c, i;
	unsigned int xsave_enabled, xsave_max;
	struct worker *workers;
	struct sigaction sa;
	uint64_t xcr0;
	long page_size = sysconf(_SC_PAGESIZE);

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nr_threads = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			iterations = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--info"))
			info_only = 1;
		else {
			fprintf(stderr, "usage: %s [--threads N] [--iterations N] [--info]\n",
				argv[0]);
			return 2;
		}
	}
	if (!nr_threads || !iterations) {
		fprintf(stderr, "fpu_state: --threads and --iterations must be at least 1\n");
		return 2;
	}

	cpu_features(&avx, &avx512, &amx, &xcr0, &xsave_enabled, &xsave_max);
	level = avx512 ? LEVEL_AVX512 : avx ? LEVEL_AVX : LEVEL_SSE;
	nr_vecs = level == LEVEL_AVX512 ? 32 : 16;
	vec_bytes = level == LEVEL_AVX512 ? 64 : level == LEVEL_AVX ? 32 : 16;
	printf("# cpu: avx %s, avx512f %s, amx-tile %s; XCR0 %#llx; XSAVE area %u bytes for XCR0, %u at most (CPUID 0xD.0 EBX, ECX)\n",
	       avx ? "yes" : "no", avx512 ? "yes" : "no", amx ? "yes" : "no",
	       (unsigned long long)xcr0, xsave_enabled, xsave_max);
	printf("# checking %s; %u threads, %u iterations of each check\n",
	       level_names[level], nr_threads, iterations);
	if (info_only)
		return 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGALRM, &sa, NULL)) {
		perror("fpu_state: sigaction");
		return 1;
	}

	/*
	 * The comparison must see a register changed between load and store,
	 * or every check below could pass without looking.
	 */
	{
		struct vstate in, out;
		struct action a = { .nr = -1, .corrupt = 1 };
		char why[128];

		fill(&in, 99, 0);
		run(&in, &out, &a);
		if (compare(&in, &out, why, sizeof(why))) {
			printf("ok - a register changed inside the block is caught (%s)\n",
			       why);
			passed++;
		} else {
			printf("not ok - a register changed inside the block went unseen\n");
			failed++;
		}
	}

	/* About a millisecond of spinning, calibrated on this kernel. */
	long spin_loops = 1000000;
	{
		struct timespec t0, t1;
		struct vstate in, out;
		struct action a = { .nr = -1, .spin = spin_loops };
		double ns;

		fill(&in, 0, 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		run(&in, &out, &a);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
		if (ns > 0)
			spin_loops = (long)(spin_loops * 1e6 / ns) + 1;
	}

	workers = calloc(nr_threads, sizeof(*workers));
	if (!workers) {
		perror("fpu_state: calloc");
		return 1;
	}
	if (setitimer(ITIMER_REAL, &timer, NULL)) {
		perror("fpu_state: setitimer");
		return 1;
	}
	for (t = 0; t < nr_threads; t++) {
		struct worker *w = &workers[t];

		w->id = t;
		w->iterations = iterations;
		w->spin_loops = spin_loops;
		w->page_size = page_size;
		w->pages = mmap(NULL, FAULT_PAGES * page_size,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (w->pages == MAP_FAILED) {
			perror("fpu_state: mmap");
			return 1;
		}
		/* Thread 0 is this one, so the main thread is checked too. */
		if (t && pthread_create(&w->thread, NULL, worker_main, w)) {
			perror("fpu_state: pthread_create");
			return 1;
		}
	}
	worker_main(&workers[0]);
	for (t = 1; t < nr_threads; t++)
		pthread_join(workers[t].thread, NULL);
	timer.it_value.tv_usec = timer.it_interval.tv_usec = 0;
	setitimer(ITIMER_REAL, &timer, NULL);

	for (t = 0; t < nr_threads; t++)
		for (c = 0; c < NR_CHECKS; c++) {
			struct worker *w = &workers[t];

			if (w->why[c][0]) {
				printf("not ok - thread %u %s: %s\n", t,
				       check_names[c], w->why[c]);
				failed++;
			} else {
				printf("ok - thread %u %s (%u checks)\n", t,
				       check_names[c], w->done[c]);
				passed++;
			}
		}
	/* The timer must really have interrupted the checks. */
	if (atomic_load(&signals_taken) > (long)(nr_threads * iterations)) {
		printf("ok - %ld signals taken, %u of them by tgkill\n",
		       atomic_load(&signals_taken), nr_threads * iterations);
		passed++;
	} else {
		printf("not ok - only %ld signals taken: the timer never fired during the checks\n",
		       atomic_load(&signals_taken));
		failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
