/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TCP binding's sockets: listeners (IPv4, IPv6), accepted connections,
 * non-blocking reads and writes driving one connection engine (conn.h) each.
 * Knows sockets and the event loop; nothing about PDUs or storage.
 */
#ifndef PRB_TARGET_TCP_H
#define PRB_TARGET_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct prb_loop;
struct prb_brick;
struct prb_tcp;

struct prb_tcp_config {
	struct prb_conn_limits limits;
	uint32_t max_connections;  /* served at once; beyond, the oldest connection without
				    * HELLO makes room, or the HELLO gets ENOMEM */
	int socket_buffer;         /* SO_SNDBUF / SO_RCVBUF bytes, 0: the kernel's autotuning */
};

/** \return 0 or a negative errno. */
int prb_tcp_new(struct prb_loop *loop, struct prb_brick *brick, const struct prb_tcp_config *cfg,
		struct prb_tcp **out);
/** Closes every listener and connection (without TERM). NULL is a no-op. */
void prb_tcp_delete(struct prb_tcp *t);

/**
 * Listen on \p host (numeric or a name; every address it resolves to) and \p port
 * (0: any free port). IPv6 sockets are IPv6-only, so [::] and 0.0.0.0 can coexist.
 * \param urls   receives one "tcp://ADDR:PORT\n" line per socket bound (appended)
 * \return the number of sockets bound (>= 1) or a negative errno.
 */
int prb_tcp_listen(struct prb_tcp *t, const char *host, uint16_t port, char *urls, size_t len);

/**
 * Shut down: close the listeners, send TERM SHUTDOWN after the queued responses on every
 * connection, and call \p drained once no connection is left. After \p cut_ms, the
 * responses a connection has not started to send are dropped: its TERM follows the
 * PDU being sent (a slow reader gets it before the caller's grace ends).
 */
void prb_tcp_shutdown(struct prb_tcp *t, uint32_t cut_ms, void (*drained)(void *arg), void *arg);

#endif
