/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The brick's store: a pool of 2 MiB slots on libpmem2 (the fast tier), an
 * optional slower tier (a file), and the persistent logical->physical map.
 *
 * The store knows blocks, slots and bytes; it knows nothing of handles,
 * connections or the wire. Block numbers are logical addresses >> PRB_BLOCK_SHIFT.
 * Not thread-safe: one thread (the target's event loop) owns a store.
 * Every function returns 0 (or a count) on success and a negative errno on failure.
 */
#ifndef PRB_TARGET_STORE_H
#define PRB_TARGET_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prb_store;

/* Sizes are file sizes and matter only when a pool is created: the pool's header and
 * slot entries take the first 2 MiB or so, the tier's header 4 KiB and one tier slot is a
 * spare (DESIGN.md). A tier is chosen when the pool is created: a tiered pool must be
 * opened with its own tier file, a plain pool without one. */
struct prb_store_config {
	const char *pool_path; /* file, fsdax file or devdax device */
	uint64_t pool_size;    /* bytes; 0 = use the existing pool / device size */
	const char *tier_path; /* NULL: no slower tier */
	uint64_t tier_size;    /* bytes; 0 = use the existing tier file size */
};

struct prb_store_info {
	uint8_t uuid[16];     /* stable across restarts */
	uint64_t boot_epoch;  /* persisted, incremented by every open */
	uint64_t fast_blocks; /* slots in the fast pool */
	uint64_t fast_free;
	uint64_t tier_blocks; /* slots in the tier, 0 without one */
	uint64_t tier_free;
	bool persistent; /* the pool is real pmem (pmem2 granularity byte/cache line) */
	bool in_memory;	 /* the pool is on tmpfs/ramfs: survives a process crash, no more */
};

enum prb_store_where { PRB_STORE_RESIDENT = 1, PRB_STORE_TIERED = 2 };

struct prb_store_extent {
	uint64_t block;	 /* first logical block */
	uint32_t blocks; /* run length, >= 1 */
	enum prb_store_where where;
};

/** Open (creating when the pool file is absent) and recover; increments boot_epoch.
 *  -ENOENT (absent and pool_size 0), -EINVAL (not a prb pool, too small, wrong or missing
 *  tier), -EUCLEAN (corrupt slot entries), -ENOMEM, other -errno from the system. */
int prb_store_open(const struct prb_store_config *cfg, struct prb_store **out);
/** Persist and unmap; NULL is a no-op. */
void prb_store_close(struct prb_store *s);
/** Counts and identity; fast_free + tier_free = blocks that can still be allocated. */
void prb_store_get_info(const struct prb_store *s, struct prb_store_info *info);

/** Allocate blocks [block, block + count), all or none: -EEXIST, -ENOSPC, -EINVAL (count 0,
 *  overflow, past block 2^43 - 1), -ENOMEM (index memory; nothing changed).
 *  Durable when it returns 0. Fast slots first; when they run out an unpinned resident
 *  block is moved to the tier; a new block may be placed directly in the tier. */
int prb_store_alloc(struct prb_store *s, uint64_t block, uint32_t count);
/** Free blocks [block, block + count), all or none: -ENOENT, -EBUSY when one is pinned,
 *  -EINVAL as for alloc. (-ENOENT is checked on the whole range before -EBUSY.)
 *  Durable when it returns 0. */
int prb_store_free(struct prb_store *s, uint64_t block, uint32_t count);
/** 1 when the block is allocated, 0 when not. */
int prb_store_exists(const struct prb_store *s, uint64_t block);

/** Bring the block into the fast pool (recalling it from the tier if needed), pin it
 *  there (a pinned block is never moved nor freed) and return its bytes.
 *  -ENOENT, -ENOSPC (no fast slot can be freed: all pinned), -EIO, -EOVERFLOW (2^32 - 1
 *  pins). Pins nest. The pointer is valid while the block is pinned. */
int prb_store_pin(struct prb_store *s, uint64_t block, uint8_t **data);
/** Drop one pin; a block not allocated or not pinned is ignored. */
void prb_store_unpin(struct prb_store *s, uint64_t block);

/** Make bytes of a pinned block durable (pmem2 persist). Bytes outside the pool's slots
 *  are ignored. */
void prb_store_persist(struct prb_store *s, const void *addr, size_t len);

/** Up to max extents of allocated blocks at or after `block`, ascending, each a run of
 *  consecutive blocks in one place. Returns the count; *next is the block after the last
 *  extent returned, *end is true when nothing is allocated at or after *next. */
int prb_store_list(struct prb_store *s, uint64_t block, struct prb_store_extent *out, size_t max,
		   uint64_t *next, bool *end);

#endif
