/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "handle.h"

#include <errno.h>
#include <sys/random.h>

#define FEISTEL_ROUNDS 4

static uint64_t rotl(uint64_t x, unsigned b)
{
	return x << b | x >> (64 - b);
}

#define SIPROUND(v0, v1, v2, v3)                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = rotl(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = rotl(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = rotl(v2, 32);                                                                 \
	} while (0)

uint64_t prb_siphash24_word(uint64_t k0, uint64_t k1, uint64_t m)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	const uint64_t last = UINT64_C(8) << 56;  /* message length 8, no tail bytes */

	v3 ^= m;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= last;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

int prb_handle_gen_init(struct prb_handle_gen *g)
{
	uint64_t key[2];
	ssize_t n = getrandom(key, sizeof(key), 0);

	if (n != (ssize_t)sizeof(key))
		return n < 0 ? -errno : -EIO;
	g->k0 = key[0];
	g->k1 = key[1];
	g->counter = 0;
	return 0;
}

uint64_t prb_handle_permute(const struct prb_handle_gen *g, uint64_t x)
{
	uint32_t left = (uint32_t)(x >> 32), right = (uint32_t)x;

	for (uint64_t round = 0; round < FEISTEL_ROUNDS; round++) {
		uint32_t f = (uint32_t)prb_siphash24_word(g->k0, g->k1, round << 32 | right);
		uint32_t next = left ^ f;

		left = right;
		right = next;
	}
	return (uint64_t)left << 32 | right;
}

uint64_t prb_handle_next(struct prb_handle_gen *g)
{
	uint64_t h;

	/* One counter value maps to 0: skip it (the field's nonzero values stay reachable). */
	do
		h = prb_handle_permute(g, ++g->counter);
	while (h == 0);
	return h;
}
