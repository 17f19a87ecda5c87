/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The adaptive busy-poll window (lib/spin.c) without sockets or clocks: each
 * check feeds prb_spin_update the outcome and length of a wait and looks at the
 * window and hold that follow.
 */
#include <stdint.h>
#include <stdio.h>

#include "../lib/spin.h"

static int failures;

#define EXPECT(expr, want)                                                                         \
	do {                                                                                       \
		long long got_ = (long long)(expr);                                                \
		if (got_ != (long long)(want)) {                                                   \
			fprintf(stderr, "%s:%d: %s = %lld, want %lld (%s)\n", __FILE__, __LINE__,  \
				#expr, got_, (long long)(want), #want);                            \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* A short wait that slept: 5 us past a poll that caught nothing, or 50 us without a poll
 * (the wakeup of an idle virtual CPU). */
#define SLEEP_NS 50000u
static void short_wait(struct prb_spin *sp)
{
	uint32_t window = prb_spin_begin(sp);

	prb_spin_update(sp, PRB_SPIN_SLEPT, window > 0 ? (uint64_t)window + 5000u : SLEEP_NS);
}

/* A wait whose poll caught the answer after waited_ns. */
static void caught_wait(struct prb_spin *sp, uint64_t waited_ns)
{
	EXPECT(prb_spin_begin(sp) > 0, 1);
	prb_spin_update(sp, PRB_SPIN_CAUGHT, waited_ns);
}

/* A new connection sleeps at once; short waits open the window, doubling it up to the cap. */
static void test_grow(void)
{
	struct prb_spin sp;
	uint32_t want = PRB_SPIN_START_NS;

	prb_spin_init(&sp);
	EXPECT(sp.window_ns, 0);
	EXPECT(sp.hold, 0);
	EXPECT(prb_spin_begin(&sp), 0);
	prb_spin_update(&sp, PRB_SPIN_SLEPT, 5000u);
	EXPECT(sp.window_ns, PRB_SPIN_START_NS);
	EXPECT(sp.slept_ns, 5000u); /* a wait that slept at once was measured */
	while (want < PRB_SPIN_MAX_NS) {
		want = want * 2u < PRB_SPIN_MAX_NS ? want * 2u : PRB_SPIN_MAX_NS;
		EXPECT(prb_spin_begin(&sp), sp.window_ns);
		prb_spin_update(&sp, PRB_SPIN_SLEPT, (uint64_t)sp.window_ns + 5000u);
		EXPECT(sp.window_ns, want);
	}
	/* A slept wait of exactly the cap is still short; the window stays at the cap. */
	EXPECT(prb_spin_begin(&sp), PRB_SPIN_MAX_NS);
	prb_spin_update(&sp, PRB_SPIN_SLEPT, PRB_SPIN_MAX_NS);
	EXPECT(sp.window_ns, PRB_SPIN_MAX_NS);
}

/* Answers the poll catches leave the window as it is and are averaged. */
static void test_caught(void)
{
	struct prb_spin sp;

	prb_spin_init(&sp);
	short_wait(&sp);
	short_wait(&sp);
	EXPECT(sp.window_ns, 2u * PRB_SPIN_START_NS);
	caught_wait(&sp, 1000u);
	EXPECT(sp.caught_ns, 1000u);
	caught_wait(&sp, 17000u);
	EXPECT(sp.caught_ns, 2000u); /* a sixteenth of the way up */
	caught_wait(&sp, 1000u);
	EXPECT(sp.caught_ns, 1500u); /* half the way down */
	EXPECT(sp.window_ns, 2u * PRB_SPIN_START_NS);
}

/* While the window is open, one wait in PRB_SPIN_PROBE_EVERY sleeps at once. */
static void test_probe(void)
{
	struct prb_spin sp;
	unsigned i, probes = 0;

	prb_spin_init(&sp);
	short_wait(&sp);
	for (i = 0; i < 10u * PRB_SPIN_PROBE_EVERY; i++) {
		uint32_t window = prb_spin_begin(&sp);

		if (window == 0) {
			probes++;
			EXPECT(i % PRB_SPIN_PROBE_EVERY, PRB_SPIN_PROBE_EVERY - 1u);
			/* Sleeping costs more than polling: the window stays as it is. */
			prb_spin_update(&sp, PRB_SPIN_SLEPT, 60000u);
		} else {
			prb_spin_update(&sp, PRB_SPIN_CAUGHT, 2000u);
		}
		EXPECT(sp.window_ns, PRB_SPIN_START_NS);
	}
	EXPECT(probes, 10);
}

/*
 * Polling pays only when sleeping costs PRB_SPIN_GAIN_NS more than polling: a probe that
 * says otherwise closes the window, and it stays closed (however short the waits) until
 * sleeping gets slow again.
 */
static void test_pays(void)
{
	struct prb_spin sp;
	unsigned i, probes;

	prb_spin_init(&sp);
	prb_spin_begin(&sp);
	prb_spin_update(&sp, PRB_SPIN_SLEPT, 60000u); /* idle: a wakeup costs ~50 us */
	EXPECT(sp.window_ns, PRB_SPIN_START_NS);
	for (i = 0; i < PRB_SPIN_PROBE_EVERY - 1u; i++)
		caught_wait(&sp, 10000u);
	EXPECT(sp.caught_ns, 10000u);
	/* Now sleeping takes 12 us (busy CPUs wake fast), polling 10 us: as the probes
	 * bring the average of sleeping down, the window closes. */
	for (probes = 0; probes < 100 && sp.window_ns > 0; probes++) {
		EXPECT(prb_spin_begin(&sp), 0);
		prb_spin_update(&sp, PRB_SPIN_SLEPT, 12000u);
		for (i = 0; i < PRB_SPIN_PROBE_EVERY - 1u && sp.window_ns > 0; i++)
			caught_wait(&sp, 10000u);
	}
	EXPECT(probes > 1 && probes < 20, 1);
	EXPECT(sp.slept_ns < sp.caught_ns + PRB_SPIN_GAIN_NS, 1);
	EXPECT(sp.window_ns, 0);
	for (i = 0; i < 100; i++) {
		EXPECT(prb_spin_begin(&sp), 0);
		prb_spin_update(&sp, PRB_SPIN_SLEPT, 12000u);
	}
	EXPECT(sp.window_ns, 0);
	EXPECT(sp.slept_ns < 12100u, 1);
	/* The machine goes idle: sleeping takes 60 us again, and the window reopens. */
	for (i = 0; i < 100 && sp.window_ns == 0; i++) {
		EXPECT(prb_spin_begin(&sp), 0);
		prb_spin_update(&sp, PRB_SPIN_SLEPT, 60000u);
	}
	EXPECT(sp.window_ns, PRB_SPIN_START_NS);
	EXPECT(sp.slept_ns >= sp.caught_ns + PRB_SPIN_GAIN_NS, 1);
}

/* A wait longer than the cap closes the window: nothing came soon, the poll was wasted. */
static void test_long_wait(void)
{
	struct prb_spin sp;

	prb_spin_init(&sp);
	short_wait(&sp);
	short_wait(&sp);
	EXPECT(prb_spin_begin(&sp) > 0, 1);
	prb_spin_update(&sp, PRB_SPIN_SLEPT, PRB_SPIN_MAX_NS + 1u);
	EXPECT(sp.window_ns, 0);
	EXPECT(sp.hold, 0);
	/* Long waits with the window closed keep it closed and are not averaged. */
	EXPECT(prb_spin_begin(&sp), 0);
	prb_spin_update(&sp, PRB_SPIN_SLEPT, 10u * PRB_SPIN_MAX_NS);
	EXPECT(sp.window_ns, 0);
	EXPECT(sp.slept_ns, SLEEP_NS);
	short_wait(&sp);
	EXPECT(sp.window_ns, PRB_SPIN_START_NS);
}

/* Begin a wait that polls: probes that come first sleep briefly (and change nothing). */
static void begin_polling(struct prb_spin *sp)
{
	unsigned probes = 0;

	while (prb_spin_begin(sp) == 0 && probes++ < 2)
		prb_spin_update(sp, PRB_SPIN_SLEPT, SLEEP_NS);
	EXPECT(probes < 2, 1);
}

/* Open the window, get preempted, and count the short waits until it opens again. */
static uint32_t waits_closed_after_preemption(struct prb_spin *sp)
{
	uint32_t n = 0;

	short_wait(sp);
	begin_polling(sp);
	prb_spin_update(sp, PRB_SPIN_PREEMPTED, 3000000u);
	EXPECT(sp->window_ns, 0);
	while (sp->window_ns == 0 && n <= PRB_SPIN_HOLD_MAX) {
		short_wait(sp);
		n++;
	}
	EXPECT(sp->window_ns, PRB_SPIN_START_NS);
	return n - 1; /* the last short wait opened it */
}

/*
 * A preemption during a poll closes the window for PRB_SPIN_HOLD_MIN short waits, the
 * next for twice as many, and so on up to PRB_SPIN_HOLD_MAX; a caught answer forgives.
 */
static void test_preempted(void)
{
	struct prb_spin sp;
	uint32_t hold = 2u * PRB_SPIN_HOLD_MIN;

	prb_spin_init(&sp);
	EXPECT(waits_closed_after_preemption(&sp), PRB_SPIN_HOLD_MIN);
	EXPECT(waits_closed_after_preemption(&sp), 2u * PRB_SPIN_HOLD_MIN);
	while (hold < PRB_SPIN_HOLD_MAX) {
		hold *= 2u;
		EXPECT(waits_closed_after_preemption(&sp), hold);
	}
	EXPECT(waits_closed_after_preemption(&sp), PRB_SPIN_HOLD_MAX);
	/* Long waits while held do not use up the hold. */
	begin_polling(&sp);
	prb_spin_update(&sp, PRB_SPIN_PREEMPTED, 3000000u);
	prb_spin_begin(&sp);
	prb_spin_update(&sp, PRB_SPIN_SLEPT, 10u * PRB_SPIN_MAX_NS);
	EXPECT(sp.hold, PRB_SPIN_HOLD_MAX);
	/* Once a poll catches an answer again, the next preemption holds the least. */
	sp.hold = 0;
	short_wait(&sp);
	caught_wait(&sp, 1000u);
	EXPECT(waits_closed_after_preemption(&sp), PRB_SPIN_HOLD_MIN);
}

int main(void)
{
	test_grow();
	test_caught();
	test_probe();
	test_pays();
	test_long_wait();
	test_preempted();
	if (failures) {
		fprintf(stderr, "test_spin: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_spin: all checks passed\n");
	return 0;
}
