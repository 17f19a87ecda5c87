/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the store and its tests: a full consistency check of an open store. */
#ifndef PRB_TARGET_STORE_CHECK_H
#define PRB_TARGET_STORE_CHECK_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>

/**
 * Check the invariants of DESIGN.md: every slot entry is valid and no slot is being freed,
 * no logical block has two slots, the index maps every block to its slot and nothing
 * else, the free-slot stacks hold exactly the free slots (nothing leaks, nothing twice),
 * pins are on fast slots only, LIST covers exactly the allocated blocks.
 * \param check_zeros also read every free slot and check that it is all zeros
 * \param why receives a one-line reason on failure
 * \return 0, -EUCLEAN when an invariant is broken, -EIO or -ENOMEM
 */
int prb_store_check(struct prb_store *s, bool check_zeros, char *why, size_t why_len);

/**
 * Copy a block's 2 MiB into buf from wherever it lives, without pinning or moving it
 * (a test's read that leaves tiering state alone). -ENOENT, -EIO.
 */
int prb_store_peek(struct prb_store *s, uint64_t block, uint8_t *buf);

#endif
