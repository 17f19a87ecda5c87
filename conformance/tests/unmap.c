/* SPDX-License-Identifier: Apache-2.0 */
/* UNMAP and revocation: at once, pipelined, unknown handles, connection drop. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <string.h>
#include <time.h>

#include "suite.h"

static void revoke_immediate(void)
{
	struct cf_conn *c = cf_connect();
	uint64_t h;
	uint8_t buf[16] = {1, 2, 3};

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
	CF_SETUP(CF_REQ_WRITE)
		CF_ST(c, cf_write(c, h, 0, sizeof(buf), buf), PRB_ST_OK);
	CF_ST(c, cf_unmap(c, h), PRB_ST_OK);
	CF_ST(c, cf_read(c, h, 0, sizeof(buf), buf), PRB_ST_ESTALE);
	CF_ST(c, cf_write(c, h, 0, sizeof(buf), buf), PRB_ST_ESTALE);
	CF_ST(c, cf_flush(c, h, 0, sizeof(buf)), PRB_ST_ESTALE);
	CF_ST(c, cf_unmap(c, h), PRB_ST_ESTALE);
	/* Unmapped, the block can be freed. */
	CF_ST(c, cf_free(c, cf_addr(0), 1, 0), PRB_ST_OK);
}

/* UNMAP then a WRITE on the handle without waiting: the WRITE gets ESTALE, writes nothing. */
static void revoke_pipelined(void)
{
	struct cf_conn *c = cf_connect();
	uint64_t h, h2;
	uint8_t data[64], back[64], zero[64] = {0};
	union prb_msg u, w, rsp;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
	cf_pattern(data, sizeof(data), 5);
	u = (union prb_msg){.unmap_req = {.handle = h}};
	w = (union prb_msg){.write_req = {.handle = h, .offset = 0, .length = sizeof(data)}};
	CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_UNMAP_REQ, &u, NULL, 0, false) == 0, "send");
	CF_CHECK_FATAL(cf_send_msg(c, PRB_MSG_WRITE_REQ, &w, data, sizeof(data), false) == 0,
		       "send");
	for (int i = 0; i < 2; i++) {
		CF_CHECK_FATAL(cf_recv_pdu(c, -1) == 0, "response %d: %s", i, c->detail);
		if (c->rx_hdr.tag == u.hdr.tag)
			CF_CHECK(c->rx_hdr.status == PRB_ST_OK, "UNMAP status %u",
				 c->rx_hdr.status);
		else
			CF_CHECK(c->rx_hdr.tag == w.hdr.tag && c->rx_hdr.status == PRB_ST_ESTALE,
				 "WRITE after UNMAP: tag %u status %s", c->rx_hdr.tag,
				 prb_status_name(c->rx_hdr.status)
					 ? prb_status_name(c->rx_hdr.status)
					 : "?");
	}
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &h2), PRB_ST_OK);
	CF_SETUP(CF_REQ_READ)
		CF_ST_FATAL(c, cf_read(c, h2, 0, sizeof(back), back), PRB_ST_OK);
	CF_CHECK(memcmp(back, zero, sizeof(back)) == 0, "WRITE after UNMAP reached the block");
	(void)rsp;
}

static void unknown_handle(void)
{
	struct cf_conn *c = cf_connect();
	uint8_t byte;

	CF_ST(c, cf_unmap(c, 0), PRB_ST_ESTALE);
	CF_ST(c, cf_unmap(c, 0x0123456789ABCDEFULL), PRB_ST_ESTALE);
	CF_ST(c, cf_read(c, 0, 0, 1, &byte), PRB_ST_ESTALE);
	CF_ST(c, cf_read(c, ~0ULL, 0, 1, &byte), PRB_ST_ESTALE);
}

/* Retry MAP EXCL for a little while: the brick notices a dropped connection asynchronously. */
static int map_excl_soon(struct prb_session *s, uint64_t addr, struct prb_mapping **m)
{
	struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
	int ret = -1;

	for (int i = 0; i < 200; i++) {
		ret = prb_map(s, addr, PRB_MAPPING_EXCL | PRB_MAPPING_RW, m);
		if (ret != -EBUSY)
			return ret;
		nanosleep(&pause, NULL);
	}
	return ret;
}

static void disconnect_revokes(void)
{
	struct prb_session *a = cf_session(), *b = cf_session();
	struct prb_mapping *mb = NULL;

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(b, cf_addr(0), 2), 0);
	cf_session_map(a, cf_addr(0), PRB_MAPPING_EXCL | PRB_MAPPING_RW);
	cf_session_map(a, cf_addr(1), PRB_MAPPING_RO);
	CF_RC(prb_map(b, cf_addr(0), PRB_MAPPING_RO, &mb), -EBUSY);
	cf_session_close(a);
	CF_RC(map_excl_soon(b, cf_addr(0), &mb), 0);
	CF_RC(prb_unmap(&mb), 0);
	/* No handle of A is left: FREE without FORCE works, blocks stay allocated till then. */
	CF_CHECK(cf_session_allocated(b, 0, 2) == 2, "blocks freed when their mapper disconnected");
	CF_RC(prb_free(b, cf_addr(0), 2, 0), 0);
}

static void disconnect_data_stays(void)
{
	struct prb_session *a = cf_session(), *b = cf_session();
	struct prb_mapping *m;
	uint8_t data[4096], back[4096];

	cf_pattern(data, sizeof(data), 11);
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(a, cf_addr(0), 1), 0);
	m = cf_session_map(a, cf_addr(0), PRB_MAPPING_RW);
	CF_SETUP(CF_REQ_WRITE)
		CF_RC_FATAL(prb_write(m, 100, data, sizeof(data)), 0);
	cf_session_close(a);
	CF_RC_FATAL(map_excl_soon(b, cf_addr(0), &m), 0);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m, 100, back, sizeof(back)), 0);
	CF_CHECK(memcmp(data, back, sizeof(data)) == 0,
		 "data written before the writer disconnected is gone");
}

const struct cf_test cf_tests_unmap[] = {
	{"Unmap.Revoke.Immediate", revoke_immediate, "PRB-UNMAP-2 PRB-UNMAP-4 PRB-UNMAP-5", true, 0,
	 0, "after UNMAP every use of the handle gets ESTALE"},
	{"Unmap.Revoke.Pipelined", revoke_pipelined, "PRB-UNMAP-2 PRB-DATA-10", true, 0, 0,
	 "a WRITE sent right behind UNMAP gets ESTALE and writes nothing"},
	{"Unmap.Handle.Unknown", unknown_handle, "PRB-UNMAP-1 PRB-DATA-2", true, 0, 0,
	 "unknown handles (0, random, all ones): ESTALE"},
	{"Unmap.Disconnect.Revokes", disconnect_revokes,
	 "PRB-CONN-1 PRB-CONN-2 PRB-CONN-3 PRB-TCP-6", true, 0, 0,
	 "a connection's handles die with it; its blocks stay allocated"},
	{"Unmap.Disconnect.DataStays", disconnect_data_stays, "PRB-CONN-2", true, 0, 0,
	 "data written through a dropped connection stays"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
