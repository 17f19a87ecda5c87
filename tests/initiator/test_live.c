/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libprb against a live prb-target (started by scripts/with-target.sh, which
 * exports PRB_URL, PRB_TARGET_PID and PRB_RESTART_CMD). One binary, one suite
 * per argument:
 *   api       every blocking call and the error codes the brick returns
 *   async     the asynchronous interface at depth, completions matched
 *   restart   brick restarted between calls: epoch change seen, old mappings dead
 *   drop      brick killed: in-flight requests fail, the session reports it
 *   term      brick's idle timeout: TERM received and reported
 *   limits    small max_data and max_mappings (target started with limits)
 *   soak      random READ/WRITE/FADD at depth against a shadow copy
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <prb/prb.h>

static int failures;
static const char *url;

#define EXPECT(expr, want)                                                                         \
	do {                                                                                       \
		long long got_ = (long long)(expr);                                                \
		if (got_ != (long long)(want)) {                                                   \
			fprintf(stderr, "%s:%d: %s = %lld (%s), want %lld (%s)\n", __FILE__,       \
				__LINE__, #expr, got_, got_ < 0 ? prb_strerror((int)got_) : "",    \
				(long long)(want), #want);                                         \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

#define REQUIRE(expr)                                                                              \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: required: %s\n", __FILE__, __LINE__, #expr);       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#define BLK  ((uint64_t)PRB_BLOCK_BYTES)
#define BASE (1024 * BLK) /* test addresses start at 2 GiB */

static struct prb_session *connect_polling(uint32_t features, unsigned depth, unsigned busy_poll)
{
	struct prb_session *s = NULL;
	struct prb_opts *o;

	REQUIRE(prb_opts_new(&o) == 0);
	REQUIRE(prb_opts_set_features(o, features) == 0);
	REQUIRE(prb_opts_set_queue_depth(o, depth) == 0);
	REQUIRE(prb_opts_set_io_timeout(o, 20000) == 0);
	REQUIRE(prb_opts_set_busy_poll(o, busy_poll) == 0);
	EXPECT(prb_connect(url, o, &s), 0);
	prb_opts_delete(&o);
	REQUIRE(s != NULL);
	return s;
}

/* With the default busy polling (adaptive), as an application that does not choose. */
static struct prb_session *connect_with(uint32_t features, unsigned depth)
{
	return connect_polling(features, depth, PRB_BUSY_POLL_ADAPTIVE);
}

static struct prb_session *connect_default(void)
{
	return connect_with(PRB_FEATURE_ATOMICS, PRB_DEFAULT_QUEUE_DEPTH);
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Session parameters and INFO are sane. */
static void api_info(struct prb_session *s)
{
	struct prb_session_info si;
	struct prb_brick_info bi;

	EXPECT(prb_session_get_info(s, &si), 0);
	EXPECT(si.version, 1);
	EXPECT(strcmp(si.transport, "tcp"), 0);
	EXPECT(si.boot_epoch >= 1, 1);
	EXPECT(si.queue_depth >= 1 && si.queue_depth <= PRB_DEFAULT_QUEUE_DEPTH, 1);
	EXPECT(si.max_data >= 4096 && si.max_data <= BLK, 1);
	EXPECT(si.max_mappings >= 1, 1);
	EXPECT((si.features &
		~(PRB_FEATURE_ATOMICS | PRB_FEATURE_TIERING | PRB_FEATURE_PERSISTENT)) == 0,
	       1);
	EXPECT(prb_session_status(s), 0);
	EXPECT(prb_session_fd(s) >= 0, 1);
	EXPECT(prb_info(s, &bi), 0);
	EXPECT(memcmp(bi.brick_id, si.brick_id, 16), 0);
	EXPECT(bi.boot_epoch, si.boot_epoch);
	EXPECT(bi.capacity_blocks > 0, 1);
	EXPECT(bi.free_blocks <= bi.capacity_blocks, 1);
	EXPECT(bi.connections >= 1, 1);
	EXPECT(prb_keepalive(s), 0);
}

/* ALLOC and FREE: single, range, EEXIST, ENOENT, ENOSPC, all-or-none. */
static void api_alloc_free(struct prb_session *s)
{
	struct prb_brick_info bi;
	uint64_t a = BASE;

	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_alloc(s, a, 1), -EEXIST);
	EXPECT(prb_alloc(s, a - BLK, 3), -EEXIST); /* overlaps a: nothing allocated */
	EXPECT(prb_free(s, a - BLK, 1, 0), -ENOENT);
	EXPECT(prb_free(s, a, 2, 0), -ENOENT); /* a+1 is free: nothing freed */
	EXPECT(prb_free(s, a, 1, 0), 0);
	EXPECT(prb_free(s, a, 1, 0), -ENOENT);
	EXPECT(prb_alloc(s, a, 8), 0);
	EXPECT(prb_free(s, a, 8, 0), 0);
	EXPECT(prb_info(s, &bi), 0);
	if (bi.free_blocks < PRB_RANGE_MAX_BLOCKS)
		EXPECT(prb_alloc(s, a, (uint32_t)bi.free_blocks + 1), -ENOSPC);
	EXPECT(prb_alloc(s, a, 1), 0); /* the failed range left nothing behind */
	EXPECT(prb_free(s, a, 1, 0), 0);
	/* The very last block of the address space. */
	EXPECT(prb_alloc(s, UINT64_MAX - BLK + 1, 1), 0);
	EXPECT(prb_free(s, UINT64_MAX - BLK + 1, 1, 0), 0);
}

/* MAP, data operations and UNMAP on one block. */
static void api_data(struct prb_session *s)
{
	static uint8_t out[PRB_BLOCK_BYTES], in[PRB_BLOCK_BYTES];
	const uint64_t a = BASE + 16 * BLK;
	struct prb_mapping *m = NULL, *ro = NULL;
	uint64_t orig = 99;

	EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m), -ENOENT);
	EXPECT(m == NULL, 1);
	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m), 0);
	REQUIRE(m);
	EXPECT(prb_mapping_addr(m), a);
	EXPECT(prb_mapping_length(m), BLK);
	EXPECT(prb_mapping_flags(m), PRB_MAPPING_RW);
	EXPECT(prb_mapping_handle(m) != 0, 1);
	EXPECT(prb_mapping_rkey(m), 0);
	EXPECT(prb_mapping_raddr(m), 0);
	EXPECT(prb_mapping_session(m) == s, 1);
	EXPECT(prb_mapping_status(m), 0);

	/* A new block reads as zeros. */
	memset(in, 0xff, sizeof(in));
	EXPECT(prb_read(m, 0, in, BLK), 0);
	memset(out, 0, sizeof(out));
	EXPECT(memcmp(in, out, BLK), 0);

	fill(out, BLK, 1);
	EXPECT(prb_write(m, 0, out, BLK), 0);
	EXPECT(prb_flush(m, 0, BLK), 0);
	EXPECT(prb_read(m, 0, in, BLK), 0);
	EXPECT(memcmp(in, out, BLK), 0);
	fill(out, 5000, 2);
	EXPECT(prb_write(m, 4093, out, 5000), 0);
	EXPECT(prb_read(m, 4093, in, 5000), 0);
	EXPECT(memcmp(in, out, 5000), 0);
	EXPECT(prb_write(m, BLK - 1, "x", 1), 0);
	EXPECT(prb_read(m, BLK - 1, in, 1), 0);
	EXPECT(in[0], 'x');
	EXPECT(prb_read(m, BLK - 1, in, 2), -ERANGE);

	/* Atomics. */
	memset(out, 0, 16);
	EXPECT(prb_write(m, 64, out, 16), 0);
	EXPECT(prb_fadd(m, 64, 5, &orig), 0);
	EXPECT(orig, 0);
	EXPECT(prb_fadd(m, 64, 7, &orig), 0);
	EXPECT(orig, 5);
	EXPECT(prb_cas(m, 64, 12, 100, &orig), 0);
	EXPECT(orig, 12);
	EXPECT(prb_cas(m, 64, 1, 2, &orig), 0);
	EXPECT(orig, 100);
	EXPECT(prb_read(m, 64, in, 8), 0);
	EXPECT(le64(in), 100);
	EXPECT(prb_fadd(m, 64, UINT64_MAX, NULL), 0); /* wraps */
	EXPECT(prb_read(m, 64, in, 8), 0);
	EXPECT(le64(in), 99);
	EXPECT(prb_cas(m, BLK - 8, 0, 1, NULL), 0);
	EXPECT(prb_cas(m, 60, 0, 1, NULL), -EINVAL);

	/* Read-only mapping beside the read-write one (shared). */
	EXPECT(prb_map(s, a, PRB_MAPPING_RO, &ro), 0);
	EXPECT(prb_read(ro, 64, in, 8), 0);
	EXPECT(le64(in), 99);
	EXPECT(prb_write(ro, 0, out, 8), -EPERM);
	EXPECT(prb_fadd(ro, 0, 1, NULL), -EPERM);
	EXPECT(prb_flush(ro, 0, 8), 0);
	EXPECT(prb_unmap(&ro), 0);
	EXPECT(ro == NULL, 1);
	EXPECT(prb_unmap(&m), 0);
	EXPECT(prb_free(s, a, 1, 0), 0);
}

/* Exclusive and shared mappings across two connections; FREE of a mapped block. */
static void api_conflicts(struct prb_session *s)
{
	const uint64_t a = BASE + 32 * BLK;
	struct prb_session *s2 = connect_default();
	struct prb_mapping *m1 = NULL, *m2 = NULL, *m3 = NULL;
	uint8_t b[8];

	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m1), 0);
	EXPECT(prb_map(s2, a, PRB_MAPPING_RO, &m2), 0); /* shared coexist */
	EXPECT(prb_map(s2, a, PRB_MAPPING_RW | PRB_MAPPING_EXCL, &m3), -EBUSY);
	EXPECT(prb_map(s, a, PRB_MAPPING_RO | PRB_MAPPING_EXCL, &m3), -EBUSY);
	EXPECT(m3 == NULL, 1);
	EXPECT(prb_unmap(&m1), 0);
	EXPECT(prb_unmap(&m2), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RW | PRB_MAPPING_EXCL, &m1), 0);
	EXPECT(prb_map(s2, a, PRB_MAPPING_RO, &m2), -EBUSY);
	EXPECT(prb_map(s, a, PRB_MAPPING_RO, &m2), -EBUSY);

	/* FREE of a mapped block: EBUSY, then FORCE revokes the handle (ESTALE). */
	EXPECT(prb_free(s2, a, 1, 0), -EBUSY);
	EXPECT(prb_free(s2, a, 1, PRB_FREE_FLAG_FORCE), 0);
	EXPECT(prb_read(m1, 0, b, sizeof(b)), -ESTALE);
	EXPECT(prb_mapping_status(m1), -ESTALE);
	EXPECT(prb_write(m1, 0, b, sizeof(b)), -ESTALE); /* known dead: not sent */
	EXPECT(prb_unmap(&m1), -ESTALE);
	EXPECT(m1 == NULL, 1);
	EXPECT(prb_map(s, a, PRB_MAPPING_RO, &m1), -ENOENT);

	/* A session may disconnect with live mappings; its handles die with it. */
	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_map(s2, a, PRB_MAPPING_RW | PRB_MAPPING_EXCL, &m2), 0);
	prb_disconnect(&s2);
	EXPECT(s2 == NULL, 1);
	EXPECT(prb_free(s, a, 1, 0), 0); /* no live handle left */
}

/* LIST through the iterator and page by page. */
static void api_list(struct prb_session *s)
{
	const uint64_t a = BASE + 64 * BLK;
	struct prb_list_extent e, ext[4];
	struct prb_list_page page = {0};
	struct prb_completion c;
	struct prb_list_iter *it = NULL;
	uint64_t cursor;
	int rc, found = 0, pages = 0;

	/* Three runs: 2 blocks, a hole, 3 blocks, a hole, 1 block. */
	EXPECT(prb_alloc(s, a, 2), 0);
	EXPECT(prb_alloc(s, a + 3 * BLK, 3), 0);
	EXPECT(prb_alloc(s, a + 7 * BLK, 1), 0);
	EXPECT(prb_list_new(s, a, &it), 0);
	while ((rc = prb_list_next(it, &e)) > 0) {
		if (e.addr >= a + 8 * BLK)
			continue;
		EXPECT(e.addr == a || e.addr == a + 3 * BLK || e.addr == a + 7 * BLK, 1);
		EXPECT(e.blocks, e.addr == a ? 2 : e.addr == a + 3 * BLK ? 3 : 1);
		EXPECT(e.state == PRB_BLOCK_RESIDENT || e.state == PRB_BLOCK_TIERED, 1);
		found++;
	}
	EXPECT(rc, 0);
	EXPECT(found, 3);
	EXPECT(prb_list_next(it, &e), 0); /* stays at the end */
	prb_list_delete(&it);
	EXPECT(it == NULL, 1);

	/* Starting inside a run reports it from the start address. */
	EXPECT(prb_list_new(s, a + 4 * BLK, &it), 0);
	EXPECT(prb_list_next(it, &e), 1);
	EXPECT(e.addr, a + 4 * BLK);
	EXPECT(e.blocks, 2);
	prb_list_delete(&it);

	/* Asynchronous pages of one extent: the cursor walks the runs. */
	cursor = a;
	found = 0;
	do {
		EXPECT(prb_async_list(s, cursor, ext, 1, &page, 42), 0);
		EXPECT(prb_reap(s, &c, 1, 1, -1), 1);
		EXPECT(c.user_data, 42);
		EXPECT(c.result >= 0 && c.result <= 1, 1);
		if (c.result == 1 && ext[0].addr < a + 8 * BLK)
			found++;
		cursor = page.next_cursor;
		pages++;
	} while (!page.end && cursor < a + 8 * BLK && pages < 10);
	EXPECT(found, 3);
	EXPECT(prb_free(s, a, 2, 0), 0);
	EXPECT(prb_free(s, a + 3 * BLK, 3, 0), 0);
	EXPECT(prb_free(s, a + 7 * BLK, 1, 0), 0);
}

/* Header and data digests negotiated and used. */
static void api_digests(void)
{
	const uint32_t want =
		PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST | PRB_FEATURE_ATOMICS;
	struct prb_session *s = connect_with(want, 8);
	static uint8_t out[300000], in[300000];
	struct prb_session_info si;
	struct prb_mapping *m = NULL;
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	const uint64_t a = BASE + 80 * BLK;

	EXPECT(prb_session_get_info(s, &si), 0);
	EXPECT(si.features & want, want);
	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m), 0);
	fill(out, sizeof(out), 3);
	EXPECT(prb_write(m, 100, out, sizeof(out)), 0);
	EXPECT(prb_read(m, 100, in, sizeof(in)), 0);
	EXPECT(memcmp(in, out, sizeof(out)), 0);
	EXPECT(prb_list_new(s, a, &it), 0);
	EXPECT(prb_list_next(it, &e), 1);
	EXPECT(e.addr, a);
	prb_list_delete(&it);
	EXPECT(prb_fadd(m, 0, 1, NULL), 0);
	EXPECT(prb_unmap(&m), 0);
	EXPECT(prb_free(s, a, 1, 0), 0);
	EXPECT(prb_session_status(s), 0);
	prb_disconnect(&s);
}

/* A session that did not ask for atomics gets no CAS or FADD (refused locally). */
static void api_no_atomics(void)
{
	struct prb_session *s = connect_with(0, 4);
	struct prb_session_info si;
	struct prb_mapping *m = NULL;
	const uint64_t a = BASE + 88 * BLK;

	EXPECT(prb_session_get_info(s, &si), 0);
	EXPECT(si.features & PRB_FEATURE_ATOMICS, 0);
	EXPECT(si.queue_depth, 4);
	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m), 0);
	EXPECT(prb_cas(m, 0, 0, 1, NULL), -ENOTSUP);
	EXPECT(prb_fadd(m, 0, 1, NULL), -ENOTSUP);
	EXPECT(prb_write(m, 0, "ok", 2), 0);
	EXPECT(prb_unmap(&m), 0);
	EXPECT(prb_free(s, a, 1, 0), 0);
	prb_disconnect(&s);
}

static void suite_api(void)
{
	struct prb_session *s = connect_default();

	api_info(s);
	api_alloc_free(s);
	api_data(s);
	api_conflicts(s);
	api_list(s);
	api_digests();
	api_no_atomics();
	EXPECT(prb_reconnect(s), 0); /* same brick, same epoch */
	EXPECT(prb_keepalive(s), 0);
	prb_disconnect(&s);
}

/*
 * Async at depth (the target grants 512): write 2048 distinct 1 KiB pieces with
 * the queue full, then read them back the same way, matching every completion
 * to its request exactly once.
 */
#define ASYNC_OPS   2048u
#define ASYNC_SIZE  1024u
#define ASYNC_DEPTH 512u

static void async_run(struct prb_session *s, struct prb_mapping *m, bool write, uint8_t *data)
{
	struct prb_session_info si;
	struct prb_completion c[64];
	static uint8_t seen[ASYNC_OPS];
	unsigned next = 0, done = 0, inflight = 0, max_inflight = 0;
	int n, rc;

	prb_session_get_info(s, &si);
	memset(seen, 0, sizeof(seen));
	while (done < ASYNC_OPS) {
		while (next < ASYNC_OPS) {
			uint8_t *buf = data + (size_t)next * ASYNC_SIZE;

			rc = write ? prb_async_write(m, (uint64_t)next * ASYNC_SIZE, buf,
						     ASYNC_SIZE, 1000 + next)
				   : prb_async_read(m, (uint64_t)next * ASYNC_SIZE, buf, ASYNC_SIZE,
						    1000 + next);
			if (rc == -EAGAIN) {
				EXPECT(inflight, si.queue_depth); /* EAGAIN exactly at the depth */
				break;
			}
			EXPECT(rc, 0);
			next++;
			inflight++;
			if (inflight > max_inflight)
				max_inflight = inflight;
		}
		EXPECT(prb_submit(s) >= 0, 1);
		n = prb_reap(s, c, 1, 64, -1);
		EXPECT(n >= 1, 1);
		for (int i = 0; i < n; i++) {
			uint64_t k = c[i].user_data - 1000;

			EXPECT(c[i].result, 0);
			REQUIRE(k < ASYNC_OPS);
			EXPECT(seen[k], 0);
			seen[k] = 1;
			done++;
			inflight--;
		}
	}
	EXPECT(max_inflight, si.queue_depth);
	EXPECT(si.queue_depth, ASYNC_DEPTH);
	EXPECT(prb_reap(s, c, 0, 64, 0), 0);
}

static void suite_async(void)
{
	struct prb_session *s = connect_with(PRB_FEATURE_ATOMICS, ASYNC_DEPTH);
	static uint8_t out[ASYNC_OPS * ASYNC_SIZE], in[ASYNC_OPS * ASYNC_SIZE];
	const uint64_t a = BASE + 96 * BLK;
	struct prb_mapping *m = NULL, *m2 = NULL;
	struct prb_completion c[8];
	struct prb_brick_info bi;
	uint64_t orig = 0;
	int n, rc, got;

	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m), 0);
	REQUIRE(m);
	fill(out, sizeof(out), 4);
	async_run(s, m, true, out);
	async_run(s, m, false, in);
	EXPECT(memcmp(in, out, sizeof(out)), 0);

	/* Every kind of request through the queue; a blocking call in between keeps them. */
	EXPECT(prb_async_keepalive(s, 1), 0);
	EXPECT(prb_async_info(s, &bi, 2), 0);
	EXPECT(prb_async_alloc(s, a + BLK, 1, 3), 0);
	EXPECT(prb_async_fadd(m, 0, 3, &orig, 4), 0);
	EXPECT(prb_async_flush(m, 0, 4096, 5), 0);
	EXPECT(prb_submit(s) >= 0, 1);
	EXPECT(prb_keepalive(s), 0);
	for (got = 0; got < 5; got += n) {
		n = prb_reap(s, c, 1, 8, -1);
		REQUIRE(n > 0);
		for (int i = 0; i < n; i++) {
			EXPECT(c[i].user_data >= 1 && c[i].user_data <= 5, 1);
			EXPECT(c[i].result, 0);
		}
	}
	EXPECT(bi.capacity_blocks > 0, 1);
	EXPECT(orig, le64(out));
	EXPECT(prb_async_map(s, a + BLK, PRB_MAPPING_RW, &m2, 6), 0);
	EXPECT(prb_reap(s, c, 1, 8, -1), 1);
	EXPECT(c[0].result, 0);
	REQUIRE(m2);
	EXPECT(prb_async_cas(m2, 8, 0, 7, &orig, 7), 0);
	EXPECT(prb_async_unmap(m2, 8), 0); /* after the CAS; frees m2 */
	EXPECT(prb_async_free(s, a + BLK, 1, 0, 9), 0);
	for (got = 0; got < 3; got += n) {
		n = prb_reap(s, c, 1, 8, 10000);
		REQUIRE(n > 0);
		for (int i = 0; i < n; i++)
			EXPECT(c[i].result, 0);
	}
	EXPECT(orig, 0);
	/* Errors come back as completions too. */
	EXPECT(prb_async_alloc(s, a, 1, 10), 0);
	EXPECT(prb_async_free(s, a + 5 * BLK, 1, 0, 11), 0);
	for (got = 0; got < 2; got += n) {
		n = prb_reap(s, c, 2 - (unsigned)got, 8, -1);
		for (int i = 0; i < n; i++)
			EXPECT(c[i].result, c[i].user_data == 10 ? -EEXIST : -ENOENT);
	}
	/* A timeout of 0 with nothing outstanding returns at once. */
	EXPECT(prb_reap(s, c, 1, 8, 0), 0);
	rc = prb_unmap(&m);
	EXPECT(rc, 0);
	EXPECT(prb_free(s, a, 1, 0), 0);
	prb_disconnect(&s);
}

static void run_restart(void)
{
	const char *cmd = getenv("PRB_RESTART_CMD");

	REQUIRE(cmd);
	EXPECT(system(cmd), 0);
}

/* The brick restarts between calls: loss seen, epoch change reported, handles dead. */
static void suite_restart(void)
{
	struct prb_session *s = connect_default();
	const uint64_t a = BASE + 128 * BLK;
	struct prb_session_info before, after;
	struct prb_mapping *m = NULL, *m2 = NULL;
	uint8_t out[4096], in[4096];
	int rc;

	EXPECT(prb_session_get_info(s, &before), 0);
	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m), 0);
	REQUIRE(m);
	fill(out, sizeof(out), 5);
	EXPECT(prb_write(m, 0, out, sizeof(out)), 0);
	EXPECT(prb_flush(m, 0, sizeof(out)), 0);

	run_restart();

	/* The first request finds the connection gone. */
	rc = prb_read(m, 0, in, sizeof(in));
	EXPECT(rc == -ECONNRESET || rc == -ESTALE, 1);
	rc = prb_session_status(s);
	EXPECT(rc == -ECONNRESET || rc == -EPROTO, 1);
	EXPECT(prb_keepalive(s), -ENOTCONN);
	EXPECT(prb_mapping_status(m), -ESTALE);
	EXPECT(prb_read(m, 0, in, sizeof(in)), -ESTALE);

	EXPECT(prb_reconnect(s), -ESTALE); /* boot epoch changed */
	EXPECT(prb_session_status(s), 0);
	EXPECT(prb_session_get_info(s, &after), 0);
	EXPECT(after.boot_epoch > before.boot_epoch, 1);
	EXPECT(memcmp(after.brick_id, before.brick_id, 16), 0);
	EXPECT(prb_read(m, 0, in, sizeof(in)), -ESTALE); /* never reused */
	EXPECT(prb_mapping_status(m), -ESTALE);
	EXPECT(prb_unmap(&m), -ESTALE);

	/* The allocation and the flushed data survived. */
	EXPECT(prb_alloc(s, a, 1), -EEXIST);
	EXPECT(prb_map(s, a, PRB_MAPPING_RO, &m2), 0);
	REQUIRE(m2);
	EXPECT(prb_read(m2, 0, in, sizeof(in)), 0);
	EXPECT(memcmp(in, out, sizeof(out)), 0);
	EXPECT(prb_unmap(&m2), 0);
	EXPECT(prb_reconnect(s), 0); /* no restart this time */
	EXPECT(prb_free(s, a, 1, 0), 0);
	prb_disconnect(&s);
}

/* The brick dies with requests in flight: they fail, the session says so. */
static void suite_drop(void)
{
	struct prb_session *s = connect_default();
	const uint64_t a = BASE + 160 * BLK;
	static uint8_t buf[16][65536];
	struct prb_mapping *m = NULL;
	struct prb_completion c[16];
	const char *pid = getenv("PRB_TARGET_PID");
	int n, got = 0;

	REQUIRE(pid);
	EXPECT(prb_alloc(s, a, 1), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m), 0);
	REQUIRE(m);
	EXPECT(kill((pid_t)atoi(pid), SIGKILL), 0);
	usleep(300000); /* let the kernel close its end */
	for (int i = 0; i < 16; i++)
		EXPECT(prb_async_read(m, (uint64_t)i * 65536, buf[i], 65536, (uint64_t)i), 0);
	prb_submit(s);
	while (got < 16) {
		n = prb_reap(s, c, 1, 16, 10000);
		REQUIRE(n > 0);
		for (int i = 0; i < n; i++)
			EXPECT(c[i].result, -ECONNRESET);
		got += n;
	}
	EXPECT(prb_session_status(s) < 0, 1);
	EXPECT(prb_async_keepalive(s, 0), -ENOTCONN);
	EXPECT(prb_alloc(s, a, 1), -ENOTCONN);
	EXPECT(prb_async_read(m, 0, buf[0], 8, 0), -ESTALE);
	EXPECT(prb_reconnect(s), -ECONNREFUSED);
	EXPECT(prb_session_status(s), -ECONNREFUSED);
	/* Bring the brick back so that with-target stops a healthy one. */
	run_restart();
	EXPECT(prb_reconnect(s), -ESTALE);
	EXPECT(prb_free(s, a, 1, 0), 0);
	EXPECT(prb_unmap(&m), -ESTALE);
	prb_disconnect(&s);
}

/* Target started with --idle-timeout 1: an idle session receives TERM TIMEOUT. */
static void suite_term(void)
{
	struct prb_session *s = connect_default();
	int rc;

	sleep(3);
	rc = prb_keepalive(s);
	EXPECT(rc == -ECONNRESET || rc == -ENOTCONN, 1);
	EXPECT(prb_session_status(s), -EPROTO);
	EXPECT(prb_session_term_reason(s), 6); /* the spec's TERM reason TIMEOUT */
	EXPECT(prb_reconnect(s), 0);
	EXPECT(prb_session_term_reason(s), 0);
	EXPECT(prb_keepalive(s), 0);
	prb_disconnect(&s);
}

/* Target started with --max-data 65536 --max-mappings 8 --queue-depth 4. */
static void suite_limits(void)
{
	struct prb_session *s = connect_default();
	static uint8_t out[PRB_BLOCK_BYTES], in[PRB_BLOCK_BYTES];
	struct prb_mapping *m[9] = {0};
	struct prb_session_info si;
	const uint64_t a = BASE + 192 * BLK;
	int i;

	EXPECT(prb_session_get_info(s, &si), 0);
	EXPECT(si.max_data, 65536);
	EXPECT(si.max_mappings, 8);
	EXPECT(si.queue_depth, 4);
	EXPECT(prb_alloc(s, a, 1), 0);
	for (i = 0; i < 8; i++)
		EXPECT(prb_map(s, a, PRB_MAPPING_RW, &m[i]), 0);
	EXPECT(prb_map(s, a, PRB_MAPPING_RO, &m[8]), -ENOMEM);
	/* A whole block in 32 PDUs through a queue of 4. */
	fill(out, sizeof(out), 6);
	EXPECT(prb_write(m[0], 0, out, sizeof(out)), 0);
	EXPECT(prb_read(m[7], 0, in, sizeof(in)), 0);
	EXPECT(memcmp(in, out, sizeof(out)), 0);
	EXPECT(prb_async_read(m[1], 0, in, 65537, 0), -EINVAL);
	/* The queue full of asynchronous reads, then a blocking read of the whole block:
	 * it waits for slots, and the asynchronous completions wait for prb_reap. */
	{
		static uint8_t small[4][4096];
		struct prb_completion c[4];
		int n, got = 0;

		for (i = 0; i < 4; i++)
			EXPECT(prb_async_read(m[2], (uint64_t)i * 4096, small[i], 4096,
					      70u + (unsigned)i),
			       0);
		EXPECT(prb_async_read(m[2], 0, small[0], 4096, 99), -EAGAIN);
		memset(in, 0, sizeof(in));
		EXPECT(prb_read(m[3], 0, in, sizeof(in)), 0);
		EXPECT(memcmp(in, out, sizeof(out)), 0);
		while (got < 4) {
			n = prb_reap(s, c, 1, 4, -1);
			REQUIRE(n > 0);
			for (int k = 0; k < n; k++) {
				EXPECT(c[k].result, 0);
				EXPECT(c[k].user_data >= 70 && c[k].user_data < 74, 1);
				EXPECT(memcmp(small[c[k].user_data - 70],
					      out + (c[k].user_data - 70) * 4096, 4096),
				       0);
			}
			got += n;
		}
	}
	for (i = 0; i < 8; i++)
		EXPECT(prb_unmap(&m[i]), 0);
	EXPECT(prb_free(s, a, 1, 0), 0);
	prb_disconnect(&s);
}

/*
 * Soak: random READ, WRITE and FADD of 1..4096 bytes at depth 64 over four
 * blocks, checked against a shadow copy. At most one request per 4 KiB piece is
 * in flight (the spec orders nothing between outstanding requests), so every
 * answer has one right value. PRB_SOAK_SECONDS sets the length (default 3).
 */
#define SOAK_BLOCKS 4u
#define SOAK_PIECE  4096u
#define SOAK_PIECES (SOAK_BLOCKS * (PRB_BLOCK_BYTES / SOAK_PIECE))
#define SOAK_DEPTH  64u

struct soak_op {
	unsigned piece;
	int kind; /* 0 read, 1 write, 2 fadd */
	uint32_t offset, len;
	uint64_t add, original;
	uint8_t buf[SOAK_PIECE];
};

static uint32_t soak_rand(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*state >> 33);
}

/* Queue one random request on a free piece into op; returns 0 or a negative errno. */
static int soak_issue(struct prb_mapping **m, uint8_t *shadow, bool *busy, struct soak_op *op,
		      uint64_t *rng, uint64_t ud)
{
	unsigned piece;
	uint64_t base;

	do
		piece = soak_rand(rng) % SOAK_PIECES;
	while (busy[piece]);
	busy[piece] = true;
	op->piece = piece;
	op->kind = (int)(soak_rand(rng) % 10);
	op->kind = op->kind < 5 ? 0 : op->kind < 9 ? 1 : 2;
	op->len = 1 + soak_rand(rng) % SOAK_PIECE;
	op->offset = soak_rand(rng) % (SOAK_PIECE - op->len + 1);
	base = (uint64_t)(piece % (PRB_BLOCK_BYTES / SOAK_PIECE)) * SOAK_PIECE;
	struct prb_mapping *map = m[piece / (PRB_BLOCK_BYTES / SOAK_PIECE)];
	if (op->kind == 2) {
		op->offset &= ~7u;
		op->offset %= SOAK_PIECE - 8;
		op->add = soak_rand(rng);
		return prb_async_fadd(map, base + op->offset, op->add, &op->original, ud);
	}
	if (op->kind == 1) {
		fill(op->buf, op->len, soak_rand(rng));
		return prb_async_write(map, base + op->offset, op->buf, op->len, ud);
	}
	(void)shadow;
	return prb_async_read(map, base + op->offset, op->buf, op->len, ud);
}

/* Check a finished request against the shadow and apply it there. */
static void soak_check(uint8_t *shadow, struct soak_op *op)
{
	uint8_t *at = shadow + (size_t)op->piece * SOAK_PIECE + op->offset;

	if (op->kind == 0) {
		EXPECT(memcmp(op->buf, at, op->len), 0);
	} else if (op->kind == 1) {
		memcpy(at, op->buf, op->len);
	} else {
		uint64_t v = le64(at) + op->add;

		EXPECT(op->original, le64(at));
		for (int i = 0; i < 8; i++)
			at[i] = (uint8_t)(v >> (8 * i));
	}
}

static void soak(uint32_t features, unsigned busy_poll)
{
	struct prb_session *s = connect_polling(features, SOAK_DEPTH, busy_poll);
	static uint8_t shadow[SOAK_BLOCKS * PRB_BLOCK_BYTES];
	static struct soak_op ops[SOAK_DEPTH];
	static bool busy[SOAK_PIECES];
	struct prb_mapping *m[SOAK_BLOCKS] = {0};
	const char *env = getenv("PRB_SOAK_SECONDS");
	time_t end = time(NULL) + (env ? atoi(env) : 3);
	unsigned free_ops[SOAK_DEPTH], nfree = SOAK_DEPTH, i;
	struct prb_completion c[SOAK_DEPTH];
	const uint64_t a = BASE + 224 * BLK;
	uint64_t rng = 42, done = 0;
	struct prb_brick_info bi;

	/* A new allocation reads as zeros (the arrays are static: a second soak reuses them). */
	memset(shadow, 0, sizeof(shadow));
	memset(busy, 0, sizeof(busy));
	EXPECT(prb_alloc(s, a, SOAK_BLOCKS), 0);
	for (i = 0; i < SOAK_BLOCKS; i++)
		EXPECT(prb_map(s, a + i * BLK, PRB_MAPPING_RW, &m[i]), 0);
	for (i = 0; i < SOAK_DEPTH; i++)
		free_ops[i] = i;
	while (failures == 0 && (time(NULL) < end || nfree < SOAK_DEPTH)) {
		while (nfree > 0 && time(NULL) < end) {
			unsigned k = free_ops[--nfree];

			EXPECT(soak_issue(m, shadow, busy, &ops[k], &rng, k), 0);
		}
		if (done % 1000 < 64)
			EXPECT(prb_info(s, &bi), 0); /* a blocking call among them */
		int n = prb_reap(s, c, 1, SOAK_DEPTH, -1);
		REQUIRE(n > 0);
		for (int j = 0; j < n; j++) {
			struct soak_op *op = &ops[c[j].user_data];

			EXPECT(c[j].result, 0);
			soak_check(shadow, op);
			busy[op->piece] = false;
			free_ops[nfree++] = (unsigned)c[j].user_data;
			done++;
		}
	}
	printf("soak: %llu requests checked\n", (unsigned long long)done);
	EXPECT(done > 1000, 1);
	for (i = 0; i < SOAK_BLOCKS; i++)
		EXPECT(prb_unmap(&m[i]), 0);
	EXPECT(prb_free(s, a, SOAK_BLOCKS, 0), 0);
	prb_disconnect(&s);
}

/* Never polling (busy poll 0): every answer is taken after a sleep in recv. */
static void suite_soak(void)
{
	soak(PRB_FEATURE_ATOMICS, 0);
}

/* The same with busy polling: answers taken by the spin complete as the sleeping ones. */
static void suite_soak_busy_poll(void)
{
	soak(PRB_FEATURE_ATOMICS, 200);
}

/* The same with the adaptive default: answers taken by polls of a changing window. */
static void suite_soak_adaptive(void)
{
	soak(PRB_FEATURE_ATOMICS, PRB_BUSY_POLL_ADAPTIVE);
	soak(PRB_FEATURE_ATOMICS | PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST,
	     PRB_BUSY_POLL_ADAPTIVE);
}

static void suite_soak_digests(void)
{
	soak(PRB_FEATURE_ATOMICS | PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST, 0);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} suites[] = {{"api", suite_api},	  {"async", suite_async},
		      {"restart", suite_restart}, {"drop", suite_drop},
		      {"term", suite_term},	  {"limits", suite_limits},
		      {"soak", suite_soak},	  {"soak-digests", suite_soak_digests},
		      {"soak-busy-poll", suite_soak_busy_poll},
		      {"soak-adaptive", suite_soak_adaptive}};
	size_t i;

	url = getenv("PRB_URL");
	if (argc != 2 || !url) {
		fprintf(stderr,
			"usage: PRB_URL=tcp://... test_live SUITE (run by with-target.sh)\n");
		return 2;
	}
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (strcmp(argv[1], suites[i].name) != 0)
			continue;
		suites[i].run();
		if (failures) {
			fprintf(stderr, "test_live %s: %d failure(s)\n", argv[1], failures);
			return 1;
		}
		printf("test_live %s: all checks passed\n", argv[1]);
		return 0;
	}
	fprintf(stderr, "test_live: unknown suite %s\n", argv[1]);
	return 2;
}
