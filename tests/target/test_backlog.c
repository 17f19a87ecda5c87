/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the connection engine, driven directly as a binding does, on a small
 * temporary pool:
 * - the send backlog cap (prb_conn_limits.tx_backlog_max): requests that arrive in one
 *   piece while too many answers wait are held, not dropped, and run as answers leave;
 *   with no cap (the RDMA binding) every request is answered at once;
 * - READ answers with a data digest: sent from the block itself while no other
 *   connection can write it, and their bytes always match their digest, also when
 *   another connection maps the block read-write and writes it before they are sent.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <prb/wire.h>

#include "brick.h"
#include "conn.h"
#include "log.h"
#include "store.h"

#define REQUESTS 16
#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                  \
			return -1;                                                       \
		}                                                                        \
	} while (0)

/* Hand bytes to the engine as a binding does. \return 0, or -1 when it takes too few. */
static int feed(struct prb_conn *c, const uint8_t *bytes, size_t len)
{
	while (len) {
		void *buf;
		size_t space = prb_conn_rx_space(c, &buf);

		if (space == 0)
			return -1;
		if (space > len)
			space = len;
		memcpy(buf, bytes, space);
		prb_conn_rx_commit(c, space, 0);
		bytes += space;
		len -= space;
	}
	return 0;
}

/* Decode an answer: its message id, or -1. */
static int decode(const uint8_t *pdu, size_t len, union prb_msg *m)
{
	enum prb_msg_id id;

	if (prb_msg_decode(pdu, len, m, &id, NULL) < 0)
		return -1;
	return (int)id;
}

/* Take the next whole answer off the engine into out (at most cap bytes). \return its size. */
static size_t take_answer(struct prb_conn *c, uint8_t *out, size_t cap)
{
	struct iovec iov[8];
	size_t got = 0, plen = 0;
	int n = prb_conn_tx_iov(c, iov, 8);

	for (int i = 0; i < n && got < cap; i++) {
		size_t step = iov[i].iov_len < cap - got ? iov[i].iov_len : cap - got;

		memcpy(out + got, iov[i].iov_base, step);
		got += step;
	}
	if (got < PRB_HDR_SIZE)
		return 0;
	plen = (size_t)out[PRB_HDR_PLEN_OFFSET] | (size_t)out[PRB_HDR_PLEN_OFFSET + 1] << 8 |
	       (size_t)out[PRB_HDR_PLEN_OFFSET + 2] << 16 |
	       (size_t)out[PRB_HDR_PLEN_OFFSET + 3] << 24;
	if (plen > got)
		return 0;
	prb_conn_tx_commit(c, plen, 0);
	return plen;
}

static int hello_features(struct prb_conn *c, uint32_t features)
{
	struct prb_hello_req h = { 0 };
	uint8_t pdu[PRB_HELLO_REQ_SIZE], answer[256];
	union prb_msg rsp;

	h.min_version = 1;
	h.max_version = 1;
	h.queue_depth = REQUESTS;
	h.max_pdu = 4u << 20;
	h.features = features;
	CHECK(prb_hello_req_encode(&h, pdu, sizeof(pdu)) == (int)sizeof(pdu));
	CHECK(feed(c, pdu, sizeof(pdu)) == 0);
	size_t len = take_answer(c, answer, sizeof(answer));

	CHECK(len > 0);
	CHECK(decode(answer, len, &rsp) == PRB_MSG_HELLO_RSP);
	CHECK(rsp.hdr.status == 0 && rsp.hello_rsp.queue_depth == REQUESTS);
	CHECK(rsp.hello_rsp.features == features);
	return 0;
}

static int hello(struct prb_conn *c)
{
	return hello_features(c, 0);
}

/*
 * REQUESTS KEEPALIVEs in one piece; with cap, at most cap bytes of answers plus one may
 * wait before the rest is held. Then every answer, in order, as they are taken.
 */
static int keepalives_in_one_piece(struct prb_brick *brick, size_t cap, size_t want_waiting)
{
	struct prb_conn_limits lim = { .queue_depth = REQUESTS, .max_data = 65536,
				       .max_mappings = 4, .tx_backlog_max = cap };
	uint8_t burst[REQUESTS * PRB_KEEPALIVE_REQ_SIZE], answer[64];
	struct prb_conn *c;
	int rc = -1;

	if (prb_conn_new(brick, &lim, 0, &c) < 0)
		return -1;
	if (hello(c))
		goto out;
	for (uint32_t i = 0; i < REQUESTS; i++) {
		union prb_msg m;

		memset(&m, 0, sizeof(m));
		m.hdr.tag = 100 + i;
		if (prb_msg_encode(PRB_MSG_KEEPALIVE_REQ, &m, burst + i * PRB_KEEPALIVE_REQ_SIZE,
				   PRB_KEEPALIVE_REQ_SIZE) != (int)PRB_KEEPALIVE_REQ_SIZE)
			goto out;
	}
	if (feed(c, burst, sizeof(burst)))
		goto out;
	printf("cap %zu: %zu bytes of answers wait after the burst\n", cap,
	       prb_conn_tx_pending(c));
	if (prb_conn_tx_pending(c) != want_waiting)
		goto out;
	for (uint32_t i = 0; i < REQUESTS; i++) {
		union prb_msg rsp;

		if (take_answer(c, answer, sizeof(answer)) != PRB_KEEPALIVE_RSP_SIZE ||
		    decode(answer, PRB_KEEPALIVE_RSP_SIZE, &rsp) != PRB_MSG_KEEPALIVE_RSP ||
		    rsp.hdr.tag != 100 + i || rsp.hdr.status != 0) {
			fprintf(stderr, "cap %zu: answer %u missing or wrong\n", cap, i);
			goto out;
		}
	}
	if (prb_conn_tx_pending(c) != 0 || !prb_conn_rx_wanted(c))
		goto out;
	rc = 0;
out:
	prb_conn_delete(c);
	return rc;
}

#define BLOCK 7u
#define READ_LEN 65536u

/* Send request \p id with tag \p tag (and a data digest after a payload when \p ddgst)
 * and take its whole answer into \p out. \return the answer's size, 0 on failure. */
static size_t call(struct prb_conn *c, enum prb_msg_id id, union prb_msg *m, uint32_t tag,
		   const uint8_t *payload, uint32_t len, bool ddgst, uint8_t *out, size_t cap)
{
	uint8_t pdu[64], digest[PRB_DDGST_SIZE];
	uint32_t crc = len ? prb_crc32c(payload, len) : 0;
	int n;

	m->hdr.tag = tag;
	m->hdr.flags = ddgst && len ? PRB_HDR_DDGST : 0;
	n = prb_msg_encode(id, m, pdu, sizeof(pdu));
	for (unsigned i = 0; i < PRB_DDGST_SIZE; i++)
		digest[i] = (uint8_t)(crc >> (8 * i));
	if (n < 0 || feed(c, pdu, (size_t)n) || (len && feed(c, payload, len)) ||
	    ((m->hdr.flags & PRB_HDR_DDGST) && feed(c, digest, sizeof(digest))))
		return 0;
	return take_answer(c, out, cap);
}

/* A connection that maps the block (PRB_MAP_WRITE or 0 in \p flags). \return the handle, 0. */
static uint64_t map_block(struct prb_conn *c, uint32_t flags)
{
	union prb_msg m, rsp;
	uint8_t answer[128];
	size_t len;

	memset(&m, 0, sizeof(m));
	m.map_req.addr = (uint64_t)BLOCK * PRB_BLOCK_SIZE;
	m.map_req.map_flags = flags;
	len = call(c, PRB_MSG_MAP_REQ, &m, 2, NULL, 0, false, answer, sizeof(answer));
	if (len == 0 || decode(answer, len, &rsp) != PRB_MSG_MAP_RSP || rsp.hdr.status)
		return 0;
	return rsp.map_rsp.handle;
}

/* WRITE \p len bytes of \p byte at offset 0 through \p h (with a data digest when
 * \p ddgst). \return 0 when answered OK. */
static int write_byte(struct prb_conn *c, uint64_t h, uint8_t byte, uint32_t len, bool ddgst)
{
	static uint8_t data[READ_LEN];
	union prb_msg m, rsp;
	uint8_t answer[64];
	size_t n;

	memset(data, byte, len);
	memset(&m, 0, sizeof(m));
	m.write_req.handle = h;
	m.write_req.length = len;
	m.write_req.payload_len = len;
	n = call(c, PRB_MSG_WRITE_REQ, &m, 3, data, len, ddgst, answer, sizeof(answer));
	CHECK(n > 0 && decode(answer, n, &rsp) == PRB_MSG_WRITE_RSP && rsp.hdr.status == 0);
	return 0;
}

/* Queue a READ of READ_LEN bytes at 0 through \p h (answer left queued). */
static int queue_read(struct prb_conn *c, uint64_t h)
{
	union prb_msg m;
	uint8_t pdu[PRB_READ_REQ_SIZE];

	memset(&m, 0, sizeof(m));
	m.hdr.tag = 9;
	m.read_req.handle = h;
	m.read_req.length = READ_LEN;
	CHECK(prb_msg_encode(PRB_MSG_READ_REQ, &m, pdu, sizeof(pdu)) == (int)sizeof(pdu));
	CHECK(feed(c, pdu, sizeof(pdu)) == 0);
	CHECK(prb_conn_tx_pending(c) == PRB_READ_RSP_SIZE + READ_LEN + PRB_DDGST_SIZE);
	return 0;
}

/* Whether the queued READ answer's data is sent from [block, block + block size). */
static bool answer_from_block(struct prb_conn *c, const uint8_t *block)
{
	struct iovec iov[4];
	int n = prb_conn_tx_iov(c, iov, 4);
	const uint8_t *data = n >= 2 ? iov[1].iov_base : NULL;

	return data >= block && data < block + PRB_BLOCK_SIZE;
}

/* Take the queued READ answer: its digest must match its bytes, which must all be \p want. */
static int check_read_answer(struct prb_conn *c, uint8_t want)
{
	static uint8_t answer[READ_LEN + 64];
	size_t len = take_answer(c, answer, sizeof(answer));
	const uint8_t *data = answer + PRB_READ_RSP_SIZE, *d = data + READ_LEN;
	uint32_t digest =
		(uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;

	CHECK(len == PRB_READ_RSP_SIZE + READ_LEN + PRB_DDGST_SIZE);
	CHECK(answer[PRB_HDR_FLAGS_OFFSET] & PRB_HDR_DDGST);
	CHECK(digest == prb_crc32c(data, READ_LEN));
	for (uint32_t i = 0; i < READ_LEN; i++)
		CHECK(data[i] == want);
	return 0;
}

/*
 * A READ answer with a data digest, queued (the peer reads nothing yet), while another
 * connection writes the block. \p writer_first: the writer maps the block read-write
 * before the READ runs (the answer is a snapshot then), else after it (the answer was
 * sent from the block, and the writer's MAP makes it a copy). Either way the answer
 * carries the bytes from before the write, and they match its digest.
 */
static int digest_read_with_writer(struct prb_brick *brick, bool writer_first)
{
	struct prb_conn_limits lim = { .queue_depth = REQUESTS, .max_data = PRB_MAX_DATA_LIMIT,
				       .max_mappings = 4, .features = PRB_FEAT_DDGST,
				       .tx_backlog_max = PRB_CONN_TX_BACKLOG_DEFAULT };
	struct prb_conn *reader = NULL, *writer = NULL;
	uint8_t *block = NULL;
	uint64_t rh, wh = 0;
	int rc = -1;

	if (prb_store_pin(prb_brick_store(brick), BLOCK, &block) < 0)
		return -1;
	if (prb_conn_new(brick, &lim, 0, &reader) < 0 || hello_features(reader, PRB_FEAT_DDGST))
		goto out;
	lim.features = 0;
	if (prb_conn_new(brick, &lim, 0, &writer) < 0 || hello(writer))
		goto out;
	rh = map_block(reader, PRB_MAP_WRITE);
	if (!rh || write_byte(reader, rh, 0xA1, READ_LEN, true))
		goto out;
	if (writer_first && !(wh = map_block(writer, PRB_MAP_WRITE)))
		goto out;
	if (queue_read(reader, rh))
		goto out;
	/* Alone with the block, the answer is sent from it: no copy per READ. */
	if (answer_from_block(reader, block) != !writer_first) {
		fprintf(stderr, "writer %s: the READ answer is %s\n",
			writer_first ? "first" : "after", writer_first ? "not a copy" : "a copy");
		goto out;
	}
	if (!writer_first && !(wh = map_block(writer, PRB_MAP_WRITE)))
		goto out;
	if (answer_from_block(reader, block) || write_byte(writer, wh, 0xB2, READ_LEN, false) ||
	    check_read_answer(reader, 0xA1))
		goto out;
	rc = 0;
out:
	prb_conn_delete(writer);
	prb_conn_delete(reader);
	prb_store_unpin(prb_brick_store(brick), BLOCK);
	printf("digested READ, writer mapping %s it: %s\n", writer_first ? "before" : "after",
	       rc ? "FAIL" : "ok");
	return rc;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[256], pool[300];
	struct prb_store_config cfg = { 0 };
	struct prb_store *store = NULL;
	struct prb_brick *brick = NULL;
	int fails = 0;

	prb_log_set_level(PRB_LOG_ERROR);
	snprintf(dir, sizeof(dir), "%s/prb-backlog.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	snprintf(pool, sizeof(pool), "%s/pool", dir);
	cfg.pool_path = pool;
	cfg.pool_size = 16u << 20;
	if (prb_store_open(&cfg, &store) < 0 || prb_brick_new(store, &brick) < 0) {
		fprintf(stderr, "cannot open a pool in %s\n", dir);
		return 1;
	}
	/* Over 64 bytes after the 5th answer (80): the other 11 are held. */
	fails += keepalives_in_one_piece(brick, 64, 5 * PRB_KEEPALIVE_RSP_SIZE) != 0;
	/* No cap: all 16 answered at once. */
	fails += keepalives_in_one_piece(brick, 0, REQUESTS * PRB_KEEPALIVE_RSP_SIZE) != 0;
	if (prb_brick_alloc(brick, (uint64_t)BLOCK * PRB_BLOCK_SIZE, 1) < 0)
		return 1;
	fails += digest_read_with_writer(brick, false) != 0;
	fails += digest_read_with_writer(brick, true) != 0;
	prb_brick_delete(brick);
	prb_store_close(store);
	unlink(pool);
	rmdir(dir);
	printf("%s\n", fails ? "FAIL" : "ok");
	return fails ? 1 : 0;
}
