/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prb-target logging: one line per message to stderr, with a level.
 */
#ifndef PRB_TARGET_LOG_H
#define PRB_TARGET_LOG_H

enum prb_log_level {
	PRB_LOG_ERROR = 0,
	PRB_LOG_WARN = 1,
	PRB_LOG_INFO = 2,
	PRB_LOG_DEBUG = 3,
};

/** Messages above \p level are dropped (default PRB_LOG_INFO). */
void prb_log_set_level(enum prb_log_level level);
/** True when a message at \p level would be printed (to skip costly formatting). */
int prb_log_enabled(enum prb_log_level level);
/** printf-style message at \p level. */
void prb_log(enum prb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define prb_err(...) prb_log(PRB_LOG_ERROR, __VA_ARGS__)
#define prb_warn(...) prb_log(PRB_LOG_WARN, __VA_ARGS__)
#define prb_info(...) prb_log(PRB_LOG_INFO, __VA_ARGS__)
#define prb_dbg(...)                                                                               \
	do {                                                                                       \
		if (prb_log_enabled(PRB_LOG_DEBUG))                                                \
			prb_log(PRB_LOG_DEBUG, __VA_ARGS__);                                       \
	} while (0)

#endif
