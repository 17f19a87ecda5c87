/* Decode every test vector of the vectors file (spec/prbgen/gen_vectors.py documents the
 * format): valid ones give the listed field values and re-encode to the same bytes, and
 * their whole PDU carries correct digests; invalid ones fail with the listed errno and
 * offset. Usage: test_vectors FILE */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_LINE 8192
#define MAX_FIELDS 32
#define MAX_BYTES 4096

struct field_value {
	char name[64];
	char value[64];
};

struct vector {
	char name[160];
	char message[64];
	bool is_struct;
	struct field_value fields[MAX_FIELDS];
	unsigned field_count;
	long payload_len;
	uint8_t hex[MAX_BYTES];
	long hex_len;
	uint8_t pdu[MAX_BYTES];
	long pdu_len;
	char expect[32];
	uint32_t expect_offset;
};

struct errno_name {
	const char *name;
	int value;
};

static const struct errno_name errnos[] = {
	{"EMSGSIZE", EMSGSIZE}, {"EPROTO", EPROTO}, {"EOPNOTSUPP", EOPNOTSUPP},
	{"ENOMSG", ENOMSG},     {"EBADMSG", EBADMSG}, {"EINVAL", EINVAL},
	{"ERANGE", ERANGE},     {"E2BIG", E2BIG},
};

static int errno_of(const char *name)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (strcmp(errnos[i].name, name) == 0)
			return errnos[i].value;
	}
	return 0;
}

static int msg_id_by_name(const char *name)
{
	for (int id = 0; id < PRB_MSG_COUNT; id++) {
		if (strcmp(prb_msg_descs[id].name, name) == 0)
			return id;
	}
	return -1;
}

/* The descriptor of field NAME ("hdr.x" or a body field) of message d or struct s. */
static const struct prb_field_desc *find_field(const struct prb_msg_desc *d,
					       const struct prb_struct_desc *s, const char *name)
{
	unsigned count = d ? d->field_count : s->field_count;
	const struct prb_field_desc *fields = d ? d->fields : s->fields;

	if (d && strncmp(name, "hdr.", 4) == 0)
		return hdr_field(name + 4);
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	}
	return NULL;
}

/* The decoded struct holds every listed value. */
static void check_values(const struct vector *v, const struct prb_msg_desc *d,
			 const struct prb_struct_desc *s, const void *decoded)
{
	for (unsigned i = 0; i < v->field_count; i++) {
		const struct field_value *fv = &v->fields[i];
		const struct prb_field_desc *f = find_field(d, s, fv->name);

		CHECK(f != NULL, "%s: unknown field %s", v->name, fv->name);
		if (!f)
			continue;
		if (f->kind == PRB_FIELD_BYTES) {
			uint8_t want[16];

			CHECK(hex_decode(fv->value, want, sizeof(want)) == f->size &&
				      memcmp(want, (const uint8_t *)decoded + f->c_offset, f->size) == 0,
			      "%s: %s differs", v->name, fv->name);
		} else {
			unsigned long long want = strtoull(fv->value, NULL, 10);

			CHECK(member_get(decoded, f) == want, "%s: %s = %llu, expected %llu", v->name,
			      fv->name, (unsigned long long)member_get(decoded, f), want);
		}
	}
}

/* The whole PDU: the fixed part, then digests that match what prb_crc32c computes. */
static void check_pdu(const struct vector *v, const struct prb_hdr *h)
{
	uint32_t offset = prb_payload_offset(h), len = prb_payload_len(h);

	CHECK(v->pdu_len == (long)h->plen, "%s: pdu is %ld bytes, plen %u", v->name, v->pdu_len,
	      h->plen);
	CHECK(v->pdu_len >= v->hex_len && memcmp(v->pdu, v->hex, (size_t)v->hex_len) == 0,
	      "%s: pdu does not start with the fixed part", v->name);
	if (v->pdu_len != (long)h->plen)
		return;
	if (h->flags & PRB_HDR_HDGST) {
		uint32_t crc = prb_crc32c(v->pdu, h->hlen);
		const uint8_t *p = v->pdu + h->hlen;

		CHECK(p[0] == (uint8_t)crc && p[1] == (uint8_t)(crc >> 8) &&
			      p[2] == (uint8_t)(crc >> 16) && p[3] == (uint8_t)(crc >> 24) &&
			      p[4] == 0 && p[5] == 0 && p[6] == 0 && p[7] == 0,
		      "%s: header digest", v->name);
	}
	if (h->flags & PRB_HDR_DDGST) {
		uint32_t crc = prb_crc32c(v->pdu + offset, len);
		const uint8_t *p = v->pdu + offset + len;

		CHECK(p[0] == (uint8_t)crc && p[1] == (uint8_t)(crc >> 8) &&
			      p[2] == (uint8_t)(crc >> 16) && p[3] == (uint8_t)(crc >> 24),
		      "%s: data digest", v->name);
	}
}

static void run_message(const struct vector *v)
{
	int id = msg_id_by_name(v->message);
	const struct prb_msg_desc *d;
	struct prb_wire_error err = {0};
	union prb_msg m;
	uint8_t again[MAX_BYTES];
	int want = 0, rc;

	CHECK(id >= 0, "%s: unknown message %s", v->name, v->message);
	if (id < 0)
		return;
	d = &prb_msg_descs[id];
	if (strcmp(v->expect, "ok") != 0)
		want = -errno_of(v->expect);
	CHECK(want <= 0 && (want != 0 || strcmp(v->expect, "ok") == 0), "%s: unknown errno %s",
	      v->name, v->expect);
	/* Decode from an exact-size heap copy: ASan sees any read past the vector. */
	uint8_t *copy = malloc(v->hex_len ? (size_t)v->hex_len : 1);
	memcpy(copy, v->hex, (size_t)v->hex_len);
	rc = prb_msg_decode_as((enum prb_msg_id)id, copy, (size_t)v->hex_len, &m, &err);
	free(copy);
	CHECK(rc == want, "%s: decode returned %d, expected %d (%s: %s)", v->name, rc, want,
	      err.field ? err.field : "-", err.reason ? err.reason : "-");
	if (rc != want)
		return;
	if (want < 0) {
		CHECK(err.offset == v->expect_offset, "%s: error at offset %u (%s), expected %u",
		      v->name, err.offset, err.field, v->expect_offset);
		return;
	}
	check_values(v, d, NULL, &m);
	if (d->payload != PRB_PAYLOAD_NONE) {
		uint32_t got;

		memcpy(&got, (const uint8_t *)&m + d->c_payload_len, sizeof(got));
		CHECK(got == (uint32_t)v->payload_len, "%s: payload_len %u, expected %ld", v->name,
		      got, v->payload_len);
	}
	if (m.hdr.status != 0) /* an error response is the header alone */
		rc = prb_error_rsp_encode((uint8_t)(d->opcode & ~PRB_OPCODE_RESPONSE), m.hdr.tag,
					  m.hdr.status, m.hdr.flags, again, sizeof(again));
	else
		rc = prb_msg_encode((enum prb_msg_id)id, &m, again, sizeof(again));
	CHECK(rc == v->hex_len && memcmp(again, v->hex, (size_t)v->hex_len) == 0,
	      "%s: re-encoding differs", v->name);
	if (v->pdu_len)
		check_pdu(v, &m.hdr);
}

static void run_struct(const struct vector *v)
{
	struct prb_wire_error err = {0};
	const struct prb_struct_desc *desc;
	union {
		struct prb_extent extent;
		struct prb_hdr hdr;
	} s;
	uint8_t again[MAX_BYTES];
	int want = strcmp(v->expect, "ok") == 0 ? 0 : -errno_of(v->expect);
	bool is_hdr = strcmp(v->message, "hdr") == 0;
	int rc;

	CHECK(is_hdr || strcmp(v->message, "extent") == 0, "%s: no decoder for struct %s", v->name,
	      v->message);
	desc = is_hdr ? &prb_hdr_desc : &prb_extent_desc;
	if (is_hdr)
		rc = prb_hdr_decode(v->hex, (size_t)v->hex_len, &s.hdr, &err);
	else
		rc = prb_extent_decode(v->hex, (size_t)v->hex_len, &s.extent, &err);
	CHECK(rc == want, "%s: decode returned %d, expected %d", v->name, rc, want);
	if (rc != want)
		return;
	if (want < 0) {
		CHECK(err.offset == v->expect_offset, "%s: error at offset %u, expected %u", v->name,
		      err.offset, v->expect_offset);
		return;
	}
	check_values(v, NULL, desc, &s);
	if (is_hdr)
		rc = prb_hdr_encode(&s.hdr, again, sizeof(again));
	else
		rc = prb_extent_encode(&s.extent, again, sizeof(again));
	CHECK(rc == v->hex_len && memcmp(again, v->hex, (size_t)v->hex_len) == 0,
	      "%s: re-encoding differs", v->name);
}

/* Copy src into dst[size], truncated and NUL-terminated. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	while (n + 1 < size && src[n] != '\0') {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
}

/* Read one 'key value' line into v; return -1 on a malformed line. */
static int parse_line(struct vector *v, char *line)
{
	char *value = strchr(line, ' ');

	if (!value)
		return -1;
	*value++ = '\0';
	if (strcmp(line, "message") == 0 || strcmp(line, "struct") == 0) {
		copy_text(v->message, sizeof(v->message), value);
		v->is_struct = line[0] == 's';
	} else if (strcmp(line, "field") == 0) {
		char *val = strchr(value, ' ');

		if (!val || v->field_count == MAX_FIELDS)
			return -1;
		*val++ = '\0';
		copy_text(v->fields[v->field_count].name, sizeof(v->fields[0].name), value);
		copy_text(v->fields[v->field_count].value, sizeof(v->fields[0].value), val);
		v->field_count++;
	} else if (strcmp(line, "payload_len") == 0) {
		v->payload_len = strtol(value, NULL, 10);
	} else if (strcmp(line, "hex") == 0) {
		v->hex_len = hex_decode(value, v->hex, sizeof(v->hex));
	} else if (strcmp(line, "pdu") == 0) {
		v->pdu_len = hex_decode(value, v->pdu, sizeof(v->pdu));
	} else if (strcmp(line, "expect") == 0) {
		char *offset = strchr(value, ' ');

		if (offset) {
			*offset++ = '\0';
			v->expect_offset = (uint32_t)strtoul(offset, NULL, 10);
		}
		copy_text(v->expect, sizeof(v->expect), value);
	} else {
		return -1;
	}
	return v->hex_len < 0 || v->pdu_len < 0 ? -1 : 0;
}

static void run(const struct vector *v, unsigned *valid, unsigned *invalid)
{
	CHECK(v->expect[0] != '\0' && v->message[0] != '\0', "%s: incomplete record", v->name);
	if (v->is_struct)
		run_struct(v);
	else
		run_message(v);
	if (strcmp(v->expect, "ok") == 0)
		(*valid)++;
	else
		(*invalid)++;
}

int main(int argc, char **argv)
{
	static char line[MAX_LINE];
	static struct vector v;
	unsigned valid = 0, invalid = 0, lineno = 0;
	bool open = false;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTORS-FILE\n", argv[0]);
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#')
			continue;
		if (line[0] == '\0') {
			if (open)
				run(&v, &valid, &invalid);
			open = false;
			continue;
		}
		if (strncmp(line, "vector ", 7) == 0) {
			if (open)
				run(&v, &valid, &invalid);
			memset(&v, 0, sizeof(v));
			copy_text(v.name, sizeof(v.name), line + 7);
			open = true;
			continue;
		}
		CHECK(open && parse_line(&v, line) == 0, "%s:%u: malformed line", argv[1], lineno);
	}
	if (open)
		run(&v, &valid, &invalid);
	fclose(f);
	printf("test_vectors: %u valid and %u invalid vectors\n", valid, invalid);
	CHECK(valid >= 3u * PRB_MSG_COUNT && invalid >= 10u * PRB_MSG_COUNT,
	      "too few vectors: %u valid, %u invalid", valid, invalid);
	return test_finish("test_vectors");
}
