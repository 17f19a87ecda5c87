/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit test of handle generation (ref-target/handle.c): SipHash-2-4 against its published
 * test vector, the Feistel permutation is a bijection on samples, handles are nonzero and
 * distinct over a million draws, and two keys give unrelated sequences.
 */
#include <stdio.h>
#include <stdlib.h>

#include "handle.h"

#define N 1000000

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	struct prb_handle_gen g, other;
	uint64_t *h = malloc(N * sizeof(*h));
	int fails = 0, same = 0;

	if (!h)
		return 1;
	/* SipHash-2-4, key 00..0f, message 00..07 (the reference implementation's vectors). */
	if (prb_siphash24_word(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL,
			       0x0706050403020100ULL) != 0x93f5f5799a932462ULL) {
		fprintf(stderr, "SipHash-2-4 test vector mismatch\n");
		fails++;
	}
	if (prb_handle_gen_init(&g) != 0 || prb_handle_gen_init(&other) != 0) {
		fprintf(stderr, "getrandom failed\n");
		return 1;
	}
	for (int i = 0; i < N; i++) {
		h[i] = prb_handle_next(&g);
		if (h[i] == 0) {
			fprintf(stderr, "handle 0 issued\n");
			fails++;
			break;
		}
		same += prb_handle_next(&other) == h[i];
	}
	qsort(h, N, sizeof(*h), cmp_u64);
	for (int i = 1; i < N; i++) {
		if (h[i] == h[i - 1]) {
			fprintf(stderr, "handle %#llx issued twice\n", (unsigned long long)h[i]);
			fails++;
			break;
		}
	}
	if (same > 2) {
		fprintf(stderr, "two keys gave %d equal handles\n", same);
		fails++;
	}
	/* Handles spread over the whole field: both halves vary. */
	if (h[0] > (UINT64_C(1) << 50) || h[N - 1] < UINT64_MAX - (UINT64_C(1) << 50)) {
		fprintf(stderr, "handles do not spread over 64 bits\n");
		fails++;
	}
	free(h);
	printf("test_handles: %s\n", fails ? "FAILED" : "passed");
	return fails ? 1 : 0;
}
