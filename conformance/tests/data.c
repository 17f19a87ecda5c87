/* SPDX-License-Identifier: Apache-2.0 */
/* Data operations on the TCP binding: READ, WRITE, FLUSH; bounds, lengths, RO, handles. */
#include <stdlib.h>
#include <string.h>

#include "suite.h"

/* Writes of many shapes (libprb) against a shadow copy; the whole block must match it. */
static void rw_exact(void)
{
	struct prb_session *s = cf_session();
	struct prb_session_info info;
	uint8_t *shadow = cf_mem(PRB_BLOCK_SIZE), *back = cf_mem(PRB_BLOCK_SIZE);
	uint8_t *data = cf_mem(PRB_BLOCK_SIZE);

	CF_RC_FATAL(prb_session_get_info(s, &info), 0);
	uint32_t max = info.max_data;
	const struct {
		uint32_t off, len;
	} w[] = {
		{0, 1},
		{1, 4095},
		{4096, 4096},
		{12345, 777},
		{0, max},
		{PRB_BLOCK_SIZE - 1, 1},
		{PRB_BLOCK_SIZE - 4096, 4096},
		{PRB_BLOCK_SIZE - max, max},
		{65535, 3},
		{7, PRB_BLOCK_SIZE - 7},
	};
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(0), 3), 0);
	struct prb_mapping *m = cf_session_map(s, cf_addr(1), PRB_MAPPING_RW);
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		cf_pattern(data, w[i].len, i + 1);
		CF_RC(prb_write(m, w[i].off, data, w[i].len), 0);
		memcpy(shadow + w[i].off, data, w[i].len);
		CF_RC(prb_read(m, w[i].off, back, w[i].len), 0);
		CF_CHECK(memcmp(back, data, w[i].len) == 0, "read-after-write differs at %u+%u",
			 w[i].off, w[i].len);
	}
	CF_RC_FATAL(prb_read(m, 0, back, PRB_BLOCK_SIZE), 0);
	for (uint32_t i = 0; i < PRB_BLOCK_SIZE; i++) {
		if (back[i] != shadow[i]) {
			CF_CHECK(false, "byte %u is 0x%02x, expected 0x%02x", i, back[i],
				 shadow[i]);
			break;
		}
	}
	/* The neighbours were not touched. */
	memset(shadow, 0, PRB_BLOCK_SIZE);
	for (uint64_t b = 0; b <= 2; b += 2) {
		struct prb_mapping *n = cf_session_map(s, cf_addr(b), PRB_MAPPING_RO);
		CF_RC(prb_read(n, 0, back, PRB_BLOCK_SIZE), 0);
		CF_CHECK(memcmp(back, shadow, PRB_BLOCK_SIZE) == 0,
			 "writes to block 1 changed block %llu", (unsigned long long)b);
		CF_SETUP(CF_REQ_UNMAP)
			CF_RC(prb_unmap(&n), 0);
	}
}

/* Another connection's mapping sees an acknowledged WRITE at once. */
static void rw_cross_connection(void)
{
	struct prb_session *a = cf_session(), *b = cf_session();
	uint8_t data[8192], back[8192];

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(0), 1), 0);
	struct prb_mapping *ma = cf_session_map(a, cf_addr(0), PRB_MAPPING_RW);
	struct prb_mapping *mb = cf_session_map(b, cf_addr(0), PRB_MAPPING_RO);
	for (int i = 0; i < 8; i++) {
		cf_pattern(data, sizeof(data), 100 + (uint64_t)i);
		CF_RC(prb_write(ma, (uint64_t)i * 1000, data, sizeof(data)), 0);
		CF_RC(prb_read(mb, (uint64_t)i * 1000, back, sizeof(back)), 0);
		CF_CHECK(memcmp(data, back, sizeof(data)) == 0,
			 "write %d not visible to another connection", i);
	}
}

/* Compare \p len bytes read back with what they should be; say where the first difference is. */
static void check_bytes(const uint8_t *got, const uint8_t *want, uint32_t len, uint32_t at,
			const char *what)
{
	for (uint32_t i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			CF_CHECK(false, "%s: byte %u is 0x%02x, expected 0x%02x", what, at + i,
				 got[i], want[i]);
			return;
		}
	}
}

/*
 * A WRITE past the end of the block: ERANGE. Its payload is the complement of the bytes it
 * would cover, so that any byte it stores shows.
 */
static void write_out_of_range(struct cf_conn *c, uint64_t h, const uint8_t *block, uint32_t offset,
			       uint32_t length)
{
	uint8_t payload[16];
	char got[96];
	int st;

	for (uint32_t i = 0; i < length && i < sizeof(payload); i++)
		payload[i] = (uint64_t)offset + i < PRB_BLOCK_SIZE ? (uint8_t)~block[offset + i]
								   : (uint8_t)(0xA5 + i);
	st = cf_write(c, h, offset, length, payload);
	CF_CHECK(st == PRB_ST_ERANGE, "WRITE of %u bytes at offset %u: expected ERANGE, got %s%s%s",
		 length, offset, cf_status_str(st, got, sizeof(got)), st < 0 ? ": " : "",
		 st < 0 ? c->detail : "");
}

/*
 * Out-of-range READ, WRITE and FLUSH get ERANGE, and a refused WRITE stores nothing, not even
 * the bytes that would fit: the block holds a pattern and the whole block is read back.
 */
static void bounds_erange(void)
{
	uint64_t h;
	struct cf_conn *c = cf_connect_mapped(&h);
	uint8_t *block = cf_mem(PRB_BLOCK_SIZE), *back = cf_mem(PRB_BLOCK_SIZE);
	uint8_t buf[16];

	cf_pattern(block, PRB_BLOCK_SIZE, 61);
	CF_SETUP(CF_REQ_WRITE)
		CF_ST_FATAL(c, cf_write_big(c, h, 0, PRB_BLOCK_SIZE, block), PRB_ST_OK);
	/* The last byte is inside, one more is out. */
	CF_ST(c, cf_read(c, h, PRB_BLOCK_SIZE - 1, 1, buf), PRB_ST_OK);
	CF_CHECK(buf[0] == block[PRB_BLOCK_SIZE - 1],
		 "READ of the last byte: 0x%02x, expected 0x%02x", buf[0],
		 block[PRB_BLOCK_SIZE - 1]);
	block[PRB_BLOCK_SIZE - 1] = (uint8_t)~block[PRB_BLOCK_SIZE - 1];
	CF_ST(c, cf_write(c, h, PRB_BLOCK_SIZE - 1, 1, block + PRB_BLOCK_SIZE - 1), PRB_ST_OK);
	CF_ST(c, cf_read(c, h, PRB_BLOCK_SIZE - 1, 2, buf), PRB_ST_ERANGE);
	CF_ST(c, cf_read(c, h, PRB_BLOCK_SIZE, 1, buf), PRB_ST_ERANGE);
	write_out_of_range(c, h, block, PRB_BLOCK_SIZE - 1, 2);
	write_out_of_range(c, h, block, PRB_BLOCK_SIZE, 1);
	write_out_of_range(c, h, block, PRB_BLOCK_SIZE - 8, 16);
	write_out_of_range(c, h, block, PRB_BLOCK_SIZE - 15, 16);
	/* offset + length wraps 32 bits. */
	CF_ST(c, cf_read(c, h, 0xFFFFFFF8U, 16, buf), PRB_ST_ERANGE);
	write_out_of_range(c, h, block, 0xFFFFFFF8U, 16);
	CF_ST(c, cf_flush(c, h, PRB_BLOCK_SIZE - 1, 2), PRB_ST_ERANGE);
	CF_ST(c, cf_flush(c, h, 0xFFFFFFF8U, 16), PRB_ST_ERANGE);
	CF_ST(c, cf_flush(c, h, 0, PRB_BLOCK_SIZE), PRB_ST_OK);
	/* Only the accepted one-byte WRITE changed the block. */
	CF_SETUP(CF_REQ_READ)
		CF_ST_FATAL(c, cf_read_big(c, h, 0, PRB_BLOCK_SIZE, back), PRB_ST_OK);
	check_bytes(back, block, PRB_BLOCK_SIZE, 0, "after refused out-of-range WRITEs");
}

static void length_invalid(void)
{
	uint64_t h;
	struct cf_conn *c = cf_connect_mapped(&h);
	uint8_t buf[16] = {0};
	union prb_msg m = {.read_req = {.handle = h, .offset = 0, .length = 0}}, rsp;

	/* READ and FLUSH of 0 bytes (a WRITE of 0 bytes carries no payload to check). */
	CF_ST(c, cf_call(c, PRB_MSG_READ_REQ, &m, NULL, 0, &rsp), PRB_ST_EINVAL);
	CF_ST(c, cf_flush(c, h, 0, 0), PRB_ST_EINVAL);
	CF_ST(c, cf_write(c, h, 0, 0, buf), PRB_ST_EINVAL);
	if (c->hello.max_data < PRB_BLOCK_SIZE) {
		uint32_t len = c->hello.max_data + 1;
		uint8_t *big = cf_mem(len);
		CF_ST(c, cf_read(c, h, 0, len, big), PRB_ST_EINVAL);
		if (len + 64U <= c->hello.max_pdu)
			CF_ST(c, cf_write(c, h, 0, len, big), PRB_ST_EINVAL);
	}
}

/* The initiator max_pdu values of Data.Limits.MaxData: the smallest, one more, and on both sides
 * of k * min_max_data plus a READ response's fixed part and both digests. */
static uint32_t limit_max_pdu(size_t i)
{
	const uint32_t overhead = PRB_READ_RSP_SIZE + PRB_HDGST_SIZE + PRB_DDGST_SIZE;
	const uint32_t values[] = {
		PRB_MIN_MAX_PDU,
		PRB_MIN_MAX_PDU + 1,
		3 * PRB_MIN_MAX_DATA + overhead - 1,
		3 * PRB_MIN_MAX_DATA + overhead,
		16 * PRB_MIN_MAX_DATA + overhead - 1,
		CF_RX_MAX,
	};

	return i < sizeof(values) / sizeof(values[0]) ? values[i] : 0;
}

/* The block as the test wrote it, and a buffer to read it back. */
struct limit_block {
	uint64_t addr;
	uint8_t *shadow, *back, *payload;
};

/*
 * One HELLO of Data.Limits.MaxData: max_data fits both max_pdu values (PRB-HELLO-15); a READ
 * and a WRITE of max_data bytes at the end of the block work and the data is right (the
 * receive path fails any PDU above the max_pdu we announced); one byte more is EINVAL and
 * stores nothing.
 */
static void max_data_at(struct limit_block *b, uint32_t max_pdu, uint32_t features)
{
	struct prb_hello_req req = {.min_version = PRB_VERSION,
				    .max_version = PRB_VERSION,
				    .queue_depth = 4,
				    .features = features,
				    .max_pdu = max_pdu};
	struct cf_conn *c = cf_open();
	const uint32_t digests = PRB_HDGST_SIZE + PRB_DDGST_SIZE;
	uint64_t h;

	CF_ST_FATAL(c, cf_hello(c, &req), PRB_ST_OK);
	uint32_t md = c->hello.max_data;
	CF_CHECK_FATAL(md >= PRB_MIN_MAX_DATA && md <= PRB_MAX_DATA_LIMIT,
		       "max_pdu %u: max_data %u outside %u..%u", max_pdu, md, PRB_MIN_MAX_DATA,
		       PRB_MAX_DATA_LIMIT);
	CF_CHECK((uint64_t)md + PRB_READ_RSP_SIZE + digests <= max_pdu,
		 "our max_pdu %u, features 0x%x: max_data %u, but a READ response of it with both "
		 "digests takes %llu bytes",
		 max_pdu, features, md, (unsigned long long)md + PRB_READ_RSP_SIZE + digests);
	CF_CHECK((uint64_t)md + PRB_WRITE_REQ_SIZE + digests <= c->hello.max_pdu,
		 "max_data %u: a WRITE of it with both digests does not fit the brick's max_pdu %u",
		 md, c->hello.max_pdu);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, b->addr, PRB_MAP_WRITE, &h), PRB_ST_OK);
	/* At the limit, and up to the block's last byte. */
	uint32_t at = PRB_BLOCK_SIZE - md;
	cf_pattern(b->shadow + at, md, (uint64_t)max_pdu << 8 | features);
	CF_ST(c, cf_write(c, h, at, md, b->shadow + at), PRB_ST_OK);
	if (!CF_ST(c, cf_read(c, h, at, md, b->back), PRB_ST_OK))
		return; /* a response we could not take: this connection is out of step */
	check_bytes(b->back, b->shadow + at, md, at, "READ of max_data bytes");
	/* One byte over: EINVAL (before ERANGE when max_data is the whole block). */
	at = md < PRB_BLOCK_SIZE ? PRB_BLOCK_SIZE - md - 1 : 0;
	CF_ST(c, cf_read(c, h, at, md + 1, b->back), PRB_ST_EINVAL);
	if ((uint64_t)md + 1 + PRB_WRITE_REQ_SIZE + digests > c->hello.max_pdu) {
		cf_note("WRITE of max_data + 1 bytes with max_data %u (beyond the brick's max_pdu "
			"%u)",
			md, c->hello.max_pdu);
		return;
	}
	for (uint32_t i = 0; i < md + 1 && at + i < PRB_BLOCK_SIZE; i++)
		b->payload[i] = (uint8_t)~b->shadow[at + i];
	CF_ST(c, cf_write(c, h, at, md + 1, b->payload), PRB_ST_EINVAL);
	uint32_t covered = PRB_BLOCK_SIZE - at < md + 1 ? PRB_BLOCK_SIZE - at : md + 1;
	CF_SETUP(CF_REQ_READ)
		CF_ST_FATAL(c, cf_read_big(c, h, at, covered, b->back), PRB_ST_OK);
	check_bytes(b->back, b->shadow + at, covered, at, "after a refused WRITE of max_data + 1");
}

/*
 * max_data below its maximum: the suite announces small and odd max_pdu values, with and
 * without digests, and checks what the brick derives from them and that it enforces it.
 */
static void max_data_limits(void)
{
	const uint32_t choices[] = {0, PRB_FEAT_DDGST, PRB_FEAT_HDGST | PRB_FEAT_DDGST};
	struct limit_block b = {.addr = cf_addr(0)};
	struct cf_conn *c;

	if (strncmp(cf_url(), "rdma://", 7) == 0) {
		cf_skip("TCP binding only: over RDMA data moves one-sided and max_data bounds "
			"nothing");
		return;
	}
	b.shadow = cf_mem(PRB_BLOCK_SIZE);
	b.back = cf_mem(PRB_BLOCK_SIZE + 1);
	b.payload = cf_mem(PRB_BLOCK_SIZE + 1);
	c = cf_connect();
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, b.addr, 1), PRB_ST_OK);
	for (size_t f = 0; f < sizeof(choices) / sizeof(choices[0]); f++) {
		if ((cf_brick()->features & choices[f]) != choices[f]) {
			cf_note("max_data with digests 0x%x (not granted)", choices[f]);
			continue;
		}
		for (size_t i = 0; limit_max_pdu(i); i++)
			max_data_at(&b, limit_max_pdu(i), choices[f]);
	}
}

static void ro_eperm(void)
{
	uint64_t hw, hr;
	struct cf_conn *c = cf_connect_mapped(&hw);
	uint8_t data[512], back[512];

	cf_pattern(data, sizeof(data), 9);
	CF_SETUP(CF_REQ_WRITE)
		CF_ST_FATAL(c, cf_write(c, hw, 0, sizeof(data), data), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &hr), PRB_ST_OK);
	uint8_t other[512];
	cf_pattern(other, sizeof(other), 10);
	CF_ST(c, cf_write(c, hr, 0, sizeof(other), other), PRB_ST_EPERM);
	CF_ST(c, cf_read(c, hr, 0, sizeof(back), back), PRB_ST_OK);
	CF_CHECK(memcmp(back, data, sizeof(data)) == 0,
		 "a refused write through RO changed the data");
	/* Read-only handles may flush. */
	CF_ST(c, cf_flush(c, hr, 0, sizeof(back)), PRB_ST_OK);
}

static void flush_basic(void)
{
	uint64_t h;
	struct cf_conn *c = cf_connect_mapped(&h);
	uint8_t data[4096];

	cf_pattern(data, sizeof(data), 4);
	CF_SETUP(CF_REQ_WRITE)
		CF_ST(c, cf_write(c, h, 8192, sizeof(data), data), PRB_ST_OK);
	CF_ST(c, cf_flush(c, h, 8192, sizeof(data)), PRB_ST_OK);
	CF_ST(c, cf_flush(c, h, 0, PRB_BLOCK_SIZE), PRB_ST_OK);
	CF_ST(c, cf_flush(c, h, PRB_BLOCK_SIZE - 1, 1), PRB_ST_OK);
	CF_ST(c, cf_flush(c, 0x5555AAAA5555AAAAULL, 0, 1), PRB_ST_ESTALE);
}

/* A READ of a whole max_data piece returns exactly that many bytes, pipelined too. */
static void read_pipelined(void)
{
	uint64_t h;
	struct cf_conn *c = cf_connect_mapped(&h);
	uint32_t depth = c->hello.queue_depth < 8 ? c->hello.queue_depth : 8;
	uint8_t *data = cf_mem(PRB_BLOCK_SIZE);
	union prb_msg m[8];

	cf_pattern(data, PRB_BLOCK_SIZE, 31);
	CF_SETUP(CF_REQ_WRITE)
		CF_ST_FATAL(c, cf_write_big(c, h, 0, PRB_BLOCK_SIZE, data), PRB_ST_OK);
	for (uint32_t i = 0; i < depth; i++) {
		m[i] = (union prb_msg){
			.read_req = {.handle = h, .offset = i * 4096U, .length = 4096}};
		CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_READ_REQ, &m[i], NULL, 0, false) == 0,
			       "send");
	}
	for (uint32_t n = 0; n < depth; n++) {
		union prb_msg rsp;
		CF_CHECK_FATAL(cf_recv_pdu(c, -1) == 0, "response %u: %s", n, c->detail);
		uint32_t i = 0;
		while (i < depth && m[i].hdr.tag != c->rx_hdr.tag)
			i++;
		CF_CHECK_FATAL(i < depth, "unknown tag %u", c->rx_hdr.tag);
		uint32_t len;
		const uint8_t *p = cf_rx_payload(c, &len);
		CF_CHECK(c->rx_hdr.status == PRB_ST_OK && len == 4096 &&
				 memcmp(p, data + i * 4096U, 4096) == 0,
			 "pipelined READ %u: status %u, %u bytes, data %s", i, c->rx_hdr.status,
			 len,
			 len == 4096 && memcmp(p, data + i * 4096U, 4096) == 0 ? "ok" : "wrong");
		(void)rsp;
	}
}

const struct cf_test cf_tests_data[] = {
	{"Data.ReadWrite.Exact", rw_exact, "PRB-DATA-5 PRB-DATA-6 PRB-DATA-9 PRB-PDU-3 PRB-TCP-7",
	 true, 0, 0,
	 "writes of many offsets and lengths read back byte for byte; the rest stays zero"},
	{"Data.ReadWrite.CrossConnection", rw_cross_connection, "PRB-DATA-7 PRB-DATA-8", true, 0, 0,
	 "an acknowledged WRITE is visible to another connection's READ"},
	{"Data.ReadWrite.Pipelined", read_pipelined, "PRB-TAG-3 PRB-TAG-4 PRB-DATA-6", true, 0, 0,
	 "pipelined READs each return their own bytes"},
	{"Data.Bounds.Erange", bounds_erange, "PRB-DATA-4 PRB-DATA-10 PRB-SEC-1", true, 0, 0,
	 "offset + length beyond 2 MiB (also wrapping 32 bits): ERANGE, not a byte stored (the "
	 "whole block read back); the last byte is fine"},
	{"Data.Bounds.Length", length_invalid, "PRB-DATA-1", true, 0, 0,
	 "length 0 or above max_data: EINVAL"},
	{"Data.Limits.MaxData", max_data_limits, "PRB-HELLO-15 PRB-DATA-1 PRB-DATA-10 PRB-PDU-6",
	 true, 0, 0,
	 "TCP byte stream: initiator max_pdu of 8192, 8193 and k*4096 + 27 or + 28, with and "
	 "without digests: max_data fits; READ/WRITE of max_data work, one byte more EINVAL"},
	{"Data.ReadOnly.Eperm", ro_eperm, "PRB-DATA-3 PRB-DATA-8 PRB-DATA-10 PRB-FLUSH-3", true, 0,
	 0, "WRITE through a read-only handle: EPERM, nothing written; RO may FLUSH"},
	{"Data.Flush.Basic", flush_basic, "PRB-FLUSH-4 PRB-DATA-2 PRB-DATA-4", true, 0, 0,
	 "FLUSH of ranges of a mapped block; unknown handle ESTALE"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
