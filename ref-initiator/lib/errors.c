/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * prb_strerror: static descriptions, with the meaning each code has in libprb, and
 * the C library's description for the codes libprb passes through unchanged.
 */
#define _GNU_SOURCE /* strerrordesc_np */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include <prb/prb.h>

struct prb_error_text {
	int code;
	const char *text;
};

static const struct prb_error_text prb_error_texts[] = {
	{0, "Success"},
	{EINVAL, "Invalid argument (checked locally, or the brick found a malformed field)"},
	{ERANGE, "Offset and length reach outside the mapped block"},
	{EPERM, "Not allowed through a read-only mapping"},
	{EEXIST, "A block of the range is already allocated"},
	{ENOSPC, "Not enough free blocks on the brick"},
	{ENOENT, "A block of the range is not allocated"},
	{EBUSY, "Block is mapped (or mapped exclusively) elsewhere"},
	{ESTALE, "Mapping is dead (unmapped, revoked, or its connection ended), or the brick "
		 "restarted"},
	{ENOTSUP, "Not supported by the brick or not negotiated"},
	{EPROTO, "Protocol error (malformed PDU, TERM received, or request not valid now)"},
	{EBADMSG, "Digest mismatch"},
	{EIO, "The brick's storage failed, or the brick answered a status this libprb does not "
	      "know"},
	{ENOMEM, "Out of memory, mappings or fast memory"},
	{ENOTCONN, "Session is not connected (reconnect first)"},
	{ECONNRESET, "Connection lost while the request was in flight"},
	{ECONNREFUSED, "Connection refused"},
	{ETIMEDOUT, "Timed out"},
	{EAGAIN, "Queue depth used up: reap completions first"},
	{ENODEV, "Another brick answers at this URL"},
	{EPROTONOSUPPORT, "Transport not built into this libprb (rdma:// needs the RDMA binding)"},
	{EHOSTUNREACH, "Host unreachable"},
	{ENETUNREACH, "Network unreachable"},
	{EADDRNOTAVAIL, "Address not available (rdma://: no RDMA device on this host, or none "
			"reaches the brick's address)"},
	{EPIPE, "Connection closed"},
	{EMSGSIZE, "Message too long"},
	{ENXIO, "Host name not found"},
};

/* libprb's own text for a positive code, or NULL. */
static const char *prb_error_text(int code)
{
	size_t i;

	for (i = 0; i < sizeof(prb_error_texts) / sizeof(prb_error_texts[0]); i++)
		if (prb_error_texts[i].code == code)
			return prb_error_texts[i].text;
	return NULL;
}

const char *prb_strerror(int err)
{
	const char *text;
	int code;

	if (err == INT_MIN) /* -INT_MIN overflows */
		return "Unknown error";
	code = err < 0 ? -err : err;
	text = prb_error_text(code);
	if (text)
		return text;
#ifdef PRB_HAVE_STRERRORDESC_NP
	/*
	 * Codes passed through from the socket, resolver or rdma_cm calls. Not
	 * strerror (a buffer shared between threads) nor strerror_r (the caller's
	 * buffer): strerrordesc_np returns static, untranslated text, or NULL.
	 */
	text = strerrordesc_np(code);
	if (text)
		return text;
#endif
	return "Unknown error";
}
