/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash at every persist point (store_fault.h). A child process runs a fixed workload of
 * ALLOC, FREE, WRITE+persist and recalls on a tiered pool and is killed with SIGKILL at
 * persist point N; it reports each operation's result through a pipe as the operation
 * returns (its acknowledgement). The parent reopens the pool and checks the invariants:
 * every acknowledged ALLOC present and FREE absent, persisted data intact, the one
 * operation in flight applied per block or not at all (new blocks zero, freed blocks
 * gone or intact), no slot in two blocks, no slot leaked, every free slot zero. Each
 * point is also run as a power loss (slot-entry stores since the last commit undone,
 * store_fault.h) and with a second crash during the recovery itself.
 *   test_store_crash          every point of the workload; recovery crashed at two points
 *   test_store_crash --long   also every recovery point and a workload without a tier
 */
#define _POSIX_C_SOURCE 200809L /* setenv, fork */
#include "store_test_util.h"
#include "store_check.h"
#include "store_fault.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAST_SLOTS 4
#define TIER_SLOTS 4
#define MAX_BLOCKS 64

enum op_kind { OP_ALLOC, OP_FREE, OP_WRITE, OP_PIN };

struct op {
	enum op_kind kind;
	uint64_t block;
	uint32_t count;
	uint64_t seed; /* OP_WRITE */
	int want;      /* its result */
};

/* Setup (not crashed): blocks 0..2 written with seeds 1..3. Capacity is 8 blocks. */
static const struct op tiered_workload[] = {
	{OP_ALLOC, 10, 3, 0, 0},   /* one fast slot left, two new blocks in the tier */
	{OP_WRITE, 11, 1, 111, 0}, /* recall from the tier: evicts a resident block */
	{OP_WRITE, 12, 1, 112, 0},     {OP_FREE, 1, 1, 0, 0},	  {OP_ALLOC, 20, 2, 0, 0},
	{OP_WRITE, 20, 1, 120, 0},     {OP_PIN, 0, 1, 0, 0},	  {OP_FREE, 10, 3, 0, 0},
	{OP_ALLOC, 30, 4, 0, 0}, /* full: 0 2 20 21 30..33 */
	{OP_ALLOC, 40, 1, 0, -ENOSPC}, {OP_WRITE, 33, 1, 133, 0}, {OP_WRITE, 0, 1, 100, 0},
	{OP_FREE, 20, 2, 0, 0},	       {OP_WRITE, 2, 1, 102, 0},  {OP_ALLOC, 40, 1, 0, 0},
	{OP_FREE, 0, 3, 0, -ENOENT},   {OP_WRITE, 30, 1, 130, 0}, {OP_FREE, 30, 4, 0, 0},
	{OP_PIN, 40, 1, 0, 0},	       {OP_WRITE, 40, 1, 140, 0}, {OP_ALLOC, 50, 3, 0, 0},
	{OP_WRITE, 52, 1, 152, 0},     {OP_FREE, 0, 1, 0, 0},
};

/* Without a tier: 8 fast slots; the same setup (0..2 written). */
static const struct op plain_workload[] = {
	{OP_ALLOC, 3, 3, 0, 0},	 {OP_WRITE, 4, 1, 104, 0},     {OP_FREE, 1, 2, 0, 0},
	{OP_ALLOC, 1, 2, 0, 0},	 {OP_WRITE, 1, 1, 101, 0},     {OP_ALLOC, 8, 4, 0, -ENOSPC},
	{OP_ALLOC, 8, 2, 0, 0},	 {OP_FREE, 0, 10, 0, -ENOENT}, {OP_FREE, 0, 6, 0, 0},
	{OP_ALLOC, 20, 6, 0, 0}, {OP_WRITE, 25, 1, 125, 0},    {OP_FREE, 8, 2, 0, 0},
};

struct workload {
	const char *name;
	const struct op *ops;
	size_t count;
	bool tiered;
};

struct model {
	bool present[MAX_BLOCKS];
	uint64_t seed[MAX_BLOCKS]; /* 0 = zeros */
};

struct ack {
	uint32_t op;
	int32_t rc;
};

static int open_pool(const struct workload *w, struct prb_store **s)
{
	if (w->tiered)
		return store_test_open("pool", store_test_pool_bytes(FAST_SLOTS), "tier",
				       store_test_tier_bytes(TIER_SLOTS), s);
	return store_test_open("pool", store_test_pool_bytes(2 * FAST_SLOTS), NULL, 0, s);
}

static int write_block(struct prb_store *s, uint64_t block, uint64_t seed)
{
	uint8_t *data;
	int rc = prb_store_pin(s, block, &data);

	if (rc)
		return rc;
	if (seed)
		store_test_fill(data, seed);
	prb_store_persist(s, data, SLOT);
	prb_store_unpin(s, block);
	return 0;
}

static int do_op(struct prb_store *s, const struct op *op)
{
	switch (op->kind) {
	case OP_ALLOC:
		return prb_store_alloc(s, op->block, op->count);
	case OP_FREE:
		return prb_store_free(s, op->block, op->count);
	case OP_WRITE:
		return write_block(s, op->block, op->seed);
	case OP_PIN:
		return write_block(s, op->block, 0);
	}
	return -EINVAL;
}

static void model_apply(struct model *m, const struct op *op)
{
	for (uint64_t b = op->block; b < op->block + op->count; b++) {
		if (op->kind == OP_ALLOC) {
			m->present[b] = true;
			m->seed[b] = 0;
		} else if (op->kind == OP_FREE) {
			m->present[b] = false;
		} else if (op->kind == OP_WRITE) {
			m->seed[b] = op->seed;
		}
	}
}

/* Fresh pool with blocks 0..2 holding seeds 1..3. */
/* Fresh pool with blocks 0..2 holding seeds 1..3: made once, then copied (no fsyncs). */
static void setup_pool(const struct workload *w, struct model *m, bool first)
{
	struct prb_store *s = NULL;

	memset(m, 0, sizeof(*m));
	for (uint64_t b = 0; b < 3; b++) {
		m->present[b] = true;
		m->seed[b] = b + 1;
	}
	if (!first) {
		CHECK_RC(store_test_copy("golden-pool", "pool"), 0);
		if (w->tiered)
			CHECK_RC(store_test_copy("golden-tier", "tier"), 0);
		return;
	}
	store_test_unlink("pool");
	store_test_unlink("tier");
	CHECK_RC(open_pool(w, &s), 0);
	if (!s)
		exit(1);
	CHECK_RC(prb_store_alloc(s, 0, 3), 0);
	for (uint64_t b = 0; b < 3; b++)
		CHECK_RC(write_block(s, b, b + 1), 0);
	prb_store_close(s);
	CHECK_RC(store_test_copy("pool", "golden-pool"), 0);
	if (w->tiered)
		CHECK_RC(store_test_copy("tier", "golden-tier"), 0);
}

/* The child: crash at persist point crash_at (0 = never), acknowledging each operation. */
static void child_run(const struct workload *w, uint64_t crash_at, int ack_fd, uint64_t *points)
{
	struct prb_store *s = NULL;
	char value[32];

	snprintf(value, sizeof(value), "%llu", (unsigned long long)crash_at);
	setenv(PRB_STORE_CRASH_AT_ENV, value, 1);
	if (open_pool(w, &s))
		_exit(2);
	for (uint32_t i = 0; i < w->count; i++) {
		struct ack ack = {i, do_op(s, &w->ops[i])};

		if (write(ack_fd, &ack, sizeof(ack)) != (ssize_t)sizeof(ack))
			_exit(2);
	}
	if (points)
		*points = prb_store_fault_points(s);
	prb_store_close(s);
	unsetenv(PRB_STORE_CRASH_AT_ENV);
}

/* May block b be found in the state after the op in flight, rather than before it? */
static bool in_flight_touches(const struct op *op, uint64_t b)
{
	return op && op->want == 0 && b >= op->block && b < op->block + op->count;
}

static bool data_is(const uint8_t *data, uint64_t seed)
{
	return seed ? store_test_verify(data, seed) : store_test_is_zero(data);
}

static void verify_block(struct prb_store *s, const struct model *m, const struct op *flight,
			 uint64_t b, const char *where)
{
	static uint8_t *data;
	int exists = prb_store_exists(s, b);
	bool ok;

	if (!exists) {
		ok = !m->present[b] || (in_flight_touches(flight, b) && flight->kind == OP_FREE);
		if (!ok)
			fprintf(stderr, "%s: block %llu lost\n", where, (unsigned long long)b);
		CHECK(ok);
		return;
	}
	if (!m->present[b] && !(in_flight_touches(flight, b) && flight->kind == OP_ALLOC)) {
		fprintf(stderr, "%s: block %llu should not exist\n", where, (unsigned long long)b);
		CHECK(false);
		return;
	}
	if (!data)
		data = malloc(SLOT);
	if (!data)
		exit(1);
	CHECK_RC(prb_store_peek(s, b, data), 0); /* a pin would move blocks: slow, and later */
	if (!m->present[b])
		ok = store_test_is_zero(data); /* allocated by the op in flight */
	else if (in_flight_touches(flight, b) && flight->kind == OP_WRITE)
		ok = data_is(data, m->seed[b]) || data_is(data, flight->seed);
	else
		ok = data_is(data, m->seed[b]);
	if (!ok)
		fprintf(stderr, "%s: block %llu data wrong\n", where, (unsigned long long)b);
	CHECK(ok);
}

/* Reopen and check; pin_all also pins every block (moving blocks after recovery). */
static void verify(const struct workload *w, const struct model *m, size_t acked, const char *where,
		   bool pin_all)
{
	const struct op *flight = acked < w->count ? &w->ops[acked] : NULL;
	struct prb_store *s = NULL;

	CHECK_RC(open_pool(w, &s), 0);
	if (!s)
		return;
	store_test_check(s, true, where);
	for (uint64_t b = 0; b < MAX_BLOCKS; b++)
		verify_block(s, m, flight, b, where);
	for (uint64_t b = 0; b < MAX_BLOCKS && pin_all; b++) {
		uint8_t *data;

		if (prb_store_exists(s, b) != 1)
			continue;
		CHECK_RC(prb_store_pin(s, b, &data), 0);
		prb_store_unpin(s, b);
	}
	store_test_check(s, pin_all, where);
	prb_store_close(s);
}

/* Fork a child that crashes at `crash_at`; collect its acknowledgements into the model. */
static size_t crash_run(const struct workload *w, uint64_t crash_at, struct model *m,
			bool recovery_only, bool power_loss)
{
	struct ack ack;
	size_t acked = 0;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds)) {
		perror("pipe");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (recovery_only) {
			struct prb_store *s = NULL;
			char value[32];

			snprintf(value, sizeof(value), "%llu", (unsigned long long)crash_at);
			setenv(PRB_STORE_CRASH_AT_ENV, value, 1);
			_exit(open_pool(w, &s) ? 2 : 0); /* no close: as abrupt as a crash */
		}
		if (power_loss)
			setenv(PRB_STORE_CRASH_MODE_ENV, "power", 1);
		child_run(w, crash_at, fds[1], NULL);
		_exit(0);
	}
	close(fds[1]);
	while (read(fds[0], &ack, sizeof(ack)) == (ssize_t)sizeof(ack)) {
		CHECK(ack.op == acked);
		CHECK_RC(ack.rc, w->ops[acked].want);
		if (ack.rc == 0)
			model_apply(m, &w->ops[acked]);
		acked++;
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
	      (WIFEXITED(status) && WEXITSTATUS(status) == 0));
	return acked;
}

static void run_workload(const struct workload *w, bool longer)
{
	struct model m;
	uint64_t points = 0;
	int fds[2];
	struct ack ack;
	char where[96];

	/* A run without a crash: every result as expected, and the number of points. */
	setup_pool(w, &m, true);
	if (pipe(fds)) {
		perror("pipe");
		exit(1);
	}
	child_run(w, 0, fds[1], &points);
	close(fds[1]);
	for (size_t i = 0; read(fds[0], &ack, sizeof(ack)) == (ssize_t)sizeof(ack); i++)
		CHECK_RC(ack.rc, w->ops[i].want);
	close(fds[0]);
	CHECK(points > w->count);
	printf("%s: %llu persist points\n", w->name, (unsigned long long)points);

	for (uint64_t n = 1; n <= points && store_test_failures == 0; n++) {
		/* r = 0: kill at point n, reopen; r = 1: the same as a power loss (entry stores
		 * since the last commit undone); r >= 2: kill, then crash the recovery itself at
		 * its persist point r (point 1 is the boot epoch), then reopen. */
		for (uint64_t r = 0; r <= (longer ? 12u : 3u) && store_test_failures == 0; r++) {
			size_t acked;

			setup_pool(w, &m, false);
			acked = crash_run(w, n, &m, false, r == 1);
			if (r >= 2)
				crash_run(w, r, &m, true, false);
			snprintf(where, sizeof(where), "%s crash at %llu (%zu acked), %s %llu",
				 w->name, (unsigned long long)n, acked,
				 r == 1 ? "power loss" : "recovery crash at",
				 (unsigned long long)r);
			verify(w, &m, acked, where, longer);
		}
	}
}

int main(int argc, char **argv)
{
	bool longer = argc > 1 && strcmp(argv[1], "--long") == 0;
	const struct workload tiered = {"tiered", tiered_workload,
					sizeof(tiered_workload) / sizeof(tiered_workload[0]), true};
	const struct workload plain = {"plain", plain_workload,
				       sizeof(plain_workload) / sizeof(plain_workload[0]), false};

	store_test_setup("store-crash");
	run_workload(&tiered, longer);
	if (longer)
		run_workload(&plain, longer);
	store_test_teardown();
	return store_test_finish(longer ? "store.crash_long" : "store.crash");
}
