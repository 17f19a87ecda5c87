/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runner. CUnit runs one test at a time (CU_run_test) and reports its failures to
 * our handlers; around each test the runner decides skips, gives the test an address
 * region, closes the connections it left open and frees what it left allocated there.
 * The state of the run is in context.h.
 */
#define _GNU_SOURCE
#include "context.h"

#include <CUnit/TestRun.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

/* Append one line to the current test's failure text. */
static void add_failure_text(const char *line)
{
	struct cf_result *r = cf_ctx.current;
	size_t old = r->failures ? strlen(r->failures) : 0;
	char *p = realloc(r->failures, old + strlen(line) + 2);

	if (!p)
		return;
	memcpy(p + old, line, strlen(line));
	p[old + strlen(line)] = '\n';
	p[old + strlen(line) + 1] = '\0';
	r->failures = p;
}

/*
 * Free up to 256 extents of [start, end) (FORCE: handles may live). Collect first: freeing
 * while iterating would move the listing under our feet. \return extents found, or -1.
 */
static int free_some(struct prb_session *s, uint64_t start, uint64_t end)
{
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e, found[256];
	size_t n = 0;

	if (prb_list_new(s, start, &it) < 0)
		return -1;
	/* end 0 stands for 2^64 */
	while (n < 256 && prb_list_next(it, &e) == 1 && e.addr >= start && (e.addr < end || !end))
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
	return (int)n;
}

/* Free whatever is allocated in [start, end) (end 0: 2^64), however many extents. */
static void free_all(struct prb_session *s, uint64_t start, uint64_t end, const char *what)
{
	int n = s ? 1 : -1;

	/* Each round frees what it found: a few rounds empty any region a test fills. */
	for (int round = 0; n > 0 && round < 64; round++)
		n = free_some(s, start, end);
	if (n != 0)
		printf("    [WARNING] cleanup: cannot %s %s\n", n < 0 ? "list" : "empty", what);
}

/* Free whatever the test left allocated in its region, and at the top if it used that. */
static void cleanup_region(void)
{
	struct prb_session *s = cf_context_session(0, NULL);

	free_all(s, cf_addr(0), cf_addr((uint64_t)1 << REGION_SHIFT), "the test's region");
	if (cf_ctx.top_blocks)
		free_all(s, cf_top_addr(cf_ctx.top_blocks), 0, "the top of the address space");
	cf_ctx.top_blocks = 0;
	prb_disconnect(&s);
}

/* Free blocks of the brick now (INFO), or -1 when it cannot be asked. */
static long long brick_free_blocks(void)
{
	struct prb_session *s = cf_context_session(0, NULL);
	struct prb_brick_info info;
	long long n = s && prb_info(s, &info) == 0 ? (long long)info.free_blocks : -1;

	prb_disconnect(&s);
	return n;
}

/* Does a --test pattern (or the absence of any) select this test? */
static bool selected(const struct cf_test *t)
{
	if (cf_ctx.opt->npatterns == 0)
		return true;
	for (size_t i = 0; i < cf_ctx.opt->npatterns; i++)
		if (fnmatch(cf_ctx.opt->patterns[i], t->name, 0) == 0)
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

/*
 * Why a test cannot run with these options on this brick, or NULL. *unchecked is set
 * unless the reason is an optional feature the brick does not grant: such a skip leaves
 * requirements unchecked and the run short of a full conformance run.
 */
static const char *skip_reason(const struct cf_test *t, char *buf, size_t size, bool *unchecked)
{
	*unchecked = true;
	if ((t->needs & CF_DESTRUCTIVE) && !cf_ctx.opt->destructive)
		return "destructive test (disturbs other users of the brick): run with "
		       "--destructive";
	if ((t->needs & CF_RESTART) && !cf_ctx.opt->restart_cmd)
		return "needs a brick restart: run with --restart-cmd CMD";
	if ((t->needs & CF_GRACEFUL) && !cf_ctx.opt->graceful_cmd)
		return "needs a clean brick shutdown: run with --graceful-restart-cmd CMD";
	if (cf_needs_blocks(t->needs)) {
		unsigned want = cf_needs_blocks(t->needs);
		long long free_blocks = brick_free_blocks();
		if (free_blocks < want) {
			snprintf(buf, size,
				 "needs a brick with %u free blocks (%u MiB), this one has %lld: "
				 "a full run needs a larger brick",
				 want, want * (PRB_BLOCK_SIZE >> 20), free_blocks);
			return buf;
		}
	}
	if (t->feature && (cf_ctx.brick.features & t->feature) != t->feature) {
		char names[96];
		snprintf(
			buf, size, "optional feature %s not granted by the brick (features 0x%x)",
			cf_feature_names(t->feature & ~cf_ctx.brick.features, names, sizeof(names)),
			cf_ctx.brick.features);
		*unchecked = false;
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

/*
 * A source path as the failure lines show it: relative to the source tree
 * (conformance/tests/alloc.c), not the absolute path the build compiled it from.
 */
static const char *source_path(const char *path)
{
#ifdef CF_SOURCE_DIR
	size_t len = strlen(CF_SOURCE_DIR);

	if (strncmp(path, CF_SOURCE_DIR, len) == 0)
		return path + len;
#endif
	const char *at = strstr(path, "conformance/");

	return at && path[0] == '/' ? at : path;
}

/* CUnit handler: keep the failures of the test that just ran. */
static void on_test_complete(const CU_pTest test, const CU_pSuite suite,
			     const CU_pFailureRecord failure)
{
	char line[1024];

	(void)test;
	(void)suite;
	for (CU_pFailureRecord f = failure; f; f = f->pNext) {
		snprintf(line, sizeof(line), "%s:%u: %s",
			 f->strFileName ? source_path(f->strFileName) : "?",
			 f->uiLineNumber, f->strCondition ? f->strCondition : "?");
		add_failure_text(line);
	}
}

/* Run one test through CUnit, then clean up after it. */
static void run_one(const struct cf_test *t, CU_pSuite suite, struct cf_result *r)
{
	CU_pTest cu = CU_add_test(suite, t->name, t->fn);
	double t0 = seconds_now();

	cf_ctx.current = r;
	cf_ctx.setup_depth = 0;
	printf("Test %-44s ", t->name);
	fflush(stdout);
	if (cf_ctx.opt->verbose)
		printf("\n    checks %s\n", t->reqs);
	if (!cu) {
		r->outcome = CF_FAILED;
		add_failure_text("cannot register the test with CUnit");
	} else {
		CU_run_test(suite, cu);
	}
	cf_context_end_test();
	cleanup_region();
	r->seconds = seconds_now() - t0;
	if (r->failures) {
		r->outcome = CF_FAILED;
		if (!r->setup_failed && !r->own_failed)
			cf_context_blame(t->reqs, false);
	}
	else if (r->outcome != CF_SKIPPED)
		r->outcome = CF_PASSED;
	if (r->outcome == CF_PASSED)
		printf("[OK]\n");
	else if (r->outcome == CF_SKIPPED)
		printf("[SKIPPED] %s\n", r->reason);
	else
		printf("[FAILED]\n%s", r->failures);
	if (r->notes[0] && r->outcome != CF_SKIPPED)
		printf("    not checked here: %s\n", r->notes);
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
		printf("\nFailed (the requirements each breaks):\n");
		for (size_t i = 0; i < n; i++) {
			const struct cf_result *r = &res[i];
			if (r->outcome != CF_FAILED)
				continue;
			printf("  %s (%s)\n", r->test->name, r->blamed);
			if (r->setup_failed && !r->own_failed)
				printf("    a setup step failed: the test's own requirements (%s) "
				       "were not reached\n",
				       r->test->reqs);
		}
	}
}

/* Does the space-separated list \p list hold the ID \p id (\p len bytes, not ended)? */
static bool in_list(const char *list, const char *id, size_t len)
{
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, " ");
		if (l == len && strncmp(p, id, len) == 0)
			return true;
		p += l;
		p += strspn(p, " ");
	}
	return false;
}

/*
 * Requirement IDs cited only by tests that were skipped for a reason other than an
 * optional feature not granted (a missing option, rdma://, a brick too small), in the
 * order first cited; written to \p out. \return how many tests were skipped so.
 */
static unsigned unchecked_requirements(const struct cf_result *res, size_t n, char *out,
				       size_t size, unsigned *nreqs)
{
	unsigned tests = 0;
	size_t used = 0;

	out[0] = '\0';
	*nreqs = 0;
	for (size_t i = 0; i < n; i++) {
		if (res[i].outcome != CF_SKIPPED || !res[i].unchecked)
			continue;
		tests++;
		for (const char *p = res[i].test->reqs; *p;) {
			size_t len = strcspn(p, " ");
			bool checked = false;
			for (size_t j = 0; j < n && !checked; j++)
				checked = (res[j].outcome == CF_PASSED || res[j].outcome == CF_FAILED) &&
					  in_list(res[j].test->reqs, p, len);
			if (len && !checked && !in_list(out, p, len) && used + len + 2 < size) {
				used += (size_t)snprintf(out + used, size - used, "%s%.*s",
							 used ? " " : "", (int)len, p);
				(*nreqs)++;
			}
			p += len;
			p += strspn(p, " ");
		}
	}
	return tests;
}

/* Say whether this was a full conformance run and, if not, what went unchecked. */
static bool print_coverage(const struct cf_result *res, size_t n)
{
	char reqs[4096];
	unsigned nreqs;
	unsigned tests = unchecked_requirements(res, n, reqs, sizeof(reqs), &nreqs);

	if (tests == 0 && cf_ctx.opt->npatterns == 0) {
		printf("\nFull conformance run: every test ran, except those of optional features "
		       "the brick does not grant.\n");
		return true;
	}
	printf("\nNOT A FULL CONFORMANCE RUN.");
	if (cf_ctx.opt->npatterns)
		printf(" Only the tests selected with --test ran.");
	if (tests) {
		printf(" %u test%s skipped (see [SKIPPED] above) left %u requirement%s "
		       "unchecked:\n  %s\n",
		       tests, tests == 1 ? "" : "s", nreqs, nreqs == 1 ? "" : "s",
		       nreqs ? reqs : "(none: other tests check them)");
		printf("A full run needs --destructive, --restart-cmd CMD and --graceful-restart-cmd "
		       "CMD, over tcp:// (see --help); --require-full makes this run fail.\n");
	} else {
		printf("\n");
	}
	return false;
}

/* The brick's parameters as libprb reports them (rdma://: no raw HELLO to read them from). */
static int probe_session(void)
{
	struct prb_session_info info;
	int ret;
	struct prb_session *s = cf_context_session(PRB_FEAT_ALL, &ret);

	if (!s)
		return ret;
	prb_session_get_info(s, &info);
	cf_ctx.brick.hello.version = (uint16_t)info.version;
	cf_ctx.brick.hello.queue_depth = (uint16_t)info.queue_depth;
	cf_ctx.brick.hello.features = info.features;
	cf_ctx.brick.hello.max_pdu = info.max_pdu;
	cf_ctx.brick.hello.max_data = info.max_data;
	cf_ctx.brick.hello.max_mappings = info.max_mappings;
	cf_ctx.brick.hello.capacity_blocks = info.capacity_blocks;
	cf_ctx.brick.hello.free_blocks = info.free_blocks;
	cf_ctx.brick.hello.boot_epoch = info.boot_epoch;
	memcpy(cf_ctx.brick.hello.brick_id, info.brick_id, 16);
	prb_disconnect(&s);
	return 0;
}

/* First HELLO: what the brick grants when asked for everything. */
static int probe_brick(void)
{
	struct prb_url url;
	struct cf_conn *c;
	uint64_t rnd;
	int ret = prb_url_parse_connect(cf_ctx.opt->url, &url);

	if (ret < 0) {
		fprintf(stderr, "prb-conformance: bad URL %s\n", cf_ctx.opt->url);
		return ret;
	}
	cf_ctx.rdma = url.transport == PRB_TRANSPORT_RDMA;
	if (cf_ctx.rdma) {
		ret = probe_session();
	} else {
		ret = cf_context_hello(PRB_FEAT_ALL, &c);
		if (ret == 0) {
			cf_ctx.brick.hello = c->hello;
			cf_conn_close(c);
		}
	}
	if (ret < 0) {
		fprintf(stderr, "prb-conformance: no HELLO with %s: %s\n", cf_ctx.opt->url,
			strerror(-ret));
		return ret;
	}
	cf_ctx.brick.features = cf_ctx.brick.hello.features;
	cf_ctx.brick.timeout_ms = cf_ctx.opt->timeout_ms;
	cf_ctx.default_features = cf_ctx.brick.features & PRB_FEAT_ATOMICS;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)time(NULL) * 2654435761U;
	/* Blocks 2^41 .. 2^42 (addresses 2^62 .. 2^63): far from where people start. */
	cf_ctx.region_base = ((uint64_t)1 << 41) |
			     ((rnd & (((uint64_t)1 << 40) - 1)) & ~(((uint64_t)1 << 30) - 1));
	printf("prb-conformance: %s: version %u, features 0x%x, queue depth %u, max_pdu %u, "
	       "max_data %u, max_mappings %u, capacity %llu blocks, free %llu, boot epoch %llu\n",
	       cf_ctx.opt->url, cf_ctx.brick.hello.version, cf_ctx.brick.features,
	       cf_ctx.brick.hello.queue_depth, cf_ctx.brick.hello.max_pdu,
	       cf_ctx.brick.hello.max_data, cf_ctx.brick.hello.max_mappings,
	       (unsigned long long)cf_ctx.brick.hello.capacity_blocks,
	       (unsigned long long)cf_ctx.brick.hello.free_blocks,
	       (unsigned long long)cf_ctx.brick.hello.boot_epoch);
	if (cf_ctx.rdma)
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

	cf_ctx.opt = opt;
	if (!res)
		return 2;
	for (size_t i = 0; i < n_all; i++)
		if (selected(all[i]))
			res[n++].test = all[i];
	if (n == 0) {
		fprintf(stderr, "prb-conformance: no test matches\n");
		goto out_free;
	}
	if (probe_brick() < 0) {
		if (opt->xml_path)
			cf_junit_write_error(opt->xml_path, opt->url, "no HELLO with the brick");
		goto out_free;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		goto out_free;
	CU_set_test_complete_handler(on_test_complete);
	CU_pSuite suite = CU_add_suite("prb", NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		bool unchecked;
		const char *why = skip_reason(res[i].test, buf, sizeof(buf), &unchecked);
		cf_ctx.test_index = i;
		if (why) {
			res[i].outcome = CF_SKIPPED;
			res[i].unchecked = unchecked;
			snprintf(res[i].reason, sizeof(res[i].reason), "%s", why);
			printf("Test %-44s [SKIPPED] %s\n", res[i].test->name, why);
			continue;
		}
		run_one(res[i].test, suite, &res[i]);
	}
	CU_cleanup_registry();
	print_summary(res, n);
	bool full = print_coverage(res, n);
	status = !full && opt->require_full ? CF_EXIT_NOT_FULL : 0;
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
