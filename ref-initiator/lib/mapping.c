/* SPDX-License-Identifier: BSD-3-Clause */
/* Mapping objects: creation from a MAP answer, getters, UNMAP and destruction. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

int prb_mapping_create(struct prb_session *s, uint64_t addr, unsigned flags, uint64_t handle,
		       uint64_t raddr, uint32_t rkey, struct prb_mapping **out)
{
	struct prb_mapping *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->session = s;
	m->addr = addr;
	m->flags = flags;
	m->handle = handle;
	m->raddr = raddr;
	m->rkey = rkey;
	m->connection = s->connection;
	*out = m;
	return 0;
}

void prb_mapping_link(struct prb_mapping *m)
{
	struct prb_session *s = m->session;

	m->prev = NULL;
	m->next = s->mappings;
	if (s->mappings)
		s->mappings->prev = m;
	s->mappings = m;
}

void prb_mapping_destroy(struct prb_mapping *m)
{
	struct prb_session *s = m->session;

	if (m->prev)
		m->prev->next = m->next;
	else if (s->mappings == m)
		s->mappings = m->next;
	if (m->next)
		m->next->prev = m->prev;
	free(m);
}

int prb_unmap(struct prb_mapping **mapping)
{
	struct prb_waiter w = {0};
	struct prb_mapping *m;
	int rc;

	if (!mapping || !*mapping)
		return 0;
	m = *mapping;
	*mapping = NULL;
	if (m->unmapping)
		return -EINVAL; /* an asynchronous UNMAP owns it already */
	rc = prb_mapping_live(m);
	if (rc == 0)
		rc = prb_submit_unmap(m, &w, 0);
	if (rc == 0)
		return prb_queue_wait(m->session, &w); /* the UNMAP's end freed m */
	m->unmapping = true;
	if (m->refs == 0)
		prb_mapping_destroy(m);
	return rc;
}

uint64_t prb_mapping_addr(const struct prb_mapping *mapping)
{
	return mapping ? mapping->addr : 0;
}

uint64_t prb_mapping_length(const struct prb_mapping *mapping)
{
	return mapping ? PRB_BLOCK_SIZE : 0;
}

unsigned prb_mapping_flags(const struct prb_mapping *mapping)
{
	return mapping ? mapping->flags : 0;
}

uint64_t prb_mapping_handle(const struct prb_mapping *mapping)
{
	return mapping ? mapping->handle : 0;
}

uint32_t prb_mapping_rkey(const struct prb_mapping *mapping)
{
	return mapping ? mapping->rkey : 0;
}

uint64_t prb_mapping_raddr(const struct prb_mapping *mapping)
{
	return mapping ? mapping->raddr : 0;
}

struct prb_session *prb_mapping_session(const struct prb_mapping *mapping)
{
	return mapping ? mapping->session : NULL;
}

int prb_mapping_status(const struct prb_mapping *mapping)
{
	if (!mapping)
		return -EINVAL;
	return prb_mapping_live(mapping);
}
