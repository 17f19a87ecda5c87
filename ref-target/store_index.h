/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the store: the in-memory index of allocated blocks, rebuilt at open.
 *
 * One open-addressing hash table holds three kinds of entries, told apart by a level
 * byte in the key: block -> physical slot (level 0); for levels 1..8, a 64-bit bitmap of
 * which children (64-block groups, groups of groups, ...) hold an allocated block, which
 * makes a fixed-depth radix tree for the ordered walk; and per 64-block group a bitmap of
 * the blocks living in the tier. Lookup is O(1) on average, memory is proportional to the
 * blocks allocated, and LIST reads two bitmaps per 64 blocks.
 */
#ifndef PRB_TARGET_STORE_INDEX_H
#define PRB_TARGET_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prb_store_index_entry {
	uint64_t key; /* 0 = empty */
	uint64_t value;
};

struct prb_store_index {
	struct prb_store_index_entry *table;
	size_t mask;   /* capacity - 1, capacity a power of two */
	size_t count;  /* entries in use */
	uint64_t seed; /* random: the hash is not predictable from outside */
};

/** Start empty with room for about `blocks` blocks; seed keys the hash. -ENOMEM. */
int prb_store_index_init(struct prb_store_index *ix, size_t blocks, uint64_t seed);
void prb_store_index_fini(struct prb_store_index *ix);
/** Make room so that inserting `blocks` consecutive blocks cannot fail. -ENOMEM. */
int prb_store_index_reserve(struct prb_store_index *ix, size_t blocks);
/** Insert a block known to be absent. -ENOMEM only when nothing was reserved for it. */
int prb_store_index_insert(struct prb_store_index *ix, uint64_t block, uint32_t slot, bool tiered);
/** Remove a block known to be present. */
void prb_store_index_remove(struct prb_store_index *ix, uint64_t block);
/** Point a present block at another slot (a move between tiers). */
void prb_store_index_move(struct prb_store_index *ix, uint64_t block, uint32_t slot, bool tiered);
/** True and the slot when the block is present. */
bool prb_store_index_lookup(const struct prb_store_index *ix, uint64_t block, uint32_t *slot);
/** True and the smallest present block >= from. */
bool prb_store_index_next(const struct prb_store_index *ix, uint64_t from, uint64_t *found);
/** Bitmaps of the 64-block group `group` (blocks group * 64 ...): present and tiered. */
void prb_store_index_group(const struct prb_store_index *ix, uint64_t group, uint64_t *present,
			   uint64_t *tiered);

#endif
