/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the store: the state behind struct prb_store, shared by store*.c.
 * ref-target/DESIGN.md describes the pool layout and the persist order this code follows.
 */
#ifndef PRB_TARGET_STORE_INTERNAL_H
#define PRB_TARGET_STORE_INTERNAL_H

#include "store.h"
#include "store_index.h"

#include <libpmem2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the pool's slot entries are stored in host order, which must be little-endian"
#endif

#define STORE_SLOT_SHIFT 21
#define STORE_SLOT_SIZE	 (UINT64_C(1) << STORE_SLOT_SHIFT)
/* Logical blocks of 64-bit byte addresses: block < 2^43. */
#define STORE_BLOCK_LIMIT (UINT64_C(1) << (64 - STORE_SLOT_SHIFT))

/* Slot entry: 0 = free; else bits 0..43 = logical block + 1, bit 62 = being freed. */
#define STORE_ENTRY_BLOCK_MASK ((UINT64_C(1) << 44) - 1)
#define STORE_ENTRY_FREEING    (UINT64_C(1) << 62)
#define STORE_ENTRY_KNOWN_BITS (STORE_ENTRY_BLOCK_MASK | STORE_ENTRY_FREEING)

#define STORE_HEADER_SIZE      4096u
#define STORE_TIER_HEADER_SIZE 4096u
/* Largest slot count: slot numbers are uint32_t and UINT32_MAX means none. */
#define STORE_MAX_SLOTS (UINT32_MAX - 1u)
#define STORE_NO_SLOT	UINT32_MAX

/* A LIFO of free physical slots: O(1) take and give back. */
struct store_stack {
	uint32_t *items;
	uint32_t count;
	uint32_t capacity;
};

struct prb_store {
	/* The pool (fast tier): header, slot entries, fast slots. */
	int pool_fd;
	bool pool_is_device; /* devdax: no hole punching, zero with memset */
	bool pool_can_punch; /* fallocate(PUNCH_HOLE) works on the pool file */
	bool pool_in_memory; /* tmpfs/ramfs: the page cache is the medium (store_pool.c) */
	struct pmem2_source *source;
	struct pmem2_map *map;
	uint8_t *base;
	size_t map_size;
	enum pmem2_granularity granularity;
	pmem2_persist_fn persist;
	pmem2_flush_fn flush;
	pmem2_drain_fn drain;
	pmem2_memset_fn memset_fn;
	volatile uint64_t *entries; /* fast_slots + tier_slots entries, in the pool */
	uint64_t data_offset;	    /* first fast slot, from base */
	uint32_t fast_slots;
	uint32_t tier_slots; /* physical tier slots: reported + 1 spare; 0 without a tier */

	/* The tier: a plain file, header then 2 MiB slots. */
	int tier_fd;
	bool tier_can_punch;
	uint8_t *zero_buffer; /* lazily allocated, to write zeros where punching fails */

	uint8_t uuid[16];
	uint64_t boot_epoch;

	/* In-memory state, rebuilt at open. */
	struct store_stack fast_free;
	struct store_stack tier_free;
	uint32_t *pins;	     /* per fast slot */
	uint8_t *referenced; /* per fast slot: clock reference bit */
	/* Per slot (fast, then tier): zeroed by this process and not reachable for writing
	 * since (no pin, no tier copy into it), so a FREE need not zero it again. */
	uint8_t *zeroed;
	uint32_t clock_hand;
	uint64_t blocks; /* allocated logical blocks */
	struct prb_store_index index;

	/* Entries stored since the last commit (page granularity: one msync of the span). */
	uintptr_t dirty_lo;
	uintptr_t dirty_hi;
	bool pool_data_dirty; /* slots zeroed by punching, not yet fdatasync'ed */
	bool tier_data_dirty;

#ifdef PRB_STORE_FAULT_POINTS
	uint64_t fault_points;	 /* persist points passed since open */
	uint64_t fault_crash_at; /* 0 = never */
	bool fault_power_loss;	 /* undo uncommitted entry stores before crashing */
	uint64_t *fault_shadow;	 /* the entries as of the last commit */
#endif
};

/* store_pool.c: files, header, mapping. */
int store_pool_open(struct prb_store *s, const struct prb_store_config *cfg);
void store_pool_close(struct prb_store *s);
int store_pool_bump_epoch(struct prb_store *s);

/* store_pool.c: slot entries and slot data. */
static inline bool store_slot_is_tier(const struct prb_store *s, uint32_t slot)
{
	return slot >= s->fast_slots;
}

static inline uint8_t *store_fast_slot_addr(const struct prb_store *s, uint32_t slot)
{
	return s->base + s->data_offset + ((uint64_t)slot << STORE_SLOT_SHIFT);
}

static inline uint64_t store_tier_slot_offset(const struct prb_store *s, uint32_t slot)
{
	return STORE_TIER_HEADER_SIZE + ((uint64_t)(slot - s->fast_slots) << STORE_SLOT_SHIFT);
}

static inline uint64_t store_entry_for(uint64_t block)
{
	return block + 1;
}

void store_entry_set(struct prb_store *s, uint32_t slot, uint64_t value);
void store_entry_clear_lazily(struct prb_store *s, uint32_t slot);
void store_entry_commit(struct prb_store *s);
/* Zero slots [first, first + count), all in one tier; durable after store_slot_zero_sync. */
int store_slots_zero(struct prb_store *s, uint32_t first, uint32_t count);
/* Something may write into the slot from now on (a pin, a tier copy): zero it at FREE. */
void store_slot_may_change(struct prb_store *s, uint32_t slot);
int store_slot_zero_sync(struct prb_store *s);
int store_tier_sync(struct prb_store *s);
int store_tier_read(struct prb_store *s, uint32_t slot, uint8_t *buf);
int store_tier_write(struct prb_store *s, uint32_t slot, const uint8_t *buf);

/* store_fault.c: crash injection, no-ops unless PRB_STORE_FAULT_POINTS. */
void store_fault_setup(struct prb_store *s);
int store_fault_attach(struct prb_store *s);
void store_fault_committed(struct prb_store *s);
void store_fault_detach(struct prb_store *s);
void store_fault_point(struct prb_store *s);

/* store_recover.c */
int store_recover(struct prb_store *s);
void store_memory_free(struct prb_store *s);

/* store_tier.c */
int store_tier_recall(struct prb_store *s, uint64_t block, uint32_t tier_slot, uint32_t *fast_slot);

/* Free-slot stacks. */
static inline bool store_stack_pop(struct store_stack *st, uint32_t *slot)
{
	if (st->count == 0)
		return false;
	*slot = st->items[--st->count];
	return true;
}

static inline void store_stack_push(struct store_stack *st, uint32_t slot)
{
	if (st->count < st->capacity)
		st->items[st->count++] = slot;
}

/* Blocks that can still be allocated: every free slot but the tier's spare, which lets a
 * recall evict into the tier when the fast pool is full (DESIGN.md, Tiering). */
static inline uint64_t store_available(const struct prb_store *s)
{
	uint64_t total = (uint64_t)s->fast_free.count + s->tier_free.count;

	if (s->tier_slots == 0)
		return total;
	return total > 0 ? total - 1u : 0;
}

#endif
