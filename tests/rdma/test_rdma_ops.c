/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every libprb operation over rdma://, against a running prb-target (URL in argv[1]):
 * control calls by capsule, READ/WRITE/CAS/FADD as one-sided verbs (through the bounce
 * pool and through a registered buffer), and the facts the binding promises: the brick
 * sees no request per one-sided operation (INFO's request counter), a handle revoked
 * by another connection (FREE with FORCE) fails with -ESTALE and costs the connection,
 * which prb_reconnect restores. Exit 0 when every check holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prb/prb.h>

#include "check.h"

#define MIB (1024u * 1024u)
#define BLOCK PRB_BLOCK_BYTES
#define BASE (256ull * MIB)


static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131u + seed);
}

static uint64_t requests(struct prb_session *s)
{
	struct prb_brick_info info;

	return prb_info(s, &info) == 0 ? info.requests : 0;
}

/* Connect, the negotiated parameters, ALLOC, LIST, KEEPALIVE. */
static struct prb_session *test_session(const char *url)
{
	struct prb_session_info si;
	struct prb_session *s = NULL;
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	int rc = prb_connect(url, NULL, &s);

	CHECK(rc == 0, "connect %s: %s", url, prb_strerror(rc));
	if (rc)
		return NULL;
	CHECK(prb_session_get_info(s, &si) == 0 && strcmp(si.transport, "rdma") == 0,
	      "transport is rdma");
	CHECK(!(si.features & (PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST)),
	      "no digests over RDMA (features %#x)", si.features);
	CHECK(si.features & PRB_FEATURE_ATOMICS, "ATOMICS granted");
	CHECK(prb_keepalive(s) == 0, "KEEPALIVE");
	CHECK(prb_alloc(s, BASE, 4) == 0, "ALLOC 4 blocks");
	CHECK(prb_alloc(s, BASE + BLOCK, 1) == -EEXIST, "ALLOC again: EEXIST");
	rc = prb_list_new(s, BASE, &it);
	CHECK(rc == 0 && prb_list_next(it, &e) == 1 && e.addr == BASE && e.blocks == 4,
	      "LIST: one extent of 4 blocks");
	prb_list_delete(&it);
	return s;
}

/* READ and WRITE through the bounce pool and a registered buffer; whole block too. */
static void test_read_write(struct prb_session *s, struct prb_mapping *rw)
{
	uint8_t *src = malloc(BLOCK), *dst = malloc(BLOCK), *reg = malloc(BLOCK);
	int rc;

	fill(src, BLOCK, 1);
	memset(dst, 0, BLOCK);
	rc = prb_write(rw, 4096, src, 65536);
	CHECK(rc == 0, "WRITE 64 KiB (bounce): %s", prb_strerror(rc));
	rc = prb_read(rw, 4096, dst, 65536);
	CHECK(rc == 0 && memcmp(src, dst, 65536) == 0, "READ 64 KiB back: same bytes");
	fill(src, BLOCK, 2);
	CHECK(prb_write(rw, 0, src, BLOCK) == 0, "WRITE the whole block");
	CHECK(prb_read(rw, 0, dst, BLOCK) == 0 && memcmp(src, dst, BLOCK) == 0,
	      "READ the whole block: same bytes");
	CHECK(prb_read(rw, BLOCK - 8, dst, 16) == -ERANGE, "READ past the block: ERANGE (local)");

	rc = prb_register_buffer(s, reg, BLOCK);
	CHECK(rc == 0, "prb_register_buffer 2 MiB: %s", prb_strerror(rc));
	fill(reg, BLOCK, 3);
	CHECK(prb_write(rw, 8192, reg + 8192, 100000) == 0, "WRITE from a registered buffer");
	memset(dst, 0, BLOCK);
	CHECK(prb_read(rw, 8192, dst, 100000) == 0 && memcmp(reg + 8192, dst, 100000) == 0,
	      "READ back what the registered buffer wrote");
	memset(reg, 0, BLOCK);
	CHECK(prb_read(rw, 0, reg, BLOCK) == 0 && reg[8192] == (uint8_t)(8192u * 131u + 3u) &&
		      reg[0] == src[0],
	      "READ into a registered buffer (zero-copy)");
	CHECK(prb_unregister_buffer(s, reg) == 0, "prb_unregister_buffer");
	CHECK(prb_unregister_buffer(s, reg) == -ENOENT, "unregister twice: ENOENT");
	free(reg);
	free(dst);
	free(src);
}

/* CAS and FADD as one-sided atomics; FLUSH by capsule. */
static void test_atomics(struct prb_mapping *rw)
{
	uint64_t v = 5, orig = 0;

	CHECK(prb_write(rw, 64, &v, 8) == 0, "WRITE 8 bytes for the atomics");
	CHECK(prb_cas(rw, 64, 5, 9, &orig) == 0 && orig == 5, "CAS 5 -> 9 (found %" PRIu64 ")",
	      orig);
	CHECK(prb_cas(rw, 64, 5, 7, &orig) == 0 && orig == 9, "CAS with a wrong compare: found 9");
	CHECK(prb_fadd(rw, 64, 3, &orig) == 0 && orig == 9, "FADD +3 (found %" PRIu64 ")", orig);
	CHECK(prb_read(rw, 64, &v, 8) == 0 && v == 12, "READ after the atomics: 12");
	CHECK(prb_cas(rw, 60, 0, 0, NULL) == -EINVAL, "CAS unaligned: EINVAL (local)");
	CHECK(prb_flush(rw, 0, BLOCK) == 0, "FLUSH the block");
}

/* The brick's CPU sees no message per one-sided operation: INFO's request counter. */
static void test_one_sided(struct prb_session *s, struct prb_mapping *rw)
{
	uint8_t buf[4096];
	uint64_t before, after, orig;
	int errors = 0;

	fill(buf, sizeof(buf), 4);
	before = requests(s);
	for (int i = 0; i < 100; i++) {
		errors += prb_write(rw, (uint64_t)i * 4096u, buf, sizeof(buf)) != 0;
		errors += prb_read(rw, (uint64_t)i * 4096u, buf, sizeof(buf)) != 0;
	}
	for (int i = 0; i < 20; i++) {
		errors += prb_fadd(rw, 128, 1, &orig) != 0;
		errors += prb_cas(rw, 136, 0, 0, &orig) != 0;
	}
	after = requests(s);
	CHECK(errors == 0, "240 one-sided operations");
	CHECK(before > 0 && after - before == 1,
	      "one-sided: brick requests before %" PRIu64 ", after %" PRIu64
	      " (only the INFO counted)",
	      before, after);
}

/* MAP rules and revocation through FREE with FORCE from another connection. */
static void test_revocation(const char *url, struct prb_session *s)
{
	struct prb_session *other = NULL;
	struct prb_mapping *ro = NULL, *ex = NULL, *ex2 = NULL, *victim = NULL;
	uint8_t buf[64];
	int rc;

	CHECK(prb_map(s, BASE + BLOCK, PRB_MAPPING_RO, &ro) == 0, "MAP read-only");
	CHECK(ro && prb_read(ro, 0, buf, sizeof(buf)) == 0, "READ through the RO mapping");
	CHECK(ro && prb_write(ro, 0, buf, sizeof(buf)) == -EPERM, "WRITE through RO: EPERM");
	CHECK(prb_unmap(&ro) == 0, "UNMAP");
	CHECK(prb_map(s, BASE + 2 * BLOCK, PRB_MAPPING_RW | PRB_MAPPING_EXCL, &ex) == 0,
	      "MAP exclusive");
	CHECK(prb_map(s, BASE + 2 * BLOCK, PRB_MAPPING_RO, &ex2) == -EBUSY,
	      "MAP of an exclusively mapped block: EBUSY");
	CHECK(prb_free(s, BASE + 2 * BLOCK, 1, 0) == -EBUSY, "FREE of a mapped block: EBUSY");
	prb_unmap(&ex);

	rc = prb_connect(url, NULL, &other);
	CHECK(rc == 0, "second connection");
	if (rc)
		return;
	CHECK(prb_map(s, BASE + 3 * BLOCK, PRB_MAPPING_RW, &victim) == 0, "MAP RW (victim)");
	CHECK(victim && prb_read(victim, 0, buf, sizeof(buf)) == 0, "victim works");
	CHECK(prb_free(other, BASE + 3 * BLOCK, 1, PRB_FREE_FLAG_FORCE) == 0,
	      "FREE FORCE from the other connection");
	rc = victim ? prb_read(victim, 0, buf, sizeof(buf)) : -EINVAL;
	CHECK(rc == -ESTALE, "one-sided READ through the revoked key: %s (ESTALE expected)",
	      prb_strerror(rc));
	CHECK(prb_session_status(s) != 0, "the connection is lost after a remote access error (%s)",
	      prb_strerror(prb_session_status(s)));
	rc = prb_reconnect(s);
	CHECK(rc == 0, "prb_reconnect: %s", prb_strerror(rc));
	CHECK(victim && prb_read(victim, 0, buf, sizeof(buf)) == -ESTALE,
	      "the old mapping stays dead after the reconnect");
	prb_unmap(&victim);
	CHECK(prb_keepalive(s) == 0, "the new connection works");
	prb_disconnect(&other);
}

int main(int argc, char **argv)
{
	struct prb_session *s;
	struct prb_mapping *rw = NULL;

	if (argc != 2) {
		fprintf(stderr, "usage: %s rdma://HOST:PORT\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	s = test_session(argv[1]);
	if (!s)
		return 1;
	CHECK(prb_map(s, BASE, PRB_MAPPING_RW, &rw) == 0 && prb_mapping_rkey(rw) != 0,
	      "MAP RW returns an rkey");
	if (rw) {
		test_read_write(s, rw);
		test_atomics(rw);
		test_one_sided(s, rw);
		CHECK(prb_unmap(&rw) == 0, "UNMAP RW");
	}
	test_revocation(argv[1], s);
	CHECK(prb_free(s, BASE, 3, 0) == 0, "FREE the blocks");
	prb_disconnect(&s);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
