/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recovery at open: scan every slot entry, finish interrupted frees and moves, rebuild the
 * in-memory index and the free-slot stacks (DESIGN.md, Recovery).
 */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

static int stack_init(struct store_stack *st, uint32_t capacity)
{
	st->count = 0;
	st->capacity = capacity;
	st->items = capacity ? calloc(capacity, sizeof(*st->items)) : NULL;
	return capacity && !st->items ? -ENOMEM : 0;
}

static int memory_alloc(struct prb_store *s, size_t blocks)
{
	uint64_t seed;
	int rc = stack_init(&s->fast_free, s->fast_slots);

	if (rc == 0)
		rc = stack_init(&s->tier_free, s->tier_slots);
	if (rc)
		return rc;
	s->pins = calloc(s->fast_slots, sizeof(*s->pins));
	s->referenced = calloc(s->fast_slots, sizeof(*s->referenced));
	/* Nothing is known zero at open: the first FREE of every slot zeroes it. (+1: a
	 * calloc of 0 bytes may return NULL.) */
	s->zeroed = calloc((size_t)s->fast_slots + s->tier_slots + 1u, sizeof(*s->zeroed));
	if (!s->pins || !s->referenced || !s->zeroed)
		return -ENOMEM;
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		return -EIO;
	return prb_store_index_init(&s->index, blocks, seed);
}

void store_memory_free(struct prb_store *s)
{
	free(s->fast_free.items);
	free(s->tier_free.items);
	free(s->pins);
	free(s->referenced);
	free(s->zeroed);
	prb_store_index_fini(&s->index);
}

static bool entry_valid(uint64_t entry)
{
	uint64_t plus_one = entry & STORE_ENTRY_BLOCK_MASK;

	return (entry & ~STORE_ENTRY_KNOWN_BITS) == 0 && plus_one != 0 &&
	       plus_one <= STORE_BLOCK_LIMIT;
}

/* Index every live entry. A block found in two slots (a move cut short after the copy
 * was committed) keeps its first slot, a fast one when there is one: both copies hold
 * every flushed byte, and the other is marked for freeing. */
static int index_entries(struct prb_store *s, uint32_t slots, bool *freeing)
{
	for (uint32_t slot = 0; slot < slots; slot++) {
		uint64_t entry = s->entries[slot];
		uint32_t kept;
		int rc;

		if (entry == 0)
			continue;
		if (!entry_valid(entry))
			return -EUCLEAN;
		if (entry & STORE_ENTRY_FREEING) {
			*freeing = true;
			continue;
		}
		uint64_t block = (entry & STORE_ENTRY_BLOCK_MASK) - 1;
		if (prb_store_index_lookup(&s->index, block, &kept)) {
			store_entry_set(s, slot, entry | STORE_ENTRY_FREEING);
			*freeing = true;
			continue;
		}
		rc = prb_store_index_insert(&s->index, block, slot, store_slot_is_tier(s, slot));
		if (rc)
			return rc;
		s->blocks++;
	}
	store_entry_commit(s);
	return 0;
}

/* Zero the slots of interrupted frees, make that durable, then mark the slots free. */
static int finish_frees(struct prb_store *s, uint32_t slots)
{
	int rc;

	for (uint32_t slot = 0; slot < slots; slot++) {
		if ((s->entries[slot] & STORE_ENTRY_FREEING) == 0)
			continue;
		rc = store_slots_zero(s, slot, 1);
		if (rc)
			return rc;
	}
	rc = store_slot_zero_sync(s);
	if (rc)
		return rc;
	for (uint32_t slot = 0; slot < slots; slot++)
		if (s->entries[slot] & STORE_ENTRY_FREEING)
			store_entry_set(s, slot, 0);
	store_entry_commit(s);
	return 0;
}

int store_recover(struct prb_store *s)
{
	uint32_t slots = s->fast_slots + s->tier_slots;
	bool freeing = false;
	size_t live = 0;
	int rc;

	for (uint32_t slot = 0; slot < slots; slot++)
		live += s->entries[slot] != 0;
	rc = memory_alloc(s, live);
	if (rc)
		return rc;
	rc = index_entries(s, slots, &freeing);
	if (rc == 0 && freeing)
		rc = finish_frees(s, slots);
	if (rc)
		return rc;
	/* Pushed in descending order so that slots are handed out in ascending order. */
	for (uint32_t slot = slots; slot-- > 0;) {
		if (s->entries[slot] != 0)
			continue;
		store_stack_push(store_slot_is_tier(s, slot) ? &s->tier_free : &s->fast_free, slot);
	}
	return 0;
}
