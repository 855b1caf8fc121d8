/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* addr.h - strict parsing and printing of addresses, ports and numbers. */
#ifndef SVCBPF_ADDR_H
#define SVCBPF_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ERR_LEN 512
#define ADDR_STR_LEN 32 /* "255.255.255.255:65535/udp" */

/* An IPv4 L4 endpoint, host byte order. */
struct l4addr {
	uint32_t ip;
	uint16_t port;
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

/*
 * Parse "A.B.C.D:PORT", or with @allow_proto also "A.B.C.D:PORT/tcp|udp"
 * (protocol defaults to TCP). Dotted decimal only, ports 1-65535, no signs,
 * hex, octal or leading zeros. Returns 0, or -EINVAL with @err set.
 */
int parse_l4addr(const char *s, bool allow_proto, struct l4addr *a, char err[ERR_LEN]);

/* Parse a decimal integer in [min, max]. Returns 0, or -EINVAL with @err set. */
int parse_u32(const char *s, const char *what, uint32_t min, uint32_t max, uint32_t *out,
	      char err[ERR_LEN]);

/* Parse "tcp"/"udp" (any case). Returns the IPPROTO_ number, or -EINVAL. */
int parse_proto(const char *s);
const char *proto_name(uint8_t proto);

/* "10.96.0.50:80/tcp" (@with_proto) or "10.96.0.50:80". Returns @buf. */
char *fmt_l4addr(char buf[ADDR_STR_LEN], const struct l4addr *a, bool with_proto);
char *fmt_ip(char buf[ADDR_STR_LEN], uint32_t ip);

/* Order by address, then port, then protocol: how services are sorted everywhere. */
int l4addr_cmp(const struct l4addr *a, const struct l4addr *b);

/* An IPv4 prefix, host order (loadBalancerSourceRanges). */
struct cidr4 {
	uint32_t ip;
	uint8_t len; /* 0-32; @ip has no bits past it */
};

/* Parse "A.B.C.D/LEN" (host bits must be 0, as Kubernetes requires). 0 or -EINVAL with @err. */
int parse_cidr4(const char *s, struct cidr4 *out, char err[ERR_LEN]);
/* "10.0.0.0/8". Returns @buf (ADDR_STR_LEN). */
char *fmt_cidr4(char buf[ADDR_STR_LEN], const struct cidr4 *c);

#endif /* SVCBPF_ADDR_H */
