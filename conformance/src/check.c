/* SPDX-License-Identifier: Apache-2.0 */
/* Assertions with readable messages: statuses, libprb return codes, TERMs, anything. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "suite.h"

bool cf_check_rc(int got, int want, bool fatal, const char *expr, const char *file, unsigned line)
{
	char msg[768];

	if (got == want) {
		CU_assertImplementation(CU_TRUE, line, expr, file, "", CU_FALSE);
		return true;
	}
	snprintf(msg, sizeof(msg), "%s: expected %d (%s), got %d (%s)", expr, want,
		 want ? strerror(-want) : "success", got, prb_strerror(got));
	CU_assertImplementation(CU_FALSE, line, msg, file, "", fatal ? CU_TRUE : CU_FALSE);
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
	CU_assertImplementation(CU_FALSE, line, msg, file, "", fatal ? CU_TRUE : CU_FALSE);
	return false;
}

bool cf_check(bool ok, bool fatal, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, "",
				fatal ? CU_TRUE : CU_FALSE);
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
