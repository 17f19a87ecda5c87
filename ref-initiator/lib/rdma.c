/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RDMA binding: rdma_cm connect with the HELLO request as private data (the
 * HELLO response comes back as accept private data), control capsules by SEND and
 * RECV, and READ, WRITE, CAS and FADD as one-sided verbs against the mapping's
 * rkey: the brick's CPU sees none of them. Data moves through registered memory:
 * a buffer the caller registered (rdma_buffers.c, zero-copy) or a bounce pool.
 * Requests started together (prb_submit, prb_reap) are posted as one chain of work
 * requests: one doorbell per batch, in the order they were queued.
 *
 * A one-sided operation that fails with a remote access error (a revoked key)
 * completes with -ESTALE; the queue pair is then in the error state, so the
 * connection is lost and the other requests in flight complete with -ECONNRESET:
 * the caller reconnects (PROTOCOL.md 9.4).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "internal.h"
#include "rdma_buffers.h"

/* Our max_pdu: the largest answer, a full LIST response (no READ data over RDMA). */
#define PRB_RDMA_RX_MAX (PRB_LIST_RSP_SIZE + PRB_MAX_LIST_EXTENTS * 16u)
/* Capsule send buffer per request slot: the largest request fixed part. */
#define PRB_RDMA_TX_SLOT PRB_REQ_PDU_MAX
/* Bounce pool for callers' unregistered buffers: chunks, contiguous runs per operation. */
#define PRB_RDMA_CHUNK (64u * 1024u)
#define PRB_RDMA_CHUNKS 128u
#define PRB_RDMA_MAX_RD_ATOM 128 /* RDMA READs and atomics in flight, as the devices allow */
/* Polls between clock readings while busy-polling (prb_opts_set_rdma_spin), and the
 * clock-free spin of a blocking one-sided call: a small READ completes within a few
 * dozen polls. */
#define PRB_RDMA_SPIN_POLLS 256u

_Static_assert(PRB_RDMA_RX_MAX >= PRB_MIN_MAX_PDU, "RDMA max_pdu is at least min_max_pdu");
_Static_assert(PRB_HELLO_REQ_SIZE <= PRB_RDMA_REQ_PRIVATE_DATA, "HELLO fits connect data");

/* What a work request is: its kind in the top bits of wr_id, the slot below. */
enum prb_rdma_wr { PRB_RDMA_WR_RECV = 1, PRB_RDMA_WR_SEND = 2, PRB_RDMA_WR_DATA = 3 };

struct prb_rdma {
	struct rdma_event_channel *cm_channel;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *comp;
	struct ibv_cq *cq;
	bool notify_armed;
	uint32_t depth; /* requested queue depth: the granted one is not larger */
	bool atomics;

	uint8_t *rx;    /* depth + 1 receive buffers of PRB_RDMA_RX_MAX bytes */
	struct ibv_mr *rx_mr;
	uint8_t *tx;    /* one capsule buffer per request slot */
	struct ibv_mr *tx_mr;
	uint8_t *bounce; /* PRB_RDMA_CHUNKS chunks */
	struct ibv_mr *bounce_mr;
	uint8_t chunk_used[PRB_RDMA_CHUNKS];
	uint32_t *bounce_at; /* per slot: first chunk + 1, 0 for none */

	struct prb_request *wait_head, *wait_tail; /* waiting for bounce space, and those behind */
	/* Send work requests posted since the last doorbell: prb_rdma_ring hands them to the
	 * device as one chain (one ibv_post_send, on Soft-RoCE one system call, per batch). */
	struct ibv_send_wr *chain;
	struct ibv_sge *chain_sge;
	uint32_t chained;
	struct prb_rdma_buffers *buffers;          /* the caller's registrations, this PD */
	unsigned io_timeout_ms;
	unsigned spin_us; /* prb_opts_set_rdma_spin */
	uint64_t last_progress_ms; /* read lazily: when about to sleep */
	bool progressed;           /* completions since last_progress_ms was read */
};

static struct prb_rdma *prb_rdma_of(const struct prb_session *s)
{
	return s->transport_ctx;
}

static uint64_t prb_rdma_wrid(enum prb_rdma_wr kind, uint32_t slot)
{
	return (uint64_t)kind << 32 | slot;
}

static uint32_t prb_rdma_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------ connection */

/* Wait for the next rdma_cm event before the deadline; the caller acks it. */
static int prb_rdma_cm_wait(struct rdma_event_channel *ch, uint64_t deadline_ms,
			    struct rdma_cm_event **ev)
{
	struct pollfd p = {.fd = ch->fd, .events = POLLIN};

	for (;;) {
		uint64_t now = prb_now_ms();
		int rc;

		if (rdma_get_cm_event(ch, ev) == 0)
			return 0;
		if (errno != EAGAIN)
			return -errno;
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)(deadline_ms - now));
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* Wait for one expected event (ADDR_RESOLVED, ROUTE_RESOLVED). */
static int prb_rdma_cm_expect(struct rdma_event_channel *ch, enum rdma_cm_event_type type,
			      uint64_t deadline_ms)
{
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type got;
	int status, rc = prb_rdma_cm_wait(ch, deadline_ms, &ev);

	if (rc < 0)
		return rc;
	got = ev->event;
	status = ev->status;
	rdma_ack_cm_event(ev);
	if (got == type)
		return 0;
	if (got == RDMA_CM_EVENT_ADDR_ERROR || got == RDMA_CM_EVENT_ROUTE_ERROR)
		return status < 0 ? status : -EHOSTUNREACH;
	return -ECONNREFUSED;
}

/*
 * rdma_cm's ENODEV (no RDMA device on this host, or none on the way to the brick's
 * address) as libprb reports it: -EADDRNOTAVAIL, which no other step returns, so
 * that it is not taken for a libprb built without RDMA (-EPROTONOSUPPORT) nor for
 * prb_reconnect's -ENODEV (another brick at the URL).
 */
static int prb_rdma_no_device(int rc)
{
	return rc == -ENODEV ? -EADDRNOTAVAIL : rc;
}

/* Resolve the brick's address and route on a fresh cm id. */
static int prb_rdma_resolve(struct prb_rdma *c, const struct prb_url *url, uint64_t deadline_ms)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai;
	char port[8];
	int timeout = (int)(deadline_ms - prb_now_ms());
	int rc;

	snprintf(port, sizeof(port), "%u", (unsigned)url->port);
	rc = getaddrinfo(url->host, port, &hints, &ai);
	if (rc != 0)
		return rc == EAI_NONAME ? -ENXIO : -EHOSTUNREACH;
	rc = rdma_resolve_addr(c->id, NULL, ai->ai_addr, timeout > 0 ? timeout : 1) ? -errno : 0;
	freeaddrinfo(ai);
	if (rc < 0)
		return prb_rdma_no_device(rc);
	/* The address resolved, but maybe to a network device without RDMA. */
	rc = prb_rdma_cm_expect(c->cm_channel, RDMA_CM_EVENT_ADDR_RESOLVED, deadline_ms);
	if (rc < 0)
		return prb_rdma_no_device(rc);
	timeout = (int)(deadline_ms - prb_now_ms());
	if (rdma_resolve_route(c->id, timeout > 0 ? timeout : 1))
		return -errno;
	return prb_rdma_cm_expect(c->cm_channel, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline_ms);
}

static int prb_rdma_post_recv(struct prb_rdma *c, uint32_t i)
{
	struct ibv_sge sge = {.addr = (uintptr_t)(c->rx + (size_t)i * PRB_RDMA_RX_MAX),
			      .length = PRB_RDMA_RX_MAX, .lkey = c->rx_mr->lkey};
	struct ibv_recv_wr wr = {.wr_id = prb_rdma_wrid(PRB_RDMA_WR_RECV, i), .sg_list = &sge,
				 .num_sge = 1};
	struct ibv_recv_wr *bad;

	return ibv_post_recv(c->id->qp, &wr, &bad) ? -EIO : 0;
}

/* Protection domain, completion queue, queue pair, registered buffers, posted receives. */
static int prb_rdma_setup(struct prb_rdma *c)
{
	struct ibv_context *verbs = c->id->verbs;
	struct ibv_device_attr attr;
	struct ibv_qp_init_attr qa;
	uint32_t send_wrs = 2u * c->depth + 2u, recv_wrs = c->depth + 1u;

	if (ibv_query_device(verbs, &attr))
		return -EIO;
	c->atomics = attr.atomic_cap != IBV_ATOMIC_NONE;
	c->pd = ibv_alloc_pd(verbs);
	c->comp = ibv_create_comp_channel(verbs);
	if (!c->pd || !c->comp)
		return -ENOMEM;
	if (fcntl(c->comp->fd, F_SETFL, fcntl(c->comp->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	c->cq = ibv_create_cq(verbs, (int)(send_wrs + recv_wrs), c, c->comp, 0);
	if (!c->cq)
		return -ENOMEM;
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = c->cq;
	qa.recv_cq = c->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.sq_sig_all = 1;
	qa.cap.max_send_wr = send_wrs;
	qa.cap.max_recv_wr = recv_wrs;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	if (rdma_create_qp(c->id, c->pd, &qa))
		return -errno;
	c->rx = malloc((size_t)recv_wrs * PRB_RDMA_RX_MAX);
	c->tx = malloc((size_t)c->depth * PRB_RDMA_TX_SLOT);
	c->bounce = malloc((size_t)PRB_RDMA_CHUNKS * PRB_RDMA_CHUNK);
	c->bounce_at = calloc(c->depth, sizeof(*c->bounce_at));
	c->chain = calloc(c->depth, sizeof(*c->chain));
	c->chain_sge = calloc(c->depth, sizeof(*c->chain_sge));
	if (!c->rx || !c->tx || !c->bounce || !c->bounce_at || !c->chain || !c->chain_sge)
		return -ENOMEM;
	c->rx_mr = ibv_reg_mr(c->pd, c->rx, (size_t)recv_wrs * PRB_RDMA_RX_MAX,
			      IBV_ACCESS_LOCAL_WRITE);
	c->tx_mr = ibv_reg_mr(c->pd, c->tx, (size_t)c->depth * PRB_RDMA_TX_SLOT, 0);
	c->bounce_mr = ibv_reg_mr(c->pd, c->bounce, (size_t)PRB_RDMA_CHUNKS * PRB_RDMA_CHUNK,
				  IBV_ACCESS_LOCAL_WRITE);
	if (!c->rx_mr || !c->tx_mr || !c->bounce_mr)
		return -ENOMEM;
	/* PRB-RDMA-11: queue_depth + 1 receive buffers before rdma_connect. */
	for (uint32_t i = 0; i < recv_wrs; i++)
		if (prb_rdma_post_recv(c, i) < 0)
			return -EIO;
	if (ibv_req_notify_cq(c->cq, 0))
		return -EIO;
	c->notify_armed = true;
	return 0;
}

/* Check the brick's HELLO response against what was asked; record the parameters. */
static int prb_rdma_accept_hello(struct prb_session *s, const uint8_t *pdata, size_t len)
{
	const struct prb_hello_rsp *m;
	enum prb_msg_id id;
	union prb_msg u;
	int rc;

	/* PRB-RDMA-6: the PDU's length comes from plen; the transport may pad. */
	if (len < PRB_HDR_SIZE || prb_rdma_le32(pdata + 4) > len)
		return -EPROTO;
	len = prb_rdma_le32(pdata + 4);
	if (prb_proto_msg_decode(pdata, len, &u, &id) < 0 || id != PRB_MSG_HELLO_RSP)
		return -EPROTO;
	m = &u.hello_rsp;
	if (m->hdr.status != PRB_ST_OK)
		return prb_status_to_errno(m->hdr.status);
	/* PRB-RDMA-15: never digests on RDMA. */
	rc = prb_proto_hello_accept(s, m,
				    PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST);
	if (rc < 0)
		return rc;
	/* One-sided verbs move up to a whole block: max_data bounds only TCP's data PDUs. */
	s->params.max_data = PRB_BLOCK_SIZE;
	s->max_write = PRB_BLOCK_SIZE;
	return 0;
}

/* A refused connect: the brick's HELLO error response, when it sent one. */
static int prb_rdma_refused(const void *pdata, size_t len)
{
	struct prb_hdr h;

	if (!pdata || len < PRB_HDR_SIZE || prb_proto_hdr_decode(pdata, len, &h) < 0 ||
	    h.opcode != (PRB_OP_HELLO | PRB_OPCODE_RESPONSE) || h.status == PRB_ST_OK)
		return -ECONNREFUSED;
	return prb_status_to_errno(h.status);
}

/* rdma_connect with the HELLO request; wait for ESTABLISHED (or the refusal). */
static int prb_rdma_hello(struct prb_session *s, struct prb_rdma *c, uint64_t deadline_ms)
{
	struct prb_hello_req req = {.min_version = 1, .max_version = PRB_VERSION,
				    .queue_depth = (uint16_t)s->opts.queue_depth,
				    .features = s->opts.features &
						~(uint32_t)(PRB_FEAT_HDGST | PRB_FEAT_DDGST),
				    .max_pdu = PRB_RDMA_RX_MAX};
	uint8_t pdata[PRB_HELLO_REQ_SIZE];
	struct rdma_conn_param param;
	struct rdma_cm_event *ev;
	int rc;

	memcpy(req.host_id, s->opts.host_id, sizeof(req.host_id));
	rc = prb_hello_req_encode(&req, pdata, sizeof(pdata));
	if (rc < 0)
		return rc;
	memset(&param, 0, sizeof(param));
	param.private_data = pdata;
	param.private_data_len = (uint8_t)rc;
	param.initiator_depth = PRB_RDMA_MAX_RD_ATOM;
	param.responder_resources = 0;
	param.retry_count = 7;
	param.rnr_retry_count = 7;
	if (rdma_connect(c->id, &param))
		return -errno;
	rc = prb_rdma_cm_wait(c->cm_channel, deadline_ms, &ev);
	if (rc < 0)
		return rc;
	switch (ev->event) {
	case RDMA_CM_EVENT_ESTABLISHED:
		rc = prb_rdma_accept_hello(s, ev->param.conn.private_data,
					   ev->param.conn.private_data_len);
		break;
	case RDMA_CM_EVENT_REJECTED:
		rc = prb_rdma_refused(ev->param.conn.private_data, ev->param.conn.private_data_len);
		break;
	default:
		rc = -ECONNREFUSED;
		break;
	}
	rdma_ack_cm_event(ev);
	return rc;
}

static void prb_rdma_free(struct prb_rdma *c)
{
	prb_rdma_buffers_detach(c->buffers);
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->comp)
		ibv_destroy_comp_channel(c->comp);
	if (c->rx_mr)
		ibv_dereg_mr(c->rx_mr);
	if (c->tx_mr)
		ibv_dereg_mr(c->tx_mr);
	if (c->bounce_mr)
		ibv_dereg_mr(c->bounce_mr);
	if (c->pd)
		ibv_dealloc_pd(c->pd);
	if (c->id)
		rdma_destroy_id(c->id);
	if (c->cm_channel)
		rdma_destroy_event_channel(c->cm_channel);
	free(c->chain_sge);
	free(c->chain);
	free(c->bounce_at);
	free(c->bounce);
	free(c->tx);
	free(c->rx);
	free(c);
}

static int prb_rdma_open(struct prb_session *s, const struct prb_url *url)
{
	uint64_t deadline = prb_now_ms() + s->opts.connect_timeout_ms;
	struct prb_rdma *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->depth = s->opts.queue_depth;
	c->cm_channel = rdma_create_event_channel();
	if (!c->cm_channel) {
		/* librdmacm: ENODEV without RDMA devices, ENOENT without the rdma_cm module. */
		rc = errno == ENODEV || errno == ENOENT ? -EADDRNOTAVAIL : -errno;
		goto err_free;
	}
	if (fcntl(c->cm_channel->fd, F_SETFL, fcntl(c->cm_channel->fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    rdma_create_id(c->cm_channel, &c->id, NULL, RDMA_PS_TCP)) {
		rc = -errno;
		goto err_free;
	}
	rc = prb_rdma_resolve(c, url, deadline);
	if (rc < 0)
		goto err_free;
	rc = prb_rdma_setup(c);
	if (rc < 0)
		goto err_free;
	s->term_reason = 0;
	rc = prb_rdma_hello(s, c, deadline);
	if (rc < 0)
		goto err_free;
	if (!c->atomics)
		s->params.features &= ~(uint32_t)PRB_FEATURE_ATOMICS;
	rc = prb_rdma_buffers_attach(s, c->pd, &c->buffers);
	if (rc < 0)
		goto err_disconnect;
	c->io_timeout_ms = s->opts.io_timeout_ms;
	c->spin_us = s->opts.rdma_spin_us;
	c->last_progress_ms = prb_now_ms();
	s->transport_ctx = c;
	return 0;

err_disconnect:
	rdma_disconnect(c->id);
err_free:
	prb_rdma_free(c);
	return rc;
}

static void prb_rdma_close(struct prb_session *s)
{
	struct prb_rdma *c = prb_rdma_of(s);

	if (!c)
		return;
	rdma_disconnect(c->id);
	prb_rdma_free(c);
	s->transport_ctx = NULL;
}

/* The completion channel: armed here, since the caller is about to poll it (completions
 * already queued do not signal it: prb_reap(..., 0) first, as after any wakeup). */
static int prb_rdma_fd(const struct prb_session *s)
{
	struct prb_rdma *c = prb_rdma_of(s);

	if (!c->notify_armed && ibv_req_notify_cq(c->cq, 0) == 0)
		c->notify_armed = true;
	return c->comp->fd;
}

/* ------------------------------------------------------------------ requests */

static uint32_t prb_rdma_slot(const struct prb_session *s, const struct prb_request *r)
{
	return (uint32_t)(r - s->slots);
}

/* Ring the doorbell: post the chained work requests, in the order they were added. */
static int prb_rdma_ring(struct prb_rdma *c)
{
	struct ibv_send_wr *bad;
	uint32_t n = c->chained;

	if (n == 0)
		return 0;
	for (uint32_t i = 0; i + 1 < n; i++)
		c->chain[i].next = &c->chain[i + 1];
	c->chain[n - 1].next = NULL;
	c->chained = 0;
	return ibv_post_send(c->id->qp, c->chain, &bad) ? -EIO : 0;
}

/*
 * The next work request of the chain, zeroed, with one scatter entry set to sge. A
 * request in flight adds at most one, so depth entries suffice; should the chain be
 * full all the same, it is posted first. Returns the entry, or NULL when that failed.
 */
static struct ibv_send_wr *prb_rdma_chain_add(struct prb_rdma *c, const struct ibv_sge *sge)
{
	struct ibv_send_wr *wr;

	if (c->chained == c->depth && prb_rdma_ring(c) < 0)
		return NULL;
	wr = &c->chain[c->chained];
	c->chain_sge[c->chained] = *sge;
	memset(wr, 0, sizeof(*wr));
	wr->sg_list = &c->chain_sge[c->chained];
	wr->num_sge = 1;
	c->chained++;
	return wr;
}

/* Send a control request as one capsule (PRB-RDMA-9): added to the chain. */
static int prb_rdma_send_capsule(struct prb_session *s, struct prb_rdma *c, struct prb_request *r)
{
	uint32_t slot = prb_rdma_slot(s, r);
	uint8_t *buf = c->tx + (size_t)slot * PRB_RDMA_TX_SLOT;
	struct ibv_sge sge;
	struct ibv_send_wr *wr;
	int n = prb_proto_encode(s, r, 0, buf, PRB_RDMA_TX_SLOT);

	if (n < 0)
		return n;
	r->wire_len = r->sent = (uint32_t)n;
	sge = (struct ibv_sge){.addr = (uintptr_t)buf, .length = (uint32_t)n,
			       .lkey = c->tx_mr->lkey};
	wr = prb_rdma_chain_add(c, &sge);
	if (!wr)
		return -EIO;
	wr->wr_id = prb_rdma_wrid(PRB_RDMA_WR_SEND, slot);
	wr->opcode = IBV_WR_SEND;
	return 0;
}

/* Contiguous bounce chunks for len bytes: the first chunk, or -1 when none are free now. */
static int prb_rdma_bounce_get(struct prb_rdma *c, uint32_t len)
{
	uint32_t need = (len + PRB_RDMA_CHUNK - 1u) / PRB_RDMA_CHUNK, run = 0;

	for (uint32_t i = 0; i < PRB_RDMA_CHUNKS; i++) {
		run = c->chunk_used[i] ? 0 : run + 1;
		if (run == need) {
			uint32_t first = i + 1u - need;

			memset(c->chunk_used + first, 1, need);
			return (int)first;
		}
	}
	return -1;
}

static void prb_rdma_bounce_put(struct prb_rdma *c, uint32_t slot, uint32_t len)
{
	uint32_t need = (len + PRB_RDMA_CHUNK - 1u) / PRB_RDMA_CHUNK;

	if (!c->bounce_at[slot])
		return;
	memset(c->chunk_used + c->bounce_at[slot] - 1u, 0, need);
	c->bounce_at[slot] = 0;
}

/* The local side of a data operation: the caller's registered memory or a bounce run.
 * Returns 0, or -EAGAIN when the bounce pool is full for now. */
static int prb_rdma_local(struct prb_session *s, struct prb_rdma *c, struct prb_request *r,
			  struct ibv_sge *sge)
{
	uint32_t slot = prb_rdma_slot(s, r);
	bool atomic = r->opcode == PRB_OP_CAS || r->opcode == PRB_OP_FADD;
	void *user = r->opcode == PRB_OP_READ ? r->read_buf : (void *)(uintptr_t)r->write_buf;
	uint32_t len = atomic ? PRB_ATOMIC_SIZE : r->length;
	uint32_t lkey;
	int first;

	sge->length = len;
	if (!atomic && prb_rdma_buffers_find(c->buffers, user, len, &lkey)) {
		sge->addr = (uintptr_t)user;
		sge->lkey = lkey;
		return 0;
	}
	first = prb_rdma_bounce_get(c, len);
	if (first < 0)
		return -EAGAIN;
	c->bounce_at[slot] = (uint32_t)first + 1u;
	sge->addr = (uintptr_t)(c->bounce + (size_t)first * PRB_RDMA_CHUNK);
	sge->lkey = c->bounce_mr->lkey;
	if (r->opcode == PRB_OP_WRITE)
		memcpy(c->bounce + (size_t)first * PRB_RDMA_CHUNK, r->write_buf, len);
	return 0;
}

/* Make wr (its scatter list set) an RDMA READ or WRITE at raddr with rkey. */
static void prb_rdma_set_rw(struct ibv_send_wr *wr, uint8_t opcode, uint64_t raddr, uint32_t rkey)
{
	wr->opcode = opcode == PRB_OP_READ ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE;
	wr->wr.rdma.remote_addr = raddr;
	wr->wr.rdma.rkey = rkey;
}

/* A READ, WRITE, CAS or FADD as a one-sided verb at raddr + offset with the rkey: added
 * to the chain. -EAGAIN when it has to wait for bounce space. */
static int prb_rdma_post_data(struct prb_session *s, struct prb_rdma *c, struct prb_request *r)
{
	struct prb_mapping *m = r->mapping;
	uint64_t raddr = m->raddr + r->offset;
	struct ibv_sge sge;
	struct ibv_send_wr *wr;
	int rc = prb_rdma_local(s, c, r, &sge);

	if (rc < 0)
		return rc;
	wr = prb_rdma_chain_add(c, &sge);
	if (!wr)
		return -EIO;
	wr->wr_id = prb_rdma_wrid(PRB_RDMA_WR_DATA, prb_rdma_slot(s, r));
	switch (r->opcode) {
	case PRB_OP_READ:
	case PRB_OP_WRITE:
		prb_rdma_set_rw(wr, r->opcode, raddr, m->rkey);
		break;
	default:
		/* PRB-RDMA-22: offsets are multiples of 8 (checked before queueing). */
		wr->opcode = r->opcode == PRB_OP_CAS ? IBV_WR_ATOMIC_CMP_AND_SWP
						     : IBV_WR_ATOMIC_FETCH_AND_ADD;
		wr->wr.atomic.remote_addr = raddr;
		wr->wr.atomic.rkey = m->rkey;
		wr->wr.atomic.compare_add = r->opcode == PRB_OP_CAS ? r->compare : r->operand;
		wr->wr.atomic.swap = r->operand;
		break;
	}
	r->wire_len = r->sent = 0;
	return 0;
}

static bool prb_rdma_one_sided(uint8_t opcode)
{
	return opcode == PRB_OP_READ || opcode == PRB_OP_WRITE || opcode == PRB_OP_CAS ||
	       opcode == PRB_OP_FADD;
}

/* Post r as a capsule or a one-sided verb; -EAGAIN when it waits for bounce space. */
static int prb_rdma_post(struct prb_session *s, struct prb_rdma *c, struct prb_request *r)
{
	return prb_rdma_one_sided(r->opcode) ? prb_rdma_post_data(s, c, r)
					     : prb_rdma_send_capsule(s, c, r);
}

/*
 * Requests go on the wire in the order they were started: once one waits for bounce
 * space, every later one (capsules too) waits behind it. A FLUSH capsule relies on
 * this: it covers the one-sided writes posted before its SEND (PRB-FLUSH-2).
 */
static int prb_rdma_start(struct prb_session *s, struct prb_request *r)
{
	struct prb_rdma *c = prb_rdma_of(s);
	int rc;

	if (s->inflight == 1)
		c->progressed = true; /* the answer timer starts with the first request */
	if (!c->wait_head) {
		rc = prb_rdma_post(s, c, r);
		if (rc != -EAGAIN)
			return rc;
	}
	r->next = NULL;
	if (c->wait_tail)
		c->wait_tail->next = r;
	else
		c->wait_head = r;
	c->wait_tail = r;
	return 0;
}

/* Post the requests that waited for bounce space (and those behind them), in order. */
static int prb_rdma_post_waiting(struct prb_session *s, struct prb_rdma *c)
{
	struct prb_request *r;

	while ((r = c->wait_head) != NULL) {
		int rc = prb_rdma_post(s, c, r);

		if (rc == -EAGAIN)
			return 0;
		if (rc < 0)
			return rc;
		c->wait_head = r->next;
		if (!c->wait_head)
			c->wait_tail = NULL;
		r->next = NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------ completions */

/* The connection error a failed one-sided completion leaves (its queue pair is in the
 * error state): -ECONNRESET for a revoked key or a flushed request, else -EIO. */
static int prb_rdma_data_error(enum ibv_wc_status status)
{
	return status == IBV_WC_REM_ACCESS_ERR || status == IBV_WC_WR_FLUSH_ERR ? -ECONNRESET
										: -EIO;
}

/* A one-sided operation completed: deliver its data and finish it. */
static int prb_rdma_data_done(struct prb_session *s, struct prb_rdma *c, const struct ibv_wc *wc)
{
	uint32_t slot = (uint32_t)wc->wr_id;
	struct prb_request *r = slot < s->slot_count ? &s->slots[slot] : NULL;
	bool atomic;
	uint32_t len;
	const uint8_t *bounce;

	if (!r || r->state != PRB_REQ_INFLIGHT || !prb_rdma_one_sided(r->opcode))
		return -EPROTO;
	atomic = r->opcode == PRB_OP_CAS || r->opcode == PRB_OP_FADD;
	len = atomic ? PRB_ATOMIC_SIZE : r->length;
	bounce = c->bounce_at[slot] ? c->bounce + (size_t)(c->bounce_at[slot] - 1u) * PRB_RDMA_CHUNK
				    : NULL;
	if (wc->status == IBV_WC_SUCCESS) {
		if (r->opcode == PRB_OP_READ && bounce)
			memcpy(r->read_buf, bounce, len);
		if (atomic && r->original_out)
			memcpy(r->original_out, bounce, PRB_ATOMIC_SIZE); /* the device's order */
		prb_rdma_bounce_put(c, slot, len);
		prb_queue_finish(s, r, 0);
		return 0;
	}
	prb_rdma_bounce_put(c, slot, len);
	/* The key is gone (revoked by the brick): the handle is stale, the QP dead. */
	if (wc->status == IBV_WC_REM_ACCESS_ERR)
		prb_queue_finish(s, r, -ESTALE);
	return prb_rdma_data_error(wc->status);
}

/* A capsule arrived: a response (complete its request) or a TERM. */
static int prb_rdma_recv_done(struct prb_session *s, struct prb_rdma *c, const struct ibv_wc *wc)
{
	uint32_t i = (uint32_t)wc->wr_id;
	const uint8_t *p = c->rx + (size_t)i * PRB_RDMA_RX_MAX;
	struct prb_request *r;
	struct prb_hdr h;
	int rc;

	if (wc->status != IBV_WC_SUCCESS)
		return -ECONNRESET;
	/* PRB-RDMA-10: one PDU per capsule, its plen the capsule's length. */
	/* PRB-VER-9: an unknown status reads as EIO (prb_proto_hdr_decode). */
	if (wc->byte_len < PRB_HDR_SIZE || prb_proto_hdr_decode(p, wc->byte_len, &h) < 0 ||
	    h.plen != wc->byte_len || h.flags != 0)
		return -EPROTO;
	if (h.opcode == PRB_OP_TERM) {
		struct prb_term t;

		if (prb_term_decode(p, h.plen, &t, NULL) == 0)
			s->term_reason = t.reason;
		return -EPROTO;
	}
	r = prb_queue_lookup(s, h.tag);
	if (!r || (h.opcode & ~PRB_OPCODE_RESPONSE) != r->opcode || prb_rdma_one_sided(r->opcode))
		return -EPROTO;
	/* PRB-RDMA-14: repost before anything new is sent. */
	rc = prb_proto_complete(s, r, p, h.plen);
	if (rc < 0)
		return rc;
	return prb_rdma_post_recv(c, i);
}

/* Handle n completions; after a fatal one only the rest's resources are released.
 * Returns 0 or the first fatal error. */
static int prb_rdma_handle(struct prb_session *s, struct prb_rdma *c, const struct ibv_wc *wc,
			   int n, int fatal)
{
	for (int k = 0; k < n; k++) {
		int rc = 0;

		switch ((enum prb_rdma_wr)(wc[k].wr_id >> 32)) {
		case PRB_RDMA_WR_RECV:
			rc = fatal ? 0 : prb_rdma_recv_done(s, c, &wc[k]);
			break;
		case PRB_RDMA_WR_DATA:
			rc = fatal ? 0 : prb_rdma_data_done(s, c, &wc[k]);
			break;
		default:
			if (wc[k].status != IBV_WC_SUCCESS)
				rc = -ECONNRESET;
			break;
		}
		if (rc < 0 && !fatal)
			fatal = rc;
	}
	if (n > 0)
		c->progressed = true;
	return fatal;
}

/* Handle every completion queued; returns how many, or a negative errno (fatal). */
static int prb_rdma_poll(struct prb_session *s, struct prb_rdma *c)
{
	struct ibv_wc wc[16];
	int n, total = 0, fatal = 0;

	/* A batch that is not full emptied the queue: no second poll to learn that. */
	do {
		n = ibv_poll_cq(c->cq, 16, wc);
		fatal = prb_rdma_handle(s, c, wc, n, fatal);
		total += n > 0 ? n : 0;
	} while (n == 16);
	if (n < 0)
		return -EIO;
	return fatal ? fatal : total;
}

/* Completions since the last look move the I/O timeout's start to now (read lazily:
 * only when a wait goes on for a while). */
static void prb_rdma_note_progress(struct prb_rdma *c, uint64_t now_ms)
{
	if (c->progressed) {
		c->progressed = false;
		c->last_progress_ms = now_ms;
	}
}

/* When a spin that starts now ends: after c->spin_us, at the caller's deadline (0: none)
 * or when the I/O timeout expires, whichever comes first. In microseconds. */
static uint64_t prb_rdma_spin_end(struct prb_rdma *c, uint64_t now_us, uint64_t deadline_ms)
{
	uint64_t end = c->spin_us == PRB_RDMA_SPIN_FOREVER ? UINT64_MAX : now_us + c->spin_us;

	prb_rdma_note_progress(c, now_us / 1000u);
	if (deadline_ms > 0 && deadline_ms * 1000u < end)
		end = deadline_ms * 1000u;
	if (c->io_timeout_ms > 0 && (c->last_progress_ms + c->io_timeout_ms) * 1000u < end)
		end = (c->last_progress_ms + c->io_timeout_ms) * 1000u;
	return end;
}

/*
 * Busy-poll before sleeping (prb_opts_set_rdma_spin): a one-sided READ completes in
 * about a round trip, well below a wakeup through the completion channel. Returns what
 * prb_rdma_poll does: completions handled, 0 when the spin ended without any.
 */
static int prb_rdma_spin(struct prb_session *s, struct prb_rdma *c, uint64_t deadline_ms)
{
	uint64_t end = 0;
	int rc;

	/* The clock only every PRB_RDMA_SPIN_POLLS polls, the first time after as many: an
	 * answer that comes quickly costs no clock reading (without a TSC clocksource, and
	 * under emulation, a reading costs more than a poll). */
	for (unsigned i = 1;; i++) {
		rc = prb_rdma_poll(s, c);
		if (rc != 0 || s->inflight == 0 || c->spin_us == 0)
			return rc;
		if (i % PRB_RDMA_SPIN_POLLS == 0) {
			uint64_t now = prb_now_us();

			if (end == 0)
				end = prb_rdma_spin_end(c, now, deadline_ms);
			if (now >= end)
				return 0;
		}
	}
}

/*
 * One step of a blocking call's busy poll: one completion at a time, as perftest polls,
 * most often the only one there is. Returns 1 when it is the work request with id mine
 * (left to the caller; 0 names none: no work request has id 0), 0 when there was none
 * or another's was handled, or a negative errno when that one was fatal. Inline: it
 * runs once per poll on the blocking READ's latency path.
 */
static inline int prb_rdma_poll_one(struct prb_session *s, struct prb_rdma *c, uint64_t mine,
				    struct ibv_wc *wc)
{
	int n = ibv_poll_cq(c->cq, 1, wc);

	if (n == 0)
		return 0;
	if (n < 0)
		return -EIO;
	return mine != 0 && wc->wr_id == mine ? 1 : prb_rdma_handle(s, c, wc, n, 0);
}

/*
 * A blocking call's one READ, WRITE, CAS or FADD (prb_queue_run): post it and busy-poll the
 * completion queue as perftest does, at most PRB_RDMA_SPIN_POLLS times, with no clock
 * reading; every completion goes through prb_rdma_handle, so others' requests finish as
 * well. Not finished by then (or waiting for bounce space): prb_queue_wait takes over,
 * with the I/O timeout and the completion channel.
 */
static int prb_rdma_start_spin(struct prb_session *s, struct prb_request *r)
{
	struct prb_rdma *c = prb_rdma_of(s);
	const struct prb_waiter *w = r->waiter;
	struct ibv_wc wc;
	int rc = prb_rdma_start(s, r);

	if (rc == 0)
		rc = prb_rdma_ring(c);
	if (rc < 0 || c->wait_head)
		return rc;
	for (unsigned i = 0; i < PRB_RDMA_SPIN_POLLS && w->pending > 0; i++) {
		rc = prb_rdma_poll_one(s, c, 0, &wc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * How run_direct's operation ended, as the request path would have ended it: a revoked
 * key (remote access error) fails it with -ESTALE and marks the handle stale; any
 * error leaves the queue pair in the error state, so the connection is lost.
 */
static int prb_rdma_direct_done(struct prb_session *s, struct prb_mapping *m,
				const struct ibv_wc *wc)
{
	if (wc->status == IBV_WC_SUCCESS)
		return 0;
	prb_session_lost(s, prb_rdma_data_error(wc->status));
	if (wc->status != IBV_WC_REM_ACCESS_ERR)
		return -ECONNRESET;
	m->revoked = true;
	return -ESTALE;
}

/*
 * run_direct: a blocking READ or WRITE of a registered buffer, nothing queued or
 * waiting for bounce space before it. One work request from the stack, posted at once,
 * then the completion queue polled one entry at a time, at most PRB_RDMA_SPIN_POLLS
 * times, as start_spin does; others' completions go through prb_rdma_handle. No
 * request is filled: on Soft-RoCE the request, queue and chain cost about 4 % of an
 * 8-byte READ's latency (bench/rdma/README.md). A slot is held out of the free list
 * meanwhile, so that the work request's id names a slot no other request can take; when
 * the spin ends without its completion, the slot goes back to the head of the free list
 * and the caller takes it for the operation (PRB_DIRECT_PENDING), whose completion then
 * finishes it as any request's.
 */
static int prb_rdma_run_direct(struct prb_mapping *m, uint8_t opcode, uint64_t offset,
			       void *read_buf, const void *write_buf, size_t len)
{
	struct prb_session *s = m->session;
	struct prb_rdma *c = prb_rdma_of(s);
	const void *user = opcode == PRB_OP_READ ? read_buf : write_buf;
	struct prb_request *held;
	struct ibv_send_wr wr, *bad;
	struct ibv_sge sge;
	struct ibv_wc wc;
	uint32_t lkey;
	int rc = PRB_DIRECT_PENDING;

	if (s->queue_head || !s->free_slots || c->wait_head || c->chained ||
	    !prb_rdma_buffers_find(c->buffers, user, len, &lkey))
		return PRB_DIRECT_DECLINED;
	held = prb_queue_hold(s);
	sge = (struct ibv_sge){.addr = (uintptr_t)user, .length = (uint32_t)len, .lkey = lkey};
	memset(&wr, 0, sizeof(wr));
	wr.wr_id = prb_rdma_wrid(PRB_RDMA_WR_DATA, prb_rdma_slot(s, held));
	wr.sg_list = &sge;
	wr.num_sge = 1;
	prb_rdma_set_rw(&wr, opcode, m->raddr + offset, m->rkey);
	if (ibv_post_send(c->id->qp, &wr, &bad))
		rc = -EIO;
	for (unsigned i = 0; rc == PRB_DIRECT_PENDING && i < PRB_RDMA_SPIN_POLLS; i++) {
		int got = prb_rdma_poll_one(s, c, wr.wr_id, &wc);

		if (got == 1) {
			prb_queue_unhold(s, held);
			return prb_rdma_direct_done(s, m, &wc);
		}
		if (got < 0)
			rc = got;
	}
	prb_queue_unhold(s, held);
	if (rc < 0) {
		prb_session_lost(s, rc);
		return -ECONNRESET;
	}
	if (s->inflight == 0)
		c->progressed = true; /* the answer timer starts with the first request */
	return PRB_DIRECT_PENDING;
}

/* A disconnect from the brick (it closed the connection). */
static int prb_rdma_cm_check(struct prb_rdma *c)
{
	struct rdma_cm_event *ev;
	int rc = 0;

	while (rdma_get_cm_event(c->cm_channel, &ev) == 0) {
		if (ev->event == RDMA_CM_EVENT_DISCONNECTED ||
		    ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL)
			rc = -ECONNRESET;
		rdma_ack_cm_event(ev);
	}
	return rc;
}

/* Sleep on the completion channel (and the cm channel) at most wait_ms. */
static int prb_rdma_sleep(struct prb_rdma *c, int wait_ms)
{
	struct pollfd p[2] = {{.fd = c->comp->fd, .events = POLLIN},
			      {.fd = c->cm_channel->fd, .events = POLLIN}};
	struct ibv_cq *cq;
	void *ctx;
	int rc;

	if (!c->notify_armed) {
		if (ibv_req_notify_cq(c->cq, 0))
			return -EIO;
		c->notify_armed = true;
		return 0; /* completions may have arrived before arming: poll again first */
	}
	rc = poll(p, 2, wait_ms);
	if (rc < 0 && errno != EINTR)
		return -errno;
	/* rdma_cm events only when the channel says so: no system call per progress */
	if (rc > 0 && (p[1].revents & POLLIN) && prb_rdma_cm_check(c) < 0)
		return -ECONNRESET;
	if (rc > 0 && (p[0].revents & POLLIN) && ibv_get_cq_event(c->comp, &cq, &ctx) == 0) {
		ibv_ack_cq_events(cq, 1);
		c->notify_armed = false;
	}
	return 0;
}

static int prb_rdma_progress(struct prb_session *s, int timeout_ms)
{
	struct prb_rdma *c = prb_rdma_of(s);
	uint64_t deadline = timeout_ms > 0 ? prb_now_ms() + (uint64_t)timeout_ms : 0;
	uint32_t before = s->inflight;
	int rc;

	for (;;) {
		uint64_t now;
		int64_t wait;

		rc = prb_rdma_post_waiting(s, c);
		if (rc == 0)
			rc = prb_rdma_ring(c);
		if (rc < 0)
			return rc;
		/* A look without waiting (prb_reap with timeout 0) does not spin. */
		rc = timeout_ms == 0 ? prb_rdma_poll(s, c) : prb_rdma_spin(s, c, deadline);
		if (rc < 0)
			return rc;
		if (timeout_ms == 0 || s->inflight == 0 || (rc > 0 && s->inflight < before))
			return 0;
		now = prb_now_ms();
		prb_rdma_note_progress(c, now);
		if (c->io_timeout_ms > 0 && now >= c->last_progress_ms + c->io_timeout_ms)
			return -ETIMEDOUT;
		if (timeout_ms > 0 && now >= deadline)
			return 0;
		wait = timeout_ms < 0 ? 1000 : (int64_t)(deadline - now);
		if (c->io_timeout_ms > 0 &&
		    (int64_t)(c->last_progress_ms + c->io_timeout_ms - now) < wait)
			wait = (int64_t)(c->last_progress_ms + c->io_timeout_ms - now);
		rc = prb_rdma_sleep(c, wait > 1000 ? 1000 : (int)wait);
		if (rc < 0)
			return rc;
	}
}

/* prb_register_buffer / prb_unregister_buffer: register the new list in this connection. */
static int prb_rdma_buffers_changed(struct prb_session *s)
{
	struct prb_rdma *c = prb_rdma_of(s);
	struct prb_rdma_buffers *fresh;
	int rc = prb_rdma_buffers_attach(s, c->pd, &fresh);

	if (rc < 0)
		return rc;
	prb_rdma_buffers_detach(c->buffers);
	c->buffers = fresh;
	return 0;
}

const struct prb_transport_ops prb_rdma_transport = {
	.name = "rdma",
	.open = prb_rdma_open,
	.close = prb_rdma_close,
	.start = prb_rdma_start,
	.progress = prb_rdma_progress,
	.fd = prb_rdma_fd,
	.start_spin = prb_rdma_start_spin,
	.run_direct = prb_rdma_run_direct,
	.buffers_changed = prb_rdma_buffers_changed,
};
