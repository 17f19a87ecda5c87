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
		CF_ST_FATAL(c, cf_list(c, cursor, 64, ext, &count, &next, &flags), PRB_ST_OK);
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
