/* SPDX-License-Identifier: Apache-2.0 */
#include "hmap.h"

#include <errno.h>
#include <stdlib.h>

#define HMAP_MIN_BUCKETS 64u

/* Spread keys (handles are random, block numbers are not) over the buckets. */
static size_t hmap_slot(const struct prb_hmap *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & m->mask;
}

int prb_hmap_init(struct prb_hmap *m)
{
	m->buckets = calloc(HMAP_MIN_BUCKETS, sizeof(*m->buckets));
	if (!m->buckets)
		return -ENOMEM;
	m->mask = HMAP_MIN_BUCKETS - 1;
	m->count = 0;
	return 0;
}

void prb_hmap_fini(struct prb_hmap *m)
{
	free(m->buckets);
	m->buckets = NULL;
}

struct prb_hmap_node *prb_hmap_find(const struct prb_hmap *m, uint64_t key)
{
	struct prb_hmap_node *n;

	for (n = m->buckets[hmap_slot(m, key)]; n; n = n->next)
		if (n->key == key)
			return n;
	return NULL;
}

/* Double the buckets; on allocation failure keep the old ones (longer chains). */
static void hmap_grow(struct prb_hmap *m)
{
	size_t old_size = m->mask + 1;
	struct prb_hmap_node **old = m->buckets;
	struct prb_hmap_node **grown = calloc(old_size * 2, sizeof(*grown));

	if (!grown)
		return;
	m->buckets = grown;
	m->mask = old_size * 2 - 1;
	for (size_t i = 0; i < old_size; i++) {
		struct prb_hmap_node *n = old[i];

		while (n) {
			struct prb_hmap_node *next = n->next;
			size_t slot = hmap_slot(m, n->key);

			n->next = grown[slot];
			grown[slot] = n;
			n = next;
		}
	}
	free(old);
}

void prb_hmap_insert(struct prb_hmap *m, struct prb_hmap_node *n)
{
	size_t slot;

	if (m->count >= m->mask + 1)
		hmap_grow(m);
	slot = hmap_slot(m, n->key);
	n->next = m->buckets[slot];
	m->buckets[slot] = n;
	m->count++;
}

void prb_hmap_remove(struct prb_hmap *m, struct prb_hmap_node *n)
{
	struct prb_hmap_node **p;

	for (p = &m->buckets[hmap_slot(m, n->key)]; *p; p = &(*p)->next) {
		if (*p == n) {
			*p = n->next;
			m->count--;
			return;
		}
	}
}
