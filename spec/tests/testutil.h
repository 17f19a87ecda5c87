/* Shared helpers of the codec tests: checks that count failures, a seeded PRNG, and
 * generic access to message fields through the generated descriptors. */
#ifndef PRB_SPEC_TESTUTIL_H
#define PRB_SPEC_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <prb/wire.h>

/* Failed checks so far; main returns nonzero when any. */
extern unsigned test_failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			test_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                         \
	} while (0)

#if defined(__GNUC__)
#define TEST_PRINTF(fmt_index) __attribute__((format(printf, fmt_index, fmt_index + 1)))
#else
#define TEST_PRINTF(fmt_index)
#endif

void test_fail(const char *file, int line, const char *cond, const char *fmt, ...) TEST_PRINTF(4);

/* Print the outcome and return the exit status of a test program. */
int test_finish(const char *name);

/* xorshift64*: deterministic from its seed. */
struct rng {
	uint64_t state;
};
uint64_t rng_next(struct rng *r);
/* Uniform in [lo, hi]. */
uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi);

/* Largest value a field of this size holds. */
uint64_t field_type_max(const struct prb_field_desc *f);
/* Read or write a numeric member of a decoded struct through the descriptor. */
uint64_t member_get(const void *base, const struct prb_field_desc *f);
void member_set(void *base, const struct prb_field_desc *f, uint64_t v);
/* Read or write a numeric field of an encoded PDU (little-endian) at its wire offset. */
uint64_t wire_get(const uint8_t *buf, const struct prb_field_desc *f);
void wire_set(uint8_t *buf, const struct prb_field_desc *f, uint64_t v);

/* A valid random value of a non-reserved, non-bytes field. */
uint64_t random_valid(struct rng *r, const struct prb_field_desc *f);
/* A member of an enum field's enum that is not v (the first non-member above the members). */
uint64_t enum_non_member(const struct prb_field_desc *f);

/* Fill message id with random valid values (header, body, payload_len), status OK. */
void random_msg(struct rng *r, enum prb_msg_id id, union prb_msg *m);

/* The descriptor of a header field by name (NULL if none). */
const struct prb_field_desc *hdr_field(const char *name);

/* Parse hex into out (at most cap bytes); return the byte count or -1. */
long hex_decode(const char *hex, uint8_t *out, size_t cap);

#endif
