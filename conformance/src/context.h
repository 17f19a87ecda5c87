/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the runner and the per-test API (context.c) share: the state of the current cf_ctx.
 * The tool is a program, not a library: one run at a time, so this state is global.
 */
#ifndef PRB_CONFORMANCE_CONTEXT_H
#define PRB_CONFORMANCE_CONTEXT_H

#include "runner.h"

#define MAX_TRACKED  256
#define REGION_SHIFT 20 /* blocks per test region: 2^20 (2 TiB) */

/* The features libprb lets an initiator ask for. */
#define ASKABLE_FEATURES (PRB_FEAT_HDGST | PRB_FEAT_DDGST | PRB_FEAT_ATOMICS | PRB_FEAT_RDMA_FLUSH)

struct cf_state {
	const struct cf_options *opt;
	struct cf_brick brick;
	uint32_t default_features;
	uint64_t region_base; /* block number of region 0 */
	size_t test_index;
	uint64_t top_blocks; /* the running test uses the top blocks of the space (cf_use_top) */
	struct cf_result *current;
	bool rdma; /* rdma:// URL: libprb only, no raw TCP sender */
	struct cf_conn *tracked[MAX_TRACKED];
	struct prb_session *sessions[MAX_TRACKED];
	void *mem[MAX_TRACKED];
	struct {
		void (*fn)(void *);
		void *arg;
	} deferred[16];
	size_t ndeferred;
	const char *setup_reqs[8]; /* CF_SETUP blocks open, innermost last */
	size_t setup_depth;
};

extern struct cf_state cf_ctx;

/** Add requirement IDs to the current test's blamed set; \p setup: from a setup step. */
void cf_context_blame(const char *reqs, bool setup);

/** After a test: deferred calls, then its connections, sessions and memory. */
void cf_context_end_test(void);
/** A raw connection after HELLO asking for \p features. \return 0 or a negative errno. */
int cf_context_hello(uint32_t features, struct cf_conn **out);
/** A libprb session outside any test (probe, cleanup), or NULL with *err set. */
struct prb_session *cf_context_session(uint32_t features, int *err);

#endif
