/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Randomized test against an in-memory reference model: random ALLOC, FREE, pin, unpin,
 * write, read, LIST, info and reopen on a small tiered pool; every result, every byte
 * read and every LIST is compared with the model, and the full consistency check runs
 * every few dozen operations.
 *   test_store_model [--long] [SEED]
 */
#include "store_test_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FAST	 6
#define TIER	 6
#define CAPACITY (FAST + TIER)
#define SPACE	 48 /* blocks 0..47 */
#define MAX_PINS 3

struct model {
	bool present[SPACE];
	uint64_t seed[SPACE]; /* 0 = zeros */
	unsigned pins[SPACE];
	unsigned blocks;
};

static uint64_t rng_state;

static uint64_t rnd(uint64_t bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % bound;
}

static unsigned pinned_blocks(const struct model *m)
{
	unsigned n = 0;

	for (unsigned b = 0; b < SPACE; b++)
		n += m->pins[b] > 0;
	return n;
}

static struct prb_store *reopen(struct prb_store *s, struct model *m)
{
	prb_store_close(s);
	s = NULL;
	memset(m->pins, 0, sizeof(m->pins)); /* pins do not survive a close */
	CHECK_RC(store_test_open("pool", store_test_pool_bytes(FAST), "tier",
				 store_test_tier_bytes(TIER), &s),
		 0);
	if (!s)
		exit(1);
	return s;
}

static void op_alloc(struct prb_store *s, struct model *m)
{
	uint64_t block = rnd(SPACE);
	uint32_t count = (uint32_t)(1 + rnd(block + 4 <= SPACE ? 4 : SPACE - block));
	int want = 0;

	for (uint64_t b = block; b < block + count; b++)
		if (m->present[b])
			want = -EEXIST;
	if (want == 0 && m->blocks + count > CAPACITY)
		want = -ENOSPC;
	CHECK_RC(prb_store_alloc(s, block, count), want);
	if (want)
		return;
	for (uint64_t b = block; b < block + count; b++) {
		m->present[b] = true;
		m->seed[b] = 0;
	}
	m->blocks += count;
}

static void op_free(struct prb_store *s, struct model *m)
{
	uint64_t block = rnd(SPACE);
	uint32_t count = (uint32_t)(1 + rnd(block + 3 <= SPACE ? 3 : SPACE - block));
	int want = 0;

	for (uint64_t b = block; b < block + count; b++)
		if (!m->present[b])
			want = -ENOENT;
	for (uint64_t b = block; b < block + count && want == 0; b++)
		if (m->pins[b])
			want = -EBUSY;
	CHECK_RC(prb_store_free(s, block, count), want);
	if (want)
		return;
	for (uint64_t b = block; b < block + count; b++)
		m->present[b] = false;
	m->blocks -= count;
}

/* Pin a random block, compare its bytes with the model; maybe write, maybe keep it pinned. */
static void op_pin(struct prb_store *s, struct model *m, bool write, bool keep)
{
	uint64_t block = rnd(SPACE);
	uint8_t *data = NULL;
	int want = 0;

	if (!m->present[block])
		want = -ENOENT;
	else if (m->pins[block] == 0 && pinned_blocks(m) == FAST)
		want = -ENOSPC;
	CHECK_RC(prb_store_pin(s, block, &data), want);
	if (want || !data)
		return;
	CHECK(m->seed[block] ? store_test_verify(data, m->seed[block]) : store_test_is_zero(data));
	if (write) {
		m->seed[block] = 1 + rnd(UINT32_MAX);
		store_test_fill(data, m->seed[block]);
		if (rnd(2))
			prb_store_persist(s, data, SLOT);
	}
	if (keep && pinned_blocks(m) < MAX_PINS)
		m->pins[block]++;
	else
		prb_store_unpin(s, block);
}

static void op_unpin(struct prb_store *s, struct model *m)
{
	for (unsigned b = 0; b < SPACE; b++)
		if (m->pins[b]) {
			prb_store_unpin(s, b);
			m->pins[b]--;
			return;
		}
}

/* LIST in small pages from a random cursor: exactly the model's blocks, pinned ones resident. */
static void op_list(struct prb_store *s, const struct model *m)
{
	struct prb_store_extent ext[3];
	uint64_t start = rnd(SPACE), cursor = start, seen_end = start, resident = 0;
	bool end = false;
	bool listed[SPACE] = {false};

	while (!end) {
		int n = prb_store_list(s, cursor, ext, 1 + rnd(3), &cursor, &end);

		CHECK(n >= 0);
		for (int i = 0; i < n; i++) {
			CHECK(ext[i].block >= seen_end);
			for (uint64_t b = ext[i].block; b < ext[i].block + ext[i].blocks; b++) {
				CHECK(b < SPACE && m->present[b]);
				if (b < SPACE) {
					listed[b] = true;
					if (m->pins[b])
						CHECK(ext[i].where == PRB_STORE_RESIDENT);
				}
				resident += ext[i].where == PRB_STORE_RESIDENT;
			}
			seen_end = ext[i].block + ext[i].blocks;
		}
	}
	for (uint64_t b = start; b < SPACE; b++)
		CHECK(listed[b] == m->present[b]);
	CHECK(resident <= FAST);
}

static void op_info(struct prb_store *s, const struct model *m)
{
	struct prb_store_info info;

	prb_store_get_info(s, &info);
	CHECK(info.fast_blocks == FAST && info.tier_blocks == TIER);
	CHECK(info.fast_free + info.tier_free == CAPACITY - m->blocks);
	for (unsigned b = 0; b < SPACE; b++)
		CHECK_RC(prb_store_exists(s, b), m->present[b]);
}

int main(int argc, char **argv)
{
	bool longer = argc > 1 && strcmp(argv[1], "--long") == 0;
	uint64_t seed = argc > 1 + longer ? strtoull(argv[1 + longer], NULL, 0) : 20260101;
	unsigned ops = longer ? 200000 : 4000;
	struct model m;
	struct prb_store *s = NULL;

	memset(&m, 0, sizeof(m));
	rng_state = seed | 1;
	printf("store.model: seed %llu, %u operations\n", (unsigned long long)seed, ops);
	store_test_setup("store-model");
	CHECK_RC(store_test_open("pool", store_test_pool_bytes(FAST), "tier",
				 store_test_tier_bytes(TIER), &s),
		 0);
	if (!s)
		return 1;
	for (unsigned i = 0; i < ops && store_test_failures == 0; i++) {
		uint64_t dice = rnd(100);

		if (dice < 25)
			op_alloc(s, &m);
		else if (dice < 40)
			op_free(s, &m);
		else if (dice < 60)
			op_pin(s, &m, true, rnd(4) == 0);
		else if (dice < 75)
			op_pin(s, &m, false, rnd(4) == 0);
		else if (dice < 85)
			op_unpin(s, &m);
		else if (dice < 93)
			op_list(s, &m);
		else if (dice < 99)
			op_info(s, &m);
		else
			s = reopen(s, &m);
		if (i % 50 == 49)
			store_test_check(s, i % 500 == 499, "model");
		if (store_test_failures)
			fprintf(stderr, "store.model: first failure at operation %u (seed %llu)\n",
				i, (unsigned long long)seed);
	}
	store_test_check(s, true, "model end");
	prb_store_close(s);
	store_test_teardown();
	return store_test_finish(longer ? "store.model_long" : "store.model");
}
