/* SPDX-License-Identifier: Apache-2.0 */
/* The store's public operations (store.h); persist order in DESIGN.md. */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>

int prb_store_open(const struct prb_store_config *cfg, struct prb_store **out)
{
	struct prb_store *s;
	int rc;

	if (!cfg || !cfg->pool_path || !out || (cfg->tier_size && !cfg->tier_path))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pool_fd = -1;
	s->tier_fd = -1;
	store_fault_setup(s);
	rc = store_pool_open(s, cfg);
	if (rc == 0)
		rc = store_fault_attach(s);
#ifdef PRB_MUTANT_EPOCH_NOT_BUMPED
	if (rc == 0 && s->boot_epoch == 0) /* mutant: the epoch is set once, never grows */
#else
	if (rc == 0)
#endif
		rc = store_pool_bump_epoch(s);
	if (rc == 0)
		rc = store_recover(s);
	if (rc) {
		prb_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void prb_store_close(struct prb_store *s)
{
	if (!s)
		return;
	store_pool_close(s);
	store_memory_free(s);
	store_fault_detach(s);
	free(s);
}

void prb_store_get_info(const struct prb_store *s, struct prb_store_info *info)
{
	uint64_t available = store_available(s);

	for (unsigned i = 0; i < sizeof(info->uuid); i++)
		info->uuid[i] = s->uuid[i];
	info->boot_epoch = s->boot_epoch;
	info->fast_blocks = s->fast_slots;
	/* After a crash between the two halves of a swap the tier holds its spare too: a
	 * fast slot is free but nothing more can be allocated. Report what can be. */
	info->fast_free = s->fast_free.count < available ? s->fast_free.count : available;
	info->tier_blocks = s->tier_slots ? s->tier_slots - 1u : 0;
	info->tier_free = available - info->fast_free;
	info->persistent = s->granularity == PMEM2_GRANULARITY_BYTE ||
			   s->granularity == PMEM2_GRANULARITY_CACHE_LINE;
	info->in_memory = s->pool_in_memory;
}

static bool range_valid(uint64_t block, uint32_t count)
{
	return count > 0 && block < STORE_BLOCK_LIMIT && count <= STORE_BLOCK_LIMIT - block;
}

int prb_store_alloc(struct prb_store *s, uint64_t block, uint32_t count)
{
	uint32_t slot;
	int rc;

	if (!range_valid(block, count))
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++)
		if (prb_store_index_lookup(&s->index, block + i, &slot))
			return -EEXIST;
	if (store_available(s) < count)
		return -ENOSPC;
	rc = prb_store_index_reserve(&s->index, count);
	if (rc)
		return rc;
	/* Fresh slots read as zeros already: allocating writes entries only. */
	for (uint32_t i = 0; i < count; i++) {
		if (!store_stack_pop(&s->fast_free, &slot))
			store_stack_pop(&s->tier_free, &slot); /* store_available() said yes */
#ifndef PRB_MUTANT_ALLOC_NOT_DURABLE /* mutant: the allocation lives in memory only */
		store_entry_set(s, slot, store_entry_for(block + i));
#endif
		rc = prb_store_index_insert(&s->index, block + i, slot,
					    store_slot_is_tier(s, slot));
		if (rc)
			return rc; /* cannot happen: reserved above */
		if (!store_slot_is_tier(s, slot))
			s->referenced[slot] = 1;
	}
	store_entry_commit(s);
	s->blocks += count;
	return 0;
}

/* Zero the slots of blocks [block, block + count), one call per run of adjacent slots. */
static int zero_block_slots(struct prb_store *s, uint64_t block, uint32_t count)
{
	uint32_t first = 0, run = 0, slot;
	int rc = 0;

	for (uint32_t i = 0; i < count && rc == 0; i++) {
		prb_store_index_lookup(&s->index, block + i, &slot);
		if (run && slot == first + run && slot != s->fast_slots) {
			run++;
			continue;
		}
		if (run)
			rc = store_slots_zero(s, first, run);
		first = slot;
		run = 1;
	}
	return rc == 0 && run ? store_slots_zero(s, first, run) : rc;
}

int prb_store_free(struct prb_store *s, uint64_t block, uint32_t count)
{
	uint32_t slot;
	int rc = 0;

	if (!range_valid(block, count))
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++)
		if (!prb_store_index_lookup(&s->index, block + i, &slot))
			return -ENOENT;
	for (uint32_t i = 0; i < count; i++) {
		prb_store_index_lookup(&s->index, block + i, &slot);
		if (!store_slot_is_tier(s, slot) && s->pins[slot] != 0)
			return -EBUSY;
	}
	/* Commit point: every slot of the range marked as being freed. */
	for (uint32_t i = 0; i < count; i++) {
		prb_store_index_lookup(&s->index, block + i, &slot);
		store_entry_set(s, slot, store_entry_for(block + i) | STORE_ENTRY_FREEING);
	}
	store_entry_commit(s);
#ifdef PRB_MUTANT_FREE_NOT_ZEROED
	(void)zero_block_slots; /* mutant (conformance/mutants.txt): the old bytes stay */
	rc = 0;
#else
	rc = zero_block_slots(s, block, count);
#endif
	if (rc == 0)
		rc = store_slot_zero_sync(s);
	/* Pushed last block first, so that the next range ALLOC gets ascending slots again. */
	for (uint32_t i = count; i-- > 0;) {
		prb_store_index_lookup(&s->index, block + i, &slot);
		prb_store_index_remove(&s->index, block + i);
		if (rc)
			continue; /* quarantined until the next open zeroes them */
		store_entry_clear_lazily(s, slot);
		store_stack_push(store_slot_is_tier(s, slot) ? &s->tier_free : &s->fast_free, slot);
	}
	s->blocks -= count;
	return 0; /* durable since the commit point, whatever happened to the zeroing */
}

int prb_store_exists(const struct prb_store *s, uint64_t block)
{
	uint32_t slot;

	return block < STORE_BLOCK_LIMIT && prb_store_index_lookup(&s->index, block, &slot);
}

int prb_store_pin(struct prb_store *s, uint64_t block, uint8_t **data)
{
	uint32_t slot;
	int rc;

	if (block >= STORE_BLOCK_LIMIT || !prb_store_index_lookup(&s->index, block, &slot))
		return -ENOENT;
	if (store_slot_is_tier(s, slot)) {
		rc = store_tier_recall(s, block, slot, &slot);
		if (rc)
			return rc == -ENOSPC ? rc : -EIO;
	}
	if (s->pins[slot] == UINT32_MAX)
		return -EOVERFLOW;
	s->pins[slot]++;
	s->referenced[slot] = 1;
	store_slot_may_change(s, slot); /* the caller may write through *data */
	*data = store_fast_slot_addr(s, slot);
	return 0;
}

void prb_store_unpin(struct prb_store *s, uint64_t block)
{
	uint32_t slot;

	if (block >= STORE_BLOCK_LIMIT || !prb_store_index_lookup(&s->index, block, &slot) ||
	    store_slot_is_tier(s, slot) || s->pins[slot] == 0)
		return;
	s->pins[slot]--;
	s->referenced[slot] = 1;
}

void prb_store_persist(struct prb_store *s, const void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr;
	uintptr_t pool_start = (uintptr_t)s->base + s->data_offset;
	uintptr_t pool_end = (uintptr_t)s->base + s->map_size;

	if (len == 0 || start < pool_start || start >= pool_end)
		return;
	if (len > pool_end - start)
		len = pool_end - start;
	store_fault_point(s);
	s->persist(addr, len);
}

/* Length of the run of blocks in one place starting at `first` (which is allocated). */
static uint64_t run_length(const struct prb_store *s, uint64_t first, bool tiered)
{
	uint64_t group = first >> 6;
	unsigned bit = (unsigned)(first & 63u);
	uint64_t length = 0;

	for (;;) {
		uint64_t present, in_tier, same, inverse;
		unsigned run;

		prb_store_index_group(&s->index, group, &present, &in_tier);
		same = (present & (tiered ? in_tier : ~in_tier)) >> bit;
		inverse = ~same;
		run = inverse ? (unsigned)__builtin_ctzll(inverse) : 64u;
		length += run;
		if (bit + run < 64u || length >= UINT32_MAX - 64u ||
		    group + 1 >= STORE_BLOCK_LIMIT >> 6)
			return length;
		group++;
#ifdef PRB_MUTANT_RUN_CROSSES_GROUP_AT_BIT
		continue; /* mutant (conformance/mutants.txt): the next group read from `bit` on */
#endif
		bit = 0;
	}
}

int prb_store_list(struct prb_store *s, uint64_t block, struct prb_store_extent *out, size_t max,
		   uint64_t *next, bool *end)
{
	uint64_t cursor = block;
	uint64_t first;
	size_t count = 0;

	if (block >= STORE_BLOCK_LIMIT) {
		*next = block;
		*end = true;
		return 0;
	}
	while (count < max && count < INT32_MAX &&
	       prb_store_index_next(&s->index, cursor, &first)) {
		uint64_t present, in_tier;

		prb_store_index_group(&s->index, first >> 6, &present, &in_tier);
		bool tiered = (in_tier >> (first & 63u)) & 1u;
		uint64_t length = run_length(s, first, tiered);

		out[count].block = first;
		out[count].blocks = (uint32_t)length;
		out[count].where = tiered ? PRB_STORE_TIERED : PRB_STORE_RESIDENT;
		count++;
		cursor = first + length;
	}
	*next = count ? cursor : block;
	*end = *next >= STORE_BLOCK_LIMIT || !prb_store_index_next(&s->index, *next, &first);
#ifdef PRB_MUTANT_LIST_END_NOT_ON_FULL_PAGE
	*end = *end && count < max; /* mutant (conformance/mutants.txt): a full page never ends */
#endif
	return (int)count;
}
