/* SPDX-License-Identifier: Apache-2.0 */
/* FREE: ENOENT, all or none, mapped blocks (EBUSY, FORCE), argument checks. */
#include <errno.h>

#include "suite.h"

static void basic_single(void)
{
	struct prb_session *c = cf_session();

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(c, cf_addr(0), 1), 0);
	CF_RC(prb_free(c, cf_addr(0), 1, 0), 0);
	CF_CHECK(cf_session_allocated(c, 0, 1) == 0, "freed block still listed");
	CF_RC(prb_free(c, cf_addr(0), 1, 0), -ENOENT);
	CF_RC(prb_alloc(c, cf_addr(0), 1), 0);
}

static void basic_enoent(void)
{
	struct prb_session *c = cf_session();

	CF_RC(prb_free(c, cf_addr(0), 1, 0), -ENOENT);
	CF_RC(prb_free(c, cf_addr(0), 1, PRB_FREE_FORCE), -ENOENT);
}

static void range_partial(void)
{
	struct prb_session *c = cf_session();

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(c, cf_addr(0), 2), 0);
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(c, cf_addr(3), 1), 0);
	/* Block 2 is free: the whole FREE fails and nothing is freed. */
	CF_RC(prb_free(c, cf_addr(0), 4, 0), -ENOENT);
	CF_CHECK(cf_session_allocated(c, 0, 4) == 3, "a refused FREE freed some blocks");
	CF_RC(prb_free(c, cf_addr(0), 2, 0), 0);
	CF_CHECK(cf_session_allocated(c, 0, 4) == 1, "FREE of a range left blocks allocated");
	CF_RC(prb_free(c, cf_addr(3), 1, 0), 0);
}

static void range_many(void)
{
	struct prb_session *c = cf_session();

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(c, cf_addr(0), 40), 0);
	CF_RC(prb_free(c, cf_addr(10), 20, 0), 0);
	CF_CHECK(cf_session_allocated(c, 0, 40) == 20, "FREE of 20 of 40 blocks left %llu",
		 (unsigned long long)cf_session_allocated(c, 0, 40));
	CF_RC(prb_free(c, cf_addr(0), 10, 0), 0);
	CF_RC(prb_free(c, cf_addr(30), 10, 0), 0);
	CF_CHECK(cf_session_allocated(c, 0, 40) == 0, "blocks left after freeing everything");
}

static void args(void)
{
	struct cf_conn *c = cf_connect();

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_ST(c, cf_free(c, cf_addr(0) + 4096, 1, 0), PRB_ST_EINVAL);
	CF_ST(c, cf_free(c, cf_addr(0), 0, 0), PRB_ST_EINVAL);
	CF_ST(c, cf_free(c, cf_addr(0), PRB_MAX_RANGE_BLOCKS + 1, 0), PRB_ST_EINVAL);
	CF_ST(c, cf_free(c, ~(uint64_t)0 - PRB_BLOCK_SIZE + 1, 2, 0), PRB_ST_EINVAL);
	for (uint32_t bit = 1; bit; bit <<= 1)
		if (!(bit & PRB_FREE_ALL))
			CF_ST(c, cf_free(c, cf_addr(0), 1, bit), PRB_ST_EINVAL);
	CF_CHECK(cf_allocated(c, 0, 1) == 1, "a refused FREE freed the block");
}

static void mapped_busy(void)
{
	struct prb_session *a = cf_session(), *b = cf_session();
	uint8_t byte = 0x5A, back = 0;

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(0), 2), 0);
	struct prb_mapping *m = cf_session_map(a, cf_addr(1), PRB_MAPPING_RW);
	/* Mapped by another connection, by this one, alone or inside a range. */
	CF_RC(prb_free(b, cf_addr(1), 1, 0), -EBUSY);
	CF_RC(prb_free(a, cf_addr(1), 1, 0), -EBUSY);
	CF_RC(prb_free(b, cf_addr(0), 2, 0), -EBUSY);
	CF_CHECK(cf_session_allocated(b, 0, 2) == 2, "a refused FREE freed a block");
	CF_RC(prb_write(m, 0, &byte, 1), 0);
	CF_RC(prb_read(m, 0, &back, 1), 0);
	CF_CHECK(back == byte, "handle no longer works after refused FREE");
	/* Once unmapped, FREE works. */
	CF_SETUP(CF_REQ_UNMAP)
		CF_RC(prb_unmap(&m), 0);
	CF_RC(prb_free(b, cf_addr(0), 2, 0), 0);
}

static void mapped_force(void)
{
	struct prb_session *a = cf_session(), *b = cf_session();
	struct cf_conn *raw = cf_raw_available() ? cf_connect() : NULL;
	uint8_t byte = 1;
	uint64_t h = 0;

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(0), 2), 0);
	struct prb_mapping *m1 = cf_session_map(a, cf_addr(0), PRB_MAPPING_RW);
	struct prb_mapping *m2 = cf_session_map(b, cf_addr(1), PRB_MAPPING_RO);
	if (raw)
		CF_SETUP(CF_REQ_MAP)
			CF_ST_FATAL(raw, cf_map(raw, cf_addr(1), 0, &h), PRB_ST_OK);
	CF_RC(prb_free(b, cf_addr(0), 2, PRB_FREE_FLAG_FORCE), 0);
	CF_CHECK(cf_session_allocated(b, 0, 2) == 0, "FREE FORCE left blocks allocated");
	if (!raw) {
		/* RDMA: the keys are invalidated, one-sided access fails (and may end the QP). */
		CF_CHECK(prb_read(m1, 0, &byte, 1) != 0, "RDMA READ through a revoked key worked");
		CF_CHECK(prb_read(m2, 0, &byte, 1) != 0, "RDMA READ through a revoked key worked");
		cf_note("ESTALE answers to the revoked handles (needs the raw TCP sender; the failed "
			"one-sided READs were checked instead)");
		return;
	}
	/* The holders' handles are revoked: the brick answers ESTALE. */
	CF_RC(prb_read(m1, 0, &byte, 1), -ESTALE);
	CF_RC(prb_write(m1, 0, &byte, 1), -ESTALE);
	CF_RC(prb_read(m2, 0, &byte, 1), -ESTALE);
	CF_ST(raw, cf_read(raw, h, 0, 1, &byte), PRB_ST_ESTALE);
	CF_ST(raw, cf_unmap(raw, h), PRB_ST_ESTALE);
	/* A new block at the address is a new block: no old handle reaches it. */
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC(prb_alloc(a, cf_addr(1), 1), 0);
	CF_ST(raw, cf_read(raw, h, 0, 1, &byte), PRB_ST_ESTALE);
}

/* Destructive: list the whole brick, free everything, and find it empty and whole. */
static void everything(void)
{
	struct prb_session *s = cf_session();
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	struct prb_brick_info before, after;
	uint64_t listed = 0, extents = 0;
	int ret;

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(0), 3), 0);
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(10), 2), 0);
	cf_session_map(s, cf_addr(10), PRB_MAPPING_RW); /* FORCE must get it out of the way */
	CF_RC_FATAL(prb_info(s, &before), 0);
	CF_RC_FATAL(prb_list_new(s, 0, &it), 0);
	while ((ret = prb_list_next(it, &e)) == 1) {
		listed += e.blocks;
		extents++;
	}
	prb_list_delete(&it);
	CF_RC_FATAL(ret, 0);
	CF_CHECK(before.free_blocks + listed == before.capacity_blocks,
		 "%llu blocks listed + %llu free != capacity %llu", (unsigned long long)listed,
		 (unsigned long long)before.free_blocks,
		 (unsigned long long)before.capacity_blocks);
	/* Free it all, extent by extent (the listing is taken again: FREE moves nothing). */
	CF_RC_FATAL(prb_list_new(s, 0, &it), 0);
	while (prb_list_next(it, &e) == 1)
		for (uint64_t done = 0; done < e.blocks;) {
			uint64_t left = e.blocks - done;
			uint32_t n =
				left > PRB_MAX_RANGE_BLOCKS ? PRB_MAX_RANGE_BLOCKS : (uint32_t)left;
			CF_RC(prb_free(s, e.addr + (done << PRB_BLOCK_SHIFT), n,
				       PRB_FREE_FLAG_FORCE),
			      0);
			done += n;
		}
	prb_list_delete(&it);
	CF_RC_FATAL(prb_info(s, &after), 0);
	CF_CHECK(after.free_blocks == after.capacity_blocks && after.mapped_blocks == 0,
		 "after freeing everything: free %llu of %llu, %llu mapped",
		 (unsigned long long)after.free_blocks, (unsigned long long)after.capacity_blocks,
		 (unsigned long long)after.mapped_blocks);
	if (cf_raw_available()) {
		struct cf_conn *c = cf_connect();
		struct prb_extent x[1];
		uint32_t count = 1, flags = 0;
		uint64_t next = 1;
		CF_ST(c, cf_list(c, 0, 1, x, &count, &next, &flags), PRB_ST_OK);
		CF_CHECK(count == 0 && (flags & PRB_LIST_END) && next == 0,
			 "LIST of an empty brick: count %u flags 0x%x next_cursor 0x%llx", count,
			 flags, (unsigned long long)next);
	} else {
		cf_note("the raw fields of a LIST of the empty brick (count, END, next_cursor): "
			"needs the raw TCP sender");
	}
	cf_log("freed %llu blocks in %llu extents", (unsigned long long)listed,
	       (unsigned long long)extents);
}

const struct cf_test cf_tests_free[] = {
	{"Free.Basic.Single", basic_single, "PRB-FREE-2 PRB-LIST-9", true, 0, 0,
	 "FREE of one block: gone from LIST, second FREE ENOENT, ALLOC again works"},
	{"Free.Basic.Enoent", basic_enoent, "PRB-FREE-2", true, 0, 0,
	 "FREE of a free block: ENOENT (with and without FORCE)"},
	{"Free.Range.Partial", range_partial, "PRB-FREE-2 PRB-FREE-6", true, 0, 0,
	 "FREE of a range with a free block: ENOENT, nothing freed"},
	{"Free.Range.Many", range_many, "PRB-FREE-6", true, 0, 0,
	 "FREE of part of an allocated range"},
	{"Free.Args.Invalid", args, "PRB-FREE-1 PRB-VER-7", true, 0, 0,
	 "unaligned, zero, oversize, overflowing, unknown flag bits: EINVAL"},
	{"Free.Mapped.Busy", mapped_busy, "PRB-FREE-3 PRB-MAP-16", true, 0, 0,
	 "FREE of a mapped block (any connection): EBUSY, handle keeps working"},
	{"Free.Mapped.Force", mapped_force, "PRB-FREE-4 PRB-FREE-5 PRB-DATA-2", true, 0, 0,
	 "FREE with FORCE revokes every handle of the range, then frees"},
	{"Free.Everything.Destructive", everything, "PRB-FREE-4 PRB-LIST-9 PRB-LIST-11 PRB-INFO-6",
	 true, CF_DESTRUCTIVE, 0,
	 "list the whole brick (free + listed = capacity), FREE FORCE it all: empty, all free"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
