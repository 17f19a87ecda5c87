/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * prb: command-line tool for Passive RDMA Bricks, in the style of nvme-cli:
 * `prb SUBCOMMAND URL ...`. This file dispatches and holds the helpers the
 * subcommands share (parsing, connecting, reporting errors, JSON strings).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const struct prb_command prb_commands[] = {
	{"info", "brick identity, negotiated limits, capacity and statistics", prb_cmd_info},
	{"alloc", "allocate a block or a range of blocks", prb_cmd_alloc},
	{"free", "free a block or a range of blocks", prb_cmd_free},
	{"map", "map a block and print its handle (dies with the connection)", prb_cmd_map},
	{"list", "list allocated extents", prb_cmd_list},
	{"put", "store a file in consecutive blocks", prb_cmd_put},
	{"get", "restore a file stored by put", prb_cmd_get},
	{"bench", "READ/WRITE benchmark: ops/s, MB/s, latency percentiles", prb_cmd_bench},
};

#define PRB_COMMAND_COUNT (sizeof(prb_commands) / sizeof(prb_commands[0]))

static bool prb_wants_json(int argc, char **argv);
static void prb_json_error(const struct prb_common *c, const char *what, int err,
			   const char *message);

static void prb_main_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: prb SUBCOMMAND URL [ARGS...] [--json] [--help]\n\n"
		   "URL is tcp://HOST[:PORT] (rdma://HOST[:PORT] with the RDMA binding).\n"
		   "ADDR, sizes and counts take decimal or 0x hex (a leading 0 is not octal),\n"
		   "with an optional K/M/G/T suffix; addresses are multiples of 2M (the block\n"
		   "size), and a range of blocks must end by 2^64.\n\nsubcommands:\n");
	for (i = 0; i < PRB_COMMAND_COUNT; i++)
		fprintf(f, "  %-6s %s\n", prb_commands[i].name, prb_commands[i].summary);
	fprintf(f,
		"\nexit status: 0 success, 1 the brick refused the operation, 2 usage error,\n"
		"3 connection failed or lost, 4 local file or memory error, 5 get: the data does\n"
		"not match the checksum put stored.\n"
		"`prb SUBCOMMAND --help` describes each one; see also prb(1).\n");
}

/* No subcommand, or an unknown one: the usage on stderr, and a JSON error with --json. */
static int prb_main_usage_error(int argc, char **argv, const char *name, const char *message)
{
	struct prb_common c = {.cmd = name ? name : "", .json = prb_wants_json(argc, argv)};

	fprintf(stderr, "prb: %s%s%s\n\n", message, name ? ": " : "", c.cmd);
	prb_main_usage(stderr);
	prb_json_error(&c, "usage", -EINVAL, message);
	return PRB_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "--help") != 0 &&
			 strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--version") != 0))
		return prb_main_usage_error(argc, argv, NULL, "give a subcommand first");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		prb_main_usage(stdout);
		return PRB_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("prb 0.1.0\n");
		return PRB_EXIT_OK;
	}
	for (i = 0; i < PRB_COMMAND_COUNT; i++)
		if (strcmp(argv[1], prb_commands[i].name) == 0)
			return prb_commands[i].run(argc - 1, argv + 1);
	return prb_main_usage_error(argc, argv, argv[1], "unknown subcommand");
}

int prb_parse_u64(const char *text, uint64_t *out)
{
	unsigned long long v;
	char *end;
	unsigned shift = 0;

	int base = 10;

	if (!text)
		return -EINVAL;
	/* Decimal, or hex after 0x: a leading zero is not octal (strtoull's base 0 is). */
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		text += 2;
		base = 16;
	}
	if (!isxdigit((unsigned char)*text) || (base == 10 && !isdigit((unsigned char)*text)))
		return -EINVAL; /* strtoull would take a sign or spaces */
	errno = 0;
	v = strtoull(text, &end, base);
	if (errno || end == text)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int prb_common_option(struct prb_common *c, int opt, const char *arg, const char *help, bool *done)
{
	uint64_t v;

	switch (opt) {
	case 'j':
		c->json = true;
		return 1;
	case 'D':
		c->digests = true;
		return 1;
	case 'T':
		if (prb_parse_u64(arg, &v) < 0 || v == 0 || v > 3600000)
			return -prb_tool_usage_error(c, "--timeout takes 1..3600000 ms");
		c->timeout = (unsigned)v;
		return 1;
	case 'h':
		fputs(help, stdout);
		fputs(PRB_COMMON_HELP, stdout);
		*done = true;
		return 1;
	case '?':
		return -prb_tool_usage_error(c, "bad option");
	default:
		return 0;
	}
}

/* Whether --json (or -j) is among the options, before any "--". */
static bool prb_wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			return true;
	return false;
}

int prb_parse_args(struct prb_parse *p, int argc, char **argv)
{
	bool done = false;
	int opt, rc;

	/* A usage error found before --json is parsed still answers in JSON. */
	p->common->json = prb_wants_json(argc, argv);
	optind = 1;
	while ((opt = getopt_long(argc, argv, p->shortopts, p->options, NULL)) != -1) {
		rc = prb_common_option(p->common, opt, optarg, p->help, &done);
		if (rc < 0)
			return -rc;
		if (rc == 0) {
			rc = p->handle ? p->handle(p, opt, optarg) : PRB_EXIT_USAGE;
			if (rc >= 0)
				return rc;
		}
		if (done)
			return PRB_EXIT_OK;
	}
	for (; optind < argc; optind++) {
		if (p->npos == p->max_pos)
			return prb_tool_usage_error(p->common, "too many arguments");
		p->pos[p->npos++] = argv[optind];
	}
	if (p->npos < p->min_pos)
		return prb_tool_usage_error(p->common, "missing arguments");
	return -1;
}

int prb_parse_addr(const struct prb_common *c, const char *text, uint64_t *out)
{
	if (prb_parse_u64(text, out) < 0)
		return prb_tool_usage_error(c, "'%s' is not an address", text);
	if (*out % PRB_BLOCK_BYTES != 0)
		return prb_tool_usage_error(c, "address %s is not a multiple of 2M (0x%x)", text,
					    PRB_BLOCK_BYTES);
	return 0;
}

int prb_check_range(const struct prb_common *c, uint64_t addr, uint64_t blocks)
{
	/* addr is a multiple of the block size: this many blocks fit from it to 2^64. */
	uint64_t room = (UINT64_MAX - addr) / PRB_BLOCK_BYTES + 1;

	if (blocks <= room)
		return 0;
	return prb_tool_usage_error(c,
				    "%" PRIu64 " block(s) from 0x%" PRIx64
				    " run past the end of the address space (2^64; %" PRIu64
				    " block(s) fit)",
				    blocks, addr, room);
}

int prb_tool_connect(const struct prb_common *c, const char *url, unsigned queue_depth,
		     struct prb_session **s)
{
	struct prb_opts *o;
	uint32_t features = PRB_FEATURE_ATOMICS;
	int rc;

	rc = prb_opts_new(&o);
	if (rc < 0)
		return prb_tool_fail(c, "options", rc);
	if (c->digests)
		features |= PRB_FEATURE_HEADER_DIGEST | PRB_FEATURE_DATA_DIGEST;
	prb_opts_set_features(o, features);
	if (c->timeout) {
		prb_opts_set_connect_timeout(o, c->timeout);
		prb_opts_set_io_timeout(o, c->timeout);
	}
	if (queue_depth)
		prb_opts_set_queue_depth(o, queue_depth);
	if (c->busy_poll_set) /* both checked when parsed */
		prb_opts_set_busy_poll(o, c->busy_poll);
	if (c->rdma_spin_set)
		prb_opts_set_rdma_spin(o, c->rdma_spin);
	rc = prb_connect(url, o, s);
	prb_opts_delete(&o);
	if (rc == -EINVAL)
		return prb_tool_usage_error(c, "'%s' is not a brick URL (tcp://HOST[:PORT])", url);
	if (rc < 0) {
		prb_tool_fail(c, "connect", rc);
		return PRB_EXIT_CONN;
	}
	return 0;
}

const char *prb_errno_name(int err)
{
#ifdef PRB_HAVE_STRERRORNAME_NP
	/* glibc's own table (2.32+) names every errno libprb can pass through. */
	const char *name = strerrorname_np(err < 0 ? -err : err);
#else
	const char *name = NULL;

	(void)err;
#endif

	return name ? name : "E?";
}

int prb_exit_code(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return PRB_EXIT_OK;
	case ENOTCONN:
	case ECONNRESET:
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EPROTO:
	case EBADMSG:
	case ENODEV:
	case EPROTONOSUPPORT:
	case ENXIO:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
	case EPIPE:
		return PRB_EXIT_CONN;
	default:
		return PRB_EXIT_REFUSED;
	}
}

/*
 * The JSON error object of a failed step: errno name and number, and a message. When
 * the subcommand's object is open already, its end.
 */
static void prb_json_error(const struct prb_common *c, const char *what, int err,
			   const char *message)
{
	if (!c->json)
		return;
	if (!c->json_open) {
		printf("{\"command\": ");
		prb_json_string(stdout, c->cmd);
		printf(", ");
	}
	printf("\"ok\": false, \"step\": ");
	prb_json_string(stdout, what);
	printf(", \"error\": \"%s\", \"errno\": %d, \"message\": ", prb_errno_name(err),
	       err < 0 ? -err : err);
	prb_json_string(stdout, message);
	printf("}\n");
}

int prb_tool_fail_message(const struct prb_common *c, const char *what, int err,
			  const char *message)
{
	fprintf(stderr, "prb %s: %s: %s (%s)\n", c->cmd, what, message, prb_errno_name(err));
	prb_json_error(c, what, err, message);
	return prb_exit_code(err);
}

int prb_tool_fail(const struct prb_common *c, const char *what, int err)
{
	return prb_tool_fail_message(c, what, err, prb_strerror(err));
}

int prb_tool_local_error(const struct prb_common *c, const char *what, int err)
{
	const char *message = strerror(err < 0 ? -err : err);

	fprintf(stderr, "prb %s: %s: %s\n", c->cmd, what, message);
	prb_json_error(c, what, err, message);
	return PRB_EXIT_IO;
}

int prb_tool_usage_error(const struct prb_common *c, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fprintf(stderr, "prb %s: %s\n(see prb %s --help)\n", c->cmd, message, c->cmd);
	prb_json_error(c, "usage", -EINVAL, message);
	return PRB_EXIT_USAGE;
}

void prb_format_uuid(const uint8_t id[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 15];
	}
	out[o] = '\0';
}

void prb_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void prb_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

void prb_format_features(uint32_t features, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{PRB_FEATURE_HEADER_DIGEST, "HDGST"},	{PRB_FEATURE_DATA_DIGEST, "DDGST"},
		{PRB_FEATURE_ATOMICS, "ATOMICS"},	{PRB_FEATURE_TIERING, "TIERING"},
		{PRB_FEATURE_RDMA_FLUSH, "RDMA_FLUSH"}, {PRB_FEATURE_PERSISTENT, "PERSISTENT"},
	};
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(features & names[i].bit))
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
					 used ? "," : "", names[i].name);
	}
	if (used == 0)
		snprintf(buf, len, "none");
}
