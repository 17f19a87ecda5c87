/* SPDX-License-Identifier: Apache-2.0 */
/* Assertions with readable messages: statuses, libprb return codes, TERMs, anything. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "context.h"

int cf_setup_begin(const char *reqs)
{
	if (cf_ctx.setup_depth < sizeof(cf_ctx.setup_reqs) / sizeof(cf_ctx.setup_reqs[0]))
		cf_ctx.setup_reqs[cf_ctx.setup_depth] = reqs;
	cf_ctx.setup_depth++;
	return 1;
}

int cf_setup_end(void)
{
	if (cf_ctx.setup_depth > 0)
		cf_ctx.setup_depth--;
	return 0;
}

/* Is every ID of the space-separated list \p ids also in the list \p of? */
static bool all_in(const char *ids, const char *of)
{
	for (const char *p = ids; *p;) {
		size_t len = strcspn(p, " ");
		bool found = false;
		for (const char *q = of; *q && !found;) {
			size_t l = strcspn(q, " ");
			found = l == len && strncmp(p, q, len) == 0;
			q += l;
			q += strspn(q, " ");
		}
		if (len && !found)
			return false;
		p += len;
		p += strspn(p, " ");
	}
	return true;
}

/*
 * Record a failed check: blame the innermost setup step's requirements, or the test's own
 * (always the test's own when \p no_answer: nothing came back to judge the step by, and
 * when the step rests only on requirements the test checks anyway: a shared helper's MAP
 * in a MAP test). A fatal failure ends the test here (CUnit longjmps out).
 */
static void fail(const char *msg, const char *file, unsigned line, bool fatal, bool no_answer)
{
	size_t depth = cf_ctx.setup_depth;
	size_t max = sizeof(cf_ctx.setup_reqs) / sizeof(cf_ctx.setup_reqs[0]);
	const char *step = depth > 0 && !no_answer ? cf_ctx.setup_reqs[(depth > max ? max : depth) - 1]
						    : NULL;
	char text[1024];

	if (step && all_in(step, cf_ctx.current->test->reqs))
		step = NULL;
	if (step) {
		cf_context_blame(step, true);
		snprintf(text, sizeof(text), "setup step (%s) failed: %s", step, msg);
	} else {
		cf_context_blame(cf_ctx.current->test->reqs, false);
		snprintf(text, sizeof(text), "%s", msg);
	}
	CU_assertImplementation(CU_FALSE, line, text, file, "", fatal ? CU_TRUE : CU_FALSE);
}

bool cf_check_rc(int got, int want, bool fatal, const char *expr, const char *file, unsigned line)
{
	char msg[768];

	if (got == want) {
		CU_assertImplementation(CU_TRUE, line, expr, file, "", CU_FALSE);
		return true;
	}
	snprintf(msg, sizeof(msg), "%s: expected %d (%s), got %d (%s)", expr, want,
		 want ? strerror(-want) : "success", got, prb_strerror(got));
	fail(msg, file, line, fatal, false);
	return false;
}

bool cf_check_status(struct cf_conn *c, int got, int want, bool fatal, const char *expr,
		     const char *file, unsigned line)
{
	char msg[768], g[96], w[96];

	if (got == want) {
		CU_assertImplementation(CU_TRUE, line, expr, file, "", CU_FALSE);
		return true;
	}
	snprintf(msg, sizeof(msg), "%s: expected %s, got %s%s%s", expr,
		 cf_status_str(want, w, sizeof(w)), cf_status_str(got, g, sizeof(g)),
		 got < 0 && c ? ": " : "", got < 0 && c ? c->detail : "");
	fail(msg, file, line, fatal, got < 0);
	return false;
}

bool cf_check(bool ok, bool fatal, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ok)
		CU_assertImplementation(CU_TRUE, line, msg, file, "", CU_FALSE);
	else
		fail(msg, file, line, fatal, false);
	return ok;
}

bool cf_expect_term(struct cf_conn *c, unsigned reason, int64_t error_offset, int64_t tag,
		    const char *file, unsigned line)
{
	const char *want = prb_term_reason_name(reason);
	int ret = cf_recv_pdu(c, -1);

	while (ret == 0) /* answers to requests sent before the bad PDU */
		ret = cf_recv_pdu(c, -1);
	if (ret == -ECONNABORTED && c->term.reason != reason) {
		const char *got = prb_term_reason_name(c->term.reason);
		return cf_check(false, false, file, line, "expected TERM %s, got TERM %s", want,
				got ? got : "(not in the spec)");
	}
	if (ret != -ECONNABORTED)
		return cf_check(false, false, file, line, "expected TERM %s, got: %s", want,
				c->detail);
	if (error_offset >= 0)
		cf_check(c->term.error_offset == (uint64_t)error_offset, false, file, line,
			 "TERM %s: error_offset %u, expected %lld", want, c->term.error_offset,
			 (long long)error_offset);
	if (tag >= 0)
		cf_check(c->rx_hdr.tag == (uint64_t)tag, false, file, line,
			 "TERM %s: tag %u, expected the offending PDU's tag %lld", want,
			 c->rx_hdr.tag, (long long)tag);
	return cf_check(cf_wait_closed(c, cf_brick()->timeout_ms) == 0, false, file, line,
			"brick sent TERM %s but did not close the connection", want);
}

void cf_check_alive(void)
{
	struct cf_conn *c = cf_connect();

	CF_ST(c, cf_keepalive(c), PRB_ST_OK);
	cf_disconnect(c);
}
