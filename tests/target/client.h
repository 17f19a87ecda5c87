/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small raw prb client for the target's integration tests: blocking TCP,
 * PDUs encoded and decoded with the generated codec, digests as negotiated, and a
 * raw send for what no correct initiator would send. Not libprb: nothing hides.
 */
#ifndef PRB_TEST_CLIENT_H
#define PRB_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <prb/wire.h>

struct tc {
	int fd;
	bool hdgst, ddgst;        /* negotiated */
	uint32_t next_tag;
	struct prb_hello_rsp hello;
	uint8_t *rbuf;            /* the last PDU received */
	size_t rbuf_size;
	uint16_t term_reason;     /* reason of the last TERM received */
	uint32_t term_offset;
};

/** A received PDU. */
struct tc_pdu {
	enum prb_msg_id id;
	union prb_msg msg;
	const uint8_t *payload;   /* into tc.rbuf, valid until the next receive */
	uint32_t payload_len;
	int decode;               /* the decoder's return */
};

/** Connect (no HELLO). \return 0 or a negative errno. */
int tc_connect(struct tc *c, const char *url);
/** Connect and HELLO with \p features and \p queue_depth. \return the HELLO status (0 OK). */
int tc_open(struct tc *c, const char *url, uint32_t features, uint16_t queue_depth);
/** Send a HELLO on a connected client. \return its status, or a negative errno. */
int tc_hello(struct tc *c, uint32_t features, uint16_t queue_depth);
void tc_close(struct tc *c);
/** Receive timeout in milliseconds (default 20000). */
void tc_set_timeout(struct tc *c, int ms);

int tc_send_raw(struct tc *c, const void *buf, size_t len);
/**
 * Encode and send a request: flags, digests and a fresh tag (stored in m->hdr.tag
 * unless \p keep_tag) are set here. \return 0 or a negative errno.
 */
int tc_send(struct tc *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
	    uint32_t payload_len, bool keep_tag);
/**
 * Receive one PDU (digests checked: a mismatch is -EBADMSG). A TERM is returned as
 * PRB_MSG_TERM with tc.term_reason set. \return 0, -ECONNRESET at end of stream,
 * -ETIMEDOUT, or a negative errno.
 */
int tc_recv(struct tc *c, struct tc_pdu *p);
/** True when the peer closed the connection (within the timeout). */
bool tc_closed_by_peer(struct tc *c);

/* Blocking calls: \return the response status (0 OK, else PRB_ST_*), or a negative errno
 * (-EPIPE after a TERM, -EPROTO for a response that does not match). */
int tc_call(struct tc *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
	    uint32_t payload_len, struct tc_pdu *rsp);
int tc_alloc(struct tc *c, uint64_t addr, uint32_t blocks);
int tc_free(struct tc *c, uint64_t addr, uint32_t blocks, uint32_t flags);
int tc_map(struct tc *c, uint64_t addr, uint32_t flags, uint64_t *handle);
int tc_unmap(struct tc *c, uint64_t handle);
int tc_read(struct tc *c, uint64_t handle, uint32_t offset, uint32_t length, void *buf);
int tc_write(struct tc *c, uint64_t handle, uint32_t offset, const void *buf, uint32_t length);
int tc_flush(struct tc *c, uint64_t handle, uint32_t offset, uint32_t length);
int tc_cas(struct tc *c, uint64_t handle, uint32_t offset, uint64_t compare, uint64_t swap,
	   uint64_t *original);
int tc_fadd(struct tc *c, uint64_t handle, uint32_t offset, uint64_t add, uint64_t *original);
int tc_info(struct tc *c, struct prb_info_rsp *info);
int tc_keepalive(struct tc *c);
/** LIST: extents into \p out (up to max_extents). */
int tc_list(struct tc *c, uint64_t cursor, uint32_t max_extents, struct prb_extent *out,
	    uint32_t *count, uint64_t *next, uint32_t *flags);
/** Count allocated blocks by listing everything (resident + tiered). \return 0 or status. */
int tc_list_all(struct tc *c, uint64_t *blocks, uint64_t *tiered);

/** Deterministic test bytes: fill \p buf with a pattern of \p seed. */
void tc_pattern(void *buf, size_t len, uint64_t seed);

/**
 * A "NAME: N kB" field of the target's /proc/PID/status (PID from PRB_TARGET_PID, set by
 * scripts/with-target.sh), such as "VmRSS" or "RssAnon". \return N, or -1.
 */
long tc_target_status_kib(const char *field);

/** One test of a test program: 0 when it passes. */
struct tc_test {
	const char *name;
	int (*fn)(void);
};

/**
 * The main of a test program run under scripts/with-target.sh: `PROGRAM NAME...` runs the
 * named tests of \p tests (PASS or FAIL per test), `PROGRAM --list` lists them. \p url
 * gets PRB_URL before the first test runs. \return the exit status (0: all passed, 1: a
 * test failed, 2: usage).
 */
int tc_main(const struct tc_test *tests, size_t count, int argc, char **argv, const char **url);

#endif
