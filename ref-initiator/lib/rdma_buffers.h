/* SPDX-License-Identifier: BSD-3-Clause */
/* The caller's registered buffers (buffers.c) as memory regions of one RDMA connection. */
#ifndef PRB_LIB_RDMA_BUFFERS_H
#define PRB_LIB_RDMA_BUFFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibv_pd;
struct prb_session;
struct prb_rdma_buffers;

/**
 * Register the session's buffers in \p pd. \return 0 or -ENOMEM (*out NULL when none).
 */
int prb_rdma_buffers_attach(const struct prb_session *s, struct ibv_pd *pd,
			    struct prb_rdma_buffers **out);
/** Deregister and free (NULL is a no-op). */
void prb_rdma_buffers_detach(struct prb_rdma_buffers *b);
/** True when [addr, addr + len) lies in one registered region; *lkey receives its key. */
bool prb_rdma_buffers_find(const struct prb_rdma_buffers *b, const void *addr, size_t len,
			   uint32_t *lkey);

#endif
