/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Blocking calls: queue with a waiter, then drive the connection until the
 * waiter's requests are finished. Reads and writes longer than one PDU go out
 * as several pipelined PDUs; a single READ, WRITE, CAS or FADD is started at
 * once (prb_queue_run), which over RDMA means post and busy-poll, as perftest.
 */
#include <errno.h>

#include "internal.h"

/* Wait for everything the waiter counts; the first error wins. */
static int prb_sync_wait(struct prb_session *s, struct prb_waiter *w, int rc)
{
	int waited;

	if (w->pending == 0)
		return rc;
	waited = prb_queue_wait(s, w);
	return rc < 0 ? rc : waited;
}

int prb_info(struct prb_session *session, struct prb_brick_info *info)
{
	struct prb_waiter w = {0};
	int rc = prb_submit_info(session, &w, info, 0);

	return rc < 0 ? rc : prb_sync_wait(session, &w, 0);
}

int prb_keepalive(struct prb_session *session)
{
	struct prb_waiter w = {0};
	int rc = prb_submit_simple(session, &w, PRB_OP_KEEPALIVE, 0, 0, 0, 0);

	return rc < 0 ? rc : prb_sync_wait(session, &w, 0);
}

int prb_alloc(struct prb_session *session, uint64_t addr, uint32_t blocks)
{
	struct prb_waiter w = {0};
	int rc = prb_submit_simple(session, &w, PRB_OP_ALLOC, addr, blocks, 0, 0);

	return rc < 0 ? rc : prb_sync_wait(session, &w, 0);
}

int prb_free(struct prb_session *session, uint64_t addr, uint32_t blocks, unsigned flags)
{
	struct prb_waiter w = {0};
	int rc = prb_submit_simple(session, &w, PRB_OP_FREE, addr, blocks, flags, 0);

	return rc < 0 ? rc : prb_sync_wait(session, &w, 0);
}

int prb_map(struct prb_session *session, uint64_t addr, unsigned flags,
	    struct prb_mapping **mapping)
{
	struct prb_waiter w = {0};
	int rc = prb_submit_map(session, &w, addr, flags, mapping, 0);

	return rc < 0 ? rc : prb_sync_wait(session, &w, 0);
}

/*
 * READ or WRITE of any length within the block, in PDUs of at most chunk bytes; one that
 * fits a single request is started at once (prb_run_data: over RDMA, post and busy-poll).
 */
static int prb_sync_data(struct prb_mapping *m, uint8_t opcode, uint64_t offset, void *read_buf,
			 const void *write_buf, size_t len)
{
	struct prb_waiter w = {0};
	size_t done = 0, chunk;
	int rc;

	rc = prb_check_data(m, offset, len, opcode == PRB_OP_WRITE);
	if (rc < 0)
		return rc;
	chunk = opcode == PRB_OP_WRITE ? m->session->max_write : m->session->params.max_data;
	if (len <= chunk)
		return prb_run_data(m, &w, opcode, offset, read_buf, write_buf, len);
	while (done < len && rc == 0) {
		size_t n = len - done < chunk ? len - done : chunk;

		rc = prb_submit_data(m, &w, opcode, offset + done,
				     read_buf ? (uint8_t *)read_buf + done : NULL,
				     write_buf ? (const uint8_t *)write_buf + done : NULL, n, 0);
		done += n;
	}
	return prb_sync_wait(m->session, &w, rc);
}

int prb_read(struct prb_mapping *mapping, uint64_t offset, void *buf, size_t len)
{
	if (!buf)
		return -EINVAL;
	return prb_sync_data(mapping, PRB_OP_READ, offset, buf, NULL, len);
}

int prb_write(struct prb_mapping *mapping, uint64_t offset, const void *buf, size_t len)
{
	if (!buf)
		return -EINVAL;
	return prb_sync_data(mapping, PRB_OP_WRITE, offset, NULL, buf, len);
}

int prb_flush(struct prb_mapping *mapping, uint64_t offset, size_t len)
{
	struct prb_waiter w = {0};
	int rc = prb_submit_data(mapping, &w, PRB_OP_FLUSH, offset, NULL, NULL, len, 0);

	return rc < 0 ? rc : prb_sync_wait(mapping->session, &w, 0);
}

int prb_cas(struct prb_mapping *mapping, uint64_t offset, uint64_t compare, uint64_t swap,
	    uint64_t *original)
{
	struct prb_waiter w = {0};

	return prb_run_atomic(mapping, &w, PRB_OP_CAS, offset, compare, swap, original);
}

int prb_fadd(struct prb_mapping *mapping, uint64_t offset, uint64_t add, uint64_t *original)
{
	struct prb_waiter w = {0};

	return prb_run_atomic(mapping, &w, PRB_OP_FADD, offset, 0, add, original);
}
