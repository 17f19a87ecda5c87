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
#define LOCAL_SIZE 8192u
#define TIMEOUT_MS 5000
#define BLOCK_ADDR (512ull << 20)


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

/* Connect with \p pdata as private data. 0: established; -ECONNREFUSED: rejected. */
static int raw_open(struct raw *r, const void *pdata, uint8_t pdata_len)
{
	struct addrinfo *ai;
	struct ibv_qp_init_attr qa;
	struct rdma_conn_param cp;
	int rc;

	memset(r, 0, sizeof(*r));
	if (getaddrinfo(g_host, g_port, NULL, &ai))
		return -EINVAL;
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
	for (uint32_t i = 0; i <= DEPTH; i++)
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

static int raw_map(struct raw *r, uint32_t flags, struct prb_map_rsp *out)
{
	union prb_msg m = {.map_req = {.addr = BLOCK_ADDR, .map_flags = flags}};
	struct prb_hdr h;
	const uint8_t *p;
	int rc = raw_call(r, PRB_MSG_MAP_REQ, &m, &h, &p);

	if (rc < 0 || h.status)
		return rc < 0 ? rc : -(int)h.status;
	return prb_map_rsp_decode(p, h.plen, out, NULL);
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

	if (argc != 2 || prb_url_parse_connect(argv[1], &url) < 0 || url.transport != PRB_TRANSPORT_RDMA) {
		fprintf(stderr, "usage: %s rdma://HOST:PORT\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(port, sizeof(port), "%u", (unsigned)url.port);
	g_host = url.host;
	g_port = port;
	test_hello();
	test_capsules();
	test_keys();
	test_restart();
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
