/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The target's event loop: one epoll set with a callback per file descriptor, and
 * one-shot timers on the monotonic clock. Single-threaded: every callback runs on the
 * thread that calls prb_loop_run(). Bindings add their own descriptors (TCP sockets,
 * rdma_cm event channels, CQ completion channels) to the same loop.
 */
#ifndef PRB_TARGET_LOOP_H
#define PRB_TARGET_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct prb_loop;

/** Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP...) of the fd. */
typedef void (*prb_loop_fd_fn)(void *arg, uint32_t events);
/** Called once when the timer expires. */
typedef void (*prb_loop_timer_fn)(void *arg);

/** A watched descriptor; embedded in the owner's struct, valid while registered. */
struct prb_loop_fd {
	int fd;
	uint32_t events;
	prb_loop_fd_fn fn;
	void *arg;
};

/** A one-shot timer; embedded in the owner's struct. */
struct prb_loop_timer {
	uint64_t deadline_ms;
	prb_loop_timer_fn fn;
	void *arg;
	bool armed;
	struct prb_loop_timer *next;
};

/** \return 0 or a negative errno. */
int prb_loop_new(struct prb_loop **out);
/** Frees the loop; registered descriptors are not closed. NULL is a no-op. */
void prb_loop_delete(struct prb_loop *loop);

/**
 * Watch \p fd for \p events (EPOLLIN, EPOLLOUT; level-triggered).
 * \return 0 or a negative errno.
 */
int prb_loop_add_fd(struct prb_loop *loop, struct prb_loop_fd *h, int fd, uint32_t events,
		    prb_loop_fd_fn fn, void *arg);
/** Change the watched events; a no-op when they are unchanged. \return 0 or a negative errno. */
int prb_loop_mod_fd(struct prb_loop *loop, struct prb_loop_fd *h, uint32_t events);
/** Stop watching (before the fd is closed). */
void prb_loop_del_fd(struct prb_loop *loop, struct prb_loop_fd *h);

/** Arm (or re-arm) \p t to fire \p delay_ms from now. */
void prb_loop_timer_arm(struct prb_loop *loop, struct prb_loop_timer *t, uint64_t delay_ms,
			prb_loop_timer_fn fn, void *arg);
/** Disarm; a no-op when not armed. */
void prb_loop_timer_cancel(struct prb_loop *loop, struct prb_loop_timer *t);

/** Milliseconds on the monotonic clock. */
uint64_t prb_loop_now_ms(void);

/** Dispatch events until prb_loop_stop(). \return 0 or a negative errno from epoll_wait. */
int prb_loop_run(struct prb_loop *loop);
/** Make prb_loop_run() return after the current callback. */
void prb_loop_stop(struct prb_loop *loop);

#endif
