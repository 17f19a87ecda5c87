/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-test API of suite.h: connections and sessions the runner closes after the
 * test, memory it frees, deferred calls, the test's address region, skips, restarts.
 */
#define _GNU_SOURCE
#include "context.h"

#include <CUnit/TestRun.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

struct cf_state cf_ctx;

const struct cf_brick *cf_brick(void)
{
	return &cf_ctx.brick;
}

const char *cf_url(void)
{
	return cf_ctx.opt->url;
}

int cf_stall_wait_ms(void)
{
	return cf_ctx.opt->stall_wait_ms;
}

bool cf_destructive(void)
{
	return cf_ctx.opt->destructive;
}

/* Remember a raw connection so the runner closes it after the test. */
static void track(struct cf_conn *c)
{
	for (size_t i = 0; i < MAX_TRACKED; i++) {
		if (!cf_ctx.tracked[i]) {
			cf_ctx.tracked[i] = c;
			return;
		}
	}
	CU_FAIL_FATAL("test opened more than 256 connections at once");
}

void cf_disconnect(struct cf_conn *c)
{
	for (size_t i = 0; i < MAX_TRACKED; i++)
		if (cf_ctx.tracked[i] == c)
			cf_ctx.tracked[i] = NULL;
	cf_conn_close(c);
}

void *cf_mem(size_t size)
{
	size_t slot = 0;
	void *p;

	while (slot < MAX_TRACKED && cf_ctx.mem[slot])
		slot++;
	p = slot < MAX_TRACKED ? calloc(1, size ? size : 1) : NULL;
	cf_check(p != NULL, true, __FILE__, __LINE__, "out of memory (%zu bytes)", size);
	cf_ctx.mem[slot] = p;
	return p;
}

void cf_defer(void (*fn)(void *), void *arg)
{
	cf_check(cf_ctx.ndeferred < 16, true, __FILE__, __LINE__, "too many deferred calls");
	cf_ctx.deferred[cf_ctx.ndeferred].fn = fn;
	cf_ctx.deferred[cf_ctx.ndeferred].arg = arg;
	cf_ctx.ndeferred++;
}

/* After a test: deferred calls (newest first), then connections, sessions, memory. */
/* Is the ID \p id (\p len bytes) in the space-separated list \p list? */
static bool listed(const char *list, const char *id, size_t len)
{
	for (const char *p = list; (p = strstr(p, "PRB-")) != NULL; p++)
		if (strncmp(p, id, len) == 0 && (p[len] == ' ' || p[len] == '\0'))
			return true;
	return false;
}

void cf_context_blame(const char *reqs, bool setup)
{
	struct cf_result *r = cf_ctx.current;

	if (setup)
		r->setup_failed = true;
	else
		r->own_failed = true;
	for (const char *p = reqs; p && *p;) {
		size_t len = strcspn(p, " ");
		size_t used = strlen(r->blamed);
		if (len && !listed(r->blamed, p, len) && used + len + 2 < sizeof(r->blamed))
			snprintf(r->blamed + used, sizeof(r->blamed) - used, "%s%.*s", used ? " " : "",
				 (int)len, p);
		p += len;
		p += strspn(p, " ");
	}
}

void cf_context_end_test(void)
{
	cf_ctx.setup_depth = 0;
	while (cf_ctx.ndeferred > 0) {
		cf_ctx.ndeferred--;
		cf_ctx.deferred[cf_ctx.ndeferred].fn(cf_ctx.deferred[cf_ctx.ndeferred].arg);
	}
	for (size_t i = 0; i < MAX_TRACKED; i++) {
		cf_conn_close(cf_ctx.tracked[i]);
		cf_ctx.tracked[i] = NULL;
		prb_disconnect(&cf_ctx.sessions[i]);
		free(cf_ctx.mem[i]);
		cf_ctx.mem[i] = NULL;
	}
}

struct prb_session *cf_session_features(uint32_t features)
{
	struct prb_opts *opts = NULL;
	struct prb_session *s = NULL;
	size_t slot = 0;
	int ret;

	while (slot < MAX_TRACKED && cf_ctx.sessions[slot])
		slot++;
	cf_check(slot < MAX_TRACKED, true, __FILE__, __LINE__, "too many libprb sessions");
	ret = prb_opts_new(&opts);
	if (ret == 0)
		ret = prb_opts_set_features(opts, features & ASKABLE_FEATURES);
	if (ret == 0)
		ret = prb_opts_set_io_timeout(opts, (unsigned)cf_ctx.opt->timeout_ms);
	if (ret == 0)
		ret = prb_connect(cf_ctx.opt->url, opts, &s);
	prb_opts_delete(&opts);
	cf_check(ret == 0, true, __FILE__, __LINE__, "libprb: connect to %s: %s", cf_ctx.opt->url,
		 prb_strerror(ret));
	cf_ctx.sessions[slot] = s;
	return s;
}

struct prb_session *cf_session(void)
{
	return cf_session_features(cf_ctx.default_features);
}

void cf_session_close(struct prb_session *s)
{
	for (size_t i = 0; i < MAX_TRACKED; i++)
		if (cf_ctx.sessions[i] == s)
			cf_ctx.sessions[i] = NULL;
	prb_disconnect(&s);
}

struct prb_mapping *cf_session_map(struct prb_session *s, uint64_t addr, unsigned flags)
{
	const char *rests_on = flags & PRB_MAPPING_EXCL ? CF_REQ_MAP_EXCL : CF_REQ_MAP;
	struct prb_mapping *m = NULL;

	CF_SETUP(rests_on)
		cf_check_rc(prb_map(s, addr, flags, &m), 0, true, "prb_map", __FILE__, __LINE__);
	return m;
}

bool cf_raw_available(void)
{
	return !cf_ctx.rdma;
}

/* End the running test as skipped: over rdma:// the raw TCP sender has nothing to talk to. */
static void skip_raw_test(void)
{
	CU_pTest t = CU_get_current_test();

	cf_skip("uses the suite's raw TCP sender; over rdma:// only the libprb tests run");
	if (t && t->pJumpBuf)
		longjmp(*t->pJumpBuf, 1);
}

struct cf_conn *cf_open(void)
{
	struct cf_conn *c = NULL;

	if (cf_ctx.rdma)
		skip_raw_test();
	int ret = cf_conn_open(cf_ctx.opt->url, cf_ctx.opt->timeout_ms, &c);

	cf_check(ret == 0, true, __FILE__, __LINE__, "connect to %s: %s", cf_ctx.opt->url,
		 strerror(-ret));
	track(c);
	return c;
}

struct cf_conn *cf_connect_features(uint32_t features)
{
	struct cf_conn *c = cf_open();
	int ret = cf_hello_default(c, features);

	cf_check_status(c, ret, PRB_ST_OK, true, "HELLO", __FILE__, __LINE__);
	return c;
}

struct cf_conn *cf_connect(void)
{
	return cf_connect_features(cf_ctx.default_features);
}

uint64_t cf_addr(uint64_t i)
{
	uint64_t block = cf_ctx.region_base + ((uint64_t)cf_ctx.test_index << REGION_SHIFT) + i;

	return block << PRB_BLOCK_SHIFT;
}

uint64_t cf_top_addr(uint64_t i)
{
	return (uint64_t)0 - (i << PRB_BLOCK_SHIFT);
}

bool cf_use_top(struct prb_session *s, uint64_t blocks)
{
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	int ret;

	CF_SETUP(CF_REQ_LIST)
		CF_RC_FATAL(prb_list_new(s, cf_top_addr(blocks), &it), 0);
	ret = prb_list_next(it, &e);
	prb_list_delete(&it);
	CF_SETUP(CF_REQ_LIST)
		CF_CHECK_FATAL(ret >= 0, "libprb LIST: %s", prb_strerror(ret));
	if (ret == 1) {
		cf_skip("the top %llu blocks of the address space are in use (block 0x%llx is "
			"allocated): this test needs them free",
			(unsigned long long)blocks,
			(unsigned long long)(e.addr >> PRB_BLOCK_SHIFT));
		return false;
	}
	cf_ctx.top_blocks = blocks;
	return true;
}

void cf_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cf_ctx.current->reason, sizeof(cf_ctx.current->reason), fmt, ap);
	va_end(ap);
	cf_ctx.current->outcome = CF_SKIPPED;
	cf_ctx.current->unchecked = true;
}

void cf_note(const char *fmt, ...)
{
	char *notes = cf_ctx.current->notes;
	size_t used = strlen(notes), size = sizeof(cf_ctx.current->notes);
	va_list ap;

	if (used > 0 && used + 2 < size) {
		memcpy(notes + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(notes + used, size - used, fmt, ap);
	va_end(ap);
}

void cf_log(const char *fmt, ...)
{
	va_list ap;

	if (!cf_ctx.opt->verbose)
		return;
	va_start(ap, fmt);
	fputs("    ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

void cf_pattern(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* Try one HELLO; on success the connection is returned open. */
int cf_context_hello(uint32_t features, struct cf_conn **out)
{
	struct cf_conn *c;
	int ret = cf_conn_open(cf_ctx.opt->url, cf_ctx.opt->timeout_ms, &c);

	if (ret < 0)
		return ret;
	ret = cf_hello_default(c, features);
	if (ret != PRB_ST_OK) {
		cf_conn_close(c);
		return ret < 0 ? ret : -EPROTO;
	}
	*out = c;
	return 0;
}

/* A libprb session outside any test (probe, cleanup, restart wait), or NULL. */
struct prb_session *cf_context_session(uint32_t features, int *err)
{
	struct prb_opts *opts = NULL;
	struct prb_session *s = NULL;
	int ret = prb_opts_new(&opts);

	if (ret == 0)
		ret = prb_opts_set_features(opts, features & ASKABLE_FEATURES);
	if (ret == 0)
		ret = prb_opts_set_connect_timeout(opts, (unsigned)cf_ctx.opt->timeout_ms);
	if (ret == 0)
		ret = prb_opts_set_io_timeout(opts, (unsigned)cf_ctx.opt->timeout_ms);
	if (ret == 0)
		ret = prb_connect(cf_ctx.opt->url, opts, &s);
	prb_opts_delete(&opts);
	if (err)
		*err = ret;
	return ret == 0 ? s : NULL;
}

/* Does the brick answer a HELLO (by whichever transport the URL names)? */
static bool brick_answers(void)
{
	struct cf_conn *c;

	if (cf_ctx.rdma) {
		struct prb_session *s = cf_context_session(0, NULL);
		bool up = s != NULL;
		prb_disconnect(&s);
		return up;
	}
	if (cf_context_hello(cf_ctx.default_features, &c) < 0)
		return false;
	cf_conn_close(c);
	return true;
}

/* Run a restart command, then wait until the brick answers a HELLO again. */
static void restart_with(const char *cmd, const char *option)
{
	struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
	int status;

	cf_check(cmd != NULL, true, __FILE__, __LINE__, "no %s", option);
	cf_log("restart: running %s", cmd);
	fflush(stdout);
	status = system(cmd);
	cf_check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, true, __FILE__,
		 __LINE__, "%s '%s' failed (status %d)", option, cmd, status);
	for (int waited = 0; waited < cf_ctx.opt->restart_timeout_ms; waited += 100) {
		if (brick_answers())
			return;
		nanosleep(&pause, NULL);
	}
	cf_check(false, true, __FILE__, __LINE__, "brick not back %d ms after %s",
		 cf_ctx.opt->restart_timeout_ms, option);
}

void cf_restart(void)
{
	restart_with(cf_ctx.opt->restart_cmd, "--restart-cmd");
}

void cf_restart_graceful(void)
{
	restart_with(cf_ctx.opt->graceful_cmd, "--graceful-restart-cmd");
}
