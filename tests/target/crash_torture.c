/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash torture of prb-target: a load of ALLOC / FREE / WRITE+FLUSH against a target
 * on a small pool with a tier, SIGKILL at a random moment, restart on the same pool,
 * and a check against what the client saw acknowledged:
 *   - every acknowledged ALLOC present, every acknowledged FREE absent (an operation in
 *     flight at the kill may go either way, block by block);
 *   - LIST sorted, non-overlapping, coalesced; INFO's free count matches it (no slot
 *     leaked or shared);
 *   - flushed data intact, newly allocated blocks zero;
 *   - boot_epoch grown at every start.
 *
 *   crash_torture [--rounds N] [--seed S] [--no-tier]   (PRB_TARGET: the prb-target binary)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define B ((uint64_t)PRB_BLOCK_SIZE)
#define NBLOCKS 48            /* logical addresses in play: more than the capacity */
#define SLOTS 8               /* 4 KiB data slots per block, 256 KiB apart */
#define SLOT_SIZE 4096u
#define SLOT_STRIDE (256u * 1024u)
#define BASE_BLOCK 4096       /* first logical block used */

enum presence { ABSENT, PRESENT, MAYBE };

struct block_model {
	enum presence presence;
	bool maybe_zero;             /* MAYBE from an ALLOC: if present it is all zeros */
	uint64_t seed[SLOTS];        /* 0: zeros */
	bool known[SLOTS];           /* false: a write was in flight, content unknown */
};

struct torture {
	const char *target;
	char dir[256];
	char url[300];
	pid_t pid;
	uint64_t epoch;
	uint64_t rng;
	struct block_model model[NBLOCKS];
	unsigned long acked_ops, uncertain_ops;
	bool no_tier;
};

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, "crash_torture: " __VA_ARGS__);                                    \
		fputc('\n', stderr);                                                               \
		return -1;                                                                         \
	} while (0)

static uint64_t rnd(struct torture *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

static uint64_t addr_of(int i)
{
	return ((uint64_t)BASE_BLOCK + (uint64_t)i) * B;
}

/* Start the target on the pool; wait for its ready file; remember its URL. */
static int start_target(struct torture *t)
{
	char pool[300], tier[300], ready[300];
	FILE *f;

	snprintf(pool, sizeof(pool), "%s/pool", t->dir);
	snprintf(tier, sizeof(tier), "%s/tier", t->dir);
	snprintf(ready, sizeof(ready), "%s/ready", t->dir);
	unlink(ready);
	t->pid = fork();
	if (t->pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (t->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* Keep stderr for errors; the info lines of 50 starts are noise. */
		if (null >= 0 && !getenv("PRB_TORTURE_VERBOSE"))
			dup2(null, 2);
		if (t->no_tier)
			execl(t->target, t->target, "--pool", pool, "--size", "64M", "--listen",
			      "tcp://127.0.0.1:0", "--ready-file", ready, (char *)NULL);
		else
			execl(t->target, t->target, "--pool", pool, "--size", "32M", "--tier", tier,
			      "--tier-size", "32M", "--listen", "tcp://127.0.0.1:0",
			      "--ready-file", ready, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 3000; i++) {
		int status;

		f = fopen(ready, "r");
		if (f) {
			bool ok = fgets(t->url, sizeof(t->url), f) != NULL;

			fclose(f);
			if (ok) {
				t->url[strcspn(t->url, "\n")] = 0;
				return 0;
			}
		}
		if (waitpid(t->pid, &status, WNOHANG) == t->pid)
			FAIL("prb-target exited (status %#x) before it was ready", status);
		usleep(10000);
	}
	FAIL("prb-target not ready after 30 s");
}

/* List everything, checking order, overlap and coalescing; mark present blocks. */
static int list_check(struct torture *t, struct tc *c, bool present[NBLOCKS], uint64_t *total)
{
	struct prb_extent ext[64];
	uint64_t cursor = 0, next, last_end = 0;
	uint16_t last_state = 0;
	uint32_t count, flags;
	bool first = true;

	*total = 0;
	memset(present, 0, NBLOCKS * sizeof(bool));
	for (;;) {
		int st = tc_list(c, cursor, 64, ext, &count, &next, &flags);

		if (st != 0)
			FAIL("LIST: %d", st);
		for (uint32_t i = 0; i < count; i++) {
			uint64_t b0 = ext[i].addr / B;

			if (!first && ext[i].addr < last_end)
				FAIL("LIST: extents out of order or overlapping at %#llx",
				     (unsigned long long)ext[i].addr);
			if (i > 0 && ext[i].addr == last_end && ext[i].state == last_state)
				FAIL("LIST: adjacent extents with one state not coalesced");
			for (uint64_t b = b0; b < b0 + ext[i].blocks; b++) {
				if (b < BASE_BLOCK || b >= BASE_BLOCK + NBLOCKS)
					FAIL("LIST: block %llu was never allocated",
					     (unsigned long long)b);
				present[b - BASE_BLOCK] = true;
			}
			*total += ext[i].blocks;
			last_end = ext[i].addr + ext[i].blocks * B;
			last_state = ext[i].state;
			first = false;
		}
		if (flags & PRB_LIST_END)
			break;
		if (count == 0)
			FAIL("LIST: count 0 without END");
		cursor = next;
	}
	(void)t;
	return 0;
}

/* After a restart: compare the brick with the model, then make the model exact. */
static int verify(struct torture *t, struct tc *c)
{
	static uint8_t want[SLOT_SIZE], got[SLOT_SIZE];
	bool present[NBLOCKS];
	struct prb_info_rsp info;
	uint64_t total;

	if (list_check(t, c, present, &total) < 0)
		return -1;
	if (tc_info(c, &info) != 0)
		FAIL("INFO failed");
	if (info.capacity_blocks - info.free_blocks != total)
		FAIL("INFO: %llu used slots (fast %llu/%llu free, tier %llu/%llu free) but LIST "
		     "shows %llu blocks (PRB-DUR-5: free + allocated = capacity)",
		     (unsigned long long)(info.capacity_blocks - info.free_blocks),
		     (unsigned long long)info.fast_free, (unsigned long long)info.fast_blocks,
		     (unsigned long long)info.tier_free, (unsigned long long)info.tier_blocks,
		     (unsigned long long)total);
	for (int i = 0; i < NBLOCKS; i++) {
		struct block_model *m = &t->model[i];
		uint64_t h;

		if (m->presence == PRESENT && !present[i])
			FAIL("block %d: acknowledged ALLOC lost", i);
		if (m->presence == ABSENT && present[i])
			FAIL("block %d: acknowledged FREE undone", i);
		if (m->presence == MAYBE) {
			m->presence = present[i] ? PRESENT : ABSENT;
			if (present[i] && m->maybe_zero)
				for (int s = 0; s < SLOTS; s++) {
					m->seed[s] = 0;
					m->known[s] = true;
				}
		}
		if (m->presence != PRESENT)
			continue;
		if (tc_map(c, addr_of(i), 0, &h) != 0)
			FAIL("block %d: MAP failed", i);
		for (int s = 0; s < SLOTS; s++) {
			if (!m->known[s])
				continue;
			if (tc_read(c, h, (uint32_t)s * SLOT_STRIDE, SLOT_SIZE, got) != 0)
				FAIL("block %d: READ failed", i);
			if (m->seed[s])
				tc_pattern(want, SLOT_SIZE, m->seed[s]);
			else
				memset(want, 0, SLOT_SIZE);
			if (memcmp(want, got, SLOT_SIZE) != 0)
				FAIL("block %d slot %d: flushed data lost (seed %llu)", i, s,
				     (unsigned long long)m->seed[s]);
		}
		if (tc_unmap(c, h) != 0)
			FAIL("block %d: UNMAP failed", i);
	}
	return 0;
}

struct killer {
	pid_t pid;
	unsigned delay_us;
};

static void *killer_thread(void *p)
{
	struct killer *k = p;

	usleep(k->delay_us);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* One operation of the load. \return 0 when acknowledged (any status), -1 when the
 * connection died with it in flight (the model is left uncertain). */
static int load_op(struct torture *t, struct tc *c, uint64_t *seq)
{
	static uint8_t buf[SLOT_SIZE];
	int i = (int)(rnd(t) % NBLOCKS);
	struct block_model *m = &t->model[i];
	int st;

	if (m->presence == ABSENT) {
		/* ALLOC of up to 3 blocks starting here, if they are all absent. */
		int n = 1 + (int)(rnd(t) % 3);

		for (int k = 1; k < n; k++)
			if (i + k >= NBLOCKS || t->model[i + k].presence != ABSENT)
				n = k;
		st = tc_alloc(c, addr_of(i), (uint32_t)n);
		if (st < 0) {
			for (int k = 0; k < n; k++) {
				t->model[i + k].presence = MAYBE;
				t->model[i + k].maybe_zero = true;
			}
			return -1;
		}
		if (st == 0)
			for (int k = 0; k < n; k++) {
				struct block_model *mk = &t->model[i + k];

				mk->presence = PRESENT;
				for (int s = 0; s < SLOTS; s++) {
					mk->seed[s] = 0;
					mk->known[s] = true;
				}
			}
		else if (st != PRB_ST_ENOSPC)
			FAIL("ALLOC block %d: status %d", i, st);
		return 0;
	}
	if (rnd(t) % 10 < 3) {
		st = tc_free(c, addr_of(i), 1, 0);
		if (st < 0) {
			m->presence = MAYBE;
			m->maybe_zero = false;
			return -1;
		}
		if (st != 0)
			FAIL("FREE block %d: status %d", i, st);
		m->presence = ABSENT;
		return 0;
	}
	{
		int s = (int)(rnd(t) % SLOTS);
		uint64_t h;

		st = tc_map(c, addr_of(i), PRB_MAP_WRITE, &h);
		if (st < 0)
			return -1;
		if (st != 0)
			FAIL("MAP block %d: status %d", i, st);
		m->known[s] = false;
		(*seq)++;
		tc_pattern(buf, SLOT_SIZE, *seq);
		st = tc_write(c, h, (uint32_t)s * SLOT_STRIDE, buf, SLOT_SIZE);
		if (st == 0)
			st = tc_flush(c, h, (uint32_t)s * SLOT_STRIDE, SLOT_SIZE);
		if (st < 0)
			return -1;
		if (st != 0)
			FAIL("WRITE/FLUSH block %d: status %d", i, st);
		m->seed[s] = *seq;
		m->known[s] = true;
		st = tc_unmap(c, h);
		if (st < 0)
			return -1;
		return 0;
	}
}

static int round_once(struct torture *t, int round, bool last)
{
	struct killer k = { 0 };
	pthread_t killer;
	uint64_t seq = (uint64_t)round * 1000000u + 1;
	struct tc c;
	int status, err;

	if (start_target(t) < 0)
		return -1;
	err = tc_open(&c, t->url, 0, 4);
	if (err != 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		FAIL("round %d: connect/HELLO: %d", round, err);
	}
	err = c.hello.boot_epoch > t->epoch ? verify(t, &c) : -1;
	if (c.hello.boot_epoch <= t->epoch)
		fprintf(stderr, "crash_torture: round %d: boot_epoch %llu not above %llu\n", round,
			(unsigned long long)c.hello.boot_epoch, (unsigned long long)t->epoch);
	t->epoch = c.hello.boot_epoch;
	if (err < 0) {
		tc_close(&c);
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		return -1;
	}
	if (last) {
		tc_close(&c);
		kill(t->pid, SIGTERM);
		waitpid(t->pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("prb-target did not stop cleanly on SIGTERM (status %#x)", status);
		return 0;
	}
	k.pid = t->pid;
	k.delay_us = 20000u + (unsigned)(rnd(t) % 300000u);
	if (pthread_create(&killer, NULL, killer_thread, &k) != 0)
		FAIL("pthread_create");
	for (;;) {
		int r = load_op(t, &c, &seq);

		if (r < 0) {
			t->uncertain_ops++;
			break;
		}
		t->acked_ops++;
	}
	pthread_join(killer, NULL);
	tc_close(&c);
	waitpid(t->pid, &status, 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		FAIL("round %d: prb-target ended with status %#x, not by SIGKILL", round, status);
	return 0;
}

static void remove_dir(const char *dir)
{
	static const char *const names[] = { "pool", "tier", "ready" };
	char path[300];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	struct torture t = { 0 };
	int rounds = 50, rc = 0;
	const char *tmp = getenv("TMPDIR");
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	t.rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-tier"))
			t.no_tier = true;
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			t.rng = strtoull(argv[++i], NULL, 0) | 1;
		else {
			fprintf(stderr, "usage: crash_torture [--rounds N] [--seed S] "
					"[--no-tier]\n");
			return 2;
		}
	}
	t.target = getenv("PRB_TARGET");
	if (!t.target || rounds < 1) {
		fprintf(stderr, "crash_torture: set PRB_TARGET to the prb-target binary\n");
		return 2;
	}
	printf("crash_torture: %d rounds, seed %#llx\n", rounds, (unsigned long long)t.rng);
	snprintf(t.dir, sizeof(t.dir), "%s/prb-torture.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(t.dir)) {
		perror("mkdtemp");
		return 1;
	}
	for (int r = 0; r <= rounds && rc == 0; r++) {
		rc = round_once(&t, r, r == rounds);
		if (rc)
			fprintf(stderr, "crash_torture: round %d failed\n", r);
	}
	if (rc && getenv("PRB_KEEP_POOL"))
		fprintf(stderr, "crash_torture: pool kept in %s\n", t.dir);
	else
		remove_dir(t.dir);
	printf("crash_torture: %s after %lu acknowledged and %lu interrupted operations\n",
	       rc ? "FAILED" : "passed", t.acked_ops, t.uncertain_ops);
	return rc ? 1 : 0;
}
