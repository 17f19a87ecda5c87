/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "rdma.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <prb/wire.h>

#include "brick.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"

#define RDMA_MAX_LISTENERS 16
#define RDMA_BACKLOG 64
/* The largest PDU the brick sends over RDMA: a full LIST response (no READ data). */
#define RDMA_SEND_MAX (PRB_LIST_RSP_SIZE + PRB_MAX_LIST_EXTENTS * 16u)
/* Largest HELLO request accepted from connect private data, largest answer we build. */
#define RDMA_PDATA_MAX 256u
#define RDMA_WRID_BIND UINT64_MAX
/* How long a closing connection waits for its last SENDs (its TERM) to complete. */
#define RDMA_CLOSE_LINGER_MS 3000u
#define RDMA_TICK_MS 250u
#define RDMA_IOV 16

/* One RDMA device the connections use, found through their cm ids. */
struct rdma_device {
	struct rdma_device *next;
	struct ibv_context *verbs;
	struct ibv_pd *pd;       /* window mode: shared by every connection on the device */
	bool windows;            /* type-2 memory windows are used */
	bool atomics;            /* the device does RDMA atomics */
	uint8_t max_rd_atom;     /* responder resources for READ and atomics */
	struct prb_hmap regions; /* block address -> struct rdma_region */
};

/* A block's memory region with bind access only, under every window of the block. */
struct rdma_region {
	struct prb_hmap_node node; /* key: the block's address in the pool */
	struct ibv_mr *mr;
	uint32_t users;
};

/* Binding state of one mapping (prb_mapping.binding). */
struct rdma_key {
	struct ibv_mw *mw;          /* window mode */
	struct rdma_region *region; /* window mode */
	struct ibv_mr *mr;          /* region mode */
};

struct rdma_conn {
	struct prb_rdma *rdma;
	struct rdma_conn *prev, *next;
	struct rdma_cm_id *id;
	struct rdma_device *dev;
	struct ibv_pd *pd;
	bool own_pd;
	struct ibv_comp_channel *channel;
	struct ibv_cq *send_cq, *recv_cq;
	struct prb_loop_fd lfd;
	bool in_loop;
	struct prb_conn *conn;

	uint32_t recv_count, recv_size;
	uint8_t *recv_buf;
	struct ibv_mr *recv_mr;
	uint32_t send_count, send_size;
	uint32_t send_wrs; /* send queue: send_count capsules plus window binds */
	uint8_t *send_buf;
	struct ibv_mr *send_mr;
	uint32_t *send_free;
	uint32_t send_nfree;

	bool broken;      /* the QP failed or the peer left: tear down */
	bool terminating; /* our own TERM is queued: close once it is sent */
	uint64_t close_by_ms; /* closing: tear down by then even if SENDs are still out */
	bool established;     /* RDMA_CM_EVENT_ESTABLISHED arrived */
	uint64_t accepted_ms; /* the HELLO timeout runs from the accept until established */
	uint64_t send_progress_ms; /* a SEND completed, or was posted when none was out */
	char peer[64];
};

struct prb_rdma {
	struct prb_loop *loop;
	struct prb_brick *brick;
	struct prb_rdma_config cfg;
	struct rdma_event_channel *channel;
	struct prb_loop_fd channel_lfd;
	bool channel_in_loop;
	struct rdma_cm_id *listeners[RDMA_MAX_LISTENERS];
	unsigned nlisteners;
	struct rdma_device *devices;
	struct rdma_conn *conns;
	uint32_t nconns;
	struct prb_loop_timer tick;
	uint32_t tick_ms;
	bool shutting_down;
	void (*drained)(void *arg);
	void *drained_arg;
};

static void rdma_conn_destroy(struct rdma_conn *rc);
static void rdma_conn_kick(struct rdma_conn *rc);

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* ------------------------------------------------------------------ devices and keys */

/* The device context of \p verbs, created at first use. */
static struct rdma_device *rdma_device_get(struct prb_rdma *r, struct ibv_context *verbs)
{
	struct ibv_device_attr attr;
	struct rdma_device *d;

	for (d = r->devices; d; d = d->next)
		if (d->verbs == verbs)
			return d;
	if (ibv_query_device(verbs, &attr))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->verbs = verbs;
	d->pd = ibv_alloc_pd(verbs);
	if (!d->pd || prb_hmap_init(&d->regions) < 0) {
		if (d->pd)
			ibv_dealloc_pd(d->pd);
		free(d);
		return NULL;
	}
	d->windows = !r->cfg.force_mr && (attr.device_cap_flags & IBV_DEVICE_MEM_WINDOW_TYPE_2B) &&
		     attr.max_mw > 0;
	d->atomics = attr.atomic_cap != IBV_ATOMIC_NONE;
	/* PROTOCOL.md 9.4: as many incoming READs and atomics in flight as the device allows */
	d->max_rd_atom = (uint8_t)(attr.max_qp_rd_atom > 255 ? 255 : attr.max_qp_rd_atom);
	d->next = r->devices;
	r->devices = d;
	prb_info("rdma: device %s: %s, atomics %s", ibv_get_device_name(verbs->device),
		 d->windows ? "type-2 memory windows" : "one memory region per mapping",
		 d->atomics ? "yes" : "no");
	return d;
}

static void rdma_devices_free(struct prb_rdma *r)
{
	while (r->devices) {
		struct rdma_device *d = r->devices;

		r->devices = d->next;
		prb_hmap_fini(&d->regions);
		ibv_dealloc_pd(d->pd);
		free(d);
	}
}

/* The block's bind-only region, registered at its first window. */
static struct rdma_region *rdma_region_get(struct rdma_device *d, uint8_t *data)
{
	struct prb_hmap_node *n = prb_hmap_find(&d->regions, (uintptr_t)data);
	struct rdma_region *g;

	if (n) {
		g = (struct rdma_region *)n;
		g->users++;
		return g;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	/* Only the windows give remote access: the region's own rkey reaches nothing. */
	g->mr = ibv_reg_mr(d->pd, data, PRB_BLOCK_SIZE, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_MW_BIND);
	if (!g->mr) {
		prb_warn("rdma: registering a block failed: %s", strerror(errno));
		free(g);
		return NULL;
	}
	g->node.key = (uintptr_t)data;
	g->users = 1;
	prb_hmap_insert(&d->regions, &g->node);
	return g;
}

static void rdma_region_put(struct rdma_device *d, struct rdma_region *g)
{
	if (--g->users)
		return;
	prb_hmap_remove(&d->regions, &g->node);
	ibv_dereg_mr(g->mr);
	free(g);
}

/* A send completion: the buffer is free again. False when the QP failed. */
static bool rdma_send_done(struct rdma_conn *rc, const struct ibv_wc *wc)
{
	rc->send_progress_ms = prb_loop_now_ms();
	if (wc->wr_id < rc->send_count)
		rc->send_free[rc->send_nfree++] = (uint32_t)wc->wr_id;
	if (wc->status != IBV_WC_SUCCESS) {
		if (wc->status != IBV_WC_WR_FLUSH_ERR)
			prb_info("rdma: %s: send failed: %s", rc->peer,
				 ibv_wc_status_str(wc->status));
		rc->broken = true;
		return false;
	}
	return true;
}

/*
 * Bind \p mw over the block on this connection's QP. Not waited for: the send queue
 * executes the bind before the MAP response posted after it (as a fast registration
 * before the capsule naming its key), so the key works once the initiator has it; a
 * failed bind completes with an error and breaks the QP. Waiting would stall every
 * connection of the brick behind this one's earlier SENDs, which a peer that posts no
 * receive buffer holds in RNR retries (PRB-CONN-4, PRB-TERM-8).
 */
static int rdma_bind_window(struct rdma_conn *rc, struct ibv_mw *mw, struct ibv_mr *mr,
			    uint8_t *data, unsigned access)
{
	struct ibv_send_wr wr, *bad;
	uint32_t rkey = ibv_inc_rkey(mw->rkey);

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = RDMA_WRID_BIND;
	wr.opcode = IBV_WR_BIND_MW;
	wr.bind_mw.mw = mw;
	wr.bind_mw.rkey = rkey;
	wr.bind_mw.bind_info.mr = mr;
	wr.bind_mw.bind_info.addr = (uintptr_t)data;
	wr.bind_mw.bind_info.length = PRB_BLOCK_SIZE;
	wr.bind_mw.bind_info.mw_access_flags = access;
	if (ibv_post_send(rc->id->qp, &wr, &bad))
		return -errno;
	/* the kernel checks the window's current key at the next bind or invalidate */
	mw->rkey = rkey;
	return 0;
}

/* Brick hook: give the initiator a key reaching exactly this block, with the access the
 * MAP flags allow (PRB-MAP: remote read for RO; read, write and atomics for RW). */
static int rdma_on_map(void *ctx, struct prb_mapping *m)
{
	struct rdma_conn *rc = ctx;
	struct rdma_device *d = rc->dev;
	bool rw = m->map_flags & PRB_MAP_WRITE;
	unsigned access = IBV_ACCESS_REMOTE_READ;
	struct rdma_key *key = calloc(1, sizeof(*key));

	if (!key)
		return -ENOMEM;
	if (rw)
		access |= IBV_ACCESS_REMOTE_WRITE | (d->atomics ? IBV_ACCESS_REMOTE_ATOMIC : 0u);
	if (d->windows) {
		key->region = rdma_region_get(d, m->data);
		if (!key->region)
			goto err_free_key;
		key->mw = ibv_alloc_mw(d->pd, IBV_MW_TYPE_2);
		if (!key->mw)
			goto err_put_region;
		if (rdma_bind_window(rc, key->mw, key->region->mr, m->data, access) < 0)
			goto err_dealloc_mw;
		m->rkey = key->mw->rkey;
	} else {
		key->mr = ibv_reg_mr(rc->pd, m->data, PRB_BLOCK_SIZE,
				     access | (rw ? IBV_ACCESS_LOCAL_WRITE : 0u));
		if (!key->mr)
			goto err_free_key;
		m->rkey = key->mr->rkey;
	}
	m->raddr = (uintptr_t)m->data;
	m->binding = key;
	return 0;

err_dealloc_mw:
	ibv_dealloc_mw(key->mw);
err_put_region:
	rdma_region_put(d, key->region);
err_free_key:
	free(key);
	return -ENOMEM; /* a memory registration the device refused (appendix A) */
}

/* Brick hook: revoke the key now (PRB-UNMAP: before the UNMAP response). Deallocating a
 * window or deregistering a region is synchronous: later accesses fail on the wire. */
static void rdma_on_unmap(void *ctx, struct prb_mapping *m)
{
	struct rdma_conn *rc = ctx;
	struct rdma_key *key = m->binding;

	if (!key)
		return;
	if (key->mw) {
		ibv_dealloc_mw(key->mw);
		rdma_region_put(rc->dev, key->region);
	}
	if (key->mr)
		ibv_dereg_mr(key->mr);
	free(key);
	m->binding = NULL;
	m->rkey = 0;
}

static const struct prb_session_ops rdma_session_ops = {
	.on_map = rdma_on_map,
	.on_unmap = rdma_on_unmap,
};

/* ------------------------------------------------------------------ capsules */

static int rdma_post_recv(struct rdma_conn *rc, uint32_t slot)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(rc->recv_buf + (size_t)slot * rc->recv_size),
		.length = rc->recv_size,
		.lkey = rc->recv_mr->lkey,
	};
	struct ibv_recv_wr wr = { .wr_id = slot, .sg_list = &sge, .num_sge = 1 }, *bad;

	return ibv_post_recv(rc->id->qp, &wr, &bad) ? -errno : 0;
}

/* Copy the first \p want bytes of the iovecs to \p dst; returns how many there were. */
static size_t iov_gather(const struct iovec *iov, int n, uint8_t *dst, size_t want)
{
	size_t got = 0;

	for (int i = 0; i < n && got < want; i++) {
		size_t take = iov[i].iov_len < want - got ? iov[i].iov_len : want - got;

		memcpy(dst + got, iov[i].iov_base, take);
		got += take;
	}
	return got;
}

/* SEND the first \p len bytes of the next free send buffer (one capsule) and take it. */
static int rdma_post_send(struct rdma_conn *rc, uint32_t len)
{
	uint32_t slot = rc->send_free[rc->send_nfree - 1];
	struct ibv_sge sge = { .addr = (uintptr_t)(rc->send_buf + (size_t)slot * rc->send_size),
			       .length = len, .lkey = rc->send_mr->lkey };
	struct ibv_send_wr wr, *bad;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = slot;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	if (ibv_post_send(rc->id->qp, &wr, &bad))
		return -errno;
	/* The send timeout runs from the first SEND out. */
	if (rc->send_nfree == rc->send_count)
		rc->send_progress_ms = prb_loop_now_ms();
	rc->send_nfree--;
	return 0;
}

/* Send what the engine has queued, one PDU per SEND, as far as send buffers allow. */
static void rdma_conn_flush(struct rdma_conn *rc)
{
	struct iovec iov[RDMA_IOV];

	while (!rc->broken && rc->send_nfree && prb_conn_tx_pending(rc->conn)) {
		uint32_t slot = rc->send_free[rc->send_nfree - 1];
		uint8_t *buf = rc->send_buf + (size_t)slot * rc->send_size;
		int n = prb_conn_tx_iov(rc->conn, iov, RDMA_IOV);
		uint32_t plen;

		if (iov_gather(iov, n, buf, PRB_HDR_SIZE) < PRB_HDR_SIZE)
			break;
		plen = get_le32(buf + PRB_HDR_PLEN_OFFSET);
		if (plen > rc->send_size || iov_gather(iov, n, buf, plen) < plen) {
			prb_err("rdma: %s: a %u-byte PDU does not fit a send buffer", rc->peer, plen);
			rc->broken = true;
			break;
		}
		if (rdma_post_send(rc, plen) < 0) {
			prb_warn("rdma: %s: post send: %s", rc->peer, strerror(errno));
			rc->broken = true;
			break;
		}
		prb_conn_tx_commit(rc->conn, plen, prb_loop_now_ms());
	}
}

/* A framing error the engine cannot see (the capsule's length disagrees with its plen):
 * send TERM BAD_HEADER ourselves and close once it is out (PRB-RDMA: one PDU per SEND). */
static void rdma_send_term(struct rdma_conn *rc, uint32_t tag, uint32_t error_offset)
{
	struct prb_term term;
	uint8_t *buf;
	int n;

	rc->terminating = true;
	if (!rc->send_nfree)
		return;
	buf = rc->send_buf + (size_t)rc->send_free[rc->send_nfree - 1] * rc->send_size;
	memset(&term, 0, sizeof(term));
	term.hdr.tag = tag;
	term.reason = PRB_TERM_BAD_HEADER;
	term.error_offset = error_offset;
	n = prb_term_encode(&term, buf, rc->send_size);
	if (n > 0)
		rdma_post_send(rc, (uint32_t)n);
}

/* One received capsule: hand its bytes to the engine and repost the buffer. */
static void rdma_recv_done(struct rdma_conn *rc, const struct ibv_wc *wc)
{
	uint32_t slot = (uint32_t)wc->wr_id;
	const uint8_t *p = rc->recv_buf + (size_t)slot * rc->recv_size;
	uint32_t len = wc->byte_len;
	uint64_t now = prb_loop_now_ms();

	if (rc->terminating)
		return;
	if (len < PRB_HDR_SIZE || get_le32(p + PRB_HDR_PLEN_OFFSET) != len) {
		prb_info("rdma: %s: a %u-byte capsule whose plen differs", rc->peer, len);
		rdma_send_term(rc, len >= PRB_HDR_TAG_OFFSET + PRB_HDR_TAG_SIZE ? get_le32(p + PRB_HDR_TAG_OFFSET) : 0,
			       PRB_HDR_PLEN_OFFSET);
		return;
	}
	while (len) {
		void *dst;
		size_t space = prb_conn_rx_space(rc->conn, &dst);
		size_t take = space < len ? space : len;

		if (!space)
			break;
		memcpy(dst, p, take);
		prb_conn_rx_commit(rc->conn, take, now);
		p += take;
		len -= (uint32_t)take;
	}
	if (rdma_post_recv(rc, slot) < 0)
		rc->broken = true;
}

/* Poll both completion queues empty. */
static void rdma_conn_poll(struct rdma_conn *rc)
{
	struct ibv_wc wc[16];
	int n;

	while ((n = ibv_poll_cq(rc->recv_cq, 16, wc)) > 0) {
		for (int i = 0; i < n; i++) {
			if (wc[i].status != IBV_WC_SUCCESS) {
				if (wc[i].status != IBV_WC_WR_FLUSH_ERR)
					prb_info("rdma: %s: receive failed: %s", rc->peer,
						 ibv_wc_status_str(wc[i].status));
				rc->broken = true;
				continue;
			}
			if (!rc->broken)
				rdma_recv_done(rc, &wc[i]);
		}
	}
	if (n < 0)
		rc->broken = true;
	while ((n = ibv_poll_cq(rc->send_cq, 16, wc)) > 0)
		for (int i = 0; i < n; i++)
			rdma_send_done(rc, &wc[i]);
	if (n < 0)
		rc->broken = true;
}

/*
 * After any event of a connection: send, and close when the engine or the QP is done.
 * A closing connection waits for its SENDs (the TERM among them) to complete, but not
 * for ever: a peer that posts no receive buffer holds them in RNR retries, for ever
 * when its connect request asked for rnr_retry 7, and the brick MUST still close
 * (PRB-TERM-4). rdma_tick comes back to it.
 */
static void rdma_conn_kick(struct rdma_conn *rc)
{
	uint64_t now = prb_loop_now_ms();

	if (!rc->terminating)
		rdma_conn_flush(rc);
	/* over RDMA the engine takes input until it closes (tx_backlog_max 0) */
	if (!rc->close_by_ms && (rc->terminating || !prb_conn_rx_wanted(rc->conn)))
		rc->close_by_ms = now + RDMA_CLOSE_LINGER_MS;
	if (rc->broken ||
	    ((rc->terminating || prb_conn_done(rc->conn)) && rc->send_nfree == rc->send_count)) {
		rdma_conn_destroy(rc);
	} else if (rc->close_by_ms && now >= rc->close_by_ms) {
		prb_info("rdma: %s: closing with %u SENDs not completed", rc->peer,
			 rc->send_count - rc->send_nfree);
		rdma_conn_destroy(rc);
	}
}

/* The completion channel is readable. */
static void rdma_on_completion(void *arg, uint32_t events)
{
	struct rdma_conn *rc = arg;
	struct ibv_cq *cq;
	void *cq_ctx;

	(void)events;
	while (ibv_get_cq_event(rc->channel, &cq, &cq_ctx) == 0) {
		ibv_ack_cq_events(cq, 1);
		if (ibv_req_notify_cq(cq, 0))
			rc->broken = true;
	}
	rdma_conn_poll(rc);
	rdma_conn_kick(rc);
}

/* ------------------------------------------------------------------ connections */

static void rdma_conn_free(struct rdma_conn *rc)
{
	if (rc->in_loop)
		prb_loop_del_fd(rc->rdma->loop, &rc->lfd);
	/* Revokes every handle first: windows die before the QP and regions go. */
	prb_conn_delete(rc->conn);
	if (rc->id && rc->id->qp)
		rdma_destroy_qp(rc->id);
	if (rc->send_cq)
		ibv_destroy_cq(rc->send_cq);
	if (rc->recv_cq)
		ibv_destroy_cq(rc->recv_cq);
	if (rc->channel)
		ibv_destroy_comp_channel(rc->channel);
	if (rc->recv_mr)
		ibv_dereg_mr(rc->recv_mr);
	if (rc->send_mr)
		ibv_dereg_mr(rc->send_mr);
	if (rc->own_pd)
		ibv_dealloc_pd(rc->pd);
	free(rc->send_free);
	free(rc->send_buf);
	free(rc->recv_buf);
	if (rc->id)
		rdma_destroy_id(rc->id);
	free(rc);
}

static void rdma_conn_destroy(struct rdma_conn *rc)
{
	struct prb_rdma *r = rc->rdma;

	prb_info("rdma: %s: connection closed", rc->peer);
	rdma_disconnect(rc->id);
	if (rc->prev)
		rc->prev->next = rc->next;
	else
		r->conns = rc->next;
	if (rc->next)
		rc->next->prev = rc->prev;
	r->nconns--;
	rdma_conn_free(rc);
	if (r->shutting_down && r->nconns == 0 && r->drained) {
		void (*drained)(void *) = r->drained;

		r->drained = NULL;
		drained(r->drained_arg);
	}
}

/* Buffers, completion queues and the QP, sized by the negotiated queue depth. */
static int rdma_conn_setup_qp(struct rdma_conn *rc, uint32_t queue_depth, uint32_t brick_max_pdu,
			      uint32_t peer_max_pdu)
{
	struct ibv_qp_init_attr qa;
	struct ibv_context *verbs = rc->id->verbs;

	rc->recv_count = queue_depth + 1u;
	rc->recv_size = brick_max_pdu;
	rc->send_count = queue_depth + 2u;
	rc->send_size = peer_max_pdu < RDMA_SEND_MAX ? peer_max_pdu : RDMA_SEND_MAX;
	rc->recv_buf = malloc((size_t)rc->recv_count * rc->recv_size);
	rc->send_buf = malloc((size_t)rc->send_count * rc->send_size);
	rc->send_free = calloc(rc->send_count, sizeof(*rc->send_free));
	if (!rc->recv_buf || !rc->send_buf || !rc->send_free)
		return -ENOMEM;
	for (uint32_t i = 0; i < rc->send_count; i++)
		rc->send_free[i] = rc->send_count - 1u - i;
	rc->send_nfree = rc->send_count;
	rc->recv_mr = ibv_reg_mr(rc->pd, rc->recv_buf, (size_t)rc->recv_count * rc->recv_size,
				 IBV_ACCESS_LOCAL_WRITE);
	rc->send_mr = ibv_reg_mr(rc->pd, rc->send_buf, (size_t)rc->send_count * rc->send_size, 0);
	rc->channel = ibv_create_comp_channel(verbs);
	if (!rc->recv_mr || !rc->send_mr || !rc->channel)
		return -ENOMEM;
	/* Window binds (unsignaled) share the send queue: each precedes its MAP response,
	 * queued in the engine (at most queue_depth) or posted (at most send_count). A QP in
	 * error completes every work request, signaled or not. */
	rc->send_wrs = 2u * rc->send_count + queue_depth;
	rc->send_cq = ibv_create_cq(verbs, (int)rc->send_wrs, rc, rc->channel, 0);
	rc->recv_cq = ibv_create_cq(verbs, (int)rc->recv_count, rc, rc->channel, 0);
	if (!rc->send_cq || !rc->recv_cq)
		return -ENOMEM;
	if (ibv_req_notify_cq(rc->send_cq, 0) || ibv_req_notify_cq(rc->recv_cq, 0))
		return -EIO;
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = rc->send_cq;
	qa.recv_cq = rc->recv_cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = rc->send_wrs;
	qa.cap.max_recv_wr = rc->recv_count;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	if (rdma_create_qp(rc->id, rc->pd, &qa))
		return -errno;
	for (uint32_t i = 0; i < rc->recv_count; i++)
		if (rdma_post_recv(rc, i) < 0)
			return -EIO;
	if (set_nonblock(rc->channel->fd) < 0)
		return -EIO;
	if (prb_loop_add_fd(rc->rdma->loop, &rc->lfd, rc->channel->fd, EPOLLIN,
			    rdma_on_completion, rc) < 0)
		return -EIO;
	rc->in_loop = true;
	return 0;
}

/* Run the HELLO of the connect private data through the engine; its answer (one PDU)
 * lands in \p out. \return the answer's length, or 0 when the engine gave none. */
static size_t rdma_conn_hello(struct rdma_conn *rc, const uint8_t *pdata, size_t len,
			      uint8_t *out, size_t cap)
{
	struct iovec iov[RDMA_IOV];
	size_t got;
	void *dst;

	if (len >= PRB_HDR_SIZE && get_le32(pdata + PRB_HDR_PLEN_OFFSET) >= PRB_HDR_SIZE &&
	    get_le32(pdata + PRB_HDR_PLEN_OFFSET) <= len)
		len = get_le32(pdata + PRB_HDR_PLEN_OFFSET); /* rdma_cm pads private data with zeros */
	if (prb_conn_rx_space(rc->conn, &dst) < len)
		return 0;
	memcpy(dst, pdata, len);
	prb_conn_rx_commit(rc->conn, len, prb_loop_now_ms());
	got = iov_gather(iov, prb_conn_tx_iov(rc->conn, iov, RDMA_IOV), out, cap);
	if (got < PRB_HDR_SIZE || get_le32(out + PRB_HDR_PLEN_OFFSET) > got)
		return 0;
	got = get_le32(out + PRB_HDR_PLEN_OFFSET);
	prb_conn_tx_commit(rc->conn, got, prb_loop_now_ms());
	return got;
}

/* Describe the peer of a cm id for the logs. */
static void rdma_peer_name(struct rdma_cm_id *id, char *buf, size_t len)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";

	if (sa)
		getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							   : sizeof(struct sockaddr_in),
			    host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, len, "%s:%s", host, port);
}

/* PRB-RDMA-5: a refusal carries a HELLO error response (the engine's, or EINVAL in place
 * of a TERM for malformed private data), or nothing without a recognizable header. */
static size_t rdma_refusal(const uint8_t *pdata, size_t pdata_len, uint8_t *answer, size_t n)
{
	struct prb_hdr h;
	int e;

	if (n >= PRB_HDR_SIZE && answer[2] == (PRB_OP_HELLO | PRB_OPCODE_RESPONSE))
		return n;
	if (prb_hdr_decode(pdata, pdata_len, &h, NULL) == -EPROTO || pdata_len < PRB_HDR_SIZE)
		return 0;
	e = prb_error_rsp_encode(PRB_OP_HELLO, h.tag, PRB_ST_EINVAL, 0, answer, RDMA_PDATA_MAX);
	return e > 0 ? (size_t)e : 0;
}

/* Refuse a connect request with \p pdata as reject private data, and drop its id. */
static void rdma_refuse(struct rdma_cm_id *id, const uint8_t *pdata, size_t len)
{
	rdma_reject(id, len ? pdata : NULL, (uint8_t)len);
	rdma_destroy_id(id);
}

/* Make room at the connection limit: the oldest connection accepted but not established
 * (the peer never completed the handshake; there is nothing to send it a TERM on). */
static void rdma_evict_unestablished(struct prb_rdma *r)
{
	struct rdma_conn *oldest = NULL;

	/* the list is newest first */
	for (struct rdma_conn *rc = r->conns; rc; rc = rc->next)
		if (!rc->established)
			oldest = rc;
	if (!oldest)
		return;
	prb_warn("rdma: %s: never established, closed to make room: %u connections open",
		 oldest->peer, r->nconns);
	rdma_conn_destroy(oldest);
}

/* A connect request (already acknowledged): HELLO, QP, receive buffers, accept. */
static void rdma_on_connect_request(struct prb_rdma *r, struct rdma_cm_id *id,
				    const uint8_t *pdata, size_t pdata_len,
				    uint8_t initiator_depth)
{
	struct prb_conn_limits lim = r->cfg.limits;
	struct rdma_conn_param param;
	struct prb_hello_req req;
	struct prb_hello_rsp rsp;
	uint8_t answer[RDMA_PDATA_MAX];
	bool refuse;
	struct rdma_conn *rc;
	size_t n;

	/* At the limit, a connection accepted but never established makes room. */
	if (r->nconns >= r->cfg.max_connections)
		rdma_evict_unestablished(r);
	/* Over the limit the engine still checks the HELLO: EINVAL and ENOTSUP come before
	 * ENOMEM (section 6.1), and private data without a header gets no error response
	 * (PRB-RDMA-5). */
	refuse = r->shutting_down || r->nconns >= r->cfg.max_connections;
	rc = calloc(1, sizeof(*rc));
	if (!rc) {
		rdma_refuse(id, NULL, 0);
		return;
	}
	rc->rdma = r;
	rc->id = id;
	id->context = rc;
	rdma_peer_name(id, rc->peer, sizeof(rc->peer));
	/* RDMA: no data capsules, no digests; max_data bounds nothing and SHOULD be the limit. */
	lim.max_data = PRB_MAX_DATA_LIMIT;
	lim.features &= PRB_FEAT_ATOMICS;
	lim.one_sided = true;
	lim.tx_backlog_max = 0; /* a received capsule is always taken (rdma_recv_done) */
	rc->dev = rdma_device_get(r, id->verbs);
	if (!rc->dev)
		goto err_refuse;
	if (!rc->dev->atomics)
		lim.features &= ~(uint32_t)PRB_FEAT_ATOMICS;
	if (prb_conn_new(r->brick, &lim, prb_loop_now_ms(), &rc->conn) < 0)
		goto err_refuse;
	prb_conn_set_binding(rc->conn, &rdma_session_ops, rc);
	if (refuse) {
		prb_warn("rdma: connection from %s refused: %u connections open", rc->peer,
			 r->nconns);
		prb_conn_refuse(rc->conn);
	}
	n = rdma_conn_hello(rc, pdata, pdata_len, answer, sizeof(answer));
	if (n == 0 || prb_hello_rsp_decode(answer, n, &rsp, NULL) < 0 || rsp.hdr.status != 0 ||
	    prb_hello_req_decode(pdata, pdata_len, &req, NULL) < 0) {
		prb_info("rdma: %s: HELLO refused", rc->peer);
		n = rdma_refusal(pdata, pdata_len, answer, n);
		rdma_reject(id, n ? answer : NULL, (uint8_t)n);
		goto err_free;
	}
	if (rc->dev->windows) {
		rc->pd = rc->dev->pd;
	} else {
		/* region mode: a domain per connection keeps its keys off other connections */
		rc->pd = ibv_alloc_pd(id->verbs);
		rc->own_pd = rc->pd != NULL;
	}
	if (!rc->pd || rdma_conn_setup_qp(rc, rsp.queue_depth, rsp.max_pdu, req.max_pdu) < 0)
		goto err_refuse;
	memset(&param, 0, sizeof(param));
	param.private_data = answer;
	param.private_data_len = (uint8_t)n;
	param.responder_resources = initiator_depth < rc->dev->max_rd_atom ? initiator_depth
									 : rc->dev->max_rd_atom;
	param.initiator_depth = 0;
	param.rnr_retry_count = 7;
	if (rdma_accept(id, &param)) {
		prb_warn("rdma: %s: accept: %s", rc->peer, strerror(errno));
		goto err_free;
	}
	rc->accepted_ms = prb_loop_now_ms();
	rc->next = r->conns;
	if (r->conns)
		r->conns->prev = rc;
	r->conns = rc;
	r->nconns++;
	prb_info("rdma: %s: connected, queue depth %u", rc->peer, (unsigned)rsp.queue_depth);
	return;

err_refuse:
	prb_warn("rdma: %s: cannot set up the connection", rc->peer);
	rdma_reject(id, NULL, 0);
err_free:
	rdma_conn_free(rc); /* destroys the id too */
}

/* The rdma_cm event channel is readable. */
static void rdma_on_cm_event(void *arg, uint32_t events)
{
	struct prb_rdma *r = arg;
	struct rdma_cm_event *ev;

	(void)events;
	while (rdma_get_cm_event(r->channel, &ev) == 0) {
		enum rdma_cm_event_type type = ev->event;
		struct rdma_cm_id *id = ev->id;
		struct rdma_conn *rc = id->context;
		uint8_t pdata[RDMA_PDATA_MAX];
		size_t pdata_len = 0;
		uint8_t depth = 0;

		if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
			pdata_len = ev->param.conn.private_data_len;
			if (pdata_len > sizeof(pdata))
				pdata_len = sizeof(pdata);
			if (pdata_len)
				memcpy(pdata, ev->param.conn.private_data, pdata_len);
			/* the event states the peer's initiator depth as our responder side */
			depth = ev->param.conn.responder_resources;
		}
		rdma_ack_cm_event(ev);
		switch (type) {
		case RDMA_CM_EVENT_CONNECT_REQUEST:
			rdma_on_connect_request(r, id, pdata, pdata_len, depth);
			break;
		case RDMA_CM_EVENT_ESTABLISHED:
			if (rc)
				rc->established = true;
			break;
		case RDMA_CM_EVENT_DISCONNECTED:
		case RDMA_CM_EVENT_CONNECT_ERROR:
		case RDMA_CM_EVENT_UNREACHABLE:
		case RDMA_CM_EVENT_REJECTED:
		case RDMA_CM_EVENT_DEVICE_REMOVAL:
			if (rc) {
				rc->broken = true;
				rdma_conn_kick(rc);
			}
			break;
		default:
			prb_dbg("rdma: cm event %s", rdma_event_str(type));
			break;
		}
	}
}

/* The binding's own timeouts (PROTOCOL.md 6.4): the handshake not completed within the
 * HELLO timeout, SENDs the peer takes none of (no receive buffer) for the send timeout. */
static void rdma_conn_timeouts(struct rdma_conn *rc, uint64_t now)
{
	const struct prb_conn_limits *lim = &rc->rdma->cfg.limits;

	if (!rc->established && lim->hello_timeout_ms &&
	    now - rc->accepted_ms >= lim->hello_timeout_ms) {
		prb_info("rdma: %s: not established %llu ms after the accept", rc->peer,
			 (unsigned long long)(now - rc->accepted_ms));
		rc->broken = true;
	} else if (rc->send_nfree < rc->send_count && lim->send_timeout_ms &&
		   now - rc->send_progress_ms >= lim->send_timeout_ms) {
		prb_info("rdma: %s: the peer took none of %u capsules for %llu ms (no receive "
			 "buffer posted)",
			 rc->peer, rc->send_count - rc->send_nfree,
			 (unsigned long long)(now - rc->send_progress_ms));
		rc->broken = true;
	}
}

/* Every few hundred ms: the engines' and the binding's timeouts, closing lingers. */
static void rdma_tick(void *arg)
{
	struct prb_rdma *r = arg;
	uint64_t now = prb_loop_now_ms();
	struct rdma_conn *rc = r->conns;

	while (rc) {
		struct rdma_conn *next = rc->next;

		rdma_conn_timeouts(rc, now);
		prb_conn_tick(rc->conn, now);
		rdma_conn_kick(rc);
		rc = next;
	}
	prb_loop_timer_arm(r->loop, &r->tick, r->tick_ms, rdma_tick, r);
}

/* ------------------------------------------------------------------ public */

int prb_rdma_new(struct prb_loop *loop, struct prb_brick *brick,
		 const struct prb_rdma_config *cfg, struct prb_rdma **out)
{
	struct prb_rdma *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->brick = brick;
	r->cfg = *cfg;
	r->channel = rdma_create_event_channel();
	if (!r->channel) {
		err = errno == ENODEV || errno == ENOENT ? -ENODEV : -errno;
		goto err_free;
	}
	err = set_nonblock(r->channel->fd);
	if (err < 0)
		goto err_destroy_channel;
	err = prb_loop_add_fd(loop, &r->channel_lfd, r->channel->fd, EPOLLIN, rdma_on_cm_event, r);
	if (err < 0)
		goto err_destroy_channel;
	r->channel_in_loop = true;
	/* Always ticking: closing connections need it too (rdma_conn_kick). */
	r->tick_ms = prb_conn_tick_ms(&cfg->limits);
	if (!r->tick_ms)
		r->tick_ms = RDMA_TICK_MS;
	prb_loop_timer_arm(loop, &r->tick, r->tick_ms, rdma_tick, r);
	*out = r;
	return 0;

err_destroy_channel:
	rdma_destroy_event_channel(r->channel);
err_free:
	free(r);
	return err;
}

static void rdma_close_listeners(struct prb_rdma *r)
{
	while (r->nlisteners)
		rdma_destroy_id(r->listeners[--r->nlisteners]);
}

void prb_rdma_delete(struct prb_rdma *r)
{
	if (!r)
		return;
	prb_loop_timer_cancel(r->loop, &r->tick);
	rdma_close_listeners(r);
	r->drained = NULL;
	while (r->conns)
		rdma_conn_destroy(r->conns);
	if (r->channel_in_loop)
		prb_loop_del_fd(r->loop, &r->channel_lfd);
	rdma_devices_free(r);
	rdma_destroy_event_channel(r->channel);
	free(r);
}

int prb_rdma_listen(struct prb_rdma *r, const char *host, uint16_t port, char *urls, size_t len)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	struct rdma_cm_id *id;
	struct sockaddr *sa;
	char portstr[8], addr[INET6_ADDRSTRLEN], line[128];
	int err;

	if (r->nlisteners == RDMA_MAX_LISTENERS)
		return -EMFILE;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0)
		return -EADDRNOTAVAIL;
	if (rdma_create_id(r->channel, &id, NULL, RDMA_PS_TCP)) {
		err = -errno;
		goto err_free_ai;
	}
	if (rdma_bind_addr(id, ai->ai_addr) || rdma_listen(id, RDMA_BACKLOG)) {
		err = errno == EADDRNOTAVAIL || errno == ENODEV ? -ENODEV : -errno;
		goto err_destroy_id;
	}
	freeaddrinfo(ai);
	r->listeners[r->nlisteners++] = id;
	sa = rdma_get_local_addr(id);
	if (getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						      : sizeof(struct sockaddr_in),
			addr, sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(addr, sizeof(addr), "%s", host);
	snprintf(line, sizeof(line), sa->sa_family == AF_INET6 ? "rdma://[%s]:%u\n" : "rdma://%s:%u\n",
		 addr, (unsigned)ntohs(rdma_get_src_port(id)));
	if (strlen(urls) + strlen(line) < len)
		strcat(urls, line);
	prb_info("rdma: listening on %.*s", (int)strlen(line) - 1, line);
	return 1;

err_destroy_id:
	rdma_destroy_id(id);
err_free_ai:
	freeaddrinfo(ai);
	return err;
}

void prb_rdma_shutdown(struct prb_rdma *r, void (*drained)(void *arg), void *arg)
{
	struct rdma_conn *rc = r->conns;

	r->shutting_down = true;
	r->drained = drained;
	r->drained_arg = arg;
	rdma_close_listeners(r);
	while (rc) {
		struct rdma_conn *next = rc->next;

		prb_conn_shutdown(rc->conn);
		rdma_conn_kick(rc);
		rc = next;
	}
	if (r->nconns == 0 && r->drained) {
		r->drained = NULL;
		drained(arg);
	}
}
