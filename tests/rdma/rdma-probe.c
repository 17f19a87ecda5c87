/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma-probe: learn, on the RDMA device at hand, the facts the prb RDMA binding
 * relies on, and fail when one of them does not hold. Standalone: libibverbs and
 * librdmacm only. One process plays both sides: a "brick" listening on ADDR and
 * an "initiator" connecting to it (inside scripts/rxe-vm.sh: 10.0.0.1, reached
 * through rxe1, so the traffic crosses the veth pair).
 *
 * Checked:
 *  - type-2 memory windows: bind a window over one 2 MiB block of a larger MR,
 *    RDMA WRITE/READ and atomics through it, an access outside the window fails;
 *  - a read-only window refuses RDMA WRITE with a remote access error;
 *  - LOCAL_INV of a window, or deregistration of a per-block MR, makes later
 *    accesses fail with IBV_WC_REM_ACCESS_ERR, after which the initiator's QP is
 *    in the error state (and the brick's QP too): the connection must be rebuilt;
 *  - atomics (IBV_ATOMIC_HCA): CAS and FADD;
 *  - the cost of bind+invalidate against reg_mr+dereg_mr of a 2 MiB block;
 *  - optionally (-f FILE): registration of a shared file mapping (the pool).
 *
 * Usage: rdma-probe [-a ADDR] [-p PORT] [-f FILE]    exit 0 when every fact holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#define BLOCK (2u << 20)
#define POOL (2u * BLOCK)
#define TIMEOUT_MS 5000

/* One side of a connection. */
struct side {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
};

struct pair {
	struct rdma_cm_id *listen_id;
	struct rdma_event_channel *listen_ch;
	struct side brick, init;
};

static int failures;

/* Report one fact; count it as a failure when it does not hold. */
static void fact(bool ok, const char *what)
{
	printf("%s %s\n", ok ? "[ok]  " : "[FAIL]", what);
	if (!ok)
		failures++;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Wait for one rdma_cm event of the expected type on a channel. */
static int expect_event(struct rdma_event_channel *ch, enum rdma_cm_event_type type,
			struct rdma_cm_id **id)
{
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type got;

	if (rdma_get_cm_event(ch, &ev))
		return -errno;
	got = ev->event;
	if (id)
		*id = ev->id;
	rdma_ack_cm_event(ev);
	if (got != type) {
		fprintf(stderr, "probe: cm event %s, expected %s\n", rdma_event_str(got),
			rdma_event_str(type));
		return -EPROTO;
	}
	return 0;
}

/* PD, CQ and an RC QP on a cm id. */
static int side_qp(struct side *s)
{
	struct ibv_qp_init_attr qa;

	s->pd = ibv_alloc_pd(s->id->verbs);
	s->cq = ibv_create_cq(s->id->verbs, 64, NULL, NULL, 0);
	if (!s->pd || !s->cq)
		return -ENOMEM;
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = s->cq;
	qa.recv_cq = s->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = 32;
	qa.cap.max_recv_wr = 32;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	if (rdma_create_qp(s->id, s->pd, &qa))
		return -errno;
	return 0;
}

/* Listen, connect, accept: both QPs connected. */
static int pair_connect(struct pair *p, const char *addr, const char *port)
{
	struct rdma_conn_param cp;
	struct addrinfo *ai;
	struct rdma_cm_id *req;
	int rc;

	memset(p, 0, sizeof(*p));
	if (getaddrinfo(addr, port, NULL, &ai))
		return -EINVAL;
	p->listen_ch = rdma_create_event_channel();
	p->init.ch = rdma_create_event_channel();
	if (!p->listen_ch || !p->init.ch)
		return -errno;
	if (rdma_create_id(p->listen_ch, &p->listen_id, NULL, RDMA_PS_TCP) ||
	    rdma_bind_addr(p->listen_id, ai->ai_addr) || rdma_listen(p->listen_id, 4))
		return -errno;
	if (rdma_create_id(p->init.ch, &p->init.id, NULL, RDMA_PS_TCP) ||
	    rdma_resolve_addr(p->init.id, NULL, ai->ai_addr, TIMEOUT_MS))
		return -errno;
	freeaddrinfo(ai);
	rc = expect_event(p->init.ch, RDMA_CM_EVENT_ADDR_RESOLVED, NULL);
	if (rc)
		return rc;
	if (rdma_resolve_route(p->init.id, TIMEOUT_MS))
		return -errno;
	rc = expect_event(p->init.ch, RDMA_CM_EVENT_ROUTE_RESOLVED, NULL);
	if (rc || (rc = side_qp(&p->init)))
		return rc;
	memset(&cp, 0, sizeof(cp));
	cp.responder_resources = 8;
	cp.initiator_depth = 8;
	cp.retry_count = 3;
	cp.rnr_retry_count = 7;
	if (rdma_connect(p->init.id, &cp))
		return -errno;
	rc = expect_event(p->listen_ch, RDMA_CM_EVENT_CONNECT_REQUEST, &req);
	if (rc)
		return rc;
	p->brick.id = req;
	if ((rc = side_qp(&p->brick)))
		return rc;
	if (rdma_accept(p->brick.id, &cp))
		return -errno;
	rc = expect_event(p->init.ch, RDMA_CM_EVENT_ESTABLISHED, NULL);
	if (rc)
		return rc;
	return expect_event(p->listen_ch, RDMA_CM_EVENT_ESTABLISHED, NULL);
}

static void side_close(struct side *s)
{
	if (s->id && s->id->qp)
		rdma_destroy_qp(s->id);
	if (s->cq && ibv_destroy_cq(s->cq))
		fact(false, "ibv_destroy_cq");
	if (s->pd && ibv_dealloc_pd(s->pd))
		fact(false, "ibv_dealloc_pd (something still uses the domain)");
	if (s->id)
		rdma_destroy_id(s->id);
}

static void pair_close(struct pair *p)
{
	if (p->init.id)
		rdma_disconnect(p->init.id);
	side_close(&p->init);
	side_close(&p->brick);
	if (p->listen_id)
		rdma_destroy_id(p->listen_id);
	if (p->init.ch)
		rdma_destroy_event_channel(p->init.ch);
	if (p->listen_ch)
		rdma_destroy_event_channel(p->listen_ch);
}

/* Busy-poll one completion; returns its status, or -ETIMEDOUT. */
static int poll_one(struct ibv_cq *cq, struct ibv_wc *wc)
{
	double end = now_us() + TIMEOUT_MS * 1000.0;

	while (now_us() < end) {
		int n = ibv_poll_cq(cq, 1, wc);

		if (n < 0)
			return -EIO;
		if (n == 1)
			return (int)wc->status;
	}
	return -ETIMEDOUT;
}

/* Post one one-sided verb from the initiator and wait for it; returns the WC status. */
static int one_sided(struct pair *p, enum ibv_wr_opcode op, struct ibv_mr *local, uint32_t len,
		     uint64_t raddr, uint32_t rkey, uint64_t compare, uint64_t swap_add)
{
	struct ibv_sge sge = { .addr = (uintptr_t)local->addr, .length = len, .lkey = local->lkey };
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;

	memset(&wr, 0, sizeof(wr));
	wr.opcode = op;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.send_flags = IBV_SEND_SIGNALED;
	if (op == IBV_WR_ATOMIC_CMP_AND_SWP || op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		wr.wr.atomic.remote_addr = raddr;
		wr.wr.atomic.rkey = rkey;
		wr.wr.atomic.compare_add = op == IBV_WR_ATOMIC_CMP_AND_SWP ? compare : swap_add;
		wr.wr.atomic.swap = swap_add;
	} else {
		wr.wr.rdma.remote_addr = raddr;
		wr.wr.rdma.rkey = rkey;
	}
	if (ibv_post_send(p->init.id->qp, &wr, &bad))
		return -errno;
	return poll_one(p->init.cq, &wc);
}

/* Bind a type-2 window over [addr, addr + len) of mr on the brick's QP. The caller
 * keeps mw->rkey current (as ibv_bind_mw does for type 1): the kernel checks it. */
static int bind_window(struct pair *p, struct ibv_mw *mw, struct ibv_mr *mr, void *addr,
		       uint32_t len, unsigned access, uint32_t *rkey)
{
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;
	int st;

	memset(&wr, 0, sizeof(wr));
	wr.opcode = IBV_WR_BIND_MW;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.bind_mw.mw = mw;
	wr.bind_mw.rkey = ibv_inc_rkey(mw->rkey);
	wr.bind_mw.bind_info.mr = mr;
	wr.bind_mw.bind_info.addr = (uintptr_t)addr;
	wr.bind_mw.bind_info.length = len;
	wr.bind_mw.bind_info.mw_access_flags = access;
	if (ibv_post_send(p->brick.id->qp, &wr, &bad))
		return -errno;
	st = poll_one(p->brick.cq, &wc);
	if (st != IBV_WC_SUCCESS) {
		printf("  bind: %s (vendor_err %u)\n", st < 0 ? strerror(-st) : ibv_wc_status_str(wc.status), wc.vendor_err);
		return st < 0 ? st : -EIO;
	}
	mw->rkey = wr.bind_mw.rkey;
	*rkey = wr.bind_mw.rkey;
	return 0;
}

/* Invalidate an rkey (a type-2 window) on the brick's QP. */
static int local_inv(struct pair *p, uint32_t rkey)
{
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;
	int st;

	memset(&wr, 0, sizeof(wr));
	wr.opcode = IBV_WR_LOCAL_INV;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.invalidate_rkey = rkey;
	if (ibv_post_send(p->brick.id->qp, &wr, &bad))
		return -errno;
	st = poll_one(p->brick.cq, &wc);
	if (st != IBV_WC_SUCCESS)
		printf("  local_inv %#x: %s (vendor_err %u)\n", rkey, st < 0 ? strerror(-st) : ibv_wc_status_str(wc.status), wc.vendor_err);
	return st == IBV_WC_SUCCESS ? 0 : (st < 0 ? st : -EIO);
}

static enum ibv_qp_state qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_attr a;
	struct ibv_qp_init_attr ia;

	if (ibv_query_qp(qp, &a, IBV_QP_STATE, &ia))
		return IBV_QPS_UNKNOWN;
	return a.qp_state;
}

static void report_device(struct ibv_context *ctx)
{
	struct ibv_device_attr a;

	if (ibv_query_device(ctx, &a)) {
		fact(false, "ibv_query_device");
		return;
	}
	printf("device %s: max_mr %d max_mw %d max_qp_wr %d max_sge %d atomic_cap %d "
	       "max_qp_rd_atom %d max_mr_size %" PRIu64 " cap_flags 0x%x\n",
	       ibv_get_device_name(ctx->device), a.max_mr, a.max_mw, a.max_qp_wr, a.max_sge,
	       a.atomic_cap, a.max_qp_rd_atom, (uint64_t)a.max_mr_size, a.device_cap_flags);
	fact(a.device_cap_flags & IBV_DEVICE_MEM_WINDOW_TYPE_2B, "device: memory windows type 2B");
	fact(a.atomic_cap == IBV_ATOMIC_HCA || a.atomic_cap == IBV_ATOMIC_GLOB,
	     "device: atomics (IBV_ATOMIC_HCA or GLOB)");
}

/* Windows: bind, use, bounds, read-only, invalidate. */
static void probe_windows(const char *addr, const char *port)
{
	struct pair p;
	uint8_t *pool = aligned_alloc(4096, POOL), *local = aligned_alloc(4096, BLOCK);
	struct ibv_mr *mr = NULL, *lmr = NULL;
	struct ibv_mw *rw = NULL, *ro = NULL;
	uint32_t rw_key = 0, ro_key = 0;
	uint8_t *blk = pool + BLOCK;
	uint64_t v;
	double t0;
	int st, i;

	if (pair_connect(&p, addr, port)) {
		fact(false, "connect (windows)");
		goto out;
	}
	report_device(p.brick.id->verbs);
	memset(pool, 0, POOL);
	mr = ibv_reg_mr(p.brick.pd, pool, POOL,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
				IBV_ACCESS_REMOTE_ATOMIC | IBV_ACCESS_MW_BIND);
	lmr = ibv_reg_mr(p.init.pd, local, BLOCK, IBV_ACCESS_LOCAL_WRITE);
	fact(mr && lmr, "reg_mr of the pool with MW_BIND");
	if (!mr || !lmr)
		goto out;
	rw = ibv_alloc_mw(p.brick.pd, IBV_MW_TYPE_2);
	ro = ibv_alloc_mw(p.brick.pd, IBV_MW_TYPE_2);
	fact(rw && ro, "ibv_alloc_mw(IBV_MW_TYPE_2)");
	if (!rw || !ro)
		goto out;
	fact(bind_window(&p, rw, mr, blk, BLOCK,
			 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC,
			 &rw_key) == 0,
	     "IBV_WR_BIND_MW read+write+atomic over one block");
	fact(bind_window(&p, ro, mr, blk, BLOCK, IBV_ACCESS_REMOTE_READ, &ro_key) == 0,
	     "IBV_WR_BIND_MW read-only over the same block");

	memset(local, 0xab, 4096);
	st = one_sided(&p, IBV_WR_RDMA_WRITE, lmr, 4096, (uintptr_t)blk + 4096, rw_key, 0, 0);
	fact(st == IBV_WC_SUCCESS && blk[4096] == 0xab && blk[8191] == 0xab && blk[8192] == 0,
	     "RDMA WRITE through the RW window lands in the block");
	memset(local, 0, 4096);
	st = one_sided(&p, IBV_WR_RDMA_READ, lmr, 4096, (uintptr_t)blk + 4096, ro_key, 0, 0);
	fact(st == IBV_WC_SUCCESS && local[0] == 0xab && local[4095] == 0xab,
	     "RDMA READ through the RO window");
	st = one_sided(&p, IBV_WR_RDMA_READ, lmr, BLOCK, (uintptr_t)blk, rw_key, 0, 0);
	fact(st == IBV_WC_SUCCESS, "RDMA READ of the whole 2 MiB block in one verb");
	memcpy(blk + 64, &(uint64_t){ 5 }, 8);
	st = one_sided(&p, IBV_WR_ATOMIC_CMP_AND_SWP, lmr, 8, (uintptr_t)blk + 64, rw_key, 5, 9);
	memcpy(&v, local, 8);
	fact(st == IBV_WC_SUCCESS && v == 5 && blk[64] == 9, "ATOMIC CAS through the RW window");
	st = one_sided(&p, IBV_WR_ATOMIC_FETCH_AND_ADD, lmr, 8, (uintptr_t)blk + 64, rw_key, 0, 3);
	memcpy(&v, local, 8);
	fact(st == IBV_WC_SUCCESS && v == 9 && blk[64] == 12, "ATOMIC FADD through the RW window");

	t0 = now_us();
	for (i = 0; i < 100; i++) {
		if (local_inv(&p, rw_key) ||
		    bind_window(&p, rw, mr, blk, BLOCK, IBV_ACCESS_REMOTE_READ, &rw_key))
			break;
	}
	printf("cost: bind + LOCAL_INV of a window: %.1f us (100 rounds)\n",
	       (now_us() - t0) / 100.0);
	fact(i == 100, "100 rounds of LOCAL_INV + rebind");

	fact(local_inv(&p, ro_key) == 0, "IBV_WR_LOCAL_INV of the RO window");
	st = one_sided(&p, IBV_WR_RDMA_READ, lmr, 64, (uintptr_t)blk, ro_key, 0, 0);
	printf("READ through an invalidated window: %s\n",
	       st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st));
	fact(st == IBV_WC_REM_ACCESS_ERR, "READ through an invalidated window: IBV_WC_REM_ACCESS_ERR");
	fact(qp_state(p.init.id->qp) == IBV_QPS_ERR, "initiator QP in error after the access error");
	printf("brick QP state after the access error: %d (ERR = %d)\n",
	       qp_state(p.brick.id->qp), IBV_QPS_ERR);
out:
	if (ro && ibv_dealloc_mw(ro))
		fact(false, "ibv_dealloc_mw (RO window)");
	if (rw && ibv_dealloc_mw(rw))
		fact(false, "ibv_dealloc_mw (RW window)");
	if (lmr)
		ibv_dereg_mr(lmr);
	if (mr)
		ibv_dereg_mr(mr);
	pair_close(&p);
	free(pool);
	free(local);
}

/* A destructive access on a fresh connection: returns the WC status it got. */
static int probe_error(const char *addr, const char *port, int which)
{
	struct pair p;
	uint8_t *pool = aligned_alloc(4096, POOL), *local = aligned_alloc(4096, 4096);
	struct ibv_mr *mr = NULL, *lmr = NULL, *blk_mr = NULL;
	struct ibv_mw *mw = NULL;
	uint32_t key = 0;
	int st = -EIO;

	if (pair_connect(&p, addr, port))
		goto out;
	mr = ibv_reg_mr(p.brick.pd, pool, POOL,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
				IBV_ACCESS_MW_BIND);
	lmr = ibv_reg_mr(p.init.pd, local, 4096, IBV_ACCESS_LOCAL_WRITE);
	mw = ibv_alloc_mw(p.brick.pd, IBV_MW_TYPE_2);
	if (!mr || !lmr || !mw)
		goto out;
	switch (which) {
	case 0: /* RDMA WRITE through a read-only window */
		if (bind_window(&p, mw, mr, pool, BLOCK, IBV_ACCESS_REMOTE_READ, &key))
			goto out;
		st = one_sided(&p, IBV_WR_RDMA_WRITE, lmr, 64, (uintptr_t)pool, key, 0, 0);
		break;
	case 1: /* READ past the end of a window over a block-sized MR (bind access only) */
		blk_mr = ibv_reg_mr(p.brick.pd, pool, BLOCK,
				    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_MW_BIND);
		if (!blk_mr || bind_window(&p, mw, blk_mr, pool, BLOCK,
					   IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
						   IBV_ACCESS_REMOTE_ATOMIC,
					   &key))
			goto out;
		st = one_sided(&p, IBV_WR_RDMA_WRITE, lmr, 64, (uintptr_t)pool + BLOCK - 64, key,
			       0, 0);
		if (st == IBV_WC_SUCCESS)
			st = one_sided(&p, IBV_WR_ATOMIC_FETCH_AND_ADD, lmr, 8,
				       (uintptr_t)pool + BLOCK - 8, key, 0, 1);
		if (st != IBV_WC_SUCCESS) {
			printf("  write/atomic through a window over a bind-only MR: %s\n",
			       ibv_wc_status_str((enum ibv_wc_status)st));
			st = -EIO;
			goto out;
		}
		st = one_sided(&p, IBV_WR_RDMA_READ, lmr, 64, (uintptr_t)pool + BLOCK - 32, key,
			       0, 0);
		break;
	case 2: /* per-block MR deregistered, then READ */
		blk_mr = ibv_reg_mr(p.brick.pd, pool + BLOCK, BLOCK, IBV_ACCESS_REMOTE_READ);
		if (!blk_mr)
			goto out;
		key = blk_mr->rkey;
		st = one_sided(&p, IBV_WR_RDMA_READ, lmr, 64, (uintptr_t)pool + BLOCK, key, 0, 0);
		if (st != IBV_WC_SUCCESS)
			goto out;
		ibv_dereg_mr(blk_mr);
		blk_mr = NULL;
		st = one_sided(&p, IBV_WR_RDMA_READ, lmr, 64, (uintptr_t)pool + BLOCK, key, 0, 0);
		break;
	case 3: { /* a window bound on another connection's QP */
		struct pair q;
		struct ibv_mr *qmr;

		if (bind_window(&p, mw, mr, pool, BLOCK, IBV_ACCESS_REMOTE_READ, &key))
			goto out;
		if (pair_connect(&q, addr, "7199"))
			goto out;
		/* the other connection has another PD: register its local buffer there */
		qmr = ibv_reg_mr(q.init.pd, local, 4096, IBV_ACCESS_LOCAL_WRITE);
		st = qmr ? one_sided(&q, IBV_WR_RDMA_READ, qmr, 64, (uintptr_t)pool, key, 0, 0)
			 : -ENOMEM;
		if (qmr)
			ibv_dereg_mr(qmr);
		pair_close(&q);
		break;
	}
	case 4: /* READ past the end of a window over a larger MR */
		if (bind_window(&p, mw, mr, pool, BLOCK, IBV_ACCESS_REMOTE_READ, &key))
			goto out;
		st = one_sided(&p, IBV_WR_RDMA_READ, lmr, 64, (uintptr_t)pool + BLOCK - 32, key,
			       0, 0);
		break;
	case 5: /* the rkey of an MR registered with bind access only */
		blk_mr = ibv_reg_mr(p.brick.pd, pool, BLOCK,
				    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_MW_BIND);
		if (!blk_mr)
			goto out;
		st = one_sided(&p, IBV_WR_RDMA_READ, lmr, 64, (uintptr_t)pool, blk_mr->rkey, 0, 0);
		break;
	}
	if (st >= 0 && st != IBV_WC_SUCCESS) {
		printf("  initiator QP state %d, brick QP state %d (ERR = %d)\n",
		       qp_state(p.init.id->qp), qp_state(p.brick.id->qp), IBV_QPS_ERR);
	}
out:
	/* windows first: a region with a window bound to it cannot be deregistered */
	if (mw && ibv_dealloc_mw(mw))
		fact(false, "ibv_dealloc_mw");
	if (blk_mr && ibv_dereg_mr(blk_mr))
		fact(false, "ibv_dereg_mr of a block region");
	if (lmr)
		ibv_dereg_mr(lmr);
	if (mr)
		ibv_dereg_mr(mr);
	pair_close(&p);
	free(pool);
	free(local);
	return st;
}

static const char *st_name(int st)
{
	return st < 0 ? strerror(-st) : ibv_wc_status_str((enum ibv_wc_status)st);
}

/* The cost of a memory region per mapping: reg + dereg of 2 MiB. */
static void probe_mr_cost(const char *addr, const char *port, const char *file)
{
	struct pair p;
	uint8_t *buf = aligned_alloc(4096, BLOCK);
	double t0;
	int i;

	if (pair_connect(&p, addr, port)) {
		fact(false, "connect (mr cost)");
		free(buf);
		return;
	}
	memset(buf, 1, BLOCK);
	t0 = now_us();
	for (i = 0; i < 20; i++) {
		struct ibv_mr *mr = ibv_reg_mr(p.brick.pd, buf, BLOCK, IBV_ACCESS_REMOTE_READ);

		if (!mr)
			break;
		ibv_dereg_mr(mr);
	}
	printf("cost: reg_mr + dereg_mr of 2 MiB: %.1f us (20 rounds)\n", (now_us() - t0) / 20.0);
	fact(i == 20, "20 rounds of reg_mr + dereg_mr");
	if (file) {
		int fd = open(file, O_RDWR | O_CREAT, 0600);
		void *map = MAP_FAILED;
		struct ibv_mr *mr = NULL;

		if (fd >= 0 && ftruncate(fd, POOL) == 0)
			map = mmap(NULL, POOL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map != MAP_FAILED)
			mr = ibv_reg_mr(p.brick.pd, map, POOL,
					IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
						IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_MW_BIND);
		printf("reg_mr of a shared mapping of %s: %s\n", file, mr ? "ok" : strerror(errno));
		fact(mr != NULL, "reg_mr of a MAP_SHARED file mapping");
		if (mr)
			ibv_dereg_mr(mr);
		if (map != MAP_FAILED)
			munmap(map, POOL);
		if (fd >= 0)
			close(fd);
	}
	pair_close(&p);
	free(buf);
}

int main(int argc, char **argv)
{
	const char *addr = "10.0.0.1", *port = "7190", *file = NULL;
	int opt, st;

	while ((opt = getopt(argc, argv, "a:p:f:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = optarg; break;
		case 'f': file = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-a ADDR] [-p PORT] [-f FILE]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	probe_windows(addr, port);
	st = probe_error(addr, port, 0);
	printf("RDMA WRITE through a read-only window: %s\n", st_name(st));
	fact(st == IBV_WC_REM_ACCESS_ERR, "RO window refuses RDMA WRITE (REM_ACCESS_ERR)");
	st = probe_error(addr, port, 1);
	printf("READ past the end of a window over a block-sized MR: %s\n", st_name(st));
	fact(st == IBV_WC_REM_ACCESS_ERR, "window over a block-sized MR: bounds enforced");
	st = probe_error(addr, port, 4);
	printf("READ past the end of a window over a larger MR: %s%s\n", st_name(st),
	       st == IBV_WC_SUCCESS ? " (the device checks the MR's bounds, not the window's:"
				      " windows must sit on block-sized MRs)" : "");
	st = probe_error(addr, port, 5);
	printf("READ with the rkey of a bind-only MR: %s\n", st_name(st));
	fact(st == IBV_WC_REM_ACCESS_ERR, "a bind-only MR's own rkey gives no remote access");
	st = probe_error(addr, port, 2);
	printf("READ through a deregistered per-block MR: %s\n", st_name(st));
	fact(st == IBV_WC_REM_ACCESS_ERR, "deregistered MR: REM_ACCESS_ERR");
	st = probe_error(addr, port, 3);
	printf("READ through a window bound on another connection: %s\n", st_name(st));
	fact(st == IBV_WC_REM_ACCESS_ERR, "type-2 window only works on its own QP");
	probe_mr_cost(addr, port, file);
#ifdef PRB_HAVE_IBV_WR_FLUSH
	printf("rdma-core: ibv_wr_flush present\n");
#else
	printf("rdma-core: no ibv_wr_flush (RDMA_FLUSH not offered)\n");
#endif
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
