// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_pktfuzz.c - a packet fuzzer for the built programs (BPF_PROG_TEST_RUN, root).
 *
 * Every entry point (tc ingress, tc egress, XDP ingress; tc once more with
 * the skb CHECKSUM_COMPLETE, or non-linear where the kernel's test runs
 * can make one) runs on frames from a table of generators
 * (services, non-services, replies, ICMP errors quoting service flows,
 * IPv6 with extension headers, ARP, random bytes), each passed through a
 * random chain from a table of mutators (truncation, IP options, fragments,
 * bad lengths, VLAN tags, TCP data offsets, bit flips, splices, bad and
 * seed-like checksums). The services have TCP and UDP ports, several
 * backends, one client-IP affinity, two with no backend at all; tracked
 * flows are established in both directions first and again every
 * FZ_REFRESH iterations, so mid-stream packets and replies meet conntrack.
 *
 * One checker holds every run to an oracle written from the contract, not
 * from the code (parse.bpf.h's header comment, verdict.bpf.h, svcbpf.h):
 *   - the test run itself succeeds and the verdict is one the hook may give;
 *   - a frame that is not a clean IPv4 TCP/UDP packet for a service (tc and
 *     XDP ingress) or for a tracked flow's reply (tc egress) comes out byte
 *     for byte as it went in, with the pass reason counted (or none);
 *   - a translated frame differs from its input only in the translated
 *     address, port and the two checksums, goes to one of the service's
 *     backends (the tracked one when a live flow has one) or back to the
 *     service address, and its checksums verify from scratch exactly when
 *     the input's did. Invariant for bad input checksums: the rewrite is
 *     incremental (RFC 1624), so the one's complement residual (the folded
 *     sum over the covered bytes, checksum field included; 0xffff when
 *     valid) of the IPv4 header and of the L4 segment with its
 *     pseudo-header is the same, mod 0xffff, before and after: a bad sum
 *     stays exactly as bad, a good one stays good. A UDP checksum of 0
 *     (none) stays 0 and no other value becomes 0;
 *   - an ICMP error (destination unreachable, time exceeded, parameter
 *     problem) that is well formed, sent to its quote's source, and quotes a
 *     packet whose reversed tuple has a live conntrack entry on that side
 *     (FWD at tc ingress, REV at tc egress) is translated like that
 *     packet's reply: only the outer address, the quoted address and port
 *     and the checksums change, to the entry's address and port, and the
 *     outer IPv4, ICMP and quoted IPv4 residuals are kept; every other ICMP
 *     frame, and every one at XDP, passes byte for byte;
 *   - a reject (service without backends) is a well-formed TCP RST or ICMP
 *     port unreachable to the client, checksums verified from scratch;
 *   - with CHECKSUM_COMPLETE, skb->csum still sums the packet after the run
 *     (the kernel checks it: EBADMSG otherwise), except for a reject that
 *     changes the frame's length, which makes the skb CHECKSUM_NONE;
 *   - every run adds one packet, of the frame's length, to exactly the
 *     counter its outcome names, or none for traffic that is simply not ours.
 * Checksums are summed here from scratch with this file's own one's
 * complement code. Test runs give tc a CHECKSUM_NONE (or COMPLETE) skb,
 * never CHECKSUM_PARTIAL, so every L4 field is taken as a full checksum: a
 * seed-like one (seed-csum) is just a wrong one to tc, and a reason for XDP
 * to leave the packet to tc.
 *
 * PKTFUZZ_SEED (a number, or "time"), PKTFUZZ_SECONDS (default 15) and
 * PKTFUZZ_ITERS (no default bound) set the run; PKTFUZZ_KEEP_GOING=1
 * reports every failure instead of stopping at the first. A failure
 * prints the seed and iteration: PKTFUZZ_SEED=S PKTFUZZ_ITERS=I+1 replays it.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "../lib/xorshift.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "maps.h"
#include "pkt.h"
#include "svcbpf.bpf.skel.h"
#include "svcbpf.h"

#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE (1U << 2)
#endif

#define FZ_MAX 1600 /* the largest frame generated */
#define FZ_OUT 4096 /* the output buffer: a reject never grows a frame past 110 bytes */
#define FZ_SECONDS 15 /* the default run, inside the ~20 s CI budget */
#define FZ_REFRESH 4096 /* iterations between re-establishing the tracked flows */
#define FZ_SWEEP_EVERY 64 /* one base frame in this many is cut at every offset */
#define FZ_MAX_FAIL 50 /* reported before giving up, with PKTFUZZ_KEEP_GOING */
#define CT_ENTRIES 65536

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define NBE(a) (sizeof(a) / sizeof((a)[0]))
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static struct svcbpf_bpf *skel;
static struct dp_maps maps;

/* ---- the services under test ---------------------------------------------------------- */

static struct be_rec tcp_be[] = {
	{ 201, { 0x0af4010a, 8080, 0 }, 1, SVCBPF_BE_ACTIVE },
	{ 202, { 0x0af4020f, 8080, 0 }, 2, SVCBPF_BE_ACTIVE },
	{ 203, { 0x0af40314, 8080, 0 }, 1, SVCBPF_BE_ACTIVE },
};
static struct be_rec udp_be[] = {
	{ 211, { 0x0af4010a, 53, 0 }, 1, SVCBPF_BE_ACTIVE },
	{ 212, { 0x0af4020f, 5353, 0 }, 1, SVCBPF_BE_ACTIVE },
};
static struct be_rec aff_be[] = {
	{ 221, { 0x0af4010a, 8443, 0 }, 1, SVCBPF_BE_ACTIVE },
	{ 222, { 0x0af40419, 8443, 0 }, 1, SVCBPF_BE_ACTIVE },
	{ 223, { 0x0af4051e, 8443, 0 }, 1, SVCBPF_BE_ACTIVE },
};
/* The TCP service's ClusterIP and port, but UDP: the protocol must tell them apart. */
static struct be_rec udp80_be[] = {
	{ 231, { 0x0af40314, 9090, 0 }, 1, SVCBPF_BE_ACTIVE },
};

static struct svc_rec svcs[] = {
	{ 21, { 0x0a600032, 80, TCP }, 0, NBE(tcp_be), tcp_be }, /* 10.96.0.50:80 */
	{ 22, { 0x0a60000a, 53, UDP }, 0, NBE(udp_be), udp_be }, /* 10.96.0.10:53/udp */
	{ 23, { 0x0a600033, 443, TCP }, SVCBPF_AFFINITY_TIMEOUT, NBE(aff_be), aff_be },
	{ 24, { 0x0a600032, 80, UDP }, 0, NBE(udp80_be), udp80_be },
	{ 25, { 0x0a600063, 80, TCP }, 0, 0, NULL }, /* 10.96.0.99: no backends */
	{ 26, { 0x0a600063, 53, UDP }, 0, 0, NULL },
};

static const uint32_t clients[] = { 0x0af40005, 0x0af40006, 0x0a010203, 0xc0a80101 };

/* A flow tracked both ways: client:sport -> service, pinned to backend. */
struct flow {
	const struct svc_rec *svc;
	uint32_t client;
	uint16_t sport;
	struct l4addr be; /* learnt from the translated SYN/datagram */
	bool up;
};

#define NFLOWS 24
static struct flow flows[NFLOWS];

/* ---- one's complement arithmetic, independent of the code under test ------------------ */

static uint32_t oc_sum(uint32_t sum, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

static uint16_t oc_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* 0 and 0xffff are the same one's complement number. */
static uint16_t oc_norm(uint16_t r)
{
	return r == 0xffff ? 0 : r;
}

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void wr32(uint8_t *b, uint32_t v)
{
	wr16(b, (uint16_t)(v >> 16));
	wr16(b + 2, (uint16_t)v);
}

/* ---- the oracle's own parse ------------------------------------------------------------ */

/* What the contract says the parser makes of a frame. */
enum fz_class {
	C_NOT_OURS, /* not IPv4, or not TCP/UDP: passed, nothing counted */
	C_MALFORMED, /* passed untouched, PASS_MALFORMED */
	C_FRAGMENT, /* passed untouched, PASS_FRAGMENT */
	C_CLEAN, /* a whole IPv4 TCP/UDP packet: the hook decides */
};

struct fz_pkt {
	enum fz_class cls;
	size_t l3, ihl, l4, l4len; /* l4len: IP total length - IHL */
	size_t csum_len; /* bytes the L4 checksum covers: UDP length for UDP */
	uint8_t proto, flags;
	uint32_t saddr, daddr; /* host order */
	uint16_t sport, dport;
	size_t check_off; /* the L4 checksum field, from the frame start */
};

static enum fz_class fz_parse(const uint8_t *f, size_t len, struct fz_pkt *p)
{
	size_t tot, hlen;

	memset(p, 0, sizeof(*p));
	p->l3 = ETH_HLEN;
	if (len < ETH_HLEN || rd16(f + 12) != ETH_P_IP)
		return p->cls = C_NOT_OURS;
	if (len < ETH_HLEN + 20 || f[14] >> 4 != 4)
		return p->cls = C_MALFORMED;
	p->proto = f[14 + 9];
	if (p->proto != TCP && p->proto != UDP)
		return p->cls = C_NOT_OURS;
	p->ihl = (f[14] & 15) * 4u;
	tot = rd16(f + 14 + 2);
	if (p->ihl < 20 || tot < p->ihl || tot > len - ETH_HLEN)
		return p->cls = C_MALFORMED;
	if (rd16(f + 14 + 6) & 0x3fff)
		return p->cls = C_FRAGMENT;
	p->l4 = ETH_HLEN + p->ihl;
	p->l4len = tot - p->ihl;
	p->saddr = rd32(f + 14 + 12);
	p->daddr = rd32(f + 14 + 16);
	hlen = p->proto == TCP ? 20 : 8;
	if (p->l4 + hlen > len || p->l4len < hlen)
		return p->cls = C_MALFORMED;
	p->sport = rd16(f + p->l4);
	p->dport = rd16(f + p->l4 + 2);
	if (p->proto == TCP) {
		size_t doff = (f[p->l4 + 12] >> 4) * 4u;

		if (doff < 20 || doff > p->l4len)
			return p->cls = C_MALFORMED;
		p->flags = f[p->l4 + 13];
		p->csum_len = p->l4len;
		p->check_off = p->l4 + 16;
	} else {
		size_t ulen = rd16(f + p->l4 + 4);

		if (ulen < 8 || ulen > p->l4len)
			return p->cls = C_MALFORMED;
		p->csum_len = ulen;
		p->check_off = p->l4 + 6;
	}
	return p->cls = C_CLEAN;
}

/* Folded sum of the IPv4 header at @ip, its checksum included: 0xffff when valid. */
static uint16_t ip_residual(const uint8_t *ip, size_t ihl)
{
	return oc_fold(oc_sum(0, ip, ihl));
}

/*
 * Folded sum of the L4 segment @l4 of @n bytes, with the IPv4 pseudo-header
 * of @ip (ICMP: none), checksum included: 0xffff when valid.
 */
static uint16_t l4_residual(const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t n)
{
	uint32_t sum = 0;

	if (proto != IPPROTO_ICMP)
		sum = oc_sum(0, ip + 12, 8) + proto + (uint32_t)n;
	return oc_fold(oc_sum(sum, l4, n));
}

/* Write a complete checksum into the 16-bit field at @field (zeroed first). */
static void set_csum(uint8_t *field, const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t n,
		     bool l4sum)
{
	uint16_t c;

	wr16(field, 0);
	c = (uint16_t) ~(l4sum ? l4_residual(ip, proto, l4, n) : ip_residual(ip, n));
	if (proto == UDP && l4sum && c == 0)
		c = 0xffff; /* RFC 768: 0 means none */
	wr16(field, c);
}

/*
 * Recompute the IPv4 header checksum and the L4 checksum (TCP, UDP, ICMP),
 * if the headers and the lengths they claim fit the frame.
 */
static void fix_csums(uint8_t *f, size_t len)
{
	size_t ihl, tot, l4;
	uint8_t *ip = f + ETH_HLEN, proto;

	if (len < ETH_HLEN + 20 || rd16(f + 12) != ETH_P_IP || ip[0] >> 4 != 4)
		return;
	ihl = (ip[0] & 15) * 4u;
	if (ihl < 20 || ETH_HLEN + ihl > len)
		return;
	set_csum(ip + 10, ip, 0, ip, ihl, false);
	tot = rd16(ip + 2);
	l4 = ETH_HLEN + ihl;
	proto = ip[9];
	if (tot < ihl || ETH_HLEN + tot > len || rd16(ip + 6) & 0x1fff)
		return;
	if (proto == TCP && tot - ihl >= 20)
		set_csum(f + l4 + 16, ip, TCP, f + l4, tot - ihl, true);
	else if (proto == UDP && tot - ihl >= 8 && rd16(f + l4 + 4) >= 8 &&
		 rd16(f + l4 + 4) <= tot - ihl)
		set_csum(f + l4 + 6, ip, UDP, f + l4, rd16(f + l4 + 4), true);
	else if (proto == IPPROTO_ICMP && tot - ihl >= 4)
		set_csum(f + l4 + 2, ip, IPPROTO_ICMP, f + l4, tot - ihl, true);
}

/* ---- frame builders ---------------------------------------------------------------------- */

struct ip4_spec {
	uint32_t saddr, daddr; /* host order */
	uint16_t sport, dport;
	uint8_t proto; /* TCP, UDP, or ICMP (type/code in sport/dport's low bytes) */
	uint8_t flags; /* TCP */
	uint8_t opt_words;
	uint16_t payload;
	const uint8_t *data; /* payload bytes, or NULL for random ones */
};

static uint32_t rnd(uint32_t n)
{
	return n ? rng() % n : 0;
}

static bool coin(uint32_t one_in)
{
	return rnd(one_in) == 0;
}

/* IPv4 options: NOPs and EOL, random bytes, or a Record Route / Timestamp shape. */
static void fill_options(uint8_t *o, size_t n)
{
	switch (rnd(4)) {
	case 0:
		for (size_t i = 0; i < n; i++)
			o[i] = i + 1 == n ? 0 : 1;
		break;
	case 1:
		for (size_t i = 0; i < n; i++)
			o[i] = (uint8_t)rng();
		break;
	case 2: /* Record Route: type 7, length, pointer 4, then room for addresses */
		memset(o, 0, n);
		o[0] = 7;
		o[1] = (uint8_t)(n > 40 ? 39 : n - (n > 1));
		if (n > 2)
			o[2] = 4;
		break;
	default: /* Timestamp, with a length that may lie */
		memset(o, 0, n);
		o[0] = 0x44;
		o[1] = (uint8_t)rnd(64);
		if (n > 2)
			o[2] = 5;
		break;
	}
}

static size_t build_eth(uint8_t *f, uint16_t type)
{
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	wr16(f + 12, type);
	return ETH_HLEN;
}

/* A valid Ethernet/IPv4/TCP|UDP|ICMP frame with complete checksums. Returns its length. */
static size_t build_ip4(uint8_t *f, const struct ip4_spec *s)
{
	size_t ihl = 20 + 4u * s->opt_words;
	size_t l4h = s->proto == TCP ? 20 : 8;
	size_t tot = ihl + l4h + s->payload;
	uint8_t *ip = f + ETH_HLEN, *l4 = ip + ihl;

	if (ETH_HLEN + tot > FZ_MAX)
		return 0;
	build_eth(f, ETH_P_IP);
	memset(ip, 0, tot);
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	ip[1] = (uint8_t)rnd(256);
	wr16(ip + 2, (uint16_t)tot);
	wr16(ip + 4, (uint16_t)rng());
	wr16(ip + 6, coin(2) ? 0x4000 : 0);
	ip[8] = (uint8_t)(1 + rnd(255));
	ip[9] = s->proto;
	wr32(ip + 12, s->saddr);
	wr32(ip + 16, s->daddr);
	fill_options(ip + 20, ihl - 20);
	if (s->proto == TCP) {
		wr16(l4, s->sport);
		wr16(l4 + 2, s->dport);
		wr32(l4 + 4, rng());
		wr32(l4 + 8, s->flags & F_ACK ? rng() : 0);
		l4[12] = 5 << 4;
		l4[13] = s->flags;
		wr16(l4 + 14, (uint16_t)rng());
	} else if (s->proto == UDP) {
		wr16(l4, s->sport);
		wr16(l4 + 2, s->dport);
		wr16(l4 + 4, (uint16_t)(8 + s->payload));
	} else {
		l4[0] = (uint8_t)s->sport; /* ICMP type */
		l4[1] = (uint8_t)s->dport; /* code */
		wr32(l4 + 4, rng() & 0xffff); /* unused, or the next-hop MTU's room */
	}
	for (size_t i = 0; i < s->payload; i++)
		l4[l4h + i] = s->data ? s->data[i] : (uint8_t)rng();
	fix_csums(f, ETH_HLEN + tot);
	return ETH_HLEN + tot;
}

static uint8_t rnd_tcp_flags(void)
{
	static const uint8_t common[] = { F_SYN,	 F_SYN | F_ACK, F_ACK,	      F_PSH | F_ACK,
					  F_FIN | F_ACK, F_RST,		F_RST | F_ACK };

	return coin(8) ? (uint8_t)rng() : common[rnd(NELEM(common))];
}

static const struct svc_rec *rnd_svc(void)
{
	return &svcs[rnd(NELEM(svcs))];
}

static struct flow *rnd_flow(void)
{
	for (int tries = 0; tries < 8; tries++) {
		struct flow *fl = &flows[rnd(NFLOWS)];

		if (fl->up)
			return fl;
	}
	return NULL;
}

static uint16_t rnd_payload(void)
{
	static const uint16_t sizes[] = { 0, 1, 7, 8, 9, 100, 535, 1400 };

	return coin(2) ? sizes[rnd(NELEM(sizes))] : (uint16_t)rnd(300);
}

/* ---- generators ---------------------------------------------------------------------------- */

/* Client -> a service: a tracked flow's next packet, or a new tuple. */
static size_t g_to_service(uint8_t *f)
{
	struct flow *fl = coin(2) ? rnd_flow() : NULL;
	const struct svc_rec *r = fl ? fl->svc : rnd_svc();
	struct ip4_spec s = {
		.saddr = fl	 ? fl->client :
			 coin(4) ? rng() :
				   clients[rnd(NELEM(clients))],
		.daddr = r->addr.ip,
		.sport = fl ? fl->sport : (uint16_t)(1024 + rnd(64000)),
		.dport = r->addr.port,
		.proto = r->addr.proto,
		.flags = rnd_tcp_flags(),
		.opt_words = coin(4) ? (uint8_t)rnd(11) : 0,
		.payload = rnd_payload(),
	};

	return build_ip4(f, &s);
}

/* Near misses: a ClusterIP's other port or protocol, a backend directly, anything else. */
static size_t g_not_service(uint8_t *f)
{
	const struct svc_rec *r = rnd_svc();
	struct ip4_spec s = {
		.saddr = clients[rnd(NELEM(clients))],
		.daddr = r->addr.ip,
		.sport = (uint16_t)(1024 + rnd(64000)),
		.dport = r->addr.port,
		.proto = r->addr.proto,
		.flags = rnd_tcp_flags(),
		.payload = rnd_payload(),
	};

	switch (rnd(4)) {
	case 0:
		s.dport = (uint16_t)(r->addr.port + 1 + rnd(100));
		break;
	case 1:
		s.proto = s.proto == TCP ? UDP : TCP;
		s.daddr = 0x0a600063 + 1; /* a ClusterIP nothing uses */
		break;
	case 2:
		r = &svcs[rnd(2)]; /* one with backends */
		s.daddr = r->be[rnd((uint32_t)r->nbe)].addr.ip;
		s.dport = r->be[0].addr.port;
		s.proto = r->addr.proto;
		break;
	default:
		s.daddr = rng();
		s.dport = (uint16_t)rng();
		break;
	}
	return build_ip4(f, &s);
}

/* Backend -> client: a tracked flow's reply, or one that looks like it but is not tracked. */
static size_t g_reply(uint8_t *f)
{
	struct flow *fl = rnd_flow();
	struct ip4_spec s = {
		.proto = TCP,
		.flags = rnd_tcp_flags(),
		.opt_words = coin(4) ? (uint8_t)rnd(11) : 0,
		.payload = rnd_payload(),
	};

	if (fl && !coin(8)) {
		s.saddr = fl->be.ip;
		s.sport = fl->be.port;
		s.daddr = fl->client;
		s.dport = fl->sport;
		s.proto = fl->svc->addr.proto;
	} else {
		s.saddr = tcp_be[rnd(NBE(tcp_be))].addr.ip;
		s.sport = 8080;
		s.daddr = clients[rnd(NELEM(clients))];
		s.dport = (uint16_t)(1024 + rnd(64000));
	}
	return build_ip4(f, &s);
}

/*
 * An ICMP error (destination unreachable, fragmentation needed, time
 * exceeded) quoting a tracked flow's packet, in the direction either hook
 * sees it: about the client's request (quoting client -> backend, coming
 * back from the backend's side) or about the reply (quoting backend ->
 * client or service -> client, coming from the client's side).
 */
static size_t g_icmp_error(uint8_t *f)
{
	static const uint8_t tc[][2] = { { 3, 3 }, { 3, 4 }, { 3, 1 }, { 11, 0 }, { 12, 0 } };
	struct flow *fl = rnd_flow();
	uint8_t inner[FZ_MAX];
	struct ip4_spec q = { .proto = TCP, .flags = F_ACK, .payload = 12 }, s;
	size_t qlen, keep;
	int kind = (int)rnd(NELEM(tc));

	if (fl) {
		q.proto = fl->svc->addr.proto;
		switch (rnd(4)) {
		case 0: /* the request, as the backend got it */
			q.saddr = fl->client, q.sport = fl->sport;
			q.daddr = fl->be.ip, q.dport = fl->be.port;
			break;
		case 1: /* the request, as the client sent it */
			q.saddr = fl->client, q.sport = fl->sport;
			q.daddr = fl->svc->addr.ip, q.dport = fl->svc->addr.port;
			break;
		case 2: /* the reply, as the client got it */
			q.saddr = fl->svc->addr.ip, q.sport = fl->svc->addr.port;
			q.daddr = fl->client, q.dport = fl->sport;
			break;
		default: /* the reply, as the backend sent it */
			q.saddr = fl->be.ip, q.sport = fl->be.port;
			q.daddr = fl->client, q.dport = fl->sport;
			break;
		}
	} else {
		q.saddr = clients[0], q.sport = 40000;
		q.daddr = svcs[0].addr.ip, q.dport = svcs[0].addr.port;
	}
	qlen = build_ip4(inner, &q);
	/* RFC 792 quotes the header and 8 bytes; RFC 1812 routers quote more. */
	keep = coin(2) ? qlen - ETH_HLEN : 20 + 8;
	s = (struct ip4_spec){
		/* From the side the quoted packet went to, to the side that sent it. */
		.saddr = coin(2) ? q.daddr : 0x0a000001,
		.daddr = q.saddr,
		.sport = tc[kind][0],
		.dport = tc[kind][1],
		.proto = IPPROTO_ICMP,
		.payload = (uint16_t)keep,
		.data = inner + ETH_HLEN,
	};
	return build_ip4(f, &s);
}

/* IPv6 with a chain of extension headers, then TCP, UDP or ICMPv6. */
static size_t g_ipv6(uint8_t *f)
{
	static const uint8_t ext[] = { 0 /* hop-by-hop */, 43 /* routing */, 44 /* fragment */,
				       60 /* destination options */ };
	static const uint8_t last[] = { TCP, UDP, 58 };
	size_t off = build_eth(f, ETH_P_IPV6), start, n = rnd(5);
	uint8_t *ip6 = f + off, *nh = ip6 + 6;

	memset(ip6, 0, 40);
	ip6[0] = 0x60;
	ip6[7] = 64;
	/* fd00::/8 addresses, the service's ports: nothing here is IPv4 */
	ip6[8] = 0xfd, ip6[23] = 5, ip6[24] = 0xfd, ip6[39] = 0x50;
	off += 40;
	start = off;
	for (size_t i = 0; i < n; i++) {
		uint8_t type = ext[rnd(NELEM(ext))];
		size_t len = type == 44 ? 8 : 8 * (1 + rnd(3));

		*nh = type;
		memset(f + off, 0, len);
		for (size_t j = 2; j < len; j++)
			f[off + j] = (uint8_t)rng();
		if (type != 44)
			f[off + 1] = (uint8_t)(len / 8 - 1);
		nh = f + off;
		off += len;
	}
	*nh = last[rnd(NELEM(last))];
	wr16(f + off, (uint16_t)(1024 + rnd(60000)));
	wr16(f + off + 2, 80);
	memset(f + off + 4, 0, 16);
	f[off + 12] = 5 << 4;
	f[off + 13] = F_SYN;
	off += 20;
	wr16(ip6 + 4, (uint16_t)(off - start + (start - ETH_HLEN - 40)));
	return off;
}

static size_t g_arp(uint8_t *f)
{
	size_t off = build_eth(f, ETH_P_ARP);

	for (size_t i = 0; i < 28; i++)
		f[off + i] = (uint8_t)rng();
	return off + 28;
}

/* Random bytes, under an IPv4 ethertype and version most of the time. */
static size_t g_random(uint8_t *f)
{
	size_t len = coin(4) ? rnd(FZ_MAX + 1) : rnd(120);

	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)rng();
	if (len >= ETH_HLEN && !coin(4))
		wr16(f + 12, ETH_P_IP);
	if (len > ETH_HLEN && coin(2))
		f[14] = (uint8_t)(0x40 | (f[14] & 15));
	if (len > ETH_HLEN + 9 && coin(2))
		f[14 + 9] = coin(2) ? TCP : UDP;
	return len;
}

struct generator {
	const char *name;
	size_t (*fn)(uint8_t *f);
	unsigned weight;
};

static const struct generator generators[] = {
	{ "to-service", g_to_service, 8 },
	{ "not-service", g_not_service, 3 },
	{ "reply", g_reply, 6 },
	{ "icmp-error", g_icmp_error, 2 },
	{ "ipv6", g_ipv6, 1 },
	{ "arp", g_arp, 1 },
	{ "random", g_random, 2 },
};

/* ---- mutators ------------------------------------------------------------------------------ */

/* The IPv4 header of an Ethernet/IPv4 frame whose first 20 bytes are there, or NULL. */
static uint8_t *ip_of(uint8_t *f, size_t len)
{
	if (len < ETH_HLEN + 20 || rd16(f + 12) != ETH_P_IP)
		return NULL;
	return f + ETH_HLEN;
}

/* The L4 header, if the IHL points inside the frame with @need bytes after it. */
static uint8_t *l4_of(uint8_t *f, size_t len, size_t need)
{
	uint8_t *ip = ip_of(f, len);
	size_t ihl;

	if (!ip)
		return NULL;
	ihl = (ip[0] & 15) * 4u;
	if (ihl < 20 || ETH_HLEN + ihl + need > len)
		return NULL;
	return ip + ihl;
}

static void m_truncate(uint8_t *f, size_t *len)
{
	(void)f;
	*len = rnd((uint32_t)*len + 1);
}

/* Move the L4 header so the IP header has @words of options, fixing IHL and length. */
static void m_ip_options(uint8_t *f, size_t *len)
{
	uint8_t *ip = ip_of(f, *len);
	size_t ihl, words = rnd(11), nihl = 20 + 4 * words, rest;

	if (!ip)
		return;
	ihl = (ip[0] & 15) * 4u;
	if (ihl < 20 || ETH_HLEN + ihl > *len || *len - ihl + nihl > FZ_MAX)
		return;
	rest = *len - ETH_HLEN - ihl;
	memmove(ip + nihl, ip + ihl, rest);
	fill_options(ip + 20, nihl - 20);
	ip[0] = (uint8_t)(0x40 | nihl / 4);
	wr16(ip + 2, (uint16_t)(rd16(ip + 2) + nihl - ihl));
	*len = ETH_HLEN + nihl + rest;
}

/* IHL 0..15, bytes left where they are. */
static void m_ihl(uint8_t *f, size_t *len)
{
	uint8_t *ip = ip_of(f, *len);

	if (ip)
		ip[0] = (uint8_t)((ip[0] & 0xf0) | rnd(16));
}

static void m_fragment(uint8_t *f, size_t *len)
{
	static const uint16_t
		frag[] = { 0x2000, 0x2001, 0x0001, 0x00b9, 0x20b9,
			   0x1fff, 0x6000, 0x8000 /* the reserved bit alone: not a fragment */ };
	uint8_t *ip = ip_of(f, *len);

	if (ip)
		wr16(ip + 6, coin(4) ? (uint16_t)rng() : frag[rnd(NELEM(frag))]);
}

static void m_total_length(uint8_t *f, size_t *len)
{
	uint8_t *ip = ip_of(f, *len);
	int32_t t;

	if (!ip)
		return;
	switch (rnd(4)) {
	case 0:
		t = (int32_t)(*len - ETH_HLEN) + (int32_t)rnd(9) - 4;
		break;
	case 1:
		t = (int32_t)rd16(ip + 2) + (int32_t)rnd(41) - 20;
		break;
	case 2:
		t = coin(2) ? 0 : 0xffff;
		break;
	default:
		t = (int32_t)rnd(80);
		break;
	}
	wr16(ip + 2, (uint16_t)(t < 0 ? 0 : t));
}

/* 802.1Q, or QinQ (802.1ad outer, 802.1Q inner) in front of the ethertype. */
static void m_vlan(uint8_t *f, size_t *len)
{
	size_t tags = 1 + rnd(2), add = 4 * tags;

	if (*len < ETH_HLEN || *len + add > FZ_MAX)
		return;
	memmove(f + 12 + add, f + 12, *len - 12);
	for (size_t i = 0; i < tags; i++) {
		wr16(f + 12 + 4 * i, tags == 2 && i == 0 ? 0x88a8 : 0x8100);
		wr16(f + 14 + 4 * i, (uint16_t)rnd(4096));
	}
	*len += add;
}

static void m_tcp_doff(uint8_t *f, size_t *len)
{
	uint8_t *l4 = l4_of(f, *len, 13);

	if (l4) /* any protocol: a UDP frame gets a stray nibble in its payload */
		l4[12] = (uint8_t)((rnd(16) << 4) | (l4[12] & 15));
}

static void m_bit_flip(uint8_t *f, size_t *len)
{
	size_t n = 1 + rnd(8);

	for (size_t i = 0; i < n && *len; i++) {
		/* Mostly in the headers, where it matters. */
		size_t at = coin(4) ? rnd((uint32_t)*len) : rnd((uint32_t)(*len < 74 ? *len : 74));

		f[at] ^= (uint8_t)(1u << rnd(8));
	}
}

/* Overwrite, insert or delete a run of bytes, copied from a fresh frame of any generator. */
static void m_splice(uint8_t *f, size_t *len)
{
	uint8_t other[FZ_MAX];
	const struct generator *g = &generators[rnd(NELEM(generators))];
	size_t olen = g->fn(other), at = rnd((uint32_t)*len + 1), n, from;

	if (!olen)
		return;
	n = 1 + rnd(olen < 40 ? (uint32_t)olen : 40);
	from = rnd((uint32_t)(olen - n + 1));
	switch (rnd(3)) {
	case 0: /* overwrite */
		if (at + n > *len)
			n = *len - at;
		memcpy(f + at, other + from, n);
		break;
	case 1: /* insert */
		if (*len + n > FZ_MAX)
			return;
		memmove(f + at + n, f + at, *len - at);
		memcpy(f + at, other + from, n);
		*len += n;
		break;
	default: /* delete */
		if (at + n > *len)
			n = *len - at;
		memmove(f + at, f + at + n, *len - at - n);
		*len -= n;
		break;
	}
}

/* Ethernet padding after the IP packet (the IP length stays). */
static void m_pad(uint8_t *f, size_t *len)
{
	size_t n = 1 + rnd(46);

	if (*len + n > FZ_MAX)
		return;
	for (size_t i = 0; i < n; i++)
		f[*len + i] = coin(2) ? 0 : (uint8_t)rng();
	*len += n;
}

/* Make the IPv4 or the L4 checksum wrong by a random amount (never a no-op). */
static void m_bad_csum(uint8_t *f, size_t *len)
{
	struct fz_pkt p;
	uint8_t *field;

	if (!ip_of(f, *len))
		return;
	fz_parse(f, *len, &p);
	field = coin(2) || p.cls != C_CLEAN ? f + ETH_HLEN + 10 : f + p.check_off;
	wr16(field, (uint16_t)(rd16(field) + 1 + rnd(0xfffe)));
}

/* The L4 field holds only the pseudo-header sum, as a CHECKSUM_PARTIAL skb carries. */
static void m_seed_csum(uint8_t *f, size_t *len)
{
	struct fz_pkt p;
	uint8_t *ip = f + ETH_HLEN;

	if (fz_parse(f, *len, &p) != C_CLEAN)
		return;
	wr16(f + p.check_off, oc_fold(oc_sum(0, ip + 12, 8) + p.proto + (uint32_t)p.l4len));
}

static void m_udp_zero_csum(uint8_t *f, size_t *len)
{
	struct fz_pkt p;

	if (fz_parse(f, *len, &p) == C_CLEAN && p.proto == UDP)
		wr16(f + p.check_off, 0);
}

static void m_udp_length(uint8_t *f, size_t *len)
{
	uint8_t *l4 = l4_of(f, *len, 8);

	if (l4 && f[ETH_HLEN + 9] == UDP)
		wr16(l4 + 4, coin(2) ? (uint16_t)rnd(16) : (uint16_t)(rd16(l4 + 4) + rnd(9) - 4));
}

/* Broadcast or multicast destination MAC: a reject must not answer it. */
static void m_group_mac(uint8_t *f, size_t *len)
{
	if (*len >= 6)
		memcpy(f, coin(2) ? "\xff\xff\xff\xff\xff\xff" : "\x01\x00\x5e\x00\x00\x01", 6);
}

/* A source no answer may go to: 0, broadcast, multicast, class E. */
static void m_odd_source(uint8_t *f, size_t *len)
{
	static const uint32_t src[] = { 0, 0xffffffff, 0xe0000001, 0xf0000001, 0xdfffffff };
	uint8_t *ip = ip_of(f, *len);

	if (ip)
		wr32(ip + 12, src[rnd(NELEM(src))]);
}

static void m_proto(uint8_t *f, size_t *len)
{
	uint8_t *ip = ip_of(f, *len);

	if (ip)
		ip[9] = coin(2) ? (uint8_t)rng() : (uint8_t)(coin(2) ? TCP : UDP);
}

static void m_version(uint8_t *f, size_t *len)
{
	uint8_t *ip = ip_of(f, *len);

	if (ip)
		ip[0] = (uint8_t)((rnd(16) << 4) | (ip[0] & 15));
}

/* Checksums made right again after the damage, so deep mutations are checked valid->valid. */
static void m_fix_csums(uint8_t *f, size_t *len)
{
	fix_csums(f, *len);
}

struct mutator {
	const char *name;
	void (*fn)(uint8_t *f, size_t *len);
	bool fixable; /* followed by m_fix_csums half the time */
};

static const struct mutator mutators[] = {
	{ "truncate", m_truncate, false },
	{ "ip-options", m_ip_options, true },
	{ "ihl", m_ihl, true },
	{ "fragment", m_fragment, true },
	{ "total-length", m_total_length, true },
	{ "vlan", m_vlan, false },
	{ "tcp-doff", m_tcp_doff, true },
	{ "bit-flip", m_bit_flip, true },
	{ "splice", m_splice, true },
	{ "pad", m_pad, false },
	{ "bad-csum", m_bad_csum, false },
	{ "seed-csum", m_seed_csum, false },
	{ "udp-zero-csum", m_udp_zero_csum, false },
	{ "udp-length", m_udp_length, true },
	{ "group-mac", m_group_mac, false },
	{ "odd-source", m_odd_source, true },
	{ "proto", m_proto, true },
	{ "version", m_version, true },
	{ "fix-csums", m_fix_csums, false },
};

/* ---- running a program ------------------------------------------------------------------- */

enum prog { TC_IN, TC_EG, XDP_IN, NPROG };
static const char *const prog_name[] = { "tc ingress", "tc egress", "xdp ingress" };

static int prog_fd(enum prog p)
{
	return bpf_program__fd(p == TC_IN ? skel->progs.svcbpf_tc_ingress :
			       p == TC_EG ? skel->progs.svcbpf_tc_egress :
					    skel->progs.svcbpf_xdp_ingress);
}

/* What a run did, read from its verdict and output. */
enum outcome { O_UNTOUCHED, O_NAT, O_REJECT, O_DROP, O_OTHER };
static const char *const outcome_name[] = { "passed untouched", "translated", "rejected", "dropped",
					    "an unexpected verdict" };

/* The context of the current run, for failure messages. */
struct fz_run {
	uint64_t seed, iter;
	const char *gen;
	char muts[160];
	enum prog prog;
	bool csum_complete;
	uint32_t linear; /* tc: bytes in the skb's linear part, the rest in a page frag; 0: all */
	const uint8_t *in;
	size_t len;
	const uint8_t *out;
	size_t out_len;
	int rc, verdict;
};

static struct fz_stats {
	uint64_t runs, frames, failures;
	uint64_t outcome[NPROG][O_OTHER + 1];
	uint64_t cls[C_CLEAN + 1];
	uint64_t einval;
	uint64_t complete_resized; /* rejects under CHECKSUM_COMPLETE that changed length */
	uint64_t icmp_translated; /* ICMP errors about a tracked flow, translated */
} st;

static bool keep_going;
static struct svcbpf_cfg cfg; /* as dp_load_unpinned wrote it */

static void hexdump(const char *what, const uint8_t *b, size_t n)
{
	char line[16 * 3 + 1];

	print_error("#   %s (%zu bytes):\n", what, n);
	for (size_t i = 0; i < n; i += 16) {
		size_t k = 0;

		for (size_t j = i; j < n && j < i + 16; j++)
			k += (size_t)snprintf(line + k, sizeof(line) - k, " %02x", b[j]);
		print_error("#   %04zx:%s\n", i, line);
	}
}

/* One invariant broken: say what and where, show both frames, stop (or count and go on). */
static void __attribute__((format(printf, 2, 3)))
fz_fail(const struct fz_run *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st.failures++;
	print_error("# FAIL %s%s%s: %s\n", prog_name[r->prog],
		    r->csum_complete ? " (CHECKSUM_COMPLETE)" : "",
		    r->linear ? " (non-linear skb)" : "", msg);
	if (r->linear)
		print_error("#   the skb's linear part: %u bytes\n", r->linear);
	print_error("#   seed %llu iteration %llu, generator %s, mutators [%s], rc %d verdict %d\n",
		    (unsigned long long)r->seed, (unsigned long long)r->iter, r->gen, r->muts,
		    r->rc, r->verdict);
	hexdump("input", r->in, r->len);
	if (r->out)
		hexdump("output", r->out, r->out_len);
	if (!keep_going || st.failures >= FZ_MAX_FAIL)
		fail_msg("%s: %s (PKTFUZZ_SEED=%llu PKTFUZZ_ITERS=%llu replays it)",
			 prog_name[r->prog], msg, (unsigned long long)r->seed,
			 (unsigned long long)r->iter + 1);
}

static void read_counters(struct counter_value *v)
{
	assert_int_equal(dp_read_counters(&maps, v), 0);
}

static const struct svc_rec *svc_of(uint32_t ip, uint16_t port, uint8_t proto)
{
	for (size_t i = 0; i < NELEM(svcs); i++)
		if (svcs[i].addr.ip == ip && svcs[i].addr.port == port &&
		    svcs[i].addr.proto == proto)
			return &svcs[i];
	return NULL;
}

/*
 * A conntrack entry the program must honour (1), must ignore (0), or may
 * take either way (-1: within two seconds of its timeout, the programs'
 * coarse clock and ours may disagree).
 */
static int ct_live(const struct fz_pkt *p, uint8_t dir, struct ct_value *v)
{
	struct ct_key k = { .saddr = htonl(p->saddr),
			    .daddr = htonl(p->daddr),
			    .sport = htons(p->sport),
			    .dport = htons(p->dport),
			    .proto = p->proto,
			    .dir = dir };
	int64_t age, timeout;

	if (bpf_map_lookup_elem(maps.ct, &k, v))
		return 0;
	age = (int64_t)(dp_now_ns() - v->last_seen) / 1000000000LL;
	timeout = dp_ct_timeout(&cfg, p->proto, v->state);
	if (age < timeout - 2)
		return 1;
	return age > timeout + 2 ? 0 : -1;
}

/* Is the backend @id still there at @addr:@port (a flow pinned to it is honoured)? */
static bool be_still(uint32_t id, __be32 addr, __be16 port)
{
	struct backend_value be;

	return !bpf_map_lookup_elem(maps.be, &id, &be) && be.ip == addr && be.port == port;
}

/* An ICMP error the tc programs may translate (bpf/icmp.bpf.h): where its parts are. */
struct fz_icmp {
	size_t tot; /* outer IP total length */
	size_t ic, in, l4; /* ICMP header, quoted IPv4 header, quoted TCP/UDP header */
	size_t l4_check; /* the quoted L4 checksum field when it is updated, else 0 */
	uint8_t proto;
	uint32_t saddr, daddr; /* quoted, host order */
	uint16_t sport, dport;
};

/* Is @f an ICMP error icmp4_xlate_skb() would look up? Mirrors its checks. */
static bool fz_icmp_parse(const uint8_t *f, size_t len, struct fz_icmp *q)
{
	size_t ihl, in_ihl;
	uint8_t type;

	memset(q, 0, sizeof(*q));
	if (len < ETH_HLEN + 20 || rd16(f + 12) != ETH_P_IP || f[14] >> 4 != 4 ||
	    f[14 + 9] != IPPROTO_ICMP)
		return false;
	ihl = (f[14] & 15) * 4u;
	q->tot = rd16(f + 14 + 2);
	if (ihl < 20 || rd16(f + 14 + 6) & 0x3fff || q->tot < ihl || q->tot > len - ETH_HLEN)
		return false;
	q->ic = ETH_HLEN + ihl;
	q->in = q->ic + 8;
	if (q->in + 20 > len)
		return false;
	type = f[q->ic];
	if (type != 3 && type != 11 && type != 12)
		return false;
	in_ihl = (f[q->in] & 15) * 4u;
	q->proto = f[q->in + 9];
	if (f[q->in] >> 4 != 4 || in_ihl < 20 || (q->proto != TCP && q->proto != UDP) ||
	    rd16(f + q->in + 6) & 0x1fff)
		return false;
	q->saddr = rd32(f + q->in + 12);
	q->daddr = rd32(f + q->in + 16);
	if (rd32(f + 14 + 16) != q->saddr)
		return false; /* not sent to the quoted packet's source */
	q->l4 = q->in + in_ihl;
	if (q->l4 + 8 > len || q->l4 + 8 > ETH_HLEN + q->tot)
		return false;
	q->sport = rd16(f + q->l4);
	q->dport = rd16(f + q->l4 + 2);
	if (q->proto == UDP && rd16(f + q->l4 + 6))
		q->l4_check = q->l4 + 6;
	if (q->proto == TCP && q->l4 + 20 <= len && q->l4 + 20 <= ETH_HLEN + q->tot)
		q->l4_check = q->l4 + 16;
	return true;
}

/* What the hook must do with a frame, from the contract. */
struct expect {
	bool icmp; /* an ICMP error about a tracked flow: @q, translated to @to */
	struct fz_icmp q;
	unsigned allowed; /* 1 << enum outcome */
	int pass_counter; /* for O_UNTOUCHED: the reason counted, -1 for none */
	const struct svc_rec *svc; /* O_NAT at ingress: one of its backends */
	bool pinned; /* ... and exactly @to */
	int est; /* O_NAT at ingress: DNAT_EST (1), DNAT_NEW (0), either (-1) */
	struct l4addr to; /* O_NAT: the address written (egress: the service) */
};

static bool opens_flow(const struct fz_pkt *p)
{
	return p->proto == UDP || (p->flags & (F_SYN | F_ACK)) == F_SYN;
}

static bool seed_like(const uint8_t *f, const struct fz_pkt *p)
{
	return rd16(f + p->check_off) ==
	       oc_fold(oc_sum(0, f + ETH_HLEN + 12, 8) + p->proto + (uint32_t)p->l4len);
}

static struct expect expect_of(enum prog prog, const uint8_t *f, size_t len, const struct fz_pkt *p)
{
	struct expect e = { .allowed = 1u << O_UNTOUCHED, .pass_counter = -1 };
	const struct svc_rec *svc;
	struct ct_value ct;
	int live;

	(void)len;
	if (p->cls == C_MALFORMED)
		e.pass_counter = SVCBPF_CNT_PASS_MALFORMED;
	if (p->cls == C_FRAGMENT)
		e.pass_counter = SVCBPF_CNT_PASS_FRAGMENT;
	if (p->cls == C_NOT_OURS && prog != XDP_IN && fz_icmp_parse(f, len, &e.q)) {
		/* Translated like the quoted packet's reply: its tuple reversed. */
		struct fz_pkt rev = { .saddr = e.q.daddr,
				      .daddr = e.q.saddr,
				      .sport = e.q.dport,
				      .dport = e.q.sport,
				      .proto = e.q.proto };

		live = ct_live(&rev, prog == TC_EG ? SVCBPF_CT_REV : SVCBPF_CT_FWD, &ct);
		if (live) {
			e.icmp = true;
			e.allowed = live > 0 ? 1u << O_NAT : e.allowed | 1u << O_NAT;
			e.to = (struct l4addr){ ntohl(ct.addr), ntohs(ct.port), e.q.proto };
		}
		return e;
	}
	if (p->cls != C_CLEAN)
		return e;

	if (prog == TC_EG) {
		live = ct_live(p, SVCBPF_CT_REV, &ct);
		if (live) {
			e.allowed = live > 0 ? 1u << O_NAT : e.allowed | 1u << O_NAT;
			e.pinned = true;
			e.to = (struct l4addr){ ntohl(ct.addr), ntohs(ct.port), p->proto };
		}
		return e;
	}

	svc = svc_of(p->daddr, p->dport, p->proto);
	if (!svc)
		return e;
	e.svc = svc;
	if (prog == XDP_IN && (opens_flow(p) || seed_like(f, p) || !svc->nbe)) {
		e.pass_counter = SVCBPF_CNT_XDP_DEFER;
		return e;
	}
	if (!svc->nbe) { /* tc ingress: answered, unless nobody may be answered */
		bool group = f[0] & 1;
		bool unicast = p->saddr && p->saddr < 0xe0000000;

		e.allowed = group || !unicast || (p->proto == TCP && p->flags & F_RST) ?
				    1u << O_DROP :
				    1u << O_REJECT;
		return e;
	}
	e.allowed = 1u << O_NAT;
	live = ct_live(p, SVCBPF_CT_FWD, &ct);
	if (live > 0 && !(p->proto == TCP && opens_flow(p) && ct.state >= SVCBPF_CT_CLOSING) &&
	    be_still(ct.backend_id, ct.addr, ct.port)) {
		e.pinned = true;
		e.to = (struct l4addr){ ntohl(ct.addr), ntohs(ct.port), p->proto };
	}
	e.est = e.pinned ? 1 : live < 0 ? -1 : 0;
	return e;
}

static const char *const class_name[] = { "not ours", "malformed", "a fragment", "clean" };

/* "passed untouched or translated": what @e allows. */
static const char *allowed_str(const struct expect *e)
{
	static char buf[96];

	buf[0] = 0;
	for (int i = 0; i <= O_OTHER; i++)
		if (e->allowed & 1u << i)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
				 buf[0] ? " or " : "", outcome_name[i]);
	return buf;
}

static bool l4_equal(const struct l4addr *a, uint32_t ip, uint16_t port)
{
	return a->ip == ip && a->port == port;
}

/* A translated frame: only the address, port and checksums changed, all consistently. */
static void check_nat(const struct fz_run *r, const struct fz_pkt *p, const struct expect *e)
{
	bool dst = r->prog != TC_EG;
	size_t addr_off = ETH_HLEN + (dst ? 16 : 12), port_off = p->l4 + (dst ? 2 : 0);
	size_t ipck = ETH_HLEN + 10;
	const uint8_t *in = r->in, *out = r->out;
	uint32_t ip = rd32(out + addr_off);
	uint16_t port = rd16(out + port_off), in_ck, out_ck;
	bool ok = false;

	if (r->out_len != r->len)
		return fz_fail(r, "translated frame is %zu bytes, input %zu", r->out_len, r->len);
	for (size_t i = 0; i < r->len; i++) {
		bool mine = (i >= addr_off && i < addr_off + 4) ||
			    (i >= port_off && i < port_off + 2) || i == ipck || i == ipck + 1 ||
			    i == p->check_off || i == p->check_off + 1;

		if (in[i] != out[i] && !mine)
			return fz_fail(r,
				       "byte %zu changed 0x%02x -> 0x%02x: not an address, "
				       "port or checksum",
				       i, in[i], out[i]);
	}
	if (e->pinned) {
		ok = l4_equal(&e->to, ip, port);
	} else if (e->svc) {
		for (size_t i = 0; i < e->svc->nbe; i++)
			ok |= l4_equal(&e->svc->be[i].addr, ip, port);
	}
	if (!ok)
		return fz_fail(r, "translated to %u.%u.%u.%u:%u, %s", ip >> 24, ip >> 16 & 255,
			       ip >> 8 & 255, ip & 255, port,
			       e->pinned ? "not the tracked address" :
					   "not one of the service's backends");
	if (oc_norm(ip_residual(in + ETH_HLEN, p->ihl)) !=
	    oc_norm(ip_residual(out + ETH_HLEN, p->ihl)))
		return fz_fail(r,
			       "IPv4 header checksum 0x%04x -> 0x%04x: residual 0x%04x -> "
			       "0x%04x (a valid header has 0xffff)",
			       rd16(in + ipck), rd16(out + ipck),
			       ip_residual(in + ETH_HLEN, p->ihl),
			       ip_residual(out + ETH_HLEN, p->ihl));
	in_ck = rd16(in + p->check_off);
	out_ck = rd16(out + p->check_off);
	if (p->proto == UDP && (in_ck == 0) != (out_ck == 0))
		return fz_fail(r, "UDP checksum 0x%04x -> 0x%04x: 0 (none) must stay 0, only 0",
			       in_ck, out_ck);
	if (p->proto == UDP && in_ck == 0)
		return;
	if (oc_norm(l4_residual(in + ETH_HLEN, p->proto, in + p->l4, p->csum_len)) !=
	    oc_norm(l4_residual(out + ETH_HLEN, p->proto, out + p->l4, p->csum_len)))
		return fz_fail(r,
			       "%s checksum 0x%04x -> 0x%04x: residual 0x%04x -> 0x%04x "
			       "(a valid segment has 0xffff)",
			       p->proto == TCP ? "TCP" : "UDP", in_ck, out_ck,
			       l4_residual(in + ETH_HLEN, p->proto, in + p->l4, p->csum_len),
			       l4_residual(out + ETH_HLEN, p->proto, out + p->l4, p->csum_len));
}

/*
 * A translated ICMP error: the outer address, the quoted address and port
 * and the checksums changed, nothing else, to the entry's address and port;
 * the outer IPv4, ICMP and quoted IPv4 residuals kept; UDP's 0 kept.
 */
static void check_icmp_nat(const struct fz_run *r, const struct expect *e)
{
	const struct fz_icmp *q = &e->q;
	bool in_side = r->prog == TC_IN;
	size_t outer = ETH_HLEN + (in_side ? 16 : 12), qaddr = q->in + (in_side ? 12 : 16);
	size_t qport = q->l4 + (in_side ? 0 : 2);
	const uint8_t *in = r->in, *out = r->out;
	const size_t fields[][2] = { { outer, 4 },	{ ETH_HLEN + 10, 2 }, { q->ic + 2, 2 },
				     { qaddr, 4 },	{ q->in + 10, 2 },    { qport, 2 },
				     { q->l4_check, 2 } };

	if (r->out_len != r->len)
		return fz_fail(r, "translated ICMP error is %zu bytes, input %zu", r->out_len,
			       r->len);
	for (size_t i = 0; i < r->len; i++) {
		bool mine = false;

		for (size_t k = 0; k < NELEM(fields); k++)
			mine |= fields[k][0] && i >= fields[k][0] &&
				i < fields[k][0] + fields[k][1];
		if (in[i] != out[i] && !mine)
			return fz_fail(r,
				       "ICMP byte %zu changed 0x%02x -> 0x%02x: not an address, "
				       "port or checksum",
				       i, in[i], out[i]);
	}
	if (rd32(out + outer) != e->to.ip || rd32(out + qaddr) != e->to.ip ||
	    rd16(out + qport) != e->to.port)
		return fz_fail(r, "ICMP error not translated to the tracked address");
	if (oc_norm(ip_residual(in + ETH_HLEN, q->ic - ETH_HLEN)) !=
		    oc_norm(ip_residual(out + ETH_HLEN, q->ic - ETH_HLEN)) ||
	    oc_norm(ip_residual(in + q->in, q->l4 - q->in)) !=
		    oc_norm(ip_residual(out + q->in, q->l4 - q->in)) ||
	    oc_norm(oc_fold(oc_sum(0, in + q->ic, ETH_HLEN + q->tot - q->ic))) !=
		    oc_norm(oc_fold(oc_sum(0, out + q->ic, ETH_HLEN + q->tot - q->ic))))
		return fz_fail(r, "ICMP error: an outer IPv4, ICMP or quoted IPv4 checksum "
				  "residual changed");
	if (q->proto == UDP && !q->l4_check && rd16(out + q->l4 + 6))
		return fz_fail(r, "quoted UDP checksum 0 (none) did not stay 0");
}

/* The length of the reject of @p: a bare RST, or ICMP quoting the IP header and 8 bytes. */
static size_t reject_len(const struct fz_pkt *p)
{
	return p->proto == TCP ? 54 : (size_t)(ETH_HLEN + 20 + 8 + p->ihl + 8);
}

/* A reject: a well-formed RST or ICMP port unreachable from the service to the client. */
static void check_reject(const struct fz_run *r, const struct fz_pkt *p)
{
	const uint8_t *in = r->in, *o = r->out, *oip = o + ETH_HLEN, *ol4 = oip + 20;
	size_t want = reject_len(p);

	if (r->out_len != want)
		return fz_fail(r, "reject is %zu bytes, expected %zu", r->out_len, want);
	if (memcmp(o, in + 6, 6) || memcmp(o + 6, in, 6) || rd16(o + 12) != ETH_P_IP)
		return fz_fail(r, "reject's Ethernet header is not the request's, swapped");
	if (oip[0] != 0x45 || rd16(oip + 2) != want - ETH_HLEN || rd16(oip + 6) & 0x3fff ||
	    !oip[8] || oip[9] != (p->proto == TCP ? TCP : IPPROTO_ICMP) ||
	    rd32(oip + 12) != p->daddr || rd32(oip + 16) != p->saddr)
		return fz_fail(r, "reject's IPv4 header is wrong (version/IHL, length, "
				  "fragment, TTL, protocol or addresses)");
	if (ip_residual(oip, 20) != 0xffff)
		return fz_fail(r, "reject's IPv4 header checksum 0x%04x does not verify",
			       rd16(oip + 10));
	if (p->proto == TCP) {
		const uint8_t *req = in + p->l4;
		uint32_t payload = (uint32_t)(p->l4len - (req[12] >> 4) * 4u);
		bool ack = req[13] & F_ACK;
		uint32_t seq = ack ? rd32(req + 8) : 0;
		uint32_t ack_seq =
			ack ? 0 :
			      rd32(req + 4) + payload + !!(req[13] & F_SYN) + !!(req[13] & F_FIN);

		if (rd16(ol4) != p->dport || rd16(ol4 + 2) != p->sport || ol4[12] != 0x50 ||
		    ol4[13] != (ack ? F_RST : F_RST | F_ACK) || rd32(ol4 + 4) != seq ||
		    rd32(ol4 + 8) != ack_seq)
			return fz_fail(r, "reset's ports, data offset, flags, seq or ack are wrong "
					  "(RFC 793 reset generation)");
		if (l4_residual(oip, TCP, ol4, 20) != 0xffff)
			return fz_fail(r, "reset's TCP checksum 0x%04x does not verify",
				       rd16(ol4 + 16));
	} else {
		if (ol4[0] != 3 || ol4[1] != 3 || rd32(ol4 + 4))
			return fz_fail(r, "ICMP is not port unreachable with zero unused bytes");
		if (memcmp(ol4 + 8, in + ETH_HLEN, p->ihl + 8))
			return fz_fail(r, "ICMP quote is not the request's IP header and 8 bytes");
		if (l4_residual(oip, IPPROTO_ICMP, ol4, want - ETH_HLEN - 20) != 0xffff)
			return fz_fail(r, "ICMP checksum 0x%04x does not verify", rd16(ol4 + 2));
	}
}

static const char *const counter_name[] = {
	"DNAT_NEW",	 "DNAT_EST",	   "REVNAT",	     "XDP_DEFER",     "DROP_NO_BACKEND",
	"PASS_FRAGMENT", "PASS_MALFORMED", "DROP_REWRITE",   "REJECT",	      "CT_FULL",
	"MON_LOST",	 "SNAT",	   "UNSNAT",	     "ICMP_XLATE",    "DROP_SOURCE_RANGE",
	"DROP_NO_LOCAL", "DROP_SNAT",	   "RUN_TC_INGRESS", "RUN_TC_EGRESS", "RUN_XDP",
};
_Static_assert(NELEM(counter_name) == SVCBPF_CNT_MAX, "a name for every counter");

static bool counter_is_run(int i)
{
	return i == SVCBPF_CNT_RUN_TC_INGRESS || i == SVCBPF_CNT_RUN_TC_EGRESS ||
	       i == SVCBPF_CNT_RUN_XDP;
}

/*
 * The program counted its run (one packet of the frame's length), and
 * exactly one other counter moved by the same (or none); which one.
 */
static int counter_moved(const struct fz_run *r, const struct counter_value *a,
			 const struct counter_value *b)
{
	uint64_t runs = 0, run_bytes = 0;
	int which = -1;

	for (int i = 0; i < SVCBPF_CNT_MAX; i++) {
		if (!counter_is_run(i))
			continue;
		runs += b[i].packets - a[i].packets;
		run_bytes += b[i].bytes - a[i].bytes;
	}
	if (runs != 1 || run_bytes != r->len) {
		fz_fail(r, "run counters moved by %llu packets, %llu bytes (frame %zu bytes)",
			(unsigned long long)runs, (unsigned long long)run_bytes, r->len);
		return -2;
	}
	for (int i = 0; i < SVCBPF_CNT_MAX; i++) {
		uint64_t dp = b[i].packets - a[i].packets, db = b[i].bytes - a[i].bytes;

		if ((!dp && !db) || counter_is_run(i))
			continue;
		if (dp != 1 || db != r->len || which >= 0) {
			fz_fail(r,
				"counter %s moved by %llu packets, %llu bytes (frame %zu bytes%s)",
				counter_name[i], (unsigned long long)dp, (unsigned long long)db,
				r->len, which >= 0 ? ", and a second counter moved" : "");
			return -2;
		}
		which = i;
	}
	return which;
}

/*
 * Does the kernel run a frame of @len bytes, @linear of them linear (0:
 * all), at all? Its own rule (net/bpf/test_run.c), not the program's.
 */
static bool kernel_runs(enum prog prog, const uint8_t *f, size_t len, size_t linear)
{
	size_t head = linear ? (linear > ETH_HLEN ? linear : ETH_HLEN) : len;

	if (len < ETH_HLEN)
		return false;
	/* The skb path wants a whole IPv4 / IPv6 header, linear, behind those ethertypes. */
	if (prog != XDP_IN && rd16(f + 12) == ETH_P_IP && head < ETH_HLEN + 20)
		return false;
	if (prog != XDP_IN && rd16(f + 12) == ETH_P_IPV6 && head < ETH_HLEN + 40)
		return false;
	return true;
}

/* What this kernel's test runs can do for tc: CHECKSUM_COMPLETE (6.11), non-linear skbs. */
static bool csum_complete_ok, nonlinear_ok;

/* Run @prog on the frame and hold the result to every invariant. */
static void fz_check(struct fz_run *r, const uint8_t *in, size_t len)
{
	static uint8_t out[FZ_OUT];
	struct counter_value before[SVCBPF_CNT_MAX], after[SVCBPF_CNT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	struct fz_pkt p;
	struct expect e;
	enum outcome oc;
	int moved, want;

	r->in = in;
	r->len = len;
	r->out = NULL;
	r->out_len = 0;
	struct __sk_buff ctx = { .data_end = r->linear };

	if (r->csum_complete)
		o.flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	if (r->linear) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	fz_parse(in, len, &p);
	e = expect_of(r->prog, in, len, &p);
	read_counters(before);
	r->rc = bpf_prog_test_run_opts(prog_fd(r->prog), &o) ? -errno : 0;
	r->verdict = (int)o.retval;
	st.runs++;
	if (!kernel_runs(r->prog, in, len, r->linear)) {
		st.einval++;
		if (r->rc != -EINVAL)
			fz_fail(r, "the kernel ran a %zu-byte frame it should refuse (rc %d)", len,
				r->rc);
		return;
	}
	/*
	 * A reject of another length than its request is cut or grown by
	 * bpf_skb_change_tail(), which turns a CHECKSUM_COMPLETE skb into
	 * CHECKSUM_NONE (__skb_trim_rcsum/__skb_grow_rcsum): skb->csum no longer
	 * counts. The test run compares it all the same (by the flag, not by
	 * ip_summed) and says EBADMSG. A reject of the same length stays
	 * COMPLETE and must keep its sum.
	 */
	if (r->rc == -EBADMSG && r->csum_complete && e.allowed == 1u << O_REJECT &&
	    reject_len(&p) != len) {
		st.complete_resized++;
		return;
	}
	if (r->rc)
		return fz_fail(r, "BPF_PROG_TEST_RUN failed: %s (the frame is %s; expected %s)",
			       strerror(-r->rc), class_name[p.cls], allowed_str(&e));
	r->out = out;
	r->out_len = o.data_size_out;
	read_counters(after);
	st.cls[p.cls]++;

	if (r->prog == XDP_IN)
		oc = r->verdict == XDP_PASS ? O_UNTOUCHED :
		     r->verdict == XDP_DROP ? O_DROP :
					      O_OTHER;
	else
		oc = r->verdict == TC_ACT_UNSPEC		       ? O_UNTOUCHED :
		     r->verdict == TC_ACT_SHOT			       ? O_DROP :
		     r->verdict == TC_ACT_REDIRECT && r->prog == TC_IN ? O_REJECT :
									 O_OTHER;
	if (oc == O_UNTOUCHED && (r->out_len != len || memcmp(out, in, len)))
		oc = O_NAT;
	st.outcome[r->prog][oc]++;
	if (!(e.allowed & 1u << oc)) {
		if (oc == O_NAT && r->out_len == len)
			for (size_t i = 0; i < len; i++)
				if (out[i] != in[i])
					return fz_fail(r,
						       "%s (first at byte %zu: 0x%02x -> 0x%02x), "
						       "expected %s (the frame is %s)",
						       outcome_name[oc], i, in[i], out[i],
						       allowed_str(&e), class_name[p.cls]);
		return fz_fail(r,
			       "%s (verdict %d, %zu -> %zu bytes), expected %s (the frame is %s)",
			       outcome_name[oc], r->verdict, len, r->out_len, allowed_str(&e),
			       class_name[p.cls]);
	}
	switch (oc) {
	case O_NAT:
		if (e.icmp) {
			check_icmp_nat(r, &e);
			st.icmp_translated++;
			want = SVCBPF_CNT_ICMP_XLATE;
			break;
		}
		check_nat(r, &p, &e);
		want = r->prog == TC_EG ? SVCBPF_CNT_REVNAT : SVCBPF_CNT_DNAT_NEW;
		break;
	case O_REJECT:
		check_reject(r, &p);
		want = SVCBPF_CNT_REJECT;
		break;
	case O_DROP:
		want = SVCBPF_CNT_DROP_NO_BACKEND;
		break;
	default:
		want = e.pass_counter;
		break;
	}
	moved = counter_moved(r, before, after);
	if (moved == -2)
		return;
	if (oc == O_NAT && r->prog != TC_EG &&
	    (e.est > 0 || (e.est < 0 && moved == SVCBPF_CNT_DNAT_EST)))
		want = SVCBPF_CNT_DNAT_EST;
	if (moved != want)
		fz_fail(r, "%s: counter %s moved, expected %s", outcome_name[oc],
			moved < 0 ? "none" : counter_name[moved],
			want < 0 ? "none" : counter_name[want]);
}

/*
 * Run the frame through every hook; tc twice: a linear CHECKSUM_NONE skb,
 * then one with CHECKSUM_COMPLETE, non-linear (headers cut anywhere into a
 * page frag, for tc_pull_headers() to make linear), or both.
 */
static void fz_all(struct fz_run *r, const uint8_t *f, size_t len)
{
	for (enum prog p = TC_IN; p < NPROG; p++) {
		uint32_t variant = 1 + rnd(3);

		r->prog = p;
		r->csum_complete = false;
		r->linear = 0;
		fz_check(r, f, len);
		if (p == XDP_IN)
			continue;
		r->csum_complete = csum_complete_ok && variant & 1;
		if (nonlinear_ok && variant & 2 && len > ETH_HLEN)
			r->linear = ETH_HLEN + rnd(coin(2) ? (uint32_t)(len - ETH_HLEN) : 60);
		if (r->csum_complete || r->linear)
			fz_check(r, f, len);
		r->linear = 0;
	}
	st.frames++;
}

/* ---- tracked flows -------------------------------------------------------------------------- */

/* Run one frame through @prog, return its output (checked like any other run). */
static size_t run_one(struct fz_run *r, enum prog prog, const uint8_t *f, size_t len, uint8_t *out)
{
	r->prog = prog;
	r->csum_complete = false;
	r->linear = 0;
	fz_check(r, f, len);
	assert_non_null(r->out);
	memcpy(out, r->out, r->out_len);
	return r->out_len;
}

/* Handshake (TCP) or request and reply (UDP) for every flow: both directions tracked. */
static void establish(struct fz_run *r)
{
	uint8_t f[FZ_MAX], out[FZ_OUT];

	r->gen = "establish";
	r->muts[0] = 0;
	for (int i = 0; i < NFLOWS; i++) {
		struct flow *fl = &flows[i];
		struct ip4_spec s = { .saddr = fl->client,
				      .daddr = fl->svc->addr.ip,
				      .sport = fl->sport,
				      .dport = fl->svc->addr.port,
				      .proto = fl->svc->addr.proto,
				      .flags = F_SYN,
				      .payload = fl->svc->addr.proto == UDP ? 20 : 0 };
		size_t len = build_ip4(f, &s);
		struct fz_pkt p;

		run_one(r, TC_IN, f, len, out);
		fz_parse(out, len, &p);
		fl->be = (struct l4addr){ p.daddr, p.dport, s.proto };
		s = (struct ip4_spec){ .saddr = fl->be.ip,
				       .daddr = fl->client,
				       .sport = fl->be.port,
				       .dport = fl->sport,
				       .proto = s.proto,
				       .flags = F_SYN | F_ACK,
				       .payload = 10 };
		len = build_ip4(f, &s);
		run_one(r, TC_EG, f, len, out);
		if (s.proto == TCP) {
			s = (struct ip4_spec){ .saddr = fl->client,
					       .daddr = fl->svc->addr.ip,
					       .sport = fl->sport,
					       .dport = fl->svc->addr.port,
					       .proto = TCP,
					       .flags = F_ACK };
			len = build_ip4(f, &s);
			run_one(r, TC_IN, f, len, out);
		}
		fl->up = true;
	}
}

static void flows_init(void)
{
	const struct svc_rec *with_be[] = { &svcs[0], &svcs[1], &svcs[2], &svcs[3] };

	for (int i = 0; i < NFLOWS; i++)
		flows[i] = (struct flow){ .svc = with_be[i % 4],
					  .client = clients[i % NELEM(clients)],
					  .sport = (uint16_t)(33000 + 7 * i) };
}

/* ---- the fuzz loop ------------------------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const struct generator *pick_generator(void)
{
	unsigned total = 0, k;

	for (size_t i = 0; i < NELEM(generators); i++)
		total += generators[i].weight;
	k = rnd(total);
	for (size_t i = 0; i < NELEM(generators); i++) {
		if (k < generators[i].weight)
			return &generators[i];
		k -= generators[i].weight;
	}
	return &generators[0];
}

/* Cut @f at every length 0..len and run each through every hook. */
static void sweep_truncations(struct fz_run *r, const uint8_t *f, size_t len)
{
	size_t n = strlen(r->muts);

	for (size_t cut = 0; cut <= len; cut++) {
		snprintf(r->muts + n, sizeof(r->muts) - n, "%struncate-all(%zu)", n ? "," : "",
			 cut);
		fz_all(r, f, cut);
	}
	r->muts[n] = 0;
}

static void test_pktfuzz(void **state)
{
	const char *seed_env = getenv("PKTFUZZ_SEED");
	uint64_t seed = seed_env && !strcmp(seed_env, "time") ? (uint64_t)time(NULL) :
								env_u64("PKTFUZZ_SEED", 0x5eed2026);
	uint64_t max_iters = env_u64("PKTFUZZ_ITERS", UINT64_MAX);
	double seconds = (double)env_u64("PKTFUZZ_SECONDS", FZ_SECONDS), t0 = now_s(), dt;
	struct fz_run r = { .seed = seed };
	uint64_t gen_count[NELEM(generators)] = { 0 }, mut_count[NELEM(mutators)] = { 0 };

	(void)state;
	keep_going = env_u64("PKTFUZZ_KEEP_GOING", 0) != 0;
	print_message("# pktfuzz seed %llu (PKTFUZZ_SEED), %g s (PKTFUZZ_SECONDS), "
		      "iterations %s (PKTFUZZ_ITERS)\n",
		      (unsigned long long)seed, seconds,
		      max_iters == UINT64_MAX ? "unbounded" : "bounded");
	rng_seed(seed);
	flows_init();
	for (r.iter = 0; r.iter < max_iters && now_s() - t0 < seconds; r.iter++) {
		uint8_t f[FZ_MAX];
		const struct generator *g;
		size_t len, nmut, n = 0;

		if (r.iter % FZ_REFRESH == 0)
			establish(&r);
		g = pick_generator();
		r.gen = g->name;
		gen_count[g - generators]++;
		len = g->fn(f);
		r.muts[0] = 0;
		/* One frame in four goes as built: valid frames must be exact too. */
		nmut = coin(4) ? 0 : 1 + rnd(coin(4) ? 6 : 2);
		for (size_t i = 0; i < nmut; i++) {
			size_t k = rnd(NELEM(mutators));

			mutators[k].fn(f, &len);
			mut_count[k]++;
			n += (size_t)snprintf(r.muts + n,
					      n < sizeof(r.muts) ? sizeof(r.muts) - n : 0, "%s%s",
					      n ? "," : "", mutators[k].name);
			if (mutators[k].fixable && coin(2)) {
				fix_csums(f, len);
				n += (size_t)snprintf(r.muts + n,
						      n < sizeof(r.muts) ? sizeof(r.muts) - n : 0,
						      ",fix-csums");
			}
			if (n >= sizeof(r.muts))
				n = sizeof(r.muts) - 1;
		}
		if (r.iter % FZ_SWEEP_EVERY == 0)
			sweep_truncations(&r, f, len);
		else
			fz_all(&r, f, len);
	}
	dt = now_s() - t0;
	print_message("# %llu iterations, %llu frames, %llu program runs in %.1f s: %.0f runs/s, "
		      "%.0f frames/s\n",
		      (unsigned long long)r.iter, (unsigned long long)st.frames,
		      (unsigned long long)st.runs, dt, st.runs / dt, st.frames / dt);
	print_message("# parsed as: not ours %llu, malformed %llu, fragment %llu, clean %llu; "
		      "refused by the kernel %llu; resized rejects under CHECKSUM_COMPLETE %llu; "
		      "ICMP errors translated %llu\n",
		      (unsigned long long)st.cls[C_NOT_OURS],
		      (unsigned long long)st.cls[C_MALFORMED],
		      (unsigned long long)st.cls[C_FRAGMENT], (unsigned long long)st.cls[C_CLEAN],
		      (unsigned long long)st.einval, (unsigned long long)st.complete_resized,
		      (unsigned long long)st.icmp_translated);
	for (enum prog p = TC_IN; p < NPROG; p++)
		print_message(
			"# %s: untouched %llu, translated %llu, rejected %llu, dropped %llu\n",
			prog_name[p], (unsigned long long)st.outcome[p][O_UNTOUCHED],
			(unsigned long long)st.outcome[p][O_NAT],
			(unsigned long long)st.outcome[p][O_REJECT],
			(unsigned long long)st.outcome[p][O_DROP]);
	for (size_t i = 0; i < NELEM(generators); i++)
		print_message("# generator %-12s %llu\n", generators[i].name,
			      (unsigned long long)gen_count[i]);
	for (size_t i = 0; i < NELEM(mutators); i++)
		print_message("# mutator %-14s %llu\n", mutators[i].name,
			      (unsigned long long)mut_count[i]);
	/* The fuzz reached every outcome it is meant to exercise. */
	assert_true(st.outcome[TC_IN][O_NAT] > 0 && st.outcome[TC_EG][O_NAT] > 0 &&
		    st.outcome[XDP_IN][O_NAT] > 0 && st.outcome[TC_IN][O_REJECT] > 0 &&
		    st.outcome[TC_IN][O_DROP] > 0);
	if (st.failures)
		fail_msg("%llu invariant failures (seed %llu)", (unsigned long long)st.failures,
			 (unsigned long long)seed);
}

/* ---- setup ------------------------------------------------------------------------------- */

static int setup_group(void **state)
{
	const struct svc_rec *all[NELEM(svcs)];
	uint8_t f[FZ_MAX], out[FZ_OUT];
	char err[ERR_LEN];
	struct ip4_spec s = { .saddr = 0x0a000001, .daddr = 0x0a000002, .proto = UDP };
	size_t len;

	(void)state;
	for (size_t i = 0; i < NELEM(svcs); i++)
		all[i] = &svcs[i];
	skel = svcbpf_bpf__open();
	if (!skel)
		return -1;
	bpf_map__set_max_entries(skel->maps.svcbpf_ct_v3, CT_ENTRIES);
	bpf_map__set_max_entries(skel->maps.svcbpf_aff_v1, 4096);
	if (dp_load_unpinned(skel, &maps)) {
		fprintf(stderr, "cannot load the BPF object (root needed)\n");
		return -1;
	}
	if (dp_sync_services(&maps, all, NELEM(all), err)) {
		fprintf(stderr, "cannot program services: %s\n", err);
		return -1;
	}
	if (dp_cfg_read(&maps, &cfg)) {
		fprintf(stderr, "cannot read the config map\n");
		return -1;
	}
	/* Does this kernel test-run skbs with CHECKSUM_COMPLETE (6.11+)? */
	rng_seed(1);
	len = build_ip4(f, &s);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = (__u32)len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1,
			    .flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE);

		csum_complete_ok = !bpf_prog_test_run_opts(prog_fd(TC_IN), &o);
		if (!csum_complete_ok)
			print_message("# no CHECKSUM_COMPLETE test runs on this kernel: %s\n",
				      strerror(errno));
	}
	/* And non-linear skbs, the linear part's length in ctx->data_end (6.18)? */
	{
		struct __sk_buff ctx = { .data_end = ETH_HLEN + 20 };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = (__u32)len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1,
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

		nonlinear_ok = !bpf_prog_test_run_opts(prog_fd(TC_IN), &o) &&
			       o.data_size_out == len;
		if (!nonlinear_ok)
			print_message("# no non-linear skb test runs on this kernel: %s\n",
				      strerror(errno));
	}
	return 0;
}

static int teardown_group(void **state)
{
	(void)state;
	svcbpf_bpf__destroy(skel);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pktfuzz),
	};

	return cmocka_run_group_tests_name("pktfuzz", tests, setup_group, teardown_group);
}
