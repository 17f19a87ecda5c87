/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's files: pool creation and formatting, the pool header, the libpmem2 mapping,
 * the tier file, slot entries and their persistence, slot zeroing.
 */
#define _GNU_SOURCE /* fallocate(FALLOC_FL_PUNCH_HOLE) */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Pool header, little-endian, at offset 0 of the pool (DESIGN.md, Pool layout). */
#define HDR_MAGIC	0   /* 8 bytes "PRBPOOL\0" */
#define HDR_VERSION	8   /* u32 */
#define HDR_HEADER_SIZE 12  /* u32 */
#define HDR_UUID	16  /* 16 bytes */
#define HDR_FAST_SLOTS	32  /* u64 */
#define HDR_TIER_SLOTS	40  /* u64, physical (reported + 1), 0 = no tier */
#define HDR_META_OFFSET 48  /* u64 */
#define HDR_DATA_OFFSET 56  /* u64 */
#define HDR_POOL_SIZE	64  /* u64 */
#define HDR_CHECKSUM	72  /* u64, FNV-1a of bytes 0..71 */
#define HDR_BOOT_EPOCH	128 /* u64, rewritten by every open, own cache line */
#define HDR_STATIC_END	72

/* Tier header, at offset 0 of the tier file. */
#define TIER_MAGIC	0  /* 8 bytes "PRBTIER\0" */
#define TIER_VERSION	8  /* u32 */
#define TIER_POOL_UUID	16 /* 16 bytes: the pool this tier belongs to */
#define TIER_SLOTS	32 /* u64, physical */
#define TIER_CHECKSUM	40 /* u64, FNV-1a of bytes 0..39 */
#define TIER_STATIC_END 40

#define LAYOUT_VERSION 1u
#define DATA_ALIGN     STORE_SLOT_SIZE

static const uint8_t pool_magic[8] = {'P', 'R', 'B', 'P', 'O', 'O', 'L', 0};
static const uint8_t tier_magic[8] = {'P', 'R', 'B', 'T', 'I', 'E', 'R', 0};

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) / align * align;
}

/* Whole pwrite (wbuf) or pread (rbuf) of len bytes at offset, across short transfers. */
static int io_all(int fd, const uint8_t *wbuf, uint8_t *rbuf, size_t len, uint64_t offset)
{
	size_t total = 0;

	while (total < len) {
		off_t at = (off_t)(offset + total);
		ssize_t done = wbuf ? pwrite(fd, wbuf + total, len - total, at)
				    : pread(fd, rbuf + total, len - total, at);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return done < 0 ? -errno : -EIO;
		total += (size_t)done;
	}
	return 0;
}

/* ---- slot entries ---- */

void store_entry_set(struct prb_store *s, uint32_t slot, uint64_t value)
{
	volatile uint64_t *entry = &s->entries[slot];
	uintptr_t at = (uintptr_t)entry;

	*entry = value; /* one aligned 8-byte store: atomic with respect to power loss */
	if (s->granularity == PMEM2_GRANULARITY_PAGE) {
		if (s->dirty_hi == 0 || at < s->dirty_lo)
			s->dirty_lo = at;
		if (at + sizeof(*entry) > s->dirty_hi)
			s->dirty_hi = at + sizeof(*entry);
	} else {
		s->flush((const void *)at, sizeof(*entry));
		s->dirty_hi = 1; /* something to drain */
	}
}

void store_entry_clear_lazily(struct prb_store *s, uint32_t slot)
{
	s->entries[slot] = 0; /* persisted by whatever comes next; recovery redoes it anyway */
}

void store_entry_commit(struct prb_store *s)
{
	if (s->dirty_hi == 0)
		return;
	store_fault_point(s);
	if (s->granularity == PMEM2_GRANULARITY_PAGE)
		s->persist((const void *)s->dirty_lo, s->dirty_hi - s->dirty_lo);
	else
		s->drain();
	store_fault_committed(s);
	s->dirty_lo = 0;
	s->dirty_hi = 0;
}

/* ---- slot data ---- */

static int write_zeros(struct prb_store *s, int fd, uint64_t offset, uint64_t len)
{
	const size_t chunk = 64 * 1024;

	if (!s->zero_buffer) {
		s->zero_buffer = calloc(1, chunk);
		if (!s->zero_buffer)
			return -ENOMEM;
	}
	while (len > 0) {
		size_t n = len < chunk ? (size_t)len : chunk;
		int rc = io_all(fd, s->zero_buffer, NULL, n, offset);

		if (rc)
			return rc;
		offset += n;
		len -= n;
	}
	return 0;
}

/* True when [offset, offset + len) of the file is a hole: it reads as zeros already, and
 * durably so (every earlier punch was synced before its slot was handed out). A file
 * system without SEEK_DATA reports the whole file as data, never a hole. */
static bool range_is_hole(int fd, uint64_t offset, uint64_t len)
{
	off_t data = lseek(fd, (off_t)offset, SEEK_DATA);

	if (data < 0)
		return errno == ENXIO; /* no data at or after offset */
	return (uint64_t)data >= offset + len;
}

/* Punch a hole (reads back as zeros, frees the disk blocks); 1 when unsupported, 2 when
 * the range was a hole already (nothing written, nothing to sync). */
static int punch(int fd, uint64_t offset, uint64_t len, bool *supported)
{
	/* A never-written block (ALLOC then FREE) needs no punch (~2 us on tmpfs) nor fsync. */
	if (range_is_hole(fd, offset, len))
		return 2;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len) ==
	    0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		*supported = false;
		return 1;
	}
	return -errno;
}

static int slots_zero(struct prb_store *s, uint32_t first, uint32_t count)
{
	uint64_t len = (uint64_t)count << STORE_SLOT_SHIFT;

	if (store_slot_is_tier(s, first)) {
		uint64_t offset = store_tier_slot_offset(s, first);
		int rc = s->tier_can_punch ? punch(s->tier_fd, offset, len, &s->tier_can_punch) : 1;

		if (rc == 2)
			return 0;
		if (rc == 1)
			rc = write_zeros(s, s->tier_fd, offset, len);
		s->tier_data_dirty = true;
		return rc;
	}
	if (s->pool_can_punch) {
		int rc = punch(s->pool_fd, s->data_offset + ((uint64_t)first << STORE_SLOT_SHIFT),
			       len, &s->pool_can_punch);

		if (rc == 2)
			return 0;
		if (rc <= 0) {
			s->pool_data_dirty = !s->pool_in_memory; /* fsync: nothing to write back */
			return rc;
		}
	}
	s->memset_fn(store_fast_slot_addr(s, first), 0, len, PMEM2_F_MEM_NONTEMPORAL);
	return 0;
}

static bool slots_known_zero(const struct prb_store *s, uint32_t first, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		if (!s->zeroed[first + i])
			return false;
	return true;
}

/* Nothing can write into the slot any more until store_slot_may_change clears the mark. */
static void slots_mark_zero(struct prb_store *s, uint32_t first, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		s->zeroed[first + i] = 1;
}

void store_slot_may_change(struct prb_store *s, uint32_t slot)
{
	s->zeroed[slot] = 0;
}

int store_slots_zero(struct prb_store *s, uint32_t first, uint32_t count)
{
	int rc;

	/* An ALLOC then FREE of a block nobody mapped: no lseek, punch or fsync. */
	if (slots_known_zero(s, first, count))
		return 0;
	rc = slots_zero(s, first, count);
	if (rc == 0)
		slots_mark_zero(s, first, count);
	return rc;
}

/* fsync rather than fdatasync: after a hole punch the extent change is what must last. */
static int sync_fd(struct prb_store *s, int fd)
{
	store_fault_point(s);
	return fsync(fd) ? -errno : 0;
}

int store_slot_zero_sync(struct prb_store *s)
{
	int rc = 0;

	if (s->pool_data_dirty) {
		rc = sync_fd(s, s->pool_fd);
		s->pool_data_dirty = rc != 0;
	}
	if (rc == 0 && s->tier_data_dirty)
		rc = store_tier_sync(s);
	return rc;
}

int store_tier_sync(struct prb_store *s)
{
	int rc = sync_fd(s, s->tier_fd);

	s->tier_data_dirty = rc != 0;
	return rc;
}

/* ---- geometry ---- */

struct pool_geometry {
	uint64_t fast_slots;
	uint64_t tier_slots; /* physical */
	uint64_t data_offset;
};

static uint64_t data_offset_for(uint64_t fast_slots, uint64_t tier_slots)
{
	return round_up(STORE_HEADER_SIZE + 8 * (fast_slots + tier_slots), DATA_ALIGN);
}

/* The most fast slots that fit in `size` beside the header and every slot's entry. */
static int pool_geometry_for(uint64_t size, uint64_t tier_slots, struct pool_geometry *g)
{
	uint64_t fast = size >> STORE_SLOT_SHIFT;

	while (fast > 0 && data_offset_for(fast, tier_slots) + (fast << STORE_SLOT_SHIFT) > size)
		fast--;
	if (fast == 0 || fast + tier_slots > STORE_MAX_SLOTS)
		return -EINVAL;
	g->fast_slots = fast;
	g->tier_slots = tier_slots;
	g->data_offset = data_offset_for(fast, tier_slots);
	return 0;
}

/* ---- tier file ---- */

static int tier_slots_for(uint64_t size, uint64_t *slots)
{
	if (size < STORE_TIER_HEADER_SIZE)
		return -EINVAL;
	*slots = (size - STORE_TIER_HEADER_SIZE) >> STORE_SLOT_SHIFT;
	return *slots >= 2 ? 0 : -EINVAL; /* one usable slot plus the spare */
}

/* Open (creating when absent) the tier file and learn its physical slot count. */
static int tier_open(const struct prb_store_config *cfg, bool create, int *fd_out, uint64_t *slots)
{
	int fd = open(cfg->tier_path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	struct stat st;
	int rc;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto err_close;
	}
	rc = tier_slots_for(create && cfg->tier_size ? cfg->tier_size : (uint64_t)st.st_size,
			    slots);
	if (rc)
		goto err_close;
	*fd_out = fd;
	return 0;
err_close:
	close(fd);
	return rc;
}

/* Give a new pool's tier its header; every slot reads as zeros (the file is emptied). */
static int tier_format(struct prb_store *s, uint64_t slots)
{
	uint8_t hdr[STORE_TIER_HEADER_SIZE] = {0};
	int rc;

	if (ftruncate(s->tier_fd, 0) ||
	    ftruncate(s->tier_fd, (off_t)(STORE_TIER_HEADER_SIZE + (slots << STORE_SLOT_SHIFT))))
		return -errno;
	memcpy(hdr + TIER_MAGIC, tier_magic, sizeof(tier_magic));
	put_le32(hdr + TIER_VERSION, LAYOUT_VERSION);
	memcpy(hdr + TIER_POOL_UUID, s->uuid, sizeof(s->uuid));
	put_le64(hdr + TIER_SLOTS, slots);
	put_le64(hdr + TIER_CHECKSUM, fnv1a(hdr, TIER_STATIC_END));
	rc = io_all(s->tier_fd, hdr, NULL, sizeof(hdr), 0);
	if (rc)
		return rc;
	return fsync(s->tier_fd) ? -errno : 0;
}

static int tier_check(struct prb_store *s)
{
	uint8_t hdr[STORE_TIER_HEADER_SIZE];
	struct stat st;
	int rc = io_all(s->tier_fd, NULL, hdr, sizeof(hdr), 0);

	if (rc)
		return rc;
	if (memcmp(hdr + TIER_MAGIC, tier_magic, sizeof(tier_magic)) ||
	    get_le32(hdr + TIER_VERSION) != LAYOUT_VERSION ||
	    get_le64(hdr + TIER_CHECKSUM) != fnv1a(hdr, TIER_STATIC_END) ||
	    memcmp(hdr + TIER_POOL_UUID, s->uuid, sizeof(s->uuid)) ||
	    get_le64(hdr + TIER_SLOTS) != s->tier_slots)
		return -EINVAL;
	if (fstat(s->tier_fd, &st))
		return -errno;
	if ((uint64_t)st.st_size <
	    STORE_TIER_HEADER_SIZE + ((uint64_t)s->tier_slots << STORE_SLOT_SHIFT))
		return -EINVAL;
	return 0;
}

/* ---- pool ---- */

/* Write a new pool's header; the magic goes last so a torn format is not a pool. */
static int pool_format(struct prb_store *s, const struct pool_geometry *g, bool zero_data)
{
	uint8_t *hdr = s->base;
	int rc;

	if (zero_data) {
		/* An existing file or device: entries and slots must read as zeros. */
		bool can_punch = !s->pool_is_device;

		rc = can_punch ? punch(s->pool_fd, STORE_HEADER_SIZE,
				       s->map_size - STORE_HEADER_SIZE, &can_punch)
			       : 1;
		if (rc < 0)
			return rc;
		if (rc == 1)
			s->memset_fn(s->base + STORE_HEADER_SIZE, 0,
				     s->map_size - STORE_HEADER_SIZE, PMEM2_F_MEM_NONTEMPORAL);
		else if (fsync(s->pool_fd))
			return -errno;
	}
	s->memset_fn(hdr, 0, STORE_HEADER_SIZE, 0);
	put_le32(hdr + HDR_VERSION, LAYOUT_VERSION);
	put_le32(hdr + HDR_HEADER_SIZE, STORE_HEADER_SIZE);
	memcpy(hdr + HDR_UUID, s->uuid, sizeof(s->uuid));
	put_le64(hdr + HDR_FAST_SLOTS, g->fast_slots);
	put_le64(hdr + HDR_TIER_SLOTS, g->tier_slots);
	put_le64(hdr + HDR_META_OFFSET, STORE_HEADER_SIZE);
	put_le64(hdr + HDR_DATA_OFFSET, g->data_offset);
	put_le64(hdr + HDR_POOL_SIZE, s->map_size);
	memcpy(hdr + HDR_MAGIC, pool_magic, sizeof(pool_magic));
	put_le64(hdr + HDR_CHECKSUM, fnv1a(hdr, HDR_STATIC_END));
	memset(hdr + HDR_MAGIC, 0, sizeof(pool_magic));
	s->persist(hdr, STORE_HEADER_SIZE);
	memcpy(hdr + HDR_MAGIC, pool_magic, sizeof(pool_magic));
	s->persist(hdr, sizeof(pool_magic));
	return 0;
}

static int pool_check_header(struct prb_store *s)
{
	const uint8_t *hdr = s->base;
	uint64_t fast, tier, data_offset;

	if (memcmp(hdr + HDR_MAGIC, pool_magic, sizeof(pool_magic)) ||
	    get_le32(hdr + HDR_VERSION) != LAYOUT_VERSION ||
	    get_le32(hdr + HDR_HEADER_SIZE) != STORE_HEADER_SIZE ||
	    get_le64(hdr + HDR_CHECKSUM) != fnv1a(hdr, HDR_STATIC_END))
		return -EINVAL;
	fast = get_le64(hdr + HDR_FAST_SLOTS);
	tier = get_le64(hdr + HDR_TIER_SLOTS);
	data_offset = get_le64(hdr + HDR_DATA_OFFSET);
	if (fast == 0 || fast + tier > STORE_MAX_SLOTS || tier == 1 ||
	    get_le64(hdr + HDR_META_OFFSET) != STORE_HEADER_SIZE ||
	    data_offset != data_offset_for(fast, tier) ||
	    data_offset + (fast << STORE_SLOT_SHIFT) > s->map_size)
		return -EINVAL;
	memcpy(s->uuid, hdr + HDR_UUID, sizeof(s->uuid));
	s->fast_slots = (uint32_t)fast;
	s->tier_slots = (uint32_t)tier;
	s->data_offset = data_offset;
	s->boot_epoch = *(volatile uint64_t *)(s->base + HDR_BOOT_EPOCH);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* A regular pool file is created as path.new and renamed once formatted. */
static char *pool_new_path(const char *path)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 5);

	if (tmp) {
		memcpy(tmp, path, len);
		memcpy(tmp + len, ".new", 5);
	}
	return tmp;
}

static int sync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd, rc = 0;

	if (!slash) {
		dir[0] = '.';
		dir[1] = 0;
	} else {
		size_t len = slash == path ? 1 : (size_t)(slash - path);

		if (len >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, len);
		dir[len] = 0;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

/* True for a file on tmpfs or ramfs: its pages are the medium, there is nothing beneath
 * them to write back. */
static bool fd_is_in_memory(int fd)
{
	struct statfs fs;

	if (fstatfs(fd, &fs))
		return false;
	return fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
}

/* Open the pool file or device; a missing file is created as new_path (sparse). */
static int pool_open_fd(struct prb_store *s, const struct prb_store_config *cfg, char **new_path)
{
	struct stat st;

	*new_path = NULL;
	s->pool_fd = open(cfg->pool_path, O_RDWR | O_CLOEXEC);
	if (s->pool_fd < 0 && errno == ENOENT && cfg->pool_size > 0) {
		*new_path = pool_new_path(cfg->pool_path);
		if (!*new_path)
			return -ENOMEM;
		s->pool_fd = open(*new_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	if (s->pool_fd < 0)
		return -errno;
	if (fstat(s->pool_fd, &st))
		return -errno;
	s->pool_is_device = S_ISCHR(st.st_mode);
	if (!s->pool_is_device && !S_ISREG(st.st_mode))
		return -EINVAL;
	s->pool_can_punch = !s->pool_is_device;
	s->pool_in_memory = !s->pool_is_device && fd_is_in_memory(s->pool_fd);
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		if (cfg->pool_size == 0)
			return -EINVAL;
		if (ftruncate(s->pool_fd, (off_t)cfg->pool_size))
			return -errno;
	}
	return 0;
}

/* libpmem2 returns -errno for system errors and its own codes (<= PMEM2_E_UNKNOWN) else. */
static int pmem2_error(int rc)
{
	if (rc > PMEM2_E_UNKNOWN)
		return rc;
	return rc == PMEM2_E_GRANULARITY_NOT_SUPPORTED ? -EOPNOTSUPP : -EINVAL;
}

/*
 * The persist function of a pool on tmpfs or ramfs (battery-backed DRAM, or a test).
 * What the brick promises there is what the page cache keeps: every store is in it at
 * once and survives a crash of the process, and nothing survives a loss of power
 * whatever the brick calls (the brick does not grant PERSISTENT). msync and fsync would
 * write nothing back and cost a system call each on every ALLOC, FREE and FLUSH. The
 * fence keeps the order of the stores around it, as a persist does.
 */
static void persist_in_memory(const void *addr, size_t len)
{
	(void)addr;
	(void)len;
	atomic_thread_fence(memory_order_seq_cst);
}

static int pool_map(struct prb_store *s)
{
	struct pmem2_config *config;
	int rc = pmem2_source_from_fd(&s->source, s->pool_fd);

	if (rc)
		return pmem2_error(rc);
	rc = pmem2_config_new(&config);
	if (rc)
		return pmem2_error(rc);
	rc = pmem2_config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE);
	if (rc == 0)
		rc = pmem2_map_new(&s->map, config, s->source);
	pmem2_config_delete(&config);
	if (rc)
		return pmem2_error(rc);
	s->base = pmem2_map_get_address(s->map);
	s->map_size = pmem2_map_get_size(s->map);
	s->granularity = pmem2_map_get_store_granularity(s->map);
	s->persist = pmem2_get_persist_fn(s->map);
	if (s->pool_in_memory && s->granularity == PMEM2_GRANULARITY_PAGE)
		s->persist = persist_in_memory;
	s->flush = pmem2_get_flush_fn(s->map);
	s->drain = pmem2_get_drain_fn(s->map);
	s->memset_fn = pmem2_get_memset_fn(s->map);
	s->entries = (volatile uint64_t *)(s->base + STORE_HEADER_SIZE);
	return 0;
}

/* Tier slot count for a new pool: from the config or the existing tier file. */
static int new_pool_tier(struct prb_store *s, const struct prb_store_config *cfg, uint64_t *slots)
{
	*slots = 0;
	if (!cfg->tier_path)
		return 0;
	return tier_open(cfg, true, &s->tier_fd, slots);
}

static int pool_create(struct prb_store *s, const struct prb_store_config *cfg, bool zero_data)
{
	struct pool_geometry g;
	uint64_t tier_slots;
	int rc = new_pool_tier(s, cfg, &tier_slots);

	if (rc)
		return rc;
	if (s->map_size < STORE_HEADER_SIZE)
		return -EINVAL;
	rc = pool_geometry_for(s->map_size, tier_slots, &g);
	if (rc)
		return rc;
	if (getrandom(s->uuid, sizeof(s->uuid), 0) != (ssize_t)sizeof(s->uuid))
		return -EIO;
	s->uuid[6] = (uint8_t)((s->uuid[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
	s->uuid[8] = (uint8_t)((s->uuid[8] & 0x3f) | 0x80);
	s->fast_slots = (uint32_t)g.fast_slots;
	s->tier_slots = (uint32_t)g.tier_slots;
	s->data_offset = g.data_offset;
	/* The tier is ready before the pool's magic names it. */
	rc = s->tier_fd >= 0 ? tier_format(s, tier_slots) : 0;
	if (rc == 0)
		rc = pool_format(s, &g, zero_data);
	return rc;
}

static int pool_attach_tier(struct prb_store *s, const struct prb_store_config *cfg)
{
	uint64_t slots;
	int rc;

	if (s->tier_slots == 0)
		return cfg->tier_path ? -EINVAL : 0; /* a tier is chosen when the pool is made */
	if (!cfg->tier_path)
		return -EINVAL;
	rc = tier_open(cfg, false, &s->tier_fd, &slots);
	return rc ? rc : tier_check(s);
}

int store_pool_open(struct prb_store *s, const struct prb_store_config *cfg)
{
	char *new_path;
	int rc = pool_open_fd(s, cfg, &new_path);

	if (rc)
		goto out;
	rc = pool_map(s);
	if (rc)
		goto out;
	s->tier_can_punch = true;
	if (new_path || all_zero(s->base, STORE_HEADER_SIZE)) {
		rc = pool_create(s, cfg, new_path == NULL);
		if (rc == 0 && new_path) {
			if (fsync(s->pool_fd) || rename(new_path, cfg->pool_path))
				rc = -errno;
			else
				rc = sync_parent_dir(cfg->pool_path);
		}
	} else {
		rc = pool_check_header(s);
		if (rc == 0)
			rc = pool_attach_tier(s, cfg);
	}
out:
	if (rc && new_path)
		unlink(new_path);
	free(new_path);
	return rc;
}

void store_pool_close(struct prb_store *s)
{
	if (s->map) {
		store_entry_commit(s);
		pmem2_map_delete(&s->map);
	}
	if (s->source)
		pmem2_source_delete(&s->source);
	if (s->pool_fd >= 0)
		close(s->pool_fd);
	if (s->tier_fd >= 0)
		close(s->tier_fd);
	free(s->zero_buffer);
}

int store_pool_bump_epoch(struct prb_store *s)
{
	volatile uint64_t *epoch = (volatile uint64_t *)(s->base + HDR_BOOT_EPOCH);

	s->boot_epoch++;
	*epoch = s->boot_epoch;
	store_fault_point(s);
	s->persist((const void *)epoch, sizeof(*epoch));
	return 0;
}

int store_tier_read(struct prb_store *s, uint32_t slot, uint8_t *buf)
{
	return io_all(s->tier_fd, NULL, buf, STORE_SLOT_SIZE, store_tier_slot_offset(s, slot));
}

int store_tier_write(struct prb_store *s, uint32_t slot, const uint8_t *buf)
{
	s->tier_data_dirty = true;
#ifdef PRB_MUTANT_TIER_WRITE_SHORT
	/* mutant (conformance/mutants.txt): the last 4 KiB of a block do not reach the tier */
	return io_all(s->tier_fd, buf, NULL, STORE_SLOT_SIZE - 4096,
		      store_tier_slot_offset(s, slot));
#endif
	return io_all(s->tier_fd, buf, NULL, STORE_SLOT_SIZE, store_tier_slot_offset(s, slot));
}
