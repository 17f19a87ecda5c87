/* SPDX-License-Identifier: Apache-2.0 */
/* LIST: coalesced extents, cursors, pagination, END, arguments, concurrent changes. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

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
	{"List.Args.Invalid", args, "PRB-LIST-1", true, 0, 0,
	 "unaligned cursor, max_extents 0 or above 4096: EINVAL"},
	{"List.Concurrent.Allocate", concurrent_alloc, "PRB-LIST-5 PRB-LIST-9", true, 0, 0,
	 "while another connection allocates and frees, stable blocks appear exactly once"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
