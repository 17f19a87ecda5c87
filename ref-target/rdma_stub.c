/* SPDX-License-Identifier: Apache-2.0 */
/* The RDMA binding when prb-target is built without it (-DPRB_RDMA=OFF). */
#include "rdma.h"

#include <errno.h>
#include <stddef.h>

int prb_rdma_new(struct prb_loop *loop, struct prb_brick *brick,
		 const struct prb_rdma_config *cfg, struct prb_rdma **out)
{
	(void)loop;
	(void)brick;
	(void)cfg;
	*out = NULL;
	return -EPROTONOSUPPORT;
}

void prb_rdma_delete(struct prb_rdma *r)
{
	(void)r;
}

int prb_rdma_listen(struct prb_rdma *r, const char *host, uint16_t port, char *urls, size_t len)
{
	(void)r;
	(void)host;
	(void)port;
	(void)urls;
	(void)len;
	return -EPROTONOSUPPORT;
}

void prb_rdma_shutdown(struct prb_rdma *r, void (*drained)(void *arg), void *arg)
{
	(void)r;
	drained(arg);
}
