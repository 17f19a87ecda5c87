/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request encoding and response decoding with the generated codec, for every
 * binding: a transport frames and moves bytes, this module gives them meaning.
 * A response that breaks the spec is fatal for the connection (-EPROTO); a
 * well-formed error response is the request's result.
 *
 * PRB-VER-9: a status this version does not define is a failure of the request,
 * as if it were EIO. The generated decoders are shared with the brick and the
 * conformance suite, which must stay strict (PRB-VER-10), so the leniency lives
 * here: an answer with an unknown status is decoded as the same bytes with EIO
 * in its status, and every other rule (PRB-PDU-10: the header alone) still holds.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

uint32_t prb_request_payload(const struct prb_request *r)
{
	return r->opcode == PRB_OP_WRITE ? r->length : 0;
}

/* Encode a request whose body is only the header. */
static int prb_encode_bare(const struct prb_request *r, struct prb_hdr hdr, void *buf, size_t len)
{
	union prb_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr = hdr;
	if (r->opcode == PRB_OP_INFO)
		return prb_msg_encode(PRB_MSG_INFO_REQ, &m, buf, len);
	return prb_msg_encode(PRB_MSG_KEEPALIVE_REQ, &m, buf, len);
}

/* Encode a data request: READ, WRITE, FLUSH, CAS or FADD. */
static int prb_encode_data(const struct prb_request *r, struct prb_hdr hdr, void *buf, size_t len)
{
	union prb_msg m;

	memset(&m, 0, sizeof(m));
	switch (r->opcode) {
	case PRB_OP_READ:
		m.read_req = (struct prb_read_req){
			.hdr = hdr, .handle = r->handle, .offset = r->offset, .length = r->length};
		return prb_read_req_encode(&m.read_req, buf, len);
	case PRB_OP_WRITE:
		m.write_req = (struct prb_write_req){.hdr = hdr,
						     .handle = r->handle,
						     .offset = r->offset,
						     .length = r->length,
						     .payload_len = r->length};
		return prb_write_req_encode(&m.write_req, buf, len);
	case PRB_OP_FLUSH:
		m.flush_req = (struct prb_flush_req){
			.hdr = hdr, .handle = r->handle, .offset = r->offset, .length = r->length};
		return prb_flush_req_encode(&m.flush_req, buf, len);
	case PRB_OP_CAS:
		m.cas_req = (struct prb_cas_req){.hdr = hdr,
						 .handle = r->handle,
						 .offset = r->offset,
						 .compare = r->compare,
						 .swap = r->operand};
		return prb_cas_req_encode(&m.cas_req, buf, len);
	default:
		m.fadd_req = (struct prb_fadd_req){
			.hdr = hdr, .handle = r->handle, .offset = r->offset, .add = r->operand};
		return prb_fadd_req_encode(&m.fadd_req, buf, len);
	}
}

int prb_proto_encode(const struct prb_session *s, struct prb_request *r, uint8_t flags, void *buf,
		     size_t len)
{
	struct prb_hdr hdr = {.flags = flags, .tag = r->tag};
	(void)s;

	switch (r->opcode) {
	case PRB_OP_INFO:
	case PRB_OP_KEEPALIVE:
		return prb_encode_bare(r, hdr, buf, len);
	case PRB_OP_ALLOC: {
		struct prb_alloc_req m = {.hdr = hdr, .addr = r->addr, .blocks = r->blocks};

		return prb_alloc_req_encode(&m, buf, len);
	}
	case PRB_OP_FREE: {
		struct prb_free_req m = {
			.hdr = hdr, .addr = r->addr, .blocks = r->blocks, .free_flags = r->flags};

		return prb_free_req_encode(&m, buf, len);
	}
	case PRB_OP_MAP: {
		struct prb_map_req m = {.hdr = hdr, .addr = r->addr, .map_flags = r->flags};

		return prb_map_req_encode(&m, buf, len);
	}
	case PRB_OP_UNMAP: {
		struct prb_unmap_req m = {.hdr = hdr, .handle = r->handle};

		return prb_unmap_req_encode(&m, buf, len);
	}
	case PRB_OP_LIST: {
		struct prb_list_req m = {
			.hdr = hdr, .cursor = r->addr, .max_extents = r->max_extents};

		return prb_list_req_encode(&m, buf, len);
	}
	default:
		return prb_encode_data(r, hdr, buf, len);
	}
}

/* INFO answer into the caller's struct. */
static void prb_fill_info(struct prb_brick_info *out, const struct prb_info_rsp *m)
{
	memcpy(out->brick_id, m->brick_id, sizeof(out->brick_id));
	out->boot_epoch = m->boot_epoch;
	out->capacity_blocks = m->capacity_blocks;
	out->free_blocks = m->free_blocks;
	out->fast_blocks = m->fast_blocks;
	out->fast_free = m->fast_free;
	out->tier_blocks = m->tier_blocks;
	out->tier_free = m->tier_free;
	out->mapped_blocks = m->mapped_blocks;
	out->requests = m->requests;
	out->connections = m->connections;
}

/*
 * LIST answer: the extent records after the fixed part, checked against the
 * request (count within max_extents, ascending, non-overlapping, at or after the
 * cursor: PROTOCOL.md's LIST rules). Returns 0 or -EPROTO.
 */
static int prb_fill_list(struct prb_request *r, const struct prb_list_rsp *m, const uint8_t *pdu,
			 size_t len)
{
	uint32_t offset = prb_payload_offset(&m->hdr);
	uint64_t floor = r->addr;
	uint32_t i;

	if (m->count > r->max_extents || offset > len ||
	    (size_t)m->count * sizeof(uint8_t[16]) > len - offset)
		return -EPROTO;
	for (i = 0; i < m->count; i++) {
		struct prb_extent e;
		uint64_t bytes;

		if (prb_extent_decode(pdu + offset + (size_t)i * 16u, 16, &e, NULL) < 0)
			return -EPROTO;
		bytes = (uint64_t)e.blocks * PRB_BLOCK_SIZE;
		if (e.addr < floor || bytes - 1 > UINT64_MAX - e.addr)
			return -EPROTO;
		floor = e.addr + bytes;
		r->extents_out[i] = (struct prb_list_extent){
			.addr = e.addr, .blocks = e.blocks, .state = (enum prb_block_state)e.state};
	}
	if (m->count > 0 && m->next_cursor != floor)
		return -EPROTO;
	r->page_out->next_cursor = m->next_cursor;
	r->page_out->count = m->count;
	r->page_out->end = (m->list_flags & PRB_LIST_END) != 0;
	return 0;
}

/* MAP answer: the preallocated object becomes a live mapping, or is freed. */
static void prb_fill_map(struct prb_request *r, const struct prb_map_rsp *m, int result)
{
	struct prb_mapping *map = r->mapping;

	r->mapping = NULL;
	if (result < 0) {
		free(map);
		return;
	}
	map->handle = m->handle;
	map->raddr = m->raddr;
	map->rkey = m->rkey;
	map->connection = map->session->connection;
	prb_mapping_link(map);
	*r->mapping_out = map;
}

/* Whether the header at pdu carries a status this version does not define. */
static bool prb_status_unknown(const uint8_t *pdu)
{
	uint16_t status =
		(uint16_t)(pdu[PRB_HDR_STATUS_OFFSET] | pdu[PRB_HDR_STATUS_OFFSET + 1] << 8);

	return prb_status_name(status) == NULL;
}

/*
 * The bytes to decode for the len bytes at pdu (len >= PRB_HDR_SIZE): pdu itself,
 * or, for an unknown status, a copy of them in scratch with status EIO (PRB-VER-9).
 * NULL when such a PDU is longer than an error response can be (PRB-PDU-10).
 */
static const uint8_t *prb_proto_as_known(const uint8_t *pdu, size_t len,
					 uint8_t scratch[PRB_ERROR_RSP_MAX])
{
	if (!prb_status_unknown(pdu))
		return pdu;
	if (len > PRB_ERROR_RSP_MAX)
		return NULL;
	memcpy(scratch, pdu, len);
	scratch[PRB_HDR_STATUS_OFFSET] = (uint8_t)PRB_ST_EIO;
	scratch[PRB_HDR_STATUS_OFFSET + 1] = (uint8_t)(PRB_ST_EIO >> 8);
	return scratch;
}

int prb_proto_hdr_decode(const uint8_t *pdu, size_t len, struct prb_hdr *h)
{
	uint8_t scratch[PRB_ERROR_RSP_MAX];

	if (len < PRB_HDR_SIZE)
		return -EMSGSIZE;
	/* Only the header is decoded here; the length is checked with the body. */
	pdu = prb_proto_as_known(pdu, PRB_HDR_SIZE, scratch);
	return prb_hdr_decode(pdu, PRB_HDR_SIZE, h, NULL);
}

int prb_proto_fault(struct prb_session *s, int rc, uint16_t reason, uint32_t offset, uint32_t tag)
{
	if (!s->term_owed.set)
		s->term_owed = (struct prb_term_owed){
			.set = true, .reason = reason, .offset = offset, .tag = tag};
	return rc;
}

int prb_proto_fault_decode(struct prb_session *s, int rc, const uint8_t *pdu, size_t len)
{
	uint8_t scratch[PRB_ERROR_RSP_MAX];
	struct prb_wire_error we = {0};
	union prb_msg m;
	enum prb_msg_id id;
	const uint8_t *known = prb_proto_as_known(pdu, len, scratch);
	uint32_t tag = len >= PRB_HDR_SIZE ? prb_get_le32(pdu + PRB_HDR_TAG_OFFSET) : 0;
	int err = known ? prb_msg_decode(known, len, &m, &id, &we) : -EBADMSG;

	switch (err) {
	case -EPROTO: /* check 1: no header, no tag */
		return prb_proto_fault(s, rc, PRB_TERM_BAD_HEADER, PRB_HDR_MAGIC_OFFSET, 0);
	case -EOPNOTSUPP:
	case -ENOMSG: /* an opcode that no request of ours has */
		return prb_proto_fault(s, rc, PRB_TERM_SEQUENCE, PRB_HDR_OPCODE_OFFSET, tag);
	case 0: /* decodes, but not as its request needs (PRB-PDU-3, PRB-LIST-2) */
		return prb_proto_fault(s, rc, PRB_TERM_BAD_HEADER, PRB_HDR_PLEN_OFFSET, tag);
	default:
		return prb_proto_fault(s, rc, PRB_TERM_BAD_HEADER, we.offset, tag);
	}
}

int prb_proto_term_encode(const struct prb_session *s, uint8_t flags, uint8_t *buf, size_t size)
{
	struct prb_term t = {.hdr = {.flags = flags, .tag = s->term_owed.tag},
			     .reason = s->term_owed.reason,
			     .error_offset = s->term_owed.offset};
	int n = prb_term_encode(&t, buf, size);

	if (n < 0 || !(flags & PRB_HDR_HDGST))
		return n;
	if ((size_t)n + PRB_HDGST_SIZE > size)
		return -EMSGSIZE;
	prb_put_le32(buf + n, prb_crc32c(buf, (size_t)n));
	memset(buf + n + PRB_CRC32C_SIZE, 0, PRB_HDGST_SIZE - PRB_CRC32C_SIZE);
	return n + (int)PRB_HDGST_SIZE;
}

int prb_proto_hello_accept(struct prb_session *s, const struct prb_hello_rsp *m,
			   uint32_t refused)
{
	const uint32_t informational = PRB_FEATURE_TIERING | PRB_FEATURE_PERSISTENT;
	struct prb_session_info *p = &s->params;
	uint32_t tag = m->hdr.tag;

	/* PRB-HELLO-21, -23, -24 */
	if (m->version < 1 || m->version > PRB_VERSION)
		return prb_proto_fault(s, -EPROTO, PRB_TERM_NO_VERSION,
				       PRB_HELLO_RSP_VERSION_OFFSET, tag);
	if (m->queue_depth > s->opts.queue_depth)
		return prb_proto_fault(s, -EPROTO, PRB_TERM_BAD_HEADER,
				       PRB_HELLO_RSP_QUEUE_DEPTH_OFFSET, tag);
	if (m->features & ~(s->opts.features | informational) || m->features & refused)
		return prb_proto_fault(s, -EPROTO, PRB_TERM_BAD_HEADER,
				       PRB_HELLO_RSP_FEATURES_OFFSET, tag);
	memcpy(p->brick_id, m->brick_id, sizeof(p->brick_id));
	p->boot_epoch = m->boot_epoch;
	p->capacity_blocks = m->capacity_blocks;
	p->free_blocks = m->free_blocks;
	p->version = m->version;
	p->features = m->features;
	p->queue_depth = m->queue_depth;
	p->max_pdu = m->max_pdu;
	p->max_mappings = m->max_mappings;
	return 0;
}

int prb_proto_msg_decode(const uint8_t *pdu, size_t len, union prb_msg *m, enum prb_msg_id *id)
{
	uint8_t scratch[PRB_ERROR_RSP_MAX];

	if (len < PRB_HDR_SIZE)
		return -EMSGSIZE;
	pdu = prb_proto_as_known(pdu, len, scratch);
	if (!pdu)
		return -EBADMSG;
	return prb_msg_decode(pdu, len, m, id, NULL);
}

/* Decode the answer's fixed part and fill the request's outputs; *result gets its status. */
static int prb_proto_fill(struct prb_request *r, const uint8_t *pdu, size_t len, int *result)
{
	union prb_msg m;
	enum prb_msg_id id;
	int expected = prb_msg_id_of((uint8_t)(r->opcode | PRB_OPCODE_RESPONSE));

	if (expected < 0 || prb_proto_msg_decode(pdu, len, &m, &id) < 0 || (int)id != expected)
		return -EPROTO;
	*result = prb_status_to_errno(m.hdr.status);
	if (r->opcode == PRB_OP_MAP)
		prb_fill_map(r, &m.map_rsp, *result);
	if (*result < 0)
		return 0;
	switch (r->opcode) {
	case PRB_OP_INFO:
		prb_fill_info(r->info_out, &m.info_rsp);
		break;
	case PRB_OP_LIST:
		if (prb_fill_list(r, &m.list_rsp, pdu, len) < 0)
			return -EPROTO;
		*result = (int)m.list_rsp.count;
		break;
	case PRB_OP_READ:
		if (m.read_rsp.payload_len != r->length)
			return -EPROTO;
		break;
	case PRB_OP_CAS:
		if (r->original_out)
			*r->original_out = m.cas_rsp.original;
		break;
	case PRB_OP_FADD:
		if (r->original_out)
			*r->original_out = m.fadd_rsp.original;
		break;
	default:
		break;
	}
	return 0;
}

int prb_proto_complete(struct prb_session *s, struct prb_request *r, const uint8_t *pdu, size_t len)
{
	int result = 0;
	int rc = prb_proto_fill(r, pdu, len, &result);

	if (rc < 0) /* the caller ends the connection, which fails r too */
		return prb_proto_fault_decode(s, rc, pdu, len);
	prb_queue_finish(s, r, result);
	return 0;
}
