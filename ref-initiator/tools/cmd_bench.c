/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * prb bench: READ or WRITE of one size at a queue depth over one or more
 * connections (a thread and a session each), for a time or a count. Each
 * connection works on its own block through the asynchronous interface and
 * keeps qd requests in flight; latency is measured per request from queueing
 * to reaping and kept in a log-linear histogram (1/32 octave, about 3%).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define PRB_HIST_SUB 32u   /* buckets per octave */
#define PRB_HIST_OCTAVES 40u
#define PRB_HIST_BUCKETS (PRB_HIST_SUB * (PRB_HIST_OCTAVES + 1))
#define PRB_BENCH_MAX_CONNS 64u
#define PRB_BENCH_MAX_BATCH 64u /* completions per reap */

struct prb_bench_opts {
	bool write;
	uint64_t size;
	uint64_t qd;
	uint64_t batch; /* completions reaped before refilling, 1..PRB_BENCH_MAX_BATCH */
	uint64_t conns;
	uint64_t seconds;
	bool time_set;	/* --time given */
	uint64_t count; /* 0: run for seconds */
	uint64_t addr;
	bool one_buffer; /* every request: the same buffer and the block's first SIZE bytes */
	bool csv;
};

struct prb_bench_shared {
	const struct prb_bench_opts *o;
	const struct prb_common *c;
	/* c without --json, for the threads' connections: the run reports once, at the end. */
	struct prb_common quiet;
	const char *url;
	atomic_bool stop;
	atomic_bool failed;
	/* The timed part starts once every connection is set up (connected, buffer
	 * registered, block mapped) and ends when the last one has drained: connect and
	 * teardown (over rdma_cm, registering and deregistering the buffers) are not I/O. */
	atomic_uint ready; /* threads set up */
	atomic_bool go;    /* all are: start the I/O */
};

struct prb_bench_thread {
	pthread_t tid;
	struct prb_bench_shared *sh;
	unsigned index;
	atomic_uint_fast64_t ops;
	uint64_t hist[PRB_HIST_BUCKETS];
	int error;          /* first failure, a negative errno */
	const char *step;   /* where it failed */
	uint64_t end_ns;    /* when its last request completed */
};

static uint64_t prb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Histogram bucket of a latency: values below 32 ns exactly, then 32 per octave. */
static unsigned prb_hist_bucket(uint64_t ns)
{
	unsigned msb, b;

	if (ns < PRB_HIST_SUB)
		return (unsigned)ns;
	msb = 63u - (unsigned)__builtin_clzll(ns);
	b = (msb - 4u) * PRB_HIST_SUB + (unsigned)((ns >> (msb - 5u)) & (PRB_HIST_SUB - 1u));
	return b < PRB_HIST_BUCKETS ? b : PRB_HIST_BUCKETS - 1u;
}

/* Lowest latency of a bucket, in ns (the inverse of prb_hist_bucket). */
static uint64_t prb_hist_value(unsigned b)
{
	unsigned octave = b / PRB_HIST_SUB, sub = b % PRB_HIST_SUB;

	if (octave == 0)
		return b;
	return (uint64_t)(PRB_HIST_SUB + sub) << (octave - 1u);
}

static double prb_hist_percentile(const uint64_t *hist, uint64_t total, double pct)
{
	uint64_t rank = (uint64_t)((double)total * pct / 100.0), seen = 0;
	unsigned b;

	if (rank >= total)
		rank = total ? total - 1 : 0;
	for (b = 0; b < PRB_HIST_BUCKETS; b++) {
		seen += hist[b];
		if (seen > rank)
			return (double)prb_hist_value(b) / 1000.0;
	}
	return 0.0;
}

/* Stop everything after a failure in one thread. */
static void *prb_bench_fail(struct prb_bench_thread *t, const char *step, int err)
{
	t->error = err;
	t->step = step;
	atomic_store(&t->sh->failed, true);
	atomic_store(&t->sh->stop, true);
	return NULL;
}

/* Keep qd requests in flight until told to stop or the count is reached. */
static int prb_bench_loop(struct prb_bench_thread *t, struct prb_mapping *m, uint8_t *bufs,
			  uint64_t *started)
{
	const struct prb_bench_opts *o = t->sh->o;
	struct prb_completion done[PRB_BENCH_MAX_BATCH];
	uint64_t quota = o->count ? (o->count + o->conns - 1 - t->index) / o->conns : UINT64_MAX;
	uint64_t issued = 0, offset = 0, inflight = 0, *free_slots = started + o->qd;
	uint64_t nfree = o->qd, i;
	int n, rc;

	for (i = 0; i < o->qd; i++)
		free_slots[i] = i;
	while (inflight > 0 || (!atomic_load(&t->sh->stop) && issued < quota)) {
		/* One clock reading per batch: requests queued together start together. */
		uint64_t now = prb_now_ns();

		while (nfree > 0 && issued < quota && !atomic_load(&t->sh->stop)) {
			uint64_t slot = free_slots[--nfree];
			uint8_t *buf = o->one_buffer ? bufs : bufs + slot * o->size;

			started[slot] = now;
			rc = o->write ? prb_async_write(m, offset, buf, o->size, slot)
				      : prb_async_read(m, offset, buf, o->size, slot);
			if (rc < 0)
				return rc;
			if (!o->one_buffer)
				offset = (offset + o->size) % PRB_BLOCK_BYTES;
			issued++;
			inflight++;
		}
		/* --batch: wait for that many answers (or all in flight), then refill together. */
		n = prb_reap(prb_mapping_session(m), done,
			     (unsigned)(inflight < o->batch ? inflight : o->batch),
			     PRB_BENCH_MAX_BATCH, -1);
		now = prb_now_ns();
		for (i = 0; i < (uint64_t)(n > 0 ? n : 0); i++) {
			uint64_t slot = done[i].user_data;

			if (done[i].result < 0)
				return done[i].result;
			t->hist[prb_hist_bucket(now - started[slot])]++;
			free_slots[nfree++] = slot;
			inflight--;
			atomic_fetch_add(&t->ops, 1);
		}
	}
	return 0;
}

/* Report this thread set up and wait for the start; false when the run was stopped. */
static bool prb_bench_ready(struct prb_bench_shared *sh)
{
	const struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000L};

	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go) && !atomic_load(&sh->stop))
		nanosleep(&tick, NULL);
	return !atomic_load(&sh->stop);
}

static void *prb_bench_thread_main(void *arg)
{
	struct prb_bench_thread *t = arg;
	const struct prb_bench_opts *o = t->sh->o;
	struct prb_mapping *m = NULL;
	struct prb_session *s = NULL;
	uint64_t *slots;
	uint8_t *bufs;
	int rc;

	bufs = malloc(o->qd * o->size);
	slots = malloc(2 * o->qd * sizeof(*slots));
	if (!bufs || !slots) {
		free(bufs);
		free(slots);
		return prb_bench_fail(t, "memory", -ENOMEM);
	}
	memset(bufs, 0x5a, o->qd * o->size);
	rc = prb_tool_connect(&t->sh->quiet, t->sh->url, (unsigned)o->qd, &s) ? -ECONNREFUSED : 0;
	/* RDMA: one-sided operations straight from/to these buffers (no bounce copy). */
	if (rc == 0)
		rc = prb_register_buffer(s, bufs, o->qd * o->size);
	if (rc == 0)
		rc = prb_map(s, o->addr + t->index * PRB_BLOCK_BYTES, PRB_MAPPING_RW, &m);
	if (rc == 0 && prb_bench_ready(t->sh))
		rc = prb_bench_loop(t, m, bufs, slots);
	t->end_ns = prb_now_ns();
	if (rc < 0)
		prb_bench_fail(t, m ? (o->write ? "WRITE" : "READ") : s ? "MAP" : "connect", rc);
	prb_unmap(&m);
	prb_disconnect(&s);
	free(bufs);
	free(slots);
	return NULL;
}

static const char prb_bench_help[] =
	"usage: prb bench URL [--write] [--size SIZE] [--qd N] [--batch N] [--conns N]\n"
	"                 [--time SEC | --count N] [--addr ADDR] [--busy-poll N|adaptive]\n"
	"                 [--rdma-spin US|forever] [--one-buffer] [--csv | --json]\n"
	"READ (default) or WRITE of SIZE bytes (4K..2M, default 4K) with N requests in\n"
	"flight per connection (default 32) on N connections (default 1, a thread each),\n"
	"for SEC seconds (default 5) or N requests in all. Connection i works on block\n"
	"ADDR + i * 2M (default ADDR 0x7f0000000000), allocated first if free and freed\n"
	"at the end if this run allocated it (--write overwrites the data of a block\n"
	"that was allocated before). A progress line is shown when stderr is a\n"
	"terminal. Prints ops/s, MB/s (10^6 bytes) and latency p50/p99/p99.9 in us.\n"
	"  --write        WRITE instead of READ\n"
	"  --size SIZE    request size, 4K..2M\n"
	"  --qd N         requests in flight per connection, 1..1024 and at most the\n"
	"                 queue depth the brick grants (else a usage error naming it)\n"
	"  --batch N      refill after N answers (1..64, at most qd; default 1: at once)\n"
	"  --conns N      connections, 1..64\n"
	"  --time SEC     run time in seconds\n"
	"  --count N      total requests instead of a time (not with --time)\n"
	"  --addr ADDR    first block used\n"
	"  --busy-poll N  TCP: N non-blocking receives before sleeping; 0: never poll;\n"
	"                 adaptive (default): poll while answers come soon after\n"
	"  --rdma-spin US RDMA: poll completions US microseconds before sleeping\n"
	"                 (default 2000); forever: never sleep, as perftest\n"
	"  --one-buffer   every request uses one buffer and the block's first SIZE\n"
	"                 bytes (perftest's pattern; default: a buffer per request in\n"
	"                 flight, offsets walking the block)\n"
	"  --csv          one CSV header line and one result line\n";

/* A poll option's value: WORD (meaning word_value) or a number 0..max. Returns -1 (parsed,
 * *value and *set filled) or the usage error's exit code. */
static int prb_bench_poll_arg(struct prb_common *c, const char *name, const char *arg,
			      const char *word, unsigned word_value, unsigned max, unsigned *value,
			      bool *set)
{
	uint64_t v;

	if (strcmp(arg, word) == 0)
		v = word_value;
	else if (prb_parse_u64(arg, &v) < 0 || v > max)
		return prb_tool_usage_error(c, "--%s: %s or 0..%u", name, word, max);
	*value = (unsigned)v;
	*set = true;
	return -1;
}

static int prb_bench_option(struct prb_parse *p, int opt, const char *arg)
{
	struct prb_bench_opts *o = p->ctx;
	uint64_t v = 0;

	if (opt == 'P')
		return prb_bench_poll_arg(p->common, "busy-poll", arg, "adaptive",
					  PRB_BUSY_POLL_ADAPTIVE, PRB_MAX_BUSY_POLL,
					  &p->common->busy_poll, &p->common->busy_poll_set);
	if (opt == 'R')
		return prb_bench_poll_arg(p->common, "rdma-spin", arg, "forever",
					  PRB_RDMA_SPIN_FOREVER, PRB_MAX_RDMA_SPIN_US,
					  &p->common->rdma_spin, &p->common->rdma_spin_set);
	if (opt != 'w' && opt != 'C' && opt != 'a' && opt != 'o' && prb_parse_u64(arg, &v) < 0)
		return prb_tool_usage_error(p->common, "'%s' is not a number", arg);
	switch (opt) {
	case 'w': o->write = true; return -1;
	case 'C': o->csv = true; return -1;
	case 'o': o->one_buffer = true; return -1;
	case 'a': return prb_parse_addr(p->common, arg, &o->addr) ? PRB_EXIT_USAGE : -1;
	case 's':
		if (v < 4096 || v > PRB_BLOCK_BYTES || PRB_BLOCK_BYTES % v != 0)
			return prb_tool_usage_error(p->common, "--size: 4K..2M, a divisor of 2M");
		o->size = v;
		return -1;
	case 'q':
		if (v < 1 || v > 1024)
			return prb_tool_usage_error(p->common, "--qd: 1..1024");
		o->qd = v;
		return -1;
	case 'b':
		if (v < 1 || v > PRB_BENCH_MAX_BATCH)
			return prb_tool_usage_error(p->common, "--batch: 1..%u", PRB_BENCH_MAX_BATCH);
		o->batch = v;
		return -1;
	case 'n':
		if (v < 1 || v > PRB_BENCH_MAX_CONNS)
			return prb_tool_usage_error(p->common, "--conns: 1..%u", PRB_BENCH_MAX_CONNS);
		o->conns = v;
		return -1;
	case 't':
		if (v < 1 || v > 86400)
			return prb_tool_usage_error(p->common, "--time: 1..86400 s");
		o->seconds = v;
		o->time_set = true;
		return -1;
	case 'c':
		if (v < 1)
			return prb_tool_usage_error(p->common, "--count: at least 1");
		o->count = v;
		return -1;
	default:
		return prb_tool_usage_error(p->common, "bad option");
	}
}

/* Allocate the blocks the run uses; *allocated tells whether this run owns them. */
static int prb_bench_setup(struct prb_common *c, const char *url, const struct prb_bench_opts *o,
			   bool *allocated)
{
	struct prb_session_info si;
	struct prb_session *s;
	int rc = prb_tool_connect(c, url, (unsigned)o->qd, &s);

	if (rc)
		return rc;
	/* The brick may grant less than asked: more in flight would fail with EAGAIN. */
	prb_session_get_info(s, &si);
	if (si.queue_depth < o->qd) {
		prb_disconnect(&s);
		return prb_tool_usage_error(c,
					    "--qd %" PRIu64
					    ": the brick granted a queue depth of %u; use --qd %u or less",
					    o->qd, si.queue_depth, si.queue_depth);
	}
	rc = prb_alloc(s, o->addr, (uint32_t)o->conns);
	*allocated = rc == 0;
	prb_disconnect(&s);
	if (rc == 0 || rc == -EEXIST)
		return 0; /* EEXIST: reuse the blocks already there */
	return prb_tool_fail(c, "ALLOC", rc);
}

static void prb_bench_teardown(struct prb_common *c, const char *url,
			       const struct prb_bench_opts *o)
{
	struct prb_common quiet = *c;
	struct prb_session *s;

	quiet.json = false; /* the run's result is the one JSON object */
	if (prb_tool_connect(&quiet, url, 0, &s))
		return;
	prb_free(s, o->addr, (uint32_t)o->conns, 0);
	prb_disconnect(&s);
}

/* Sum of the threads' completed requests. */
static uint64_t prb_bench_total(struct prb_bench_thread *t, uint64_t n)
{
	uint64_t sum = 0, i;

	for (i = 0; i < n; i++)
		sum += atomic_load(&t[i].ops);
	return sum;
}

/* Wait for the run's end, drawing the progress line once a second on a terminal. */
static void prb_bench_watch(struct prb_bench_shared *sh, struct prb_bench_thread *t,
			    uint64_t start_ns)
{
	const struct prb_bench_opts *o = sh->o;
	bool tty = isatty(STDERR_FILENO) && !sh->c->json && !o->csv;
	uint64_t last_ops = 0, last_ns = start_ns, total = o->count;

	for (;;) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000L};
		uint64_t now = prb_now_ns(), ops = prb_bench_total(t, o->conns);

		if ((!o->count && now - start_ns >= o->seconds * 1000000000u) ||
		    (o->count && ops >= total) || atomic_load(&sh->failed))
			break;
		if (tty && now - last_ns >= 1000000000u) {
			double dt = (double)(now - last_ns) / 1e9;
			double rate = (double)(ops - last_ops) / dt;

			fprintf(stderr, "\r[%4.0fs] %10.0f ops/s %9.1f MB/s  %" PRIu64 " ops ",
				(double)(now - start_ns) / 1e9, rate,
				rate * (double)o->size / 1e6, ops);
			last_ops = ops;
			last_ns = now;
		}
		nanosleep(&ts, NULL);
	}
	atomic_store(&sh->stop, true);
	if (tty)
		fprintf(stderr, "\r%70s\r", "");
}

static void prb_bench_report(const struct prb_common *c, const struct prb_bench_opts *o,
			     const uint64_t *hist, uint64_t ops, double secs)
{
	double rate = secs > 0 ? (double)ops / secs : 0;
	double mbs = rate * (double)o->size / 1e6;
	double p50 = prb_hist_percentile(hist, ops, 50.0);
	double p99 = prb_hist_percentile(hist, ops, 99.0);
	double p999 = prb_hist_percentile(hist, ops, 99.9);
	const char *op = o->write ? "write" : "read";

	if (c->json) {
		printf("{\"ok\": true, \"command\": \"bench\", \"op\": \"%s\", \"size\": %" PRIu64
		       ", \"qd\": %" PRIu64 ", \"conns\": %" PRIu64 ", \"ops\": %" PRIu64
		       ", \"seconds\": %.3f, \"ops_per_sec\": %.1f, \"mb_per_sec\": %.1f"
		       ", \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f}\n",
		       op, o->size, o->qd, o->conns, ops, secs, rate, mbs, p50, p99, p999);
	} else if (o->csv) {
		printf("op,size,qd,conns,ops,seconds,ops_per_sec,mb_per_sec,p50_us,p99_us,p999_us\n");
		printf("%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		       ",%.3f,%.1f,%.1f,%.1f,%.1f,%.1f\n",
		       op, o->size, o->qd, o->conns, ops, secs, rate, mbs, p50, p99, p999);
	} else {
		printf("%-6s %8s %5s %5s %10s %8s %12s %10s %9s %9s %9s\n", "op", "size", "qd",
		       "conns", "ops", "seconds", "ops/s", "MB/s", "p50_us", "p99_us", "p999_us");
		printf("%-6s %8" PRIu64 " %5" PRIu64 " %5" PRIu64 " %10" PRIu64
		       " %8.2f %12.1f %10.1f %9.1f %9.1f %9.1f\n",
		       op, o->size, o->qd, o->conns, ops, secs, rate, mbs, p50, p99, p999);
	}
}

/* Wait until the n threads are set up (or one failed), then start them; the start time. */
static uint64_t prb_bench_start(struct prb_bench_shared *sh, unsigned n)
{
	const struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000L};
	uint64_t start;

	while (atomic_load(&sh->ready) < n && !atomic_load(&sh->stop))
		nanosleep(&tick, NULL);
	start = prb_now_ns();
	atomic_store(&sh->go, true);
	return start;
}

/* When the last of the n threads finished its I/O. */
static uint64_t prb_bench_end(const struct prb_bench_thread *t, uint64_t n)
{
	uint64_t end = 0;

	for (uint64_t i = 0; i < n; i++)
		if (t[i].end_ns > end)
			end = t[i].end_ns;
	return end;
}

/* Start the threads, watch, join, merge the histograms, report. */
static int prb_bench_run(struct prb_common *c, const char *url, const struct prb_bench_opts *o)
{
	struct prb_bench_shared sh = {.o = o, .c = c, .quiet = *c, .url = url};
	struct prb_bench_thread *t = calloc(o->conns, sizeof(*t));
	static uint64_t hist[PRB_HIST_BUCKETS];
	uint64_t start, ops, i, b;
	double secs;
	int rc = 0;

	if (!t)
		return prb_tool_local_error(c, "memory", -ENOMEM);
	sh.quiet.json = false;
	for (i = 0; i < o->conns; i++) {
		t[i].sh = &sh;
		t[i].index = (unsigned)i;
		if (pthread_create(&t[i].tid, NULL, prb_bench_thread_main, &t[i]) != 0) {
			atomic_store(&sh.stop, true);
			break;
		}
	}
	start = prb_bench_start(&sh, (unsigned)i);
	prb_bench_watch(&sh, t, start);
	for (b = 0; b < i; b++)
		pthread_join(t[b].tid, NULL);
	secs = (double)(prb_bench_end(t, i) - start) / 1e9;
	ops = prb_bench_total(t, o->conns);
	for (i = 0; i < o->conns; i++) {
		for (b = 0; b < PRB_HIST_BUCKETS; b++)
			hist[b] += t[i].hist[b];
		if (t[i].error && !rc)
			rc = prb_tool_fail(c, t[i].step, t[i].error);
	}
	if (!rc)
		prb_bench_report(c, o, hist, ops, secs);
	free(t);
	return rc;
}

int prb_cmd_bench(int argc, char **argv)
{
	static const struct option options[] = {
		{"write", no_argument, NULL, 'w'},	 {"size", required_argument, NULL, 's'},
		{"qd", required_argument, NULL, 'q'},	 {"conns", required_argument, NULL, 'n'},
		{"batch", required_argument, NULL, 'b'}, {"busy-poll", required_argument, NULL, 'P'},
		{"time", required_argument, NULL, 't'},	 {"count", required_argument, NULL, 'c'},
		{"addr", required_argument, NULL, 'a'},	 {"csv", no_argument, NULL, 'C'},
		{"rdma-spin", required_argument, NULL, 'R'}, {"one-buffer", no_argument, NULL, 'o'},
		PRB_COMMON_OPTIONS};
	struct prb_common c = {.cmd = "bench"};
	struct prb_bench_opts o = {.size = 4096, .qd = 32, .batch = 1, .conns = 1, .seconds = 5,
				   .addr = 0x7f0000000000ull};
	struct prb_parse p = {.common = &c, .help = prb_bench_help, .options = options,
			      .shortopts = PRB_COMMON_SHORT "ws:q:b:n:t:c:a:CP:R:o",
			      .handle = prb_bench_option, .ctx = &o, .min_pos = 1, .max_pos = 1};
	bool allocated = false;
	int rc;

	rc = prb_parse_args(&p, argc, argv);
	if (rc >= 0)
		return rc;
	if (o.csv && c.json)
		return prb_tool_usage_error(&c, "--csv and --json exclude each other");
	if (o.count && o.time_set)
		return prb_tool_usage_error(&c, "--time and --count exclude each other");
	if (o.batch > o.qd)
		return prb_tool_usage_error(&c, "--batch: at most --qd (%" PRIu64 ")", o.qd);
	if (prb_check_range(&c, o.addr, o.conns)) /* a block per connection */
		return PRB_EXIT_USAGE;
	rc = prb_bench_setup(&c, p.pos[0], &o, &allocated);
	if (rc)
		return rc;
	rc = prb_bench_run(&c, p.pos[0], &o);
	if (allocated)
		prb_bench_teardown(&c, p.pos[0], &o);
	return rc;
}
