/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP binding: connect, HELLO, then PDUs both ways on one non-blocking
 * socket. Sending gathers queued requests into one sendmsg, WRITE payloads
 * straight from the caller's buffer. Receiving reads into a staging buffer,
 * except a READ answer's payload, which lands in the caller's buffer: what of
 * it is already staged is copied, the rest is received in place.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "spin.h"

/* Staging buffer: holds any answer but a READ payload (LIST is the largest). */
#define PRB_TCP_RBUF (128u * 1024u)
#define PRB_TCP_IOV  64
/* Most bytes a non-READ answer may have: LIST with both digests. */
#define PRB_TCP_MAX_STAGED                                                                         \
	(PRB_LIST_RSP_SIZE + PRB_HDGST_SIZE + PRB_MAX_LIST_EXTENTS * 16u + PRB_DDGST_SIZE)

/*
 * Answers to large READs usually follow one another: after one, the staging
 * recv asks for a few KiB only, so that the next payload is received in place
 * rather than staged and copied.
 */
#define PRB_TCP_LARGE_READ (64u * 1024u)
#define PRB_TCP_SMALL_RECV 4096u

/* Adaptive busy polling: non-blocking receives between two clock readings. */
#define PRB_TCP_SPIN_CLOCK 4u

/* Largest fixed part of an answer with its header digest (INFO is the largest). */
#define PRB_TCP_MAX_FIXED 128u

_Static_assert(PRB_INFO_RSP_SIZE + PRB_HDGST_SIZE <= PRB_TCP_MAX_FIXED, "INFO answer fits");
_Static_assert(PRB_READ_RSP_SIZE + PRB_HDGST_SIZE <= PRB_REQ_PDU_MAX, "READ answer header fits");
_Static_assert(PRB_TCP_MAX_STAGED <= PRB_TCP_RBUF, "staging buffer holds a full LIST answer");

enum prb_tcp_rx {
	PRB_TCP_RX_PDU,	    /* parsing PDUs from the staging buffer */
	PRB_TCP_RX_DIRECT,  /* receiving a READ payload into the caller's buffer */
	PRB_TCP_RX_TRAILER, /* expecting the data digest of that READ */
};

struct prb_tcp {
	int fd;
	bool hdgst, ddgst;
	unsigned io_timeout_ms;
	uint64_t last_rx_ms; /* answer timer: when bytes last arrived (updated lazily) */
	bool rx_seen;	     /* bytes arrived since last_rx_ms was last set */
	bool rx_small;	     /* after a large READ: stage little, so payloads go direct */
	struct prb_spin spin; /* the adaptive poll window (spin.h) */
	uint64_t rx_count;    /* receives that returned bytes */

	struct prb_request *sq_head, *sq_tail; /* started, not fully written */

	uint8_t *rbuf;
	size_t rstart, rend;
	enum prb_tcp_rx rx_state;
	struct prb_request *rx_req;
	uint32_t rx_done;
	uint8_t rx_fixed[PRB_REQ_PDU_MAX]; /* the READ answer's fixed part, for proto.c */
	uint32_t rx_fixed_len;
};

static struct prb_tcp *prb_tcp_of(const struct prb_session *s)
{
	return s->transport_ctx;
}

/* Wait for events on fd until deadline_ms (monotonic); -ETIMEDOUT when it passes. */
static int prb_tcp_wait(int fd, short events, uint64_t deadline_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;

	for (;;) {
		uint64_t now = prb_now_ms();

		if (now >= deadline_ms)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)(deadline_ms - now));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* Non-blocking connect to one address, finished within the deadline. */
static int prb_tcp_dial_one(const struct addrinfo *ai, uint64_t deadline_ms)
{
	int fd, err = 0;
	socklen_t len = sizeof(err);
	int rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto err_close;
		}
		rc = prb_tcp_wait(fd, POLLOUT, deadline_ms);
		if (rc < 0)
			goto err_close;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			rc = err ? -err : -errno;
			goto err_close;
		}
	}
	return fd;

err_close:
	close(fd);
	return rc;
}

/* Resolve host and port and connect to the first address that answers. */
static int prb_tcp_dial(const struct prb_url *url, uint64_t deadline_ms)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *list, *ai;
	char port[8];
	int fd = -ECONNREFUSED, rc, one = 1;

	snprintf(port, sizeof(port), "%u", (unsigned)url->port);
	rc = getaddrinfo(url->host, port, &hints, &list);
	if (rc != 0)
		return rc == EAI_NONAME ? -ENXIO : -EHOSTUNREACH;
	for (ai = list; ai; ai = ai->ai_next) {
		fd = prb_tcp_dial_one(ai, deadline_ms);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(list);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Write all of buf before the deadline (handshake only). */
static int prb_tcp_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ms)
{
	const uint8_t *p = buf;
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		rc = prb_tcp_wait(fd, POLLOUT, deadline_ms);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Read exactly len bytes before the deadline (handshake only). */
static int prb_tcp_recv_all(int fd, void *buf, size_t len, uint64_t deadline_ms)
{
	uint8_t *p = buf;
	ssize_t n;
	int rc;

	while (len > 0) {
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		rc = prb_tcp_wait(fd, POLLIN, deadline_ms);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Check the brick's HELLO answer against what was asked and record the parameters. */
static int prb_tcp_accept_hello(struct prb_session *s, const struct prb_hello_rsp *m)
{
	uint32_t overhead = PRB_WRITE_REQ_SIZE + PRB_HDGST_SIZE + PRB_DDGST_SIZE;
	int rc = prb_proto_hello_accept(s, m, 0);

	if (rc < 0)
		return rc;
	s->params.max_data = m->max_data;
	s->max_write = m->max_pdu - overhead < m->max_data ? m->max_pdu - overhead : m->max_data;
	return 0;
}

/* The HELLO exchange (never with digests): PROTOCOL.md's handshake. */
static int prb_tcp_hello(struct prb_session *s, int fd, uint64_t deadline_ms)
{
	struct prb_hello_req req = {.min_version = 1,
				    .max_version = PRB_VERSION,
				    .queue_depth = (uint16_t)s->opts.queue_depth,
				    .features = s->opts.features,
				    .max_pdu = PRB_RX_MAX_PDU};
	uint8_t buf[256];
	struct prb_hdr h;
	union prb_msg m;
	enum prb_msg_id id;
	int rc;

	memcpy(req.host_id, s->opts.host_id, sizeof(req.host_id));
	rc = prb_hello_req_encode(&req, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	rc = prb_tcp_send_all(fd, buf, (size_t)rc, deadline_ms);
	if (rc < 0)
		return rc;
	rc = prb_tcp_recv_all(fd, buf, PRB_HDR_SIZE, deadline_ms);
	if (rc < 0)
		return rc;
	/* PRB-HELLO-24: checks 1 to 5 as a brick would, with our max_pdu as the limit. */
	if (prb_proto_hdr_decode(buf, PRB_HDR_SIZE, &h) < 0)
		return prb_proto_fault_decode(s, -EPROTO, buf, PRB_HDR_SIZE);
	if (h.plen > sizeof(buf))
		return prb_proto_fault(s, -EPROTO, PRB_TERM_PDU_TOO_LARGE, PRB_HDR_PLEN_OFFSET,
				       h.tag);
	rc = prb_tcp_recv_all(fd, buf + PRB_HDR_SIZE, h.plen - PRB_HDR_SIZE, deadline_ms);
	if (rc < 0)
		return rc;
	if (h.flags) /* PRB-DGST-3: no digests before the exchange is over */
		return prb_proto_fault(s, -EPROTO, PRB_TERM_HEADER_DIGEST, PRB_HDR_FLAGS_OFFSET,
				       h.tag);
	if (h.opcode == PRB_OP_TERM) {
		if (prb_proto_msg_decode(buf, h.plen, &m, &id) < 0)
			return -EPROTO; /* a TERM is never answered, not even a broken one */
		s->term_reason = m.term.reason;
		return m.term.reason == PRB_TERM_NO_VERSION ? -ENOTSUP : -EPROTO;
	}
	if (h.opcode != (PRB_OP_HELLO | PRB_OPCODE_RESPONSE))
		return prb_proto_fault(s, -EPROTO, PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET, h.tag);
	if (h.tag != req.hdr.tag)
		return prb_proto_fault(s, -EPROTO, PRB_TERM_SEQUENCE, PRB_HDR_TAG_OFFSET, h.tag);
	if (prb_proto_msg_decode(buf, h.plen, &m, &id) < 0)
		return prb_proto_fault_decode(s, -EPROTO, buf, h.plen);
	if (m.hdr.status != PRB_ST_OK)
		return prb_status_to_errno(m.hdr.status);
	return prb_tcp_accept_hello(s, &m.hello_rsp);
}

/*
 * After the handshake the socket blocks, so that a wait with nothing to send is
 * one recv rather than poll + recv; the answer timeout bounds it (SO_RCVTIMEO).
 * Every other call passes MSG_DONTWAIT.
 */
static int prb_tcp_blocking(int fd, unsigned io_timeout_ms)
{
	struct timeval tv = {.tv_sec = (time_t)(io_timeout_ms / 1000u),
			     .tv_usec = (suseconds_t)(io_timeout_ms % 1000u) * 1000};
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/*
 * Send the TERM owed to the brick, if any, before closing \p fd (PRB-PDU-16): best
 * effort, never blocking; not when a request is partly written (the TERM would land
 * inside it, and the brick would read it as that request's bytes).
 */
static void prb_tcp_send_term(struct prb_session *s, int fd, bool hdgst,
			      const struct prb_request *partial)
{
	uint8_t buf[PRB_TERM_SIZE + PRB_HDGST_SIZE];
	int n;

	if (!s->term_owed.set || (partial && partial->sent > 0))
		return;
	n = prb_proto_term_encode(s, hdgst ? PRB_HDR_HDGST : 0, buf, sizeof(buf));
	if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return; /* the brick is gone or not reading: it will see the close */
}

static int prb_tcp_open(struct prb_session *s, const struct prb_url *url)
{
	uint64_t deadline = prb_now_ms() + s->opts.connect_timeout_ms;
	struct prb_tcp *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rbuf = malloc(PRB_TCP_RBUF);
	if (!c->rbuf) {
		rc = -ENOMEM;
		goto err_free_ctx;
	}
	c->fd = prb_tcp_dial(url, deadline);
	if (c->fd < 0) {
		rc = c->fd;
		goto err_free_rbuf;
	}
	s->term_reason = 0;
	s->term_owed.set = false;
	rc = prb_tcp_hello(s, c->fd, deadline);
	if (rc < 0) {
		prb_tcp_send_term(s, c->fd, false, NULL);
		goto err_close;
	}
	rc = prb_tcp_blocking(c->fd, s->opts.io_timeout_ms);
	if (rc < 0)
		goto err_close;
	c->hdgst = (s->params.features & PRB_FEATURE_HEADER_DIGEST) != 0;
	c->ddgst = (s->params.features & PRB_FEATURE_DATA_DIGEST) != 0;
	c->io_timeout_ms = s->opts.io_timeout_ms;
	c->last_rx_ms = prb_now_ms();
	prb_spin_init(&c->spin);
	s->transport_ctx = c;
	return 0;

err_close:
	close(c->fd);
err_free_rbuf:
	free(c->rbuf);
err_free_ctx:
	free(c);
	return rc;
}

static void prb_tcp_close(struct prb_session *s)
{
	struct prb_tcp *c = prb_tcp_of(s);

	if (!c)
		return;
	prb_tcp_send_term(s, c->fd, c->hdgst, c->sq_head);
	close(c->fd);
	free(c->rbuf);
	free(c);
	s->transport_ctx = NULL;
}

static int prb_tcp_fd(const struct prb_session *s)
{
	return prb_tcp_of(s)->fd;
}

/* Encode the request, add its digests, and put it at the end of the send queue. */
static int prb_tcp_start(struct prb_session *s, struct prb_request *r)
{
	struct prb_tcp *c = prb_tcp_of(s);
	uint32_t payload = prb_request_payload(r);
	uint8_t flags = 0;
	int n;

	if (c->hdgst)
		flags |= PRB_HDR_HDGST;
	if (c->ddgst && payload > 0)
		flags |= PRB_HDR_DDGST;
	n = prb_proto_encode(s, r, flags, r->pdu, sizeof(r->pdu) - PRB_HDGST_SIZE);
	if (n < 0)
		return n;
	r->pdu_len = (uint32_t)n;
	if (c->hdgst) {
		prb_put_le32(r->pdu + n, prb_crc32c(r->pdu, (size_t)n));
		memset(r->pdu + n + 4, 0, 4);
		r->pdu_len += PRB_HDGST_SIZE;
	}
	r->wire_len = r->pdu_len + payload;
	if (flags & PRB_HDR_DDGST) {
		prb_put_le32(r->ddgst, prb_crc32c(r->write_buf, payload));
		r->wire_len += PRB_DDGST_SIZE;
	}
	r->sent = 0;
	r->next = NULL;
	if (c->sq_tail)
		c->sq_tail->next = r;
	else
		c->sq_head = r;
	c->sq_tail = r;
	if (s->inflight == 1)
		c->last_rx_ms = prb_now_ms(); /* the answer timer starts with the first request */
	return 0;
}

/* Add the unsent part of [base, base + len) (at position pos of the PDU) to the iovec. */
static int prb_tcp_iov_add(struct iovec *iov, int n, const void *base, uint32_t len, uint32_t pos,
			   uint32_t sent)
{
	if (len == 0 || pos + len <= sent || n >= PRB_TCP_IOV)
		return n;
	if (sent > pos) {
		base = (const uint8_t *)base + (sent - pos);
		len -= sent - pos;
	}
	iov[n].iov_base = (void *)(uintptr_t)base;
	iov[n].iov_len = len;
	return n + 1;
}

/* Write as much of the send queue as the socket takes; 0, or -errno when it failed. */
static int prb_tcp_send(struct prb_session *s)
{
	struct prb_tcp *c = prb_tcp_of(s);
	struct iovec iov[PRB_TCP_IOV];
	struct msghdr msg = {.msg_iov = iov};
	struct prb_request *r;
	ssize_t n;
	int count;

	while (c->sq_head) {
		count = 0;
		for (r = c->sq_head; r && count < PRB_TCP_IOV - 2; r = r->next) {
			uint32_t payload = prb_request_payload(r);
			uint32_t ddgst = r->wire_len - r->pdu_len - payload;

			count = prb_tcp_iov_add(iov, count, r->pdu, r->pdu_len, 0, r->sent);
			count = prb_tcp_iov_add(iov, count, r->write_buf, payload, r->pdu_len,
						r->sent);
			count = prb_tcp_iov_add(iov, count, r->ddgst, ddgst, r->pdu_len + payload,
						r->sent);
		}
		msg.msg_iovlen = (size_t)count;
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		while (n > 0 && (r = c->sq_head) != NULL) {
			uint32_t left = r->wire_len - r->sent;
			uint32_t take = (size_t)n < left ? (uint32_t)n : left;

			r->sent += take;
			n -= take;
			if (r->sent == r->wire_len) {
				c->sq_head = r->next;
				if (!c->sq_head)
					c->sq_tail = NULL;
			}
		}
	}
	return 0;
}

/* A TERM from the brick: note the reason; the connection is over. */
static int prb_tcp_term(struct prb_session *s, const uint8_t *p, size_t avail)
{
	struct prb_term m;

	if (prb_term_decode(p, avail, &m, NULL) == 0)
		s->term_reason = m.reason;
	return -EPROTO;
}

/* The READ's payload is complete (and its digest checked): finish it. */
static int prb_tcp_read_done(struct prb_session *s, struct prb_tcp *c)
{
	struct prb_request *r = c->rx_req;

	c->rx_state = PRB_TCP_RX_PDU;
	c->rx_req = NULL;
	c->rx_small = r->length >= PRB_TCP_LARGE_READ;
	return prb_proto_complete(s, r, c->rx_fixed, c->rx_fixed_len);
}

/* A READ answer's header is staged: copy what payload is staged, receive the rest in place. */
static int prb_tcp_read_begin(struct prb_session *s, struct prb_tcp *c, struct prb_request *r,
			      const struct prb_hdr *h, uint32_t fixed)
{
	size_t avail = c->rend - c->rstart;
	uint32_t payload = prb_payload_len(h);
	size_t copy;

	if (payload != r->length || fixed > sizeof(c->rx_fixed)) /* PRB-PDU-3 */
		return prb_proto_fault(s, -EPROTO, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET,
				       h->tag);
	memcpy(c->rx_fixed, c->rbuf + c->rstart, fixed);
	c->rx_fixed_len = fixed;
	copy = avail - fixed < payload ? avail - fixed : payload;
	memcpy(r->read_buf, c->rbuf + c->rstart + fixed, copy);
	c->rstart += fixed + copy;
	c->rx_req = r;
	c->rx_done = (uint32_t)copy;
	if (copy < payload) {
		c->rx_state = PRB_TCP_RX_DIRECT;
		return 0;
	}
	if (c->ddgst) {
		c->rx_state = PRB_TCP_RX_TRAILER;
		return 0;
	}
	return prb_tcp_read_done(s, c);
}

/* The data digest of the READ whose payload just arrived. */
static int prb_tcp_read_trailer(struct prb_session *s, struct prb_tcp *c)
{
	struct prb_request *r = c->rx_req;

	if (prb_get_le32(c->rbuf + c->rstart) != prb_crc32c(r->read_buf, r->length))
		return -EBADMSG;
	c->rstart += PRB_DDGST_SIZE;
	return prb_tcp_read_done(s, c);
}

/*
 * Check a staged header: magic and opcode (decoder), a response or TERM, digest
 * flags as negotiated, sane lengths. Returns the fixed length with header
 * digest, 0 when more bytes are needed, or a negative errno (fatal).
 */
static int prb_tcp_check_header(struct prb_session *s, struct prb_tcp *c, struct prb_hdr *h)
{
	const uint8_t *p = c->rbuf + c->rstart;
	size_t avail = c->rend - c->rstart;
	uint32_t fixed;

	/* PRB-PDU-16: checks 1 to 5 and 9 of section 5.6 as a brick would, and digests. */
	if (prb_proto_hdr_decode(p, avail, h) < 0) /* an unknown status reads as EIO */
		return prb_proto_fault_decode(s, -EPROTO, p, PRB_HDR_SIZE);
	if (h->opcode == PRB_OP_TERM)
		return avail >= PRB_TERM_SIZE ? prb_tcp_term(s, p, avail) : 0;
	if (!(h->opcode & PRB_OPCODE_RESPONSE))
		return prb_proto_fault(s, -EPROTO, PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET,
				       h->tag);
	fixed = h->hlen + (c->hdgst ? PRB_HDGST_SIZE : 0u);
	if (h->plen < fixed)
		return prb_proto_fault(s, -EPROTO, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET,
				       h->tag);
	if (h->plen > PRB_RX_MAX_PDU)
		return prb_proto_fault(s, -EPROTO, PRB_TERM_PDU_TOO_LARGE, PRB_HDR_PLEN_OFFSET,
				       h->tag);
	if (((h->flags & PRB_HDR_HDGST) != 0) != c->hdgst ||
	    ((h->flags & PRB_HDR_DDGST) && !c->ddgst))
		return prb_proto_fault(s, -EBADMSG, PRB_TERM_HEADER_DIGEST, PRB_HDR_FLAGS_OFFSET,
				       h->tag);
	if (fixed > PRB_TCP_MAX_FIXED) /* no answer has so large a fixed part */
		return prb_proto_fault(s, -EPROTO, PRB_TERM_BAD_HEADER, PRB_HDR_HLEN_OFFSET,
				       h->tag);
	if (avail < fixed)
		return 0;
	if (c->hdgst && (prb_get_le32(p + h->hlen) != prb_crc32c(p, h->hlen) ||
			 prb_get_le32(p + h->hlen + 4) != 0))
		return prb_proto_fault(s, -EBADMSG, PRB_TERM_HEADER_DIGEST, h->hlen, h->tag);
	return (int)fixed;
}

/* Handle every complete PDU staged; stops at a partial one or a READ payload. */
static int prb_tcp_parse(struct prb_session *s, struct prb_tcp *c)
{
	struct prb_request *r;
	struct prb_hdr h;
	int fixed, rc;

	while (c->rx_state != PRB_TCP_RX_DIRECT) {
		size_t avail = c->rend - c->rstart;
		const uint8_t *p = c->rbuf + c->rstart;

		if (c->rx_state == PRB_TCP_RX_TRAILER) {
			if (avail < PRB_DDGST_SIZE)
				return 0;
			rc = prb_tcp_read_trailer(s, c);
			if (rc < 0)
				return rc;
			continue;
		}
		if (avail < PRB_HDR_SIZE)
			return 0;
		fixed = prb_tcp_check_header(s, c, &h);
		if (fixed <= 0)
			return fixed;
		r = prb_queue_lookup(s, h.tag);
		if (!r || r->sent < r->wire_len) /* PRB-PDU-16: no such request outstanding */
			return prb_proto_fault(s, -EPROTO, PRB_TERM_SEQUENCE, PRB_HDR_TAG_OFFSET,
					       h.tag);
		if ((h.opcode & ~PRB_OPCODE_RESPONSE) != r->opcode) /* PRB-PDU-17 */
			return prb_proto_fault(s, -EPROTO, PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET,
					       h.tag);
		if (c->ddgst && !(h.flags & PRB_HDR_DDGST) && prb_payload_len(&h) > 0)
			return prb_proto_fault(s, -EBADMSG, PRB_TERM_HEADER_DIGEST,
					       PRB_HDR_FLAGS_OFFSET, h.tag);
		if (r->opcode == PRB_OP_READ && h.status == PRB_ST_OK) {
			rc = prb_tcp_read_begin(s, c, r, &h, (uint32_t)fixed);
			if (rc < 0)
				return rc;
			continue;
		}
		if (h.plen > PRB_TCP_MAX_STAGED) /* more extents than any LIST may carry */
			return prb_proto_fault(s, -EPROTO, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET,
					       h.tag);
		if (avail < h.plen)
			return 0;
		if ((h.flags & PRB_HDR_DDGST) &&
		    prb_get_le32(p + h.plen - PRB_DDGST_SIZE) !=
			    prb_crc32c(p + prb_payload_offset(&h), prb_payload_len(&h)))
			return -EBADMSG;
		rc = prb_proto_complete(s, r, p, h.plen);
		if (rc < 0)
			return rc;
		c->rstart += h.plen;
		c->rx_small = false;
	}
	return 0;
}

/* One recv into the caller's buffer for the READ in progress. */
static ssize_t prb_tcp_recv_direct(struct prb_session *s, struct prb_tcp *c, int flags)
{
	struct prb_request *r = c->rx_req;
	ssize_t n = recv(c->fd, (uint8_t *)r->read_buf + c->rx_done, r->length - c->rx_done, flags);
	int rc;

	if (n <= 0)
		return n;
	c->rx_done += (uint32_t)n;
	if (c->rx_done == r->length) {
		if (c->ddgst) {
			c->rx_state = PRB_TCP_RX_TRAILER;
		} else {
			rc = prb_tcp_read_done(s, c);
			if (rc < 0)
				return rc;
		}
	}
	return n;
}

/* One recv into the staging buffer, then parse. */
static ssize_t prb_tcp_recv_staged(struct prb_session *s, struct prb_tcp *c, int flags,
				   bool *drained)
{
	size_t room;
	ssize_t n;
	int rc;

	if (c->rstart == c->rend) {
		c->rstart = c->rend = 0;
	} else if (PRB_TCP_RBUF - c->rend < PRB_TCP_MAX_STAGED) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	room = PRB_TCP_RBUF - c->rend;
	if (c->rx_small && room > PRB_TCP_SMALL_RECV)
		room = PRB_TCP_SMALL_RECV;
	n = recv(c->fd, c->rbuf + c->rend, room, flags);
	if (n <= 0)
		return n;
	*drained = (size_t)n < room;
	c->rend += (size_t)n;
	rc = prb_tcp_parse(s, c);
	return rc < 0 ? rc : n;
}

/*
 * Receive what the socket holds and complete the answers in it; with block,
 * the first recv waits (at most the answer timeout, SO_RCVTIMEO). Returns 0 or
 * -errno (fatal); -ECONNRESET when the brick closed the connection.
 */
static int prb_tcp_receive(struct prb_session *s, bool block)
{
	struct prb_tcp *c = prb_tcp_of(s);
	int flags = block ? 0 : MSG_DONTWAIT;
	bool drained = false;
	ssize_t n;

	for (;;) {
		if (c->rx_state == PRB_TCP_RX_DIRECT)
			n = prb_tcp_recv_direct(s, c, flags);
		else
			n = prb_tcp_recv_staged(s, c, flags, &drained);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && n != -1)
			return (int)n; /* a fatal parse error */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->rx_seen = true; /* the clock is read only when about to sleep */
		c->rx_count++;
		flags = MSG_DONTWAIT;
		if (drained && c->rx_state != PRB_TCP_RX_DIRECT)
			return 0;
	}
}

/* Milliseconds poll may sleep: the caller's limit and the answer timeout. */
static int prb_tcp_sleep_ms(struct prb_session *s, struct prb_tcp *c, uint64_t deadline_ms,
			    bool forever)
{
	uint64_t now = prb_now_ms();
	int64_t wait = forever ? -1 : (int64_t)(deadline_ms > now ? deadline_ms - now : 0);

	if (c->rx_seen) {
		c->last_rx_ms = now;
		c->rx_seen = false;
	}

	if (s->inflight > 0 && c->io_timeout_ms > 0) {
		int64_t stall = (int64_t)(c->last_rx_ms + c->io_timeout_ms) - (int64_t)now;

		if (stall <= 0)
			return -ETIMEDOUT;
		if (wait < 0 || stall < wait)
			wait = stall;
	}
	return wait > 1000000 ? 1000000 : (int)wait;
}

/* An answer completed a request since the wait began (or nothing is left in flight). */
static bool prb_tcp_answered(const struct prb_session *s, uint32_t before)
{
	return s->inflight < before || s->inflight == 0;
}

/* Fixed busy polling (prb_opts_set_busy_poll N): 1 once an answer completed a request,
 * 0 when none did within the N receives, or -errno. */
static int prb_tcp_spin_fixed(struct prb_session *s, uint32_t before)
{
	for (unsigned i = 0; i < s->opts.busy_poll; i++) {
		int rc = prb_tcp_receive(s, false);

		if (rc < 0)
			return rc;
		if (prb_tcp_answered(s, before))
			return 1;
	}
	return 0;
}

/*
 * Adaptive busy polling: non-blocking receives until an answer comes or the window
 * since start passes, the clock read every PRB_TCP_SPIN_CLOCK receives. Returns
 * PRB_SPIN_CAUGHT, PRB_SPIN_SLEPT (the window passed; the caller sleeps next),
 * PRB_SPIN_PREEMPTED (two readings PRB_SPIN_GAP_NS apart: the thread was
 * descheduled), or -errno.
 */
static int prb_tcp_spin_window(struct prb_session *s, uint32_t before, uint64_t start,
			       uint32_t window_ns)
{
	struct prb_tcp *c = prb_tcp_of(s);
	uint64_t last = start, now, count = c->rx_count;

	for (unsigned i = 1;; i++) {
		int rc = prb_tcp_receive(s, false);

		if (rc < 0)
			return rc;
		if (prb_tcp_answered(s, before))
			return PRB_SPIN_CAUGHT;
		if (i % PRB_TCP_SPIN_CLOCK != 0)
			continue;
		sched_yield(); /* a thread waiting for this CPU (the brick?) runs first */
		now = prb_now_ns();
		/* Only receives that found nothing: a gap is not the time spent on bytes. */
		if (now - last >= PRB_SPIN_GAP_NS && count == c->rx_count)
			return PRB_SPIN_PREEMPTED;
		if (now - start >= window_ns)
			return PRB_SPIN_SLEPT;
		last = now;
		count = c->rx_count;
	}
}

/*
 * Wait for an answer with nothing to send and no deadline of the caller's: poll as
 * prb_opts_set_busy_poll says, then sleep in recv (not poll: one system call). With
 * the adaptive default the wait's outcome and length adjust the window. Returns 0
 * or -errno; the caller checks whether a request completed.
 */
static int prb_tcp_await(struct prb_session *s, struct prb_tcp *c, uint32_t before)
{
	uint64_t start;
	uint32_t window;
	int rc, outcome = PRB_SPIN_SLEPT;

	if (s->opts.busy_poll != PRB_BUSY_POLL_ADAPTIVE) {
		rc = prb_tcp_spin_fixed(s, before);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		return prb_tcp_receive(s, true);
	}
	window = prb_spin_begin(&c->spin);
	start = prb_now_ns();
	if (window > 0) {
		outcome = prb_tcp_spin_window(s, before, start, window);
		if (outcome < 0)
			return outcome;
	}
	if (outcome != PRB_SPIN_CAUGHT) {
		rc = prb_tcp_receive(s, true);
		if (rc < 0)
			return rc;
	}
	prb_spin_update(&c->spin, (enum prb_spin_outcome)outcome, prb_now_ns() - start);
	return 0;
}

static int prb_tcp_progress(struct prb_session *s, int timeout_ms)
{
	struct prb_tcp *c = prb_tcp_of(s);
	uint32_t before = s->inflight;
	struct pollfd p = {.fd = c->fd};
	uint64_t deadline;
	int rc, wait;

	rc = prb_tcp_send(s);
	if (rc < 0)
		return rc;
	if (timeout_ms == 0 || s->inflight == 0)
		return prb_tcp_receive(s, false);
	deadline = timeout_ms > 0 ? prb_now_ms() + (uint64_t)timeout_ms : 0;
	for (;;) {
		wait = prb_tcp_sleep_ms(s, c, deadline, timeout_ms < 0);
		if (wait == -ETIMEDOUT)
			return -ETIMEDOUT;
		if (timeout_ms < 0 && !c->sq_head) {
			rc = prb_tcp_await(s, c, before);
			if (rc < 0)
				return rc;
			if (prb_tcp_answered(s, before))
				return 0;
			continue;
		}
		p.events = (short)(POLLIN | (c->sq_head ? POLLOUT : 0));
		rc = poll(&p, 1, wait);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0) {
			if (timeout_ms > 0 && prb_now_ms() >= deadline)
				return 0;
			continue;
		}
		if (p.revents & POLLOUT) {
			rc = prb_tcp_send(s);
			if (rc < 0)
				return rc;
		}
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			rc = prb_tcp_receive(s, false);
			if (rc < 0)
				return rc;
		}
		if (prb_tcp_answered(s, before))
			return 0;
	}
}

const struct prb_transport_ops prb_tcp_transport = {
	.name = "tcp",
	.open = prb_tcp_open,
	.close = prb_tcp_close,
	.start = prb_tcp_start,
	.progress = prb_tcp_progress,
	.fd = prb_tcp_fd,
};
