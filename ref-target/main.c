/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prb-target: the reference brick. Parses options, opens the store, starts the
 * bindings' listeners on one event loop, and shuts down cleanly on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <prb/wire.h>

#include "brick.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "rdma.h"
#include "tcp.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define MAX_LISTEN 16
#define DEFAULT_POOL_DIR "prb-data"
#define DEFAULT_POOL "prb-data/pool"
#define DEFAULT_POOL_SIZE (UINT64_C(1) << 30)
#define SHUTDOWN_GRACE_MS 5000
/* Halfway through the grace, responses a slow reader has not started to receive are
 * dropped so that its TERM can still reach it (prb_tcp_shutdown). */
#define SHUTDOWN_CUT_MS (SHUTDOWN_GRACE_MS / 2)
#define URLS_MAX 4096

#ifndef PRB_VERSION_STRING
#define PRB_VERSION_STRING "0.1.0"
#endif

struct options {
	const char *listen[MAX_LISTEN];
	unsigned nlisten;
	const char *pool;
	uint64_t size;
	const char *tier;
	uint64_t tier_size;
	const char *ready_file;
	int verbose;
	struct prb_tcp_config tcp;
	bool rdma_force_mr;
};

struct target {
	struct prb_loop *loop;
	struct prb_tcp *tcp;
	struct prb_rdma *rdma;      /* NULL without rdma:// listeners */
	unsigned draining;          /* bindings not yet drained at shutdown */
	struct prb_loop_fd signal_lfd;
	int signal_fd;
	struct prb_loop_timer grace;
	bool stopping;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: prb-target [OPTIONS]\n"
		"Serve a prb brick (the Passive RDMA Brick protocol) on a pool of 2 MiB blocks.\n"
		"\n"
		"  --listen URL         tcp://ADDR[:PORT] or rdma://ADDR[:PORT], repeatable; port 0\n"
		"                       picks a free port\n"
		"                       (default: tcp://0.0.0.0:%u and tcp://[::]:%u)\n"
		"  --pool PATH          pool file or devdax/fsdax device (default ./%s,\n"
		"                       created with 1 GiB when absent)\n"
		"  --size SIZE          size of a pool created now (K/M/G/T suffixes)\n"
		"  --tier PATH          slower tier file\n"
		"  --tier-size SIZE     size of a tier created now\n"
		"  --ready-file FILE    once listening, write one URL per listener to FILE\n"
		"  --queue-depth N      largest queue depth granted (default 128, max %u)\n"
		"  --max-data SIZE      largest READ/WRITE data (default 2M, 4K..2M)\n"
		"  --max-connections N  connections served at once (default 1024); at the limit\n"
		"                       the oldest one without HELLO makes room for a new one\n"
		"  --max-mappings N     live handles per connection (default 4096)\n"
		"  --hello-timeout SEC  close a connection without HELLO after SEC (default 10)\n"
		"  --idle-timeout SEC   close a connection idle this long (default 300)\n"
		"  --pdu-timeout SEC    close a connection whose PDU is not whole SEC after its\n"
		"                       first byte (default 30)\n"
		"  --send-timeout SEC   close a connection whose peer takes none of the brick's\n"
		"                       output for SEC (default 30); each SEC may be fractional,\n"
		"                       0 turns a timeout off\n"
		"  --no-digests         do not grant header/data digests\n"
		"  --no-atomics         do not grant CAS/FADD\n"
		"  --rdma-keys auto|mr  RDMA keys: memory windows where the device has them (auto),\n"
		"                       or one memory region per mapping (mr)\n"
		"  -v, --verbose        log more (debug)\n"
		"  -h, --help           this text\n"
		"  -V, --version        the version\n"
		"\n"
		"Exit status: 0 after a clean shutdown (SIGTERM or SIGINT), 1 on a runtime error\n"
		"(pool, listen), 2 on a usage error.\n",
		(unsigned)PRB_TCP_PORT, (unsigned)PRB_TCP_PORT, DEFAULT_POOL,
		(unsigned)PRB_MAX_QUEUE_DEPTH);
}

/* SIZE: a number with an optional K/M/G/T (binary) suffix, optionally followed by B or iB. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* SEC: seconds, possibly fractional, to milliseconds. */
static int parse_seconds(const char *s, uint32_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 86400.0 * 365)
		return -EINVAL;
	*ms = (uint32_t)(v * 1000.0 + 0.5);
	if (v > 0 && *ms == 0)
		*ms = 1;
	return 0;
}

enum {
	OPT_LISTEN = 256, OPT_POOL, OPT_SIZE, OPT_TIER, OPT_TIER_SIZE, OPT_READY, OPT_QD,
	OPT_MAX_DATA, OPT_MAX_CONN, OPT_MAX_MAPPINGS, OPT_IDLE, OPT_PDU_TIMEOUT,
	OPT_HELLO_TIMEOUT, OPT_SEND_TIMEOUT, OPT_NO_DIGESTS, OPT_NO_ATOMICS, OPT_RDMA_KEYS,
};

static const struct option long_options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "pool", required_argument, NULL, OPT_POOL },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "tier", required_argument, NULL, OPT_TIER },
	{ "tier-size", required_argument, NULL, OPT_TIER_SIZE },
	{ "ready-file", required_argument, NULL, OPT_READY },
	{ "queue-depth", required_argument, NULL, OPT_QD },
	{ "max-data", required_argument, NULL, OPT_MAX_DATA },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONN },
	{ "max-mappings", required_argument, NULL, OPT_MAX_MAPPINGS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "pdu-timeout", required_argument, NULL, OPT_PDU_TIMEOUT },
	{ "hello-timeout", required_argument, NULL, OPT_HELLO_TIMEOUT },
	{ "send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT },
	{ "no-digests", no_argument, NULL, OPT_NO_DIGESTS },
	{ "no-atomics", no_argument, NULL, OPT_NO_ATOMICS },
	{ "rdma-keys", required_argument, NULL, OPT_RDMA_KEYS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Apply one option; \return 0, or -EINVAL with a message printed. */
static int parse_option(struct options *o, int opt, const char *arg)
{
	struct prb_conn_limits *lim = &o->tcp.limits;
	uint64_t v = 0;
	int err = 0;

	switch (opt) {
	case OPT_LISTEN:
		if (o->nlisten == MAX_LISTEN) {
			fprintf(stderr, "prb-target: at most %d --listen\n", MAX_LISTEN);
			return -EINVAL;
		}
		{
			struct prb_url url;

			if (prb_url_parse(arg, &url) < 0) {
				fprintf(stderr, "prb-target: bad URL '%s'\n", arg);
				return -EINVAL;
			}
		}
		o->listen[o->nlisten++] = arg;
		return 0;
	case OPT_POOL: o->pool = arg; return 0;
	case OPT_SIZE: err = parse_size(arg, &o->size); break;
	case OPT_TIER: o->tier = arg; return 0;
	case OPT_TIER_SIZE: err = parse_size(arg, &o->tier_size); break;
	case OPT_READY: o->ready_file = arg; return 0;
	case OPT_QD:
		err = parse_uint(arg, 1, PRB_MAX_QUEUE_DEPTH, &v);
		lim->queue_depth = (uint16_t)v;
		break;
	case OPT_MAX_DATA:
		err = parse_size(arg, &v);
		if (!err && (v < PRB_MIN_MAX_DATA || v > PRB_MAX_DATA_LIMIT))
			err = -EINVAL;
		lim->max_data = (uint32_t)v;
		break;
	case OPT_MAX_CONN:
		err = parse_uint(arg, 1, 1u << 20, &v);
		o->tcp.max_connections = (uint32_t)v;
		break;
	case OPT_MAX_MAPPINGS:
		err = parse_uint(arg, 1, UINT32_MAX, &v);
		lim->max_mappings = (uint32_t)v;
		break;
	case OPT_IDLE: err = parse_seconds(arg, &lim->idle_timeout_ms); break;
	case OPT_PDU_TIMEOUT: err = parse_seconds(arg, &lim->pdu_timeout_ms); break;
	case OPT_HELLO_TIMEOUT: err = parse_seconds(arg, &lim->hello_timeout_ms); break;
	case OPT_SEND_TIMEOUT: err = parse_seconds(arg, &lim->send_timeout_ms); break;
	case OPT_NO_DIGESTS:
		lim->features &= ~(uint32_t)(PRB_FEAT_HDGST | PRB_FEAT_DDGST);
		return 0;
	case OPT_NO_ATOMICS: lim->features &= ~(uint32_t)PRB_FEAT_ATOMICS; return 0;
	case OPT_RDMA_KEYS:
		if (strcmp(arg, "mr") != 0 && strcmp(arg, "auto") != 0)
			err = -EINVAL;
		o->rdma_force_mr = strcmp(arg, "mr") == 0;
		break;
	case 'v': o->verbose++; return 0;
	default: return -EINVAL;
	}
	if (err)
		fprintf(stderr, "prb-target: bad value '%s'\n", arg);
	return err;
}

/* Shorter timeouts are allowed (tests use them) but PROTOCOL.md 6.4 advises against them. */
static void warn_short_timeouts(const struct prb_conn_limits *lim)
{
	const struct {
		const char *option;
		uint32_t ms, min_s;
	} t[] = {
		{ "--idle-timeout", lim->idle_timeout_ms, PRB_MIN_IDLE_TIMEOUT_S },
		{ "--hello-timeout", lim->hello_timeout_ms, PRB_MIN_HELLO_TIMEOUT_S },
		{ "--pdu-timeout", lim->pdu_timeout_ms, PRB_MIN_PDU_TIMEOUT_S },
		{ "--send-timeout", lim->send_timeout_ms, PRB_MIN_SEND_TIMEOUT_S },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].ms && t[i].ms < t[i].min_s * 1000u)
			fprintf(stderr, "prb-target: warning: %s below the %u s the protocol "
					"advises (fine for tests)\n", t[i].option, t[i].min_s);
}

/* \return 0 to run, 1 after --help/--version, or -EINVAL. */
static int parse_options(int argc, char **argv, struct options *o)
{
	int opt;

	memset(o, 0, sizeof(*o));
	o->tcp.limits.queue_depth = 128;
	o->tcp.limits.max_data = PRB_MAX_DATA_LIMIT;
	o->tcp.limits.max_mappings = 4096;
	o->tcp.limits.features = PRB_FEAT_HDGST | PRB_FEAT_DDGST | PRB_FEAT_ATOMICS;
	o->tcp.limits.idle_timeout_ms = 300000;
	o->tcp.limits.hello_timeout_ms = 10000;
	o->tcp.limits.pdu_timeout_ms = 30000;
	o->tcp.limits.send_timeout_ms = 30000;
	o->tcp.limits.tx_backlog_max = PRB_CONN_TX_BACKLOG_DEFAULT;
	o->tcp.max_connections = 1024;
	o->tcp.socket_buffer = 4 << 20;
	while ((opt = getopt_long(argc, argv, "vhV", long_options, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 1;
		}
		if (opt == 'V') {
			printf("prb-target %s (prb protocol version %u)\n", PRB_VERSION_STRING,
			       (unsigned)PRB_VERSION);
			return 1;
		}
		if (opt == '?' || parse_option(o, opt, optarg) < 0) {
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "prb-target: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (o->tier_size && !o->tier) {
		fprintf(stderr, "prb-target: --tier-size needs --tier\n");
		return -EINVAL;
	}
	warn_short_timeouts(&o->tcp.limits);
	return 0;
}

/* Size to create a file with: the given one when the file is absent, else 0 (keep it). */
static uint64_t create_size(const char *path, uint64_t requested, uint64_t fallback)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return 0;
	return requested ? requested : fallback;
}

static int open_store(const struct options *o, struct prb_store **store)
{
	struct prb_store_config cfg = { 0 };
	const char *pool = o->pool;
	int err;

	if (!pool) {
		pool = DEFAULT_POOL;
		if (mkdir(DEFAULT_POOL_DIR, 0755) < 0 && errno != EEXIST) {
			prb_err("mkdir %s: %s", DEFAULT_POOL_DIR, strerror(errno));
			return -errno;
		}
	}
	cfg.pool_path = pool;
	cfg.pool_size = create_size(pool, o->size, DEFAULT_POOL_SIZE);
	cfg.tier_path = o->tier;
	if (o->tier) {
		cfg.tier_size = create_size(o->tier, o->tier_size, 0);
	}
	err = prb_store_open(&cfg, store);
	if (err < 0)
		prb_err("cannot open pool %s%s%s: %s", pool, o->tier ? " with tier " : "",
			o->tier ? o->tier : "", strerror(-err));
	return err;
}

/* Open every --listen (or the defaults); fill \p urls with one line per socket. */
static int start_listeners(const struct options *o, struct prb_tcp *tcp, struct prb_rdma *rdma,
			   char *urls, size_t len)
{
	if (o->nlisten == 0) {
		/* Both families on the spec's port; a host without IPv6 still serves IPv4. */
		int v4 = prb_tcp_listen(tcp, "0.0.0.0", PRB_TCP_PORT, urls, len);
		int v6 = prb_tcp_listen(tcp, "::", PRB_TCP_PORT, urls, len);

		if (v4 < 0 && v6 < 0)
			return v4;
		return 0;
	}
	for (unsigned i = 0; i < o->nlisten; i++) {
		struct prb_url url;
		int err = prb_url_parse(o->listen[i], &url);

		if (err < 0) {
			prb_err("bad --listen URL '%s' (tcp://ADDR[:PORT])", o->listen[i]);
			return err;
		}
		if (url.transport == PRB_TRANSPORT_RDMA)
			err = prb_rdma_listen(rdma, url.host, url.port, urls, len);
		else
			err = prb_tcp_listen(tcp, url.host, url.port, urls, len);
		if (err < 0 && url.transport == PRB_TRANSPORT_RDMA)
			prb_err("--listen %s: %s", o->listen[i], strerror(-err));
		if (err < 0)
			return err;
	}
	return 0;
}

/* The RDMA binding, when some --listen is rdma:// (same limits as TCP otherwise). */
static int start_rdma(const struct options *o, struct prb_loop *loop, struct prb_brick *brick,
		      struct prb_rdma **out)
{
	struct prb_rdma_config cfg = { .limits = o->tcp.limits,
				       .max_connections = o->tcp.max_connections,
				       .force_mr = o->rdma_force_mr };
	int err;

	*out = NULL;
	for (unsigned i = 0; i < o->nlisten; i++) {
		if (strncmp(o->listen[i], "rdma://", 7) != 0)
			continue;
		err = prb_rdma_new(loop, brick, &cfg, out);
		if (err < 0)
			prb_err("--listen %s: %s", o->listen[i], strerror(-err));
		return err;
	}
	return 0;
}

/* Write the listeners' URLs to FILE atomically (temporary file, then rename). */
static int write_ready_file(const char *path, const char *urls)
{
	size_t len = strlen(path) + 16;
	char *tmp = malloc(len);
	FILE *f;
	int err = 0;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		err = -errno;
		goto out_free;
	}
	if (fputs(urls, f) == EOF)
		err = -EIO;
	if (fclose(f) == EOF && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
out_free:
	free(tmp);
	if (err)
		prb_err("ready file %s: %s", path, strerror(-err));
	return err;
}

static void on_drained(void *arg)
{
	struct target *t = arg;

	if (--t->draining == 0)
		prb_loop_stop(t->loop);
}

static void on_grace_expired(void *arg)
{
	struct target *t = arg;

	prb_warn("connections still open after %d ms: closing them", SHUTDOWN_GRACE_MS);
	prb_loop_stop(t->loop);
}

static void on_signal(void *arg, uint32_t events)
{
	struct target *t = arg;
	struct signalfd_siginfo si;

	(void)events;
	if (read(t->signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (t->stopping) {
		prb_info("second signal %u: stopping now", si.ssi_signo);
		prb_loop_stop(t->loop);
		return;
	}
	prb_info("signal %u: shutting down", si.ssi_signo);
	t->stopping = true;
	prb_loop_timer_arm(t->loop, &t->grace, SHUTDOWN_GRACE_MS, on_grace_expired, t);
	t->draining = t->rdma ? 2 : 1;
	if (t->rdma)
		prb_rdma_shutdown(t->rdma, on_drained, t);
	prb_tcp_shutdown(t->tcp, SHUTDOWN_CUT_MS, on_drained, t);
}

/* SIGTERM/SIGINT arrive through a signalfd in the loop; SIGPIPE is ignored. */
static int setup_signals(struct target *t)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	t->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (t->signal_fd < 0)
		return -errno;
	return prb_loop_add_fd(t->loop, &t->signal_lfd, t->signal_fd, EPOLLIN, on_signal, t);
}

static int serve(const struct options *o)
{
	struct target t = { .signal_fd = -1 };
	struct prb_store *store = NULL;
	struct prb_brick *brick = NULL;
	struct prb_store_info info;
	char urls[URLS_MAX] = "";
	int err;

	err = open_store(o, &store);
	if (err < 0)
		return EXIT_RUNTIME;
	prb_store_get_info(store, &info);
	prb_info("pool open: %llu fast blocks (%llu free), %llu tier blocks (%llu free), "
		 "boot epoch %llu%s%s",
		 (unsigned long long)info.fast_blocks, (unsigned long long)info.fast_free,
		 (unsigned long long)info.tier_blocks, (unsigned long long)info.tier_free,
		 (unsigned long long)info.boot_epoch, info.persistent ? ", persistent memory" : "",
		 info.in_memory ? ", in memory (tmpfs: survives a crash of the brick, not a power loss)"
				: "");
	err = prb_brick_new(store, &brick);
	if (err < 0)
		goto err_close_store;
	err = prb_loop_new(&t.loop);
	if (err < 0)
		goto err_delete_brick;
	err = setup_signals(&t);
	if (err < 0)
		goto err_delete_loop;
	err = prb_tcp_new(t.loop, brick, &o->tcp, &t.tcp);
	if (err < 0)
		goto err_close_signals;
	err = start_rdma(o, t.loop, brick, &t.rdma);
	if (err < 0)
		goto err_delete_tcp;
	err = start_listeners(o, t.tcp, t.rdma, urls, sizeof(urls));
	if (err < 0)
		goto err_delete_tcp;
	if (o->ready_file) {
		err = write_ready_file(o->ready_file, urls);
		if (err < 0)
			goto err_delete_tcp;
	}
	err = prb_loop_run(t.loop);
	if (err < 0)
		prb_err("event loop: %s", strerror(-err));
	prb_loop_timer_cancel(t.loop, &t.grace);

err_delete_tcp:
	prb_rdma_delete(t.rdma);
	prb_tcp_delete(t.tcp);
err_close_signals:
	if (t.signal_fd >= 0) {
		prb_loop_del_fd(t.loop, &t.signal_lfd);
		close(t.signal_fd);
	}
err_delete_loop:
	prb_loop_delete(t.loop);
err_delete_brick:
	prb_brick_delete(brick);
err_close_store:
	prb_store_close(store);
	if (err < 0)
		return EXIT_RUNTIME;
	prb_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);

	if (rc < 0)
		return EXIT_USAGE;
	if (rc > 0)
		return 0;
	prb_log_set_level(o.verbose ? PRB_LOG_DEBUG : PRB_LOG_INFO);
	return serve(&o);
}
