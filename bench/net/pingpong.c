/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Raw TCP ping-pong, the baseline of the control round trip: the client sends
 * REQ bytes, the server answers RSP bytes, over and over on one connection
 * with TCP_NODELAY, blocking calls, no framing beyond the fixed sizes.
 *   pingpong server PORT-FILE                       (binds 127.0.0.1:0, writes the port)
 *   pingpong client PORT COUNT REQ RSP [PAIRS]      (prints p50/p99 in us)
 * With PAIRS=2 one sample is two round trips back to back (as ALLOC then FREE).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Read exactly len bytes; 0 at a clean end, -1 on error. */
static int read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n == 0)
			return got == 0 ? 0 : -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Serve one client: REQ in, RSP out, until it closes. REQ and RSP come first as two u32. */
static int server(const char *port_file)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	uint8_t buf[65536];
	uint32_t sizes[2];
	FILE *f;
	int lfd, fd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
		perror("pingpong server");
		return 1;
	}
	f = fopen(port_file, "w");
	if (!f || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0) {
		perror(port_file);
		return 1;
	}
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return 1;
		nodelay(fd);
		if (read_exact(fd, (uint8_t *)sizes, sizeof(sizes)) == 1 &&
		    sizes[0] <= sizeof(buf) && sizes[1] <= sizeof(buf)) {
			memset(buf, 0, sizeof(buf));
			while (read_exact(fd, buf, sizes[0]) == 1)
				if (write_all(fd, buf, sizes[1]) < 0)
					break;
		}
		close(fd);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int client(unsigned port, unsigned count, uint32_t req, uint32_t rsp, unsigned pairs)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint32_t sizes[2] = {req, rsp};
	uint8_t buf[65536] = {0};
	uint64_t *lat = calloc(count, sizeof(*lat));
	unsigned i, p, warm = count / 10;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (!lat || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    req > sizeof(buf) || rsp > sizeof(buf)) {
		perror("pingpong client");
		return 1;
	}
	nodelay(fd);
	if (write_all(fd, (uint8_t *)sizes, sizeof(sizes)) < 0)
		return 1;
	for (i = 0; i < count + warm; i++) {
		uint64_t t0 = now_ns();

		for (p = 0; p < pairs; p++)
			if (write_all(fd, buf, req) < 0 || read_exact(fd, buf, rsp) != 1)
				return 1;
		if (i >= warm)
			lat[i - warm] = now_ns() - t0;
	}
	qsort(lat, count, sizeof(*lat), cmp_u64);
	printf("p50_us %.2f p99_us %.2f samples %u\n", (double)lat[count / 2] / 1000.0,
	       (double)lat[(uint64_t)count * 99 / 100] / 1000.0, count);
	free(lat);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		return server(argv[2]);
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "client") == 0)
		return client((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
			      (uint32_t)atoi(argv[4]), (uint32_t)atoi(argv[5]),
			      argc == 7 ? (unsigned)atoi(argv[6]) : 1);
	fprintf(stderr, "usage: pingpong server PORT-FILE | client PORT COUNT REQ RSP [PAIRS]\n");
	return 2;
}
