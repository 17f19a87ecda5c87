/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Adaptive busy polling, libprb's default over TCP (prb_opts_set_busy_poll), after
 * Linux's cpuidle-haltpoll governor and KVM's halt polling. Before a wait for an answer
 * sleeps, the transport polls for at most a window:
 * - the window grows (doubling, up to PRB_SPIN_MAX_NS) while waits that slept turn out
 *   short: a longer poll would have caught the answer without the sleep and the wakeup;
 * - it closes when a wait was long: nothing came soon, the poll only burnt CPU;
 * - it opens only while polling pays: one wait in PRB_SPIN_PROBE_EVERY sleeps at once
 *   (a probe), and when such waits take less than PRB_SPIN_GAIN_NS longer than the waits
 *   a poll ended, waking up costs little (busy CPUs do not halt) and the window closes;
 * - it closes when the scheduler took the CPU away during a poll (another thread wanted
 *   it, perhaps the brick) and stays closed for a number of waits that doubles at each
 *   further preemption, up to a limit, until a poll catches an answer again.
 * Under CPU contention the spin dies out; on an idle machine whose CPUs halt it stays.
 *
 * Pure logic: the caller reads the clock and reports each wait's outcome.
 */
#ifndef PRB_SPIN_H
#define PRB_SPIN_H

#include <stdbool.h>
#include <stdint.h>

/* The first window after waits that slept briefly, and the largest (haltpoll's 200 us). */
#define PRB_SPIN_START_NS 20000u
#define PRB_SPIN_MAX_NS	  200000u
/* One wait in this many sleeps at once while the window is open, to measure sleeping. */
#define PRB_SPIN_PROBE_EVERY 64u
/* Polling pays when a wait that slept takes this much longer than one a poll ended. */
#define PRB_SPIN_GAIN_NS 8000u
/* Waits the window stays closed after the first preemption, and at most. */
#define PRB_SPIN_HOLD_MIN 64u
#define PRB_SPIN_HOLD_MAX 65536u
/* A poll sees this long a gap between two clock readings: it was descheduled. */
#define PRB_SPIN_GAP_NS 100000u

struct prb_spin {
	uint32_t window_ns; /* poll at most this long before sleeping; 0: sleep at once */
	uint32_t hold;	    /* short waits left before the window may open again */
	uint32_t backoff;   /* the hold the next preemption imposes */
	uint32_t probe_in;  /* waits until the next probe */
	bool probe;	    /* the current wait sleeps at once: it measures sleeping */
	uint32_t slept_ns;  /* low quantile of short waits that slept at once (0: none yet) */
	uint32_t caught_ns; /* low quantile of waits a poll ended (0: none yet) */
};

enum prb_spin_outcome {
	PRB_SPIN_CAUGHT,    /* the poll took the answer */
	PRB_SPIN_SLEPT,	    /* no poll, or nothing came during it: the wait slept */
	PRB_SPIN_PREEMPTED, /* the poll was descheduled (then slept) */
};

/* The state of a new connection: window closed, nothing measured. */
void prb_spin_init(struct prb_spin *sp);

/* A wait begins: how long to poll before sleeping (0: sleep at once). */
uint32_t prb_spin_begin(struct prb_spin *sp);

/* The wait ended: its outcome and how long it took from its start (poll and sleep). */
void prb_spin_update(struct prb_spin *sp, enum prb_spin_outcome outcome, uint64_t waited_ns);

#endif
