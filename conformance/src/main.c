/* SPDX-License-Identifier: Apache-2.0 */
/* prb-conformance: command line. */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* The --help text. */
static void usage(FILE *f)
{
	fputs("usage: prb-conformance [options] URL\n"
	      "       prb-conformance --list [--test PATTERN]...\n"
	      "Run the prb conformance tests against the brick at URL: tcp://HOST[:PORT], or\n"
	      "rdma://HOST[:PORT] (libprb tests only; the raw-PDU tests need tcp://).\n"
	      "  -l, --list              list tests: name, kind, needs, requirement IDs\n"
	      "  -t, --test PATTERN      run tests whose name matches (fnmatch wildcards,\n"
	      "                          e.g. 'Alloc.*' or '*.Exclusive.*'); repeatable\n"
	      "  -x, --xml FILE          write JUnit-style XML results to FILE\n"
	      "  -d, --destructive       also run tests that disturb other users (ENOSPC)\n"
	      "  -F, --require-full      fail (exit 3) unless this is a full conformance run:\n"
	      "                          no test skipped but those of optional features the\n"
	      "                          brick does not grant, and no --test selection\n"
	      "  -r, --restart-cmd CMD   also run restart tests: CMD (run by /bin/sh) must\n"
	      "                          kill the brick at once and start it again on the\n"
	      "                          same storage and URL, then exit 0\n"
	      "  -g, --graceful-restart-cmd CMD  also run shutdown tests: CMD must stop the\n"
	      "                          brick cleanly (as on SIGTERM) and start it again\n"
	      "  -T, --timeout MS        wait at most MS for each answer (default 5000)\n"
	      "  -R, --restart-timeout MS  wait at most MS for the brick after CMD (60000)\n"
	      "  -S, --stall-wait MS     wait at most MS for the brick's partial-PDU and\n"
	      "                          HELLO timeouts in Robust.Stall.* (default 35000)\n"
	      "  -v, --verbose           print requirement IDs and steps\n"
	      "  -h, --help\n"
	      "Without --destructive, --restart-cmd and --graceful-restart-cmd the tests that\n"
	      "need them are skipped: the summary then says NOT A FULL CONFORMANCE RUN and\n"
	      "lists the requirement IDs left unchecked.\n"
	      "Exit status: 0 all run tests passed, 1 a test failed, 2 usage or connection\n"
	      "error, 3 none failed but --require-full and the run was not full.\n",
	      f);
}

/* --list: one line per test, the form the coverage check reads. */
static int list_tests(const struct cf_options *opt)
{
	size_t n;
	const struct cf_test *const *all = cf_all_tests(&n);
	char needs[128];

	for (size_t i = 0; i < n; i++) {
		const struct cf_test *t = all[i];
		bool match = opt->npatterns == 0;
		for (size_t p = 0; p < opt->npatterns; p++)
			match |= fnmatch(opt->patterns[p], t->name, 0) == 0;
		if (!match)
			continue;
		char features[64], blocks[32] = "";
		if (cf_needs_blocks(t->needs))
			snprintf(blocks, sizeof(blocks), "blocks:%u,", cf_needs_blocks(t->needs));
		snprintf(needs, sizeof(needs), "%s%s%s%s%s%s",
			 t->needs & CF_DESTRUCTIVE ? "destructive," : "",
			 t->needs & CF_RESTART ? "restart," : "",
			 t->needs & CF_GRACEFUL ? "shutdown," : "", blocks,
			 t->feature ? cf_feature_names(t->feature, features, sizeof(features)) : "",
			 t->feature ? "," : "");
		if (needs[0])
			needs[strlen(needs) - 1] = '\0';
		else
			snprintf(needs, sizeof(needs), "-");
		printf("%-40s %-9s %-22s %s\n", t->name, t->mandatory ? "mandatory" : "optional",
		       needs, t->reqs);
		if (opt->verbose)
			printf("    %s\n", t->doc);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"list", no_argument, NULL, 'l'},
		{"test", required_argument, NULL, 't'},
		{"xml", required_argument, NULL, 'x'},
		{"destructive", no_argument, NULL, 'd'},
		{"require-full", no_argument, NULL, 'F'},
		{"restart-cmd", required_argument, NULL, 'r'},
		{"graceful-restart-cmd", required_argument, NULL, 'g'},
		{"timeout", required_argument, NULL, 'T'},
		{"restart-timeout", required_argument, NULL, 'R'},
		{"stall-wait", required_argument, NULL, 'S'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cf_options opt = {
		.timeout_ms = 5000, .restart_timeout_ms = 60000, .stall_wait_ms = 35000};
	bool list = false;
	int ch, status;

	opt.patterns = calloc((size_t)argc + 1, sizeof(*opt.patterns));
	if (!opt.patterns)
		return 2;
	while ((ch = getopt_long(argc, argv, "lt:x:dFr:g:T:R:S:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			list = true;
			break;
		case 't':
			opt.patterns[opt.npatterns++] = optarg;
			break;
		case 'x':
			opt.xml_path = optarg;
			break;
		case 'd':
			opt.destructive = true;
			break;
		case 'F':
			opt.require_full = true;
			break;
		case 'r':
			opt.restart_cmd = optarg;
			break;
		case 'g':
			opt.graceful_cmd = optarg;
			break;
		case 'T':
			opt.timeout_ms = atoi(optarg);
			break;
		case 'R':
			opt.restart_timeout_ms = atoi(optarg);
			break;
		case 'S':
			opt.stall_wait_ms = atoi(optarg);
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			free(opt.patterns);
			return 0;
		default:
			usage(stderr);
			free(opt.patterns);
			return 2;
		}
	}
	if (list) {
		status = list_tests(&opt);
	} else if (optind + 1 != argc || opt.timeout_ms <= 0 || opt.restart_timeout_ms <= 0) {
		usage(stderr);
		status = 2;
	} else {
		opt.url = argv[optind];
		status = cf_run(&opt);
	}
	free(opt.patterns);
	return status;
}
