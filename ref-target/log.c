/* SPDX-License-Identifier: Apache-2.0 */
#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* The program's one logging setting: written by main before the loop starts. */
static enum prb_log_level log_level = PRB_LOG_INFO;

void prb_log_set_level(enum prb_log_level level)
{
	log_level = level;
}

int prb_log_enabled(enum prb_log_level level)
{
	return level <= log_level;
}

void prb_log(enum prb_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	struct timespec ts;
	char line[1024];
	va_list ap;

	if (!prb_log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "prb-target[%lld.%03ld] %s: %s\n", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000, names[level], line);
}
