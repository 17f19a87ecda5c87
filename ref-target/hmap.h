/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An intrusive hash map keyed by uint64_t (chained, power-of-two buckets, grows
 * to keep at most one entry per bucket on average). The brick uses it for handles
 * and for mapped blocks.
 */
#ifndef PRB_TARGET_HMAP_H
#define PRB_TARGET_HMAP_H

#include <stddef.h>
#include <stdint.h>

/** Embedded in each entry. */
struct prb_hmap_node {
	uint64_t key;
	struct prb_hmap_node *next;
};

struct prb_hmap {
	struct prb_hmap_node **buckets;
	size_t mask;  /* buckets - 1 */
	size_t count;
};

/** \return 0 or -ENOMEM. */
int prb_hmap_init(struct prb_hmap *m);
/** Frees the buckets, not the entries. */
void prb_hmap_fini(struct prb_hmap *m);
/** The node with \p key, or NULL. */
struct prb_hmap_node *prb_hmap_find(const struct prb_hmap *m, uint64_t key);
/** Insert \p n (its key set, not present yet). Growing may fail silently: it stays correct. */
void prb_hmap_insert(struct prb_hmap *m, struct prb_hmap_node *n);
/** Remove \p n, which is in the map. */
void prb_hmap_remove(struct prb_hmap *m, struct prb_hmap_node *n);

#endif
