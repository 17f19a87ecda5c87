/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a conformance test sees: its registration entry, connections the runner closes
 * for it, an address region of its own, assertions with readable messages, skips with a
 * reason, and the brick restart hook.
 */
#ifndef PRB_CONFORMANCE_SUITE_H
#define PRB_CONFORMANCE_SUITE_H

#include <stdbool.h>
#include <stdint.h>

#include <CUnit/CUnit.h>
#include <prb/prb.h>

#include "conn.h"
#include "ops.h"

/* What a test needs beyond a live brick. */
enum cf_needs {
	CF_DESTRUCTIVE = 1U << 0, /* disturbs other users of the brick: run with --destructive */
	CF_RESTART = 1U << 1,	  /* crashes and restarts the brick: run with --restart-cmd */
	CF_GRACEFUL = 1U << 2,	  /* shuts the brick down cleanly: --graceful-restart-cmd */
};

/*
 * The free blocks a test needs, when more than the few dozen any test may use, go in the
 * bits of `needs` above the flags: CF_NEEDS_BLOCKS(1100). On a brick with fewer free
 * blocks the runner skips the test and says so (the run is then not a full one).
 */
#define CF_BLOCKS_SHIFT	   8U
#define CF_NEEDS_BLOCKS(n) ((unsigned)(n) << CF_BLOCKS_SHIFT)
static inline unsigned cf_needs_blocks(unsigned needs)
{
	return needs >> CF_BLOCKS_SHIFT;
}

/* One row of the registration table. */
struct cf_test {
	const char *name; /* Family.Suite.Test */
	void (*fn)(void);
	const char *reqs; /* requirement IDs of spec/PROTOCOL.md it checks, space-separated */
	bool mandatory;	  /* false: an optional feature; skipped when the brick lacks it */
	unsigned needs;	  /* enum cf_needs, | CF_NEEDS_BLOCKS(n) */
	uint32_t feature; /* PRB_FEAT_* the brick must grant, 0 for none */
	const char *doc;  /* what the test checks, one line */
};

/* Each tests/<suite>.c defines one table, ended by an entry with name NULL. */
extern const struct cf_test cf_tests_handshake[];
extern const struct cf_test cf_tests_alloc[];
extern const struct cf_test cf_tests_free[];
extern const struct cf_test cf_tests_map[];
extern const struct cf_test cf_tests_unmap[];
extern const struct cf_test cf_tests_list[];
extern const struct cf_test cf_tests_data[];
extern const struct cf_test cf_tests_atomics[];
extern const struct cf_test cf_tests_robust[];
extern const struct cf_test cf_tests_digest[];
extern const struct cf_test cf_tests_concurrency[];
extern const struct cf_test cf_tests_tier[];
extern const struct cf_test cf_tests_durability[];

/* What the runner learned from its first HELLO (all features asked for). */
struct cf_brick {
	struct prb_hello_rsp hello;
	uint32_t features; /* granted when every defined feature was asked for */
	int timeout_ms;
};
const struct cf_brick *cf_brick(void);
const char *cf_url(void);
/** How long Robust.Stall waits for the brick's partial-PDU timeout (--stall-wait). */
int cf_stall_wait_ms(void);
/** --destructive given: the test may assume nobody else uses the brick. */
bool cf_destructive(void);

/** false over rdma://, where cf_open()/cf_connect() end the test as skipped. */
bool cf_raw_available(void);
/** Socket to the brick, no HELLO; closed by the runner after the test. Fails fatally. */
struct cf_conn *cf_open(void);
/** Connection after HELLO asking for \p features; closed by the runner. Fails fatally. */
struct cf_conn *cf_connect_features(uint32_t features);
/** Connection after HELLO asking for ATOMICS (when the brick offers it), no digests. */
struct cf_conn *cf_connect(void);
/**
 * Raw connection with block 0 of the region allocated and mapped read-write; the ALLOC and
 * the MAP are setup steps (CF_REQ_ALLOC, CF_REQ_MAP).
 */
struct cf_conn *cf_connect_mapped(uint64_t *handle);
/** Close a connection early (the brick sees it drop). */
void cf_disconnect(struct cf_conn *c);

/*
 * libprb, the reference initiator, for positive paths: what a correct initiator does.
 * Sessions are closed by the runner after the test. Fail fatally when no connection.
 */
struct prb_session *cf_session_features(uint32_t features);
/** A session asking for ATOMICS where the brick offers it. */
struct prb_session *cf_session(void);
/** Disconnect a session early (its mappings die with it). */
void cf_session_close(struct prb_session *s);
/**
 * Map with libprb; fails fatally unless it works. A setup step (CF_REQ_MAP, or
 * CF_REQ_MAP_EXCL with PRB_MAPPING_EXCL): a test whose subject is the MAP calls prb_map.
 */
struct prb_mapping *cf_session_map(struct prb_session *s, uint64_t addr, unsigned flags);

/** Zeroed memory freed by the runner after the test (also when a fatal check ends it). */
void *cf_mem(size_t size);
/** Run \p fn(\p arg) after the test, before its connections close (stop threads here). */
void cf_defer(void (*fn)(void *), void *arg);

/** Logical address of block \p i of the running test's own region (2^20 blocks, random base). */
uint64_t cf_addr(uint64_t i);

/** Address of the block \p i blocks below the top of the address space (1: the last block). */
uint64_t cf_top_addr(uint64_t i);
/**
 * Take the top \p blocks blocks of the 64-bit address space for the running test, which the
 * runner frees after it as it frees the test's region. When any of them is allocated already
 * (someone else uses the top of the space), the test is skipped: \return false.
 */
bool cf_use_top(struct prb_session *s, uint64_t blocks);

/** Mark the running test skipped with a reason (it should return right after). */
void cf_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/**
 * Say that one check of the running test cannot be made here, and why (the test goes on).
 * Printed under the test's outcome and kept in the XML: no check is left out silently.
 */
void cf_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Print a line when --verbose. */
void cf_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Run --restart-cmd and wait until the brick accepts a HELLO again. Fails fatally. */
void cf_restart(void);
/** Run --graceful-restart-cmd (clean shutdown, start again) and wait for the brick. */
void cf_restart_graceful(void);

/**
 * Expect the brick to send TERM with \p reason, then close the connection.
 * A TERM with another reason, a close without TERM, or silence fail the test.
 */
bool cf_expect_term(struct cf_conn *c, unsigned reason, int64_t error_offset, int64_t tag,
		    const char *file, unsigned line);
#define CF_TERM(c, reason) cf_expect_term((c), (reason), -1, -1, __FILE__, __LINE__)
/* Also check term.error_offset and the TERM's hdr.tag (the offending PDU's tag). */
#define CF_TERM_AT(c, reason, offset, tag)                                                         \
	cf_expect_term((c), (reason), (offset), (tag), __FILE__, __LINE__)

/** Write \p size bytes of \p value little-endian at \p buf + \p offset. */
void cf_put_le(uint8_t *buf, size_t offset, size_t size, uint64_t value);
/** Read \p size bytes little-endian at \p buf + \p offset. */
uint64_t cf_get_le(const uint8_t *buf, size_t offset, size_t size);
/** Recompute the header digest of a PDU built by cf_build when it carries one. */
void cf_fix_hdgst(uint8_t *pdu);

/** The brick still answers: a new connection, HELLO, KEEPALIVE. Fails the test if not. */
void cf_check_alive(void);

/** Blocks allocated among \p blocks blocks from \p addr, counted with LIST (OK: CF_REQ_LIST). */
uint64_t cf_allocated_range(struct cf_conn *c, uint64_t addr, uint64_t blocks);
/** Blocks allocated among blocks first .. first + n - 1 of the test's region. */
uint64_t cf_allocated(struct cf_conn *c, uint64_t first, uint64_t n);

/** As cf_allocated, through libprb's LIST iterator. */
uint64_t cf_session_allocated(struct prb_session *s, uint64_t first, uint64_t n);

/** qsort comparison of uint64_t values. */
int cf_cmp_u64(const void *a, const void *b);

/** Fill \p buf with bytes derived from \p seed (test data that cannot be mistaken). */
void cf_pattern(void *buf, size_t len, uint64_t seed);

/*
 * Setup steps. A test cites the requirements it checks; the steps that bring the brick
 * where the check happens (an ALLOC to have a block, an EEXIST to get an error response)
 * rest on other requirements. Wrap such a step in CF_SETUP("PRB-ALLOC-2") { ... } (or
 * put one statement after it): a check inside that fails is reported as a failed setup
 * step breaking those IDs, and the test's own requirements as not reached, so the report
 * names the broken rule. A status check that got no answer at all (a transport or digest
 * error) still counts against the test's own requirements, and so does a step that rests
 * only on requirements the test cites (a helper's MAP in a MAP test). Blocks nest.
 */
int cf_setup_begin(const char *reqs);
int cf_setup_end(void);
#define CF_CONCAT_(a, b) a##b
#define CF_CONCAT(a, b)	 CF_CONCAT_(a, b)
#define CF_SETUP(reqs)                                                                             \
	for (int CF_CONCAT(cf_setup_, __LINE__) = cf_setup_begin(reqs);                            \
	     CF_CONCAT(cf_setup_, __LINE__); CF_CONCAT(cf_setup_, __LINE__) = cf_setup_end())

/*
 * What the common setup steps rest on. PROTOCOL.md has no rule "an operation that no
 * check refuses answers OK" apart from PRB-REQ-1; each step names instead the rule of its
 * operation that grants it, or that says when it may be refused:
 */
#define CF_REQ_ALLOC	"PRB-ALLOC-4" /* ALLOC of free blocks while the brick has room */
#define CF_REQ_MAP	"PRB-MAP-5"   /* shared MAP, RO or RW, of an allocated block */
#define CF_REQ_MAP_EXCL "PRB-MAP-3"   /* exclusive MAP of a block no live handle reaches */
#define CF_REQ_READ	"PRB-DATA-8"  /* READ inside the block through a live handle */
#define CF_REQ_WRITE	"PRB-DATA-9"  /* WRITE inside the block through a RW handle */
#define CF_REQ_FLUSH	"PRB-FLUSH-1" /* FLUSH inside the block through a live handle */
#define CF_REQ_UNMAP	"PRB-UNMAP-1" /* UNMAP of a live handle of this connection */
#define CF_REQ_FREE	"PRB-FREE-2 PRB-FREE-3" /* FREE of allocated blocks no handle reaches */
#define CF_REQ_LIST	"PRB-LIST-1"		/* LIST with a valid cursor and max_extents */

/* Assertions: they record a CUnit failure with a readable message. */
bool cf_check_status(struct cf_conn *c, int got, int want, bool fatal, const char *expr,
		     const char *file, unsigned line);
bool cf_check(bool ok, bool fatal, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* CF_ST(conn, call, PRB_ST_x): the call returned that status. */
#define CF_ST(c, expr, want) cf_check_status((c), (expr), (want), false, #expr, __FILE__, __LINE__)
#define CF_ST_FATAL(c, expr, want)                                                                 \
	cf_check_status((c), (expr), (want), true, #expr, __FILE__, __LINE__)
bool cf_check_rc(int got, int want, bool fatal, const char *expr, const char *file, unsigned line);
/* CF_RC(libprb call, -EEXIST): the call returned that (0 for success). */
#define CF_RC(expr, want)	cf_check_rc((expr), (want), false, #expr, __FILE__, __LINE__)
#define CF_RC_FATAL(expr, want) cf_check_rc((expr), (want), true, #expr, __FILE__, __LINE__)
/* CF_CHECK(condition, "printf format", ...): message shown when the condition is false. */
#define CF_CHECK(cond, ...)	  cf_check((cond), false, __FILE__, __LINE__, __VA_ARGS__)
#define CF_CHECK_FATAL(cond, ...) cf_check((cond), true, __FILE__, __LINE__, __VA_ARGS__)

#endif
