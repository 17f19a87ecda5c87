/* SPDX-License-Identifier: BSD-3-Clause */
/* Adaptive busy polling: the window's rules (spin.h). */
#include "spin.h"

void prb_spin_init(struct prb_spin *sp)
{
	*sp = (struct prb_spin){.backoff = PRB_SPIN_HOLD_MIN, .probe_in = PRB_SPIN_PROBE_EVERY};
}

uint32_t prb_spin_begin(struct prb_spin *sp)
{
	sp->probe = sp->window_ns == 0;
	if (sp->window_ns > 0 && --sp->probe_in == 0) {
		sp->probe_in = PRB_SPIN_PROBE_EVERY;
		sp->probe = true;
	}
	return sp->probe ? 0 : sp->window_ns;
}

/*
 * A low quantile of the waits: it follows a shorter sample within about 2 samples and
 * a longer one over about 16, so that the odd slow wait (an interrupt, a preempted
 * brick) moves it little while a lasting change still does. 0 until the first sample.
 */
static uint32_t prb_spin_average(uint32_t avg, uint64_t sample)
{
	int64_t s = sample > PRB_SPIN_MAX_NS ? PRB_SPIN_MAX_NS : (int64_t)sample;

	if (avg == 0)
		return s > 0 ? (uint32_t)s : 1u;
	if (s < (int64_t)avg)
		return (uint32_t)((int64_t)avg + (s - (int64_t)avg) / 2);
	return (uint32_t)((int64_t)avg + (s - (int64_t)avg) / 16);
}

/* Whether polling saves enough: unknown until a poll has caught an answer. */
static bool prb_spin_pays(const struct prb_spin *sp)
{
	return sp->caught_ns == 0 || sp->slept_ns >= sp->caught_ns + PRB_SPIN_GAIN_NS;
}

/* A wait slept and was short: a poll this much longer would have caught its answer. */
static void prb_spin_grow(struct prb_spin *sp)
{
	uint32_t w = sp->window_ns * 2u;

	if (sp->hold > 0) {
		sp->hold--;
		return;
	}
	if (!prb_spin_pays(sp))
		return;
	if (w < PRB_SPIN_START_NS)
		w = PRB_SPIN_START_NS;
	sp->window_ns = w < PRB_SPIN_MAX_NS ? w : PRB_SPIN_MAX_NS;
}

void prb_spin_update(struct prb_spin *sp, enum prb_spin_outcome outcome, uint64_t waited_ns)
{
	bool probe = sp->probe;

	sp->probe = false;
	switch (outcome) {
	case PRB_SPIN_CAUGHT:
		sp->caught_ns = prb_spin_average(sp->caught_ns, waited_ns);
		sp->backoff = PRB_SPIN_HOLD_MIN;
		break;
	case PRB_SPIN_SLEPT:
		if (waited_ns > PRB_SPIN_MAX_NS) {
			sp->window_ns = 0;
			break;
		}
		if (probe)
			sp->slept_ns = prb_spin_average(sp->slept_ns, waited_ns);
		if (!prb_spin_pays(sp))
			sp->window_ns = 0;
		else if (!probe || sp->window_ns == 0)
			prb_spin_grow(sp);
		break;
	case PRB_SPIN_PREEMPTED:
		sp->window_ns = 0;
		sp->hold = sp->backoff;
		if (sp->backoff < PRB_SPIN_HOLD_MAX)
			sp->backoff *= 2u;
		break;
	}
}
