/* The generic field walker: shows any struct or message of the spec from its generated
 * table and checks every value against what the spec says of the field. */
#include "prb_dissector.h"

#include <inttypes.h>
#include <string.h>

/* Little-endian unsigned value of size 1, 2, 4 or 8 bytes. */
static uint64_t field_value(tvbuff_t *tvb, int offset, unsigned size)
{
	switch (size) {
	case 1:
		return tvb_get_guint8(tvb, offset);
	case 2:
		return tvb_get_letohs(tvb, offset);
	case 4:
		return tvb_get_letohl(tvb, offset);
	case 8:
		return tvb_get_letoh64(tvb, offset);
	default:
		return 0;
	}
}

/* Report the spec's min/max/align/equals a value breaks, if any. */
static void check_bounds(packet_info *pinfo, proto_item *item, const struct prb_ws_field *f,
			 uint64_t v)
{
	expert_field *ei = &prb_ei[PRB_EI_OUT_OF_RANGE];

	if ((f->checks & PRB_WS_CHECK_MIN) && v < f->min)
		expert_add_info_format(pinfo, item, ei,
				       "%s = %" PRIu64 " is below its minimum %" PRIu64, f->name, v,
				       f->min);
	if ((f->checks & PRB_WS_CHECK_MAX) && v > f->max)
		expert_add_info_format(pinfo, item, ei,
				       "%s = %" PRIu64 " is above its maximum %" PRIu64, f->name, v,
				       f->max);
	if ((f->checks & PRB_WS_CHECK_ALIGN) && f->align != 0 && v % f->align != 0)
		expert_add_info_format(pinfo, item, ei,
				       "%s = 0x%" PRIx64 " is not a multiple of 0x%" PRIx64,
				       f->name, v, f->align);
	if ((f->checks & PRB_WS_CHECK_EQUALS) && v != f->equals)
		expert_add_info_format(pinfo, item, ei, "%s = %" PRIu64 " must be %" PRIu64,
				       f->name, v, f->equals);
}

/* Check one field's value: reserved zero, enum member, no reserved flag bit, bounds. */
static void check_field(tvbuff_t *tvb, packet_info *pinfo, proto_item *item,
			const struct prb_ws_field *f, int offset)
{
	uint64_t v;

	if (f->kind == PRB_WS_BYTES)
		return;
	v = field_value(tvb, offset, f->size);
	switch (f->kind) {
	case PRB_WS_RESERVED:
		if (v != 0)
			expert_add_info_format(pinfo, item, &prb_ei[PRB_EI_RESERVED],
					       "Reserved field %s is 0x%" PRIx64 ", not zero",
					       f->name, v);
		return;
	case PRB_WS_ENUM:
		if (v > UINT32_MAX || try_val_to_str((uint32_t)v, f->vals) == NULL)
			expert_add_info_format(pinfo, item, &prb_ei[PRB_EI_NOT_MEMBER],
					       "%s = %" PRIu64 " is not a member of its enum",
					       f->name, v);
		return;
	case PRB_WS_FLAGS:
		if (v & ~f->valid_mask)
			expert_add_info_format(pinfo, item, &prb_ei[PRB_EI_RESERVED_BITS],
					       "Reserved bits of %s set: 0x%" PRIx64, f->name,
					       v & ~f->valid_mask);
		return;
	default:
		check_bounds(pinfo, item, f, v);
		return;
	}
}

void prb_dissect_layout(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
			const struct prb_ws_msg *layout, int base)
{
	for (unsigned i = 0; i < layout->field_count; i++) {
		const struct prb_ws_field *f = &layout->fields[i];
		int offset = base + f->offset;
		proto_item *item;

		if (f->kind == PRB_WS_FLAGS)
			item = proto_tree_add_bitmask(tree, tvb, (unsigned)offset, *f->hf,
						      prb_ett[PRB_ETT_FLAGS], f->bits,
						      ENC_LITTLE_ENDIAN);
		else
			item = proto_tree_add_item(tree, *f->hf, tvb, offset, f->size,
						   f->kind == PRB_WS_BYTES ||
								   f->kind == PRB_WS_RESERVED
							   ? ENC_NA
							   : ENC_LITTLE_ENDIAN);
		check_field(tvb, pinfo, item, f, offset);
	}
}

const struct prb_ws_field *prb_layout_field(const struct prb_ws_msg *layout, const char *name)
{
	for (unsigned i = 0; i < layout->field_count; i++) {
		if (strcmp(layout->fields[i].name, name) == 0)
			return &layout->fields[i];
	}
	return NULL;
}

const struct prb_ws_field *prb_layout_payload_field(const struct prb_ws_msg *layout)
{
	for (unsigned i = 0; i < layout->field_count; i++) {
		if (layout->fields[i].checks & PRB_WS_CHECK_PAYLOAD_LENGTH)
			return &layout->fields[i];
	}
	return NULL;
}

uint64_t prb_layout_value(tvbuff_t *tvb, const struct prb_ws_msg *layout, int base,
			  const char *name)
{
	const struct prb_ws_field *f = prb_layout_field(layout, name);

	if (f == NULL || f->kind == PRB_WS_BYTES)
		return 0;
	return field_value(tvb, base + f->offset, f->size);
}
