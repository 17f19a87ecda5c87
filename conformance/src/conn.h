/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The conformance suite's raw connection to a brick: a socket, the generated codec and
 * the optional CRC32C digests, nothing else. It sends exactly the bytes a test asks for,
 * so negative tests can send what a correct initiator never would (the role of
 * libiscsi's swappable queue_pdu), and it checks every PDU the brick sends back with the
 * generated decoders, so a malformed response fails the test that received it.
 */
#ifndef PRB_CONFORMANCE_CONN_H
#define PRB_CONFORMANCE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <prb/wire.h>

/* Largest PDU the suite accepts: a READ response of one whole block with both digests. */
#define CF_RX_MAX (PRB_BLOCK_SIZE + 4096U)

struct cf_conn {
	int fd;
	int timeout_ms; /* for each receive */
	uint32_t next_tag;
	bool hello_done;
	uint8_t digest_flags; /* PRB_HDR_HDGST / PRB_HDR_DDGST as negotiated */
	uint32_t max_pdu;     /* what the suite announced in its HELLO */
	struct prb_hello_rsp hello;
	bool got_term; /* the brick sent a TERM (last one in term) */
	struct prb_term term;
	uint8_t *rx; /* last PDU received */
	uint32_t rx_len;
	struct prb_hdr rx_hdr;
	char detail[256]; /* why the last call failed, for assertion messages */
};

/** Connect a TCP socket to \p url (no HELLO yet). \return 0 or a negative errno. */
int cf_conn_open(const char *url, int timeout_ms, struct cf_conn **out);
/** Close and free; NULL is a no-op. */
void cf_conn_close(struct cf_conn *c);

/** Send \p len raw bytes. \return 0 or a negative errno (-EPIPE when the brick closed). */
int cf_send_raw(struct cf_conn *c, const void *buf, size_t len);

/**
 * Receive one PDU into c->rx (header decoded into c->rx_hdr, digests checked when
 * negotiated). A TERM is recorded in c->term and reported as -ECONNABORTED.
 * \return 0, -ETIMEDOUT, -ECONNRESET (closed), -EBADMSG (bad digest or header from
 * the brick, see c->detail), -EMSGSIZE, or another negative errno.
 */
int cf_recv_pdu(struct cf_conn *c, int timeout_ms);

/**
 * Encode message \p id with the connection's digest flags, append \p payload and the
 * digests, into \p buf. \return the PDU length or a negative errno.
 */
int cf_build(const struct cf_conn *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
	     uint32_t payload_len, uint8_t *buf, size_t size);

/** cf_build then send; m->hdr.tag is set to a fresh tag unless \p keep_tag. */
int cf_send_msg(struct cf_conn *c, enum prb_msg_id id, union prb_msg *m, const void *payload,
		uint32_t payload_len, bool keep_tag);

/**
 * Receive the response to \p tag and decode it into \p rsp with the generated decoder.
 * \return the response status (PRB_ST_*, >= 0), or a negative errno: -ECONNABORTED after
 * a TERM, -EPROTO when the response does not decode (c->detail says why), ...
 * The payload of the response, if any, is at cf_rx_payload(c).
 */
int cf_recv_rsp(struct cf_conn *c, uint32_t tag, union prb_msg *rsp);

/** Send \p req and wait for its response (a blocking call). \return as cf_recv_rsp. */
int cf_call(struct cf_conn *c, enum prb_msg_id id, union prb_msg *req, const void *payload,
	    uint32_t payload_len, union prb_msg *rsp);

/** The payload of the last PDU received, and its length. */
const uint8_t *cf_rx_payload(const struct cf_conn *c, uint32_t *len);

/** HELLO with explicit fields. \return the status of the response or a negative errno. */
int cf_hello(struct cf_conn *c, const struct prb_hello_req *req);
/** HELLO as a plain initiator: version 1, \p features, queue depth 64, our max PDU. */
int cf_hello_default(struct cf_conn *c, uint32_t features);

/** Wait until the brick closes the connection. \return 0 when closed, -ETIMEDOUT. */
int cf_wait_closed(struct cf_conn *c, int timeout_ms);

#endif
