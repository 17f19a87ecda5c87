/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request slots and tags, the queue of requests not yet started, and where a
 * finished request's result goes (a blocking caller's waiter or the ring).
 *
 * A tag is the slot index in its low 16 bits and the slot's generation in the
 * high 16: a late or duplicated answer for a reused slot does not match.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PRB_TAG_INDEX_MASK 0xffffu

/*
 * Size the slots for a new connection. Completions not yet reaped (the failed
 * requests of the previous connection) are kept in the new ring.
 */
int prb_queue_init(struct prb_session *s, uint32_t slots, uint32_t user_depth)
{
	struct prb_request *new_slots;
	struct prb_completion *new_ring;
	uint32_t cap = user_depth > s->ring_count ? user_depth : s->ring_count;
	uint32_t i;

	new_slots = calloc(slots, sizeof(*new_slots));
	if (!new_slots)
		return -ENOMEM;
	new_ring = calloc(cap, sizeof(*new_ring));
	if (!new_ring)
		goto err_free_slots;
	for (i = 0; i < s->ring_count; i++)
		new_ring[i] = s->ring[(s->ring_head + i) % s->ring_cap];
	free(s->slots);
	free(s->ring);
	s->slots = new_slots;
	s->ring = new_ring;
	s->ring_cap = cap;
	s->ring_head = 0;
	s->slot_count = slots;
	s->user_depth = user_depth;
	s->free_slots = NULL;
	for (i = slots; i-- > 0;) {
		s->slots[i].tag = i;
		s->slots[i].next = s->free_slots;
		s->free_slots = &s->slots[i];
	}
	s->queue_head = s->queue_tail = NULL;
	s->inflight = 0;
	return 0;

err_free_slots:
	free(new_slots);
	return -ENOMEM;
}

void prb_queue_fini(struct prb_session *s)
{
	free(s->slots);
	free(s->ring);
	s->slots = NULL;
	s->ring = NULL;
	s->slot_count = 0;
	s->free_slots = NULL;
}

struct prb_request *prb_queue_get(struct prb_session *s)
{
	struct prb_request *r = s->free_slots;
	uint32_t tag;
	uint16_t generation;

	if (!r)
		return NULL;
	s->free_slots = r->next;
	tag = r->tag;
	generation = r->generation;
	memset(r, 0, offsetof(struct prb_request, pdu));
	r->generation = generation;
	r->tag = tag;
	return r;
}

/*
 * Hold the slot at the head of the free list out of it (there must be one), untouched,
 * while a transport uses its index for work without a request (run_direct);
 * prb_queue_unhold puts it back at the head.
 */
struct prb_request *prb_queue_hold(struct prb_session *s)
{
	struct prb_request *r = s->free_slots;

	s->free_slots = r->next;
	return r;
}

void prb_queue_unhold(struct prb_session *s, struct prb_request *r)
{
	r->next = s->free_slots;
	s->free_slots = r;
}

int prb_queue_get_wait(struct prb_session *s, struct prb_request **out)
{
	int rc;

	while (!s->free_slots) {
		if (!s->connected)
			return -ENOTCONN;
		rc = prb_queue_start_all(s);
		if (rc < 0)
			return rc;
		rc = prb_queue_progress(s, -1);
		if (rc < 0 && !s->connected)
			return -ENOTCONN;
	}
	*out = prb_queue_get(s);
	return 0;
}

/* Count a request that enters the queue (or starts at once) against its waiter or the
 * caller's depth, and against its mapping. */
static void queue_count(struct prb_session *s, struct prb_request *r)
{
	if (r->waiter)
		r->waiter->pending++;
	else
		s->user_outstanding++;
	if (r->mapping)
		r->mapping->refs++;
}

/* A request leaves the queue for the wire: in flight from now on. */
static void queue_mark_inflight(struct prb_session *s, struct prb_request *r)
{
	r->next = NULL;
	r->state = PRB_REQ_INFLIGHT;
	s->inflight++;
}

void prb_queue_push(struct prb_session *s, struct prb_request *r)
{
	r->state = PRB_REQ_QUEUED;
	r->next = NULL;
	if (s->queue_tail)
		s->queue_tail->next = r;
	else
		s->queue_head = r;
	s->queue_tail = r;
	queue_count(s, r);
}

struct prb_request *prb_queue_lookup(struct prb_session *s, uint32_t tag)
{
	uint32_t index = tag & PRB_TAG_INDEX_MASK;
	struct prb_request *r;

	if (index >= s->slot_count)
		return NULL;
	r = &s->slots[index];
	if (r->state != PRB_REQ_INFLIGHT || r->tag != tag)
		return NULL;
	return r;
}

/* Drop the request's reference on its mapping; free an unmapped one when it was the last. */
static void prb_queue_put_mapping(struct prb_request *r)
{
	struct prb_mapping *m = r->mapping;

	if (!m)
		return;
	r->mapping = NULL;
	if (r->opcode == PRB_OP_MAP)
		return; /* not yet a live object: proto.c linked or freed it */
	m->refs--;
	if (m->refs == 0 && m->unmapping)
		prb_mapping_destroy(m);
}

/* Return a slot to the free list with a new generation, so its old tag stops matching. */
static void prb_queue_release(struct prb_session *s, struct prb_request *r)
{
	r->generation++;
	r->tag = (uint32_t)(r - s->slots) | ((uint32_t)r->generation << 16);
	r->state = PRB_REQ_FREE;
	r->next = s->free_slots;
	s->free_slots = r;
}

void prb_queue_finish(struct prb_session *s, struct prb_request *r, int result)
{
	if (r->state == PRB_REQ_INFLIGHT)
		s->inflight--;
	if (result == -ESTALE && r->mapping && r->opcode != PRB_OP_MAP)
		r->mapping->revoked = true;
	prb_queue_put_mapping(r);
	if (r->waiter) {
		r->waiter->pending--;
		if (result < 0 && r->waiter->result == 0)
			r->waiter->result = result;
		if (result >= 0 && r->opcode == PRB_OP_LIST)
			r->waiter->count = result;
	} else {
		uint32_t at = (s->ring_head + s->ring_count) % s->ring_cap;

		/* Cannot overflow: user requests from queueing to reaping <= ring_cap. */
		s->ring[at].user_data = r->user_data;
		s->ring[at].result = result;
		s->ring_count++;
	}
	prb_queue_release(s, r);
}

int prb_queue_start_all(struct prb_session *s)
{
	struct prb_request *r;
	int rc;

	while ((r = s->queue_head) != NULL) {
		if (!s->connected)
			return -ENOTCONN;
		s->queue_head = r->next;
		if (!s->queue_head)
			s->queue_tail = NULL;
		queue_mark_inflight(s, r);
		rc = s->transport->start(s, r);
		if (rc < 0) {
			prb_session_lost(s, rc);
			return rc;
		}
	}
	return 0;
}

int prb_queue_progress(struct prb_session *s, int timeout_ms)
{
	int rc;

	if (!s->connected)
		return -ENOTCONN;
	rc = s->transport->progress(s, timeout_ms);
	if (rc < 0)
		prb_session_lost(s, rc);
	return rc;
}

void prb_queue_fail_all(struct prb_session *s, int result)
{
	uint32_t i;

	s->queue_head = s->queue_tail = NULL;
	for (i = 0; i < s->slot_count; i++) {
		struct prb_request *r = &s->slots[i];

		if (r->state == PRB_REQ_FREE)
			continue;
		if (r->opcode == PRB_OP_MAP && r->mapping) {
			free(r->mapping);
			r->mapping = NULL;
		}
		prb_queue_finish(s, r, result);
	}
}

void prb_queue_drop_all(struct prb_session *s)
{
	uint32_t i;

	s->queue_head = s->queue_tail = NULL;
	for (i = 0; i < s->slot_count; i++) {
		struct prb_request *r = &s->slots[i];

		if (r->state != PRB_REQ_FREE && r->opcode == PRB_OP_MAP)
			free(r->mapping);
		r->state = PRB_REQ_FREE;
	}
}

/*
 * A blocking call's one request r (from prb_queue_get_wait, filled, r->waiter set): with
 * nothing queued before it, the transport starts it at once and may busy-poll for it a
 * short while (start_spin); otherwise, or when it is not finished then, it goes the way of
 * every request (queue, prb_queue_wait). Returns its result.
 */
int prb_queue_run(struct prb_session *s, struct prb_request *r)
{
	struct prb_waiter *w = r->waiter;
	int rc;

	if (s->queue_head || !s->transport->start_spin) {
		prb_queue_push(s, r);
		return prb_queue_wait(s, w);
	}
	queue_count(s, r);
	queue_mark_inflight(s, r);
	rc = s->transport->start_spin(s, r);
	if (rc < 0)
		prb_session_lost(s, rc); /* finishes r as well */
	return w->pending > 0 ? prb_queue_wait(s, w) : w->result;
}

/*
 * A blocking call's one request r that the transport has already put on the wire
 * (run_direct returned PRB_DIRECT_PENDING): in flight from now on; wait for it.
 */
int prb_queue_run_started(struct prb_session *s, struct prb_request *r)
{
	struct prb_waiter *w = r->waiter;

	queue_count(s, r);
	queue_mark_inflight(s, r);
	return prb_queue_wait(s, w);
}

int prb_queue_wait(struct prb_session *s, struct prb_waiter *w)
{
	int rc;

	while (w->pending > 0) {
		/* A lost connection fails every request, this waiter's too: the loop ends. */
		if (!s->connected) {
			prb_queue_fail_all(s, -ECONNRESET);
			continue;
		}
		rc = prb_queue_start_all(s);
		if (rc < 0)
			continue;
		prb_queue_progress(s, -1);
	}
	return w->result;
}
