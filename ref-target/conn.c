/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <isa-l/crc.h>
#include <prb/wire.h>

#include "brick.h"
#include "log.h"

/* Input buffer: fixed parts of PDUs and small payloads; big payloads bypass it. */
#define RX_BUF_SIZE (64u * 1024u)
/* Below this many bytes left, a payload is received through the buffer (fewer syscalls). */
#define RX_DIRECT_MIN 4096u
/* Largest fixed part (info_rsp) plus a header digest. */
#define TX_HEAD_MAX 128u
/* Fixed parts up to this size (digest included) are buffered; bigger ones (unknown
 * opcodes only) are streamed through the header digest. */
#define RX_FIXED_MAX 4096u
/* Buffers from this size up come from mmap (conn_buf_alloc). */
#define CONN_BUF_MMAP_MIN (64u * 1024u)

enum rx_state {
	RX_HDR,      /* waiting for the 16-byte common header */
	RX_FIXED,    /* waiting for the rest of the fixed part and the header digest */
	RX_PAYLOAD,  /* payload going to the sink (block, bounce buffer or nowhere) */
	RX_BIG_HDGST, /* waiting for the header digest of a streamed fixed part */
	RX_DDGST,    /* waiting for the 4-byte data digest */
	RX_DEAD,     /* fatal error or end: input is ignored */
};

/* One PDU to send: head (fixed part + header digest), optional payload, optional digest. */
struct tx_entry {
	uint8_t head[TX_HEAD_MAX];
	uint32_t head_len;
	const uint8_t *data;
	uint32_t data_len;
	uint8_t *owned;              /* copy of the payload (conn_buf_alloc), freed once sent */
	size_t owned_len;
	struct prb_mapping *ref;     /* zero-copy: data points into this mapping's block */
	uint8_t trailer[PRB_DDGST_SIZE];
	uint32_t trailer_len;
	bool response;               /* answers a request: ends an outstanding one when sent */
	bool last;                   /* close the connection once it is sent */
};

struct prb_conn {
	struct prb_brick *brick;
	struct prb_session *session;
	const struct prb_session_ops *binding; /* chained hooks of the binding, or NULL */
	void *binding_ctx;
	struct prb_conn_limits lim;
	uint32_t max_pdu;            /* largest PDU we receive */

	/* Negotiated by HELLO. */
	bool hello_done;
	bool hdgst, ddgst;
	uint16_t queue_depth;
	uint32_t features;
	uint32_t max_data;
	uint32_t peer_max_pdu;

	/* Receive side. */
	enum rx_state rx_state;
	uint8_t *rbuf;
	size_t rstart, rend;
	bool rx_direct;              /* the last rx_space pointed at sink_dst */
	struct prb_hdr hdr;          /* header of the PDU being received */
	bool hdr_valid;              /* hdr holds a received header (TERM's tag) */
	bool hello_seen;             /* the first HELLO arrived */
	bool counted;                /* the current request counts as outstanding */
	uint32_t fixed_need;         /* RX_FIXED: hlen + header digest, from rstart */
	bool sink_crc;               /* dropped bytes go through crc (streamed fixed part) */
	uint32_t crc;
	uint8_t *sink_dst;           /* RX_PAYLOAD: where payload bytes go, NULL: dropped */
	uint32_t sink_left;
	uint32_t payload_len;
	bool skip_only;              /* the PDU is being skipped (unknown opcode, bad WRITE) */
	/* The WRITE whose payload is arriving. */
	struct prb_mapping *wr_map;  /* NULL once revoked (or when the WRITE failed) */
	uint32_t wr_offset;
	uint16_t wr_status;
	uint8_t *bounce;             /* data digest on: the payload lands here first */
	bool wr_crc_on;              /* a failed WRITE's dropped payload goes through crc */

	/* Send side: a ring of queue_depth + 2 entries (responses, one TERM). */
	struct tx_entry *tx;
	uint32_t tx_cap, tx_head, tx_count;
	size_t tx_off;               /* bytes of the head entry already sent */
	size_t tx_bytes;             /* bytes queued, not yet sent */
	uint32_t zero_copy;          /* entries holding a ref */
	uint32_t outstanding;        /* requests received whose response is not sent yet */

	bool rx_held;                /* buffered requests wait for the send backlog to drain */
	bool closing;                /* TERM queued or peer gone: no more requests */
	bool eof;
	bool refuse;                 /* over the connection limit: HELLO gets ENOMEM */
	bool aborted;                /* send timeout: close now, queued output dropped */

	/* Timers (milliseconds on the caller's monotonic clock). */
	uint64_t clock_ms;           /* the time given by the latest call into the engine */
	uint64_t opened_ms;          /* the connection's start (HELLO timeout) */
	uint64_t idle_since_ms;      /* last complete PDU, or last response sent */
	uint64_t last_rx_ms;         /* last bytes received */
	uint64_t pdu_start_ms;       /* first byte of the PDU being received */
	uint64_t tx_progress_ms;     /* output last taken by the peer, or queued when none was */
	bool rx_paused;              /* not reading: too much output waits (tx_backlog_full) */
	uint64_t rx_paused_since_ms;
};

static int conn_on_map(void *ctx, struct prb_mapping *m);
static void conn_on_unmap(void *ctx, struct prb_mapping *m);
static void conn_on_shared_write(void *ctx, struct prb_mapping *m);

static const struct prb_session_ops conn_session_ops = {
	.on_map = conn_on_map,
	.on_unmap = conn_on_unmap,
	.on_shared_write = conn_on_shared_write,
};

/*
 * A per-connection buffer. Big ones come from mmap so that each goes back to the system
 * as soon as it is freed: malloc keeps freed memory in its heap, and after the first
 * big free it raises its mmap threshold and serves the next 2 MiB buffers from the heap
 * too, where a few live allocations keep the rest from being returned.
 */
static void *conn_buf_alloc(size_t len)
{
	void *p;

	if (len < CONN_BUF_MMAP_MIN)
		return malloc(len);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Free a buffer of conn_buf_alloc(\p len). NULL is a no-op. */
static void conn_buf_free(void *p, size_t len)
{
	if (!p)
		return;
	if (len < CONN_BUF_MMAP_MIN)
		free(p);
	else
		munmap(p, len);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The largest PDU we receive: a WRITE of max_data bytes, or control PDUs alone when one-sided
 * verbs move the data (RDMA: every receive buffer is this big). */
static uint32_t conn_max_pdu(const struct prb_conn_limits *lim)
{
	uint32_t data = lim->one_sided ? 0 : lim->max_data;

	return data + 64u > PRB_MIN_MAX_PDU ? data + 64u : PRB_MIN_MAX_PDU;
}

int prb_conn_new(struct prb_brick *brick, const struct prb_conn_limits *lim, uint64_t now_ms,
		 struct prb_conn **out)
{
	struct prb_conn *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (!c)
		return -ENOMEM;
	c->brick = brick;
	c->lim = *lim;
	c->max_pdu = conn_max_pdu(lim);
	c->queue_depth = 1;
	c->max_data = lim->max_data;
	c->peer_max_pdu = PRB_MIN_MAX_PDU;
	c->clock_ms = now_ms;
	c->opened_ms = now_ms;
	c->idle_since_ms = now_ms;
	c->last_rx_ms = now_ms;
	c->rbuf = conn_buf_alloc(RX_BUF_SIZE);
	if (!c->rbuf)
		goto err_free_conn;
	c->tx_cap = (uint32_t)lim->queue_depth + 2u;
	c->tx = calloc(c->tx_cap, sizeof(*c->tx));
	if (!c->tx)
		goto err_free_rbuf;
	err = prb_session_new(brick, &conn_session_ops, c, lim->max_mappings, &c->session);
	if (err < 0)
		goto err_free_tx;
	*out = c;
	return 0;

err_free_tx:
	free(c->tx);
err_free_rbuf:
	conn_buf_free(c->rbuf, RX_BUF_SIZE);
err_free_conn:
	free(c);
	return err;
}

static void tx_entry_release(struct prb_conn *c, struct tx_entry *e)
{
	conn_buf_free(e->owned, e->owned_len);
	if (e->ref)
		c->zero_copy--;
	memset(e, 0, sizeof(*e));
}

void prb_conn_delete(struct prb_conn *c)
{
	if (!c)
		return;
	/* Drop queued output first: its references must not outlive the session. */
	while (c->tx_count) {
		tx_entry_release(c, &c->tx[c->tx_head]);
		c->tx_head = (c->tx_head + 1) % c->tx_cap;
		c->tx_count--;
	}
	c->wr_map = NULL;
	prb_session_delete(c->session);
	conn_buf_free(c->bounce, c->lim.max_data);
	free(c->tx);
	conn_buf_free(c->rbuf, RX_BUF_SIZE);
	free(c);
}

/* ------------------------------------------------------------------ send side */

/* A free entry at the tail of the ring (the ring is sized so it never runs out). */
static struct tx_entry *tx_push(struct prb_conn *c)
{
	struct tx_entry *e;

	if (c->tx_count == c->tx_cap)
		return NULL;
	e = &c->tx[(c->tx_head + c->tx_count) % c->tx_cap];
	memset(e, 0, sizeof(*e));
	c->tx_count++;
	return e;
}

static bool tx_backlog_full(const struct prb_conn *c);

/* Bytes of one queued PDU. */
static size_t tx_entry_size(const struct tx_entry *e)
{
	return (size_t)e->head_len + e->data_len + e->trailer_len;
}

/*
 * After tx_bytes changed: the engine stops reading while too much output waits, and that
 * time does not count against the PDU being received (its rest may be waiting for us).
 */
static void rx_pause_track(struct prb_conn *c)
{
	bool full = tx_backlog_full(c);

	if (full == c->rx_paused)
		return;
	c->rx_paused = full;
	if (full)
		c->rx_paused_since_ms = c->clock_ms;
	else
		c->pdu_start_ms += c->clock_ms - c->rx_paused_since_ms;
}

/* Account a filled entry; append the header digest over the encoded fixed part. */
static void tx_commit_entry(struct prb_conn *c, struct tx_entry *e, int hlen, bool hdgst)
{
	e->head_len = (uint32_t)hlen;
	if (hdgst) {
		put_le32(e->head + hlen, prb_crc32c(e->head, (size_t)hlen));
		memset(e->head + hlen + 4, 0, 4);
		e->head_len += PRB_HDGST_SIZE;
	}
	/* The send timeout runs from the moment output waits. */
	if (c->tx_bytes == 0)
		c->tx_progress_ms = c->clock_ms;
	c->tx_bytes += tx_entry_size(e);
	rx_pause_track(c);
}

/* Digest flags of a PDU we send after the handshake with \p payload_len bytes of payload. */
static uint8_t conn_tx_flags(const struct prb_conn *c, uint32_t payload_len)
{
	uint8_t flags = 0;

	if (c->hdgst)
		flags |= PRB_HDR_HDGST;
	if (c->ddgst && payload_len > 0)
		flags |= PRB_HDR_DDGST;
	return flags;
}

/* Queue a TERM, stop taking requests; the connection closes once it is sent. */
static void conn_term(struct prb_conn *c, uint16_t reason, uint32_t error_offset)
{
	struct prb_term term;
	struct tx_entry *e;
	int n;

	if (c->closing) {
		c->rx_state = RX_DEAD;
		return;
	}
	prb_info("connection terminated: %s (offset %u, opcode %#x tag %u)",
		 prb_term_reason_name(reason) ? prb_term_reason_name(reason) : "?", error_offset,
		 c->hdr.opcode, c->hdr.tag);
	c->closing = true;
	c->rx_state = RX_DEAD;
	e = tx_push(c);
	if (!e)
		return;
	memset(&term, 0, sizeof(term));
	term.hdr.flags = c->hello_done ? conn_tx_flags(c, 0) : 0;
	/* PRB-TERM-2: the offending PDU's tag when its header arrived, else 0. */
	term.hdr.tag = c->hdr_valid ? c->hdr.tag : 0;
	term.reason = reason;
	term.error_offset = error_offset;
	n = prb_term_encode(&term, e->head, sizeof(e->head));
	if (n < 0) {
		c->tx_count--;
		return;
	}
	e->last = true;
	tx_commit_entry(c, e, n, c->hello_done && c->hdgst);
}

/* Queue an error response (the header alone) to the current request. */
static void conn_error_rsp(struct prb_conn *c, uint16_t status)
{
	struct tx_entry *e = tx_push(c);
	uint8_t flags = c->hello_done ? conn_tx_flags(c, 0) : 0;
	int n;

	if (!e)
		return;
	n = prb_error_rsp_encode(c->hdr.opcode, c->hdr.tag, status, flags, e->head,
				 sizeof(e->head));
	if (n < 0) {
		c->tx_count--;
		return;
	}
	e->response = c->counted;
	tx_commit_entry(c, e, n, flags & PRB_HDR_HDGST);
	prb_dbg("tag %u opcode %#x -> %s", c->hdr.tag, c->hdr.opcode,
		prb_status_name(status) ? prb_status_name(status) : "?");
}

/* Queue a successful response encoded from \p msg (a union prb_msg of id \p id). */
static struct tx_entry *conn_rsp(struct prb_conn *c, enum prb_msg_id id, union prb_msg *msg,
				 uint32_t payload_len, bool digests)
{
	struct tx_entry *e = tx_push(c);
	int n;

	if (!e)
		return NULL;
	msg->hdr.tag = c->hdr.tag;
	msg->hdr.status = PRB_ST_OK;
	msg->hdr.flags = digests ? conn_tx_flags(c, payload_len) : 0;
	n = prb_msg_encode(id, msg, e->head, sizeof(e->head));
	if (n < 0) {
		c->tx_count--;
		return NULL;
	}
	e->response = c->counted;
	e->head_len = (uint32_t)n;
	return e;
}

/* Finish a response from conn_rsp: payload (already set) digests and accounting. */
static void conn_rsp_done(struct prb_conn *c, struct tx_entry *e)
{
	bool hdgst = e->head[3] & PRB_HDR_HDGST;

	if (e->head[3] & PRB_HDR_DDGST) {
		put_le32(e->trailer, prb_crc32c(e->data, e->data_len));
		e->trailer_len = PRB_DDGST_SIZE;
	}
	tx_commit_entry(c, e, (int)e->head_len, hdgst);
}

/* Answer the current request with \p err (0: an empty success response of id \p id). */
static void conn_simple_rsp(struct prb_conn *c, enum prb_msg_id id, int err)
{
	union prb_msg msg;
	struct tx_entry *e;

	if (err < 0) {
		conn_error_rsp(c, prb_status_from_errno(err));
		return;
	}
	memset(&msg, 0, sizeof(msg));
	e = conn_rsp(c, id, &msg, 0, true);
	if (e)
		conn_rsp_done(c, e);
}

/* Replace zero-copy payloads of queued entries by copies: those matching \p m, or with
 * \p m NULL, those reading the block at \p block_data; with \p digested_only, only
 * those carrying a data digest. */
static void tx_copy_refs(struct prb_conn *c, const struct prb_mapping *m, const uint8_t *block_data,
			 bool digested_only)
{
	for (uint32_t i = 0; i < c->tx_count && c->zero_copy; i++) {
		struct tx_entry *e = &c->tx[(c->tx_head + i) % c->tx_cap];
		uint8_t *copy;

		if (!e->ref || (m ? e->ref != m : e->ref->data != block_data) ||
		    (digested_only && !e->trailer_len))
			continue;
		copy = conn_buf_alloc(e->data_len);
		if (!copy) {
			/* Cannot keep the bytes: drop the connection (and its output) rather
			 * than send others'. */
			prb_err("out of memory copying a READ response: closing the connection");
			c->aborted = true;
			c->closing = true;
			c->rx_state = RX_DEAD;
			c->eof = true;
		} else {
			memcpy(copy, e->data, e->data_len);
		}
		e->owned = copy;
		e->owned_len = copy ? e->data_len : 0;
		e->data = copy;
		e->ref = NULL;
		c->zero_copy--;
	}
}

void prb_conn_set_binding(struct prb_conn *c, const struct prb_session_ops *ops, void *ctx)
{
	c->binding = ops;
	c->binding_ctx = ctx;
}

/* Brick hook: a block is mapped; the binding (RDMA) registers it. */
static int conn_on_map(void *ctx, struct prb_mapping *m)
{
	struct prb_conn *c = ctx;

	return c->binding && c->binding->on_map ? c->binding->on_map(c->binding_ctx, m) : 0;
}

/* Brick hook: a mapping of this connection is revoked (UNMAP, FREE FORCE, close). */
static void conn_on_unmap(void *ctx, struct prb_mapping *m)
{
	struct prb_conn *c = ctx;

	if (c->wr_map == m) {
		/* PRB-UNMAP: the WRITE arriving through it fails and lands nowhere from now on. */
		c->wr_map = NULL;
		c->wr_status = PRB_ST_ESTALE;
		if (!c->ddgst)
			c->sink_dst = NULL;
	}
	if (c->zero_copy)
		tx_copy_refs(c, m, NULL, false);
	if (c->binding && c->binding->on_unmap)
		c->binding->on_unmap(c->binding_ctx, m);
}

/*
 * Brick hook: another connection maps m's block read-write. A queued READ answer's
 * digest was computed over the block's bytes when the READ ran; from now on they may
 * change before they are sent, so send a copy of them instead (PRB-DGST-2).
 */
static void conn_on_shared_write(void *ctx, struct prb_mapping *m)
{
	struct prb_conn *c = ctx;

	if (c->zero_copy && c->ddgst)
		tx_copy_refs(c, m, NULL, true);
}

int prb_conn_tx_iov(struct prb_conn *c, struct iovec *iov, int max)
{
	size_t skip = c->tx_off;
	int n = 0;

	if (c->aborted)
		return 0;

	for (uint32_t i = 0; i < c->tx_count && n < max; i++) {
		struct tx_entry *e = &c->tx[(c->tx_head + i) % c->tx_cap];
		const uint8_t *seg[3] = { e->head, e->data, e->trailer };
		size_t len[3] = { e->head_len, e->data_len, e->trailer_len };

		for (int s = 0; s < 3 && n < max; s++) {
			if (skip >= len[s]) {
				skip -= len[s];
				continue;
			}
			iov[n].iov_base = (void *)(uintptr_t)(seg[s] + skip);
			iov[n].iov_len = len[s] - skip;
			skip = 0;
			n++;
		}
	}
	return n;
}

static void rx_process(struct prb_conn *c, uint64_t now_ms);

/* Too many answers wait to be sent: take no more requests for now (lim.tx_backlog_max). */
static bool tx_backlog_full(const struct prb_conn *c)
{
	return c->lim.tx_backlog_max && c->tx_bytes > c->lim.tx_backlog_max;
}

void prb_conn_tx_commit(struct prb_conn *c, size_t n, uint64_t now_ms)
{
	c->clock_ms = now_ms;
	if (n)
		c->tx_progress_ms = now_ms;
	c->tx_bytes -= n;
	c->tx_off += n;
	rx_pause_track(c);
	while (c->tx_count) {
		struct tx_entry *e = &c->tx[c->tx_head];
		size_t total = tx_entry_size(e);

		if (c->tx_off < total)
			break;
		c->tx_off -= total;
		if (e->response && c->outstanding && --c->outstanding == 0)
			c->idle_since_ms = now_ms;
		if (e->last)
			c->eof = true;
		tx_entry_release(c, e);
		c->tx_head = (c->tx_head + 1) % c->tx_cap;
		c->tx_count--;
	}
	if (c->rx_held && !tx_backlog_full(c)) {
		c->rx_held = false;
		rx_process(c, now_ms);
	}
}

size_t prb_conn_tx_pending(const struct prb_conn *c)
{
	return c->tx_bytes;
}

bool prb_conn_done(const struct prb_conn *c)
{
	return c->aborted || ((c->eof || c->closing) && c->tx_count == 0);
}

void prb_conn_rx_eof(struct prb_conn *c)
{
	c->eof = true;
	c->closing = true;
	c->rx_state = RX_DEAD;
}

void prb_conn_shutdown(struct prb_conn *c)
{
	/* PRB-TERM-7: tag 0, offset 0. */
	c->hdr_valid = false;
	conn_term(c, PRB_TERM_SHUTDOWN, 0);
}

void prb_conn_shutdown_cut(struct prb_conn *c)
{
	/* A PDU whose first byte went out must be finished (PRB-TCP-4); the TERM is last. */
	uint32_t keep = c->tx_off ? 1u : 0u;
	struct tx_entry *last, term;

	if (!c->closing || c->tx_count <= keep + 1u)
		return;
	last = &c->tx[(c->tx_head + c->tx_count - 1u) % c->tx_cap];
	if (!last->last)
		return;
	term = *last;
	prb_info("shutdown: %u answers not sent yet dropped, TERM next", c->tx_count - keep - 1u);
	for (uint32_t i = keep; i < c->tx_count; i++) {
		struct tx_entry *e = &c->tx[(c->tx_head + i) % c->tx_cap];

		c->tx_bytes -= tx_entry_size(e);
		tx_entry_release(c, e);
	}
	c->tx_count = keep + 1u;
	c->tx[(c->tx_head + keep) % c->tx_cap] = term;
	c->tx_bytes += tx_entry_size(&term);
}

/* Send timeout: the peer takes none of our bytes, so a TERM would not reach it either
 * (PROTOCOL.md 6.4): close now, dropping the output. */
static void conn_abort(struct prb_conn *c, uint64_t now_ms)
{
	prb_info("connection ended: the peer took none of %zu bytes for %llu ms", c->tx_bytes,
		 (unsigned long long)(now_ms - c->tx_progress_ms));
	c->aborted = true;
	c->closing = true;
	c->eof = true;
	c->rx_state = RX_DEAD;
}

uint32_t prb_conn_tick_ms(const struct prb_conn_limits *lim)
{
	const uint32_t all[] = { lim->idle_timeout_ms, lim->hello_timeout_ms, lim->pdu_timeout_ms,
				 lim->send_timeout_ms };
	uint32_t shortest = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] && (!shortest || all[i] < shortest))
			shortest = all[i];
	if (!shortest)
		return 0;
	if (shortest / 4 > 250)
		return 250;
	return shortest / 4 < 10 ? 10 : shortest / 4;
}

void prb_conn_tick(struct prb_conn *c, uint64_t now_ms)
{
	bool partial = c->rx_state != RX_HDR || c->rend > c->rstart;

	c->clock_ms = now_ms;
	if (c->aborted)
		return;
	/* Also while closing: a TERM behind output the peer does not take never leaves. */
	if (c->tx_bytes && c->lim.send_timeout_ms &&
	    now_ms - c->tx_progress_ms >= c->lim.send_timeout_ms) {
		conn_abort(c, now_ms);
		return;
	}
	/* Not reading because the peer does not read: its next bytes may be waiting. */
	if (c->closing || !prb_conn_rx_wanted(c))
		return;
	/* PRB-KA-5: no HELLO in time. */
	if (!c->hello_done && c->lim.hello_timeout_ms &&
	    now_ms - c->opened_ms >= c->lim.hello_timeout_ms) {
		conn_term(c, PRB_TERM_TIMEOUT, 0);
		return;
	}
	/* PRB-KA-4, counted from the PDU's first byte: trickled bytes do not extend it. */
	if (partial && c->lim.pdu_timeout_ms && now_ms - c->pdu_start_ms >= c->lim.pdu_timeout_ms) {
		conn_term(c, PRB_TERM_TIMEOUT, 0);
		return;
	}
	/* PRB-KA-2/3: idle means no PDU received and no request outstanding. */
	if (!partial && c->outstanding == 0 && c->lim.idle_timeout_ms &&
	    now_ms - c->idle_since_ms >= c->lim.idle_timeout_ms &&
	    now_ms - c->last_rx_ms >= c->lim.idle_timeout_ms)
		conn_term(c, PRB_TERM_TIMEOUT, 0);
}

/* ------------------------------------------------------------------ requests */

/* PRB-HELLO-8: a HELLO error response, then the connection closes (no TERM). */
static void conn_hello_refuse(struct prb_conn *c, uint16_t status)
{
	conn_error_rsp(c, status);
	c->closing = true;
	c->rx_state = RX_DEAD;
}

void prb_conn_refuse(struct prb_conn *c)
{
	c->refuse = true;
}

bool prb_conn_hello_done(const struct prb_conn *c)
{
	return c->hello_done;
}

void prb_conn_evict(struct prb_conn *c)
{
	if (!c->hello_done)
		conn_term(c, PRB_TERM_TIMEOUT, 0);
}

static void conn_hello(struct prb_conn *c, const struct prb_hello_req *req)
{
	struct prb_brick_info info;
	union prb_msg msg;
	struct prb_hello_rsp *rsp = &msg.hello_rsp;
	struct tx_entry *e;
	uint16_t version;
	uint32_t max_data;

	/* PRB-HELLO-22: every HELLO after the first is EPROTO; the connection goes on. */
	if (c->hello_done) {
		conn_error_rsp(c, PRB_ST_EPROTO);
		return;
	}
	/* PRB-HELLO-4, -7 and the connection limit, in this order. */
	version = req->max_version < PRB_VERSION ? req->max_version : (uint16_t)PRB_VERSION;
	if (req->min_version > req->max_version)
		conn_hello_refuse(c, PRB_ST_EINVAL);
	else if (version < req->min_version || version < 1)
		conn_hello_refuse(c, PRB_ST_ENOTSUP);
	else if (c->refuse)
		conn_hello_refuse(c, PRB_ST_ENOMEM);
	if (c->closing)
		return;
	c->queue_depth = req->queue_depth < c->lim.queue_depth ? req->queue_depth
								 : c->lim.queue_depth;
	c->features = req->features & c->lim.features &
		      (PRB_FEAT_HDGST | PRB_FEAT_DDGST | PRB_FEAT_ATOMICS);
	prb_brick_get_info(c->brick, &info);
	if (info.tier_blocks)
		c->features |= PRB_FEAT_TIERING;
	if (info.persistent)
		c->features |= PRB_FEAT_PERSISTENT;
	c->peer_max_pdu = req->max_pdu;
	/* Our largest PDU to the peer is a READ response: fixed part, digests, data. One-sided
	 * verbs carry no PDU: there max_data bounds nothing and is the limit (PRB-HELLO). */
#ifdef PRB_MUTANT_MAX_DATA_NO_DIGESTS /* mutant (conformance/mutants.txt) */
	max_data = req->max_pdu - PRB_READ_RSP_SIZE;
#else
	max_data = req->max_pdu - PRB_READ_RSP_SIZE - PRB_HDGST_SIZE - PRB_DDGST_SIZE;
#endif
	max_data &= ~4095u;
	if (c->lim.one_sided || max_data > c->lim.max_data)
		max_data = c->lim.max_data;
	c->max_data = max_data;

	memset(&msg, 0, sizeof(msg));
	rsp->version = version;
	rsp->queue_depth = c->queue_depth;
	rsp->features = c->features;
	rsp->max_pdu = c->max_pdu;
	rsp->max_data = c->max_data;
	memcpy(rsp->brick_id, info.brick_id, sizeof(rsp->brick_id));
	rsp->capacity_blocks = info.capacity_blocks;
	rsp->free_blocks = info.free_blocks;
	rsp->boot_epoch = info.boot_epoch;
	rsp->max_mappings = c->lim.max_mappings;
	/* HELLO PDUs never carry digests; every later one does as negotiated. */
	e = conn_rsp(c, PRB_MSG_HELLO_RSP, &msg, 0, false);
	if (!e)
		return;
	conn_rsp_done(c, e);
	c->hello_done = true;
	c->hdgst = c->features & PRB_FEAT_HDGST;
	c->ddgst = c->features & PRB_FEAT_DDGST;
	prb_dbg("HELLO: version %u qd %u features %#x max_data %u", version, c->queue_depth,
		c->features, c->max_data);
}

static void conn_info(struct prb_conn *c)
{
	struct prb_brick_info info;
	union prb_msg msg;
	struct prb_info_rsp *rsp = &msg.info_rsp;
	struct tx_entry *e;

	prb_brick_get_info(c->brick, &info);
	memset(&msg, 0, sizeof(msg));
	memcpy(rsp->brick_id, info.brick_id, sizeof(rsp->brick_id));
	rsp->boot_epoch = info.boot_epoch;
	rsp->capacity_blocks = info.capacity_blocks;
	rsp->free_blocks = info.free_blocks;
	rsp->fast_blocks = info.fast_blocks;
	rsp->fast_free = info.fast_free;
	rsp->tier_blocks = info.tier_blocks;
	rsp->tier_free = info.tier_free;
	rsp->mapped_blocks = info.mapped_blocks;
	rsp->requests = info.requests;
	rsp->connections = info.connections;
	e = conn_rsp(c, PRB_MSG_INFO_RSP, &msg, 0, true);
	if (e)
		conn_rsp_done(c, e);
}

static void conn_map(struct prb_conn *c, const struct prb_map_req *req)
{
	struct prb_mapping *m;
	union prb_msg msg;
	struct tx_entry *e;
	int err = prb_brick_map(c->session, req->addr, req->map_flags, &m);

	if (err < 0) {
		conn_error_rsp(c, prb_status_from_errno(err));
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.map_rsp.handle = m->handle;
	msg.map_rsp.raddr = m->raddr;
	msg.map_rsp.rkey = m->rkey;
	msg.map_rsp.length = PRB_BLOCK_SIZE;
	e = conn_rsp(c, PRB_MSG_MAP_RSP, &msg, 0, true);
	if (e)
		conn_rsp_done(c, e);
}

static void conn_list(struct prb_conn *c, const struct prb_list_req *req)
{
	/* PRB-LIST: the response must fit the peer's max_pdu. */
#ifdef PRB_MUTANT_LIST_FIT_NO_DIGESTS /* mutant (conformance/mutants.txt) */
	uint32_t fit = (c->peer_max_pdu - PRB_LIST_RSP_SIZE) / 16u;
#else
	uint32_t fit = (c->peer_max_pdu - PRB_LIST_RSP_SIZE - PRB_HDGST_SIZE - PRB_DDGST_SIZE) /
		       16u;
#endif
	uint32_t max = req->max_extents < fit ? req->max_extents : fit;
	struct prb_extent *ext = calloc(max, sizeof(*ext));
	uint8_t *payload;
	union prb_msg msg;
	struct tx_entry *e;
	uint64_t next;
	bool end;
	int n;

	if (!ext) {
		conn_error_rsp(c, PRB_ST_ENOMEM);
		return;
	}
	n = prb_brick_list(c->brick, req->cursor, ext, max, &next, &end);
	if (n < 0) {
		free(ext);
		conn_error_rsp(c, prb_status_from_errno(n));
		return;
	}
	payload = conn_buf_alloc((size_t)n * 16u + 1u);
	if (!payload) {
		free(ext);
		conn_error_rsp(c, PRB_ST_ENOMEM);
		return;
	}
	for (int i = 0; i < n; i++)
		prb_extent_encode(&ext[i], payload + (size_t)i * 16u, 16u);
	free(ext);
	memset(&msg, 0, sizeof(msg));
	msg.list_rsp.next_cursor = next;
	msg.list_rsp.count = (uint32_t)n;
	msg.list_rsp.list_flags = end ? PRB_LIST_END : 0;
	msg.list_rsp.payload_len = (uint32_t)n * 16u;
	e = conn_rsp(c, PRB_MSG_LIST_RSP, &msg, msg.list_rsp.payload_len, true);
	if (!e) {
		conn_buf_free(payload, (size_t)n * 16u + 1u);
		return;
	}
	e->owned = payload;
	e->owned_len = (size_t)n * 16u + 1u;
	e->data = payload;
	e->data_len = msg.list_rsp.payload_len;
	conn_rsp_done(c, e);
}

static void conn_read(struct prb_conn *c, const struct prb_read_req *req)
{
	struct prb_mapping *m = NULL;
	union prb_msg msg;
	struct tx_entry *e;
	int err = -EINVAL;

	/* PRB-DATA-1: a length above the negotiated max_data is EINVAL, checked first. */
	if (req->length <= c->max_data)
		err = prb_brick_access(c->session, req->handle, req->offset, req->length, false,
				       &m);
	if (err < 0) {
		conn_error_rsp(c, prb_status_from_errno(err));
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.read_rsp.payload_len = req->length;
	e = conn_rsp(c, PRB_MSG_READ_RSP, &msg, req->length, true);
	if (!e)
		return;
	/*
	 * The digest (conn_rsp_done) must match the bytes sent. It is computed now, so the
	 * answer is sent from the block only while no other connection can write it: this
	 * connection's own writes copy queued answers first (tx_copy_refs), and another's
	 * read-write MAP does (conn_on_shared_write). Else send a snapshot.
	 */
	if (c->ddgst && prb_brick_others_may_write(m)) {
		e->owned = conn_buf_alloc(req->length);
		if (!e->owned) {
			c->tx_count--;
			conn_error_rsp(c, PRB_ST_ENOMEM);
			return;
		}
		e->owned_len = req->length;
		memcpy(e->owned, m->data + req->offset, req->length);
		e->data = e->owned;
	} else {
		e->data = m->data + req->offset;
		e->ref = m;
		c->zero_copy++;
	}
	e->data_len = req->length;
	conn_rsp_done(c, e);
}

static void conn_atomic(struct prb_conn *c, enum prb_msg_id id, const union prb_msg *req)
{
	union prb_msg msg;
	struct prb_mapping *m;
	struct tx_entry *e;
	uint64_t original = 0;
	uint64_t handle = id == PRB_MSG_CAS_REQ ? req->cas_req.handle : req->fadd_req.handle;
	uint32_t offset = id == PRB_MSG_CAS_REQ ? req->cas_req.offset : req->fadd_req.offset;
	int err;

	/* PRB-CAS/FADD: only when ATOMICS was negotiated. */
	if (!(c->features & PRB_FEAT_ATOMICS)) {
		conn_error_rsp(c, PRB_ST_ENOTSUP);
		return;
	}
	/* Earlier READs of this connection answer with the bytes before the change. */
	if (c->zero_copy && prb_brick_access(c->session, handle, offset, PRB_ATOMIC_SIZE, true,
					     &m) == 0)
		tx_copy_refs(c, NULL, m->data, false);
	if (id == PRB_MSG_CAS_REQ)
		err = prb_brick_cas(c->session, handle, offset, req->cas_req.compare,
				    req->cas_req.swap, &original);
	else
		err = prb_brick_fadd(c->session, handle, offset, req->fadd_req.add, &original);
	if (err < 0) {
		conn_error_rsp(c, prb_status_from_errno(err));
		return;
	}
	memset(&msg, 0, sizeof(msg));
	if (id == PRB_MSG_CAS_REQ) {
		msg.cas_rsp.original = original;
		e = conn_rsp(c, PRB_MSG_CAS_RSP, &msg, 0, true);
	} else {
		msg.fadd_rsp.original = original;
		e = conn_rsp(c, PRB_MSG_FADD_RSP, &msg, 0, true);
	}
	if (e)
		conn_rsp_done(c, e);
}

/*
 * A WRITE that fails drops its payload, but with data digests its status may still be
 * EBADMSG, which comes before the operation's own statuses (PRB-REQ-1): check the
 * digest over the bytes as they are dropped.
 */
static void conn_write_digest_dropped(struct prb_conn *c)
{
	if (!c->ddgst)
		return;
	c->wr_crc_on = true;
	c->crc = 0xFFFFFFFFu;
}

/* Set up the payload sink of a decoded WRITE (or skip it when the WRITE fails). */
static void conn_write_begin(struct prb_conn *c, const struct prb_write_req *req)
{
	struct prb_mapping *m = NULL;
	int err = -EINVAL;

	/* PRB-DATA-1 (EINVAL) before the handle's statuses. */
	if (req->length <= c->max_data)
		err = prb_brick_access(c->session, req->handle, req->offset, req->length, true,
				       &m);
	c->rx_state = RX_PAYLOAD;
	c->sink_left = c->payload_len;
	c->sink_dst = NULL;
	c->wr_map = NULL;
	c->wr_status = PRB_ST_OK;
	c->wr_crc_on = false;
#ifdef PRB_MUTANT_WRITE_PARTIAL_STORE
	/* mutant (conformance/mutants.txt): an out-of-range WRITE stores the bytes that fit (the
	 * payload lands in the bounce buffer; conn_write_end copies them, then answers ERANGE) */
	if (err == -ERANGE && !c->ddgst && req->offset < PRB_BLOCK_SIZE &&
	    prb_brick_access(c->session, req->handle, req->offset, PRB_BLOCK_SIZE - req->offset,
			     true, &m) == 0 &&
	    (c->bounce || (c->bounce = malloc(c->lim.max_data)))) {
		c->sink_dst = c->bounce;
		c->wr_map = m;
		c->wr_offset = req->offset;
		c->wr_status = PRB_ST_ERANGE;
		return;
	}
#endif
	if (err < 0) {
		c->wr_status = prb_status_from_errno(err);
		conn_write_digest_dropped(c);
		return;
	}
	if (c->ddgst) {
		if (!c->bounce)
			c->bounce = conn_buf_alloc(c->lim.max_data);
		if (!c->bounce) {
			c->wr_status = PRB_ST_ENOMEM;
			conn_write_digest_dropped(c);
			return;
		}
		c->sink_dst = c->bounce;
	} else {
		/* Earlier READs of this connection answer with the bytes before the WRITE. */
		if (c->zero_copy)
			tx_copy_refs(c, NULL, m->data, false);
		c->sink_dst = m->data + req->offset;
	}
	c->wr_map = m;
	c->wr_offset = req->offset;
}

/* The whole WRITE (payload and digest) arrived: apply it and answer. */
static void conn_write_end(struct prb_conn *c, bool digest_ok)
{
	struct prb_mapping *m = c->wr_map;

	c->wr_map = NULL;
	/* PRB-REQ-1: EINVAL, then EBADMSG (nothing written: PRB-DGST-7), then the rest. */
	if (c->wr_status == PRB_ST_EINVAL) {
		conn_error_rsp(c, c->wr_status);
		return;
	}
	if (c->ddgst && !digest_ok) {
		conn_error_rsp(c, PRB_ST_EBADMSG);
		return;
	}
	if (c->wr_status != PRB_ST_OK) {
#ifdef PRB_MUTANT_WRITE_PARTIAL_STORE
		if (c->wr_status == PRB_ST_ERANGE && m)
			memcpy(m->data + c->wr_offset, c->bounce, PRB_BLOCK_SIZE - c->wr_offset);
#endif
		conn_error_rsp(c, c->wr_status);
		return;
	}
	if (c->ddgst) {
		if (c->zero_copy)
			tx_copy_refs(c, NULL, m->data, false);
		memcpy(m->data + c->wr_offset, c->bounce, c->payload_len);
	}
	conn_simple_rsp(c, PRB_MSG_WRITE_RSP, 0);
}

/* Execute a decoded request (not WRITE, whose payload comes first). */
static void conn_dispatch(struct prb_conn *c, enum prb_msg_id id, const union prb_msg *msg)
{
	struct prb_session *s = c->session;
	int err;

	switch (id) {
	case PRB_MSG_HELLO_REQ:
		conn_hello(c, &msg->hello_req);
		break;
	case PRB_MSG_INFO_REQ:
		conn_info(c);
		break;
	case PRB_MSG_KEEPALIVE_REQ:
		conn_simple_rsp(c, PRB_MSG_KEEPALIVE_RSP, 0);
		break;
	case PRB_MSG_ALLOC_REQ:
		err = prb_brick_alloc(c->brick, msg->alloc_req.addr, msg->alloc_req.blocks);
		conn_simple_rsp(c, PRB_MSG_ALLOC_RSP, err);
		break;
	case PRB_MSG_FREE_REQ:
		err = prb_brick_free(c->brick, msg->free_req.addr, msg->free_req.blocks,
				     msg->free_req.free_flags);
		conn_simple_rsp(c, PRB_MSG_FREE_RSP, err);
		break;
	case PRB_MSG_MAP_REQ:
		conn_map(c, &msg->map_req);
		break;
	case PRB_MSG_UNMAP_REQ:
		conn_simple_rsp(c, PRB_MSG_UNMAP_RSP, prb_brick_unmap(s, msg->unmap_req.handle));
		break;
	case PRB_MSG_LIST_REQ:
		conn_list(c, &msg->list_req);
		break;
	case PRB_MSG_READ_REQ:
		conn_read(c, &msg->read_req);
		break;
	case PRB_MSG_FLUSH_REQ:
		err = prb_brick_flush(s, msg->flush_req.handle, msg->flush_req.offset,
				      msg->flush_req.length);
		conn_simple_rsp(c, PRB_MSG_FLUSH_RSP, err);
		break;
	case PRB_MSG_CAS_REQ:
	case PRB_MSG_FADD_REQ:
		conn_atomic(c, id, msg);
		break;
	default:
		conn_error_rsp(c, PRB_ST_ENOTSUP);
		break;
	}
}

/* ------------------------------------------------------------------ receive side */

/* The PDU is fully received: wait for the next header. */
static void rx_pdu_end(struct prb_conn *c)
{
	c->rx_state = RX_HDR;
	c->sink_dst = NULL;
	c->sink_left = 0;
	c->sink_crc = false;
	c->skip_only = false;
	c->hdr_valid = false;
}

/* Drop the next \p len bytes of the PDU (then the PDU ends). */
static void rx_skip(struct prb_conn *c, uint32_t len)
{
	c->skip_only = true;
	c->sink_dst = NULL;
	c->sink_left = len;
	if (len)
		c->rx_state = RX_PAYLOAD;
	else
		rx_pdu_end(c);
}

/* Bytes of the current PDU after its fixed part and header digest. */
static uint32_t rx_after_fixed(const struct prb_conn *c)
{
	return c->hdr.plen - c->hdr.hlen - ((c->hdr.flags & PRB_HDR_HDGST) ? PRB_HDGST_SIZE : 0u);
}

/* PRB-PDU-12 checks 8 to 10 and the unknown-opcode rule (PRB-PDU-15). They need the
 * header only. \return true when the fixed part should be received and decoded. */
static bool rx_sequence_checks(struct prb_conn *c)
{
	int id = prb_msg_id_of(c->hdr.opcode);
	bool first_hello = !c->hello_seen && c->hdr.opcode == PRB_OP_HELLO;

	/* Check 8 (PRB-PDU-13): HELLO (or TERM) first; never a response. */
	if ((c->hdr.opcode & PRB_OPCODE_RESPONSE) ||
	    (!c->hello_done && c->hdr.opcode != PRB_OP_HELLO && c->hdr.opcode != PRB_OP_TERM)) {
		conn_term(c, PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET);
		return false;
	}
	/* PRB-PDU-14: a TERM from the initiator: close without answering. */
	if (c->hdr.opcode == PRB_OP_TERM) {
		prb_info("peer sent TERM");
		c->closing = true;
		c->eof = true;
		c->rx_state = RX_DEAD;
		return false;
	}
	/* Check 9: a known request's hlen; no payload where the message has none. */
	if (id >= 0) {
		const struct prb_msg_desc *d = &prb_msg_descs[id];
		uint32_t dd = (c->hdr.flags & PRB_HDR_DDGST) ? PRB_DDGST_SIZE : 0u;

		if (c->hdr.hlen != d->size) {
			conn_term(c, PRB_TERM_BAD_HEADER, PRB_HDR_HLEN_OFFSET);
			return false;
		}
		/* No length field disagrees here: plen itself does. */
		if (d->payload == PRB_PAYLOAD_NONE && rx_after_fixed(c) - dd != 0) {
			conn_term(c, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET);
			return false;
		}
	}
	/* Check 10 (PRB-TAG-7): the first HELLO does not count. */
	if (!first_hello) {
		if (c->outstanding >= c->queue_depth) {
			conn_term(c, PRB_TERM_QUEUE_OVERFLOW, 0);
			return false;
		}
		c->outstanding++;
	}
	c->hello_seen = true;
	c->counted = !first_hello;
	prb_brick_count_request(c->brick);
	if (id < 0) {
#ifdef PRB_MUTANT_UNKNOWN_OPCODE_FATAL
		conn_term(c, PRB_TERM_BAD_HEADER, PRB_HDR_OPCODE_OFFSET); /* mutant (conformance/mutants.txt) */
		return false;
#endif
		/* PRB-PDU-15: unknown opcode: ENOTSUP, consume exactly plen bytes. */
		conn_error_rsp(c, PRB_ST_ENOTSUP);
		return false;
	}
	/* PRB-RDMA-24: no data capsules over RDMA (one-sided verbs move the data). */
	if (c->lim.one_sided && (id == PRB_MSG_READ_REQ || id == PRB_MSG_WRITE_REQ ||
				 id == PRB_MSG_CAS_REQ || id == PRB_MSG_FADD_REQ)) {
		conn_error_rsp(c, PRB_ST_ENOTSUP);
		return false;
	}
	return true;
}

/* The common header of a PDU arrived: PRB-PDU-12 checks 1 to 6, then decide how to
 * receive the rest. The header stays in the buffer until the fixed part is complete. */
static void rx_header(struct prb_conn *c)
{
	const uint8_t *p = c->rbuf + c->rstart;
	struct prb_wire_error we;
	uint32_t hd, dd, payload;
	bool known;
	int err;

	memset(&c->hdr, 0, sizeof(c->hdr));
	err = prb_hdr_decode(p, PRB_HDR_SIZE, &c->hdr, &we);
	if (err == -EPROTO) {
#ifdef PRB_MUTANT_BAD_MAGIC_TAGGED
		/* mutant (conformance/mutants.txt): a wrong magic's tag field is echoed */
		c->hdr.tag = get_le32(p + PRB_HDR_TAG_OFFSET);
		c->hdr_valid = true;
#endif
		conn_term(c, PRB_TERM_BAD_HEADER, 0);                  /* check 1 */
		return;
	}
	c->hdr_valid = true;
	if (p[PRB_HDR_FLAGS_OFFSET] & ~(unsigned)PRB_HDR_ALL) {
		conn_term(c, PRB_TERM_BAD_HEADER, PRB_HDR_FLAGS_OFFSET); /* check 2 */
		return;
	}
	if (c->hdr.hlen < PRB_HDR_SIZE || c->hdr.hlen % 8) {
		conn_term(c, PRB_TERM_BAD_HEADER, PRB_HDR_HLEN_OFFSET);  /* check 3 */
		return;
	}
	hd = (p[PRB_HDR_FLAGS_OFFSET] & PRB_HDR_HDGST) ? PRB_HDGST_SIZE : 0u;
	dd = (p[PRB_HDR_FLAGS_OFFSET] & PRB_HDR_DDGST) ? PRB_DDGST_SIZE : 0u;
	if (c->hdr.plen < (uint64_t)c->hdr.hlen + hd + dd) {
		conn_term(c, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET);  /* check 4 */
		return;
	}
	if (c->hdr.plen > c->max_pdu) {
		conn_term(c, PRB_TERM_PDU_TOO_LARGE, PRB_HDR_PLEN_OFFSET); /* check 5 */
		return;
	}
	/* Check 6 (PRB-DGST-3..5): digest bits as negotiated; none before the exchange. */
	known = prb_msg_id_of(c->hdr.opcode) >= 0;
	payload = c->hdr.plen - c->hdr.hlen - hd - dd;
	if ((hd != 0) != (c->hello_done && c->hdgst) ||
	    (known && (dd != 0) != (c->hello_done && c->ddgst && payload > 0))) {
		conn_term(c, PRB_TERM_HEADER_DIGEST, PRB_HDR_FLAGS_OFFSET);
		return;
	}
	c->payload_len = payload;
	if (hd) {
		/* Check 7 needs the fixed part: buffer it, or stream a huge one through the CRC. */
		if (c->hdr.hlen + hd <= RX_FIXED_MAX) {
			c->fixed_need = c->hdr.hlen + hd;
			c->rx_state = RX_FIXED;
			return;
		}
		c->crc = crc32_iscsi((unsigned char *)(uintptr_t)p, PRB_HDR_SIZE, 0xFFFFFFFFu);
		c->rstart += PRB_HDR_SIZE;
		rx_skip(c, c->hdr.hlen - PRB_HDR_SIZE);
		c->skip_only = false;
		c->sink_crc = true;
		return;
	}
	if (!rx_sequence_checks(c)) {
		if (c->rx_state != RX_DEAD) {
			c->rstart += PRB_HDR_SIZE;
			rx_skip(c, c->hdr.plen - PRB_HDR_SIZE);
		}
		return;
	}
	c->fixed_need = c->hdr.hlen;
	c->rx_state = RX_FIXED;
}

/* A header digest too big to buffer was computed on the fly; its hdgst_size bytes arrived. */
static void rx_big_hdgst(struct prb_conn *c)
{
	const uint8_t *p = c->rbuf + c->rstart;

	c->rstart += PRB_HDGST_SIZE;
	if (get_le32(p) != ~c->crc || get_le32(p + PRB_CRC32C_SIZE) != 0) {
		conn_term(c, PRB_TERM_HEADER_DIGEST, c->hdr.hlen);    /* check 7 */
		return;
	}
	/* Such an hlen is no known message's: ENOTSUP or BAD_HEADER. */
	if (rx_sequence_checks(c))
		conn_term(c, PRB_TERM_BAD_HEADER, PRB_HDR_HLEN_OFFSET);
	else if (c->rx_state != RX_DEAD)
		rx_skip(c, rx_after_fixed(c));
}

/* Status of a request whose fixed part failed to decode (PRB-REQ-1 order). */
static uint16_t rx_decode_status(const struct prb_conn *c)
{
	uint8_t op = c->hdr.opcode;

	if ((op == PRB_OP_CAS || op == PRB_OP_FADD) && !(c->features & PRB_FEAT_ATOMICS))
		return PRB_ST_ENOTSUP;
	if (op == PRB_OP_HELLO && c->hello_done)
		return PRB_ST_EPROTO;
	return PRB_ST_EINVAL;
}

/* The fixed part (and header digest) is in the buffer: checks 7 to 10, decode, dispatch. */
static void rx_fixed(struct prb_conn *c)
{
	const uint8_t *p = c->rbuf + c->rstart;
	uint32_t hlen = c->hdr.hlen;
	struct prb_wire_error we;
	union prb_msg msg;
	enum prb_msg_id id;
	int err;

	c->rstart += c->fixed_need;
	if (c->hdr.flags & PRB_HDR_HDGST) {
		/* Check 7 (PRB-DGST-6): digest and its zero padding. */
#ifdef PRB_MUTANT_HDGST_UNCHECKED
		if (0) { /* mutant (conformance/mutants.txt): the header digest is not checked */
#else
		if (get_le32(p + hlen) != prb_crc32c(p, hlen) || get_le32(p + hlen + 4) != 0) {
#endif
			conn_term(c, PRB_TERM_HEADER_DIGEST, hlen);
			return;
		}
		if (!rx_sequence_checks(c)) {
			if (c->rx_state != RX_DEAD)
				rx_skip(c, rx_after_fixed(c));
			return;
		}
	}
	/* Check 9 (PRB-PDU-3): a WRITE's payload is exactly write_req.length bytes. */
	if (c->hdr.opcode == PRB_OP_WRITE &&
	    get_le32(p + PRB_WRITE_REQ_LENGTH_OFFSET) != c->payload_len) {
		conn_term(c, PRB_TERM_BAD_HEADER, PRB_WRITE_REQ_LENGTH_OFFSET);
		return;
	}
	memset(&msg, 0, sizeof(msg));
	/* PRB-HELLO-5: the decoder accepts unknown hello_req.features bits (spec
	 * unknown_bits = "ignore"); the grant masks them off. */
#ifdef PRB_MUTANT_RESERVED_IGNORED
	/* mutant (conformance/mutants.txt): reserved fields are cleared, not checked */
	const struct prb_msg_desc *md = &prb_msg_descs[prb_msg_id_of(c->hdr.opcode)];
	for (unsigned f = 0; f < md->field_count; f++)
		if (md->fields[f].kind == PRB_FIELD_RESERVED)
			memset((uint8_t *)(uintptr_t)p + md->fields[f].offset, 0, md->fields[f].size);
#endif
	err = prb_msg_decode(p, hlen, &msg, &id, &we);
	if (err < 0) {
		/* PRB-REQ-2/3: reserved bits, alignment, min/max/enum: the connection goes on. */
		prb_dbg("tag %u: %s: %s", c->hdr.tag, we.field ? we.field : "?",
			we.reason ? we.reason : "?");
		if (c->hdr.opcode == PRB_OP_HELLO && !c->hello_done) {
			conn_hello_refuse(c, PRB_ST_EINVAL);
			return;
		}
		conn_error_rsp(c, rx_decode_status(c));
		rx_skip(c, rx_after_fixed(c));
		return;
	}
	if (id == PRB_MSG_WRITE_REQ) {
		conn_write_begin(c, &msg.write_req);
		return;
	}
	conn_dispatch(c, id, &msg);
	rx_pdu_end(c);
}

/* The payload of the current PDU is in: a WRITE waits for its digest, a skip ends. */
static void rx_payload_end(struct prb_conn *c)
{
	if (c->sink_crc) {
		c->sink_crc = false;
		c->rx_state = RX_BIG_HDGST;
		return;
	}
	if (c->skip_only) {
		rx_pdu_end(c);
		return;
	}
	if (c->hdr.flags & PRB_HDR_DDGST) {
		c->rx_state = RX_DDGST;
		return;
	}
	conn_write_end(c, true);
	rx_pdu_end(c);
}

/* The data digest of a WRITE arrived. */
static void rx_ddgst(struct prb_conn *c)
{
	uint32_t want = get_le32(c->rbuf + c->rstart);
	bool ok = true;

	c->rstart += PRB_DDGST_SIZE;
	/* The payload went to the bounce buffer (also when revoked meanwhile), or was dropped. */
	if (c->wr_crc_on)
		ok = want == ~c->crc;
	else if (c->sink_dst)
		ok = want == prb_crc32c(c->bounce, c->payload_len);
	conn_write_end(c, ok);
	rx_pdu_end(c);
}

/* Feed payload bytes from the input buffer to the sink. */
static void rx_payload_from_buffer(struct prb_conn *c)
{
	size_t avail = c->rend - c->rstart;
	uint32_t take = avail < c->sink_left ? (uint32_t)avail : c->sink_left;

	if (c->sink_dst) {
		memcpy(c->sink_dst, c->rbuf + c->rstart, take);
		c->sink_dst += take;
	} else if (c->sink_crc || c->wr_crc_on) {
		/* a streamed fixed part, or a failed WRITE's payload (never both at once) */
		c->crc = crc32_iscsi(c->rbuf + c->rstart, (int)take, c->crc);
	}
	c->rstart += take;
	c->sink_left -= take;
	if (c->sink_left == 0)
		rx_payload_end(c);
}

/* Parse everything the input buffer holds. */
static void rx_process(struct prb_conn *c, uint64_t now_ms)
{
	for (;;) {
		size_t avail = c->rend - c->rstart;

		switch (c->rx_state) {
		case RX_HDR:
			if (avail < PRB_HDR_SIZE)
				return;
			/*
			 * A peer that does not read its answers stops the brick reading
			 * (prb_conn_rx_wanted), but requests already buffered (a 64 KiB
			 * buffer holds thousands of READs) would each still queue an
			 * answer, and with data digests each READ a copy of its data.
			 * Hold them until the backlog drains (prb_conn_tx_commit).
			 */
			if (tx_backlog_full(c)) {
				c->rx_held = true;
				return;
			}
			rx_header(c);
			break;
		case RX_FIXED:
			if (avail < c->fixed_need)
				return;
			rx_fixed(c);
			break;
		case RX_PAYLOAD:
			if (avail == 0)
				return;
			rx_payload_from_buffer(c);
			break;
		case RX_BIG_HDGST:
			if (avail < PRB_HDGST_SIZE)
				return;
			rx_big_hdgst(c);
			break;
		case RX_DDGST:
			if (avail < PRB_DDGST_SIZE)
				return;
			rx_ddgst(c);
			break;
		case RX_DEAD:
			c->rstart = c->rend;
			return;
		}
		if (c->rx_state == RX_HDR) {
			/* A PDU ended; bytes still buffered start the next one. */
			c->idle_since_ms = now_ms;
			c->pdu_start_ms = now_ms;
		}
	}
}

bool prb_conn_rx_mid_pdu(const struct prb_conn *c)
{
	return c->rx_state != RX_HDR && c->rx_state != RX_DEAD;
}

bool prb_conn_rx_wanted(const struct prb_conn *c)
{
	return !c->closing && c->rx_state != RX_DEAD && !tx_backlog_full(c);
}

size_t prb_conn_rx_space(struct prb_conn *c, void **buf)
{
	c->rx_direct = false;
	if (!prb_conn_rx_wanted(c))
		return 0;
	if (c->rx_state == RX_PAYLOAD && c->rstart == c->rend && c->sink_dst &&
	    c->sink_left >= RX_DIRECT_MIN) {
		c->rx_direct = true;
		*buf = c->sink_dst;
		return c->sink_left;
	}
	if (c->rstart == c->rend) {
		c->rstart = 0;
		c->rend = 0;
	} else if (RX_BUF_SIZE - c->rend < RX_FIXED_MAX + PRB_HDR_SIZE) {
		/* Keep room for a whole fixed part after the bytes already buffered. */
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	*buf = c->rbuf + c->rend;
	return RX_BUF_SIZE - c->rend;
}

void prb_conn_rx_commit(struct prb_conn *c, size_t n, uint64_t now_ms)
{
	if (n == 0)
		return;
	c->clock_ms = now_ms;
	c->last_rx_ms = now_ms;
	/* The first byte of a PDU: the partial-PDU timeout runs from here. */
	if (c->rx_state == RX_HDR && c->rend == c->rstart)
		c->pdu_start_ms = now_ms;
	if (c->rx_direct) {
		/* Bytes received straight into the block (revocation cannot happen between
		 * rx_space and this call: both run back to back on the loop's thread). */
		c->rx_direct = false;
		c->sink_dst += n;
		c->sink_left -= (uint32_t)n;
		if (c->sink_left == 0)
			rx_payload_end(c);
	} else {
		c->rend += n;
	}
	rx_process(c, now_ms);
}
