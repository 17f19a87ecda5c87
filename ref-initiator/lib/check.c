/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Local argument checks, made before anything is queued, so that a caller's
 * mistake never reaches the brick (the rules of PROTOCOL.md's ALLOC, FREE,
 * READ/WRITE and CAS/FADD sections, applied on this side).
 */
#include <errno.h>
#include <stdint.h>

#include "internal.h"

_Static_assert(PRB_BLOCK_BYTES == PRB_BLOCK_SIZE, "prb.h block size matches the spec");
_Static_assert(PRB_RANGE_MAX_BLOCKS == PRB_MAX_RANGE_BLOCKS, "prb.h range limit matches the spec");
_Static_assert(PRB_FEATURE_HEADER_DIGEST == PRB_FEAT_HDGST &&
		       PRB_FEATURE_DATA_DIGEST == PRB_FEAT_DDGST &&
		       PRB_FEATURE_ATOMICS == PRB_FEAT_ATOMICS &&
		       PRB_FEATURE_TIERING == PRB_FEAT_TIERING &&
		       PRB_FEATURE_RDMA_FLUSH == PRB_FEAT_RDMA_FLUSH &&
		       PRB_FEATURE_PERSISTENT == PRB_FEAT_PERSISTENT,
	       "prb.h feature bits match the spec");
_Static_assert(PRB_MAPPING_RW == PRB_MAP_WRITE && PRB_MAPPING_EXCL == PRB_MAP_EXCL,
	       "prb.h mapping flags match the spec");
_Static_assert(PRB_FREE_FLAG_FORCE == PRB_FREE_FORCE, "prb.h free flag matches the spec");
_Static_assert(PRB_MAX_LIST_PAGE == PRB_MAX_LIST_EXTENTS, "prb.h LIST page matches the spec");
_Static_assert((int)PRB_BLOCK_RESIDENT == (int)PRB_EXTENT_RESIDENT &&
		       (int)PRB_BLOCK_TIERED == (int)PRB_EXTENT_TIERED,
	       "prb.h block states match the spec");

int prb_check_range(uint64_t addr, uint32_t blocks)
{
	uint64_t bytes;

	if (addr % PRB_BLOCK_SIZE != 0)
		return -EINVAL;
	if (blocks == 0 || blocks > PRB_MAX_RANGE_BLOCKS)
		return -EINVAL;
	/* The range may end exactly at 2^64, never past it. */
	bytes = (uint64_t)blocks * PRB_BLOCK_SIZE;
	if (bytes - 1 > UINT64_MAX - addr)
		return -EINVAL;
	return 0;
}

int prb_mapping_live(const struct prb_mapping *m)
{
	const struct prb_session *s = m->session;

	if (m->revoked || m->unmapping || !s->connected || m->connection != s->connection)
		return -ESTALE;
	return 0;
}

int prb_check_data(const struct prb_mapping *m, uint64_t offset, size_t len, bool write)
{
	if (!m || len == 0)
		return -EINVAL;
	if (offset > PRB_BLOCK_SIZE || len > PRB_BLOCK_SIZE - offset)
		return -ERANGE;
	if (write && !(m->flags & PRB_MAPPING_RW))
		return -EPERM;
	return prb_mapping_live(m);
}

int prb_check_atomic(const struct prb_mapping *m, uint64_t offset)
{
	if (!m || offset % PRB_ATOMIC_SIZE != 0)
		return -EINVAL;
	if (offset > PRB_BLOCK_SIZE - PRB_ATOMIC_SIZE)
		return -ERANGE;
	if (!(m->flags & PRB_MAPPING_RW))
		return -EPERM;
	if (!(m->session->params.features & PRB_FEATURE_ATOMICS))
		return -ENOTSUP;
	return prb_mapping_live(m);
}
