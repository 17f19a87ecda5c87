/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration tests of prb-target over loopback, speaking raw PDUs through the
 * generated codec. Run under scripts/with-target.sh (PRB_URL, PRB_TARGET_PID):
 *   test_target NAME...      run the named tests
 *   test_target --list       list them
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* Write \p size bytes of \p value little-endian at \p buf + \p offset. */
static void put_le(uint8_t *buf, size_t offset, size_t size, uint64_t value)
{
	for (size_t i = 0; i < size; i++)
		buf[offset + i] = (uint8_t)(value >> (8 * i));
}

#define B ((uint64_t)PRB_BLOCK_SIZE)
#define ALL_FEATURES (PRB_FEAT_HDGST | PRB_FEAT_DDGST | PRB_FEAT_ATOMICS)

static const char *url;

static const char *st_name(int st)
{
	static char buf[32];
	const char *n = st >= 0 ? prb_status_name((unsigned)st) : NULL;

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", -st);
	return buf;
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_ST(expr, want)                                                                       \
	do {                                                                                       \
		int st_ = (expr);                                                                  \
		if (st_ != (int)(want)) {                                                          \
			fprintf(stderr, "%s:%d: %s = %s, want %s\n", __FILE__, __LINE__, #expr,    \
				st_name(st_), st_name((int)(want)));                               \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

/* Open a client with every feature; fail the test when it cannot. */
#define OPEN(c, features, qd) CHECK_ST(tc_open(&(c), url, (features), (qd)), 0)

/* Expect a TERM with \p reason next, then the end of the connection. */
static int expect_term(struct tc *c, uint16_t reason, uint32_t offset)
{
	struct tc_pdu p;

	for (;;) {
		int err = tc_recv(c, &p);

		if (err < 0) {
			fprintf(stderr, "expected TERM %s, got %s\n", prb_term_reason_name(reason),
				st_name(err));
			return 1;
		}
		if (p.id == PRB_MSG_TERM)
			break;
	}
	if (p.msg.term.reason != reason || p.msg.term.error_offset != offset) {
		const char *got = prb_term_reason_name(p.msg.term.reason);

		fprintf(stderr, "TERM %s offset %u, want %s offset %u\n", got ? got : "?",
			p.msg.term.error_offset, prb_term_reason_name(reason), offset);
		return 1;
	}
	CHECK(tc_closed_by_peer(c));
	return 0;
}

/* Raw PDU builder: encode a message without the client's help (for malformed input). */
static int encode_raw(enum prb_msg_id id, union prb_msg *m, uint8_t *buf, size_t len)
{
	return prb_msg_encode(id, m, buf, len);
}

/* A block with known content, checked after every abuse: nothing may be lost. */
struct witness {
	uint64_t addr;
	uint8_t data[8192];
};

static int witness_setup(struct witness *w, uint64_t addr)
{
	struct tc c;
	uint64_t h;

	w->addr = addr;
	tc_pattern(w->data, sizeof(w->data), addr);
	OPEN(c, 0, 8);
	CHECK_ST(tc_alloc(&c, addr, 1), 0);
	CHECK_ST(tc_map(&c, addr, PRB_MAP_WRITE, &h), 0);
	CHECK_ST(tc_write(&c, h, 4096, w->data, sizeof(w->data)), 0);
	CHECK_ST(tc_flush(&c, h, 4096, sizeof(w->data)), 0);
	tc_close(&c);
	return 0;
}

static int witness_check(const struct witness *w)
{
	static uint8_t back[8192];
	struct tc c;
	uint64_t h;

	OPEN(c, 0, 8);
	CHECK_ST(tc_map(&c, w->addr, 0, &h), 0);
	CHECK_ST(tc_read(&c, h, 4096, sizeof(back), back), 0);
	CHECK(memcmp(back, w->data, sizeof(back)) == 0);
	CHECK_ST(tc_unmap(&c, h), 0);
	CHECK_ST(tc_alloc(&c, w->addr + 64 * B, 1), 0);
	CHECK_ST(tc_free(&c, w->addr + 64 * B, 1, 0), 0);
	tc_close(&c);
	return 0;
}

/* ------------------------------------------------------------------ handshake */

static int test_hello(void)
{
	struct tc c, d;
	union prb_msg m;
	struct tc_pdu p;

	CHECK_ST(tc_connect(&c, url), 0);
	CHECK_ST(tc_hello(&c, ALL_FEATURES | 0x80000000u, PRB_MAX_QUEUE_DEPTH), 0);
	CHECK(c.hello.version == 1);
	CHECK(c.hello.queue_depth >= 1 && c.hello.queue_depth <= PRB_MAX_QUEUE_DEPTH);
	CHECK((c.hello.features & ALL_FEATURES) == ALL_FEATURES);
	CHECK(!(c.hello.features & (PRB_FEAT_RDMA_FLUSH | 0x80000000u)));
	CHECK(c.hello.max_data >= 4096 && c.hello.max_data <= PRB_MAX_DATA_LIMIT);
	CHECK(c.hello.max_pdu >= PRB_MIN_MAX_PDU &&
	      c.hello.max_pdu >= c.hello.max_data + PRB_WRITE_REQ_SIZE + 12);
	CHECK(c.hello.boot_epoch >= 1 && c.hello.max_mappings >= 1);
	CHECK(c.hello.capacity_blocks > 0 && c.hello.free_blocks <= c.hello.capacity_blocks);
	/* PRB-HELLO-12: no tier here, so no TIERING. */
	CHECK(!(c.hello.features & PRB_FEAT_TIERING));
	/* PRB-HELLO-22: a second HELLO is EPROTO, the connection goes on. */
	memset(&m, 0, sizeof(m));
	m.hello_req.min_version = 1;
	m.hello_req.max_version = 1;
	m.hello_req.queue_depth = 1;
	m.hello_req.max_pdu = PRB_MIN_MAX_PDU;
	CHECK_ST(tc_call(&c, PRB_MSG_HELLO_REQ, &m, NULL, 0, NULL), PRB_ST_EPROTO);
	CHECK_ST(tc_keepalive(&c), 0);

	/* Same brick, same identity on another connection; small queue depth granted as asked. */
	OPEN(d, 0, 3);
	CHECK(d.hello.queue_depth == 3);
	CHECK(memcmp(d.hello.brick_id, c.hello.brick_id, 16) == 0);
	CHECK(d.hello.boot_epoch == c.hello.boot_epoch);
	CHECK(d.hello.features == (c.hello.features & ~(uint32_t)ALL_FEATURES));
	tc_close(&d);
	tc_close(&c);

	/* PRB-HELLO-15: a small max_pdu bounds max_data; READ above it is EINVAL. */
	CHECK_ST(tc_connect(&c, url), 0);
	memset(&m, 0, sizeof(m));
	m.hello_req.min_version = 1;
	m.hello_req.max_version = 1;
	m.hello_req.queue_depth = 2;
	m.hello_req.max_pdu = PRB_MIN_MAX_PDU;
	CHECK_ST(tc_call(&c, PRB_MSG_HELLO_REQ, &m, NULL, 0, &p), 0);
	CHECK(p.msg.hello_rsp.max_data >= 4096 &&
	      p.msg.hello_rsp.max_data + PRB_READ_RSP_SIZE + 12 <= PRB_MIN_MAX_PDU);
	c.hello = p.msg.hello_rsp;
	{
		static uint8_t data[8192];
		uint64_t h;

		CHECK_ST(tc_alloc(&c, 3 * B, 1), 0);
		CHECK_ST(tc_map(&c, 3 * B, 0, &h), 0);
		CHECK_ST(tc_read(&c, h, 0, c.hello.max_data, data), 0);
		CHECK_ST(tc_read(&c, h, 0, c.hello.max_data + 1, data), PRB_ST_EINVAL);
		CHECK_ST(tc_unmap(&c, h), 0);
		CHECK_ST(tc_free(&c, 3 * B, 1, 0), 0);
	}
	tc_close(&c);

	/* PRB-HELLO-4, -8: min_version > max_version: EINVAL, then closed. */
	CHECK_ST(tc_connect(&c, url), 0);
	memset(&m, 0, sizeof(m));
	m.hello_req.min_version = 2;
	m.hello_req.max_version = 1;
	m.hello_req.queue_depth = 1;
	m.hello_req.max_pdu = PRB_MIN_MAX_PDU;
	CHECK_ST(tc_call(&c, PRB_MSG_HELLO_REQ, &m, NULL, 0, NULL), PRB_ST_EINVAL);
	CHECK(tc_closed_by_peer(&c));
	tc_close(&c);

	/* PRB-HELLO-7: no common version: ENOTSUP, then closed. */
	CHECK_ST(tc_connect(&c, url), 0);
	m.hello_req.min_version = 2;
	m.hello_req.max_version = 9;
	CHECK_ST(tc_call(&c, PRB_MSG_HELLO_REQ, &m, NULL, 0, NULL), PRB_ST_ENOTSUP);
	CHECK(tc_closed_by_peer(&c));
	tc_close(&c);

	/* PRB-HELLO-6: a range above ours that overlaps it is accepted. */
	CHECK_ST(tc_connect(&c, url), 0);
	m.hello_req.min_version = 1;
	m.hello_req.max_version = 7;
	CHECK_ST(tc_call(&c, PRB_MSG_HELLO_REQ, &m, NULL, 0, &p), 0);
	CHECK(p.msg.hello_rsp.version == 1);
	tc_close(&c);

	/* PRB-PDU-13: the first PDU is not a HELLO: TERM SEQUENCE. */
	CHECK_ST(tc_connect(&c, url), 0);
	memset(&m, 0, sizeof(m));
	CHECK_ST(tc_send(&c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, false), 0);
	CHECK(expect_term(&c, PRB_TERM_SEQUENCE, 2) == 0);
	tc_close(&c);

	/* A HELLO with digest flags set: TERM HEADER_DIGEST (PRB-DGST-3). */
	{
		uint8_t buf[64];
		int n;

		CHECK_ST(tc_connect(&c, url), 0);
		memset(&m, 0, sizeof(m));
		m.hello_req.min_version = 1;
		m.hello_req.max_version = 1;
		m.hello_req.queue_depth = 1;
		m.hello_req.max_pdu = PRB_MIN_MAX_PDU;
		m.hdr.flags = PRB_HDR_HDGST;
		n = encode_raw(PRB_MSG_HELLO_REQ, &m, buf, sizeof(buf));
		CHECK(n > 0);
		{
			uint32_t crc = prb_crc32c(buf, (size_t)n);

			for (int i = 0; i < 4; i++)
				buf[n + i] = (uint8_t)(crc >> (8 * i));
			memset(buf + n + 4, 0, 4);
		}
		CHECK_ST(tc_send_raw(&c, buf, (size_t)n + 8), 0);
		CHECK(expect_term(&c, PRB_TERM_HEADER_DIGEST, PRB_HDR_FLAGS_OFFSET) == 0);
		tc_close(&c);
	}
	return 0;
}

static int test_info(void)
{
	struct prb_info_rsp a, b;
	struct tc c, d;

	OPEN(c, 0, 4);
	OPEN(d, 0, 4);
	CHECK_ST(tc_info(&c, &a), 0);
	CHECK(a.capacity_blocks == a.fast_blocks + a.tier_blocks);
	CHECK(a.free_blocks == a.fast_free + a.tier_free);
	CHECK(a.free_blocks <= a.capacity_blocks);
	CHECK(a.connections >= 2);
	CHECK(a.boot_epoch == c.hello.boot_epoch);
	CHECK(memcmp(a.brick_id, c.hello.brick_id, 16) == 0);
	CHECK_ST(tc_keepalive(&c), 0);
	CHECK_ST(tc_alloc(&c, 5 * B, 2), 0);
	CHECK_ST(tc_info(&c, &b), 0);
	CHECK(b.requests >= a.requests + 2);
	CHECK(b.free_blocks == a.free_blocks - 2);
	tc_close(&d);
	CHECK_ST(tc_free(&c, 5 * B, 2, 0), 0);
	tc_close(&c);
	return 0;
}

/* ------------------------------------------------------------------ ALLOC, FREE, LIST */

static int test_alloc_free(void)
{
	static uint8_t buf[4096], zero[4096];
	struct prb_info_rsp info;
	struct prb_extent ext[8];
	uint64_t next, h;
	uint32_t count, flags;
	struct tc c;
	union prb_msg m;

	OPEN(c, 0, 4);
	CHECK_ST(tc_alloc(&c, 0, 1), 0);
	CHECK_ST(tc_alloc(&c, 0, 1), PRB_ST_EEXIST);
	/* PRB-ALLOC-5: a range overlapping an allocated block: EEXIST, nothing allocated. */
	CHECK_ST(tc_alloc(&c, 0x100 * B - 2 * B, 3), 0);
	CHECK_ST(tc_alloc(&c, 0x100 * B - 5 * B, 4), PRB_ST_EEXIST);
	CHECK_ST(tc_list(&c, 0x100 * B - 8 * B, 8, ext, &count, &next, &flags), 0);
	CHECK(count == 1 && ext[0].addr == 0x100 * B - 2 * B && ext[0].blocks == 3);
	CHECK_ST(tc_alloc(&c, B / 2, 1), PRB_ST_EINVAL);
	CHECK_ST(tc_alloc(&c, 3 * B, 0), PRB_ST_EINVAL);
	CHECK_ST(tc_alloc(&c, 3 * B, PRB_MAX_RANGE_BLOCKS + 1), PRB_ST_EINVAL);
	/* A range past 2^64 is EINVAL; the last block of the address space is fine. */
	CHECK_ST(tc_alloc(&c, UINT64_MAX - B + 1 - B, 3), PRB_ST_EINVAL);
	CHECK_ST(tc_alloc(&c, UINT64_MAX - B + 1, 1), 0);
	CHECK_ST(tc_list(&c, UINT64_MAX - B + 1, 8, ext, &count, &next, &flags), 0);
	CHECK(count == 1 && (flags & PRB_LIST_END) && next == 0);
	CHECK_ST(tc_free(&c, UINT64_MAX - B + 1, 1, 0), 0);
	/* PRB-ALLOC-3: not enough space: ENOSPC, nothing allocated. */
	CHECK_ST(tc_info(&c, &info), 0);
	CHECK(info.free_blocks < PRB_MAX_RANGE_BLOCKS);
	CHECK_ST(tc_alloc(&c, 0x10000 * B, (uint32_t)info.free_blocks + 1), PRB_ST_ENOSPC);
	CHECK_ST(tc_list(&c, 0x10000 * B, 8, ext, &count, &next, &flags), 0);
	CHECK(count == 0 && (flags & PRB_LIST_END) && next == 0x10000 * B);
	/* FREE: ENOENT for a range with a free block, nothing freed. */
	CHECK_ST(tc_free(&c, 0x100 * B - 3 * B, 4, 0), PRB_ST_ENOENT);
	CHECK_ST(tc_alloc(&c, 0x100 * B - 2 * B, 1), PRB_ST_EEXIST);
	CHECK_ST(tc_free(&c, 0x100 * B - 2 * B, 3, 0), 0);
	CHECK_ST(tc_free(&c, 0x100 * B - 2 * B, 1, 0), PRB_ST_ENOENT);
	CHECK_ST(tc_free(&c, 0, 1, 0x2), PRB_ST_EINVAL);
	CHECK_ST(tc_free(&c, B + 1, 1, 0), PRB_ST_EINVAL);
	/* PRB-ALLOC-6: a freed and reallocated block reads as zeros. */
	CHECK_ST(tc_map(&c, 0, PRB_MAP_WRITE, &h), 0);
	tc_pattern(buf, sizeof(buf), 7);
	CHECK_ST(tc_write(&c, h, B - 4096, buf, 4096), 0);
	CHECK_ST(tc_unmap(&c, h), 0);
	CHECK_ST(tc_free(&c, 0, 1, 0), 0);
	CHECK_ST(tc_alloc(&c, 0, 1), 0);
	CHECK_ST(tc_map(&c, 0, 0, &h), 0);
	CHECK_ST(tc_read(&c, h, B - 4096, 4096, buf), 0);
	CHECK(memcmp(buf, zero, sizeof(zero)) == 0);
	CHECK_ST(tc_unmap(&c, h), 0);
	CHECK_ST(tc_free(&c, 0, 1, 0), 0);
	/* Reserved field of alloc_req not zero: EINVAL. */
	{
		uint8_t pdu[32];
		struct tc_pdu p;

		memset(&m, 0, sizeof(m));
		m.alloc_req.addr = 0;
		m.alloc_req.blocks = 1;
		m.hdr.tag = 77;
		CHECK(encode_raw(PRB_MSG_ALLOC_REQ, &m, pdu, sizeof(pdu)) == 32);
		pdu[PRB_ALLOC_REQ_RESERVED0_OFFSET] = 1;
		CHECK_ST(tc_send_raw(&c, pdu, sizeof(pdu)), 0);
		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.msg.hdr.tag == 77 && p.msg.hdr.status == PRB_ST_EINVAL);
		CHECK(p.msg.hdr.hlen == 16 && p.msg.hdr.plen == 16);
		/* Nonzero status in a request: EINVAL too (PRB-REQ-2). */
		pdu[PRB_ALLOC_REQ_RESERVED0_OFFSET] = 0;
		put_le(pdu, PRB_HDR_STATUS_OFFSET, PRB_HDR_STATUS_SIZE, 3);
		CHECK_ST(tc_send_raw(&c, pdu, sizeof(pdu)), 0);
		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.msg.hdr.status == PRB_ST_EINVAL);
	}
	CHECK_ST(tc_list(&c, 0, 8, ext, &count, &next, &flags), 0);
	CHECK(count == 0 && (flags & PRB_LIST_END));
	tc_close(&c);
	return 0;
}

static int test_list(void)
{
	struct prb_extent ext[8];
	uint64_t next;
	uint32_t count, flags;
	struct tc c;

	OPEN(c, 0, 4);
	CHECK_ST(tc_alloc(&c, 10 * B, 3), 0);
	CHECK_ST(tc_alloc(&c, 13 * B, 2), 0);  /* adjacent: coalesced with the first */
	CHECK_ST(tc_alloc(&c, 20 * B, 1), 0);
	CHECK_ST(tc_alloc(&c, 100 * B, 4), 0);
	CHECK_ST(tc_list(&c, 0, 8, ext, &count, &next, &flags), 0);
	CHECK(count == 3);
	CHECK(ext[0].addr == 10 * B && ext[0].blocks == 5 && ext[0].state == PRB_EXTENT_RESIDENT);
	CHECK(ext[1].addr == 20 * B && ext[1].blocks == 1);
	CHECK(ext[2].addr == 100 * B && ext[2].blocks == 4);
	CHECK(next == 104 * B && (flags & PRB_LIST_END));
	/* PRB-LIST-7: a run straddling the cursor is reported from the cursor. */
	CHECK_ST(tc_list(&c, 12 * B, 8, ext, &count, &next, &flags), 0);
	CHECK(count == 3 && ext[0].addr == 12 * B && ext[0].blocks == 3);
	/* Pagination. */
	CHECK_ST(tc_list(&c, 0, 1, ext, &count, &next, &flags), 0);
	CHECK(count == 1 && next == 15 * B && !(flags & PRB_LIST_END));
	CHECK_ST(tc_list(&c, next, 1, ext, &count, &next, &flags), 0);
	CHECK(count == 1 && ext[0].addr == 20 * B && next == 21 * B && !(flags & PRB_LIST_END));
	CHECK_ST(tc_list(&c, next, 1, ext, &count, &next, &flags), 0);
	CHECK(count == 1 && ext[0].addr == 100 * B && next == 104 * B && (flags & PRB_LIST_END));
	CHECK_ST(tc_list(&c, next, 1, ext, &count, &next, &flags), 0);
	CHECK(count == 0 && next == 104 * B && (flags & PRB_LIST_END));
	CHECK_ST(tc_list(&c, B / 2, 1, ext, &count, &next, &flags), PRB_ST_EINVAL);
	CHECK_ST(tc_list(&c, 0, 0, ext, &count, &next, &flags), PRB_ST_EINVAL);
	CHECK_ST(tc_list(&c, 0, PRB_MAX_LIST_EXTENTS + 1, ext, &count, &next, &flags),
		 PRB_ST_EINVAL);
	CHECK_ST(tc_free(&c, 10 * B, 5, 0), 0);
	CHECK_ST(tc_free(&c, 20 * B, 1, 0), 0);
	CHECK_ST(tc_free(&c, 100 * B, 4, 0), 0);
	tc_close(&c);
	return 0;
}

/* ------------------------------------------------------------------ MAP, UNMAP, data */

static int test_map(void)
{
	struct tc c, d;
	uint64_t h1, h2, h3;
	struct tc_pdu p;
	union prb_msg m;
	uint8_t buf[64];

	OPEN(c, ALL_FEATURES, 8);
	OPEN(d, ALL_FEATURES, 8);
	CHECK_ST(tc_map(&c, 40 * B, 0, &h1), PRB_ST_ENOENT);
	CHECK_ST(tc_map(&c, 40 * B + 4096, 0, &h1), PRB_ST_EINVAL);
	CHECK_ST(tc_alloc(&c, 40 * B, 1), 0);
	memset(&m, 0, sizeof(m));
	m.map_req.addr = 40 * B;
	m.map_req.map_flags = 0x4;
	CHECK_ST(tc_call(&c, PRB_MSG_MAP_REQ, &m, NULL, 0, NULL), PRB_ST_EINVAL);
	m.map_req.map_flags = PRB_MAP_WRITE;
	CHECK_ST(tc_call(&c, PRB_MSG_MAP_REQ, &m, NULL, 0, &p), 0);
	h1 = p.msg.map_rsp.handle;
	CHECK(h1 != 0 && p.msg.map_rsp.length == B && p.msg.map_rsp.raddr == 0 &&
	      p.msg.map_rsp.rkey == 0);
	/* PRB-MAP-5: a distinct handle for each MAP, also of the same block. */
	CHECK_ST(tc_map(&c, 40 * B, 0, &h2), 0);
	CHECK_ST(tc_map(&d, 40 * B, 0, &h3), 0);
	CHECK(h2 != 0 && h2 != h1 && h3 != h1 && h3 != h2);
	/* RO handle: EPERM for WRITE, CAS and FADD; FLUSH and READ are fine. */
	memset(buf, 0xab, sizeof(buf));
	CHECK_ST(tc_write(&c, h2, 0, buf, 8), PRB_ST_EPERM);
	CHECK_ST(tc_cas(&c, h2, 0, 0, 1, (uint64_t *)buf), PRB_ST_EPERM);
	CHECK_ST(tc_fadd(&c, h2, 0, 1, (uint64_t *)buf), PRB_ST_EPERM);
	CHECK_ST(tc_flush(&c, h2, 0, B), 0);
	CHECK_ST(tc_read(&c, h2, 0, 64, buf), 0);
	/* PRB-MAP-11: another connection's handle is ESTALE. */
	CHECK_ST(tc_read(&d, h1, 0, 64, buf), PRB_ST_ESTALE);
	CHECK_ST(tc_unmap(&d, h1), PRB_ST_ESTALE);
	CHECK_ST(tc_read(&c, h1, 0, 64, buf), 0);
	/* PRB-UNMAP-1/2: after UNMAP every use is ESTALE, a second UNMAP too, handle 0 too. */
	CHECK_ST(tc_unmap(&c, h1), 0);
	CHECK_ST(tc_read(&c, h1, 0, 64, buf), PRB_ST_ESTALE);
	CHECK_ST(tc_write(&c, h1, 0, buf, 64), PRB_ST_ESTALE);
	CHECK_ST(tc_flush(&c, h1, 0, 64), PRB_ST_ESTALE);
	CHECK_ST(tc_unmap(&c, h1), PRB_ST_ESTALE);
	CHECK_ST(tc_unmap(&c, 0), PRB_ST_ESTALE);
	CHECK_ST(tc_read(&c, 0x1234567890abcdefULL, 0, 64, buf), PRB_ST_ESTALE);
	CHECK_ST(tc_unmap(&c, h2), 0);
	CHECK_ST(tc_unmap(&d, h3), 0);
	CHECK_ST(tc_free(&c, 40 * B, 1, 0), 0);
	tc_close(&d);
	tc_close(&c);
	return 0;
}

static int test_shared_excl(void)
{
	struct tc a, b;
	uint64_t ha, hb, hx, h;

	OPEN(a, 0, 8);
	OPEN(b, 0, 8);
	CHECK_ST(tc_alloc(&a, 50 * B, 1), 0);
	CHECK_ST(tc_map(&a, 50 * B, 0, &ha), 0);
	CHECK_ST(tc_map(&b, 50 * B, PRB_MAP_WRITE, &hb), 0);  /* shared RO and RW coexist */
	CHECK_ST(tc_map(&b, 50 * B, PRB_MAP_EXCL, &h), PRB_ST_EBUSY);
	CHECK_ST(tc_map(&a, 50 * B, PRB_MAP_EXCL | PRB_MAP_WRITE, &h), PRB_ST_EBUSY);
	CHECK_ST(tc_unmap(&a, ha), 0);
	/* PRB-MAP-3: EXCL conflicts with the requester's own mapping too. */
	CHECK_ST(tc_map(&b, 50 * B, PRB_MAP_EXCL, &h), PRB_ST_EBUSY);
	CHECK_ST(tc_unmap(&b, hb), 0);
	CHECK_ST(tc_map(&a, 50 * B, PRB_MAP_EXCL | PRB_MAP_WRITE, &hx), 0);
	/* PRB-MAP-4: any MAP while an exclusive mapping lives: EBUSY. */
	CHECK_ST(tc_map(&b, 50 * B, 0, &h), PRB_ST_EBUSY);
	CHECK_ST(tc_map(&a, 50 * B, 0, &h), PRB_ST_EBUSY);
	CHECK_ST(tc_unmap(&a, hx), 0);
	CHECK_ST(tc_map(&b, 50 * B, 0, &h), 0);
	CHECK_ST(tc_unmap(&b, h), 0);
	CHECK_ST(tc_free(&a, 50 * B, 1, 0), 0);
	tc_close(&a);
	tc_close(&b);
	return 0;
}

static int test_revocation(void)
{
	struct tc a, b, c;
	uint64_t ha, hb, h;
	uint8_t buf[16];
	struct prb_info_rsp info;

	OPEN(a, 0, 8);
	OPEN(b, 0, 8);
	CHECK_ST(tc_alloc(&a, 60 * B, 2), 0);
	CHECK_ST(tc_map(&a, 60 * B, PRB_MAP_WRITE | PRB_MAP_EXCL, &ha), 0);
	/* PRB-FREE-3: FREE of a mapped block: EBUSY, nothing freed (whole range). */
	CHECK_ST(tc_free(&b, 60 * B, 2, 0), PRB_ST_EBUSY);
	CHECK_ST(tc_alloc(&b, 61 * B, 1), PRB_ST_EEXIST);
	/* PRB-CONN-1/3: the connection ends: its handles are revoked at once. */
	tc_close(&a);
	/* The brick notices the close asynchronously: retry briefly. */
	for (int i = 0; i < 200; i++) {
		int st = tc_map(&b, 60 * B, PRB_MAP_EXCL, &hb);

		if (st == 0)
			break;
		CHECK_ST(st, PRB_ST_EBUSY);
		usleep(10000);
		CHECK(i < 199);
	}
	CHECK_ST(tc_unmap(&b, hb), 0);
	/* A handle of a closed connection is gone for everyone. */
	CHECK_ST(tc_read(&b, ha, 0, 8, buf), PRB_ST_ESTALE);
	/* PRB-FREE-4/5: FREE FORCE revokes the holders' handles, then frees. */
	CHECK_ST(tc_map(&b, 61 * B, PRB_MAP_WRITE, &hb), 0);
	OPEN(c, 0, 8);
	CHECK_ST(tc_map(&c, 61 * B, 0, &h), 0);
	CHECK_ST(tc_free(&c, 60 * B, 2, PRB_FREE_FORCE), 0);
	CHECK_ST(tc_read(&b, hb, 0, 8, buf), PRB_ST_ESTALE);
	CHECK_ST(tc_read(&c, h, 0, 8, buf), PRB_ST_ESTALE);
	CHECK_ST(tc_unmap(&b, hb), PRB_ST_ESTALE);
	CHECK_ST(tc_map(&b, 61 * B, 0, &hb), PRB_ST_ENOENT);
	CHECK_ST(tc_info(&b, &info), 0);
	CHECK(info.mapped_blocks == 0);
	tc_close(&b);
	tc_close(&c);
	return 0;
}

/* A WRITE whose payload is arriving straight into a block when another connection frees
 * the block with FORCE: the rest of the payload lands nowhere, the WRITE answers ESTALE,
 * and the block allocated again afterwards reads as zeros. */
static int test_revoke_inflight(void)
{
	static uint8_t buf[B], back[B], zero[B];
	union prb_msg m;
	struct tc_pdu p;
	struct tc a, b;
	uint64_t h;

	OPEN(a, 0, 8);
	OPEN(b, 0, 8);
	CHECK_ST(tc_alloc(&a, 65 * B, 1), 0);
	CHECK_ST(tc_map(&a, 65 * B, PRB_MAP_WRITE, &h), 0);
	tc_pattern(buf, B, 65);
	memset(&m, 0, sizeof(m));
	m.write_req.handle = h;
	m.write_req.length = (uint32_t)B;
	m.write_req.payload_len = (uint32_t)B;
	m.hdr.tag = 65;
	{
		uint8_t head[32];

		CHECK(encode_raw(PRB_MSG_WRITE_REQ, &m, head, sizeof(head)) == 32);
		CHECK_ST(tc_send_raw(&a, head, sizeof(head)), 0);
	}
	CHECK_ST(tc_send_raw(&a, buf, B / 2), 0);
	/* b's FREE is processed after a's first half (b waits for its own answer). */
	usleep(200000);
	CHECK_ST(tc_free(&b, 65 * B, 1, PRB_FREE_FORCE), 0);
	CHECK_ST(tc_alloc(&b, 65 * B, 1), 0);
	CHECK_ST(tc_send_raw(&a, buf + B / 2, B / 2), 0);
	CHECK_ST(tc_recv(&a, &p), 0);
	CHECK(p.msg.hdr.tag == 65 && p.msg.hdr.status == PRB_ST_ESTALE);
	CHECK_ST(tc_keepalive(&a), 0);
	CHECK_ST(tc_map(&b, 65 * B, 0, &h), 0);
	CHECK_ST(tc_read(&b, h, 0, B, back), 0);
	CHECK(memcmp(back, zero, B) == 0);
	CHECK_ST(tc_unmap(&b, h), 0);
	CHECK_ST(tc_free(&b, 65 * B, 1, 0), 0);
	tc_close(&a);
	tc_close(&b);
	return 0;
}

static int test_data(void)
{
	static uint8_t buf[B], back[B];
	uint64_t h, ro, orig;
	union prb_msg m;
	struct tc c;

	OPEN(c, PRB_FEAT_ATOMICS, 8);
	CHECK_ST(tc_alloc(&c, 70 * B, 1), 0);
	CHECK_ST(tc_map(&c, 70 * B, PRB_MAP_WRITE, &h), 0);
	CHECK_ST(tc_map(&c, 70 * B, 0, &ro), 0);
	/* A whole block, then small pieces at odd offsets; read back through both handles. */
	tc_pattern(buf, B, 1);
	CHECK_ST(tc_write(&c, h, 0, buf, B), 0);
	CHECK_ST(tc_read(&c, ro, 0, B, back), 0);
	CHECK(memcmp(buf, back, B) == 0);
	for (uint32_t off = 1; off < B; off = off * 3 + 7) {
		uint32_t len = (off % 5000) + 1;

		if (off + len > B)
			len = B - off;
		tc_pattern(buf + off, len, off);
		CHECK_ST(tc_write(&c, h, off, buf + off, len), 0);
	}
	CHECK_ST(tc_flush(&c, h, 0, B), 0);
	CHECK_ST(tc_read(&c, h, 0, B, back), 0);
	CHECK(memcmp(buf, back, B) == 0);
	CHECK_ST(tc_read(&c, h, B - 1, 1, back), 0);
	CHECK(back[0] == buf[B - 1]);
	/* Bounds (PRB-DATA-1, -4). */
	CHECK_ST(tc_read(&c, h, B - 1, 2, back), PRB_ST_ERANGE);
	CHECK_ST(tc_read(&c, h, UINT32_MAX, 1, back), PRB_ST_ERANGE);
	CHECK_ST(tc_write(&c, h, B, buf, 1), PRB_ST_ERANGE);
	CHECK_ST(tc_flush(&c, h, B - 8, 16), PRB_ST_ERANGE);
	CHECK_ST(tc_flush(&c, h, 0, 0), PRB_ST_EINVAL);
	CHECK_ST(tc_read(&c, h, 0, 0, back), PRB_ST_EINVAL);
	memset(&m, 0, sizeof(m));
	m.read_req.handle = h;
	m.read_req.length = PRB_MAX_DATA_LIMIT + 1;
	CHECK_ST(tc_call(&c, PRB_MSG_READ_REQ, &m, NULL, 0, NULL), PRB_ST_EINVAL);
	/* EINVAL (length) comes before ESTALE (PRB-REQ-1). */
	CHECK_ST(tc_read(&c, 0, 0, 0, back), PRB_ST_EINVAL);
	/* Atomics: little-endian 8-byte words. */
	memset(buf, 0, 16);
	CHECK_ST(tc_write(&c, h, 64, buf, 16), 0);
	CHECK_ST(tc_cas(&c, h, 64, 0, 0x1122334455667788ULL, &orig), 0);
	CHECK(orig == 0);
	CHECK_ST(tc_cas(&c, h, 64, 5, 9, &orig), 0);
	CHECK(orig == 0x1122334455667788ULL);
	CHECK_ST(tc_read(&c, ro, 64, 8, back), 0);
	CHECK(back[0] == 0x88 && back[7] == 0x11);
	CHECK_ST(tc_fadd(&c, h, 72, UINT64_MAX, &orig), 0);
	CHECK(orig == 0);
	CHECK_ST(tc_fadd(&c, h, 72, 2, &orig), 0);
	CHECK(orig == UINT64_MAX);
	CHECK_ST(tc_fadd(&c, h, 72, 0, &orig), 0);
	CHECK(orig == 1);
	CHECK_ST(tc_cas(&c, h, 65, 0, 0, &orig), PRB_ST_EINVAL);
	CHECK_ST(tc_fadd(&c, h, B, 1, &orig), PRB_ST_ERANGE);
	CHECK_ST(tc_fadd(&c, h, B - 8, 1, &orig), 0);
	CHECK_ST(tc_unmap(&c, h), 0);
	CHECK_ST(tc_unmap(&c, ro), 0);
	CHECK_ST(tc_free(&c, 70 * B, 1, 0), 0);
	tc_close(&c);

	/* PRB-ATOM-1: no ATOMICS granted: ENOTSUP, before any other check. */
	OPEN(c, 0, 8);
	CHECK(!(c.hello.features & PRB_FEAT_ATOMICS));
	CHECK_ST(tc_cas(&c, 0, 3, 0, 0, &orig), PRB_ST_ENOTSUP);
	CHECK_ST(tc_fadd(&c, 1, 0, 0, &orig), PRB_ST_ENOTSUP);
	tc_close(&c);
	return 0;
}

/* ------------------------------------------------------------------ pipelining, digests */

static int test_pipeline(void)
{
	enum { N = 32 };
	static uint8_t data[N][4096];
	uint32_t tags[N];
	bool seen[N] = { false };
	struct tc c;
	uint64_t h;
	union prb_msg m;
	struct tc_pdu p;

	OPEN(c, 0, N);
	CHECK(c.hello.queue_depth == N);
	CHECK_ST(tc_alloc(&c, 80 * B, 1), 0);
	CHECK_ST(tc_map(&c, 80 * B, PRB_MAP_WRITE, &h), 0);
	/* N WRITEs outstanding at once, tags in no particular order. */
	for (int i = 0; i < N; i++) {
		tc_pattern(data[i], 4096, (uint64_t)i + 100);
		memset(&m, 0, sizeof(m));
		m.write_req.handle = h;
		m.write_req.offset = (uint32_t)i * 4096u;
		m.write_req.length = 4096;
		m.write_req.payload_len = 4096;
		m.hdr.tag = tags[i] = 0x80000000u ^ ((uint32_t)i * 2654435761u);
		CHECK_ST(tc_send(&c, PRB_MSG_WRITE_REQ, &m, data[i], 4096, true), 0);
	}
	for (int i = 0; i < N; i++) {
		int k;

		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.id == PRB_MSG_WRITE_RSP && p.msg.hdr.status == 0);
		for (k = 0; k < N && tags[k] != p.msg.hdr.tag; k++)
			;
		CHECK(k < N && !seen[k]);
		seen[k] = true;
	}
	/* N READs of them, responses matched by tag. */
	for (int i = 0; i < N; i++) {
		memset(&m, 0, sizeof(m));
		m.read_req.handle = h;
		m.read_req.offset = (uint32_t)i * 4096u;
		m.read_req.length = 4096;
		m.hdr.tag = tags[i];
		CHECK_ST(tc_send(&c, PRB_MSG_READ_REQ, &m, NULL, 0, true), 0);
	}
	for (int i = 0; i < N; i++) {
		int k;

		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.id == PRB_MSG_READ_RSP && p.msg.hdr.status == 0 && p.payload_len == 4096);
		for (k = 0; k < N && tags[k] != p.msg.hdr.tag; k++)
			;
		CHECK(k < N);
		CHECK(memcmp(p.payload, data[k], 4096) == 0);
	}
	/* READ then WRITE of the same bytes pipelined: executed in arrival order. */
	memset(&m, 0, sizeof(m));
	m.read_req.handle = h;
	m.read_req.length = 4096;
	CHECK_ST(tc_send(&c, PRB_MSG_READ_REQ, &m, NULL, 0, false), 0);
	memset(&m, 0, sizeof(m));
	m.write_req.handle = h;
	m.write_req.length = 4096;
	m.write_req.payload_len = 4096;
	CHECK_ST(tc_send(&c, PRB_MSG_WRITE_REQ, &m, data[1], 4096, false), 0);
	CHECK_ST(tc_recv(&c, &p), 0);
	CHECK(p.id == PRB_MSG_READ_RSP && memcmp(p.payload, data[0], 4096) == 0);
	CHECK_ST(tc_recv(&c, &p), 0);
	CHECK(p.id == PRB_MSG_WRITE_RSP);
	CHECK_ST(tc_unmap(&c, h), 0);
	CHECK_ST(tc_free(&c, 80 * B, 1, 0), 0);
	tc_close(&c);

	/* PRB-TAG-7: one request more than the queue depth: TERM QUEUE_OVERFLOW. */
	OPEN(c, 0, 1);
	{
		uint8_t two[32];

		memset(&m, 0, sizeof(m));
		m.hdr.tag = 1;
		CHECK(encode_raw(PRB_MSG_KEEPALIVE_REQ, &m, two, 16) == 16);
		m.hdr.tag = 2;
		CHECK(encode_raw(PRB_MSG_KEEPALIVE_REQ, &m, two + 16, 16) == 16);
		CHECK_ST(tc_send_raw(&c, two, sizeof(two)), 0);
		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.id == PRB_MSG_KEEPALIVE_RSP && p.msg.hdr.tag == 1);
		CHECK(expect_term(&c, PRB_TERM_QUEUE_OVERFLOW, 0) == 0);
	}
	tc_close(&c);

	/* PRB-TAG-8: a request with an unknown opcode counts toward the depth too. */
	OPEN(c, 0, 1);
	{
		const uint8_t unknown = 0x55;
		uint8_t two[32];

		CHECK(prb_opcode_name(unknown) == NULL);
		memset(&m, 0, sizeof(m));
		m.hdr.tag = 1;
		CHECK(encode_raw(PRB_MSG_KEEPALIVE_REQ, &m, two, 16) == 16);
		m.hdr.tag = 2;
		CHECK(encode_raw(PRB_MSG_KEEPALIVE_REQ, &m, two + 16, 16) == 16);
		two[16 + PRB_HDR_OPCODE_OFFSET] = unknown;
		CHECK_ST(tc_send_raw(&c, two, sizeof(two)), 0);
		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.id == PRB_MSG_KEEPALIVE_RSP && p.msg.hdr.tag == 1);
		CHECK(expect_term(&c, PRB_TERM_QUEUE_OVERFLOW, 0) == 0);
	}
	tc_close(&c);
	return 0;
}

/*
 * Send a WRITE of len bytes (at most 256) with both digests on: a correct header digest,
 * and a data digest that matches the payload or not. \return 0 or a negative errno.
 */
static int send_write_digests(struct tc *c, uint32_t tag, uint64_t h, uint32_t offset,
			      const uint8_t *payload, uint32_t len, bool digest_matches)
{
	uint8_t pdu[PRB_WRITE_REQ_SIZE + PRB_HDGST_SIZE + 256 + PRB_DDGST_SIZE];
	uint32_t fixed = PRB_WRITE_REQ_SIZE + PRB_HDGST_SIZE;
	union prb_msg m;
	uint32_t crc;

	if (len > 256)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.write_req.handle = h;
	m.write_req.offset = offset;
	m.write_req.length = len;
	m.write_req.payload_len = len;
	m.hdr.flags = PRB_HDR_HDGST | PRB_HDR_DDGST;
	m.hdr.tag = tag;
	if (encode_raw(PRB_MSG_WRITE_REQ, &m, pdu, sizeof(pdu)) != (int)PRB_WRITE_REQ_SIZE)
		return -EINVAL;
	put_le(pdu, PRB_WRITE_REQ_SIZE, PRB_CRC32C_SIZE, prb_crc32c(pdu, PRB_WRITE_REQ_SIZE));
	memset(pdu + PRB_WRITE_REQ_SIZE + PRB_CRC32C_SIZE, 0, PRB_HDGST_SIZE - PRB_CRC32C_SIZE);
	memcpy(pdu + fixed, payload, len);
	crc = prb_crc32c(payload, len);
	put_le(pdu, fixed + len, PRB_CRC32C_SIZE, digest_matches ? crc : ~crc);
	return tc_send_raw(c, pdu, fixed + len + PRB_DDGST_SIZE);
}

/* A WRITE with both digests: the response's status (a PRB_ST_*), or a negative errno. */
static int write_digests_status(struct tc *c, uint64_t h, uint32_t offset, const uint8_t *payload,
				uint32_t len, bool digest_matches)
{
	uint32_t tag = c->next_tag++;
	struct tc_pdu p;
	int err;

	err = send_write_digests(c, tag, h, offset, payload, len, digest_matches);
	if (err == 0)
		err = tc_recv(c, &p);
	if (err < 0)
		return err;
	if (p.msg.hdr.tag != tag || p.msg.hdr.flags != PRB_HDR_HDGST)
		return -EPROTO;
	return p.msg.hdr.status;
}

static int test_digests(void)
{
	static uint8_t buf[65536], back[65536];
	struct witness w;
	struct prb_extent ext[4];
	uint64_t h, next;
	uint32_t count, flags;
	union prb_msg m;
	struct tc c;
	uint8_t pdu[96];

	CHECK(witness_setup(&w, 90 * B) == 0);
	OPEN(c, PRB_FEAT_HDGST | PRB_FEAT_DDGST, 8);
	CHECK((c.hello.features & (PRB_FEAT_HDGST | PRB_FEAT_DDGST)) ==
	      (PRB_FEAT_HDGST | PRB_FEAT_DDGST));
	CHECK_ST(tc_alloc(&c, 91 * B, 1), 0);
	CHECK_ST(tc_map(&c, 91 * B, PRB_MAP_WRITE, &h), 0);
	tc_pattern(buf, sizeof(buf), 3);
	CHECK_ST(tc_write(&c, h, 100, buf, sizeof(buf)), 0);
	CHECK_ST(tc_read(&c, h, 100, sizeof(back), back), 0);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	/* A whole block each way through the bounce buffer and the digest copies. */
	{
		static uint8_t big[B], bigback[B];

		tc_pattern(big, B, 91);
		CHECK_ST(tc_write(&c, h, 0, big, (uint32_t)B), 0);
		CHECK_ST(tc_read(&c, h, 0, (uint32_t)B, bigback), 0);
		CHECK(memcmp(big, bigback, B) == 0);
		CHECK_ST(tc_write(&c, h, 100, buf, sizeof(buf)), 0);
	}
	CHECK_ST(tc_list(&c, 90 * B, 4, ext, &count, &next, &flags), 0);
	CHECK(count == 1 && ext[0].blocks == 2);
	CHECK_ST(tc_list(&c, 92 * B, 4, ext, &count, &next, &flags), 0);
	CHECK(count == 0);
	/* PRB-DGST-7: bad data digest: EBADMSG and nothing written. */
	memset(pdu, 0xee, 16);
	CHECK_ST(write_digests_status(&c, h, 100, pdu, 16, false), PRB_ST_EBADMSG);
	CHECK_ST(tc_read(&c, h, 100, 16, back), 0);
	CHECK(memcmp(back, buf, 16) == 0);
	/* PRB-REQ-1: EBADMSG (check 4) comes before the operation's statuses (check 5), also
	 * when the WRITE fails and its payload is dropped; with the digest right, they stand. */
	{
		uint64_t ro;

		CHECK_ST(tc_map(&c, 91 * B, 0, &ro), 0);
		CHECK_ST(write_digests_status(&c, 0, 0, pdu, 16, false), PRB_ST_EBADMSG);
		CHECK_ST(write_digests_status(&c, 0, 0, pdu, 16, true), PRB_ST_ESTALE);
		CHECK_ST(write_digests_status(&c, ro, 0, pdu, 16, false), PRB_ST_EBADMSG);
		CHECK_ST(write_digests_status(&c, ro, 0, pdu, 16, true), PRB_ST_EPERM);
		CHECK_ST(write_digests_status(&c, h, (uint32_t)B - 8, pdu, 16, false),
			 PRB_ST_EBADMSG);
		CHECK_ST(write_digests_status(&c, h, (uint32_t)B - 8, pdu, 16, true),
			 PRB_ST_ERANGE);
		CHECK_ST(tc_unmap(&c, ro), 0);
		CHECK_ST(tc_read(&c, h, 100, 16, back), 0);
		CHECK(memcmp(back, buf, 16) == 0);
	}
	/* PRB-DGST-6: a bad header digest ends the connection. */
	{
		/* The same PDU again with one bit of its header digest flipped. */
		uint8_t bad[PRB_WRITE_REQ_SIZE + PRB_HDGST_SIZE];

		memset(&m, 0, sizeof(m));
		m.write_req.handle = h;
		m.write_req.offset = 100;
		m.write_req.length = 16;
		m.write_req.payload_len = 16;
		m.hdr.flags = PRB_HDR_HDGST | PRB_HDR_DDGST;
		m.hdr.tag = 6;
		CHECK(encode_raw(PRB_MSG_WRITE_REQ, &m, bad, sizeof(bad)) == (int)PRB_WRITE_REQ_SIZE);
		put_le(bad, PRB_WRITE_REQ_SIZE, PRB_CRC32C_SIZE,
		       prb_crc32c(bad, PRB_WRITE_REQ_SIZE) ^ 1);
		memset(bad + PRB_WRITE_REQ_SIZE + PRB_CRC32C_SIZE, 0,
		       PRB_HDGST_SIZE - PRB_CRC32C_SIZE);
		CHECK_ST(tc_send_raw(&c, bad, sizeof(bad)), 0);
	}
	CHECK(expect_term(&c, PRB_TERM_HEADER_DIGEST, PRB_WRITE_REQ_SIZE) == 0);
	tc_close(&c);
	/* A PDU without HDGST where it was negotiated: TERM HEADER_DIGEST at flags. */
	OPEN(c, PRB_FEAT_HDGST, 8);
	CHECK(c.hdgst && !c.ddgst);
	memset(&m, 0, sizeof(m));
	CHECK(encode_raw(PRB_MSG_KEEPALIVE_REQ, &m, pdu, sizeof(pdu)) == 16);
	CHECK_ST(tc_send_raw(&c, pdu, 16), 0);
	CHECK(expect_term(&c, PRB_TERM_HEADER_DIGEST, PRB_HDR_FLAGS_OFFSET) == 0);
	tc_close(&c);
	CHECK(witness_check(&w) == 0);
	return 0;
}

/* ------------------------------------------------------------------ malformed input */

/* Send \p len raw bytes on a fresh connection (after HELLO unless \p raw_first). */
static int abuse(const void *bytes, size_t len, bool hello, uint16_t reason, uint32_t offset)
{
	struct tc c;

	if (hello)
		OPEN(c, 0, 8);
	else
		CHECK_ST(tc_connect(&c, url), 0);
	CHECK_ST(tc_send_raw(&c, bytes, len), 0);
	CHECK(expect_term(&c, reason, offset) == 0);
	tc_close(&c);
	return 0;
}

static int test_malformed(void)
{
	struct witness w;
	union prb_msg m;
	uint8_t pdu[128];
	struct tc c;
	struct tc_pdu p;

	CHECK(witness_setup(&w, 95 * B) == 0);
	memset(&m, 0, sizeof(m));
	m.alloc_req.addr = 96 * B;
	m.alloc_req.blocks = 1;
	m.hdr.tag = 9;
	CHECK(encode_raw(PRB_MSG_ALLOC_REQ, &m, pdu, sizeof(pdu)) == 32);

	/* PRB-PDU-12, checks 1 to 5, 8, 9. */
	pdu[PRB_HDR_MAGIC_OFFSET] ^= 0xff;
	CHECK(abuse(pdu, 32, true, PRB_TERM_BAD_HEADER, 0) == 0);
	pdu[PRB_HDR_MAGIC_OFFSET] ^= 0xff;
	pdu[PRB_HDR_FLAGS_OFFSET] = 0x10;
	CHECK(abuse(pdu, 32, true, PRB_TERM_BAD_HEADER, PRB_HDR_FLAGS_OFFSET) == 0);
	pdu[PRB_HDR_FLAGS_OFFSET] = 0;
	put_le(pdu, PRB_HDR_HLEN_OFFSET, PRB_HDR_HLEN_SIZE, 36); /* hlen not a multiple of 8 */
	CHECK(abuse(pdu, 32, true, PRB_TERM_BAD_HEADER, PRB_HDR_HLEN_OFFSET) == 0);
	put_le(pdu, PRB_HDR_HLEN_OFFSET, PRB_HDR_HLEN_SIZE, 40); /* hlen not the ALLOC size */
	put_le(pdu, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, 40);
	CHECK(abuse(pdu, 40, true, PRB_TERM_BAD_HEADER, PRB_HDR_HLEN_OFFSET) == 0);
	put_le(pdu, PRB_HDR_HLEN_OFFSET, PRB_HDR_HLEN_SIZE, PRB_ALLOC_REQ_SIZE);
	put_le(pdu, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, 24); /* plen < hlen */
	CHECK(abuse(pdu, 32, true, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET) == 0);
	put_le(pdu, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, 0x7f000000); /* plen about 2 GiB */
	CHECK(abuse(pdu, 32, true, PRB_TERM_PDU_TOO_LARGE, PRB_HDR_PLEN_OFFSET) == 0);
	put_le(pdu, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, PRB_ALLOC_REQ_SIZE);
	pdu[PRB_HDR_OPCODE_OFFSET] = PRB_OP_ALLOC | PRB_OPCODE_RESPONSE;
	CHECK(abuse(pdu, 32, true, PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET) == 0);
	pdu[PRB_HDR_OPCODE_OFFSET] = PRB_OP_ALLOC;
	put_le(pdu, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, 40); /* ALLOC with 8 bytes of payload: plen disagrees */
	CHECK(abuse(pdu, 40, true, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET) == 0);
	put_le(pdu, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, PRB_ALLOC_REQ_SIZE);

	/* WRITE whose length disagrees with its payload: TERM BAD_HEADER at write_req.length. */
	OPEN(c, 0, 8);
	{
		uint64_t h;
		uint8_t wr[64] = { 0 };

		CHECK_ST(tc_map(&c, 95 * B, PRB_MAP_WRITE, &h), 0);
		memset(&m, 0, sizeof(m));
		m.write_req.handle = h;
		m.write_req.length = 16;
		m.write_req.payload_len = 8;
		CHECK(encode_raw(PRB_MSG_WRITE_REQ, &m, wr, sizeof(wr)) == 32);
		CHECK_ST(tc_send_raw(&c, wr, 40), 0);
		CHECK(expect_term(&c, PRB_TERM_BAD_HEADER, PRB_WRITE_REQ_LENGTH_OFFSET) == 0);
	}
	tc_close(&c);

	/* PRB-PDU-15: unknown opcode with a payload: ENOTSUP (opcode | 0x80), then go on. */
	OPEN(c, 0, 8);
	{
		uint8_t unk[48] = { 0 };

		memset(&m, 0, sizeof(m));
		m.hdr.tag = 4242;
		CHECK(encode_raw(PRB_MSG_KEEPALIVE_REQ, &m, unk, sizeof(unk)) == 16);
		unk[2] = 0x55;
		unk[4] = 48;
		memset(unk + 16, 0x5a, 32);
		CHECK_ST(tc_send_raw(&c, unk, sizeof(unk)), 0);
		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.msg.hdr.opcode == (0x55 | PRB_OPCODE_RESPONSE) && p.msg.hdr.tag == 4242);
		CHECK(p.msg.hdr.status == PRB_ST_ENOTSUP && p.msg.hdr.plen == 16);
		CHECK_ST(tc_keepalive(&c), 0);
	}
	tc_close(&c);

	/* A TERM from the initiator: the brick closes without answering (PRB-PDU-14). */
	OPEN(c, 0, 8);
	memset(&m, 0, sizeof(m));
	m.term.reason = PRB_TERM_SHUTDOWN;
	CHECK_ST(tc_send(&c, PRB_MSG_TERM, &m, NULL, 0, false), 0);
	CHECK(tc_closed_by_peer(&c));
	tc_close(&c);

	/* Truncated PDU, then the connection closes. */
	OPEN(c, 0, 8);
	CHECK_ST(tc_send_raw(&c, pdu, 20), 0);
	tc_close(&c);

	/* Garbage: a TERM (bad magic) or a close, never a crash. */
	{
		uint8_t junk[4096];

		for (int round = 0; round < 20; round++) {
			tc_pattern(junk, sizeof(junk), (uint64_t)round + 1000);
			if (round % 2)
				memcpy(junk, pdu, 16);  /* a sane header first, then noise */
			OPEN(c, 0, 8);
			tc_send_raw(&c, junk, sizeof(junk));
			CHECK(tc_closed_by_peer(&c));
			tc_close(&c);
		}
	}
	CHECK(witness_check(&w) == 0);
	/* Nothing above allocated the address it named. */
	OPEN(c, 0, 8);
	CHECK_ST(tc_free(&c, 96 * B, 1, 0), PRB_ST_ENOENT);
	tc_close(&c);
	return 0;
}

/* Target started with --idle-timeout 1 --pdu-timeout 0.5. */
static int test_timeouts(void)
{
	struct witness w;
	struct timespec t0, t1;
	struct tc c, k;
	union prb_msg m;
	uint8_t pdu[32];
	double s;

	CHECK(witness_setup(&w, 97 * B) == 0);
	/* Half a PDU, then silence: TERM TIMEOUT with the PDU's tag (PRB-KA-4, PRB-TERM-2). */
	OPEN(c, 0, 8);
	memset(&m, 0, sizeof(m));
	m.alloc_req.addr = 98 * B;
	m.alloc_req.blocks = 1;
	m.hdr.tag = 31;
	CHECK(encode_raw(PRB_MSG_ALLOC_REQ, &m, pdu, sizeof(pdu)) == 32);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_ST(tc_send_raw(&c, pdu, 20), 0);
	{
		struct tc_pdu p;

		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.id == PRB_MSG_TERM && p.msg.term.reason == PRB_TERM_TIMEOUT);
		CHECK(p.msg.hdr.tag == 31);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(s >= 0.4 && s < 5.0);
	CHECK(tc_closed_by_peer(&c));
	tc_close(&c);
	/* Idle after HELLO: TERM TIMEOUT, tag 0, offset 0 (PRB-KA-2). */
	OPEN(c, 0, 8);
	/* KEEPALIVE every 300 ms keeps another connection alive meanwhile. */
	OPEN(k, 0, 8);
	for (int i = 0; i < 7; i++) {
		usleep(300000);
		CHECK_ST(tc_keepalive(&k), 0);
	}
	{
		struct tc_pdu p;

		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.id == PRB_MSG_TERM && p.msg.term.reason == PRB_TERM_TIMEOUT);
		CHECK(p.msg.hdr.tag == 0 && p.msg.term.error_offset == 0);
	}
	CHECK(tc_closed_by_peer(&c));
	tc_close(&c);
	CHECK_ST(tc_keepalive(&k), 0);
	tc_close(&k);
	CHECK(witness_check(&w) == 0);
	OPEN(c, 0, 8);
	CHECK_ST(tc_free(&c, 98 * B, 1, 0), PRB_ST_ENOENT);
	tc_close(&c);
	return 0;
}

/* Target started with --max-connections 4 --max-mappings 3 --queue-depth 16. */
static int test_limits(void)
{
	struct tc c[5];
	uint64_t h[4];

	for (int i = 0; i < 4; i++)
		OPEN(c[i], 0, (uint16_t)(i == 0 ? PRB_MAX_QUEUE_DEPTH : 4));
	/* PRB-HELLO-10: the granted depth is the smaller of the asked one and the brick's. */
	CHECK(c[0].hello.queue_depth == 16 && c[1].hello.queue_depth == 4);
	/* PRB-HELLO order: past the connection limit, HELLO gets ENOMEM, then a close. */
	CHECK_ST(tc_connect(&c[4], url), 0);
	CHECK_ST(tc_hello(&c[4], 0, 4), PRB_ST_ENOMEM);
	CHECK(tc_closed_by_peer(&c[4]));
	tc_close(&c[4]);
	CHECK(c[0].hello.max_mappings == 3);
	CHECK_ST(tc_alloc(&c[0], 0, 1), 0);
	for (int i = 0; i < 3; i++)
		CHECK_ST(tc_map(&c[0], 0, 0, &h[i]), 0);
	/* PRB-MAP-6: max_mappings reached: ENOMEM; another connection has its own. */
	CHECK_ST(tc_map(&c[0], 0, 0, &h[3]), PRB_ST_ENOMEM);
	CHECK_ST(tc_map(&c[1], 0, 0, &h[3]), 0);
	CHECK_ST(tc_unmap(&c[0], h[0]), 0);
	CHECK_ST(tc_map(&c[0], 0, 0, &h[0]), 0);
	for (int i = 0; i < 4; i++)
		tc_close(&c[i]);
	return 0;
}

/* Target started with a small pool and a tier: blocks go to the tier and come back. */
static int test_tier(void)
{
	static uint8_t buf[B], back[B];
	struct prb_info_rsp info;
	uint64_t total, tiered, h, hold[64];
	uint32_t fast;
	struct tc c;

	OPEN(c, 0, 8);
	CHECK(c.hello.features & PRB_FEAT_TIERING);
	CHECK_ST(tc_info(&c, &info), 0);
	CHECK(info.tier_blocks > 0 && info.fast_blocks > 0 && info.fast_blocks < 64);
	fast = (uint32_t)info.fast_blocks;
	/* Fill both tiers, each block with its own bytes. */
	for (uint32_t i = 0; i < info.capacity_blocks; i++) {
		CHECK_ST(tc_alloc(&c, (uint64_t)i * B, 1), 0);
		CHECK_ST(tc_map(&c, (uint64_t)i * B, PRB_MAP_WRITE, &h), 0);
		tc_pattern(buf, B, i);
		CHECK_ST(tc_write(&c, h, 0, buf, B), 0);
		CHECK_ST(tc_flush(&c, h, 0, B), 0);
		CHECK_ST(tc_unmap(&c, h), 0);
	}
	CHECK_ST(tc_alloc(&c, info.capacity_blocks * B, 1), PRB_ST_ENOSPC);
	CHECK_ST(tc_list_all(&c, &total, &tiered), 0);
	CHECK(total == info.capacity_blocks && tiered >= info.capacity_blocks - fast);
	CHECK_ST(tc_info(&c, &info), 0);
	CHECK(info.free_blocks == 0 && info.tier_free == 0);
	/* Every block comes back byte for byte, in reverse order (tiered ones first). */
	for (uint32_t i = (uint32_t)info.capacity_blocks; i-- > 0;) {
		CHECK_ST(tc_map(&c, (uint64_t)i * B, 0, &h), 0);
		CHECK_ST(tc_read(&c, h, 0, B, back), 0);
		tc_pattern(buf, B, i);
		CHECK(memcmp(buf, back, B) == 0);
		CHECK_ST(tc_unmap(&c, h), 0);
	}
	/* Pin every fast slot: mapping a tiered block then fails with ENOMEM (PRB-MAP-7). */
	for (uint32_t i = 0; i < fast; i++)
		CHECK_ST(tc_map(&c, (uint64_t)i * B, 0, &hold[i]), 0);
	CHECK_ST(tc_list_all(&c, &total, &tiered), 0);
	CHECK(tiered == info.capacity_blocks - fast);
	CHECK_ST(tc_map(&c, (uint64_t)fast * B, 0, &h), PRB_ST_ENOMEM);
	CHECK_ST(tc_unmap(&c, hold[0]), 0);
	CHECK_ST(tc_map(&c, (uint64_t)fast * B, 0, &h), 0);
	CHECK_ST(tc_read(&c, h, B - 4096, 4096, back), 0);
	tc_pattern(buf, B, fast);
	CHECK(memcmp(buf + B - 4096, back, 4096) == 0);
	tc_close(&c);
	/* The connection's end released every pin: FREE of everything works. */
	OPEN(c, 0, 8);
	for (int i = 0; i < 100; i++) {
		int st = tc_free(&c, 0, (uint32_t)info.capacity_blocks, 0);

		if (st == 0)
			break;
		CHECK_ST(st, PRB_ST_EBUSY);
		usleep(10000);
		CHECK(i < 99);
	}
	CHECK_ST(tc_info(&c, &info), 0);
	CHECK(info.free_blocks == info.capacity_blocks);
	tc_close(&c);
	return 0;
}

/* ------------------------------------------------------------------ concurrency */

struct race_arg {
	pthread_barrier_t *barrier;
	int rounds;
	int wins;
	int failed;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	struct tc c;

	int err = tc_open(&c, url, 0, 4);

	if (err != 0) {
		fprintf(stderr, "race: open: %s\n", st_name(err));
		a->failed = 1;
		return NULL;
	}
	for (int r = 0; r < a->rounds; r++) {
		uint64_t addr = (uint64_t)(1000 + r % 7) * B;
		int st;

		pthread_barrier_wait(a->barrier);
		st = tc_alloc(&c, addr, 1);
		if (st == 0)
			a->wins++;
		else if (st != PRB_ST_EEXIST) {
			fprintf(stderr, "race: ALLOC: %s\n", st_name(st));
			a->failed = 1;
		}
		/* Both have answered: the winner frees the block for a later round. */
		pthread_barrier_wait(a->barrier);
		if (st == 0 && tc_free(&c, addr, 1, 0) != 0)
			a->failed = 1;
	}
	tc_close(&c);
	return NULL;
}

static int test_alloc_race(void)
{
	enum { ROUNDS = 300 };
	pthread_barrier_t barrier;
	struct race_arg a[2];
	pthread_t t[2];
	uint64_t total, tiered;
	struct tc c;

	pthread_barrier_init(&barrier, NULL, 2);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct race_arg){ .barrier = &barrier, .rounds = ROUNDS };
		CHECK(pthread_create(&t[i], NULL, race_thread, &a[i]) == 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	CHECK(!a[0].failed && !a[1].failed);
	/* Exactly one winner per address. */
	CHECK(a[0].wins + a[1].wins == ROUNDS);
	OPEN(c, 0, 4);
	CHECK_ST(tc_list_all(&c, &total, &tiered), 0);
	CHECK(total == 0);
	tc_close(&c);
	printf("alloc race: %d/%d wins\n", a[0].wins, a[1].wins);
	return 0;
}

struct worker_arg {
	int id;
	int failed;
	pthread_barrier_t *barrier;
};

static void *worker_thread(void *p)
{
	struct worker_arg *a = p;
	static _Thread_local uint8_t buf[65536], back[65536];
	uint64_t addr = (uint64_t)(2000 + a->id) * B, h;
	struct tc c;

	if (tc_open(&c, url, a->id % 2 ? ALL_FEATURES : 0, 8) != 0)
		goto fail;
	pthread_barrier_wait(a->barrier);
	for (int r = 0; r < 5; r++) {
		uint32_t off = (uint32_t)(r * 65536 + a->id * 8);

		if (tc_alloc(&c, addr, 1) != 0 || tc_map(&c, addr, PRB_MAP_WRITE, &h) != 0)
			goto fail_close;
		tc_pattern(buf, sizeof(buf), (uint64_t)(a->id * 100 + r));
		if (tc_write(&c, h, off, buf, sizeof(buf)) != 0 ||
		    tc_read(&c, h, off, sizeof(back), back) != 0 ||
		    memcmp(buf, back, sizeof(buf)) != 0 || tc_unmap(&c, h) != 0 ||
		    tc_free(&c, addr, 1, 0) != 0)
			goto fail_close;
	}
	tc_close(&c);
	return NULL;

fail_close:
	tc_close(&c);
fail:
	a->failed = 1;
	return NULL;
}

static int test_many_connections(void)
{
	enum { N = 64 };
	struct worker_arg a[N];
	pthread_t t[N];
	pthread_barrier_t barrier;
	struct prb_info_rsp info;
	struct tc c;
	int failed = 0;

	pthread_barrier_init(&barrier, NULL, N + 1);
	for (int i = 0; i < N; i++) {
		a[i] = (struct worker_arg){ .id = i, .barrier = &barrier };
		CHECK(pthread_create(&t[i], NULL, worker_thread, &a[i]) == 0);
	}
	/* All 64 are connected at once when the barrier opens. */
	pthread_barrier_wait(&barrier);
	OPEN(c, 0, 4);
	CHECK_ST(tc_info(&c, &info), 0);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		failed += a[i].failed;
	}
	pthread_barrier_destroy(&barrier);
	CHECK(failed == 0);
	CHECK(info.connections >= N + 1 - (uint32_t)failed);
	CHECK_ST(tc_info(&c, &info), 0);
	CHECK(info.free_blocks == info.capacity_blocks);
	tc_close(&c);
	return 0;
}

/*
 * A peer that sends a queue depth of 2 MiB READs with data digests on and does not read:
 * the brick must not take in more than its send backlog allows (it holds buffered
 * requests; where an answer is a copy of the data, that bounds the copies), and must
 * answer them all, right, once the peer reads.
 */
static int test_read_backlog(void)
{
	enum { QD = 128 };
	static uint8_t block[B], reqs[QD * PRB_READ_REQ_SIZE];
	long before, held;
	struct tc c;
	uint64_t h;
	union prb_msg m;
	struct tc_pdu p;

	OPEN(c, PRB_FEAT_DDGST, QD);
	CHECK(c.ddgst && c.hello.queue_depth == QD && c.hello.max_data == B);
	CHECK_ST(tc_alloc(&c, 0, 1), 0);
	CHECK_ST(tc_map(&c, 0, PRB_MAP_WRITE, &h), 0);
	tc_pattern(block, B, 77);
	CHECK_ST(tc_write(&c, h, 0, block, (uint32_t)B), 0);
	before = tc_target_status_kib("VmRSS");
	CHECK(before > 0);
	/* In one send, so that the brick receives them all at once. */
	for (int i = 0; i < QD; i++) {
		memset(&m, 0, sizeof(m));
		m.hdr.tag = c.next_tag++;
		m.read_req.handle = h;
		m.read_req.length = (uint32_t)B;
		CHECK(encode_raw(PRB_MSG_READ_REQ, &m, reqs + (size_t)i * PRB_READ_REQ_SIZE,
				 PRB_READ_REQ_SIZE) == (int)PRB_READ_REQ_SIZE);
	}
	CHECK_ST(tc_send_raw(&c, reqs, sizeof(reqs)), 0);
	usleep(500 * 1000);
	held = tc_target_status_kib("VmRSS") - before;
	/* 256 MiB of answers if all were taken in; the backlog cap is 8 MiB plus one answer. */
	printf("read_backlog: the target grew by %ld KiB with %d READs of 2 MiB unread\n", held,
	       QD);
	CHECK(held < 64 * 1024);
	for (int i = 0; i < QD; i++) {
		CHECK_ST(tc_recv(&c, &p), 0);
		CHECK(p.id == PRB_MSG_READ_RSP && p.msg.hdr.status == 0);
		CHECK(p.payload_len == B && memcmp(p.payload, block, B) == 0);
	}
	CHECK_ST(tc_keepalive(&c), 0);
	tc_close(&c);
	return 0;
}

/* SIGTERM: every connection gets TERM SHUTDOWN (tag 0, offset 0), then the target exits. */
static int test_shutdown(void)
{
	const char *pid = getenv("PRB_TARGET_PID");
	struct tc c, d;

	CHECK(pid != NULL);
	OPEN(c, 0, 4);
	OPEN(d, PRB_FEAT_HDGST, 4);
	CHECK_ST(tc_keepalive(&c), 0);
	/* d has three requests answered and a WRITE half received when the signal comes. */
	{
		static uint8_t half[B / 2];
		union prb_msg m;
		uint64_t h;

		CHECK_ST(tc_alloc(&d, 0, 1), 0);
		CHECK_ST(tc_map(&d, 0, PRB_MAP_WRITE, &h), 0);
		for (int i = 0; i < 3; i++) {
			memset(&m, 0, sizeof(m));
			CHECK_ST(tc_send(&d, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, false), 0);
		}
		memset(&m, 0, sizeof(m));
		m.write_req.handle = h;
		m.write_req.length = (uint32_t)B;
		m.write_req.payload_len = (uint32_t)B;
		m.hdr.flags = PRB_HDR_HDGST;
		{
			uint8_t head[40];
			uint32_t crc;

			CHECK(encode_raw(PRB_MSG_WRITE_REQ, &m, head, sizeof(head)) == 32);
			crc = prb_crc32c(head, 32);
			for (int i = 0; i < 4; i++)
				head[32 + i] = (uint8_t)(crc >> (8 * i));
			memset(head + 36, 0, 4);
			CHECK_ST(tc_send_raw(&d, head, sizeof(head)), 0);
		}
		CHECK_ST(tc_send_raw(&d, half, sizeof(half)), 0);
		for (int i = 0; i < 3; i++) {
			struct tc_pdu p;

			CHECK_ST(tc_recv(&d, &p), 0);
			CHECK(p.id == PRB_MSG_KEEPALIVE_RSP);
		}
		usleep(100000);
	}
	CHECK(kill((pid_t)atoi(pid), SIGTERM) == 0);
	CHECK(expect_term(&c, PRB_TERM_SHUTDOWN, 0) == 0);
	/* The next PDU is the TERM: the half WRITE gets no answer (PRB-TERM-7). */
	{
		struct tc_pdu p;

		CHECK_ST(tc_recv(&d, &p), 0);
		CHECK(p.id == PRB_MSG_TERM && p.msg.term.reason == PRB_TERM_SHUTDOWN);
		CHECK(p.msg.hdr.tag == 0 && p.msg.hdr.flags == PRB_HDR_HDGST);
		CHECK(tc_closed_by_peer(&d));
	}
	tc_close(&c);
	tc_close(&d);
	return 0;
}

/* Target started with one more listener on [::1]: every URL of the ready file serves. */
static int test_ipv6(void)
{
	const char *dir = getenv("PRB_POOL_DIR");
	char path[512], line[300];
	int served = 0, v6 = 0;
	FILE *f;

	CHECK(dir != NULL);
	snprintf(path, sizeof(path), "%s/ready", dir);
	f = fopen(path, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		struct tc c;

		line[strcspn(line, "\n")] = 0;
		v6 += strncmp(line, "tcp://[::1]:", 12) == 0;
		if (tc_open(&c, line, 0, 4) != 0) {
			fprintf(stderr, "cannot HELLO %s\n", line);
			fclose(f);
			return 1;
		}
		CHECK_ST(tc_keepalive(&c), 0);
		tc_close(&c);
		served++;
	}
	fclose(f);
	CHECK(served == 2 && v6 == 1);
	return 0;
}

/* ------------------------------------------------------------------ runner */

static const struct tc_test tests[] = {
	{ "hello", test_hello },
	{ "info", test_info },
	{ "alloc_free", test_alloc_free },
	{ "list", test_list },
	{ "map", test_map },
	{ "shared_excl", test_shared_excl },
	{ "revocation", test_revocation },
	{ "revoke_inflight", test_revoke_inflight },
	{ "data", test_data },
	{ "pipeline", test_pipeline },
	{ "digests", test_digests },
	{ "malformed", test_malformed },
	{ "timeouts", test_timeouts },
	{ "limits", test_limits },
	{ "tier", test_tier },
	{ "alloc_race", test_alloc_race },
	{ "many_connections", test_many_connections },
	{ "shutdown", test_shutdown },
	{ "read_backlog", test_read_backlog },
	{ "ipv6", test_ipv6 },
};

int main(int argc, char **argv)
{
	return tc_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv, &url);
}
