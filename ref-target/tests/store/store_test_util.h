/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the store's tests: a temporary folder for pools, checks that count. */
#ifndef PRB_STORE_TEST_UTIL_H
#define PRB_STORE_TEST_UTIL_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MIB  (UINT64_C(1) << 20)
#define SLOT (2 * MIB)

extern int store_test_failures;

/* Record a failure (with where it happened) and go on. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,       \
				__func__, #cond);                                                  \
			store_test_failures++;                                                     \
		}                                                                                  \
	} while (0)

#define CHECK_RC(expr, want)                                                                       \
	do {                                                                                       \
		long long got_ = (long long)(expr);                                                \
		if (got_ != (long long)(want)) {                                                   \
			fprintf(stderr, "%s:%d: %s: %s returned %lld, want %lld\n", __FILE__,      \
				__LINE__, __func__, #expr, got_, (long long)(want));               \
			store_test_failures++;                                                     \
		}                                                                                  \
	} while (0)

/* Make the test's temporary folder (under $PRB_STORE_TEST_TMP, else /tmp). */
void store_test_setup(const char *test_name);
/* Remove every file of the folder and the folder. */
void store_test_teardown(void);
/* Path of a file in the folder; the buffer is static per call site index (0..3). */
const char *store_test_path(unsigned which, const char *name);
/* Copy a file of the folder to another (holes stay holes); 0 or -errno. */
int store_test_copy(const char *from, const char *to);
/* Delete one file of the folder. */
void store_test_unlink(const char *name);
/* Open a store on pool (and tier) files of the folder; sizes in slots of data. */
int store_test_open(const char *pool, uint64_t pool_bytes, const char *tier, uint64_t tier_bytes,
		    struct prb_store **out);
/* Pool / tier file sizes that give exactly `slots` usable slots. */
uint64_t store_test_pool_bytes(uint64_t slots);
uint64_t store_test_tier_bytes(uint64_t slots);
/* Fill / verify a block's bytes from a seed. */
void store_test_fill(uint8_t *data, uint64_t seed);
bool store_test_verify(const uint8_t *data, uint64_t seed);
bool store_test_is_zero(const uint8_t *data);
/* Run the store's consistency check; a failure is counted. */
void store_test_check(struct prb_store *s, bool zeros, const char *where);
/* Print the verdict and return the exit status. */
int store_test_finish(const char *test_name);

#endif
