/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The asynchronous engine: queue a request (checked, in a slot, counted against
 * the queue depth), send what is queued, reap completions. The prb_submit_*
 * helpers serve the blocking calls too: with a waiter they wait for a slot
 * instead of failing with -EAGAIN, and their results skip the ring. The
 * prb_run_* helpers are the blocking calls' single READ, WRITE, CAS or FADD:
 * started at once (prb_queue_run) instead of queued.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

/* A slot for a new request: a user request must fit the queue depth, a blocking one waits. */
static int prb_take_slot(struct prb_session *s, struct prb_waiter *w, struct prb_request **out)
{
	if (!s->connected)
		return -ENOTCONN;
	if (w && !s->free_slots)
		return prb_queue_get_wait(s, out);
	if (!w && s->user_outstanding >= s->user_depth)
		return -EAGAIN;
	*out = prb_queue_get(s);
	return *out ? 0 : -EAGAIN;
}

/* Fill the routing fields. */
static void prb_route(struct prb_request *r, uint8_t opcode, struct prb_waiter *w,
		      uint64_t user_data)
{
	r->opcode = opcode;
	r->waiter = w;
	r->user_data = user_data;
}

/* Fill the routing fields and queue. */
static void prb_enqueue(struct prb_session *s, struct prb_request *r, uint8_t opcode,
			struct prb_waiter *w, uint64_t user_data)
{
	prb_route(r, opcode, w, user_data);
	prb_queue_push(s, r);
}

int prb_submit_info(struct prb_session *s, struct prb_waiter *w, struct prb_brick_info *info,
		    uint64_t user_data)
{
	struct prb_request *r;
	int rc;

	if (!s || !info)
		return -EINVAL;
	rc = prb_take_slot(s, w, &r);
	if (rc < 0)
		return rc;
	r->info_out = info;
	prb_enqueue(s, r, PRB_OP_INFO, w, user_data);
	return 0;
}

int prb_submit_simple(struct prb_session *s, struct prb_waiter *w, uint8_t opcode, uint64_t addr,
		      uint32_t blocks, uint32_t flags, uint64_t user_data)
{
	struct prb_request *r;
	int rc;

	if (!s)
		return -EINVAL;
	if (opcode != PRB_OP_KEEPALIVE) {
		rc = prb_check_range(addr, blocks);
		if (rc < 0)
			return rc;
		if (flags & ~(uint32_t)PRB_FREE_FLAG_FORCE)
			return -EINVAL;
	}
	rc = prb_take_slot(s, w, &r);
	if (rc < 0)
		return rc;
	r->addr = addr;
	r->blocks = blocks;
	r->flags = flags;
	prb_enqueue(s, r, opcode, w, user_data);
	return 0;
}

int prb_submit_map(struct prb_session *s, struct prb_waiter *w, uint64_t addr, unsigned flags,
		   struct prb_mapping **out, uint64_t user_data)
{
	struct prb_mapping *m;
	struct prb_request *r;
	int rc;

	if (!s || !out || flags & ~(unsigned)(PRB_MAPPING_RW | PRB_MAPPING_EXCL))
		return -EINVAL;
	rc = prb_check_range(addr, 1);
	if (rc < 0)
		return rc;
	/* Allocated now so that a granted handle never lacks an object. */
	rc = prb_mapping_create(s, addr, flags, 0, 0, 0, &m);
	if (rc < 0)
		return rc;
	rc = prb_take_slot(s, w, &r);
	if (rc < 0) {
		free(m);
		return rc;
	}
	r->addr = addr;
	r->flags = flags;
	r->mapping_out = out;
	prb_enqueue(s, r, PRB_OP_MAP, w, user_data);
	r->mapping = m; /* after the push: a MAP holds no reference on its own object */
	return 0;
}

int prb_submit_unmap(struct prb_mapping *m, struct prb_waiter *w, uint64_t user_data)
{
	struct prb_request *r;
	int rc;

	if (!m)
		return -EINVAL;
	rc = prb_mapping_live(m);
	if (rc < 0)
		return rc;
	rc = prb_take_slot(m->session, w, &r);
	if (rc < 0)
		return rc;
	m->unmapping = true;
	r->mapping = m;
	r->handle = m->handle;
	prb_enqueue(m->session, r, PRB_OP_UNMAP, w, user_data);
	return 0;
}

int prb_submit_list(struct prb_session *s, struct prb_waiter *w, uint64_t cursor,
		    struct prb_list_extent *extents, uint32_t max, struct prb_list_page *page,
		    uint64_t user_data)
{
	struct prb_request *r;
	int rc;

	if (!s || !extents || !page || max == 0 || max > PRB_MAX_LIST_PAGE ||
	    cursor % PRB_BLOCK_SIZE != 0)
		return -EINVAL;
	rc = prb_take_slot(s, w, &r);
	if (rc < 0)
		return rc;
	r->addr = cursor;
	r->extents_out = extents;
	r->max_extents = max;
	r->page_out = page;
	prb_enqueue(s, r, PRB_OP_LIST, w, user_data);
	return 0;
}

/* A READ, WRITE or FLUSH in a slot, filled, not yet queued (arguments checked by the caller). */
static int prb_data_request(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode,
			    uint64_t offset, void *read_buf, const void *write_buf, size_t len,
			    uint64_t user_data, struct prb_request **out)
{
	struct prb_request *r;
	int rc = prb_take_slot(m->session, w, &r);

	if (rc < 0)
		return rc;
	r->mapping = m;
	r->handle = m->handle;
	r->offset = (uint32_t)offset;
	r->length = (uint32_t)len;
	r->read_buf = read_buf;
	r->write_buf = write_buf;
	prb_route(r, opcode, w, user_data);
	*out = r;
	return 0;
}

int prb_submit_data(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode, uint64_t offset,
		    void *read_buf, const void *write_buf, size_t len, uint64_t user_data)
{
	struct prb_request *r;
	int rc;

	rc = prb_check_data(m, offset, len, opcode == PRB_OP_WRITE);
	if (rc < 0)
		return rc;
	if ((opcode == PRB_OP_READ && (!read_buf || len > m->session->params.max_data)) ||
	    (opcode == PRB_OP_WRITE && (!write_buf || len > m->session->max_write)))
		return -EINVAL;
	rc = prb_data_request(m, w, opcode, offset, read_buf, write_buf, len, user_data, &r);
	if (rc < 0)
		return rc;
	prb_queue_push(m->session, r);
	return 0;
}

int prb_run_data(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode, uint64_t offset,
		 void *read_buf, const void *write_buf, size_t len)
{
	const struct prb_transport_ops *t = m->session->transport;
	struct prb_request *r;
	int direct = PRB_DIRECT_DECLINED, rc;

	if (t->run_direct) {
		direct = t->run_direct(m, opcode, offset, read_buf, write_buf, len);
		if (direct != PRB_DIRECT_DECLINED && direct != PRB_DIRECT_PENDING)
			return direct;
	}
	/* Pending: the slot at the head of the free list, the one its work names. */
	rc = prb_data_request(m, w, opcode, offset, read_buf, write_buf, len, 0, &r);
	if (rc < 0)
		return rc;
	return direct == PRB_DIRECT_PENDING ? prb_queue_run_started(m->session, r)
					    : prb_queue_run(m->session, r);
}

/* A CAS or FADD checked, in a slot, filled, not yet queued. */
static int prb_atomic_request(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode,
			      uint64_t offset, uint64_t compare, uint64_t operand,
			      uint64_t *original, uint64_t user_data, struct prb_request **out)
{
	struct prb_request *r;
	int rc;

	rc = prb_check_atomic(m, offset);
	if (rc < 0)
		return rc;
	rc = prb_take_slot(m->session, w, &r);
	if (rc < 0)
		return rc;
	r->mapping = m;
	r->handle = m->handle;
	r->offset = (uint32_t)offset;
	r->compare = compare;
	r->operand = operand;
	r->original_out = original;
	prb_route(r, opcode, w, user_data);
	*out = r;
	return 0;
}

int prb_submit_atomic(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode, uint64_t offset,
		      uint64_t compare, uint64_t operand, uint64_t *original, uint64_t user_data)
{
	struct prb_request *r;
	int rc =
		prb_atomic_request(m, w, opcode, offset, compare, operand, original, user_data, &r);

	if (rc < 0)
		return rc;
	prb_queue_push(m->session, r);
	return 0;
}

int prb_run_atomic(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode, uint64_t offset,
		   uint64_t compare, uint64_t operand, uint64_t *original)
{
	struct prb_request *r;
	int rc = prb_atomic_request(m, w, opcode, offset, compare, operand, original, 0, &r);

	return rc < 0 ? rc : prb_queue_run(m->session, r);
}

int prb_async_info(struct prb_session *session, struct prb_brick_info *info, uint64_t user_data)
{
	return prb_submit_info(session, NULL, info, user_data);
}

int prb_async_keepalive(struct prb_session *session, uint64_t user_data)
{
	return prb_submit_simple(session, NULL, PRB_OP_KEEPALIVE, 0, 0, 0, user_data);
}

int prb_async_alloc(struct prb_session *session, uint64_t addr, uint32_t blocks, uint64_t user_data)
{
	return prb_submit_simple(session, NULL, PRB_OP_ALLOC, addr, blocks, 0, user_data);
}

int prb_async_free(struct prb_session *session, uint64_t addr, uint32_t blocks, unsigned flags,
		   uint64_t user_data)
{
	return prb_submit_simple(session, NULL, PRB_OP_FREE, addr, blocks, flags, user_data);
}

int prb_async_map(struct prb_session *session, uint64_t addr, unsigned flags,
		  struct prb_mapping **mapping, uint64_t user_data)
{
	return prb_submit_map(session, NULL, addr, flags, mapping, user_data);
}

int prb_async_unmap(struct prb_mapping *mapping, uint64_t user_data)
{
	return prb_submit_unmap(mapping, NULL, user_data);
}

int prb_async_list(struct prb_session *session, uint64_t cursor, struct prb_list_extent *extents,
		   uint32_t max, struct prb_list_page *page, uint64_t user_data)
{
	return prb_submit_list(session, NULL, cursor, extents, max, page, user_data);
}

int prb_async_read(struct prb_mapping *mapping, uint64_t offset, void *buf, size_t len,
		   uint64_t user_data)
{
	return prb_submit_data(mapping, NULL, PRB_OP_READ, offset, buf, NULL, len, user_data);
}

int prb_async_write(struct prb_mapping *mapping, uint64_t offset, const void *buf, size_t len,
		    uint64_t user_data)
{
	return prb_submit_data(mapping, NULL, PRB_OP_WRITE, offset, NULL, buf, len, user_data);
}

int prb_async_flush(struct prb_mapping *mapping, uint64_t offset, size_t len, uint64_t user_data)
{
	return prb_submit_data(mapping, NULL, PRB_OP_FLUSH, offset, NULL, NULL, len, user_data);
}

int prb_async_cas(struct prb_mapping *mapping, uint64_t offset, uint64_t compare, uint64_t swap,
		  uint64_t *original, uint64_t user_data)
{
	return prb_submit_atomic(mapping, NULL, PRB_OP_CAS, offset, compare, swap, original,
				 user_data);
}

int prb_async_fadd(struct prb_mapping *mapping, uint64_t offset, uint64_t add, uint64_t *original,
		   uint64_t user_data)
{
	return prb_submit_atomic(mapping, NULL, PRB_OP_FADD, offset, 0, add, original, user_data);
}

int prb_submit(struct prb_session *session)
{
	int rc;

	if (!session)
		return -EINVAL;
	if (!session->connected)
		return -ENOTCONN;
	rc = prb_queue_start_all(session);
	if (rc == 0)
		rc = prb_queue_progress(session, 0);
	if (rc < 0)
		return session->connected ? rc : -ENOTCONN;
	return (int)session->inflight;
}

/* Move up to max completions from the ring to the caller's array. */
static unsigned prb_reap_ring(struct prb_session *s, struct prb_completion *out, unsigned max)
{
	unsigned n = 0;

	while (n < max && s->ring_count > 0) {
		out[n++] = s->ring[s->ring_head];
		s->ring_head = (s->ring_head + 1) % s->ring_cap;
		s->ring_count--;
		s->user_outstanding--;
	}
	return n;
}

int prb_reap(struct prb_session *session, struct prb_completion *completions, unsigned min,
	     unsigned max, int timeout_ms)
{
	uint64_t deadline;
	unsigned got = 0;
	int wait;

	if (!session || !completions || max == 0 || min > max || timeout_ms < -1)
		return -EINVAL;
	deadline = timeout_ms > 0 ? prb_now_ms() + (uint64_t)timeout_ms : 0;
	if (session->connected && session->user_outstanding > session->ring_count &&
	    prb_queue_start_all(session) == 0)
		prb_queue_progress(session, 0);
	for (;;) {
		got += prb_reap_ring(session, completions + got, max - got);
		if (got >= min || got == max || !session->connected ||
		    session->user_outstanding == session->ring_count)
			break;
		if (timeout_ms == 0)
			break;
		wait = -1;
		if (timeout_ms > 0) {
			uint64_t now = prb_now_ms();

			if (now >= deadline)
				break;
			wait = (int)(deadline - now);
		}
		prb_queue_progress(session, wait);
	}
	return (int)got;
}
