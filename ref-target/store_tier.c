/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Moves between the fast pool and the tier, and the clock that picks which unpinned
 * resident block leaves the fast pool (DESIGN.md, Tiering).
 *
 * A move: commit the destination entry as being freed (it is about to hold data while
 * not yet the block's); copy the data and make it durable; commit the destination entry
 * (the block now has two slots with equal data); commit the source entry as being freed;
 * zero the source and make that durable; clear the source entry.
 */
#include "store_internal.h"

#include <errno.h>

/* Second-chance clock over the fast slots: a pinned or recently pinned block stays. */
static bool clock_pick(struct prb_store *s, uint32_t *victim)
{
	for (uint64_t step = 0; step < 2u * (uint64_t)s->fast_slots; step++) {
		uint32_t slot = s->clock_hand;
		uint64_t entry = s->entries[slot];

		s->clock_hand = slot + 1 == s->fast_slots ? 0 : slot + 1;
		if (entry == 0 || (entry & STORE_ENTRY_FREEING) || s->pins[slot] != 0)
			continue;
		if (s->referenced[slot]) {
			s->referenced[slot] = 0;
			continue;
		}
		*victim = slot;
		return true;
	}
	return false;
}

/* Second half of every move: the source is committed as being freed, zeroed, cleared. */
static int release_source(struct prb_store *s, uint32_t source, uint64_t block)
{
	int rc;

	store_entry_set(s, source, store_entry_for(block) | STORE_ENTRY_FREEING);
	store_entry_commit(s);
	rc = store_slots_zero(s, source, 1);
	if (rc == 0)
		rc = store_slot_zero_sync(s);
	if (rc)
		return rc; /* quarantined: stays "being freed" until the next open zeroes it */
	store_entry_clear_lazily(s, source);
	store_stack_push(store_slot_is_tier(s, source) ? &s->tier_free : &s->fast_free, source);
	return 0;
}

/* Before copying into a free slot, mark it as being freed: a crash during the copy
 * leaves data in it, which recovery then zeroes, like any slot being freed. */
static void claim_destination(struct prb_store *s, uint32_t destination, uint64_t block)
{
	store_slot_may_change(s, destination);
	store_entry_set(s, destination, store_entry_for(block) | STORE_ENTRY_FREEING);
	store_entry_commit(s);
}

/* Undo a copy that was not committed: the destination must read as zeros again. */
static void abandon_copy(struct prb_store *s, uint32_t destination)
{
	if (store_slots_zero(s, destination, 1) || store_slot_zero_sync(s))
		return; /* quarantined until the next open */
	store_entry_clear_lazily(s, destination);
	store_stack_push(store_slot_is_tier(s, destination) ? &s->tier_free : &s->fast_free,
			 destination);
}

/* Move the resident block in fast slot `fast` to a free tier slot. */
static int evict(struct prb_store *s, uint32_t fast)
{
	uint64_t block = (s->entries[fast] & STORE_ENTRY_BLOCK_MASK) - 1;
	uint32_t tier;
	int rc;

	if (!store_stack_pop(&s->tier_free, &tier))
		return -ENOSPC;
	claim_destination(s, tier, block);
	rc = store_tier_write(s, tier, store_fast_slot_addr(s, fast));
	if (rc == 0)
		rc = store_tier_sync(s);
	if (rc) {
		abandon_copy(s, tier);
		return -EIO; /* a full tier disk (ENOSPC) too: not "no slot", which ENOSPC means here */
	}
	store_entry_set(s, tier, store_entry_for(block));
	store_entry_commit(s);
	prb_store_index_move(&s->index, block, tier, true);
	s->referenced[fast] = 0;
	return release_source(s, fast, block);
}

/* A free fast slot, evicting an unpinned resident block when there is none. */
static int fast_slot_take(struct prb_store *s, uint32_t *fast)
{
	uint32_t victim;
	int rc;

	if (store_stack_pop(&s->fast_free, fast))
		return 0;
	if (!clock_pick(s, &victim))
		return -ENOSPC;
	rc = evict(s, victim);
	if (rc)
		return rc;
	return store_stack_pop(&s->fast_free, fast) ? 0 : -ENOSPC;
}

int store_tier_recall(struct prb_store *s, uint64_t block, uint32_t tier_slot, uint32_t *fast_slot)
{
	uint32_t fast;
	int rc = fast_slot_take(s, &fast);

	if (rc)
		return rc;
	claim_destination(s, fast, block);
	rc = store_tier_read(s, tier_slot, store_fast_slot_addr(s, fast));
	if (rc) {
		abandon_copy(s, fast);
		return rc;
	}
	store_fault_point(s);
	s->persist(store_fast_slot_addr(s, fast), STORE_SLOT_SIZE);
	store_entry_set(s, fast, store_entry_for(block));
	store_entry_commit(s);
	prb_store_index_move(&s->index, block, fast, false);
	*fast_slot = fast;
	/* The block is home; a failure to zero the tier copy only quarantines that slot. */
	(void)release_source(s, tier_slot, block);
	return 0;
}
