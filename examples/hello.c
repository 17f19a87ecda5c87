/* SPDX-License-Identifier: BSD-3-Clause */
/* libprb in ~50 lines: connect, alloc, map, write, read back, unmap, list, free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prb/prb.h>

#define ADDR (64ull * PRB_BLOCK_BYTES) /* any multiple of the 2 MiB block size */

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, prb_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	const char *url = argc > 1 ? argv[1] : getenv("PRB_URL");
	const char msg[] = "hello, brick";
	char back[sizeof(msg)];
	struct prb_session *s;
	struct prb_mapping *m;
	struct prb_list_iter *it;
	struct prb_list_extent e;
	int rc;

	if (!url)
		url = "tcp://127.0.0.1";
	if ((rc = prb_connect(url, NULL, &s)) < 0)
		return fail("connect", rc);
	if ((rc = prb_alloc(s, ADDR, 1)) < 0)
		return fail("alloc", rc);
	if ((rc = prb_map(s, ADDR, PRB_MAPPING_RW, &m)) < 0)
		return fail("map", rc);
	if ((rc = prb_write(m, 0, msg, sizeof(msg))) < 0 || (rc = prb_flush(m, 0, sizeof(msg))) < 0)
		return fail("write", rc);
	if ((rc = prb_read(m, 0, back, sizeof(back))) < 0)
		return fail("read", rc);
	printf("read back: %s (%s)\n", back, memcmp(msg, back, sizeof(msg)) ? "MISMATCH" : "ok");
	if ((rc = prb_unmap(&m)) < 0)
		return fail("unmap", rc);
	if ((rc = prb_list_new(s, 0, &it)) < 0)
		return fail("list", rc);
	while ((rc = prb_list_next(it, &e)) > 0)
		printf("extent 0x%llx: %llu block(s)\n", (unsigned long long)e.addr,
		       (unsigned long long)e.blocks);
	prb_list_delete(&it);
	if (rc < 0 || (rc = prb_free(s, ADDR, 1, 0)) < 0)
		return fail("list/free", rc);
	prb_disconnect(&s);
	return memcmp(msg, back, sizeof(msg)) != 0;
}
