/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pkt.h - build test frames and verify their checksums from scratch.
 *
 * Checksums here are computed over the whole header and payload every time
 * (RFC 1071), never incrementally, so they are an independent check of the
 * dataplane's incremental updates.
 */
#ifndef SVCBPF_TEST_PKT_H
#define SVCBPF_TEST_PKT_H

#include <arpa/inet.h>
#include <linux/icmp.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PKT_MAX 1600

struct pkt_spec {
	uint32_t saddr, daddr; /* host order */
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t opt_words; /* IPv4 option words (IHL = 5 + opt_words) */
	uint16_t frag; /* frag_off field, host order (IP_MF | offset) */
	uint16_t payload; /* payload bytes */
	uint8_t tcp_flags; /* default SYN */
	bool udp_no_csum; /* UDP checksum 0 */
	bool l4_seed; /* L4 field holds the pseudo-header seed (CHECKSUM_PARTIAL) */
};

static inline uint32_t csum_add_bytes(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static inline uint16_t csum_fold_host(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static inline struct iphdr *pkt_ip(uint8_t *f)
{
	return (struct iphdr *)(f + ETH_HLEN);
}

static inline uint8_t *pkt_l4(uint8_t *f)
{
	return f + ETH_HLEN + pkt_ip(f)->ihl * 4;
}

/* Pseudo-header sum (host-order arithmetic) of the frame's IPv4/L4. */
static inline uint32_t pkt_pseudo_sum(uint8_t *f)
{
	struct iphdr *ip = pkt_ip(f);
	uint16_t l4len = (uint16_t)(ntohs(ip->tot_len) - ip->ihl * 4);
	uint32_t sum = 0;

	sum = csum_add_bytes(sum, &ip->saddr, 4);
	sum = csum_add_bytes(sum, &ip->daddr, 4);
	return sum + ip->protocol + l4len;
}

/* The L4 checksum field: TCP, UDP, or ICMP (bytes 2-3 of its header). */
static inline uint16_t *pkt_l4_check(uint8_t *f)
{
	uint8_t *l4 = pkt_l4(f);

	switch (pkt_ip(f)->protocol) {
	case IPPROTO_TCP:
		return &((struct tcphdr *)l4)->check;
	case IPPROTO_UDP:
		return &((struct udphdr *)l4)->check;
	default:
		return (uint16_t *)(l4 + 2);
	}
}

/*
 * Full L4 checksum of the frame, as it should be in the field (network
 * order). ICMP covers its message only, no pseudo-header (RFC 792).
 */
static inline uint16_t pkt_l4_csum(uint8_t *f)
{
	struct iphdr *ip = pkt_ip(f);
	uint16_t l4len = (uint16_t)(ntohs(ip->tot_len) - ip->ihl * 4);
	uint16_t *check = pkt_l4_check(f), saved = *check, c;
	uint32_t sum = ip->protocol == IPPROTO_ICMP ? 0 : pkt_pseudo_sum(f);

	*check = 0;
	sum = csum_add_bytes(sum, pkt_l4(f), l4len);
	*check = saved;
	c = (uint16_t)~csum_fold_host(sum);
	if (ip->protocol == IPPROTO_UDP && c == 0)
		c = 0xffff;
	return htons(c);
}

static inline uint16_t pkt_ip_csum(uint8_t *f)
{
	struct iphdr *ip = pkt_ip(f);
	uint16_t saved = ip->check, c;

	ip->check = 0;
	c = (uint16_t)~csum_fold_host(csum_add_bytes(0, ip, ip->ihl * 4));
	ip->check = saved;
	return htons(c);
}

/* Set both checksums from scratch (or the L4 seed / UDP 0 when @s says so). */
static inline void pkt_fill_csums(uint8_t *f, const struct pkt_spec *s)
{
	pkt_ip(f)->check = pkt_ip_csum(f);
	if (s && s->proto == IPPROTO_UDP && s->udp_no_csum)
		*pkt_l4_check(f) = 0;
	else if (s && s->l4_seed)
		*pkt_l4_check(f) = htons(csum_fold_host(pkt_pseudo_sum(f)));
	else
		*pkt_l4_check(f) = pkt_l4_csum(f);
}

/* Do the frame's IPv4 and L4 checksums verify? UDP 0 = none (RFC 768). */
static inline bool pkt_csums_ok(uint8_t *f)
{
	uint16_t check = *pkt_l4_check(f);

	if (pkt_ip(f)->check != pkt_ip_csum(f))
		return false;
	if (pkt_ip(f)->protocol == IPPROTO_UDP && check == 0)
		return true;
	return check == pkt_l4_csum(f);
}

/*
 * Does the frame's L4 checksum equal its pseudo-header seed? A complete
 * checksum does by chance (1 in 65536); XDP leaves every such packet to tc.
 */
static inline bool pkt_l4_looks_seed(uint8_t *f)
{
	return *pkt_l4_check(f) == htons(csum_fold_host(pkt_pseudo_sum(f)));
}

/* Build the frame described by @s into @f; returns its length. */
static inline size_t pkt_build(uint8_t *f, const struct pkt_spec *s)
{
	size_t ihl = 20 + 4u * s->opt_words;
	size_t l4hdr = s->proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr);
	size_t len = ETH_HLEN + ihl + l4hdr + s->payload;
	struct ethhdr *eth = (struct ethhdr *)f;
	struct iphdr *ip = pkt_ip(f);
	uint8_t *l4 = f + ETH_HLEN + ihl;

	memset(f, 0, len);
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = (uint8_t)(ihl / 4);
	ip->tos = 0x10;
	ip->tot_len = htons((uint16_t)(ihl + l4hdr + s->payload));
	ip->id = htons(0x1234);
	ip->frag_off = htons(s->frag ? s->frag : 0x4000 /* DF */);
	ip->ttl = 64;
	ip->protocol = s->proto;
	ip->saddr = htonl(s->saddr);
	ip->daddr = htonl(s->daddr);
	for (size_t i = 20; i < ihl; i++) /* NOPs, then one end-of-list */
		((uint8_t *)ip)[i] = i + 1 == ihl ? 0 : 1;
	if (s->proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)l4;

		th->source = htons(s->sport);
		th->dest = htons(s->dport);
		th->seq = htonl(0x01020304);
		th->doff = 5;
		((uint8_t *)th)[13] = s->tcp_flags ? s->tcp_flags : 0x02;
		th->window = htons(64240);
	} else {
		struct udphdr *uh = (struct udphdr *)l4;

		uh->source = htons(s->sport);
		uh->dest = htons(s->dport);
		uh->len = htons((uint16_t)(l4hdr + s->payload));
	}
	for (size_t i = 0; i < s->payload; i++)
		l4[l4hdr + i] = (uint8_t)(i * 7 + 3);
	pkt_fill_csums(f, s);
	return len;
}

/*
 * RFC 1624 (eq. 3) update of checksum @check (network order) for the
 * 16-bit words at @from (@len bytes, even) becoming those at @to:
 * HC' = ~(~HC + ~m + m'). An independent model of an incremental rewrite.
 */
static inline uint16_t csum_update(uint16_t check, const void *from, const void *to, size_t len)
{
	const uint8_t *a = from, *b = to;
	uint32_t sum = (uint16_t)~ntohs(check);

	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += (uint16_t) ~(a[i] << 8 | a[i + 1]);
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	}
	return htons((uint16_t)~csum_fold_host(sum));
}

/* The outer headers of an ICMP error (see pkt_build_icmp()). */
struct icmp_spec {
	uint32_t saddr, daddr; /* host order */
	uint8_t type, code;
	uint16_t mtu; /* next-hop MTU, for fragmentation needed (RFC 1191) */
	uint8_t opt_words; /* outer IPv4 option words */
};

/*
 * Build into @f the ICMP error @s quoting the first @quote_len bytes of the
 * IPv4 packet in frame @q (its IP header on), as a router or host sends it
 * (RFC 792: TOS 0xc0, no DF). Checksums from scratch. Returns the length.
 */
static inline size_t pkt_build_icmp(uint8_t *f, const struct icmp_spec *s, const uint8_t *q,
				    size_t quote_len)
{
	size_t ihl = 20 + 4u * s->opt_words;
	size_t len = ETH_HLEN + ihl + 8 + quote_len;
	struct ethhdr *eth = (struct ethhdr *)f;
	struct iphdr *ip = pkt_ip(f);
	uint8_t *ic = f + ETH_HLEN + ihl;

	memset(f, 0, len);
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x03", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = (uint8_t)(ihl / 4);
	ip->tos = 0xc0;
	ip->tot_len = htons((uint16_t)(ihl + 8 + quote_len));
	ip->id = htons(0x4321);
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	ip->saddr = htonl(s->saddr);
	ip->daddr = htonl(s->daddr);
	for (size_t i = 20; i < ihl; i++)
		((uint8_t *)ip)[i] = i + 1 == ihl ? 0 : 1;
	ic[0] = s->type;
	ic[1] = s->code;
	ic[6] = (uint8_t)(s->mtu >> 8);
	ic[7] = (uint8_t)s->mtu;
	memcpy(ic + 8, q + ETH_HLEN, quote_len);
	pkt_fill_csums(f, NULL);
	return len;
}

/* The quoted IPv4 header of the ICMP error in @f. */
static inline struct iphdr *pkt_icmp_quote(uint8_t *f)
{
	return (struct iphdr *)(pkt_l4(f) + 8);
}

/*
 * The quoted packet of the ICMP error in @f, as a "frame" for the pkt_*
 * helpers above: they only look past the Ethernet header, which here is the
 * end of the ICMP header (so the pointer stays inside @f).
 */
static inline uint8_t *pkt_icmp_quote_frame(uint8_t *f)
{
	return (uint8_t *)pkt_icmp_quote(f) - ETH_HLEN;
}

/* Bytes of the quote in the ICMP error @f (from its quoted IP header on). */
static inline size_t pkt_icmp_quote_len(uint8_t *f)
{
	struct iphdr *ip = pkt_ip(f);

	return ntohs(ip->tot_len) - ip->ihl * 4u - 8;
}

/* Does the quote hold its whole packet (so its L4 checksum can be summed)? */
static inline bool pkt_icmp_quote_whole(uint8_t *f)
{
	return pkt_icmp_quote_len(f) >= ntohs(pkt_icmp_quote(f)->tot_len);
}

/*
 * Do the ICMP error's checksums verify from scratch: the outer IPv4
 * header's, the ICMP message's (all of it), the quoted IPv4 header's, and
 * the quoted TCP/UDP checksum when the quote holds the whole packet (UDP 0:
 * none)?
 */
static inline bool pkt_icmp_csums_ok(uint8_t *f)
{
	uint8_t *q = pkt_icmp_quote_frame(f);

	if (pkt_ip(f)->check != pkt_ip_csum(f) || *pkt_l4_check(f) != pkt_l4_csum(f))
		return false;
	if (pkt_ip(q)->check != pkt_ip_csum(q))
		return false;
	if (!pkt_icmp_quote_whole(f))
		return true;
	if (pkt_ip(q)->protocol == IPPROTO_UDP && *pkt_l4_check(q) == 0)
		return true;
	return *pkt_l4_check(q) == pkt_l4_csum(q);
}

#endif /* SVCBPF_TEST_PKT_H */
