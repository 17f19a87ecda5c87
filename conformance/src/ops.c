/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking request helpers: fill a request, cf_call, copy the answer out. */
#include "ops.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cf_alloc(struct cf_conn *c, uint64_t addr, uint32_t blocks)
{
	union prb_msg m = {.alloc_req = {.addr = addr, .blocks = blocks}};
	union prb_msg rsp;

	return cf_call(c, PRB_MSG_ALLOC_REQ, &m, NULL, 0, &rsp);
}

int cf_free(struct cf_conn *c, uint64_t addr, uint32_t blocks, uint32_t free_flags)
{
	union prb_msg m = {.free_req = {.addr = addr, .blocks = blocks, .free_flags = free_flags}};
	union prb_msg rsp;

	return cf_call(c, PRB_MSG_FREE_REQ, &m, NULL, 0, &rsp);
}

int cf_map(struct cf_conn *c, uint64_t addr, uint32_t map_flags, uint64_t *handle)
{
	union prb_msg m = {.map_req = {.addr = addr, .map_flags = map_flags}};
	union prb_msg rsp;
	int ret = cf_call(c, PRB_MSG_MAP_REQ, &m, NULL, 0, &rsp);

	if (ret == PRB_ST_OK)
		*handle = rsp.map_rsp.handle;
	return ret;
}

int cf_unmap(struct cf_conn *c, uint64_t handle)
{
	union prb_msg m = {.unmap_req = {.handle = handle}};
	union prb_msg rsp;

	return cf_call(c, PRB_MSG_UNMAP_REQ, &m, NULL, 0, &rsp);
}

int cf_list(struct cf_conn *c, uint64_t cursor, uint32_t max, struct prb_extent *out,
	    uint32_t *count, uint64_t *next_cursor, uint32_t *list_flags)
{
	union prb_msg m = {.list_req = {.cursor = cursor, .max_extents = max}};
	union prb_msg rsp;
	struct prb_wire_error werr = {0};
	int ret = cf_call(c, PRB_MSG_LIST_REQ, &m, NULL, 0, &rsp);

	if (ret != PRB_ST_OK)
		return ret;
	if (rsp.list_rsp.count > max) {
		snprintf(c->detail, sizeof(c->detail), "LIST returned %u extents, max_extents %u",
			 rsp.list_rsp.count, max);
		return -EPROTO;
	}
	uint32_t len;
	const uint8_t *p = cf_rx_payload(c, &len);
	if ((uint64_t)rsp.list_rsp.count * PRB_EXTENT_SIZE != len) {
		snprintf(c->detail, sizeof(c->detail), "LIST payload %u bytes for %u extents", len,
			 rsp.list_rsp.count);
		return -EPROTO;
	}
	for (uint32_t i = 0; i < rsp.list_rsp.count; i++) {
		ret = prb_extent_decode(p + (size_t)i * PRB_EXTENT_SIZE, PRB_EXTENT_SIZE, &out[i],
					&werr);
		if (ret < 0) {
			snprintf(c->detail, sizeof(c->detail), "LIST extent %u: %s: %s", i,
				 werr.field ? werr.field : "?", werr.reason ? werr.reason : "?");
			return -EPROTO;
		}
	}
	*count = rsp.list_rsp.count;
	*next_cursor = rsp.list_rsp.next_cursor;
	*list_flags = rsp.list_rsp.list_flags;
	return PRB_ST_OK;
}

int cf_read(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length, void *out)
{
	union prb_msg m = {.read_req = {.handle = handle, .offset = offset, .length = length}};
	union prb_msg rsp;
	int ret = cf_call(c, PRB_MSG_READ_REQ, &m, NULL, 0, &rsp);

	if (ret != PRB_ST_OK)
		return ret;
	uint32_t len;
	const uint8_t *p = cf_rx_payload(c, &len);
	if (len != length) {
		snprintf(c->detail, sizeof(c->detail), "READ of %u bytes returned %u", length, len);
		return -EPROTO;
	}
	memcpy(out, p, len);
	return ret;
}

int cf_write(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length, const void *data)
{
	union prb_msg m = {.write_req = {.handle = handle, .offset = offset, .length = length}};
	union prb_msg rsp;

	return cf_call(c, PRB_MSG_WRITE_REQ, &m, data, length, &rsp);
}

int cf_flush(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length)
{
	union prb_msg m = {.flush_req = {.handle = handle, .offset = offset, .length = length}};
	union prb_msg rsp;

	return cf_call(c, PRB_MSG_FLUSH_REQ, &m, NULL, 0, &rsp);
}

int cf_cas(struct cf_conn *c, uint64_t handle, uint32_t offset, uint64_t compare, uint64_t swap,
	   uint64_t *original)
{
	union prb_msg m = {
		.cas_req = {.handle = handle, .offset = offset, .compare = compare, .swap = swap}};
	union prb_msg rsp;
	int ret = cf_call(c, PRB_MSG_CAS_REQ, &m, NULL, 0, &rsp);

	if (ret == PRB_ST_OK)
		*original = rsp.cas_rsp.original;
	return ret;
}

int cf_fadd(struct cf_conn *c, uint64_t handle, uint32_t offset, uint64_t add, uint64_t *original)
{
	union prb_msg m = {.fadd_req = {.handle = handle, .offset = offset, .add = add}};
	union prb_msg rsp;
	int ret = cf_call(c, PRB_MSG_FADD_REQ, &m, NULL, 0, &rsp);

	if (ret == PRB_ST_OK)
		*original = rsp.fadd_rsp.original;
	return ret;
}

int cf_info(struct cf_conn *c, struct prb_info_rsp *out)
{
	union prb_msg m = {.info_req = {.hdr = {0}}};
	union prb_msg rsp;
	int ret = cf_call(c, PRB_MSG_INFO_REQ, &m, NULL, 0, &rsp);

	if (ret == PRB_ST_OK)
		*out = rsp.info_rsp;
	return ret;
}

int cf_keepalive(struct cf_conn *c)
{
	union prb_msg m = {.keepalive_req = {.hdr = {0}}};
	union prb_msg rsp;

	return cf_call(c, PRB_MSG_KEEPALIVE_REQ, &m, NULL, 0, &rsp);
}

/* The largest piece one READ or WRITE may carry on this connection. */
static uint32_t piece_size(const struct cf_conn *c)
{
	uint32_t max = c->hello.max_data;
	uint32_t room = c->hello.max_pdu > 4096U ? c->hello.max_pdu - 4096U : 4096U;

	return max < room ? max : room;
}

int cf_read_big(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length, void *out)
{
	uint32_t piece = piece_size(c);
	uint8_t *p = out;

	for (uint32_t done = 0; done < length;) {
		uint32_t n = length - done < piece ? length - done : piece;
		int ret = cf_read(c, handle, offset + done, n, p + done);
		if (ret != PRB_ST_OK)
			return ret;
		done += n;
	}
	return PRB_ST_OK;
}

int cf_write_big(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length,
		 const void *data)
{
	uint32_t piece = piece_size(c);
	const uint8_t *p = data;

	for (uint32_t done = 0; done < length;) {
		uint32_t n = length - done < piece ? length - done : piece;
		int ret = cf_write(c, handle, offset + done, n, p + done);
		if (ret != PRB_ST_OK)
			return ret;
		done += n;
	}
	return PRB_ST_OK;
}

const char *cf_status_str(int status, char *buf, size_t size)
{
	if (status >= 0) {
		const char *name = prb_status_name((unsigned)status);
		if (name)
			snprintf(buf, size, "%s", name);
		else
			snprintf(buf, size, "status %d (not in the spec)", status);
	} else {
		snprintf(buf, size, "error %d (%s)", status, strerror(-status));
	}
	return buf;
}
