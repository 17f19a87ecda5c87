/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libprb argument checks, without a brick: every call rejects bad arguments
 * locally with the documented errno. Calls that pass their checks on a session
 * with no free queue slot return -EAGAIN instead of reaching a wire, which is
 * how this test tells "accepted" from "rejected".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/internal.h"

static int failures;

#define EXPECT(expr, want)                                                                         \
	do {                                                                                       \
		long got_ = (long)(expr);                                                          \
		if (got_ != (long)(want)) {                                                        \
			fprintf(stderr, "%s:%d: %s = %ld, want %ld (%s)\n", __FILE__, __LINE__,    \
				#expr, got_, (long)(want), #want);                                 \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

#define MIB2 ((uint64_t)PRB_BLOCK_BYTES)

/* A session that looks connected but has no slots: accepted requests get -EAGAIN. */
static void fake_session(struct prb_session *s)
{
	memset(s, 0, sizeof(*s));
	s->connected = true;
	s->connection = 1;
	s->params.max_data = 1u << 20;
	s->params.features = PRB_FEATURE_ATOMICS;
	s->max_write = 1u << 20;
	s->transport = &prb_tcp_transport;
}

static void test_urls(void)
{
	struct prb_session *s = NULL;
	char longurl[400];

	EXPECT(prb_connect(NULL, NULL, &s), -EINVAL);
	EXPECT(prb_connect("tcp://127.0.0.1", NULL, NULL), -EINVAL);
	EXPECT(prb_connect("", NULL, &s), -EINVAL);
	EXPECT(prb_connect("http://127.0.0.1", NULL, &s), -EINVAL);
	EXPECT(prb_connect("tcp://", NULL, &s), -EINVAL);
	EXPECT(prb_connect("tcp://127.0.0.1:70000", NULL, &s), -EINVAL);
	EXPECT(prb_connect("tcp://[::1", NULL, &s), -EINVAL);
	EXPECT(prb_connect("tcp://127.0.0.1/path", NULL, &s), -EINVAL);
	/* PRB-URL-5: an initiator rejects port 0 rather than connect() to it. */
	EXPECT(prb_connect("tcp://127.0.0.1:0", NULL, &s), -EINVAL);
	EXPECT(prb_connect("tcp://[::1]:00", NULL, &s), -EINVAL);
	EXPECT(prb_connect("rdma://127.0.0.1:0", NULL, &s), -EINVAL);
	/* Section 14: no IPv6 zone identifier in this version. */
	EXPECT(prb_connect("tcp://[fe80::1%lo]:7117", NULL, &s), -EINVAL);
	memset(longurl, 'a', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	memcpy(longurl, "tcp://", 6);
	EXPECT(prb_connect(longurl, NULL, &s), -EINVAL);
	EXPECT(s == NULL, 1);
}

#ifdef PRB_HAVE_RDMA
/* Whether the kernel shows an RDMA device (hardware or Soft-RoCE). */
static bool rdma_device_present(void)
{
	DIR *d = opendir("/sys/class/infiniband");
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL)
		found = e->d_name[0] != '.';
	closedir(d);
	return found;
}
#endif

/*
 * rdma:// where it cannot work: a libprb built without RDMA says so
 * (-EPROTONOSUPPORT); one built with it, on a host without an RDMA device, says
 * that instead (-EADDRNOTAVAIL), and the two texts differ.
 */
static void test_rdma_unavailable(void)
{
	struct prb_session *s = NULL;

	EXPECT(strcmp(prb_strerror(-EADDRNOTAVAIL), prb_strerror(-EPROTONOSUPPORT)) != 0, 1);
#ifdef PRB_HAVE_RDMA
	if (rdma_device_present()) {
		printf("test_args: [SKIPPED] rdma:// without a device: this host has one\n");
		return;
	}
	EXPECT(prb_connect("rdma://127.0.0.1", NULL, &s), -EADDRNOTAVAIL);
	EXPECT(prb_connect("rdma://[::1]:7200", NULL, &s), -EADDRNOTAVAIL);
#else
	EXPECT(prb_connect("rdma://127.0.0.1", NULL, &s), -EPROTONOSUPPORT);
#endif
	EXPECT(s == NULL, 1);
}

/* A loopback port nobody listens on: bind, read the port, close. */
static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("free_port");
		exit(1);
	}
	close(fd);
	return ntohs(a.sin_port);
}

static void test_refused(void)
{
	struct prb_session *s = NULL;
	char url[64];

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", free_port());
	EXPECT(prb_connect(url, NULL, &s), -ECONNREFUSED);
	EXPECT(s == NULL, 1);
}

static void test_opts(void)
{
	struct prb_opts *o = NULL;
	uint8_t id[16] = {1};

	EXPECT(prb_opts_new(NULL), -EINVAL);
	EXPECT(prb_opts_new(&o), 0);
	EXPECT(o->busy_poll, PRB_BUSY_POLL_ADAPTIVE); /* the default */
	EXPECT(prb_opts_set_connect_timeout(o, 0), -EINVAL);
	EXPECT(prb_opts_set_connect_timeout(o, 3600001), -EINVAL);
	EXPECT(prb_opts_set_connect_timeout(o, 100), 0);
	EXPECT(prb_opts_set_io_timeout(o, 0), 0);
	EXPECT(prb_opts_set_io_timeout(o, 3600001), -EINVAL);
	EXPECT(prb_opts_set_queue_depth(o, 0), -EINVAL);
	EXPECT(prb_opts_set_queue_depth(o, 1025), -EINVAL);
	EXPECT(prb_opts_set_queue_depth(o, 1024), 0);
	EXPECT(prb_opts_set_features(o, PRB_FEATURE_TIERING), -EINVAL);
	EXPECT(prb_opts_set_features(o, 0x40), -EINVAL);
	EXPECT(prb_opts_set_features(o, PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST), 0);
	EXPECT(prb_opts_set_busy_poll(NULL, 0), -EINVAL);
	EXPECT(prb_opts_set_busy_poll(o, PRB_MAX_BUSY_POLL + 1), -EINVAL);
	EXPECT(prb_opts_set_busy_poll(o, PRB_MAX_BUSY_POLL), 0);
	EXPECT(prb_opts_set_busy_poll(o, 0), 0);
	EXPECT(prb_opts_set_busy_poll(o, PRB_BUSY_POLL_ADAPTIVE - 1), -EINVAL);
	EXPECT(prb_opts_set_busy_poll(o, PRB_BUSY_POLL_ADAPTIVE), 0);
	EXPECT(prb_opts_set_rdma_spin(NULL, 0), -EINVAL);
	EXPECT(prb_opts_set_rdma_spin(o, PRB_MAX_RDMA_SPIN_US + 1), -EINVAL);
	EXPECT(prb_opts_set_rdma_spin(o, PRB_RDMA_SPIN_FOREVER - 1), -EINVAL);
	EXPECT(prb_opts_set_rdma_spin(o, PRB_MAX_RDMA_SPIN_US), 0);
	EXPECT(prb_opts_set_rdma_spin(o, 0), 0);
	EXPECT(prb_opts_set_rdma_spin(o, PRB_RDMA_SPIN_FOREVER), 0);
	EXPECT(o->busy_poll, PRB_BUSY_POLL_ADAPTIVE);
	EXPECT(prb_opts_set_host_id(o, NULL), -EINVAL);
	EXPECT(prb_opts_set_host_id(o, id), 0);
	EXPECT(prb_opts_set_queue_depth(NULL, 1), -EINVAL);
	prb_opts_delete(&o);
	EXPECT(o == NULL, 1);
	prb_opts_delete(&o);
	prb_opts_delete(NULL);
}

static void test_null_session(void)
{
	struct prb_brick_info info;
	struct prb_session_info sinfo;
	struct prb_mapping *m = NULL;
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	struct prb_list_page page;
	struct prb_completion c;

	EXPECT(prb_info(NULL, &info), -EINVAL);
	EXPECT(prb_keepalive(NULL), -EINVAL);
	EXPECT(prb_alloc(NULL, 0, 1), -EINVAL);
	EXPECT(prb_free(NULL, 0, 1, 0), -EINVAL);
	EXPECT(prb_map(NULL, 0, 0, &m), -EINVAL);
	EXPECT(prb_unmap(NULL), 0);
	EXPECT(prb_unmap(&m), 0);
	EXPECT(prb_read(NULL, 0, &e, 1), -EINVAL);
	EXPECT(prb_write(NULL, 0, &e, 1), -EINVAL);
	EXPECT(prb_flush(NULL, 0, 1), -EINVAL);
	EXPECT(prb_cas(NULL, 0, 0, 0, NULL), -EINVAL);
	EXPECT(prb_fadd(NULL, 0, 0, NULL), -EINVAL);
	EXPECT(prb_list_new(NULL, 0, &it), -EINVAL);
	EXPECT(prb_list_next(NULL, &e), -EINVAL);
	prb_list_delete(NULL);
	prb_list_delete(&it);
	EXPECT(prb_async_info(NULL, &info, 0), -EINVAL);
	EXPECT(prb_async_keepalive(NULL, 0), -EINVAL);
	EXPECT(prb_async_alloc(NULL, 0, 1, 0), -EINVAL);
	EXPECT(prb_async_free(NULL, 0, 1, 0, 0), -EINVAL);
	EXPECT(prb_async_map(NULL, 0, 0, &m, 0), -EINVAL);
	EXPECT(prb_async_unmap(NULL, 0), -EINVAL);
	EXPECT(prb_async_list(NULL, 0, &e, 1, &page, 0), -EINVAL);
	EXPECT(prb_async_read(NULL, 0, &e, 1, 0), -EINVAL);
	EXPECT(prb_async_write(NULL, 0, &e, 1, 0), -EINVAL);
	EXPECT(prb_async_flush(NULL, 0, 1, 0), -EINVAL);
	EXPECT(prb_async_cas(NULL, 0, 0, 0, NULL, 0), -EINVAL);
	EXPECT(prb_async_fadd(NULL, 0, 0, NULL, 0), -EINVAL);
	EXPECT(prb_submit(NULL), -EINVAL);
	EXPECT(prb_reap(NULL, &c, 0, 1, 0), -EINVAL);
	EXPECT(prb_session_status(NULL), -EINVAL);
	EXPECT(prb_session_get_info(NULL, &sinfo), -EINVAL);
	EXPECT(prb_session_fd(NULL), -EINVAL);
	EXPECT(prb_reconnect(NULL), -EINVAL);
	EXPECT(prb_mapping_status(NULL), -EINVAL);
	EXPECT(prb_mapping_addr(NULL), 0);
	prb_disconnect(NULL);
}

static void test_ranges(struct prb_session *s)
{
	const uint64_t last = UINT64_MAX - MIB2 + 1; /* the highest block */
	struct prb_brick_info info;
	struct prb_mapping *m = NULL;
	struct prb_list_extent e[2];
	struct prb_list_page page;
	struct prb_completion c[2];

	EXPECT(prb_async_alloc(s, 0, 1, 0), -EAGAIN);
	EXPECT(prb_async_alloc(s, 4096, 1, 0), -EINVAL);
	EXPECT(prb_async_alloc(s, MIB2 + 1, 1, 0), -EINVAL);
	EXPECT(prb_async_alloc(s, 0, 0, 0), -EINVAL);
	EXPECT(prb_async_alloc(s, 0, PRB_RANGE_MAX_BLOCKS, 0), -EAGAIN);
	EXPECT(prb_async_alloc(s, 0, PRB_RANGE_MAX_BLOCKS + 1, 0), -EINVAL);
	EXPECT(prb_async_alloc(s, last, 1, 0), -EAGAIN);
	EXPECT(prb_async_alloc(s, last, 2, 0), -EINVAL);
	EXPECT(prb_async_alloc(s, last - MIB2, 2, 0), -EAGAIN);
	EXPECT(prb_alloc(s, 4096, 1), -EINVAL);
	EXPECT(prb_alloc(s, last, 2), -EINVAL);
	EXPECT(prb_async_free(s, 0, 1, PRB_FREE_FLAG_FORCE, 0), -EAGAIN);
	EXPECT(prb_async_free(s, 0, 1, 0x2, 0), -EINVAL);
	EXPECT(prb_async_free(s, 1, 1, 0, 0), -EINVAL);
	EXPECT(prb_free(s, 0, 0, 0), -EINVAL);
	EXPECT(prb_free(s, 0, 1, 0x80000000u), -EINVAL);
	EXPECT(prb_async_map(s, 0, PRB_MAPPING_RW | PRB_MAPPING_EXCL, &m, 0), -EAGAIN);
	EXPECT(prb_async_map(s, 0, 0x4, &m, 0), -EINVAL);
	EXPECT(prb_async_map(s, 512, PRB_MAPPING_RO, &m, 0), -EINVAL);
	EXPECT(prb_async_map(s, 0, PRB_MAPPING_RO, NULL, 0), -EINVAL);
	EXPECT(prb_map(s, 512, PRB_MAPPING_RO, &m), -EINVAL);
	EXPECT(m == NULL, 1);
	EXPECT(prb_async_info(s, NULL, 0), -EINVAL);
	EXPECT(prb_async_info(s, &info, 0), -EAGAIN);
	EXPECT(prb_async_keepalive(s, 0), -EAGAIN);
	EXPECT(prb_async_list(s, 0, e, 2, &page, 0), -EAGAIN);
	EXPECT(prb_async_list(s, 4096, e, 2, &page, 0), -EINVAL);
	EXPECT(prb_async_list(s, 0, e, 0, &page, 0), -EINVAL);
	EXPECT(prb_async_list(s, 0, e, PRB_MAX_LIST_PAGE + 1, &page, 0), -EINVAL);
	EXPECT(prb_async_list(s, 0, NULL, 2, &page, 0), -EINVAL);
	EXPECT(prb_async_list(s, 0, e, 2, NULL, 0), -EINVAL);
	EXPECT(prb_reap(s, c, 0, 0, 0), -EINVAL);
	EXPECT(prb_reap(s, c, 3, 2, 0), -EINVAL);
	EXPECT(prb_reap(s, NULL, 0, 2, 0), -EINVAL);
	EXPECT(prb_reap(s, c, 0, 2, -2), -EINVAL);
	EXPECT(prb_reap(s, c, 1, 2, 0), 0);
}

static void test_data(struct prb_session *s)
{
	static uint8_t buf[2 * PRB_BLOCK_BYTES];
	struct prb_mapping *rw, *ro;
	uint64_t orig;

	EXPECT(prb_mapping_create(s, 0, PRB_MAPPING_RW, 7, 0, 0, &rw), 0);
	EXPECT(prb_mapping_create(s, MIB2, PRB_MAPPING_RO, 8, 0, 0, &ro), 0);
	prb_mapping_link(rw);
	prb_mapping_link(ro);
	EXPECT(prb_mapping_status(rw), 0);
	EXPECT(prb_mapping_length(rw), MIB2);
	EXPECT(prb_mapping_addr(ro), MIB2);
	EXPECT(prb_mapping_handle(ro), 8);
	EXPECT(prb_mapping_flags(rw), PRB_MAPPING_RW);

	EXPECT(prb_async_read(rw, 0, buf, 4096, 0), -EAGAIN);
	EXPECT(prb_async_read(rw, 0, buf, 0, 0), -EINVAL);
	EXPECT(prb_async_read(rw, 0, NULL, 1, 0), -EINVAL);
	EXPECT(prb_async_read(rw, MIB2, buf, 1, 0), -ERANGE);
	EXPECT(prb_async_read(rw, MIB2 - 1, buf, 1, 0), -EAGAIN);
	EXPECT(prb_async_read(rw, 1, buf, MIB2, 0), -ERANGE);
	EXPECT(prb_async_read(rw, UINT64_MAX, buf, 2, 0), -ERANGE);
	EXPECT(prb_async_read(rw, 0, buf, (1u << 20) + 1, 0), -EINVAL); /* > max_data */
	EXPECT(prb_read(rw, 0, buf, 0), -EINVAL);
	EXPECT(prb_read(rw, 0, NULL, 8), -EINVAL);
	EXPECT(prb_read(rw, 0, buf, MIB2 + 1), -ERANGE);
	EXPECT(prb_write(rw, 4096, buf, MIB2), -ERANGE);
	EXPECT(prb_async_write(ro, 0, buf, 8, 0), -EPERM);
	EXPECT(prb_write(ro, 0, buf, 8), -EPERM);
	EXPECT(prb_async_write(rw, 0, buf, 8, 0), -EAGAIN);
	EXPECT(prb_async_flush(ro, 0, 8, 0), -EAGAIN);
	EXPECT(prb_async_flush(ro, 0, 0, 0), -EINVAL);
	EXPECT(prb_flush(ro, MIB2 - 8, 9), -ERANGE);

	EXPECT(prb_async_cas(rw, 8, 0, 1, &orig, 0), -EAGAIN);
	EXPECT(prb_async_cas(rw, 4, 0, 1, &orig, 0), -EINVAL);
	EXPECT(prb_async_cas(rw, MIB2, 0, 1, &orig, 0), -ERANGE);
	EXPECT(prb_async_cas(rw, MIB2 - 8, 0, 1, NULL, 0), -EAGAIN);
	EXPECT(prb_async_cas(ro, 0, 0, 1, &orig, 0), -EPERM);
	EXPECT(prb_cas(ro, 0, 0, 1, &orig), -EPERM);
	EXPECT(prb_fadd(rw, 12, 1, &orig), -EINVAL);
	EXPECT(prb_async_fadd(rw, 16, 1, &orig, 0), -EAGAIN);
	s->params.features = 0;
	EXPECT(prb_async_fadd(rw, 16, 1, &orig, 0), -ENOTSUP);
	EXPECT(prb_cas(rw, 16, 1, 2, &orig), -ENOTSUP);
	s->params.features = PRB_FEATURE_ATOMICS;

	/* A mapping of an earlier connection is dead, and so is every mapping of a lost one. */
	s->connection = 2;
	EXPECT(prb_mapping_status(rw), -ESTALE);
	EXPECT(prb_async_read(rw, 0, buf, 8, 0), -ESTALE);
	EXPECT(prb_read(rw, 0, buf, 8), -ESTALE);
	EXPECT(prb_cas(rw, 0, 0, 1, &orig), -ESTALE);
	s->connection = 1;
	s->connected = false;
	EXPECT(prb_async_flush(ro, 0, 8, 0), -ESTALE);
	EXPECT(prb_async_alloc(s, 0, 1, 0), -ENOTCONN);
	EXPECT(prb_alloc(s, 0, 1), -ENOTCONN);
	EXPECT(prb_keepalive(s), -ENOTCONN);
	EXPECT(prb_session_fd(s), -ENOTCONN);
	EXPECT(prb_submit(s), -ENOTCONN);
	EXPECT(prb_unmap(&ro), -ESTALE); /* freed all the same */
	EXPECT(ro == NULL, 1);
	s->connected = true;
	prb_mapping_destroy(rw);
	EXPECT(s->mappings == NULL, 1);
}

/*
 * prb_strerror: libprb's own text where it has one, else the C library's
 * description, for every errno the kernel can return (1 .. 4095, either sign);
 * "Unknown error" only for what the C library does not know either.
 */
static void test_strerror(void)
{
	/* Codes libprb passes through from the socket, resolver and rdma_cm calls. */
	const int passed_through[] = {EFBIG,	     EAFNOSUPPORT, ENETUNREACH,	 EHOSTUNREACH,
				      EADDRNOTAVAIL, ENXIO,	   ECONNREFUSED, ETIMEDOUT,
				      ENODEV,	     EADDRINUSE,   ENETDOWN,	 EACCES,
				      EMFILE,	     ENFILE,	   ENOBUFS,	 EINTR};
	const int odd[] = {0, 12345, -12345, 4096, -4096, INT_MAX, INT_MIN, -INT_MAX};
	size_t i;

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		EXPECT(prb_strerror(odd[i]) != NULL && prb_strerror(odd[i])[0] != '\0', 1);
	EXPECT(strcmp(prb_strerror(-12345), "Unknown error"), 0);
	EXPECT(strcmp(prb_strerror(INT_MIN), "Unknown error"), 0);
	for (i = 0; i < sizeof(passed_through) / sizeof(passed_through[0]); i++)
		EXPECT(strcmp(prb_strerror(-passed_through[i]), "Unknown error") != 0, 1);
	EXPECT(strcmp(prb_strerror(-EFBIG), strerrordesc_np(EFBIG)), 0);
	EXPECT(strcmp(prb_strerror(-EAFNOSUPPORT), strerrordesc_np(EAFNOSUPPORT)), 0);
	for (int e = 1; e <= 4095; e++) {
		const char *text = prb_strerror(-e);
		const char *libc = strerrordesc_np(e);

		EXPECT(text != NULL && text[0] != '\0', 1);
		EXPECT(strcmp(text, prb_strerror(e)), 0);
		/* Known to the C library: described, by libprb or by the C library. */
		if (libc)
			EXPECT(strcmp(text, "Unknown error") != 0, 1);
		else
			EXPECT(strcmp(text, "Unknown error"), 0);
	}
}

int main(void)
{
	struct prb_session s;

	test_urls();
	test_rdma_unavailable();
	test_refused();
	test_opts();
	test_null_session();
	fake_session(&s);
	test_ranges(&s);
	test_data(&s);
	test_strerror();
	if (failures) {
		fprintf(stderr, "test_args: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_args: all checks passed\n");
	return 0;
}
