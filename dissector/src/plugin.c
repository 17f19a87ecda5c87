/* The plugin's entry points: version symbols, protocol and field registration, handoff. */
#define WS_BUILD_DLL
#include <wireshark.h>
#include <ws_version.h>

#include <epan/proto.h>
#include <epan/tfs.h>

#include "prb_dissector.h"

#ifndef PRB_PLUGIN_VERSION
#define PRB_PLUGIN_VERSION "0.1.0"
#endif

WS_DLL_PUBLIC_DEF const char plugin_version[] = PRB_PLUGIN_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

WS_DLL_PUBLIC void plugin_register(void);

int proto_prb = -1;
int prb_ett[PRB_ETT_COUNT];
expert_field prb_ei[PRB_EI_COUNT];
int prb_xf[PRB_XF_COUNT];

static hf_register_info prb_xf_register[] = {
	{&prb_xf[PRB_XF_RESPONSE_BIT],
	 {"Response", "prb.response", FT_BOOLEAN, 8, NULL, PRB_OPCODE_RESPONSE,
	  "Set in every response", HFILL}},
	{&prb_xf[PRB_XF_RESPONSE_IN],
	 {"Response in", "prb.response_in", FT_FRAMENUM, BASE_NONE,
	  FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE), 0x0, "The response to this request is in this frame",
	  HFILL}},
	{&prb_xf[PRB_XF_REQUEST_IN],
	 {"Request in", "prb.request_in", FT_FRAMENUM, BASE_NONE,
	  FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0x0,
	  "This response answers the request in this frame", HFILL}},
	{&prb_xf[PRB_XF_TIME],
	 {"Service time", "prb.time", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
	  "Time from the request to its response", HFILL}},
	{&prb_xf[PRB_XF_HDGST],
	 {"Header digest", "prb.hdgst", FT_UINT32, BASE_HEX, NULL, 0x0, "CRC32C of the fixed part",
	  HFILL}},
	{&prb_xf[PRB_XF_HDGST_STATUS],
	 {"Header digest status", "prb.hdgst.status", FT_UINT8, BASE_NONE,
	  VALS(proto_checksum_vals), 0x0, NULL, HFILL}},
	{&prb_xf[PRB_XF_HDGST_PAD],
	 {"Header digest padding", "prb.hdgst.pad", FT_BYTES, BASE_NONE, NULL, 0x0,
	  "Four zero bytes after the header digest", HFILL}},
	{&prb_xf[PRB_XF_DDGST],
	 {"Data digest", "prb.ddgst", FT_UINT32, BASE_HEX, NULL, 0x0, "CRC32C of the payload",
	  HFILL}},
	{&prb_xf[PRB_XF_DDGST_STATUS],
	 {"Data digest status", "prb.ddgst.status", FT_UINT8, BASE_NONE, VALS(proto_checksum_vals),
	  0x0, NULL, HFILL}},
	{&prb_xf[PRB_XF_DATA],
	 {"Data", "prb.data", FT_BYTES, BASE_NONE, NULL, 0x0, "Payload bytes", HFILL}},
	{&prb_xf[PRB_XF_PAYLOAD_LEN],
	 {"Payload length", "prb.payload_len", FT_UINT32, BASE_DEC, NULL, 0x0,
	  "Bytes of payload: plen minus the fixed part and the digests", HFILL}},
	{&prb_xf[PRB_XF_EXTENT],
	 {"Extent", "prb.extent", FT_NONE, BASE_NONE, NULL, 0x0, "One run of allocated blocks",
	  HFILL}},
	{&prb_xf[PRB_XF_BODY_EXTRA],
	 {"Unparsed bytes", "prb.unparsed", FT_BYTES, BASE_NONE, NULL, 0x0,
	  "Bytes of the PDU the spec does not describe here", HFILL}},
	{&prb_xf[PRB_XF_MAP_IN],
	 {"Mapped in", "prb.map_in", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
	  "The MAP response that created this handle or remote key", HFILL}},
	{&prb_xf[PRB_XF_BLOCK],
	 {"Block address", "prb.block", FT_UINT64, BASE_HEX, NULL, 0x0,
	  "Logical address of the block the handle or remote key reaches", HFILL}},
	{&prb_xf[PRB_XF_RDMA],
	 {"prb RDMA access", "prb.rdma", FT_NONE, BASE_NONE, NULL, 0x0,
	  "One-sided RDMA operation against a prb mapping", HFILL}},
	{&prb_xf[PRB_XF_RDMA_OFFSET],
	 {"Offset in block", "prb.rdma.offset", FT_UINT64, BASE_HEX, NULL, 0x0,
	  "RETH virtual address minus the mapping's remote address", HFILL}},
	{&prb_xf[PRB_XF_RDMA_LENGTH],
	 {"DMA length", "prb.rdma.length", FT_UINT32, BASE_DEC, NULL, 0x0, NULL, HFILL}},
	{&prb_xf[PRB_XF_RDMA_RKEY],
	 {"Remote key", "prb.rdma.rkey", FT_UINT32, BASE_HEX, NULL, 0x0, NULL, HFILL}},
};

static ei_register_info prb_ei_register[] = {
	{&prb_ei[PRB_EI_BAD_MAGIC],
	 {"prb.bad_magic", PI_MALFORMED, PI_ERROR, "Bad magic: not a prb PDU", EXPFILL}},
	{&prb_ei[PRB_EI_UNKNOWN_OPCODE],
	 {"prb.unknown_opcode", PI_PROTOCOL, PI_WARN, "Opcode not in the spec", EXPFILL}},
	{&prb_ei[PRB_EI_BAD_HLEN],
	 {"prb.bad_hlen", PI_MALFORMED, PI_ERROR, "hlen differs from the message's fixed size",
	  EXPFILL}},
	{&prb_ei[PRB_EI_BAD_PLEN],
	 {"prb.bad_plen", PI_MALFORMED, PI_ERROR,
	  "plen inconsistent with hlen, the digest flags or the payload", EXPFILL}},
	{&prb_ei[PRB_EI_LENGTH_ABSURD],
	 {"prb.length_absurd", PI_MALFORMED, PI_ERROR,
	  "plen above the max_pdu preference: not reassembled", EXPFILL}},
	{&prb_ei[PRB_EI_RESERVED],
	 {"prb.reserved_nonzero", PI_PROTOCOL, PI_WARN, "Reserved field is not zero", EXPFILL}},
	{&prb_ei[PRB_EI_RESERVED_BITS],
	 {"prb.reserved_bits", PI_PROTOCOL, PI_WARN, "Reserved flag bits set", EXPFILL}},
	{&prb_ei[PRB_EI_NOT_MEMBER],
	 {"prb.not_member", PI_PROTOCOL, PI_WARN, "Value is not a member of its enum", EXPFILL}},
	{&prb_ei[PRB_EI_OUT_OF_RANGE],
	 {"prb.out_of_range", PI_PROTOCOL, PI_WARN,
	  "Value breaks the spec's min, max, align or equals", EXPFILL}},
	{&prb_ei[PRB_EI_PAYLOAD_LENGTH],
	 {"prb.payload_length", PI_MALFORMED, PI_ERROR, "Length field disagrees with the payload",
	  EXPFILL}},
	{&prb_ei[PRB_EI_STATUS_NOTE],
	 {"prb.status.error", PI_RESPONSE_CODE, PI_NOTE, "Error response", EXPFILL}},
	{&prb_ei[PRB_EI_STATUS_WARN],
	 {"prb.status.fault", PI_RESPONSE_CODE, PI_WARN,
	  "Error response: malformed request, protocol error or storage failure", EXPFILL}},
	{&prb_ei[PRB_EI_STATUS_IN_REQUEST],
	 {"prb.status.in_request", PI_PROTOCOL, PI_WARN, "Nonzero status in a request", EXPFILL}},
	{&prb_ei[PRB_EI_HDGST_BAD],
	 {"prb.hdgst.bad", PI_CHECKSUM, PI_ERROR, "Header digest mismatch", EXPFILL}},
	{&prb_ei[PRB_EI_DDGST_BAD],
	 {"prb.ddgst.bad", PI_CHECKSUM, PI_ERROR, "Data digest mismatch", EXPFILL}},
	{&prb_ei[PRB_EI_DIGEST_FLAG],
	 {"prb.digest_flag", PI_PROTOCOL, PI_WARN,
	  "Digest flag where no digest may be (HELLO, RDMA, DDGST without payload)", EXPFILL}},
	{&prb_ei[PRB_EI_DIGEST_NEGOTIATED],
	 {"prb.digest_negotiated", PI_PROTOCOL, PI_ERROR,
	  "Digest flags differ from the HELLO negotiation (the brick ends the connection)",
	  EXPFILL}},
	{&prb_ei[PRB_EI_QUEUE_OVERFLOW],
	 {"prb.queue_overflow", PI_SEQUENCE, PI_ERROR,
	  "More requests outstanding than the negotiated queue depth", EXPFILL}},
	{&prb_ei[PRB_EI_TERM],
	 {"prb.term", PI_SEQUENCE, PI_WARN, "TERM: the connection ends", EXPFILL}},
	{&prb_ei[PRB_EI_NO_REQUEST],
	 {"prb.no_request", PI_SEQUENCE, PI_NOTE, "No request with this tag seen", EXPFILL}},
	{&prb_ei[PRB_EI_RDMA_UNMAPPED],
	 {"prb.rdma.unmapped", PI_SEQUENCE, PI_WARN, "Remote key used after its UNMAP", EXPFILL}},
	{&prb_ei[PRB_EI_CAPSULE_SPLIT],
	 {"prb.capsule_split", PI_REASSEMBLE, PI_NOTE,
	  "Capsule continues in the next SEND packets (not reassembled)", EXPFILL}},
	{&prb_ei[PRB_EI_RDMA_OUTSIDE],
	 {"prb.rdma.outside", PI_PROTOCOL, PI_WARN, "RDMA access outside the mapped block",
	  EXPFILL}},
};

/* Register the protocol, the generated and hand-written fields, subtrees and expert infos. */
static void proto_register_prb(void)
{
	static int *ett[PRB_ETT_COUNT];
	expert_module_t *expert;

	for (size_t i = 0; i < PRB_XF_COUNT; i++)
		prb_xf[i] = -1;
	for (size_t i = 0; i < PRB_EI_COUNT; i++)
		prb_ei[i] = (expert_field)EI_INIT;
	proto_prb = proto_register_protocol(PRB_PROTOCOL_TITLE, "PRB", PRB_PROTOCOL_NAME);
	proto_register_field_array(proto_prb, prb_hf_register, array_length(prb_hf_register));
	proto_register_field_array(proto_prb, prb_xf_register, array_length(prb_xf_register));
	for (size_t i = 0; i < PRB_ETT_COUNT; i++) {
		prb_ett[i] = -1;
		ett[i] = &prb_ett[i];
	}
	proto_register_subtree_array(ett, PRB_ETT_COUNT);
	expert = expert_register_protocol(proto_prb);
	expert_register_field_array(expert, prb_ei_register, array_length(prb_ei_register));
	prb_tcp_register();
	prb_stats_register();
}

static void proto_reg_handoff_prb(void)
{
	prb_tcp_handoff();
	prb_rdma_handoff();
}

void plugin_register(void)
{
	static proto_plugin plugin;

	plugin.register_protoinfo = proto_register_prb;
	plugin.register_handoff = proto_reg_handoff_prb;
	proto_register_plugin(&plugin);
}
