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

/* Over tcp:// the word's bytes are little-endian (PRB-ATOM); over rdma:// one-sided atomics use
 * the device's byte order, so there the word is only looked at through atomics. */
static bool bytes_visible(struct prb_session *s)
{
	struct prb_session_info info;

	return prb_session_get_info(s, &info) == 0 && strcmp(info.transport, "tcp") == 0;
}

/* The 24 bytes around the word at \p at (one word either side) are \p want; over rdma:// the
 * word itself is checked by a FADD of 0 instead of its bytes. */
static void check_word(struct prb_mapping *m, uint32_t at, const uint8_t want[24], bool bytes,
		       const char *after)
{
	uint8_t back[24];
	uint64_t orig = 0;

	CF_SETUP(CF_REQ_READ)
		CF_RC_FATAL(prb_read(m, at - 8, back, sizeof(back)), 0);
	CF_CHECK(memcmp(back, want, 8) == 0 && memcmp(back + 16, want + 16, 8) == 0,
		 "after %s: a neighbouring word changed", after);
	if (bytes) {
		CF_CHECK(memcmp(back + 8, want + 8, 8) == 0,
			 "after %s: the word holds 0x%016llx (little-endian bytes), expected "
			 "0x%016llx",
			 after, (unsigned long long)get_le64(back + 8),
			 (unsigned long long)get_le64(want + 8));
		return;
	}
	CF_RC(prb_fadd(m, at, 0, &orig), 0);
	CF_CHECK(orig == get_le64(want + 8),
		 "after %s: the word holds 0x%016llx, expected 0x%016llx", after,
		 (unsigned long long)orig, (unsigned long long)get_le64(want + 8));
}

/* Set the word at \p at to \p v (and a pattern around it): WRITE of its little-endian bytes
 * over tcp://, a CAS from the value it holds over rdma://. */
static void set_word(struct prb_mapping *m, uint32_t at, uint64_t v, uint8_t want[24], bool bytes)
{
	uint64_t orig = 0;

	cf_pattern(want, 24, at);
	if (!bytes)
		CF_RC_FATAL(prb_fadd(m, at, 0, &orig), 0);
	cf_put_le(want, 8, 8, bytes ? v : orig);
	CF_SETUP(CF_REQ_WRITE)
		CF_RC_FATAL(prb_write(m, at - 8, want, 24), 0);
	if (bytes)
		return;
	CF_RC_FATAL(prb_cas(m, at, orig, v, &orig), 0);
	cf_put_le(want, 8, 8, v);
}

/*
 * CAS compares and stores all 64 bits: compares that differ from the stored value in one half
 * only, in one bit, or in byte order must not store; a match stores every byte of swap.
 */
static void values_cas_width(void)
{
	struct prb_session *s;
	struct prb_mapping *m = session_block(&s);
	const uint64_t v = 0x0123456789ABCDEFULL, swap = 0xFEDCBA9876543210ULL;
	const uint64_t misses[] = {
		v ^ 0xFFFFFFFF00000000ULL, /* low half equal */
		v ^ 0x00000000FFFFFFFFULL, /* high half equal */
		v ^ (1ULL << 63),	   /* top bit */
		v ^ (1ULL << 32),	   /* lowest bit of the high half */
		__builtin_bswap64(v),	   /* the other byte order */
	};
	const uint32_t at = 4096 + 8;
	bool bytes = bytes_visible(s);
	uint8_t want[24];
	uint64_t orig;
	char what[64];

	set_word(m, at, v, want, bytes);
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		orig = 0;
		CF_RC(prb_cas(m, at, misses[i], swap, &orig), 0);
		CF_CHECK(orig == v, "CAS compare 0x%016llx: original 0x%016llx, expected 0x%016llx",
			 (unsigned long long)misses[i], (unsigned long long)orig,
			 (unsigned long long)v);
		snprintf(what, sizeof(what), "CAS with compare 0x%016llx (no match)",
			 (unsigned long long)misses[i]);
		check_word(m, at, want, bytes, what);
	}
	CF_RC(prb_cas(m, at, v, swap, &orig), 0);
	CF_CHECK(orig == v, "matching CAS: original 0x%016llx", (unsigned long long)orig);
	cf_put_le(want, 8, 8, swap);
	check_word(m, at, want, bytes, "a matching CAS");
	/* A compare equal to the swap's low half only does not match either. */
	CF_RC(prb_cas(m, at, swap & 0xFFFFFFFFULL, v, &orig), 0);
	check_word(m, at, want, bytes, "CAS with the low half of the value only");
}

/*
 * FADD works on 64 bits: a carry out of the low half reaches the high half, an addend with
 * both halves set adds both, and the sum wraps at 2^64 (the last word of the block).
 */
static void values_fadd_carry(void)
{
	struct prb_session *s;
	struct prb_mapping *m = session_block(&s);
	const struct {
		uint64_t add, result;
	} steps[] = {
		{1, 0x0000000100000000ULL},			/* carry into the high half */
		{0x0000000100000001ULL, 0x0000000200000001ULL}, /* both halves */
		{~0ULL, 0x0000000200000000ULL}, /* minus one: borrow from the high half */
		{0xFFFFFFFF00000000ULL, 0x0000000100000000ULL}, /* wraps at 2^64 */
		{0xFFFFFFFEFFFFFFFFULL, 0xFFFFFFFFFFFFFFFFULL},
		{3, 2}, /* wraps at 2^64, low half too */
	};
	const uint32_t at = PRB_BLOCK_SIZE - 16;
	bool bytes = bytes_visible(s);
	uint64_t value = 0x00000000FFFFFFFFULL, orig;
	uint8_t want[24];
	char what[64];

	set_word(m, at, value, want, bytes);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		orig = 0;
		CF_RC(prb_fadd(m, at, steps[i].add, &orig), 0);
		CF_CHECK(orig == value, "FADD 0x%016llx: original 0x%016llx, expected 0x%016llx",
			 (unsigned long long)steps[i].add, (unsigned long long)orig,
			 (unsigned long long)value);
		value = steps[i].result;
		cf_put_le(want, 8, 8, value);
		snprintf(what, sizeof(what), "FADD 0x%016llx", (unsigned long long)steps[i].add);
		check_word(m, at, want, bytes, what);
	}
	/* The last word of the block: its high half is the block's last 4 bytes. */
	const uint32_t last = PRB_BLOCK_SIZE - 8;
	uint8_t tail[8];
	CF_RC(prb_fadd(m, last, 0, &orig), 0);
	CF_RC(prb_cas(m, last, orig, 0xFFFFFFFFULL, NULL), 0);
	CF_RC(prb_fadd(m, last, 1, &orig), 0);
	CF_CHECK(orig == 0xFFFFFFFFULL, "last word: FADD original 0x%016llx, expected 0xffffffff",
		 (unsigned long long)orig);
	CF_RC(prb_fadd(m, last, 0, &orig), 0);
	CF_CHECK(orig == 0x100000000ULL, "last word 0xffffffff + 1 is 0x%016llx",
		 (unsigned long long)orig);
	if (bytes) {
		CF_SETUP(CF_REQ_READ)
			CF_RC(prb_read(m, last, tail, sizeof(tail)), 0);
		CF_CHECK(get_le64(tail) == 0x100000000ULL,
			 "the block's last 8 bytes hold 0x%016llx, expected 0x100000000",
			 (unsigned long long)get_le64(tail));
	}
}

/* Over tcp://, the word is read and written little-endian: bytes 01..08 are 0x0807060504030201. */
static void values_byte_order(void)
{
	struct prb_session *s;
	struct prb_mapping *m = session_block(&s);
	const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	const uint8_t after[8] = {1, 3, 3, 4, 5, 6, 7, 9};
	uint8_t back[8];
	uint64_t orig = 0;

	if (!bytes_visible(s)) {
		cf_skip("rdma://: one-sided atomics use the device's byte order (PRB-RDMA)");
		return;
	}
	CF_SETUP(CF_REQ_WRITE)
		CF_RC_FATAL(prb_write(m, 64, bytes, sizeof(bytes)), 0);
	CF_RC(prb_fadd(m, 64, 0x0100000000000100ULL, &orig), 0);
	CF_CHECK(orig == 0x0807060504030201ULL, "FADD read bytes 01..08 as 0x%016llx",
		 (unsigned long long)orig);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m, 64, back, sizeof(back)), 0);
	CF_CHECK(memcmp(back, after, sizeof(after)) == 0,
		 "FADD of 0x0100000000000100 to bytes 01..08 left %02x %02x %02x %02x %02x %02x "
		 "%02x %02x, expected 01 03 03 04 05 06 07 09",
		 back[0], back[1], back[2], back[3], back[4], back[5], back[6], back[7]);
	CF_RC(prb_cas(m, 64, 0x0907060504030301ULL, 0x1122334455667788ULL, &orig), 0);
	CF_CHECK(orig == 0x0907060504030301ULL, "CAS original 0x%016llx", (unsigned long long)orig);
	CF_SETUP(CF_REQ_READ)
		CF_RC(prb_read(m, 64, back, sizeof(back)), 0);
	CF_CHECK(get_le64(back) == 0x1122334455667788ULL,
		 "CAS stored bytes %02x %02x .. %02x, expected 88 77 .. 11 (little-endian)",
		 back[0], back[1], back[7]);
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
	{"Atomics.Values.CasWidth", values_cas_width, "PRB-ATOM-3 PRB-DATA-5", false, 0,
	 PRB_FEAT_ATOMICS,
	 "CAS compares all 64 bits (a compare equal in one half only does not store), stores all "
	 "of swap and nothing around it"},
	{"Atomics.Values.FaddCarry", values_fadd_carry, "PRB-ATOM-4 PRB-DATA-5", false, 0,
	 PRB_FEAT_ATOMICS,
	 "FADD carries into the high half, adds both halves, wraps at 2^64; the last word too"},
	{"Atomics.Values.ByteOrder", values_byte_order, "PRB-ATOM-3 PRB-ATOM-4 PRB-PDU-1", false, 0,
	 PRB_FEAT_ATOMICS, "over tcp://, CAS and FADD read and store the word little-endian"},
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
