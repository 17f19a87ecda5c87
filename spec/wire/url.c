/* Brick URLs: tcp://HOST[:PORT] and rdma://HOST[:PORT], IPv6 in brackets. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <prb/wire.h>

struct scheme {
	const char *prefix;
	enum prb_transport transport;
	uint16_t default_port;
};

static const struct scheme schemes[] = {
	{"tcp://", PRB_TRANSPORT_TCP, PRB_TCP_PORT},
	{"rdma://", PRB_TRANSPORT_RDMA, PRB_RDMA_PORT},
};

/* The scheme url starts with, or NULL. */
static const struct scheme *find_scheme(const char *url)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			return &schemes[i];
	}
	return NULL;
}

/* A host name or IPv4 address character (no ':' outside brackets). */
static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* A decimal port 0..65535: digits only, at most 5 of them (PRB-URL-4). */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/*
 * A bracketed IPv6 address: the text between the brackets. Section 14's grammar
 * takes RFC 3986's IPv6address, without a zone identifier ("%eth0") in this
 * version: '%' is rejected here rather than left to the C library's inet_pton.
 */
static int parse_ipv6(const char *s, size_t n, char *host, size_t host_size)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[16];

	if (n == 0 || n >= sizeof(addr) || n >= host_size || memchr(s, '%', n))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET6, addr, bin) != 1) /* PRB-URL-3 */
		return -EINVAL;
	memcpy(host, addr, n + 1);
	return 0;
}

/* A host name or IPv4 address: 1 to 255 characters (PRB-URL-4). */
static int parse_name(const char *s, size_t n, char *host, size_t host_size)
{
	if (n == 0 || n >= host_size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!is_name_char(s[i]))
			return -EINVAL;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

int prb_url_parse(const char *url, struct prb_url *out)
{
	const struct scheme *scheme = url ? find_scheme(url) : NULL;
	struct prb_url u = {0};
	const char *rest, *port;
	int rc;

	if (!scheme) /* PRB-URL-4 */
		return -EINVAL;
	u.transport = scheme->transport; /* PRB-URL-1 */
	u.port = scheme->default_port;	 /* PRB-URL-2 */
	rest = url + strlen(scheme->prefix);
	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');

		if (!close)
			return -EINVAL;
		rc = parse_ipv6(rest + 1, (size_t)(close - rest - 1), u.host, sizeof(u.host));
		port = close + 1;
	} else {
		/* The host ends at the first ':', so an IPv6 address without brackets
		 * leaves an empty host or a port of non-digits (PRB-URL-3). */
		const char *colon = strchr(rest, ':');
		size_t n = colon ? (size_t)(colon - rest) : strlen(rest);

		rc = parse_name(rest, n, u.host, sizeof(u.host));
		port = rest + n;
	}
	if (rc < 0)
		return rc;
	if (port[0] == ':') {
		rc = parse_port(port + 1, &u.port);
		if (rc < 0)
			return rc;
	} else if (port[0] != '\0') { /* PRB-URL-4: path, query, fragment, user information */
		return -EINVAL;
	}
	*out = u;
	return 0;
}

int prb_url_parse_connect(const char *url, struct prb_url *out)
{
	struct prb_url u;
	int rc = prb_url_parse(url, &u);

	if (rc < 0)
		return rc;
	if (u.port == 0) /* PRB-URL-5: "any free port" means something only to a listener */
		return -EINVAL;
	*out = u;
	return 0;
}

int prb_url_format(const struct prb_url *u, char *buf, size_t len)
{
	const char *prefix;
	int n;

	switch (u->transport) {
	case PRB_TRANSPORT_TCP:
		prefix = "tcp://";
		break;
	case PRB_TRANSPORT_RDMA:
		prefix = "rdma://";
		break;
	default:
		return -EINVAL;
	}
	if (u->host[0] == '\0' || memchr(u->host, '\0', sizeof(u->host)) == NULL)
		return -EINVAL;
	if (strchr(u->host, ':'))
		n = snprintf(buf, len, "%s[%s]:%u", prefix, u->host, (unsigned)u->port);
	else
		n = snprintf(buf, len, "%s%s:%u", prefix, u->host, (unsigned)u->port);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENOBUFS;
	return n;
}
