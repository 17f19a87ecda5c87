/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The brick state machine, transport-neutral: sessions (one per connection of any
 * binding), handles and the per-block mapping table with its conflict rules, and the
 * operations of the protocol on top of the store. Every function returns 0 (or a
 * count) or a negative errno; the connection engine maps errnos to wire statuses.
 * Single-threaded, like the store it drives.
 */
#ifndef PRB_TARGET_BRICK_H
#define PRB_TARGET_BRICK_H

#include <stdbool.h>
#include <stdint.h>

#include "hmap.h"

struct prb_brick;
struct prb_session;
struct prb_store;
struct prb_extent;
struct brick_block;

/** One live handle. Bindings read it; only `binding`, `raddr` and `rkey` are theirs to set. */
struct prb_mapping {
	struct prb_hmap_node node;   /* key: the handle */
	uint64_t handle;
	uint64_t addr;               /* logical byte address of the block */
	uint8_t *data;               /* the block's PRB_BLOCK_SIZE bytes in fast memory */
	uint32_t map_flags;          /* PRB_MAP_WRITE, PRB_MAP_EXCL */
	struct prb_session *session;
	struct brick_block *block;
	struct prb_mapping *session_prev, *session_next;
	struct prb_mapping *block_prev, *block_next;
	void *binding;               /* binding's per-mapping state (RDMA: MR or MW) */
	uint64_t raddr;              /* RDMA: remote address; TCP: 0 */
	uint32_t rkey;               /* RDMA: remote key; TCP: 0 */
};

/**
 * Binding hooks of a session (NULL members, or a NULL ops pointer, for none).
 * on_map runs after the block is pinned and before MAP answers: RDMA registers the
 * block and sets m->raddr / m->rkey; a negative errno fails the MAP (-ENOMEM).
 * on_unmap runs whenever a mapping is revoked (UNMAP, FREE with FORCE, session end),
 * before the block is unpinned: RDMA invalidates the key, TCP stops using the bytes.
 * on_shared_write runs for each live mapping of other sessions before a read-write MAP
 * of the same block succeeds (and before its on_map).
 */
struct prb_session_ops {
	int (*on_map)(void *ctx, struct prb_mapping *m);
	void (*on_unmap)(void *ctx, struct prb_mapping *m);
	/* Another session is mapping m's block read-write: from now on its bytes may change
	 * without this session's knowledge (TCP: copy queued READ answers whose digest was
	 * computed over them). */
	void (*on_shared_write)(void *ctx, struct prb_mapping *m);
};

/** Brick identity, capacity and statistics (INFO, HELLO). */
struct prb_brick_info {
	uint8_t brick_id[16];
	uint64_t boot_epoch;
	uint64_t capacity_blocks;
	uint64_t free_blocks;
	uint64_t fast_blocks;
	uint64_t fast_free;
	uint64_t tier_blocks;
	uint64_t tier_free;
	uint64_t mapped_blocks;
	uint64_t requests;
	uint32_t connections;
	bool persistent;
};

/** A brick over an open store (which it does not own). \return 0 or -ENOMEM. */
int prb_brick_new(struct prb_store *store, struct prb_brick **out);
/** Every session must be deleted first. NULL is a no-op. */
void prb_brick_delete(struct prb_brick *b);
/** The store underneath. */
struct prb_store *prb_brick_store(const struct prb_brick *b);

/**
 * A session: the scope of handles (a connection).
 * \param max_mappings live handles it may hold (MAP beyond: -ENOMEM)
 * \return 0 or -ENOMEM.
 */
int prb_session_new(struct prb_brick *b, const struct prb_session_ops *ops, void *ctx,
		    uint32_t max_mappings, struct prb_session **out);
/** Revokes every handle of the session (on_unmap for each), then frees it. NULL: no-op. */
void prb_session_delete(struct prb_session *s);

/** Counts one request in the statistics. */
void prb_brick_count_request(struct prb_brick *b);
void prb_brick_get_info(const struct prb_brick *b, struct prb_brick_info *info);

/** ALLOC: all or none. \return 0, -EINVAL (range past 2^64), -EEXIST, -ENOSPC, -EIO. */
int prb_brick_alloc(struct prb_brick *b, uint64_t addr, uint32_t blocks);
/**
 * FREE: all or none. -ENOENT when a block is not allocated; -EBUSY when one is mapped,
 * unless \p free_flags has PRB_FREE_FORCE: then its handles are revoked first.
 */
int prb_brick_free(struct prb_brick *b, uint64_t addr, uint32_t blocks, uint32_t free_flags);
/**
 * MAP: -ENOENT, -EBUSY (exclusive conflict), -ENOMEM (session limit, fast memory full of
 * pinned blocks, binding registration failed), -EIO.
 */
int prb_brick_map(struct prb_session *s, uint64_t addr, uint32_t map_flags,
		  struct prb_mapping **out);
/** UNMAP: -ESTALE for an unknown, revoked or other session's handle. */
int prb_brick_unmap(struct prb_session *s, uint64_t handle);

/**
 * Check an access through \p handle: -ESTALE, -EPERM (\p write through a read-only
 * handle), -ERANGE (offset + length past the block).
 */
int prb_brick_access(struct prb_session *s, uint64_t handle, uint32_t offset, uint32_t length,
		     bool write, struct prb_mapping **out);
/**
 * True when a read-write mapping of \p m's block exists other than \p m itself: bytes of
 * the block may then change through another session (or the same one's other handle)
 * at any time, one-sided RDMA writes included.
 */
bool prb_brick_others_may_write(const struct prb_mapping *m);
/** FLUSH: persist [offset, offset + length) of the block. Errors as prb_brick_access. */
int prb_brick_flush(struct prb_session *s, uint64_t handle, uint32_t offset, uint32_t length);
/** 8-byte compare-and-swap (little-endian value); -EINVAL for an unaligned offset. */
int prb_brick_cas(struct prb_session *s, uint64_t handle, uint32_t offset, uint64_t compare,
		  uint64_t swap, uint64_t *original);
/** 8-byte fetch-and-add modulo 2^64 (little-endian value). */
int prb_brick_fadd(struct prb_session *s, uint64_t handle, uint32_t offset, uint64_t add,
		   uint64_t *original);

/**
 * LIST: up to \p max coalesced extents of allocated blocks at or after \p cursor.
 * \param next the end of the last extent (cursor when none)
 * \param end  true when nothing is allocated at or after *next
 * \return the count or a negative errno.
 */
int prb_brick_list(struct prb_brick *b, uint64_t cursor, struct prb_extent *out, uint32_t max,
		   uint64_t *next, bool *end);

#endif
