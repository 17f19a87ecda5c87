/* SPDX-License-Identifier: BSD-3-Clause */
/* Sessions: URL to transport, connect, reconnect with restart detection, disconnect. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

uint64_t prb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t prb_now_us(void)
{
	return prb_now_ns() / 1000u;
}

uint64_t prb_now_ms(void)
{
	return prb_now_us() / 1000u;
}

/* The transport a URL names, or NULL when this libprb does not have it. */
static const struct prb_transport_ops *prb_transport_for(enum prb_transport t)
{
	switch (t) {
	case PRB_TRANSPORT_TCP:
		return &prb_tcp_transport;
#ifdef PRB_HAVE_RDMA
	case PRB_TRANSPORT_RDMA:
		return &prb_rdma_transport;
#endif
	default:
		return NULL;
	}
}

/* Open the transport, run HELLO and size the queue for the new connection. */
static int prb_session_open(struct prb_session *s)
{
	uint32_t granted, user_depth;
	int rc;

	rc = s->transport->open(s, &s->parsed_url);
	if (rc < 0)
		return rc;
	granted = s->params.queue_depth;
	user_depth = s->opts.queue_depth < granted ? s->opts.queue_depth : granted;
	rc = prb_queue_init(s, granted, user_depth);
	if (rc < 0)
		goto err_close;
	s->params.queue_depth = user_depth;
	s->params.transport = s->transport->name;
	s->connected = true;
	s->ever_connected = true;
	s->status = 0;
	s->connection++;
	return 0;

err_close:
	s->transport->close(s);
	return rc;
}

int prb_connect(const char *url, const struct prb_opts *opts, struct prb_session **session)
{
	struct prb_session *s;
	int rc;

	if (!url || !session)
		return -EINVAL;
	if (strlen(url) >= sizeof(s->url))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(s->url, url, strlen(url) + 1);
	rc = prb_url_parse_connect(url, &s->parsed_url); /* PRB-URL-5: no port 0 */
	if (rc < 0) {
		rc = -EINVAL;
		goto err_free;
	}
	if (opts) {
		s->opts = *opts;
	} else {
		struct prb_opts *defaults;

		rc = prb_opts_new(&defaults);
		if (rc < 0)
			goto err_free;
		s->opts = *defaults;
		prb_opts_delete(&defaults);
	}
	s->transport = prb_transport_for(s->parsed_url.transport);
	if (!s->transport) {
		rc = -EPROTONOSUPPORT;
		goto err_free;
	}
	s->status = -ENOTCONN;
	rc = prb_session_open(s);
	if (rc < 0)
		goto err_free_queue;
	*session = s;
	return 0;

err_free_queue:
	prb_queue_fini(s);
err_free:
	free(s);
	return rc;
}

void prb_session_lost(struct prb_session *s, int why)
{
	if (!s->connected)
		return;
	s->connected = false;
	s->status = why;
	s->transport->close(s);
	prb_queue_fail_all(s, -ECONNRESET);
}

int prb_reconnect(struct prb_session *s)
{
	uint8_t old_id[16];
	uint64_t old_epoch;
	bool had = s && s->ever_connected;
	int rc;

	if (!s)
		return -EINVAL;
	memcpy(old_id, s->params.brick_id, sizeof(old_id));
	old_epoch = s->params.boot_epoch;
	prb_session_lost(s, -ENOTCONN);
	rc = prb_session_open(s);
	if (rc < 0) {
		s->status = rc;
		return rc;
	}
	if (had && memcmp(old_id, s->params.brick_id, sizeof(old_id)) != 0) {
		prb_session_lost(s, -ENODEV);
		return -ENODEV;
	}
	if (had && old_epoch != s->params.boot_epoch)
		return -ESTALE;
	return 0;
}

void prb_disconnect(struct prb_session **session)
{
	struct prb_session *s;

	if (!session || !*session)
		return;
	s = *session;
	*session = NULL;
	if (s->connected) {
		s->connected = false;
		s->transport->close(s);
	}
	prb_queue_drop_all(s);
	while (s->mappings)
		prb_mapping_destroy(s->mappings);
	prb_list_detach_all(s);
	prb_queue_fini(s);
	prb_buffers_free(s);
	free(s);
}

int prb_session_status(const struct prb_session *session)
{
	if (!session)
		return -EINVAL;
	return session->connected ? 0 : session->status;
}

unsigned prb_session_term_reason(const struct prb_session *session)
{
	return session ? session->term_reason : 0;
}

int prb_session_get_info(const struct prb_session *session, struct prb_session_info *info)
{
	if (!session || !info)
		return -EINVAL;
	*info = session->params;
	return 0;
}

int prb_session_fd(const struct prb_session *session)
{
	if (!session)
		return -EINVAL;
	if (!session->connected)
		return -ENOTCONN;
	return session->transport->fd(session);
}
