/* TCP binding: PDUs on a byte stream, reassembled across segments and split when several
 * share one; registered on the spec's port, in "Decode As", and as an optional heuristic. */
#include "prb_dissector.h"

#include <epan/conversation.h>
#include <epan/prefs.h>
#include <epan/dissectors/packet-tcp.h>

/* A legal PDU is at most a WRITE of max_data_limit bytes plus its fixed part and digests. */
unsigned prb_pref_max_pdu = PRB_MAX_DATA_LIMIT + PRB_MIN_MAX_PDU;
static gboolean prb_pref_desegment = TRUE;
static dissector_handle_t prb_tcp_handle;

/* plen of the PDU at offset; a length nobody would send (bad magic, below the header, above
 * max_pdu) ends the PDU with this segment instead, so tshark never waits for bytes that
 * never come. prb_dissect_pdu reports those. */
static unsigned prb_tcp_pdu_len(packet_info *pinfo _U_, tvbuff_t *tvb, int offset, void *data _U_)
{
	uint32_t plen = tvb_get_letohl(tvb, offset + PRB_WS_HDR_PLEN);

	if (tvb_get_letohs(tvb, offset + PRB_WS_HDR_MAGIC) != PRB_MAGIC || plen < PRB_HDR_SIZE ||
	    plen > prb_pref_max_pdu)
		return (unsigned)tvb_reported_length_remaining(tvb, offset);
	return plen;
}

static int prb_tcp_dissect_one(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
	return prb_dissect_pdu(tvb, pinfo, tree, PRB_BINDING_TCP);
}

static int prb_tcp_dissect(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
	tcp_dissect_pdus(tvb, pinfo, tree, prb_pref_desegment, PRB_HDR_SIZE, prb_tcp_pdu_len,
			 prb_tcp_dissect_one, data);
	return (int)tvb_captured_length(tvb);
}

/* A stream whose segment starts with a plausible prb header: claim the connection. */
static gboolean prb_tcp_heuristic(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
	if (!prb_header_plausible(tvb, 0))
		return FALSE;
	conversation_set_dissector(find_or_create_conversation(pinfo), prb_tcp_handle);
	prb_tcp_dissect(tvb, pinfo, tree, data);
	return TRUE;
}

void prb_tcp_register(void)
{
	module_t *prb_module = prefs_register_protocol(proto_prb, NULL);

	prefs_register_bool_preference(prb_module, "desegment",
				       "Reassemble PDUs spanning TCP segments",
				       "Whether a PDU split across TCP segments is reassembled "
				       "(needs TCP's \"Allow subdissectors to reassemble\")",
				       &prb_pref_desegment);
	prefs_register_uint_preference(
		prb_module, "max_pdu", "Largest believable plen",
		"A plen above this is reported as absurd and not reassembled", 10,
		&prb_pref_max_pdu);
	prb_tcp_handle = register_dissector("prb", prb_tcp_dissect, proto_prb);
}

void prb_tcp_handoff(void)
{
	dissector_add_uint_with_preference("tcp.port", PRB_TCP_PORT, prb_tcp_handle);
	heur_dissector_add("tcp", prb_tcp_heuristic, "prb over TCP", "prb_tcp", proto_prb,
			   HEURISTIC_DISABLE);
}
