/* SPDX-License-Identifier: BSD-3-Clause */
/* prb info, alloc, free, map, list: one request (or a LIST walk) each. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

/* ---------------------------------------------------------------- info */

static const char prb_info_help[] =
	"usage: prb info URL [--json]\n"
	"Connect, then print the brick's identity, the negotiated parameters and an INFO\n"
	"answer: capacity, free blocks per tier, mapped blocks, requests, connections.\n";

static void prb_info_print(const struct prb_session_info *si, const struct prb_brick_info *bi)
{
	char id[37], feat[128], size[32];

	prb_format_uuid(bi->brick_id, id);
	prb_format_features(si->features, feat, sizeof(feat));
	printf("%-16s %s\n", "brick_id", id);
	printf("%-16s %" PRIu64 "\n", "boot_epoch", bi->boot_epoch);
	printf("%-16s %s, version %u\n", "transport", si->transport, si->version);
	printf("%-16s %s\n", "features", feat);
	printf("%-16s %u\n", "queue_depth", si->queue_depth);
	printf("%-16s %u\n", "max_pdu", si->max_pdu);
	printf("%-16s %u\n", "max_data", si->max_data);
	printf("%-16s %u\n", "max_mappings", si->max_mappings);
	prb_format_bytes(bi->capacity_blocks * PRB_BLOCK_BYTES, size, sizeof(size));
	printf("%-16s %" PRIu64 " blocks (%s)\n", "capacity", bi->capacity_blocks, size);
	printf("%-16s %" PRIu64 " blocks\n", "free", bi->free_blocks);
	printf("%-16s %" PRIu64 " slots, %" PRIu64 " free\n", "fast", bi->fast_blocks,
	       bi->fast_free);
	printf("%-16s %" PRIu64 " slots, %" PRIu64 " free\n", "tier", bi->tier_blocks,
	       bi->tier_free);
	printf("%-16s %" PRIu64 " blocks\n", "mapped", bi->mapped_blocks);
	printf("%-16s %" PRIu64 "\n", "requests", bi->requests);
	printf("%-16s %u\n", "connections", bi->connections);
}

static void prb_info_json(const char *url, const struct prb_session_info *si,
			  const struct prb_brick_info *bi)
{
	char id[37], feat[128];

	prb_format_uuid(bi->brick_id, id);
	prb_format_features(si->features, feat, sizeof(feat));
	printf("{\"ok\": true, \"command\": \"info\", \"url\": ");
	prb_json_string(stdout, url);
	printf(", \"brick_id\": \"%s\", \"boot_epoch\": %" PRIu64 ", \"transport\": \"%s\", "
	       "\"version\": %u, \"features\": %u, \"feature_names\": \"%s\", "
	       "\"queue_depth\": %u, \"max_pdu\": %u, \"max_data\": %u, \"max_mappings\": %u, "
	       "\"capacity_blocks\": %" PRIu64 ", \"free_blocks\": %" PRIu64
	       ", \"fast_blocks\": %" PRIu64 ", \"fast_free\": %" PRIu64
	       ", \"tier_blocks\": %" PRIu64 ", \"tier_free\": %" PRIu64
	       ", \"mapped_blocks\": %" PRIu64 ", \"requests\": %" PRIu64
	       ", \"connections\": %u}\n",
	       id, bi->boot_epoch, si->transport, si->version, si->features, feat, si->queue_depth,
	       si->max_pdu, si->max_data, si->max_mappings, bi->capacity_blocks, bi->free_blocks,
	       bi->fast_blocks, bi->fast_free, bi->tier_blocks, bi->tier_free, bi->mapped_blocks,
	       bi->requests, bi->connections);
}

int prb_cmd_info(int argc, char **argv)
{
	static const struct option options[] = {PRB_COMMON_OPTIONS};
	struct prb_common c = {.cmd = "info"};
	struct prb_parse p = {.common = &c,
			      .help = prb_info_help,
			      .options = options,
			      .shortopts = PRB_COMMON_SHORT,
			      .min_pos = 1,
			      .max_pos = 1};
	struct prb_session_info si;
	struct prb_brick_info bi;
	struct prb_session *s;
	int rc;

	rc = prb_parse_args(&p, argc, argv);
	if (rc >= 0)
		return rc;
	rc = prb_tool_connect(&c, p.pos[0], 0, &s);
	if (rc)
		return rc;
	prb_session_get_info(s, &si);
	rc = prb_info(s, &bi);
	if (rc < 0) {
		rc = prb_tool_fail(&c, "INFO", rc);
		goto out;
	}
	if (c.json)
		prb_info_json(p.pos[0], &si, &bi);
	else
		prb_info_print(&si, &bi);
out:
	prb_disconnect(&s);
	return rc;
}

/* ---------------------------------------------------------------- alloc, free */

struct prb_range_opts {
	uint64_t count;
	bool force;
};

static int prb_range_option(struct prb_parse *p, int opt, const char *arg)
{
	struct prb_range_opts *o = p->ctx;

	switch (opt) {
	case 'n':
		if (prb_parse_u64(arg, &o->count) < 0 || o->count == 0 ||
		    o->count > PRB_RANGE_MAX_BLOCKS)
			return prb_tool_usage_error(p->common, "--count takes 1..%u",
						    PRB_RANGE_MAX_BLOCKS);
		return -1;
	case 'f':
		o->force = true;
		return -1;
	default:
		return prb_tool_usage_error(p->common, "bad option");
	}
}

static const char prb_alloc_help[] =
	"usage: prb alloc URL ADDR [--count N] [--json]\n"
	"Allocate N blocks (default 1) at ADDR, all or none; durable when it succeeds.\n"
	"  --count N      blocks in the range, 1..65536\n";

static const char prb_free_help[] =
	"usage: prb free URL ADDR [--count N] [--force] [--json]\n"
	"Free N blocks (default 1) at ADDR, all or none.\n"
	"  --count N      blocks in the range, 1..65536\n"
	"  --force        revoke live handles of the range first (else EBUSY)\n";

/* alloc and free: one range request. */
static int prb_range_cmd(int argc, char **argv, bool is_free)
{
	static const struct option options[] = {{"count", required_argument, NULL, 'n'},
						{"force", no_argument, NULL, 'f'},
						PRB_COMMON_OPTIONS};
	struct prb_common c = {.cmd = is_free ? "free" : "alloc"};
	struct prb_range_opts o = {.count = 1};
	struct prb_parse p = {.common = &c,
			      .help = is_free ? prb_free_help : prb_alloc_help,
			      .options = options,
			      .shortopts = PRB_COMMON_SHORT "n:f",
			      .handle = prb_range_option,
			      .ctx = &o,
			      .min_pos = 2,
			      .max_pos = 2};
	struct prb_session *s;
	uint64_t addr;
	int rc;

	rc = prb_parse_args(&p, argc, argv);
	if (rc >= 0)
		return rc;
	if (o.force && !is_free)
		return prb_tool_usage_error(&c, "--force is for free");
	if (prb_parse_addr(&c, p.pos[1], &addr) || prb_check_range(&c, addr, o.count))
		return PRB_EXIT_USAGE;
	rc = prb_tool_connect(&c, p.pos[0], 0, &s);
	if (rc)
		return rc;
	if (is_free)
		rc = prb_free(s, addr, (uint32_t)o.count, o.force ? PRB_FREE_FLAG_FORCE : 0);
	else
		rc = prb_alloc(s, addr, (uint32_t)o.count);
	if (rc < 0) {
		rc = prb_tool_fail(&c, is_free ? "FREE" : "ALLOC", rc);
	} else if (c.json) {
		printf("{\"ok\": true, \"command\": \"%s\", \"addr\": %" PRIu64
		       ", \"blocks\": %" PRIu64 ", \"bytes\": %" PRIu64 "}\n",
		       c.cmd, addr, o.count, o.count * PRB_BLOCK_BYTES);
	} else {
		printf("%s 0x%" PRIx64 " x%" PRIu64 " (%" PRIu64 " MiB): ok\n",
		       is_free ? "freed" : "allocated", addr, o.count, o.count * 2);
	}
	prb_disconnect(&s);
	return rc;
}

int prb_cmd_alloc(int argc, char **argv)
{
	return prb_range_cmd(argc, argv, false);
}

int prb_cmd_free(int argc, char **argv)
{
	return prb_range_cmd(argc, argv, true);
}

/* ---------------------------------------------------------------- map */

struct prb_map_opts {
	int access; /* -1 unset, else PRB_MAPPING_RO/RW */
	bool excl;
	uint64_t hold_ms;
};

static int prb_map_option(struct prb_parse *p, int opt, const char *arg)
{
	struct prb_map_opts *o = p->ctx;

	switch (opt) {
	case 'r':
	case 'w':
		if (o->access >= 0)
			return prb_tool_usage_error(p->common, "give one of --ro and --rw");
		o->access = opt == 'w' ? (int)PRB_MAPPING_RW : (int)PRB_MAPPING_RO;
		return -1;
	case 'x':
		o->excl = true;
		return -1;
	case 'H':
		if (prb_parse_u64(arg, &o->hold_ms) < 0 || o->hold_ms > 86400000u)
			return prb_tool_usage_error(p->common, "--hold takes 0..86400000 ms");
		return -1;
	default:
		return prb_tool_usage_error(p->common, "bad option");
	}
}

static const char prb_map_help[] =
	"usage: prb map URL ADDR --ro|--rw [--excl] [--hold MS] [--json]\n"
	"Map one block and print the handle. A handle lives only as long as the connection\n"
	"that made it: it dies when prb exits (after --hold MS, default 0), so this is for\n"
	"inspection and for testing conflicts (EBUSY) from another process.\n"
	"  --ro | --rw    read-only or read-write handle\n"
	"  --excl         exclusive: no other mapping of the block may exist\n"
	"  --hold MS      keep the mapping (and connection) MS milliseconds, then unmap\n";

/* Sleep while keeping the connection alive with KEEPALIVE once a second. */
static int prb_hold(struct prb_session *s, uint64_t ms)
{
	while (ms > 0) {
		uint64_t step = ms < 1000 ? ms : 1000;
		struct timespec ts = {.tv_sec = (time_t)(step / 1000),
				      .tv_nsec = (long)(step % 1000) * 1000000L};
		int rc;

		nanosleep(&ts, NULL);
		ms -= step;
		rc = prb_keepalive(s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int prb_cmd_map(int argc, char **argv)
{
	static const struct option options[] = {{"ro", no_argument, NULL, 'r'},
						{"rw", no_argument, NULL, 'w'},
						{"excl", no_argument, NULL, 'x'},
						{"hold", required_argument, NULL, 'H'},
						PRB_COMMON_OPTIONS};
	struct prb_common c = {.cmd = "map"};
	struct prb_map_opts o = {.access = -1};
	struct prb_parse p = {.common = &c,
			      .help = prb_map_help,
			      .options = options,
			      .shortopts = PRB_COMMON_SHORT "rwxH:",
			      .handle = prb_map_option,
			      .ctx = &o,
			      .min_pos = 2,
			      .max_pos = 2};
	struct prb_mapping *m = NULL;
	struct prb_session *s;
	uint64_t addr;
	unsigned flags;
	int rc;

	rc = prb_parse_args(&p, argc, argv);
	if (rc >= 0)
		return rc;
	if (o.access < 0)
		return prb_tool_usage_error(&c, "give --ro or --rw");
	if (prb_parse_addr(&c, p.pos[1], &addr))
		return PRB_EXIT_USAGE;
	flags = (unsigned)o.access | (o.excl ? PRB_MAPPING_EXCL : 0);
	rc = prb_tool_connect(&c, p.pos[0], 0, &s);
	if (rc)
		return rc;
	rc = prb_map(s, addr, flags, &m);
	if (rc < 0) {
		rc = prb_tool_fail(&c, "MAP", rc);
		goto out;
	}
	if (c.json) {
		/* The object stays open through --hold: its end says how the hold went. */
		printf("{\"command\": \"map\", \"addr\": %" PRIu64 ", \"handle\": \"0x%016" PRIx64
		       "\", \"access\": \"%s\", \"exclusive\": %s"
		       ", \"length\": %" PRIu64 ", \"rkey\": %u, \"raddr\": %" PRIu64
		       ", \"hold_ms\": %" PRIu64 ",\n",
		       addr, prb_mapping_handle(m), o.access ? "rw" : "ro",
		       o.excl ? "true" : "false", prb_mapping_length(m), prb_mapping_rkey(m),
		       prb_mapping_raddr(m), o.hold_ms);
		c.json_open = true;
	} else {
		printf("%-8s 0x%" PRIx64 "\n%-8s 0x%016" PRIx64 "\n%-8s %s%s\n%-8s %" PRIu64
		       "\n%-8s 0x%x\n%-8s 0x%" PRIx64 "\n",
		       "addr", addr, "handle", prb_mapping_handle(m), "access",
		       o.access ? "rw" : "ro", o.excl ? ", exclusive" : ", shared", "length",
		       prb_mapping_length(m), "rkey", prb_mapping_rkey(m), "raddr",
		       prb_mapping_raddr(m));
		printf("note: the handle dies with this connection (in %" PRIu64 " ms)\n",
		       o.hold_ms);
	}
	fflush(stdout);
	rc = prb_hold(s, o.hold_ms);
	if (rc < 0) {
		rc = prb_tool_fail(&c, "hold", rc);
		goto out;
	}
	rc = prb_unmap(&m);
	if (rc < 0)
		rc = prb_tool_fail(&c, "UNMAP", rc);
	else if (c.json)
		printf("\"ok\": true}\n");
out:
	prb_disconnect(&s);
	return rc;
}

/* ---------------------------------------------------------------- list */

static const char prb_list_help[] =
	"usage: prb list URL [--start ADDR] [--json]\n"
	"List allocated extents in ascending address order: first address, last byte's\n"
	"address (inclusive), blocks, state (resident in fast memory, or tiered).\n"
	"  --start ADDR   begin at ADDR (default 0)\n";

static int prb_list_option(struct prb_parse *p, int opt, const char *arg)
{
	if (opt != 's')
		return prb_tool_usage_error(p->common, "bad option");
	return prb_parse_addr(p->common, arg, p->ctx) ? PRB_EXIT_USAGE : -1;
}

static const char *prb_state_name(enum prb_block_state st)
{
	return st == PRB_BLOCK_TIERED ? "tiered" : st == PRB_BLOCK_RESIDENT ? "resident" : "?";
}

/* The table's last line: extents, blocks and their size in a human unit. */
static void prb_list_total(uint64_t extents, uint64_t blocks)
{
	char size[32];

	prb_format_bytes(blocks * PRB_BLOCK_BYTES, size, sizeof(size));
	printf("%" PRIu64 " extent(s), %" PRIu64 " block(s), %s\n", extents, blocks, size);
}

int prb_cmd_list(int argc, char **argv)
{
	static const struct option options[] = {{"start", required_argument, NULL, 's'},
						PRB_COMMON_OPTIONS};
	struct prb_common c = {.cmd = "list"};
	uint64_t start = 0, extents = 0, blocks = 0;
	struct prb_parse p = {.common = &c,
			      .help = prb_list_help,
			      .options = options,
			      .shortopts = PRB_COMMON_SHORT "s:",
			      .handle = prb_list_option,
			      .ctx = &start,
			      .min_pos = 1,
			      .max_pos = 1};
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	struct prb_session *s;
	int rc;

	rc = prb_parse_args(&p, argc, argv);
	if (rc >= 0)
		return rc;
	rc = prb_tool_connect(&c, p.pos[0], 0, &s);
	if (rc)
		return rc;
	rc = prb_list_new(s, start, &it);
	if (rc < 0) {
		rc = prb_tool_fail(&c, "LIST", rc);
		goto out;
	}
	if (c.json)
		printf("{\"command\": \"list\", \"extents\": [");
	else
		printf("%-18s %-18s %10s  %s\n", "ADDR", "LAST", "BLOCKS", "STATE");
	while ((rc = prb_list_next(it, &e)) > 0) {
		/* The last byte, inclusive: the end of the last block would wrap to 0. */
		uint64_t last = e.addr + (e.blocks * PRB_BLOCK_BYTES - 1);

		if (c.json)
			printf("%s{\"addr\": %" PRIu64 ", \"blocks\": %" PRIu64
			       ", \"state\": \"%s\"}",
			       extents ? ", " : "", e.addr, e.blocks, prb_state_name(e.state));
		else
			printf("0x%016" PRIx64 " 0x%016" PRIx64 " %10" PRIu64 "  %s\n", e.addr,
			       last, e.blocks, prb_state_name(e.state));
		extents++;
		blocks += e.blocks;
	}
	if (rc < 0) {
		/* With --json the open object ends with the error; stderr says it too. */
		if (c.json)
			printf("], \"ok\": false, \"error\": \"%s\", \"errno\": %d}\n",
			       prb_errno_name(rc), -rc);
		c.json = false;
		rc = prb_tool_fail(&c, "LIST", rc);
		goto out;
	}
	if (c.json)
		printf("], \"ok\": true, \"extent_count\": %" PRIu64 ", \"blocks\": %" PRIu64 "}\n",
		       extents, blocks);
	else
		prb_list_total(extents, blocks);
out:
	prb_list_delete(&it);
	prb_disconnect(&s);
	return rc;
}
