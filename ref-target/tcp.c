/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "tcp.h"

#include <errno.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <prb/wire.h>

#include "log.h"
#include "loop.h"

#define TCP_MAX_LISTENERS 16
#define TCP_IOV_MAX 64
/* Reads per readiness event before other connections get a turn. */
#define TCP_READ_BUDGET 16
#define TCP_ACCEPT_PAUSE_MS 100
#define TCP_REFUSE_SLACK 64
/*
 * Unsent bytes the kernel may hold per socket (TCP_NOTSENT_LOWAT): output beyond waits
 * in the engine, where a shutdown can still cut it at a PDU boundary and put the TERM
 * before it, and where a peer that reads nothing pins no kernel memory for it.
 */
#define TCP_NOTSENT_LOWAT_BYTES (1 << 20)
/* "[" numeric address with scope "]:" port */
#define TCP_ADDR_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE + 16)

struct tcp_listener {
	struct prb_tcp *tcp;
	int fd;
	struct prb_loop_fd lfd;
};

struct tcp_conn {
	struct prb_tcp *tcp;
	int fd;
	struct prb_loop_fd lfd;
	struct prb_conn *conn;
	struct tcp_conn *prev, *next;
	/* Connections waiting for their HELLO, oldest first (evicted in that order). */
	bool awaiting_hello;
	struct tcp_conn *hello_prev, *hello_next;
	char peer[TCP_ADDR_MAX];
};

struct prb_tcp {
	struct prb_loop *loop;
	struct prb_brick *brick;
	struct prb_tcp_config cfg;
	struct tcp_listener listeners[TCP_MAX_LISTENERS];
	unsigned nlisteners;
	struct tcp_conn *conns;
	uint32_t nconns;
	struct tcp_conn *hello_oldest, *hello_newest;
	struct prb_loop_timer sweep;
	uint32_t sweep_ms;
	struct prb_loop_timer accept_pause;
	struct prb_loop_timer shutdown_cut;
	bool shutting_down;
	void (*drained)(void *arg);
	void *drained_arg;
};

static void tcp_sweep(void *arg);

int prb_tcp_new(struct prb_loop *loop, struct prb_brick *brick, const struct prb_tcp_config *cfg,
		struct prb_tcp **out)
{
	struct prb_tcp *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->brick = brick;
	t->cfg = *cfg;
	/* Timeouts are checked by one sweep over the connections, a few times per timeout. */
	t->sweep_ms = prb_conn_tick_ms(&cfg->limits);
	if (t->sweep_ms)
		prb_loop_timer_arm(loop, &t->sweep, t->sweep_ms, tcp_sweep, t);
	*out = t;
	return 0;
}

/* The connection's HELLO arrived, or it closes: out of the list of those waiting for it. */
static void tcp_hello_list_remove(struct tcp_conn *tc)
{
	struct prb_tcp *t = tc->tcp;

	if (!tc->awaiting_hello)
		return;
	tc->awaiting_hello = false;
	if (tc->hello_prev)
		tc->hello_prev->hello_next = tc->hello_next;
	else
		t->hello_oldest = tc->hello_next;
	if (tc->hello_next)
		tc->hello_next->hello_prev = tc->hello_prev;
	else
		t->hello_newest = tc->hello_prev;
	tc->hello_prev = tc->hello_next = NULL;
}

static void tcp_hello_list_append(struct tcp_conn *tc)
{
	struct prb_tcp *t = tc->tcp;

	tc->awaiting_hello = true;
	tc->hello_prev = t->hello_newest;
	if (t->hello_newest)
		t->hello_newest->hello_next = tc;
	else
		t->hello_oldest = tc;
	t->hello_newest = tc;
}

static void tcp_conn_close(struct tcp_conn *tc)
{
	struct prb_tcp *t = tc->tcp;

	prb_loop_del_fd(t->loop, &tc->lfd);
	/* Output left behind (send timeout, end of the shutdown grace): a reset, so that the
	 * kernel drops it too instead of trying to deliver it to a peer that does not read. */
	if (prb_conn_tx_pending(tc->conn)) {
		struct linger reset = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(tc->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	}
	close(tc->fd);
	tcp_hello_list_remove(tc);
	prb_conn_delete(tc->conn);
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		t->conns = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	t->nconns--;
	prb_info("connection from %s closed", tc->peer);
	free(tc);
	if (t->shutting_down && !t->conns && t->drained) {
		void (*drained)(void *) = t->drained;

		t->drained = NULL;
		drained(t->drained_arg);
	}
}

static void tcp_close_listeners(struct prb_tcp *t)
{
	for (unsigned i = 0; i < t->nlisteners; i++) {
		prb_loop_del_fd(t->loop, &t->listeners[i].lfd);
		close(t->listeners[i].fd);
	}
	t->nlisteners = 0;
	prb_loop_timer_cancel(t->loop, &t->accept_pause);
}

void prb_tcp_delete(struct prb_tcp *t)
{
	if (!t)
		return;
	t->drained = NULL;
	tcp_close_listeners(t);
	while (t->conns)
		tcp_conn_close(t->conns);
	prb_loop_timer_cancel(t->loop, &t->sweep);
	prb_loop_timer_cancel(t->loop, &t->shutdown_cut);
	free(t);
}

/* Send what the engine has queued. \return false when the socket failed. */
static bool tcp_conn_flush(struct tcp_conn *tc)
{
	struct iovec iov[TCP_IOV_MAX];

	for (;;) {
		int n = prb_conn_tx_iov(tc->conn, iov, TCP_IOV_MAX);
		ssize_t w;

		if (n == 0)
			return true;
		/* One small response (the common case): send() skips writev's iovec import. */
		if (n == 1)
			w = send(tc->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
		else
			w = writev(tc->fd, iov, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			if (errno == EINTR)
				continue;
			prb_dbg("send to %s: %s", tc->peer, strerror(errno));
			return false;
		}
		prb_conn_tx_commit(tc->conn, (size_t)w, prb_loop_now_ms());
	}
}

/* Receive into the engine. \return false when the connection is gone. */
static bool tcp_conn_read(struct tcp_conn *tc)
{
	for (int i = 0; i < TCP_READ_BUDGET; i++) {
		void *buf;
		size_t space = prb_conn_rx_space(tc->conn, &buf);
		ssize_t r;

		if (space == 0)
			return true;
		r = recv(tc->fd, buf, space, 0);
		if (r > 0) {
			prb_conn_rx_commit(tc->conn, (size_t)r, prb_loop_now_ms());
			/* Send responses early: READ data leaves before later requests run. */
			if (prb_conn_tx_pending(tc->conn) && !tcp_conn_flush(tc))
				return false;
			/* A short read at a PDU boundary drained the socket; inside a big
			 * payload more is likely there already: read on (within the budget). */
			if ((size_t)r < space && !prb_conn_rx_mid_pdu(tc->conn))
				return true;
			continue;
		}
		if (r == 0) {
			prb_conn_rx_eof(tc->conn);
			return true;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return true;
		if (errno == EINTR)
			continue;
		prb_dbg("receive from %s: %s", tc->peer, strerror(errno));
		return false;
	}
	return true;
}

/* After any activity: flush, close when done, else watch what the engine needs. */
static void tcp_conn_service(struct tcp_conn *tc)
{
	uint32_t events = 0;

	if (!tcp_conn_flush(tc) || prb_conn_done(tc->conn)) {
		tcp_conn_close(tc);
		return;
	}
	if (tc->awaiting_hello && prb_conn_hello_done(tc->conn))
		tcp_hello_list_remove(tc);
	if (prb_conn_rx_wanted(tc->conn))
		events |= EPOLLIN;
	if (prb_conn_tx_pending(tc->conn))
		events |= EPOLLOUT;
	if (prb_loop_mod_fd(tc->tcp->loop, &tc->lfd, events) < 0)
		tcp_conn_close(tc);
}

static void tcp_conn_event(void *arg, uint32_t events)
{
	struct tcp_conn *tc = arg;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (!tcp_conn_read(tc)) {
			tcp_conn_close(tc);
			return;
		}
	}
	tcp_conn_service(tc);
}

static void tcp_sweep(void *arg)
{
	struct prb_tcp *t = arg;
	uint64_t now = prb_loop_now_ms();
	struct tcp_conn *tc = t->conns;

	while (tc) {
		struct tcp_conn *next = tc->next;

		prb_conn_tick(tc->conn, now);
		tcp_conn_service(tc);
		tc = next;
	}
	prb_loop_timer_arm(t->loop, &t->sweep, t->sweep_ms, tcp_sweep, t);
}

static void tcp_format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
	/* Numeric only: an IPv6 address with a scope name, and a port. */
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1], serv[8];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, outlen, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(out, outlen, "[%s]:%s", host, serv);
	else
		snprintf(out, outlen, "%s:%s", host, serv);
}

static void tcp_set_socket_options(const struct prb_tcp *t, int fd)
{
	int one = 1;
	int size = t->cfg.socket_buffer;
	int lowat = TCP_NOTSENT_LOWAT_BYTES;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	if (size > 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
}

static void tcp_accept_resume(void *arg)
{
	struct prb_tcp *t = arg;

	for (unsigned i = 0; i < t->nlisteners; i++)
		prb_loop_mod_fd(t->loop, &t->listeners[i].lfd, EPOLLIN);
}

/* Out of descriptors: stop accepting for a moment instead of spinning. */
static void tcp_accept_pause(struct prb_tcp *t)
{
	for (unsigned i = 0; i < t->nlisteners; i++)
		prb_loop_mod_fd(t->loop, &t->listeners[i].lfd, 0);
	prb_loop_timer_arm(t->loop, &t->accept_pause, TCP_ACCEPT_PAUSE_MS, tcp_accept_resume, t);
}

/* Close a connection without HELLO to make room for a new one: TERM TIMEOUT, then close
 * (its TERM is the first byte the brick sends on it: the socket takes it at once). */
static void tcp_conn_evict(struct tcp_conn *tc)
{
	prb_warn("connection from %s closed before its HELLO to make room: %u connections open",
		 tc->peer, tc->tcp->nconns);
	prb_conn_evict(tc->conn);
	tcp_conn_flush(tc);
	tcp_conn_close(tc);
}

static void tcp_accept_one(struct prb_tcp *t, int fd, const struct sockaddr_storage *ss,
			   socklen_t sslen)
{
	struct tcp_conn *tc = calloc(1, sizeof(*tc));
	int err;

	if (!tc)
		goto err_close_fd;
	tc->tcp = t;
	tc->fd = fd;
	tcp_format_addr((const struct sockaddr *)ss, sslen, tc->peer, sizeof(tc->peer));
	/* At the limit the connection that has waited longest for its HELLO makes room
	 * (PRB-KA-5: never one that has completed its HELLO). */
	if (t->nconns >= t->cfg.max_connections && t->hello_oldest)
		tcp_conn_evict(t->hello_oldest);
	/* Past the limit a few more get an ENOMEM answer to their HELLO; beyond, a close. */
	if (t->nconns >= t->cfg.max_connections + TCP_REFUSE_SLACK) {
		prb_warn("connection from %s dropped: %u connections open", tc->peer, t->nconns);
		goto err_free_conn;
	}
	tcp_set_socket_options(t, fd);
	err = prb_conn_new(t->brick, &t->cfg.limits, prb_loop_now_ms(), &tc->conn);
	if (err < 0)
		goto err_free_conn;
	if (t->nconns >= t->cfg.max_connections) {
		prb_warn("connection from %s refused: %u connections open", tc->peer, t->nconns);
		prb_conn_refuse(tc->conn);
	}
	err = prb_loop_add_fd(t->loop, &tc->lfd, fd, EPOLLIN, tcp_conn_event, tc);
	if (err < 0)
		goto err_delete_conn;
	tc->next = t->conns;
	if (t->conns)
		t->conns->prev = tc;
	t->conns = tc;
	t->nconns++;
	tcp_hello_list_append(tc);
	prb_info("connection from %s", tc->peer);
	return;

err_delete_conn:
	prb_conn_delete(tc->conn);
err_free_conn:
	free(tc);
err_close_fd:
	close(fd);
}

static void tcp_listener_event(void *arg, uint32_t events)
{
	struct tcp_listener *l = arg;
	struct prb_tcp *t = l->tcp;

	(void)events;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sslen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				prb_warn("accept: %s: pausing", strerror(errno));
				tcp_accept_pause(t);
			}
			return;
		}
		tcp_accept_one(t, fd, &ss, sslen);
	}
}

/* Bind and listen on one resolved address; append its URL. */
static int tcp_listen_addr(struct prb_tcp *t, const struct addrinfo *ai, char *urls, size_t len)
{
	struct tcp_listener *l = &t->listeners[t->nlisteners];
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char addr[TCP_ADDR_MAX];
	int one = 1;
	int fd, err;

	if (t->nlisteners == TCP_MAX_LISTENERS)
		return -ENOSPC;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] must not take the IPv4 port too: 0.0.0.0 may be bound beside it. */
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		err = -errno;
		goto err_close_fd;
	}
	l->tcp = t;
	l->fd = fd;
	err = prb_loop_add_fd(t->loop, &l->lfd, fd, EPOLLIN, tcp_listener_event, l);
	if (err < 0)
		goto err_close_fd;
	t->nlisteners++;
	tcp_format_addr((const struct sockaddr *)&ss, sslen, addr, sizeof(addr));
	if (strlen(urls) + strlen(addr) + 8 < len)
		snprintf(urls + strlen(urls), len - strlen(urls), "tcp://%s\n", addr);
	prb_info("listening on tcp://%s", addr);
	return 0;

err_close_fd:
	close(fd);
	return err;
}

int prb_tcp_listen(struct prb_tcp *t, const char *host, uint16_t port, char *urls, size_t len)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	char serv[8];
	int bound = 0, err = 0, rc;

	snprintf(serv, sizeof(serv), "%u", (unsigned)port);
	rc = getaddrinfo(host[0] ? host : NULL, serv, &hints, &res);
	if (rc != 0) {
		prb_err("listen %s: %s", host, gai_strerror(rc));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		rc = tcp_listen_addr(t, ai, urls, len);
		if (rc < 0) {
			err = rc;
			prb_err("listen on %s port %u: %s", host, port, strerror(-rc));
		} else {
			bound++;
		}
	}
	freeaddrinfo(res);
	return bound ? bound : (err ? err : -EADDRNOTAVAIL);
}

/* The shutdown grace runs out: the TERM goes right after the PDU each connection is sending. */
static void tcp_shutdown_cut(void *arg)
{
	struct prb_tcp *t = arg;
	struct tcp_conn *tc = t->conns;

	while (tc) {
		struct tcp_conn *next = tc->next;

		prb_conn_shutdown_cut(tc->conn);
		tcp_conn_service(tc);
		tc = next;
	}
}

void prb_tcp_shutdown(struct prb_tcp *t, uint32_t cut_ms, void (*drained)(void *arg), void *arg)
{
	struct tcp_conn *tc = t->conns;

	t->shutting_down = true;
	t->drained = drained;
	t->drained_arg = arg;
	tcp_close_listeners(t);
	prb_loop_timer_arm(t->loop, &t->shutdown_cut, cut_ms, tcp_shutdown_cut, t);
	while (tc) {
		struct tcp_conn *next = tc->next;

		prb_conn_shutdown(tc->conn);
		tcp_conn_service(tc);
		tc = next;
	}
	if (!t->conns && t->drained) {
		t->drained = NULL;
		drained(arg);
	}
}
