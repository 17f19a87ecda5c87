/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * \file prb.h
 * libprb: the reference initiator library of the Passive RDMA Brick protocol.
 *
 * A brick exports memory in 2 MiB blocks addressed by 64-bit logical byte
 * addresses. libprb connects to one brick per session, chosen by URL
 * (`tcp://HOST[:PORT]`, or `rdma://HOST[:PORT]` when libprb is built with the
 * RDMA binding: the API is the same for both), and offers:
 *
 * - control operations on the session: INFO, KEEPALIVE, ALLOC, FREE, MAP, LIST;
 * - data operations on a mapping (the handle object MAP returns): READ, WRITE,
 *   FLUSH, CAS, FADD, and UNMAP. Over TCP they travel as data PDUs; over RDMA
 *   READ/WRITE/CAS/FADD are one-sided verbs against the mapping's rkey;
 * - every operation in two forms: a blocking call (`prb_alloc`, `prb_read`, ...)
 *   and an asynchronous one (`prb_async_alloc`, `prb_async_read`, ...) that
 *   queues the request; `prb_submit` sends what is queued and `prb_reap`
 *   collects completions, each carrying the caller's 64-bit user data.
 *
 * ## Errors
 * Every function that can fail returns 0 (or a count where documented) or a
 * negative errno value; `prb_strerror` describes one. Arguments are checked
 * before anything is sent: a NULL pointer, an address that is not a multiple of
 * PRB_BLOCK_BYTES, a block count outside 1..PRB_RANGE_MAX_BLOCKS, a range that
 * passes 2^64, a length of 0, a CAS/FADD offset that is not a multiple of 8
 * give -EINVAL locally; offset + length beyond the block gives -ERANGE; a write,
 * CAS or FADD through a read-only mapping gives -EPERM; CAS/FADD when the brick
 * did not grant atomics give -ENOTSUP. Errors the brick returns arrive as the
 * errno of the same name (-EEXIST, -ENOSPC, -ENOENT, -EBUSY, -ESTALE, ...); a
 * status this libprb does not know (a later protocol version's) fails that
 * request with -EIO and the connection goes on (PROTOCOL.md PRB-VER-9).
 *
 * ## Dead connections, restarted bricks, dead handles
 * - The connection is declared lost when the brick closes it, sends TERM, a
 *   digest fails, a PDU is malformed, or a request gets no answer within the
 *   I/O timeout. Requests in flight then complete with **-ECONNRESET**; every
 *   later session call returns **-ENOTCONN** until `prb_reconnect`;
 *   `prb_session_status` tells why the connection ended.
 * - A mapping lives only as long as the connection that created it (the brick
 *   revokes handles when a connection ends). Every operation on a mapping whose
 *   connection is gone (lost, reconnected or the brick restarted) fails with
 *   **-ESTALE**, never reaching the brick: a handle is never reused. The object
 *   itself stays valid until `prb_unmap` frees it.
 * - `prb_reconnect` opens a new connection to the same URL. It returns
 *   **-ESTALE** when the brick's boot epoch changed (the brick restarted:
 *   unflushed data may be lost), after which the session is connected and
 *   usable; 0 when the epoch is the same; **-ENODEV** (session left
 *   disconnected) when another brick (brick_id) answers at the URL.
 *
 * ## Thread safety
 * A session, its mappings and its list iterators form one unit that must be
 * used by one thread at a time (the caller serializes; libprb takes no locks).
 * Different sessions share nothing and may be used concurrently from different
 * threads. libprb has no global state; `prb_strerror` returns static strings
 * and is safe from any thread. Options objects may be shared read-only once set.
 *
 * ## Blocking and asynchronous calls on one session
 * They mix freely: a blocking call made while asynchronous requests are in
 * flight keeps their completions for `prb_reap`. The asynchronous queue depth
 * (requests queued, in flight or completed but not yet reaped) is the one set
 * with `prb_opts_set_queue_depth`, clamped to what the brick granted.
 */
#ifndef PRB_PRB_H
#define PRB_PRB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ constants */

/** Block size in bytes (2 MiB): addresses and lengths of mappings are in these. */
#define PRB_BLOCK_BYTES 2097152u
/** Largest block count of one ALLOC or FREE. */
#define PRB_RANGE_MAX_BLOCKS 65536u
/** Largest extent count of one asynchronous LIST page. */
#define PRB_MAX_LIST_PAGE 4096u
/** Queue depth asked for when the options do not say (clamped to the brick's grant). */
#define PRB_DEFAULT_QUEUE_DEPTH 128u
/** Connect timeout in milliseconds when the options do not say. */
#define PRB_DEFAULT_CONNECT_TIMEOUT_MS 5000u
/** Request timeout in milliseconds when the options do not say. */
#define PRB_DEFAULT_IO_TIMEOUT_MS 30000u
/** Most non-blocking receives `prb_opts_set_busy_poll` accepts. */
#define PRB_MAX_BUSY_POLL 100000u
/** `prb_opts_set_busy_poll`: poll for a window that adapts to the answers (the default). */
#define PRB_BUSY_POLL_ADAPTIVE 0xffffffffu
/** How long an RDMA wait polls its completion queue before it sleeps, by default (us). */
#define PRB_DEFAULT_RDMA_SPIN_US 2000u
/** Longest finite `prb_opts_set_rdma_spin` (us). */
#define PRB_MAX_RDMA_SPIN_US 1000000u
/** `prb_opts_set_rdma_spin`: poll until something completes, never sleep while waiting. */
#define PRB_RDMA_SPIN_FOREVER 0xffffffffu

/**
 * Feature bits (the values of the spec's `feature` flags, PRB_FEAT_* in
 * <prb/wire.h>): asked for with `prb_opts_set_features`, granted ones reported
 * in `struct prb_session_info`.
 */
#define PRB_FEATURE_HEADER_DIGEST 0x01u /**< TCP: CRC32C on every PDU header. */
#define PRB_FEATURE_DATA_DIGEST	  0x02u /**< TCP: CRC32C on every PDU payload. */
#define PRB_FEATURE_ATOMICS	  0x04u /**< CAS and FADD. */
#define PRB_FEATURE_TIERING	  0x08u /**< Brick has a slower tier (brick-set). */
#define PRB_FEATURE_RDMA_FLUSH	  0x10u /**< RDMA: IBTA FLUSH usable. */
#define PRB_FEATURE_PERSISTENT	  0x20u /**< Brick memory persists once flushed (brick-set). */

/** Flags of `prb_map`: read-only unless PRB_MAPPING_RW, shared unless PRB_MAPPING_EXCL. */
#define PRB_MAPPING_RO	 0x0u /**< Read-only handle. */
#define PRB_MAPPING_RW	 0x1u /**< Read-write handle (also allows CAS and FADD). */
#define PRB_MAPPING_EXCL 0x2u /**< Exclusive: no other mapping of the block may exist. */

/** Flag of `prb_free`: revoke every live handle of the range first. */
#define PRB_FREE_FLAG_FORCE 0x1u

/* ------------------------------------------------------------------ types */

struct prb_opts;      /**< Connection options (opaque). */
struct prb_session;   /**< One connection to one brick (opaque). */
struct prb_mapping;   /**< A mapped block: the handle object MAP returns (opaque). */
struct prb_list_iter; /**< Iterator over the brick's allocated extents (opaque). */

/** Where the blocks of an extent live. */
enum prb_block_state {
	PRB_BLOCK_RESIDENT = 1, /**< In fast memory. */
	PRB_BLOCK_TIERED = 2,	/**< In the slower tier; MAP brings a block back. */
};

/** One run of allocated blocks. */
struct prb_list_extent {
	uint64_t addr;		    /**< Logical address of the first block. */
	uint64_t blocks;	    /**< Number of consecutive blocks. */
	enum prb_block_state state; /**< Where they live. */
};

/** One page of an asynchronous LIST (`prb_async_list`). */
struct prb_list_page {
	uint64_t next_cursor; /**< Cursor for the next page. */
	uint32_t count;	      /**< Extents written to the caller's array. */
	int end;	      /**< Nonzero: no allocated block at or after next_cursor. */
};

/** Parameters negotiated at connect time (no round trip to read them). */
struct prb_session_info {
	uint8_t brick_id[16];	  /**< Brick UUID, stable across brick restarts. */
	uint64_t boot_epoch;	  /**< Grows at every brick start. */
	uint64_t capacity_blocks; /**< Blocks the brick holds, all tiers (at connect). */
	uint64_t free_blocks;	  /**< Free blocks at connect time. */
	uint32_t version;	  /**< Protocol version in use. */
	uint32_t features;	  /**< PRB_FEATURE_* granted. */
	uint32_t queue_depth;	  /**< Asynchronous queue depth of this session. */
	uint32_t max_pdu;	  /**< Largest PDU the brick accepts. */
	uint32_t max_data;	  /**< Largest data length of one READ or WRITE PDU. */
	uint32_t max_mappings;	  /**< Live mappings this connection may hold. */
	const char *transport;	  /**< "tcp" or "rdma". */
};

/** Brick identity, capacity and statistics (`prb_info`, one INFO round trip). */
struct prb_brick_info {
	uint8_t brick_id[16];	  /**< Brick UUID. */
	uint64_t boot_epoch;	  /**< Grows at every brick start. */
	uint64_t capacity_blocks; /**< Blocks the brick can hold (all tiers). */
	uint64_t free_blocks;	  /**< Blocks free now (all tiers). */
	uint64_t fast_blocks;	  /**< Slots in fast memory. */
	uint64_t fast_free;	  /**< Free slots in fast memory. */
	uint64_t tier_blocks;	  /**< Slots in the slower tier (0 without one). */
	uint64_t tier_free;	  /**< Free slots in the slower tier. */
	uint64_t mapped_blocks;	  /**< Blocks with at least one live handle. */
	uint64_t requests;	  /**< Requests served since the brick started. */
	uint32_t connections;	  /**< Connections open now. */
};

/** One completed asynchronous request (`prb_reap`). */
struct prb_completion {
	uint64_t user_data; /**< As given when the request was queued. */
	int result;	    /**< 0 (LIST: extent count) or a negative errno. */
};

/* ------------------------------------------------------------------ errors */

/**
 * Describe an error code.
 * \param err a negative errno value as returned by libprb (a positive one is accepted
 *        too); any int.
 * \return a static string, never NULL; thread-safe. For the codes with a libprb
 *         meaning (-ESTALE, -ENOTCONN, -ECONNRESET, ...) the text says what it means here;
 *         for any other errno of the kernel's range (1..4095) that the C library knows,
 *         such as those libprb passes through from socket, resolver and rdma_cm calls
 *         (-EAFNOSUPPORT, -EFBIG, ...), the C library's untranslated description;
 *         "Unknown error" otherwise.
 */
const char *prb_strerror(int err);

/* ------------------------------------------------------------------ options */

/**
 * Create connection options holding the defaults.
 * \param opts receives the new object.
 * \return 0, -EINVAL (opts NULL) or -ENOMEM.
 */
int prb_opts_new(struct prb_opts **opts);

/**
 * Free options and set *opts to NULL. NULL or *opts NULL is a no-op.
 * \param opts the options.
 */
void prb_opts_delete(struct prb_opts **opts);

/**
 * Connect timeout: TCP connect and the HELLO exchange together.
 * \param opts the options.
 * \param ms milliseconds, 1..3600000 (default PRB_DEFAULT_CONNECT_TIMEOUT_MS).
 * \return 0 or -EINVAL.
 */
int prb_opts_set_connect_timeout(struct prb_opts *opts, unsigned ms);

/**
 * Request timeout: when requests are outstanding and no answer arrives for this
 * long, the connection ends (-ETIMEDOUT in `prb_session_status`): a tag whose
 * answer may still come can never be reused safely.
 * \param opts the options.
 * \param ms milliseconds, 0 for none, at most 3600000 (default PRB_DEFAULT_IO_TIMEOUT_MS).
 * \return 0 or -EINVAL.
 */
int prb_opts_set_io_timeout(struct prb_opts *opts, unsigned ms);

/**
 * Asynchronous queue depth to ask for; the session uses min(depth, brick's grant).
 * \param opts the options.
 * \param depth 1..1024 (default PRB_DEFAULT_QUEUE_DEPTH).
 * \return 0 or -EINVAL.
 */
int prb_opts_set_queue_depth(struct prb_opts *opts, unsigned depth);

/**
 * Features to ask for (default PRB_FEATURE_ATOMICS). Digests are TCP only; a
 * brick grants what it supports: check `prb_session_info.features`.
 * \param opts the options.
 * \param features PRB_FEATURE_* bits (HEADER_DIGEST, DATA_DIGEST, ATOMICS, RDMA_FLUSH).
 * \return 0, or -EINVAL for an unknown bit.
 */
int prb_opts_set_features(struct prb_opts *opts, uint32_t features);

/**
 * Host identifier sent in HELLO for the brick's logs (default all zero).
 * \param opts the options.
 * \param host_id 16 bytes, typically a UUID.
 * \return 0 or -EINVAL.
 */
int prb_opts_set_host_id(struct prb_opts *opts, const uint8_t host_id[16]);

/**
 * Busy polling over TCP: what a call waiting for an answer (a blocking call, or
 * `prb_reap` without a timeout) does before it sleeps. An answer taken by polling
 * comes without a sleep and a wakeup, which pays where waking a thread costs more than
 * the round trip (virtual machines whose idle CPUs halt), at the price of a CPU kept
 * busy meanwhile; where all CPUs are busy, a spin can slow a brick on the same machine
 * (bench/net/README.md has both cases).
 * - PRB_BUSY_POLL_ADAPTIVE (the default): poll for a window of up to 200 us that grows
 *   while waits that slept turn out short (a longer poll would have caught the answer)
 *   and closes when a wait was long. It stays closed while sleeping costs little more
 *   than polling (one wait in 64 sleeps at once to measure that: where busy CPUs do not
 *   halt, waking up is cheap) and, for a while that doubles each time, after the
 *   scheduler took the CPU away during a poll (another thread wanted it): under CPU
 *   contention the spin dies out. A poll yields the CPU every few receives.
 * - 0: never poll; sleep at once.
 * - 1..PRB_MAX_BUSY_POLL: always this many non-blocking receives (about 0.5 us each).
 * Over RDMA, `prb_opts_set_rdma_spin` says how long the completion queue is polled.
 * \param opts the options.
 * \param recvs PRB_BUSY_POLL_ADAPTIVE, 0, or 1..PRB_MAX_BUSY_POLL.
 * \return 0 or -EINVAL.
 */
int prb_opts_set_busy_poll(struct prb_opts *opts, unsigned recvs);

/**
 * Busy polling over RDMA: how long a call waiting for completions (a blocking call, or
 * `prb_reap` with a timeout other than 0) polls the completion queue before it sleeps
 * on the completion channel (default PRB_DEFAULT_RDMA_SPIN_US). Polling takes a
 * completion as soon as the device writes it, without an interrupt and a wakeup; a
 * sleep leaves the CPU to others. PRB_RDMA_SPIN_FOREVER never sleeps while requests are
 * in flight (the I/O timeout still ends a wait), as perftest and polled-mode stacks do:
 * a CPU busy per waiting thread, and on Soft-RoCE the steadiest bandwidth, since
 * rdma_rxe reorders packets when a sleeping thread's doorbells run on another CPU than
 * the device's own work (bench/rdma/README.md). 0 polls once. A blocking call's single
 * READ, WRITE, CAS or FADD first polls a few hundred times whatever this says.
 * \param opts the options.
 * \param us 0..PRB_MAX_RDMA_SPIN_US microseconds, or PRB_RDMA_SPIN_FOREVER.
 * \return 0 or -EINVAL.
 */
int prb_opts_set_rdma_spin(struct prb_opts *opts, unsigned us);

/* ------------------------------------------------------------------ sessions */

/**
 * Connect to a brick: open the transport the URL names and run the HELLO handshake.
 * \param url `tcp://HOST[:PORT]` or `rdma://HOST[:PORT]`, IPv6 in brackets.
 * \param opts options, or NULL for the defaults; not kept after the call.
 * \param session receives the new session.
 * \return 0; -EINVAL (bad URL or argument, port 0 included); -EPROTONOSUPPORT
 *         (rdma:// and this libprb was built without the RDMA binding);
 *         -EADDRNOTAVAIL (rdma://: no RDMA device on this host, or none reaches the
 *         brick's address); -ENXIO (host name not found); -EHOSTUNREACH (name
 *         resolution failed otherwise, or no route); -ETIMEDOUT; -ECONNREFUSED,
 *         -ENETUNREACH and other connect errors; -ENOTSUP (no common protocol
 *         version); -EPROTO (malformed answer); -EIO (the brick refused HELLO with
 *         a status this libprb does not know); another error the brick refused
 *         HELLO with; -ENOMEM.
 */
int prb_connect(const char *url, const struct prb_opts *opts, struct prb_session **session);

/**
 * Close the connection and free the session, its remaining mappings and list
 * iterators (pointers to them become invalid), and set *session to NULL.
 * Queued or in-flight asynchronous requests are dropped without completion.
 * \param session the session; NULL or *session NULL is a no-op.
 */
void prb_disconnect(struct prb_session **session);

/**
 * Open a new connection to the session's URL with the same options, closing
 * the current one if any. Requests in flight complete with -ECONNRESET; every
 * existing mapping becomes dead (-ESTALE) but stays to be freed with prb_unmap.
 * \param session the session.
 * \return 0 (same brick, same boot epoch); -ESTALE (connected, but the brick
 *         restarted since the previous connection); -ENODEV (another brick_id
 *         answered: left disconnected); or a `prb_connect` error (left disconnected).
 */
int prb_reconnect(struct prb_session *session);

/**
 * Connection state.
 * \param session the session.
 * \return 0 when connected, else why it ended: -ECONNRESET (brick closed it),
 *         -EPROTO (brick sent TERM or a malformed PDU; see prb_session_term_reason),
 *         -EBADMSG (digest mismatch), -ETIMEDOUT (request timeout), -ENOTCONN
 *         (closed by prb_reconnect), the error of a failed prb_reconnect
 *         (-ECONNREFUSED, ...), or another socket error.
 */
int prb_session_status(const struct prb_session *session);

/**
 * TERM reason the brick sent before closing (the spec's term_reason value).
 * \param session the session.
 * \return the reason, or 0 when no TERM was received on the current connection.
 */
unsigned prb_session_term_reason(const struct prb_session *session);

/**
 * Negotiated parameters of the current (or last) connection; no round trip.
 * \param session the session.
 * \param info receives them; `transport` points at a static string.
 * \return 0 or -EINVAL.
 */
int prb_session_get_info(const struct prb_session *session, struct prb_session_info *info);

/**
 * A file descriptor that becomes readable when `prb_reap` may make progress,
 * for callers that poll many sessions. Do not read, write or close it.
 * \param session the session.
 * \return the descriptor, or -ENOTCONN.
 */
int prb_session_fd(const struct prb_session *session);

/**
 * Register a buffer for zero-copy READ and WRITE: over RDMA, one-sided operations whose
 * buffer lies inside a registered one move the bytes straight between it and the brick;
 * other buffers go through the session's bounce memory (a copy). A blocking `prb_read` or
 * `prb_write` of registered memory, with nothing queued before it, is also the shortest
 * path through the library: one work request posted at once, as perftest does. The
 * registration lasts
 * until prb_unregister_buffer or prb_disconnect, across reconnects. Over TCP it changes
 * nothing (TCP needs no registration). The buffer must stay allocated while registered.
 * \param session the session.
 * \param buf start of the buffer.
 * \param len its length in bytes.
 * \return 0; -EINVAL; -ENOSPC (64 buffers already); -ENOMEM (the device refused to pin it).
 */
int prb_register_buffer(struct prb_session *session, void *buf, size_t len);

/**
 * Undo prb_register_buffer. No request in flight may use the buffer.
 * \param session the session.
 * \param buf the start given to prb_register_buffer.
 * \return 0, -EINVAL, or -ENOENT when it was not registered.
 */
int prb_unregister_buffer(struct prb_session *session, void *buf);

/* ------------------------------------------------------------------ blocking control calls */

/**
 * INFO: identity, capacity and statistics of the brick now.
 * \param session the session.
 * \param info receives them.
 * \return 0; -EINVAL (session or info NULL, or the brick found the request
 *         malformed); -ENOTCONN; -ECONNRESET; -EIO (the brick answered a status
 *         this libprb does not know).
 */
int prb_info(struct prb_session *session, struct prb_brick_info *info);

/**
 * KEEPALIVE round trip. The brick ends connections idle past its timeout; a
 * session that may stay idle should call this periodically (libprb runs no thread).
 * \param session the session.
 * \return 0; -EINVAL (session NULL); -ENOTCONN; -ECONNRESET; -EIO (the brick
 *         answered a status this libprb does not know).
 */
int prb_keepalive(struct prb_session *session);

/**
 * ALLOC blocks addr .. addr + blocks * PRB_BLOCK_BYTES, all or none; durable
 * when this returns 0. New blocks read as zeros.
 * \param session the session.
 * \param addr logical address, a multiple of PRB_BLOCK_BYTES.
 * \param blocks 1 (a single block) .. PRB_RANGE_MAX_BLOCKS.
 * \return 0; -EEXIST (a block of the range is allocated); -ENOSPC; -EINVAL;
 *         -ENOTCONN; -ECONNRESET.
 */
int prb_alloc(struct prb_session *session, uint64_t addr, uint32_t blocks);

/**
 * FREE blocks addr .. addr + blocks * PRB_BLOCK_BYTES, all or none; durable
 * when this returns 0.
 * \param session the session.
 * \param addr logical address, a multiple of PRB_BLOCK_BYTES.
 * \param blocks 1 .. PRB_RANGE_MAX_BLOCKS.
 * \param flags 0 or PRB_FREE_FLAG_FORCE (revoke live handles first; their
 *        holders get -ESTALE).
 * \return 0; -ENOENT (a block is not allocated); -EBUSY (a block has a live
 *         handle and no FORCE); -EINVAL; -ENOTCONN; -ECONNRESET.
 */
int prb_free(struct prb_session *session, uint64_t addr, uint32_t blocks, unsigned flags);

/**
 * MAP one allocated block.
 * \param session the session.
 * \param addr logical address of the block, a multiple of PRB_BLOCK_BYTES.
 * \param flags PRB_MAPPING_RO or PRB_MAPPING_RW, optionally | PRB_MAPPING_EXCL.
 * \param mapping receives the mapping object; free it with prb_unmap.
 * \return 0; -ENOENT (not allocated); -EBUSY (exclusive conflict); -ENOMEM
 *         (brick out of fast memory or of this connection's mappings, or local
 *         allocation failed); -EINVAL; -ENOTCONN; -ECONNRESET.
 */
int prb_map(struct prb_session *session, uint64_t addr, unsigned flags,
	    struct prb_mapping **mapping);

/**
 * UNMAP: revoke the handle (when its connection is alive), free the object in
 * every case, and set *mapping to NULL.
 * \param mapping the mapping; NULL or *mapping NULL is a no-op returning 0.
 * \return 0; -ESTALE (the brick had already revoked it, e.g. FREE with force,
 *         or its connection is gone); -ECONNRESET.
 */
int prb_unmap(struct prb_mapping **mapping);

/* ------------------------------------------------------------------ mappings */

/** \param mapping a mapping. \return the block's logical address. */
uint64_t prb_mapping_addr(const struct prb_mapping *mapping);
/** \param mapping a mapping. \return bytes reachable through it (PRB_BLOCK_BYTES). */
uint64_t prb_mapping_length(const struct prb_mapping *mapping);
/** \param mapping a mapping. \return the PRB_MAPPING_* flags it was made with. */
unsigned prb_mapping_flags(const struct prb_mapping *mapping);
/** \param mapping a mapping. \return the brick's 64-bit handle. */
uint64_t prb_mapping_handle(const struct prb_mapping *mapping);
/** \param mapping a mapping. \return RDMA remote key (0 over TCP). */
uint32_t prb_mapping_rkey(const struct prb_mapping *mapping);
/** \param mapping a mapping. \return RDMA remote address of byte 0 (0 over TCP). */
uint64_t prb_mapping_raddr(const struct prb_mapping *mapping);
/** \param mapping a mapping. \return the session it belongs to. */
struct prb_session *prb_mapping_session(const struct prb_mapping *mapping);
/**
 * \param mapping a mapping.
 * \return 0 while its connection is alive, -ESTALE once that connection is gone
 *         or the mapping was revoked by the brick (seen in an answer).
 */
int prb_mapping_status(const struct prb_mapping *mapping);

/* ------------------------------------------------------------------ blocking data calls */

/**
 * Read bytes of the mapped block into buf (one or more READ PDUs of at most
 * max_data bytes each; over TCP the payload lands straight in buf).
 * \param mapping the mapping.
 * \param offset byte offset in the block.
 * \param buf destination, len bytes.
 * \param len 1 .. PRB_BLOCK_BYTES - offset.
 * \return 0; -EINVAL; -ERANGE (offset + len > PRB_BLOCK_BYTES); -ESTALE;
 *         -ENOTCONN; -ECONNRESET.
 */
int prb_read(struct prb_mapping *mapping, uint64_t offset, void *buf, size_t len);

/**
 * Write buf into the mapped block (visible to later reads once this returns;
 * durable after prb_flush). Over TCP the payload is sent from buf, not copied.
 * \param mapping a read-write mapping.
 * \param offset byte offset in the block.
 * \param buf source, len bytes.
 * \param len 1 .. PRB_BLOCK_BYTES - offset.
 * \return 0; -EPERM (read-only mapping); -EINVAL; -ERANGE; -EBADMSG (data digest
 *         mismatch at the brick: nothing written); -ESTALE; -ENOTCONN; -ECONNRESET.
 */
int prb_write(struct prb_mapping *mapping, uint64_t offset, const void *buf, size_t len);

/**
 * Make a range of the mapped block durable (read-only mappings may flush).
 * \param mapping the mapping.
 * \param offset byte offset in the block.
 * \param len 1 .. PRB_BLOCK_BYTES - offset.
 * \return 0; -EINVAL; -ERANGE; -ESTALE; -EIO; -ENOTCONN; -ECONNRESET.
 */
int prb_flush(struct prb_mapping *mapping, uint64_t offset, size_t len);

/**
 * Compare-and-swap 8 bytes (little-endian u64 in the block), atomic against every
 * CAS and FADD of any connection.
 * \param mapping a read-write mapping.
 * \param offset byte offset, a multiple of 8, at most PRB_BLOCK_BYTES - 8.
 * \param compare expected value.
 * \param swap value stored when the expected one is found.
 * \param original receives the value found (may be NULL).
 * \return 0 (whether or not the swap happened: compare *original); -EPERM;
 *         -ENOTSUP (atomics not granted); -EINVAL; -ERANGE; -ESTALE; -ENOTCONN;
 *         -ECONNRESET.
 */
int prb_cas(struct prb_mapping *mapping, uint64_t offset, uint64_t compare, uint64_t swap,
	    uint64_t *original);

/**
 * Fetch-and-add 8 bytes (little-endian u64, modulo 2^64), atomic like prb_cas.
 * \param mapping a read-write mapping.
 * \param offset byte offset, a multiple of 8, at most PRB_BLOCK_BYTES - 8.
 * \param add addend.
 * \param original receives the value before the addition (may be NULL).
 * \return as prb_cas.
 */
int prb_fadd(struct prb_mapping *mapping, uint64_t offset, uint64_t add, uint64_t *original);

/* ------------------------------------------------------------------ LIST iterator */

/**
 * Start listing allocated extents at or after an address. Pages are fetched as
 * `prb_list_next` needs them; adjacent extents of the same state that arrive in
 * different pages are joined, so each extent is returned whole.
 * \param session the session.
 * \param start logical address, a multiple of PRB_BLOCK_BYTES (0 for all).
 * \param iter receives the iterator; free it with prb_list_delete.
 * \return 0, -EINVAL or -ENOMEM.
 */
int prb_list_new(struct prb_session *session, uint64_t start, struct prb_list_iter **iter);

/**
 * Next extent in ascending address order.
 * \param iter the iterator.
 * \param extent receives the extent.
 * \return 1 (an extent); 0 (listing complete); -EINVAL (iter or extent NULL, or
 *         the brick found the LIST malformed); -ENOTCONN; -ECONNRESET; -EIO (the
 *         brick answered a status this libprb does not know). After an error the
 *         iterator keeps its position: call again (after `prb_reconnect` for a lost
 *         connection) or delete it.
 */
int prb_list_next(struct prb_list_iter *iter, struct prb_list_extent *extent);

/**
 * Free an iterator and set *iter to NULL. NULL or *iter NULL is a no-op.
 * \param iter the iterator.
 */
void prb_list_delete(struct prb_list_iter **iter);

/* ------------------------------------------------------------------ asynchronous calls */
/*
 * Each prb_async_* call checks its arguments like its blocking twin, queues one
 * request and returns 0, or returns an error and queues nothing: -EAGAIN when
 * the queue depth is used up (reap completions first), -ENOTCONN when the
 * connection is gone, -ESTALE for a dead mapping. Buffers and output pointers
 * must stay valid until the request's completion is reaped; outputs are
 * written only on success. Nothing goes on the wire before prb_submit or
 * prb_reap. Completions come in any order.
 */

/**
 * Queue an INFO request.
 * \param session the session.
 * \param info written on success.
 * \param user_data returned in the completion.
 * \return 0 or a negative errno (see above).
 */
int prb_async_info(struct prb_session *session, struct prb_brick_info *info, uint64_t user_data);

/**
 * Queue a KEEPALIVE request.
 * \param session the session.
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_keepalive(struct prb_session *session, uint64_t user_data);

/**
 * Queue an ALLOC (see prb_alloc).
 * \param session the session.
 * \param addr logical address, a multiple of PRB_BLOCK_BYTES.
 * \param blocks 1 .. PRB_RANGE_MAX_BLOCKS.
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_alloc(struct prb_session *session, uint64_t addr, uint32_t blocks,
		    uint64_t user_data);

/**
 * Queue a FREE (see prb_free).
 * \param session the session.
 * \param addr logical address, a multiple of PRB_BLOCK_BYTES.
 * \param blocks 1 .. PRB_RANGE_MAX_BLOCKS.
 * \param flags 0 or PRB_FREE_FLAG_FORCE.
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_free(struct prb_session *session, uint64_t addr, uint32_t blocks, unsigned flags,
		   uint64_t user_data);

/**
 * Queue a MAP (see prb_map).
 * \param session the session.
 * \param addr logical address of the block.
 * \param flags PRB_MAPPING_* flags.
 * \param mapping receives the new mapping object on success.
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_map(struct prb_session *session, uint64_t addr, unsigned flags,
		  struct prb_mapping **mapping, uint64_t user_data);

/**
 * Queue an UNMAP. The mapping object is freed by libprb once the UNMAP and every
 * earlier request on it are finished (whatever the result); the caller must not
 * use it after this call returns 0.
 * \param mapping the mapping (a dead one gives -ESTALE and is not freed: use prb_unmap).
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_unmap(struct prb_mapping *mapping, uint64_t user_data);

/**
 * Queue one LIST page request (the iterator is the easy way; this one gives depth).
 * \param session the session.
 * \param cursor a multiple of PRB_BLOCK_BYTES: 0 first, then page->next_cursor.
 * \param extents array receiving up to max extents.
 * \param max 1 .. PRB_MAX_LIST_PAGE.
 * \param page receives next cursor, count and end flag on success.
 * \param user_data returned in the completion (whose result is the count).
 * \return 0 or a negative errno.
 */
int prb_async_list(struct prb_session *session, uint64_t cursor, struct prb_list_extent *extents,
		   uint32_t max, struct prb_list_page *page, uint64_t user_data);

/**
 * Queue a READ of one PDU.
 * \param mapping the mapping.
 * \param offset byte offset in the block.
 * \param buf destination, len bytes.
 * \param len 1 .. min(max_data, PRB_BLOCK_BYTES - offset) (-EINVAL above max_data).
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_read(struct prb_mapping *mapping, uint64_t offset, void *buf, size_t len,
		   uint64_t user_data);

/**
 * Queue a WRITE of one PDU.
 * \param mapping a read-write mapping.
 * \param offset byte offset in the block.
 * \param buf source, len bytes, unchanged until completion.
 * \param len 1 .. min(max_data, PRB_BLOCK_BYTES - offset).
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_write(struct prb_mapping *mapping, uint64_t offset, const void *buf, size_t len,
		    uint64_t user_data);

/**
 * Queue a FLUSH.
 * \param mapping the mapping.
 * \param offset byte offset in the block.
 * \param len 1 .. PRB_BLOCK_BYTES - offset.
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_flush(struct prb_mapping *mapping, uint64_t offset, size_t len, uint64_t user_data);

/**
 * Queue a CAS (see prb_cas).
 * \param mapping a read-write mapping.
 * \param offset multiple of 8.
 * \param compare expected value.
 * \param swap new value.
 * \param original receives the value found (may be NULL).
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_cas(struct prb_mapping *mapping, uint64_t offset, uint64_t compare, uint64_t swap,
		  uint64_t *original, uint64_t user_data);

/**
 * Queue a FADD (see prb_fadd).
 * \param mapping a read-write mapping.
 * \param offset multiple of 8.
 * \param add addend.
 * \param original receives the value before the addition (may be NULL).
 * \param user_data returned in the completion.
 * \return 0 or a negative errno.
 */
int prb_async_fadd(struct prb_mapping *mapping, uint64_t offset, uint64_t add, uint64_t *original,
		   uint64_t user_data);

/**
 * Send every queued request without waiting for answers (as far as the socket
 * takes them without blocking; prb_reap sends the rest).
 * \param session the session.
 * \return requests now in flight (>= 0), or -ENOTCONN.
 */
int prb_submit(struct prb_session *session);

/**
 * Send what is queued, then collect completions.
 * \param session the session.
 * \param completions array receiving up to max completions.
 * \param min wait until at least this many are available (fewer when the
 *        timeout expires, or when fewer requests are outstanding).
 * \param max size of the array, >= 1.
 * \param timeout_ms -1 to wait without limit (the I/O timeout still applies),
 *        0 to return at once, else milliseconds.
 * \return completions written (>= 0), or -EINVAL. A lost connection is reported
 *         through the completions of the requests it ended (-ECONNRESET).
 */
int prb_reap(struct prb_session *session, struct prb_completion *completions, unsigned min,
	     unsigned max, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* PRB_PRB_H */
