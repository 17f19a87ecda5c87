/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the store's tests (store_test_util.h). */
#define _GNU_SOURCE /* mkdtemp */
#include "store_test_util.h"
#include "store_check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int store_test_failures;
static char test_dir[512];

void store_test_setup(const char *test_name)
{
	const char *base = getenv("PRB_STORE_TEST_TMP");

	snprintf(test_dir, sizeof(test_dir), "%s/%s.XXXXXX", base && *base ? base : "/tmp",
		 test_name);
	if (!mkdtemp(test_dir)) {
		fprintf(stderr, "%s: cannot make a folder for pools: mkdtemp %s: %s\n", test_name,
			test_dir, strerror(errno));
		exit(2);
	}
	printf("%s: pools in %s\n", test_name, test_dir);
}

void store_test_teardown(void)
{
	DIR *dir = opendir(test_dir);
	struct dirent *de;
	char path[1024];

	if (!dir)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", test_dir, de->d_name);
		unlink(path);
	}
	closedir(dir);
	rmdir(test_dir);
}

const char *store_test_path(unsigned which, const char *name)
{
	static char paths[4][1024];

	snprintf(paths[which & 3u], sizeof(paths[0]), "%s/%s", test_dir, name);
	return paths[which & 3u];
}

int store_test_copy(const char *from, const char *to)
{
	const size_t chunk = 64 * 1024;
	static const uint8_t zeros[64 * 1024];
	uint8_t *buf = malloc(chunk);
	int in = open(store_test_path(2, from), O_RDONLY);
	int out = open(store_test_path(3, to), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = buf && in >= 0 && out >= 0 ? 0 : -EIO;
	off_t at = 0;
	ssize_t n;

	while (rc == 0 && (n = pread(in, buf, chunk, at)) > 0) {
		if (memcmp(buf, zeros, (size_t)n) != 0 && pwrite(out, buf, (size_t)n, at) != n)
			rc = -EIO;
		at += n;
	}
	if (rc == 0 && ftruncate(out, at) != 0)
		rc = -errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(buf);
	return rc;
}

void store_test_unlink(const char *name)
{
	unlink(store_test_path(3, name));
}

int store_test_open(const char *pool, uint64_t pool_bytes, const char *tier, uint64_t tier_bytes,
		    struct prb_store **out)
{
	struct prb_store_config cfg = {
		.pool_path = store_test_path(0, pool),
		.pool_size = pool_bytes,
		.tier_path = tier ? store_test_path(1, tier) : NULL,
		.tier_size = tier_bytes,
	};

	return prb_store_open(&cfg, out);
}

/* Header page + entries fit in the first 2 MiB for any test-sized pool. */
uint64_t store_test_pool_bytes(uint64_t slots)
{
	return (slots + 1) * SLOT;
}

uint64_t store_test_tier_bytes(uint64_t slots)
{
	return 4096 + (slots + 1) * SLOT;
}

static uint64_t next_random(uint64_t *state)
{
	*state += UINT64_C(0x9e3779b97f4a7c15);
	uint64_t z = *state;
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void store_test_fill(uint8_t *data, uint64_t seed)
{
	uint64_t state = seed;

	for (size_t i = 0; i < SLOT; i += 8) {
		uint64_t v = next_random(&state);
		memcpy(data + i, &v, 8);
	}
}

bool store_test_verify(const uint8_t *data, uint64_t seed)
{
	uint64_t state = seed;

	for (size_t i = 0; i < SLOT; i += 8) {
		uint64_t v = next_random(&state);
		if (memcmp(data + i, &v, 8) != 0)
			return false;
	}
	return true;
}

bool store_test_is_zero(const uint8_t *data)
{
	for (size_t i = 0; i < SLOT; i++)
		if (data[i])
			return false;
	return true;
}

void store_test_check(struct prb_store *s, bool zeros, const char *where)
{
	char why[256] = "";
	int rc = prb_store_check(s, zeros, why, sizeof(why));

	if (rc) {
		fprintf(stderr, "%s: store check failed (%d): %s\n", where, rc, why);
		store_test_failures++;
	}
}

int store_test_finish(const char *test_name)
{
	if (store_test_failures) {
		fprintf(stderr, "%s: FAILED (%d checks)\n", test_name, store_test_failures);
		return 1;
	}
	printf("%s: passed\n", test_name);
	return 0;
}
