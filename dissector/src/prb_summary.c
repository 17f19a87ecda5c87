/* One-line summaries of PDUs for the Info column: "ALLOC 0x40000000 x4 -> EEXIST". */
#include "prb_dissector.h"

#include <inttypes.h>

/* Names of the bits set in value, joined by '|' ("HDGST|DDGST", "WRITE|0x100" with an
 * undefined bit), or "" when none. */
static const char *flag_names(wmem_allocator_t *scope, const value_string *vals, uint64_t value)
{
	wmem_strbuf_t *buf = wmem_strbuf_new(scope, "");
	uint64_t rest = value;

	for (const value_string *v = vals; v->strptr != NULL; v++) {
		if (value & v->value) {
			wmem_strbuf_append_printf(buf, "%s%s", wmem_strbuf_get_len(buf) ? "|" : "",
						  v->strptr);
			rest &= ~(uint64_t)v->value;
		}
	}
	if (rest != 0)
		wmem_strbuf_append_printf(buf, "%s0x%" PRIx64, wmem_strbuf_get_len(buf) ? "|" : "",
					  rest);
	return wmem_strbuf_finalize(buf);
}

/* Value of a body field of this PDU's message. */
static uint64_t get(tvbuff_t *tvb, const struct prb_pdu *pdu, const char *name)
{
	return prb_layout_value(tvb, pdu->msg, 0, name);
}

/* READ/WRITE/FLUSH/CAS/FADD: "WRITE handle 0x... +0x1000 len 4096". */
static const char *handle_access(tvbuff_t *tvb, const struct prb_pdu *pdu, wmem_allocator_t *scope,
				 const char *op)
{
	const char *extra = "";

	if (prb_layout_field(pdu->msg, "length") != NULL)
		extra = wmem_strdup_printf(scope, " len %" PRIu64, get(tvb, pdu, "length"));
	else if (prb_layout_field(pdu->msg, "add") != NULL)
		extra = wmem_strdup_printf(scope, " add %" PRIu64, get(tvb, pdu, "add"));
	else if (prb_layout_field(pdu->msg, "swap") != NULL)
		extra = wmem_strdup_printf(scope, " 0x%" PRIx64 " => 0x%" PRIx64,
					   get(tvb, pdu, "compare"), get(tvb, pdu, "swap"));
	return wmem_strdup_printf(scope, "%s handle 0x%" PRIx64 " +0x%" PRIx64 "%s", op,
				  get(tvb, pdu, "handle"), get(tvb, pdu, "offset"), extra);
}

const char *prb_summary_request(tvbuff_t *tvb, const struct prb_pdu *pdu, wmem_allocator_t *scope)
{
	const char *op = val_to_str_const(pdu->opcode, prb_vals_opcode, "?");
	uint64_t flags;

	switch (pdu->opcode) {
	case PRB_OP_HELLO:
		flags = get(tvb, pdu, "features");
		return wmem_strdup_printf(
			scope, "HELLO v%" PRIu64 "-%" PRIu64 " qd %" PRIu64 "%s%s",
			get(tvb, pdu, "min_version"), get(tvb, pdu, "max_version"),
			get(tvb, pdu, "queue_depth"), flags ? " " : "",
			flag_names(scope, prb_vals_feature, flags));
	case PRB_OP_ALLOC:
		return wmem_strdup_printf(scope, "ALLOC 0x%" PRIx64 " x%" PRIu64,
					  get(tvb, pdu, "addr"), get(tvb, pdu, "blocks"));
	case PRB_OP_FREE:
		flags = get(tvb, pdu, "free_flags");
		return wmem_strdup_printf(
			scope, "FREE 0x%" PRIx64 " x%" PRIu64 "%s%s", get(tvb, pdu, "addr"),
			get(tvb, pdu, "blocks"), flags ? " " : "",
			flags ? flag_names(scope, prb_vals_free_flags, flags) : "");
	case PRB_OP_MAP:
		flags = get(tvb, pdu, "map_flags");
		return wmem_strdup_printf(scope, "MAP 0x%" PRIx64 " %s%s", get(tvb, pdu, "addr"),
					  (flags & PRB_MAP_WRITE) ? "RW" : "RO",
					  (flags & PRB_MAP_EXCL) ? " EXCL" : "");
	case PRB_OP_UNMAP:
		return wmem_strdup_printf(scope, "UNMAP handle 0x%" PRIx64,
					  get(tvb, pdu, "handle"));
	case PRB_OP_LIST:
		return wmem_strdup_printf(scope, "LIST from 0x%" PRIx64 " max %" PRIu64,
					  get(tvb, pdu, "cursor"), get(tvb, pdu, "max_extents"));
	case PRB_OP_READ:
	case PRB_OP_WRITE:
	case PRB_OP_FLUSH:
	case PRB_OP_CAS:
	case PRB_OP_FADD:
		return handle_access(tvb, pdu, scope, op);
	case PRB_OP_TERM:
		return wmem_strdup_printf(scope, "TERM %s at offset %" PRIu64,
					  val_to_str_const((uint32_t)get(tvb, pdu, "reason"),
							   prb_vals_term_reason, "?"),
					  get(tvb, pdu, "error_offset"));
	default:
		return op;
	}
}

const char *prb_summary_result(tvbuff_t *tvb, const struct prb_pdu *pdu, wmem_allocator_t *scope)
{
	if (pdu->status != 0 || pdu->hlen != pdu->msg->size)
		return val_to_str_wmem(scope, pdu->status, prb_vals_status, "status %u");
	switch (pdu->opcode) {
	case PRB_OP_HELLO: {
		uint64_t features = get(tvb, pdu, "features");

		return wmem_strdup_printf(scope,
					  "v%" PRIu64 " qd %" PRIu64 " max_data %" PRIu64 "%s%s",
					  get(tvb, pdu, "version"), get(tvb, pdu, "queue_depth"),
					  get(tvb, pdu, "max_data"), features ? " " : "",
					  flag_names(scope, prb_vals_feature, features));
	}
	case PRB_OP_INFO:
		return wmem_strdup_printf(scope, "%" PRIu64 " of %" PRIu64 " blocks free",
					  get(tvb, pdu, "free_blocks"),
					  get(tvb, pdu, "capacity_blocks"));
	case PRB_OP_MAP:
		if (get(tvb, pdu, "rkey") != 0)
			return wmem_strdup_printf(
				scope, "handle 0x%" PRIx64 " rkey 0x%" PRIx64 " raddr 0x%" PRIx64,
				get(tvb, pdu, "handle"), get(tvb, pdu, "rkey"),
				get(tvb, pdu, "raddr"));
		return wmem_strdup_printf(scope, "handle 0x%" PRIx64, get(tvb, pdu, "handle"));
	case PRB_OP_LIST: {
		uint64_t count = get(tvb, pdu, "count");

		return wmem_strdup_printf(
			scope, "%" PRIu64 " extent%s, next 0x%" PRIx64 "%s", count,
			count == 1 ? "" : "s", get(tvb, pdu, "next_cursor"),
			(get(tvb, pdu, "list_flags") & PRB_LIST_END) ? " END" : "");
	}
	case PRB_OP_READ:
		return wmem_strdup_printf(scope, "%u bytes", pdu->payload_len);
	case PRB_OP_CAS:
	case PRB_OP_FADD:
		return wmem_strdup_printf(scope, "original 0x%" PRIx64, get(tvb, pdu, "original"));
	default:
		return "OK";
	}
}
