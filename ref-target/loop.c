/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
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
	/* One timerfd armed at the earliest deadline, so that epoll_wait blocks without a
	 * timeout: the kernel then arms no timer per wait (one per request otherwise), and
	 * the timerfd is re-armed only when the earliest deadline changes. */
	int timerfd;
	struct prb_loop_fd timer_lfd;
	uint64_t timerfd_deadline_ms; /* 0: disarmed or expired */
};

uint64_t prb_loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The timerfd expired: consume the expiration; the loop fires the timers next. */
static void loop_timerfd_event(void *arg, uint32_t events)
{
	struct prb_loop *loop = arg;
	uint64_t expirations;

	(void)events;
	if (read(loop->timerfd, &expirations, sizeof(expirations)) > 0)
		loop->timerfd_deadline_ms = 0;
}

int prb_loop_new(struct prb_loop **out)
{
	struct prb_loop *loop = calloc(1, sizeof(*loop));
	int err;

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		err = -errno;
		goto err_free_loop;
	}
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (loop->timerfd < 0) {
		err = -errno;
		goto err_close_epoll;
	}
	err = prb_loop_add_fd(loop, &loop->timer_lfd, loop->timerfd, EPOLLIN, loop_timerfd_event,
			      loop);
	if (err < 0)
		goto err_close_timerfd;
	*out = loop;
	return 0;

err_close_timerfd:
	close(loop->timerfd);
err_close_epoll:
	close(loop->epfd);
err_free_loop:
	free(loop);
	return err;
}

void prb_loop_delete(struct prb_loop *loop)
{
	if (!loop)
		return;
	close(loop->timerfd);
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

/* Arm the timerfd at \p deadline_ms (0: disarm) unless it is armed there already.
 * \return false when timerfd_settime failed. */
static bool loop_arm_timerfd(struct prb_loop *loop, uint64_t deadline_ms, uint64_t now)
{
	struct itimerspec when = { .it_value = { .tv_sec = (time_t)(deadline_ms / 1000u),
						 .tv_nsec = (long)(deadline_ms % 1000u) * 1000000L } };

	/* A deadline in the past has expired, whether or not its event was read yet. */
	if (loop->timerfd_deadline_ms && loop->timerfd_deadline_ms <= now)
		loop->timerfd_deadline_ms = 0;
	if (deadline_ms == loop->timerfd_deadline_ms)
		return true;
	if (timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &when, NULL) < 0) {
		loop->timerfd_deadline_ms = 0;
		return false;
	}
	loop->timerfd_deadline_ms = deadline_ms;
	return true;
}

/* Fire every expired timer; return the epoll timeout: -1 when the timerfd is armed at the
 * next deadline (or none is), else the time until it (timerfd_settime failed). */
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
	if (loop_arm_timerfd(loop, loop->timers ? loop->timers->deadline_ms : 0, now) ||
	    !loop->timers)
		return -1;
	if (loop->timers->deadline_ms <= now)
		return 0;
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
