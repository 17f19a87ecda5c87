/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers the tests share. */
#include "suite.h"

uint64_t cf_allocated_range(struct cf_conn *c, uint64_t addr, uint64_t blocks)
{
	struct prb_extent ext[64];
	uint64_t first = addr >> PRB_BLOCK_SHIFT, end = first + blocks, total = 0;
	uint64_t cursor = addr;

	for (;;) {
		uint32_t count = 0, flags = 0;
		uint64_t next;
		CF_SETUP(CF_REQ_LIST)
			CF_ST_FATAL(c, cf_list(c, cursor, 64, ext, &count, &next, &flags),
				    PRB_ST_OK);
		for (uint32_t i = 0; i < count; i++) {
			uint64_t a = ext[i].addr >> PRB_BLOCK_SHIFT, b = a + ext[i].blocks;
			if (a >= end)
				return total;
			if (a < first)
				a = first;
			if (b > end)
				b = end;
			if (b > a)
				total += b - a;
		}
		if (count == 0 || (flags & PRB_LIST_END) || (next >> PRB_BLOCK_SHIFT) >= end ||
		    next <= cursor)
			return total;
		cursor = next;
	}
}

uint64_t cf_allocated(struct cf_conn *c, uint64_t first, uint64_t n)
{
	return cf_allocated_range(c, cf_addr(first), n);
}

void cf_put_le(uint8_t *buf, size_t offset, size_t size, uint64_t value)
{
	for (size_t i = 0; i < size; i++)
		buf[offset + i] = (uint8_t)(value >> (8 * i));
}

uint64_t cf_get_le(const uint8_t *buf, size_t offset, size_t size)
{
	uint64_t value = 0;

	for (size_t i = size; i-- > 0;)
		value = value << 8 | buf[offset + i];
	return value;
}

void cf_fix_hdgst(uint8_t *pdu)
{
	size_t hlen = (size_t)cf_get_le(pdu, PRB_HDR_HLEN_OFFSET, PRB_HDR_HLEN_SIZE);

	if (pdu[PRB_HDR_FLAGS_OFFSET] & PRB_HDR_HDGST)
		cf_put_le(pdu, hlen, PRB_CRC32C_SIZE, prb_crc32c(pdu, hlen));
}

uint64_t cf_session_allocated(struct prb_session *s, uint64_t first, uint64_t n)
{
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	uint64_t lo = cf_addr(first) >> PRB_BLOCK_SHIFT, hi = lo + n, total = 0;
	int ret;

	CF_SETUP(CF_REQ_LIST)
		CF_RC_FATAL(prb_list_new(s, cf_addr(first), &it), 0);
	while ((ret = prb_list_next(it, &e)) == 1) {
		uint64_t a = e.addr >> PRB_BLOCK_SHIFT, b = a + e.blocks;
		if (a >= hi)
			break;
		if (a < lo)
			a = lo;
		if (b > hi)
			b = hi;
		if (b > a)
			total += b - a;
	}
	prb_list_delete(&it);
	CF_SETUP(CF_REQ_LIST)
		CF_CHECK(ret >= 0, "libprb LIST: %s", prb_strerror(ret));
	return total;
}

int cf_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct cf_conn *cf_connect_mapped(uint64_t *handle)
{
	struct cf_conn *c = cf_connect();

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, handle), PRB_ST_OK);
	return c;
}
