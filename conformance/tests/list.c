/* SPDX-License-Identifier: Apache-2.0 */
/* LIST: coalesced extents, cursors, pagination, END, arguments, concurrent changes. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"

#define MAX_RUNS 64

struct run {
	uint64_t first; /* block index in the test region */
	uint64_t blocks;
};

/*
 * LIST the test region from block `from` with pages of `page` extents; store the runs
 * found (relative block numbers) and check ordering, coalescing within each response
 * and the cursor rules. Returns the number of runs (merged across pages).
 */
static size_t list_region(struct cf_conn *c, uint64_t from, uint32_t page, struct run *runs,
			  size_t max_runs)
{
	struct prb_extent *ext = cf_mem(page * sizeof(*ext));
	uint64_t cursor = cf_addr(from), end = cf_addr(1ULL << 20);
	size_t n = 0;

	for (int pages = 0; pages < 100000; pages++) {
		uint32_t count = 0, flags = 0;
		uint64_t next = 0;
		CF_ST_FATAL(c, cf_list(c, cursor, page, ext, &count, &next, &flags), PRB_ST_OK);
		CF_CHECK(count > 0 || (flags & PRB_LIST_END), "count 0 without END");
		CF_CHECK(count > 0 || next == cursor, "count 0 but next_cursor moved");
		for (uint32_t i = 0; i < count; i++) {
			const struct prb_extent *e = &ext[i];
			uint64_t e_end = e->addr + ((uint64_t)e->blocks << PRB_BLOCK_SHIFT);
			CF_CHECK(e->addr >= cursor, "extent at 0x%llx before cursor 0x%llx",
				 (unsigned long long)e->addr, (unsigned long long)cursor);
			CF_CHECK((cf_brick()->features & PRB_FEAT_TIERING) ||
					 e->state == PRB_EXTENT_RESIDENT,
				 "extent state %u on a brick without a tier", e->state);
			if (i > 0) {
				uint64_t p_end = ext[i - 1].addr +
						 ((uint64_t)ext[i - 1].blocks << PRB_BLOCK_SHIFT);
				CF_CHECK(e->addr >= p_end, "extents out of order or overlapping");
				CF_CHECK(e->addr != p_end || e->state != ext[i - 1].state,
					 "adjacent extents with the same state not coalesced");
			}
			if (i + 1 == count)
				CF_CHECK(next == e_end,
					 "next_cursor 0x%llx, end of last extent 0x%llx",
					 (unsigned long long)next, (unsigned long long)e_end);
			if (e->addr >= end)
				goto out_free;
			uint64_t first = (e->addr - cf_addr(0)) >> PRB_BLOCK_SHIFT;
			if (n > 0 && runs[n - 1].first + runs[n - 1].blocks == first)
				runs[n - 1].blocks += e->blocks; /* joined across pages */
			else if (n < max_runs)
				runs[n++] = (struct run){first, e->blocks};
		}
		if (count == 0 || (flags & PRB_LIST_END) || next >= end)
			break;
		CF_CHECK_FATAL(next > cursor, "next_cursor did not advance");
		cursor = next;
	}
out_free:
	return n;
}

/* Allocate the runs of `want`, each with single-block ALLOCs or one range ALLOC. */
static void alloc_runs(struct cf_conn *c, const struct run *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i % 2) {
			CF_SETUP(CF_REQ_ALLOC)
				CF_ST_FATAL(c,
					    cf_alloc(c, cf_addr(want[i].first),
						     (uint32_t)want[i].blocks),
					    PRB_ST_OK);
		} else {
			for (uint64_t b = 0; b < want[i].blocks; b++)
				CF_SETUP(CF_REQ_ALLOC)
					CF_ST_FATAL(c, cf_alloc(c, cf_addr(want[i].first + b), 1),
						    PRB_ST_OK);
		}
	}
}

/* Compare the runs LIST returned with the ones allocated. */
static void check_runs(const struct run *got, size_t ngot, const struct run *want, size_t nwant,
		       const char *how)
{
	CF_CHECK(ngot == nwant, "%s: %zu runs listed, %zu allocated", how, ngot, nwant);
	for (size_t i = 0; i < ngot && i < nwant; i++)
		CF_CHECK(got[i].first == want[i].first && got[i].blocks == want[i].blocks,
			 "%s: run %zu is %llu+%llu, expected %llu+%llu", how, i,
			 (unsigned long long)got[i].first, (unsigned long long)got[i].blocks,
			 (unsigned long long)want[i].first, (unsigned long long)want[i].blocks);
}

static const struct run layout[] = {{0, 3}, {5, 1}, {7, 3}, {11, 1}, {13, 6}};
#define NLAYOUT (sizeof(layout) / sizeof(layout[0]))

static void basic_coalesced(void)
{
	struct cf_conn *c = cf_connect();
	struct run got[MAX_RUNS];

	CF_CHECK(list_region(c, 0, 16, got, MAX_RUNS) == 0, "empty region lists extents");
	alloc_runs(c, layout, NLAYOUT);
	size_t n = list_region(c, 0, PRB_MAX_LIST_EXTENTS, got, MAX_RUNS);
	check_runs(got, n, layout, NLAYOUT, "one page");
}

static void paginate(void)
{
	struct cf_conn *c = cf_connect();
	struct run got[MAX_RUNS];

	alloc_runs(c, layout, NLAYOUT);
	for (uint32_t page = 1; page <= 3; page++) {
		char how[32];
		snprintf(how, sizeof(how), "pages of %u", page);
		size_t n = list_region(c, 0, page, got, MAX_RUNS);
		check_runs(got, n, layout, NLAYOUT, how);
	}
}

/* The last extent of a response, and the last allocated run, must be there. */
static void last_extent(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_extent ext[8];
	uint32_t count = 0, flags = 0;
	uint64_t next;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(2), 1), PRB_ST_OK);
	CF_ST_FATAL(c, cf_list(c, cf_addr(0), 2, ext, &count, &next, &flags), PRB_ST_OK);
	CF_CHECK(count == 2, "LIST of 2 separate blocks, max 2: %u extents", count);
	CF_ST_FATAL(c, cf_list(c, cf_addr(2), 8, ext, &count, &next, &flags), PRB_ST_OK);
	CF_CHECK(count >= 1 && ext[0].addr == cf_addr(2) && ext[0].blocks == 1,
		 "LIST from the last allocated block does not return it");
}

static void cursor_straddle(void)
{
	struct cf_conn *c = cf_connect();
	struct run got[MAX_RUNS];

	alloc_runs(c, layout, NLAYOUT);
	size_t n = list_region(c, 1, 16, got, MAX_RUNS);
	CF_CHECK(n >= 1 && got[0].first == 1 && got[0].blocks == 2,
		 "LIST from inside run 0..2: first run %llu+%llu, expected 1+2",
		 n ? (unsigned long long)got[0].first : 0ULL,
		 n ? (unsigned long long)got[0].blocks : 0ULL);
	n = list_region(c, 15, 16, got, MAX_RUNS);
	CF_CHECK(n >= 1 && got[0].first == 15 && got[0].blocks == 4,
		 "LIST from inside run 13..18: first run %llu+%llu, expected 15+4",
		 n ? (unsigned long long)got[0].first : 0ULL,
		 n ? (unsigned long long)got[0].blocks : 0ULL);
}

static void end_flag(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_extent ext[4];
	uint32_t count = 9, flags = 0;
	uint64_t next = 1, top = ~(uint64_t)0 - PRB_BLOCK_SIZE + 1;

	/* The top block: nothing at or after it, unless someone else uses exactly it. */
	if (cf_allocated_range(c, top, 1) != 0) {
		cf_skip("the last block of the address space is in use: cannot test END there");
		return;
	}
	CF_ST_FATAL(c, cf_list(c, top, 4, ext, &count, &next, &flags), PRB_ST_OK);
	CF_CHECK(count == 0 && (flags & PRB_LIST_END) && next == top,
		 "LIST past every block: count %u flags 0x%x next_cursor 0x%llx", count, flags,
		 (unsigned long long)next);
	/* The top block allocated: listed, END set, next_cursor wraps to 0. */
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, top, 1), PRB_ST_OK);
	CF_ST(c, cf_list(c, top, 4, ext, &count, &next, &flags), PRB_ST_OK);
	CF_CHECK(count == 1 && ext[0].addr == top && ext[0].blocks == 1, "top block not listed");
	CF_CHECK((flags & PRB_LIST_END) && next == 0,
		 "last extent ends at 2^64: END 0x%x, next_cursor 0x%llx (expected END and 0)",
		 flags, (unsigned long long)next);
	CF_SETUP(CF_REQ_FREE)
		CF_ST(c, cf_free(c, top, 1, 0), PRB_ST_OK);
}

/*
 * Extents at the top of the address space, for tests of END: nothing of anyone else can follow
 * them. Extent i of n is the single block 2 * (n - i) blocks below the top, so the last one
 * ends one block below 2^64 (END must come from the emptiness after it, not from 2^64).
 */
static uint64_t top_extent(uint32_t n, uint32_t i)
{
	return cf_top_addr(2 * ((uint64_t)n - i));
}

/* One LIST page as the tests below see it, from libprb or from the raw sender. */
struct page {
	uint32_t count;
	uint64_t addr[PRB_MAX_LIST_EXTENTS];
	uint64_t blocks[PRB_MAX_LIST_EXTENTS];
	uint64_t next;
	bool end;
};

/* Where pages come from: a libprb session (asynchronous LIST) or a raw connection. */
struct lister {
	struct prb_session *s;
	struct cf_conn *c;
	struct prb_list_extent *lext; /* libprb's page buffer */
	struct prb_extent *ext;	      /* the raw sender's */
};

/* Fetch one page of at most \p max extents from \p cursor. \return false when none came. */
static bool fetch_page(struct lister *l, uint64_t cursor, uint32_t max, struct page *p)
{
	uint32_t flags = 0;

	if (l->c) {
		if (!CF_ST(l->c, cf_list(l->c, cursor, max, l->ext, &p->count, &p->next, &flags),
			   PRB_ST_OK))
			return false;
		for (uint32_t i = 0; i < p->count; i++) {
			p->addr[i] = l->ext[i].addr;
			p->blocks[i] = l->ext[i].blocks;
		}
		p->end = flags & PRB_LIST_END;
		return true;
	}
	struct prb_list_page lp;
	struct prb_completion done;
	CF_RC_FATAL(prb_async_list(l->s, cursor, l->lext, max, &lp, 0), 0);
	CF_CHECK_FATAL(prb_reap(l->s, &done, 1, 1, -1) == 1, "no answer to LIST");
	if (!CF_CHECK(done.result >= 0, "LIST from 0x%llx: %s", (unsigned long long)cursor,
		      prb_strerror(done.result)))
		return false;
	p->count = lp.count;
	for (uint32_t i = 0; i < p->count; i++) {
		p->addr[i] = l->lext[i].addr;
		p->blocks[i] = l->lext[i].blocks;
	}
	p->next = lp.next_cursor;
	p->end = lp.end != 0;
	return true;
}

/*
 * List the top extents from extent \p first with pages of \p max: every extent once, in order,
 * next_cursor the end of each page's last extent, END on the page that lists the last one and
 * on no other. \return the first page's count.
 */
static uint32_t walk_top(struct lister *l, uint32_t n, uint32_t first, uint32_t max, struct page *p,
			 const char *how)
{
	uint64_t cursor = top_extent(n, first);
	uint32_t next_index = first, first_count = 0;

	for (uint32_t pages = 0; pages <= n; pages++) {
		if (!fetch_page(l, cursor, max, p))
			return first_count;
		if (pages == 0)
			first_count = p->count;
		CF_CHECK(p->count <= max, "%s: %u extents for max_extents %u", how, p->count, max);
		for (uint32_t i = 0; i < p->count; i++, next_index++) {
			if (!CF_CHECK(next_index < n && p->addr[i] == top_extent(n, next_index) &&
					      p->blocks[i] == 1,
				      "%s: extent %u of the page is %llu block(s) at 0x%llx, "
				      "expected "
				      "extent %u of %u at 0x%llx",
				      how, i, (unsigned long long)p->blocks[i],
				      (unsigned long long)p->addr[i], next_index, n,
				      (unsigned long long)top_extent(n, next_index < n ? next_index
										       : 0)))
				return first_count;
		}
		uint64_t want_next = p->count ? p->addr[p->count - 1] + PRB_BLOCK_SIZE : cursor;
		CF_CHECK(p->next == want_next, "%s: next_cursor 0x%llx, expected 0x%llx", how,
			 (unsigned long long)p->next, (unsigned long long)want_next);
		if (!CF_CHECK(p->end == (next_index == n),
			      "%s: a page of %u extents, %u of %u listed, %s END", how, p->count,
			      next_index, n, p->end ? "has" : "lacks"))
			return first_count;
		if (p->end || p->count == 0)
			break;
		cursor = p->next;
	}
	CF_CHECK(next_index == n, "%s: %u of %u extents listed", how, next_index - first,
		 n - first);
	return first_count;
}

/*
 * ALLOC (or FREE) the n top extents (single blocks, every other one), queue depth at a time:
 * pipelined, as a thousand round trips would be slow.
 */
static void top_extents(struct prb_session *s, uint32_t n, bool alloc)
{
	struct prb_completion cq[64];

	for (uint32_t queued = 0, done = 0; done < n;) {
		int ret = -EAGAIN;
		if (queued < n)
			ret = alloc ? prb_async_alloc(s, top_extent(n, queued), 1, queued)
				    : prb_async_free(s, top_extent(n, queued), 1, 0, queued);
		if (ret == 0) {
			queued++;
			continue;
		}
		CF_RC_FATAL(ret, -EAGAIN);
		int got = prb_reap(s, cq, 1, 64, -1);
		CF_CHECK_FATAL(got > 0, "%s of the top extents: no completion",
			       alloc ? "ALLOC" : "FREE");
		for (int i = 0; i < got; i++)
			CF_SETUP(alloc ? CF_REQ_ALLOC : CF_REQ_FREE)
				CF_RC_FATAL(cq[i].result, 0);
		done += (uint32_t)got;
	}
}

/*
 * Pages that end exactly full: with pages of 1, 2, 3, 4, 6 and 12 extents over 12 extents the
 * last page is full and must still say END; no earlier page may. libprb's asynchronous LIST,
 * so it runs over both bindings.
 */
static void page_exactly_full(void)
{
	enum { N = 12 };
	const uint32_t maxes[] = {1, 2, 3, 4, 6, 12, 5, 7, 11, 13};
	struct prb_session *s = cf_session();
	struct page *p = cf_mem(sizeof(*p));
	struct lister l = {.s = s, .lext = cf_mem(PRB_MAX_LIST_EXTENTS * sizeof(*l.lext))};
	char how[64];

	if (!cf_use_top(s, 2 * N + 1))
		return;
	top_extents(s, N, true);
	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		snprintf(how, sizeof(how), "pages of %u", maxes[i]);
		walk_top(&l, N, 0, maxes[i], p, how);
	}
	/* From inside: the remaining k extents in one page of exactly k. */
	for (uint32_t k = 1; k <= N; k += 5) {
		snprintf(how, sizeof(how), "the last %u extents, max_extents %u", k, k);
		walk_top(&l, N, N - k, k, p, how);
	}
}

/*
 * LIST under a small initiator max_pdu (the smallest, and with both digests), with more extents
 * than fit in one response: each response fits the max_pdu we announced (the receive path fails
 * any larger PDU), pages chain to every extent once, END only on the last; then from the
 * cursors where the rest fills exactly one and exactly two of the brick's pages.
 */
static void pdu_small_pages(void)
{
	enum { N = 1100 };
	const struct {
		uint32_t max_pdu, features;
	} configs[] = {
		{PRB_MIN_MAX_PDU, 0},
		{PRB_MIN_MAX_PDU, PRB_FEAT_HDGST | PRB_FEAT_DDGST},
		{PRB_MIN_MAX_PDU + PRB_HDGST_SIZE + PRB_DDGST_SIZE,
		 PRB_FEAT_HDGST | PRB_FEAT_DDGST},
		{PRB_MIN_MAX_PDU + 1, PRB_FEAT_HDGST},
	};
	struct prb_session *s = cf_session();
	struct page *p = cf_mem(sizeof(*p));
	struct lister l = {.ext = cf_mem(PRB_MAX_LIST_EXTENTS * sizeof(*l.ext))};
	char how[96];

	if (!cf_use_top(s, 2 * N + 1))
		return;
	top_extents(s, N, true);
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		struct prb_hello_req req = {.min_version = PRB_VERSION,
					    .max_version = PRB_VERSION,
					    .queue_depth = 4,
					    .features = configs[i].features,
					    .max_pdu = configs[i].max_pdu};
		if ((cf_brick()->features & req.features) != req.features) {
			cf_note("LIST with max_pdu %u and digests 0x%x (not granted)", req.max_pdu,
				req.features);
			continue;
		}
		l.c = cf_open();
		CF_ST_FATAL(l.c, cf_hello(l.c, &req), PRB_ST_OK);
		snprintf(how, sizeof(how), "max_pdu %u, digests 0x%x", req.max_pdu, req.features);
		uint32_t page = walk_top(&l, N, 0, PRB_MAX_LIST_EXTENTS, p, how);
		if (!CF_CHECK(page > 0 && page < N / 2, "%s: the first page holds %u of %u extents",
			      how, page, N))
			continue;
		snprintf(how, sizeof(how), "max_pdu %u, digests 0x%x, the last %u extents",
			 req.max_pdu, req.features, page);
		walk_top(&l, N, N - page, PRB_MAX_LIST_EXTENTS, p, how);
		snprintf(how, sizeof(how), "max_pdu %u, digests 0x%x, the last %u extents",
			 req.max_pdu, req.features, 2 * page);
		walk_top(&l, N, N - 2 * page, PRB_MAX_LIST_EXTENTS, p, how);
		cf_disconnect(l.c);
	}
	/* A new session: s idled while the raw connections listed. */
	top_extents(cf_session(), N, false);
}

static void args(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_extent ext[1];
	uint32_t count, flags;
	uint64_t next;
	uint8_t buf[64];
	union prb_msg m = {.list_req = {.cursor = cf_addr(0), .max_extents = 1}}, rsp;

	CF_ST(c, cf_list(c, cf_addr(0) + 4096, 1, ext, &count, &next, &flags), PRB_ST_EINVAL);
	CF_ST(c, cf_list(c, cf_addr(0), 0, ext, &count, &next, &flags), PRB_ST_EINVAL);
	m.hdr.tag = 3;
	int len = cf_build(c, PRB_MSG_LIST_REQ, &m, NULL, 0, buf, sizeof(buf));
	CF_CHECK_FATAL(len == PRB_LIST_REQ_SIZE, "encode");
	cf_put_le(buf, PRB_LIST_REQ_MAX_EXTENTS_OFFSET, PRB_LIST_REQ_MAX_EXTENTS_SIZE,
		  PRB_MAX_LIST_EXTENTS + 1);
	CF_CHECK_FATAL(cf_send_raw(c, buf, (size_t)len) == 0, "send");
	CF_ST(c, cf_recv_rsp(c, 3, &rsp), PRB_ST_EINVAL);
}

/* LIST while another connection allocates and frees: stable blocks appear exactly once. */
struct churn {
	struct cf_conn *c;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	int errors;
};

/* Stop the allocating thread (also after a fatal check ended the test). */
static void churn_stop(void *arg)
{
	struct churn *ch = arg;

	if (!ch->running)
		return;
	atomic_store(&ch->stop, true);
	pthread_join(ch->thread, NULL);
	ch->running = false;
}

/* Thread: allocate and free the odd blocks until told to stop. */
static void *churn_main(void *arg)
{
	struct churn *ch = arg;

	/* Blocks 1, 3, 5, ... of 0..39 come and go; even blocks are stable. */
	bool on[20] = {false};
	for (uint64_t round = 0; !atomic_load(&ch->stop); round++) {
		size_t i = (size_t)((round * 7) % 20);
		uint64_t addr = cf_addr(1 + 2 * i);
		int st = on[i] ? cf_free(ch->c, addr, 1, 0) : cf_alloc(ch->c, addr, 1);
		if (st != PRB_ST_OK)
			ch->errors++;
		on[i] = !on[i];
	}
	return NULL;
}

static void concurrent_alloc(void)
{
	struct cf_conn *c = cf_connect();
	struct churn *ch = cf_mem(sizeof(*ch));
	struct run *got = cf_mem(256 * sizeof(*got));
	uint8_t seen[40];

	for (uint64_t b = 0; b < 40; b += 2)
		CF_SETUP(CF_REQ_ALLOC)
			CF_ST_FATAL(c, cf_alloc(c, cf_addr(b), 1), PRB_ST_OK);
	ch->c = cf_connect();
	atomic_init(&ch->stop, false);
	CF_CHECK_FATAL(pthread_create(&ch->thread, NULL, churn_main, ch) == 0, "pthread_create");
	ch->running = true;
	cf_defer(churn_stop, ch);
	for (int pass = 0; pass < 20; pass++) {
		size_t n = list_region(c, 0, 3, got, 256);
		for (size_t i = 0; i < 40; i++)
			seen[i] = 0;
		for (size_t i = 0; i < n; i++)
			for (uint64_t b = got[i].first; b < got[i].first + got[i].blocks && b < 40;
			     b++)
				seen[b]++;
		for (uint64_t b = 0; b < 40; b += 2)
			CF_CHECK(seen[b] == 1, "pass %d: stable block %llu listed %u times", pass,
				 (unsigned long long)b, seen[b]);
	}
	churn_stop(ch);
	CF_SETUP(CF_REQ_ALLOC " " CF_REQ_FREE)
		CF_CHECK(ch->errors == 0, "the allocating connection got %d errors", ch->errors);
}

const struct cf_test cf_tests_list[] = {
	{"List.Basic.Coalesced", basic_coalesced,
	 "PRB-LIST-4 PRB-LIST-5 PRB-LIST-6 PRB-LIST-9 PRB-LIST-12 PRB-PDU-4 PRB-TIER-5", true, 0, 0,
	 "runs made by single and range ALLOCs come back as coalesced extents"},
	{"List.Basic.Paginate", paginate, "PRB-LIST-2 PRB-LIST-8", true, 0, 0,
	 "pages of 1, 2, 3 extents: next_cursor chains them to the same runs"},
	{"List.Basic.LastExtent", last_extent, "PRB-LIST-3 PRB-LIST-9", true, 0, 0,
	 "the last extent of a full page and the last allocated block are listed"},
	{"List.Cursor.Straddle", cursor_straddle, "PRB-LIST-7", true, 0, 0,
	 "a run that straddles the cursor is reported from the cursor"},
	{"List.Cursor.End", end_flag, "PRB-LIST-8 PRB-LIST-10 PRB-LIST-11", true, 0, 0,
	 "nothing after the cursor: count 0, END, next_cursor = cursor; top block listed"},
	{"List.Page.ExactlyFull", page_exactly_full, "PRB-LIST-2 PRB-LIST-8 PRB-LIST-9 PRB-LIST-10",
	 true, 0, 0,
	 "pages of 1 to 13 extents over 12 at the top of the space: END on the last page, also "
	 "when it is exactly full, and on no other"},
	{"List.Pdu.SmallPages", pdu_small_pages,
	 "PRB-LIST-2 PRB-LIST-8 PRB-LIST-9 PRB-LIST-10 PRB-PDU-6", true, CF_NEEDS_BLOCKS(1100), 0,
	 "1100 extents listed by an initiator with max_pdu 8192 (and 8193, 8204, with digests): "
	 "every response fits, pages chain, END right also on exactly full pages"},
	{"List.Args.Invalid", args, "PRB-LIST-1", true, 0, 0,
	 "unaligned cursor, max_extents 0 or above 4096: EINVAL"},
	{"List.Concurrent.Allocate", concurrent_alloc, "PRB-LIST-5 PRB-LIST-9", true, 0, 0,
	 "while another connection allocates and frees, stable blocks appear exactly once"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
