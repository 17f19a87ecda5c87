/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "brick.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <prb/wire.h>

#include "handle.h"
#include "log.h"
#include "store.h"

/* Block numbers are addresses >> PRB_BLOCK_SHIFT: 2^(64 - 21) of them. */
#define BLOCK_LIMIT (UINT64_C(1) << (64 - PRB_BLOCK_SHIFT))

/* A block with at least one live mapping: pinned in fast memory while it exists. */
struct brick_block {
	struct prb_hmap_node node;  /* key: block number */
	uint8_t *data;
	uint32_t maps;
	uint32_t writers;           /* read-write mappings among them */
	bool excl;
	struct prb_mapping *mappings;
};

struct prb_session {
	struct prb_brick *brick;
	const struct prb_session_ops *ops;
	void *ctx;
	uint32_t max_mappings;
	uint32_t mappings_count;
	struct prb_mapping *mappings;
};

struct prb_brick {
	struct prb_store *store;
	struct prb_hmap handles;  /* struct prb_mapping by handle */
	struct prb_hmap blocks;   /* struct brick_block by block number */
	uint64_t requests;
	uint32_t sessions;
	struct prb_handle_gen handles_gen;
	struct prb_store_extent *list_scratch;
};

int prb_brick_new(struct prb_store *store, struct prb_brick **out)
{
	struct prb_brick *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->store = store;
	b->list_scratch = calloc(PRB_MAX_LIST_EXTENTS, sizeof(*b->list_scratch));
	if (!b->list_scratch)
		goto err_free_brick;
	if (prb_handle_gen_init(&b->handles_gen) < 0)
		goto err_free_scratch;
	if (prb_hmap_init(&b->handles) < 0)
		goto err_free_scratch;
	if (prb_hmap_init(&b->blocks) < 0)
		goto err_fini_handles;
	*out = b;
	return 0;

err_fini_handles:
	prb_hmap_fini(&b->handles);
err_free_scratch:
	free(b->list_scratch);
err_free_brick:
	free(b);
	return -ENOMEM;
}

void prb_brick_delete(struct prb_brick *b)
{
	if (!b)
		return;
	prb_hmap_fini(&b->blocks);
	prb_hmap_fini(&b->handles);
	free(b->list_scratch);
	free(b);
}

struct prb_store *prb_brick_store(const struct prb_brick *b)
{
	return b->store;
}

void prb_brick_count_request(struct prb_brick *b)
{
	b->requests++;
}

void prb_brick_get_info(const struct prb_brick *b, struct prb_brick_info *info)
{
	struct prb_store_info si;

	prb_store_get_info(b->store, &si);
	memset(info, 0, sizeof(*info));
	memcpy(info->brick_id, si.uuid, sizeof(info->brick_id));
	info->boot_epoch = si.boot_epoch;
	info->fast_blocks = si.fast_blocks;
	info->fast_free = si.fast_free;
	info->tier_blocks = si.tier_blocks;
	info->tier_free = si.tier_free;
	info->capacity_blocks = si.fast_blocks + si.tier_blocks;
	info->free_blocks = si.fast_free + si.tier_free;
	info->mapped_blocks = b->blocks.count;
	info->requests = b->requests;
	info->connections = b->sessions;
	info->persistent = si.persistent;
}

int prb_session_new(struct prb_brick *b, const struct prb_session_ops *ops, void *ctx,
		    uint32_t max_mappings, struct prb_session **out)
{
	struct prb_session *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->brick = b;
	s->ops = ops;
	s->ctx = ctx;
	s->max_mappings = max_mappings;
	b->sessions++;
	*out = s;
	return 0;
}

/* Revoke one mapping: forget the handle, tell the binding, unpin the block with its last. */
static void brick_revoke(struct prb_brick *b, struct prb_mapping *m)
{
	struct prb_session *s = m->session;
	struct brick_block *blk = m->block;

	prb_hmap_remove(&b->handles, &m->node);
	if (s->ops && s->ops->on_unmap)
		s->ops->on_unmap(s->ctx, m);
	if (m->session_prev)
		m->session_prev->session_next = m->session_next;
	else
		s->mappings = m->session_next;
	if (m->session_next)
		m->session_next->session_prev = m->session_prev;
	s->mappings_count--;
	if (m->block_prev)
		m->block_prev->block_next = m->block_next;
	else
		blk->mappings = m->block_next;
	if (m->block_next)
		m->block_next->block_prev = m->block_prev;
	blk->maps--;
	if (m->map_flags & PRB_MAP_WRITE)
		blk->writers--;
	if (m->map_flags & PRB_MAP_EXCL)
		blk->excl = false;
	if (blk->maps == 0) {
		prb_hmap_remove(&b->blocks, &blk->node);
		prb_store_unpin(b->store, blk->node.key);
		free(blk);
	}
	prb_dbg("handle %016llx revoked", (unsigned long long)m->handle);
	free(m);
}

void prb_session_delete(struct prb_session *s)
{
	if (!s)
		return;
#ifdef PRB_MUTANT_DISCONNECT_KEEPS_HANDLES
	if (s->mappings) { /* mutant (conformance/mutants.txt): handles outlive the connection */
		s->ops = NULL;
		s->brick->sessions--;
		return;
	}
#endif
	while (s->mappings)
		brick_revoke(s->brick, s->mappings);
	s->brick->sessions--;
	free(s);
}

/* Block number of a 2 MiB aligned address range, or -EINVAL when it passes 2^64. */
static int brick_range(uint64_t addr, uint32_t blocks, uint64_t *first)
{
	uint64_t block = addr >> PRB_BLOCK_SHIFT;

	/* PRB-ALLOC/FREE: a range past 2^64 is EINVAL (alignment is checked by the codec). */
	if (addr & (PRB_BLOCK_SIZE - 1) || blocks == 0 || block + blocks > BLOCK_LIMIT)
		return -EINVAL;
	*first = block;
	return 0;
}

int prb_brick_alloc(struct prb_brick *b, uint64_t addr, uint32_t blocks)
{
	uint64_t block;
	int err = brick_range(addr, blocks, &block);

	if (err < 0)
		return err;
#ifdef PRB_MUTANT_EEXIST_IGNORED
	err = prb_store_alloc(b->store, block, blocks);
	return err == -EEXIST ? 0 : err; /* mutant (conformance/mutants.txt): EEXIST acked */
#endif
	return prb_store_alloc(b->store, block, blocks);
}

static struct brick_block *brick_find_block(const struct prb_brick *b, uint64_t block)
{
	struct prb_hmap_node *n = prb_hmap_find(&b->blocks, block);

	return n ? (struct brick_block *)n : NULL;
}

int prb_brick_free(struct prb_brick *b, uint64_t addr, uint32_t blocks, uint32_t free_flags)
{
	uint64_t block;
	int err = brick_range(addr, blocks, &block);

	if (err < 0)
		return err;
#ifdef PRB_MUTANT_FREE_MAPPED_ALLOWED
	free_flags |= PRB_FREE_FORCE; /* mutant (conformance/mutants.txt): FORCE always */
#endif
	for (uint64_t i = block; i < block + blocks; i++)
		if (prb_store_exists(b->store, i) != 1)
			return -ENOENT;
	for (uint64_t i = block; i < block + blocks; i++) {
		struct brick_block *blk = brick_find_block(b, i);

		if (!blk)
			continue;
		if (!(free_flags & PRB_FREE_FORCE))
			return -EBUSY;
	}
#ifdef PRB_MUTANT_FREE_TOP_RANGE_KEPT
	/* mutant (conformance/mutants.txt): the end address is computed modulo 2^64, so a range
	 * that ends exactly at 2^64 looks empty and is answered OK without being freed */
	if (addr + ((uint64_t)blocks << PRB_BLOCK_SHIFT) == 0)
		return 0;
#endif
	if (free_flags & PRB_FREE_FORCE) {
		for (uint64_t i = block; i < block + blocks; i++) {
			struct brick_block *blk;

			/* The block goes away with its last mapping: look it up each time. */
			while ((blk = brick_find_block(b, i))) {
#ifdef PRB_MUTANT_MAPPINGS_KEPT_ON_FORCE
				/* mutant (conformance/mutants.txt): the slot stays taken */
				blk->mappings->session->mappings_count++;
#endif
				brick_revoke(b, blk->mappings);
			}
		}
	}
	return prb_store_free(b->store, block, blocks);
}

/* A fresh handle (handle.h): never 0, never issued before in this boot epoch. */
static int brick_new_handle(struct prb_brick *b, uint64_t *handle)
{
	uint64_t h;

	/* A permutation cannot repeat; the check only guards against a broken one. */
	do
		h = prb_handle_next(&b->handles_gen);
	while (prb_hmap_find(&b->handles, h));
	*handle = h;
	return 0;
}

/* A read-write MAP of \p blk by \p s: tell the sessions of the block's other mappings. */
static void brick_shared_write(struct brick_block *blk, const struct prb_session *s)
{
	for (struct prb_mapping *m = blk->mappings; m; m = m->block_next) {
		const struct prb_session *other = m->session;

		if (other != s && other->ops && other->ops->on_shared_write)
			other->ops->on_shared_write(other->ctx, m);
	}
}

int prb_brick_map(struct prb_session *s, uint64_t addr, uint32_t map_flags,
		  struct prb_mapping **out)
{
	struct prb_brick *b = s->brick;
	uint64_t block = addr >> PRB_BLOCK_SHIFT;
	struct brick_block *blk = brick_find_block(b, block);
	struct prb_mapping *m;
	int err;

	if (addr & (PRB_BLOCK_SIZE - 1))
		return -EINVAL;
#ifdef PRB_MUTANT_ENOENT_AS_EINVAL
	if (!blk && prb_store_exists(b->store, block) != 1)
		return -EINVAL; /* mutant (conformance/mutants.txt): wrong status */
#endif
	if (!blk && prb_store_exists(b->store, block) != 1)
		return -ENOENT;
#ifdef PRB_MUTANT_MAP_RW_REFUSED
	if ((map_flags & PRB_MAP_WRITE) && !(map_flags & PRB_MAP_EXCL))
		return -EBUSY; /* mutant (conformance/mutants.txt): no shared read-write MAP */
#endif
	/* PRB-MAP: EXCL conflicts with any live mapping; any MAP conflicts with an EXCL one. */
#ifdef PRB_MUTANT_EXCL_NOT_EXCLUSIVE
	if (blk && blk->excl) /* mutant: EXCL does not wait for shared mappings to go */
#else
	if (blk && (blk->excl || (map_flags & PRB_MAP_EXCL)))
#endif
		return -EBUSY;
	if (s->mappings_count >= s->max_mappings)
		return -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	err = brick_new_handle(b, &m->handle);
	if (err < 0)
		goto err_free_mapping;
	if (blk && (map_flags & PRB_MAP_WRITE))
		brick_shared_write(blk, s);
	if (!blk) {
		blk = calloc(1, sizeof(*blk));
		if (!blk) {
			err = -ENOMEM;
			goto err_free_mapping;
		}
		err = prb_store_pin(b->store, block, &blk->data);
		if (err < 0) {
			free(blk);
			/* Fast memory full of pinned blocks is a resource limit: ENOMEM. */
			if (err == -ENOSPC)
				err = -ENOMEM;
			goto err_free_mapping;
		}
		blk->node.key = block;
		prb_hmap_insert(&b->blocks, &blk->node);
	}
	m->node.key = m->handle;
	m->addr = addr;
	m->data = blk->data;
	m->map_flags = map_flags;
	m->session = s;
	m->block = blk;
	m->block_next = blk->mappings;
	if (blk->mappings)
		blk->mappings->block_prev = m;
	blk->mappings = m;
	blk->maps++;
	if (map_flags & PRB_MAP_WRITE)
		blk->writers++;
	if (map_flags & PRB_MAP_EXCL)
		blk->excl = true;
	m->session_next = s->mappings;
	if (s->mappings)
		s->mappings->session_prev = m;
	s->mappings = m;
	s->mappings_count++;
	prb_hmap_insert(&b->handles, &m->node);
	if (s->ops && s->ops->on_map) {
		err = s->ops->on_map(s->ctx, m);
		if (err < 0) {
			/* Undo through the normal path, without telling the binding. */
			const struct prb_session_ops *ops = s->ops;

			s->ops = NULL;
			brick_revoke(b, m);
			s->ops = ops;
			return err;
		}
	}
	prb_dbg("MAP %#llx flags %#x -> handle %016llx", (unsigned long long)addr, map_flags,
		(unsigned long long)m->handle);
	*out = m;
	return 0;

err_free_mapping:
	free(m);
	return err;
}

/* The session's live mapping of \p handle, or NULL (unknown, revoked, other session's). */
static struct prb_mapping *brick_lookup(struct prb_session *s, uint64_t handle)
{
	struct prb_hmap_node *n = prb_hmap_find(&s->brick->handles, handle);
	struct prb_mapping *m = (struct prb_mapping *)n;

#ifdef PRB_MUTANT_HANDLE_ANY_CONNECTION
	if (!m) /* mutant (conformance/mutants.txt): any connection may use a handle */
#else
	if (!m || m->session != s)
#endif
		return NULL;
	return m;
}

int prb_brick_unmap(struct prb_session *s, uint64_t handle)
{
	struct prb_mapping *m = brick_lookup(s, handle);

	if (!m)
		return -ESTALE;
#ifdef PRB_MUTANT_UNMAP_KEEPS_HANDLE
	return 0; /* mutant (conformance/mutants.txt): the handle stays live */
#endif
	brick_revoke(s->brick, m);
	return 0;
}

int prb_brick_access(struct prb_session *s, uint64_t handle, uint32_t offset, uint32_t length,
		     bool write, struct prb_mapping **out)
{
	struct prb_mapping *m = brick_lookup(s, handle);

	if (!m)
		return -ESTALE;
#ifdef PRB_MUTANT_RO_WRITABLE
	write = false; /* mutant (conformance/mutants.txt): RO handles accept writes */
#endif
	if (write && !(m->map_flags & PRB_MAP_WRITE))
		return -EPERM;
#ifdef PRB_MUTANT_BOUNDS_OFF_BY_ONE
	if ((uint64_t)offset + length > PRB_BLOCK_SIZE + 1) /* mutant: one byte too far */
#else
	if ((uint64_t)offset + length > PRB_BLOCK_SIZE)
#endif
		return -ERANGE;
	*out = m;
	return 0;
}

bool prb_brick_others_may_write(const struct prb_mapping *m)
{
	return m->block->writers > ((m->map_flags & PRB_MAP_WRITE) ? 1u : 0u);
}

int prb_brick_flush(struct prb_session *s, uint64_t handle, uint32_t offset, uint32_t length)
{
	struct prb_mapping *m;
	int err = prb_brick_access(s, handle, offset, length, false, &m);

	if (err < 0)
		return err;
	prb_store_persist(s->brick->store, m->data + offset, length);
	return 0;
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void store_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The 8 bytes an atomic works on: handle checks, then PRB-CAS/FADD alignment. */
static int brick_atomic_target(struct prb_session *s, uint64_t handle, uint32_t offset,
			       uint8_t **word)
{
	struct prb_mapping *m;
	int err = prb_brick_access(s, handle, offset, PRB_ATOMIC_SIZE, true, &m);

	if (err < 0)
		return err;
	if (offset % PRB_ATOMIC_SIZE)
		return -EINVAL;
	*word = m->data + offset;
	return 0;
}

int prb_brick_cas(struct prb_session *s, uint64_t handle, uint32_t offset, uint64_t compare,
		  uint64_t swap, uint64_t *original)
{
	uint8_t *word;
	int err = brick_atomic_target(s, handle, offset, &word);

	if (err < 0)
		return err;
	*original = load_le64(word);
#ifdef PRB_MUTANT_ATOMICS_32BIT
	/* mutant (conformance/mutants.txt): CAS compares the low 32 bits only */
	compare = (*original & ~UINT64_C(0xFFFFFFFF)) | (compare & UINT64_C(0xFFFFFFFF));
#endif
#ifdef PRB_MUTANT_CAS_ALWAYS_STORES
	compare = *original; /* mutant (conformance/mutants.txt): the swap always happens */
#endif
	if (*original == compare)
		store_le64(word, swap);
	return 0;
}

int prb_brick_fadd(struct prb_session *s, uint64_t handle, uint32_t offset, uint64_t add,
		   uint64_t *original)
{
	uint8_t *word;
	int err = brick_atomic_target(s, handle, offset, &word);

	if (err < 0)
		return err;
	*original = load_le64(word);
#ifdef PRB_MUTANT_ATOMICS_32BIT
	/* mutant (conformance/mutants.txt): the sum is kept in 32 bits, the high half lost */
	store_le64(word, (uint32_t)(*original + add));
	return 0;
#endif
	store_le64(word, *original + add);
	return 0;
}

static uint16_t brick_extent_state(enum prb_store_where where)
{
	return where == PRB_STORE_TIERED ? PRB_EXTENT_TIERED : PRB_EXTENT_RESIDENT;
}

int prb_brick_list(struct prb_brick *b, uint64_t cursor, struct prb_extent *out, uint32_t max,
		   uint64_t *next, bool *end)
{
	struct prb_store_extent *ext = b->list_scratch;
	uint64_t next_block;
	uint32_t count = 0;
	int n;

	if (max > PRB_MAX_LIST_EXTENTS)
		max = PRB_MAX_LIST_EXTENTS;
	n = prb_store_list(b->store, cursor >> PRB_BLOCK_SHIFT, ext, max, &next_block, end);
	if (n < 0)
		return n;
	/* PRB-LIST: coalesce runs the store may report split (adjacent, same state). */
	for (int i = 0; i < n; i++) {
		struct prb_extent *prev = count ? &out[count - 1] : NULL;
		uint16_t state = brick_extent_state(ext[i].where);
		uint64_t addr = ext[i].block << PRB_BLOCK_SHIFT;

		if (prev && prev->state == state &&
		    prev->addr + ((uint64_t)prev->blocks << PRB_BLOCK_SHIFT) == addr &&
		    (uint64_t)prev->blocks + ext[i].blocks <= UINT32_MAX) {
			prev->blocks += ext[i].blocks;
			continue;
		}
		memset(&out[count], 0, sizeof(out[count]));
		out[count].addr = addr;
		out[count].blocks = ext[i].blocks;
		out[count].state = state;
		count++;
	}
#ifdef PRB_MUTANT_LIST_DROPS_LAST
	if (count > 0)
		count--; /* mutant (conformance/mutants.txt): the last extent is left out */
#endif
	/* The end of the address space wraps to 0; END is set then, so nobody follows it. */
	*next = count ? next_block << PRB_BLOCK_SHIFT : cursor;
	return (int)count;
}
