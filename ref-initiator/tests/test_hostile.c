/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libprb against a hostile or broken brick: a fake brick in a thread of this
 * test (built on the generated codec) answers HELLO properly, then answers
 * requests the way each scenario says: malformed headers, unknown tags, wrong
 * opcodes, oversize lengths, bad digests, TERM, silence, a close in mid-PDU,
 * byte-by-byte delivery, answers out of order. libprb must end the connection
 * with the documented status, or complete correctly, and never crash.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prb/prb.h>
#include <prb/wire.h>

static int failures;

#define EXPECT(expr, want)                                                                         \
	do {                                                                                       \
		long long got_ = (long long)(expr);                                                \
		if (got_ != (long long)(want)) {                                                   \
			fprintf(stderr, "%s:%d: [%s] %s = %lld, want %lld\n", __FILE__, __LINE__,  \
				scenario_name, #expr, got_, (long long)(want));                    \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static const char *scenario_name = "";

/* How the fake brick misbehaves on the answer to requests of opcode `op`. */
enum twist {
	TWIST_NONE,
	TWIST_MANGLE,	/* apply mangle() to the encoded answer */
	TWIST_SILENT,	/* never answer */
	TWIST_HALF,	/* send half the answer, then close */
	TWIST_SLOW,	/* send the answer in 7-byte pieces */
	TWIST_SWAP,	/* hold this answer until the next request is answered */
	TWIST_TERM,	/* send TERM (reason 5) instead, then close */
	TWIST_BAD_DATA, /* READ: corrupt the data digest */
	TWIST_LONG,	/* READ: 8 payload bytes more than asked */
};

struct fake {
	int lfd;
	uint32_t grant_features;
	int hello_depth;  /* queue depth granted; -1: the asked one */
	int hello_status; /* nonzero: answer HELLO with this error */
	uint8_t op;	  /* the opcode whose answers are twisted */
	enum twist twist;
	void (*mangle)(uint8_t *pdu, size_t *len);
	void (*hello_mangle)(uint8_t *pdu, size_t *len); /* applied to the hello_rsp */
	uint32_t list_count;				 /* extents in LIST answers */
	int accepts;	      /* connections served one after the other (0 means 1) */
	uint8_t next_id;      /* brick_id[0] from the second connection on (0: same brick) */
	uint64_t next_epoch;  /* boot_epoch from the second connection on (0: same) */
	bool hdgst, ddgst;    /* negotiated, set by the HELLO step */
	bool got_term;	      /* libprb sent a TERM (PRB-PDU-16..18, PRB-HELLO-24): */
	struct prb_term term; /* the last one */
	pthread_t tid;
};

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int read_exact(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Read one request PDU; returns its decoded form (fixed part) or -1. */
static int read_request(int fd, uint8_t *buf, size_t cap, union prb_msg *m)
{
	struct prb_hdr h;
	enum prb_msg_id id;

	if (read_exact(fd, buf, PRB_HDR_SIZE) < 0 ||
	    prb_hdr_decode(buf, PRB_HDR_SIZE, &h, NULL) < 0 || h.plen > cap ||
	    read_exact(fd, buf + PRB_HDR_SIZE, h.plen - PRB_HDR_SIZE) < 0)
		return -1;
	return prb_msg_decode(buf, h.plen, m, &id, NULL) < 0 ? -1 : (int)h.plen;
}

/* Append the header digest to an encoded fixed part of n bytes when negotiated. */
static size_t seal(const struct fake *f, uint8_t *buf, int n)
{
	if (!f->hdgst)
		return (size_t)n;
	put_le32(buf + n, prb_crc32c(buf, (size_t)n));
	memset(buf + n + PRB_CRC32C_SIZE, 0, PRB_HDGST_SIZE - PRB_CRC32C_SIZE);
	return (size_t)n + PRB_HDGST_SIZE;
}

/* Encode the correct answer to one request into buf; returns its length. */
static size_t answer(const struct fake *f, const union prb_msg *req, uint8_t *buf, size_t cap)
{
	uint8_t op = req->hdr.opcode;
	uint8_t flags = f->hdgst ? PRB_HDR_HDGST : 0;
	union prb_msg m;
	size_t n, payload = 0;

	memset(&m, 0, sizeof(m));
	m.hdr.tag = req->hdr.tag;
	m.hdr.flags = flags;
	switch (op) {
	case PRB_OP_MAP:
		m.map_rsp.handle = 42;
		m.map_rsp.length = PRB_BLOCK_SIZE;
		return seal(f, buf, prb_map_rsp_encode(&m.map_rsp, buf, cap));
	case PRB_OP_READ:
		payload = req->read_req.length + (f->op == op && f->twist == TWIST_LONG ? 8u : 0u);
		m.read_rsp.payload_len = (uint32_t)payload;
		m.hdr.flags |= f->ddgst ? PRB_HDR_DDGST : 0;
		n = seal(f, buf, prb_read_rsp_encode(&m.read_rsp, buf, cap));
		for (size_t i = 0; i < payload; i++)
			buf[n + i] = (uint8_t)(req->read_req.offset + i);
		break;
	case PRB_OP_LIST:
		m.list_rsp.count = f->list_count;
		m.list_rsp.payload_len = f->list_count * 16u;
		/* The end of the last extent (PROTOCOL.md's LIST rules). */
		m.list_rsp.next_cursor =
			f->list_count ? ((uint64_t)f->list_count * 2 - 1) * PRB_BLOCK_SIZE : 0;
		m.hdr.flags |= f->ddgst && f->list_count ? PRB_HDR_DDGST : 0;
		n = seal(f, buf, prb_list_rsp_encode(&m.list_rsp, buf, cap));
		for (uint32_t i = 0; i < f->list_count; i++) {
			struct prb_extent e = {.addr = (uint64_t)i * 2 * PRB_BLOCK_SIZE,
					       .blocks = 1,
					       .state = PRB_EXTENT_RESIDENT};

			prb_extent_encode(&e, buf + n + i * 16u, 16);
		}
		payload = f->list_count * 16u;
		break;
	default:
		/* Answers without a body: the error-free header of the request's response. */
		n = (size_t)prb_error_rsp_encode(op, req->hdr.tag, 0, flags, buf, cap);
		return seal(f, buf, (int)n);
	}
	if (payload && f->ddgst) {
		uint32_t crc = prb_crc32c(buf + n, payload);

		if (f->op == op && f->twist == TWIST_BAD_DATA)
			crc ^= 1;
		put_le32(buf + n + payload, crc);
		payload += PRB_DDGST_SIZE;
	}
	return n + payload;
}

/* Serve requests until the initiator closes, twisting the answers to f->op. */
static void serve(int fd, struct fake *f)
{
	static uint8_t req[1u << 16], rsp[3u << 20], held[1u << 16];
	size_t held_len = 0;
	bool swapped = false;
	union prb_msg m;

	while (read_request(fd, req, sizeof(req), &m) >= 0) {
		if (m.hdr.opcode == PRB_OP_TERM) {
			f->got_term = true;
			f->term = m.term;
			return;
		}
		size_t n = answer(f, &m, rsp, sizeof(rsp));

		if (m.hdr.opcode != f->op || f->twist == TWIST_NONE ||
		    (f->twist == TWIST_SWAP && swapped)) {
			send_all(fd, rsp, n);
			if (held_len) {
				send_all(fd, held, held_len);
				held_len = 0;
			}
			continue;
		}
		switch (f->twist) {
		case TWIST_MANGLE:
			f->mangle(rsp, &n);
			send_all(fd, rsp, n);
			break;
		case TWIST_SILENT:
			break;
		case TWIST_HALF:
			send_all(fd, rsp, n / 2);
			return;
		case TWIST_SLOW:
			for (size_t i = 0; i < n; i += 7)
				send_all(fd, rsp + i, n - i < 7 ? n - i : 7);
			break;
		case TWIST_SWAP: /* once: the next answer overtakes this one */
			memcpy(held, rsp, n);
			held_len = n;
			swapped = true;
			break;
		case TWIST_TERM: {
			struct prb_term t = {.hdr = {.flags = f->hdgst ? PRB_HDR_HDGST : 0},
					     .reason = 5};

			n = seal(f, rsp, prb_term_encode(&t, rsp, sizeof(rsp)));
			send_all(fd, rsp, n);
			return;
		}
		default:
			send_all(fd, rsp, n);
			break;
		}
	}
}

/* Answer HELLO on a new connection (the k-th), then serve it. */
static void fake_connection(struct fake *f, int fd, int k)
{
	uint8_t buf[256];
	union prb_msg m;

	if (read_request(fd, buf, sizeof(buf), &m) < 0)
		return;
	if (f->hello_status) {
		int n = prb_error_rsp_encode(PRB_OP_HELLO, m.hdr.tag, (uint16_t)f->hello_status, 0,
					     buf, sizeof(buf));

		send_all(fd, buf, (size_t)n);
		return;
	}
	struct prb_hello_rsp r = {
		.hdr = {.tag = m.hdr.tag},
		.version = 1,
		.queue_depth =
			(uint16_t)(f->hello_depth >= 0 ? f->hello_depth : m.hello_req.queue_depth),
		.features = m.hello_req.features & f->grant_features,
		.max_pdu = 1u << 22,
		.max_data = 1u << 21,
		.brick_id = {k > 0 && f->next_id ? f->next_id : 1, 2, 3},
		.capacity_blocks = 64,
		.free_blocks = 64,
		.boot_epoch = k > 0 && f->next_epoch ? f->next_epoch : 7,
		.max_mappings = 16,
	};
	f->hdgst = (r.features & PRB_FEAT_HDGST) != 0;
	f->ddgst = (r.features & PRB_FEAT_DDGST) != 0;
	size_t n = (size_t)prb_hello_rsp_encode(&r, buf, sizeof(buf));
	if (f->hello_mangle) {
		f->hello_mangle(buf, &n);
		f->hdgst = f->ddgst = false; /* libprb will not have granted them */
	}
	send_all(fd, buf, n);
	serve(fd, f);
}

/* Accept connections one after the other and serve each. */
static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (int k = 0; k < (f->accepts ? f->accepts : 1); k++) {
		int fd = accept(f->lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
		fake_connection(f, fd, k);
		close(fd);
	}
	return NULL;
}

/* Start the fake brick; returns the URL to connect to. */
static void fake_start(struct fake *f, char *url, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(f->lfd, 1) < 0 || getsockname(f->lfd, (struct sockaddr *)&a, &alen) < 0) {
		perror("fake brick");
		exit(1);
	}
	snprintf(url, len, "tcp://127.0.0.1:%u", ntohs(a.sin_port));
	if (pthread_create(&f->tid, NULL, fake_main, f) != 0)
		exit(1);
}

/* Connect to a fake brick (features asked: atomics + want); NULL when connect fails. */
static struct prb_session *fake_connect(struct fake *f, uint32_t want, int expect_rc)
{
	struct prb_session *s = NULL;
	struct prb_opts *o;
	char url[64];

	fake_start(f, url, sizeof(url));
	prb_opts_new(&o);
	prb_opts_set_features(o, want | PRB_FEATURE_ATOMICS);
	prb_opts_set_queue_depth(o, 8);
	prb_opts_set_io_timeout(o, 400);
	prb_opts_set_connect_timeout(o, 2000);
	EXPECT(prb_connect(url, o, &s), expect_rc);
	prb_opts_delete(&o);
	return s;
}

static void fake_finish(struct fake *f, struct prb_session **s)
{
	prb_disconnect(s); /* the fake's serve loop ends when the connection closes */
	pthread_join(f->tid, NULL);
	close(f->lfd);
}

/* ------------------------------------------------------------------ scenarios */

static void mangle_magic(uint8_t *p, size_t *len)
{
	(void)len;
	p[PRB_HDR_MAGIC_OFFSET] ^= 0xff;
}

static void mangle_tag(uint8_t *p, size_t *len)
{
	(void)len;
	p[PRB_HDR_TAG_OFFSET + 1] ^= 0x40; /* a tag nobody used */
}

static void mangle_opcode(uint8_t *p, size_t *len)
{
	(void)len;
	p[PRB_HDR_OPCODE_OFFSET] = PRB_OP_ALLOC | PRB_OPCODE_RESPONSE;
}

static void mangle_request_dir(uint8_t *p, size_t *len)
{
	(void)len;
	p[PRB_HDR_OPCODE_OFFSET] = PRB_OP_KEEPALIVE; /* a request sent to the initiator */
}

static void mangle_plen(uint8_t *p, size_t *len)
{
	(void)len;
	put_le32(p + PRB_HDR_PLEN_OFFSET, 3u << 20);
}

static void mangle_hello_flag(uint8_t *p, size_t *len)
{
	p[PRB_HDR_FLAGS_OFFSET] = PRB_HDR_HDGST; /* PRB-DGST-3: never on HELLO */
	put_le32(p + PRB_HDR_PLEN_OFFSET, (uint32_t)*len + PRB_HDGST_SIZE);
	put_le32(p + *len, prb_crc32c(p, *len));
	memset(p + *len + PRB_CRC32C_SIZE, 0, PRB_HDGST_SIZE - PRB_CRC32C_SIZE);
	*len += PRB_HDGST_SIZE;
}

static void mangle_hello_version(uint8_t *p, size_t *len)
{
	(void)len;
	p[PRB_HELLO_RSP_VERSION_OFFSET] = PRB_VERSION + 1;
}

static void mangle_hello_reserved(uint8_t *p, size_t *len)
{
	(void)len;
	p[PRB_HELLO_RSP_RESERVED0_OFFSET] = 1;
}

static void mangle_reserved_flag(uint8_t *p, size_t *len)
{
	(void)len;
	p[PRB_HDR_FLAGS_OFFSET] |= 0x80; /* a bit hdr_flags does not define */
}

static void mangle_digest(uint8_t *p, size_t *len)
{
	p[*len - 5] ^= 1; /* inside the header digest */
}

/* Status values this version does not define (PRB-VER-9): one byte, and both bytes. */
#define UNKNOWN_STATUS	    200u
#define UNKNOWN_STATUS_HIGH 0xfedcu

/*
 * Replace an answer by an error response (the header alone, PRB-PDU-10) with an
 * unknown status, keeping its opcode, tag and header digest flag; re-sealed, so
 * that only the status is wrong.
 */
static void make_unknown_error(uint8_t *p, size_t *len, uint16_t status)
{
	uint8_t flags = p[3] & PRB_HDR_HDGST;
	uint32_t tag = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
		       (uint32_t)p[11] << 24;
	int n = prb_error_rsp_encode((uint8_t)(p[2] & ~PRB_OPCODE_RESPONSE), tag, status, flags, p,
				     PRB_HDR_SIZE);

	*len = (size_t)n;
	if (flags) {
		put_le32(p + n, prb_crc32c(p, (size_t)n));
		memset(p + n + 4, 0, 4);
		*len += PRB_HDGST_SIZE;
	}
}

static void mangle_status(uint8_t *p, size_t *len)
{
	make_unknown_error(p, len, UNKNOWN_STATUS);
}

static void mangle_status_high(uint8_t *p, size_t *len)
{
	make_unknown_error(p, len, UNKNOWN_STATUS_HIGH);
}

/* What libprb must have sent before closing; reason 0: no TERM at all. */
struct want_term {
	uint16_t reason;
	uint32_t offset;
	int64_t tag; /* -1: the tag of the twisted answer, whatever it was */
};

static void expect_term(const struct fake *f, struct want_term w)
{
	EXPECT(f->got_term, w.reason != 0);
	if (!f->got_term || !w.reason)
		return;
	EXPECT(f->term.reason, w.reason);
	EXPECT(f->term.error_offset, w.offset);
	if (w.tag >= 0)
		EXPECT(f->term.hdr.tag, w.tag);
	EXPECT(f->term.hdr.flags, f->hdgst ? PRB_HDR_HDGST : 0); /* PRB-TERM-3 */
}

/* A KEEPALIVE answer breaks the rules: the connection ends with `status` and a TERM. */
static void run_mangled(const char *name, void (*fn)(uint8_t *, size_t *), uint32_t want,
			int status, struct want_term term)
{
	struct fake f = {.grant_features = ~0u,
			 .hello_depth = -1,
			 .op = PRB_OP_KEEPALIVE,
			 .twist = TWIST_MANGLE,
			 .mangle = fn};
	struct prb_session *s;

	scenario_name = name;
	s = fake_connect(&f, want, 0);
	if (s) {
		EXPECT(prb_keepalive(s), -ECONNRESET);
		EXPECT(prb_session_status(s), status);
		EXPECT(prb_keepalive(s), -ENOTCONN);
	}
	fake_finish(&f, &s);
	expect_term(&f, term);
}

/* Reap until \p want completions are in c (or reaping fails). \return how many. */
static int reap_all(struct prb_session *s, struct prb_completion *c, int want)
{
	int n = 0;

	while (n < want) {
		int got = prb_reap(s, c + n, 1, (unsigned)(want - n), -1);

		if (got <= 0)
			break;
		n += got;
	}
	return n;
}

/*
 * PRB-VER-9: an answer with a status this version does not define fails its
 * request as if the status were EIO; the connection, its mappings and the
 * other requests go on. KEEPALIVE answers carry the unknown status (blocking
 * call), then READ answers (asynchronous, beside a correct ALLOC).
 */
static void run_unknown_status(const char *name, void (*fn)(uint8_t *, size_t *), uint32_t want)
{
	struct fake f = {.grant_features = ~0u,
			 .hello_depth = -1,
			 .op = PRB_OP_KEEPALIVE,
			 .twist = TWIST_MANGLE,
			 .mangle = fn};
	static uint8_t data[4096];
	struct prb_completion c[2];
	struct prb_mapping *m = NULL;
	struct prb_session *s;
	int n = 0;

	scenario_name = name;
	s = fake_connect(&f, want, 0);
	if (!s) {
		fake_finish(&f, &s);
		return;
	}
	EXPECT(prb_keepalive(s), -EIO);
	EXPECT(prb_session_status(s), 0);
	EXPECT(prb_keepalive(s), -EIO);
	EXPECT(prb_alloc(s, 0, 1), 0);
	EXPECT(prb_map(s, 0, PRB_MAPPING_RO, &m), 0);
	f.op = PRB_OP_READ; /* the fake reads f->op at each request */
	EXPECT(prb_async_read(m, 0, data, sizeof(data), 1), 0);
	EXPECT(prb_async_alloc(s, PRB_BLOCK_SIZE, 1, 2), 0);
	n = reap_all(s, c, 2);
	EXPECT(n, 2);
	for (int i = 0; i < n; i++)
		EXPECT(c[i].result, c[i].user_data == 1 ? -EIO : 0);
	EXPECT(prb_session_status(s), 0);
	EXPECT(prb_mapping_status(m), 0);
	EXPECT(prb_unmap(&m), 0);
	fake_finish(&f, &s);
}

/* READ through a mapping the fake grants; the READ answer is twisted. */
static void run_read(const char *name, enum twist twist, uint32_t want, int result, int status)
{
	struct fake f = {
		.grant_features = ~0u, .hello_depth = -1, .op = PRB_OP_READ, .twist = twist};
	static uint8_t data[100000];
	struct prb_mapping *m = NULL;
	struct prb_session *s;
	bool right = true;

	scenario_name = name;
	s = fake_connect(&f, want, 0);
	if (s && prb_map(s, 0, PRB_MAPPING_RO, &m) == 0) {
		memset(data, 0, sizeof(data));
		EXPECT(prb_read(m, 5, data, sizeof(data)), result);
		EXPECT(prb_session_status(s), status);
		for (size_t i = 0; result == 0 && i < sizeof(data); i++)
			right = right && data[i] == (uint8_t)(5 + i);
		EXPECT(right, true);
		EXPECT(prb_mapping_status(m), status ? -ESTALE : 0);
		prb_unmap(&m);
	} else {
		EXPECT(s != NULL && m != NULL, true);
	}
	fake_finish(&f, &s);
	/* PRB-PDU-16, check 9: a payload longer than asked. No TERM for a data digest. */
	expect_term(&f, (struct want_term){status == -EPROTO ? PRB_TERM_BAD_HEADER : 0,
					   PRB_HDR_PLEN_OFFSET, -1});
}

/* Answers to two requests arrive in the other order: both complete right. */
static void run_swap(void)
{
	struct fake f = {
		.grant_features = ~0u, .hello_depth = -1, .op = PRB_OP_READ, .twist = TWIST_SWAP};
	static uint8_t a[4096], b[4096];
	struct prb_completion c[2];
	struct prb_mapping *m = NULL;
	struct prb_session *s;
	int n = 0;

	scenario_name = "out of order";
	s = fake_connect(&f, 0, 0);
	if (s && prb_map(s, 0, PRB_MAPPING_RO, &m) == 0) {
		EXPECT(prb_async_read(m, 0, a, sizeof(a), 1), 0);
		EXPECT(prb_async_read(m, 100, b, sizeof(b), 2), 0);
		EXPECT(prb_submit(s) >= 0, true);
		n = reap_all(s, c, 2);
		EXPECT(n, 2);
		EXPECT(c[0].user_data, 2); /* the second READ's answer came first */
		EXPECT(c[0].result == 0 && c[1].result == 0, true);
		EXPECT(a[1] == 1 && b[1] == 101, true);
		prb_unmap(&m);
	}
	fake_finish(&f, &s);
}

/* LIST answers must respect max_extents. */
static void run_list(const char *name, uint32_t count, int result, int status)
{
	struct fake f = {.grant_features = ~0u, .hello_depth = -1, .list_count = count};
	struct prb_list_extent ext[4];
	struct prb_list_page page;
	struct prb_completion c;
	struct prb_session *s;

	scenario_name = name;
	s = fake_connect(&f, PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST, 0);
	if (s) {
		EXPECT(prb_async_list(s, 0, ext, 4, &page, 9), 0);
		EXPECT(prb_reap(s, &c, 1, 1, -1), 1);
		EXPECT(c.result, result);
		EXPECT(prb_session_status(s), status);
		if (result > 0)
			EXPECT(ext[result - 1].addr, (uint64_t)(result - 1) * 2 * PRB_BLOCK_SIZE);
	}
	fake_finish(&f, &s);
	/* More extents than asked: a response libprb cannot take, BAD_HEADER. */
	expect_term(&f, (struct want_term){status == -EPROTO ? PRB_TERM_BAD_HEADER : 0,
					   PRB_HDR_PLEN_OFFSET, -1});
}

/*
 * prb_list_next's documented errors: -ECONNRESET when the connection is lost
 * during a page, -ENOTCONN after; the iterator keeps its cursor and goes on
 * after prb_reconnect. prb_info and prb_keepalive give -ENOTCONN meanwhile.
 */
static void run_list_lost(void)
{
	struct fake f = {.grant_features = ~0u,
			 .hello_depth = -1,
			 .op = PRB_OP_LIST,
			 .twist = TWIST_TERM,
			 .list_count = 2,
			 .accepts = 2};
	struct prb_brick_info info;
	struct prb_list_extent e;
	struct prb_list_iter *it = NULL;
	struct prb_session *s;

	scenario_name = "LIST iterator across a lost connection";
	s = fake_connect(&f, 0, 0);
	if (s && prb_list_new(s, 0, &it) == 0) {
		EXPECT(prb_list_next(it, &e), -ECONNRESET);
		EXPECT(prb_list_next(it, &e), -ENOTCONN);
		EXPECT(prb_info(s, &info), -ENOTCONN);
		EXPECT(prb_keepalive(s), -ENOTCONN);
		f.twist = TWIST_NONE; /* read by the fake at the next request only */
		EXPECT(prb_reconnect(s), 0);
		EXPECT(prb_list_next(it, &e), 1);
		EXPECT(e.addr == 0 && e.blocks == 1, true);
		prb_list_delete(&it);
	} else {
		EXPECT(s != NULL && it != NULL, true);
	}
	fake_finish(&f, &s);
}

/* The brick's side of the handshake goes wrong. */
static void run_hello(void)
{
	struct fake f = {.grant_features = ~0u, .hello_depth = 9}; /* more than the 8 asked */
	struct prb_session *s;

	scenario_name = "HELLO grants more depth than asked";
	s = fake_connect(&f, 0, -EPROTO);
	EXPECT(s == NULL, true);
	pthread_join(f.tid, NULL);
	close(f.lfd);
	expect_term(&f,
		    (struct want_term){PRB_TERM_BAD_HEADER, PRB_HELLO_RSP_QUEUE_DEPTH_OFFSET, -1});

	/* PRB-HELLO-24: the TERM for each kind of bad answer to HELLO. */
	static const struct {
		const char *name;
		void (*fn)(uint8_t *, size_t *);
		struct want_term term;
	} bad[] = {
		{"HELLO answer: bad magic", mangle_magic, {PRB_TERM_BAD_HEADER, 0, 0}},
		{"HELLO answer: digest flag",
		 mangle_hello_flag,
		 {PRB_TERM_HEADER_DIGEST, PRB_HDR_FLAGS_OFFSET, -1}},
		{"HELLO answer: another tag",
		 mangle_tag,
		 {PRB_TERM_SEQUENCE, PRB_HDR_TAG_OFFSET, -1}},
		{"HELLO answer: not HELLO",
		 mangle_opcode,
		 {PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET, -1}},
		{"HELLO answer: version 2",
		 mangle_hello_version,
		 {PRB_TERM_NO_VERSION, PRB_HELLO_RSP_VERSION_OFFSET, -1}},
		{"HELLO answer: reserved field",
		 mangle_hello_reserved,
		 {PRB_TERM_BAD_HEADER, PRB_HELLO_RSP_RESERVED0_OFFSET, -1}},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = (struct fake){
			.grant_features = ~0u, .hello_depth = -1, .hello_mangle = bad[i].fn};
		scenario_name = bad[i].name;
		s = fake_connect(&f, 0, -EPROTO);
		EXPECT(s == NULL, true);
		pthread_join(f.tid, NULL);
		close(f.lfd);
		expect_term(&f, bad[i].term);
	}

	f = (struct fake){.hello_status = PRB_ST_ENOTSUP, .hello_depth = -1};
	scenario_name = "HELLO refused (no common version)";
	s = fake_connect(&f, 0, -ENOTSUP);
	EXPECT(s == NULL, true);
	pthread_join(f.tid, NULL);
	close(f.lfd);

	/* PRB-VER-9: the HELLO request fails as if the status were EIO. */
	f = (struct fake){.hello_status = UNKNOWN_STATUS, .hello_depth = -1};
	scenario_name = "HELLO refused with an unknown status";
	s = fake_connect(&f, 0, -EIO);
	EXPECT(s == NULL, true);
	pthread_join(f.tid, NULL);
	close(f.lfd);
}

/* Silence, a close in mid-PDU, TERM. */
static void run_endings(void)
{
	struct fake f = {.grant_features = ~0u,
			 .hello_depth = -1,
			 .op = PRB_OP_ALLOC,
			 .twist = TWIST_SILENT};
	struct prb_session *s;

	scenario_name = "silent brick";
	s = fake_connect(&f, 0, 0);
	EXPECT(prb_alloc(s, 0, 1), -ECONNRESET);
	EXPECT(prb_session_status(s), -ETIMEDOUT);
	fake_finish(&f, &s);

	f = (struct fake){
		.grant_features = ~0u, .hello_depth = -1, .op = PRB_OP_ALLOC, .twist = TWIST_HALF};
	scenario_name = "close in mid-PDU";
	s = fake_connect(&f, PRB_FEATURE_HEADER_DIGEST, 0);
	EXPECT(prb_alloc(s, 0, 1), -ECONNRESET);
	EXPECT(prb_session_status(s), -ECONNRESET);
	fake_finish(&f, &s);

	f = (struct fake){
		.grant_features = ~0u, .hello_depth = -1, .op = PRB_OP_ALLOC, .twist = TWIST_TERM};
	scenario_name = "TERM";
	s = fake_connect(&f, 0, 0);
	EXPECT(prb_alloc(s, 0, 1), -ECONNRESET);
	EXPECT(prb_session_status(s), -EPROTO);
	EXPECT(prb_session_term_reason(s), 5);
	fake_finish(&f, &s);
}

/* prb_reconnect tells a restarted brick (epoch) and another brick (brick_id) apart. */
static void run_reconnect(void)
{
	struct fake f = {.grant_features = ~0u, .hello_depth = -1, .accepts = 4, .next_epoch = 8};
	struct prb_session_info si;
	struct prb_mapping *m = NULL;
	struct prb_session *s;

	scenario_name = "reconnect: restarted, same, another brick";
	s = fake_connect(&f, 0, 0);
	if (s) {
		EXPECT(prb_map(s, 0, PRB_MAPPING_RW, &m), 0);
		EXPECT(prb_reconnect(s), -ESTALE); /* epoch 7 -> 8 */
		EXPECT(prb_session_get_info(s, &si), 0);
		EXPECT(si.boot_epoch, 8);
		EXPECT(prb_mapping_status(m), -ESTALE);
		EXPECT(prb_write(m, 0, "x", 1), -ESTALE);
		EXPECT(prb_reconnect(s), 0); /* epoch 8 again */
		f.next_id = 9;		     /* read by the fake at the next HELLO only */
		EXPECT(prb_reconnect(s), -ENODEV);
		EXPECT(prb_session_status(s), -ENODEV);
		EXPECT(prb_keepalive(s), -ENOTCONN);
		EXPECT(prb_unmap(&m), -ESTALE);
	}
	fake_finish(&f, &s);
}

int main(void)
{
	const uint32_t digests = PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST;

	/* PRB-PDU-16..18 and PRB-TERM-2: which TERM libprb sends for each fault. */
	run_mangled("bad magic", mangle_magic, 0, -EPROTO,
		    (struct want_term){PRB_TERM_BAD_HEADER, PRB_HDR_MAGIC_OFFSET, 0});
	run_mangled("unknown tag", mangle_tag, 0, -EPROTO,
		    (struct want_term){PRB_TERM_SEQUENCE, PRB_HDR_TAG_OFFSET, -1});
	run_mangled("wrong opcode", mangle_opcode, 0, -EPROTO,
		    (struct want_term){PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET, -1});
	run_mangled("request to initiator", mangle_request_dir, 0, -EPROTO,
		    (struct want_term){PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET, -1});
	run_mangled("oversize plen", mangle_plen, 0, -EPROTO,
		    (struct want_term){PRB_TERM_PDU_TOO_LARGE, PRB_HDR_PLEN_OFFSET, -1});
	run_mangled("reserved header flag", mangle_reserved_flag, 0, -EPROTO,
		    (struct want_term){PRB_TERM_BAD_HEADER, PRB_HDR_FLAGS_OFFSET, -1});
	run_unknown_status("unknown status", mangle_status, 0);
	run_unknown_status("unknown status, both bytes", mangle_status_high, 0);
	run_unknown_status("unknown status with digests", mangle_status, digests);
	run_mangled("header digest", mangle_digest, PRB_FEATURE_HEADER_DIGEST, -EBADMSG,
		    (struct want_term){PRB_TERM_HEADER_DIGEST, PRB_HDR_SIZE, -1});
	run_read("READ ok", TWIST_NONE, 0, 0, 0);
	run_read("READ ok with digests", TWIST_NONE, digests, 0, 0);
	run_read("READ in 7-byte pieces", TWIST_SLOW, digests, 0, 0);
	run_read("READ too long", TWIST_LONG, 0, -ECONNRESET, -EPROTO);
	run_read("READ data digest", TWIST_BAD_DATA, digests, -ECONNRESET, -EBADMSG);
	run_swap();
	run_list("LIST within max", 3, 3, 0);
	run_list("LIST over max_extents", 5, -ECONNRESET, -EPROTO);
	run_list_lost();
	run_hello();
	run_endings();
	run_reconnect();
	if (failures) {
		fprintf(stderr, "test_hostile: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_hostile: all scenarios passed\n");
	return 0;
}
