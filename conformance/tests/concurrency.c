/* SPDX-License-Identifier: Apache-2.0 */
/* Concurrency: two initiators racing for one address, exclusive MAP races, many connections. */
#include <string.h>

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

static void alloc_race(void)
{
	struct cf_conn *a = cf_connect(), *b = cf_connect();

	for (uint64_t i = 0; i < 64; i++) {
		union prb_msg ma = { .alloc_req = { .addr = cf_addr(i), .blocks = 1 } }, mb = ma;
		int st[2];
		race(i % 2 ? a : b, i % 2 ? b : a, PRB_MSG_ALLOC_REQ, &ma, &mb, st);
		CF_CHECK((st[0] == PRB_ST_OK && st[1] == PRB_ST_EEXIST) ||
				 (st[0] == PRB_ST_EEXIST && st[1] == PRB_ST_OK),
			 "round %llu: racing ALLOCs of one block answered %d and %d (exactly one must win)",
			 (unsigned long long)i, st[0], st[1]);
	}
	CF_CHECK(cf_allocated(a, 0, 64) == 64, "blocks missing after the races");
}

static void alloc_range_race(void)
{
	struct cf_conn *a = cf_connect(), *b = cf_connect();

	for (uint64_t i = 0; i < 16; i++) {
		uint64_t base = i * 32;
		union prb_msg ma = { .alloc_req = { .addr = cf_addr(base), .blocks = 8 } };
		union prb_msg mb = { .alloc_req = { .addr = cf_addr(base + 4), .blocks = 8 } };
		int st[2];
		race(a, b, PRB_MSG_ALLOC_REQ, &ma, &mb, st);
		bool a_won = st[0] == PRB_ST_OK && st[1] == PRB_ST_EEXIST;
		bool b_won = st[0] == PRB_ST_EEXIST && st[1] == PRB_ST_OK;
		CF_CHECK(a_won || b_won, "overlapping range ALLOCs answered %d and %d", st[0], st[1]);
		/* All or none: exactly the winner's 8 blocks. */
		CF_CHECK(cf_allocated(a, base, 12) == 8 &&
				 cf_allocated(a, a_won ? base : base + 4, 8) == 8,
			 "round %llu: the loser's range was partly applied", (unsigned long long)i);
	}
}

static void free_race(void)
{
	struct cf_conn *a = cf_connect(), *b = cf_connect();

	CF_ST_FATAL(a, cf_alloc(a, cf_addr(0), 32), PRB_ST_OK);
	for (uint64_t i = 0; i < 32; i++) {
		union prb_msg ma = { .free_req = { .addr = cf_addr(i), .blocks = 1 } }, mb = ma;
		int st[2];
		race(a, b, PRB_MSG_FREE_REQ, &ma, &mb, st);
		CF_CHECK((st[0] == PRB_ST_OK && st[1] == PRB_ST_ENOENT) ||
				 (st[0] == PRB_ST_ENOENT && st[1] == PRB_ST_OK),
			 "racing FREEs of one block answered %d and %d", st[0], st[1]);
	}
}

static void map_excl_race(void)
{
	struct cf_conn *a = cf_connect(), *b = cf_connect();

	CF_ST_FATAL(a, cf_alloc(a, cf_addr(0), 32), PRB_ST_OK);
	for (uint64_t i = 0; i < 32; i++) {
		uint32_t fa = PRB_MAP_EXCL | (i % 2 ? PRB_MAP_WRITE : 0U);
		union prb_msg ma = { .map_req = { .addr = cf_addr(i), .map_flags = fa } };
		union prb_msg mb = { .map_req = { .addr = cf_addr(i), .map_flags = i % 3 ? PRB_MAP_EXCL : 0U } };
		int st[2];
		race(a, b, PRB_MSG_MAP_REQ, &ma, &mb, st);
		CF_CHECK((st[0] == PRB_ST_OK && st[1] == PRB_ST_EBUSY) ||
				 (st[0] == PRB_ST_EBUSY && st[1] == PRB_ST_OK),
			 "racing MAPs (one exclusive) of one block answered %d and %d", st[0], st[1]);
	}
}

/* Many connections at once, each with its own HELLO parameters and its own block. */
static void many_connections(void)
{
	enum { N = 48 };
	struct cf_conn *c[N];
	uint64_t h[N];
	uint8_t data[1024], back[1024];

	for (int i = 0; i < N; i++) {
		c[i] = cf_open();
		struct prb_hello_req r = {
			.min_version = PRB_VERSION, .max_version = PRB_VERSION,
			.queue_depth = (uint16_t)(1 + i), .max_pdu = CF_RX_MAX,
			.features = i % 2 ? PRB_FEAT_HDGST & cf_brick()->features : 0,
		};
		CF_ST_FATAL(c[i], cf_hello(c[i], &r), PRB_ST_OK);
	}
	for (int i = 0; i < N; i++) {
		CF_ST(c[i], cf_alloc(c[i], cf_addr((uint64_t)i), 1), PRB_ST_OK);
		CF_ST_FATAL(c[i], cf_map(c[i], cf_addr((uint64_t)i), PRB_MAP_WRITE, &h[i]), PRB_ST_OK);
		cf_pattern(data, sizeof(data), (uint64_t)i);
		CF_ST(c[i], cf_write(c[i], h[i], 0, sizeof(data), data), PRB_ST_OK);
	}
	for (int i = N - 1; i >= 0; i--) {
		cf_pattern(data, sizeof(data), (uint64_t)i);
		CF_ST(c[i], cf_read(c[i], h[i], 0, sizeof(back), back), PRB_ST_OK);
		CF_CHECK(memcmp(data, back, sizeof(data)) == 0, "connection %d reads other data", i);
		CF_ST(c[i], cf_unmap(c[i], h[i]), PRB_ST_OK);
	}
}

const struct cf_test cf_tests_concurrency[] = {
	{ "Concurrency.Alloc.SameBlock", alloc_race, "conc.alloc", true, 0, 0,
	  "two initiators ALLOC one block at once: exactly one wins, the other EEXIST" },
	{ "Concurrency.Alloc.OverlappingRanges", alloc_range_race, "conc.range", true, 0, 0,
	  "overlapping range ALLOCs race: one wins whole, nothing of the other is applied" },
	{ "Concurrency.Free.SameBlock", free_race, "conc.free", true, 0, 0,
	  "two initiators FREE one block at once: exactly one wins, the other ENOENT" },
	{ "Concurrency.Map.ExclusiveRace", map_excl_race, "conc.map", true, 0, 0,
	  "racing MAPs where one is exclusive: exactly one gets a handle" },
	{ "Concurrency.Connections.Many", many_connections, "conc.many", true, 0, 0,
	  "48 connections with their own HELLO parameters, each served correctly" },
	{ NULL, NULL, NULL, false, 0, 0, NULL },
};
