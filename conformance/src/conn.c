/* SPDX-License-Identifier: Apache-2.0 */
/* The raw connection: socket I/O, PDU framing, digests and response decoding. */
#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Milliseconds on a monotonic clock, for deadlines. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Store a little-endian 32-bit value. */
static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Load a little-endian 32-bit value. */
static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Connect one resolved address, waiting at most timeout_ms. */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		int err = -errno;
		close(fd);
		return err;
	}
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	int n = poll(&pfd, 1, timeout_ms);
	int soerr = 0;
	socklen_t slen = sizeof(soerr);
	if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0 || soerr != 0) {
		close(fd);
		return n == 0 ? -ETIMEDOUT : soerr ? -soerr : -errno;
	}
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int cf_conn_open(const char *url, int timeout_ms, struct cf_conn **out)
{
	struct prb_url u;
	int ret = prb_url_parse_connect(url, &u);
	if (ret < 0)
		return ret;
	if (u.transport != PRB_TRANSPORT_TCP)
		return -EPROTONOSUPPORT;
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)u.port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res;
	if (getaddrinfo(u.host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int fd = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai, timeout_ms);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fd;

	struct cf_conn *c = calloc(1, sizeof(*c));
	if (!c)
		goto err_close_fd;
	c->rx = malloc(CF_RX_MAX);
	if (!c->rx)
		goto err_free_conn;
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->next_tag = 1;
	*out = c;
	return 0;

err_free_conn:
	free(c);
err_close_fd:
	close(fd);
	return -ENOMEM;
}

void cf_conn_close(struct cf_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->rx);
	free(c);
}

int cf_send_raw(struct cf_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes before the deadline. */
static int read_full(struct cf_conn *c, uint8_t *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		ssize_t got = recv(c->fd, buf, len, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		if (got == 0)
			return -ECONNRESET;
		buf += got;
		len -= (size_t)got;
	}
	return 0;
}

/* Check the digests of the PDU in c->rx against the negotiation. */
static int check_digests(struct cf_conn *c)
{
	const struct prb_hdr *h = &c->rx_hdr;
	bool hello = (h->opcode & 0x7FU) == PRB_OP_HELLO;
	uint32_t payload_len = prb_payload_len(h);
	uint8_t want = 0;

	if (c->hello_done && !hello) {
		want = c->digest_flags & PRB_HDR_HDGST;
		if ((c->digest_flags & PRB_HDR_DDGST) && payload_len > 0)
			want |= PRB_HDR_DDGST;
	}
	if ((h->flags & (PRB_HDR_HDGST | PRB_HDR_DDGST)) != want) {
		snprintf(c->detail, sizeof(c->detail),
			 "brick sent %s with digest flags 0x%x, negotiation requires 0x%x",
			 prb_opcode_name(h->opcode & 0x7FU) ? prb_opcode_name(h->opcode & 0x7FU)
							    : "?",
			 h->flags, want);
		return -EBADMSG;
	}
	if (h->flags & PRB_HDR_HDGST) {
		if ((uint32_t)h->hlen + PRB_HDGST_SIZE > c->rx_len ||
		    get_le32(c->rx + h->hlen) != prb_crc32c(c->rx, h->hlen) ||
		    get_le32(c->rx + h->hlen + 4) != 0) {
			snprintf(c->detail, sizeof(c->detail), "brick sent a bad header digest");
			return -EBADMSG;
		}
	}
	if (h->flags & PRB_HDR_DDGST) {
		uint32_t off = prb_payload_offset(h);
		if ((uint64_t)off + payload_len + PRB_DDGST_SIZE > c->rx_len ||
		    get_le32(c->rx + off + payload_len) != prb_crc32c(c->rx + off, payload_len)) {
			snprintf(c->detail, sizeof(c->detail), "brick sent a bad data digest");
			return -EBADMSG;
		}
	}
	return 0;
}

int cf_recv_pdu(struct cf_conn *c, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms >= 0 ? timeout_ms : c->timeout_ms);
	struct prb_wire_error werr = {0};
	int ret;

	c->rx_len = 0;
	ret = read_full(c, c->rx, PRB_HDR_SIZE, deadline);
	if (ret < 0) {
		snprintf(c->detail, sizeof(c->detail), "receive: %s", strerror(-ret));
		return ret;
	}
	ret = prb_hdr_decode(c->rx, PRB_HDR_SIZE, &c->rx_hdr, &werr);
	/* An answer to an unknown opcode carries that opcode: cf_recv_rsp judges it. */
	if (ret == -EOPNOTSUPP && (c->rx_hdr.opcode & PRB_OPCODE_RESPONSE))
		ret = 0;
	if (ret < 0) {
		snprintf(c->detail, sizeof(c->detail), "brick sent a bad header: %s: %s",
			 werr.field ? werr.field : "?", werr.reason ? werr.reason : strerror(-ret));
		return -EBADMSG;
	}
	if (c->rx_hdr.plen < PRB_HDR_SIZE || c->rx_hdr.plen > CF_RX_MAX ||
	    (c->hello_done && c->rx_hdr.plen > c->max_pdu)) {
		snprintf(c->detail, sizeof(c->detail), "brick sent plen %u", c->rx_hdr.plen);
		return -EMSGSIZE;
	}
	ret = read_full(c, c->rx + PRB_HDR_SIZE, c->rx_hdr.plen - PRB_HDR_SIZE, deadline);
	if (ret < 0) {
		snprintf(c->detail, sizeof(c->detail), "receive after header: %s", strerror(-ret));
		return ret;
	}
	c->rx_len = c->rx_hdr.plen;
	ret = check_digests(c);
	if (ret < 0)
		return ret;
	if ((c->rx_hdr.opcode & 0x7FU) == PRB_OP_TERM) {
		ret = prb_term_decode(c->rx, c->rx_len, &c->term, &werr);
		if (ret < 0) {
			snprintf(c->detail, sizeof(c->detail),
				 "brick sent a malformed TERM: %s: %s",
				 werr.field ? werr.field : "?", werr.reason ? werr.reason : "?");
			return -EBADMSG;
		}
		c->got_term = true;
		snprintf(c->detail, sizeof(c->detail), "brick sent TERM %s (error_offset %u)",
			 prb_term_reason_name(c->term.reason) ? prb_term_reason_name(c->term.reason)
							      : "?",
			 c->term.error_offset);
		return -ECONNABORTED;
	}
	return 0;
}

int cf_build(const struct cf_conn *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
	     uint32_t payload_len, uint8_t *buf, size_t size)
{
	uint8_t flags = 0;

	if (id != PRB_MSG_HELLO_REQ && id != PRB_MSG_HELLO_RSP) {
		flags = c->digest_flags & PRB_HDR_HDGST;
		if (payload_len > 0)
			flags |= c->digest_flags & PRB_HDR_DDGST;
	}
	m->hdr.flags = flags;
	if (id == PRB_MSG_WRITE_REQ)
		m->write_req.payload_len = payload_len;
	int hlen = prb_msg_encode(id, m, buf, size);
	if (hlen < 0)
		return hlen;
	uint32_t plen = get_le32(buf + PRB_HDR_PLEN_OFFSET);
	if (plen > size)
		return -EMSGSIZE;
	size_t off = (size_t)hlen;
	if (flags & PRB_HDR_HDGST) {
		put_le32(buf + off, prb_crc32c(buf, off));
		put_le32(buf + off + PRB_CRC32C_SIZE, 0);
		off += PRB_HDGST_SIZE;
	}
	if (payload_len > 0) {
		memcpy(buf + off, payload, payload_len);
		off += payload_len;
		if (flags & PRB_HDR_DDGST) {
			put_le32(buf + off, prb_crc32c(payload, payload_len));
			off += PRB_DDGST_SIZE;
		}
	}
	return (int)off;
}

int cf_send_msg(struct cf_conn *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
		uint32_t payload_len, bool keep_tag)
{
	size_t size = 4096U + payload_len;
	uint8_t *buf = malloc(size);
	int ret;

	if (!buf)
		return -ENOMEM;
	if (!keep_tag)
		m->hdr.tag = c->next_tag++;
	ret = cf_build(c, id, m, payload, payload_len, buf, size);
	if (ret >= 0)
		ret = cf_send_raw(c, buf, (size_t)ret);
	if (ret < 0)
		snprintf(c->detail, sizeof(c->detail), "send: %s", strerror(-ret));
	free(buf);
	return ret < 0 ? ret : 0;
}

int cf_recv_rsp(struct cf_conn *c, uint32_t tag, union prb_msg *rsp)
{
	struct prb_wire_error werr = {0};
	enum prb_msg_id id;
	int ret = cf_recv_pdu(c, -1);

	if (ret < 0)
		return ret;
	if (c->rx_hdr.tag != tag) {
		snprintf(c->detail, sizeof(c->detail), "response tag %u, expected %u",
			 c->rx_hdr.tag, tag);
		return -EPROTO;
	}
	if (!(c->rx_hdr.opcode & PRB_OPCODE_RESPONSE)) {
		snprintf(c->detail, sizeof(c->detail), "brick sent a request (opcode 0x%02x)",
			 c->rx_hdr.opcode);
		return -EPROTO;
	}
	if (prb_msg_id_of(c->rx_hdr.opcode) < 0) {
		/* An ENOTSUP answer to an opcode the spec does not know: only the header. */
		if (c->rx_hdr.hlen != PRB_HDR_SIZE || c->rx_hdr.status == PRB_ST_OK) {
			snprintf(c->detail, sizeof(c->detail),
				 "answer to unknown opcode 0x%02x is not an error response",
				 c->rx_hdr.opcode);
			return -EPROTO;
		}
		rsp->hdr = c->rx_hdr;
		return c->rx_hdr.status;
	}
	ret = prb_msg_decode(c->rx, c->rx_len, rsp, &id, &werr);
	if (ret < 0) {
		snprintf(c->detail, sizeof(c->detail),
			 "brick's response does not decode (%s): %s at offset %u: %s",
			 strerror(-ret), werr.field ? werr.field : "?", werr.offset,
			 werr.reason ? werr.reason : "?");
		return -EPROTO;
	}
	return rsp->hdr.status;
}

int cf_call(struct cf_conn *c, enum prb_msg_id id, union prb_msg *req, const void *payload,
	    uint32_t payload_len, union prb_msg *rsp)
{
	int ret = cf_send_msg(c, id, req, payload, payload_len, false);
	if (ret < 0)
		return ret;
	ret = cf_recv_rsp(c, req->hdr.tag, rsp);
	if (ret >= 0 && (c->rx_hdr.opcode & 0x7FU) != (uint8_t)prb_msg_descs[id].opcode) {
		snprintf(c->detail, sizeof(c->detail), "response opcode 0x%02x to request 0x%02x",
			 c->rx_hdr.opcode, (unsigned)prb_msg_descs[id].opcode);
		return -EPROTO;
	}
	return ret;
}

const uint8_t *cf_rx_payload(const struct cf_conn *c, uint32_t *len)
{
	*len = prb_payload_len(&c->rx_hdr);
	return c->rx + prb_payload_offset(&c->rx_hdr);
}

int cf_hello(struct cf_conn *c, const struct prb_hello_req *req)
{
	union prb_msg m = {.hello_req = *req};
	union prb_msg rsp;
	int ret = cf_call(c, PRB_MSG_HELLO_REQ, &m, NULL, 0, &rsp);

	if (ret != PRB_ST_OK)
		return ret;
	c->max_pdu = req->max_pdu;
	c->hello = rsp.hello_rsp;
	c->hello_done = true;
	c->digest_flags = 0;
	if (c->hello.features & PRB_FEAT_HDGST)
		c->digest_flags |= PRB_HDR_HDGST;
	if (c->hello.features & PRB_FEAT_DDGST)
		c->digest_flags |= PRB_HDR_DDGST;
	return ret;
}

int cf_hello_default(struct cf_conn *c, uint32_t features)
{
	struct prb_hello_req req = {
		.min_version = PRB_VERSION,
		.max_version = PRB_VERSION,
		.queue_depth = 64,
		.features = features,
		.max_pdu = CF_RX_MAX,
	};
	return cf_hello(c, &req);
}

int cf_wait_closed(struct cf_conn *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t buf[4096];

	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int n = poll(&pfd, 1, (int)left);
		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0)
			continue;
		ssize_t got = recv(c->fd, buf, sizeof(buf), 0);
		if (got <= 0)
			return 0;
	}
}
