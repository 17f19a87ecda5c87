/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A minimal blocking "brick" for measuring libprb alone: it answers HELLO, then
 * every KEEPALIVE with its response, one connection, blocking recv and send
 * like the raw ping-pong server. libprb's KEEPALIVE round trip against it,
 * next to the ping-pong's, is libprb's own cost on the wire path.
 *   stub PORT-FILE        (binds 127.0.0.1:0, writes the port, serves one client at a time)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prb/wire.h>

static int read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* HELLO: answer with what the initiator asked for and no feature. */
static int stub_hello(int fd)
{
	uint8_t buf[128];
	struct prb_hello_req req;
	int n;

	if (read_exact(fd, buf, PRB_HELLO_REQ_SIZE) < 0 ||
	    prb_hello_req_decode(buf, PRB_HELLO_REQ_SIZE, &req, NULL) < 0)
		return -1;
	struct prb_hello_rsp rsp = {.hdr = {.tag = req.hdr.tag},
				    .version = 1,
				    .queue_depth = req.queue_depth,
				    .max_pdu = 1u << 16,
				    .max_data = 4096,
				    .boot_epoch = 1,
				    .max_mappings = 1};
	n = prb_hello_rsp_encode(&rsp, buf, sizeof(buf));
	return n < 0 || send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n ? -1 : 0;
}

/* KEEPALIVE after KEEPALIVE: the answer is the request's header with the response bit. */
static void stub_serve(int fd)
{
	uint8_t buf[PRB_HDR_SIZE];
	struct prb_hdr h;

	while (read_exact(fd, buf, sizeof(buf)) == 0) {
		if (prb_hdr_decode(buf, sizeof(buf), &h, NULL) < 0 || h.opcode != PRB_OP_KEEPALIVE)
			return;
		if (prb_error_rsp_encode(PRB_OP_KEEPALIVE, h.tag, 0, 0, buf, sizeof(buf)) < 0 ||
		    send(fd, buf, sizeof(buf), MSG_NOSIGNAL) != (ssize_t)sizeof(buf))
			return;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int lfd, fd, one = 1;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: stub PORT-FILE\n");
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
		perror("stub");
		return 1;
	}
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (stub_hello(fd) == 0)
			stub_serve(fd);
		close(fd);
	}
}
