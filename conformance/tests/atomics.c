/* SPDX-License-Identifier: Apache-2.0 */
/* CAS and FADD (feature ATOMICS): results, alignment, bounds, RO, contention. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suite.h"

/* Load a little-endian 64-bit value (how CAS and FADD read the word). */
static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A libprb session with block 0 allocated and mapped read-write. */
static struct prb_mapping *session_block(struct prb_session **out)
{
	struct prb_session *s = cf_session();

	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(s, cf_addr(0), 1), 0);
	*out = s;
	return cf_session_map(s, cf_addr(0), PRB_MAPPING_RW);
}

static void cas_basic(void)
{
	struct prb_session *s;
	struct prb_mapping *m = session_block(&s);
	uint64_t orig = 1;
	uint8_t back[8];

	CF_RC(prb_cas(m, 64, 0, 0x1122334455667788ULL, &orig), 0);
	CF_CHECK(orig == 0, "CAS on a zero word returned original 0x%llx",
		 (unsigned long long)orig);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m, 64, back, 8), 0);
	CF_CHECK(get_le64(back) == 0x1122334455667788ULL, "CAS did not store (little-endian)");
	/* Wrong compare: nothing stored, the current value returned. */
	CF_RC(prb_cas(m, 64, 5, 6, &orig), 0);
	CF_CHECK(orig == 0x1122334455667788ULL, "failed CAS returned 0x%llx",
		 (unsigned long long)orig);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m, 64, back, 8), 0);
	CF_CHECK(get_le64(back) == 0x1122334455667788ULL, "failed CAS stored");
	/* The last word of the block. */
	CF_RC(prb_cas(m, PRB_BLOCK_SIZE - 8, 0, 42, &orig), 0);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m, PRB_BLOCK_SIZE - 8, back, 8), 0);
	CF_CHECK(get_le64(back) == 42, "CAS of the last word did not store");
}

static void fadd_basic(void)
{
	struct prb_session *s;
	struct prb_mapping *m = session_block(&s);
	uint64_t orig = 1;
	uint8_t back[8];

	CF_RC(prb_fadd(m, 8, 5, &orig), 0);
	CF_CHECK(orig == 0, "first FADD original 0x%llx", (unsigned long long)orig);
	CF_RC(prb_fadd(m, 8, ~0ULL, &orig), 0); /* -1 */
	CF_CHECK(orig == 5, "FADD original %llu, expected 5", (unsigned long long)orig);
	CF_RC(prb_fadd(m, 8, ~0ULL - 3, &orig), 0); /* 4 + (2^64 - 4): wraps to 0 */
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m, 8, back, 8), 0);
	CF_CHECK(get_le64(back) == 0, "FADD is not modulo 2^64: 0x%llx",
		 (unsigned long long)get_le64(back));
	CF_RC(prb_fadd(m, PRB_BLOCK_SIZE - 8, 1, &orig), 0);
}

static void align_bounds(void)
{
	uint64_t h, orig;
	struct cf_conn *c = cf_connect_mapped(&h);

	CF_ST(c, cf_cas(c, h, 4, 0, 1, &orig), PRB_ST_EINVAL);
	CF_ST(c, cf_fadd(c, h, 1, 1, &orig), PRB_ST_EINVAL);
	CF_ST(c, cf_fadd(c, h, PRB_BLOCK_SIZE - 4, 1, &orig), PRB_ST_EINVAL);
	CF_ST(c, cf_cas(c, h, PRB_BLOCK_SIZE, 0, 1, &orig), PRB_ST_ERANGE);
	CF_ST(c, cf_fadd(c, h, PRB_BLOCK_SIZE, 1, &orig), PRB_ST_ERANGE);
	CF_ST(c, cf_fadd(c, h, 0xFFFFFFF8U, 1, &orig), PRB_ST_ERANGE);
	CF_ST(c, cf_cas(c, 0xABCDEF0123456789ULL, 0, 0, 1, &orig), PRB_ST_ESTALE);
}

static void ro_eperm(void)
{
	uint64_t hw, hr, orig;
	struct cf_conn *c = cf_connect_mapped(&hw);
	uint8_t back[8];

	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), 0, &hr), PRB_ST_OK);
	CF_ST(c, cf_cas(c, hr, 0, 0, 7, &orig), PRB_ST_EPERM);
	CF_ST(c, cf_fadd(c, hr, 0, 7, &orig), PRB_ST_EPERM);
	CF_SETUP(CF_REQ_READ)
		CF_ST(c, cf_read(c, hr, 0, 8, back), PRB_ST_OK);
	CF_CHECK(get_le64(back) == 0, "refused atomics through RO changed the word");
}

/* A connection that did not ask for ATOMICS gets ENOTSUP. */
static void not_negotiated(void)
{
	struct cf_conn *c = cf_connect_features(0);
	uint64_t h, orig;

	CF_SETUP(CF_REQ_ALLOC)
		CF_ST_FATAL(c, cf_alloc(c, cf_addr(0), 1), PRB_ST_OK);
	CF_SETUP(CF_REQ_MAP)
		CF_ST_FATAL(c, cf_map(c, cf_addr(0), PRB_MAP_WRITE, &h), PRB_ST_OK);
	CF_ST(c, cf_cas(c, h, 0, 0, 1, &orig), PRB_ST_ENOTSUP);
	CF_ST(c, cf_fadd(c, h, 0, 1, &orig), PRB_ST_ENOTSUP);
}

#define ROUNDS 1500

struct worker {
	struct prb_mapping *m; /* on the worker's own session */
	bool use_cas;
	atomic_bool done; /* set when the worker has finished */
	atomic_bool *other_done;
	uint64_t seen[ROUNDS]; /* originals returned */
	int errors;
};

/* Seconds on a monotonic clock. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Thread: ROUNDS increments through FADD or a CAS loop, recording what each saw. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	double deadline = now_s() + 60;

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t orig = 0, expect = 0;
		if (w->errors >= 10)
			break;
		if (!w->use_cas) {
			if (prb_fadd(w->m, 0, 1, &orig) != 0)
				w->errors++;
			w->seen[i] = orig;
			continue;
		}
		/*
		 * Increment with a CAS loop. While the FADD worker runs, a starved CAS may
		 * retry for long; once it is done, a correct CAS succeeds at the second try.
		 * A brick whose CAS misbehaves must not hang the suite either way.
		 */
		for (int tries_alone = 0; w->errors < 10;) {
			if (prb_cas(w->m, 0, expect, expect + 1, &orig) != 0) {
				w->errors++;
				break;
			}
			if (orig == expect)
				break;
			expect = orig;
			/* Only retries after the FADD worker is done count: before, losing to it
			 * is starvation, not a fault. */
			if (atomic_load(w->other_done) ? ++tries_alone > 100 : now_s() > deadline) {
				w->errors++;
				break;
			}
		}
		w->seen[i] = orig;
	}
	atomic_store(&w->done, true);
	return NULL;
}

/* Two connections increment one word (FADD and CAS loops): no update is lost. */
static void contention(void)
{
	struct worker *w = cf_mem(2 * sizeof(*w));
	uint64_t *all = cf_mem(2 * ROUNDS * sizeof(*all));
	pthread_t t[2];
	uint8_t back[8];

	struct prb_session *owner = cf_session();
	CF_SETUP(CF_REQ_ALLOC)
		CF_RC_FATAL(prb_alloc(owner, cf_addr(0), 1), 0);
	for (int i = 0; i < 2; i++) {
		w[i].m = cf_session_map(cf_session(), cf_addr(0), PRB_MAPPING_RW);
		w[i].use_cas = i == 1;
		atomic_init(&w[i].done, false);
		w[i].other_done = &w[1 - i].done;
	}
	int started = 0;
	while (started < 2 && pthread_create(&t[started], NULL, worker_main, &w[started]) == 0)
		started++;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	CF_CHECK_FATAL(started == 2, "pthread_create");
	CF_CHECK(w[0].errors == 0 && w[1].errors == 0, "errors: FADD %d, CAS %d", w[0].errors,
		 w[1].errors);
	/* Read through a new connection: the workers' may have idled past the brick's timeout
	 * while the other one finished. */
	struct prb_mapping *reader = cf_session_map(cf_session(), cf_addr(0), PRB_MAPPING_RO);
	CF_SETUP(CF_REQ_READ)
		CF_RC_FATAL(prb_read(reader, 0, back, 8), 0);
	CF_CHECK(get_le64(back) == 2 * ROUNDS, "counter %llu after %d increments (updates lost)",
		 (unsigned long long)get_le64(back), 2 * ROUNDS);
	/* Every increment saw a distinct value 0 .. 2*ROUNDS-1. */
	memcpy(all, w[0].seen, sizeof(w[0].seen));
	memcpy(all + ROUNDS, w[1].seen, sizeof(w[1].seen));
	qsort(all, 2 * ROUNDS, sizeof(*all), cf_cmp_u64);
	for (uint64_t i = 0; i < 2 * ROUNDS; i++) {
		if (all[i] != i) {
			CF_CHECK(false, "increment %llu saw %llu: two updates saw the same value",
				 (unsigned long long)i, (unsigned long long)all[i]);
			break;
		}
	}
}

const struct cf_test cf_tests_atomics[] = {
	{"Atomics.Cas.Basic", cas_basic, "PRB-ATOM-3 PRB-PDU-1", false, 0, PRB_FEAT_ATOMICS,
	 "CAS stores only on a match and returns the original, little-endian"},
	{"Atomics.Fadd.Basic", fadd_basic, "PRB-ATOM-4", false, 0, PRB_FEAT_ATOMICS,
	 "FADD returns the original and adds modulo 2^64"},
	{"Atomics.Args.AlignBounds", align_bounds, "PRB-ATOM-2 PRB-ATOM-6 PRB-DATA-2 PRB-DATA-4",
	 false, 0, PRB_FEAT_ATOMICS,
	 "offset not a multiple of 8: EINVAL; beyond the block: ERANGE; unknown handle ESTALE"},
	{"Atomics.ReadOnly.Eperm", ro_eperm, "PRB-DATA-3 PRB-ATOM-6", false, 0, PRB_FEAT_ATOMICS,
	 "CAS and FADD through a read-only handle: EPERM"},
	{"Atomics.Feature.NotNegotiated", not_negotiated, "PRB-ATOM-1 PRB-HELLO-20", false, 0,
	 PRB_FEAT_ATOMICS, "CAS and FADD without ATOMICS negotiated: ENOTSUP"},
	{"Atomics.Contention.TwoConnections", contention, "PRB-ATOM-5", false, 0, PRB_FEAT_ATOMICS,
	 "FADD and CAS loops from two connections lose no update"},
	{NULL, NULL, NULL, false, 0, 0, NULL},
};
