/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Availability of prb-target under hostile or broken clients (issue 16), over loopback
 * against a real target under scripts/with-target.sh (PRB_URL, PRB_TARGET_PID), each
 * test with the short timeouts its CMake entry gives the target:
 *   hello_flood           connections that never send a byte, past the connection limit
 *   slowloris             PDUs trickled a byte at a time
 *   no_read               data digests, pipelined 2 MiB READs, and no reading
 *   shutdown_slow_reader  SIGTERM while a peer reads its backlog slowly
 * Each attack runs beside a good connection whose KEEPALIVE round trips are measured
 * before and during it: the p99 during the attack must stay under 10x the p99 before, or
 * under an absolute ceiling (a loaded 2-core machine is noisy), and no round trip may
 * take seconds (a brick stalled by an attacker for the length of a timeout).
 *   test_availability NAME...   run the named tests; --list lists them
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define B ((uint64_t)PRB_BLOCK_SIZE)
/* A good connection's round trips under attack: the p99 at most LATENCY_FACTOR times the
 * baseline's or at most LATENCY_CEILING_MS, and none above LATENCY_STALL_MS. */
#define LATENCY_FACTOR	   10.0
#define LATENCY_CEILING_MS 200.0
#define LATENCY_STALL_MS   2000.0
#define PINGS_MAX	   100000

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static const char *url;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s,
			      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ the good connection */

/* KEEPALIVE round trips of the good connection, in ms. */
struct pings {
	struct tc *c;
	double ms[PINGS_MAX];
	int n;
	int failed;
	atomic_bool stop;
	pthread_t thread;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(struct pings *p, double q)
{
	int i;

	if (p->n == 0)
		return 1e9;
	qsort(p->ms, (size_t)p->n, sizeof(p->ms[0]), cmp_double);
	i = (int)(q * (p->n - 1) + 0.5);
	return p->ms[i];
}

static void ping_once(struct pings *p)
{
	double t0 = now_s();

	if (tc_keepalive(p->c) != 0)
		p->failed++;
	else if (p->n < PINGS_MAX)
		p->ms[p->n++] = (now_s() - t0) * 1e3;
}

static void *ping_thread(void *arg)
{
	struct pings *p = arg;

	while (!atomic_load(&p->stop) && !p->failed) {
		ping_once(p);
		usleep(1000);
	}
	return NULL;
}

/* The baseline: \p n round trips with nothing else going on. */
static double baseline_p99(struct tc *c, int n)
{
	static struct pings p;

	memset(&p, 0, sizeof(p));
	p.c = c;
	for (int i = 0; i < n; i++) {
		ping_once(&p);
		usleep(1000);
	}
	return p.failed ? 1e9 : percentile(&p, 0.99);
}

static void pings_start(struct pings *p, struct tc *c)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	pthread_create(&p->thread, NULL, ping_thread, p);
}

/* Stop the pings; check them against the baseline's p99. \return 0 when they hold. */
static int pings_check(struct pings *p, double base, const char *attack)
{
	double p50, p99, max;

	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	p50 = percentile(p, 0.5);
	p99 = percentile(p, 0.99);
	max = percentile(p, 1.0);
	printf("%s: good connection p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d KEEPALIVEs "
	       "(baseline p99 %.2f ms), %d failed\n",
	       attack, p50, p99, max, p->n, base, p->failed);
	CHECK(p->failed == 0 && p->n >= 50);
	CHECK(p99 <= LATENCY_FACTOR * base || p99 <= LATENCY_CEILING_MS);
	CHECK(max <= LATENCY_STALL_MS);
	return 0;
}

/* ------------------------------------------------------------------ helpers */

/* The connections the target counts (INFO), or -1. */
static long target_connections(struct tc *c)
{
	struct prb_info_rsp info;

	return tc_info(c, &info) == 0 ? (long)info.connections : -1;
}

/* The next PDU is TERM TIMEOUT with \p tag and offset 0, then the end of the stream. */
static int expect_timeout_term(struct tc *c, uint32_t tag)
{
	struct tc_pdu p;
	int err = tc_recv(c, &p);

	if (err != 0 || p.id != PRB_MSG_TERM) {
		fprintf(stderr, "expected TERM TIMEOUT, got %s %d\n", err ? "error" : "PDU",
			err ? err : (int)p.id);
		return 1;
	}
	CHECK(p.msg.term.reason == PRB_TERM_TIMEOUT && p.msg.term.error_offset == 0);
	CHECK(p.msg.hdr.tag == tag);
	CHECK(tc_closed_by_peer(c));
	return 0;
}

/* True when \p c has something to read (or was closed) within \p ms. */
static bool readable(const struct tc *c, int ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

	return poll(&pfd, 1, ms) == 1;
}

/* ------------------------------------------------------------------ tests */

/*
 * Target: --max-connections 16 --hello-timeout 5. 88 connections that never send a byte
 * (the limit plus the 64 the brick used to answer ENOMEM, and 8 more) while a HELLOed
 * connection is measured: at the limit each new one makes the oldest without HELLO go
 * (TERM TIMEOUT, PRB-KA-5), so a new initiator still gets in at once, and no HELLOed
 * connection is ever closed for it; the rest go at the HELLO timeout.
 */
static int test_hello_flood(void)
{
	enum { LIMIT = 16, N = LIMIT + 64 + 8, KEPT = LIMIT - 2, HELLO_TIMEOUT_S = 5 };
	static struct tc a[N];
	static struct pings p;
	double base, t_flood, t_late[N];
	struct tc g, late;

	CHECK(tc_open(&g, url, 0, 4) == 0);
	base = baseline_p99(&g, 300);
	pings_start(&p, &g);
	t_flood = now_s();
	for (int i = 0; i < N; i++) {
		CHECK(tc_connect(&a[i], url) == 0);
		t_late[i] = now_s();
	}
	/* The brick is full of connections without HELLO: a newcomer gets in at once. */
	CHECK(tc_open(&late, url, 0, 4) == 0);
	CHECK(tc_keepalive(&late) == 0);
	/* The oldest made room: each got TERM TIMEOUT (tag 0: no header arrived) long before
	 * its HELLO timeout. */
	for (int i = 0; i < N - KEPT; i++) {
		tc_set_timeout(&a[i], 2000);
		if (expect_timeout_term(&a[i], 0) != 0) {
			fprintf(stderr, "connection %d of %d without HELLO: no TERM\n", i, N);
			return 1;
		}
		tc_close(&a[i]);
	}
	printf("hello_flood: %d connections without HELLO made room within %.2f s\n", N - KEPT,
	       now_s() - t_flood);
	CHECK(now_s() - t_flood < HELLO_TIMEOUT_S - 1);
	/* The newest ones stay until their HELLO timeout. */
	for (int i = N - KEPT; i < N; i++) {
		double waited;

		tc_set_timeout(&a[i], (HELLO_TIMEOUT_S + 3) * 1000);
		if (expect_timeout_term(&a[i], 0) != 0)
			return 1;
		waited = now_s() - t_late[i];
		tc_close(&a[i]);
		if (waited < HELLO_TIMEOUT_S - 0.3 || waited > HELLO_TIMEOUT_S + 2.5) {
			fprintf(stderr, "HELLO timeout of connection %d after %.2f s\n", i, waited);
			return 1;
		}
	}
	CHECK(pings_check(&p, base, "hello_flood") == 0);
	/* The HELLOed connections were never evicted and still serve. */
	CHECK(tc_keepalive(&g) == 0 && tc_keepalive(&late) == 0);
	CHECK(target_connections(&g) == 2);
	tc_close(&late);
	tc_close(&g);
	return 0;
}

/*
 * Target: --pdu-timeout 1. Eight connections each send the first 40 bytes of a 4 KiB
 * WRITE, then one more byte every 50 ms: the partial-PDU timeout runs from a PDU's first
 * byte, so each gets TERM TIMEOUT with its WRITE's tag about a second after that byte,
 * however its bytes trickle in; a good connection keeps its latency meanwhile.
 */
struct trickle {
	struct tc c[8];
	double first[8], ended[8];
	uint8_t pdu[8][32 + 4096];
};

static void *trickle_thread(void *arg)
{
	struct trickle *t = arg;
	size_t sent[8];
	int left = 8;
	double end = now_s() + 5;

	for (int i = 0; i < 8; i++) {
		t->first[i] = now_s();
		tc_send_raw(&t->c[i], t->pdu[i], 40);
		sent[i] = 40;
	}
	while (left && now_s() < end) {
		usleep(50000);
		for (int i = 0; i < 8; i++) {
			if (t->ended[i] > 0)
				continue;
			if (readable(&t->c[i], 0)) {
				t->ended[i] = now_s();
				left--;
				continue;
			}
			tc_send_raw(&t->c[i], t->pdu[i] + sent[i], 1);
			sent[i]++;
		}
	}
	return NULL;
}

static int test_slowloris(void)
{
	static struct trickle t;
	static uint8_t buf[B], back[B];
	static struct pings p;
	pthread_t thread;
	double base;
	struct tc g;
	uint64_t h;

	CHECK(tc_open(&g, url, 0, 4) == 0);
	base = baseline_p99(&g, 300);
	for (int i = 0; i < 8; i++) {
		union prb_msg m;

		CHECK(tc_open(&t.c[i], url, 0, 4) == 0);
		memset(&m, 0, sizeof(m));
		m.hdr.tag = 500 + (uint32_t)i;
		m.write_req.handle = 12345; /* never issued: ESTALE, should it ever end */
		m.write_req.length = 4096;
		m.write_req.payload_len = 4096;
		CHECK(prb_msg_encode(PRB_MSG_WRITE_REQ, &m, t.pdu[i], 32) == 32);
		memset(t.pdu[i] + 32, 0x5a, 4096);
	}
	pings_start(&p, &g);
	CHECK(pthread_create(&thread, NULL, trickle_thread, &t) == 0);
	pthread_join(thread, NULL);
	CHECK(pings_check(&p, base, "slowloris") == 0);
	for (int i = 0; i < 8; i++) {
		double after = t.ended[i] - t.first[i];

		printf("slowloris: connection %d ended %.2f s after its PDU's first byte\n", i,
		       t.ended[i] > 0 ? after : -1.0);
		CHECK(t.ended[i] > 0);
		CHECK(after >= 0.9 && after < 2.5);
		CHECK(expect_timeout_term(&t.c[i], 500 + (uint32_t)i) == 0);
		tc_close(&t.c[i]);
	}
	/* A whole PDU of the largest size is no trickle. */
	tc_pattern(buf, B, 16);
	CHECK(tc_alloc(&g, 0, 1) == 0 && tc_map(&g, 0, PRB_MAP_WRITE, &h) == 0);
	CHECK(tc_write(&g, h, 0, buf, (uint32_t)B) == 0);
	CHECK(tc_read(&g, h, 0, (uint32_t)B, back) == 0 && memcmp(buf, back, B) == 0);
	CHECK(tc_free(&g, 0, 1, PRB_FREE_FORCE) == 0);
	tc_close(&g);
	return 0;
}

/*
 * Target: --send-timeout 1.5. Sixteen connections negotiate data digests, write 256 KiB
 * to a block of their own (through the digest path's bounce buffer), pipeline sixteen
 * 2 MiB READs of it and read nothing. The brick sends those answers from the block (it
 * is the only writer), so they pin little memory; the send timeout then ends each
 * connection, and the memory they used goes back to the system.
 */
static int test_no_read(void)
{
	enum { K = 16, READS = 16, SEND_TIMEOUT_MS = 1500 };
	static struct tc a[K];
	static struct pings p;
	static uint8_t reqs[READS * PRB_READ_REQ_SIZE], data[256 * 1024];
	long rss0, rss1, rss2, conns = -1;
	double base, t0, gone;
	struct tc g, q;

	CHECK(tc_open(&g, url, 0, 4) == 0 && tc_open(&q, url, 0, 4) == 0);
	base = baseline_p99(&g, 300);
	/* Warm up the brick's allocator with one digest connection's whole life. */
	CHECK(tc_open(&a[0], url, PRB_FEAT_DDGST, READS) == 0);
	CHECK(tc_keepalive(&a[0]) == 0);
	tc_close(&a[0]);
	sleep_s(0.2);
	rss0 = tc_target_status_kib("RssAnon");
	CHECK(rss0 > 0);
	tc_pattern(data, sizeof(data), 3);
	for (int i = 0; i < K; i++) {
		uint64_t addr = (uint64_t)(10 + i) * B, h;
		int small = 64 * 1024;

		CHECK(tc_open(&a[i], url, PRB_FEAT_DDGST, READS) == 0 && a[i].ddgst);
		setsockopt(a[i].fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		CHECK(tc_alloc(&a[i], addr, 1) == 0 && tc_map(&a[i], addr, PRB_MAP_WRITE, &h) == 0);
		CHECK(tc_write(&a[i], h, 0, data, sizeof(data)) == 0);
		for (unsigned r = 0; r < READS; r++) {
			union prb_msg m;

			memset(&m, 0, sizeof(m));
			m.hdr.tag = a[i].next_tag++;
			m.read_req.handle = h;
			m.read_req.length = (uint32_t)B;
			CHECK(prb_msg_encode(PRB_MSG_READ_REQ, &m, reqs + r * PRB_READ_REQ_SIZE,
					     PRB_READ_REQ_SIZE) == (int)PRB_READ_REQ_SIZE);
		}
		CHECK(tc_send_raw(&a[i], reqs, sizeof(reqs)) == 0);
	}
	t0 = now_s();
	pings_start(&p, &g);
	sleep_s(0.6);
	rss1 = tc_target_status_kib("RssAnon");
	printf("no_read: %d peers not reading: the target grew by %ld KiB\n", K, rss1 - rss0);
	/* A copy per answer would be 8 MiB of backlog plus one answer per peer. */
	CHECK(rss1 - rss0 < K * 1024);
	/* The send timeout ends them all, and only then; q and g are left. */
	while (now_s() - t0 < SEND_TIMEOUT_MS / 1000.0 + 4) {
		conns = target_connections(&q);
		if (conns == 2)
			break;
		sleep_s(0.05);
	}
	gone = now_s() - t0;
	CHECK(pings_check(&p, base, "no_read") == 0);
	printf("no_read: %ld connection(s) left %.2f s after the READs\n", conns, gone);
	CHECK(conns == 2);
	CHECK(gone >= SEND_TIMEOUT_MS / 1000.0 - 0.7);
	/* Ended by a reset: the brick dropped what it could not send. */
	{
		struct tc_pdu pdu;
		int err;

		tc_set_timeout(&a[0], 2000);
		while ((err = tc_recv(&a[0], &pdu)) == 0)
			;
		CHECK(err == -ECONNRESET);
	}
	for (int i = 0; i < K; i++)
		tc_close(&a[i]);
	sleep_s(0.2);
	rss2 = tc_target_status_kib("RssAnon");
	printf("no_read: after they left the target holds %ld KiB more than before\n", rss2 - rss0);
	CHECK(rss2 - rss0 < 4 * 1024);
	CHECK(tc_free(&g, 10 * B, K, 0) == 0);
	CHECK(tc_keepalive(&g) == 0);
	tc_close(&q);
	tc_close(&g);
	return 0;
}

/*
 * Target: defaults (5 s shutdown grace). A peer pipelines 64 READs of 256 KiB (16 MiB)
 * and reads 2 MiB/s; SIGTERM comes. Halfway through the grace the brick drops the answers
 * it has not started and sends TERM SHUTDOWN right after the answer in progress, and the
 * kernel holds little unsent output before it (TCP_NOTSENT_LOWAT): the slow reader gets
 * whole answers, then the TERM, before the grace ends (PRB-TERM-7), where it used to get
 * a connection cut in the middle of a PDU. An idle connection beside it gets its TERM
 * at once.
 */
static int test_shutdown_slow_reader(void)
{
	enum { READS = 64, LEN = 256 * 1024, GRACE_S = 5 };
	const double rate = 2.0 * 1024 * 1024;
	static uint8_t reqs[READS * PRB_READ_REQ_SIZE], block[LEN];
	const char *pid = getenv("PRB_TARGET_PID");
	int small = 64 * 1024, answers = 0;
	struct tc s, g;
	struct tc_pdu pdu;
	double t0, t_idle, t_term;
	uint64_t h;

	CHECK(pid != NULL);
	CHECK(tc_open(&g, url, 0, 4) == 0);
	CHECK(tc_open(&s, url, 0, READS) == 0);
	setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	tc_pattern(block, LEN, 9);
	CHECK(tc_alloc(&s, 0, 1) == 0 && tc_map(&s, 0, PRB_MAP_WRITE, &h) == 0);
	CHECK(tc_write(&s, h, 0, block, LEN) == 0);
	for (unsigned r = 0; r < READS; r++) {
		union prb_msg m;

		memset(&m, 0, sizeof(m));
		m.hdr.tag = s.next_tag++;
		m.read_req.handle = h;
		m.read_req.length = LEN;
		CHECK(prb_msg_encode(PRB_MSG_READ_REQ, &m, reqs + r * PRB_READ_REQ_SIZE,
				     PRB_READ_REQ_SIZE) == (int)PRB_READ_REQ_SIZE);
	}
	CHECK(tc_send_raw(&s, reqs, sizeof(reqs)) == 0);
	sleep_s(0.3);
	t0 = now_s();
	CHECK(kill((pid_t)atoi(pid), SIGTERM) == 0);
	CHECK(tc_recv(&g, &pdu) == 0 && pdu.id == PRB_MSG_TERM);
	t_idle = now_s() - t0;
	CHECK(pdu.msg.term.reason == PRB_TERM_SHUTDOWN && t_idle < 1.0);
	tc_close(&g);
	/* Whole answers, each intact, then the TERM; paced at rate from t0. */
	for (;;) {
		int err = tc_recv(&s, &pdu);

		if (err != 0) {
			fprintf(stderr,
				"slow reader: connection ended without TERM after %d "
				"answers, %.2f s after SIGTERM (%d)\n",
				answers, now_s() - t0, err);
			return 1;
		}
		if (pdu.id == PRB_MSG_TERM)
			break;
		CHECK(pdu.id == PRB_MSG_READ_RSP && pdu.msg.hdr.status == 0);
		CHECK(pdu.payload_len == LEN && memcmp(pdu.payload, block, LEN) == 0);
		answers++;
		if (t0 + answers * LEN / rate > now_s())
			sleep_s(t0 + answers * LEN / rate - now_s());
	}
	t_term = now_s() - t0;
	printf("shutdown_slow_reader: %d of %d answers, then TERM %.2f s after SIGTERM (idle "
	       "connection: %.3f s)\n",
	       answers, READS, t_term, t_idle);
	CHECK(pdu.msg.term.reason == PRB_TERM_SHUTDOWN && pdu.msg.hdr.tag == 0 &&
	      pdu.msg.term.error_offset == 0);
	CHECK(answers < READS && t_term < GRACE_S);
	CHECK(tc_closed_by_peer(&s));
	tc_close(&s);
	return 0;
}

/* ------------------------------------------------------------------ runner */

static const struct tc_test tests[] = {
	{"hello_flood", test_hello_flood},
	{"slowloris", test_slowloris},
	{"no_read", test_no_read},
	{"shutdown_slow_reader", test_shutdown_slow_reader},
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return tc_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv, &url);
}
