/* SPDX-License-Identifier: Apache-2.0 */
/* MAP: ENOENT, RO/RW, shared versus exclusive across connections, handles, limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"

static void basic_enoent(void)
{
	struct cf_conn *c = cf_connect();
	uint64_t h;

	CF_ST(c, cf_map(c, cf_addr(0), 0, &h), PRB_ST_ENOENT);
	CF_ST(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE | PRB_MAP_EXCL, &h), PRB_ST_ENOENT);
}

static void basic_response(void)
{
	struct cf_conn *c = cf_connect();
	union prb_msg m = {.map_req = {.addr = cf_addr(0), .map_flags = PRB_MAP_WRITE}}, rsp;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_ST_FATAL(c, cf_call(c, PRB_MSG_MAP_REQ, &m, NULL, 0, &rsp), PRB_ST_OK);
	CF_CHECK(rsp.map_rsp.handle != 0, "handle 0");
	CF_CHECK(rsp.map_rsp.length == PRB_BLOCK_SIZE, "length %u", rsp.map_rsp.length);
	CF_CHECK(rsp.map_rsp.raddr == 0 && rsp.map_rsp.rkey == 0,
		 "TCP binding: raddr 0x%llx rkey 0x%x, expected 0",
		 (unsigned long long)rsp.map_rsp.raddr, rsp.map_rsp.rkey);
}

static void args(void)
{
	struct cf_conn *c = cf_connect();
	uint64_t h;
	uint8_t buf[64];

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_ST(c, cf_map(c, cf_addr(0) + 512, 0, &h), PRB_ST_EINVAL);
	for (uint32_t bit = 1; bit; bit <<= 1)
		if (!(bit & PRB_MAP_ALL))
			CF_ST(c, cf_map(c, cf_addr(0), bit, &h), PRB_ST_EINVAL);
	union prb_msg m = {.map_req = {.addr = cf_addr(0)}}, rsp;
	m.hdr.tag = 5;
	int len = cf_build(c, PRB_MSG_MAP_REQ, &m, NULL, 0, buf, sizeof(buf));
	CF_CHECK_FATAL(len == PRB_MAP_REQ_SIZE, "encode");
	buf[PRB_MAP_REQ_RESERVED0_OFFSET + PRB_MAP_REQ_RESERVED0_SIZE - 1] = 0x80; /* its top bit */
	CF_CHECK_FATAL(cf_send_raw(c, buf, (size_t)len) == 0, "send");
	CF_ST(c, cf_recv_rsp(c, 5, &rsp), PRB_ST_EINVAL);
	/* None of those left a mapping: an exclusive MAP works. */
	CF_ST(c, cf_map(c, cf_addr(0), PRB_MAP_EXCL, &h), PRB_ST_OK);
}

static void shared_coexist(void)
{
	struct prb_session *a = cf_session(), *b = cf_session();
	struct prb_mapping *m[4];
	uint8_t data[4096], back[4096];

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(0), 1), 0);
	m[0] = cf_session_map(a, cf_addr(0), PRB_MAPPING_RW);
	cf_pattern(data, sizeof(data), 17);
	CF_SETUP(CF_REQ_WRITE)
		CF_RC(prb_write(m[0], 0, data, sizeof(data)), 0);
	m[1] = cf_session_map(b, cf_addr(0), PRB_MAPPING_RW);
	m[2] = cf_session_map(a, cf_addr(0), PRB_MAPPING_RO);
	m[3] = cf_session_map(b, cf_addr(0), PRB_MAPPING_RO);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			CF_CHECK(prb_mapping_handle(m[i]) != prb_mapping_handle(m[j]),
				 "two live mappings share handle 0x%llx",
				 (unsigned long long)prb_mapping_handle(m[i]));
	/* MAP did not change the contents. */
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m[3], 0, back, sizeof(back)), 0);
	CF_CHECK(memcmp(data, back, sizeof(data)) == 0, "later MAPs changed the block");
}

/* EXCL when another mapping exists, and any MAP while an EXCL one exists: EBUSY. */
static void excl_other_conn(void)
{
	struct prb_session *a = cf_session(), *b = cf_session();
	struct prb_mapping *mb = NULL;

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(0), 2), 0);
	cf_session_map(a, cf_addr(0), PRB_MAPPING_RO);
	CF_RC(prb_map(b, cf_addr(0), PRB_MAPPING_EXCL, &mb), -EBUSY);
	CF_RC(prb_map(b, cf_addr(0), PRB_MAPPING_EXCL | PRB_MAPPING_RW, &mb), -EBUSY);
	struct prb_mapping *ma = cf_session_map(a, cf_addr(1), PRB_MAPPING_EXCL | PRB_MAPPING_RW);
	CF_RC(prb_map(b, cf_addr(1), PRB_MAPPING_RO, &mb), -EBUSY);
	CF_RC(prb_map(b, cf_addr(1), PRB_MAPPING_RW, &mb), -EBUSY);
	CF_RC(prb_map(b, cf_addr(1), PRB_MAPPING_EXCL, &mb), -EBUSY);
	/* After UNMAP the block is free to map again. */
	CF_RC(prb_unmap(&ma), 0);
	CF_RC(prb_map(b, cf_addr(1), PRB_MAPPING_EXCL, &mb), 0);
}

static void excl_same_conn(void)
{
	struct prb_session *a = cf_session();
	struct prb_mapping *m = NULL;

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(0), 2), 0);
	cf_session_map(a, cf_addr(0), PRB_MAPPING_RW);
	CF_RC(prb_map(a, cf_addr(0), PRB_MAPPING_EXCL, &m), -EBUSY);
	cf_session_map(a, cf_addr(1), PRB_MAPPING_EXCL);
	CF_RC(prb_map(a, cf_addr(1), PRB_MAPPING_RO, &m), -EBUSY);
	CF_RC(prb_map(a, cf_addr(1), PRB_MAPPING_EXCL | PRB_MAPPING_RW, &m), -EBUSY);
}

/* Handles are nonzero, distinct, never come back after UNMAP, and do not count up. */
static void handle_unique(void)
{
	enum { N = 64 };
	struct prb_session *a = cf_session(), *b = cf_session();
	struct prb_mapping *m[N];
	uint64_t h[2 * N];

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(0), 4), 0);
	for (int i = 0; i < N; i++) {
		m[i] = cf_session_map(i % 2 ? a : b, cf_addr((uint64_t)i % 4), PRB_MAPPING_RO);
		h[i] = prb_mapping_handle(m[i]);
	}
	for (int i = 0; i < N; i++)
		CF_SETUP(CF_REQ_UNMAP)
			CF_RC(prb_unmap(&m[i]), 0);
	for (int i = N; i < 2 * N; i++)
		h[i] = prb_mapping_handle(
			cf_session_map(a, cf_addr((uint64_t)i % 4), PRB_MAPPING_RO));
	/* PRB-MAP-10 can only be checked loosely: no constant step between handles. */
	bool constant_step = true;
	for (int i = 2; i < 2 * N; i++)
		constant_step &= h[i] - h[i - 1] == h[1] - h[0];
	CF_CHECK(!constant_step, "handles grow by a constant step: predictable");
	qsort(h, 2 * N, sizeof(h[0]), cf_cmp_u64);
	CF_CHECK(h[0] != 0, "handle 0 returned");
	for (int i = 1; i < 2 * N; i++)
		CF_CHECK(h[i] != h[i - 1], "handle 0x%llx returned twice in one boot epoch",
			 (unsigned long long)h[i]);
}

/* A handle works only on the connection that mapped it. */
static void handle_other_conn(void)
{
	struct cf_conn *a = cf_connect(), *b = cf_connect();
	uint64_t h;
	uint8_t byte = 3;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(a, cf_alloc(a, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(a, cf_map(a, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
	CF_ST(b, cf_read(b, h, 0, 1, &byte), PRB_ST_ESTALE);
	CF_ST(b, cf_write(b, h, 0, 1, &byte), PRB_ST_ESTALE);
	CF_ST(b, cf_flush(b, h, 0, 1), PRB_ST_ESTALE);
	CF_ST(b, cf_unmap(b, h), PRB_ST_ESTALE);
	/* B's failed UNMAP did not revoke A's handle. */
	CF_ST(a, cf_write(a, h, 0, 1, &byte), PRB_ST_OK);
}

/*
 * Map blocks 0 and 1 of the region read-only, alternately, \p n times, pipelined (thousands of
 * round trips take a minute in the Soft-RoCE VM). The mapping objects stay with the session.
 * \return how many MAPs succeeded; *err is the first failure's error, or 0.
 */
static uint32_t map_many(struct prb_session *s, uint32_t n, struct prb_mapping **m, int *err)
{
	struct prb_completion cq[64];
	uint32_t queued = 0, done = 0, mapped = 0;

	*err = 0;
	while (done < queued || (queued < n && *err == 0)) {
		int ret = queued < n && *err == 0
				  ? prb_async_map(s, cf_addr(queued % 2), PRB_MAPPING_RO,
						  &m[queued], queued)
				  : -EAGAIN;
		if (ret == 0) {
			queued++;
			continue;
		}
		if (ret != -EAGAIN) {
			*err = ret;
			continue;
		}
		int got = prb_reap(s, cq, 1, 64, -1);
		if (got <= 0) {
			*err = got < 0 ? got : -ETIMEDOUT;
			break;
		}
		for (int i = 0; i < got; i++) {
			mapped += cq[i].result == 0;
			if (cq[i].result != 0 && *err == 0)
				*err = cq[i].result;
		}
		done += (uint32_t)got;
	}
	return mapped;
}

/*
 * Bring a new session to max_mappings live handles (blocks 0 and 1 of the region, pipelined):
 * \return the session, its mapping objects in *m and the limit in *max; NULL when max_mappings
 * is too large to reach quickly (the test is skipped).
 */
static struct prb_session *session_at_limit(struct prb_mapping ***m, uint32_t *max)
{
	struct prb_session *s = cf_session();
	struct prb_session_info info;
	uint32_t mapped;
	int err;

	CF_RC_FATAL(prb_session_get_info(s, &info), 0);
	if (info.max_mappings > 8192) {
		cf_skip("max_mappings %u: too many to reach in a quick test", info.max_mappings);
		return NULL;
	}
	*max = info.max_mappings;
	*m = cf_mem(info.max_mappings * sizeof(**m));
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(0), 2), 0);
	mapped = map_many(s, info.max_mappings, *m, &err);
	CF_CHECK_FATAL(mapped == info.max_mappings, "%u of %u MAPs: %s", mapped, info.max_mappings,
		       prb_strerror(err));
	return s;
}

/* max_mappings live handles per connection; one more gets ENOMEM. */
static void limit_max_mappings(void)
{
	struct prb_mapping **m, *extra = NULL, *other = NULL;
	uint32_t max;
	struct prb_session *s = session_at_limit(&m, &max);

	if (!s)
		return;
	CF_RC(prb_map(s, cf_addr(0), PRB_MAPPING_RO, &extra), -ENOMEM);
	/* The limit is per connection. */
	CF_RC(prb_map(cf_session(), cf_addr(0), PRB_MAPPING_RO, &other), 0);
	/* One handle less: one more MAP fits. */
	CF_RC(prb_unmap(&m[0]), 0);
	CF_RC(prb_map(s, cf_addr(0), PRB_MAPPING_RO, &extra), 0);
}

/*
 * Handles revoked by another connection's FREE FORCE give their max_mappings slots back: a
 * connection at its limit gets every slot again (and ENOMEM one past the limit).
 */
static void limit_freed_by_force(void)
{
	struct prb_mapping **m, *extra = NULL;
	struct prb_session *other;
	uint32_t max, mapped;
	struct prb_session *s = session_at_limit(&m, &max);
	int err;

	if (!s)
		return;
	CF_RC(prb_map(s, cf_addr(0), PRB_MAPPING_RO, &extra), -ENOMEM);
	/* Another connection frees both blocks with FORCE: every handle of s is revoked. (It
	 * connects only now: idle all along, a brick with a short idle timeout would end it.) */
	other = cf_session();
	CF_RC_FATAL(prb_free(other, cf_addr(0), 2, PRB_FREE_FLAG_FORCE), 0);
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(other, cf_addr(0), 2), 0);
	mapped = map_many(s, max, m, &err);
	CF_CHECK(mapped == max,
		 "%u of %u MAPs after FREE FORCE revoked all %u handles, then %s (the revoked "
		 "handles still count)",
		 mapped, max, max, prb_strerror(err));
	CF_RC(prb_map(s, cf_addr(1), PRB_MAPPING_RO, &extra), -ENOMEM);
	/* The revoked mapping objects go with the session (no UNMAP each: slow over rdma://). */
}

const struct cf_test cf_tests_map[] = {
	{"Map.Basic.Enoent", basic_enoent, "PRB-MAP-2", true, 0, 0, "MAP of a free block: ENOENT"},
	{"Map.Basic.Response", basic_response, "PRB-MAP-9 PRB-MAP-12 PRB-MAP-13", true, 0, 0,
	 "MAP response: nonzero handle, length 2 MiB, raddr and rkey 0 on TCP"},
	{"Map.Args.Invalid", args, "PRB-MAP-1 PRB-VER-7 PRB-REQ-4", true, 0, 0,
	 "unaligned address, unknown flag bits, reserved field: EINVAL"},
	{"Map.Shared.Coexist", shared_coexist, "PRB-MAP-5 PRB-MAP-15", true, 0, 0,
	 "shared RO and RW mappings from two connections coexist"},
	{"Map.Exclusive.OtherConnection", excl_other_conn, "PRB-MAP-3 PRB-MAP-4 PRB-UNMAP-5", true,
	 0, 0, "EXCL against another connection's mapping and any MAP against EXCL: EBUSY"},
	{"Map.Exclusive.SameConnection", excl_same_conn, "PRB-MAP-3 PRB-MAP-4", true, 0, 0,
	 "the exclusive rules hold within one connection too"},
	{"Map.Handle.Unique", handle_unique, "PRB-MAP-5 PRB-MAP-9 PRB-MAP-10", true, 0, 0,
	 "handles nonzero, distinct, never reused after UNMAP"},
	{"Map.Handle.OtherConnection", handle_other_conn, "PRB-MAP-11 PRB-DATA-2 PRB-UNMAP-1", true,
	 0, 0, "another connection's handle: ESTALE for every operation"},
	{"Map.Limit.MaxMappings", limit_max_mappings, "PRB-MAP-6 PRB-HELLO-19 PRB-VER-1", true, 0,
	 0, "more than max_mappings live handles on one connection: ENOMEM"},
	{"Map.Limit.FreedByForce", limit_freed_by_force, "PRB-MAP-6 PRB-FREE-4 PRB-HELLO-19", true,
	 0, 0,
	 "a connection at max_mappings whose handles another connection revokes with FREE FORCE "
	 "can map max_mappings blocks again"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
