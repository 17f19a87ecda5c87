/* Conversation state: requests paired with responses by tag, handles and remote keys
 * tied to the MAP that created them. Built on the first pass, read on every pass. */
#include "prb_dissector.h"

#include <inttypes.h>

#include <epan/conversation.h>
#include <epan/proto_data.h>

/* File-scope keys of per-frame data: three per PDU of the frame, one for the RDMA access. */
#define PRB_KEY_TXN(index)     (1U + 3U * (index))
#define PRB_KEY_MAPPING(index) (2U + 3U * (index))
#define PRB_KEY_SESSION(index) (3U + 3U * (index))
#define PRB_KEY_RKEY	       0xffffffffU

/* What one conversation (TCP connection, or the RDMA peers' address pair) remembers. */
struct prb_conv {
	wmem_map_t *pending;  /* tag -> struct prb_txn *, requests not yet answered */
	wmem_map_t *handles;  /* uint64_t handle -> struct prb_mapping * */
	wmem_map_t *rkeys;    /* rkey -> struct prb_mapping *, RDMA: the MAP seen last wins */
	uint32_t hello_frame; /* the HELLO response that set what follows; 0 before */
	uint8_t digests;      /* PRB_HDR_HDGST and PRB_HDR_DDGST as negotiated (TCP) */
	uint16_t queue_depth; /* granted */
};

/* What the first pass found wrong with a PDU against the negotiated parameters. */
struct prb_session_finding {
	uint32_t hello_frame;
	uint8_t expected_flags; /* digest flags the PDU should carry */
	bool flags_wrong;
	uint32_t outstanding; /* requests outstanding with this one, when above the depth */
	uint16_t queue_depth;
};

/* The conversation of this PDU: TCP's own, or for RDMA the pair of network addresses
 * (requests and responses travel between different queue pairs, and the CM MADs that carry
 * HELLO have the infiniband dissector set pinfo->src to an IB address). */
static conversation_t *find_conv(packet_info *pinfo, enum prb_binding binding, bool create)
{
	conversation_t *conv;

	if (binding == PRB_BINDING_TCP)
		return find_or_create_conversation(pinfo);
	conv = find_conversation(pinfo->num, &pinfo->net_src, &pinfo->net_dst, CONVERSATION_NONE, 0,
				 0, 0);
	if (conv == NULL && create)
		conv = conversation_new(pinfo->num, &pinfo->net_src, &pinfo->net_dst,
					CONVERSATION_NONE, 0, 0, 0);
	return conv;
}

static struct prb_conv *conv_data(packet_info *pinfo, enum prb_binding binding)
{
	conversation_t *conv = find_conv(pinfo, binding, true);
	struct prb_conv *data = conversation_get_proto_data(conv, proto_prb);

	if (data == NULL) {
		data = wmem_new0(wmem_file_scope(), struct prb_conv);
		data->pending = wmem_map_new(wmem_file_scope(), g_direct_hash, g_direct_equal);
		data->handles = wmem_map_new(wmem_file_scope(), g_int64_hash, g_int64_equal);
		data->rkeys = wmem_map_new(wmem_file_scope(), g_direct_hash, g_direct_equal);
		conversation_add_proto_data(conv, proto_prb, data);
	}
	return data;
}

/* First pass: open a transaction for a request, or close the one a response answers. */
static struct prb_txn *pair(tvbuff_t *tvb, packet_info *pinfo, const struct prb_pdu *pdu,
			    const char *summary)
{
	struct prb_conv *conv = conv_data(pinfo, pdu->binding);
	void *tag = GUINT_TO_POINTER(pdu->tag);
	struct prb_txn *txn;

	if (!pdu->response) {
		txn = wmem_new0(wmem_file_scope(), struct prb_txn);
		txn->request_frame = pinfo->num;
		txn->request_time = pinfo->abs_ts;
		txn->opcode = pdu->opcode;
		txn->summary = wmem_strdup(wmem_file_scope(), summary);
		if (pdu->opcode == PRB_OP_MAP && pdu->hlen == pdu->msg->size) {
			txn->addr = prb_layout_value(tvb, pdu->msg, 0, "addr");
			txn->map_flags = (uint32_t)prb_layout_value(tvb, pdu->msg, 0, "map_flags");
		}
		wmem_map_insert(conv->pending, tag, txn);
		return txn;
	}
	txn = wmem_map_lookup(conv->pending, tag);
	if (txn == NULL || txn->opcode != pdu->opcode)
		return NULL;
	txn->response_frame = pinfo->num;
	wmem_map_remove(conv->pending, tag);
	return txn;
}

struct prb_txn *prb_conv_track(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			       const struct prb_pdu *pdu, const char *request_summary)
{
	struct prb_txn *txn;
	proto_item *item;
	nstime_t delta;

	if (pdu->msg->direction == PRB_WS_EITHER)
		return NULL;
	if (!PINFO_FD_VISITED(pinfo)) {
		txn = pair(tvb, pinfo, pdu, request_summary);
		if (txn != NULL)
			p_add_proto_data(wmem_file_scope(), pinfo, proto_prb,
					 PRB_KEY_TXN(pdu->index), txn);
	}
	txn = p_get_proto_data(wmem_file_scope(), pinfo, proto_prb, PRB_KEY_TXN(pdu->index));
	if (txn == NULL) {
		if (pdu->response)
			expert_add_info(pinfo, proto_tree_get_parent(tree),
					&prb_ei[PRB_EI_NO_REQUEST]);
		return NULL;
	}
	if (!pdu->response) {
		if (txn->response_frame != 0) {
			item = proto_tree_add_uint(tree, prb_xf[PRB_XF_RESPONSE_IN], tvb, 0, 0,
						   txn->response_frame);
			proto_item_set_generated(item);
		}
		return txn;
	}
	item = proto_tree_add_uint(tree, prb_xf[PRB_XF_REQUEST_IN], tvb, 0, 0, txn->request_frame);
	proto_item_set_generated(item);
	nstime_delta(&delta, &pinfo->abs_ts, &txn->request_time);
	item = proto_tree_add_time(tree, prb_xf[PRB_XF_TIME], tvb, 0, 0, &delta);
	proto_item_set_generated(item);
	return txn;
}

/* First pass: a HELLO response's grants, or a later PDU checked against them. */
static struct prb_session_finding *check_session(tvbuff_t *tvb, packet_info *pinfo,
						 const struct prb_pdu *pdu,
						 const struct prb_txn *txn)
{
	struct prb_conv *conv = conv_data(pinfo, pdu->binding);
	struct prb_session_finding f = {.hello_frame = conv->hello_frame};
	struct prb_session_finding *out;

	if (pdu->opcode == PRB_OP_HELLO) {
		if (pdu->response && txn != NULL && pdu->status == 0 &&
		    pdu->hlen == pdu->msg->size) {
			uint64_t features = prb_layout_value(tvb, pdu->msg, 0, "features");

			conv->hello_frame = pinfo->num;
			conv->queue_depth =
				(uint16_t)prb_layout_value(tvb, pdu->msg, 0, "queue_depth");
			conv->digests =
				(uint8_t)(((features & PRB_FEAT_HDGST) ? PRB_HDR_HDGST : 0U) |
					  ((features & PRB_FEAT_DDGST) ? PRB_HDR_DDGST : 0U));
			if (pdu->binding == PRB_BINDING_RDMA)
				conv->digests = 0;
		}
		return NULL;
	}
	if (conv->hello_frame == 0)
		return NULL;
	f.expected_flags = (uint8_t)(conv->digests & PRB_HDR_HDGST);
	if ((conv->digests & PRB_HDR_DDGST) && pdu->payload_len > 0)
		f.expected_flags |= PRB_HDR_DDGST;
	f.flags_wrong = (pdu->flags & (PRB_HDR_HDGST | PRB_HDR_DDGST)) != f.expected_flags;
	if (!pdu->response && conv->queue_depth != 0 &&
	    wmem_map_size(conv->pending) > conv->queue_depth) {
		f.outstanding = wmem_map_size(conv->pending);
		f.queue_depth = conv->queue_depth;
	}
	if (!f.flags_wrong && f.outstanding == 0)
		return NULL;
	out = wmem_new(wmem_file_scope(), struct prb_session_finding);
	*out = f;
	return out;
}

void prb_conv_session(tvbuff_t *tvb, packet_info *pinfo, proto_item *pdu_item,
		      const struct prb_pdu *pdu, const struct prb_txn *txn)
{
	const struct prb_session_finding *f;

	if (pdu->msg->direction == PRB_WS_EITHER)
		return;
	if (!PINFO_FD_VISITED(pinfo)) {
		struct prb_session_finding *found = check_session(tvb, pinfo, pdu, txn);

		if (found != NULL)
			p_add_proto_data(wmem_file_scope(), pinfo, proto_prb,
					 PRB_KEY_SESSION(pdu->index), found);
	}
	f = p_get_proto_data(wmem_file_scope(), pinfo, proto_prb, PRB_KEY_SESSION(pdu->index));
	if (f == NULL)
		return;
	if (f->flags_wrong)
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_DIGEST_NEGOTIATED],
				       "Digest flags 0x%x differ from those negotiated in frame %u "
				       "(0x%x here)",
				       pdu->flags & (PRB_HDR_HDGST | PRB_HDR_DDGST), f->hello_frame,
				       f->expected_flags);
	if (f->outstanding != 0)
		expert_add_info_format(
			pinfo, pdu_item, &prb_ei[PRB_EI_QUEUE_OVERFLOW],
			"%u requests outstanding, above the queue depth %u granted in "
			"frame %u",
			f->outstanding, f->queue_depth, f->hello_frame);
}

/* First pass: the mapping a PDU creates (MAP response) or uses (a request with a handle). */
static struct prb_mapping *remember(tvbuff_t *tvb, packet_info *pinfo, const struct prb_pdu *pdu,
				    const struct prb_txn *txn)
{
	struct prb_conv *conv = conv_data(pinfo, pdu->binding);
	struct prb_mapping *m;
	uint64_t handle;

	if (pdu->response) {
		if (pdu->opcode != PRB_OP_MAP || txn == NULL || pdu->status != 0 ||
		    pdu->hlen != pdu->msg->size)
			return NULL;
		m = wmem_new0(wmem_file_scope(), struct prb_mapping);
		m->addr = txn->addr;
		m->map_flags = txn->map_flags;
		m->handle = prb_layout_value(tvb, pdu->msg, 0, "handle");
		m->raddr = prb_layout_value(tvb, pdu->msg, 0, "raddr");
		m->rkey = (uint32_t)prb_layout_value(tvb, pdu->msg, 0, "rkey");
		m->length = (uint32_t)prb_layout_value(tvb, pdu->msg, 0, "length");
		m->map_frame = pinfo->num;
		wmem_map_insert(conv->handles, &m->handle, m);
		if (m->rkey != 0)
			wmem_map_insert(conv->rkeys, GUINT_TO_POINTER(m->rkey), m);
		return m;
	}
	if (prb_layout_field(pdu->msg, "handle") == NULL || pdu->hlen != pdu->msg->size)
		return NULL;
	handle = prb_layout_value(tvb, pdu->msg, 0, "handle");
	m = wmem_map_lookup(conv->handles, &handle);
	if (m != NULL && pdu->opcode == PRB_OP_UNMAP && m->unmap_frame == 0)
		m->unmap_frame = pinfo->num;
	return m;
}

void prb_conv_mapping(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
		      const struct prb_pdu *pdu, const struct prb_txn *txn)
{
	const struct prb_mapping *m;
	proto_item *item;

	if (pdu->msg->direction == PRB_WS_EITHER)
		return;
	if (!PINFO_FD_VISITED(pinfo)) {
		m = remember(tvb, pinfo, pdu, txn);
		if (m != NULL)
			p_add_proto_data(wmem_file_scope(), pinfo, proto_prb,
					 PRB_KEY_MAPPING(pdu->index), (void *)m);
	}
	m = p_get_proto_data(wmem_file_scope(), pinfo, proto_prb, PRB_KEY_MAPPING(pdu->index));
	if (m == NULL)
		return;
	item = proto_tree_add_uint64(tree, prb_xf[PRB_XF_BLOCK], tvb, 0, 0, m->addr);
	proto_item_set_generated(item);
	if (m->map_frame != pinfo->num) {
		item = proto_tree_add_uint(tree, prb_xf[PRB_XF_MAP_IN], tvb, 0, 0, m->map_frame);
		proto_item_set_generated(item);
	}
}

const struct prb_mapping *prb_conv_rkey(packet_info *pinfo, uint32_t rkey)
{
	if (!PINFO_FD_VISITED(pinfo)) {
		/* Only between hosts that exchanged capsules: other protocols' RDMA traffic
		 * creates no prb state. */
		conversation_t *conv = find_conv(pinfo, PRB_BINDING_RDMA, false);
		struct prb_conv *data = conv ? conversation_get_proto_data(conv, proto_prb) : NULL;
		struct prb_mapping *m =
			data ? wmem_map_lookup(data->rkeys, GUINT_TO_POINTER(rkey)) : NULL;

		if (m != NULL)
			p_add_proto_data(wmem_file_scope(), pinfo, proto_prb, PRB_KEY_RKEY, m);
	}
	return p_get_proto_data(wmem_file_scope(), pinfo, proto_prb, PRB_KEY_RKEY);
}
