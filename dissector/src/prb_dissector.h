/* Private interface between the modules of the prb Wireshark plugin.
 *
 * plugin.c registers everything; prb_pdu.c dissects one PDU of either binding; prb_body.c
 * walks the generated field tables; prb_conv.c pairs requests with responses and remembers
 * mappings and checks PDUs against the HELLO negotiation; prb_summary.c writes the Info
 * column; prb_stats.c feeds the service response time table; prb_tcp.c and prb_rdma.c are
 * the bindings.
 *
 * Wireshark keeps registered ids (protocol, fields, subtrees, expert infos, tap) and
 * preferences in globals that are written at registration or by the preference dialog:
 * the only global state of the plugin. Per-capture state lives in conversations and
 * per-frame data (file scope).
 */
#ifndef PRB_DISSECTOR_H
#define PRB_DISSECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <wireshark.h>

#include <epan/expert.h>
#include <epan/packet.h>

#include "prb_tables.h"
#include "prb_ws_fields.h"

enum prb_binding {
	PRB_BINDING_TCP,
	PRB_BINDING_RDMA,
};

/* Subtree ids. */
enum prb_ett {
	PRB_ETT_PDU,
	PRB_ETT_HDR,
	PRB_ETT_BODY,
	PRB_ETT_FLAGS,
	PRB_ETT_PAYLOAD,
	PRB_ETT_EXTENT,
	PRB_ETT_DIGEST,
	PRB_ETT_RDMA,
	PRB_ETT_COUNT
};

/* Expert infos. */
enum prb_ei {
	PRB_EI_BAD_MAGIC,
	PRB_EI_UNKNOWN_OPCODE,
	PRB_EI_BAD_HLEN,
	PRB_EI_BAD_PLEN,
	PRB_EI_LENGTH_ABSURD,
	PRB_EI_RESERVED,
	PRB_EI_RESERVED_BITS,
	PRB_EI_NOT_MEMBER,
	PRB_EI_OUT_OF_RANGE,
	PRB_EI_PAYLOAD_LENGTH,
	PRB_EI_STATUS_NOTE,
	PRB_EI_STATUS_WARN,
	PRB_EI_STATUS_IN_REQUEST,
	PRB_EI_HDGST_BAD,
	PRB_EI_DDGST_BAD,
	PRB_EI_DIGEST_FLAG,
	PRB_EI_DIGEST_NEGOTIATED,
	PRB_EI_QUEUE_OVERFLOW,
	PRB_EI_TERM,
	PRB_EI_NO_REQUEST,
	PRB_EI_RDMA_UNMAPPED,
	PRB_EI_RDMA_OUTSIDE,
	PRB_EI_CAPSULE_SPLIT,
	PRB_EI_COUNT
};

/* Header fields that do not come from the spec: links, digests, payload, annotations. */
enum prb_xf {
	PRB_XF_RESPONSE_BIT,
	PRB_XF_RESPONSE_IN,
	PRB_XF_REQUEST_IN,
	PRB_XF_TIME,
	PRB_XF_HDGST,
	PRB_XF_HDGST_STATUS,
	PRB_XF_HDGST_PAD,
	PRB_XF_DDGST,
	PRB_XF_DDGST_STATUS,
	PRB_XF_DATA,
	PRB_XF_PAYLOAD_LEN,
	PRB_XF_EXTENT,
	PRB_XF_BODY_EXTRA,
	PRB_XF_MAP_IN,
	PRB_XF_BLOCK,
	PRB_XF_RDMA,
	PRB_XF_RDMA_OFFSET,
	PRB_XF_RDMA_LENGTH,
	PRB_XF_RDMA_RKEY,
	PRB_XF_COUNT
};

extern int proto_prb;
extern int prb_ett[PRB_ETT_COUNT];
extern expert_field prb_ei[PRB_EI_COUNT];
extern int prb_xf[PRB_XF_COUNT];

/* Preferences (prb_tcp.c): the largest plen believed before the length is called absurd. */
extern unsigned prb_pref_max_pdu;

/* The common header of one PDU and what follows from it. */
struct prb_pdu {
	uint16_t magic;
	uint8_t opcode_byte;
	uint8_t flags;
	uint32_t plen;
	uint32_t tag;
	uint16_t status;
	uint16_t hlen;
	uint8_t opcode; /* without the response bit */
	bool response;
	bool error_response;	      /* status != 0 and hlen = 16 */
	const struct prb_ws_msg *msg; /* NULL: unknown opcode */
	uint32_t payload_offset;
	uint32_t payload_len;
	enum prb_binding binding;
	unsigned index; /* PDUs of this frame dissected before this one */
};

/* One request and its response, paired by tag on the first pass. */
struct prb_txn {
	uint32_t request_frame;
	uint32_t response_frame;
	nstime_t request_time;
	uint8_t opcode;
	uint64_t addr; /* MAP: the block */
	uint32_t map_flags;
	const char *summary; /* the request's Info text, file scope */
};

/* A MAP answered with a handle (and over RDMA an rkey and remote address). */
struct prb_mapping {
	uint64_t addr;
	uint64_t handle;
	uint64_t raddr;
	uint32_t rkey;
	uint32_t length;
	uint32_t map_flags;
	uint32_t map_frame;
	uint32_t unmap_frame; /* 0 while live */
};

/* prb_pdu.c */
/** Dissect one whole PDU (tvb starts at its first byte); returns the bytes consumed. */
int prb_dissect_pdu(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, enum prb_binding binding);
/** Opcode byte -> message layout, or NULL. */
const struct prb_ws_msg *prb_msg_of(uint8_t opcode_byte);
/** True when the 16 bytes at offset look like a prb header: magic, known opcode, sane lengths. */
bool prb_header_plausible(tvbuff_t *tvb, int offset);

/* prb_body.c */
/** Add the fields of layout at base to tree and check them against the spec. */
void prb_dissect_layout(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			const struct prb_ws_msg *layout, int base);
/** The field named name of layout, or NULL. */
const struct prb_ws_field *prb_layout_field(const struct prb_ws_msg *layout, const char *name);
/** The field that holds the payload length (bytes or records), or NULL. */
const struct prb_ws_field *prb_layout_payload_field(const struct prb_ws_msg *layout);
/** Value of the field named name of layout at base (0 when absent). */
uint64_t prb_layout_value(tvbuff_t *tvb, const struct prb_ws_msg *layout, int base,
			  const char *name);

/* prb_conv.c */
/** Pair pdu with its request or response and show the links; NULL when unpaired. */
struct prb_txn *prb_conv_track(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			       const struct prb_pdu *pdu, const char *request_summary);
/** Check pdu against what HELLO negotiated on its connection (digests, queue depth). */
void prb_conv_session(tvbuff_t *tvb, packet_info *pinfo, proto_item *pdu_item,
		      const struct prb_pdu *pdu, const struct prb_txn *txn);
/** Remember (first pass) or recall the mapping a MAP response or UNMAP request names. */
void prb_conv_mapping(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
		      const struct prb_pdu *pdu, const struct prb_txn *txn);
/** The mapping an rkey reached at this frame (between these two hosts), or NULL. */
const struct prb_mapping *prb_conv_rkey(packet_info *pinfo, uint32_t rkey);

/* prb_summary.c */
/** "ALLOC 0x40000000 x4": what a request asks for. */
const char *prb_summary_request(tvbuff_t *tvb, const struct prb_pdu *pdu, wmem_allocator_t *scope);
/** "EEXIST", "handle 0x...", "3 extents END": what a response answers. */
const char *prb_summary_result(tvbuff_t *tvb, const struct prb_pdu *pdu, wmem_allocator_t *scope);

/* prb_stats.c */
/** Hand a paired response's service time to the statistics tap. */
void prb_stats_response(packet_info *pinfo, const struct prb_pdu *pdu, const struct prb_txn *txn);
void prb_stats_register(void);

/* Bindings */
void prb_tcp_register(void);
void prb_tcp_handoff(void);
void prb_rdma_handoff(void);

#endif
