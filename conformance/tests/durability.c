/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durability across a crash (--restart-cmd kills the brick at once and starts it again):
 * acknowledged ALLOCs and FREEs and flushed data survive, unflushed bytes are old or new,
 * no handle survives, the boot epoch grows, the brick_id stays.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"

#define DATA_LEN (256 * 1024)

static void allocations_and_data(void)
{
	struct prb_session *s = cf_session();
	struct prb_session_info before, after;
	uint8_t *data = cf_mem(DATA_LEN), *back = cf_mem(DATA_LEN);

	CF_RC_FATAL(prb_session_get_info(s, &before), 0);
	/* Allocations: 0..15 as a range, 20 alone, then 4..7 freed; 30 allocated and freed. */
	CF_RC_FATAL(prb_alloc(s, cf_addr(0), 16), 0);
	CF_RC_FATAL(prb_alloc(s, cf_addr(20), 1), 0);
	CF_RC_FATAL(prb_alloc(s, cf_addr(30), 1), 0);
	CF_RC_FATAL(prb_free(s, cf_addr(4), 4, 0), 0);
	CF_RC_FATAL(prb_free(s, cf_addr(30), 1, 0), 0);
	/* Flushed data in block 0 (whole range flushed) and block 20 (two flushes). */
	cf_pattern(data, DATA_LEN, 2024);
	struct prb_mapping *m0 = cf_session_map(s, cf_addr(0), PRB_MAPPING_RW | PRB_MAPPING_EXCL);
	CF_RC_FATAL(prb_write(m0, 1000, data, DATA_LEN), 0);
	CF_RC_FATAL(prb_flush(m0, 1000, DATA_LEN), 0);
	struct prb_mapping *m20 = cf_session_map(s, cf_addr(20), PRB_MAPPING_RW);
	CF_RC_FATAL(prb_write(m20, PRB_BLOCK_SIZE - 4096, data, 4096), 0);
	CF_RC_FATAL(prb_flush(m20, PRB_BLOCK_SIZE - 4096, 2048), 0);
	CF_RC_FATAL(prb_flush(m20, PRB_BLOCK_SIZE - 2048, 2048), 0);
	/* Unflushed bytes in block 8. */
	struct prb_mapping *m8 = cf_session_map(s, cf_addr(8), PRB_MAPPING_RW);
	CF_RC_FATAL(prb_write(m8, 0, data + 4096, 4096), 0);
	uint64_t h0 = prb_mapping_handle(m0), h20 = prb_mapping_handle(m20);
	/* The handles stay live at the crash. */
	cf_restart();

	/* libprb sees the new epoch; its mappings are dead. */
	CF_RC(prb_reconnect(s), -ESTALE);
	CF_RC(prb_mapping_status(m0), -ESTALE);
	CF_RC_FATAL(prb_session_get_info(s, &after), 0);
	CF_CHECK(after.boot_epoch > before.boot_epoch, "boot_epoch %llu after restart, %llu before",
		 (unsigned long long)after.boot_epoch, (unsigned long long)before.boot_epoch);
	CF_CHECK(memcmp(after.brick_id, before.brick_id, 16) == 0, "brick_id changed on restart");
	CF_CHECK(
		cf_session_allocated(s, 0, 4) == 4 && cf_session_allocated(s, 4, 4) == 0 &&
			cf_session_allocated(s, 8, 8) == 8 && cf_session_allocated(s, 16, 4) == 0 &&
			cf_session_allocated(s, 20, 1) == 1 && cf_session_allocated(s, 21, 20) == 0,
		"allocations after restart differ from the acknowledged ones "
		"(0..3 %llu/4, 4..7 %llu/0, 8..15 %llu/8, 20 %llu/1, 30 %llu/0)",
		(unsigned long long)cf_session_allocated(s, 0, 4),
		(unsigned long long)cf_session_allocated(s, 4, 4),
		(unsigned long long)cf_session_allocated(s, 8, 8),
		(unsigned long long)cf_session_allocated(s, 20, 1),
		(unsigned long long)cf_session_allocated(s, 30, 1));
	/* No mapping survived: the old handles are stale (raw TCP: libprb never sends a dead
	 * handle), exclusive MAP and plain FREE work. */
	struct cf_conn *d = cf_raw_available() ? cf_connect() : NULL;
	uint8_t byte;
	if (d) {
		CF_ST(d, cf_read(d, h0, 0, 1, &byte), PRB_ST_ESTALE);
		CF_ST(d, cf_unmap(d, h20), PRB_ST_ESTALE);
	}
	struct prb_mapping *n0 = cf_session_map(s, cf_addr(0), PRB_MAPPING_EXCL);
	CF_RC(prb_read(n0, 1000, back, DATA_LEN), 0);
	CF_CHECK(memcmp(data, back, DATA_LEN) == 0, "flushed data of block 0 lost in the crash");
	struct prb_mapping *n20 = cf_session_map(s, cf_addr(20), PRB_MAPPING_EXCL);
	CF_RC(prb_read(n20, PRB_BLOCK_SIZE - 4096, back, 4096), 0);
	CF_CHECK(memcmp(data, back, 4096) == 0, "flushed data of block 20 lost in the crash");
	/* Unflushed bytes hold the old value (zero) or the written one, nothing else. */
	struct prb_mapping *n8 = cf_session_map(s, cf_addr(8), PRB_MAPPING_EXCL);
	CF_RC(prb_read(n8, 0, back, 4096), 0);
	for (int i = 0; i < 4096; i++) {
		if (back[i] != 0 && back[i] != data[4096 + i]) {
			CF_CHECK(false, "unflushed byte %d holds 0x%02x: neither old nor written",
				 i, back[i]);
			break;
		}
	}
	CF_RC(prb_unmap(&n8), 0);
	CF_RC(prb_free(s, cf_addr(8), 8, 0), 0);
	/* Slots: free + allocated = capacity, when nobody else uses the brick. */
	if (d && cf_destructive()) {
		struct prb_info_rsp info;
		CF_ST(d, cf_info(d, &info), PRB_ST_OK);
		uint64_t allocated = cf_allocated_range(d, 0, ~0ULL >> PRB_BLOCK_SHIFT);
		allocated += cf_allocated_range(d, ~(uint64_t)0 - PRB_BLOCK_SIZE + 1, 1);
		CF_CHECK(info.free_blocks + allocated == info.capacity_blocks,
			 "after the crash: %llu free + %llu allocated != capacity %llu (a slot "
			 "leaked)",
			 (unsigned long long)info.free_blocks, (unsigned long long)allocated,
			 (unsigned long long)info.capacity_blocks);
	}
}

/* Restarts in a row: the epoch grows every time; identity stays; new handles work. */
static void epoch_grows(void)
{
	struct prb_session *s = cf_session();
	struct prb_session_info info;
	struct prb_brick_info brick;
	uint64_t epoch;
	uint8_t id[16];

	CF_RC_FATAL(prb_session_get_info(s, &info), 0);
	epoch = info.boot_epoch;
	memcpy(id, info.brick_id, 16);
	CF_RC_FATAL(prb_alloc(s, cf_addr(0), 1), 0);
	for (int i = 0; i < 2; i++) {
		cf_restart();
		CF_RC(prb_reconnect(s), -ESTALE); /* -ESTALE: the epoch changed */
		CF_RC_FATAL(prb_session_get_info(s, &info), 0);
		CF_CHECK(info.boot_epoch > epoch, "restart %d: boot_epoch %llu, before %llu", i,
			 (unsigned long long)info.boot_epoch, (unsigned long long)epoch);
		CF_CHECK(memcmp(info.brick_id, id, 16) == 0, "restart %d: brick_id changed", i);
		CF_RC(prb_info(s, &brick), 0);
		CF_CHECK(brick.boot_epoch == info.boot_epoch, "INFO epoch != HELLO epoch");
		cf_session_map(s, cf_addr(0), PRB_MAPPING_EXCL | PRB_MAPPING_RW);
		epoch = info.boot_epoch;
	}
}

/* ALLOCs and FREEs in flight at the crash: each block allocated or free, new ones zeros. */
static void unacknowledged(void)
{
	struct cf_conn *c = cf_connect();
	uint8_t back[4096], zero[4096] = {0};
	uint64_t h;

	CF_ST_FATAL(c, cf_alloc(c, cf_addr(100), 8), PRB_ST_OK);
	for (uint64_t i = 0; i < 4; i++) {
		union prb_msg m = {.alloc_req = {.addr = cf_addr(i * 16), .blocks = 8}};
		CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_ALLOC_REQ, &m, NULL, 0, false) == 0, "send");
	}
	union prb_msg f = {.free_req = {.addr = cf_addr(100), .blocks = 8}};
	CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_FREE_REQ, &f, NULL, 0, false) == 0, "send");
	cf_restart();
	struct cf_conn *d = cf_connect();
	for (uint64_t b = 0; b < 64; b++) {
		if (cf_allocated(d, b, 1) == 0)
			continue;
		CF_ST_FATAL(d, cf_map(d, cf_addr(b), 0, &h), PRB_ST_OK);
		CF_ST(d, cf_read(d, h, 0, sizeof(back), back), PRB_ST_OK);
		CF_CHECK(memcmp(back, zero, sizeof(back)) == 0,
			 "block %llu of an unacknowledged ALLOC does not read as zeros",
			 (unsigned long long)b);
		CF_ST(d, cf_unmap(d, h), PRB_ST_OK);
	}
	cf_log("%llu of 32 blocks of unacknowledged ALLOCs found, %llu of 8 of the FREE",
	       (unsigned long long)cf_allocated(d, 0, 64),
	       (unsigned long long)cf_allocated(d, 100, 8));
}

/* A clean shutdown sends TERM SHUTDOWN (tag 0, offset 0) on every connection. */
static void shutdown_term(void)
{
	struct cf_conn *a = cf_connect(),
		       *b = cf_connect_features(cf_brick()->features &
						(PRB_FEAT_HDGST | PRB_FEAT_DDGST));

	CF_ST(a, cf_keepalive(a), PRB_ST_OK);
	cf_restart_graceful();
	CF_TERM_AT(a, PRB_TERM_SHUTDOWN, 0, 0);
	CF_TERM_AT(b, PRB_TERM_SHUTDOWN, 0, 0);
}

const struct cf_test cf_tests_durability[] = {
	{"Durability.Restart.AllocationsAndData", allocations_and_data,
	 "PRB-DUR-1 PRB-DUR-2 PRB-DUR-3 PRB-DUR-5 PRB-DUR-6 PRB-BOOT-2 PRB-BOOT-4 PRB-ALLOC-7 "
	 "PRB-ALLOC-8 PRB-FREE-7 PRB-FLUSH-1 PRB-MAP-16",
	 true, CF_RESTART, 0,
	 "after a crash: acknowledged ALLOC/FREE and flushed data survive, no handle does"},
	{"Durability.Restart.EpochGrows", epoch_grows,
	 "PRB-BOOT-1 PRB-BOOT-3 PRB-HELLO-16 PRB-HELLO-17", true, CF_RESTART, 0,
	 "boot_epoch strictly grows at every restart, brick_id stays"},
	{"Durability.Restart.Unacknowledged", unacknowledged, "PRB-DUR-4", true, CF_RESTART, 0,
	 "ALLOC/FREE in flight at a crash: blocks allocated or free, newly allocated ones zeros"},
	{"Durability.Shutdown.Term", shutdown_term, "PRB-TERM-7", true, CF_GRACEFUL, 0,
	 "a clean shutdown sends TERM SHUTDOWN on every connection before closing"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
