/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tiering (feature TIERING; destructive: fills fast memory): blocks move to the tier
 * under pressure, come back on MAP with every byte of their contents, mapped blocks never
 * move, and MAP of a tiered block when every fast slot is pinned gets ENOMEM.
 */
#include <stdlib.h>
#include <string.h>

#include "suite.h"

/* Allocate fast_blocks + extra blocks, each filled whole with its own pattern. */
static uint64_t fill(struct cf_conn *c, uint64_t extra, struct prb_info_rsp *info)
{
	uint8_t *data = cf_mem(PRB_BLOCK_SIZE);
	uint64_t h, n;

	CF_ST_FATAL(c, cf_info(c, info), PRB_ST_OK);
	n = info->fast_blocks + extra;
	if (info->free_blocks < n || n > 4096 || info->fast_blocks >= c->hello.max_mappings) {
		cf_skip("needs %llu free blocks and as many mappings (free %llu, max_mappings %u)",
			(unsigned long long)n, (unsigned long long)info->free_blocks,
			c->hello.max_mappings);
		return 0;
	}
	for (uint64_t b = 0; b < n; b++) {
		CF_SETUP(CF_REQ_ALLOC)
			CF_ST_FATAL(c, cf_alloc(c, cf_addr(b), 1), PRB_ST_OK);
		CF_SETUP(CF_REQ_MAP)
			CF_ST_FATAL(c, cf_map(c, cf_addr(b), PRB_MAP_WRITE, &h), PRB_ST_OK);
		cf_pattern(data, PRB_BLOCK_SIZE, b + 1);
		CF_SETUP(CF_REQ_WRITE)
			CF_ST_FATAL(c, cf_write_big(c, h, 0, PRB_BLOCK_SIZE, data), PRB_ST_OK);
		CF_SETUP(CF_REQ_FLUSH)
			CF_ST_FATAL(c, cf_flush(c, h, 0, PRB_BLOCK_SIZE), PRB_ST_OK);
		CF_SETUP(CF_REQ_UNMAP)
			CF_ST_FATAL(c, cf_unmap(c, h), PRB_ST_OK);
	}
	return n;
}

/* Count blocks of [0, n) in each state; check the extents cover exactly [0, n). */
static void states(struct cf_conn *c, uint64_t n, uint64_t *resident, uint64_t *tiered)
{
	struct prb_extent ext[64];
	uint64_t cursor = cf_addr(0);

	*resident = *tiered = 0;
	for (;;) {
		uint32_t count = 0, flags = 0;
		uint64_t next;
		CF_SETUP(CF_REQ_LIST)
			CF_ST_FATAL(c, cf_list(c, cursor, 64, ext, &count, &next, &flags),
				    PRB_ST_OK);
		for (uint32_t i = 0; i < count; i++) {
			if (ext[i].addr >= cf_addr(n))
				return;
			if (ext[i].state == PRB_EXTENT_TIERED)
				*tiered += ext[i].blocks;
			else
				*resident += ext[i].blocks;
		}
		if (count == 0 || (flags & PRB_LIST_END) || next >= cf_addr(n))
			return;
		cursor = next;
	}
}

/* Two block-sized buffers: the pattern expected, the bytes read back. */
struct tier_bufs {
	uint8_t *want, *back;
};

static struct tier_bufs tier_bufs(void)
{
	return (struct tier_bufs){cf_mem(PRB_BLOCK_SIZE), cf_mem(PRB_BLOCK_SIZE)};
}

/* Where block b first differs from the pattern fill() wrote in all of it, or -1 if nowhere. */
static long block_changed(struct cf_conn *c, uint64_t b, uint64_t h, struct tier_bufs *t)
{
	cf_pattern(t->want, PRB_BLOCK_SIZE, b + 1);
	CF_SETUP(CF_REQ_READ)
		CF_ST_FATAL(c, cf_read_big(c, h, 0, PRB_BLOCK_SIZE, t->back), PRB_ST_OK);
	for (long i = 0; i < PRB_BLOCK_SIZE; i++)
		if (t->want[i] != t->back[i])
			return i;
	return -1;
}

static void map_recall(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_info_rsp info, after;
	uint64_t n = fill(c, 4, &info), resident, tiered, h;
	struct tier_bufs t = tier_bufs();
	long at;

	if (n == 0)
		return;
	states(c, n, &resident, &tiered);
	CF_CHECK(resident + tiered == n, "LIST shows %llu of %llu blocks",
		 (unsigned long long)(resident + tiered), (unsigned long long)n);
	CF_CHECK(tiered >= 4, "%llu blocks in %llu fast slots but only %llu TIERED",
		 (unsigned long long)n, (unsigned long long)info.fast_blocks,
		 (unsigned long long)tiered);
	CF_ST_FATAL(c, cf_info(c, &after), PRB_ST_OK);
	CF_CHECK(after.fast_free + after.tier_free == after.free_blocks &&
			 after.tier_free + tiered <= after.tier_blocks,
		 "INFO fast_free %llu tier_free %llu do not add up with %llu TIERED",
		 (unsigned long long)after.fast_free, (unsigned long long)after.tier_free,
		 (unsigned long long)tiered);
	/* Every block comes back with its contents, RESIDENT while mapped. */
	for (uint64_t b = 0; b < n; b++) {
		CF_ST_FATAL(c, cf_map(c, cf_addr(b), 0, &h), PRB_ST_OK);
		at = block_changed(c, b, h, &t);
		CF_CHECK(at < 0, "block %llu changed by tiering (first at byte %ld)",
			 (unsigned long long)b, at);
		struct prb_extent e;
		uint32_t count = 0, flags;
		uint64_t next;
		CF_SETUP(CF_REQ_LIST)
			CF_ST(c, cf_list(c, cf_addr(b), 1, &e, &count, &next, &flags), PRB_ST_OK);
		CF_CHECK(count == 1 && e.addr == cf_addr(b) && e.state == PRB_EXTENT_RESIDENT,
			 "mapped block %llu not RESIDENT", (unsigned long long)b);
		CF_SETUP(CF_REQ_UNMAP)
			CF_ST(c, cf_unmap(c, h), PRB_ST_OK);
	}
}

static void map_pinned(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_info_rsp info;
	uint64_t n = fill(c, 2, &info), *h, extra;
	struct tier_bufs t = tier_bufs();
	long at;

	if (n == 0)
		return;
	h = cf_mem(n * sizeof(*h));
	/* Pin every fast slot. */
	for (uint64_t b = 0; b < info.fast_blocks; b++)
		CF_SETUP(CF_REQ_MAP)
			CF_ST_FATAL(c, cf_map(c, cf_addr(b), 0, &h[b]), PRB_ST_OK);
	/* The other blocks must be TIERED now, and cannot come back. */
	uint64_t resident, tiered;
	states(c, n, &resident, &tiered);
	CF_CHECK(tiered == 2 && resident == info.fast_blocks,
		 "all fast slots pinned: %llu RESIDENT, %llu TIERED", (unsigned long long)resident,
		 (unsigned long long)tiered);
	CF_ST(c, cf_map(c, cf_addr(info.fast_blocks), 0, &extra), PRB_ST_ENOMEM);
	/* The pinned blocks did not move: their contents are there. */
	at = block_changed(c, 0, h[0], &t);
	CF_CHECK(at < 0, "a pinned block changed (first at byte %ld)", at);
	/* One slot unpinned: the tiered block comes back (an unmapped block moves out). */
	CF_SETUP(CF_REQ_UNMAP)
		CF_ST(c, cf_unmap(c, h[0]), PRB_ST_OK);
	CF_ST_FATAL(c, cf_map(c, cf_addr(info.fast_blocks), 0, &extra), PRB_ST_OK);
	at = block_changed(c, info.fast_blocks, extra, &t);
	CF_CHECK(at < 0, "recalled block changed (first at byte %ld)", at);
}

const struct cf_test cf_tests_tier[] = {
	{"Tier.Map.Recall", map_recall, "PRB-MAP-8 PRB-TIER-2 PRB-TIER-3 PRB-TIER-4 PRB-LIST-12",
	 false, CF_DESTRUCTIVE, PRB_FEAT_TIERING,
	 "more blocks than fast slots: some TIERED, each comes back on MAP with its data"},
	{"Tier.Map.Pinned", map_pinned, "PRB-MAP-7 PRB-TIER-1 PRB-TIER-2", false, CF_DESTRUCTIVE,
	 PRB_FEAT_TIERING,
	 "every fast slot mapped: tiered block MAP gets ENOMEM; mapped blocks never move"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
