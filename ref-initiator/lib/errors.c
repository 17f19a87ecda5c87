/* SPDX-License-Identifier: BSD-3-Clause */
/* prb_strerror: static descriptions, with the meaning each code has in libprb. */
#include <errno.h>
#include <stddef.h>

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
	{EPROTONOSUPPORT, "Transport not supported by this libprb"},
	{EHOSTUNREACH, "Host unreachable"},
	{ENETUNREACH, "Network unreachable"},
	{EADDRNOTAVAIL, "Address not available"},
	{EPIPE, "Connection closed"},
	{EMSGSIZE, "Message too long"},
	{ENXIO, "Host name not found"},
};

const char *prb_strerror(int err)
{
	int code = err < 0 ? -err : err;
	size_t i;

	for (i = 0; i < sizeof(prb_error_texts) / sizeof(prb_error_texts[0]); i++)
		if (prb_error_texts[i].code == code)
			return prb_error_texts[i].text;
	return "Unknown error";
}
