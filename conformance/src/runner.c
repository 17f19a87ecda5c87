/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runner. CUnit runs one test at a time (CU_run_test) and reports its failures to
 * our handlers; around each test the runner decides skips, gives the test an address
 * region, closes the connections it left open and frees what it left allocated there.
 * The tool is a program, not a library: the state of the current run lives here.
 */
#define _GNU_SOURCE
#include "runner.h"

#include <CUnit/TestRun.h>
#include <setjmp.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACKED  256
#define REGION_SHIFT 20 /* blocks per test region: 2^20 (2 TiB) */

static struct {
	const struct cf_options *opt;
	struct cf_brick brick;
	uint32_t default_features;
	uint64_t region_base; /* block number of region 0 */
	size_t test_index;
	struct cf_result *current;
	bool rdma; /* rdma:// URL: libprb only, no raw TCP sender */
	struct cf_conn *tracked[MAX_TRACKED];
	struct prb_session *sessions[MAX_TRACKED];
	void *mem[MAX_TRACKED];
	struct {
		void (*fn)(void *);
		void *arg;
	} deferred[16];
	size_t ndeferred;
} run;

/* The features libprb lets an initiator ask for. */
#define ASKABLE_FEATURES (PRB_FEAT_HDGST | PRB_FEAT_DDGST | PRB_FEAT_ATOMICS | PRB_FEAT_RDMA_FLUSH)

/* The registration tables, in the order the suite runs them. */
static const struct cf_test *const tables[] = {
	cf_tests_handshake,   cf_tests_alloc, cf_tests_free,	   cf_tests_map,    cf_tests_unmap,
	cf_tests_list,	      cf_tests_data,  cf_tests_atomics,	   cf_tests_digest, cf_tests_robust,
	cf_tests_concurrency, cf_tests_tier,  cf_tests_durability,
};

const struct cf_test *const *cf_all_tests(size_t *count)
{
	static const struct cf_test *all[512];
	static size_t n;

	if (n == 0) {
		for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
			for (const struct cf_test *e = tables[t]; e->name && n < 512; e++)
				all[n++] = e;
	}
	*count = n;
	return all;
}

const struct cf_brick *cf_brick(void)
{
	return &run.brick;
}

const char *cf_url(void)
{
	return run.opt->url;
}

int cf_stall_wait_ms(void)
{
	return run.opt->stall_wait_ms;
}

bool cf_destructive(void)
{
	return run.opt->destructive;
}

/* Append one line to the current test's failure text. */
static void add_failure_text(const char *line)
{
	struct cf_result *r = run.current;
	size_t old = r->failures ? strlen(r->failures) : 0;
	char *p = realloc(r->failures, old + strlen(line) + 2);

	if (!p)
		return;
	memcpy(p + old, line, strlen(line));
	p[old + strlen(line)] = '\n';
	p[old + strlen(line) + 1] = '\0';
	r->failures = p;
}

/* Remember a raw connection so the runner closes it after the test. */
static void track(struct cf_conn *c)
{
	for (size_t i = 0; i < MAX_TRACKED; i++) {
		if (!run.tracked[i]) {
			run.tracked[i] = c;
			return;
		}
	}
	CU_FAIL_FATAL("test opened more than 256 connections at once");
}

void cf_disconnect(struct cf_conn *c)
{
	for (size_t i = 0; i < MAX_TRACKED; i++)
		if (run.tracked[i] == c)
			run.tracked[i] = NULL;
	cf_conn_close(c);
}

void *cf_mem(size_t size)
{
	size_t slot = 0;
	void *p;

	while (slot < MAX_TRACKED && run.mem[slot])
		slot++;
	p = slot < MAX_TRACKED ? calloc(1, size ? size : 1) : NULL;
	cf_check(p != NULL, true, __FILE__, __LINE__, "out of memory (%zu bytes)", size);
	run.mem[slot] = p;
	return p;
}

void cf_defer(void (*fn)(void *), void *arg)
{
	cf_check(run.ndeferred < 16, true, __FILE__, __LINE__, "too many deferred calls");
	run.deferred[run.ndeferred].fn = fn;
	run.deferred[run.ndeferred].arg = arg;
	run.ndeferred++;
}

/* After a test: deferred calls (newest first), then connections, sessions, memory. */
static void close_tracked(void)
{
	while (run.ndeferred > 0) {
		run.ndeferred--;
		run.deferred[run.ndeferred].fn(run.deferred[run.ndeferred].arg);
	}
	for (size_t i = 0; i < MAX_TRACKED; i++) {
		cf_conn_close(run.tracked[i]);
		run.tracked[i] = NULL;
		prb_disconnect(&run.sessions[i]);
		free(run.mem[i]);
		run.mem[i] = NULL;
	}
}

struct prb_session *cf_session_features(uint32_t features)
{
	struct prb_opts *opts = NULL;
	struct prb_session *s = NULL;
	size_t slot = 0;
	int ret;

	while (slot < MAX_TRACKED && run.sessions[slot])
		slot++;
	cf_check(slot < MAX_TRACKED, true, __FILE__, __LINE__, "too many libprb sessions");
	ret = prb_opts_new(&opts);
	if (ret == 0)
		ret = prb_opts_set_features(opts, features & ASKABLE_FEATURES);
	if (ret == 0)
		ret = prb_opts_set_io_timeout(opts, (unsigned)run.opt->timeout_ms);
	if (ret == 0)
		ret = prb_connect(run.opt->url, opts, &s);
	prb_opts_delete(&opts);
	cf_check(ret == 0, true, __FILE__, __LINE__, "libprb: connect to %s: %s", run.opt->url,
		 prb_strerror(ret));
	run.sessions[slot] = s;
	return s;
}

struct prb_session *cf_session(void)
{
	return cf_session_features(run.default_features);
}

void cf_session_close(struct prb_session *s)
{
	for (size_t i = 0; i < MAX_TRACKED; i++)
		if (run.sessions[i] == s)
			run.sessions[i] = NULL;
	prb_disconnect(&s);
}

struct prb_mapping *cf_session_map(struct prb_session *s, uint64_t addr, unsigned flags)
{
	struct prb_mapping *m = NULL;

	cf_check_rc(prb_map(s, addr, flags, &m), 0, true, "prb_map", __FILE__, __LINE__);
	return m;
}

bool cf_check_rc(int got, int want, bool fatal, const char *expr, const char *file, unsigned line)
{
	char msg[768];

	if (got == want) {
		CU_assertImplementation(CU_TRUE, line, expr, file, "", CU_FALSE);
		return true;
	}
	snprintf(msg, sizeof(msg), "%s: expected %d (%s), got %d (%s)", expr, want,
		 want ? strerror(-want) : "success", got, prb_strerror(got));
	CU_assertImplementation(CU_FALSE, line, msg, file, "", fatal ? CU_TRUE : CU_FALSE);
	return false;
}

bool cf_raw_available(void)
{
	return !run.rdma;
}

/* End the running test as skipped: over rdma:// the raw TCP sender has nothing to talk to. */
static void skip_raw_test(void)
{
	CU_pTest t = CU_get_current_test();

	cf_skip("uses the suite's raw TCP sender; over rdma:// only the libprb tests run");
	if (t && t->pJumpBuf)
		longjmp(*t->pJumpBuf, 1);
}

struct cf_conn *cf_open(void)
{
	struct cf_conn *c = NULL;

	if (run.rdma)
		skip_raw_test();
	int ret = cf_conn_open(run.opt->url, run.opt->timeout_ms, &c);

	cf_check(ret == 0, true, __FILE__, __LINE__, "connect to %s: %s", run.opt->url,
		 strerror(-ret));
	track(c);
	return c;
}

struct cf_conn *cf_connect_features(uint32_t features)
{
	struct cf_conn *c = cf_open();
	int ret = cf_hello_default(c, features);

	cf_check_status(c, ret, PRB_ST_OK, true, "HELLO", __FILE__, __LINE__);
	return c;
}

struct cf_conn *cf_connect(void)
{
	return cf_connect_features(run.default_features);
}

uint64_t cf_addr(uint64_t i)
{
	uint64_t block = run.region_base + ((uint64_t)run.test_index << REGION_SHIFT) + i;

	return block << PRB_BLOCK_SHIFT;
}

void cf_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(run.current->reason, sizeof(run.current->reason), fmt, ap);
	va_end(ap);
	run.current->outcome = CF_SKIPPED;
}

void cf_log(const char *fmt, ...)
{
	va_list ap;

	if (!run.opt->verbose)
		return;
	va_start(ap, fmt);
	fputs("    ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

void cf_pattern(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

bool cf_check_status(struct cf_conn *c, int got, int want, bool fatal, const char *expr,
		     const char *file, unsigned line)
{
	char msg[768], g[96], w[96];

	if (got == want) {
		CU_assertImplementation(CU_TRUE, line, expr, file, "", CU_FALSE);
		return true;
	}
	snprintf(msg, sizeof(msg), "%s: expected %s, got %s%s%s", expr,
		 cf_status_str(want, w, sizeof(w)), cf_status_str(got, g, sizeof(g)),
		 got < 0 && c ? ": " : "", got < 0 && c ? c->detail : "");
	CU_assertImplementation(CU_FALSE, line, msg, file, "", fatal ? CU_TRUE : CU_FALSE);
	return false;
}

bool cf_check(bool ok, bool fatal, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, "",
				fatal ? CU_TRUE : CU_FALSE);
	return ok;
}

bool cf_expect_term(struct cf_conn *c, unsigned reason, int64_t error_offset, int64_t tag,
		    const char *file, unsigned line)
{
	const char *want = prb_term_reason_name(reason);
	int ret = cf_recv_pdu(c, -1);

	while (ret == 0) /* answers to requests sent before the bad PDU */
		ret = cf_recv_pdu(c, -1);
	if (ret == -ECONNABORTED && c->term.reason != reason) {
		const char *got = prb_term_reason_name(c->term.reason);
		return cf_check(false, false, file, line, "expected TERM %s, got TERM %s", want,
				got ? got : "(not in the spec)");
	}
	if (ret != -ECONNABORTED)
		return cf_check(false, false, file, line, "expected TERM %s, got: %s", want,
				c->detail);
	if (error_offset >= 0)
		cf_check(c->term.error_offset == (uint64_t)error_offset, false, file, line,
			 "TERM %s: error_offset %u, expected %lld", want, c->term.error_offset,
			 (long long)error_offset);
	if (tag >= 0)
		cf_check(c->rx_hdr.tag == (uint64_t)tag, false, file, line,
			 "TERM %s: tag %u, expected the offending PDU's tag %lld", want,
			 c->rx_hdr.tag, (long long)tag);
	return cf_check(cf_wait_closed(c, run.opt->timeout_ms) == 0, false, file, line,
			"brick sent TERM %s but did not close the connection", want);
}

void cf_check_alive(void)
{
	struct cf_conn *c = cf_connect();

	CF_ST(c, cf_keepalive(c), PRB_ST_OK);
	cf_disconnect(c);
}

/* Try one HELLO; on success the connection is returned open. */
static int try_hello(uint32_t features, struct cf_conn **out)
{
	struct cf_conn *c;
	int ret = cf_conn_open(run.opt->url, run.opt->timeout_ms, &c);

	if (ret < 0)
		return ret;
	ret = cf_hello_default(c, features);
	if (ret != PRB_ST_OK) {
		cf_conn_close(c);
		return ret < 0 ? ret : -EPROTO;
	}
	*out = c;
	return 0;
}

/* A libprb session outside any test (probe, cleanup, restart wait), or NULL. */
static struct prb_session *plain_session(uint32_t features, int *err)
{
	struct prb_opts *opts = NULL;
	struct prb_session *s = NULL;
	int ret = prb_opts_new(&opts);

	if (ret == 0)
		ret = prb_opts_set_features(opts, features & ASKABLE_FEATURES);
	if (ret == 0)
		ret = prb_opts_set_connect_timeout(opts, (unsigned)run.opt->timeout_ms);
	if (ret == 0)
		ret = prb_opts_set_io_timeout(opts, (unsigned)run.opt->timeout_ms);
	if (ret == 0)
		ret = prb_connect(run.opt->url, opts, &s);
	prb_opts_delete(&opts);
	if (err)
		*err = ret;
	return ret == 0 ? s : NULL;
}

/* Does the brick answer a HELLO (by whichever transport the URL names)? */
static bool brick_answers(void)
{
	struct cf_conn *c;

	if (run.rdma) {
		struct prb_session *s = plain_session(0, NULL);
		bool up = s != NULL;
		prb_disconnect(&s);
		return up;
	}
	if (try_hello(run.default_features, &c) < 0)
		return false;
	cf_conn_close(c);
	return true;
}

/* Run a restart command, then wait until the brick answers a HELLO again. */
static void restart_with(const char *cmd, const char *option)
{
	struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
	int status;

	cf_check(cmd != NULL, true, __FILE__, __LINE__, "no %s", option);
	cf_log("restart: running %s", cmd);
	fflush(stdout);
	status = system(cmd);
	cf_check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, true, __FILE__,
		 __LINE__, "%s '%s' failed (status %d)", option, cmd, status);
	for (int waited = 0; waited < run.opt->restart_timeout_ms; waited += 100) {
		if (brick_answers())
			return;
		nanosleep(&pause, NULL);
	}
	cf_check(false, true, __FILE__, __LINE__, "brick not back %d ms after %s",
		 run.opt->restart_timeout_ms, option);
}

void cf_restart(void)
{
	restart_with(run.opt->restart_cmd, "--restart-cmd");
}

void cf_restart_graceful(void)
{
	restart_with(run.opt->graceful_cmd, "--graceful-restart-cmd");
}

/* Free whatever the test left allocated in its region (FORCE: its handles may live). */
static void cleanup_region(void)
{
	uint64_t start = cf_addr(0), end = cf_addr((uint64_t)1 << REGION_SHIFT);
	struct prb_session *s = plain_session(0, NULL);
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;

	if (!s || prb_list_new(s, start, &it) < 0) {
		printf("    [WARNING] cleanup: cannot list the brick\n");
		prb_disconnect(&s);
		return;
	}
	/* Collect first: freeing while iterating would move the listing under our feet. */
	struct prb_list_extent found[256];
	size_t n = 0;
	while (n < 256 && prb_list_next(it, &e) == 1 && e.addr < end)
		found[n++] = e;
	prb_list_delete(&it);
	for (size_t i = 0; i < n; i++) {
		for (uint64_t done = 0; done < found[i].blocks;) {
			uint64_t left = found[i].blocks - done;
			uint32_t count =
				left > PRB_MAX_RANGE_BLOCKS ? PRB_MAX_RANGE_BLOCKS : (uint32_t)left;
			prb_free(s, found[i].addr + (done << PRB_BLOCK_SHIFT), count,
				 PRB_FREE_FLAG_FORCE);
			done += count;
		}
	}
	prb_disconnect(&s);
}

/* Does a --test pattern (or the absence of any) select this test? */
static bool selected(const struct cf_test *t)
{
	if (run.opt->npatterns == 0)
		return true;
	for (size_t i = 0; i < run.opt->npatterns; i++)
		if (fnmatch(run.opt->patterns[i], t->name, 0) == 0)
			return true;
	return false;
}

const char *cf_feature_names(uint32_t features, char *buf, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{PRB_FEAT_HDGST, "HDGST"},	     {PRB_FEAT_DDGST, "DDGST"},
		{PRB_FEAT_ATOMICS, "ATOMICS"},	     {PRB_FEAT_TIERING, "TIERING"},
		{PRB_FEAT_RDMA_FLUSH, "RDMA_FLUSH"}, {PRB_FEAT_PERSISTENT, "PERSISTENT"},
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(features & names[i].bit) || used >= size)
			continue;
		int n = snprintf(buf + used, size - used, "%s%s", used ? "+" : "", names[i].name);
		used += n > 0 ? (size_t)n : 0;
	}
	return buf;
}

/* Why a test cannot run with these options on this brick, or NULL. */
static const char *skip_reason(const struct cf_test *t, char *buf, size_t size)
{
	if ((t->needs & CF_DESTRUCTIVE) && !run.opt->destructive)
		return "destructive test (disturbs other users of the brick): run with "
		       "--destructive";
	if ((t->needs & CF_RESTART) && !run.opt->restart_cmd)
		return "needs a brick restart: run with --restart-cmd CMD";
	if ((t->needs & CF_GRACEFUL) && !run.opt->graceful_cmd)
		return "needs a clean brick shutdown: run with --graceful-restart-cmd CMD";
	if (t->feature && (run.brick.features & t->feature) != t->feature) {
		char names[96];
		snprintf(buf, size, "optional feature %s not granted by the brick (features 0x%x)",
			 cf_feature_names(t->feature & ~run.brick.features, names, sizeof(names)),
			 run.brick.features);
		return buf;
	}
	return NULL;
}

/* Seconds on a monotonic clock, for test durations. */
static double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CUnit handler: keep the failures of the test that just ran. */
static void on_test_complete(const CU_pTest test, const CU_pSuite suite,
			     const CU_pFailureRecord failure)
{
	char line[1024];

	(void)test;
	(void)suite;
	for (CU_pFailureRecord f = failure; f; f = f->pNext) {
		snprintf(line, sizeof(line), "%s:%u: %s", f->strFileName ? f->strFileName : "?",
			 f->uiLineNumber, f->strCondition ? f->strCondition : "?");
		add_failure_text(line);
	}
}

/* Run one test through CUnit, then clean up after it. */
static void run_one(const struct cf_test *t, CU_pSuite suite, struct cf_result *r)
{
	CU_pTest cu = CU_add_test(suite, t->name, t->fn);
	double t0 = seconds_now();

	run.current = r;
	printf("Test %-44s ", t->name);
	fflush(stdout);
	if (run.opt->verbose)
		printf("\n    checks %s\n", t->reqs);
	if (!cu) {
		r->outcome = CF_FAILED;
		add_failure_text("cannot register the test with CUnit");
	} else {
		CU_run_test(suite, cu);
	}
	close_tracked();
	cleanup_region();
	r->seconds = seconds_now() - t0;
	if (r->failures)
		r->outcome = CF_FAILED;
	else if (r->outcome != CF_SKIPPED)
		r->outcome = CF_PASSED;
	if (r->outcome == CF_PASSED)
		printf("[OK]\n");
	else if (r->outcome == CF_SKIPPED)
		printf("[SKIPPED] %s\n", r->reason);
	else
		printf("[FAILED]\n%s", r->failures);
	fflush(stdout);
}

/* The family of a test name: text before the first dot. */
static size_t family_len(const char *name)
{
	const char *dot = strchr(name, '.');

	return dot ? (size_t)(dot - name) : strlen(name);
}

/* The passed/failed/skipped table per family, then the failed tests. */
static void print_summary(const struct cf_result *res, size_t n)
{
	unsigned tp = 0, tf = 0, ts = 0;

	printf("\n%-14s %7s %7s %8s\n", "family", "passed", "failed", "skipped");
	for (size_t i = 0; i < n; i++) {
		const char *name = res[i].test->name;
		size_t len = family_len(name);
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (family_len(res[j].test->name) == len &&
			    strncmp(res[j].test->name, name, len) == 0)
				first = false;
		if (!first)
			continue;
		unsigned p = 0, f = 0, s = 0;
		for (size_t j = i; j < n; j++) {
			if (family_len(res[j].test->name) != len ||
			    strncmp(res[j].test->name, name, len) != 0)
				continue;
			p += res[j].outcome == CF_PASSED;
			f += res[j].outcome == CF_FAILED;
			s += res[j].outcome == CF_SKIPPED;
		}
		printf("%-14.*s %7u %7u %8u\n", (int)len, name, p, f, s);
		tp += p;
		tf += f;
		ts += s;
	}
	printf("%-14s %7u %7u %8u\n", "total", tp, tf, ts);
	if (tf) {
		printf("\nFailed:\n");
		for (size_t i = 0; i < n; i++)
			if (res[i].outcome == CF_FAILED)
				printf("  %s (%s)\n", res[i].test->name, res[i].test->reqs);
	}
}

/* The brick's parameters as libprb reports them (rdma://: no raw HELLO to read them from). */
static int probe_session(void)
{
	struct prb_session_info info;
	int ret;
	struct prb_session *s = plain_session(PRB_FEAT_ALL, &ret);

	if (!s)
		return ret;
	prb_session_get_info(s, &info);
	run.brick.hello.version = (uint16_t)info.version;
	run.brick.hello.queue_depth = (uint16_t)info.queue_depth;
	run.brick.hello.features = info.features;
	run.brick.hello.max_pdu = info.max_pdu;
	run.brick.hello.max_data = info.max_data;
	run.brick.hello.max_mappings = info.max_mappings;
	run.brick.hello.capacity_blocks = info.capacity_blocks;
	run.brick.hello.free_blocks = info.free_blocks;
	run.brick.hello.boot_epoch = info.boot_epoch;
	memcpy(run.brick.hello.brick_id, info.brick_id, 16);
	prb_disconnect(&s);
	return 0;
}

/* First HELLO: what the brick grants when asked for everything. */
static int probe_brick(void)
{
	struct prb_url url;
	struct cf_conn *c;
	uint64_t rnd;
	int ret = prb_url_parse(run.opt->url, &url);

	if (ret < 0) {
		fprintf(stderr, "prb-conformance: bad URL %s\n", run.opt->url);
		return ret;
	}
	run.rdma = url.transport == PRB_TRANSPORT_RDMA;
	if (run.rdma) {
		ret = probe_session();
	} else {
		ret = try_hello(PRB_FEAT_ALL, &c);
		if (ret == 0) {
			run.brick.hello = c->hello;
			cf_conn_close(c);
		}
	}
	if (ret < 0) {
		fprintf(stderr, "prb-conformance: no HELLO with %s: %s\n", run.opt->url,
			strerror(-ret));
		return ret;
	}
	run.brick.features = run.brick.hello.features;
	run.brick.timeout_ms = run.opt->timeout_ms;
	run.default_features = run.brick.features & PRB_FEAT_ATOMICS;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)time(NULL) * 2654435761U;
	/* Blocks 2^41 .. 2^42 (addresses 2^62 .. 2^63): far from where people start. */
	run.region_base = ((uint64_t)1 << 41) |
			  ((rnd & (((uint64_t)1 << 40) - 1)) & ~(((uint64_t)1 << 30) - 1));
	printf("prb-conformance: %s: version %u, features 0x%x, queue depth %u, max_pdu %u, "
	       "max_data %u, max_mappings %u, capacity %llu blocks, free %llu, boot epoch %llu\n",
	       run.opt->url, run.brick.hello.version, run.brick.features,
	       run.brick.hello.queue_depth, run.brick.hello.max_pdu, run.brick.hello.max_data,
	       run.brick.hello.max_mappings, (unsigned long long)run.brick.hello.capacity_blocks,
	       (unsigned long long)run.brick.hello.free_blocks,
	       (unsigned long long)run.brick.hello.boot_epoch);
	if (run.rdma)
		printf("prb-conformance: rdma://: tests that need the raw TCP sender are "
		       "skipped\n");
	return 0;
}

int cf_run(const struct cf_options *opt)
{
	size_t n_all, n = 0;
	const struct cf_test *const *all = cf_all_tests(&n_all);
	struct cf_result *res = calloc(n_all, sizeof(*res));
	char buf[256];
	int status = 2;

	run.opt = opt;
	if (!res)
		return 2;
	for (size_t i = 0; i < n_all; i++)
		if (selected(all[i]))
			res[n++].test = all[i];
	if (n == 0) {
		fprintf(stderr, "prb-conformance: no test matches\n");
		goto out_free;
	}
	if (probe_brick() < 0)
		goto out_free;
	if (CU_initialize_registry() != CUE_SUCCESS)
		goto out_free;
	CU_set_test_complete_handler(on_test_complete);
	CU_pSuite suite = CU_add_suite("prb", NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		const char *why = skip_reason(res[i].test, buf, sizeof(buf));
		run.test_index = i;
		if (why) {
			res[i].outcome = CF_SKIPPED;
			snprintf(res[i].reason, sizeof(res[i].reason), "%s", why);
			printf("Test %-44s [SKIPPED] %s\n", res[i].test->name, why);
			continue;
		}
		run_one(res[i].test, suite, &res[i]);
	}
	CU_cleanup_registry();
	print_summary(res, n);
	status = 0;
	for (size_t i = 0; i < n; i++)
		if (res[i].outcome == CF_FAILED)
			status = 1;
	if (opt->xml_path && cf_junit_write(opt->xml_path, opt->url, res, n) < 0) {
		fprintf(stderr, "prb-conformance: cannot write %s\n", opt->xml_path);
		status = 2;
	}
out_free:
	for (size_t i = 0; i < n; i++)
		free(res[i].failures);
	free(res);
	return status;
}
