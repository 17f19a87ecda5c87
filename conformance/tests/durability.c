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

/* Slots after a crash: free + allocated = capacity (--destructive: nobody else uses the
 * brick). LIST through libprb, so that it runs over both bindings. */
static void check_no_slot_leaked(struct prb_session *s)
{
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	struct prb_brick_info info;
	uint64_t allocated = 0;
	int ret;

	CF_RC_FATAL(prb_info(s, &info), 0);
	CF_RC_FATAL(prb_list_new(s, 0, &it), 0);
	while ((ret = prb_list_next(it, &e)) == 1)
		allocated += e.blocks;
	prb_list_delete(&it);
	CF_RC(ret, 0);
	CF_CHECK(info.free_blocks + allocated == info.capacity_blocks,
		 "after the crash: %llu free + %llu allocated != capacity %llu (a slot leaked)",
		 (unsigned long long)info.free_blocks, (unsigned long long)allocated,
		 (unsigned long long)info.capacity_blocks);
}

static void allocations_and_data(void)
{
	struct prb_session *s = cf_session();
	struct prb_session_info before, after;
	uint8_t *data = cf_mem(DATA_LEN), *back = cf_mem(DATA_LEN);

	CF_RC_FATAL(prb_session_get_info(s, &before), 0);
	/* Allocations: 0..15 as a range, 20 alone, then 4..7 freed; 30 allocated and freed. */
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(0), 16), 0);
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(20), 1), 0);
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(30), 1), 0);
	CF_SETUP(CF_REQ_FREE)
		CF_RC_FATAL(prb_free(s, cf_addr(4), 4, 0), 0);
	CF_SETUP(CF_REQ_FREE)
		CF_RC_FATAL(prb_free(s, cf_addr(30), 1, 0), 0);
	/* Flushed data in block 0 (whole range flushed) and block 20 (two flushes). */
	cf_pattern(data, DATA_LEN, 2024);
	struct prb_mapping *m0 = cf_session_map(s, cf_addr(0), PRB_MAPPING_RW | PRB_MAPPING_EXCL);
	CF_SETUP(CF_REQ_WRITE)
		CF_RC_FATAL(prb_write(m0, 1000, data, DATA_LEN), 0);
	CF_RC_FATAL(prb_flush(m0, 1000, DATA_LEN), 0);
	struct prb_mapping *m20 = cf_session_map(s, cf_addr(20), PRB_MAPPING_RW);
	CF_SETUP(CF_REQ_WRITE)
		CF_RC_FATAL(prb_write(m20, PRB_BLOCK_SIZE - 4096, data, 4096), 0);
	CF_RC_FATAL(prb_flush(m20, PRB_BLOCK_SIZE - 4096, 2048), 0);
	CF_RC_FATAL(prb_flush(m20, PRB_BLOCK_SIZE - 2048, 2048), 0);
	/* Block 1 written and flushed whole, up to its last byte. */
	uint8_t *whole = cf_mem(PRB_BLOCK_SIZE);
	cf_pattern(whole, PRB_BLOCK_SIZE, 2025);
	struct prb_mapping *m1 = cf_session_map(s, cf_addr(1), PRB_MAPPING_RW);
	CF_SETUP(CF_REQ_WRITE)
		CF_RC_FATAL(prb_write(m1, 0, whole, PRB_BLOCK_SIZE), 0);
	CF_RC_FATAL(prb_flush(m1, 0, PRB_BLOCK_SIZE), 0);
	/* Unflushed bytes in block 8. */
	struct prb_mapping *m8 = cf_session_map(s, cf_addr(8), PRB_MAPPING_RW);
	CF_SETUP(CF_REQ_WRITE)
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
	 * handle), exclusive MAP and plain FREE work (checks of this test: prb_map, not the
	 * setup step cf_session_map). */
	if (cf_raw_available()) {
		struct cf_conn *d = cf_connect();
		uint8_t byte;

		CF_ST(d, cf_read(d, h0, 0, 1, &byte), PRB_ST_ESTALE);
		CF_ST(d, cf_unmap(d, h20), PRB_ST_ESTALE);
	} else {
		cf_note("the old handles were not sent after the crash (the raw sender speaks "
			"TCP only; libprb never sends a dead handle)");
	}
	struct prb_mapping *n0 = NULL;
	CF_RC_FATAL(prb_map(s, cf_addr(0), PRB_MAPPING_EXCL, &n0), 0);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(n0, 1000, back, DATA_LEN), 0);
	CF_CHECK(memcmp(data, back, DATA_LEN) == 0, "flushed data of block 0 lost in the crash");
	struct prb_mapping *n20 = NULL;
	CF_RC_FATAL(prb_map(s, cf_addr(20), PRB_MAPPING_EXCL, &n20), 0);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(n20, PRB_BLOCK_SIZE - 4096, back, 4096), 0);
	CF_CHECK(memcmp(data, back, 4096) == 0, "flushed data of block 20 lost in the crash");
	/* Every byte of block 1, the last ones included. */
	uint8_t *whole_back = cf_mem(PRB_BLOCK_SIZE);
	struct prb_mapping *n1 = NULL;
	CF_RC_FATAL(prb_map(s, cf_addr(1), PRB_MAPPING_EXCL, &n1), 0);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(n1, 0, whole_back, PRB_BLOCK_SIZE), 0);
	for (uint32_t i = 0; i < PRB_BLOCK_SIZE; i++) {
		if (whole_back[i] != whole[i]) {
			CF_CHECK(false,
				 "block 1, flushed whole: byte %u is 0x%02x after the crash, "
				 "expected 0x%02x",
				 i, whole_back[i], whole[i]);
			break;
		}
	}
	/* Unflushed bytes hold the old value (zero) or the written one, nothing else. */
	struct prb_mapping *n8 = NULL;
	CF_RC_FATAL(prb_map(s, cf_addr(8), PRB_MAPPING_EXCL, &n8), 0);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(n8, 0, back, 4096), 0);
	for (int i = 0; i < 4096; i++) {
		if (back[i] != 0 && back[i] != data[4096 + i]) {
			CF_CHECK(false, "unflushed byte %d holds 0x%02x: neither old nor written",
				 i, back[i]);
			break;
		}
	}
	CF_SETUP(CF_REQ_UNMAP)
		CF_RC(prb_unmap(&n8), 0);
	CF_RC(prb_free(s, cf_addr(8), 8, 0), 0);
	if (cf_destructive())
		check_no_slot_leaked(s);
	else
		cf_note("slot leak (needs --destructive: counts every block of the brick)");
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
	CF_SETUP(CF_REQ_ALLOC)
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

/* ALLOCs and FREEs in flight at the crash: each block allocated or free, new ones zeros;
 * one whose answer came before the crash is applied whole. libprb's asynchronous calls send
 * them without waiting, over either binding. */
static void unacknowledged(void)
{
	enum { ALLOCS = 4, FREE_FIRST = 100 };
	struct prb_session *s = cf_session();
	struct prb_completion done[ALLOCS + 1];
	uint8_t back[4096], zero[4096] = {0};
	int n;

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(FREE_FIRST), 8), 0);
	for (uint64_t i = 0; i < ALLOCS; i++)
		CF_RC_FATAL(prb_async_alloc(s, cf_addr(i * 16), 8, i), 0);
	CF_RC_FATAL(prb_async_free(s, cf_addr(FREE_FIRST), 8, 0, ALLOCS), 0);
	/* Requests answered at once may already have left the in-flight count. */
	n = prb_submit(s);
	CF_CHECK_FATAL(n >= 0 && n <= ALLOCS + 1, "prb_submit: %d", n);
	cf_restart();
	CF_RC(prb_reconnect(s), -ESTALE);
	/* Answered before the crash: 0; cut by it: -ECONNRESET. */
	n = prb_reap(s, done, ALLOCS + 1, ALLOCS + 1, 0);
	CF_CHECK(n == ALLOCS + 1, "%d of %d completions after prb_reconnect", n, ALLOCS + 1);
	for (int i = 0; i < n; i++) {
		uint64_t first = done[i].user_data < ALLOCS ? done[i].user_data * 16 : FREE_FIRST;
		uint64_t want = done[i].user_data < ALLOCS ? 8 : 0;

		CF_CHECK(done[i].result == 0 || done[i].result == -ECONNRESET,
			 "request %llu in flight at the crash: %s",
			 (unsigned long long)done[i].user_data, prb_strerror(done[i].result));
		CF_CHECK(done[i].result != 0 || cf_session_allocated(s, first, 8) == want,
			 "an acknowledged %s of blocks %llu..%llu is not applied whole after "
			 "the crash (%llu of 8 allocated)",
			 want ? "ALLOC" : "FREE", (unsigned long long)first,
			 (unsigned long long)first + 7,
			 (unsigned long long)cf_session_allocated(s, first, 8));
	}
	for (uint64_t b = 0; b < ALLOCS * 16; b++) {
		if (cf_session_allocated(s, b, 1) == 0)
			continue;
		struct prb_mapping *m = cf_session_map(s, cf_addr(b), 0);
		CF_SETUP(CF_REQ_READ)
			CF_RC(prb_read(m, 0, back, sizeof(back)), 0);
		CF_CHECK(memcmp(back, zero, sizeof(back)) == 0,
			 "block %llu of an unacknowledged ALLOC does not read as zeros",
			 (unsigned long long)b);
		CF_SETUP(CF_REQ_UNMAP)
			CF_RC(prb_unmap(&m), 0);
	}
	cf_log("%llu of 32 blocks of unacknowledged ALLOCs found, %llu of 8 of the FREE",
	       (unsigned long long)cf_session_allocated(s, 0, ALLOCS * 16),
	       (unsigned long long)cf_session_allocated(s, FREE_FIRST, 8));
}

/* The TERM a libprb session got before its connection ended: SHUTDOWN. */
static void check_session_shutdown(struct prb_session *s, const char *which)
{
	int ret = prb_keepalive(s);

	CF_CHECK(ret < 0, "%s: KEEPALIVE after the shutdown: %s", which, prb_strerror(ret));
	CF_RC(prb_session_status(s), -EPROTO);
	CF_CHECK(prb_session_term_reason(s) == PRB_TERM_SHUTDOWN,
		 "%s: TERM reason %u, want SHUTDOWN (%u)", which, prb_session_term_reason(s),
		 (unsigned)PRB_TERM_SHUTDOWN);
}

/* A clean shutdown sends TERM SHUTDOWN (tag 0, offset 0) on every connection. Over rdma://
 * libprb sees the TERM (its reason, not its tag and offset). */
static void shutdown_term(void)
{
	if (!cf_raw_available()) {
		struct prb_session *a = cf_session(), *b = cf_session();

		CF_RC(prb_keepalive(a), 0);
		cf_restart_graceful();
		check_session_shutdown(a, "a connection that was used");
		check_session_shutdown(b, "an idle connection");
		cf_note("the TERM's tag and error_offset (libprb reports the reason only; the "
			"raw sender speaks TCP only)");
		return;
	}
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
