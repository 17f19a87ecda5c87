/* RDMA binding over RoCE/InfiniBand: control capsules in SEND payloads and in rdma_cm
 * private data (HELLO), and one-sided RDMA READ/WRITE annotated with the MAP behind their
 * remote key. Wireshark 4.0 hands the RETH of RDMA WRITE (first/only) and READ request
 * packets to the infiniband.payload heuristics in struct infinibandinfo. */
#include "prb_dissector.h"

#include <inttypes.h>

#include <epan/exceptions.h>
#include <epan/dissectors/packet-infiniband.h>

/* A capsule: one whole PDU at the start of the payload. */
static bool dissect_capsule(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
	uint32_t plen;

	if (!prb_header_plausible(tvb, 0))
		return false;
	plen = tvb_get_letohl(tvb, PRB_WS_HDR_PLEN);
	if (plen > tvb_reported_length(tvb))
		return false;
	prb_dissect_pdu(tvb_new_subset_length(tvb, 0, (int)plen), pinfo, tree, PRB_BINDING_RDMA);
	return true;
}

/* The first packet of a multi-packet SEND (a capsule longer than the path MTU, e.g. a long
 * LIST response): Wireshark does not reassemble SENDs, so show what this packet holds. */
static bool dissect_capsule_start(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
	uint32_t plen;
	int have = (int)tvb_captured_length(tvb);

	if (!prb_header_plausible(tvb, 0))
		return false;
	plen = tvb_get_letohl(tvb, PRB_WS_HDR_PLEN);
	if (plen <= tvb_reported_length(tvb))
		return dissect_capsule(tvb, pinfo, tree);
	proto_tree_add_expert_format(tree, pinfo, &prb_ei[PRB_EI_CAPSULE_SPLIT], tvb, 0, have,
				     "Capsule of %u bytes continues in the next SEND packets "
				     "(not reassembled): %d bytes shown",
				     plen, have);
	TRY
	{
		prb_dissect_pdu(tvb_new_subset_length_caplen(tvb, 0, have, (int)plen), pinfo, tree,
				PRB_BINDING_RDMA);
	}
	CATCH_BOUNDS_ERRORS
	{
		/* The rest of the payload is in the following packets. */
	}
	ENDTRY;
	return true;
}

/* An RDMA READ request or WRITE whose rkey a MAP response handed out. */
static bool annotate_access(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			    const struct infinibandinfo *info)
{
	const struct prb_mapping *m = prb_conv_rkey(pinfo, info->reth_remote_key);
	bool write = info->opCode != RC_RDMA_READ_REQUEST;
	proto_item *item, *sub_item;
	proto_tree *sub;
	uint64_t offset;

	if (m == NULL)
		return false;
	offset = info->reth_remote_address - m->raddr;
	col_set_str(pinfo->cinfo, COL_PROTOCOL, "PRB");
	col_append_fstr(pinfo->cinfo, COL_INFO,
			" [prb RDMA %s block 0x%" PRIx64 " +0x%" PRIx64 " len %u]",
			write ? "WRITE" : "READ", m->addr, offset, info->reth_dma_length);
	item = proto_tree_add_item(tree, prb_xf[PRB_XF_RDMA], tvb, 0, -1, ENC_NA);
	proto_item_append_text(item, ": %s block 0x%" PRIx64 " +0x%" PRIx64,
			       write ? "WRITE" : "READ", m->addr, offset);
	sub = proto_item_add_subtree(item, prb_ett[PRB_ETT_RDMA]);
	sub_item = proto_tree_add_uint(sub, prb_xf[PRB_XF_RDMA_RKEY], tvb, 0, 0,
				       info->reth_remote_key);
	proto_item_set_generated(sub_item);
	sub_item = proto_tree_add_uint64(sub, prb_xf[PRB_XF_BLOCK], tvb, 0, 0, m->addr);
	proto_item_set_generated(sub_item);
	sub_item = proto_tree_add_uint64(sub, prb_xf[PRB_XF_RDMA_OFFSET], tvb, 0, 0, offset);
	proto_item_set_generated(sub_item);
	if (info->reth_remote_address < m->raddr ||
	    offset + info->reth_dma_length > (uint64_t)m->length)
		expert_add_info(pinfo, sub_item, &prb_ei[PRB_EI_RDMA_OUTSIDE]);
	sub_item = proto_tree_add_uint(sub, prb_xf[PRB_XF_RDMA_LENGTH], tvb, 0, 0,
				       info->reth_dma_length);
	proto_item_set_generated(sub_item);
	sub_item = proto_tree_add_uint(sub, prb_xf[PRB_XF_MAP_IN], tvb, 0, 0, m->map_frame);
	proto_item_set_generated(sub_item);
	if (m->unmap_frame != 0 && m->unmap_frame < pinfo->num)
		expert_add_info_format(pinfo, sub_item, &prb_ei[PRB_EI_RDMA_UNMAPPED],
				       "Remote key 0x%x used after its UNMAP in frame %u",
				       info->reth_remote_key, m->unmap_frame);
	if (tvb_reported_length(tvb) > 0)
		proto_tree_add_item(sub, prb_xf[PRB_XF_DATA], tvb, 0, -1, ENC_NA);
	return true;
}

static gboolean prb_ib_payload_heuristic(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
					 void *data)
{
	const struct infinibandinfo *info = data;

	if (info == NULL)
		return FALSE;
	switch (info->opCode) {
	case RC_SEND_ONLY:
	case RC_SEND_ONLY_IMM:
	case RC_SEND_ONLY_INVAL:
		return dissect_capsule(tvb, pinfo, tree) ? TRUE : FALSE;
	case RC_SEND_FIRST:
		return dissect_capsule_start(tvb, pinfo, tree) ? TRUE : FALSE;
	case RC_RDMA_WRITE_FIRST:
	case RC_RDMA_WRITE_ONLY:
	case RC_RDMA_WRITE_ONLY_IMM:
	case RC_RDMA_READ_REQUEST:
		return annotate_access(tvb, pinfo, tree, info) ? TRUE : FALSE;
	default:
		return FALSE;
	}
}

/* rdma_cm (RDMA_PS_TCP) puts its own IP header (struct cma_hdr: version, IP version, port,
 * source and destination addresses) before the user's private data of a CM REQ. */
#define PRB_CMA_HDR_SIZE 36

/* A HELLO at offset of the private data: dissect it. */
static bool dissect_hello_at(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, int offset)
{
	if (tvb_captured_length_remaining(tvb, offset) < (int)PRB_HDR_SIZE ||
	    (tvb_get_guint8(tvb, offset + PRB_WS_HDR_OPCODE) & ~PRB_OPCODE_RESPONSE) !=
		    PRB_OP_HELLO)
		return false;
	return dissect_capsule(tvb_new_subset_remaining(tvb, offset), pinfo, tree);
}

/* rdma_cm private data: HELLO request (REQ, after the cma header), response (REP) or
 * error response (REJ). */
static gboolean prb_ib_cm_heuristic(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
	const struct infinibandinfo *info = data;

	if (info == NULL)
		return FALSE;
	switch (info->cm_attribute_id) {
	case ATTR_CM_REQ:
		return dissect_hello_at(tvb, pinfo, tree, PRB_CMA_HDR_SIZE) ||
		       dissect_hello_at(tvb, pinfo, tree, 0);
	case ATTR_CM_REP:
	case ATTR_CM_REJ:
		return dissect_hello_at(tvb, pinfo, tree, 0);
	default:
		return FALSE;
	}
}

void prb_rdma_handoff(void)
{
	heur_dissector_add("infiniband.payload", prb_ib_payload_heuristic, "prb over InfiniBand",
			   "prb_infiniband", proto_prb, HEURISTIC_ENABLE);
	heur_dissector_add("infiniband.mad.cm.private", prb_ib_cm_heuristic,
			   "prb in rdma_cm private data", "prb_ib_cm", proto_prb, HEURISTIC_ENABLE);
}
