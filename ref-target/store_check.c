/* SPDX-License-Identifier: Apache-2.0 */
/* A full consistency check of an open store, for tests (store_check.h). */
#include "store_check.h"
#include "store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (why_len)
		vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

static bool slot_is_zero(struct prb_store *s, uint32_t slot, uint8_t *buf, int *rc)
{
	const uint8_t *data = buf;

	*rc = 0;
	if (store_slot_is_tier(s, slot)) {
		*rc = store_tier_read(s, slot, buf);
		if (*rc)
			return false;
	} else {
		data = store_fast_slot_addr(s, slot);
	}
	for (size_t i = 0; i < STORE_SLOT_SIZE; i++)
		if (data[i] != 0)
			return false;
	return true;
}

/* Every free slot is on exactly one stack, once, and its entry is 0. */
static int check_free(struct prb_store *s, uint8_t *seen, char *why, size_t why_len)
{
	const struct store_stack *stacks[2] = {&s->fast_free, &s->tier_free};

	for (unsigned k = 0; k < 2; k++) {
		for (uint32_t i = 0; i < stacks[k]->count; i++) {
			uint32_t slot = stacks[k]->items[i];

			if (slot >= s->fast_slots + s->tier_slots || seen[slot] ||
			    store_slot_is_tier(s, slot) != (k == 1))
				return fail(why, why_len,
					    "free stack %u: bad or repeated slot %" PRIu32, k,
					    slot);
			if (s->entries[slot] != 0)
				return fail(why, why_len,
					    "free slot %" PRIu32 " has entry %#" PRIx64, slot,
					    s->entries[slot]);
			seen[slot] = 1;
		}
	}
	return 0;
}

static int check_slots(struct prb_store *s, uint8_t *seen, bool check_zeros, char *why,
		       size_t why_len)
{
	uint8_t *buf = check_zeros ? malloc(STORE_SLOT_SIZE) : NULL;
	uint64_t live = 0;
	int rc = 0;

	if (check_zeros && !buf)
		return -ENOMEM;
	for (uint32_t slot = 0; slot < s->fast_slots + s->tier_slots && rc == 0; slot++) {
		uint64_t entry = s->entries[slot];
		uint32_t indexed;

		if (entry == 0) {
			if (!seen[slot])
				rc = fail(why, why_len, "slot %" PRIu32 " leaked", slot);
			else if (check_zeros && !slot_is_zero(s, slot, buf, &rc) && rc == 0)
				rc = fail(why, why_len, "free slot %" PRIu32 " not zero", slot);
			continue;
		}
		uint64_t block = (entry & STORE_ENTRY_BLOCK_MASK) - 1;
		if ((entry & ~STORE_ENTRY_BLOCK_MASK) != 0 || (entry & STORE_ENTRY_BLOCK_MASK) == 0)
			rc = fail(why, why_len, "slot %" PRIu32 " entry %#" PRIx64, slot, entry);
		else if (!prb_store_index_lookup(&s->index, block, &indexed) || indexed != slot)
			rc = fail(why, why_len,
				  "block %" PRIu64 " in slot %" PRIu32
				  " not indexed there (twice?)",
				  block, slot);
		else
			live++;
	}
	free(buf);
	if (rc == 0 && live != s->blocks)
		rc = fail(why, why_len, "%" PRIu64 " live entries, %" PRIu64 " blocks", live,
			  s->blocks);
	return rc;
}

/* LIST from 0 covers exactly s->blocks blocks, ascending, coalesced. */
static int check_list(struct prb_store *s, char *why, size_t why_len)
{
	struct prb_store_extent extents[64];
	uint64_t cursor = 0, total = 0, last_end = 0;
	enum prb_store_where last_where = 0;
	bool end = false;

	while (!end) {
		int n = prb_store_list(s, cursor, extents, 64, &cursor, &end);

		for (int i = 0; i < n; i++) {
			const struct prb_store_extent *e = &extents[i];

			if (e->blocks == 0 || (total && e->block < last_end) ||
			    (total && e->block == last_end && e->where == last_where))
				return fail(why, why_len, "LIST extent at %" PRIu64 " out of order",
					    e->block);
			for (uint64_t b = e->block; b < e->block + e->blocks; b++) {
				uint32_t slot;

				if (!prb_store_index_lookup(&s->index, b, &slot) ||
				    store_slot_is_tier(s, slot) != (e->where == PRB_STORE_TIERED))
					return fail(why, why_len, "LIST block %" PRIu64 " wrong",
						    b);
			}
			total += e->blocks;
			last_end = e->block + e->blocks;
			last_where = e->where;
		}
	}
	if (total != s->blocks)
		return fail(why, why_len, "LIST shows %" PRIu64 " blocks of %" PRIu64, total,
			    s->blocks);
	return 0;
}

/* INFO's free counts add up to the blocks that can still be allocated. */
static int check_info(struct prb_store *s, char *why, size_t why_len)
{
	struct prb_store_info info;

	prb_store_get_info(s, &info);
	if (info.fast_free + info.tier_free + s->blocks != info.fast_blocks + info.tier_blocks)
		return fail(why, why_len,
			    "info: %" PRIu64 " + %" PRIu64 " free, %" PRIu64
			    " blocks, capacity %" PRIu64 " + %" PRIu64,
			    info.fast_free, info.tier_free, s->blocks, info.fast_blocks,
			    info.tier_blocks);
	return 0;
}

int prb_store_peek(struct prb_store *s, uint64_t block, uint8_t *buf)
{
	uint32_t slot;

	if (block >= STORE_BLOCK_LIMIT || !prb_store_index_lookup(&s->index, block, &slot))
		return -ENOENT;
	if (store_slot_is_tier(s, slot))
		return store_tier_read(s, slot, buf);
	memcpy(buf, store_fast_slot_addr(s, slot), STORE_SLOT_SIZE);
	return 0;
}

int prb_store_check(struct prb_store *s, bool check_zeros, char *why, size_t why_len)
{
	uint8_t *seen = calloc((size_t)s->fast_slots + s->tier_slots, 1);
	int rc;

	if (!seen)
		return -ENOMEM;
	rc = check_free(s, seen, why, why_len);
	if (rc == 0)
		rc = check_slots(s, seen, check_zeros, why, why_len);
	if (rc == 0)
		rc = check_list(s, why, why_len);
	if (rc == 0)
		rc = check_info(s, why, why_len);
	free(seen);
	return rc;
}
