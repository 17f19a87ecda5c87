/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RDMA binding of the target: rdma_cm listeners, RC queue pairs whose control
 * capsules (one PDU per SEND) drive one connection engine (conn.h) each, and the
 * registration of mapped blocks for one-sided READ/WRITE/atomics by the initiator.
 * Knows verbs and the event loop; nothing about storage beyond the mapped bytes.
 *
 * Handshake: the HELLO request arrives as rdma_cm connect private data; the engine's
 * answer goes back as accept private data (a HELLO response) or reject private data
 * (an error response or TERM). Receive buffers (queue depth of them, the brick's
 * max_pdu each) are posted before the accept.
 *
 * Keys: a mapping gets a type-2 memory window bound on the connection's QP over a
 * memory region that covers exactly its block (shared by every mapping of the block
 * on that device), so the key reaches only that block, only through that connection,
 * with only the access the MAP flags allow. Devices without type-2 windows get one
 * memory region per mapping in a protection domain of the connection's own. Revocation
 * deallocates the window (or deregisters the region) before anything is answered.
 */
#ifndef PRB_TARGET_RDMA_H
#define PRB_TARGET_RDMA_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct prb_loop;
struct prb_brick;
struct prb_rdma;

struct prb_rdma_config {
	struct prb_conn_limits limits; /* max_data and digests are overridden for RDMA */
	uint32_t max_connections;      /* more are rejected */
	int force_mr;                  /* nonzero: one memory region per mapping, no windows */
};

/** \return 0 or a negative errno. */
int prb_rdma_new(struct prb_loop *loop, struct prb_brick *brick,
		 const struct prb_rdma_config *cfg, struct prb_rdma **out);
/** Closes every listener and connection (without TERM). NULL is a no-op. */
void prb_rdma_delete(struct prb_rdma *r);

/**
 * Listen with rdma_cm on \p host (numeric address or name) and \p port (0: any free one).
 * \param urls receives one "rdma://ADDR:PORT\n" line (appended)
 * \return 1 (listeners bound) or a negative errno (-ENODEV: no RDMA device for the address).
 */
int prb_rdma_listen(struct prb_rdma *r, const char *host, uint16_t port, char *urls, size_t len);

/**
 * Shut down: close the listeners, send TERM SHUTDOWN after the queued responses on every
 * connection, and call \p drained once no connection is left.
 */
void prb_rdma_shutdown(struct prb_rdma *r, void (*drained)(void *arg), void *arg);

#endif
