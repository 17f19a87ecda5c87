/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Caller buffers registered for zero-copy data operations (prb_register_buffer). The
 * session keeps the list across reconnects; a transport that needs registered memory
 * (RDMA) registers the regions in each connection and is told when the list changes.
 * TCP needs nothing: it sends from and receives into any buffer.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct prb_buffer_registry {
	struct prb_buffer_span spans[PRB_MAX_BUFFERS];
	unsigned count;
};

const struct prb_buffer_span *prb_buffers_get(const struct prb_session *s, unsigned *count)
{
	*count = s->buffers ? s->buffers->count : 0;
	return s->buffers ? s->buffers->spans : NULL;
}

void prb_buffers_free(struct prb_session *s)
{
	free(s->buffers);
	s->buffers = NULL;
}

/* Tell the live connection's transport, if it cares. */
static int prb_buffers_changed(struct prb_session *s)
{
	if (!s->connected || !s->transport || !s->transport->buffers_changed)
		return 0;
	return s->transport->buffers_changed(s);
}

int prb_register_buffer(struct prb_session *session, void *buf, size_t len)
{
	struct prb_buffer_registry *reg;
	int rc;

	if (!session || !buf || len == 0)
		return -EINVAL;
	if (!session->buffers) {
		session->buffers = calloc(1, sizeof(*session->buffers));
		if (!session->buffers)
			return -ENOMEM;
	}
	reg = session->buffers;
	if (reg->count == PRB_MAX_BUFFERS)
		return -ENOSPC;
	reg->spans[reg->count].addr = buf;
	reg->spans[reg->count].len = len;
	reg->count++;
	rc = prb_buffers_changed(session);
	if (rc < 0)
		reg->count--;
	return rc;
}

int prb_unregister_buffer(struct prb_session *session, void *buf)
{
	struct prb_buffer_registry *reg = session ? session->buffers : NULL;

	if (!reg || !buf)
		return -EINVAL;
	for (unsigned i = 0; i < reg->count; i++) {
		if (reg->spans[i].addr != buf)
			continue;
		reg->spans[i] = reg->spans[--reg->count];
		return prb_buffers_changed(session);
	}
	return -ENOENT;
}
