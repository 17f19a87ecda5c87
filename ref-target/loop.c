/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 64

struct prb_loop {
	int epfd;
	bool stop;
	/* The batch being dispatched: a handle deleted meanwhile is dropped from it, so a
	 * callback may close (and free) any other watched object. */
	struct epoll_event *batch;
	int batch_len;
	/* Armed timers sorted by deadline: few exist (sweeps, shutdown), so a list is enough. */
	struct prb_loop_timer *timers;
};

uint64_t prb_loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int prb_loop_new(struct prb_loop **out)
{
	struct prb_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;

		free(loop);
		return err;
	}
	*out = loop;
	return 0;
}

void prb_loop_delete(struct prb_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

int prb_loop_add_fd(struct prb_loop *loop, struct prb_loop_fd *h, int fd, uint32_t events,
		    prb_loop_fd_fn fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	h->fd = fd;
	h->events = events;
	h->fn = fn;
	h->arg = arg;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int prb_loop_mod_fd(struct prb_loop *loop, struct prb_loop_fd *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	if (events == h->events)
		return 0;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, h->fd, &ev) < 0)
		return -errno;
	h->events = events;
	return 0;
}

void prb_loop_del_fd(struct prb_loop *loop, struct prb_loop_fd *h)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->fd = -1;
	for (int i = 0; i < loop->batch_len; i++)
		if (loop->batch[i].data.ptr == h)
			loop->batch[i].data.ptr = NULL;
}

void prb_loop_timer_cancel(struct prb_loop *loop, struct prb_loop_timer *t)
{
	struct prb_loop_timer **p;

	if (!t->armed)
		return;
	for (p = &loop->timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

void prb_loop_timer_arm(struct prb_loop *loop, struct prb_loop_timer *t, uint64_t delay_ms,
			prb_loop_timer_fn fn, void *arg)
{
	struct prb_loop_timer **p;

	prb_loop_timer_cancel(loop, t);
	t->deadline_ms = prb_loop_now_ms() + delay_ms;
	t->fn = fn;
	t->arg = arg;
	t->armed = true;
	for (p = &loop->timers; *p && (*p)->deadline_ms <= t->deadline_ms; p = &(*p)->next)
		;
	t->next = *p;
	*p = t;
}

/* Fire every expired timer; return the epoll timeout until the next one (-1: none). */
static int loop_run_timers(struct prb_loop *loop)
{
	uint64_t now = prb_loop_now_ms();
	struct prb_loop_timer *t;

	while ((t = loop->timers) && t->deadline_ms <= now && !loop->stop) {
		loop->timers = t->next;
		t->next = NULL;
		t->armed = false;
		t->fn(t->arg);
		now = prb_loop_now_ms();
	}
	if (!loop->timers)
		return -1;
	if (loop->timers->deadline_ms - now > 60000)
		return 60000;
	return (int)(loop->timers->deadline_ms - now);
}

int prb_loop_run(struct prb_loop *loop)
{
	struct epoll_event events[LOOP_MAX_EVENTS];

	loop->stop = false;
	while (!loop->stop) {
		int timeout = loop_run_timers(loop);
		int n;

		if (loop->stop)
			break;
		n = epoll_wait(loop->epfd, events, LOOP_MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		loop->batch = events;
		loop->batch_len = n;
		for (int i = 0; i < n && !loop->stop; i++) {
			struct prb_loop_fd *h = events[i].data.ptr;

			if (h)
				h->fn(h->arg, events[i].events);
		}
		loop->batch = NULL;
		loop->batch_len = 0;
	}
	return 0;
}

void prb_loop_stop(struct prb_loop *loop)
{
	loop->stop = true;
}
