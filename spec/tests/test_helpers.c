/* The hand-written helpers and the generated tables around the codec: CRC32C known
 * answers, PDU length arithmetic, URL parsing and formatting (one function for each of
 * PRB-URL-1 to PRB-URL-6), status <-> errno, names, and the header decoder's behaviour
 * on unknown opcodes. */
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
	const char *formatted; /* prb_url_format's text when not the input's */
};

/*
 * Parse each case with parse (prb_url_parse or prb_url_parse_connect); for a valid
 * one, check the fields and that formatting gives the expected text back. req
 * names the requirement the cases check, for the failure message.
 */
static void url_cases_check(const char *req, int (*parse)(const char *, struct prb_url *),
			    const struct url_case *cases, size_t n)
{
	struct prb_url u;
	char buf[512];
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct url_case *c = &cases[i];

		memset(&u, 0, sizeof(u));
		rc = parse(c->text, &u);
		CHECK(rc == c->rc, "%s: parse '%s': %d, expected %d", req, c->text, rc, c->rc);
		if (rc != 0 || c->rc != 0)
			continue;
		CHECK(u.transport == c->transport && strcmp(u.host, c->host) == 0 &&
			      u.port == c->port,
		      "%s: parse '%s': %d %s %u", req, c->text, (int)u.transport, u.host, u.port);
		rc = prb_url_format(&u, buf, sizeof(buf));
		CHECK(rc > 0 && strcmp(buf, c->formatted ? c->formatted : c->text) == 0,
		      "%s: format '%s': '%s'", req, c->text, buf);
		CHECK(prb_url_format(&u, buf, (size_t)rc) == -ENOBUFS,
		      "%s: format '%s' into a short buffer", req, c->text);
	}
}

#define URL_CASES(req, parse, cases)                                                               \
	url_cases_check(req, parse, cases, sizeof(cases) / sizeof(cases[0]))

/* PRB-URL-1: scheme tcp names the TCP binding, rdma the RDMA binding. */
static void url_schemes(void)
{
	static const struct url_case cases[] = {
		{"tcp://127.0.0.1:40123", 0, PRB_TRANSPORT_TCP, "127.0.0.1", 40123, NULL},
		{"rdma://127.0.0.1:40123", 0, PRB_TRANSPORT_RDMA, "127.0.0.1", 40123, NULL},
		{"tcp://[::1]:9", 0, PRB_TRANSPORT_TCP, "::1", 9, NULL},
		{"rdma://[::1]:9", 0, PRB_TRANSPORT_RDMA, "::1", 9, NULL},
	};

	URL_CASES("PRB-URL-1", prb_url_parse, cases);
}

/* PRB-URL-2: without a port, the spec's tcp_port or rdma_port. */
static void url_default_ports(void)
{
	static const struct url_case cases[] = {
		{"tcp://127.0.0.1", 0, PRB_TRANSPORT_TCP, "127.0.0.1", PRB_TCP_PORT,
		 "tcp://127.0.0.1:7117"},
		{"rdma://10.0.0.2", 0, PRB_TRANSPORT_RDMA, "10.0.0.2", PRB_RDMA_PORT,
		 "rdma://10.0.0.2:7117"},
		{"tcp://[::1]", 0, PRB_TRANSPORT_TCP, "::1", PRB_TCP_PORT, "tcp://[::1]:7117"},
		{"rdma://brick1", 0, PRB_TRANSPORT_RDMA, "brick1", PRB_RDMA_PORT,
		 "rdma://brick1:7117"},
	};

	URL_CASES("PRB-URL-2", prb_url_parse, cases);
	URL_CASES("PRB-URL-2", prb_url_parse_connect, cases);
}

/*
 * PRB-URL-3: IPv6 only in brackets. Section 14's grammar: IPv6address and
 * IPv4address of RFC 3986, and no zone identifier in this version.
 */
static void url_ipv6(void)
{
	static const struct url_case cases[] = {
		{"tcp://[2001:db8::7]:1", 0, PRB_TRANSPORT_TCP, "2001:db8::7", 1, NULL},
		{"rdma://[::ffff:192.0.2.7]:2", 0, PRB_TRANSPORT_RDMA, "::ffff:192.0.2.7", 2, NULL},
		{"tcp://::1", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://::1:7117", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://2001:db8::7", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[::1", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://::1]", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[]", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[not-v6]", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[127.0.0.1]", -EINVAL, 0, NULL, 0, NULL},
		{"rdma://[fe80::1%eth0]:7000", -EINVAL, 0, NULL, 0, NULL},
		{"rdma://[fe80::1%25eth0]:7000", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[fe80::1%1]", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[::1%]", -EINVAL, 0, NULL, 0, NULL},
	};

	URL_CASES("PRB-URL-3", prb_url_parse, cases);
	URL_CASES("PRB-URL-3", prb_url_parse_connect, cases);
}

/*
 * PRB-URL-4: another scheme, an empty host, a host over 255 characters, an empty
 * port, a port above 65535 or with non-digits, and anything after the port.
 */
static void url_rejects(void)
{
	static const struct url_case cases[] = {
		{"tcp://brick-1.example.org:65535", 0, PRB_TRANSPORT_TCP, "brick-1.example.org",
		 65535, NULL},
		{"", -EINVAL, 0, NULL, 0, NULL},
		{"udp://host", -EINVAL, 0, NULL, 0, NULL},
		{"TCP://host", -EINVAL, 0, NULL, 0, NULL},
		{"tcp:/host", -EINVAL, 0, NULL, 0, NULL},
		{"host:7117", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://:7117", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[::1]:", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:65536", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:123456", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:-1", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:+80", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:80x", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:0x50", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:80/", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host/path", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:80/path", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host?query", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host:80?query", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host#fragment", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[::1]:80#fragment", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://[::1]x", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://user@host", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://user:pw@host:80", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://host name", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://br!ck", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://brick~1", -EINVAL, 0, NULL, 0, NULL},
	};
	char text[6 + 256 + 1];
	struct prb_url u;

	URL_CASES("PRB-URL-4", prb_url_parse, cases);
	URL_CASES("PRB-URL-4", prb_url_parse_connect, cases);
	CHECK(prb_url_parse(NULL, &u) == -EINVAL, "PRB-URL-4: NULL url");
	CHECK(prb_url_parse_connect(NULL, &u) == -EINVAL, "PRB-URL-4: NULL url");
	/* 255 characters of host are allowed, 256 are not. */
	memcpy(text, "tcp://", 6);
	memset(text + 6, 'a', 256);
	text[6 + 255] = '\0';
	CHECK(prb_url_parse(text, &u) == 0 && strlen(u.host) == 255,
	      "PRB-URL-4: host of 255 characters");
	text[6 + 255] = 'a';
	text[6 + 256] = '\0';
	CHECK(prb_url_parse(text, &u) == -EINVAL, "PRB-URL-4: host of 256 characters");
	CHECK(prb_url_parse_connect(text, &u) == -EINVAL, "PRB-URL-4: host of 256 characters");
}

/*
 * PRB-URL-5: port 0 means any free port in a URL a brick listens on
 * (prb_url_parse), and is rejected in a URL an initiator connects to
 * (prb_url_parse_connect).
 */
static void url_port_zero(void)
{
	static const struct url_case listen[] = {
		{"tcp://localhost:0", 0, PRB_TRANSPORT_TCP, "localhost", 0, NULL},
		{"rdma://[::1]:0", 0, PRB_TRANSPORT_RDMA, "::1", 0, NULL},
		{"tcp://127.0.0.1:00000", 0, PRB_TRANSPORT_TCP, "127.0.0.1", 0,
		 "tcp://127.0.0.1:0"},
	};
	static const struct url_case connect[] = {
		{"tcp://localhost:0", -EINVAL, 0, NULL, 0, NULL},
		{"rdma://[::1]:0", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://127.0.0.1:00000", -EINVAL, 0, NULL, 0, NULL},
		{"tcp://127.0.0.1:1", 0, PRB_TRANSPORT_TCP, "127.0.0.1", 1, NULL},
		{"tcp://127.0.0.1:00080", 0, PRB_TRANSPORT_TCP, "127.0.0.1", 80,
		 "tcp://127.0.0.1:80"},
	};

	URL_CASES("PRB-URL-5", prb_url_parse, listen);
	URL_CASES("PRB-URL-5", prb_url_parse_connect, connect);
}

/*
 * PRB-URL-6: the host without brackets and the port as a number; formatting puts
 * the brackets back around an IPv6 address (and none around others).
 */
static void url_host_and_format(void)
{
	static const struct url_case cases[] = {
		{"tcp://[::1]:9", 0, PRB_TRANSPORT_TCP, "::1", 9, NULL},
		{"rdma://[2001:db8::7]", 0, PRB_TRANSPORT_RDMA, "2001:db8::7", PRB_RDMA_PORT,
		 "rdma://[2001:db8::7]:7117"},
		{"tcp://192.0.2.7:7200", 0, PRB_TRANSPORT_TCP, "192.0.2.7", 7200, NULL},
		{"tcp://brick1:65535", 0, PRB_TRANSPORT_TCP, "brick1", 65535, NULL},
		{"tcp://brick_1.lab", 0, PRB_TRANSPORT_TCP, "brick_1.lab", PRB_TCP_PORT,
		 "tcp://brick_1.lab:7117"},
	};
	struct prb_url u;
	char buf[64];

	URL_CASES("PRB-URL-6", prb_url_parse, cases);
	memset(&u, 0, sizeof(u));
	CHECK(prb_url_format(&u, buf, sizeof(buf)) == -EINVAL, "PRB-URL-6: format an empty host");
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
	url_schemes();
	url_default_ports();
	url_ipv6();
	url_rejects();
	url_port_zero();
	url_host_and_format();
	status_map();
	names();
	unknown_opcode();
	return test_finish("test_helpers");
}
