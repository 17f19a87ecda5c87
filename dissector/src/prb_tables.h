/* Types of the generated field tables (prb_ws_fields.h, from spec/prb.toml).
 *
 * The generator fills these tables; the generic body dissector (prb_body.c) walks them,
 * so no message layout is typed in the plugin's C code.
 */
#ifndef PRB_TABLES_H
#define PRB_TABLES_H

#include <stdint.h>

/* What a field is, for display and for the checks of the spec. */
enum prb_ws_kind {
	PRB_WS_UINT,	 /* plain unsigned integer */
	PRB_WS_ENUM,	 /* value must be a member of vals */
	PRB_WS_FLAGS,	 /* bits outside valid_mask are reserved */
	PRB_WS_RESERVED, /* must be zero */
	PRB_WS_BYTES,	 /* opaque bytes (UUIDs) */
};

/* Which of min/max/align/equals the spec sets on a field. */
enum prb_ws_check {
	PRB_WS_CHECK_MIN = 1 << 0,
	PRB_WS_CHECK_MAX = 1 << 1,
	PRB_WS_CHECK_ALIGN = 1 << 2,
	PRB_WS_CHECK_EQUALS = 1 << 3,
	PRB_WS_CHECK_PAYLOAD_LENGTH = 1 << 4, /* holds the payload length (bytes or records) */
};

enum prb_ws_direction {
	PRB_WS_REQUEST,
	PRB_WS_RESPONSE,
	PRB_WS_EITHER,
};

enum prb_ws_payload {
	PRB_WS_PAYLOAD_NONE,
	PRB_WS_PAYLOAD_DATA,
	PRB_WS_PAYLOAD_EXTENTS,
};

/* One field of a struct or message: where it is and what the spec says of it. */
struct prb_ws_field {
	const char *name;	  /* spec name */
	int *hf;		  /* its header field id */
	int *const *bits;	  /* FLAGS: NULL-terminated bit fields, else NULL */
	const value_string *vals; /* ENUM: the members, else NULL */
	uint64_t valid_mask;	  /* FLAGS: every defined bit */
	uint64_t min;
	uint64_t max;
	uint64_t align;
	uint64_t equals;
	uint16_t offset; /* from the start of the PDU (struct) */
	uint8_t size;	 /* bytes */
	uint8_t kind;	 /* enum prb_ws_kind */
	uint8_t checks;	 /* enum prb_ws_check bits */
};

/* One message (or struct) layout. */
struct prb_ws_msg {
	const char *name; /* spec name, e.g. "alloc_req" */
	const char *doc;
	uint8_t opcode;	   /* enum opcode value, without the response bit */
	uint8_t direction; /* enum prb_ws_direction */
	uint8_t payload;   /* enum prb_ws_payload */
	uint16_t size;	   /* fixed part, header included */
	const struct prb_ws_field *fields;
	unsigned field_count;
};

#endif
