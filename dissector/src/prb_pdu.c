/* One PDU of either binding: header, body, digests, payload, pairing and the Info column. */
#include "prb_dissector.h"

#include <inttypes.h>

#include <epan/crc32-tvb.h>
#include <epan/proto_data.h>
#include <wsutil/crc32.h>

/* Packet-scope key of the count of PDUs dissected so far in the frame. */
#define PRB_KEY_PDU_COUNT 0U

const struct prb_ws_msg *prb_msg_of(uint8_t opcode_byte)
{
	uint8_t opcode = (uint8_t)(opcode_byte & ~PRB_OPCODE_RESPONSE);
	bool response = (opcode_byte & PRB_OPCODE_RESPONSE) != 0;

	for (unsigned i = 0; i < PRB_WS_MSG_COUNT; i++) {
		const struct prb_ws_msg *m = &prb_ws_msgs[i];

		if (m->opcode != opcode)
			continue;
		if (m->direction == PRB_WS_EITHER || (m->direction == PRB_WS_RESPONSE) == response)
			return m;
	}
	return NULL;
}

bool prb_header_plausible(tvbuff_t *tvb, int offset)
{
	const struct prb_ws_msg *msg;
	uint32_t plen;
	uint16_t status, hlen;
	uint8_t opcode_byte, flags;

	if (tvb_captured_length_remaining(tvb, offset) < (int)PRB_HDR_SIZE)
		return false;
	if (tvb_get_letohs(tvb, offset + PRB_WS_HDR_MAGIC) != PRB_MAGIC)
		return false;
	opcode_byte = tvb_get_guint8(tvb, offset + PRB_WS_HDR_OPCODE);
	flags = tvb_get_guint8(tvb, offset + PRB_WS_HDR_FLAGS);
	plen = tvb_get_letohl(tvb, offset + PRB_WS_HDR_PLEN);
	status = tvb_get_letohs(tvb, offset + PRB_WS_HDR_STATUS);
	hlen = tvb_get_letohs(tvb, offset + PRB_WS_HDR_HLEN);
	msg = prb_msg_of(opcode_byte);
	if (msg == NULL || (flags & ~PRB_HDR_ALL) != 0)
		return false;
	if (hlen != msg->size && !(hlen == PRB_HDR_SIZE && status != 0))
		return false;
	return plen >= hlen && plen <= prb_pref_max_pdu;
}

/* Index of this PDU among those of the frame, counted afresh at every dissection. */
static unsigned next_pdu_index(packet_info *pinfo)
{
	unsigned n = GPOINTER_TO_UINT(
		p_get_proto_data(pinfo->pool, pinfo, proto_prb, PRB_KEY_PDU_COUNT));

	p_set_proto_data(pinfo->pool, pinfo, proto_prb, PRB_KEY_PDU_COUNT, GUINT_TO_POINTER(n + 1));
	return n;
}

/* Read the common header into pdu. */
static void read_header(tvbuff_t *tvb, struct prb_pdu *pdu)
{
	pdu->magic = tvb_get_letohs(tvb, PRB_WS_HDR_MAGIC);
	pdu->opcode_byte = tvb_get_guint8(tvb, PRB_WS_HDR_OPCODE);
	pdu->flags = tvb_get_guint8(tvb, PRB_WS_HDR_FLAGS);
	pdu->plen = tvb_get_letohl(tvb, PRB_WS_HDR_PLEN);
	pdu->tag = tvb_get_letohl(tvb, PRB_WS_HDR_TAG);
	pdu->status = tvb_get_letohs(tvb, PRB_WS_HDR_STATUS);
	pdu->hlen = tvb_get_letohs(tvb, PRB_WS_HDR_HLEN);
	pdu->opcode = (uint8_t)(pdu->opcode_byte & ~PRB_OPCODE_RESPONSE);
	pdu->response = (pdu->opcode_byte & PRB_OPCODE_RESPONSE) != 0;
	pdu->msg = prb_msg_of(pdu->opcode_byte);
	pdu->error_response = pdu->response && pdu->status != 0 && pdu->hlen == PRB_HDR_SIZE;
}

/* Where the payload is, from hlen, plen and the digest flags; false when plen is too short. */
static bool locate_payload(struct prb_pdu *pdu)
{
	uint32_t head = pdu->hlen + ((pdu->flags & PRB_HDR_HDGST) ? PRB_HDGST_SIZE : 0U);
	uint32_t tail = (pdu->flags & PRB_HDR_DDGST) ? PRB_DDGST_SIZE : 0U;

	pdu->payload_offset = head;
	pdu->payload_len = 0;
	if (pdu->plen < head + tail)
		return false;
	pdu->payload_len = pdu->plen - head - tail;
	return true;
}

/* The fixed part is what hlen says: the message's size, or the header alone for an error. */
static bool hlen_matches(const struct prb_pdu *pdu)
{
	return pdu->hlen == (pdu->error_response ? PRB_HDR_SIZE : pdu->msg->size);
}

/*
 * Header length, plen and digest flags against the message; expert info on what is wrong.
 * plen_ok: plen covers hlen and the digests; plen_believed: plen is not absurd. Where hlen
 * or plen is already reported, the payload they imply is not judged as well.
 */
static void check_lengths(packet_info *pinfo, proto_item *pdu_item, const struct prb_pdu *pdu,
			  bool plen_ok, bool plen_believed)
{
	const struct prb_ws_msg *msg = pdu->msg;

	if (pdu->response && pdu->status != 0 && pdu->hlen != PRB_HDR_SIZE)
		expert_add_info_format(
			pinfo, pdu_item, &prb_ei[PRB_EI_BAD_HLEN],
			"Error response with hlen %u: it must be the header alone (16)", pdu->hlen);
	else if (!pdu->error_response && pdu->hlen != msg->size)
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_BAD_HLEN],
				       "hlen %u differs from the size of %s (%u)", pdu->hlen,
				       msg->name, msg->size);
	if (!plen_ok)
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_BAD_PLEN],
				       "plen %u is shorter than hlen plus the flagged digests",
				       pdu->plen);
	else if (plen_believed && hlen_matches(pdu) && pdu->payload_len != 0 &&
		 (msg->payload == PRB_WS_PAYLOAD_NONE || pdu->error_response))
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_BAD_PLEN],
				       "%u bytes after the fixed part of %s, which has no payload",
				       pdu->payload_len,
				       pdu->error_response ? "an error response" : msg->name);
	if ((pdu->flags & (PRB_HDR_HDGST | PRB_HDR_DDGST)) && pdu->opcode == PRB_OP_HELLO)
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_DIGEST_FLAG],
				       "HELLO PDUs never carry digests");
	else if ((pdu->flags & (PRB_HDR_HDGST | PRB_HDR_DDGST)) && pdu->binding == PRB_BINDING_RDMA)
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_DIGEST_FLAG],
				       "The RDMA binding never grants digests");
	else if ((pdu->flags & PRB_HDR_DDGST) && plen_ok && pdu->payload_len == 0)
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_DIGEST_FLAG],
				       "DDGST set on a PDU without payload");
	if (!pdu->response && pdu->status != 0 && pdu->msg->direction == PRB_WS_REQUEST)
		expert_add_info(pinfo, pdu_item, &prb_ei[PRB_EI_STATUS_IN_REQUEST]);
}

/* CRC32C (Castagnoli) of len bytes at offset, as the spec's digests hold it. Wireshark's
 * routine returns the register byte-swapped and not inverted. */
static uint32_t digest(tvbuff_t *tvb, uint32_t offset, uint32_t len)
{
	uint32_t reg = ~crc32c_tvb_offset_calculate(tvb, offset, len, CRC32C_PRELOAD);

	return CRC32C_SWAP(reg);
}

/* Verify the header digest: CRC32C (le32) of the fixed part, then 4 zero bytes. */
static void dissect_hdgst(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			  const struct prb_pdu *pdu)
{
	uint32_t crc = digest(tvb, 0, pdu->hlen);
	proto_item *pad;

	proto_tree_add_checksum(tree, tvb, pdu->hlen, prb_xf[PRB_XF_HDGST],
				prb_xf[PRB_XF_HDGST_STATUS], &prb_ei[PRB_EI_HDGST_BAD], pinfo, crc,
				ENC_LITTLE_ENDIAN, PROTO_CHECKSUM_VERIFY);
	pad = proto_tree_add_item(tree, prb_xf[PRB_XF_HDGST_PAD], tvb, pdu->hlen + 4, 4, ENC_NA);
	if (tvb_get_letohl(tvb, pdu->hlen + 4) != 0)
		expert_add_info_format(pinfo, pad, &prb_ei[PRB_EI_RESERVED],
				       "The 4 bytes after the header digest are not zero");
}

/* Compare the message's payload-length field (bytes or records) with the payload. */
static void check_payload_field(tvbuff_t *tvb, packet_info *pinfo, proto_item *item,
				const struct prb_pdu *pdu, uint64_t actual)
{
	const struct prb_ws_field *f = prb_layout_payload_field(pdu->msg);
	uint64_t stated;

	if (f == NULL)
		return;
	stated = prb_layout_value(tvb, pdu->msg, 0, f->name);
	if (stated != actual)
		expert_add_info_format(pinfo, item, &prb_ei[PRB_EI_PAYLOAD_LENGTH],
				       "%s says %" PRIu64 " but the payload holds %" PRIu64,
				       f->name, stated, actual);
}

/* The extent records of a LIST response, one subtree each. */
static void dissect_extents(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			    const struct prb_pdu *pdu, proto_item *payload_item)
{
	uint32_t count = pdu->payload_len / PRB_WS_EXTENT_SIZE;

	if (pdu->payload_len % PRB_WS_EXTENT_SIZE != 0)
		expert_add_info_format(
			pinfo, payload_item, &prb_ei[PRB_EI_PAYLOAD_LENGTH],
			"Payload of %u bytes is not a whole number of %u-byte extents",
			pdu->payload_len, PRB_WS_EXTENT_SIZE);
	check_payload_field(tvb, pinfo, payload_item, pdu, count);
	for (uint32_t i = 0; i < count; i++) {
		int base = (int)(pdu->payload_offset + i * PRB_WS_EXTENT_SIZE);
		/* Read first: an extent cut short throws before its item exists. */
		uint64_t addr = prb_layout_value(tvb, &prb_ws_extent, base, "addr");
		uint64_t blocks = prb_layout_value(tvb, &prb_ws_extent, base, "blocks");
		uint64_t state = prb_layout_value(tvb, &prb_ws_extent, base, "state");
		proto_item *item = proto_tree_add_item(tree, prb_xf[PRB_XF_EXTENT], tvb, base,
						       PRB_WS_EXTENT_SIZE, ENC_NA);
		proto_tree *sub = proto_item_add_subtree(item, prb_ett[PRB_ETT_EXTENT]);

		proto_item_append_text(
			item, " %u: 0x%" PRIx64 " x%" PRIu64 " %s", i, addr, blocks,
			val_to_str_const((uint32_t)state, prb_vals_extent_state, "?"));
		prb_dissect_layout(tvb, pinfo, sub, &prb_ws_extent, base);
	}
}

/* Payload (data bytes or extents) and its data digest. */
static void dissect_payload(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			    const struct prb_pdu *pdu)
{
	proto_item *item;

	item = proto_tree_add_uint(tree, prb_xf[PRB_XF_PAYLOAD_LEN], tvb, (int)pdu->payload_offset,
				   0, pdu->payload_len);
	proto_item_set_generated(item);
	if (pdu->msg->payload == PRB_WS_PAYLOAD_EXTENTS && !pdu->error_response) {
		dissect_extents(tvb, pinfo, tree, pdu, item);
	} else {
		proto_tree_add_item(tree, prb_xf[PRB_XF_DATA], tvb, (int)pdu->payload_offset,
				    (int)pdu->payload_len, ENC_NA);
		if (pdu->msg->payload == PRB_WS_PAYLOAD_DATA && !pdu->error_response)
			check_payload_field(tvb, pinfo, item, pdu, pdu->payload_len);
	}
	if (pdu->flags & PRB_HDR_DDGST) {
		uint32_t crc = digest(tvb, pdu->payload_offset, pdu->payload_len);

		proto_tree_add_checksum(tree, tvb, pdu->payload_offset + pdu->payload_len,
					prb_xf[PRB_XF_DDGST], prb_xf[PRB_XF_DDGST_STATUS],
					&prb_ei[PRB_EI_DDGST_BAD], pinfo, crc, ENC_LITTLE_ENDIAN,
					PROTO_CHECKSUM_VERIFY);
	}
}

/* Errors a brick reports for a bad request or its own failure, rather than an outcome. */
static bool status_is_fault(uint16_t status)
{
	switch (status) {
	case PRB_ST_EINVAL:
	case PRB_ST_ENOTSUP:
	case PRB_ST_EPROTO:
	case PRB_ST_EBADMSG:
	case PRB_ST_EIO:
		return true;
	default:
		return false;
	}
}

/* Expert info for error statuses and TERM PDUs. */
static void add_status_expert(tvbuff_t *tvb, packet_info *pinfo, proto_item *item,
			      const struct prb_pdu *pdu)
{
	if (pdu->msg->direction == PRB_WS_EITHER) {
		uint64_t reason = prb_layout_value(tvb, pdu->msg, 0, "reason");

		expert_add_info_format(
			pinfo, item, &prb_ei[PRB_EI_TERM], "TERM %s: the connection ends",
			val_to_str_const((uint32_t)reason, prb_vals_term_reason, "?"));
		return;
	}
	if (!pdu->response || pdu->status == 0)
		return;
	expert_add_info_format(
		pinfo, item,
		&prb_ei[status_is_fault(pdu->status) ? PRB_EI_STATUS_WARN : PRB_EI_STATUS_NOTE],
		"%s response: %s", val_to_str_const(pdu->opcode, prb_vals_opcode, "?"),
		val_to_str(pdu->status, prb_vals_status, "status %u"));
}

/* Text of a PDU in the Info column (PDUs of one frame separated by '|') and on its item. */
static void show_summary(packet_info *pinfo, proto_item *pdu_item, const struct prb_pdu *pdu,
			 const char *text)
{
	if (pdu->index == 0)
		col_clear(pinfo->cinfo, COL_INFO);
	col_append_sep_str(pinfo->cinfo, COL_INFO, " | ", text);
	proto_item_append_text(pdu_item, ", %s", text);
}

/* Info column and PDU item text; the request's summary is carried over to its response. */
static void summarise(tvbuff_t *tvb, packet_info *pinfo, proto_item *pdu_item,
		      const struct prb_pdu *pdu, const struct prb_txn *txn, const char *own)
{
	const char *text = own;

	if (pdu->response && pdu->msg->direction == PRB_WS_RESPONSE) {
		const char *request =
			txn != NULL ? txn->summary
				    : wmem_strdup_printf(
					      pinfo->pool, "%s tag %u",
					      val_to_str_const(pdu->opcode, prb_vals_opcode, "?"),
					      pdu->tag);

		text = wmem_strdup_printf(pinfo->pool, "%s -> %s", request,
					  prb_summary_result(tvb, pdu, pinfo->pool));
	}
	show_summary(pinfo, pdu_item, pdu, text);
}

/* A PDU whose magic or opcode is not prb's: bytes only, with the reason. */
static int dissect_unknown(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			   proto_item *pdu_item, const struct prb_pdu *pdu)
{
	const char *text;

	if (pdu->magic != PRB_MAGIC) {
		proto_tree_add_item(tree, prb_hf[PRB_HF_MAGIC], tvb, 0, 2, ENC_LITTLE_ENDIAN);
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_BAD_MAGIC],
				       "Bad magic 0x%04x (0x%04x expected)", pdu->magic, PRB_MAGIC);
		text = wmem_strdup_printf(pinfo->pool, "bad magic 0x%04x", pdu->magic);
	} else {
		prb_dissect_layout(tvb, pinfo, tree, &prb_ws_hdr, 0);
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_UNKNOWN_OPCODE],
				       "Opcode 0x%02x is not in the spec", pdu->opcode_byte);
		text = wmem_strdup_printf(
			pinfo->pool, "unknown opcode 0x%02x tag %u%s%s", pdu->opcode_byte, pdu->tag,
			pdu->status ? " -> " : "",
			pdu->status ? val_to_str(pdu->status, prb_vals_status, "status %u") : "");
	}
	if (tvb_reported_length(tvb) > PRB_HDR_SIZE)
		proto_tree_add_item(tree, prb_xf[PRB_XF_BODY_EXTRA], tvb, PRB_HDR_SIZE, -1, ENC_NA);
	show_summary(pinfo, pdu_item, pdu, text);
	return (int)tvb_captured_length(tvb);
}

int prb_dissect_pdu(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, enum prb_binding binding)
{
	struct prb_pdu pdu = {.binding = binding};
	const char *own = NULL;
	const struct prb_txn *txn;
	proto_item *pdu_item;
	proto_tree *pdu_tree;
	bool plen_ok, plen_believed;

	col_set_str(pinfo->cinfo, COL_PROTOCOL, "PRB");
	pdu.index = next_pdu_index(pinfo);
	pdu_item = proto_tree_add_item(tree, proto_prb, tvb, 0, -1, ENC_NA);
	pdu_tree = proto_item_add_subtree(pdu_item, prb_ett[PRB_ETT_PDU]);
	read_header(tvb, &pdu);
	if (pdu.magic != PRB_MAGIC || pdu.msg == NULL)
		return dissect_unknown(tvb, pinfo, pdu_tree, pdu_item, &pdu);
	plen_believed = pdu.plen <= prb_pref_max_pdu;
	if (!plen_believed)
		expert_add_info_format(pinfo, pdu_item, &prb_ei[PRB_EI_LENGTH_ABSURD],
				       "plen %u is above the max_pdu preference (%u)", pdu.plen,
				       prb_pref_max_pdu);
	proto_item_append_text(pdu_item, ", %s",
			       val_to_str_const(pdu.opcode_byte, prb_vals_opcode_byte, "?"));
	prb_dissect_layout(tvb, pinfo, pdu_tree, &prb_ws_hdr, 0);
	proto_tree_add_item(pdu_tree, prb_xf[PRB_XF_RESPONSE_BIT], tvb, PRB_WS_HDR_OPCODE, 1,
			    ENC_NA);
	plen_ok = locate_payload(&pdu);
	check_lengths(pinfo, pdu_item, &pdu, plen_ok, plen_believed);
	if (!pdu.error_response && pdu.hlen == pdu.msg->size) {
		prb_dissect_layout(tvb, pinfo, pdu_tree, pdu.msg, 0);
		if (!pdu.response || pdu.msg->direction == PRB_WS_EITHER)
			own = prb_summary_request(tvb, &pdu, pinfo->pool);
	} else if (pdu.hlen > PRB_HDR_SIZE) {
		proto_tree_add_item(pdu_tree, prb_xf[PRB_XF_BODY_EXTRA], tvb, PRB_HDR_SIZE,
				    (int)(pdu.hlen - PRB_HDR_SIZE), ENC_NA);
	}
	if (own == NULL)
		own = val_to_str_const(pdu.opcode, prb_vals_opcode, "?");
	/* Pairing and the summary before the payload: a payload cut short (truncated capture,
	 * first packet of a multi-packet SEND) throws, and the PDU should still be paired. */
	txn = prb_conv_track(tvb, pinfo, pdu_tree, &pdu, own);
	prb_conv_mapping(tvb, pinfo, pdu_tree, &pdu, txn);
	prb_conv_session(tvb, pinfo, pdu_item, &pdu, txn);
	prb_stats_response(pinfo, &pdu, txn);
	add_status_expert(tvb, pinfo, pdu_item, &pdu);
	summarise(tvb, pinfo, pdu_item, &pdu, txn, own);
	if (pdu.flags & PRB_HDR_HDGST)
		dissect_hdgst(tvb, pinfo, pdu_tree, &pdu);
	/* An absurd plen's payload is not in the PDU (the TCP binding cut it at the segment). */
	if (plen_ok && plen_believed && pdu.payload_len > 0)
		dissect_payload(tvb, pinfo, pdu_tree, &pdu);
	else if (!plen_believed && tvb_reported_length(tvb) > pdu.hlen)
		proto_tree_add_item(pdu_tree, prb_xf[PRB_XF_BODY_EXTRA], tvb, (int)pdu.hlen, -1,
				    ENC_NA);
	return (int)tvb_captured_length(tvb);
}
