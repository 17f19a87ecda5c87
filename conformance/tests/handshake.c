/* SPDX-License-Identifier: Apache-2.0 */
/* Handshake: HELLO negotiation, PDU sequence, INFO, KEEPALIVE, tags. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"

/* A HELLO request a correct initiator would send. */
static struct prb_hello_req good_hello(void)
{
	struct prb_hello_req r = {
		.min_version = PRB_VERSION,
		.max_version = PRB_VERSION,
		.queue_depth = 16,
		.features = 0,
		.max_pdu = CF_RX_MAX,
	};
	return r;
}

static void hello_negotiate(void)
{
	struct cf_conn *c = cf_open();
	struct prb_hello_req req = good_hello();

	CF_ST_FATAL(c, cf_hello(c, &req), PRB_ST_OK);
	const struct prb_hello_rsp *h = &c->hello;
	CF_CHECK(h->version == PRB_VERSION, "version %u, expected %u", h->version, PRB_VERSION);
	CF_CHECK(h->queue_depth >= 1 && h->queue_depth <= 16,
		 "queue_depth %u granted for 16 requested", h->queue_depth);
	CF_CHECK(h->max_pdu >= PRB_MIN_MAX_PDU, "max_pdu %u below %u", h->max_pdu, PRB_MIN_MAX_PDU);
	CF_CHECK(h->max_data >= 4096 && h->max_data <= PRB_MAX_DATA_LIMIT, "max_data %u",
		 h->max_data);
	CF_CHECK((uint64_t)h->max_data + PRB_WRITE_REQ_SIZE + PRB_HDGST_SIZE + PRB_DDGST_SIZE <=
			 h->max_pdu,
		 "a WRITE of max_data %u does not fit the brick's max_pdu %u", h->max_data,
		 h->max_pdu);
	CF_CHECK(h->boot_epoch >= 1, "boot_epoch 0");
	CF_CHECK(h->max_mappings >= 1, "max_mappings 0");
	CF_CHECK(h->free_blocks <= h->capacity_blocks, "free_blocks %llu > capacity %llu",
		 (unsigned long long)h->free_blocks, (unsigned long long)h->capacity_blocks);
}

static void hello_queue_depth(void)
{
	struct prb_hello_req req = good_hello();
	struct cf_conn *c = cf_open();

	req.queue_depth = 1;
	CF_ST_FATAL(c, cf_hello(c, &req), PRB_ST_OK);
	CF_CHECK(c->hello.queue_depth == 1, "queue_depth %u granted for 1 requested",
		 c->hello.queue_depth);
	c = cf_open();
	req.queue_depth = PRB_MAX_QUEUE_DEPTH;
	CF_ST_FATAL(c, cf_hello(c, &req), PRB_ST_OK);
	CF_CHECK(c->hello.queue_depth >= 1 && c->hello.queue_depth <= PRB_MAX_QUEUE_DEPTH,
		 "queue_depth %u granted for %u requested", c->hello.queue_depth,
		 PRB_MAX_QUEUE_DEPTH);
}

/* The smallest max_pdu an initiator may announce: the brick never sends more. */
static void hello_small_max_pdu(void)
{
	struct prb_hello_req req = good_hello();
	struct cf_conn *c = cf_open();
	uint8_t *buf;
	uint64_t h;

	req.max_pdu = PRB_MIN_MAX_PDU;
	CF_ST_FATAL(c, cf_hello(c, &req), PRB_ST_OK);
	CF_CHECK((uint64_t)c->hello.max_data + PRB_HDR_SIZE + PRB_HDGST_SIZE + PRB_DDGST_SIZE <=
			 PRB_MIN_MAX_PDU,
		 "max_data %u: a READ response would not fit our max_pdu %u", c->hello.max_data,
		 PRB_MIN_MAX_PDU);
	buf = cf_mem(c->hello.max_data);
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &h), PRB_ST_OK);
	/* The receive path fails any PDU above the max_pdu we announced. */
	CF_ST(c, cf_read(c, h, 0, c->hello.max_data, buf), PRB_ST_OK);
}

static void hello_version_range(void)
{
	struct prb_hello_req req = good_hello();
	struct cf_conn *c = cf_open();

	/* The highest version both speak: the brick's, when we offer a wide range. */
	req.max_version = 0x7FFF;
	CF_ST_FATAL(c, cf_hello(c, &req), PRB_ST_OK);
	CF_CHECK(c->hello.version >= PRB_VERSION, "version %u chosen from 1..0x7fff",
		 c->hello.version);
	/* Nothing in common: an ENOTSUP error response, then the brick closes. */
	c = cf_open();
	req.min_version = 0x7FF0;
	req.max_version = 0x7FFF;
	CF_ST(c, cf_hello(c, &req), PRB_ST_ENOTSUP);
	CF_CHECK(c->rx_hdr.hlen == PRB_HDR_SIZE && c->rx_hdr.plen == PRB_HDR_SIZE,
		 "error response hlen %u plen %u, expected 16/16", c->rx_hdr.hlen, c->rx_hdr.plen);
	CF_CHECK(cf_wait_closed(c, cf_brick()->timeout_ms) == 0,
		 "brick kept the connection open after refusing every version");
}

static void hello_features(void)
{
	const uint32_t asked_only =
		PRB_FEAT_HDGST | PRB_FEAT_DDGST | PRB_FEAT_ATOMICS | PRB_FEAT_RDMA_FLUSH;
	struct prb_hello_req req = good_hello();
	struct cf_conn *none = cf_open(), *all = cf_open();

	CF_ST_FATAL(none, cf_hello(none, &req), PRB_ST_OK);
	CF_CHECK((none->hello.features & asked_only) == 0,
		 "features 0x%x granted when none were asked for", none->hello.features);
	req.features = PRB_FEAT_ALL;
	CF_ST_FATAL(all, cf_hello(all, &req), PRB_ST_OK);
	CF_CHECK((all->hello.features & ~PRB_FEAT_ALL) == 0, "undefined feature bits 0x%x",
		 all->hello.features & ~PRB_FEAT_ALL);
	CF_CHECK(!(all->hello.features & PRB_FEAT_RDMA_FLUSH),
		 "RDMA_FLUSH granted on a TCP connection");
	CF_CHECK((all->hello.features & ~asked_only) == (none->hello.features & ~asked_only),
		 "informational features differ between connections: 0x%x and 0x%x",
		 all->hello.features, none->hello.features);
	/* A feature granted must work: digests are checked in Digest.*, atomics here. */
	if (all->hello.features & PRB_FEAT_ATOMICS) {
		uint64_t h, orig;
		CF_SETUP(CF_REQ_ALLOC)
			CF_ST_FATAL(all, cf_alloc(all, cf_addr(0), 1), PRB_ST_OK);
		CF_SETUP(CF_REQ_MAP)
			CF_ST_FATAL(all, cf_map(all, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
		CF_ST(all, cf_fadd(all, h, 0, 1, &orig), PRB_ST_OK);
	}
}

static void hello_identity(void)
{
	struct cf_conn *a = cf_connect(), *b = cf_connect();
	struct prb_info_rsp info;

	CF_CHECK(memcmp(a->hello.brick_id, b->hello.brick_id, 16) == 0,
		 "two connections report different brick_id");
	CF_CHECK(a->hello.boot_epoch == b->hello.boot_epoch,
		 "two connections report boot_epoch %llu and %llu",
		 (unsigned long long)a->hello.boot_epoch, (unsigned long long)b->hello.boot_epoch);
	CF_CHECK(a->hello.capacity_blocks == b->hello.capacity_blocks, "capacity differs");
	CF_ST_FATAL(a, cf_info(a, &info), PRB_ST_OK);
	CF_CHECK(memcmp(info.brick_id, a->hello.brick_id, 16) == 0, "INFO brick_id != HELLO's");
	CF_CHECK(info.boot_epoch == a->hello.boot_epoch, "INFO boot_epoch != HELLO's");
	CF_CHECK(info.capacity_blocks == a->hello.capacity_blocks, "INFO capacity != HELLO's");
}

static void info_stats(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_info_rsp i1, i2;

	CF_ST_FATAL(c, cf_info(c, &i1), PRB_ST_OK);
	CF_CHECK(i1.capacity_blocks == i1.fast_blocks + i1.tier_blocks,
		 "capacity %llu != fast %llu + tier %llu", (unsigned long long)i1.capacity_blocks,
		 (unsigned long long)i1.fast_blocks, (unsigned long long)i1.tier_blocks);
	CF_CHECK(i1.free_blocks <= i1.capacity_blocks, "free > capacity");
	CF_CHECK(i1.fast_free <= i1.fast_blocks && i1.tier_free <= i1.tier_blocks,
		 "free slots exceed slots");
	bool tiering = (c->hello.features & PRB_FEAT_TIERING) != 0;
	CF_CHECK(tiering == (i1.tier_blocks > 0), "TIERING %s but tier_blocks %llu",
		 tiering ? "granted" : "not granted", (unsigned long long)i1.tier_blocks);
	CF_CHECK(tiering || i1.tier_free == 0, "no tier but tier_free %llu",
		 (unsigned long long)i1.tier_free);
	CF_CHECK(i1.connections >= 1, "INFO counts %u connections while one asks", i1.connections);
	CF_ST(c, cf_keepalive(c), PRB_ST_OK);
	CF_ST_FATAL(c, cf_info(c, &i2), PRB_ST_OK);
	CF_CHECK(i2.requests > i1.requests, "requests counter did not grow (%llu then %llu)",
		 (unsigned long long)i1.requests, (unsigned long long)i2.requests);
}

/* Exact counters, assuming nobody else uses the brick meanwhile (--destructive). */
static void info_counts(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_info_rsp i0, i1, i2, i3;
	uint64_t h[3];

	CF_ST_FATAL(c, cf_info(c, &i0), PRB_ST_OK);
	CF_CHECK(i0.free_blocks == c->hello.free_blocks,
		 "HELLO free_blocks %llu, INFO right after %llu",
		 (unsigned long long)c->hello.free_blocks, (unsigned long long)i0.free_blocks);
	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 5), PRB_ST_OK);
	CF_ST_FATAL(c, cf_info(c, &i1), PRB_ST_OK);
	CF_CHECK(i1.free_blocks + 5 == i0.free_blocks, "free_blocks %llu -> %llu after ALLOC of 5",
		 (unsigned long long)i0.free_blocks, (unsigned long long)i1.free_blocks);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &h[0]), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &h[1]), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(3), PRB_MAP_WRITE, &h[2]), PRB_ST_OK);
	CF_ST_FATAL(c, cf_info(c, &i2), PRB_ST_OK);
	CF_CHECK(i2.mapped_blocks == i1.mapped_blocks + 2,
		 "mapped_blocks %llu -> %llu after mapping 2 blocks (one twice)",
		 (unsigned long long)i1.mapped_blocks, (unsigned long long)i2.mapped_blocks);
	CF_CHECK(i2.mapped_blocks <= i2.fast_blocks, "mapped_blocks above fast_blocks");
	CF_SETUP(CF_REQ_UNMAP)
		CF_ST(c, cf_unmap(c, h[0]), PRB_ST_OK);
	CF_SETUP(CF_REQ_UNMAP)
		CF_ST(c, cf_unmap(c, h[2]), PRB_ST_OK);
	CF_SETUP(CF_REQ_FREE)
		CF_ST_FATAL(c, cf_free(c, cf_addr(1), 2, 0), PRB_ST_OK);
	CF_ST_FATAL(c, cf_info(c, &i3), PRB_ST_OK);
	CF_CHECK(i3.mapped_blocks == i1.mapped_blocks + 1, "mapped_blocks %llu after unmapping",
		 (unsigned long long)i3.mapped_blocks);
	CF_CHECK(i3.free_blocks == i1.free_blocks + 2, "free_blocks %llu -> %llu after FREE of 2",
		 (unsigned long long)i1.free_blocks, (unsigned long long)i3.free_blocks);
}

static void seq_first_not_hello(void)
{
	struct cf_conn *c = cf_open();
	union prb_msg m = {.alloc_req = {.addr = cf_addr(0), .blocks = 1}};

	/* The brick says nothing before it has the first PDU. */
	CF_CHECK(cf_recv_pdu(c, 200) == -ETIMEDOUT, "brick sent bytes before HELLO: %s", c->detail);
	CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_ALLOC_REQ, &m, NULL, 0, false) == 0, "send");
	CF_TERM(c, PRB_TERM_SEQUENCE);
	c = cf_open();
	union prb_msg k = {.keepalive_req = {.hdr = {0}}};
	CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_KEEPALIVE_REQ, &k, NULL, 0, false) == 0, "send");
	CF_TERM(c, PRB_TERM_SEQUENCE);
	/* The ALLOC must not have happened. */
	c = cf_connect();
	CF_ST(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
}

static void seq_second_hello(void)
{
	struct cf_conn *c = cf_connect();
	struct prb_hello_req req = good_hello();
	union prb_msg m = {.hello_req = req}, rsp;

	CF_ST(c, cf_call(c, PRB_MSG_HELLO_REQ, &m, NULL, 0, &rsp), PRB_ST_EPROTO);
	CF_ST(c, cf_keepalive(c), PRB_ST_OK);
}

static void seq_response_to_brick(void)
{
	struct cf_conn *c = cf_connect();
	union prb_msg m = {.keepalive_rsp = {.hdr = {.tag = 7}}};

	CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_KEEPALIVE_RSP, &m, NULL, 0, true) == 0, "send");
	CF_TERM(c, PRB_TERM_SEQUENCE);
	cf_check_alive();
}

static void keepalive_basic(void)
{
	struct cf_conn *c = cf_connect();

	for (int i = 0; i < 8; i++)
		CF_ST(c, cf_keepalive(c), PRB_ST_OK);
}

/* Many requests in flight with arbitrary tags: each answered once with its tag. */
static void pipeline_tags(void)
{
	struct cf_conn *c = cf_connect();
	uint32_t depth = c->hello.queue_depth < 32 ? c->hello.queue_depth : 32;
	uint32_t tags[32];
	bool seen[32] = {false};

	for (uint32_t i = 0; i < depth; i++) {
		union prb_msg m;
		tags[i] = 0x9E3779B9U * (i + 1);
		if (i % 2) {
			m = (union prb_msg){.info_req = {.hdr = {.tag = tags[i]}}};
			CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_INFO_REQ, &m, NULL, 0, true) == 0,
				       "send");
		} else {
			m = (union prb_msg){.keepalive_req = {.hdr = {.tag = tags[i]}}};
			CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, true) ==
					       0,
				       "send");
		}
	}
	for (uint32_t n = 0; n < depth; n++) {
		int ret = cf_recv_pdu(c, -1);
		CF_CHECK_FATAL(ret == 0, "response %u of %u: %s", n + 1, depth, c->detail);
		uint32_t i = 0;
		while (i < depth && tags[i] != c->rx_hdr.tag)
			i++;
		CF_CHECK_FATAL(i < depth && !seen[i], "response with tag 0x%x not asked or twice",
			       c->rx_hdr.tag);
		seen[i] = true;
		uint8_t want =
			(uint8_t)((i % 2 ? PRB_OP_INFO : PRB_OP_KEEPALIVE) | PRB_OPCODE_RESPONSE);
		CF_CHECK(c->rx_hdr.opcode == want, "tag 0x%x answered with opcode 0x%x",
			 c->rx_hdr.tag, c->rx_hdr.opcode);
		CF_CHECK(c->rx_hdr.status == PRB_ST_OK, "tag 0x%x status %u", c->rx_hdr.tag,
			 c->rx_hdr.status);
	}
	CF_CHECK(cf_recv_pdu(c, 100) == -ETIMEDOUT, "brick sent a PDU nobody asked for");
}

const struct cf_test cf_tests_handshake[] = {
	{"Handshake.Hello.Negotiate", hello_negotiate,
	 "PRB-HELLO-9 PRB-HELLO-14 PRB-HELLO-15 PRB-HELLO-17 PRB-HELLO-18 PRB-HELLO-19 PRB-DGST-3 "
	 "PRB-HDR-3 PRB-HDR-8 PRB-PDU-1 PRB-PDU-9 PRB-VER-4",
	 true, 0, 0, "HELLO response: version, limits, epoch within the spec's bounds"},
	{"Handshake.Hello.QueueDepth", hello_queue_depth, "PRB-HELLO-10", true, 0, 0,
	 "granted queue depth is min(requested, brick limit)"},
	{"Handshake.Hello.SmallMaxPdu", hello_small_max_pdu, "PRB-PDU-6 PRB-HELLO-15", true, 0, 0,
	 "with max_pdu 8192 announced, max_data fits and no PDU from the brick is larger"},
	{"Handshake.Hello.VersionRange", hello_version_range,
	 "PRB-HELLO-6 PRB-HELLO-7 PRB-HELLO-8 PRB-HELLO-9 PRB-PDU-10 PRB-VER-2 PRB-VER-3", true, 0,
	 0, "highest common version chosen; none in common: ENOTSUP and close"},
	{"Handshake.Hello.Features", hello_features,
	 "PRB-HELLO-11 PRB-HELLO-13 PRB-HELLO-20 PRB-TCP-7", true, 0, 0,
	 "only requested features granted, plus informational ones"},
	{"Handshake.Hello.Identity", hello_identity,
	 "PRB-HELLO-16 PRB-INFO-1 PRB-INFO-9 PRB-CONN-4", true, 0, 0,
	 "brick_id and boot_epoch the same on every connection and in INFO"},
	{"Handshake.Info.Stats", info_stats,
	 "PRB-INFO-2 PRB-INFO-3 PRB-INFO-4 PRB-INFO-7 PRB-HELLO-12", true, 0, 0,
	 "INFO capacity and counters are consistent"},
	{"Handshake.Info.Counts", info_counts, "PRB-INFO-5 PRB-INFO-6 PRB-HELLO-18", true,
	 CF_DESTRUCTIVE, 0, "free_blocks and mapped_blocks follow ALLOC, MAP, UNMAP, FREE exactly"},
	{"Handshake.Sequence.FirstNotHello", seq_first_not_hello,
	 "PRB-PDU-12 PRB-PDU-13 PRB-TCP-3 PRB-TERM-1 PRB-TERM-4 PRB-CONN-6", true, 0, 0,
	 "a first PDU other than HELLO gets TERM SEQUENCE and nothing happens"},
	{"Handshake.Sequence.SecondHello", seq_second_hello, "PRB-HELLO-22 PRB-REQ-6", true, 0, 0,
	 "a second HELLO gets EPROTO and the connection goes on"},
	{"Handshake.Sequence.ResponseToBrick", seq_response_to_brick,
	 "PRB-PDU-12 PRB-PDU-13 PRB-HDR-2 PRB-TERM-8 PRB-SEC-3", true, 0, 0,
	 "a response PDU sent to the brick gets TERM SEQUENCE"},
	{"Handshake.Keepalive.Basic", keepalive_basic, "PRB-KA-1", true, 0, 0, "KEEPALIVE answers"},
	{"Handshake.Pipeline.Tags", pipeline_tags,
	 "PRB-TAG-2 PRB-TAG-3 PRB-HDR-3 PRB-HDR-8 PRB-PDU-7 PRB-PDU-8 PRB-VER-10", true, 0, 0,
	 "pipelined requests each answered once, with their tag and opcode"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
