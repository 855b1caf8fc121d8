// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * addr.c - strict parsers for what users type. Anything inet_aton() or
 * strtoul() would quietly reinterpret (octal "010", hex "0x50", "+80",
 * trailing garbage) is refused with a message naming the bad part.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

/* Decimal digits only, no leading zero unless the number is 0. */
static bool is_plain_decimal(const char *s, size_t len)
{
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return !(len > 1 && s[0] == '0');
}

int parse_u32(const char *s, const char *what, uint32_t min, uint32_t max, uint32_t *out,
	      char err[ERR_LEN])
{
	unsigned long long v = 0;
	size_t len = strlen(s);

	if (!is_plain_decimal(s, len)) {
		snprintf(err, ERR_LEN, "invalid %s '%s': not a decimal number", what, s);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v < min || v > max) {
		snprintf(err, ERR_LEN, "invalid %s '%s': must be %u-%u", what, s, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

int parse_proto(const char *s)
{
	if (!strcasecmp(s, "tcp"))
		return IPPROTO_TCP;
	if (!strcasecmp(s, "udp"))
		return IPPROTO_UDP;
	return -EINVAL;
}

const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_TCP ? "tcp" : "?";
}

int parse_l4addr(const char *s, bool allow_proto, struct l4addr *a, char err[ERR_LEN])
{
	char ipbuf[INET_ADDRSTRLEN];
	const char *colon, *slash, *port;
	struct in_addr in;
	size_t iplen, portlen;
	uint64_t v;
	int proto = IPPROTO_TCP;

	colon = strchr(s, ':');
	if (!colon) {
		snprintf(err, ERR_LEN, "invalid address '%s': expected IP:PORT", s);
		return -EINVAL;
	}
	iplen = (size_t)(colon - s);
	if (iplen == 0 || iplen >= sizeof(ipbuf)) {
		snprintf(err, ERR_LEN, "invalid address '%s': missing or bad IPv4 address", s);
		return -EINVAL;
	}
	memcpy(ipbuf, s, iplen);
	ipbuf[iplen] = '\0';
	/* inet_pton takes dotted decimal only: no octal, hex or short forms. */
	if (inet_pton(AF_INET, ipbuf, &in) != 1) {
		snprintf(err, ERR_LEN, "invalid address '%s': '%s' is not an IPv4 address", s,
			 ipbuf);
		return -EINVAL;
	}

	port = colon + 1;
	slash = strchr(port, '/');
	portlen = slash ? (size_t)(slash - port) : strlen(port);
	if (slash) {
		proto = allow_proto ? parse_proto(slash + 1) : -EINVAL;
		if (proto < 0) {
			if (allow_proto)
				snprintf(err, ERR_LEN,
					 "invalid address '%s': unknown protocol '%s' (tcp or udp)",
					 s, slash + 1);
			else
				snprintf(err, ERR_LEN,
					 "invalid address '%s': a backend takes no protocol", s);
			return -EINVAL;
		}
	}
	if (!is_plain_decimal(port, portlen)) {
		snprintf(err, ERR_LEN,
			 "invalid address '%s': port must be a decimal number 1-65535", s);
		return -EINVAL;
	}
	/* Up to 10 digits: 64 bits, or 4294967376 would wrap to port 80. */
	v = 0;
	for (size_t i = 0; i < portlen; i++)
		v = v * 10 + (unsigned)(port[i] - '0');
	if (v < 1 || v > 65535) {
		snprintf(err, ERR_LEN, "invalid address '%s': port %llu out of range 1-65535", s,
			 (unsigned long long)v);
		return -EINVAL;
	}

	a->ip = ntohl(in.s_addr);
	a->port = (uint16_t)v;
	a->proto = (uint8_t)proto;
	return 0;
}

char *fmt_ip(char buf[ADDR_STR_LEN], uint32_t ip)
{
	snprintf(buf, ADDR_STR_LEN, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		 ip & 0xff);
	return buf;
}

char *fmt_l4addr(char buf[ADDR_STR_LEN], const struct l4addr *a, bool with_proto)
{
	char ip[ADDR_STR_LEN];

	if (with_proto)
		snprintf(buf, ADDR_STR_LEN, "%s:%u/%s", fmt_ip(ip, a->ip), a->port,
			 proto_name(a->proto));
	else
		snprintf(buf, ADDR_STR_LEN, "%s:%u", fmt_ip(ip, a->ip), a->port);
	return buf;
}

int l4addr_cmp(const struct l4addr *a, const struct l4addr *b)
{
	if (a->ip != b->ip)
		return a->ip < b->ip ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return (int)a->proto - (int)b->proto;
}

int parse_cidr4(const char *s, struct cidr4 *out, char err[ERR_LEN])
{
	char ipbuf[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	size_t iplen, lenlen;
	uint32_t ip, mask;
	unsigned len = 0;

	if (!slash) {
		snprintf(err, ERR_LEN, "invalid CIDR '%s': expected A.B.C.D/LEN", s);
		return -EINVAL;
	}
	iplen = (size_t)(slash - s);
	if (iplen == 0 || iplen >= sizeof(ipbuf)) {
		snprintf(err, ERR_LEN, "invalid CIDR '%s': missing or bad IPv4 address", s);
		return -EINVAL;
	}
	memcpy(ipbuf, s, iplen);
	ipbuf[iplen] = '\0';
	if (inet_pton(AF_INET, ipbuf, &in) != 1) {
		snprintf(err, ERR_LEN, "invalid CIDR '%s': '%s' is not an IPv4 address", s, ipbuf);
		return -EINVAL;
	}
	lenlen = strlen(slash + 1);
	if (!is_plain_decimal(slash + 1, lenlen) || lenlen > 2) {
		snprintf(err, ERR_LEN, "invalid CIDR '%s': prefix length must be 0-32", s);
		return -EINVAL;
	}
	for (size_t i = 0; i < lenlen; i++)
		len = len * 10 + (unsigned)(slash[1 + i] - '0');
	if (len > 32) {
		snprintf(err, ERR_LEN, "invalid CIDR '%s': prefix length must be 0-32", s);
		return -EINVAL;
	}
	ip = ntohl(in.s_addr);
	mask = len ? ~0u << (32 - len) : 0;
	/* As Kubernetes' validation: "10.0.0.1/8" is a typo for an address, not a range. */
	if (ip & ~mask) {
		snprintf(err, ERR_LEN, "invalid CIDR '%s': host bits set", s);
		return -EINVAL;
	}
	out->ip = ip;
	out->len = (uint8_t)len;
	return 0;
}

char *fmt_cidr4(char buf[ADDR_STR_LEN], const struct cidr4 *c)
{
	char ip[ADDR_STR_LEN];

	snprintf(buf, ADDR_STR_LEN, "%s/%u", fmt_ip(ip, c->ip), c->len);
	return buf;
}
