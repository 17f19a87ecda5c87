/* Codec properties over every message, walking the generated descriptors: round trip of
 * random valid messages, every truncation, every reserved bit, every value of every enum
 * field and of the response status, unknown flag bits (refused, or ignored and kept where
 * the spec says so), min/max/align/equals violations,
 * error responses, and encoders that never write past their buffer.
 * Usage: test_codec [ITERATIONS] [SEED] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define GUARD 0xA5
#define MAX_FIXED 256

/* Encode m into buf, checking the guard bytes after the fixed part; return the size. */
static int encode_guarded(enum prb_msg_id id, const union prb_msg *m, uint8_t *buf)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	int n;

	memset(buf, GUARD, MAX_FIXED);
	n = prb_msg_encode(id, m, buf, d->size);
	CHECK(n == (int)d->size, "%s: encode returned %d", d->name, n);
	for (size_t i = d->size; i < MAX_FIXED; i++)
		CHECK(buf[i] == GUARD, "%s: encoder wrote byte %zu past the fixed part", d->name, i);
	return n;
}

/* Every field of a and b that the wire carries is equal. */
static void compare(const struct prb_msg_desc *d, const union prb_msg *a, const union prb_msg *b)
{
	CHECK(a->hdr.flags == b->hdr.flags && a->hdr.tag == b->hdr.tag &&
		      a->hdr.status == b->hdr.status,
	      "%s: header differs", d->name);
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct prb_field_desc *f = &d->fields[i];

		if (f->kind == PRB_FIELD_RESERVED)
			continue;
		if (f->kind == PRB_FIELD_BYTES)
			CHECK(memcmp((const uint8_t *)a + f->c_offset, (const uint8_t *)b + f->c_offset,
				     f->size) == 0,
			      "%s.%s differs", d->name, f->name);
		else
			CHECK(member_get(a, f) == member_get(b, f), "%s.%s: %llu != %llu", d->name,
			      f->name, (unsigned long long)member_get(a, f),
			      (unsigned long long)member_get(b, f));
	}
	if (d->payload != PRB_PAYLOAD_NONE) {
		uint32_t pa, pb;

		memcpy(&pa, (const uint8_t *)a + d->c_payload_len, sizeof(pa));
		memcpy(&pb, (const uint8_t *)b + d->c_payload_len, sizeof(pb));
		CHECK(pa == pb, "%s.payload_len: %u != %u", d->name, pa, pb);
	}
}

/* Decode buf as id and expect errno rc at offset (offset checked when rc < 0). */
static void expect(enum prb_msg_id id, const uint8_t *buf, size_t len, int rc, uint32_t offset,
		   const char *what)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	struct prb_wire_error err = {0};
	union prb_msg out;
	int got = prb_msg_decode_as(id, buf, len, &out, &err);

	CHECK(got == rc, "%s %s: decode returned %d, expected %d (%s: %s)", d->name, what, got, rc,
	      err.field ? err.field : "-", err.reason ? err.reason : "-");
	if (rc < 0 && got == rc)
		CHECK(err.offset == offset && err.field && err.reason,
		      "%s %s: error at offset %u (%s), expected %u", d->name, what, err.offset,
		      err.field ? err.field : "-", offset);
}

static void round_trip(struct rng *r, enum prb_msg_id id)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	uint8_t buf[MAX_FIXED], again[MAX_FIXED];
	union prb_msg m, out;
	struct prb_wire_error err = {0};
	enum prb_msg_id got_id;
	int rc;

	random_msg(r, id, &m);
	encode_guarded(id, &m, buf);
	rc = prb_msg_decode(buf, d->size, &out, &got_id, &err);
	CHECK(rc == 0, "%s: decode of a valid message: %d (%s: %s)", d->name, rc,
	      err.field ? err.field : "-", err.reason ? err.reason : "-");
	if (rc != 0)
		return;
	CHECK(got_id == id, "%s: decoded as %d", d->name, (int)got_id);
	CHECK(out.hdr.magic == PRB_MAGIC && out.hdr.opcode == d->opcode && out.hdr.hlen == d->size,
	      "%s: header values not set by the encoder", d->name);
	compare(d, &m, &out);
	encode_guarded(id, &out, again);
	CHECK(memcmp(buf, again, d->size) == 0, "%s: re-encoding differs", d->name);
}

/* Every length short of the fixed part fails with EMSGSIZE at that length. */
static void truncations(enum prb_msg_id id, const uint8_t *good)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];

	for (uint32_t n = 0; n < d->size; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches a read past it */

		memcpy(copy, good, n);
		expect(id, copy, n, -EMSGSIZE, n, "truncated");
		free(copy);
	}
}

/*
 * A flags field accepts its defined bits, and where unknown bits are ignored (PRB-VER-8) each of them alone, and all of them with
 * every defined bit, decode and are kept as received (the caller masks them).
 */
static void ignored_bits(enum prb_msg_id id, const uint8_t *good,
			 const struct prb_field_desc *f)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	uint64_t all = field_type_max(f);
	uint8_t buf[MAX_FIXED];
	union prb_msg out;

	CHECK((f->defined_mask & ~f->mask) == 0, "%s.%s: defined bits not accepted", d->name,
	      f->name);
	CHECK(f->unknown_bits_ignored == (f->mask == all && f->defined_mask != all),
	      "%s.%s: unknown_bits_ignored does not match the masks", d->name, f->name);
	if (!f->unknown_bits_ignored)
		return;
	for (unsigned bit = 0; bit <= 8u * f->size; bit++) {
		uint64_t v = bit < 8u * f->size ? 1ULL << bit : all;
		int rc;

		if (bit < 8u * f->size && (f->defined_mask >> bit & 1))
			continue;
		memcpy(buf, good, d->size);
		wire_set(buf, f, v);
		rc = prb_msg_decode_as(id, buf, d->size, &out, NULL);
		CHECK(rc == 0 && member_get(&out, f) == v, "%s.%s = %#llx: decode %d, kept %#llx",
		      d->name, f->name, (unsigned long long)v, rc,
		      (unsigned long long)member_get(&out, f));
	}
}

/* Each single-field violation the descriptor allows, and the errno it must give. */
static void field_violations(enum prb_msg_id id, const uint8_t *good, const struct prb_field_desc *f)
{
	uint8_t buf[MAX_FIXED];
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	uint64_t max = field_type_max(f);

	/* The payload length is checked before the field's bounds: changing the field alone
	 * breaks the framing (PRB-PDU-3, PRB-PDU-4). */
	bool framing = f->checks & PRB_CHECK_PAYLOAD_LENGTH;
	/* The bits a walker must flip to get EINVAL: all of a reserved field, the flags the
	 * decoder does not accept. */
	uint64_t must_be_zero = f->kind == PRB_FIELD_RESERVED ? max
				: f->kind == PRB_FIELD_FLAGS  ? max & ~f->mask
							      : 0;

	CHECK(f->reserved_mask == must_be_zero, "%s.%s: reserved_mask %#llx, expected %#llx",
	      d->name, f->name, (unsigned long long)f->reserved_mask,
	      (unsigned long long)must_be_zero);

#define TRY(value, rc, what)                                                                       \
	do {                                                                                       \
		memcpy(buf, good, d->size);                                                        \
		wire_set(buf, f, (value));                                                         \
		expect(id, buf, d->size, framing ? -EBADMSG : (rc), f->offset, (what));            \
	} while (0)

	switch (f->kind) {
	case PRB_FIELD_RESERVED:
		for (unsigned bit = 0; bit < 8u * f->size; bit++)
			TRY(1ULL << bit, -EINVAL, "reserved bit");
		break;
	case PRB_FIELD_ENUM:
		/* Every value of the field's width: members decode, the others are ERANGE. */
		for (uint64_t v = 0; v <= max && v <= 0xFFFF; v++) {
			if (f->value_name((unsigned)v) == NULL)
				TRY(v, -ERANGE, "enum non-member");
		}
		TRY(max, -ERANGE, "enum type max");
		break;
	case PRB_FIELD_FLAGS:
		for (unsigned bit = 0; bit < 8u * f->size; bit++) {
			if (!(f->mask >> bit & 1))
				TRY(1ULL << bit, -EINVAL, "unknown flag bit");
		}
		ignored_bits(id, good, f);
		break;
	case PRB_FIELD_UINT:
		if (f->checks & PRB_CHECK_EQUALS) {
			TRY(f->equals ^ 1, -EINVAL, "not equal");
			break;
		}
		if (f->checks & PRB_CHECK_ALIGN) {
			uint64_t lo = (f->checks & PRB_CHECK_MIN) ? f->min : 0;

			for (uint64_t a = 1; a < f->align; a <<= 1)
				TRY(lo + a, -EINVAL, "misaligned");
		}
		if ((f->checks & PRB_CHECK_MIN) && f->min > 0)
			TRY(f->min - 1, -EINVAL, "below min");
		if ((f->checks & PRB_CHECK_MAX) && f->max < max) {
			TRY(f->max + 1, -E2BIG, "above max");
			TRY(max, -E2BIG, "type max");
		}
		break;
	default:
		break;
	}
#undef TRY
}

/* A valid message with no digests and a payload of the smallest valid size, encoded. */
static void plain(struct rng *r, enum prb_msg_id id, uint8_t *buf)
{
	union prb_msg m;

	random_msg(r, id, &m);
	m.hdr.flags = 0;
	encode_guarded(id, &m, buf);
}

static void violations(struct rng *r, enum prb_msg_id id)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	uint8_t good[MAX_FIXED], buf[MAX_FIXED];

	plain(r, id, good);
	expect(id, good, d->size, 0, 0, "valid");
	truncations(id, good);
	for (unsigned i = 0; i < d->field_count; i++)
		field_violations(id, good, &d->fields[i]);
	for (unsigned bit = 0; bit < 8; bit++) {
		if (PRB_HDR_ALL >> bit & 1)
			continue;
		memcpy(buf, good, d->size);
		buf[3] = (uint8_t)(1u << bit);
		expect(id, buf, d->size, -EINVAL, 3, "reserved header flag");
	}
	memcpy(buf, good, d->size);
	buf[0] ^= 1;
	expect(id, buf, d->size, -EPROTO, 0, "bad magic");
}

/* Encoders refuse every short buffer and write nothing into it. */
static void short_buffers(struct rng *r, enum prb_msg_id id)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	uint8_t buf[MAX_FIXED];
	union prb_msg m;

	random_msg(r, id, &m);
	for (size_t n = 0; n < d->size; n++) {
		memset(buf, GUARD, sizeof(buf));
		CHECK(prb_msg_encode(id, &m, buf, n) == -EMSGSIZE, "%s: encode into %zu bytes",
		      d->name, n);
		for (size_t i = 0; i < sizeof(buf); i++)
			CHECK(buf[i] == GUARD, "%s: encode into %zu bytes wrote byte %zu", d->name, n,
			      i);
	}
}

/* Every status value in an error response header: members decode, others are ERANGE. */
static void statuses(enum prb_msg_id id)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	uint8_t buf[PRB_HDR_SIZE];
	uint8_t request = (uint8_t)(d->opcode & ~PRB_OPCODE_RESPONSE);

	if (d->direction != PRB_DIR_RESPONSE)
		return;
	for (unsigned status = 1; status <= 0xFFFF; status++) {
		prb_error_rsp_encode(request, 1, (uint16_t)status, 0, buf, sizeof(buf));
		expect(id, buf, sizeof(buf), prb_status_name(status) ? 0 : -ERANGE, 12,
		       "error response status");
	}
}

/* Error responses decode with a zero body; requests refuse a status. */
static void error_responses(struct rng *r, enum prb_msg_id id)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	uint8_t buf[MAX_FIXED];
	union prb_msg out;
	uint8_t request = (uint8_t)(d->opcode & ~PRB_OPCODE_RESPONSE);
	int rc;

	if (d->direction != PRB_DIR_RESPONSE)
		return;
	rc = prb_error_rsp_encode(request, 7, PRB_ST_ENOENT, 0, buf, sizeof(buf));
	CHECK(rc == (int)PRB_HDR_SIZE, "%s: error response encode %d", d->name, rc);
	memset(&out, 0xEE, sizeof(out));
	rc = prb_msg_decode_as(id, buf, PRB_HDR_SIZE, &out, NULL);
	CHECK(rc == 0 && out.hdr.status == PRB_ST_ENOENT && out.hdr.tag == 7,
	      "%s: error response decode %d", d->name, rc);
	for (unsigned i = 0; i < d->field_count; i++) {
		if (d->fields[i].kind != PRB_FIELD_RESERVED && d->fields[i].kind != PRB_FIELD_BYTES)
			CHECK(member_get(&out, &d->fields[i]) == 0, "%s.%s not zero in an error response",
			      d->name, d->fields[i].name);
	}
	(void)r;
}

int main(int argc, char **argv)
{
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 0) : 2000;
	struct rng r = {argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5052427465737431ULL};

	printf("test_codec: %lu iterations per message, seed %#llx\n", iterations,
	       (unsigned long long)r.state);
	for (int id = 0; id < PRB_MSG_COUNT; id++) {
		for (unsigned long i = 0; i < iterations; i++)
			round_trip(&r, (enum prb_msg_id)id);
		violations(&r, (enum prb_msg_id)id);
		short_buffers(&r, (enum prb_msg_id)id);
		error_responses(&r, (enum prb_msg_id)id);
		statuses((enum prb_msg_id)id);
	}
	return test_finish("test_codec");
}
