/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One blocking call per operation, over the raw connection. Each returns the status of
 * the brick's response (PRB_ST_*, >= 0) or a negative errno when no valid response came
 * (the reason is in c->detail). Outputs are written only on PRB_ST_OK.
 */
#ifndef PRB_CONFORMANCE_OPS_H
#define PRB_CONFORMANCE_OPS_H

#include "conn.h"

int cf_alloc(struct cf_conn *c, uint64_t addr, uint32_t blocks);
int cf_free(struct cf_conn *c, uint64_t addr, uint32_t blocks, uint32_t free_flags);
int cf_map(struct cf_conn *c, uint64_t addr, uint32_t map_flags, uint64_t *handle);
int cf_unmap(struct cf_conn *c, uint64_t handle);
/** LIST: up to \p max extents into \p out (at least \p max entries). */
int cf_list(struct cf_conn *c, uint64_t cursor, uint32_t max, struct prb_extent *out,
	    uint32_t *count, uint64_t *next_cursor, uint32_t *list_flags);
int cf_read(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length, void *out);
int cf_write(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length,
	     const void *data);
int cf_flush(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length);
int cf_cas(struct cf_conn *c, uint64_t handle, uint32_t offset, uint64_t compare, uint64_t swap,
	   uint64_t *original);
int cf_fadd(struct cf_conn *c, uint64_t handle, uint32_t offset, uint64_t add, uint64_t *original);
int cf_info(struct cf_conn *c, struct prb_info_rsp *out);
int cf_keepalive(struct cf_conn *c);

/** Read \p length bytes in pieces of the negotiated max_data. */
int cf_read_big(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length, void *out);
/** Write \p length bytes in pieces of the negotiated max_data. */
int cf_write_big(struct cf_conn *c, uint64_t handle, uint32_t offset, uint32_t length,
		 const void *data);

/** "EEXIST", or "error -104 (Connection reset by peer)" for a negative errno. */
const char *cf_status_str(int status, char *buf, size_t size);

#endif
