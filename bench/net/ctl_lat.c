/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control round trip through libprb: ALLOC then FREE of one block, blocking
 * calls, one connection. One sample is the pair (two round trips), as the
 * ping-pong baseline run with PAIRS=2 measures. Then the same with two KEEPALIVEs,
 * which the brick answers without touching its store: the difference between
 * the two is the brick's durable ALLOC/FREE work, the rest is the wire and libprb.
 *   ctl_lat URL COUNT [ADDR]          (prints p50/p99 in us, one line per kind)
 *   ctl_lat URL COUNT keepalive       (KEEPALIVE pairs only: for bench/net/stub.c)
 * PRB_BENCH_BUSY_POLL=N in the environment: prb_opts_set_busy_poll(N) ("adaptive", the
 * default, or 0..PRB_MAX_BUSY_POLL), for A/B runs of the spin.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <prb/prb.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 of COUNT samples of two round trips: ALLOC+FREE, or two KEEPALIVEs. */
static int measure(struct prb_session *s, uint64_t addr, unsigned count, uint64_t *lat,
		   bool keepalive, const char *name)
{
	unsigned warm = count / 10, i;
	int rc;

	for (i = 0; i < count + warm; i++) {
		uint64_t t0 = now_ns();

		if (keepalive) {
			rc = prb_keepalive(s);
			if (rc == 0)
				rc = prb_keepalive(s);
		} else {
			rc = prb_alloc(s, addr, 1);
			if (rc == 0)
				rc = prb_free(s, addr, 1, 0);
		}
		if (rc < 0) {
			fprintf(stderr, "ctl_lat: %s: %s\n", name, prb_strerror(rc));
			return 1;
		}
		if (i >= warm)
			lat[i - warm] = now_ns() - t0;
	}
	qsort(lat, count, sizeof(*lat), cmp_u64);
	printf("%s p50_us %.2f p99_us %.2f samples %u\n", name, (double)lat[count / 2] / 1000.0,
	       (double)lat[(uint64_t)count * 99 / 100] / 1000.0, count);
	return 0;
}

int main(int argc, char **argv)
{
	bool only_keepalive = argc > 3 && strcmp(argv[3], "keepalive") == 0;
	uint64_t addr =
		argc > 3 && !only_keepalive ? strtoull(argv[3], NULL, 0) : 0x7e0000000000ull;
	unsigned count = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
	struct prb_session *s;
	struct prb_opts *o = NULL;
	const char *busy_poll = getenv("PRB_BENCH_BUSY_POLL");
	uint64_t *lat;
	int rc;

	if (argc < 3 || count == 0) {
		fprintf(stderr, "usage: ctl_lat URL COUNT [ADDR]\n");
		return 2;
	}
	lat = calloc(count, sizeof(*lat));
	rc = lat ? prb_opts_new(&o) : -ENOMEM;
	if (rc == 0 && busy_poll && strcmp(busy_poll, "adaptive") != 0)
		rc = prb_opts_set_busy_poll(o, (unsigned)strtoul(busy_poll, NULL, 10));
	if (rc == 0)
		rc = prb_connect(argv[1], o, &s);
	prb_opts_delete(&o);
	if (rc < 0) {
		fprintf(stderr, "ctl_lat: connect: %s\n", prb_strerror(rc));
		return 1;
	}
	rc = only_keepalive ? 0 : measure(s, addr, count, lat, false, "allocfree");
	if (rc == 0)
		rc = measure(s, addr, count, lat, true, "keepalive");
	prb_disconnect(&s);
	free(lat);
	return rc;
}
