/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's semantics, one function per behaviour of store.h: open and info, ALLOC,
 * FREE, exists, pin/unpin/persist, LIST, zero-fill, tiering, reopen, bad pools.
 */
#define _GNU_SOURCE /* ftruncate, fstatfs */
#include "store_test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK_LIMIT (UINT64_C(1) << 43)

static struct prb_store *open_plain(uint64_t slots)
{
	struct prb_store *s = NULL;

	CHECK_RC(store_test_open("pool", store_test_pool_bytes(slots), NULL, 0, &s), 0);
	if (!s) {
		fprintf(stderr, "cannot open a pool: nothing else can be tested\n");
		exit(1);
	}
	return s;
}

static struct prb_store *open_tiered(uint64_t fast, uint64_t tier)
{
	struct prb_store *s = NULL;

	CHECK_RC(store_test_open("pool", store_test_pool_bytes(fast), "tier",
				 store_test_tier_bytes(tier), &s),
		 0);
	if (!s) {
		fprintf(stderr, "cannot open a tiered pool: nothing else can be tested\n");
		exit(1);
	}
	return s;
}

static void remove_pool(void)
{
	store_test_unlink("pool");
	store_test_unlink("tier");
}

static void test_open_info_epoch_uuid(void)
{
	struct prb_store_info a, b;
	struct prb_store *s = open_plain(8);

	prb_store_get_info(s, &a);
	CHECK(a.fast_blocks == 8);
	CHECK(a.fast_free == 8);
	CHECK(a.tier_blocks == 0 && a.tier_free == 0);
	CHECK(a.boot_epoch == 1);
	CHECK(!a.persistent); /* the tests run on a page-cache file system */
	CHECK((a.uuid[6] >> 4) == 4);
	prb_store_close(s);
	for (uint64_t epoch = 2; epoch <= 4; epoch++) {
		s = open_plain(0);
		prb_store_get_info(s, &b);
		CHECK(b.boot_epoch == epoch);
		CHECK(memcmp(a.uuid, b.uuid, 16) == 0);
		CHECK(b.fast_blocks == 8);
		prb_store_close(s);
	}
	/* Another pool gets another UUID. */
	remove_pool();
	s = open_plain(8);
	prb_store_get_info(s, &b);
	CHECK(memcmp(a.uuid, b.uuid, 16) != 0);
	CHECK(b.boot_epoch == 1);
	prb_store_close(s);
	prb_store_close(NULL);
	remove_pool();
}

static bool path_on_tmpfs(const char *path)
{
	struct statfs fs;

	return statfs(path, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
}

/* The child's half of test_in_memory_pool: change the pool, then die without closing. */
static void crash_after_changes(const char *pool)
{
	struct prb_store_config cfg = { .pool_path = pool, .pool_size = store_test_pool_bytes(4) };
	struct prb_store *s;
	uint8_t *data;

	if (prb_store_open(&cfg, &s) || prb_store_alloc(s, 1, 2) || prb_store_free(s, 2, 1) ||
	    prb_store_pin(s, 1, &data))
		_exit(3);
	store_test_fill(data, 33);
	prb_store_persist(s, data, SLOT);
	raise(SIGKILL);
	_exit(4);
}

/*
 * A pool on tmpfs is memory: the store persists with a fence instead of msync and says
 * so (in_memory, never persistent), and what it acknowledged still survives a crash of
 * its process. A pool elsewhere keeps msync.
 */
static void test_in_memory_pool(void)
{
	char dir[] = "/dev/shm/prb-store-basic.XXXXXX";
	char pool[sizeof(dir) + 8];
	struct prb_store_info info;
	struct prb_store *s = open_plain(2);
	uint8_t *data;
	int status = 0;
	pid_t child;

	prb_store_get_info(s, &info);
	CHECK(info.in_memory == path_on_tmpfs(store_test_path(0, "pool")));
	prb_store_close(s);
	remove_pool();

	if (!path_on_tmpfs("/dev/shm") || !mkdtemp(dir)) {
		fprintf(stderr, "%s: no tmpfs at /dev/shm: the in-memory pool is not tested\n",
			__func__);
		store_test_failures++;
		return;
	}
	snprintf(pool, sizeof(pool), "%s/pool", dir);
	child = fork();
	if (child == 0)
		crash_after_changes(pool);
	CHECK(child > 0 && waitpid(child, &status, 0) == child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	struct prb_store_config cfg = { .pool_path = pool };
	CHECK_RC(prb_store_open(&cfg, &s), 0);
	if (s) {
		prb_store_get_info(s, &info);
		CHECK(info.in_memory && !info.persistent);
		CHECK(info.boot_epoch == 2);
		CHECK_RC(prb_store_exists(s, 1), 1);
		CHECK_RC(prb_store_exists(s, 2), 0);
		CHECK_RC(prb_store_pin(s, 1, &data), 0);
		CHECK(data && store_test_verify(data, 33));
		prb_store_unpin(s, 1);
		store_test_check(s, false, __func__);
		prb_store_close(s);
	}
	unlink(pool);
	rmdir(dir);
}

static void test_alloc_errors_all_or_none(void)
{
	struct prb_store_info info;
	struct prb_store *s = open_plain(8);

	CHECK_RC(prb_store_alloc(s, 0, 0), -EINVAL);
	CHECK_RC(prb_store_alloc(s, BLOCK_LIMIT, 1), -EINVAL);
	CHECK_RC(prb_store_alloc(s, BLOCK_LIMIT - 1, 2), -EINVAL);
	CHECK_RC(prb_store_alloc(s, UINT64_MAX, 1), -EINVAL);
	CHECK_RC(prb_store_alloc(s, BLOCK_LIMIT - 1, 1), 0); /* the last block exists */
	CHECK_RC(prb_store_exists(s, BLOCK_LIMIT - 1), 1);
	CHECK_RC(prb_store_alloc(s, 10, 3), 0);
	CHECK_RC(prb_store_alloc(s, 8, 3), -EEXIST); /* overlaps 10 */
	CHECK_RC(prb_store_exists(s, 8), 0);
	CHECK_RC(prb_store_exists(s, 9), 0);
	CHECK_RC(prb_store_alloc(s, 12, 1), -EEXIST);
	CHECK_RC(prb_store_alloc(s, 100, 5), -ENOSPC); /* 4 left */
	CHECK_RC(prb_store_exists(s, 100), 0);
	prb_store_get_info(s, &info);
	CHECK(info.fast_free == 4);
	CHECK_RC(prb_store_alloc(s, 100, 4), 0);
	CHECK_RC(prb_store_alloc(s, 200, 1), -ENOSPC);
	CHECK_RC(prb_store_alloc(s, 100, 1), -EEXIST); /* EEXIST is checked before ENOSPC */
	prb_store_get_info(s, &info);
	CHECK(info.fast_free == 0);
	store_test_check(s, true, __func__);
	prb_store_close(s);
	remove_pool();
}

static void test_free_errors_all_or_none(void)
{
	struct prb_store_info info;
	struct prb_store *s = open_plain(8);
	uint8_t *data;

	CHECK_RC(prb_store_free(s, 0, 0), -EINVAL);
	CHECK_RC(prb_store_free(s, BLOCK_LIMIT - 1, 2), -EINVAL);
	CHECK_RC(prb_store_free(s, 5, 1), -ENOENT);
	CHECK_RC(prb_store_alloc(s, 5, 4), 0);
	CHECK_RC(prb_store_free(s, 4, 2), -ENOENT); /* 4 is not allocated: nothing freed */
	CHECK_RC(prb_store_exists(s, 5), 1);
	CHECK_RC(prb_store_free(s, 8, 2), -ENOENT);
	CHECK_RC(prb_store_exists(s, 8), 1);
	CHECK_RC(prb_store_pin(s, 7, &data), 0);
	CHECK_RC(prb_store_pin(s, 7, &data), 0); /* pins nest */
	CHECK_RC(prb_store_free(s, 5, 4), -EBUSY);
	CHECK_RC(prb_store_exists(s, 5), 1);
	prb_store_unpin(s, 7);
	CHECK_RC(prb_store_free(s, 7, 1), -EBUSY);
	prb_store_unpin(s, 7);
	prb_store_unpin(s, 7); /* one too many: ignored */
	CHECK_RC(prb_store_free(s, 5, 4), 0);
	for (uint64_t b = 5; b < 9; b++)
		CHECK_RC(prb_store_exists(s, b), 0);
	CHECK_RC(prb_store_free(s, 5, 1), -ENOENT);
	prb_store_get_info(s, &info);
	CHECK(info.fast_free == 8);
	store_test_check(s, true, __func__);
	prb_store_close(s);
	remove_pool();
}

static void test_pin_zero_persist_reopen(void)
{
	struct prb_store *s = open_plain(4);
	uint8_t *data, *again;

	CHECK_RC(prb_store_pin(s, 1, &data), -ENOENT);
	CHECK_RC(prb_store_exists(s, BLOCK_LIMIT), 0);
	CHECK_RC(prb_store_pin(s, BLOCK_LIMIT, &data), -ENOENT);
	CHECK_RC(prb_store_alloc(s, 1, 2), 0);
	CHECK_RC(prb_store_pin(s, 1, &data), 0);
	CHECK(store_test_is_zero(data));
	store_test_fill(data, 11);
	prb_store_persist(s, data, SLOT);
	CHECK_RC(prb_store_pin(s, 1, &again), 0);
	CHECK(again == data);
	prb_store_unpin(s, 1);
	prb_store_unpin(s, 1);
	CHECK_RC(prb_store_pin(s, 2, &data), 0);
	store_test_fill(data, 22);
	prb_store_persist(s, data + 4096, 100); /* partial, unaligned persists are fine */
	prb_store_persist(s, data, SLOT);
	prb_store_persist(s, &s, 8); /* outside the pool: ignored */
	prb_store_unpin(s, 2);
	prb_store_close(s);

	s = open_plain(0);
	CHECK_RC(prb_store_exists(s, 1), 1);
	CHECK_RC(prb_store_exists(s, 2), 1);
	CHECK_RC(prb_store_exists(s, 3), 0);
	CHECK_RC(prb_store_pin(s, 1, &data), 0);
	CHECK(store_test_verify(data, 11));
	prb_store_unpin(s, 1);
	CHECK_RC(prb_store_pin(s, 2, &data), 0);
	CHECK(store_test_verify(data, 22));
	prb_store_unpin(s, 2);
	store_test_check(s, true, __func__);
	prb_store_close(s);
	remove_pool();
}

static void test_zero_after_free_realloc(void)
{
	struct prb_store *s = open_plain(2);
	uint8_t *data;

	CHECK_RC(prb_store_alloc(s, 0, 2), 0);
	for (uint64_t b = 0; b < 2; b++) {
		CHECK_RC(prb_store_pin(s, b, &data), 0);
		store_test_fill(data, b + 1);
		prb_store_persist(s, data, SLOT);
		prb_store_unpin(s, b);
	}
	CHECK_RC(prb_store_free(s, 0, 2), 0);
	store_test_check(s, true, "after free");
	/* The same slots, other blocks: zeros. */
	CHECK_RC(prb_store_alloc(s, 50, 2), 0);
	for (uint64_t b = 50; b < 52; b++) {
		CHECK_RC(prb_store_pin(s, b, &data), 0);
		CHECK(store_test_is_zero(data));
		store_test_fill(data, b);
		prb_store_unpin(s, b); /* not persisted: freeing must still zero it */
	}
	CHECK_RC(prb_store_free(s, 50, 1), 0);
	CHECK_RC(prb_store_alloc(s, 0, 1), 0);
	CHECK_RC(prb_store_pin(s, 0, &data), 0);
	CHECK(store_test_is_zero(data));
	prb_store_unpin(s, 0);
	prb_store_close(s);
	s = open_plain(0);
	CHECK_RC(prb_store_pin(s, 0, &data), 0);
	CHECK(store_test_is_zero(data));
	prb_store_unpin(s, 0);
	store_test_check(s, true, __func__);
	prb_store_close(s);
	remove_pool();
}

/*
 * FREE skips zeroing a slot it zeroed before and nobody could write since. Every way of
 * writing into a slot must undo that: a pin, and a tier move (into the tier and back).
 */
static void test_zero_skip_is_undone_by_writers(void)
{
	struct prb_store *s = open_tiered(1, 1);
	uint8_t *data;

	/* Round 1 leaves every slot (fast, tier, the tier's spare) zeroed by a FREE; round
	 * 2 then writes into such slots by a pin and by tier moves. */
	for (int round = 1; round <= 2; round++) {
		/* Block 7 into the fast slot, written, unpinned; block 8 lands in the tier. */
		CHECK_RC(prb_store_alloc(s, 7, 2), 0);
		CHECK_RC(prb_store_pin(s, 7, &data), 0);
		store_test_fill(data, 7);
		prb_store_unpin(s, 7);
		/* Pinning 8 moves 7 to a tier slot (a copy into it) and 8 home. */
		CHECK_RC(prb_store_pin(s, 8, &data), 0);
		prb_store_unpin(s, 8);
		CHECK_RC(prb_store_free(s, 7, 1), 0); /* from the tier: its copy must be zeroed */
		CHECK_RC(prb_store_free(s, 8, 1), 0);
		CHECK_RC(prb_store_alloc(s, 20, 2), 0);
		for (uint64_t b = 20; b < 22; b++) {
			CHECK_RC(prb_store_pin(s, b, &data), 0);
			CHECK(data && store_test_is_zero(data));
			prb_store_unpin(s, b);
		}
		CHECK_RC(prb_store_free(s, 20, 2), 0);
		store_test_check(s, true, __func__);
	}
	prb_store_close(s);
	remove_pool();
}

/* The descriptor the store holds on the file `name` of the test folder, or -1. */
static int open_fd_of(const char *name)
{
	char want[PATH_MAX], link[300], got[PATH_MAX];
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int fd = -1;

	if (!dir || !realpath(store_test_path(2, name), want)) {
		if (dir)
			closedir(dir);
		return -1;
	}
	while (fd < 0 && (de = readdir(dir)) != NULL) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, got, sizeof(got) - 1);
		if (n > 0) {
			got[n] = 0;
			if (strcmp(got, want) == 0)
				fd = atoi(de->d_name);
		}
	}
	closedir(dir);
	return fd;
}

/*
 * The tier's storage fails (a full disk: its descriptor is swapped for /dev/full) while
 * a MAP needs an eviction: the pin fails with EIO (not ENOSPC, which the brick turns
 * into "fast memory full of pinned blocks"), and nothing is lost: once the disk works
 * again both blocks read back, in memory and after a reopen.
 */
static void test_tier_write_error(void)
{
	struct prb_store *s = open_tiered(1, 2);
	int tier_fd, saved, full;
	uint8_t *data;

	CHECK_RC(prb_store_alloc(s, 0, 2), 0); /* 0 in the fast slot, 1 in the tier */
	for (uint64_t b = 0; b < 2; b++) {
		CHECK_RC(prb_store_pin(s, b, &data), 0); /* pinning 1 moves 0 to the tier */
		store_test_fill(data, 40 + b);
		prb_store_persist(s, data, SLOT);
		prb_store_unpin(s, b);
	}
	tier_fd = open_fd_of("tier");
	saved = tier_fd >= 0 ? dup(tier_fd) : -1;
	full = open("/dev/full", O_RDWR | O_CLOEXEC);
	CHECK(tier_fd >= 0 && saved >= 0 && full >= 0);
	if (tier_fd < 0 || saved < 0 || full < 0 || dup2(full, tier_fd) < 0) {
		prb_store_close(s);
		remove_pool();
		return;
	}
	CHECK_RC(prb_store_pin(s, 0, &data), -EIO); /* evicting 1 cannot write */
	dup2(saved, tier_fd);
	close(saved);
	close(full);
	for (uint64_t b = 0; b < 2; b++) {
		CHECK_RC(prb_store_pin(s, b, &data), 0);
		CHECK(data && store_test_verify(data, 40 + b));
		prb_store_unpin(s, b);
	}
	prb_store_close(s);
	s = open_tiered(0, 0);
	for (uint64_t b = 0; b < 2; b++) {
		CHECK_RC(prb_store_pin(s, b, &data), 0);
		CHECK(data && store_test_verify(data, 40 + b));
		prb_store_unpin(s, b);
	}
	store_test_check(s, false, __func__);
	prb_store_close(s);
	remove_pool();
}

struct want_extent {
	uint64_t block;
	uint32_t blocks;
	enum prb_store_where where;
};

static void check_list(struct prb_store *s, uint64_t from, size_t max,
		       const struct want_extent *want, size_t want_count, uint64_t want_next,
		       bool want_end)
{
	struct prb_store_extent got[16];
	uint64_t next = 12345;
	bool end = !want_end;
	int n = prb_store_list(s, from, got, max, &next, &end);

	CHECK_RC(n, (long long)want_count);
	for (size_t i = 0; i < want_count && (int)i < n; i++) {
		CHECK(got[i].block == want[i].block);
		CHECK(got[i].blocks == want[i].blocks);
		CHECK(got[i].where == want[i].where);
	}
	CHECK(next == want_next);
	CHECK(end == want_end);
}

static void test_list(void)
{
	const enum prb_store_where R = PRB_STORE_RESIDENT;
	struct prb_store *s = open_plain(300);

	check_list(s, 0, 16, NULL, 0, 0, true);
	CHECK_RC(prb_store_alloc(s, 3, 2), 0);
	CHECK_RC(prb_store_alloc(s, 5, 1), 0);	 /* coalesces with 3..4 */
	CHECK_RC(prb_store_alloc(s, 60, 10), 0); /* crosses a 64-block group */
	CHECK_RC(prb_store_alloc(s, 70, 130), 0);
	CHECK_RC(prb_store_alloc(s, UINT64_C(1) << 40, 1), 0); /* far away: other radix nodes */
	CHECK_RC(prb_store_alloc(s, BLOCK_LIMIT - 2, 2), 0);   /* the very end */
	{
		const struct want_extent w[] = {{3, 3, R},
						{60, 140, R},
						{UINT64_C(1) << 40, 1, R},
						{BLOCK_LIMIT - 2, 2, R}};
		check_list(s, 0, 16, w, 4, BLOCK_LIMIT, true);
		check_list(s, 0, 2, w, 2, 200, false);
		check_list(s, 4, 1, (const struct want_extent[]){{4, 2, R}}, 1, 6, false);
		check_list(s, 100, 16, (const struct want_extent[]){{100, 100, R}, w[2], w[3]}, 3,
			   BLOCK_LIMIT, true);
		check_list(s, 200, 1, &w[2], 1, (UINT64_C(1) << 40) + 1, false);
		check_list(s, BLOCK_LIMIT - 1, 16,
			   (const struct want_extent[]){{BLOCK_LIMIT - 1, 1, R}}, 1, BLOCK_LIMIT,
			   true);
		check_list(s, BLOCK_LIMIT, 16, NULL, 0, BLOCK_LIMIT, true);
		check_list(s, 0, 0, NULL, 0, 0, false);
	}
	CHECK_RC(prb_store_free(s, BLOCK_LIMIT - 2, 2), 0);
	CHECK_RC(prb_store_free(s, UINT64_C(1) << 40, 1), 0);
	check_list(s, 3, 1, (const struct want_extent[]){{3, 3, R}}, 1, 6, false);
	check_list(s, 6, 16, (const struct want_extent[]){{60, 140, R}}, 1, 200, true);
	CHECK_RC(prb_store_free(s, 64, 1), 0);
	check_list(s, 61, 16, (const struct want_extent[]){{61, 3, R}, {65, 135, R}}, 2, 200, true);
	store_test_check(s, false, __func__);
	prb_store_close(s);
	remove_pool();
}

static void test_tiering(void)
{
	struct prb_store_info info;
	struct prb_store *s = open_tiered(4, 4);
	struct prb_store_extent ext[8];
	uint64_t next;
	bool end;
	uint8_t *data;

	prb_store_get_info(s, &info);
	CHECK(info.fast_blocks == 4 && info.tier_blocks == 4);
	CHECK(info.fast_free == 4 && info.tier_free == 4);
	CHECK_RC(prb_store_alloc(s, 0, 9), -ENOSPC); /* capacity is both tiers: 8 */
	CHECK_RC(prb_store_alloc(s, 0, 6), 0);
	CHECK_RC(prb_store_alloc(s, 6, 2), 0);
	CHECK_RC(prb_store_alloc(s, 8, 1), -ENOSPC);
	prb_store_get_info(s, &info);
	CHECK(info.fast_free == 0 && info.tier_free == 0);
	CHECK_RC(prb_store_list(s, 0, ext, 8, &next, &end), 2);
	CHECK(ext[0].block == 0 && ext[0].blocks == 4 && ext[0].where == PRB_STORE_RESIDENT);
	CHECK(ext[1].block == 4 && ext[1].blocks == 4 && ext[1].where == PRB_STORE_TIERED);
	/* New tiered blocks read as zeros; every pin moves blocks in and out. */
	for (uint64_t b = 0; b < 8; b++) {
		CHECK_RC(prb_store_pin(s, b, &data), 0);
		CHECK(store_test_is_zero(data));
		store_test_fill(data, 100 + b);
		prb_store_persist(s, data, SLOT);
		prb_store_unpin(s, b);
	}
	store_test_check(s, false, "after the first round");
	for (unsigned round = 0; round < 3; round++)
		for (uint64_t b = 0; b < 8; b++) {
			uint64_t block = round == 1 ? 7 - b : b;

			CHECK_RC(prb_store_pin(s, block, &data), 0);
			CHECK(store_test_verify(data, 100 + block));
			prb_store_unpin(s, block);
		}
	/* Pinned blocks stay: pin 4, then the fast pool cannot take a fifth. */
	uint64_t pinned[4];
	unsigned npinned = 0;
	for (uint64_t b = 0; b < 8 && npinned < 4; b++)
		if (prb_store_pin(s, b, &data) == 0)
			pinned[npinned++] = b;
	CHECK(npinned == 4);
	for (uint64_t b = 0; b < 8; b++) {
		bool is_pinned = false;

		for (unsigned i = 0; i < npinned; i++)
			is_pinned |= pinned[i] == b;
		if (!is_pinned)
			CHECK_RC(prb_store_pin(s, b, &data), -ENOSPC);
	}
	CHECK_RC(prb_store_list(s, 0, ext, 8, &next, &end), 2);
	CHECK(ext[0].where == PRB_STORE_RESIDENT && ext[0].blocks == 4);
	for (unsigned i = 0; i < npinned; i++)
		prb_store_unpin(s, pinned[i]);
	store_test_check(s, true, "with pins");
	prb_store_close(s);

	/* Reopen: the same blocks in the same places, the same bytes. */
	s = open_tiered(0, 0);
	prb_store_get_info(s, &info);
	CHECK(info.fast_blocks == 4 && info.tier_blocks == 4 && info.boot_epoch == 2);
	store_test_check(s, true, "after reopen");
	for (uint64_t b = 0; b < 8; b++) {
		CHECK_RC(prb_store_pin(s, b, &data), 0);
		CHECK(store_test_verify(data, 100 + b));
		prb_store_unpin(s, b);
	}
	/* Free a tiered block; its slot comes back as zeros. */
	CHECK_RC(prb_store_list(s, 0, ext, 8, &next, &end) >= 1, 1);
	uint64_t tiered = UINT64_MAX;
	for (uint64_t b = 0; b < 8 && tiered == UINT64_MAX; b++) {
		int n = prb_store_list(s, b, ext, 1, &next, &end);
		if (n == 1 && ext[0].where == PRB_STORE_TIERED)
			tiered = ext[0].block;
	}
	CHECK(tiered != UINT64_MAX);
	CHECK_RC(prb_store_free(s, tiered, 1), 0);
	prb_store_get_info(s, &info);
	CHECK(info.fast_free == 0 && info.tier_free == 1);
	CHECK_RC(prb_store_alloc(s, 1000, 1), 0);
	store_test_check(s, true, "tier free + alloc");
	CHECK_RC(prb_store_pin(s, 1000, &data), 0);
	CHECK(store_test_is_zero(data));
	prb_store_unpin(s, 1000);
	store_test_check(s, true, "tier realloc");
	prb_store_close(s);
	remove_pool();
}

static void test_bad_pools(void)
{
	struct prb_store *s = NULL;
	struct prb_store_config cfg = {0};
	int fd;

	CHECK_RC(prb_store_open(&cfg, &s), -EINVAL);
	CHECK_RC(store_test_open("absent", 0, NULL, 0, &s), -ENOENT);
	CHECK_RC(store_test_open("small", 4096, NULL, 0, &s), -EINVAL);
	store_test_unlink("small");
	CHECK_RC(store_test_open("pool", store_test_pool_bytes(2), NULL, 4096, &s), -EINVAL);
	/* A file that is not a pool is left alone. */
	fd = open(store_test_path(2, "junk"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "not a pool", 10) == 10);
	CHECK(ftruncate(fd, (off_t)(8 * SLOT)) == 0);
	close(fd);
	CHECK_RC(store_test_open("junk", 0, NULL, 0, &s), -EINVAL);
	store_test_unlink("junk");
	/* A zero-filled file is formatted. */
	fd = open(store_test_path(2, "zeros"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)(4 * SLOT)) == 0);
	close(fd);
	CHECK_RC(store_test_open("zeros", 0, NULL, 0, &s), 0);
	prb_store_close(s);
	s = NULL;
	store_test_unlink("zeros");
	/* A tier too small, a tier missing, a tier not chosen at creation. */
	CHECK_RC(store_test_open("pool", store_test_pool_bytes(2), "tier", 4096 + SLOT, &s),
		 -EINVAL);
	remove_pool();
	s = open_tiered(2, 2);
	prb_store_close(s);
	CHECK_RC(store_test_open("pool", 0, NULL, 0, &s), -EINVAL);
	store_test_unlink("tier");
	CHECK_RC(store_test_open("pool", 0, "tier", 0, &s), -ENOENT);
	remove_pool();
	s = open_plain(2);
	prb_store_close(s);
	CHECK_RC(store_test_open("pool", 0, "tier", store_test_tier_bytes(2), &s), -EINVAL);
	/* Another pool's tier is refused. */
	remove_pool();
	s = open_tiered(2, 2);
	prb_store_close(s);
	store_test_unlink("pool");
	CHECK_RC(store_test_open("pool2", store_test_pool_bytes(2), "tier2",
				 store_test_tier_bytes(2), &s),
		 0);
	prb_store_close(s);
	s = NULL;
	{
		struct prb_store_config mixed = {.pool_path = store_test_path(0, "pool2"),
						 .tier_path = store_test_path(1, "tier")};
		/* "tier" was made for the deleted pool: different UUID. */
		CHECK_RC(prb_store_open(&mixed, &s), -EINVAL);
	}
	store_test_unlink("pool2");
	store_test_unlink("tier2");
	remove_pool();
}

/* Write one slot entry of a closed test pool (entries at 4096, 8 bytes each). */
static void poke_entry(uint32_t slot, uint64_t value)
{
	int fd = open(store_test_path(2, "pool"), O_RDWR);
	uint8_t bytes[8];

	for (unsigned i = 0; i < 8; i++)
		bytes[i] = (uint8_t)(value >> (8 * i));
	CHECK(fd >= 0);
	CHECK(pwrite(fd, bytes, 8, (off_t)(4096 + 8 * slot)) == 8);
	close(fd);
}

/* Fill fast slot `slot` of a closed test pool (data from 2 MiB) with a pattern. */
static void poke_data(uint32_t slot, uint64_t seed)
{
	int fd = open(store_test_path(2, "pool"), O_RDWR);
	uint8_t *buf = malloc(SLOT);

	CHECK(fd >= 0 && buf);
	if (buf) {
		store_test_fill(buf, seed);
		CHECK(pwrite(fd, buf, SLOT, (off_t)(SLOT + SLOT * slot)) == (ssize_t)SLOT);
	}
	free(buf);
	close(fd);
}

/* Recovery on states written by hand: a slot being freed, a block in two slots, junk. */
static void test_recovery_by_hand(void)
{
	struct prb_store_info info;
	struct prb_store *s = open_plain(4);
	uint8_t *data;

	prb_store_close(s);
	/* Slot 0: block 7 being freed, with data. Slots 1 and 2: block 9 twice, equal data. */
	poke_entry(0, (7 + 1) | (UINT64_C(1) << 62));
	poke_data(0, 70);
	poke_entry(1, 9 + 1);
	poke_data(1, 90);
	poke_entry(2, 9 + 1);
	poke_data(2, 90);
	s = open_plain(0);
	CHECK_RC(prb_store_exists(s, 7), 0);
	CHECK_RC(prb_store_exists(s, 9), 1);
	prb_store_get_info(s, &info);
	CHECK(info.fast_free == 3);
	store_test_check(s, true, "recovered"); /* slots 0 and 2 zero and free */
	CHECK_RC(prb_store_pin(s, 9, &data), 0);
	CHECK(store_test_verify(data, 90));
	prb_store_unpin(s, 9);
	prb_store_close(s);
	/* Unknown bits, or a block number past 2^43 - 1: refused, nothing touched. */
	poke_entry(3, 5 | (UINT64_C(1) << 50));
	CHECK_RC(store_test_open("pool", 0, NULL, 0, &s), -EUCLEAN);
	poke_entry(3, (UINT64_C(1) << 43) + 1);
	CHECK_RC(store_test_open("pool", 0, NULL, 0, &s), -EUCLEAN);
	poke_entry(3, UINT64_C(1) << 62);
	CHECK_RC(store_test_open("pool", 0, NULL, 0, &s), -EUCLEAN);
	poke_entry(3, 0);
	s = open_plain(0);
	CHECK_RC(prb_store_exists(s, 9), 1);
	store_test_check(s, true, "after junk");
	prb_store_close(s);
	remove_pool();
}

static void test_big_ranges(void)
{
	const uint32_t count = 65536;
	struct prb_store_extent ext[4];
	struct prb_store_info info;
	struct prb_store *s = open_plain(count + 8); /* a sparse 128 GiB file */
	uint64_t next;
	bool end;

	CHECK_RC(prb_store_alloc(s, 1000, count), 0);
	CHECK_RC(prb_store_list(s, 0, ext, 4, &next, &end), 1);
	CHECK(ext[0].block == 1000 && ext[0].blocks == count && end);
	CHECK_RC(prb_store_alloc(s, 0, 9), -ENOSPC);
	CHECK_RC(prb_store_free(s, 1000 + 7, count - 14), 0);
	CHECK_RC(prb_store_list(s, 0, ext, 4, &next, &end), 2);
	CHECK(ext[0].blocks == 7 && ext[1].block == 1000 + count - 7 && ext[1].blocks == 7);
	prb_store_close(s);
	s = open_plain(0);
	prb_store_get_info(s, &info);
	CHECK(info.fast_free == count + 8 - 14);
	store_test_check(s, false, __func__);
	prb_store_close(s);
	remove_pool();
}

int main(void)
{
	store_test_setup("store-basic");
	test_open_info_epoch_uuid();
	test_in_memory_pool();
	test_alloc_errors_all_or_none();
	test_free_errors_all_or_none();
	test_pin_zero_persist_reopen();
	test_zero_after_free_realloc();
	test_zero_skip_is_undone_by_writers();
	test_list();
	test_tiering();
	test_tier_write_error();
	test_bad_pools();
	test_recovery_by_hand();
	test_big_ranges();
	store_test_teardown();
	return store_test_finish("store.basic");
}
