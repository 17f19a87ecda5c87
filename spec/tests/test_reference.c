/* A second decoder, written by hand from the descriptors and the check order of
 * PROTOCOL.md (PRB-PDU-12, then the body in field order), against which the generated
 * decoders are compared on randomly damaged PDUs: same result, same error offset, and on
 * success the same values. It checks the generated code, its fast path included, without
 * trusting its structure.
 * Usage: test_reference [ITERATIONS] [SEED] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_FIXED 256

/* The outcome of a decode: 0 or a negative errno, and the offset of the field at fault;
 * on success, whether it is an error response and the payload bytes plen announces. */
struct outcome {
	int rc;
	uint32_t offset;
	bool error_response;
	uint64_t payload;
};

static struct outcome failed(int rc, uint32_t offset)
{
	return (struct outcome){rc, offset, false, 0};
}

static uint64_t hdr_value(const uint8_t *p, const char *name)
{
	return wire_get(p, hdr_field(name));
}

/* Checks 1 to 4 of PRB-PDU-12, the opcode and the status; *error_response when valid. */
static struct outcome reference_hdr(const struct prb_msg_desc *d, const uint8_t *p, size_t len,
				    bool *error_response)
{
	uint64_t flags = hdr_value(p, "flags"), hlen = hdr_value(p, "hlen");
	uint64_t plen = hdr_value(p, "plen"), status = hdr_value(p, "status");
	uint64_t opcode = hdr_value(p, "opcode");
	uint64_t digests = ((flags & PRB_HDR_HDGST) ? PRB_HDGST_SIZE : 0) +
			   ((flags & PRB_HDR_DDGST) ? PRB_DDGST_SIZE : 0);

	*error_response = false;
	if (len < PRB_HDR_SIZE)
		return failed(-EMSGSIZE, (uint32_t)len);
	if (hdr_value(p, "magic") != PRB_MAGIC)
		return failed(-EPROTO, hdr_field("magic")->offset);
	if (flags & ~(uint64_t)PRB_HDR_ALL)
		return failed(-EINVAL, hdr_field("flags")->offset);
	if (hlen < PRB_HDR_SIZE || hlen % 8)
		return failed(-EBADMSG, hdr_field("hlen")->offset);
	if (plen < hlen + digests)
		return failed(-EBADMSG, hdr_field("plen")->offset);
	if (opcode != d->opcode)
		return failed(prb_msg_id_of((uint8_t)opcode) < 0 ? -EOPNOTSUPP : -ENOMSG,
			      hdr_field("opcode")->offset);
	if (prb_status_name((unsigned)status) == NULL)
		return failed(-ERANGE, hdr_field("status")->offset);
	if (status == 0)
		return failed(0, 0);
	if (d->direction != PRB_DIR_RESPONSE)
		return failed(-EINVAL, hdr_field("status")->offset);
	if (hlen != PRB_HDR_SIZE)
		return failed(-EBADMSG, hdr_field("hlen")->offset);
	if (flags & PRB_HDR_DDGST)
		return failed(-EBADMSG, hdr_field("flags")->offset);
	if (plen != PRB_HDR_SIZE + ((flags & PRB_HDR_HDGST) ? PRB_HDGST_SIZE : 0))
		return failed(-EBADMSG, hdr_field("plen")->offset);
	*error_response = true;
	return failed(0, 0);
}

/* hlen and the payload that plen announces (section 5.3, check 9 of PRB-PDU-12). */
static struct outcome reference_frame(const struct prb_msg_desc *d, const uint8_t *p, size_t len,
				      uint64_t *payload)
{
	uint64_t flags = hdr_value(p, "flags"), plen = hdr_value(p, "plen");
	uint64_t fixed = d->size + ((flags & PRB_HDR_HDGST) ? PRB_HDGST_SIZE : 0);

	if (len < d->size)
		return failed(-EMSGSIZE, (uint32_t)len);
	if (hdr_value(p, "hlen") != d->size)
		return failed(-EBADMSG, hdr_field("hlen")->offset);
	if (d->payload == PRB_PAYLOAD_NONE) {
		if (flags & PRB_HDR_DDGST)
			return failed(-EBADMSG, hdr_field("flags")->offset);
		if (plen != fixed)
			return failed(-EBADMSG, hdr_field("plen")->offset);
		*payload = 0;
		return failed(0, 0);
	}
	if (flags & PRB_HDR_DDGST)
		fixed += PRB_DDGST_SIZE;
	if (plen < fixed)
		return failed(-EBADMSG, hdr_field("plen")->offset);
	*payload = plen - fixed;
	if ((flags & PRB_HDR_DDGST) && *payload == 0)
		return failed(-EBADMSG, hdr_field("flags")->offset);
	if (*payload > d->payload_max)
		return failed(-E2BIG, hdr_field("plen")->offset);
	return failed(0, 0);
}

/* One body field's constraints, in the order the codec reports them. */
static int reference_field(const struct prb_field_desc *f, uint64_t v)
{
	switch (f->kind) {
	case PRB_FIELD_RESERVED:
		return v ? -EINVAL : 0;
	case PRB_FIELD_ENUM:
		return f->value_name((unsigned)v) ? 0 : -ERANGE;
	case PRB_FIELD_FLAGS:
		return (v & ~f->mask) ? -EINVAL : 0;
	case PRB_FIELD_UINT:
		if ((f->checks & PRB_CHECK_EQUALS) && v != f->equals)
			return -EINVAL;
		if ((f->checks & PRB_CHECK_ALIGN) && v % f->align)
			return -EINVAL;
		if ((f->checks & PRB_CHECK_MIN) && v < f->min)
			return -EINVAL;
		if ((f->checks & PRB_CHECK_MAX) && v > f->max)
			return -E2BIG;
		return 0;
	default:
		return 0;
	}
}

static struct outcome reference_decode(const struct prb_msg_desc *d, const uint8_t *p, size_t len)
{
	bool error_response;
	uint64_t payload;
	struct outcome o = reference_hdr(d, p, len, &error_response);

	o.error_response = error_response;
	if (o.rc < 0 || error_response)
		return o;
	o = reference_frame(d, p, len, &payload);
	if (o.rc < 0)
		return o;
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct prb_field_desc *f = &d->fields[i];
		uint64_t v = wire_get(p, f);

		if (!(f->checks & PRB_CHECK_PAYLOAD_LENGTH))
			continue;
		if (d->payload == PRB_PAYLOAD_EXTENTS ? v * PRB_EXTENT_SIZE != payload : v != payload)
			return failed(-EBADMSG, f->offset);
	}
	for (unsigned i = 0; i < d->field_count; i++) {
		int rc = reference_field(&d->fields[i], wire_get(p, &d->fields[i]));

		if (rc < 0)
			return failed(rc, d->fields[i].offset);
	}
	o = failed(0, 0);
	o.payload = payload;
	return o;
}

/* A PDU both decoders accept: every header and body member holds its wire value (zero in
 * an error response's body), payload_len the payload, whichever path the codec took. */
static void check_values(const struct prb_msg_desc *d, const uint8_t *p, const union prb_msg *m,
			 const struct outcome *want)
{
	for (unsigned i = 0; i < prb_hdr_desc.field_count; i++) {
		const struct prb_field_desc *f = &prb_hdr_desc.fields[i];

		CHECK(member_get(m, f) == wire_get(p, f), "%s: hdr.%s decoded as %llu, wire %llu",
		      d->name, f->name, (unsigned long long)member_get(m, f),
		      (unsigned long long)wire_get(p, f));
	}
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct prb_field_desc *f = &d->fields[i];
		const uint8_t *member = (const uint8_t *)m + f->c_offset;

		if (f->kind == PRB_FIELD_RESERVED)
			continue;
		if (f->kind == PRB_FIELD_BYTES) {
			uint8_t zero[16] = {0};

			CHECK(memcmp(member, want->error_response ? zero : p + f->offset, f->size) == 0,
			      "%s.%s: decoded bytes differ", d->name, f->name);
			continue;
		}
		CHECK(member_get(m, f) == (want->error_response ? 0 : wire_get(p, f)),
		      "%s.%s decoded as %llu", d->name, f->name, (unsigned long long)member_get(m, f));
	}
	if (d->payload != PRB_PAYLOAD_NONE) {
		uint32_t payload_len;

		memcpy(&payload_len, (const uint8_t *)m + d->c_payload_len, sizeof(payload_len));
		CHECK(payload_len == want->payload, "%s.payload_len %u, plen announces %llu", d->name,
		      payload_len, (unsigned long long)want->payload);
	}
}

/* Damage a valid PDU the ways that reach each check: bit flips, a field set to an edge
 * value, plen and hlen moved, truncation. */
static size_t damage(struct rng *r, const struct prb_msg_desc *d, uint8_t *buf)
{
	static const char *const hdr_names[] = {"plen", "hlen", "status", "flags", "opcode"};
	size_t len = d->size;
	unsigned kinds = (unsigned)rng_range(r, 1, 3);

	for (unsigned k = 0; k < kinds; k++) {
		switch (rng_next(r) % 6) {
		case 0: /* a random bit anywhere in the fixed part */
			buf[rng_next(r) % d->size] ^= (uint8_t)(1u << (rng_next(r) % 8));
			break;
		case 1: /* a body field to 0, 1, its maximum or a random value */
			if (d->field_count) {
				const struct prb_field_desc *f = &d->fields[rng_next(r) % d->field_count];
				uint64_t edges[] = {0, 1, field_type_max(f), rng_next(r)};

				if (f->size <= 8)
					wire_set(buf, f, edges[rng_next(r) % 4] & field_type_max(f));
			}
			break;
		case 2: { /* a header field nudged */
			const struct prb_field_desc *f = hdr_field(hdr_names[rng_next(r) % 5]);

			wire_set(buf, f, (wire_get(buf, f) + rng_range(r, 0, 16) - 8) & field_type_max(f));
			break;
		}
		case 3: /* an error response status */
			wire_set(buf, hdr_field("status"), rng_range(r, 0, 20));
			break;
		case 4: /* header only, as an error response is */
			wire_set(buf, hdr_field("hlen"), PRB_HDR_SIZE);
			wire_set(buf, hdr_field("plen"), PRB_HDR_SIZE);
			break;
		default: /* truncated */
			len = rng_range(r, 0, d->size);
			break;
		}
	}
	return len;
}

int main(int argc, char **argv)
{
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
	struct rng r = {argc > 2 ? strtoull(argv[2], NULL, 0) : 0x7265666572656E63ULL};
	unsigned long rejected = 0, total = 0;

	for (int id = 0; id < PRB_MSG_COUNT; id++) {
		const struct prb_msg_desc *d = &prb_msg_descs[id];

		for (unsigned long i = 0; i < iterations; i++) {
			uint8_t buf[MAX_FIXED];
			union prb_msg m, out;
			struct prb_wire_error err = {0};
			struct outcome want;
			size_t len;
			uint8_t *copy;
			int rc;

			random_msg(&r, (enum prb_msg_id)id, &m);
			prb_msg_encode((enum prb_msg_id)id, &m, buf, sizeof(buf));
			len = i % 8 ? damage(&r, d, buf) : d->size;
			want = reference_decode(d, buf, len);
			copy = malloc(len ? len : 1); /* exact size: ASan sees a read past it */
			memcpy(copy, buf, len);
			memset(&out, 0x5A, sizeof(out)); /* a member the decoder forgets shows */
			rc = prb_msg_decode_as((enum prb_msg_id)id, copy, len, &out, &err);
			free(copy);
			CHECK(rc == want.rc && (rc == 0 || err.offset == want.offset),
			      "%s (len %zu): codec %d at %u (%s), reference %d at %u", d->name, len, rc,
			      err.offset, err.field ? err.field : "-", want.rc, want.offset);
			if (rc == 0 && want.rc == 0)
				check_values(d, buf, &out, &want);
			rejected += rc < 0;
			total++;
		}
	}
	printf("test_reference: %lu PDUs compared, %lu rejected\n", total,
	       rejected);
	CHECK(rejected > total / 4 && rejected < total, "damage too weak or too strong: %lu of %lu",
	      rejected, total);
	return test_finish("test_reference");
}
