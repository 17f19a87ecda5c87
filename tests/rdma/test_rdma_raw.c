/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The brick's side of the RDMA binding seen from raw verbs (librdmacm + libibverbs +
 * the generated codec, no libprb), against a running prb-target (URL in argv[1]):
 * what a correct initiator never does, the brick must still refuse. Each check names
 * the requirement of spec/PROTOCOL.md section 9 it covers. Exit 0 when all hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <prb/wire.h>

#include "check.h"

#define DEPTH 4u
#define RX_SIZE (PRB_LIST_RSP_SIZE + PRB_MAX_LIST_EXTENTS * 16u)
#define LOCAL_SIZE 16384u /* one-sided data, and capsules bigger than the brick's max_pdu */
#define TIMEOUT_MS 5000
#define BLOCK_ADDR (512ull << 20)
#define HOSTILE_ADDR (1024ull << 20) /* the block of the hostile-initiator tests */
#define MAX_HELD 64u


struct raw {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	uint8_t *rx, *tx, *local; /* DEPTH + 1 receive buffers, one send buffer, data */
	struct ibv_mr *rx_mr, *tx_mr, *local_mr;
	struct prb_hello_rsp hello;
	uint8_t reject[256];      /* private data of a REJECTED event */
	size_t reject_len;
	uint32_t tag;
};

static const char *g_host, *g_port;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cm_event(struct raw *r, enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type got;

	if (rdma_get_cm_event(r->ch, &ev))
		return -errno;
	got = ev->event;
	if (got == RDMA_CM_EVENT_ESTABLISHED && ev->param.conn.private_data_len >= PRB_HDR_SIZE)
		prb_hello_rsp_decode(ev->param.conn.private_data, PRB_HELLO_RSP_SIZE, &r->hello,
				     NULL);
	if (got == RDMA_CM_EVENT_REJECTED) {
		r->reject_len = ev->param.conn.private_data_len;
		if (r->reject_len > sizeof(r->reject))
			r->reject_len = sizeof(r->reject);
		if (ev->param.conn.private_data)
			memcpy(r->reject, ev->param.conn.private_data, r->reject_len);
		else
			r->reject_len = 0;
	}
	rdma_ack_cm_event(ev);
	return got == want ? 0 : -(int)got - 1000;
}

static int post_recv(struct raw *r, uint32_t i)
{
	struct ibv_sge sge = {.addr = (uintptr_t)(r->rx + (size_t)i * RX_SIZE), .length = RX_SIZE,
			      .lkey = r->rx_mr->lkey};
	struct ibv_recv_wr wr = {.wr_id = i, .sg_list = &sge, .num_sge = 1}, *bad;

	return ibv_post_recv(r->id->qp, &wr, &bad) ? -EIO : 0;
}

static void raw_close(struct raw *r)
{
	if (r->id) {
		rdma_disconnect(r->id);
		if (r->id->qp)
			rdma_destroy_qp(r->id);
	}
	if (r->rx_mr)
		ibv_dereg_mr(r->rx_mr);
	if (r->tx_mr)
		ibv_dereg_mr(r->tx_mr);
	if (r->local_mr)
		ibv_dereg_mr(r->local_mr);
	if (r->cq)
		ibv_destroy_cq(r->cq);
	if (r->pd)
		ibv_dealloc_pd(r->pd);
	if (r->id)
		rdma_destroy_id(r->id);
	if (r->ch)
		rdma_destroy_event_channel(r->ch);
	free(r->rx);
	free(r->tx);
	free(r->local);
	memset(r, 0, sizeof(*r));
}

/* A fresh cm id with the brick's address and route resolved. \return 0 or -EIO. */
static int raw_resolve(struct raw *r)
{
	struct addrinfo *ai;

	memset(r, 0, sizeof(*r));
	if (getaddrinfo(g_host, g_port, NULL, &ai))
		return -EIO;
	r->ch = rdma_create_event_channel();
	if (!r->ch || rdma_create_id(r->ch, &r->id, NULL, RDMA_PS_TCP) ||
	    rdma_resolve_addr(r->id, NULL, ai->ai_addr, TIMEOUT_MS)) {
		freeaddrinfo(ai);
		return -EIO;
	}
	freeaddrinfo(ai);
	if (cm_event(r, RDMA_CM_EVENT_ADDR_RESOLVED) || rdma_resolve_route(r->id, TIMEOUT_MS) ||
	    cm_event(r, RDMA_CM_EVENT_ROUTE_RESOLVED))
		return -EIO;
	return 0;
}

/* Connect with \p pdata as private data and \p nrecv receive buffers posted (a correct
 * initiator posts DEPTH + 1). 0: established; -ECONNREFUSED: rejected. */
static int raw_open_recv(struct raw *r, const void *pdata, uint8_t pdata_len, uint32_t nrecv)
{
	struct ibv_qp_init_attr qa;
	struct rdma_conn_param cp;
	int rc;

	if (raw_resolve(r))
		return -EIO;
	r->pd = ibv_alloc_pd(r->id->verbs);
	r->cq = ibv_create_cq(r->id->verbs, 32, NULL, NULL, 0);
	r->rx = calloc(DEPTH + 1, RX_SIZE);
	r->tx = calloc(1, 4096);
	r->local = calloc(1, LOCAL_SIZE);
	if (!r->pd || !r->cq || !r->rx || !r->tx || !r->local)
		return -ENOMEM;
	r->rx_mr = ibv_reg_mr(r->pd, r->rx, (DEPTH + 1) * RX_SIZE, IBV_ACCESS_LOCAL_WRITE);
	r->tx_mr = ibv_reg_mr(r->pd, r->tx, 4096, 0);
	r->local_mr = ibv_reg_mr(r->pd, r->local, LOCAL_SIZE, IBV_ACCESS_LOCAL_WRITE);
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = qa.recv_cq = r->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.sq_sig_all = 1;
	qa.cap.max_send_wr = 16;
	qa.cap.max_recv_wr = DEPTH + 1;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	if (!r->rx_mr || !r->tx_mr || !r->local_mr || rdma_create_qp(r->id, r->pd, &qa))
		return -EIO;
	for (uint32_t i = 0; i < nrecv && i <= DEPTH; i++)
		if (post_recv(r, i))
			return -EIO;
	memset(&cp, 0, sizeof(cp));
	cp.private_data = pdata;
	cp.private_data_len = pdata_len;
	cp.initiator_depth = 4;
	cp.retry_count = 7;
	cp.rnr_retry_count = 7;
	if (rdma_connect(r->id, &cp))
		return -EIO;
	rc = cm_event(r, RDMA_CM_EVENT_ESTABLISHED);
	if (rc == -(int)RDMA_CM_EVENT_REJECTED - 1000)
		return -ECONNREFUSED;
	return rc ? -EIO : 0;
}

/*
 * A connect request with a valid HELLO whose handshake is never completed: no QP, so the
 * accept comes back as CONNECT_RESPONSE and, without rdma_establish, no RTU goes out and
 * the brick never sees the connection established. \return 0 once accepted.
 */
static int raw_connect_no_rtu(struct raw *r)
{
	static uint32_t fake_qpn;
	struct prb_hello_req h = {.min_version = 1, .max_version = PRB_VERSION,
				  .queue_depth = DEPTH, .max_pdu = RX_SIZE};
	uint8_t pd[PRB_HELLO_REQ_SIZE];
	struct rdma_conn_param cp;

	h.hdr.tag = 1;
	prb_hello_req_encode(&h, pd, sizeof(pd));
	if (raw_resolve(r))
		return -EIO;
	memset(&cp, 0, sizeof(cp));
	cp.private_data = pd;
	cp.private_data_len = sizeof(pd);
	/* No QP behind it, and nothing is ever sent; each a number of its own, else the
	 * brick's CM refuses the next as a stale connection. */
	cp.qp_num = 0x4200 + ++fake_qpn;
	cp.retry_count = 7;
	cp.rnr_retry_count = 7;
	if (rdma_connect(r->id, &cp))
		return -EIO;
	return cm_event(r, RDMA_CM_EVENT_CONNECT_RESPONSE) ? -EIO : 0;
}

/* Connect with \p pdata as private data. 0: established; -ECONNREFUSED: rejected. */
static int raw_open(struct raw *r, const void *pdata, uint8_t pdata_len)
{
	return raw_open_recv(r, pdata, pdata_len, DEPTH + 1);
}

/* Connect with a regular HELLO. */
static int raw_hello(struct raw *r)
{
	struct prb_hello_req h = {.min_version = 1, .max_version = PRB_VERSION,
				  .queue_depth = DEPTH, .features = PRB_FEAT_ATOMICS,
				  .max_pdu = RX_SIZE};
	uint8_t pd[PRB_HELLO_REQ_SIZE];

	h.hdr.tag = 1;
	prb_hello_req_encode(&h, pd, sizeof(pd));
	return raw_open(r, pd, sizeof(pd));
}

/* Wait for one completion; returns its status (>= 0) or -ETIMEDOUT. *wc gets it. */
static int raw_poll(struct raw *r, struct ibv_wc *wc)
{
	double end = now_ms() + TIMEOUT_MS;

	while (now_ms() < end) {
		int n = ibv_poll_cq(r->cq, 1, wc);

		if (n < 0)
			return -EIO;
		if (n == 1)
			return (int)wc->status;
	}
	return -ETIMEDOUT;
}

/* SEND \p len bytes of r->tx; the completion of the SEND is consumed. */
static int raw_send(struct raw *r, uint32_t len)
{
	struct ibv_sge sge = {.addr = (uintptr_t)r->tx, .length = len, .lkey = r->tx_mr->lkey};
	struct ibv_send_wr wr = {.wr_id = 1000, .sg_list = &sge, .num_sge = 1,
				 .opcode = IBV_WR_SEND}, *bad;

	return ibv_post_send(r->id->qp, &wr, &bad) ? -EIO : 0;
}

/* Send message \p id, wait for the answering capsule; *rsp_hdr gets its header. The
 * answer's bytes stay in the receive buffer *at. \return 0 or a negative errno. */
static int raw_call(struct raw *r, enum prb_msg_id id, union prb_msg *m, struct prb_hdr *rsp,
		    const uint8_t **at)
{
	struct ibv_wc wc;
	int n, st;

	m->hdr.tag = ++r->tag;
	n = prb_msg_encode(id, m, r->tx, 4096);
	if (n < 0 || raw_send(r, (uint32_t)n))
		return -EIO;
	for (;;) {
		st = raw_poll(r, &wc);
		if (st != IBV_WC_SUCCESS)
			return st < 0 ? st : -EIO;
		if (wc.opcode == IBV_WC_RECV)
			break;
	}
	*at = r->rx + wc.wr_id * RX_SIZE;
	if (prb_hdr_decode(*at, wc.byte_len, rsp, NULL) < 0 || rsp->plen != wc.byte_len)
		return -EPROTO;
	post_recv(r, (uint32_t)wc.wr_id);
	return 0;
}

/* A control request whose answer only matters by status. */
static int raw_status(struct raw *r, enum prb_msg_id id, union prb_msg *m)
{
	struct prb_hdr h;
	const uint8_t *p;
	int rc = raw_call(r, id, m, &h, &p);

	return rc < 0 ? rc : h.status;
}

static int raw_map_at(struct raw *r, uint64_t addr, uint32_t flags, struct prb_map_rsp *out)
{
	union prb_msg m = {.map_req = {.addr = addr, .map_flags = flags}};
	struct prb_hdr h;
	const uint8_t *p;
	int rc = raw_call(r, PRB_MSG_MAP_REQ, &m, &h, &p);

	if (rc < 0 || h.status)
		return rc < 0 ? rc : -(int)h.status;
	return prb_map_rsp_decode(p, h.plen, out, NULL);
}

static int raw_map(struct raw *r, uint32_t flags, struct prb_map_rsp *out)
{
	return raw_map_at(r, BLOCK_ADDR, flags, out);
}

/* One one-sided verb against (raddr, rkey); returns the completion status. */
static int raw_one_sided(struct raw *r, enum ibv_wr_opcode op, uint64_t raddr, uint32_t rkey,
			 uint32_t len)
{
	struct ibv_sge sge = {.addr = (uintptr_t)r->local, .length = len,
			      .lkey = r->local_mr->lkey};
	struct ibv_send_wr wr = {.wr_id = 2000, .sg_list = &sge, .num_sge = 1, .opcode = op},
			   *bad;
	struct ibv_wc wc;

	if (op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		wr.wr.atomic.remote_addr = raddr;
		wr.wr.atomic.rkey = rkey;
		wr.wr.atomic.compare_add = 1;
	} else {
		wr.wr.rdma.remote_addr = raddr;
		wr.wr.rdma.rkey = rkey;
	}
	if (ibv_post_send(r->id->qp, &wr, &bad))
		return -EIO;
	for (;;) {
		int st = raw_poll(r, &wc);

		/* skip what earlier capsules left: SEND completions, flushed receives */
		if (st < 0 || wc.wr_id == 2000)
			return st;
	}
}

/* HELLO rules of the binding: grants, refusals (PRB-RDMA-4, -5, -7, -15). */
static void test_hello(void)
{
	struct prb_hello_req h = {.min_version = 2, .max_version = 9, .queue_depth = 4,
				  .max_pdu = RX_SIZE};
	union prb_msg info = {.info_req = {.hdr = {.tag = 77}}};
	uint8_t pd[64];
	struct prb_hdr rh;
	struct raw r;

	CHECK(raw_hello(&r) == 0 && r.hello.version == 1 && r.hello.queue_depth == DEPTH,
	      "PRB-RDMA-4: HELLO response in the accept private data");
	CHECK(!(r.hello.features & (PRB_FEAT_HDGST | PRB_FEAT_DDGST)) &&
		      r.hello.max_pdu >= PRB_MIN_MAX_PDU,
	      "PRB-RDMA-15: no digests granted (features %#x), max_pdu %u", r.hello.features,
	      r.hello.max_pdu);
	CHECK(r.hello.max_data == PRB_MAX_DATA_LIMIT,
	      "hello_rsp.max_data %u: one-sided verbs are not bounded by it (section 5: it SHOULD be "
	      "max_data_limit)", r.hello.max_data);
	raw_close(&r);

	h.hdr.tag = 5;
	prb_hello_req_encode(&h, pd, sizeof(pd));
	CHECK(raw_open(&r, pd, PRB_HELLO_REQ_SIZE) == -ECONNREFUSED &&
		      prb_hdr_decode(r.reject, r.reject_len, &rh, NULL) == 0 &&
		      rh.opcode == (PRB_OP_HELLO | PRB_OPCODE_RESPONSE) && rh.tag == 5 &&
		      rh.status == PRB_ST_ENOTSUP,
	      "PRB-RDMA-5: no common version: rejected with a HELLO error response ENOTSUP");
	raw_close(&r);

	prb_info_req_encode(&info.info_req, pd, sizeof(pd));
	CHECK(raw_open(&r, pd, PRB_INFO_REQ_SIZE) == -ECONNREFUSED &&
		      prb_hdr_decode(r.reject, r.reject_len, &rh, NULL) == 0 &&
		      rh.opcode == (PRB_OP_HELLO | PRB_OPCODE_RESPONSE) && rh.tag == 77 &&
		      rh.status == PRB_ST_EINVAL,
	      "PRB-RDMA-7: private data that is not a HELLO: rejected, EINVAL");
	raw_close(&r);
}

/* Capsule rules: data capsules refused, second HELLO, framing (PRB-RDMA-8, -10, -24). */
static void test_capsules(void)
{
	static const enum prb_msg_id data_ops[] = {PRB_MSG_READ_REQ, PRB_MSG_CAS_REQ,
						   PRB_MSG_FADD_REQ};
	union prb_msg m;
	struct raw r;
	struct prb_hdr h;
	const uint8_t *p;
	struct ibv_wc wc;
	bool term;

	if (raw_hello(&r)) {
		CHECK(false, "connect");
		return;
	}
	memset(&m, 0, sizeof(m));
	m.alloc_req.addr = BLOCK_ADDR;
	m.alloc_req.blocks = 1;
	CHECK(raw_status(&r, PRB_MSG_ALLOC_REQ, &m) == PRB_ST_OK, "ALLOC by capsule");
	for (size_t i = 0; i < sizeof(data_ops) / sizeof(data_ops[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.read_req.length = 8; /* union: the same offsets hold handle/offset/length */
		CHECK(raw_status(&r, data_ops[i], &m) == PRB_ST_ENOTSUP,
		      "PRB-RDMA-24: %s capsule: ENOTSUP", prb_msg_descs[data_ops[i]].name);
	}
	memset(&m, 0, sizeof(m));
	m.write_req.length = 16;
	m.write_req.payload_len = 16;
	{
		int n;

		m.hdr.tag = ++r.tag;
		n = prb_write_req_encode(&m.write_req, r.tx, 4096);
		memset(r.tx + n, 0xee, 16);
		raw_send(&r, (uint32_t)n + 16);
		do {
			raw_poll(&r, &wc);
		} while (wc.opcode != IBV_WC_RECV && wc.status == IBV_WC_SUCCESS);
		p = r.rx + wc.wr_id * RX_SIZE;
		CHECK(wc.status == IBV_WC_SUCCESS && prb_hdr_decode(p, wc.byte_len, &h, NULL) == 0 &&
			      h.status == PRB_ST_ENOTSUP,
		      "PRB-RDMA-24: WRITE capsule with payload: ENOTSUP");
		post_recv(&r, (uint32_t)wc.wr_id);
	}
	memset(&m, 0, sizeof(m));
	m.hello_req = (struct prb_hello_req){.min_version = 1, .max_version = 1, .queue_depth = 4,
					     .max_pdu = RX_SIZE};
	CHECK(raw_status(&r, PRB_MSG_HELLO_REQ, &m) == PRB_ST_EPROTO,
	      "PRB-RDMA-8: HELLO as a capsule: EPROTO");
	CHECK(raw_status(&r, PRB_MSG_KEEPALIVE_REQ, &m) == PRB_ST_OK, "KEEPALIVE still answered");

	/* A capsule longer than its plen: TERM BAD_HEADER. */
	memset(&m, 0, sizeof(m));
	m.hdr.tag = ++r.tag;
	prb_msg_encode(PRB_MSG_KEEPALIVE_REQ, &m, r.tx, 4096);
	raw_send(&r, PRB_HDR_SIZE + 8);
	term = false;
	while (raw_poll(&r, &wc) == IBV_WC_SUCCESS) {
		if (wc.opcode != IBV_WC_RECV)
			continue;
		p = r.rx + wc.wr_id * RX_SIZE;
		term = prb_hdr_decode(p, wc.byte_len, &h, NULL) == 0 && h.opcode == PRB_OP_TERM &&
		       p[PRB_TERM_REASON_OFFSET] == PRB_TERM_BAD_HEADER;
		break;
	}
	CHECK(term, "PRB-RDMA-10: capsule length differs from plen: TERM BAD_HEADER");
	raw_close(&r);
}

/* Keys: access per flags, bounds, revocation, per-connection (PRB-RDMA-16..19, -23). */
static void test_keys(void)
{
	struct prb_map_rsp ro, rw, other;
	union prb_msg m;
	struct raw r, q;
	int st;

	if (raw_hello(&r)) {
		CHECK(false, "connect");
		return;
	}
	CHECK(raw_map(&r, 0, &ro) == 0 && ro.rkey != 0 && ro.raddr != 0 &&
		      ro.length == PRB_BLOCK_SIZE,
	      "MAP RO: rkey %#x raddr %#llx", ro.rkey, (unsigned long long)ro.raddr);
	CHECK(raw_map(&r, PRB_MAP_WRITE, &rw) == 0 && rw.rkey != ro.rkey,
	      "PRB-RDMA-20: a second handle has its own key");
	CHECK(raw_one_sided(&r, IBV_WR_RDMA_READ, ro.raddr + 4096, ro.rkey, 4096) ==
		      IBV_WC_SUCCESS,
	      "RDMA READ through the RO key");
	memset(r.local, 0x5a, 64);
	CHECK(raw_one_sided(&r, IBV_WR_RDMA_WRITE, rw.raddr, rw.rkey, 64) == IBV_WC_SUCCESS,
	      "RDMA WRITE through the RW key");
	CHECK(raw_one_sided(&r, IBV_WR_ATOMIC_FETCH_AND_ADD, rw.raddr + 64, rw.rkey, 8) ==
		      IBV_WC_SUCCESS,
	      "PRB-RDMA-17: atomic FADD through the RW key");
	st = raw_one_sided(&r, IBV_WR_RDMA_WRITE, ro.raddr, ro.rkey, 64);
	CHECK(st == IBV_WC_REM_ACCESS_ERR, "PRB-RDMA-16: RDMA WRITE through the RO key: %s",
	      st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	raw_close(&r);

	if (raw_hello(&r)) {
		CHECK(false, "reconnect");
		return;
	}
	raw_map(&r, PRB_MAP_WRITE, &rw);
	st = raw_one_sided(&r, IBV_WR_RDMA_READ, rw.raddr + PRB_BLOCK_SIZE - 32, rw.rkey, 64);
	CHECK(st == IBV_WC_REM_ACCESS_ERR, "PRB-RDMA-18: READ across the block's end: %s",
	      st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	raw_close(&r);

	if (raw_hello(&r) || raw_hello(&q)) {
		CHECK(false, "two connections");
		return;
	}
	raw_map(&r, PRB_MAP_WRITE, &rw);
	raw_map(&q, PRB_MAP_WRITE, &other);
	st = raw_one_sided(&q, IBV_WR_RDMA_READ, rw.raddr, rw.rkey, 64);
	CHECK(st == IBV_WC_REM_ACCESS_ERR,
	      "PRB-RDMA-19: another connection's key does not work here: %s",
	      st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	CHECK(raw_one_sided(&r, IBV_WR_RDMA_READ, rw.raddr, rw.rkey, 64) == IBV_WC_SUCCESS,
	      "...and still works on its own connection");
	memset(&m, 0, sizeof(m));
	m.unmap_req.handle = rw.handle;
	CHECK(raw_status(&r, PRB_MSG_UNMAP_REQ, &m) == PRB_ST_OK, "UNMAP");
	st = raw_one_sided(&r, IBV_WR_RDMA_READ, rw.raddr, rw.rkey, 64);
	CHECK(st == IBV_WC_REM_ACCESS_ERR,
	      "PRB-RDMA-23: RDMA READ with the key of an unmapped handle: %s",
	      st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	raw_close(&q);
	raw_close(&r);

	if (raw_hello(&r) == 0) {
		memset(&m, 0, sizeof(m));
		m.free_req.addr = BLOCK_ADDR;
		m.free_req.blocks = 1;
		CHECK(raw_status(&r, PRB_MSG_FREE_REQ, &m) == PRB_ST_OK,
		      "FREE: the mappings of closed connections are gone");
		raw_close(&r);
	}
}

/* ------------------------------------------------------------------ hostile initiators */

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Encode message \p id into r->tx and SEND it without waiting for the answer. */
static int raw_post(struct raw *r, enum prb_msg_id id, union prb_msg *m)
{
	int n;

	m->hdr.tag = ++r->tag;
	n = prb_msg_encode(id, m, r->tx, 4096);
	return n < 0 ? -EIO : raw_send(r, (uint32_t)n);
}

/*
 * Post n KEEPALIVEs at once, tags first_tag + i, each SEND from its own 64 bytes of
 * r->local (the HCA reads them when it sends), without waiting for anything.
 * \return how many were posted.
 */
static unsigned raw_post_keepalives(struct raw *r, unsigned n, uint32_t first_tag)
{
	struct ibv_send_wr wr, *bad;
	struct ibv_sge sge;
	union prb_msg m;
	unsigned i;

	for (i = 0; i < n; i++) {
		uint8_t *p = r->local + (size_t)i * 64;

		memset(&m, 0, sizeof(m));
		m.hdr.tag = first_tag + i;
		prb_msg_encode(PRB_MSG_KEEPALIVE_REQ, &m, p, 64);
		sge = (struct ibv_sge){.addr = (uintptr_t)p, .length = PRB_KEEPALIVE_REQ_SIZE,
				       .lkey = r->local_mr->lkey};
		wr = (struct ibv_send_wr){.wr_id = 8, .sg_list = &sge, .num_sge = 1,
					  .opcode = IBV_WR_SEND};
		if (ibv_post_send(r->id->qp, &wr, &bad))
			break;
	}
	return i;
}

/* After an attack: a fresh connection is served (the brick may take a moment to notice
 * the attacker's end) and the hostile tests' block still holds \p pattern at offset 0. */
static void check_brick_serves(const char *after, const uint8_t *pattern, size_t len)
{
	union prb_msg m;
	struct prb_map_rsp mr;
	struct raw r;
	bool ok = false, intact = true;

	for (int i = 0; i < 50 && !ok; i++) {
		if (raw_hello(&r) == 0) {
			memset(&m, 0, sizeof(m));
			ok = raw_status(&r, PRB_MSG_KEEPALIVE_REQ, &m) == PRB_ST_OK;
			if (ok && pattern) {
				intact = raw_map_at(&r, HOSTILE_ADDR, 0, &mr) == 0 &&
					 raw_one_sided(&r, IBV_WR_RDMA_READ, mr.raddr, mr.rkey,
						       (uint32_t)len) == IBV_WC_SUCCESS &&
					 memcmp(r.local, pattern, len) == 0;
			}
		}
		raw_close(&r);
		if (!ok)
			sleep_ms(200);
	}
	CHECK(ok && intact, "after %s: a fresh connection is served%s", after,
	      pattern ? ", the block's data intact" : "");
}

/* Connection limit (--max-connections \p max): refusals keep the HELLO status order
 * EINVAL, ENOTSUP, ENOMEM (section 6.1), and private data without a PRB header gets a
 * reject without an error response (PRB-RDMA-5, -7). */
static void test_limit(unsigned max)
{
	static struct raw held[MAX_HELD];
	struct prb_hello_req h = {.min_version = 2, .max_version = 1, .queue_depth = DEPTH,
				  .max_pdu = RX_SIZE};
	uint8_t pd[PRB_HELLO_REQ_SIZE];
	struct prb_hdr rh;
	struct raw x;
	unsigned n = 0;
	int rc = 0;

	sleep_ms(500); /* connections of earlier tests are gone at the brick */
	while (n < MAX_HELD && n <= max + 2) {
		rc = raw_hello(&held[n]);
		if (rc)
			break;
		n++;
	}
	CHECK(rc == -ECONNREFUSED && n <= max &&
		      prb_hdr_decode(held[n].reject, held[n].reject_len, &rh, NULL) == 0 &&
		      rh.status == PRB_ST_ENOMEM && rh.tag == 1,
	      "connection limit %u: connection %u refused with ENOMEM", max, n + 1);
	raw_close(&held[n]);

	h.hdr.tag = 9;
	prb_hello_req_encode(&h, pd, sizeof(pd));
	rc = raw_open(&x, pd, sizeof(pd));
	CHECK(rc == -ECONNREFUSED && prb_hdr_decode(x.reject, x.reject_len, &rh, NULL) == 0 &&
		      rh.tag == 9 && rh.status == PRB_ST_EINVAL,
	      "PRB-HELLO-4 (EINVAL before ENOMEM): min_version > max_version at the connection "
	      "limit: status %u (want EINVAL %u)",
	      rc == -ECONNREFUSED ? rh.status : 0u, PRB_ST_EINVAL);
	raw_close(&x);

	h.min_version = h.max_version = 9;
	prb_hello_req_encode(&h, pd, sizeof(pd));
	rc = raw_open(&x, pd, sizeof(pd));
	CHECK(rc == -ECONNREFUSED && prb_hdr_decode(x.reject, x.reject_len, &rh, NULL) == 0 &&
		      rh.status == PRB_ST_ENOTSUP,
	      "PRB-HELLO-7 (ENOTSUP before ENOMEM): no common version at the connection limit: "
	      "status %u (want ENOTSUP %u)",
	      rc == -ECONNREFUSED ? rh.status : 0u, PRB_ST_ENOTSUP);
	raw_close(&x);

	memset(pd, 0xa5, sizeof(pd));
	rc = raw_open(&x, pd, sizeof(pd));
	CHECK(rc == -ECONNREFUSED && prb_hdr_decode(x.reject, x.reject_len, &rh, NULL) != 0,
	      "PRB-RDMA-5: private data without magic at the connection limit: rejected without "
	      "an error response");
	raw_close(&x);

	while (n)
		raw_close(&held[--n]);
	check_brick_serves("the connection limit", NULL, 0);
}

/* Malformed HELLOs in the connect private data (PRB-RDMA-5, -6, -7, PRB-HELLO-4). */
static void test_bad_pdata(void)
{
	struct prb_hello_req good = {.min_version = 1, .max_version = PRB_VERSION,
				     .queue_depth = DEPTH, .max_pdu = RX_SIZE};
	static const struct {
		const char *what;
		unsigned offset, size;
		uint32_t value;
		int status; /* -1: rejected without an error response */
	} cases[] = {
		{"queue_depth 0", PRB_HELLO_REQ_QUEUE_DEPTH_OFFSET, 2, 0, PRB_ST_EINVAL},
		{"queue_depth 65535", PRB_HELLO_REQ_QUEUE_DEPTH_OFFSET, 2, 65535, PRB_ST_EINVAL},
		{"max_pdu below min_max_pdu", PRB_HELLO_REQ_MAX_PDU_OFFSET, 4, 64, PRB_ST_EINVAL},
		{"plen beyond the private data", PRB_HDR_PLEN_OFFSET, 4, 4000, PRB_ST_EINVAL},
		{"plen shorter than hlen", PRB_HDR_PLEN_OFFSET, 4, 24, PRB_ST_EINVAL},
		{"hlen 8", PRB_HDR_HLEN_OFFSET, 2, 8, PRB_ST_EINVAL},
		{"HDGST flag", PRB_HDR_FLAGS_OFFSET, 1, PRB_HDR_HDGST, PRB_ST_EINVAL},
		{"a response opcode", PRB_HDR_OPCODE_OFFSET, 1,
		 PRB_OP_HELLO | PRB_OPCODE_RESPONSE, PRB_ST_EINVAL},
		{"bad magic", PRB_HDR_MAGIC_OFFSET, 2, 0x1234, -1},
	};
	uint8_t pd[PRB_HELLO_REQ_SIZE];
	struct prb_hdr rh;
	struct raw r;

	good.hdr.tag = 3;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;
		bool ok;

		prb_hello_req_encode(&good, pd, sizeof(pd));
		for (unsigned b = 0; b < cases[i].size; b++)
			pd[cases[i].offset + b] = (uint8_t)(cases[i].value >> (8 * b));
		rc = raw_open(&r, pd, sizeof(pd));
		if (cases[i].status < 0)
			ok = rc == -ECONNREFUSED &&
			     prb_hdr_decode(r.reject, r.reject_len, &rh, NULL) != 0;
		else
			ok = rc == -ECONNREFUSED &&
			     prb_hdr_decode(r.reject, r.reject_len, &rh, NULL) == 0 &&
			     rh.status == cases[i].status && rh.tag == 3;
		CHECK(ok, "PRB-RDMA-5/-7: HELLO with %s: rejected%s (connect %d)", cases[i].what,
		      cases[i].status < 0 ? " without an error response" : ", EINVAL", rc);
		raw_close(&r);
	}
	CHECK(raw_open(&r, pd, 8) == -ECONNREFUSED, "PRB-RDMA-7: 8 bytes of private data: rejected");
	raw_close(&r);
	CHECK(raw_open(&r, NULL, 0) == -ECONNREFUSED, "PRB-RDMA-7: no private data: rejected");
	raw_close(&r);
	check_brick_serves("malformed HELLOs", NULL, 0);
}

/* Capsules past the brick's receive buffer and beyond the granted queue depth. */
static void test_capsule_abuse(const uint8_t *pattern, size_t plen)
{
	struct ibv_sge sge;
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;
	struct prb_hdr h;
	struct raw r;
	unsigned answered = 0, sent = 2 * DEPTH + 2, other = 0;
	bool term = false;
	int st;

	/* An unknown opcode of exactly max_pdu bytes: ENOTSUP (PRB-HELLO-14, PRB-PDU-15). */
	if (raw_hello(&r)) {
		CHECK(false, "connect");
		return;
	}
	memset(r.local, 0, r.hello.max_pdu);
	h = (struct prb_hdr){.magic = PRB_MAGIC, .opcode = 0x55, .plen = r.hello.max_pdu,
			     .tag = 4242, .hlen = PRB_HDR_SIZE};
	prb_hdr_encode(&h, r.local, PRB_HDR_SIZE);
	memset(&wr, 0, sizeof(wr));
	sge = (struct ibv_sge){.addr = (uintptr_t)r.local, .length = r.hello.max_pdu,
			       .lkey = r.local_mr->lkey};
	wr = (struct ibv_send_wr){.wr_id = 7, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_SEND};
	st = -1;
	if (r.hello.max_pdu + 64 <= LOCAL_SIZE && ibv_post_send(r.id->qp, &wr, &bad) == 0) {
		while ((st = raw_poll(&r, &wc)) == IBV_WC_SUCCESS && wc.opcode != IBV_WC_RECV)
			;
	}
	memset(&h, 0, sizeof(h));
	if (st == IBV_WC_SUCCESS)
		prb_hdr_decode(r.rx + wc.wr_id * RX_SIZE, wc.byte_len, &h, NULL);
	CHECK(st == IBV_WC_SUCCESS && h.tag == 4242 && h.status == PRB_ST_ENOTSUP,
	      "PRB-HELLO-14: a %u-byte capsule (max_pdu) of an unknown opcode: ENOTSUP (completion "
	      "%d, answer opcode %#x tag %u status %u)",
	      r.hello.max_pdu, st, h.opcode, h.tag, h.status);
	if (st == IBV_WC_SUCCESS)
		post_recv(&r, (uint32_t)wc.wr_id);

	/* 2 * DEPTH + 2 KEEPALIVEs at once: each answered, or TERM QUEUE_OVERFLOW (PRB-TAG-7),
	 * never silence. Each SEND has its own bytes: the HCA reads them when it sends. */
	raw_post_keepalives(&r, sent, 100);
	while (answered + other < sent && !term && (st = raw_poll(&r, &wc)) == IBV_WC_SUCCESS) {
		if (wc.opcode != IBV_WC_RECV)
			continue;
		memset(&h, 0, sizeof(h));
		if (prb_hdr_decode(r.rx + wc.wr_id * RX_SIZE, wc.byte_len, &h, NULL) == 0 &&
		    h.opcode == PRB_OP_TERM)
			term = r.rx[wc.wr_id * RX_SIZE + PRB_TERM_REASON_OFFSET] ==
			       PRB_TERM_QUEUE_OVERFLOW;
		else if (h.opcode == (PRB_OP_KEEPALIVE | PRB_OPCODE_RESPONSE) && h.status == 0)
			answered++;
		else
			other++;
		post_recv(&r, (uint32_t)wc.wr_id);
	}
	CHECK((answered == sent || term) && other == 0,
	      "PRB-TAG-7: %u KEEPALIVEs at once on depth %u: %u answered%s", sent, DEPTH,
	      answered, term ? ", then TERM QUEUE_OVERFLOW" : "");

	/* A capsule longer than the brick's receive buffer: the QP breaks (section 9.3). */
	memset(r.local, 0, LOCAL_SIZE);
	h = (struct prb_hdr){.magic = PRB_MAGIC, .opcode = PRB_OP_KEEPALIVE,
			     .plen = r.hello.max_pdu + 64, .tag = 4343, .hlen = PRB_HDR_SIZE};
	prb_hdr_encode(&h, r.local, PRB_HDR_SIZE);
	sge = (struct ibv_sge){.addr = (uintptr_t)r.local, .length = r.hello.max_pdu + 64,
			       .lkey = r.local_mr->lkey};
	wr = (struct ibv_send_wr){.wr_id = 9, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_SEND};
	st = -1;
	if (!term && ibv_post_send(r.id->qp, &wr, &bad) == 0)
		while ((st = raw_poll(&r, &wc)) == IBV_WC_SUCCESS && wc.wr_id != 9)
			;
	CHECK(st != IBV_WC_SUCCESS, "section 9.3: a capsule of max_pdu + 64 bytes fails (%s)",
	      st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	raw_close(&r);
	check_brick_serves("oversized and flooded capsules", pattern, plen);
}

/* DEPTH MAPs at once, again and again: the window binds are not waited for (they go
 * through the send queue ahead of the MAP responses), so each key must work as soon as
 * its response has arrived (PRB-RDMA-16, -20). */
static void test_pipelined_maps(const uint8_t *pattern, size_t plen)
{
	struct prb_map_rsp keys[DEPTH];
	struct ibv_sge sge;
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;
	union prb_msg m;
	struct raw r;
	unsigned got = 0, worked = 0, rounds = 8;

	if (raw_hello(&r)) {
		CHECK(false, "connect");
		return;
	}
	for (unsigned round = 0; round < rounds; round++) {
		unsigned n = 0;

		for (unsigned i = 0; i < DEPTH; i++) {
			uint8_t *p = r.local + 4096 + (size_t)i * 64;

			memset(&m, 0, sizeof(m));
			m.map_req.addr = HOSTILE_ADDR;
			m.hdr.tag = 300 + i;
			prb_msg_encode(PRB_MSG_MAP_REQ, &m, p, 64);
			sge = (struct ibv_sge){.addr = (uintptr_t)p, .length = PRB_MAP_REQ_SIZE,
					       .lkey = r.local_mr->lkey};
			wr = (struct ibv_send_wr){.wr_id = 8, .sg_list = &sge, .num_sge = 1,
						  .opcode = IBV_WR_SEND};
			ibv_post_send(r.id->qp, &wr, &bad);
		}
		while (n < DEPTH && raw_poll(&r, &wc) == IBV_WC_SUCCESS) {
			const uint8_t *p = r.rx + wc.wr_id * RX_SIZE;
			struct prb_hdr h;

			if (wc.opcode != IBV_WC_RECV)
				continue;
			if (prb_hdr_decode(p, wc.byte_len, &h, NULL) == 0 && h.status == 0 &&
			    prb_map_rsp_decode(p, wc.byte_len, &keys[n], NULL) == 0)
				got++;
			else
				memset(&keys[n], 0, sizeof(keys[n]));
			n++;
			post_recv(&r, (uint32_t)wc.wr_id);
		}
		for (unsigned i = 0; i < n; i++) {
			if (!keys[i].rkey)
				continue;
			memset(r.local, 0, plen);
			if (raw_one_sided(&r, IBV_WR_RDMA_READ, keys[i].raddr, keys[i].rkey,
					  (uint32_t)plen) == IBV_WC_SUCCESS &&
			    memcmp(r.local, pattern, plen) == 0)
				worked++;
		}
		for (unsigned i = 0; i < n; i++) {
			memset(&m, 0, sizeof(m));
			m.unmap_req.handle = keys[i].handle;
			if (keys[i].rkey)
				raw_status(&r, PRB_MSG_UNMAP_REQ, &m);
		}
	}
	CHECK(got == rounds * DEPTH && worked == got,
	      "PRB-RDMA-16/-20: %u rounds of %u MAPs at once: %u keys, %u read the block",
	      rounds, DEPTH, got, worked);
	raw_close(&r);
}

/* A misaligned atomic on a RW key: PRB-RDMA-22 is the initiator's rule; the brick must
 * survive it, and the block's data with it. */
static void test_misaligned_atomic(const uint8_t *pattern, size_t plen)
{
	struct prb_map_rsp mine, theirs;
	struct ibv_sge sge;
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;
	struct raw a, b;
	int st;

	if (raw_hello(&a) || raw_hello(&b)) {
		CHECK(false, "two connections");
		return;
	}
	CHECK(raw_map_at(&a, HOSTILE_ADDR, PRB_MAP_WRITE, &mine) == 0 &&
		      raw_map_at(&b, HOSTILE_ADDR, 0, &theirs) == 0 &&
		      raw_one_sided(&b, IBV_WR_RDMA_READ, theirs.raddr, theirs.rkey,
				    (uint32_t)plen) == IBV_WC_SUCCESS,
	      "MAP RW and RO on two connections, READ through the RO key");
	memset(&wr, 0, sizeof(wr));
	sge = (struct ibv_sge){.addr = (uintptr_t)a.local, .length = 8, .lkey = a.local_mr->lkey};
	wr = (struct ibv_send_wr){.wr_id = 2000, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_ATOMIC_FETCH_AND_ADD};
	wr.wr.atomic.remote_addr = mine.raddr + 4;
	wr.wr.atomic.rkey = mine.rkey;
	wr.wr.atomic.compare_add = 1;
	st = -1;
	if (ibv_post_send(a.id->qp, &wr, &bad) == 0)
		while ((st = raw_poll(&a, &wc)) >= 0 && wc.wr_id != 2000)
			;
	CHECK(st != IBV_WC_SUCCESS, "PRB-RDMA-22: FADD at raddr + 4 fails (%s)",
	      st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	raw_close(&a);
	raw_close(&b);
	check_brick_serves("a misaligned atomic", pattern, plen);
}

/* SEND with invalidate naming another connection's key (PRB-RDMA-9 forbids it): the
 * other connection's key keeps working (PRB-RDMA-19, PRB-TERM-8). */
static void test_send_with_invalidate(const uint8_t *pattern, size_t plen)
{
	struct prb_map_rsp theirs;
	struct ibv_sge sge;
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;
	union prb_msg m;
	struct raw a, b;
	int st = -1;

	if (raw_hello(&b) || raw_map_at(&b, HOSTILE_ADDR, 0, &theirs) != 0 || raw_hello(&a)) {
		CHECK(false, "two connections, MAP RO");
		return;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.tag = 1;
	prb_msg_encode(PRB_MSG_KEEPALIVE_REQ, &m, a.tx, 4096);
	sge = (struct ibv_sge){.addr = (uintptr_t)a.tx, .length = PRB_KEEPALIVE_REQ_SIZE,
			       .lkey = a.tx_mr->lkey};
	wr = (struct ibv_send_wr){.wr_id = 3000, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_SEND_WITH_INV};
	wr.invalidate_rkey = theirs.rkey;
	if (ibv_post_send(a.id->qp, &wr, &bad) == 0)
		while ((st = raw_poll(&a, &wc)) >= 0 && wc.wr_id != 3000)
			;
	printf("[info] SEND with invalidate of another connection's key: %s\n",
	       st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	sleep_ms(200);
	st = raw_one_sided(&b, IBV_WR_RDMA_READ, theirs.raddr, theirs.rkey, (uint32_t)plen);
	CHECK(st == IBV_WC_SUCCESS && memcmp(b.local, pattern, plen) == 0,
	      "PRB-RDMA-19, PRB-TERM-8: another connection's SEND with invalidate leaves this "
	      "connection's key working (%s)",
	      st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	raw_close(&a);
	raw_close(&b);
	check_brick_serves("SEND with invalidate", pattern, plen);
}

static bool raw_wait_disconnect(struct raw *r, int ms);

/* The connections the brick counts (INFO on \p r), or -1. */
static long raw_connections(struct raw *r)
{
	union prb_msg m;
	struct prb_info_rsp info;
	struct prb_hdr h;
	const uint8_t *p;

	memset(&m, 0, sizeof(m));
	if (raw_call(r, PRB_MSG_INFO_REQ, &m, &h, &p) || h.status ||
	    prb_info_rsp_decode(p, h.plen, &info, NULL) < 0)
		return -1;
	return (long)info.connections;
}

/*
 * A peer that posts no receive buffer: the brick's answers to it wait in RNR retries.
 * Its MAP must not stop the brick serving other connections (PRB-CONN-4, PRB-TERM-8),
 * and with \p send_timeout_s (the brick's --send-timeout; 0: not set) the brick ends the
 * connection once none of its SENDs has completed for that long (PROTOCOL.md 6.4).
 */
static void test_stalled_peer(const uint8_t *pattern, size_t plen, unsigned send_timeout_s)
{
	struct prb_hello_req hr = {.min_version = 1, .max_version = PRB_VERSION,
				   .queue_depth = DEPTH, .max_pdu = RX_SIZE};
	uint8_t pd[PRB_HELLO_REQ_SIZE];
	union prb_msg m;
	struct raw a, b;
	double worst = 0, end;
	int st = PRB_ST_OK;
	unsigned pings = 0;

	double t_stall;

	hr.hdr.tag = 1;
	prb_hello_req_encode(&hr, pd, sizeof(pd));
	if (raw_hello(&b) || raw_open_recv(&a, pd, sizeof(pd), 0)) {
		CHECK(false, "two connections");
		return;
	}
	memset(&m, 0, sizeof(m));
	raw_post(&a, PRB_MSG_KEEPALIVE_REQ, &m); /* its answer finds no receive buffer */
	t_stall = now_ms();
	sleep_ms(300);
	memset(&m, 0, sizeof(m));
	m.map_req.addr = HOSTILE_ADDR;
	m.map_req.map_flags = PRB_MAP_WRITE;
	raw_post(&a, PRB_MSG_MAP_REQ, &m);
	end = now_ms() + 4000;
	while (now_ms() < end && st == PRB_ST_OK) {
		double t0 = now_ms();

		memset(&m, 0, sizeof(m));
		st = raw_status(&b, PRB_MSG_KEEPALIVE_REQ, &m);
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
		pings++;
	}
	CHECK(st == PRB_ST_OK && worst < 1000,
	      "PRB-CONN-4, PRB-TERM-8: a MAP from a peer that posts no receive buffer does not "
	      "stall other connections: %u KEEPALIVEs, the slowest %.0f ms", pings, worst);
	if (send_timeout_s) {
		bool gone = raw_wait_disconnect(&a, (int)send_timeout_s * 1000 + 10000);
		double after = (now_ms() - t_stall) / 1000;

		CHECK(gone && after >= send_timeout_s - 0.5,
		      "send timeout %u s: the brick ends the connection of a peer that takes none "
		      "of its capsules (%s %.1f s after its first answer was sent)",
		      send_timeout_s, gone ? "ended" : "still open", after);
	} else {
		printf("[not run] send timeout: no SEND_TIMEOUT_S argument\n");
	}
	raw_close(&a);
	raw_close(&b);
	check_brick_serves("a peer posting no receive buffer", pattern, plen);
}

/* Wait up to \p ms for the brick to end \p r's connection (a DISCONNECTED event). */
static bool raw_wait_disconnect(struct raw *r, int ms)
{
	struct pollfd pfd = {.fd = r->ch->fd, .events = POLLIN};
	double end = now_ms() + ms;

	while (now_ms() < end) {
		if (poll(&pfd, 1, (int)(end - now_ms()) + 1) <= 0)
			continue;
		if (cm_event(r, RDMA_CM_EVENT_DISCONNECTED) == 0)
			return true;
	}
	return false;
}

/* A peer that posts no receive buffer and sends more requests than its queue depth:
 * the brick sends TERM QUEUE_OVERFLOW, which never completes, and still MUST close the
 * connection (PRB-TERM-4) rather than hold it for ever. */
static void test_stalled_term(void)
{
	struct prb_hello_req hr = {.min_version = 1, .max_version = PRB_VERSION,
				   .queue_depth = DEPTH, .max_pdu = RX_SIZE};
	uint8_t pd[PRB_HELLO_REQ_SIZE];
	struct raw a;
	double t0;
	bool gone;

	hr.hdr.tag = 1;
	prb_hello_req_encode(&hr, pd, sizeof(pd));
	if (raw_open_recv(&a, pd, sizeof(pd), 0)) {
		CHECK(false, "connect");
		return;
	}
	raw_post_keepalives(&a, 3 * DEPTH + 3, 200);
	t0 = now_ms();
	gone = raw_wait_disconnect(&a, 30000);
	CHECK(gone, "PRB-TERM-4: a peer that posts no receive buffer and overflows its queue "
		    "depth: the brick closes the connection (%s after %.1f s)",
	      gone ? "closed" : "still open", (now_ms() - t0) / 1000);
	raw_close(&a);
}

/*
 * Connect requests whose handshake never completes, at the connection limit (\p max):
 * the oldest of them makes room for a new initiator at once, and the brick drops the
 * others after its HELLO timeout (\p hello_timeout_s, its --hello-timeout).
 */
static void test_unestablished(unsigned max, unsigned hello_timeout_s)
{
	static struct raw held[MAX_HELD];
	struct raw good;
	long conns = -1;
	unsigned n;
	double t0;

	sleep_ms(500); /* connections of earlier tests are gone at the brick */
	for (n = 0; n < max && n < MAX_HELD; n++)
		if (raw_connect_no_rtu(&held[n]))
			break;
	CHECK(n == max, "%u connect requests accepted and never established (want %u)", n, max);
	t0 = now_ms();
	CHECK(raw_hello(&good) == 0,
	      "at the connection limit, full of connections never established, a new initiator "
	      "gets in (the oldest makes room)");
	while (now_ms() - t0 < (hello_timeout_s + 10) * 1000.0) {
		conns = raw_connections(&good);
		if (conns == 1)
			break;
		sleep_ms(200);
	}
	CHECK(conns == 1 && now_ms() - t0 >= (hello_timeout_s - 1) * 1000.0,
	      "HELLO timeout %u s: connections never established are dropped (%ld counted after "
	      "%.1f s)",
	      hello_timeout_s, conns, (now_ms() - t0) / 1000);
	raw_close(&good);
	while (n)
		raw_close(&held[--n]);
}

/* A peer that holds an exclusive RW mapping, sends requests and vanishes without a
 * disconnect while they are in flight: its handle is revoked (PRB-CONN-1), so an
 * exclusive MAP elsewhere succeeds once the brick has seen the end (PRB-CONN-3). */
static void test_abrupt_close(const uint8_t *pattern, size_t plen)
{
	struct prb_map_rsp mine, again;
	union prb_msg m;
	struct raw a, b;
	double t0;
	int st = -1;

	if (raw_hello(&a) || raw_hello(&b)) {
		CHECK(false, "two connections");
		return;
	}
	CHECK(raw_map_at(&a, HOSTILE_ADDR, PRB_MAP_WRITE | PRB_MAP_EXCL, &mine) == 0,
	      "MAP RW EXCL");
	CHECK(raw_map_at(&b, HOSTILE_ADDR, 0, &again) == -PRB_ST_EBUSY,
	      "another connection's MAP of the block: EBUSY while the exclusive one lives");
	for (unsigned i = 0; i < DEPTH; i++) {
		memset(&m, 0, sizeof(m));
		m.list_req.max_extents = PRB_MAX_LIST_EXTENTS;
		raw_post(&a, PRB_MSG_LIST_REQ, &m);
	}
	/* no rdma_disconnect: the QP and the id just go, as when a process dies */
	rdma_destroy_qp(a.id);
	rdma_destroy_id(a.id);
	a.id = NULL;
	raw_close(&a);
	t0 = now_ms();
	while (now_ms() - t0 < 10000) {
		st = raw_map_at(&b, HOSTILE_ADDR, PRB_MAP_WRITE | PRB_MAP_EXCL, &again);
		if (st != -PRB_ST_EBUSY)
			break;
		sleep_ms(100);
	}
	CHECK(st == 0, "PRB-CONN-1/-3: after the peer vanished mid-request, MAP RW EXCL succeeds "
		       "(after %.1f s)", (now_ms() - t0) / 1000);
	if (st == 0) {
		memset(&m, 0, sizeof(m));
		m.unmap_req.handle = again.handle;
		raw_status(&b, PRB_MSG_UNMAP_REQ, &m);
	}
	raw_close(&b);
	check_brick_serves("a peer vanishing mid-request", pattern, plen);
}

/* The hostile-initiator tests; the brick's --max-connections, --send-timeout and
 * --hello-timeout (seconds), or 0 for those it was not given. */
static void test_hostile(unsigned max_connections, unsigned send_timeout_s,
			 unsigned hello_timeout_s)
{
	union prb_msg m = {.alloc_req = {.addr = HOSTILE_ADDR, .blocks = 1}};
	struct prb_map_rsp mr;
	uint8_t pattern[64];
	struct raw r;

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(0xc3 ^ i * 13);
	if (raw_hello(&r) || raw_status(&r, PRB_MSG_ALLOC_REQ, &m) != PRB_ST_OK ||
	    raw_map_at(&r, HOSTILE_ADDR, PRB_MAP_WRITE, &mr) != 0) {
		CHECK(false, "hostile tests: set up the block");
		raw_close(&r);
		return;
	}
	memcpy(r.local, pattern, sizeof(pattern));
	CHECK(raw_one_sided(&r, IBV_WR_RDMA_WRITE, mr.raddr, mr.rkey, sizeof(pattern)) ==
		      IBV_WC_SUCCESS,
	      "hostile tests: the block holds a pattern");
	raw_close(&r);
	test_bad_pdata();
	test_capsule_abuse(pattern, sizeof(pattern));
	test_pipelined_maps(pattern, sizeof(pattern));
	test_misaligned_atomic(pattern, sizeof(pattern));
	if (getenv("PRB_RDMA_KNOWN_DEFECTS"))
		test_send_with_invalidate(pattern, sizeof(pattern));
	else
		printf("[not run] SEND with invalidate of another connection's key: a known defect "
		       "on rxe (tests/rdma/README.md); PRB_RDMA_KNOWN_DEFECTS=1 runs it\n");
	test_stalled_peer(pattern, sizeof(pattern), send_timeout_s);
	test_stalled_term();
	test_abrupt_close(pattern, sizeof(pattern));
	check_brick_serves("a stalled peer's TERM", pattern, sizeof(pattern));
	if (max_connections)
		test_limit(max_connections);
	else
		printf("[not run] connection limit: no MAX_CONNECTIONS argument\n");
	if (max_connections && hello_timeout_s)
		test_unestablished(max_connections, hello_timeout_s);
	else
		printf("[not run] connections never established: no MAX_CONNECTIONS and "
		       "HELLO_TIMEOUT_S arguments\n");
	if (raw_hello(&r) == 0) {
		struct prb_info_rsp info = {0};

		for (int i = 0; i < 50; i++) {
			struct prb_hdr h;
			const uint8_t *p;

			memset(&m, 0, sizeof(m));
			if (raw_call(&r, PRB_MSG_INFO_REQ, &m, &h, &p) == 0 && h.status == 0)
				prb_info_rsp_decode(p, h.plen, &info, NULL);
			if (info.connections == 1)
				break;
			sleep_ms(200);
		}
		CHECK(info.connections == 1,
		      "after the hostile tests the brick counts %u connection(s): this one",
		      (unsigned)info.connections);
		memset(&m, 0, sizeof(m));
		m.free_req.addr = HOSTILE_ADDR;
		m.free_req.blocks = 1;
		m.free_req.free_flags = PRB_FREE_FORCE;
		CHECK(raw_status(&r, PRB_MSG_FREE_REQ, &m) == PRB_ST_OK, "hostile tests: FREE");
	}
	raw_close(&r);
}

/* One control request naming \p handle (UNMAP or FLUSH of its first 4 KiB); its status. */
static int raw_handle_status(struct raw *r, enum prb_msg_id id, uint64_t handle)
{
	union prb_msg m;

	memset(&m, 0, sizeof(m));
	if (id == PRB_MSG_FLUSH_REQ) {
		m.flush_req.handle = handle;
		m.flush_req.length = 4096;
	} else {
		m.unmap_req.handle = handle;
	}
	return raw_status(r, id, &m);
}

/* Connect after a restart: the brick may take a moment to listen again. */
static int raw_hello_retry(struct raw *r)
{
	double end = now_ms() + 30000;
	struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
	int rc;

	while ((rc = raw_hello(r)) != 0) {
		raw_close(r);
		if (now_ms() >= end)
			return rc;
		nanosleep(&pause, NULL);
	}
	return 0;
}

/* A crash with a live RW mapping (PRB_RESTART_CMD of scripts/with-target.sh): the old
 * handle is stale for capsules and its key reaches nothing (PRB-BOOT-2, PRB-MAP-16), the
 * epoch grows (PRB-BOOT-1), flushed bytes written one-sided stay (PRB-DUR-3, PRB-BOOT-4). */
static void test_restart(void)
{
	const char *cmd = getenv("PRB_RESTART_CMD");
	union prb_msg m = {.alloc_req = {.addr = BLOCK_ADDR, .blocks = 1}};
	struct prb_map_rsp old, now;
	uint8_t pattern[256];
	uint64_t epoch;
	struct raw r;
	int st;

	if (!cmd) {
		printf("[not run] restart: PRB_RESTART_CMD unset (run under scripts/with-target.sh)\n");
		return;
	}
	if (raw_hello(&r)) {
		CHECK(false, "connect before the restart");
		return;
	}
	epoch = r.hello.boot_epoch;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	CHECK(raw_status(&r, PRB_MSG_ALLOC_REQ, &m) == PRB_ST_OK, "ALLOC before the restart");
	CHECK(raw_map(&r, PRB_MAP_WRITE, &old) == 0, "MAP RW before the restart");
	memcpy(r.local, pattern, sizeof(pattern));
	CHECK(raw_one_sided(&r, IBV_WR_RDMA_WRITE, old.raddr, old.rkey, sizeof(pattern)) ==
		      IBV_WC_SUCCESS,
	      "RDMA WRITE before the restart");
	CHECK(raw_handle_status(&r, PRB_MSG_FLUSH_REQ, old.handle) == PRB_ST_OK,
	      "FLUSH of the one-sided write");
	/* The mapping is live when the brick dies. */
	st = system(cmd);
	CHECK(st == 0, "restart command '%s': status %d", cmd, st);
	raw_close(&r);

	if (raw_hello_retry(&r)) {
		CHECK(false, "connect after the restart");
		return;
	}
	CHECK(r.hello.boot_epoch > epoch, "PRB-BOOT-1: boot_epoch %llu after the restart, %llu before",
	      (unsigned long long)r.hello.boot_epoch, (unsigned long long)epoch);
	CHECK(raw_handle_status(&r, PRB_MSG_FLUSH_REQ, old.handle) == PRB_ST_ESTALE,
	      "PRB-BOOT-2: FLUSH of a handle from before the restart: ESTALE");
	CHECK(raw_handle_status(&r, PRB_MSG_UNMAP_REQ, old.handle) == PRB_ST_ESTALE,
	      "PRB-BOOT-2: UNMAP of a handle from before the restart: ESTALE");
	st = raw_one_sided(&r, IBV_WR_RDMA_READ, old.raddr, old.rkey, 64);
	CHECK(st == IBV_WC_REM_ACCESS_ERR,
	      "PRB-MAP-16: RDMA READ with the key of a handle from before the restart: %s",
	      st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	raw_close(&r);

	if (raw_hello(&r)) {
		CHECK(false, "connect after the old key ended the connection");
		return;
	}
	st = raw_map(&r, 0, &now);
	CHECK(st == 0, "MAP RO after the restart");
	if (st == 0) {
		memset(r.local, 0, sizeof(pattern));
		st = raw_one_sided(&r, IBV_WR_RDMA_READ, now.raddr, now.rkey, sizeof(pattern));
		CHECK(st == IBV_WC_SUCCESS && memcmp(r.local, pattern, sizeof(pattern)) == 0,
		      "PRB-DUR-3, PRB-BOOT-4: the flushed one-sided write survived the crash");
		CHECK(raw_handle_status(&r, PRB_MSG_UNMAP_REQ, now.handle) == PRB_ST_OK, "UNMAP");
	}
	memset(&m, 0, sizeof(m));
	m.free_req.addr = BLOCK_ADDR;
	m.free_req.blocks = 1;
	CHECK(raw_status(&r, PRB_MSG_FREE_REQ, &m) == PRB_ST_OK, "FREE after the restart");
	raw_close(&r);
}

int main(int argc, char **argv)
{
	struct prb_url url;
	char port[8];

	if (argc < 2 || argc > 5 || prb_url_parse_connect(argv[1], &url) < 0 ||
	    url.transport != PRB_TRANSPORT_RDMA) {
		fprintf(stderr,
			"usage: %s rdma://HOST:PORT [MAX_CONNECTIONS [SEND_TIMEOUT_S "
			"[HELLO_TIMEOUT_S]]]\n  (the brick's options; 0: not given)\n",
			argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(port, sizeof(port), "%u", (unsigned)url.port);
	g_host = url.host;
	g_port = port;
	test_hello();
	test_capsules();
	test_keys();
	test_hostile(argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0,
		     argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0,
		     argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 0);
	test_restart();
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
