/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * reject.bpf.h - answer a packet to a service that has no backend, as
 * kube-proxy's REJECT does: a TCP reset, or an ICMP port unreachable for
 * UDP, so the client fails at once instead of waiting out a timeout. tc only:
 * the reply is built in the request's own skb, which XDP cannot resize.
 *
 * The reply's headers are composed on the stack from the parsed fields and
 * from bytes read with bpf_skb_load_bytes(); the packet is then cut or grown
 * to the reply's length and the headers are stored over its start with
 * bpf_skb_store_bytes(). No packet pointer is used here. The caller sends the
 * result back out the interface it came in on, towards the client.
 *
 * Checksums are summed from scratch with bpf_csum_diff() (small headers of
 * fixed size, in the byte order the packet holds them: the one's complement
 * sum is byte-order neutral). A request from a local stack over a veth can
 * be CHECKSUM_PARTIAL, and the skb stays so: csum_start keeps pointing at the
 * request's L4 header. The reply is laid out so that this stays harmless:
 *   TCP   the reset's header sits where the request's did (IP options are
 *         removed with bpf_skb_adjust_room, which keeps the L4 header in
 *         place), and its checksum goes through bpf_l4_csum_replace(), which
 *         writes the full sum, or only the pseudo-header seed on a
 *         CHECKSUM_PARTIAL skb, so a device that finishes it gets it right;
 *   ICMP  csum_start lands on the ICMP header (a request without IP
 *         options), csum_offset 6 on its zero "unused" bytes: finishing an
 *         already complete ICMP checksum there writes 0 or 0xffff, which
 *         leaves the sum valid.
 * A CHECKSUM_COMPLETE request (a NIC's) keeps skb->csum, the sum of the
 * bytes, right for the reply: see reject4_resync_csum().
 */
#ifndef SVCBPF_REJECT_BPF_H
#define SVCBPF_REJECT_BPF_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "csum.bpf.h"
#include "lb.bpf.h"
#include "parse.bpf.h"
#include "verdict.bpf.h"

#define IP_DF 0x4000
/* ICMP by hand: <linux/icmp.h> pulls in libc's socket headers, which a BPF build lacks. */
#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define REJECT_TTL 64
/* RFC 792: the request's IP header and the first 64 bits of its data. */
#define REJECT_QUOTE_DATA 8
#define REJECT_QUOTE_MAX (60 + REJECT_QUOTE_DATA)

/* An ICMP error message's header (RFC 792): the 4 bytes after the checksum are unused, 0. */
struct reject_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 unused;
};

/*
 * The replies as they will sit in the packet. The two bytes in front put
 * the IP header on a 4-byte boundary (struct ethhdr is 14 bytes, packed);
 * only what follows them is stored.
 */
struct reject_tcp4 {
	__u16 align;
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
};

struct reject_icmp4 {
	__u16 align;
	struct ethhdr eth;
	struct iphdr ip;
	struct reject_icmphdr icmp;
	__u8 quote[REJECT_QUOTE_MAX]; /* the request's IP header and 8 bytes; zero past them */
};

/* The IPv4 pseudo-header the TCP checksum covers (RFC 793). */
struct reject_pseudo4 {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

#define REJECT_TCP4_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))
#define REJECT_ICMP4_HDR_LEN \
	(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct reject_icmphdr))
#define REJECT_TCP4_CHECK_OFF \
	(sizeof(struct ethhdr) + sizeof(struct iphdr) + offsetof(struct tcphdr, check))

/*
 * Layouts, and sums bpf_csum_diff() cannot fail on: all of 4-byte words,
 * at most 512 bytes (the IP and TCP headers are 20, the pseudo-header 12).
 */
_Static_assert(__builtin_offsetof(struct reject_tcp4, ip) == 16, "reject_tcp4: IP header aligned");
_Static_assert(sizeof(struct reject_tcp4) == 2 + REJECT_TCP4_LEN, "reject_tcp4 layout");
_Static_assert(__builtin_offsetof(struct reject_icmp4, ip) == 16,
	       "reject_icmp4: IP header aligned");
_Static_assert(__builtin_offsetof(struct reject_icmp4, quote) == 2 + REJECT_ICMP4_HDR_LEN,
	       "reject_icmp4: the quote follows the ICMP header");
_Static_assert((sizeof(struct reject_icmphdr) + REJECT_QUOTE_MAX) % 4 == 0,
	       "ICMP sum: 4-byte words");
_Static_assert(sizeof(struct reject_pseudo4) == 12, "reject_pseudo4 layout");

/* The checksum field for a bpf_csum_diff() sum (folded and inverted). */
static __always_inline __sum16 reject_csum(__s64 sum)
{
	return (__sum16)~csum_fold32((__u32)sum);
}

/*
 * May a reply go to @addr (network order)? Not to 0.0.0.0, broadcast,
 * multicast or class E: none names a single host (RFC 1122 3.2.2), and a
 * forged one would turn a reject into a flood.
 */
static __always_inline bool reject4_addr_ok(__be32 addr)
{
	__u32 a = bpf_ntohl(addr);

	return a && a < 0xe0000000;
}

/*
 * Is @skb CHECKSUM_COMPLETE, skb->csum the sum of its bytes from the network
 * header on? bpf_csum_update() adds 0 to it, or says -ENOTSUPP for any other
 * skb. Returns the sum, or a negative error.
 */
static __always_inline __s64 reject4_complete_sum(struct __sk_buff *skb)
{
	return bpf_csum_update(skb, 0);
}

/*
 * The stores replaced a CHECKSUM_COMPLETE skb's bytes wholesale without
 * keeping skb->csum (a reply of the request's own length stays COMPLETE;
 * bpf_skb_change_tail() makes any other CHECKSUM_NONE). Make it the sum of
 * the reply's @len bytes at @l3, as they now sit in the packet, so whoever
 * receives the reply (a veth peer) can trust it instead of reporting a
 * hardware checksum failure. Nothing to do for other skbs.
 * @len: a multiple of 4, at most 512 (bpf_csum_diff()).
 */
static __always_inline void reject4_resync_csum(struct __sk_buff *skb, void *l3, __u32 len)
{
	__s64 cur = reject4_complete_sum(skb);
	__u32 have, want;

	if (cur < 0)
		return;
	have = (__u32)cur;
	want = (__u32)bpf_csum_diff(NULL, 0, l3, len, 0);
	/* want - have in one's complement: added to have, it leaves want. */
	bpf_csum_update(skb, (__u32)bpf_csum_diff(&have, sizeof(have), &want, sizeof(want), 0));
}

/* @eth: the request's Ethernet header with the addresses swapped. Returns 0 or an error. */
static __always_inline int reject4_eth(struct __sk_buff *skb, struct ethhdr *eth)
{
	struct ethhdr req;

	if (bpf_skb_load_bytes(skb, 0, &req, sizeof(req)))
		return -1;
	__builtin_memcpy(eth->h_dest, req.h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, req.h_dest, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	return 0;
}

/*
 * @ip: a fresh IPv4 header (no options, no fragments: DF) from @saddr to
 * @daddr carrying @len bytes of @proto, with its checksum. Addresses in
 * network order, @len in host order.
 */
static __always_inline void reject4_ip(struct iphdr *ip, __be32 saddr, __be32 daddr, __u8 proto,
				       __u16 len)
{
	ip->version = 4;
	ip->ihl = sizeof(*ip) / 4;
	ip->tos = 0;
	ip->tot_len = bpf_htons(sizeof(*ip) + len);
	ip->id = 0;
	ip->frag_off = bpf_htons(IP_DF);
	ip->ttl = REJECT_TTL;
	ip->protocol = proto;
	ip->check = 0;
	ip->saddr = saddr;
	ip->daddr = daddr;
	ip->check = reject_csum(bpf_csum_diff(NULL, 0, (void *)ip, sizeof(*ip), 0));
}

/*
 * @th: the reset for the request @req, which carries @payload bytes of
 * data (RFC 793, "Reset Generation"): a request with ACK gets RST with its
 * acknowledgment as the sequence number; one without gets RST|ACK with
 * sequence 0, acknowledging all it occupied (data, SYN and FIN). No window,
 * no options; the checksum is left 0.
 */
static __always_inline void reject4_rst(struct tcphdr *th, const struct tcphdr *req, __u32 payload)
{
	th->source = req->dest;
	th->dest = req->source;
	th->doff = sizeof(*th) / 4;
	th->rst = 1;
	if (req->ack) {
		th->seq = req->ack_seq;
	} else {
		th->ack = 1;
		th->ack_seq = bpf_htonl(bpf_ntohl(req->seq) + payload + req->syn + req->fin);
	}
}

/*
 * tc: turn the TCP request @p into its reset, in place: 54 bytes, Ethernet,
 * IPv4 without options, TCP without options or data. Returns
 * SVCBPF_CONTINUE, or a drop reason: DROP_NO_BACKEND with the packet
 * untouched (a reset is never answered: RFC 793 discards it), DROP_REWRITE
 * once it is half-built.
 */
static __always_inline int reject4_tcp(struct __sk_buff *skb, const struct pkt4 *p)
{
	struct reject_pseudo4 ph = {
		.saddr = p->daddr,
		.daddr = p->saddr,
		.proto = IPPROTO_TCP,
		.len = bpf_htons(sizeof(struct tcphdr)),
	};
	__u32 ip_opts = p->l4_off - p->l3_off - sizeof(struct iphdr);
	struct reject_tcp4 r = {};
	struct tcphdr req;
	__s64 tcp_sum, ph_sum;

	if (p->tcp_flags & TCP_FLAG_RST)
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);
	if (bpf_skb_load_bytes(skb, p->l4_off, &req, sizeof(req)) || reject4_eth(skb, &r.eth))
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);
	reject4_ip(&r.ip, p->daddr, p->saddr, IPPROTO_TCP, sizeof(r.tcp));
	/* The parser checked doff * 4 <= l4_len. */
	reject4_rst(&r.tcp, &req, p->l4_len - req.doff * 4);
	tcp_sum = bpf_csum_diff(NULL, 0, (void *)&r.tcp, sizeof(r.tcp), 0);
	ph_sum = bpf_csum_diff(NULL, 0, (void *)&ph, sizeof(ph), 0);

	/* Cut data and TCP options, then IP options: the TCP header stays where it was. */
	if (bpf_skb_change_tail(skb, p->l4_off + sizeof(struct tcphdr), 0))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	if (ip_opts && bpf_skb_adjust_room(skb, -(__s32)ip_opts, BPF_ADJ_ROOM_NET, 0))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	if (bpf_skb_store_bytes(skb, 0, &r.eth, REJECT_TCP4_LEN, 0))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	/*
	 * The field holds 0; add the header's sum, then the pseudo-header's.
	 * On a CHECKSUM_PARTIAL skb the helper keeps only the latter: the seed.
	 */
	if (bpf_l4_csum_replace(skb, REJECT_TCP4_CHECK_OFF, 0, tcp_sum, 0) ||
	    bpf_l4_csum_replace(skb, REJECT_TCP4_CHECK_OFF, 0, ph_sum, BPF_F_PSEUDO_HDR))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	/* The reset as written, with the checksum the helper put in. */
	if (reject4_complete_sum(skb) >= 0) {
		if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr), &r.ip,
				       sizeof(r.ip) + sizeof(r.tcp)))
			return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
		reject4_resync_csum(skb, &r.ip, sizeof(r.ip) + sizeof(r.tcp));
	}
	return SVCBPF_CONTINUE;
}

/*
 * tc: turn the UDP request @p into an ICMP destination unreachable, port
 * unreachable (type 3, code 3), in place: Ethernet, IPv4 without options,
 * ICMP, then the request's IP header (with its options) and its first 8
 * bytes of data, the UDP header (RFC 792): 70 bytes for a request without
 * IP options, 110 at most. Returns SVCBPF_CONTINUE, or a drop reason:
 * DROP_NO_BACKEND with the packet untouched, DROP_REWRITE once it is
 * half-built.
 */
static __always_inline int reject4_udp(struct __sk_buff *skb, const struct pkt4 *p)
{
	/*
	 * From the header itself, not l4_off - l3_off: with -mcpu=v2's 64-bit
	 * arithmetic clang checks a zero-extended copy of that difference and
	 * passes the unchecked register to the helper, which the verifier
	 * refuses. A 4-bit field is bounded in every register.
	 */
	__u32 ihl = p->ip->ihl * 4;
	struct reject_icmp4 r = {};
	__u32 quote;
	__s64 sum;

	/* For the verifier: the parser took 20 to 60 bytes of IP header. */
	if (ihl > REJECT_QUOTE_MAX - REJECT_QUOTE_DATA)
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);
	quote = ihl + REJECT_QUOTE_DATA;
	if (bpf_skb_load_bytes(skb, p->l3_off, r.quote, quote) || reject4_eth(skb, &r.eth))
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);
	reject4_ip(&r.ip, p->daddr, p->saddr, IPPROTO_ICMP, sizeof(r.icmp) + quote);
	r.icmp.type = ICMP_DEST_UNREACH;
	r.icmp.code = ICMP_PORT_UNREACH;
	/* The quote is zero past @quote bytes: summing all of it adds nothing. */
	sum = bpf_csum_diff(NULL, 0, (void *)&r.icmp, sizeof(r.icmp) + sizeof(r.quote), 0);
	r.icmp.checksum = reject_csum(sum);

	if (bpf_skb_change_tail(skb, REJECT_ICMP4_HDR_LEN + quote, 0))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	if (bpf_skb_store_bytes(skb, 0, &r.eth, REJECT_ICMP4_HDR_LEN + quote, 0))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	/* The quote is zero past @quote bytes: summing all of it adds nothing. */
	reject4_resync_csum(skb, &r.ip, sizeof(r.ip) + sizeof(r.icmp) + sizeof(r.quote));
	return SVCBPF_CONTINUE;
}

/*
 * tc: answer @p, addressed to a service that has no backend for it, in
 * place. Returns SVCBPF_CONTINUE when the packet holds the reply, to be
 * redirected back out the interface it came in on; otherwise a drop reason
 * (see reject4_tcp/reject4_udp). A source that names no single host gets
 * no answer.
 */
static __always_inline int reject4_skb(struct __sk_buff *skb, const struct pkt4 *p)
{
	/* Nor does a frame sent to a link-layer group: its answer would have no sender. */
	if (!reject4_addr_ok(p->saddr) || skb->pkt_type == PACKET_BROADCAST ||
	    skb->pkt_type == PACKET_MULTICAST)
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);
	if (p->proto == IPPROTO_TCP)
		return reject4_tcp(skb, p);
	return reject4_udp(skb, p);
}

#endif /* SVCBPF_REJECT_BPF_H */
