/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC32C digests on the TCP binding (features HDGST, DDGST; optional). Responses are
 * checked by the receive path itself: a missing, unexpected or wrong digest from the
 * brick fails the call that receives it.
 */
#include <errno.h>
#include <string.h>

#include "suite.h"

/* Every kind of operation through a connection with the given digests. */
static void exercise(uint32_t features)
{
	struct cf_conn *c =
		cf_connect_features(features | (cf_brick()->features & PRB_FEAT_ATOMICS));
	uint8_t data[5000], back[5000];
	struct prb_extent ext[4];
	struct prb_info_rsp info;
	uint32_t count, flags;
	uint64_t h, next;

	CF_CHECK_FATAL((c->hello.features & features) == features,
		       "features 0x%x asked, 0x%x granted", features, c->hello.features);
	cf_pattern(data, sizeof(data), features);
	CF_ST(c, cf_keepalive(c), PRB_ST_OK);
	CF_ST(c, cf_info(c, &info), PRB_ST_OK);
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 2), PRB_ST_OK);
	/* An error response with digests; that it is EEXIST rests on PRB-ALLOC-2. */
	CF_SETUP("PRB-ALLOC-2")
		CF_ST(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_EEXIST);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(1), PRB_MAP_WRITE, &h), PRB_ST_OK);
	CF_ST(c, cf_write(c, h, 3, sizeof(data), data), PRB_ST_OK);
	CF_ST(c, cf_read(c, h, 3, sizeof(back), back), PRB_ST_OK);
	CF_CHECK(memcmp(data, back, sizeof(data)) == 0, "data differs with digests 0x%x", features);
	CF_ST(c, cf_flush(c, h, 0, 8192), PRB_ST_OK);
	CF_ST(c, cf_list(c, cf_addr(0), 4, ext, &count, &next, &flags), PRB_ST_OK);
	CF_ST(c, cf_unmap(c, h), PRB_ST_OK);
	CF_ST(c, cf_free(c, cf_addr(0), 2, 0), PRB_ST_OK);
}

static void header_negotiated(void)
{
	exercise(PRB_FEAT_HDGST);
}

static void data_negotiated(void)
{
	exercise(PRB_FEAT_DDGST);
}

static void both_negotiated(void)
{
	exercise(PRB_FEAT_HDGST | PRB_FEAT_DDGST);
}

/* How send_broken() spoils a PDU's digests. */
enum breakage { BAD_CRC, BAD_PADDING, NO_FLAG, EXTRA_FLAG, DDGST_NO_PAYLOAD };

/* Send a KEEPALIVE broken `how`; expect TERM HEADER_DIGEST at expect_offset. */
static void send_broken(struct cf_conn *c, enum breakage how, unsigned expect_offset)
{
	uint8_t buf[64] = {0};
	union prb_msg m = {.keepalive_req = {.hdr = {.tag = 0x44}}};
	int len = cf_build(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, buf, sizeof(buf));

	CF_CHECK_FATAL(len > 0, "encode");
	switch (how) {
	case BAD_CRC:
		buf[PRB_HDR_SIZE] ^= 0x01; /* the header digest's CRC32C */
		break;
	case BAD_PADDING:
		buf[PRB_HDR_SIZE + PRB_CRC32C_SIZE] = 1; /* its zero padding */
		break;
	case NO_FLAG: /* drop the digest the negotiation requires */
		buf[PRB_HDR_FLAGS_OFFSET] &= (uint8_t)~PRB_HDR_HDGST;
		cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, PRB_HDR_SIZE);
		len = PRB_HDR_SIZE;
		break;
	case EXTRA_FLAG: /* a header digest nobody negotiated */
		buf[PRB_HDR_FLAGS_OFFSET] |= PRB_HDR_HDGST;
		cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, PRB_HDR_SIZE + PRB_HDGST_SIZE);
		cf_put_le(buf, PRB_HDR_SIZE, PRB_CRC32C_SIZE, prb_crc32c(buf, PRB_HDR_SIZE));
		cf_put_le(buf, PRB_HDR_SIZE + PRB_CRC32C_SIZE, PRB_HDGST_SIZE - PRB_CRC32C_SIZE, 0);
		len = PRB_HDR_SIZE + PRB_HDGST_SIZE;
		break;
	case DDGST_NO_PAYLOAD: /* DDGST on a PDU without payload */
		buf[PRB_HDR_FLAGS_OFFSET] |= PRB_HDR_DDGST;
		cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, (uint64_t)len + PRB_DDGST_SIZE);
		cf_fix_hdgst(buf);
		len += (int)PRB_DDGST_SIZE;
		break;
	}
	CF_CHECK_FATAL(cf_send_raw(c, buf, (size_t)len) == 0, "send");
	CF_TERM_AT(c, PRB_TERM_HEADER_DIGEST, expect_offset, 0x44);
}

static void header_mismatch(void)
{
	send_broken(cf_connect_features(PRB_FEAT_HDGST), BAD_CRC, PRB_HDR_SIZE);
	send_broken(cf_connect_features(PRB_FEAT_HDGST), BAD_PADDING, PRB_HDR_SIZE);
	cf_check_alive();
}

static void header_flags(void)
{
	send_broken(cf_connect_features(PRB_FEAT_HDGST), NO_FLAG, PRB_HDR_FLAGS_OFFSET);
	send_broken(cf_connect_features(0), EXTRA_FLAG, PRB_HDR_FLAGS_OFFSET);
	send_broken(cf_connect_features(PRB_FEAT_DDGST), DDGST_NO_PAYLOAD, PRB_HDR_FLAGS_OFFSET);
	cf_check_alive();
}

/* HELLO never carries digests. */
static void hello_with_digest(void)
{
	struct cf_conn *c = cf_open();
	struct prb_hello_req r = {
		.min_version = PRB_VERSION,
		.max_version = PRB_VERSION,
		.queue_depth = 4,
		.features = PRB_FEAT_HDGST,
		.max_pdu = CF_RX_MAX,
	};
	union prb_msg m = {.hello_req = r};
	uint8_t buf[64];
	int len;

	m.hdr.tag = 0x44;
	len = cf_build(c, PRB_MSG_HELLO_REQ, &m, NULL, 0, buf, sizeof(buf));
	CF_CHECK_FATAL(len == PRB_HELLO_REQ_SIZE, "encode");
	buf[PRB_HDR_FLAGS_OFFSET] = PRB_HDR_HDGST;
	cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, PRB_HELLO_REQ_SIZE + PRB_HDGST_SIZE);
	cf_put_le(buf, PRB_HELLO_REQ_SIZE, PRB_CRC32C_SIZE, prb_crc32c(buf, PRB_HELLO_REQ_SIZE));
	cf_put_le(buf, PRB_HELLO_REQ_SIZE + PRB_CRC32C_SIZE, PRB_HDGST_SIZE - PRB_CRC32C_SIZE, 0);
	CF_CHECK_FATAL(cf_send_raw(c, buf, PRB_HELLO_REQ_SIZE + PRB_HDGST_SIZE) == 0, "send");
	CF_TERM_AT(c, PRB_TERM_HEADER_DIGEST, PRB_HDR_FLAGS_OFFSET, 0x44);
	/* The HELLO response of a digest connection carries none (checked on receive). */
	c = cf_connect_features(PRB_FEAT_HDGST | PRB_FEAT_DDGST);
	CF_ST(c, cf_keepalive(c), PRB_ST_OK);
}

/* A WRITE whose data digest is wrong: EBADMSG, nothing written, connection goes on. */
static void data_mismatch(void)
{
	struct cf_conn *c = cf_connect_features(PRB_FEAT_DDGST);
	uint8_t data[256], back[256], zero[256] = {0}, buf[512];
	union prb_msg m, rsp;
	uint64_t h;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
	cf_pattern(data, sizeof(data), 8);
	m = (union prb_msg){.write_req = {.handle = h, .offset = 64, .length = sizeof(data)}};
	m.hdr.tag = 0x45;
	int len = cf_build(c, PRB_MSG_WRITE_REQ, &m, data, sizeof(data), buf, sizeof(buf));
	CF_CHECK_FATAL(len > 0, "encode");
	buf[len - 1] ^= 0x80;
	CF_CHECK_FATAL(cf_send_raw(c, buf, (size_t)len) == 0, "send");
	CF_ST(c, cf_recv_rsp(c, 0x45, &rsp), PRB_ST_EBADMSG);
	/* The payload intact but the digest wrong: same. Nothing was written either time. */
	buf[len - 1] ^= 0x80;
	buf[PRB_WRITE_REQ_SIZE + 5] ^= 0x01;
	CF_CHECK_FATAL(cf_send_raw(c, buf, (size_t)len) == 0, "send");
	CF_ST(c, cf_recv_rsp(c, 0x45, &rsp), PRB_ST_EBADMSG);
	CF_ST(c, cf_read(c, h, 64, sizeof(back), back), PRB_ST_OK);
	CF_CHECK(memcmp(back, zero, sizeof(back)) == 0, "a WRITE with a bad data digest wrote");
	CF_ST(c, cf_write(c, h, 64, sizeof(data), data), PRB_ST_OK);
}

/* A WRITE with data digests, its digest right or spoilt: the status of its answer. */
static int write_status(struct cf_conn *c, uint64_t h, uint32_t offset, bool spoil_digest)
{
	uint8_t data[64], buf[256];
	union prb_msg m = {.write_req = {.handle = h, .offset = offset, .length = sizeof(data)}};
	union prb_msg rsp;
	int len;

	cf_pattern(data, sizeof(data), offset);
	m.hdr.tag = 0x46;
	len = cf_build(c, PRB_MSG_WRITE_REQ, &m, data, sizeof(data), buf, sizeof(buf));
	if (len <= 0)
		return -EINVAL;
	if (spoil_digest)
		buf[len - 1] ^= 0x80;
	if (cf_send_raw(c, buf, (size_t)len) != 0)
		return -EIO;
	return cf_recv_rsp(c, 0x46, &rsp);
}

/*
 * EBADMSG is check 4 of section 7.1, before the operation's own statuses (check 5):
 * a WRITE through a bad handle, a read-only handle or past the block with a wrong
 * data digest is EBADMSG; with the digest right, the handle's status.
 */
static void data_mismatch_first(void)
{
	struct cf_conn *c = cf_connect_features(PRB_FEAT_DDGST);
	uint64_t rw, ro;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &rw), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &ro), PRB_ST_OK);
	CF_ST(c, write_status(c, 0, 0, true), PRB_ST_EBADMSG);
	CF_ST(c, write_status(c, 0, 0, false), PRB_ST_ESTALE);
	CF_ST(c, write_status(c, ro, 0, true), PRB_ST_EBADMSG);
	CF_ST(c, write_status(c, ro, 0, false), PRB_ST_EPERM);
	CF_ST(c, write_status(c, rw, PRB_BLOCK_SIZE - 8, true), PRB_ST_EBADMSG);
	CF_ST(c, write_status(c, rw, PRB_BLOCK_SIZE - 8, false), PRB_ST_ERANGE);
	CF_ST(c, write_status(c, rw, 0, false), PRB_ST_OK);
}

static void data_flag_missing(void)
{
	struct cf_conn *c = cf_connect_features(PRB_FEAT_DDGST);
	uint8_t data[32] = {1}, buf[128];
	union prb_msg m;
	uint64_t h;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
	m = (union prb_msg){.write_req = {.handle = h, .offset = 0, .length = sizeof(data)}};
	m.hdr.tag = 0x44;
	int len = cf_build(c, PRB_MSG_WRITE_REQ, &m, data, sizeof(data), buf, sizeof(buf));
	CF_CHECK_FATAL(len > 0, "encode");
	buf[PRB_HDR_FLAGS_OFFSET] &= (uint8_t)~PRB_HDR_DDGST;
	cf_put_le(buf, PRB_HDR_PLEN_OFFSET, PRB_HDR_PLEN_SIZE, (uint64_t)len - PRB_DDGST_SIZE);
	CF_CHECK_FATAL(cf_send_raw(c, buf, (size_t)len - PRB_DDGST_SIZE) == 0, "send");
	CF_TERM_AT(c, PRB_TERM_HEADER_DIGEST, PRB_HDR_FLAGS_OFFSET, 0x44);
	cf_check_alive();
}

const struct cf_test cf_tests_digest[] = {
	{"Digest.Header.Negotiated", header_negotiated, "PRB-DGST-1 PRB-DGST-4 PRB-PDU-10", false,
	 0, PRB_FEAT_HDGST, "with HDGST every PDU both ways carries a correct header digest"},
	{"Digest.Data.Negotiated", data_negotiated, "PRB-DGST-2 PRB-DGST-5", false, 0,
	 PRB_FEAT_DDGST,
	 "with DDGST every PDU with payload both ways carries a correct data digest"},
	{"Digest.Both.Negotiated", both_negotiated, "PRB-DGST-1 PRB-DGST-2 PRB-DGST-4 PRB-DGST-5",
	 false, 0, PRB_FEAT_HDGST | PRB_FEAT_DDGST, "both digests at once"},
	{"Digest.Header.Mismatch", header_mismatch, "PRB-DGST-6 PRB-PDU-12 PRB-TERM-3", false, 0,
	 PRB_FEAT_HDGST, "wrong header digest or nonzero padding: TERM HEADER_DIGEST at hlen"},
	{"Digest.Header.Flags", header_flags, "PRB-DGST-4 PRB-DGST-5 PRB-DGST-6", false, 0,
	 PRB_FEAT_HDGST | PRB_FEAT_DDGST,
	 "digest flags not as negotiated (missing, unexpected, DDGST without payload): TERM"},
	{"Digest.Hello.NoDigest", hello_with_digest, "PRB-DGST-3", false, 0, PRB_FEAT_HDGST,
	 "a HELLO carrying a digest: TERM HEADER_DIGEST; HELLO responses carry none"},
	{"Digest.Data.Mismatch", data_mismatch, "PRB-DGST-7 PRB-REQ-6", false, 0, PRB_FEAT_DDGST,
	 "WRITE with a wrong data digest: EBADMSG, nothing written, connection goes on"},
	{"Digest.Data.MismatchFirst", data_mismatch_first, "PRB-REQ-1 PRB-DGST-7", false, 0,
	 PRB_FEAT_DDGST,
	 "a wrong data digest is EBADMSG before ESTALE, EPERM or ERANGE of the WRITE"},
	{"Digest.Data.FlagMissing", data_flag_missing, "PRB-DGST-5 PRB-DGST-6", false, 0,
	 PRB_FEAT_DDGST, "WRITE without the negotiated data digest: TERM HEADER_DIGEST"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
