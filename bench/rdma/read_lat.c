/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prb_rdma_read_lat: latency of small one-sided READs through libprb, reported the way
 * perftest's ib_read_lat does (t_min, t_typical = median, t_avg, microseconds), so the
 * two can be put side by side (bench/rdma/run-bench.sh).
 *   prb_rdma_read_lat URL [SIZE [ITERS]]     SIZE default 8, ITERS default 1000
 * The buffer is registered (prb_register_buffer): the zero-copy path, as perftest uses.
 * Timed as ib_read_lat times itself: one clock reading before each operation, and an
 * operation's latency is the gap to the next reading (the loop's own cost included).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <prb/prb.h>

#define ADDR (0x7e0000000000ull)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	size_t size = argc > 2 ? strtoul(argv[2], NULL, 0) : 8;
	int iters = argc > 3 ? atoi(argv[3]) : 1000;
	struct prb_session *s = NULL;
	struct prb_mapping *m = NULL;
	int64_t *stamp;
	double *lat, sum = 0;
	uint8_t *buf;
	int rc, allocated;

	if (argc < 2 || size == 0 || size > PRB_BLOCK_BYTES || iters < 5) {
		fprintf(stderr, "usage: %s URL [SIZE [ITERS]]\n", argv[0]);
		return 2;
	}
	lat = calloc((size_t)iters, sizeof(*lat));
	stamp = calloc((size_t)iters + 1u, sizeof(*stamp));
	buf = calloc(1, size);
	rc = lat && stamp && buf ? prb_connect(argv[1], NULL, &s) : -ENOMEM;
	if (rc < 0)
		goto out;
	allocated = prb_alloc(s, ADDR, 1) == 0;
	rc = prb_map(s, ADDR, PRB_MAPPING_RO, &m);
	if (rc == 0)
		rc = prb_register_buffer(s, buf, size);
	for (int i = 0; rc == 0 && i < 100; i++) /* warm-up */
		rc = prb_read(m, 0, buf, size);
	for (int i = 0; rc == 0 && i < iters; i++) {
		stamp[i] = now_ns();
		rc = prb_read(m, 0, buf, size);
	}
	stamp[iters] = now_ns();
	for (int i = 0; i < iters; i++) {
		lat[i] = (double)(stamp[i + 1] - stamp[i]) / 1e3;
		sum += lat[i];
	}
	prb_unmap(&m);
	if (allocated)
		prb_free(s, ADDR, 1, 0);
	if (rc == 0) {
		qsort(lat, (size_t)iters, sizeof(*lat), cmp_double);
		printf(" #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    "
		       "t_avg[usec]\n");
		printf(" %-6zu %-11d %-14.2f %-14.2f %-16.2f %-.2f\n", size, iters, lat[0],
		       lat[iters - 1], lat[iters / 2], sum / iters);
	}
out:
	if (rc < 0)
		fprintf(stderr, "prb_rdma_read_lat: %s\n", prb_strerror(rc));
	prb_disconnect(&s);
	free(buf);
	free(stamp);
	free(lat);
	return rc < 0 ? 1 : 0;
}
