/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Robustness: what no correct initiator sends. Fatal header errors (TERM with the
 * reason, offset and tag of section 5.6), non-fatal body errors (EINVAL on every
 * reserved field and flag bit, walked from the generated descriptors), unknown
 * opcodes, truncation at every byte, garbage, a stalled half PDU. After each, the
 * brick must still serve other connections and the data written before must be intact.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suite.h"

#define SENTINEL_LEN 8192

/* Block 0 of the region holds known data; every test checks it at the end. */
static void sentinel_setup(void)
{
	struct cf_conn *c = cf_connect();
	uint8_t data[SENTINEL_LEN];
	uint64_t h;

	cf_pattern(data, sizeof(data), 0x5E);
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
	CF_SETUP(CF_REQ_WRITE)
		CF_ST_FATAL(c, cf_write(c, h, 4096, sizeof(data), data), PRB_ST_OK);
	CF_SETUP(CF_REQ_UNMAP)
		CF_ST_FATAL(c, cf_unmap(c, h), PRB_ST_OK);
	cf_disconnect(c);
}

/* The brick answers a new connection and block 0 still holds the sentinel. */
static void sentinel_check(void)
{
	struct cf_conn *c = cf_connect();
	uint8_t data[SENTINEL_LEN], back[SENTINEL_LEN];
	uint64_t h;

	cf_pattern(data, sizeof(data), 0x5E);
	CF_ST_FATAL(c, cf_keepalive(c), PRB_ST_OK);
	CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &h), PRB_ST_OK);
	CF_ST_FATAL(c, cf_read(c, h, 4096, sizeof(back), back), PRB_ST_OK);
	CF_CHECK(memcmp(data, back, sizeof(data)) == 0,
		 "data written before the bad input changed");
	cf_disconnect(c);
}

/* Encode a PDU with tag 0x7A6 into buf. */
static size_t build(struct cf_conn *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
		    uint32_t payload_len, uint8_t *buf, size_t size)
{
	m->hdr.tag = 0x7A6;
	int len = cf_build(c, id, m, payload, payload_len, buf, size);

	CF_CHECK_FATAL(len > 0, "cannot encode %s", prb_msg_descs[id].name);
	return (size_t)len;
}

/* Send raw bytes; the test cannot go on if that fails. */
static void send_fatal(struct cf_conn *c, const uint8_t *buf, size_t len)
{
	CF_CHECK_FATAL(cf_send_raw(c, buf, len) == 0, "send: %s", c->detail);
}

static void header_bad_magic(void)
{
	uint8_t buf[64];
	union prb_msg m = {.keepalive_req = {.hdr = {0}}};

	sentinel_setup();
	/* After HELLO and as the very first PDU: check 1 comes before check 8. */
	for (int first = 0; first < 2; first++) {
		struct cf_conn *c = first ? cf_open() : cf_connect();
		size_t len = build(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, buf, sizeof(buf));
		buf[PRB_HDR_MAGIC_OFFSET] ^= 0xFF;
		send_fatal(c, buf, len);
		/* PRB-TERM-2: tag 0, since bytes with a wrong magic are no header (ours say 0x7A6).
		 */
		CF_TERM_AT(c, PRB_TERM_BAD_HEADER, PRB_HDR_MAGIC_OFFSET, 0);
	}
	sentinel_check();
}

static void header_reserved_flags(void)
{
	uint8_t buf[64];
	union prb_msg m = {.keepalive_req = {.hdr = {0}}};

	sentinel_setup();
	for (unsigned bit = 1; bit < 0x100; bit <<= 1) {
		if (bit & PRB_HDR_ALL)
			continue;
		struct cf_conn *c = cf_connect();
		size_t len = build(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, buf, sizeof(buf));
		buf[PRB_HDR_FLAGS_OFFSET] |= (uint8_t)bit;
		send_fatal(c, buf, len);
		CF_TERM_AT(c, PRB_TERM_BAD_HEADER, PRB_HDR_FLAGS_OFFSET, 0x7A6);
		cf_disconnect(c);
	}
	sentinel_check();
}

/* hlen below 16, not a multiple of 8, or not the request's size: BAD_HEADER at hlen. */
static void header_hlen(void)
{
	static const uint16_t bad[] = {0, 8, 20, 24, 40};
	uint8_t buf[64] = {0};
	union prb_msg m = {.alloc_req = {.blocks = 1}};

	sentinel_setup();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cf_conn *c = cf_connect();
		m.alloc_req.addr = cf_addr(1);
		size_t len = build(c, PRB_MSG_ALLOC_REQ, &m, NULL, 0, buf, sizeof(buf));
		cf_put_le(buf, PRB_HDR_HLEN_OFFSET, PRB_HDR_HLEN_SIZE, bad[i]);
		/* plen stays consistent with the claimed hlen where possible. */
		if (bad[i] >= PRB_HDR_SIZE) {
			cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, bad[i]);
			len = bad[i];
		}
		send_fatal(c, buf, len);
		CF_TERM_AT(c, PRB_TERM_BAD_HEADER, PRB_HDR_HLEN_OFFSET, 0x7A6);
		cf_disconnect(c);
	}
	sentinel_check();
}

/* plen below hlen (+ digests): BAD_HEADER at plen. */
static void header_plen_short(void)
{
	uint8_t buf[64];
	union prb_msg m = {.alloc_req = {.blocks = 1}};
	static const uint32_t bad[] = {0, 15, 16, 24, 31};

	sentinel_setup();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cf_conn *c = cf_connect();
		m.alloc_req.addr = cf_addr(1);
		size_t len = build(c, PRB_MSG_ALLOC_REQ, &m, NULL, 0, buf, sizeof(buf));
		cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, bad[i]);
		send_fatal(c, buf, len);
		CF_TERM_AT(c, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET, 0x7A6);
		cf_disconnect(c);
	}
	sentinel_check();
}

/* plen above the brick's max_pdu: PDU_TOO_LARGE from the header alone. */
static void header_oversize(void)
{
	uint8_t buf[64];
	union prb_msg m = {.keepalive_req = {.hdr = {0}}};

	sentinel_setup();
	for (int i = 0; i < 4; i++) {
		/* The last one is a HELLO-less first PDU: the brick's max_pdu applies already. */
		struct cf_conn *c = i < 3 ? cf_connect() : cf_open();
		uint32_t plen = i == 0	 ? cf_brick()->hello.max_pdu + 8
				: i == 1 ? 0x7FFFFFF8U
					 : 0xFFFFFFF8U;
		size_t len = build(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, buf, sizeof(buf));
		cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, plen);
		send_fatal(c, buf, len); /* nothing more: the brick must not wait for the rest */
		CF_TERM_AT(c, PRB_TERM_PDU_TOO_LARGE, PRB_HDR_PLEN_OFFSET, 0x7A6);
		cf_disconnect(c);
	}
	sentinel_check();
}

/* Known opcode, payload length not what section 5.3 requires: BAD_HEADER. */
static void header_payload_length(void)
{
	uint8_t buf[256];
	uint8_t payload[64] = {0};
	union prb_msg m;
	struct cf_conn *c;
	uint64_t h;
	size_t len;

	sentinel_setup();
	/* A WRITE whose length field says 100 with 64 bytes of payload. */
	c = cf_connect();
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
	m = (union prb_msg){.write_req = {.handle = h, .offset = 0, .length = 64}};
	len = build(c, PRB_MSG_WRITE_REQ, &m, payload, sizeof(payload), buf, sizeof(buf));
	cf_put_le(buf, PRB_WRITE_REQ_LENGTH_OFFSET, PRB_WRITE_REQ_LENGTH_SIZE, 100);
	send_fatal(c, buf, len);
	CF_TERM_AT(c, PRB_TERM_BAD_HEADER, PRB_WRITE_REQ_LENGTH_OFFSET, 0x7A6);
	/* A KEEPALIVE with 8 bytes of payload. */
	c = cf_connect();
	m = (union prb_msg){.keepalive_req = {.hdr = {0}}};
	len = build(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, buf, sizeof(buf));
	cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, PRB_KEEPALIVE_REQ_SIZE + 8);
	send_fatal(c, buf, PRB_KEEPALIVE_REQ_SIZE + 8);
	CF_TERM_AT(c, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET, 0x7A6);
	sentinel_check();
}

/* Is op a value of the spec's opcode enum? */
static bool known_opcode(unsigned op)
{
	return prb_opcode_name(op) != NULL;
}

/* Every unknown opcode gets ENOTSUP with its tag; the brick skips exactly plen bytes. */
static void opcode_unknown(void)
{
	struct cf_conn *c;
	uint8_t buf[64];
	union prb_msg rsp;
	unsigned tested = 0;

	sentinel_setup();
	c = cf_connect();
	for (unsigned op = 0; op < 0x80; op++) {
		if (known_opcode(op))
			continue;
		uint32_t body = (op % 3) * 8; /* some carry a body of 8 or 16 bytes */
		memset(buf, 0xA5, sizeof(buf));
		cf_put_le(buf, PRB_HDR_MAGIC_OFFSET, PRB_HDR_MAGIC_SIZE, PRB_MAGIC);
		cf_put_le(buf, PRB_HDR_OPCODE_OFFSET, PRB_HDR_OPCODE_SIZE, op);
		cf_put_le(buf, PRB_HDR_FLAGS_OFFSET, PRB_HDR_FLAGS_SIZE, 0);
		cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, PRB_HDR_SIZE + body);
		cf_put_le(buf, PRB_HDR_TAG_OFFSET, PRB_HDR_TAG_SIZE, 0x1000 + op);
		cf_put_le(buf, PRB_HDR_STATUS_OFFSET, PRB_HDR_STATUS_SIZE, 0);
		cf_put_le(buf, PRB_HDR_HLEN_OFFSET, PRB_HDR_HLEN_SIZE, PRB_HDR_SIZE + (op % 2) * body);
		CF_CHECK_FATAL(cf_send_raw(c, buf, PRB_HDR_SIZE + body) == 0, "send");
		int st = cf_recv_rsp(c, 0x1000 + op, &rsp);
		if (!CF_CHECK(st == PRB_ST_ENOTSUP, "opcode 0x%02x: expected ENOTSUP, got %d (%s)",
			      op, st, st < 0 ? c->detail : "status"))
			break;
		CF_CHECK(c->rx_hdr.opcode == (op | PRB_OPCODE_RESPONSE) &&
				 c->rx_hdr.hlen == PRB_HDR_SIZE,
			 "opcode 0x%02x answered with opcode 0x%02x hlen %u", op, c->rx_hdr.opcode,
			 c->rx_hdr.hlen);
		tested++;
	}
	CF_ST(c, cf_keepalive(c), PRB_ST_OK);
	cf_log("%u unknown opcodes answered", tested);
	sentinel_check();
}

/* A TERM from the initiator: the brick closes without answering. */
static void term_from_initiator(void)
{
	struct cf_conn *c = cf_connect();
	union prb_msg m = {.term = {.reason = PRB_TERM_SHUTDOWN}};

	CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_TERM, &m, NULL, 0, false) == 0, "send");
	int ret = cf_recv_pdu(c, -1);
	CF_CHECK(ret == -ECONNRESET, "after the initiator's TERM the brick sent something (%s)",
		 c->detail);
	cf_check_alive();
}

/* A valid request of each kind, ready to have one field broken. */
static size_t baseline(struct cf_conn *c, enum prb_msg_id id, uint64_t h, uint8_t *buf, size_t size)
{
	union prb_msg m;
	static const uint8_t payload[8] = {0};

	memset(&m, 0, sizeof(m));
	switch (id) {
	case PRB_MSG_ALLOC_REQ:
		m.alloc_req.addr = cf_addr(2);
		m.alloc_req.blocks = 1;
		break;
	case PRB_MSG_FREE_REQ:
		m.free_req.addr = cf_addr(1);
		m.free_req.blocks = 1;
		break;
	case PRB_MSG_MAP_REQ:
		m.map_req.addr = cf_addr(1);
		break;
	case PRB_MSG_UNMAP_REQ:
		m.unmap_req.handle = h;
		break;
	case PRB_MSG_LIST_REQ:
		m.list_req.cursor = cf_addr(0);
		m.list_req.max_extents = 1;
		break;
	case PRB_MSG_READ_REQ:
	case PRB_MSG_FLUSH_REQ:
		m.read_req.handle = h;
		m.read_req.length = 8;
		if (id == PRB_MSG_FLUSH_REQ)
			m.flush_req = (struct prb_flush_req){.handle = h, .length = 8};
		break;
	case PRB_MSG_WRITE_REQ:
		m.write_req.handle = h;
		m.write_req.length = sizeof(payload);
		break;
	case PRB_MSG_CAS_REQ:
		m.cas_req.handle = h;
		m.cas_req.compare = 1; /* never matches: the block stays unchanged */
		break;
	case PRB_MSG_FADD_REQ:
		m.fadd_req.handle = h;
		break;
	default:
		break;
	}
	return build(c, id, &m, payload, id == PRB_MSG_WRITE_REQ ? sizeof(payload) : 0, buf, size);
}

/* Send buf and expect EINVAL. */
static void expect_einval(struct cf_conn *c, const uint8_t *buf, size_t len, const char *what)
{
	union prb_msg rsp;
	int st;

	CF_CHECK_FATAL(cf_send_raw(c, buf, len) == 0, "send");
	st = cf_recv_rsp(c, 0x7A6, &rsp);
	CF_CHECK(st == PRB_ST_EINVAL, "%s: expected EINVAL, got %d (%s)", what, st,
		 st < 0				 ? c->detail
		 : prb_status_name((unsigned)st) ? prb_status_name((unsigned)st)
						 : "?");
	CF_CHECK_FATAL(st >= 0, "connection lost");
}

/*
 * Every request field that must be zero or hold only defined bits, every hdr.status,
 * and every min/max/align constraint, broken one at a time: EINVAL, nothing changes.
 */
static void reserved_walk(void)
{
	struct cf_conn *c = cf_connect_features(cf_brick()->features & PRB_FEAT_ATOMICS);
	uint8_t buf[128];
	char what[160];
	uint64_t h;
	unsigned cases = 0;

	sentinel_setup();
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(1), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(1), PRB_MAP_WRITE, &h), PRB_ST_OK);
	for (int id = 0; id < PRB_MSG_COUNT; id++) {
		const struct prb_msg_desc *d = &prb_msg_descs[id];
		if (d->direction != PRB_DIR_REQUEST || id == PRB_MSG_HELLO_REQ)
			continue;
		if ((id == PRB_MSG_CAS_REQ || id == PRB_MSG_FADD_REQ) &&
		    !(c->hello.features & PRB_FEAT_ATOMICS))
			continue; /* ENOTSUP comes before EINVAL */
		/* hdr.status nonzero. */
		size_t len = baseline(c, (enum prb_msg_id)id, h, buf, sizeof(buf));
		cf_put_le(buf, PRB_HDR_STATUS_OFFSET, PRB_HDR_STATUS_SIZE, PRB_ST_EIO);
		snprintf(what, sizeof(what), "%s with hdr.status EIO", d->name);
		expect_einval(c, buf, len, what);
		cases++;
		for (unsigned f = 0; f < d->field_count; f++) {
			const struct prb_field_desc *fd = &d->fields[f];
			unsigned bits = fd->size * 8U;
			for (unsigned bit = 0; bit < bits && fd->size <= 8; bit++) {
				uint64_t v = 1ULL << bit;
				if (fd->kind == PRB_FIELD_FLAGS && (fd->mask & v))
					continue;
				if (fd->kind != PRB_FIELD_FLAGS && fd->kind != PRB_FIELD_RESERVED)
					break;
				len = baseline(c, (enum prb_msg_id)id, h, buf, sizeof(buf));
				buf[fd->offset + bit / 8] |= (uint8_t)(1U << (bit % 8));
				snprintf(what, sizeof(what), "%s.%s with bit %u set", d->name,
					 fd->name, bit);
				expect_einval(c, buf, len, what);
				cases++;
			}
			if (fd->kind != PRB_FIELD_UINT || (fd->checks & PRB_CHECK_PAYLOAD_LENGTH))
				continue;
			uint64_t bad[3];
			int nbad = 0;
			if ((fd->checks & PRB_CHECK_MIN) && fd->min > 0)
				bad[nbad++] = fd->min - 1;
			if ((fd->checks & PRB_CHECK_MAX) &&
			    (fd->size == 8 || fd->max + 1 < (1ULL << bits)))
				bad[nbad++] = fd->max + 1;
			if ((fd->checks & PRB_CHECK_ALIGN) && fd->align > 1)
				bad[nbad++] = fd->align / 2;
			for (int b = 0; b < nbad; b++) {
				len = baseline(c, (enum prb_msg_id)id, h, buf, sizeof(buf));
				uint64_t base = 0;
				for (unsigned i = 0; i < fd->size; i++)
					base |= (uint64_t)buf[fd->offset + i] << (8 * i);
				/* Alignment: break the baseline's own value so the rest stays
				 * valid. */
				uint64_t v =
					(fd->checks & PRB_CHECK_ALIGN) && bad[b] == fd->align / 2
						? base + bad[b]
						: bad[b];
				cf_put_le(buf, fd->offset, fd->size, v);
				snprintf(what, sizeof(what), "%s.%s = %llu", d->name, fd->name,
					 (unsigned long long)v);
				expect_einval(c, buf, len, what);
				cases++;
			}
		}
	}
	cf_log("%u broken requests answered EINVAL", cases);
	/* Nothing changed: block 1 is still allocated with one handle (ours), block 2 is free. */
	CF_CHECK(cf_allocated(c, 1, 1) == 1 && cf_allocated(c, 2, 1) == 0,
		 "a refused request changed allocations");
	uint8_t back[8];
	CF_ST(c, cf_read(c, h, 0, 8, back), PRB_ST_OK);
	CF_ST(c, cf_unmap(c, h), PRB_ST_OK);
	CF_ST(c, cf_map(c, cf_addr(1), PRB_MAP_EXCL, &h), PRB_ST_OK);
	sentinel_check();
}

/* HELLO with a broken field: EINVAL, then the brick closes. Unknown feature bits are fine. */
static void hello_invalid(void)
{
	const struct prb_msg_desc *d = &prb_msg_descs[PRB_MSG_HELLO_REQ];
	struct prb_hello_req good = {
		.min_version = PRB_VERSION,
		.max_version = PRB_VERSION,
		.queue_depth = 4,
		.max_pdu = CF_RX_MAX,
	};
	uint8_t buf[64];
	union prb_msg rsp;

	sentinel_setup();
	for (unsigned f = 0; f < d->field_count; f++) {
		const struct prb_field_desc *fd = &d->fields[f];
		uint64_t v;
		if (fd->kind == PRB_FIELD_RESERVED)
			v = 1;
		else if (fd->kind == PRB_FIELD_UINT && (fd->checks & PRB_CHECK_MIN) && fd->min > 0)
			v = fd->min - 1;
		else
			continue;
		struct cf_conn *c = cf_open();
		union prb_msg m = {.hello_req = good};
		size_t len = build(c, PRB_MSG_HELLO_REQ, &m, NULL, 0, buf, sizeof(buf));
		cf_put_le(buf, fd->offset, fd->size, v);
		send_fatal(c, buf, len);
		int st = cf_recv_rsp(c, 0x7A6, &rsp);
		CF_CHECK(st == PRB_ST_EINVAL, "hello_req.%s = %llu: expected EINVAL, got %d",
			 fd->name, (unsigned long long)v, st);
		CF_CHECK(cf_wait_closed(c, cf_brick()->timeout_ms) == 0,
			 "brick kept the connection after a HELLO error");
		cf_disconnect(c);
	}
	/* min_version above max_version; queue depth above the limit; max_pdu below 8192. */
	for (int i = 0; i < 3; i++) {
		struct cf_conn *c = cf_open();
		struct prb_hello_req r = good;
		if (i == 0)
			r.min_version = 2, r.max_version = 1;
		else if (i == 1)
			r.queue_depth = PRB_MAX_QUEUE_DEPTH + 1;
		else
			r.max_pdu = PRB_MIN_MAX_PDU - 8;
		CF_ST(c, cf_hello(c, &r), PRB_ST_EINVAL);
		CF_CHECK(cf_wait_closed(c, cf_brick()->timeout_ms) == 0,
			 "brick kept the connection after a HELLO error");
		cf_disconnect(c);
	}
	/* Undefined feature bits are ignored, never granted. */
	struct cf_conn *c = cf_open();
	struct prb_hello_req r = good;
	r.features = ~(uint32_t)PRB_FEAT_ALL;
	CF_ST(c, cf_hello(c, &r), PRB_ST_OK);
	CF_CHECK((c->hello.features & ~(uint32_t)PRB_FEAT_ALL) == 0,
		 "undefined features granted: 0x%x", c->hello.features);
	sentinel_check();
}

/* A request cut at every byte, then the connection closed: nothing happens. */
static void truncated_every_byte(void)
{
	static const enum prb_msg_id ids[] = {PRB_MSG_ALLOC_REQ, PRB_MSG_WRITE_REQ, PRB_MSG_MAP_REQ,
					      PRB_MSG_FREE_REQ};
	uint8_t buf[128], payload[16];
	unsigned cuts = 0;

	sentinel_setup();
	cf_pattern(payload, sizeof(payload), 3);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		union prb_msg m;
		memset(&m, 0, sizeof(m));
		m.alloc_req.addr = cf_addr(3); /* alloc, map and free share the layout */
		m.alloc_req.blocks = 1;
		if (ids[i] == PRB_MSG_WRITE_REQ)
			m.write_req =
				(struct prb_write_req){.handle = 1, .length = sizeof(payload)};
		struct cf_conn *c0 = cf_open();
		size_t len =
			build(c0, ids[i], &m, payload,
			      ids[i] == PRB_MSG_WRITE_REQ ? sizeof(payload) : 0, buf, sizeof(buf));
		cf_disconnect(c0);
		for (size_t cut = 1; cut < len; cut++) {
			struct cf_conn *c = cf_connect();
			CF_CHECK_FATAL(cf_send_raw(c, buf, cut) == 0, "send");
			cf_disconnect(c);
			cuts++;
		}
	}
	cf_log("%u truncated PDUs", cuts);
	struct cf_conn *c = cf_connect();
	CF_CHECK(cf_allocated(c, 3, 1) == 0, "a truncated ALLOC allocated its block");
	sentinel_check();
}

/* Random bytes, before and after HELLO: TERM BAD_HEADER (their magic is wrong). */
static void garbage(void)
{
	uint8_t junk[4096];

	sentinel_setup();
	for (uint64_t seed = 1; seed <= 16; seed++) {
		struct cf_conn *c = seed % 2 ? cf_open() : cf_connect();
		cf_pattern(junk, sizeof(junk), seed * 7919);
		if (cf_get_le(junk, PRB_HDR_MAGIC_OFFSET, PRB_HDR_MAGIC_SIZE) == PRB_MAGIC)
			junk[PRB_HDR_MAGIC_OFFSET] ^= 0xFF;
		int ret = cf_send_raw(c, junk, sizeof(junk));
		if (ret == 0)
			CF_TERM_AT(c, PRB_TERM_BAD_HEADER, PRB_HDR_MAGIC_OFFSET, 0);
		cf_disconnect(c);
	}
	sentinel_check();
}

/* PDUs split into single bytes, and many PDUs in one send, are all served. */
static void split_and_coalesced(void)
{
	struct cf_conn *c = cf_connect();
	uint8_t buf[64 * 16];
	union prb_msg rsp;
	size_t len = 0;

	union prb_msg m = {.keepalive_req = {.hdr = {0}}};
	size_t one = build(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, buf, sizeof(buf));
	for (size_t i = 0; i < one; i++) {
		struct timespec pause = {.tv_nsec = 2 * 1000 * 1000};
		CF_CHECK_FATAL(cf_send_raw(c, buf + i, 1) == 0, "send");
		nanosleep(&pause, NULL);
	}
	CF_ST(c, cf_recv_rsp(c, 0x7A6, &rsp), PRB_ST_OK);
	uint32_t depth = c->hello.queue_depth < 16 ? c->hello.queue_depth : 16;
	for (uint32_t i = 0; i < depth; i++) {
		m = (union prb_msg){.keepalive_req = {.hdr = {.tag = 100 + i}}};
		int n = cf_build(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, buf + len,
				 sizeof(buf) - len);
		CF_CHECK_FATAL(n > 0, "encode");
		len += (size_t)n;
	}
	CF_CHECK_FATAL(cf_send_raw(c, buf, len) == 0, "send");
	for (uint32_t i = 0; i < depth; i++) {
		CF_CHECK_FATAL(cf_recv_pdu(c, -1) == 0, "response %u: %s", i, c->detail);
		CF_CHECK(c->rx_hdr.tag >= 100 && c->rx_hdr.tag < 100 + depth &&
				 c->rx_hdr.status == PRB_ST_OK,
			 "coalesced KEEPALIVE %u: tag %u status %u", i, c->rx_hdr.tag,
			 c->rx_hdr.status);
	}
}

/* Milliseconds on a monotonic clock. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Half a PDU then silence: others are served meanwhile, then TERM TIMEOUT. An idle
 * connection beside it may be ended too (a MAY), but only with TERM TIMEOUT, offset 0.
 */
static void stall_half_pdu(void)
{
	struct cf_conn *stalled = cf_connect(), *idle = cf_connect();
	uint8_t buf[64], data[4096], back[4096];
	union prb_msg m = {.alloc_req = {.blocks = 1}};
	int64_t start = now_ms();
	uint64_t h;

	sentinel_setup();
	m.alloc_req.addr = cf_addr(5);
	size_t len = build(stalled, PRB_MSG_ALLOC_REQ, &m, NULL, 0, buf, sizeof(buf));
	CF_CHECK_FATAL(cf_send_raw(stalled, buf, len / 2) == 0, "send");
	/* Another connection is served normally while the half PDU waits. */
	struct cf_conn *c = cf_connect();
	cf_pattern(data, sizeof(data), 12);
	CF_ST(c, cf_alloc(c, cf_addr(6), 1), PRB_ST_OK);
	CF_ST(c, cf_map(c, cf_addr(6), PRB_MAP_WRITE, &h), PRB_ST_OK);
	CF_ST(c, cf_write(c, h, 0, sizeof(data), data), PRB_ST_OK);
	CF_ST(c, cf_read(c, h, 0, sizeof(back), back), PRB_ST_OK);
	CF_CHECK(memcmp(data, back, sizeof(data)) == 0,
		 "data differs while another connection stalls");
	CF_ST(c, cf_free(c, cf_addr(6), 1, PRB_FREE_FORCE), PRB_ST_OK);
	cf_disconnect(c);
	sentinel_check();
	/* The partial-PDU timeout is the brick's (at least 10 s outside tests): wait for it. */
	int ret = cf_recv_pdu(stalled, cf_stall_wait_ms());
	CF_CHECK(ret != -ETIMEDOUT,
		 "no TERM TIMEOUT within %d ms of a stalled half PDU (a brick "
		 "with a longer partial-PDU timeout: raise --stall-wait)",
		 cf_stall_wait_ms());
	if (ret != -ETIMEDOUT)
		CF_CHECK(ret == -ECONNABORTED && stalled->term.reason == PRB_TERM_TIMEOUT,
			 "stalled half PDU: expected TERM TIMEOUT, got %s", stalled->detail);
	struct cf_conn *d = cf_connect();
	CF_CHECK(cf_allocated(d, 5, 1) == 0, "the half ALLOC allocated its block");
	/* The idle connection: still open, or ended by TERM TIMEOUT with offset 0. */
	int64_t left = cf_stall_wait_ms() - (now_ms() - start);
	ret = cf_recv_pdu(idle, left > 0 ? (int)left : 0);
	if (ret == -ETIMEDOUT) {
		cf_log("idle connection not ended within %d ms (the idle timeout is a MAY)",
		       cf_stall_wait_ms());
		return;
	}
	CF_CHECK(ret == -ECONNABORTED && idle->term.reason == PRB_TERM_TIMEOUT &&
			 idle->term.error_offset == 0,
		 "idle connection ended without TERM TIMEOUT (offset 0): %s", idle->detail);
}

/*
 * A connection that never sends a byte: others are served meanwhile; the brick may end
 * it at its HELLO timeout, but only with TERM TIMEOUT, tag 0, offset 0, then a close.
 */
static void stall_no_hello(void)
{
	struct cf_conn *silent = cf_open();

	sentinel_setup();
	sentinel_check();
	/* The HELLO timeout is the brick's (at least 5 s outside tests): wait as for a stall. */
	int ret = cf_recv_pdu(silent, cf_stall_wait_ms());
	if (ret == -ETIMEDOUT) {
		cf_log("connection without HELLO not ended within %d ms (the HELLO timeout is a "
		       "MAY)",
		       cf_stall_wait_ms());
		return;
	}
	CF_CHECK(ret == -ECONNABORTED && silent->term.reason == PRB_TERM_TIMEOUT &&
			 silent->term.error_offset == 0 && silent->rx_hdr.tag == 0,
		 "connection without HELLO ended without TERM TIMEOUT (tag 0, offset 0): %s",
		 silent->detail);
	CF_CHECK(cf_recv_pdu(silent, cf_stall_wait_ms()) == -ECONNRESET,
		 "connection without HELLO not closed after its TERM: %s", silent->detail);
	sentinel_check();
}

/* When several checks fail, the status of the first in section 7.1's order wins. */
static void status_order(void)
{
	struct cf_conn *c = cf_connect_features(0);
	union prb_msg m, rsp;
	uint8_t buf[16] = {0};
	uint64_t hw, hr, orig;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(2), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &hw), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &hr), PRB_ST_OK);
	/* ENOTSUP (not negotiated) before EINVAL (misaligned). */
	CF_ST(c, cf_fadd(c, hw, 3, 1, &orig), PRB_ST_ENOTSUP);
	/* EINVAL (length 0) before ESTALE. */
	m = (union prb_msg){.read_req = {.handle = 12345, .offset = 0, .length = 0}};
	CF_ST(c, cf_call(c, PRB_MSG_READ_REQ, &m, NULL, 0, &rsp), PRB_ST_EINVAL);
	/* ESTALE before ERANGE; EPERM before ERANGE. */
	CF_ST(c, cf_read(c, 12345, PRB_BLOCK_SIZE, 1, buf), PRB_ST_ESTALE);
	CF_ST(c, cf_write(c, hr, PRB_BLOCK_SIZE, 1, buf), PRB_ST_EPERM);
	/* ENOENT before EBUSY: blocks 0 (mapped) .. 2, block 1 free. */
	CF_ST(c, cf_free(c, cf_addr(0), 3, 0), PRB_ST_ENOENT);
	/* EINVAL before ENOENT; EINVAL before EEXIST. */
	CF_ST(c, cf_map(c, cf_addr(1), 0x80, &orig), PRB_ST_EINVAL);
	CF_ST(c, cf_alloc(c, cf_addr(0) + 4096, 1), PRB_ST_EINVAL);
	/* EEXIST before ENOSPC, where the range is larger than the brick. */
	if (c->hello.capacity_blocks < PRB_MAX_RANGE_BLOCKS)
		CF_ST(c, cf_alloc(c, cf_addr(0), PRB_MAX_RANGE_BLOCKS), PRB_ST_EEXIST);
	CF_CHECK(cf_allocated(c, 0, 4) == 2, "a refused request changed allocations");
}

const struct cf_test cf_tests_robust[] = {
	{"Robust.Header.BadMagic", header_bad_magic,
	 "PRB-PDU-12 PRB-HDR-1 PRB-TERM-1 PRB-TERM-2 PRB-TERM-4 PRB-TERM-8 PRB-CONN-6 PRB-SEC-3",
	 true, 0, 0, "bad magic (first PDU or later): TERM BAD_HEADER at offset 0 with tag 0"},
	{"Robust.Header.ReservedFlags", header_reserved_flags, "PRB-PDU-12 PRB-HDR-4 PRB-TERM-2",
	 true, 0, 0, "each reserved bit of hdr.flags: TERM BAD_HEADER at offset 3"},
	{"Robust.Header.Hlen", header_hlen, "PRB-PDU-12 PRB-HDR-6", true, 0, 0,
	 "hlen below 16, not a multiple of 8 or not the request's size: TERM BAD_HEADER at 14"},
	{"Robust.Header.PlenShort", header_plen_short, "PRB-PDU-12 PRB-HDR-5", true, 0, 0,
	 "plen below hlen: TERM BAD_HEADER at offset 4"},
	{"Robust.Header.Oversize", header_oversize, "PRB-PDU-12 PRB-HELLO-14 PRB-VER-1 PRB-SEC-3",
	 true, 0, 0,
	 "plen above max_pdu (up to 4 GiB), header only: TERM PDU_TOO_LARGE at 4 at once"},
	{"Robust.Header.PayloadLength", header_payload_length, "PRB-PDU-2 PRB-PDU-3 PRB-PDU-12",
	 true, 0, 0, "WRITE length != payload, payload on KEEPALIVE: TERM BAD_HEADER"},
	{"Robust.Opcode.Unknown", opcode_unknown, "PRB-PDU-5 PRB-PDU-15 PRB-VER-6 PRB-HDR-3", true,
	 0, 0, "every unknown opcode: ENOTSUP error response, opcode|0x80, same tag; plen skipped"},
	{"Robust.Term.FromInitiator", term_from_initiator, "PRB-PDU-14 PRB-TERM-5", true, 0, 0,
	 "a TERM from the initiator: the brick closes without answering"},
	{"Robust.Fields.Walk", reserved_walk,
	 "PRB-REQ-2 PRB-REQ-3 PRB-REQ-4 PRB-REQ-6 PRB-VER-5 PRB-VER-7 PRB-HDR-7", true, 0, 0,
	 "every reserved field, undefined flag bit, hdr.status and min/max/align broken: EINVAL"},
	{"Robust.Fields.Hello", hello_invalid, "PRB-HELLO-4 PRB-HELLO-5 PRB-HELLO-8 PRB-VER-8",
	 true, 0, 0, "HELLO with a broken field: EINVAL and close; unknown feature bits ignored"},
	{"Robust.Truncated.EveryByte", truncated_every_byte, "PRB-TCP-6 PRB-TERM-8 PRB-SEC-3", true,
	 0, 0, "requests cut at every byte then closed: nothing applied, brick serves on"},
	{"Robust.Garbage.Random", garbage, "PRB-PDU-12 PRB-SEC-1 PRB-SEC-3", true, 0, 0,
	 "4 KiB of random bytes before and after HELLO: TERM BAD_HEADER"},
	{"Robust.Stream.SplitCoalesced", split_and_coalesced, "PRB-TCP-4 PRB-TCP-5", true, 0, 0,
	 "a PDU sent byte by byte, and a queue depth of PDUs in one send, all answered"},
	{"Robust.Stall.HalfPdu", stall_half_pdu, "PRB-KA-2 PRB-KA-4 PRB-SEC-3", true, 0, 0,
	 "half a PDU then silence: others served meanwhile, then TERM TIMEOUT"},
	{"Robust.Stall.NoHello", stall_no_hello, "PRB-KA-5 PRB-TCP-3 PRB-SEC-3", true, 0, 0,
	 "no byte sent: others served meanwhile; ended only by TERM TIMEOUT, tag 0, offset 0"},
	{"Robust.Order.Statuses", status_order, "PRB-REQ-1 PRB-REQ-7", true, 0, 0,
	 "with several faults, the status of the first check in section 7.1's order"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
