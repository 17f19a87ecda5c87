/* SPDX-License-Identifier: Apache-2.0 */
/* ALLOC: alignment, EEXIST, ranges (all or none), bounds, zeroed blocks, ENOSPC. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"

static void basic_single(void)
{
	struct prb_session *s = cf_session();

	CF_RC(prb_alloc(s, cf_addr(0), 1), 0);
	CF_CHECK(cf_session_allocated(s, 0, 1) == 1, "allocated block not in LIST");
	CF_CHECK(cf_session_allocated(s, 1, 1) == 0, "neighbour block allocated too");
}

static void basic_eexist(void)
{
	struct prb_session *a = cf_session(), *b = cf_session();

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(3), 1), 0);
	CF_RC(prb_alloc(a, cf_addr(3), 1), -EEXIST);
	CF_RC(prb_alloc(b, cf_addr(3), 1), -EEXIST);
}

/* Map the block at \p addr and compare all of it with \p want (NULL: zeros). */
static void check_block(struct prb_session *s, uint64_t addr, const uint8_t *want, uint8_t *back,
			const char *what)
{
	struct prb_mapping *m = cf_session_map(s, addr, PRB_MAPPING_RO);

	CF_SETUP(CF_REQ_READ)
		CF_RC_FATAL(prb_read(m, 0, back, PRB_BLOCK_SIZE), 0);
	for (uint32_t i = 0; i < PRB_BLOCK_SIZE; i++) {
		if (back[i] != (want ? want[i] : 0)) {
			CF_CHECK(false, "%s: block at 0x%llx, byte %u is 0x%02x, expected 0x%02x",
				 what, (unsigned long long)addr, i, back[i], want ? want[i] : 0);
			break;
		}
	}
	CF_SETUP(CF_REQ_UNMAP)
		CF_RC(prb_unmap(&m), 0);
}

/* Fill every byte of the block at \p addr with the pattern of \p seed. */
static void fill_block(struct prb_session *s, uint64_t addr, uint8_t *buf, uint64_t seed)
{
	struct prb_mapping *m = cf_session_map(s, addr, PRB_MAPPING_RW);

	cf_pattern(buf, PRB_BLOCK_SIZE, seed);
	CF_SETUP(CF_REQ_WRITE)
		CF_RC_FATAL(prb_write(m, 0, buf, PRB_BLOCK_SIZE), 0);
	CF_SETUP(CF_REQ_FLUSH)
		CF_RC_FATAL(prb_flush(m, 0, PRB_BLOCK_SIZE), 0);
	CF_SETUP(CF_REQ_UNMAP)
		CF_RC_FATAL(prb_unmap(&m), 0);
}

static void basic_zeroed(void)
{
	struct prb_session *s = cf_session();
	uint8_t *buf = cf_mem(PRB_BLOCK_SIZE);

	/* Write a block, free it, allocate again: the new block reads as zeros. */
	for (int round = 0; round < 2; round++) {
		CF_SETUP(CF_REQ_ALLOC)
			CF_RC_FATAL(prb_alloc(s, cf_addr(0), 1), 0);
		check_block(s, cf_addr(0), NULL, buf,
			    round ? "a block written, freed and allocated again"
				  : "a newly allocated block");
		fill_block(s, cf_addr(0), buf, 77);
		CF_SETUP(CF_REQ_FREE)
			CF_RC_FATAL(prb_free(s, cf_addr(0), 1, 0), 0);
	}
}

/*
 * A range freed in one FREE reads as zeros in every byte of every block when allocated again,
 * in one range and block by block (whichever slots the brick hands out next).
 */
static void range_zeroed(void)
{
	enum { N = 3 };
	struct prb_session *s = cf_session();
	uint8_t *buf = cf_mem(PRB_BLOCK_SIZE), *back = cf_mem(PRB_BLOCK_SIZE);

	for (int round = 0; round < 2; round++) {
		CF_SETUP(CF_REQ_ALLOC)
			CF_RC_FATAL(prb_alloc(s, cf_addr(0), N), 0);
		for (uint64_t b = 0; b < N; b++)
			fill_block(s, cf_addr(b), buf, 100 + b);
		CF_SETUP(CF_REQ_FREE)
			CF_RC_FATAL(prb_free(s, cf_addr(0), N, 0), 0);
		if (round == 0) {
			CF_RC_FATAL(prb_alloc(s, cf_addr(0), N), 0);
		} else {
			for (uint64_t b = 0; b < N; b++)
				CF_RC_FATAL(prb_alloc(s, cf_addr(N - 1 - b), 1), 0);
		}
		for (uint64_t b = 0; b < N; b++)
			check_block(s, cf_addr(b), NULL, back,
				    "a block of a freed range, allocated again");
		CF_SETUP(CF_REQ_FREE)
			CF_RC_FATAL(prb_free(s, cf_addr(0), N, 0), 0);
	}
}

/*
 * The runs of allocated blocks (block numbers relative to the region, up to 64) LIST gives
 * for [first, first + n): adjacent extents are joined (a brick with a tier splits a run where
 * RESIDENT and TIERED blocks meet).
 */
static size_t runs_in(struct prb_session *s, uint64_t first, uint64_t n, uint64_t (*runs)[2])
{
	struct prb_list_extent e;
	struct prb_list_iter *it = NULL;
	size_t got = 0;
	int ret;

	CF_SETUP(CF_REQ_LIST)
		CF_RC_FATAL(prb_list_new(s, cf_addr(first), &it), 0);
	while (got < 64 && (ret = prb_list_next(it, &e)) == 1 && e.addr < cf_addr(first + n)) {
		uint64_t block = (e.addr - cf_addr(0)) >> PRB_BLOCK_SHIFT;
		if (got > 0 && runs[got - 1][0] + runs[got - 1][1] == block) {
			runs[got - 1][1] += e.blocks;
			continue;
		}
		runs[got][0] = block;
		runs[got][1] = e.blocks;
		got++;
	}
	prb_list_delete(&it);
	return got;
}

/* LIST of [first, first + n) gives exactly the runs \p want (block, count; \p nwant of them). */
static void check_runs_in(struct prb_session *s, uint64_t first, uint64_t n,
			  const uint64_t (*want)[2], size_t nwant, const char *after)
{
	uint64_t runs[64][2];
	size_t got = runs_in(s, first, n, runs);

	for (size_t i = 0; i < got || i < nwant; i++) {
		if (i < got && i < nwant && runs[i][0] == want[i][0] && runs[i][1] == want[i][1])
			continue;
		CF_CHECK(false, "after %s: run %zu is %s%llu+%llu, expected %s%llu+%llu", after, i,
			 i < got ? "" : "(none) ", i < got ? (unsigned long long)runs[i][0] : 0ULL,
			 i < got ? (unsigned long long)runs[i][1] : 0ULL,
			 i < nwant ? "" : "(none) ",
			 i < nwant ? (unsigned long long)want[i][0] : 0ULL,
			 i < nwant ? (unsigned long long)want[i][1] : 0ULL);
		return;
	}
}

/*
 * ALLOC, FREE, LIST and data across block-number boundaries where an index built of 64-bit
 * words, pages or tree levels changes node: 64, 512, 4096, 32768 and 262144 (the region starts
 * at a multiple of 2^30 blocks). Around each boundary B: the odd blocks of [B - 62, B + 64) one
 * by one (each its own extent: B - 1 ends a 64-bit word, B + 63 the next), then the even ones
 * (one extent of 126, which fits a 256 MiB brick), a FREE and an ALLOC
 * of [B - 1, B + 1), a FREE that overlaps a free block (ENOENT, nothing freed), the blocks on
 * both sides written and read whole, then one FREE and one ALLOC of all 126.
 */
static void layout_boundaries(void)
{
	enum { SPAN = 126 };
	const uint64_t bounds[] = {64, 512, 4096, 32768, 262144};
	struct prb_session *s = cf_session();
	uint8_t *before = cf_mem(PRB_BLOCK_SIZE), *after = cf_mem(PRB_BLOCK_SIZE);
	uint8_t *back = cf_mem(PRB_BLOCK_SIZE);
	uint64_t want[SPAN / 2][2];
	char what[96];

	for (size_t k = 0; k < sizeof(bounds) / sizeof(bounds[0]); k++) {
		const uint64_t b = bounds[k], lo = b - (SPAN - 64);

		for (uint64_t i = lo + 1; i < b + 64; i += 2) {
			CF_SETUP(CF_REQ_ALLOC)
				CF_RC_FATAL(prb_alloc(s, cf_addr(i), 1), 0);
			want[(i - lo) / 2][0] = i;
			want[(i - lo) / 2][1] = 1;
		}
		snprintf(what, sizeof(what), "ALLOC of the odd blocks around %llu",
			 (unsigned long long)b);
		check_runs_in(s, lo, SPAN, (const uint64_t(*)[2])want, SPAN / 2, what);
		for (uint64_t i = lo; i < b + 64; i += 2)
			CF_SETUP(CF_REQ_ALLOC)
				CF_RC_FATAL(prb_alloc(s, cf_addr(i), 1), 0);
		const uint64_t whole[1][2] = {{lo, SPAN}};
		snprintf(what, sizeof(what), "ALLOC of all %u blocks around %llu", SPAN,
			 (unsigned long long)b);
		check_runs_in(s, lo, SPAN, whole, 1, what);
		CF_RC(prb_free(s, cf_addr(b - 1), 2, 0), 0);
		const uint64_t split[2][2] = {{lo, b - 1 - lo}, {b + 1, 63}};
		snprintf(what, sizeof(what), "FREE of blocks %llu and %llu",
			 (unsigned long long)b - 1, (unsigned long long)b);
		check_runs_in(s, lo, SPAN, split, 2, what);
		CF_RC(prb_free(s, cf_addr(b - 2), 4, 0), -ENOENT);
		check_runs_in(s, lo, SPAN, split, 2, "a FREE refused with ENOENT");
		CF_RC(prb_alloc(s, cf_addr(b - 1), 2), 0);
		snprintf(what, sizeof(what), "ALLOC of blocks %llu and %llu again",
			 (unsigned long long)b - 1, (unsigned long long)b);
		check_runs_in(s, lo, SPAN, whole, 1, what);
		/* The blocks on both sides hold their own bytes. */
		fill_block(s, cf_addr(b - 1), before, b);
		fill_block(s, cf_addr(b), after, b + 1);
		check_block(s, cf_addr(b - 1), before, back, "the block below a boundary");
		check_block(s, cf_addr(b), after, back, "the block above a boundary");
		CF_RC(prb_free(s, cf_addr(lo), SPAN, 0), 0);
		check_runs_in(s, lo, SPAN, want, 0, "FREE of all blocks around the boundary");
		CF_RC(prb_alloc(s, cf_addr(lo), SPAN), 0);
		check_runs_in(s, lo, SPAN, whole, 1, "ALLOC of all blocks around it in one range");
		check_block(s, cf_addr(b - 1), NULL, back, "a block freed and allocated again");
		CF_SETUP(CF_REQ_FREE)
			CF_RC_FATAL(prb_free(s, cf_addr(lo), SPAN, 0), 0);
	}
}

static void align_unaligned(void)
{
	struct cf_conn *c = cf_connect();
	static const uint64_t offsets[] = {1, 4096, PRB_BLOCK_SIZE / 2, PRB_BLOCK_SIZE - 1};

	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
		CF_ST(c, cf_alloc(c, cf_addr(4) + offsets[i], 1), PRB_ST_EINVAL);
	CF_CHECK(cf_allocated(c, 4, 1) == 0 && cf_allocated(c, 5, 1) == 0,
		 "an unaligned ALLOC allocated something");
}

static void count_bounds(void)
{
	struct cf_conn *c = cf_connect();

	CF_ST(c, cf_alloc(c, cf_addr(0), 0), PRB_ST_EINVAL);
	CF_ST(c, cf_alloc(c, cf_addr(0), PRB_MAX_RANGE_BLOCKS + 1), PRB_ST_EINVAL);
	CF_ST(c, cf_alloc(c, cf_addr(0), 0xFFFFFFFFU), PRB_ST_EINVAL);
	CF_CHECK(cf_allocated(c, 0, 1) == 0, "a refused ALLOC allocated something");
}

static void range_overflow(void)
{
	struct cf_conn *c = cf_connect();
	uint64_t last = ~(uint64_t)0 - PRB_BLOCK_SIZE + 1; /* the last block of the space */

	/* addr + blocks * 2 MiB passes 2^64. */
	CF_ST(c, cf_alloc(c, last, 2), PRB_ST_EINVAL);
	CF_ST(c, cf_alloc(c, last - PRB_BLOCK_SIZE, PRB_MAX_RANGE_BLOCKS), PRB_ST_EINVAL);
	/* Nothing may have been allocated at the top (free it if a faulty brick did). */
	if (!CF_CHECK(cf_allocated_range(c, last, 1) == 0,
		      "refused ALLOC at the top of the space allocated"))
		cf_free(c, last, 1, PRB_FREE_FORCE);
}

/* Extents of [addr, 2^64) through libprb: up to \p max into \p out. \return how many. */
static size_t list_to_top(struct prb_session *s, uint64_t addr, struct prb_list_extent *out,
			  size_t max)
{
	struct prb_list_iter *it = NULL;
	size_t n = 0;
	int ret;

	CF_SETUP(CF_REQ_LIST)
		CF_RC_FATAL(prb_list_new(s, addr, &it), 0);
	while (n < max && (ret = prb_list_next(it, &out[n])) == 1)
		n++;
	prb_list_delete(&it);
	return n;
}

/* The top of the address space holds exactly the \p n top blocks \p first .. (counted down). */
static void check_top(struct prb_session *s, uint64_t first, uint64_t n, const char *after)
{
	struct prb_list_extent e[4];
	size_t got = list_to_top(s, cf_top_addr(8), e, 4);

	if (n == 0) {
		CF_CHECK(got == 0,
			 "after %s: %zu extents at the top, the first %llu blocks at 0x%llx", after,
			 got, got ? (unsigned long long)e[0].blocks : 0ULL,
			 got ? (unsigned long long)e[0].addr : 0ULL);
		return;
	}
	CF_CHECK(got == 1 && e[0].addr == cf_top_addr(first) && e[0].blocks == n,
		 "after %s: %zu extents at the top, the first %llu blocks at 0x%llx; expected %llu "
		 "at 0x%llx",
		 after, got, got ? (unsigned long long)e[0].blocks : 0ULL,
		 got ? (unsigned long long)e[0].addr : 0ULL, (unsigned long long)n,
		 (unsigned long long)cf_top_addr(first));
}

/*
 * The top of the 64-bit space: ranges that end exactly at 2^64 are valid for ALLOC, FREE and
 * LIST (next_cursor wraps to 0 with END), one block more is EINVAL, and the last block's last
 * bytes are read and written like any other.
 */
static void range_top(void)
{
	struct prb_session *s = cf_session();
	struct prb_list_page page;
	struct prb_list_extent e[2];
	struct prb_completion done;
	uint8_t data[4096], back[4096];

	if (!cf_use_top(s, 8))
		return;
	CF_RC(prb_alloc(s, cf_top_addr(4), 4), 0);
	check_top(s, 4, 4, "ALLOC of the 4 blocks that end at 2^64");
	/* One block more passes 2^64: EINVAL, before EEXIST and ENOENT (libprb refuses such a
	 * range itself: the raw sender asks the brick). */
	if (cf_raw_available()) {
		struct cf_conn *c = cf_connect();
		CF_ST(c, cf_alloc(c, cf_top_addr(4), 5), PRB_ST_EINVAL);
		CF_ST(c, cf_alloc(c, cf_top_addr(1), 2), PRB_ST_EINVAL);
		CF_ST(c, cf_free(c, cf_top_addr(4), 5, 0), PRB_ST_EINVAL);
		CF_ST(c, cf_free(c, cf_top_addr(1), 2, PRB_FREE_FORCE), PRB_ST_EINVAL);
		check_top(s, 4, 4, "refused ALLOC and FREE passing 2^64");
	} else {
		cf_note("ALLOC and FREE passing 2^64 (libprb refuses them itself; the raw sender "
			"speaks TCP only)");
	}
	/* One page from the last extent: it ends at 2^64, so END and next_cursor 0. */
	CF_RC_FATAL(prb_async_list(s, cf_top_addr(4), e, 2, &page, 0), 0);
	CF_CHECK_FATAL(prb_reap(s, &done, 1, 1, -1) == 1, "no answer to LIST");
	CF_CHECK(done.result == 1 && page.end && page.next_cursor == 0,
		 "LIST of the extent ending at 2^64: %d extents, END %d, next_cursor 0x%llx "
		 "(expected 1, END, 0)",
		 done.result, page.end, (unsigned long long)page.next_cursor);
	/* The last bytes of the address space. */
	struct prb_mapping *m = cf_session_map(s, cf_top_addr(1), PRB_MAPPING_RW);
	cf_pattern(data, sizeof(data), 64);
	CF_SETUP(CF_REQ_WRITE)
		CF_RC(prb_write(m, PRB_BLOCK_SIZE - sizeof(data), data, sizeof(data)), 0);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m, PRB_BLOCK_SIZE - sizeof(back), back, sizeof(back)), 0);
	CF_CHECK(memcmp(data, back, sizeof(data)) == 0,
		 "the last block's last bytes read back wrong");
	CF_SETUP(CF_REQ_UNMAP)
		CF_RC(prb_unmap(&m), 0);
	/* FREE of the two that end at 2^64, then of the two below, then all four in one. */
	CF_RC(prb_free(s, cf_top_addr(2), 2, 0), 0);
	check_top(s, 4, 2, "FREE of the 2 blocks that end at 2^64");
	CF_RC(prb_alloc(s, cf_top_addr(2), 2), 0);
	check_top(s, 4, 4, "ALLOC of the 2 blocks that end at 2^64");
	CF_RC(prb_free(s, cf_top_addr(4), 4, 0), 0);
	check_top(s, 0, 0, "FREE of the 4 blocks that end at 2^64");
	CF_RC(prb_free(s, cf_top_addr(1), 1, 0), -ENOENT);
}

static void range_basic(void)
{
	struct prb_session *s = cf_session();
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e = {0};

	CF_RC_FATAL(prb_alloc(s, cf_addr(8), 4), 0);
	for (uint64_t i = 8; i < 12; i++)
		CF_RC(prb_alloc(s, cf_addr(i), 1), -EEXIST);
	CF_RC(prb_alloc(s, cf_addr(7), 1), 0);
	CF_RC(prb_alloc(s, cf_addr(12), 1), 0);
	CF_RC_FATAL(prb_list_new(s, cf_addr(7), &it), 0);
	CF_RC(prb_list_next(it, &e), 1);
	prb_list_delete(&it);
	CF_CHECK(
		e.addr == cf_addr(7) && e.blocks == 6,
		"LIST after ALLOC 7, 8..11, 12: first extent %llu blocks at +%llu, expected 6 at 7",
		(unsigned long long)e.blocks,
		(unsigned long long)((e.addr - cf_addr(0)) >> PRB_BLOCK_SHIFT));
}

static void range_overlap(void)
{
	struct prb_session *s = cf_session();

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(5), 1), 0);
	/* Ranges that cover block 5 at their start, middle and end. */
	CF_RC(prb_alloc(s, cf_addr(5), 3), -EEXIST);
	CF_RC(prb_alloc(s, cf_addr(2), 8), -EEXIST);
	CF_RC(prb_alloc(s, cf_addr(3), 3), -EEXIST);
	/* All or none: nothing else of those ranges was allocated. */
	CF_CHECK(cf_session_allocated(s, 2, 8) == 1, "%llu blocks of 2..9 allocated, only 5 was",
		 (unsigned long long)cf_session_allocated(s, 2, 8));
	CF_RC(prb_alloc(s, cf_addr(6), 4), 0);
}

static void reserved_nonzero(void)
{
	struct cf_conn *c = cf_connect();
	uint8_t buf[64];
	union prb_msg m = {.alloc_req = {.addr = cf_addr(0), .blocks = 1}}, rsp;

	m.hdr.tag = 99;
	int len = cf_build(c, PRB_MSG_ALLOC_REQ, &m, NULL, 0, buf, sizeof(buf));
	CF_CHECK_FATAL(len == PRB_ALLOC_REQ_SIZE, "encode");
	buf[PRB_ALLOC_REQ_RESERVED0_OFFSET] = 1;
	CF_CHECK_FATAL(cf_send_raw(c, buf, (size_t)len) == 0, "send");
	CF_ST(c, cf_recv_rsp(c, 99, &rsp), PRB_ST_EINVAL);
	CF_CHECK(cf_allocated(c, 0, 1) == 0, "ALLOC with reserved bits set allocated the block");
}

/* Fill the brick: ENOSPC when the range does not fit, all or none, space comes back. */
static void capacity_enospc(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_info_rsp before, full, after;
	uint64_t done = 0, i;

	CF_ST_FATAL(c, cf_info(c, &before), PRB_ST_OK);
	if (before.free_blocks > 8 * (uint64_t)PRB_MAX_RANGE_BLOCKS) {
		cf_skip("brick has %llu free blocks: filling it takes too long",
			(unsigned long long)before.free_blocks);
		return;
	}
	/* One range larger than the free space fails whole. */
	if (before.free_blocks < PRB_MAX_RANGE_BLOCKS) {
		CF_ST(c, cf_alloc(c, cf_addr(0), (uint32_t)before.free_blocks + 1), PRB_ST_ENOSPC);
		CF_ST_FATAL(c, cf_info(c, &after), PRB_ST_OK);
		CF_CHECK(after.free_blocks == before.free_blocks,
			 "refused ALLOC changed free_blocks %llu -> %llu",
			 (unsigned long long)before.free_blocks,
			 (unsigned long long)after.free_blocks);
	}
	/* Fill it exactly. */
	while (done < before.free_blocks) {
		uint64_t left = before.free_blocks - done;
		uint32_t n = left > PRB_MAX_RANGE_BLOCKS ? PRB_MAX_RANGE_BLOCKS : (uint32_t)left;
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(done), n), PRB_ST_OK);
		done += n;
	}
	CF_ST_FATAL(c, cf_info(c, &full), PRB_ST_OK);
	CF_CHECK(full.free_blocks == 0, "free_blocks %llu after filling the brick",
		 (unsigned long long)full.free_blocks);
	CF_ST(c, cf_alloc(c, cf_addr(done + 1), 1), PRB_ST_ENOSPC);
	CF_ST(c, cf_alloc(c, cf_addr(done + 1), 4), PRB_ST_ENOSPC);
	/* Taken addresses still say EEXIST, not ENOSPC. */
	CF_ST(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_EEXIST);
	/* Free one: exactly one fits again. */
	CF_ST_FATAL(c, cf_free(c, cf_addr(0), 1, 0), PRB_ST_OK);
	CF_ST(c, cf_alloc(c, cf_addr(done + 1), 2), PRB_ST_ENOSPC);
	CF_ST(c, cf_alloc(c, cf_addr(done + 1), 1), PRB_ST_OK);
	CF_ST(c, cf_free(c, cf_addr(done + 1), 1, 0), PRB_ST_OK);
	for (i = 1; i < done;) {
		uint64_t left = done - i;
		uint32_t n = left > PRB_MAX_RANGE_BLOCKS ? PRB_MAX_RANGE_BLOCKS : (uint32_t)left;
		CF_ST(c, cf_free(c, cf_addr(i), n, 0), PRB_ST_OK);
		i += n;
	}
	CF_ST_FATAL(c, cf_info(c, &after), PRB_ST_OK);
	CF_CHECK(after.free_blocks == before.free_blocks,
		 "free_blocks %llu after freeing all, %llu before",
		 (unsigned long long)after.free_blocks, (unsigned long long)before.free_blocks);
}

const struct cf_test cf_tests_alloc[] = {
	{"Alloc.Basic.Single", basic_single, "PRB-ALLOC-5 PRB-LIST-9", true, 0, 0,
	 "ALLOC of one block: listed, neighbours untouched"},
	{"Alloc.Basic.Eexist", basic_eexist, "PRB-ALLOC-2", true, 0, 0,
	 "ALLOC of an allocated block: EEXIST, from any connection"},
	{"Alloc.Basic.Zeroed", basic_zeroed, "PRB-ALLOC-6 PRB-FREE-8 PRB-SEC-2", true, 0, 0,
	 "a newly allocated block reads as zeros, also after FREE of written data"},
	{"Alloc.Range.Zeroed", range_zeroed, "PRB-ALLOC-6 PRB-FREE-8 PRB-SEC-2", true, 0, 0,
	 "blocks of a range written whole and freed in one FREE read as zeros in every byte when "
	 "allocated again (one range, or block by block)"},
	{"Alloc.Layout.Boundaries", layout_boundaries,
	 "PRB-ALLOC-5 PRB-FREE-2 PRB-FREE-6 PRB-LIST-9 PRB-DATA-5 PRB-ALLOC-6", true,
	 CF_NEEDS_BLOCKS(126), 0,
	 "ALLOC/FREE/LIST, alternating and whole, and data across block 64, 512, 4096, 32768 and "
	 "262144 of an aligned region"},
	{"Alloc.Args.Unaligned", align_unaligned, "PRB-ALLOC-1 PRB-REQ-4", true, 0, 0,
	 "unaligned address: EINVAL, nothing allocated"},
	{"Alloc.Args.Count", count_bounds, "PRB-ALLOC-1 PRB-REQ-3", true, 0, 0,
	 "blocks 0 or above 65536: EINVAL"},
	{"Alloc.Args.Reserved", reserved_nonzero, "PRB-ALLOC-1 PRB-REQ-2", true, 0, 0,
	 "reserved field nonzero: EINVAL, nothing allocated"},
	{"Alloc.Range.Overflow", range_overflow, "PRB-ALLOC-1", true, 0, 0,
	 "a range passing 2^64: EINVAL"},
	{"Alloc.Range.Top", range_top,
	 "PRB-REQ-8 PRB-ALLOC-1 PRB-ALLOC-5 PRB-FREE-1 PRB-FREE-6 PRB-LIST-8 PRB-LIST-10", true, 0,
	 0,
	 "ranges that end exactly at 2^64 are allocated, listed and freed whole; one block more is "
	 "EINVAL; the last block's last bytes work"},
	{"Alloc.Range.Basic", range_basic, "PRB-ALLOC-2 PRB-ALLOC-5", true, 0, 0,
	 "ALLOC of a range allocates each block; LIST coalesces"},
	{"Alloc.Range.Overlap", range_overlap, "PRB-ALLOC-2 PRB-ALLOC-5", true, 0, 0,
	 "a range overlapping an allocated block: EEXIST and nothing allocated"},
	{"Alloc.Capacity.Enospc", capacity_enospc, "PRB-ALLOC-3 PRB-ALLOC-4 PRB-INFO-6 PRB-REQ-1",
	 true, CF_DESTRUCTIVE, 0,
	 "fill the brick: ENOSPC, all or none, free_blocks exact, space returns"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
