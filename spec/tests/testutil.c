/* Shared helpers of the codec tests (testutil.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

unsigned test_failures;

void test_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	test_failures++;
	if (test_failures > 50)
		return;
	fprintf(stderr, "%s:%d: check failed: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int test_finish(const char *name)
{
	if (test_failures) {
		printf("%s: FAILED (%u checks)\n", name, test_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

uint64_t rng_next(struct rng *r)
{
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return r->state * 0x2545F4914F6CDD1DULL;
}

uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo;

	if (span == UINT64_MAX)
		return rng_next(r);
	return lo + rng_next(r) % (span + 1);
}

uint64_t field_type_max(const struct prb_field_desc *f)
{
	return f->size >= 8 ? UINT64_MAX : (1ULL << (8 * f->size)) - 1;
}

uint64_t member_get(const void *base, const struct prb_field_desc *f)
{
	const uint8_t *p = (const uint8_t *)base + f->c_offset;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (f->size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	default:
		memcpy(&u64, p, 8);
		return u64;
	}
}

void member_set(void *base, const struct prb_field_desc *f, uint64_t v)
{
	uint8_t *p = (uint8_t *)base + f->c_offset;
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (f->size) {
	case 1:
		memcpy(p, &u8, 1);
		break;
	case 2:
		memcpy(p, &u16, 2);
		break;
	case 4:
		memcpy(p, &u32, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

uint64_t wire_get(const uint8_t *buf, const struct prb_field_desc *f)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < f->size && i < 8; i++)
		v |= (uint64_t)buf[f->offset + i] << (8 * i);
	return v;
}

void wire_set(uint8_t *buf, const struct prb_field_desc *f, uint64_t v)
{
	for (unsigned i = 0; i < f->size && i < 8; i++)
		buf[f->offset + i] = (uint8_t)(v >> (8 * i));
}

uint64_t random_valid(struct rng *r, const struct prb_field_desc *f)
{
	uint64_t lo = 0, hi = field_type_max(f), v;

	switch (f->kind) {
	case PRB_FIELD_FLAGS:
		return rng_next(r) & f->mask;
	case PRB_FIELD_ENUM:
		do {
			v = rng_range(r, 0, 255);
		} while (f->value_name((unsigned)v) == NULL);
		return v;
	case PRB_FIELD_UINT:
		break;
	default:
		return 0;
	}
	if (f->checks & PRB_CHECK_EQUALS)
		return f->equals;
	if (f->checks & PRB_CHECK_MIN)
		lo = f->min;
	if (f->checks & PRB_CHECK_MAX)
		hi = f->max;
	switch (rng_next(r) % 8) {
	case 0:
		v = lo;
		break;
	case 1:
		v = hi;
		break;
	case 2:
		v = rng_range(r, lo, lo + 64 < hi ? lo + 64 : hi);
		break;
	default:
		v = rng_range(r, lo, hi);
		break;
	}
	if (f->checks & PRB_CHECK_ALIGN) {
		v -= v % f->align;
		if (v < lo)
			v += f->align;
	}
	return v;
}

uint64_t enum_non_member(const struct prb_field_desc *f)
{
	uint64_t v = 0;

	while (v < field_type_max(f) && f->value_name((unsigned)v) != NULL)
		v++;
	return v;
}

const struct prb_field_desc *hdr_field(const char *name)
{
	for (unsigned i = 0; i < prb_hdr_desc.field_count; i++) {
		if (strcmp(prb_hdr_desc.fields[i].name, name) == 0)
			return &prb_hdr_desc.fields[i];
	}
	return NULL;
}

/* The payload length a message's fields imply (or a random one when none does). */
static uint32_t random_payload(struct rng *r, const struct prb_msg_desc *d, union prb_msg *m)
{
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct prb_field_desc *f = &d->fields[i];

		if (!(f->checks & PRB_CHECK_PAYLOAD_LENGTH))
			continue;
		if (d->payload == PRB_PAYLOAD_EXTENTS)
			return (uint32_t)member_get(m, f) * PRB_EXTENT_SIZE;
		return (uint32_t)member_get(m, f);
	}
	return (uint32_t)rng_range(r, 0, d->payload_max);
}

void random_msg(struct rng *r, enum prb_msg_id id, union prb_msg *m)
{
	const struct prb_msg_desc *d = &prb_msg_descs[id];
	uint32_t payload_len = 0;

	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct prb_field_desc *f = &d->fields[i];

		if (f->kind == PRB_FIELD_BYTES) {
			for (unsigned b = 0; b < f->size; b++)
				((uint8_t *)m)[f->c_offset + b] = (uint8_t)rng_next(r);
		} else if (f->kind != PRB_FIELD_RESERVED) {
			member_set(m, f, random_valid(r, f));
		}
	}
	if (d->payload != PRB_PAYLOAD_NONE) {
		payload_len = random_payload(r, d, m);
		memcpy((uint8_t *)m + d->c_payload_len, &payload_len, sizeof(payload_len));
	}
	m->hdr.tag = (uint32_t)rng_next(r);
	m->hdr.flags = (uint8_t)(rng_next(r) & PRB_HDR_HDGST);
	if (payload_len > 0 && rng_next(r) % 2)
		m->hdr.flags |= PRB_HDR_DDGST;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}
