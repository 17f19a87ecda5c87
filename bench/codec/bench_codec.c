/* Instructions per encode and decode of one message, for callgrind (run.py):
 *   bench_codec MESSAGE OP ITERATIONS
 * OP is decode, encode, copy-in (an unchecked memcpy of the PDU's fixed part into the
 * struct: the baseline of decode) or copy-out (the baseline of encode). run.py counts
 * only inside the function under test with callgrind's --toggle-collect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The baselines, kept out of line so callgrind can collect exactly them. */
__attribute__((noinline)) void bench_copy_in(union prb_msg *m, const uint8_t *buf, size_t len);
__attribute__((noinline)) void bench_copy_out(const union prb_msg *m, uint8_t *buf, size_t len);

void bench_copy_in(union prb_msg *m, const uint8_t *buf, size_t len)
{
	memcpy(m, buf, len);
}

void bench_copy_out(const union prb_msg *m, uint8_t *buf, size_t len)
{
	memcpy(buf, m, len);
}

static int find_message(const char *name)
{
	for (int id = 0; id < PRB_MSG_COUNT; id++) {
		if (strcmp(prb_msg_descs[id].name, name) == 0)
			return id;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static uint8_t buf[256];
	struct rng r = {0x62656E6368ULL};
	union prb_msg m, out;
	unsigned long iterations;
	enum prb_msg_id id;
	int found, rc = 0;
	size_t size;

	if (argc != 4) {
		fprintf(stderr, "usage: %s MESSAGE decode|encode|copy-in|copy-out ITERATIONS\n",
			argv[0]);
		return 2;
	}
	found = find_message(argv[1]);
	if (found < 0) {
		fprintf(stderr, "bench_codec: unknown message %s\n", argv[1]);
		return 2;
	}
	id = (enum prb_msg_id)found;
	size = prb_msg_descs[id].size;
	iterations = strtoul(argv[3], NULL, 0);
	random_msg(&r, id, &m);
	m.hdr.flags = 0;
	if (prb_msg_encode(id, &m, buf, sizeof(buf)) != (int)size ||
	    prb_msg_decode_as(id, buf, size, &out, NULL) != 0) {
		fprintf(stderr, "bench_codec: %s does not round-trip\n", argv[1]);
		return 1;
	}
	if (strcmp(argv[2], "decode") == 0) {
		for (unsigned long i = 0; i < iterations; i++)
			rc |= prb_msg_decode_as(id, buf, size, &out, NULL);
	} else if (strcmp(argv[2], "encode") == 0) {
		for (unsigned long i = 0; i < iterations; i++)
			rc |= prb_msg_encode(id, &m, buf, sizeof(buf)) < 0;
	} else if (strcmp(argv[2], "copy-in") == 0) {
		for (unsigned long i = 0; i < iterations; i++)
			bench_copy_in(&out, buf, size);
	} else if (strcmp(argv[2], "copy-out") == 0) {
		for (unsigned long i = 0; i < iterations; i++)
			bench_copy_out(&m, buf, size);
	} else {
		return 2;
	}
	return rc != 0;
}
