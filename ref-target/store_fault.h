/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash injection, in the test build of the store only (library prb_store_fault, compiled
 * with PRB_STORE_FAULT_POINTS). A persist point is every place where the store makes
 * something durable: slot-entry commits, data persists, fdatasync of the pool or the tier,
 * the boot epoch. Points are counted from prb_store_open(); when the count reaches the
 * armed value the process is killed with SIGKILL just before that persist, so a fork-based
 * test can crash at every point in turn, reopen and check the invariants.
 */
#ifndef PRB_TARGET_STORE_FAULT_H
#define PRB_TARGET_STORE_FAULT_H

#include "store.h"

#include <stdint.h>

/** Environment variable read by prb_store_open(): crash at this persist point (1-based). */
#define PRB_STORE_CRASH_AT_ENV "PRB_STORE_CRASH_AT"
/** Environment variable: "power" to undo the slot-entry stores made since the last entry
 *  commit before crashing (what a power loss may lose), else a plain kill. */
#define PRB_STORE_CRASH_MODE_ENV "PRB_STORE_CRASH_MODE"

#ifdef PRB_STORE_FAULT_POINTS
/** Persist points passed since open. */
uint64_t prb_store_fault_points(const struct prb_store *s);
/** Crash at persist point `at` counted from open (0 disarms). */
void prb_store_fault_arm(struct prb_store *s, uint64_t at);
#endif

#endif
