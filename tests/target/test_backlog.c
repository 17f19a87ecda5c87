/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit test of the connection engine's send backlog cap (prb_conn_limits.tx_backlog_max):
 * requests that arrive in one piece while too many answers wait are held, not dropped,
 * and run as answers leave; with no cap (the RDMA binding) every request is answered at
 * once. Drives the engine directly, as a binding does, on a small temporary pool.
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

static int hello(struct prb_conn *c)
{
	struct prb_hello_req h = { 0 };
	uint8_t pdu[PRB_HELLO_REQ_SIZE], answer[256];
	union prb_msg rsp;

	h.min_version = 1;
	h.max_version = 1;
	h.queue_depth = REQUESTS;
	h.max_pdu = 1u << 20;
	CHECK(prb_hello_req_encode(&h, pdu, sizeof(pdu)) == (int)sizeof(pdu));
	CHECK(feed(c, pdu, sizeof(pdu)) == 0);
	size_t len = take_answer(c, answer, sizeof(answer));

	CHECK(len > 0);
	CHECK(decode(answer, len, &rsp) == PRB_MSG_HELLO_RSP);
	CHECK(rsp.hdr.status == 0 && rsp.hello_rsp.queue_depth == REQUESTS);
	return 0;
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
	prb_brick_delete(brick);
	prb_store_close(store);
	unlink(pool);
	rmdir(dir);
	printf("%s\n", fails ? "FAIL" : "ok");
	return fails ? 1 : 0;
}
