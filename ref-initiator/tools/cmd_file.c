/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * prb put / prb get: a file in consecutive blocks.
 *
 * Layout: block 0 starts with a 4 KiB header, the file's bytes follow it and run
 * on through blocks 1, 2, ... The header records the exact length and a checksum of
 * the bytes, so get restores the same bytes or fails:
 *   0  magic "PRBFILE2"      8  le64 length (bytes)   16 le64 blocks used
 *   24 le32 CRC32C of the file's bytes (all of them, in order)
 *   28 le32 CRC32C of bytes 0..27                      32.. zero up to 4096
 * The last digit of the magic is the format version. Version 1 ("PRBFILE1", written
 * by prb 0.1.0) had no data checksum: its CRC32C of bytes 0..23 sits at 24. get still
 * reads it, says on stderr that the bytes could not be checked, and reports
 * "verified": false.
 * put invalidates the header first and writes it last, after every data block
 * is flushed: an interrupted put leaves no valid header, never a wrong one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/crc.h>
#include <prb/wire.h>

#include "tool.h"

#define PRB_FILE_HEADER	   4096u
#define PRB_FILE_MAGIC	   "PRBFILE2"
#define PRB_FILE_MAGIC_V1  "PRBFILE1"
#define PRB_FILE_CRC_START 0xFFFFFFFFu /* a running CRC32C before any byte */

/* Bytes of file data block i holds at most. */
static uint32_t prb_file_room(uint64_t i)
{
	return i == 0 ? PRB_BLOCK_BYTES - PRB_FILE_HEADER : PRB_BLOCK_BYTES;
}

static void prb_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t prb_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void prb_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t prb_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Add len bytes to a running CRC32C of the file's data (start: PRB_FILE_CRC_START; the
 * final value is its complement). prb_crc32c does the same for one buffer only.
 */
static uint32_t prb_file_crc_update(uint32_t crc, const uint8_t *buf, uint32_t len)
{
	return crc32_iscsi((unsigned char *)(uintptr_t)buf, (int)len, crc);
}

static void prb_file_header(uint8_t *h, uint64_t length, uint64_t blocks, uint32_t data_crc)
{
	memset(h, 0, PRB_FILE_HEADER);
	memcpy(h, PRB_FILE_MAGIC, 8);
	prb_le64(h + 8, length);
	prb_le64(h + 16, blocks);
	prb_le32(h + 24, data_crc);
	prb_le32(h + 28, prb_crc32c(h, 28));
}

/* Read until len bytes or end of file; returns bytes read or -errno. */
static ssize_t prb_read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int prb_write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Map a block read-write, write len bytes at offset, flush, unmap. */
static int prb_put_block(struct prb_session *s, uint64_t addr, uint32_t offset, const void *buf,
			 uint32_t len)
{
	struct prb_mapping *m;
	int rc, rc2;

	rc = prb_map(s, addr, PRB_MAPPING_RW | PRB_MAPPING_EXCL, &m);
	if (rc < 0)
		return rc;
	rc = prb_write(m, offset, buf, len);
	if (rc == 0)
		rc = prb_flush(m, offset, len);
	rc2 = prb_unmap(&m);
	return rc < 0 ? rc : rc2;
}

/* Blocks a file of length bytes takes: block 0 holds the header and the first bytes. */
static uint64_t prb_file_blocks(uint64_t length)
{
	if (length <= prb_file_room(0))
		return 1;
	return 1 + (length - prb_file_room(0) + PRB_BLOCK_BYTES - 1) / PRB_BLOCK_BYTES;
}

/* Which blocks of the range this put allocated (a byte each), to free them on failure. */
struct prb_put_fresh {
	uint8_t *flags;
	uint64_t cap, count;
};

/* Room in fresh->flags for block i, made before the block is allocated. */
static int prb_put_fresh_grow(struct prb_put_fresh *f, uint64_t i)
{
	uint64_t cap = f->cap ? f->cap : 64;
	uint8_t *flags;

	if (i < f->cap)
		return 0;
	while (cap <= i)
		cap *= 2;
	flags = realloc(f->flags, cap);
	if (!flags)
		return -ENOMEM;
	memset(flags + f->cap, 0, cap - f->cap);
	f->flags = flags;
	f->cap = cap;
	return 0;
}

/* Make sure block i exists: allocate it (and remember that), or reuse it when it is there. */
static int prb_put_ensure(struct prb_session *s, uint64_t addr, uint64_t i, struct prb_put_fresh *f)
{
	int rc = prb_put_fresh_grow(f, i);

	if (rc == 0)
		rc = prb_alloc(s, addr + i * PRB_BLOCK_BYTES, 1);
	if (rc == 0) {
		f->flags[i] = 1;
		f->count++;
	}
	return rc == -EEXIST ? 0 : rc;
}

/* After a failed put: free the blocks it allocated (not those that were there), and say so. */
static void prb_put_rollback(struct prb_session *s, uint64_t addr, const struct prb_put_fresh *f)
{
	uint64_t i = 0, run, freed = 0;
	int rc = 0;

	if (f->count == 0)
		return;
	while (i < f->cap && rc == 0) {
		for (run = 0; i + run < f->cap && f->flags[i + run] && run < PRB_RANGE_MAX_BLOCKS;)
			run++;
		if (run == 0) {
			i++;
			continue;
		}
		rc = prb_free(s, addr + i * PRB_BLOCK_BYTES, (uint32_t)run, 0);
		if (rc == 0)
			freed += run;
		i += run;
	}
	if (rc == 0)
		fprintf(stderr, "prb put: freed the %" PRIu64 " block(s) this put allocated\n",
			freed);
	else
		fprintf(stderr,
			"prb put: could not free %" PRIu64 " of the %" PRIu64
			" block(s) this put allocated from 0x%" PRIx64 ": %s (%s); see prb list\n",
			f->count - freed, f->count, addr, prb_strerror(rc), prb_errno_name(rc));
}

/* Blocks of [first, first + blocks) (block numbers) that are allocated now, by LIST. */
static int prb_put_count_allocated(struct prb_session *s, uint64_t first, uint64_t blocks,
				   uint64_t *allocated)
{
	struct prb_list_iter *it = NULL;
	struct prb_list_extent e;
	int rc;

	*allocated = 0;
	rc = prb_list_new(s, first * PRB_BLOCK_BYTES, &it);
	while (rc == 0 && (rc = prb_list_next(it, &e)) > 0) {
		uint64_t lo = e.addr / PRB_BLOCK_BYTES, hi = lo + e.blocks;

		if (lo >= first + blocks)
			break;
		lo = lo > first ? lo : first;
		hi = hi < first + blocks ? hi : first + blocks;
		*allocated += hi > lo ? hi - lo : 0;
		rc = 0;
	}
	prb_list_delete(&it);
	return rc < 0 ? rc : 0;
}

/*
 * Before a put of a regular file (size known) writes anything: when INFO reports the
 * brick's free blocks, there must be enough for the blocks the put has to allocate.
 */
static int prb_put_check_space(const struct prb_common *c, struct prb_session *s, uint64_t addr,
			       uint64_t size)
{
	uint64_t blocks = prb_file_blocks(size), present, needed;
	struct prb_brick_info bi;
	int rc;

	rc = prb_info(s, &bi);
	if (rc < 0)
		return prb_tool_fail(c, "INFO", rc);
	if (bi.capacity_blocks == 0) /* the brick reports no capacity: let ALLOC tell */
		return 0;
	rc = prb_put_count_allocated(s, addr / PRB_BLOCK_BYTES, blocks, &present);
	if (rc < 0)
		return prb_tool_fail(c, "LIST", rc);
	needed = blocks - present;
	if (needed <= bi.free_blocks)
		return 0;
	fprintf(stderr,
		"prb put: the file needs %" PRIu64 " block(s) at 0x%" PRIx64 ", %" PRIu64
		" of them new; the brick has %" PRIu64 " free\n",
		blocks, addr, needed, bi.free_blocks);
	return prb_tool_fail(c, "free space", -ENOSPC);
}

static const char prb_put_help[] =
	"usage: prb put URL ADDR FILE [--json]\n"
	"Store FILE (a regular file or a pipe; - for stdin) in consecutive blocks from\n"
	"ADDR, allocating blocks as needed and reusing allocated ones (their old contents\n"
	"are overwritten). FILE is opened and checked before the brick is touched. Block 0\n"
	"starts with a 4 KiB header holding the exact length and a CRC32C of the bytes;\n"
	"the data follows it. Every block is flushed; the header is written last. Prints\n"
	"the length, block count and CRC32C.\n"
	"For a regular file, the address range (below 2^64: else exit 2) and the brick's\n"
	"free blocks are checked first. A put that fails frees the blocks it allocated\n"
	"(not those that were there before) and says so on stderr. Over a longer file an\n"
	"earlier put stored at ADDR, it names that file's blocks left allocated.\n";

static const char prb_get_help[] =
	"usage: prb get URL ADDR FILE [--json]\n"
	"Restore into FILE (- for stdout) the exact bytes `prb put` stored at ADDR: the\n"
	"length comes from the header put wrote. A missing or damaged header is an error\n"
	"(exit 1); bytes that do not match the header's CRC32C (blocks overwritten, or\n"
	"freed and reused, since the put) fail with exit 5. Headers of prb 0.1.0 (no\n"
	"checksum) are read with a warning: the bytes cannot be checked.\n"
	"A regular FILE is written as a temporary file in its folder and renamed over FILE\n"
	"only when the get succeeded: a failed get leaves FILE as it was. Devices, pipes\n"
	"and stdout get the bytes as they come.\n";

struct prb_file_result {
	uint64_t length, blocks, allocated;
	uint32_t data_crc; /* CRC32C of the bytes (get: as the header says) */
	bool verified;	   /* get: the header has a data checksum and the bytes matched it */
	struct prb_put_fresh fresh; /* put: the blocks it allocated */
	uint64_t earlier_blocks;    /* put: blocks of the file stored there before, 0: none */
};

static int prb_get_header(struct prb_session *s, uint64_t addr, uint8_t *buf,
			  struct prb_file_result *res, const char **why);

/*
 * How many blocks the file that an earlier put stored at addr has (0: none, or addr
 * was free before this put). A shorter put leaves the rest of them allocated.
 */
static uint64_t prb_put_earlier_blocks(struct prb_session *s, uint64_t addr,
				       const struct prb_put_fresh *fresh)
{
	uint8_t header[PRB_FILE_HEADER];
	struct prb_file_result old = {0};
	const char *why;

	if (fresh->count > 0) /* block 0 is one this put allocated */
		return 0;
	return prb_get_header(s, addr, header, &old, &why) == 0 ? old.blocks : 0;
}

/*
 * The put loop: data blocks first, header last. Block 0's data is read before the
 * brick is touched, so a FILE that cannot be read leaves the old header in place.
 */
static int prb_put_stream(struct prb_common *c, struct prb_session *s, uint64_t addr, int fd,
			  uint8_t *buf, struct prb_file_result *res)
{
	uint8_t header[PRB_FILE_HEADER] = {0};
	uint32_t crc = PRB_FILE_CRC_START;
	uint64_t i;
	ssize_t n;
	int rc;

	for (i = 0;; i++) {
		uint32_t room = prb_file_room(i);
		uint64_t block = addr + i * PRB_BLOCK_BYTES;

		n = prb_read_full(fd, buf, room);
		if (n < 0)
			return prb_tool_local_error(c, "read", (int)n);
		if (n == 0 && i > 0)
			break;
		if (i > 0 && block < addr)
			return prb_tool_fail(c, "address space", -EFBIG);
		rc = prb_put_ensure(s, addr, i, &res->fresh);
		if (rc == 0 && i == 0) {
			res->earlier_blocks = prb_put_earlier_blocks(s, addr, &res->fresh);
			/* invalidate the header before any data changes */
			rc = prb_put_block(s, addr, 0, header, PRB_FILE_HEADER);
		}
		if (rc == 0 && n > 0)
			rc = prb_put_block(s, block, i == 0 ? PRB_FILE_HEADER : 0, buf,
					   (uint32_t)n);
		if (rc < 0)
			return prb_tool_fail(c, i == 0 ? "first block" : "data block", rc);
		crc = prb_file_crc_update(crc, buf, (uint32_t)n);
		res->length += (uint64_t)n;
		res->blocks = i + 1;
		res->allocated = res->fresh.count;
		if ((uint32_t)n < room)
			break;
	}
	res->data_crc = ~crc;
	prb_file_header(buf, res->length, res->blocks, res->data_crc);
	rc = prb_put_block(s, addr, 0, buf, PRB_FILE_HEADER);
	return rc < 0 ? prb_tool_fail(c, "header", rc) : 0;
}

/* Blocks of an earlier, longer file at the address that a put left allocated. */
static uint64_t prb_put_left_over(const struct prb_file_result *r)
{
	return r->earlier_blocks > r->blocks ? r->earlier_blocks - r->blocks : 0;
}

/* Say which blocks of an earlier, longer file stay allocated, and how to free them. */
static void prb_put_left_over_notice(const char *url, uint64_t addr,
				     const struct prb_file_result *r)
{
	uint64_t n = prb_put_left_over(r), first = addr + r->blocks * PRB_BLOCK_BYTES;

	if (n == 0)
		return;
	fprintf(stderr,
		"prb put: %" PRIu64 " block(s) of the longer file stored at 0x%" PRIx64
		" before stay allocated from 0x%" PRIx64 "; free them with: prb free %s 0x%" PRIx64
		" --count %" PRIu64 "\n",
		n, addr, first, url, first, n);
}

/* The summary of a put or a get: a line, or the JSON object. */
static void prb_file_report(const struct prb_common *c, FILE *f, uint64_t addr,
			    const struct prb_file_result *r)
{
	bool put = strcmp(c->cmd, "put") == 0;

	if (c->json) {
		fprintf(f,
			"{\"ok\": true, \"command\": \"%s\", \"addr\": %" PRIu64
			", \"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64 ", \"crc32c\": %" PRIu32,
			c->cmd, addr, r->length, r->blocks, r->data_crc);
		if (put)
			fprintf(f, ", \"allocated\": %" PRIu64 ", \"left_allocated\": %" PRIu64 "}\n",
				r->allocated, prb_put_left_over(r));
		else
			fprintf(f, ", \"verified\": %s}\n", r->verified ? "true" : "false");
	} else if (put) {
		fprintf(f,
			"put %" PRIu64 " bytes in %" PRIu64 " block(s) at 0x%" PRIx64 " (%" PRIu64
			" newly allocated), CRC32C 0x%08" PRIx32 "\n",
			r->length, r->blocks, addr, r->allocated, r->data_crc);
	} else {
		fprintf(f, "got %" PRIu64 " bytes from %" PRIu64 " block(s) at 0x%" PRIx64 ", %s\n",
			r->length, r->blocks, addr,
			r->verified ? "CRC32C verified" : "not verified (version 1 header)");
	}
}

/*
 * Read and check the header at addr: length, block count, data checksum. Returns
 * -EBADMSG with *why set when there is no valid header.
 */
static int prb_get_header(struct prb_session *s, uint64_t addr, uint8_t *buf,
			  struct prb_file_result *res, const char **why)
{
	struct prb_mapping *m;
	bool v1;
	int rc;

	rc = prb_map(s, addr, PRB_MAPPING_RO, &m);
	if (rc < 0)
		return rc;
	rc = prb_read(m, 0, buf, PRB_FILE_HEADER);
	prb_unmap(&m);
	if (rc < 0)
		return rc;
	v1 = memcmp(buf, PRB_FILE_MAGIC_V1, 8) == 0;
	*why = "no prb put header";
	if (!v1 && memcmp(buf, PRB_FILE_MAGIC, 8) != 0)
		return -EBADMSG;
	*why = "damaged prb put header";
	if (v1 ? prb_get_le32(buf + 24) != prb_crc32c(buf, 24)
	       : prb_get_le32(buf + 28) != prb_crc32c(buf, 28))
		return -EBADMSG;
	res->length = prb_get_le64(buf + 8);
	res->blocks = prb_get_le64(buf + 16);
	res->data_crc = v1 ? 0 : prb_get_le32(buf + 24);
	res->verified = !v1; /* until the bytes disagree */
	if (prb_file_blocks(res->length) != res->blocks ||
	    res->blocks - 1 > (UINT64_MAX - addr) / PRB_BLOCK_BYTES)
		return -EBADMSG;
	return 0;
}

/* The get loop: block by block into the output, then the data checksum. */
static int prb_get_stream(struct prb_common *c, struct prb_session *s, uint64_t addr, int fd,
			  uint8_t *buf, struct prb_file_result *res)
{
	uint32_t crc = PRB_FILE_CRC_START;
	uint64_t left = res->length, i;
	char message[160];
	int rc;

	for (i = 0; i < res->blocks; i++) {
		uint32_t room = prb_file_room(i);
		uint32_t n = left < room ? (uint32_t)left : room;
		struct prb_mapping *m;

		if (n == 0)
			break;
		rc = prb_map(s, addr + i * PRB_BLOCK_BYTES, PRB_MAPPING_RO, &m);
		if (rc == 0) {
			rc = prb_read(m, i == 0 ? PRB_FILE_HEADER : 0, buf, n);
			prb_unmap(&m);
		}
		if (rc < 0)
			return prb_tool_fail(c, "data block", rc);
		crc = prb_file_crc_update(crc, buf, n);
		rc = prb_write_full(fd, buf, n);
		if (rc < 0)
			return prb_tool_local_error(c, "write", rc);
		left -= n;
	}
	if (!res->verified || ~crc == res->data_crc)
		return 0;
	/* The blocks changed after the put: freed and reused, or written by someone else. */
	snprintf(message, sizeof(message),
		 "the bytes at 0x%" PRIx64 " do not match the checksum put stored "
		 "(CRC32C 0x%08x, read 0x%08x)",
		 addr, res->data_crc, ~crc);
	prb_tool_fail_message(c, "data checksum", -EBADMSG, message);
	return PRB_EXIT_DATA;
}

/*
 * Open put's FILE (- for stdin) and check it before the brick is touched: a regular file
 * or a pipe we can read, or stdin that is not a directory. *size is the length when it is
 * known (a regular file), else UINT64_MAX.
 */
static int prb_put_open(const struct prb_common *c, const char *path, int *fd, uint64_t *size)
{
	bool is_stdin = strcmp(path, "-") == 0;
	char what[320];
	struct stat st;
	int err = 0;

	*fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return prb_tool_local_error(c, path, -errno);
	if (fstat(*fd, &st) < 0)
		err = -errno;
	else if (S_ISDIR(st.st_mode))
		err = -EISDIR;
	else if (!is_stdin && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		err = -EINVAL;
	if (err) {
		if (!is_stdin)
			close(*fd);
		*fd = -1;
		snprintf(what, sizeof(what), "%s%s", path,
			 err == -EINVAL ? " (not a regular file or pipe)" : "");
		return prb_tool_local_error(c, what, err);
	}
	*size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
	return 0;
}

/*
 * get's destination. A regular file (or a new one) is written as a temporary file in the
 * same folder and renamed over it only when the whole get succeeded, so a failed get
 * leaves the old file as it was; stdout, pipes and devices get the bytes as they come.
 */
struct prb_get_dest {
	int fd;
	char *tmp;   /* the temporary file, or NULL when streaming */
	char *final; /* what tmp becomes (symbolic links resolved) */
};

/* The mode a new file gets from open(..., 0666): the umask applied. */
static mode_t prb_new_file_mode(void)
{
	mode_t mask = umask(0); /* the only way to read it; set back at once */

	umask(mask);
	return 0666 & ~mask;
}

/* Create the temporary file next to dest->final, with the mode the file has or would get. */
static int prb_get_dest_tmp(struct prb_get_dest *d, const struct stat *old)
{
	const char *slash = strrchr(d->final, '/');
	int dir_len = slash ? (int)(slash - d->final + 1) : 0;
	const char *base = slash ? slash + 1 : d->final;

	if (asprintf(&d->tmp, "%.*s.%s.prb-get-XXXXXX", dir_len, d->final, base) < 0) {
		d->tmp = NULL;
		return -ENOMEM;
	}
	d->fd = mkostemp(d->tmp, O_CLOEXEC);
	if (d->fd < 0) {
		int err = -errno;

		free(d->tmp);
		d->tmp = NULL;
		return err;
	}
	if (fchmod(d->fd, old ? old->st_mode & 07777 : prb_new_file_mode()) < 0) {
		int err = -errno;

		close(d->fd);
		d->fd = -1;
		unlink(d->tmp);
		free(d->tmp);
		d->tmp = NULL;
		return err;
	}
	return 0;
}

/* Open get's destination path (- for stdout); prints why not. */
static int prb_get_dest_open(const struct prb_common *c, const char *path, struct prb_get_dest *d)
{
	struct stat st;
	bool exists;
	int rc;

	d->fd = -1;
	if (strcmp(path, "-") == 0) {
		d->fd = STDOUT_FILENO;
		return 0;
	}
	exists = stat(path, &st) == 0;
	if (!exists && errno != ENOENT)
		return prb_tool_local_error(c, path, -errno);
	if (exists && !S_ISREG(st.st_mode)) {
		d->fd = open(path, O_WRONLY | O_CLOEXEC); /* a device or a pipe: stream */
		return d->fd < 0 ? prb_tool_local_error(c, path, -errno) : 0;
	}
	/* An existing file is replaced where a symbolic link to it points. */
	d->final = exists ? realpath(path, NULL) : strdup(path);
	if (!d->final)
		return prb_tool_local_error(c, path, -errno);
	rc = prb_get_dest_tmp(d, exists ? &st : NULL);
	if (rc < 0) {
		free(d->final);
		d->final = NULL;
		return prb_tool_local_error(c, path, rc);
	}
	return 0;
}

/* Make a rename in the folder of path durable: fsync the folder. \return 0 or -errno. */
static int prb_sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, err = 0;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

/*
 * Close the destination: on success (rc 0) make the temporary file durable, rename it
 * into place and make the rename durable; on failure remove it. Returns rc, or the exit code of a failure here.
 */
static int prb_get_dest_close(const struct prb_common *c, struct prb_get_dest *d, int rc)
{
	int err;

	if (d->fd > STDERR_FILENO) {
		if (rc == 0 && d->tmp && fsync(d->fd) < 0)
			rc = prb_tool_local_error(c, "fsync", -errno);
		if (close(d->fd) < 0 && rc == 0)
			rc = prb_tool_local_error(c, "close", -errno);
	}
	if (d->tmp) {
		if (rc == 0 && rename(d->tmp, d->final) < 0)
			rc = prb_tool_local_error(c, d->final, -errno);
		else if (rc == 0 && (err = prb_sync_parent(d->final)) < 0)
			rc = prb_tool_local_error(c, "fsync of the folder", err);
		if (rc != 0)
			unlink(d->tmp);
	}
	free(d->tmp);
	free(d->final);
	return rc;
}

/* Parse the arguments put and get share: URL ADDR FILE. Returns -1 to go on, or an exit code. */
static int prb_file_args(struct prb_parse *p, int argc, char **argv, uint64_t *addr)
{
	int rc = prb_parse_args(p, argc, argv);

	if (rc >= 0)
		return rc;
	if (prb_parse_addr(p->common, p->pos[1], addr))
		return PRB_EXIT_USAGE;
	return -1;
}

int prb_cmd_put(int argc, char **argv)
{
	static const struct option options[] = {PRB_COMMON_OPTIONS};
	struct prb_common c = {.cmd = "put"};
	struct prb_parse p = {.common = &c,
			      .help = prb_put_help,
			      .options = options,
			      .shortopts = PRB_COMMON_SHORT,
			      .min_pos = 3,
			      .max_pos = 3};
	struct prb_file_result res = {0};
	struct prb_session *s = NULL;
	uint64_t addr, size = UINT64_MAX;
	uint8_t *buf = NULL;
	int fd, rc;

	rc = prb_file_args(&p, argc, argv, &addr);
	if (rc >= 0)
		return rc;
	rc = prb_put_open(&c, p.pos[2], &fd, &size);
	if (rc)
		return rc;
	if (size != UINT64_MAX && prb_check_range(&c, addr, prb_file_blocks(size))) {
		rc = PRB_EXIT_USAGE;
		goto out_close;
	}
	buf = malloc(PRB_BLOCK_BYTES);
	if (!buf) {
		rc = prb_tool_local_error(&c, "memory", -ENOMEM);
		goto out_close;
	}
	rc = prb_tool_connect(&c, p.pos[0], 0, &s);
	if (rc)
		goto out_free;
	rc = size == UINT64_MAX ? 0 : prb_put_check_space(&c, s, addr, size);
	if (rc == 0)
		rc = prb_put_stream(&c, s, addr, fd, buf, &res);
	if (rc) {
		prb_put_rollback(s, addr, &res.fresh);
	} else {
		prb_file_report(&c, stdout, addr, &res);
		prb_put_left_over_notice(p.pos[0], addr, &res);
	}
	free(res.fresh.flags);
	prb_disconnect(&s);
out_free:
	free(buf);
out_close:
	if (fd != STDIN_FILENO)
		close(fd); /* read-only: nothing to lose */
	return rc;
}

int prb_cmd_get(int argc, char **argv)
{
	static const struct option options[] = {PRB_COMMON_OPTIONS};
	struct prb_common c = {.cmd = "get"};
	struct prb_parse p = {.common = &c,
			      .help = prb_get_help,
			      .options = options,
			      .shortopts = PRB_COMMON_SHORT,
			      .min_pos = 3,
			      .max_pos = 3};
	struct prb_get_dest dest = {.fd = -1};
	struct prb_file_result res = {0};
	const char *why = NULL;
	char message[80];
	struct prb_session *s = NULL;
	uint8_t *buf = NULL;
	uint64_t addr;
	int rc;

	rc = prb_file_args(&p, argc, argv, &addr);
	if (rc >= 0)
		return rc;
	if (strcmp(p.pos[2], "-") == 0 && c.json)
		return prb_tool_usage_error(&c, "--json needs a FILE, not stdout");
	rc = prb_get_dest_open(&c, p.pos[2], &dest);
	if (rc)
		return rc;
	buf = malloc(PRB_BLOCK_BYTES);
	if (!buf) {
		rc = prb_tool_local_error(&c, "memory", -ENOMEM);
		goto out_close;
	}
	rc = prb_tool_connect(&c, p.pos[0], 0, &s);
	if (rc)
		goto out_free;
	rc = prb_get_header(s, addr, buf, &res, &why);
	if (rc == -EBADMSG) { /* the brick is fine, the block holds no file */
		snprintf(message, sizeof(message), "%s at 0x%" PRIx64, why, addr);
		prb_tool_fail_message(&c, "header", rc, message);
		rc = PRB_EXIT_REFUSED;
	} else if (rc < 0) {
		rc = prb_tool_fail(&c, "header", rc);
	} else {
		if (!res.verified)
			fprintf(stderr,
				"prb get: a version 1 header (no data checksum): the bytes at "
				"0x%" PRIx64 " cannot be checked\n",
				addr);
		rc = prb_get_stream(&c, s, addr, dest.fd, buf, &res);
	}
	prb_disconnect(&s);
out_free:
	free(buf);
out_close:
	rc = prb_get_dest_close(&c, &dest, rc);
	if (rc == 0)
		prb_file_report(&c, dest.fd == STDOUT_FILENO ? stderr : stdout, addr, &res);
	return rc;
}
