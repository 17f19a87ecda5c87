/* SPDX-License-Identifier: BSD-3-Clause */
/* Connection options: defaults and checked setters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PRB_MAX_TIMEOUT_MS 3600000u

int prb_opts_new(struct prb_opts **opts)
{
	struct prb_opts *o;

	if (!opts)
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->connect_timeout_ms = PRB_DEFAULT_CONNECT_TIMEOUT_MS;
	o->io_timeout_ms = PRB_DEFAULT_IO_TIMEOUT_MS;
	o->queue_depth = PRB_DEFAULT_QUEUE_DEPTH;
	o->features = PRB_FEATURE_ATOMICS;
	o->busy_poll = PRB_BUSY_POLL_ADAPTIVE;
	o->rdma_spin_us = PRB_DEFAULT_RDMA_SPIN_US;
	*opts = o;
	return 0;
}

void prb_opts_delete(struct prb_opts **opts)
{
	if (!opts || !*opts)
		return;
	free(*opts);
	*opts = NULL;
}

int prb_opts_set_connect_timeout(struct prb_opts *opts, unsigned ms)
{
	if (!opts || ms == 0 || ms > PRB_MAX_TIMEOUT_MS)
		return -EINVAL;
	opts->connect_timeout_ms = ms;
	return 0;
}

int prb_opts_set_io_timeout(struct prb_opts *opts, unsigned ms)
{
	if (!opts || ms > PRB_MAX_TIMEOUT_MS)
		return -EINVAL;
	opts->io_timeout_ms = ms;
	return 0;
}

int prb_opts_set_queue_depth(struct prb_opts *opts, unsigned depth)
{
	if (!opts || depth == 0 || depth > PRB_MAX_QUEUE_DEPTH)
		return -EINVAL;
	opts->queue_depth = depth;
	return 0;
}

int prb_opts_set_features(struct prb_opts *opts, uint32_t features)
{
	const uint32_t askable = PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST |
				 PRB_FEATURE_ATOMICS | PRB_FEATURE_RDMA_FLUSH;

	if (!opts || (features & ~askable))
		return -EINVAL;
	opts->features = features;
	return 0;
}

int prb_opts_set_busy_poll(struct prb_opts *opts, unsigned recvs)
{
	if (!opts || (recvs > PRB_MAX_BUSY_POLL && recvs != PRB_BUSY_POLL_ADAPTIVE))
		return -EINVAL;
	opts->busy_poll = recvs;
	return 0;
}

int prb_opts_set_rdma_spin(struct prb_opts *opts, unsigned us)
{
	if (!opts || (us > PRB_MAX_RDMA_SPIN_US && us != PRB_RDMA_SPIN_FOREVER))
		return -EINVAL;
	opts->rdma_spin_us = us;
	return 0;
}

int prb_opts_set_host_id(struct prb_opts *opts, const uint8_t host_id[16])
{
	if (!opts || !host_id)
		return -EINVAL;
	memcpy(opts->host_id, host_id, sizeof(opts->host_id));
	return 0;
}
