// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_blocks: debugfs blocks, one line per live block with its owner.
 *
 * Checks that the file lists exactly the blocks the test holds, each with
 * the file and the opener (tgid, comm, escaped to one printable word) that
 * own it, in (file, offset) order; that it follows frees, a forked child's
 * file and close; that it reads the same in chunks of any size and after
 * lseek; that with every unit of the pool allocated as its own block (2^20
 * blocks on a 256 MiB pool of 256-byte units) it lists all of them; and
 * that readings taken while other threads open, allocate, free and close
 * stay well formed and in strictly increasing (file, offset) order.  A block
 * exported as a DMA-BUF is listed as "exported", with its exporter's tgid
 * and comm, after every file's blocks, for as long as the DMA-BUF lives
 * (past the close of the file that exported it), and debugfs stats count it
 * in exported_blocks, exported_bytes, live_blocks and used_bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define BLOCKS_PATH	BUDDY_DEBUGFS "/blocks"
#define BLOCKS_HEADER	"# offset size file tgid comm"

struct rec {
	__u64 offset;
	__u64 size;
	__u64 file;		/* 0 when exported */
	bool exported;
	long tgid;
	char comm[80];
};

struct listing {
	struct rec *recs;
	size_t n;
	bool header;		/* the first line is BLOCKS_HEADER */
	bool well_formed;	/* every other line parsed */
	bool ordered;		/* (file, offset) strictly increasing, then the
				 * exported blocks by offset
				 */
};

static struct buddy_info info;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The whole file, read @chunk bytes at a time; NULL on error. */
static char *read_blocks(size_t chunk, size_t *lenp)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap + 1);
	int fd = open(BLOCKS_PATH, O_RDONLY);
	ssize_t n;

	if (fd < 0 || !buf) {
		e2e_diag("open %s: %s", BLOCKS_PATH, strerror(errno));
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (cap - len < chunk) {
			cap = cap * 2 + chunk;
			buf = realloc(buf, cap + 1);
			if (!buf)
				abort();
		}
		n = read(fd, buf + len, chunk);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (n < 0) {
		e2e_diag("read %s: %s", BLOCKS_PATH, strerror(errno));
		free(buf);
		return NULL;
	}
	buf[len] = 0;
	*lenp = len;
	return buf;
}

static bool parse_line(const char *line, struct rec *r)
{
	char comm[sizeof(r->comm)];
	int end = 0;

	r->file = 0;
	r->exported = sscanf(line, "%llu %llu exported %ld %79s%n", &r->offset, &r->size,
			     &r->tgid, comm, &end) == 4;
	if (!r->exported &&
	    sscanf(line, "%llu %llu %llu %ld %79s%n", &r->offset, &r->size,
		   &r->file, &r->tgid, comm, &end) != 5)
		return false;
	if (line[end])
		return false;
	strcpy(r->comm, comm);
	/* A block as the kernel hands them out: naturally aligned, in the pool. */
	return r->size >= info.unit_size && !(r->size & (r->size - 1)) &&
	       !(r->offset & (r->size - 1)) && r->offset < info.pool_size &&
	       r->size <= info.pool_size - r->offset;
}

static void parse(char *text, struct listing *l)
{
	size_t cap = 1024;
	char *line, *save = NULL;
	bool first = true;

	memset(l, 0, sizeof(*l));
	l->well_formed = true;
	l->ordered = true;
	l->recs = malloc(cap * sizeof(*l->recs));
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct rec *r;

		if (first) {
			first = false;
			l->header = !strcmp(line, BLOCKS_HEADER);
			if (l->header)
				continue;
		}
		if (l->n == cap) {
			cap *= 2;
			l->recs = realloc(l->recs, cap * sizeof(*l->recs));
			if (!l->recs)
				abort();
		}
		r = &l->recs[l->n];
		if (!parse_line(line, r)) {
			if (l->well_formed)
				e2e_diag("bad line: \"%s\"", line);
			l->well_formed = false;
			continue;
		}
		if (l->n && (r->exported ?
			     r[-1].exported && r->offset <= r[-1].offset :
			     r[-1].exported || r->file < r[-1].file ||
			     (r->file == r[-1].file && r->offset <= r[-1].offset)))
			l->ordered = false;
		l->n++;
	}
}

static bool listing(struct listing *l, size_t chunk)
{
	size_t len;
	char *text = read_blocks(chunk, &len);

	if (!text) {
		memset(l, 0, sizeof(*l));
		return false;
	}
	parse(text, l);
	free(text);
	return true;
}

/*
 * What the test holds: a block of a file, with the owner it expects; an
 * exported one has @fd EXPORTED_FD.
 */
struct held {
	__u64 offset;
	__u64 size;
	int fd;
	long tgid;
	const char *comm;
};

#define EXPORTED_FD	(-2)

/* The file id the listing gives @fd: the one of the block at @offset. */
static __u64 file_id_of(const struct listing *l, __u64 offset)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->recs[i].offset == offset)
			return l->recs[i].file;
	return 0;
}

/* The listing is exactly @h (any order), with the right owners. */
static void expect_exactly(const struct held *h, size_t nh, const char *phase)
{
	struct listing l;
	size_t i, j, matched = 0;
	bool owners = true;

	if (!e2e_check(listing(&l, 4096), "%s: blocks reads", phase))
		return;
	e2e_check(l.header, "%s: the first line is \"%s\"", phase, BLOCKS_HEADER);
	e2e_check(l.well_formed, "%s: every line is OFFSET SIZE FILE TGID COMM, a block in the pool",
		  phase);
	e2e_check(l.ordered, "%s: lines in (file, offset) order, then the exported by offset",
		  phase);
	for (i = 0; i < nh; i++) {
		for (j = 0; j < l.n; j++) {
			if (l.recs[j].offset != h[i].offset)
				continue;
			matched++;
			if (l.recs[j].size != h[i].size || l.recs[j].tgid != h[i].tgid ||
			    strcmp(l.recs[j].comm, h[i].comm) ||
			    l.recs[j].exported != (h[i].fd == EXPORTED_FD)) {
				e2e_diag("%s: block %llu: %llu bytes, %s, %ld %s; want %llu, %s, %ld %s",
					 phase, h[i].offset, l.recs[j].size,
					 l.recs[j].exported ? "exported" : "a file's",
					 l.recs[j].tgid, l.recs[j].comm, h[i].size,
					 h[i].fd == EXPORTED_FD ? "exported" : "a file's",
					 h[i].tgid, h[i].comm);
				owners = false;
			}
			break;
		}
	}
	e2e_check(matched == nh && l.n == nh,
		  "%s: %zu lines, one for each of the %zu blocks held (%zu found)",
		  phase, l.n, nh, matched);
	e2e_check(owners, "%s: each with its size, owner (a file, or exported), tgid and comm",
		  phase);
	/* Blocks of one open file share a file id; different files differ. */
	for (i = 0; i < nh; i++)
		for (j = i + 1; j < nh; j++)
			if ((file_id_of(&l, h[i].offset) == file_id_of(&l, h[j].offset)) !=
			    (h[i].fd == h[j].fd))
				owners = false;
	e2e_check(owners, "%s: the file column tells open files apart", phase);
	free(l.recs);
}

static void alloc_into(int fd, __u64 size, long tgid, const char *comm,
		       struct held *h, size_t *nh)
{
	struct buddy_alloc a;
	int ret = buddy_alloc(fd, size, &a);

	if (!e2e_check(!ret, "alloc %llu bytes: %s", size, e2e_err(ret)))
		return;
	h[*nh] = (struct held){ a.offset, a.block_size, fd, tgid, comm };
	++*nh;
}

static void test_owners(void)
{
	/* A comm with a space, a backslash and a byte outside ASCII. */
	static const char odd_name[] = "blk\xe9 x\\y";
	static const char odd_escaped[] = "blk\\351\\040x\\134y";
	struct held h[16];
	size_t nh = 0, i;
	char self[32] = "";
	long me = getpid();
	int a, b, p[2], r[2];
	pid_t child;

	prctl(PR_GET_NAME, self);
	expect_exactly(NULL, 0, "nothing allocated");
	a = buddy_open();
	prctl(PR_SET_NAME, odd_name);
	b = buddy_open();
	prctl(PR_SET_NAME, self);

	alloc_into(a, info.unit_size, me, self, h, &nh);
	alloc_into(b, info.unit_size * 3, me, odd_escaped, h, &nh);
	alloc_into(a, info.unit_size * 2, me, self, h, &nh);
	alloc_into(b, 1, me, odd_escaped, h, &nh);
	expect_exactly(h, nh, "two files, four blocks");

	/* Free the first block of each file. */
	e2e_check(!buddy_free(a, h[0].offset) && !buddy_free(b, h[1].offset),
		  "free a block of each file");
	h[0] = h[2];
	h[1] = h[3];
	nh = 2;
	expect_exactly(h, nh, "after two frees");

	/* A child's own file names the child. */
	if (pipe(p) || pipe(r)) {
		e2e_check(false, "pipe: %s", strerror(errno));
		return;
	}
	child = fork();
	if (child == 0) {
		struct buddy_alloc ca;
		__u64 out[2] = { 0, 0 };
		char go;
		int c;

		close(p[0]);
		close(r[1]);
		prctl(PR_SET_NAME, "blk-child");
		/* Not buddy_open(): its failure would print a summary of its own. */
		c = open(BUDDY_DEV, O_RDWR | O_CLOEXEC);
		if (c >= 0 && !buddy_alloc(c, info.unit_size, &ca)) {
			out[0] = ca.offset;
			out[1] = ca.block_size;
		}
		if (write(p[1], out, sizeof(out)) != sizeof(out) ||
		    read(r[0], &go, 1) != 1)
			_exit(1);
		_exit(0);
	}
	/*
	 * The child's write end: a child that dies early gives EOF, not a hang.
	 * (r[0] stays open, so telling a dead child to exit is no SIGPIPE.)
	 */
	close(p[1]);
	{
		__u64 got[2] = { 0, 0 };
		char go = 1;
		int status;

		e2e_check(read(p[0], got, sizeof(got)) == sizeof(got) && got[1],
			  "the child allocated a block");
		h[nh++] = (struct held){ got[0], got[1], -1, child, "blk-child" };
		expect_exactly(h, nh, "a forked child's file");
		if (write(r[1], &go, 1) != 1)
			e2e_diag("cannot tell the child to exit");
		waitpid(child, &status, 0);
		nh--;
		expect_exactly(h, nh, "after the child exited");
	}
	close(p[0]);
	close(r[0]);
	close(r[1]);

	close(b);
	for (i = 0; i < nh; i++)
		if (h[i].fd == b)
			h[i--] = h[--nh];
	expect_exactly(h, nh, "after closing the second file");
	close(a);
	expect_exactly(NULL, 0, "after closing both");
}

/* debugfs stats against @st0 plus what the test holds: @file and @exported blocks. */
static void expect_stats(const struct e2e_stats *st0, __u64 file_blocks, __u64 file_bytes,
			 __u64 exp_blocks, __u64 exp_bytes, const char *phase)
{
	struct e2e_stats st;
	int ret = e2e_read_stats(&st, NULL, 0);

	e2e_check(!ret && st.exported_blocks == st0->exported_blocks + exp_blocks &&
		  st.exported_bytes == st0->exported_bytes + exp_bytes &&
		  st.live_blocks == st0->live_blocks + file_blocks + exp_blocks &&
		  st.used_bytes == st0->used_bytes + file_bytes + exp_bytes,
		  "%s: stats exported_blocks %llu exported_bytes %llu live_blocks %llu used_bytes %llu, want +%llu +%llu +%llu +%llu on %llu %llu %llu %llu (%s)",
		  phase, st.exported_blocks, st.exported_bytes, st.live_blocks, st.used_bytes,
		  exp_blocks, exp_bytes, file_blocks + exp_blocks, file_bytes + exp_bytes,
		  st0->exported_blocks, st0->exported_bytes, st0->live_blocks,
		  st0->used_bytes, e2e_err(ret));
}

/*
 * An exported block: "exported" with its exporter, after every file's
 * blocks, until its DMA-BUF is closed, also after its file was.
 */
static void test_exported(void)
{
	__u64 psz = (__u64)sysconf(_SC_PAGESIZE);
	/*
	 * At least a page (EXPORT's minimum), and of order 4 or more, which no
	 * per-CPU cache holds: such blocks come from the core lowest first.
	 */
	__u64 size = psz > info.unit_size << 4 ? psz : info.unit_size << 4;
	struct e2e_stats st0;
	struct held h[4];
	size_t nh = 0;
	long me = getpid();
	char self[32] = "";
	int a, b, dbuf = -1, ret;

	if (!e2e_check(info.pool_size >= 4 * size, "export: the pool holds 4 blocks of %llu bytes",
		       size))
		return;
	if (!e2e_check(!e2e_read_stats(&st0, NULL, 0), "export: stats read"))
		return;
	prctl(PR_GET_NAME, self);
	a = buddy_open();
	prctl(PR_SET_NAME, "blk-export");
	b = buddy_open();
	prctl(PR_SET_NAME, self);
	/* The exported block first in the pool: its line still comes last. */
	alloc_into(b, size, me, "blk-export", h, &nh);
	alloc_into(a, size, me, self, h, &nh);
	alloc_into(b, size, me, "blk-export", h, &nh);
	if (nh != 3)
		goto out;
	e2e_check(h[0].offset < h[1].offset,
		  "export: the block to export (%llu) lies below the other file's (%llu)",
		  h[0].offset, h[1].offset);
	ret = buddy_export(b, h[0].offset, O_RDWR | O_CLOEXEC, &dbuf);
	if (!e2e_check(!ret, "export: EXPORT of the block at %llu (%s)", h[0].offset,
		       e2e_err(ret)))
		goto out;
	h[0].fd = EXPORTED_FD;
	expect_exactly(h, nh, "export: one of three blocks exported");
	expect_stats(&st0, 2, 2 * size, 1, size, "export: one of three blocks exported");

	close(b);
	b = -1;
	h[2] = h[--nh];
	expect_exactly(h, nh, "export: the exporting file closed");
	expect_stats(&st0, 1, size, 1, size, "export: the exporting file closed");

	close(dbuf);
	dbuf = -1;
	h[0] = h[--nh];
	expect_exactly(h, nh, "export: the DMA-BUF closed");
	expect_stats(&st0, 1, size, 0, 0, "export: the DMA-BUF closed");
out:
	if (dbuf >= 0)
		close(dbuf);
	if (b >= 0)
		close(b);
	close(a);
	expect_exactly(NULL, 0, "export: everything closed");
}

/* The same bytes whatever the read size, and again after lseek. */
static void test_chunks(void)
{
	size_t chunks[] = { 1, 7, 100, 4096, 65536 }, len0, len, i;
	struct held h[64];
	size_t nh = 0;
	char self[32] = "", *ref, *text, buf[64];
	int fd = buddy_open(), dfd;
	ssize_t n;
	bool same = true;

	prctl(PR_GET_NAME, self);
	for (i = 0; i < ARRAY_SIZE(h) && nh < 40; i++) {
		__u64 size = info.unit_size << (e2e_rand() % 3);
		struct buddy_alloc a;

		if (buddy_alloc(fd, size, &a))
			break;
		h[nh++] = (struct held){ a.offset, a.block_size, fd, getpid(), self };
	}
	ref = read_blocks(4096, &len0);
	for (i = 0; ref && i < ARRAY_SIZE(chunks); i++) {
		text = read_blocks(chunks[i], &len);
		if (!text || len != len0 || memcmp(text, ref, len)) {
			e2e_diag("read %zu bytes at a time: %zu bytes, want %zu",
				 chunks[i], text ? len : 0, len0);
			same = false;
		}
		free(text);
	}
	e2e_check(ref && same, "%zu blocks: reads of 1 to 65536 bytes give the same %zu bytes",
		  nh, ref ? len0 : 0);

	dfd = open(BLOCKS_PATH, O_RDONLY);
	same = dfd >= 0 && ref && len0 > 100;
	if (same) {
		/* Part way, back to the start, and to the middle by pread. */
		same = read(dfd, buf, 50) == 50 && lseek(dfd, 0, SEEK_SET) == 0 &&
		       read(dfd, buf, 50) == 50 && !memcmp(buf, ref, 50);
		n = pread(dfd, buf, sizeof(buf), len0 / 2);
		same = same && n > 0 && !memcmp(buf, ref + len0 / 2, n);
	}
	e2e_check(same, "lseek to 0 and pread in the middle read what a whole read did");
	if (dfd >= 0)
		close(dfd);
	free(ref);
	expect_exactly(h, nh, "random blocks");
	close(fd);
}

/* Every unit its own block: the file lists each once. */
static void test_full(void)
{
	__u64 units = info.pool_size / info.unit_size, done = 0, i;
	unsigned int per = BUDDY_BATCH_MAX;
	struct buddy_batch_op *ops = calloc(per, sizeof(*ops));
	unsigned char *seen = calloc(units, 1);
	int fd = buddy_open();
	struct listing l;
	bool each = true;
	double t;

	if (!ops || !seen)
		abort();
	while (done < units) {
		unsigned int count = units - done < per ? units - done : per, k;
		struct buddy_batch b = {
			.ops = (uintptr_t)ops, .count = count, .op_size = sizeof(*ops),
		};
		int ret;

		for (k = 0; k < count; k++)
			ops[k] = (struct buddy_batch_op){ .op = BUDDY_BATCH_ALLOC,
							  .size = info.unit_size };
		ret = buddy_ioctl(fd, BUDDY_IOC_BATCH, &b);
		if (ret || b.done != count) {
			e2e_diag("batch at %llu: %s, %u of %u done", done, e2e_err(ret),
				 b.done, count);
			done += ret ? 0 : b.done;
			break;
		}
		done += count;
	}
	e2e_check(done == units, "every unit allocated as its own block: %llu of %llu",
		  done, units);
	t = now();
	if (!e2e_check(listing(&l, 1 << 16), "blocks reads with %llu blocks live", done))
		goto out;
	e2e_diag("read and parsed %zu lines in %.2f s", l.n, now() - t);
	e2e_check(l.header && l.well_formed && l.ordered,
		  "full pool: header, every line well formed, in order");
	for (i = 0; i < l.n; i++) {
		__u64 u = l.recs[i].offset / info.unit_size;

		if (l.recs[i].size != info.unit_size || seen[u]++)
			each = false;
	}
	e2e_check(l.n == units && each, "full pool: %zu lines, each unit once, of unit size",
		  l.n);
	free(l.recs);
out:
	close(fd);
	free(ops);
	free(seen);
}

static volatile int stop_churn;

/* xorshift64, one state per thread. */
static __u64 next_rand(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Open, allocate, free and close at random until told to stop. */
static void *churn(void *arg)
{
	__u64 rng = (uintptr_t)arg;
	int fds[4], i;

	for (i = 0; i < 4; i++)
		fds[i] = -1;
	while (!stop_churn) {
		struct buddy_alloc a;

		i = next_rand(&rng) % 4;

		if (fds[i] < 0) {
			fds[i] = open(BUDDY_DEV, O_RDWR | O_CLOEXEC);
			continue;
		}
		switch (next_rand(&rng) % 8) {
		case 0:
			close(fds[i]);
			fds[i] = -1;
			break;
		case 1:
		case 2:
		case 3:
			if (!buddy_alloc(fds[i], info.unit_size << (next_rand(&rng) % 3), &a) &&
			    next_rand(&rng) % 2)
				buddy_free(fds[i], a.offset);
			break;
		default:
			buddy_alloc(fds[i], info.unit_size, &a);
			break;
		}
	}
	for (i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

static void test_churn(void)
{
	pthread_t t[2];
	unsigned int readings = 0, bad = 0, started, i;
	size_t lines = 0, chunks[] = { 37, 512, 4096 };
	double end = now() + 1.5;

	for (started = 0; started < ARRAY_SIZE(t); started++)
		if (pthread_create(&t[started], NULL, churn,
				   (void *)(uintptr_t)(e2e_rand() | 1)))
			break;
	while (now() < end) {
		struct listing l;

		if (!listing(&l, chunks[readings % ARRAY_SIZE(chunks)]) ||
		    !l.header || !l.well_formed || !l.ordered)
			bad++;
		lines += l.n;
		readings++;
		free(l.recs);
	}
	stop_churn = 1;
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	e2e_check(started == ARRAY_SIZE(t) && readings > 10 && !bad,
		  "%u readings (%zu lines) while %u threads open, allocate, free and close: %u bad",
		  readings, lines, started, bad);
	expect_exactly(NULL, 0, "after the churn");
}

int main(int argc, char **argv)
{
	int fd;

	e2e_init(argc, argv);
	fd = buddy_open();
	if (buddy_info(fd, &info)) {
		e2e_check(false, "BUDDY_IOC_INFO");
		return e2e_done();
	}
	close(fd);
	e2e_diag("pool %llu bytes, unit %llu, %llu units", info.pool_size,
		 info.unit_size, info.pool_size / info.unit_size);
	test_owners();
	test_exported();
	test_chunks();
	test_full();
	test_churn();
	e2e_pool_whole(fd = buddy_open(), "at the end");
	close(fd);
	return e2e_done();
}
