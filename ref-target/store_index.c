/* SPDX-License-Identifier: Apache-2.0 */
/* The store's in-memory index: hash table plus bitmap radix levels (store_index.h). */
#include "store_index.h"

#include <errno.h>
#include <stdlib.h>

#define GROUP_BITS   6u
#define TOP_LEVEL    8u /* block >> 48 == 0 for every block < 2^43 */
#define TIERED_LEVEL 9u /* pseudo-level: tier bitmaps of 64-block groups */
#define MIN_CAPACITY 64u

/* Keys: level + 1 in the top byte (so that no key is 0), the prefix below. */
static uint64_t index_key(unsigned level, uint64_t prefix)
{
	return ((uint64_t)(level + 1u) << 56) | prefix;
}

/* The finaliser of MurmurHash3 over the key mixed with a random seed: spreads consecutive
 * prefixes over the table, and block numbers chosen by clients cannot be made to collide
 * without knowing the seed. */
static size_t index_hash(const struct prb_store_index *ix, uint64_t key)
{
	key = (key ^ ix->seed) * UINT64_C(0x9e3779b97f4a7c15);
	key ^= key >> 33;
	key *= UINT64_C(0xff51afd7ed558ccd);
	key ^= key >> 33;
	key *= UINT64_C(0xc4ceb9fe1a85ec53);
	key ^= key >> 33;
	return (size_t)key;
}

/* Position of key, or of the empty entry where it would go. */
static size_t index_find(const struct prb_store_index *ix, uint64_t key)
{
	size_t i = index_hash(ix, key) & ix->mask;

	while (ix->table[i].key != 0 && ix->table[i].key != key)
		i = (i + 1) & ix->mask;
	return i;
}

static uint64_t index_get(const struct prb_store_index *ix, uint64_t key)
{
	size_t i = index_find(ix, key);

	return ix->table[i].key == key ? ix->table[i].value : 0;
}

/* Store a value; the caller made sure there is room. */
static void index_put(struct prb_store_index *ix, uint64_t key, uint64_t value)
{
	size_t i = index_find(ix, key);

	if (ix->table[i].key == 0) {
		ix->table[i].key = key;
		ix->count++;
	}
	ix->table[i].value = value;
}

/* Delete the entry at `hole` by backward shift, so that probing never needs tombstones. */
static void index_del_at(struct prb_store_index *ix, size_t hole)
{
	size_t j = hole;

	for (;;) {
		j = (j + 1) & ix->mask;
		if (ix->table[j].key == 0)
			break;
		size_t home = index_hash(ix, ix->table[j].key) & ix->mask;
		if (((j - home) & ix->mask) >= ((j - hole) & ix->mask)) {
			ix->table[hole] = ix->table[j];
			hole = j;
		}
	}
	ix->table[hole].key = 0;
	ix->count--;
}

static void index_del(struct prb_store_index *ix, uint64_t key)
{
	size_t i = index_find(ix, key);

	if (ix->table[i].key != 0)
		index_del_at(ix, i);
}

static int index_resize(struct prb_store_index *ix, size_t capacity)
{
	struct prb_store_index_entry *old = ix->table;
	size_t old_capacity = old ? ix->mask + 1 : 0;
	struct prb_store_index_entry *table = calloc(capacity, sizeof(*table));

	if (!table)
		return -ENOMEM;
	ix->table = table;
	ix->mask = capacity - 1;
	ix->count = 0;
	for (size_t i = 0; i < old_capacity; i++)
		if (old[i].key != 0)
			index_put(ix, old[i].key, old[i].value);
	free(old);
	return 0;
}

/* Grow so that `more` entries fit under a load factor of 0.7. */
static int index_make_room(struct prb_store_index *ix, size_t more)
{
	size_t capacity = ix->table ? ix->mask + 1 : MIN_CAPACITY;
	size_t need = ix->count + more;

	while (need > capacity / 10 * 7) {
		if (capacity > SIZE_MAX / 4)
			return -ENOMEM;
		capacity *= 2;
	}
	if (ix->table && capacity == ix->mask + 1)
		return 0;
	return index_resize(ix, capacity);
}

int prb_store_index_init(struct prb_store_index *ix, size_t blocks, uint64_t seed)
{
	ix->seed = seed;
	ix->table = NULL;
	ix->mask = 0;
	ix->count = 0;
	return index_make_room(ix, blocks + blocks / 8 + 64);
}

void prb_store_index_fini(struct prb_store_index *ix)
{
	free(ix->table);
	ix->table = NULL;
}

/* A run of n consecutive blocks adds n level-0 entries, at most n/64 + 2 entries at each
 * bitmap level above it and n/64 + 2 tier bitmaps: n + n/8 + 64 bounds them all. */
int prb_store_index_reserve(struct prb_store_index *ix, size_t blocks)
{
	if (blocks > SIZE_MAX / 2)
		return -ENOMEM;
	return index_make_room(ix, blocks + blocks / 8 + 64);
}

static uint64_t group_bit(uint64_t block, unsigned level)
{
	return UINT64_C(1) << ((block >> (GROUP_BITS * (level - 1u))) & 63u);
}

static void index_set_tiered(struct prb_store_index *ix, uint64_t block, bool tiered)
{
	uint64_t key = index_key(TIERED_LEVEL, block >> GROUP_BITS);
	uint64_t bits = index_get(ix, key);
	uint64_t bit = group_bit(block, 1);
	uint64_t updated = tiered ? bits | bit : bits & ~bit;

	if (updated == bits)
		return;
	if (updated)
		index_put(ix, key, updated);
	else
		index_del(ix, key);
}

int prb_store_index_insert(struct prb_store_index *ix, uint64_t block, uint32_t slot, bool tiered)
{
	int rc = index_make_room(ix, TOP_LEVEL + 2u);

	if (rc)
		return rc;
	index_put(ix, index_key(0, block), slot);
	/* One probe per level: set the bit in place, or create the node and go up. */
	for (unsigned level = 1; level <= TOP_LEVEL; level++) {
		uint64_t key = index_key(level, block >> (GROUP_BITS * level));
		struct prb_store_index_entry *e = &ix->table[index_find(ix, key)];

		if (e->key == key) {
			e->value |= group_bit(block, level);
			break; /* the node existed: its ancestors already point at it */
		}
		e->key = key;
		e->value = group_bit(block, level);
		ix->count++;
	}
	if (tiered)
		index_set_tiered(ix, block, true);
	return 0;
}

void prb_store_index_remove(struct prb_store_index *ix, uint64_t block)
{
	index_del(ix, index_key(0, block));
	/* One probe per level: clear the bit in place, or delete the emptied node and go up. */
	for (unsigned level = 1; level <= TOP_LEVEL; level++) {
		uint64_t key = index_key(level, block >> (GROUP_BITS * level));
		size_t i = index_find(ix, key);

		if (ix->table[i].key != key)
			break; /* not indexed: nothing above it either */
		ix->table[i].value &= ~group_bit(block, level);
		if (ix->table[i].value != 0)
			break;
		index_del_at(ix, i);
	}
	index_set_tiered(ix, block, false);
}

void prb_store_index_move(struct prb_store_index *ix, uint64_t block, uint32_t slot, bool tiered)
{
	index_put(ix, index_key(0, block), slot);
	index_set_tiered(ix, block, tiered);
}

bool prb_store_index_lookup(const struct prb_store_index *ix, uint64_t block, uint32_t *slot)
{
	size_t i = index_find(ix, index_key(0, block));

	if (ix->table[i].key == 0)
		return false;
	*slot = (uint32_t)ix->table[i].value;
	return true;
}

/* The smallest block under the node (level, prefix), which is not empty. */
static uint64_t index_first_under(const struct prb_store_index *ix, unsigned level, uint64_t prefix)
{
	for (; level >= 1; level--) {
		uint64_t bits = index_get(ix, index_key(level, prefix));

		prefix = (prefix << GROUP_BITS) | (uint64_t)__builtin_ctzll(bits);
	}
	return prefix;
}

bool prb_store_index_next(const struct prb_store_index *ix, uint64_t from, uint64_t *found)
{
	for (unsigned level = 1; level <= TOP_LEVEL; level++) {
		uint64_t prefix = from >> (GROUP_BITS * level);
		unsigned child = (unsigned)((from >> (GROUP_BITS * (level - 1u))) & 63u);
		uint64_t bits = index_get(ix, index_key(level, prefix));

		/* Level 1: the block itself counts; above, the child holding `from` was
		 * searched already (it had nothing at or after `from`). */
		bits &= level == 1 ? ~UINT64_C(0) << child
				   : (child == 63u ? 0 : ~UINT64_C(0) << (child + 1u));
		if (bits != 0) {
			uint64_t below = (prefix << GROUP_BITS) | (uint64_t)__builtin_ctzll(bits);

			*found = level == 1 ? below : index_first_under(ix, level - 1u, below);
			return true;
		}
	}
	return false;
}

void prb_store_index_group(const struct prb_store_index *ix, uint64_t group, uint64_t *present,
			   uint64_t *tiered)
{
	*present = index_get(ix, index_key(1, group));
	*tiered = index_get(ix, index_key(TIERED_LEVEL, group));
}
