// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_addr.c - every parser the CLI's arguments go through: addresses
 * (user/addr.c), service and backend arguments with their options and the
 * affinity spec (user/cmd_svc.c), the service CIDR (user/cmd_k8s.c), on the
 * input as one string (up to its first NUL).
 *
 * Each accepted value must be canonical (the parsers refuse every other
 * spelling, so what they accept is what the formatter prints) and parse
 * again to the same value; each parser must agree with the ones it builds
 * on (a service or backend argument is an address; a backend is never the
 * service or a non-unicast address).
 */
#include <errno.h>
#include <netinet/in.h>
#include <strings.h>

#include "fuzz_util.h"

/* parse_cidr() is static: this harness is compiled with cmd_k8s.c in it. */
#include "../../user/cmd_k8s.c"

static bool unicast(uint32_t ip)
{
	return ip >> 24 != 0 && ip >> 24 != 127 && ip >> 28 < 14;
}

static bool same_addr(const struct l4addr *a, const struct l4addr *b)
{
	return a->ip == b->ip && a->port == b->port && a->proto == b->proto;
}

static void check_l4addr(const char *s)
{
	struct l4addr a, b, c;
	char err[ERR_LEN], buf[ADDR_STR_LEN], *back;
	const char *slash;
	int rp = parse_l4addr(s, true, &a, err);
	int rb = parse_l4addr(s, false, &b, err);

	FUZZ_CHECK(rp == 0 || rp == -EINVAL, "parse_l4addr returned %d", rp);
	FUZZ_CHECK(rb == 0 || rb == -EINVAL, "parse_l4addr returned %d", rb);
	/* A backend address (no protocol) is a service address too, TCP by default. */
	if (!rb)
		FUZZ_CHECK(!rp && same_addr(&a, &b) && b.proto == IPPROTO_TCP,
			   "'%s' is a backend address but not the same service address", s);
	if (rp)
		return;
	FUZZ_CHECK(a.port >= 1 && (a.proto == IPPROTO_TCP || a.proto == IPPROTO_UDP),
		   "'%s': port %u proto %u", s, a.port, a.proto);
	/* Canonical: the address part is exactly how it prints. */
	slash = strchr(s, '/');
	fmt_l4addr(buf, &a, false);
	FUZZ_CHECK(strlen(buf) == (size_t)(slash ? slash - s : (ptrdiff_t)strlen(s)) &&
			   !strncmp(buf, s, strlen(buf)),
		   "'%s' accepted but prints as '%s'", s, buf);
	if (slash)
		FUZZ_CHECK(!strcasecmp(slash + 1, proto_name(a.proto)), "'%s': protocol %s", s,
			   proto_name(a.proto));
	/* Round trip, with the protocol. */
	back = fmt_l4addr(buf, &a, true);
	FUZZ_CHECK(!parse_l4addr(back, true, &c, err) && same_addr(&a, &c),
		   "'%s' prints as '%s', which does not parse back", s, back);
}

static void check_u32(const char *s)
{
	char err[ERR_LEN], buf[16];
	uint32_t v = 0, w = 0;
	int r = parse_u32(s, "number", 0, UINT32_MAX, &v, err);

	FUZZ_CHECK(r == 0 || r == -EINVAL, "parse_u32 returned %d", r);
	if (r)
		return;
	snprintf(buf, sizeof(buf), "%u", v);
	FUZZ_CHECK(!strcmp(buf, s), "'%s' accepted as %u", s, v);
	/* A narrower range takes exactly the values inside it. */
	r = parse_u32(s, "number", 1, 65535, &w, err);
	FUZZ_CHECK(!r == (v >= 1 && v <= 65535) && (r || w == v), "'%s' in [1, 65535]: %d", s, r);
}

static void check_proto(const char *s)
{
	int p = parse_proto(s);

	FUZZ_CHECK(p == IPPROTO_TCP || p == IPPROTO_UDP || p == -EINVAL, "parse_proto: %d", p);
	if (p > 0)
		FUZZ_CHECK(!strcasecmp(s, proto_name((uint8_t)p)), "'%s' read as %s", s,
			   proto_name((uint8_t)p));
}

static void check_svc_backend(const char *s)
{
	struct l4addr svc, plain, svc2;
	struct be_rec be, be2;
	char err[ERR_LEN], buf[ADDR_STR_LEN], arg[ADDR_STR_LEN + 32];
	int r = parse_svc_arg(s, &svc);

	FUZZ_CHECK(r == 0 || r == -EINVAL, "parse_svc_arg returned %d", r);
	if (!r) {
		/* 0.0.0.0: a NodePort frontend (every node address). */
		FUZZ_CHECK(!parse_l4addr(s, true, &plain, err) && same_addr(&svc, &plain) &&
				   (unicast(svc.ip) || !svc.ip),
			   "service '%s' accepted but is neither a unicast address nor 0.0.0.0", s);
		FUZZ_CHECK(!parse_svc_arg(fmt_l4addr(buf, &svc, true), &svc2) &&
				   same_addr(&svc, &svc2),
			   "service '%s' does not parse back from '%s'", s, buf);
	} else {
		/* Any service will do for the backend checks below. */
		svc = (struct l4addr){ 0x0a600032, 80, IPPROTO_UDP };
	}

	r = parse_backend_arg(s, &svc, &be);
	FUZZ_CHECK(r == 0 || r == -EINVAL, "parse_backend_arg returned %d", r);
	if (r)
		return;
	FUZZ_CHECK(be.addr.ip != svc.ip && unicast(be.addr.ip) && be.addr.port &&
			   be.addr.proto == svc.proto && be.weight <= SVCBPF_MAX_WEIGHT,
		   "backend '%s' accepted as %s weight %u", s, fmt_l4addr(buf, &be.addr, true),
		   be.weight);
	FUZZ_CHECK(strchr(s, ',') || be.weight == 1, "backend '%s': weight %u without ,weight=", s,
		   be.weight);
	snprintf(arg, sizeof(arg), "%s,weight=%u", fmt_l4addr(buf, &be.addr, false), be.weight);
	FUZZ_CHECK(!parse_backend_arg(arg, &svc, &be2) && same_addr(&be.addr, &be2.addr) &&
			   be.weight == be2.weight,
		   "backend '%s' does not parse back from '%s'", s, arg);
}

static void check_affinity(const char *s)
{
	char buf[64];
	uint32_t t = 7, t2 = 9;
	int r = parse_affinity_arg(s, &t);

	FUZZ_CHECK(r == 0 || r == -EINVAL, "parse_affinity_arg returned %d", r);
	if (r)
		return;
	FUZZ_CHECK(t <= 86400, "affinity '%s' gives %u s", s, t);
	if (t)
		snprintf(buf, sizeof(buf), "client-ip,timeout=%u", t);
	else
		snprintf(buf, sizeof(buf), "none");
	FUZZ_CHECK(!parse_affinity_arg(buf, &t2) && t2 == t, "affinity '%s' (%u) from '%s'", s, t,
		   buf);
}

static void check_cidr(const char *s)
{
	uint32_t base = 1, mask = 1, base2, mask2;
	char buf[48], ip[ADDR_STR_LEN];
	int prefix;

	if (parse_cidr(s, &base, &mask))
		return;
	prefix = __builtin_popcount(mask);
	FUZZ_CHECK(prefix >= 8 && prefix <= 30 && mask == ~0u << (32 - prefix) && !(base & ~mask),
		   "CIDR '%s' read as %08x/%08x", s, base, mask);
	snprintf(buf, sizeof(buf), "%s/%d", fmt_ip(ip, base), prefix);
	FUZZ_CHECK(!strcmp(buf, s), "CIDR '%s' accepted, prints as '%s'", s, buf);
	FUZZ_CHECK(!parse_cidr(buf, &base2, &mask2) && base2 == base && mask2 == mask,
		   "CIDR '%s' does not parse back", s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 4096)
		return -1;
	s = fuzz_str(data, size);
	check_l4addr(s);
	check_u32(s);
	check_proto(s);
	check_svc_backend(s);
	check_affinity(s);
	check_cidr(s);
	free(s);
	return 0;
}
