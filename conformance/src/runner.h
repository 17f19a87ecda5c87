/* SPDX-License-Identifier: Apache-2.0 */
/* The runner: selection, skips, CUnit glue, per-test cleanup, results. */
#ifndef PRB_CONFORMANCE_RUNNER_H
#define PRB_CONFORMANCE_RUNNER_H

#include <stddef.h>

#include "suite.h"

enum cf_outcome { CF_NOT_RUN, CF_PASSED, CF_FAILED, CF_SKIPPED };

struct cf_result {
	const struct cf_test *test;
	enum cf_outcome outcome;
	char reason[256]; /* why skipped */
	char notes[512];  /* checks of a test that ran but could not be made here (cf_note) */
	char *failures;	  /* "file:line: message\n"..., malloc'd */
	char blamed[256]; /* requirement IDs its failed checks break, space-separated */
	bool setup_failed; /* a check inside CF_SETUP failed: blamed names the step's IDs */
	bool own_failed;   /* a check of the test's own requirements failed */
	bool unchecked;	   /* skipped for a reason other than an optional feature not granted */
	double seconds;
};

struct cf_options {
	const char *url;
	const char **patterns; /* --test PATTERN..., NULL-terminated; none = all */
	size_t npatterns;
	const char *xml_path;
	const char *restart_cmd;
	const char *graceful_cmd;
	bool destructive;
	bool require_full; /* --require-full: a run that leaves requirements unchecked fails */
	bool verbose;
	int timeout_ms;
	int restart_timeout_ms;
	int stall_wait_ms;
};

/** Every registered test, in run order; \p count set. */
const struct cf_test *const *cf_all_tests(size_t *count);

/** "HDGST+DDGST" for a mask of PRB_FEAT_* bits. */
const char *cf_feature_names(uint32_t features, char *buf, size_t size);

/** Exit status of a run that passed but left tests skipped with --require-full. */
#define CF_EXIT_NOT_FULL 3

/**
 * Run the selected tests. \return 0 all run tests passed, 1 a test failed, 2 could not
 * run, CF_EXIT_NOT_FULL none failed but --require-full and tests were skipped.
 */
int cf_run(const struct cf_options *opt);

/** Write JUnit XML for \p n results. \return 0 or a negative errno. */
int cf_junit_write(const char *path, const char *url, const struct cf_result *results, size_t n);
/** Write JUnit XML saying the suite could not run at all (one <error>). */
int cf_junit_write_error(const char *path, const char *url, const char *why);

#endif
