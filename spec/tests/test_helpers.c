/* The hand-written helpers and the generated tables around the codec: CRC32C known
 * answers, PDU length arithmetic, URL parsing and formatting, status <-> errno, names,
 * and the header decoder's behaviour on unknown opcodes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static void crc32c_known_answers(void)
{
	static const uint8_t zeros[32] = {0};
	uint8_t ones[32], inc[32], dec[32];
	static uint8_t big[1 << 20];

	memset(ones, 0xFF, sizeof(ones));
	for (int i = 0; i < 32; i++) {
		inc[i] = (uint8_t)i;
		dec[i] = (uint8_t)(31 - i);
	}
	/* The CRC-32C check value, and the iSCSI test patterns of RFC 3720 B.4. */
	CHECK(prb_crc32c("123456789", 9) == 0xE3069283U, "check value: %#x",
	      prb_crc32c("123456789", 9));
	CHECK(prb_crc32c(zeros, 32) == 0x8A9136AAU, "32 zeros");
	CHECK(prb_crc32c(ones, 32) == 0x62A8AB43U, "32 0xff");
	CHECK(prb_crc32c(inc, 32) == 0x46DD794EU, "0..31");
	CHECK(prb_crc32c(dec, 32) == 0x113FDB5CU, "31..0");
	CHECK(prb_crc32c("", 0) == 0, "empty");
	/* A large buffer, split or not, and through ISA-L's vector path. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7);
	CHECK(prb_crc32c(big, sizeof(big)) == prb_crc32c(big, sizeof(big)), "deterministic");
	CHECK(prb_crc32c(big, sizeof(big)) != prb_crc32c(big, sizeof(big) - 1), "length matters");
}

static void pdu_lengths(void)
{
	struct prb_hdr h = {.hlen = 32, .flags = PRB_HDR_HDGST | PRB_HDR_DDGST};

	CHECK(prb_pdu_plen(32, 0, 0) == 32, "plain");
	CHECK(prb_pdu_plen(32, PRB_HDR_HDGST, 0) == 40, "header digest");
	CHECK(prb_pdu_plen(32, PRB_HDR_HDGST | PRB_HDR_DDGST, 100) == 32 + 8 + 100 + 4, "both");
	h.plen = prb_pdu_plen(h.hlen, h.flags, 100);
	CHECK(prb_payload_offset(&h) == 40, "payload offset");
	CHECK(prb_payload_len(&h) == 100, "payload len");
	h.flags = 0;
	h.plen = 32;
	CHECK(prb_payload_offset(&h) == 32 && prb_payload_len(&h) == 0, "no payload");
	h.plen = 10;
	CHECK(prb_payload_len(&h) == 0, "plen short of hlen gives 0");
}

struct url_case {
	const char *text;
	int rc;
	enum prb_transport transport;
	const char *host;
	uint16_t port;
	const char *formatted;
};

static const struct url_case url_cases[] = {
	{"tcp://127.0.0.1", 0, PRB_TRANSPORT_TCP, "127.0.0.1", PRB_TCP_PORT, "tcp://127.0.0.1:7117"},
	{"tcp://127.0.0.1:40123", 0, PRB_TRANSPORT_TCP, "127.0.0.1", 40123, "tcp://127.0.0.1:40123"},
	{"tcp://localhost:0", 0, PRB_TRANSPORT_TCP, "localhost", 0, "tcp://localhost:0"},
	{"tcp://brick-1.example.org:65535", 0, PRB_TRANSPORT_TCP, "brick-1.example.org", 65535,
	 NULL},
	{"rdma://10.0.0.2", 0, PRB_TRANSPORT_RDMA, "10.0.0.2", PRB_RDMA_PORT, "rdma://10.0.0.2:7117"},
	{"tcp://[::1]", 0, PRB_TRANSPORT_TCP, "::1", PRB_TCP_PORT, "tcp://[::1]:7117"},
	{"tcp://[::1]:9", 0, PRB_TRANSPORT_TCP, "::1", 9, "tcp://[::1]:9"},
	{"rdma://[fe80::1%eth0]:7000", 0, PRB_TRANSPORT_RDMA, "fe80::1%eth0", 7000, NULL},
	{"tcp://[2001:db8::7]:1", 0, PRB_TRANSPORT_TCP, "2001:db8::7", 1, NULL},
	{"", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://:7117", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host:", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host:65536", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host:123456", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host:-1", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host:+80", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host:80x", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host:80/", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host/path", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://user@host", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://host name", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://::1", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://[::1", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://[]", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://[not-v6]", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://[::1]x", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://[::1%]", -EINVAL, 0, NULL, 0, NULL},
	{"tcp://[127.0.0.1]", -EINVAL, 0, NULL, 0, NULL},
	{"udp://host", -EINVAL, 0, NULL, 0, NULL},
	{"TCP://host", -EINVAL, 0, NULL, 0, NULL},
	{"tcp:/host", -EINVAL, 0, NULL, 0, NULL},
	{"host:7117", -EINVAL, 0, NULL, 0, NULL},
};

static void urls(void)
{
	char long_host[300], buf[512];
	struct prb_url u;
	int rc;

	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *c = &url_cases[i];

		memset(&u, 0, sizeof(u));
		rc = prb_url_parse(c->text, &u);
		CHECK(rc == c->rc, "parse '%s': %d, expected %d", c->text, rc, c->rc);
		if (rc != 0 || c->rc != 0)
			continue;
		CHECK(u.transport == c->transport && strcmp(u.host, c->host) == 0 &&
			      u.port == c->port,
		      "parse '%s': %d %s %u", c->text, (int)u.transport, u.host, u.port);
		rc = prb_url_format(&u, buf, sizeof(buf));
		CHECK(rc > 0 && strcmp(buf, c->formatted ? c->formatted : c->text) == 0,
		      "format '%s': '%s'", c->text, buf);
		CHECK(prb_url_format(&u, buf, (size_t)rc) == -ENOBUFS, "format into a short buffer");
	}
	CHECK(prb_url_parse(NULL, &u) == -EINVAL, "NULL url");
	memset(long_host, 'a', sizeof(long_host));
	memcpy(long_host, "tcp://", 6);
	long_host[sizeof(long_host) - 1] = '\0';
	CHECK(prb_url_parse(long_host, &u) == -EINVAL, "host longer than 255");
	memset(&u, 0, sizeof(u));
	CHECK(prb_url_format(&u, buf, sizeof(buf)) == -EINVAL, "format an empty host");
}

static void status_map(void)
{
	CHECK(prb_status_to_errno(PRB_ST_OK) == 0, "OK");
	CHECK(prb_status_to_errno(PRB_ST_EEXIST) == -EEXIST, "EEXIST");
	CHECK(prb_status_to_errno(PRB_ST_ENOTSUP) == -ENOTSUP, "ENOTSUP");
	CHECK(prb_status_to_errno(0xFFFF) == -EPROTO, "unknown status");
	CHECK(prb_status_from_errno(-EOPNOTSUPP) == PRB_ST_ENOTSUP, "EOPNOTSUPP");
	CHECK(prb_status_from_errno(-EAGAIN) == PRB_ST_EIO, "unmapped errno");
	for (unsigned s = 0; s < 0x100; s++) {
		if (prb_status_name(s) == NULL)
			continue;
		CHECK(prb_status_from_errno(prb_status_to_errno((uint16_t)s)) == s,
		      "status %u round trip", s);
	}
}

static void names(void)
{
	CHECK(strcmp(prb_opcode_name(PRB_OP_ALLOC), "ALLOC") == 0, "ALLOC");
	CHECK(prb_opcode_name(0x7E) == NULL, "unknown opcode");
	CHECK(strcmp(prb_status_name(PRB_ST_ESTALE), "ESTALE") == 0, "ESTALE");
	CHECK(strcmp(prb_term_reason_name(PRB_TERM_SHUTDOWN), "SHUTDOWN") == 0, "SHUTDOWN");
	CHECK(strcmp(prb_extent_state_name(PRB_EXTENT_TIERED), "TIERED") == 0, "TIERED");
	CHECK(prb_extent_state_name(0) == NULL, "extent state 0");
	CHECK(PRB_MAP_ALL == (PRB_MAP_WRITE | PRB_MAP_EXCL), "PRB_MAP_ALL");
	CHECK(prb_msg_id_of(PRB_OP_TERM) == PRB_MSG_TERM, "TERM");
	CHECK(prb_msg_id_of(PRB_OP_ALLOC | PRB_OPCODE_RESPONSE) == PRB_MSG_ALLOC_RSP, "ALLOC rsp");
	CHECK(prb_msg_id_of(0x7E) == -EOPNOTSUPP, "unknown opcode byte");
	for (int id = 0; id < PRB_MSG_COUNT; id++)
		CHECK(prb_msg_id_of(prb_msg_descs[id].opcode) == id, "%s: id of its opcode",
		      prb_msg_descs[id].name);
}

/* An unknown opcode with a sane header: -EOPNOTSUPP and the header filled in. */
static void unknown_opcode(void)
{
	struct prb_hdr h = {.magic = PRB_MAGIC, .opcode = 0x7E, .plen = 40, .tag = 99, .hlen = 40};
	struct prb_wire_error err = {0};
	union prb_msg m;
	enum prb_msg_id id;
	uint8_t buf[PRB_HDR_SIZE];
	struct prb_hdr out = {0};

	CHECK(prb_hdr_encode(&h, buf, sizeof(buf)) == (int)PRB_HDR_SIZE, "hdr encode");
	CHECK(prb_hdr_decode(buf, sizeof(buf), &out, &err) == -EOPNOTSUPP && err.offset == 2,
	      "unknown opcode");
	CHECK(out.tag == 99 && out.plen == 40 && out.hlen == 40, "header filled");
	CHECK(prb_msg_decode(buf, sizeof(buf), &m, &id, NULL) == -EOPNOTSUPP, "generic decode");
	h.hlen = 8;
	prb_hdr_encode(&h, buf, sizeof(buf));
	CHECK(prb_hdr_decode(buf, sizeof(buf), &out, &err) == -EBADMSG && err.offset == 14,
	      "hlen below the header");
	h.hlen = 48;
	prb_hdr_encode(&h, buf, sizeof(buf));
	CHECK(prb_hdr_decode(buf, sizeof(buf), &out, &err) == -EBADMSG && err.offset == 4,
	      "plen below hlen");
	CHECK(prb_hdr_decode(buf, 15, &out, &err) == -EMSGSIZE, "short header");
}

int main(void)
{
	crc32c_known_answers();
	pdu_lengths();
	urls();
	status_map();
	names();
	unknown_opcode();
	return test_finish("test_helpers");
}
