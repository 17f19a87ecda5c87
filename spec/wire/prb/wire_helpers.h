/* prb/wire_helpers.h: the hand-written part of libprbwire (spec/CODEC.md, "Hand-written
 * helpers"). Included by the generated <prb/wire.h>; include that instead. */
#ifndef PRB_WIRE_HELPERS_H
#define PRB_WIRE_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include <prb/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * CRC32C (Castagnoli), the digest of the TCP binding.
 * \param buf, len the bytes
 * \return the final CRC (pre- and post-inverted); "123456789" gives 0xE3069283
 */
uint32_t prb_crc32c(const void *buf, size_t len);

/**
 * Total length of a PDU.
 * \param hlen the fixed part (header and body)
 * \param flags the header's flags: HDGST adds the header digest, DDGST the data digest
 * \param payload_len payload bytes
 * \return plen (wraps modulo 2^32 for absurd payloads: callers bound payload_len)
 */
uint32_t prb_pdu_plen(uint16_t hlen, uint8_t flags, uint32_t payload_len);

/**
 * Offset of the payload in a PDU.
 * \param h a decoded header
 * \return hlen, plus the header digest when HDGST is set
 */
uint32_t prb_payload_offset(const struct prb_hdr *h);

/**
 * Payload bytes of a PDU.
 * \param h a decoded header (a decoder checked plen covers the fixed part and digests)
 * \return plen minus the payload offset and the data digest, or 0 when plen is too short
 */
uint32_t prb_payload_len(const struct prb_hdr *h);

/**
 * Encode an error response: the common header alone (hlen = 16), status != 0.
 * \param request_opcode the request's opcode byte; the response bit is added
 * \param tag the request's tag
 * \param status a PRB_ST_* value
 * \param flags header flags (HDGST when negotiated; the caller appends the digest)
 * \return PRB_HDR_SIZE, or -EMSGSIZE when len is too small
 */
int prb_error_rsp_encode(uint8_t request_opcode, uint32_t tag, uint16_t status, uint8_t flags,
			 void *buf, size_t len);

/** The two transport bindings. */
enum prb_transport { PRB_TRANSPORT_TCP, PRB_TRANSPORT_RDMA };

/** A brick URL: tcp://HOST[:PORT] or rdma://HOST[:PORT]. */
struct prb_url {
	enum prb_transport transport;
	char host[256]; /**< name, IPv4 or IPv6 address (without brackets) */
	uint16_t port;  /**< PRB_TCP_PORT or PRB_RDMA_PORT when the URL has none */
};

/**
 * Parse a brick URL: tcp://HOST[:PORT] or rdma://HOST[:PORT], IPv6 in brackets
 * (tcp://[::1]:7117). Strict: no user, path, query or trailing bytes; HOST non-empty
 * (a name, an IPv4 address, or a bracketed IPv6 address without a zone identifier);
 * PORT 0..65535 in decimal. Port 0 is accepted: to a brick it means any free port
 * (PRB-URL-5); an initiator parses with prb_url_parse_connect.
 * \param url the text
 * \param out the parsed URL (unchanged on error)
 * \return 0 or -EINVAL
 */
int prb_url_parse(const char *url, struct prb_url *out);

/**
 * Parse the URL of a brick to connect to: as prb_url_parse, and port 0 is
 * rejected (PRB-URL-5).
 * \param url the text
 * \param out the parsed URL (unchanged on error)
 * \return 0 or -EINVAL
 */
int prb_url_parse_connect(const char *url, struct prb_url *out);

/**
 * Format a URL as prb_url_parse reads it, port always included.
 * \param u the URL
 * \param buf, len where to write (NUL-terminated)
 * \return the length written (without the NUL), -ENOBUFS when it does not fit, -EINVAL
 *         for an unknown transport or an empty host
 */
int prb_url_format(const struct prb_url *u, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* PRB_WIRE_HELPERS_H */
