/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every libprb operation over rdma://, against a running prb-target (URL in argv[1]):
 * control calls by capsule, READ/WRITE/CAS/FADD as one-sided verbs (through the bounce
 * pool and through a registered buffer), and the facts the binding promises: the brick
 * sees no request per one-sided operation (INFO's request counter), a handle revoked
 * by another connection (FREE with FORCE) fails with -ESTALE and costs the connection,
 * which prb_reconnect restores; the same for blocking calls on registered buffers, which
 * take the direct path (no request slot), with requests in flight beside them or not.
 * Requests keep their order when the bounce pool is full
 * (a FLUSH queued after WRITEs answers after them). With prb_opts_set_rdma_spin: a
 * session that polls without sleeping moves a block at depth intact, and its wait still
 * ends at the I/O timeout when the brick (stopped, PRB_TARGET_PID) answers nothing,
 * having spun on the CPU the while; with the default it sleeps. Exit 0 when every check
 * holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

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

#define ORDER_WRITES 6 /* 2 MiB each from unregistered memory: more than the bounce pool */

/*
 * Requests go on the wire in the order they were queued, even when the bounce pool is
 * full: six whole-block WRITEs from unregistered buffers (the later ones wait for bounce
 * space), then a FLUSH. The FLUSH covers the writes posted before its SEND
 * (PRB-FLUSH-2), so its answer must come after every WRITE completed, and the block
 * holds the last WRITE's bytes.
 */
static void test_order(struct prb_session *s, struct prb_mapping *rw)
{
	struct prb_completion done[ORDER_WRITES + 1];
	uint8_t *src[ORDER_WRITES], *dst = malloc(BLOCK);
	int n = 0, rc, flush_at = -1, writes = 0;

	for (unsigned i = 0; i < ORDER_WRITES; i++) {
		src[i] = malloc(BLOCK);
		fill(src[i], BLOCK, 40 + i);
		rc = prb_async_write(rw, 0, src[i], BLOCK, i);
		CHECK(rc == 0, "queue WRITE %u of %d: %s", i + 1, ORDER_WRITES, prb_strerror(rc));
	}
	rc = prb_async_flush(rw, 0, BLOCK, 100);
	CHECK(rc == 0, "queue FLUSH after them: %s", prb_strerror(rc));
	while (n < ORDER_WRITES + 1) {
		rc = prb_reap(s, done + n, 1, (unsigned)(ORDER_WRITES + 1 - n), -1);
		if (rc <= 0)
			break;
		n += rc;
	}
	for (int i = 0; i < n; i++) {
		CHECK(done[i].result == 0, "completion %" PRIu64 ": %s", done[i].user_data,
		      prb_strerror(done[i].result));
		if (done[i].user_data == 100)
			flush_at = writes;
		else
			writes++;
	}
	CHECK(n == ORDER_WRITES + 1, "%d of %d completions reaped", n, ORDER_WRITES + 1);
	CHECK(flush_at == ORDER_WRITES, "the FLUSH answered after all %d WRITEs (after %d)",
	      ORDER_WRITES, flush_at);
	CHECK(prb_read(rw, 0, dst, BLOCK) == 0 && memcmp(dst, src[ORDER_WRITES - 1], BLOCK) == 0,
	      "the block holds the last WRITE's bytes");
	for (unsigned i = 0; i < ORDER_WRITES; i++)
		free(src[i]);
	free(dst);
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

/*
 * Blocking READ and WRITE of registered buffers take libprb's direct path (no request
 * filled): 8 bytes complete within its spin; 2 MiB outlasts it on Soft-RoCE and
 * finishes as a request, as does a READ behind an asynchronous one. The brick sees none
 * of it.
 */
static void test_direct(struct prb_session *s, struct prb_mapping *rw)
{
	uint8_t *reg = malloc(2 * BLOCK), *src = malloc(BLOCK);
	struct prb_completion done;
	uint64_t before, after;
	int errors = 0, rc;

	if (!reg || !src || prb_register_buffer(s, reg, 2 * BLOCK) != 0) {
		CHECK(0, "register 4 MiB for the direct path");
		goto out;
	}
	before = requests(s);
	for (uint64_t i = 0; i < 200; i++) {
		uint64_t v = 0x5eed000000000000ull + i, got = 0;

		memcpy(reg, &v, 8);
		errors += prb_write(rw, 1024 + (i % 64) * 8, reg, 8) != 0;
		memset(reg + 64, 0, 8);
		errors += prb_read(rw, 1024 + (i % 64) * 8, reg + 64, 8) != 0;
		memcpy(&got, reg + 64, 8);
		errors += got != v;
	}
	after = requests(s);
	CHECK(errors == 0, "200 registered 8-byte WRITE + READ pairs, each read back");
	CHECK(after - before == 1, "direct path: no brick request (only the INFO counted)");

	fill(reg, BLOCK, 17);
	rc = prb_write(rw, 0, reg, BLOCK);
	CHECK(rc == 0, "registered 2 MiB WRITE (outlasts the spin): %s", prb_strerror(rc));
	memset(reg + BLOCK, 0, BLOCK);
	rc = prb_read(rw, 0, reg + BLOCK, BLOCK);
	CHECK(rc == 0 && memcmp(reg, reg + BLOCK, BLOCK) == 0,
	      "registered 2 MiB READ: %s, same bytes", prb_strerror(rc));

	/* With an asynchronous 2 MiB READ in flight, a blocking 8-byte one waits behind it
	 * (one queue pair, in order) beyond its spin, and finishes as a request. */
	fill(src, BLOCK, 18);
	CHECK(prb_write(rw, 0, src, BLOCK) == 0, "WRITE a new block image");
	memset(reg, 0, 2 * BLOCK);
	rc = prb_async_read(rw, 0, reg + BLOCK, BLOCK, 7);
	if (rc == 0)
		rc = prb_submit(s);
	/* 1 here (under TCG a 2 MiB READ takes tens of ms); a faster device may be done. */
	CHECK(rc >= 0, "asynchronous 2 MiB READ submitted, %d in flight", rc);
	rc = prb_read(rw, 4096, reg, 8);
	CHECK(rc == 0 && memcmp(reg, src + 4096, 8) == 0,
	      "registered 8-byte READ behind it: %s, right bytes", prb_strerror(rc));
	rc = prb_reap(s, &done, 1, 1, 5000);
	CHECK(rc == 1 && done.user_data == 7 && done.result == 0 &&
		      memcmp(reg + BLOCK, src, BLOCK) == 0,
	      "the asynchronous READ completes (%d, result %d), same bytes", rc, done.result);
	CHECK(prb_unregister_buffer(s, reg) == 0, "unregister the direct path's buffer");
out:
	free(src);
	free(reg);
}

/*
 * Block BASE + 3 blocks mapped RW on s, revoked by FREE with FORCE on other: a READ of
 * len bytes into buf through it fails with -ESTALE and costs the connection, which
 * prb_reconnect restores; the mapping stays dead.
 */
static void revoke_and_read(struct prb_session *s, struct prb_session *other, uint8_t *buf,
			    size_t len, const char *how)
{
	struct prb_mapping *victim = NULL;
	int rc;

	CHECK(prb_map(s, BASE + 3 * BLOCK, PRB_MAPPING_RW, &victim) == 0, "MAP RW (victim)");
	CHECK(victim && prb_read(victim, 0, buf, len) == 0, "victim works: %s", how);
	CHECK(prb_free(other, BASE + 3 * BLOCK, 1, PRB_FREE_FLAG_FORCE) == 0,
	      "FREE FORCE from the other connection");
	rc = victim ? prb_read(victim, 0, buf, len) : -EINVAL;
	CHECK(rc == -ESTALE, "%s through the revoked key: %s (ESTALE expected)", how,
	      prb_strerror(rc));
	CHECK(prb_session_status(s) != 0, "the connection is lost after a remote access error (%s)",
	      prb_strerror(prb_session_status(s)));
	rc = prb_reconnect(s);
	CHECK(rc == 0, "prb_reconnect: %s", prb_strerror(rc));
	CHECK(victim && prb_read(victim, 0, buf, len) == -ESTALE,
	      "the old mapping stays dead after the reconnect");
	prb_unmap(&victim);
	CHECK(prb_keepalive(s) == 0, "the new connection works");
}

/* MAP rules and revocation through FREE with FORCE from another connection. */
static void test_revocation(const char *url, struct prb_session *s)
{
	struct prb_session *other = NULL;
	struct prb_mapping *ro = NULL, *ex = NULL, *ex2 = NULL;
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
	revoke_and_read(s, other, buf, sizeof(buf), "one-sided READ (bounce)");
	/* The same through the direct path (a registered buffer, nothing else in flight). */
	CHECK(prb_alloc(other, BASE + 3 * BLOCK, 1) == 0, "ALLOC the victim block again");
	CHECK(prb_register_buffer(s, buf, sizeof(buf)) == 0, "register the READ buffer");
	revoke_and_read(s, other, buf, 8, "direct READ (registered)");
	CHECK(prb_unregister_buffer(s, buf) == 0, "unregister the READ buffer");
	prb_disconnect(&other);
}

static double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) this process used so far. */
static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A session with this RDMA spin and a 1 s I/O timeout. */
static struct prb_session *spin_session(const char *url, unsigned spin_us)
{
	struct prb_session *s = NULL;
	struct prb_opts *o = NULL;
	int rc = prb_opts_new(&o);

	if (rc == 0)
		rc = prb_opts_set_rdma_spin(o, spin_us);
	if (rc == 0)
		rc = prb_opts_set_io_timeout(o, 1000);
	if (rc == 0)
		rc = prb_connect(url, o, &s);
	prb_opts_delete(&o);
	CHECK(rc == 0, "connect with RDMA spin %u us: %s", spin_us, prb_strerror(rc));
	return s;
}

/* Queue one 4 KiB READ or WRITE per chunk of the block, at most depth in flight; 0 or the
 * first error. */
static int spin_block_io(struct prb_mapping *m, uint8_t *buf, bool write, unsigned depth)
{
	struct prb_session *s = prb_mapping_session(m);
	struct prb_completion done[32];
	unsigned chunks = BLOCK / 4096u, queued = 0, reaped = 0;
	int rc = 0;

	while (reaped < chunks) {
		while (queued < chunks && queued - reaped < depth) {
			rc = write ? prb_async_write(m, queued * 4096ull, buf + queued * 4096u, 4096, queued)
				   : prb_async_read(m, queued * 4096ull, buf + queued * 4096u, 4096, queued);
			if (rc < 0)
				return rc;
			queued++;
		}
		rc = prb_reap(s, done, 1, 32, -1);
		if (rc <= 0)
			return rc < 0 ? rc : -EIO;
		for (int i = 0; i < rc; i++)
			if (done[i].result < 0)
				return done[i].result;
		reaped += (unsigned)rc;
	}
	return 0;
}

/* The brick stopped by spin_unanswered_wait, for the watchdog. */
static volatile sig_atomic_t stopped_brick;

/* A wait that never ends (a spin that ignores the I/O timeout) fails here, not at the
 * test harness's timeout minutes later; the brick is continued first. */
static void spin_watchdog(int sig)
{
	static const char msg[] = "[FAIL] the wait for the stopped brick did not end in 20 s\n";

	(void)sig;
	if (stopped_brick > 0)
		kill((pid_t)stopped_brick, SIGCONT);
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/*
 * Wait for a KEEPALIVE the stopped brick does not answer: the I/O timeout ends the wait
 * in about a second and the connection (session status -ETIMEDOUT, the request
 * -ECONNRESET). Returns the CPU share of that wait (CPU seconds per
 * second), or -1 when it did not end as it should.
 */
static double spin_unanswered_wait(struct prb_session *s, pid_t brick)
{
	struct prb_completion c = {0};
	double t0, c0, wall;
	int rc;

	if (prb_async_keepalive(s, 7) < 0 || kill(brick, SIGSTOP) < 0)
		return -1;
	stopped_brick = brick;
	signal(SIGALRM, spin_watchdog);
	alarm(20);
	t0 = seconds_now();
	c0 = cpu_seconds();
	rc = prb_reap(s, &c, 1, 1, -1);
	wall = seconds_now() - t0;
	alarm(0);
	kill(brick, SIGCONT);
	stopped_brick = 0;
	CHECK(rc == 1 && c.user_data == 7 && c.result == -ECONNRESET &&
		      prb_session_status(s) == -ETIMEDOUT && wall > 0.8 && wall < 10,
	      "the unanswered KEEPALIVE ends at the I/O timeout: %d, %s, session %s after %.2f s",
	      rc, prb_strerror(c.result), prb_strerror(prb_session_status(s)), wall);
	return rc == 1 ? (cpu_seconds() - c0) / wall : -1;
}

/* prb_opts_set_rdma_spin: polling forever moves data intact and still times out. */
static void test_rdma_spin(const char *url)
{
	const char *pid_text = getenv("PRB_TARGET_PID");
	pid_t brick = pid_text ? (pid_t)atoi(pid_text) : 0;
	uint8_t *src = malloc(BLOCK), *dst = calloc(1, BLOCK);
	struct prb_session *s = spin_session(url, PRB_RDMA_SPIN_FOREVER);
	struct prb_mapping *m = NULL;
	double share;
	int rc;

	if (!s || !src || !dst)
		goto out;
	fill(src, BLOCK, 91);
	rc = prb_map(s, BASE + 2 * BLOCK, PRB_MAPPING_RW, &m);
	CHECK(rc == 0, "MAP with spin forever: %s", prb_strerror(rc));
	if (rc == 0) {
		rc = spin_block_io(m, src, true, 32);
		CHECK(rc == 0, "512 WRITEs of 4 KiB at depth 32, polled: %s", prb_strerror(rc));
		rc = spin_block_io(m, dst, false, 32);
		CHECK(rc == 0 && memcmp(src, dst, BLOCK) == 0,
		      "512 READs of 4 KiB at depth 32, polled: %s, block intact", prb_strerror(rc));
		prb_unmap(&m);
	}
	CHECK(brick > 0, "PRB_TARGET_PID names the brick (run under scripts/with-target.sh)");
	if (brick <= 0)
		goto out;
	share = spin_unanswered_wait(s, brick);
	CHECK(share > 0.5, "spin forever: the wait kept the CPU busy (%.2f CPU s per s)", share);
	prb_disconnect(&s);
	s = spin_session(url, PRB_DEFAULT_RDMA_SPIN_US);
	if (!s)
		goto out;
	share = spin_unanswered_wait(s, brick);
	CHECK(share >= 0 && share < 0.3, "default spin: the wait slept (%.2f CPU s per s)", share);
out:
	prb_disconnect(&s);
	free(src);
	free(dst);
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
		test_order(s, rw);
		test_one_sided(s, rw);
		test_direct(s, rw);
		CHECK(prb_unmap(&rw) == 0, "UNMAP RW");
	}
	test_revocation(argv[1], s);
	test_rdma_spin(argv[1]);
	CHECK(prb_free(s, BASE, 3, 0) == 0, "FREE the blocks");
	prb_disconnect(&s);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
