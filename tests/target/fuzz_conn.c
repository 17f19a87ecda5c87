/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary byte streams into prb-target's connection engine
 * (decode, dispatch, brick state, store on a small temporary pool with a tier).
 *
 * Input: one mode byte, then the bytes the "initiator" sends.
 *   mode bit 0     the harness sends a valid HELLO first
 *   mode bit 1, 2  that HELLO asks for HDGST, DDGST (bit 3: ATOMICS)
 *   mode bit 4     walk the PDUs by their headers, feed them one by one, write correct
 *                  header/data digests into them, and replace a handle field below 8 by
 *                  a handle that an earlier MAP returned: digest-on and data paths are
 *                  reachable
 *   mode bits 5-7  chunk size of the feed: 1, 3, 16, 100, 1000, all, all, all
 * Every few chunks the clock moves on 100 ms and the timeouts are checked; the output
 * is drained as a transport would. Each input ends with the connection deleted.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <prb/wire.h>

#include "brick.h"
#include "conn.h"
#include "log.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzzing process's one brick, shared by every input (like a long-lived target). */
static struct prb_store *store;
static struct prb_brick *brick;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	static char dir[256], pool[300], tier[300];
	struct prb_store_config cfg = { 0 };
	int err;

	(void)argc;
	(void)argv;
	prb_log_set_level(PRB_LOG_ERROR);
	snprintf(dir, sizeof(dir), "%s/prb-fuzz.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(pool, sizeof(pool), "%s/pool", dir);
	snprintf(tier, sizeof(tier), "%s/tier", dir);
	cfg.pool_path = pool;
	cfg.pool_size = 16u << 20;
	cfg.tier_path = tier;
	cfg.tier_size = 8u << 20;
	err = prb_store_open(&cfg, &store);
	if (err < 0 || prb_brick_new(store, &brick) < 0) {
		fprintf(stderr, "fuzz_conn: cannot open a pool in %s (%d)\n", dir, err);
		abort();
	}
	/* The files may go now: the mappings keep them alive until the process ends. */
	unlink(pool);
	unlink(tier);
	rmdir(dir);
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Every request that carries a handle has it where UNMAP's is. */
#define HANDLE_AT  PRB_UNMAP_REQ_HANDLE_OFFSET
#define HANDLE_END (PRB_UNMAP_REQ_HANDLE_OFFSET + PRB_UNMAP_REQ_HANDLE_SIZE)
_Static_assert(PRB_READ_REQ_HANDLE_OFFSET == HANDLE_AT && PRB_WRITE_REQ_HANDLE_OFFSET == HANDLE_AT &&
		       PRB_FLUSH_REQ_HANDLE_OFFSET == HANDLE_AT &&
		       PRB_CAS_REQ_HANDLE_OFFSET == HANDLE_AT && PRB_FADD_REQ_HANDLE_OFFSET == HANDLE_AT,
	       "fix_pdu finds the handle of every request at one offset");

/* Handles from MAP responses of the current input. */
static uint64_t handles[8];
static unsigned handles_count;

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* Remember the handle of a successful MAP response starting at \p iov. */
static void catch_handle(const struct iovec *iov)
{
	const uint8_t *p = iov->iov_base;

	if (iov->iov_len >= PRB_MAP_RSP_SIZE && get_le16(p + PRB_HDR_MAGIC_OFFSET) == PRB_MAGIC &&
	    p[PRB_HDR_OPCODE_OFFSET] == (PRB_OP_MAP | PRB_OPCODE_RESPONSE) &&
	    get_le16(p + PRB_HDR_STATUS_OFFSET) == PRB_ST_OK)
		handles[handles_count++ % 8] = get_le64(p + PRB_MAP_RSP_HANDLE_OFFSET);
}

/* Make one PDU plausible: a small handle becomes a real one, digests become right. */
static void fix_pdu(uint8_t *p, uint32_t plen)
{
	uint32_t hlen = get_le16(p + PRB_HDR_HLEN_OFFSET);
	uint8_t op = p[PRB_HDR_OPCODE_OFFSET];

	if (hlen < PRB_HDR_SIZE || hlen > plen)
		return;
	if ((op == PRB_OP_UNMAP || op == PRB_OP_READ || op == PRB_OP_WRITE || op == PRB_OP_FLUSH ||
	     op == PRB_OP_CAS || op == PRB_OP_FADD) &&
	    hlen >= HANDLE_END && handles_count && get_le64(p + HANDLE_AT) < 8)
		put_le64(p + HANDLE_AT, handles[get_le64(p + HANDLE_AT) % (handles_count < 8 ? handles_count
										   : 8)]);
	if ((p[PRB_HDR_FLAGS_OFFSET] & PRB_HDR_HDGST) && hlen + PRB_HDGST_SIZE <= plen) {
		put_le32(p + hlen, prb_crc32c(p, hlen));
		memset(p + hlen + PRB_CRC32C_SIZE, 0, PRB_HDGST_SIZE - PRB_CRC32C_SIZE);
	}
	if (p[PRB_HDR_FLAGS_OFFSET] & PRB_HDR_DDGST) {
		uint32_t off = hlen + ((p[PRB_HDR_FLAGS_OFFSET] & PRB_HDR_HDGST) ? PRB_HDGST_SIZE : 0u);

		if (off + PRB_DDGST_SIZE <= plen)
			put_le32(p + plen - PRB_DDGST_SIZE, prb_crc32c(p + off, plen - off - PRB_DDGST_SIZE));
	}
}

/* Length of the next PDU (whole) if its header is plausible and it fits, else 0. */
static size_t next_pdu(const uint8_t *p, size_t left)
{
	uint32_t plen;

	if (left < PRB_HDR_SIZE)
		return 0;
	plen = get_le32(p + PRB_HDR_PLEN_OFFSET);
	return plen >= PRB_HDR_SIZE && plen <= left ? plen : 0;
}

static void drain(struct prb_conn *c)
{
	struct iovec iov[16];
	int n;

	while ((n = prb_conn_tx_iov(c, iov, 16)) > 0) {
		size_t total = 0;

		for (int i = 0; i < n; i++) {
			total += iov[i].iov_len;
			catch_handle(&iov[i]);
		}
		/* Touch the bytes as a socket would (ASan sees stale block references). */
		for (int i = 0; i < n; i++)
			if (iov[i].iov_len)
				(void)*(volatile const uint8_t *)iov[i].iov_base;
		prb_conn_tx_commit(c, total, 0);
	}
}

/* Feed \p len bytes; \return false when the engine takes no more. */
static bool feed(struct prb_conn *c, const uint8_t *bytes, size_t len, uint64_t now)
{
	while (len) {
		void *buf;
		size_t space = prb_conn_rx_space(c, &buf);

		if (space == 0) {
			drain(c);
			space = prb_conn_rx_space(c, &buf);
			if (space == 0)
				return false;
		}
		if (space > len)
			space = len;
		memcpy(buf, bytes, space);
		prb_conn_rx_commit(c, space, now);
		bytes += space;
		len -= space;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[8] = { 1, 3, 16, 100, 1000, SIZE_MAX, SIZE_MAX, SIZE_MAX };
	struct prb_conn_limits lim = {
		.queue_depth = 8,
		.max_data = 65536,
		.max_mappings = 4,
		.features = PRB_FEAT_HDGST | PRB_FEAT_DDGST | PRB_FEAT_ATOMICS,
		.idle_timeout_ms = 2000,
		.pdu_timeout_ms = 500,
		.tx_backlog_max = 4096, /* small: requests are often held and resumed */
	};
	struct prb_conn *c;
	uint8_t *copy;
	uint64_t now = 0;
	size_t chunk;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	chunk = chunks[mode >> 5];
	if (prb_conn_new(brick, &lim, now, &c) < 0)
		return 0;
	if (mode & 1) {
		struct prb_hello_req h = { 0 };
		uint8_t pdu[PRB_HELLO_REQ_SIZE];

		h.min_version = 1;
		h.max_version = 1;
		h.queue_depth = 8;
		h.max_pdu = 1u << 20;
		h.features = (mode & 2 ? PRB_FEAT_HDGST : 0u) | (mode & 4 ? PRB_FEAT_DDGST : 0u) |
			     (mode & 8 ? PRB_FEAT_ATOMICS : 0u);
		if (prb_hello_req_encode(&h, pdu, sizeof(pdu)) > 0)
			feed(c, pdu, sizeof(pdu), now);
		drain(c);
	}
	copy = malloc(size ? size : 1);
	if (!copy)
		goto out_delete;
	memcpy(copy, data, size);
	handles_count = 0;
	for (size_t pos = 0, n = 0; pos < size && !prb_conn_done(c); n++) {
		size_t len = size - pos < chunk ? size - pos : chunk;

		if (mode & 16) {
			/* One PDU at a time, so MAP's handle is known before the next is fixed. */
			size_t plen = next_pdu(copy + pos, size - pos);

			if (plen) {
				fix_pdu(copy + pos, (uint32_t)plen);
				len = plen;
			}
		}
		if (!feed(c, copy + pos, len, now))
			break;
		pos += len;
		drain(c);
		if (n % 4 == 3) {
			now += 100;
			prb_conn_tick(c, now);
			drain(c);
		}
	}
	free(copy);
	if (mode & 1 && !prb_conn_done(c))
		prb_conn_shutdown(c);
	drain(c);
out_delete:
	prb_conn_delete(c);
	return 0;
}
