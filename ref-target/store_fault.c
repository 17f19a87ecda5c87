/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash injection at persist points (store_fault.h). Compiled into every build; only the
 * test build (PRB_STORE_FAULT_POINTS) does anything.
 *
 * Two kinds of crash: "kill" (the default) stops the process before the persist, as
 * kill -9 would: every store made so far stays in the page cache. "power"
 * (PRB_STORE_CRASH_MODE=power) first undoes every slot-entry store made since the last
 * entry commit, the other extreme of what a power loss may leave (DESIGN.md).
 */
#include "store_internal.h"

#ifdef PRB_STORE_FAULT_POINTS
#include "store_fault.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#endif

void store_fault_setup(struct prb_store *s)
{
#ifdef PRB_STORE_FAULT_POINTS
	const char *at = getenv(PRB_STORE_CRASH_AT_ENV);
	const char *mode = getenv(PRB_STORE_CRASH_MODE_ENV);

	s->fault_crash_at = at ? strtoull(at, NULL, 10) : 0;
	s->fault_power_loss = mode && strcmp(mode, "power") == 0;
#else
	(void)s;
#endif
}

/* After the pool is mapped: remember the entries as persisted. */
int store_fault_attach(struct prb_store *s)
{
#ifdef PRB_STORE_FAULT_POINTS
	size_t slots = (size_t)s->fast_slots + s->tier_slots;

	s->fault_shadow = calloc(slots ? slots : 1, sizeof(*s->fault_shadow));
	if (!s->fault_shadow)
		return -ENOMEM;
	store_fault_committed(s);
#else
	(void)s;
#endif
	return 0;
}

void store_fault_committed(struct prb_store *s)
{
#ifdef PRB_STORE_FAULT_POINTS
	if (!s->fault_shadow)
		return;
	for (uint32_t slot = 0; slot < s->fast_slots + s->tier_slots; slot++)
		s->fault_shadow[slot] = s->entries[slot];
#else
	(void)s;
#endif
}

void store_fault_detach(struct prb_store *s)
{
#ifdef PRB_STORE_FAULT_POINTS
	free(s->fault_shadow);
	s->fault_shadow = NULL;
#else
	(void)s;
#endif
}

void store_fault_point(struct prb_store *s)
{
#ifdef PRB_STORE_FAULT_POINTS
	s->fault_points++;
	if (s->fault_crash_at == 0 || s->fault_points != s->fault_crash_at)
		return;
	if (s->fault_power_loss && s->fault_shadow)
		for (uint32_t slot = 0; slot < s->fast_slots + s->tier_slots; slot++)
			s->entries[slot] = s->fault_shadow[slot];
	raise(SIGKILL); /* test build only: a crash at this persist point */
#else
	(void)s;
#endif
}

#ifdef PRB_STORE_FAULT_POINTS
uint64_t prb_store_fault_points(const struct prb_store *s)
{
	return s->fault_points;
}

void prb_store_fault_arm(struct prb_store *s, uint64_t at)
{
	s->fault_crash_at = at;
}
#endif
