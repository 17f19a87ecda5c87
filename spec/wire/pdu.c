/* PDU length arithmetic and the error response (spec/CODEC.md). */
#include <errno.h>

#include <prb/wire.h>

/* prb_pdu_plen is generated (wire.c), where the encoders inline it. */

uint32_t prb_payload_offset(const struct prb_hdr *h)
{
	uint32_t offset = h->hlen;

	if (h->flags & PRB_HDR_HDGST)
		offset += PRB_HDGST_SIZE;
	return offset;
}

uint32_t prb_payload_len(const struct prb_hdr *h)
{
	uint32_t used = prb_payload_offset(h);

	if (h->flags & PRB_HDR_DDGST)
		used += PRB_DDGST_SIZE;
	return h->plen > used ? h->plen - used : 0;
}

int prb_error_rsp_encode(uint8_t request_opcode, uint32_t tag, uint16_t status, uint8_t flags,
			 void *buf, size_t len)
{
	struct prb_hdr h = {
		.magic = PRB_MAGIC,
		.opcode = (uint8_t)(request_opcode | PRB_OPCODE_RESPONSE),
		.flags = flags,
		.plen = prb_pdu_plen(PRB_HDR_SIZE, flags, 0),
		.tag = tag,
		.status = status,
		.hlen = PRB_HDR_SIZE,
	};

	return prb_hdr_encode(&h, buf, len);
}
