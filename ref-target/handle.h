/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handle generation (PRB-MAP-9, -10): a keyed permutation of a counter. The key is
 * 128 bits from getrandom, drawn once per brick; the permutation is a 4-round Feistel
 * network over the two 32-bit halves with SipHash-2-4 as its round function. Distinct
 * counters give distinct handles, so no handle repeats within a boot epoch; without the
 * key the next handle cannot be told from the ones seen.
 */
#ifndef PRB_TARGET_HANDLE_H
#define PRB_TARGET_HANDLE_H

#include <stdint.h>

struct prb_handle_gen {
	uint64_t k0, k1;    /* the key */
	uint64_t counter;   /* handles issued so far (0 is skipped: never a handle) */
};

/** Draw a fresh key. \return 0 or a negative errno from getrandom. */
int prb_handle_gen_init(struct prb_handle_gen *g);
/** The next handle: nonzero, never returned before by this generator. */
uint64_t prb_handle_next(struct prb_handle_gen *g);
/** SipHash-2-4 of one 8-byte little-endian message word under key (k0, k1): the PRF. */
uint64_t prb_siphash24_word(uint64_t k0, uint64_t k1, uint64_t m);
/** The permutation itself (exposed for tests). */
uint64_t prb_handle_permute(const struct prb_handle_gen *g, uint64_t x);

#endif
