/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What it costs a brick's CPU to send 4 KiB READ answers over loopback TCP, by
 * each way Linux offers to send them: the question behind goal (b) of
 * bench/net (4 KiB READ at QD32 against redis), where the brick's vCPU is the
 * bound and half of it goes to tcp_sendmsg copying payloads.
 *
 *   prb_bench_sendpath [--bytes SIZE] [--rounds N] [--verify]
 *
 * A 2 MiB memfd stands for the pool. Each batch is 32 answers, as a QD32 READ
 * stream gives the brick, of a 24-byte header and one 4 KiB page of the pool:
 *   writev     one sendmsg of 64 iovecs (header, page, ...): what prb-target does
 *   zerocopy   the same sendmsg with MSG_ZEROCOPY, completions reaped as it goes
 *   splice     per answer: send(header, MSG_MORE), then the page from the memfd
 *              into a pipe and from the pipe into the socket (no copy by the sender)
 *   splice32   a lower bound for any splice: one header, then 32 consecutive pages
 *              in one splice (not a valid answer stream; no brick could send it)
 * A reader thread receives everything into one buffer and checks each header
 * and the first and last word of every page (--verify: every word). Modes
 * alternate round by round; the table gives medians of the sender thread's
 * CPU time per GB, of the reader's, and the sender's cost relative to writev.
 * Exit status 0 when every byte arrived as sent, 1 otherwise, 2 on usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define HEADER 24u
#define BATCH 32u
#define POOL_SIZE (2u << 20)
#define POOL_PAGES (POOL_SIZE / PAGE)
#define MAX_ROUNDS 64
/* Batches of headers in flight at once with MSG_ZEROCOPY (a slot is reused after its completion). */
#define HEADER_SLOTS 16

enum send_mode { MODE_WRITEV, MODE_ZEROCOPY, MODE_SPLICE, MODE_SPLICE32, MODE_COUNT };

static const char *const mode_names[MODE_COUNT] = { "writev", "zerocopy", "splice", "splice32" };

struct run {
	enum send_mode mode;
	uint64_t batches;
	bool verify;
	int pool_fd;
	const uint8_t *pool;
	int send_fd, recv_fd;
	int pipe_fd[2];
	uint8_t headers[HEADER_SLOTS][BATCH][HEADER];
	/* MSG_ZEROCOPY: sendmsg calls made, calls completed, last call of each header slot */
	uint32_t zc_calls, zc_done, zc_copied, zc_slot_last[HEADER_SLOTS];
	bool zc_slot_used[HEADER_SLOTS];
	/* results */
	double seconds, sender_cpu, reader_cpu;
	bool reader_ok;
	char reader_error[128];
};

static double clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The word a page holds at index w: unique across the pool, so a wrong page shows. */
static uint64_t pool_word(uint64_t page, uint64_t w)
{
	return page * (PAGE / 8) + w + 0x5052420000000000ull;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Page of answer n (answers walk the pool page by page, as a READ stream over a block). */
static uint64_t answer_page(uint64_t n)
{
	return n % POOL_PAGES;
}

static bool answers_have_headers(enum send_mode mode)
{
	return mode != MODE_SPLICE32;
}

static int reader_fail(struct run *r, const char *what, uint64_t n)
{
	snprintf(r->reader_error, sizeof(r->reader_error), "%s at answer %" PRIu64, what, n);
	return -1;
}

static int check_page(struct run *r, const uint8_t *page, uint64_t n)
{
	uint64_t p = answer_page(n);

	if (r->verify) {
		for (uint64_t w = 0; w < PAGE / 8; w++)
			if (get_le64(page + 8 * w) != pool_word(p, w))
				return reader_fail(r, "wrong payload word", n);
		return 0;
	}
	if (get_le64(page) != pool_word(p, 0) ||
	    get_le64(page + PAGE - 8) != pool_word(p, PAGE / 8 - 1))
		return reader_fail(r, "wrong payload", n);
	return 0;
}

/* Receive exactly len bytes into buf; -1 on error or early end. */
static int recv_exact(int fd, uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t got = recv(fd, buf, len, MSG_WAITALL);

		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			return -1;
		}
		buf += got;
		len -= (size_t)got;
	}
	return 0;
}

/* Receive one batch (BATCH * (HEADER + PAGE) bytes, or HEADER + BATCH * PAGE) and check it. */
static int read_batch(struct run *r, uint8_t *buf, uint64_t first)
{
	bool headers = answers_have_headers(r->mode);
	size_t len = headers ? BATCH * (HEADER + PAGE) : HEADER + BATCH * PAGE;
	const uint8_t *at = buf;

	if (recv_exact(r->recv_fd, buf, len))
		return reader_fail(r, "connection ended", first);
	for (uint64_t n = first; n < first + BATCH; n++) {
		if (headers || n == first) {
			if (get_le64(at) != n)
				return reader_fail(r, "wrong header", n);
			at += HEADER;
		}
		if (check_page(r, at, n))
			return -1;
		at += PAGE;
	}
	return 0;
}

static void *reader_main(void *arg)
{
	struct run *r = arg;
	uint8_t *buf = malloc(BATCH * (HEADER + PAGE));
	double cpu0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);

	r->reader_ok = buf != NULL;
	if (!buf)
		snprintf(r->reader_error, sizeof(r->reader_error), "out of memory");
	for (uint64_t b = 0; r->reader_ok && b < r->batches; b++)
		r->reader_ok = read_batch(r, buf, b * BATCH) == 0;
	if (!r->reader_ok)
		shutdown(r->recv_fd, SHUT_RDWR); /* the sender fails instead of blocking */
	free(buf);
	r->reader_cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	return NULL;
}

static int reap_zerocopy(struct run *r, bool wait);

/* Send all of msg, advancing its iovecs over partial sends; *calls counts the sendmsg calls. */
static int sendmsg_all(struct run *r, struct msghdr *msg, size_t len, int flags)
{
	while (len > 0) {
		ssize_t sent = sendmsg(r->send_fd, msg, flags | MSG_NOSIGNAL);
		size_t left;

		if (sent < 0) {
			if (errno == EINTR)
				continue;
			/* Out of option memory for pending notifications: reap, then retry. */
			if (errno == ENOBUFS && (flags & MSG_ZEROCOPY) && reap_zerocopy(r, true) == 0)
				continue;
			return -1;
		}
		if (flags & MSG_ZEROCOPY)
			r->zc_calls++;
		len -= (size_t)sent;
		left = (size_t)sent;
		while (left > 0 && msg->msg_iovlen > 0) {
			size_t step = left < msg->msg_iov->iov_len ? left : msg->msg_iov->iov_len;

			msg->msg_iov->iov_base = (uint8_t *)msg->msg_iov->iov_base + step;
			msg->msg_iov->iov_len -= step;
			left -= step;
			if (msg->msg_iov->iov_len == 0) {
				msg->msg_iov++;
				msg->msg_iovlen--;
			}
		}
	}
	return 0;
}

/* Take one completion notification off the error queue into r; -1 when there is none. */
static int zerocopy_notification(struct run *r)
{
	uint8_t control[CMSG_SPACE(sizeof(struct sock_extended_err)) + 64];
	struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof(control) };
	struct cmsghdr *cm;

	if (recvmsg(r->send_fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		struct sock_extended_err err;

		if (cm->cmsg_len < CMSG_LEN(sizeof(err)))
			continue;
		memcpy(&err, CMSG_DATA(cm), sizeof(err));
		if (err.ee_errno != 0 || err.ee_origin != SO_EE_ORIGIN_ZEROCOPY)
			continue;
		/* [ee_info, ee_data] is a range of calls; TCP completes them in order. */
		if (err.ee_data + 1 > r->zc_done)
			r->zc_done = err.ee_data + 1;
		if (err.ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
			r->zc_copied += err.ee_data - err.ee_info + 1;
	}
	return 0;
}

/*
 * Reap MSG_ZEROCOPY completions; with wait, block until at least one arrives.
 * Until a call completes the kernel may still read the memory it was given:
 * that is why headers rotate through HEADER_SLOTS, and why a brick sending
 * this way would have to hold every WRITE to a page still being sent.
 */
static int reap_zerocopy(struct run *r, bool wait)
{
	struct pollfd pfd = { .fd = r->send_fd, .events = 0 };
	int reaped = 0;

	for (;;) {
		while (zerocopy_notification(r) == 0)
			reaped++;
		if (reaped || !wait)
			return 0;
		if (poll(&pfd, 1, 10000) <= 0 || !(pfd.revents & POLLERR))
			return -1;
	}
}

/* Headers for a batch: a slot whose earlier zero-copy sends have all completed. */
static uint8_t (*batch_headers(struct run *r, uint64_t batch))[HEADER]
{
	unsigned slot = r->mode == MODE_ZEROCOPY ? (unsigned)(batch % HEADER_SLOTS) : 0;

	while (r->zc_slot_used[slot] && r->zc_done <= r->zc_slot_last[slot]) {
		if (reap_zerocopy(r, true))
			return NULL;
	}
	return r->headers[slot];
}

static int send_iovecs(struct run *r, uint8_t headers[BATCH][HEADER], uint64_t batch)
{
	struct iovec iov[2 * BATCH];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 * BATCH };
	int flags = r->mode == MODE_ZEROCOPY ? MSG_ZEROCOPY : 0;
	uint64_t first = batch * BATCH;

	for (uint64_t i = 0; i < BATCH; i++) {
		iov[2 * i] = (struct iovec){ headers[i], HEADER };
		iov[2 * i + 1] = (struct iovec){ (void *)(r->pool + answer_page(first + i) * PAGE),
						 PAGE };
	}
	if (sendmsg_all(r, &msg, BATCH * (HEADER + PAGE), flags))
		return -1;
	if (r->mode == MODE_ZEROCOPY) {
		unsigned slot = (unsigned)(batch % HEADER_SLOTS);

		r->zc_slot_used[slot] = true;
		r->zc_slot_last[slot] = r->zc_calls - 1;
		return reap_zerocopy(r, false);
	}
	return 0;
}

/* Move len bytes of the pool at offset off into the socket through the pipe. */
static int splice_pool(struct run *r, loff_t off, size_t len, bool more)
{
	while (len > 0) {
		ssize_t in = splice(r->pool_fd, &off, r->pipe_fd[1], NULL, len, SPLICE_F_MORE);

		if (in <= 0)
			return -1;
		len -= (size_t)in;
		while (in > 0) {
			ssize_t out = splice(r->pipe_fd[0], NULL, r->send_fd, NULL, (size_t)in,
					     more || len > 0 ? SPLICE_F_MORE : 0);

			if (out <= 0)
				return -1;
			in -= out;
		}
	}
	return 0;
}

static int send_header(struct run *r, const uint8_t *header)
{
	return send(r->send_fd, header, HEADER, MSG_MORE | MSG_NOSIGNAL) == HEADER ? 0 : -1;
}

static int send_spliced(struct run *r, uint8_t headers[BATCH][HEADER], uint64_t batch)
{
	uint64_t first = batch * BATCH;

	if (r->mode == MODE_SPLICE32) {
		/* POOL_PAGES is a multiple of BATCH: a batch's pages are consecutive. */
		if (send_header(r, headers[0]))
			return -1;
		return splice_pool(r, (loff_t)(answer_page(first) * PAGE), BATCH * PAGE, false);
	}
	for (uint64_t i = 0; i < BATCH; i++) {
		if (send_header(r, headers[i]) ||
		    splice_pool(r, (loff_t)(answer_page(first + i) * PAGE), PAGE, i + 1 < BATCH))
			return -1;
	}
	return 0;
}

static int sender_run(struct run *r)
{
	for (uint64_t b = 0; b < r->batches; b++) {
		uint8_t(*headers)[HEADER] = batch_headers(r, b);
		int rc = -1;

		if (headers) {
			for (uint64_t i = 0; i < BATCH; i++)
				put_le64(headers[i], b * BATCH + i);
			if (r->mode == MODE_WRITEV || r->mode == MODE_ZEROCOPY)
				rc = send_iovecs(r, headers, b);
			else
				rc = send_spliced(r, headers, b);
		}
		if (rc) {
			perror(mode_names[r->mode]);
			return -1;
		}
	}
	/* All notifications in, so the run's count of kernel copies is whole. */
	while (r->mode == MODE_ZEROCOPY && r->zc_done < r->zc_calls)
		if (reap_zerocopy(r, true))
			return -1;
	return 0;
}

/* A connected loopback pair: *send_fd (TCP_NODELAY, as the brick's) and *recv_fd. */
static int connect_pair(int *send_fd, int *recv_fd, bool zerocopy)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sa_len = sizeof(sa);
	int one = 1, listener, rc = -1;

	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0)
		return -1;
	if (bind(listener, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(listener, (struct sockaddr *)&sa, &sa_len) || listen(listener, 1))
		goto out_close_listener;
	*send_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (*send_fd < 0)
		goto out_close_listener;
	if (connect(*send_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(*send_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    (zerocopy && setsockopt(*send_fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one))))
		goto out_close_send;
	*recv_fd = accept(listener, NULL, NULL);
	if (*recv_fd >= 0) {
		rc = 0;
		goto out_close_listener;
	}
out_close_send:
	close(*send_fd);
out_close_listener:
	close(listener);
	return rc;
}

static int run_once(struct run *r)
{
	pthread_t reader;
	double wall0, cpu0;
	int rc;

	if (connect_pair(&r->send_fd, &r->recv_fd, r->mode == MODE_ZEROCOPY)) {
		perror("loopback connection");
		return -1;
	}
	rc = pthread_create(&reader, NULL, reader_main, r);
	if (rc) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rc));
		close(r->send_fd);
		close(r->recv_fd);
		return -1;
	}
	wall0 = clock_seconds(CLOCK_MONOTONIC);
	cpu0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
	rc = sender_run(r);
	r->sender_cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	if (rc)
		shutdown(r->send_fd, SHUT_RDWR); /* the reader sees the end instead of waiting */
	pthread_join(reader, NULL);
	r->seconds = clock_seconds(CLOCK_MONOTONIC) - wall0;
	close(r->send_fd);
	close(r->recv_fd);
	if (!r->reader_ok) {
		fprintf(stderr, "%s: reader: %s\n", mode_names[r->mode], r->reader_error);
		rc = -1;
	}
	return rc;
}

static int pool_create(int *fd, uint8_t **pool)
{
	*fd = memfd_create("prb-sendpath-pool", 0);
	if (*fd < 0 || ftruncate(*fd, POOL_SIZE))
		return -1;
	*pool = mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (*pool == MAP_FAILED)
		return -1;
	for (uint64_t p = 0; p < POOL_PAGES; p++)
		for (uint64_t w = 0; w < PAGE / 8; w++)
			put_le64(*pool + p * PAGE + 8 * w, pool_word(p, w));
	return 0;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0)
		return -1;
	switch (*end) {
	case 'G': v <<= 30; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'K': v <<= 10; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: prb_bench_sendpath [--bytes SIZE (1G)] [--rounds N (3)] [--verify]\n");
	return 2;
}

int main(int argc, char **argv)
{
	double sender[MODE_COUNT][MAX_ROUNDS], reader[MODE_COUNT][MAX_ROUNDS], rate[MODE_COUNT][MAX_ROUNDS];
	uint64_t bytes = 1ull << 30;
	unsigned rounds = 3;
	bool verify = false;
	uint8_t *pool;
	int pool_fd, pipe_fd[2];
	double gb, writev_sender = 0;
	uint64_t zc_calls = 0, zc_copied = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
			if (parse_size(argv[++i], &bytes))
				return usage();
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = (unsigned)atoi(argv[++i]);
			if (rounds < 1 || rounds > MAX_ROUNDS)
				return usage();
		} else if (!strcmp(argv[i], "--verify")) {
			verify = true;
		} else {
			return usage();
		}
	}
	if (pool_create(&pool_fd, &pool) || pipe(pipe_fd)) {
		perror("pool");
		return 1;
	}
	/* Room for a batch in the pipe, so a splice32 is one splice each way. */
	if (fcntl(pipe_fd[1], F_SETPIPE_SZ, 1 << 20) < 0)
		perror("F_SETPIPE_SZ (smaller pipe, more splices)");

	for (unsigned round = 0; round < rounds; round++) {
		for (int m = 0; m < MODE_COUNT; m++) {
			struct run r = {
				.mode = (enum send_mode)m,
				.batches = bytes / (BATCH * PAGE) ? bytes / (BATCH * PAGE) : 1,
				.verify = verify,
				.pool_fd = pool_fd,
				.pool = pool,
				.pipe_fd = { pipe_fd[0], pipe_fd[1] },
			};

			if (run_once(&r))
				return 1;
			gb = (double)(r.batches * BATCH * PAGE) / 1e9;
			sender[m][round] = r.sender_cpu / gb;
			reader[m][round] = r.reader_cpu / gb;
			rate[m][round] = (double)(r.batches * BATCH) / r.seconds;
			zc_calls += r.zc_calls;
			zc_copied += r.zc_copied;
		}
	}

	printf("| send of 4 KiB answers, loopback | answers/s | sender CPU s/GB | reader CPU s/GB | sender vs writev |\n");
	printf("|---|---|---|---|---|\n");
	for (int m = 0; m < MODE_COUNT; m++) {
		double s = median(sender[m], rounds);

		if (m == MODE_WRITEV)
			writev_sender = s;
		printf("| %s | %.0f | %.3f | %.3f | %.2f |\n", mode_names[m], median(rate[m], rounds), s,
		       median(reader[m], rounds), s / writev_sender);
	}
	printf("\nzerocopy: the kernel reported %" PRIu64 " of %" PRIu64
	       " MSG_ZEROCOPY sends as copied after all (SO_EE_CODE_ZEROCOPY_COPIED)\n",
	       zc_copied, zc_calls);
	printf("medians of %u rounds of %" PRIu64 " MiB each, payload checked%s\n", rounds,
	       bytes >> 20, verify ? " word by word" : " (headers, first and last word of each page)");
	return 0;
}
