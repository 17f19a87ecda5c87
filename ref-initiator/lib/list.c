/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The LIST iterator: fetches pages with the cursor as it goes and joins
 * extents that continue across a page boundary (the brick coalesces within one
 * answer only), so the caller sees each run of blocks whole.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define PRB_LIST_ITER_PAGE 1024u

int prb_list_new(struct prb_session *session, uint64_t start, struct prb_list_iter **iter)
{
	struct prb_list_iter *it;

	if (!session || !iter || start % PRB_BLOCK_SIZE != 0)
		return -EINVAL;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->page = calloc(PRB_LIST_ITER_PAGE, sizeof(*it->page));
	if (!it->page) {
		free(it);
		return -ENOMEM;
	}
	it->session = session;
	it->page_cap = PRB_LIST_ITER_PAGE;
	it->cursor = start;
	it->next = session->iters;
	if (session->iters)
		session->iters->prev = it;
	session->iters = it;
	*iter = it;
	return 0;
}

/* Fetch the page at the cursor (blocking LIST). */
static int prb_list_fetch(struct prb_list_iter *it)
{
	struct prb_waiter w = {0};
	struct prb_list_page page = {0};
	int rc;

	rc = prb_submit_list(it->session, &w, it->cursor, it->page, it->page_cap, &page, 0);
	if (rc < 0)
		return rc;
	rc = prb_queue_wait(it->session, &w);
	if (rc < 0)
		return rc;
	it->count = page.count;
	it->index = 0;
	it->cursor = page.next_cursor;
	it->end = page.end || page.count == 0;
	return 0;
}

int prb_list_next(struct prb_list_iter *iter, struct prb_list_extent *extent)
{
	int rc;

	if (!iter || !extent)
		return -EINVAL;
	for (;;) {
		if (iter->index < iter->count) {
			const struct prb_list_extent *e = &iter->page[iter->index];

			if (!iter->have_current) {
				iter->current = *e;
				iter->have_current = true;
				iter->index++;
				continue;
			}
			if (e->addr == iter->current.addr + iter->current.blocks * PRB_BLOCK_SIZE &&
			    e->state == iter->current.state) {
				iter->current.blocks += e->blocks;
				iter->index++;
				continue;
			}
			break;
		}
		if (iter->end)
			break;
		rc = prb_list_fetch(iter);
		if (rc < 0)
			return rc;
	}
	if (!iter->have_current)
		return 0;
	*extent = iter->current;
	iter->have_current = false;
	return 1;
}

void prb_list_delete(struct prb_list_iter **iter)
{
	struct prb_list_iter *it;

	if (!iter || !*iter)
		return;
	it = *iter;
	*iter = NULL;
	if (it->prev)
		it->prev->next = it->next;
	else if (it->session && it->session->iters == it)
		it->session->iters = it->next;
	if (it->next)
		it->next->prev = it->prev;
	free(it->page);
	free(it);
}

void prb_list_detach_all(struct prb_session *s)
{
	while (s->iters) {
		struct prb_list_iter *it = s->iters;

		prb_list_delete(&it);
	}
}
