/* SPDX-License-Identifier: BSD-3-Clause */
/* The prb tool: shared helpers of its subcommands. */
#ifndef PRB_TOOL_H
#define PRB_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <prb/prb.h>

/* Exit codes (documented in prb.1 and `prb --help`). */
enum prb_exit {
	PRB_EXIT_OK = 0,
	PRB_EXIT_REFUSED = 1, /* the brick answered with an error (EEXIST, ENOENT, EBUSY, ...) */
	PRB_EXIT_USAGE = 2,   /* bad command line */
	PRB_EXIT_CONN = 3,    /* could not connect, or the connection was lost */
	PRB_EXIT_IO = 4,      /* a local file or memory error */
	PRB_EXIT_DATA = 5,    /* get: the bytes read do not match the checksum put stored */
};

/* Options every subcommand takes. */
struct prb_common {
	const char *cmd; /* subcommand name, for messages */
	bool json;
	/* --json: the subcommand has printed the start of its object (it prints results as
	 * they come): a failure ends that object with "ok": false instead of a new one. */
	bool json_open;
	bool digests;	  /* ask for header and data digests */
	unsigned timeout; /* ms, connect and I/O */
	/* prb bench --busy-poll and --rdma-spin, applied when set: otherwise (and in every
	 * other subcommand) libprb's defaults hold. */
	unsigned busy_poll; /* prb_opts_set_busy_poll */
	bool busy_poll_set;
	unsigned rdma_spin; /* prb_opts_set_rdma_spin */
	bool rdma_spin_set;
};

/* One subcommand. */
struct prb_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int prb_cmd_info(int argc, char **argv);
int prb_cmd_alloc(int argc, char **argv);
int prb_cmd_free(int argc, char **argv);
int prb_cmd_map(int argc, char **argv);
int prb_cmd_list(int argc, char **argv);
int prb_cmd_put(int argc, char **argv);
int prb_cmd_get(int argc, char **argv);
int prb_cmd_bench(int argc, char **argv);

/* getopt_long entries of the common options; end a subcommand's table with PRB_COMMON_OPTIONS. */
#define PRB_COMMON_OPTIONS                                                                         \
	{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},                        \
		{"digests", no_argument, NULL, 'D'}, {"timeout", required_argument, NULL, 'T'},    \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}
#define PRB_COMMON_SHORT "jhDT:"
#define PRB_COMMON_HELP                                                                            \
	"common options:\n"                                                                        \
	"  --json         one JSON object on stdout, also for errors (\"ok\": false)\n"            \
	"  --digests      ask for CRC32C header and data digests (TCP)\n"                          \
	"  --timeout MS   connect and request timeout in milliseconds\n"                           \
	"  --help         this text\n"

/*
 * Handle a common option: returns 1 when opt was one (help printed: *done set),
 * 0 when it is not a common option, or PRB_EXIT_USAGE negated on a bad value.
 */
int prb_common_option(struct prb_common *c, int opt, const char *arg, const char *help, bool *done);

/*
 * Parse the options of a subcommand whose specific options come through
 * handle(); positional arguments land in pos[]. Returns -1 to go on, or an exit code.
 */
struct prb_parse {
	struct prb_common *common;
	const char *help;
	const struct option *options;
	const char *shortopts;
	int (*handle)(struct prb_parse *p, int opt, const char *arg);
	void *ctx;
	const char *pos[4];
	int npos;
	int min_pos, max_pos;
};

int prb_parse_args(struct prb_parse *p, int argc, char **argv);

/* Parse a size or address: decimal or 0x hex, optional K/M/G/T (binary) suffix. */
int prb_parse_u64(const char *text, uint64_t *out);
/* Parse an address that must be a multiple of the block size; prints why not. */
int prb_parse_addr(const struct prb_common *c, const char *text, uint64_t *out);
/* Check that blocks blocks from addr stay below 2^64; prints why not (a usage error). */
int prb_check_range(const struct prb_common *c, uint64_t addr, uint64_t blocks);
/* Connect with the common options; prints the error and returns an exit code on failure. */
int prb_tool_connect(const struct prb_common *c, const char *url, unsigned queue_depth,
		     struct prb_session **s);
/* Report a failed library call: stderr always, a JSON error object on stdout with --json. */
int prb_tool_fail(const struct prb_common *c, const char *what, int err);
/* prb_tool_fail with a message of our own instead of prb_strerror's; returns the exit code. */
int prb_tool_fail_message(const struct prb_common *c, const char *what, int err,
			  const char *message);
/* Report a local file or memory error (err a negative errno) about what; returns PRB_EXIT_IO. */
int prb_tool_local_error(const struct prb_common *c, const char *what, int err);
/* Report a usage error; returns PRB_EXIT_USAGE. */
int prb_tool_usage_error(const struct prb_common *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The exit code an errno value maps to. */
int prb_exit_code(int err);
/* Symbolic errno name ("EEXIST"), or "E?" */
const char *prb_errno_name(int err);
/* Brick UUID as text (37 bytes with the NUL). */
void prb_format_uuid(const uint8_t id[16], char out[37]);
/* Print a JSON string literal (quoted, escaped). */
void prb_json_string(FILE *f, const char *s);
/* A byte count in a human unit ("46.0 MiB", "1.5 GiB") into buf. */
void prb_format_bytes(uint64_t bytes, char *buf, size_t len);
/* Feature bits as "HDGST,DDGST,..." into buf. */
void prb_format_features(uint32_t features, char *buf, size_t len);

#endif /* PRB_TOOL_H */
