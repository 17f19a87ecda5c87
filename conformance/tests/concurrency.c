/* SPDX-License-Identifier: Apache-2.0 */
/* Concurrency: two initiators racing for one address, exclusive MAP races, many connections. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <string.h>
#include <time.h>

#include "suite.h"

/* Send req on both connections before reading either answer; return both statuses. */
static void race(struct cf_conn *a, struct cf_conn *b, enum prb_msg_id id, union prb_msg *ma,
		 union prb_msg *mb, int st[2])
{
	union prb_msg rsp;

	CF_CHECK_FATAL(cf_send_msg(a, id, ma, NULL, 0, false) == 0, "send: %s", a->detail);
	CF_CHECK_FATAL(cf_send_msg(b, id, mb, NULL, 0, false) == 0, "send: %s", b->detail);
	st[0] = cf_recv_rsp(a, ma->hdr.tag, &rsp);
	st[1] = cf_recv_rsp(b, mb->hdr.tag, &rsp);
}

/* Two libprb sessions queue an ALLOC of the same block each, submit, then reap. */
static void alloc_race(void)
{
	struct prb_session *s[2] = {cf_session(), cf_session()};

	for (uint64_t i = 0; i < 64; i++) {
		struct prb_completion done[2];
		int rc[2];
		for (int k = 0; k < 2; k++)
			CF_RC_FATAL(prb_async_alloc(s[(i + (uint64_t)k) % 2], cf_addr(i), 1, 0), 0);
		for (int k = 0; k < 2; k++)
			CF_CHECK_FATAL(prb_submit(s[(i + (uint64_t)k) % 2]) >= 0, "prb_submit");
		for (int k = 0; k < 2; k++) {
			int n = prb_reap(s[k], &done[k], 1, 1, -1);
			CF_CHECK_FATAL(n == 1, "prb_reap: %d", n);
			rc[k] = done[k].result;
		}
		CF_CHECK((rc[0] == 0 && rc[1] == -EEXIST) || (rc[0] == -EEXIST && rc[1] == 0),
			 "round %llu: racing ALLOCs of one block returned %d and %d (exactly one "
			 "must win)",
			 (unsigned long long)i, rc[0], rc[1]);
		CF_CHECK(cf_session_allocated(s[0], i, 1) == 1,
			 "round %llu: block not allocated after the race", (unsigned long long)i);
		CF_SETUP(CF_REQ_FREE)
			CF_RC(prb_free(s[0], cf_addr(i), 1, 0), 0);
	}
}

static void alloc_range_race(void)
{
	struct cf_conn *a = cf_connect(), *b = cf_connect();

	for (uint64_t i = 0; i < 16; i++) {
		uint64_t base = i * 32;
		union prb_msg ma = {.alloc_req = {.addr = cf_addr(base), .blocks = 8}};
		union prb_msg mb = {.alloc_req = {.addr = cf_addr(base + 4), .blocks = 8}};
		int st[2];
		race(a, b, PRB_MSG_ALLOC_REQ, &ma, &mb, st);
		bool a_won = st[0] == PRB_ST_OK && st[1] == PRB_ST_EEXIST;
		bool b_won = st[0] == PRB_ST_EEXIST && st[1] == PRB_ST_OK;
		CF_CHECK(a_won || b_won, "overlapping range ALLOCs answered %d and %d", st[0],
			 st[1]);
		/* All or none: exactly the winner's 8 blocks. */
		CF_CHECK(cf_allocated(a, base, 12) == 8 &&
				 cf_allocated(a, a_won ? base : base + 4, 8) == 8,
			 "round %llu: the loser's range was partly applied", (unsigned long long)i);
		CF_SETUP(CF_REQ_FREE)
			CF_ST(a, cf_free(a, cf_addr(a_won ? base : base + 4), 8, 0), PRB_ST_OK);
	}
}

static void free_race(void)
{
	struct cf_conn *a = cf_connect(), *b = cf_connect();

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(a, cf_alloc(a, cf_addr(0), 32), PRB_ST_OK);
	for (uint64_t i = 0; i < 32; i++) {
		union prb_msg ma = {.free_req = {.addr = cf_addr(i), .blocks = 1}}, mb = ma;
		int st[2];
		race(a, b, PRB_MSG_FREE_REQ, &ma, &mb, st);
		CF_CHECK((st[0] == PRB_ST_OK && st[1] == PRB_ST_ENOENT) ||
				 (st[0] == PRB_ST_ENOENT && st[1] == PRB_ST_OK),
			 "racing FREEs of one block answered %d and %d", st[0], st[1]);
	}
}

static void map_excl_race(void)
{
	struct cf_conn *owner = cf_connect();

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(owner, cf_alloc(owner, cf_addr(0), 32), PRB_ST_OK);
	for (uint64_t i = 0; i < 32; i++) {
		/* Fresh connections each round: their handles die with them. */
		struct cf_conn *a = cf_connect(), *b = cf_connect();
		uint32_t fa = PRB_MAP_EXCL | (i % 2 ? PRB_MAP_WRITE : 0U);
		union prb_msg ma = {.map_req = {.addr = cf_addr(i), .map_flags = fa}};
		union prb_msg mb = {
			.map_req = {.addr = cf_addr(i), .map_flags = i % 3 ? PRB_MAP_EXCL : 0U}};
		int st[2];
		race(a, b, PRB_MSG_MAP_REQ, &ma, &mb, st);
		CF_CHECK((st[0] == PRB_ST_OK && st[1] == PRB_ST_EBUSY) ||
				 (st[0] == PRB_ST_EBUSY && st[1] == PRB_ST_OK),
			 "racing MAPs (one exclusive) of one block answered %d and %d", st[0],
			 st[1]);
		cf_disconnect(a);
		cf_disconnect(b);
	}
}

/* Many connections at once, each with its own HELLO parameters and its own bytes. */
static void many_connections(void)
{
	enum { N = 48, BLOCKS = 8 };
	struct cf_conn *c[N];
	uint64_t h[N];
	uint8_t data[1024], back[1024];

	for (int i = 0; i < N; i++) {
		c[i] = cf_open();
		struct prb_hello_req r = {
			.min_version = PRB_VERSION,
			.max_version = PRB_VERSION,
			.queue_depth = (uint16_t)(1 + i),
			.max_pdu = CF_RX_MAX,
			.features = i % 2 ? PRB_FEAT_HDGST & cf_brick()->features : 0,
		};
		CF_ST_FATAL(c[i], cf_hello(c[i], &r), PRB_ST_OK);
	}
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c[0], cf_alloc(c[0], cf_addr(0), BLOCKS), PRB_ST_OK);
	for (int i = 0; i < N; i++) {
		uint32_t off = (uint32_t)(i / BLOCKS) * 4096U;
		CF_ST_FATAL(c[i],
			    cf_map(c[i], cf_addr((uint64_t)(i % BLOCKS)), PRB_MAP_WRITE, &h[i]),
			    PRB_ST_OK);
		cf_pattern(data, sizeof(data), (uint64_t)i);
		CF_ST(c[i], cf_write(c[i], h[i], off, sizeof(data), data), PRB_ST_OK);
	}
	for (int i = N - 1; i >= 0; i--) {
		uint32_t off = (uint32_t)(i / BLOCKS) * 4096U;
		cf_pattern(data, sizeof(data), (uint64_t)i);
		CF_ST(c[i], cf_read(c[i], h[i], off, sizeof(back), back), PRB_ST_OK);
		CF_CHECK(memcmp(data, back, sizeof(data)) == 0, "connection %d reads other data",
			 i);
		CF_ST(c[i], cf_unmap(c[i], h[i]), PRB_ST_OK);
	}
}

/* A range ALLOC or FREE in flight when its connection drops: all of it or none. */
static void disconnect_all_or_none(void)
{
	struct cf_conn *check = cf_connect();
	struct timespec settle = {.tv_nsec = 20 * 1000 * 1000};

	for (uint64_t i = 0; i < 8; i++) {
		struct cf_conn *c = cf_connect();
		union prb_msg m = {.alloc_req = {.addr = cf_addr(i * 64), .blocks = 16}};
		CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_ALLOC_REQ, &m, NULL, 0, false) == 0, "send");
		cf_disconnect(c);
		nanosleep(&settle, NULL);
		uint64_t n = cf_allocated(check, i * 64, 16);
		CF_CHECK(n == 0 || n == 16, "ALLOC of 16 cut by a disconnect left %llu blocks",
			 (unsigned long long)n);
		if (n == 0) {
			int st = cf_alloc(check, cf_addr(i * 64), 16);
			CF_SETUP(CF_REQ_ALLOC)
				CF_CHECK_FATAL(st == PRB_ST_OK || st == PRB_ST_EEXIST, "ALLOC: %d",
					       st);
		}
		c = cf_connect();
		m = (union prb_msg){.free_req = {.addr = cf_addr(i * 64), .blocks = 16}};
		CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_FREE_REQ, &m, NULL, 0, false) == 0, "send");
		cf_disconnect(c);
		nanosleep(&settle, NULL);
		n = cf_allocated(check, i * 64, 16);
		CF_CHECK(n == 0 || n == 16, "FREE of 16 cut by a disconnect left %llu blocks",
			 (unsigned long long)n);
	}
}

const struct cf_test cf_tests_concurrency[] = {
	{"Concurrency.Alloc.SameBlock", alloc_race, "PRB-ALLOC-2 PRB-ALLOC-5 PRB-CONN-4", true, 0,
	 0, "two initiators ALLOC one block at once: exactly one wins, the other EEXIST"},
	{"Concurrency.Alloc.OverlappingRanges", alloc_range_race, "PRB-ALLOC-5 PRB-REQ-4", true, 0,
	 0, "overlapping range ALLOCs race: one wins whole, nothing of the other is applied"},
	{"Concurrency.Free.SameBlock", free_race, "PRB-FREE-2 PRB-FREE-6", true, 0, 0,
	 "two initiators FREE one block at once: exactly one wins, the other ENOENT"},
	{"Concurrency.Map.ExclusiveRace", map_excl_race, "PRB-MAP-3 PRB-MAP-4", true, 0, 0,
	 "racing MAPs where one is exclusive: exactly one gets a handle"},
	{"Concurrency.Connections.Many", many_connections, "PRB-CONN-4 PRB-HELLO-20", true, 0, 0,
	 "48 connections with their own HELLO parameters, each served correctly"},
	{"Concurrency.Disconnect.AllOrNone", disconnect_all_or_none, "PRB-CONN-5", true, 0, 0,
	 "a range ALLOC or FREE cut by the end of its connection is applied whole or not at all"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
