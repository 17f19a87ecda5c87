/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#define TC_RBUF_SIZE (PRB_MAX_DATA_LIMIT + 4096u)

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void tc_set_timeout(struct tc *c, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int tc_connect(struct tc *c, const char *url)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	struct prb_url u;
	char port[8];
	int one = 1, err;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->next_tag = 1;
	err = prb_url_parse_connect(url, &u);
	if (err < 0)
		return err;
	snprintf(port, sizeof(port), "%u", (unsigned)u.port);
	if (getaddrinfo(u.host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, res->ai_addr, res->ai_addrlen) < 0) {
		err = -errno;
		freeaddrinfo(res);
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return err;
	}
	freeaddrinfo(res);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tc_set_timeout(c, 20000);
	c->rbuf_size = TC_RBUF_SIZE;
	c->rbuf = malloc(c->rbuf_size);
	if (!c->rbuf) {
		close(c->fd);
		c->fd = -1;
		return -ENOMEM;
	}
	return 0;
}

void tc_close(struct tc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	c->rbuf = NULL;
}

int tc_send_raw(struct tc *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int tc_send(struct tc *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
	    uint32_t payload_len, bool keep_tag)
{
	uint8_t head[160], trailer[4];
	struct iovec iov[3];
	int n, cnt = 0;

	m->hdr.flags = 0;
	if (id != PRB_MSG_HELLO_REQ || c->hello.version) {
		if (c->hdgst)
			m->hdr.flags |= PRB_HDR_HDGST;
		if (c->ddgst && payload_len)
			m->hdr.flags |= PRB_HDR_DDGST;
	}
	if (!keep_tag)
		m->hdr.tag = c->next_tag++;
	n = prb_msg_encode(id, m, head, sizeof(head));
	if (n < 0)
		return n;
	if (m->hdr.flags & PRB_HDR_HDGST) {
		put_le32(head + n, prb_crc32c(head, (size_t)n));
		memset(head + n + 4, 0, 4);
		n += 8;
	}
	iov[cnt].iov_base = head;
	iov[cnt++].iov_len = (size_t)n;
	if (payload_len) {
		iov[cnt].iov_base = (void *)(uintptr_t)payload;
		iov[cnt++].iov_len = payload_len;
		if (m->hdr.flags & PRB_HDR_DDGST) {
			put_le32(trailer, prb_crc32c(payload, payload_len));
			iov[cnt].iov_base = trailer;
			iov[cnt++].iov_len = 4;
		}
	}
	for (int i = 0; i < cnt; i++) {
		int err = tc_send_raw(c, iov[i].iov_base, iov[i].iov_len);

		if (err < 0)
			return err;
	}
	return 0;
}

static int tc_read_full(struct tc *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = recv(c->fd, p, len, 0);

		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -ETIMEDOUT;
			return -errno;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int tc_recv(struct tc *c, struct tc_pdu *p)
{
	struct prb_hdr h;
	struct prb_wire_error we;
	uint32_t off;
	int id, err;

	memset(p, 0, sizeof(*p));
	err = tc_read_full(c, c->rbuf, PRB_HDR_SIZE);
	if (err < 0)
		return err;
	err = prb_hdr_decode(c->rbuf, PRB_HDR_SIZE, &h, &we);
	if (err == -EPROTO || h.plen < PRB_HDR_SIZE || h.plen > c->rbuf_size)
		return -EPROTO;
	err = tc_read_full(c, c->rbuf + PRB_HDR_SIZE, h.plen - PRB_HDR_SIZE);
	if (err < 0)
		return err;
	if ((h.flags & PRB_HDR_HDGST) &&
	    (h.hlen + 8u > h.plen || get_le32(c->rbuf + h.hlen) != prb_crc32c(c->rbuf, h.hlen)))
		return -EBADMSG;
	id = prb_msg_id_of(h.opcode);
	if (id < 0) {
		/* An error response to an unknown opcode: the header says it all. */
		if (h.status == 0 || h.hlen != PRB_HDR_SIZE)
			return -EPROTO;
		p->id = PRB_MSG_COUNT;
		p->msg.hdr = h;
		p->decode = -EOPNOTSUPP;
		return 0;
	}
	p->id = (enum prb_msg_id)id;
	p->decode = prb_msg_decode(c->rbuf, h.plen, &p->msg, &p->id, &we);
	if (p->decode < 0) {
		/* Keep the header for the caller: status and tag still say something. */
		p->msg.hdr = h;
	}
	off = prb_payload_offset(&h);
	p->payload_len = h.status == 0 && off <= h.plen ? prb_payload_len(&h) : 0;
	p->payload = c->rbuf + off;
	if (p->payload_len && (h.flags & PRB_HDR_DDGST) &&
	    get_le32(p->payload + p->payload_len) != prb_crc32c(p->payload, p->payload_len))
		return -EBADMSG;
	if (p->id == PRB_MSG_TERM) {
		c->term_reason = p->msg.term.reason;
		c->term_offset = p->msg.term.error_offset;
	}
	return 0;
}

bool tc_closed_by_peer(struct tc *c)
{
	struct tc_pdu p;

	for (;;) {
		int err = tc_recv(c, &p);

		if (err == -ECONNRESET)
			return true;
		if (err < 0)
			return err != -ETIMEDOUT;
	}
}

int tc_call(struct tc *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
	    uint32_t payload_len, struct tc_pdu *rsp)
{
	struct tc_pdu local;
	int err;

	if (!rsp)
		rsp = &local;
	err = tc_send(c, id, m, payload, payload_len, false);
	if (err < 0)
		return err;
	err = tc_recv(c, rsp);
	if (err < 0)
		return err;
	if (rsp->id == PRB_MSG_TERM)
		return -EPIPE;
	if (rsp->msg.hdr.tag != m->hdr.tag ||
	    rsp->msg.hdr.opcode != (prb_msg_descs[id].opcode | PRB_OPCODE_RESPONSE) ||
	    rsp->decode < 0)
		return -EPROTO;
	return rsp->msg.hdr.status;
}

int tc_hello(struct tc *c, uint32_t features, uint16_t queue_depth)
{
	union prb_msg m;
	struct tc_pdu rsp;
	int st;

	memset(&m, 0, sizeof(m));
	m.hello_req.min_version = 1;
	m.hello_req.max_version = 1;
	m.hello_req.queue_depth = queue_depth;
	m.hello_req.features = features;
	m.hello_req.max_pdu = (uint32_t)c->rbuf_size;
	st = tc_call(c, PRB_MSG_HELLO_REQ, &m, NULL, 0, &rsp);
	if (st != 0)
		return st;
	c->hello = rsp.msg.hello_rsp;
	c->hdgst = c->hello.features & PRB_FEAT_HDGST;
	c->ddgst = c->hello.features & PRB_FEAT_DDGST;
	return 0;
}

int tc_open(struct tc *c, const char *url, uint32_t features, uint16_t queue_depth)
{
	int err = tc_connect(c, url);

	if (err < 0)
		return err;
	err = tc_hello(c, features, queue_depth);
	if (err != 0)
		tc_close(c);
	return err;
}

int tc_alloc(struct tc *c, uint64_t addr, uint32_t blocks)
{
	union prb_msg m = { 0 };

	m.alloc_req.addr = addr;
	m.alloc_req.blocks = blocks;
	return tc_call(c, PRB_MSG_ALLOC_REQ, &m, NULL, 0, NULL);
}

int tc_free(struct tc *c, uint64_t addr, uint32_t blocks, uint32_t flags)
{
	union prb_msg m = { 0 };

	m.free_req.addr = addr;
	m.free_req.blocks = blocks;
	m.free_req.free_flags = flags;
	return tc_call(c, PRB_MSG_FREE_REQ, &m, NULL, 0, NULL);
}

int tc_map(struct tc *c, uint64_t addr, uint32_t flags, uint64_t *handle)
{
	union prb_msg m = { 0 };
	struct tc_pdu rsp;
	int st;

	m.map_req.addr = addr;
	m.map_req.map_flags = flags;
	st = tc_call(c, PRB_MSG_MAP_REQ, &m, NULL, 0, &rsp);
	*handle = st == 0 ? rsp.msg.map_rsp.handle : 0;
	return st;
}

int tc_unmap(struct tc *c, uint64_t handle)
{
	union prb_msg m = { 0 };

	m.unmap_req.handle = handle;
	return tc_call(c, PRB_MSG_UNMAP_REQ, &m, NULL, 0, NULL);
}

int tc_read(struct tc *c, uint64_t handle, uint32_t offset, uint32_t length, void *buf)
{
	union prb_msg m = { 0 };
	struct tc_pdu rsp;
	int st;

	m.read_req.handle = handle;
	m.read_req.offset = offset;
	m.read_req.length = length;
	st = tc_call(c, PRB_MSG_READ_REQ, &m, NULL, 0, &rsp);
	if (st == 0) {
		if (rsp.payload_len != length)
			return -EPROTO;
		memcpy(buf, rsp.payload, length);
	}
	return st;
}

int tc_write(struct tc *c, uint64_t handle, uint32_t offset, const void *buf, uint32_t length)
{
	union prb_msg m = { 0 };

	m.write_req.handle = handle;
	m.write_req.offset = offset;
	m.write_req.length = length;
	m.write_req.payload_len = length;
	return tc_call(c, PRB_MSG_WRITE_REQ, &m, buf, length, NULL);
}

int tc_flush(struct tc *c, uint64_t handle, uint32_t offset, uint32_t length)
{
	union prb_msg m = { 0 };

	m.flush_req.handle = handle;
	m.flush_req.offset = offset;
	m.flush_req.length = length;
	return tc_call(c, PRB_MSG_FLUSH_REQ, &m, NULL, 0, NULL);
}

int tc_cas(struct tc *c, uint64_t handle, uint32_t offset, uint64_t compare, uint64_t swap,
	   uint64_t *original)
{
	union prb_msg m = { 0 };
	struct tc_pdu rsp;
	int st;

	m.cas_req.handle = handle;
	m.cas_req.offset = offset;
	m.cas_req.compare = compare;
	m.cas_req.swap = swap;
	st = tc_call(c, PRB_MSG_CAS_REQ, &m, NULL, 0, &rsp);
	if (st == 0)
		*original = rsp.msg.cas_rsp.original;
	return st;
}

int tc_fadd(struct tc *c, uint64_t handle, uint32_t offset, uint64_t add, uint64_t *original)
{
	union prb_msg m = { 0 };
	struct tc_pdu rsp;
	int st;

	m.fadd_req.handle = handle;
	m.fadd_req.offset = offset;
	m.fadd_req.add = add;
	st = tc_call(c, PRB_MSG_FADD_REQ, &m, NULL, 0, &rsp);
	if (st == 0)
		*original = rsp.msg.fadd_rsp.original;
	return st;
}

int tc_info(struct tc *c, struct prb_info_rsp *info)
{
	union prb_msg m = { 0 };
	struct tc_pdu rsp;
	int st = tc_call(c, PRB_MSG_INFO_REQ, &m, NULL, 0, &rsp);

	if (st == 0)
		*info = rsp.msg.info_rsp;
	return st;
}

int tc_keepalive(struct tc *c)
{
	union prb_msg m = { 0 };

	return tc_call(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, NULL);
}

int tc_list(struct tc *c, uint64_t cursor, uint32_t max_extents, struct prb_extent *out,
	    uint32_t *count, uint64_t *next, uint32_t *flags)
{
	union prb_msg m = { 0 };
	struct tc_pdu rsp;
	int st;

	m.list_req.cursor = cursor;
	m.list_req.max_extents = max_extents;
	st = tc_call(c, PRB_MSG_LIST_REQ, &m, NULL, 0, &rsp);
	if (st != 0)
		return st;
	*count = rsp.msg.list_rsp.count;
	*next = rsp.msg.list_rsp.next_cursor;
	*flags = rsp.msg.list_rsp.list_flags;
	if (rsp.payload_len != *count * 16u || *count > max_extents)
		return -EPROTO;
	for (uint32_t i = 0; i < *count; i++)
		if (prb_extent_decode(rsp.payload + i * 16u, 16, &out[i], NULL) < 0)
			return -EPROTO;
	return 0;
}

int tc_list_all(struct tc *c, uint64_t *blocks, uint64_t *tiered)
{
	struct prb_extent ext[256];
	uint64_t cursor = 0, next;
	uint32_t count, flags;

	*blocks = 0;
	*tiered = 0;
	for (;;) {
		int st = tc_list(c, cursor, 256, ext, &count, &next, &flags);

		if (st != 0)
			return st;
		for (uint32_t i = 0; i < count; i++) {
			*blocks += ext[i].blocks;
			if (ext[i].state == PRB_EXTENT_TIERED)
				*tiered += ext[i].blocks;
		}
		if (flags & PRB_LIST_END)
			return 0;
		if (count == 0)
			return -EPROTO;
		cursor = next;
	}
}

long tc_target_status_kib(const char *field)
{
	const char *pid = getenv("PRB_TARGET_PID");
	size_t flen = strlen(field);
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (!pid)
		return -1;
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':' &&
		    sscanf(line + flen + 1, "%ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int tc_main(const struct tc_test *tests, size_t count, int argc, char **argv, const char **url)
{
	int failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < count; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	*url = getenv("PRB_URL");
	if (!*url || argc < 2) {
		fprintf(stderr,
			"usage: PRB_URL=tcp://... %s NAME... (under scripts/with-target.sh), or "
			"%s --list\n",
			argv[0], argv[0]);
		return 2;
	}
	for (int a = 1; a < argc; a++) {
		size_t i;

		for (i = 0; i < count; i++)
			if (!strcmp(argv[a], tests[i].name))
				break;
		if (i == count) {
			fprintf(stderr, "no test %s\n", argv[a]);
			return 2;
		}
		if (tests[i].fn() != 0) {
			printf("FAIL %s\n", argv[a]);
			failed++;
		} else {
			printf("PASS %s\n", argv[a]);
		}
	}
	return failed ? 1 : 0;
}

void tc_pattern(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		p[i] = (uint8_t)(x >> ((i & 7) * 8));
	}
}
