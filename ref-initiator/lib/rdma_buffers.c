/* SPDX-License-Identifier: BSD-3-Clause */
/* The caller's registered buffers as memory regions of one RDMA connection. */
#include <errno.h>
#include <stdlib.h>

#include <infiniband/verbs.h>

#include "internal.h"
#include "rdma_buffers.h"

struct prb_rdma_buffers {
	unsigned count;
	struct ibv_mr *mrs[PRB_MAX_BUFFERS];
};

int prb_rdma_buffers_attach(const struct prb_session *s, struct ibv_pd *pd,
			    struct prb_rdma_buffers **out)
{
	unsigned n;
	const struct prb_buffer_span *spans = prb_buffers_get(s, &n);
	struct prb_rdma_buffers *b;

	*out = NULL;
	if (n == 0)
		return 0;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		b->mrs[i] = ibv_reg_mr(pd, spans[i].addr, spans[i].len, IBV_ACCESS_LOCAL_WRITE);
		if (!b->mrs[i]) {
			prb_rdma_buffers_detach(b);
			return -ENOMEM;
		}
		b->count++;
	}
	*out = b;
	return 0;
}

void prb_rdma_buffers_detach(struct prb_rdma_buffers *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < b->count; i++)
		ibv_dereg_mr(b->mrs[i]);
	free(b);
}

bool prb_rdma_buffers_find(const struct prb_rdma_buffers *b, const void *addr, size_t len,
			   uint32_t *lkey)
{
	uintptr_t a = (uintptr_t)addr;

	if (!b)
		return false;
	for (unsigned i = 0; i < b->count; i++) {
		uintptr_t start = (uintptr_t)b->mrs[i]->addr;

		if (a >= start && len <= b->mrs[i]->length && a - start <= b->mrs[i]->length - len) {
			*lkey = b->mrs[i]->lkey;
			return true;
		}
	}
	return false;
}
