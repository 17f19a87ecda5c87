/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libprb private header: the session, its request slots, mappings, and the
 * transport ops table that TCP implements now and RDMA later.
 *
 * The path of one request: prb_async_* or a blocking call checks the arguments
 * (check.c), takes a slot (queue.c), and queues it; prb_submit hands queued
 * slots to the transport (tcp.c: encode with proto.c, writev); the transport
 * receives the answer, matches its tag to the slot and calls
 * prb_proto_complete (proto.c: decode, fill the caller's outputs), then
 * prb_queue_finish routes the result to a blocking waiter or the completion
 * ring that prb_reap empties (async.c).
 */
#ifndef PRB_LIB_INTERNAL_H
#define PRB_LIB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <prb/prb.h>
#include <prb/wire.h>

/* Largest fixed part of any request plus its header digest. */
#define PRB_REQ_PDU_MAX 64u

/* Announced max_pdu: one full data PDU with both digests, rounded up. */
#define PRB_RX_MAX_PDU (PRB_MAX_DATA_LIMIT + 4096u)

struct prb_session;
struct prb_request;

/* Where the result of a request goes: a blocking caller's waiter, or the ring. */
struct prb_waiter {
	unsigned pending; /* requests not yet finished */
	int result;	  /* first error seen, else 0 */
	int count;	  /* LIST: extent count of the last page */
};

enum prb_request_state {
	PRB_REQ_FREE = 0,
	PRB_REQ_QUEUED,	  /* in the session's queue, not yet handed to the transport */
	PRB_REQ_INFLIGHT, /* handed to the transport, answer awaited */
};

/* One request slot; its index is the low 16 bits of the wire tag. */
struct prb_request {
	enum prb_request_state state;
	uint8_t opcode; /* PRB_OP_* of the request */
	uint32_t tag;	/* index | generation << 16 */
	uint16_t generation;
	struct prb_request *next; /* queue or free list link */

	/* Parameters. */
	uint64_t addr;
	uint32_t blocks;
	uint32_t flags;
	struct prb_mapping *mapping;
	uint64_t handle;
	uint32_t offset;
	uint32_t length;
	void *read_buf;
	const void *write_buf;
	uint64_t compare;
	uint64_t operand; /* CAS swap, FADD addend */

	/* Outputs. */
	struct prb_brick_info *info_out;
	struct prb_mapping **mapping_out;
	struct prb_list_extent *extents_out;
	uint32_t max_extents;
	struct prb_list_page *page_out;
	uint64_t *original_out;

	/* Completion routing. */
	struct prb_waiter *waiter; /* NULL: user request, result goes to the ring */
	uint64_t user_data;

	/* Transport scratch: encoded fixed part, digests and send progress. */
	uint8_t pdu[PRB_REQ_PDU_MAX];
	uint32_t pdu_len;  /* fixed part + header digest */
	uint8_t ddgst[4];  /* WRITE data digest */
	uint32_t sent;	   /* bytes of this PDU already written */
	uint32_t wire_len; /* whole PDU length */
};

/* What run_direct returns when it did not finish the operation (both positive). */
#define PRB_DIRECT_DECLINED 1
#define PRB_DIRECT_PENDING 2

/*
 * A transport binding. The core never touches sockets or verbs; a transport
 * never decodes a response body (proto.c does, for both bindings).
 */
struct prb_transport_ops {
	const char *name;
	/* Connect and run HELLO; on success set s->transport_ctx and s->params. */
	int (*open)(struct prb_session *s, const struct prb_url *url);
	/* Close and free the context (NULL-safe). */
	void (*close)(struct prb_session *s);
	/* Take a queued request onto the wire (may only stage it). */
	int (*start)(struct prb_session *s, struct prb_request *r);
	/*
	 * Send what is staged, receive and complete answers; wait at most timeout_ms
	 * (-1: no limit) for something to happen. Returns >= 0, or a negative errno
	 * when the connection failed (the caller then fails everything in flight).
	 */
	int (*progress)(struct prb_session *s, int timeout_ms);
	/* Descriptor to poll. */
	int (*fd)(const struct prb_session *s);
	/*
	 * Optional (RDMA): start a blocking call's one request, then busy-poll a bounded
	 * while for its completion (no clock, no sleep). Returns as start does; r's waiter
	 * tells whether it finished (prb_queue_run waits the normal way if not).
	 */
	int (*start_spin)(struct prb_session *s, struct prb_request *r);
	/*
	 * Optional (RDMA): a blocking READ or WRITE (checked, len within one request) started
	 * without a request slot, then busy-polled as start_spin does: the lean path of a
	 * single operation. Returns its result; PRB_DIRECT_DECLINED when it does not apply
	 * (nothing was started); PRB_DIRECT_PENDING when it was started but has not
	 * completed: its work names the slot at the head of the free list, which the
	 * caller must take for it at once (prb_queue_run_started).
	 */
	int (*run_direct)(struct prb_mapping *m, uint8_t opcode, uint64_t offset, void *read_buf,
			  const void *write_buf, size_t len);
	/* Optional (RDMA): the caller's registered buffers changed (buffers.c). */
	int (*buffers_changed)(struct prb_session *s);
};

extern const struct prb_transport_ops prb_tcp_transport;
#ifdef PRB_HAVE_RDMA
extern const struct prb_transport_ops prb_rdma_transport;
#endif

struct prb_opts {
	unsigned connect_timeout_ms;
	unsigned io_timeout_ms;
	unsigned queue_depth;
	uint32_t features;
	uint8_t host_id[16];
	unsigned busy_poll; /* TCP: non-blocking receives before sleeping */
	unsigned rdma_spin_us; /* RDMA: completion queue polling before sleeping */
};

struct prb_mapping {
	struct prb_session *session;
	struct prb_mapping *prev, *next; /* session's list of mappings */
	uint64_t addr;
	uint64_t handle;
	uint64_t raddr;
	uint32_t rkey;
	unsigned flags;
	uint64_t connection; /* session's connection number when mapped */
	bool revoked;	     /* the brick answered ESTALE */
	bool unmapping;	     /* the owner let go (UNMAP queued or done): freed at refs 0 */
	uint32_t refs;	     /* requests in flight that name this mapping */
};

struct prb_list_iter {
	struct prb_session *session;
	struct prb_list_iter *prev, *next;
	uint64_t cursor; /* next page starts here */
	bool end;	 /* last page fetched */
	struct prb_list_extent *page;
	uint32_t page_cap;
	uint32_t count, index;
	struct prb_list_extent current;
	bool have_current;
};

/* A TERM this side must send before it closes the connection. */
struct prb_term_owed {
	bool set;
	uint16_t reason; /* PRB_TERM_* */
	uint32_t offset; /* term.error_offset */
	uint32_t tag;	 /* hdr.tag of the TERM: the offending PDU's, or 0 */
};

struct prb_session {
	char url[300];
	struct prb_url parsed_url;
	struct prb_opts opts;
	const struct prb_transport_ops *transport;
	void *transport_ctx;

	/* Negotiated at connect. */
	struct prb_session_info params;
	uint32_t max_write; /* largest WRITE payload: max_data and the brick's max_pdu */
	bool connected;
	int status; /* 0, or why the connection ended */
	unsigned term_reason;
	/* The TERM owed to the brick for a fault found in what it sent (PRB-PDU-16..18,
	 * PRB-DGST-6, PRB-HELLO-24): set where the fault is found, sent when the
	 * transport closes, if it can be sent without cutting a request in two. */
	struct prb_term_owed term_owed;
	uint64_t connection; /* grows at every successful connect */
	bool ever_connected;

	/* Request slots: as many as the brick granted. */
	struct prb_request *slots;
	uint32_t slot_count;
	struct prb_request *free_slots;
	struct prb_request *queue_head, *queue_tail; /* queued, not yet started */
	uint32_t inflight;			     /* slots started */

	/* Asynchronous accounting: user requests from queueing to reaping. */
	uint32_t user_depth;
	uint32_t user_outstanding;
	struct prb_completion *ring;
	uint32_t ring_cap; /* >= user_depth, and >= completions kept over a reconnect */
	uint32_t ring_head, ring_count;

	struct prb_mapping *mappings;
	struct prb_list_iter *iters;
	struct prb_buffer_registry *buffers; /* prb_register_buffer regions (buffers.c) */
};

/* check.c: argument checks shared by blocking and asynchronous calls. */
int prb_check_range(uint64_t addr, uint32_t blocks);
int prb_check_data(const struct prb_mapping *m, uint64_t offset, size_t len, bool write);
int prb_check_atomic(const struct prb_mapping *m, uint64_t offset);
int prb_mapping_live(const struct prb_mapping *m);

/* queue.c: slots, tags, the request queue and completion routing. */
int prb_queue_init(struct prb_session *s, uint32_t slots, uint32_t user_depth);
void prb_queue_drop_all(struct prb_session *s);
void prb_queue_fini(struct prb_session *s);
struct prb_request *prb_queue_get(struct prb_session *s);
int prb_queue_get_wait(struct prb_session *s, struct prb_request **r);
void prb_queue_push(struct prb_session *s, struct prb_request *r);
struct prb_request *prb_queue_lookup(struct prb_session *s, uint32_t tag);
void prb_queue_finish(struct prb_session *s, struct prb_request *r, int result);
int prb_queue_start_all(struct prb_session *s);
int prb_queue_progress(struct prb_session *s, int timeout_ms);
void prb_queue_fail_all(struct prb_session *s, int result);
int prb_queue_wait(struct prb_session *s, struct prb_waiter *w);
int prb_queue_run(struct prb_session *s, struct prb_request *r);
int prb_queue_run_started(struct prb_session *s, struct prb_request *r);
struct prb_request *prb_queue_hold(struct prb_session *s);
void prb_queue_unhold(struct prb_session *s, struct prb_request *r);

/* proto.c: request encoding and response decoding (both bindings). */
int prb_proto_encode(const struct prb_session *s, struct prb_request *r, uint8_t flags, void *buf,
		     size_t len);
int prb_proto_complete(struct prb_session *s, struct prb_request *r, const uint8_t *pdu,
		       size_t len);
/* Little-endian 32-bit fields of PDUs (digests, tags) outside the generated codec. */
static inline void prb_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t prb_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Longest error response: the header and its digest (PRB-PDU-10). */
#define PRB_ERROR_RSP_MAX (PRB_HDR_SIZE + PRB_HDGST_SIZE)
/*
 * Decode a header, or a whole PDU, from the brick as prb_hdr_decode and
 * prb_msg_decode do, except that an unknown status reads as EIO (PRB-VER-9).
 */
int prb_proto_hdr_decode(const uint8_t *pdu, size_t len, struct prb_hdr *h);
int prb_proto_msg_decode(const uint8_t *pdu, size_t len, union prb_msg *m, enum prb_msg_id *id);
/*
 * Check a successful hello_rsp against what the session asked (version, queue depth,
 * features beyond the informational ones or in \p refused) and record its parameters in
 * s->params, all but max_data, which is the binding's to set. \return 0, or -EPROTO
 * with the TERM owed set (PRB-HELLO-24).
 */
int prb_proto_hello_accept(struct prb_session *s, const struct prb_hello_rsp *m, uint32_t refused);
/*
 * Note the TERM owed to the brick (the first fault found wins). \return \p rc, so that
 * a check can end with `return prb_proto_fault(s, -EPROTO, ...)`.
 */
int prb_proto_fault(struct prb_session *s, int rc, uint16_t reason, uint32_t offset, uint32_t tag);
/*
 * The fault of a PDU from the brick that failed to decode (\p len bytes at \p pdu):
 * BAD_HEADER at the field at fault, SEQUENCE for an opcode that no request has, tag 0
 * for a wrong magic (PRB-TERM-2). \return \p rc.
 */
int prb_proto_fault_decode(struct prb_session *s, int rc, const uint8_t *pdu, size_t len);
/* Encode the owed TERM with \p flags (the header digest when in force) into \p buf.
 * \return its length, or a negative errno. */
int prb_proto_term_encode(const struct prb_session *s, uint8_t flags, uint8_t *buf, size_t size);
uint32_t prb_request_payload(const struct prb_request *r);

/* buffers.c: regions given to prb_register_buffer, kept across reconnects. */
#define PRB_MAX_BUFFERS 64u
struct prb_buffer_span {
	void *addr;
	size_t len;
};
const struct prb_buffer_span *prb_buffers_get(const struct prb_session *s, unsigned *count);
void prb_buffers_free(struct prb_session *s);

/* session.c */
void prb_session_lost(struct prb_session *s, int why);
/* The monotonic clock (vDSO), in three units. */
uint64_t prb_now_ms(void);
uint64_t prb_now_us(void);
uint64_t prb_now_ns(void);

/* mapping.c */
int prb_mapping_create(struct prb_session *s, uint64_t addr, unsigned flags, uint64_t handle,
		       uint64_t raddr, uint32_t rkey, struct prb_mapping **out);
void prb_mapping_link(struct prb_mapping *m);
void prb_mapping_destroy(struct prb_mapping *m);

/* list.c */
void prb_list_detach_all(struct prb_session *s);

/* async.c: queue helpers used by the blocking calls too. */
int prb_submit_info(struct prb_session *s, struct prb_waiter *w, struct prb_brick_info *info,
		    uint64_t user_data);
int prb_submit_simple(struct prb_session *s, struct prb_waiter *w, uint8_t opcode, uint64_t addr,
		      uint32_t blocks, uint32_t flags, uint64_t user_data);
int prb_submit_map(struct prb_session *s, struct prb_waiter *w, uint64_t addr, unsigned flags,
		   struct prb_mapping **out, uint64_t user_data);
int prb_submit_unmap(struct prb_mapping *m, struct prb_waiter *w, uint64_t user_data);
int prb_submit_list(struct prb_session *s, struct prb_waiter *w, uint64_t cursor,
		    struct prb_list_extent *extents, uint32_t max, struct prb_list_page *page,
		    uint64_t user_data);
int prb_submit_data(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode, uint64_t offset,
		    void *read_buf, const void *write_buf, size_t len, uint64_t user_data);
int prb_submit_atomic(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode, uint64_t offset,
		      uint64_t compare, uint64_t operand, uint64_t *original, uint64_t user_data);
int prb_run_data(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode, uint64_t offset,
		 void *read_buf, const void *write_buf, size_t len);
int prb_run_atomic(struct prb_mapping *m, struct prb_waiter *w, uint8_t opcode, uint64_t offset,
		   uint64_t compare, uint64_t operand, uint64_t *original);

#endif /* PRB_LIB_INTERNAL_H */
