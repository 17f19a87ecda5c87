/* libFuzzer target reaching every decoder: the first input byte picks one (each message,
 * then the header and extent decoders, the generic one, and the URL parser); the rest is
 * the input. A decoder that succeeds must produce a message that encodes again to the
 * same fixed part; a URL that parses must format and parse again to the same URL. */
#include <stdlib.h>
#include <string.h>

#include <prb/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { DECODE_HDR = PRB_MSG_COUNT, DECODE_EXTENT, DECODE_ANY, PARSE_URL, DECODERS };

/* Abort (the fuzzer's finding) when a decoded message does not encode back to buf. */
static void check_round_trip(enum prb_msg_id id, const union prb_msg *m, const uint8_t *buf)
{
	uint8_t again[256];
	int n;

	if (m->hdr.status != 0)
		return; /* an error response: the header alone */
	n = prb_msg_encode(id, m, again, sizeof(again));
	if (n != (int)prb_msg_descs[id].size || memcmp(again, buf, (size_t)n) != 0)
		abort();
}

/* Abort when a parsed URL does not survive format and parse. */
static void check_url(const uint8_t *data, size_t size)
{
	char text[300], again[600];
	struct prb_url u, v;

	if (size >= sizeof(text))
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (prb_url_parse(text, &u) != 0)
		return;
	if (prb_url_format(&u, again, sizeof(again)) < 0 || prb_url_parse(again, &v) != 0 ||
	    u.transport != v.transport || u.port != v.port || strcmp(u.host, v.host) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prb_wire_error err;
	union prb_msg m;
	struct prb_extent e;
	enum prb_msg_id id;
	unsigned which;
	uint8_t *buf;

	if (size == 0)
		return 0;
	which = data[0] % DECODERS;
	size--;
	if (which == PARSE_URL) {
		check_url(data + 1, size);
		return 0;
	}
	/* An exact-size copy, so ASan sees any read past the input. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size);
	switch (which) {
	case DECODE_HDR:
		prb_hdr_decode(buf, size, &m.hdr, &err);
		break;
	case DECODE_EXTENT:
		if (prb_extent_decode(buf, size, &e, &err) == 0) {
			uint8_t again[PRB_EXTENT_SIZE];

			if (prb_extent_encode(&e, again, sizeof(again)) != (int)PRB_EXTENT_SIZE ||
			    memcmp(again, buf, sizeof(again)) != 0)
				abort();
		}
		break;
	case DECODE_ANY:
		if (prb_msg_decode(buf, size, &m, &id, &err) == 0)
			check_round_trip(id, &m, buf);
		break;
	default:
		if (prb_msg_decode_as((enum prb_msg_id)which, buf, size, &m, &err) == 0)
			check_round_trip((enum prb_msg_id)which, &m, buf);
		break;
	}
	free(buf);
	return 0;
}
