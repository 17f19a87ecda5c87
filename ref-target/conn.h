/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The protocol engine of one TCP-binding connection, without any I/O ("sans-I/O"):
 * the transport asks where the next received bytes should land (prb_conn_rx_space),
 * receives into that place and reports how many arrived (prb_conn_rx_commit); it asks
 * for the bytes to send as iovecs (prb_conn_tx_iov) and reports what went out
 * (prb_conn_tx_commit). The engine decodes PDUs, enforces framing, digests, the
 * handshake, queue depth and timeouts, dispatches to the brick and encodes responses.
 *
 * Zero-copy paths: a WRITE payload without data digest is received straight into the
 * mapped block (rx_space points into it); a READ response is sent straight from the
 * block (an iovec into it), with data digests too where no other connection can write
 * the block. Pending references are copied out when their mapping is revoked, before
 * this connection writes to the same block, and (with a digest) when another
 * connection maps the block read-write.
 */
#ifndef PRB_TARGET_CONN_H
#define PRB_TARGET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct prb_brick;
struct prb_conn;
struct prb_session_ops;

/** The brick's limits and offers, the same for every connection. */
struct prb_conn_limits {
	uint16_t queue_depth;      /* largest queue depth granted, 1..PRB_MAX_QUEUE_DEPTH */
	uint32_t max_data;         /* largest READ/WRITE data, PRB_MIN_MAX_DATA..PRB_MAX_DATA_LIMIT */
	uint32_t max_mappings;     /* live handles per connection */
	uint32_t features;         /* offered: PRB_FEAT_HDGST | PRB_FEAT_DDGST | PRB_FEAT_ATOMICS */
	uint32_t idle_timeout_ms;  /* nothing received nor outstanding this long: TERM; 0 off */
	uint32_t hello_timeout_ms; /* no HELLO this long after the start: TERM TIMEOUT; 0 off */
	uint32_t pdu_timeout_ms;   /* a PDU still partial this long after its first byte: TERM
				    * TIMEOUT; 0 off */
	uint32_t send_timeout_ms;  /* output waits and the peer takes none of it this long:
				    * the connection ends without TERM; 0 off */
	bool one_sided;            /* RDMA: READ/WRITE/CAS/FADD capsules get ENOTSUP */
	/* Answers waiting to be sent beyond this: take no more requests until they leave
	 * (TCP: a peer that does not read). 0: no cap (RDMA: the initiator's receive credits
	 * bound what it sends, and every capsule must be taken). */
	size_t tx_backlog_max;
};

/** The TCP binding's send backlog cap. */
#define PRB_CONN_TX_BACKLOG_DEFAULT ((size_t)8 << 20)

/**
 * A connection engine (and its brick session).
 * \param now_ms the monotonic clock (prb_loop_now_ms()), the start of the idle timer
 * \return 0 or -ENOMEM.
 */
int prb_conn_new(struct prb_brick *brick, const struct prb_conn_limits *lim, uint64_t now_ms,
		 struct prb_conn **out);
/** Over the connection limit: answer the HELLO with ENOMEM and close (PRB-HELLO order). */
void prb_conn_refuse(struct prb_conn *c);
/** True once the HELLO exchange has completed (a HELLO answered with success). */
bool prb_conn_hello_done(const struct prb_conn *c);
/**
 * Make room for a new connection at the connection limit (only before the HELLO
 * exchange, PRB-KA-5): queue TERM TIMEOUT and take no more input.
 */
void prb_conn_evict(struct prb_conn *c);
/**
 * Binding hooks chained after the engine's own (RDMA: register a mapped block on MAP,
 * invalidate its key on every revocation). Set before the first PDU; \p ops may be NULL.
 */
void prb_conn_set_binding(struct prb_conn *c, const struct prb_session_ops *ops, void *ctx);
/** Ends the session (revokes its handles) and frees everything. NULL is a no-op. */
void prb_conn_delete(struct prb_conn *c);

/**
 * Where the next received bytes should go.
 * \param buf set to the destination
 * \return how many bytes may be received there, 0 when the engine wants nothing now
 *         (closing, or too much output waiting to be sent).
 */
size_t prb_conn_rx_space(struct prb_conn *c, void **buf);
/** True when the engine takes input now (prb_conn_rx_space would return nonzero). */
bool prb_conn_rx_wanted(const struct prb_conn *c);
/** True in the middle of a PDU (more of its bytes are expected now). */
bool prb_conn_rx_mid_pdu(const struct prb_conn *c);
/** \p n bytes (<= the space returned) landed at the place rx_space gave; process them. */
void prb_conn_rx_commit(struct prb_conn *c, size_t n, uint64_t now_ms);
/** The peer closed its side: finish sending, then be done. */
void prb_conn_rx_eof(struct prb_conn *c);

/**
 * The bytes to send next, as at most \p max iovecs (they stay valid until tx_commit
 * or the next call into the engine). \return the iovec count, 0 when nothing waits.
 */
int prb_conn_tx_iov(struct prb_conn *c, struct iovec *iov, int max);
/** \p n bytes of those iovecs were sent. */
void prb_conn_tx_commit(struct prb_conn *c, size_t n, uint64_t now_ms);
/** Bytes waiting to be sent. */
size_t prb_conn_tx_pending(const struct prb_conn *c);

/**
 * True when the transport should close the connection now. Output may still be queued
 * then (prb_conn_tx_pending): the send timeout expired, and the transport drops it
 * (TCP: a reset).
 */
bool prb_conn_done(const struct prb_conn *c);
/** Check the HELLO, partial-PDU, idle and send timeouts (call every prb_conn_tick_ms()). */
void prb_conn_tick(struct prb_conn *c, uint64_t now_ms);
/**
 * How often to call prb_conn_tick: a few times per shortest timeout of \p lim, from 10 to
 * 250 ms. \return 0 when every timeout is off.
 */
uint32_t prb_conn_tick_ms(const struct prb_conn_limits *lim);
/** The brick shuts down: queue TERM SHUTDOWN after the responses already queued. */
void prb_conn_shutdown(struct prb_conn *c);
/**
 * The shutdown grace runs out: drop the queued responses whose first byte has not been
 * sent, so that the TERM queued by prb_conn_shutdown follows the PDU being sent.
 */
void prb_conn_shutdown_cut(struct prb_conn *c);

#endif
