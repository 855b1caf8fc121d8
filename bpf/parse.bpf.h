/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * parse.bpf.h - bounds-checked IPv4/TCP/UDP header parsing for tc and XDP.
 *
 * Contract: parse_pkt4() is the only place that reads packet bytes. Every
 * header is checked against data_end before it is touched; on success the
 * caller gets offsets (valid across skb helpers that move data) and the
 * 5-tuple, and for XDP the header pointers stay valid until the packet is
 * written. The caller sets p->len (the whole frame's length) first. Anything that is not a clean, unfragmented IPv4 TCP/UDP packet
 * whose headers fit the buffer is reported as a pass reason and must leave
 * the hook untouched.
 */
#ifndef SVCBPF_PARSE_BPF_H
#define SVCBPF_PARSE_BPF_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "svcbpf.h"
#include "verdict.bpf.h"

/* Linear bytes the parser may need: Ethernet, IPv4 with options, TCP. */
#define PARSE_MAX_HDR (sizeof(struct ethhdr) + 60 + sizeof(struct tcphdr))

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

struct pkt4 {
	struct iphdr *ip; /* valid until a helper moves the packet */
	void *l4; /* the TCP/UDP header, same validity */
	__sum16 *l4_check; /* the L4 checksum field, same validity */
	__u32 l3_off; /* IPv4 header, from the start of the frame */
	__u32 l4_off; /* TCP/UDP header */
	__u32 check_off; /* L4 checksum field */
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u16 l4_len; /* IP total length minus IP header, host order */
	__u8 proto;
	__u8 tcp_flags;
	__u32 len; /* frame length, for byte counters */
};

/*
 * Parse the frame in [data, data_end). Returns SVCBPF_CONTINUE with @p
 * filled, SVCBPF_PASS for traffic that is simply not ours (not IPv4, not
 * TCP/UDP), or a pass reason counter (malformed, fragment).
 */
static __always_inline int parse_pkt4(void *data, void *data_end, struct pkt4 *p)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl, tot_len;

	if ((void *)(eth + 1) > data_end)
		return SVCBPF_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return SVCBPF_PASS;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return VERDICT_PASS(SVCBPF_CNT_PASS_MALFORMED);
	if (ip->version != 4)
		return VERDICT_PASS(SVCBPF_CNT_PASS_MALFORMED);
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return SVCBPF_PASS;
	/* Known from here on, for the monitor's events about what is passed. */
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;

	ihl = ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (ihl < sizeof(*ip) || tot_len < ihl)
		return VERDICT_PASS(SVCBPF_CNT_PASS_MALFORMED);
	/* The IP length may be shorter than the frame (Ethernet padding), never longer. */
	if (tot_len > p->len - sizeof(*eth))
		return VERDICT_PASS(SVCBPF_CNT_PASS_MALFORMED);
	/* Only the first fragment has ports, and rewriting it alone would desync the rest. */
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return VERDICT_PASS(SVCBPF_CNT_PASS_FRAGMENT);

	p->ip = ip;
	p->l3_off = sizeof(*eth);
	p->l4_off = sizeof(*eth) + ihl;
	p->l4_len = tot_len - ihl;
	p->tcp_flags = 0;

	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *th = (void *)ip + ihl;

		if ((void *)(th + 1) > data_end || p->l4_len < sizeof(*th))
			return VERDICT_PASS(SVCBPF_CNT_PASS_MALFORMED);
		if (th->doff < 5 || th->doff * 4 > p->l4_len)
			return VERDICT_PASS(SVCBPF_CNT_PASS_MALFORMED);
		p->l4 = th;
		p->sport = th->source;
		p->dport = th->dest;
		p->l4_check = &th->check;
		p->check_off = p->l4_off + offsetof(struct tcphdr, check);
		p->tcp_flags = ((__u8 *)th)[13];
	} else {
		struct udphdr *uh = (void *)ip + ihl;

		if ((void *)(uh + 1) > data_end || p->l4_len < sizeof(*uh))
			return VERDICT_PASS(SVCBPF_CNT_PASS_MALFORMED);
		if (bpf_ntohs(uh->len) < sizeof(*uh) || bpf_ntohs(uh->len) > p->l4_len)
			return VERDICT_PASS(SVCBPF_CNT_PASS_MALFORMED);
		p->l4 = uh;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->l4_check = &uh->check;
		p->check_off = p->l4_off + offsetof(struct udphdr, check);
	}
	return SVCBPF_CONTINUE;
}

#endif /* SVCBPF_PARSE_BPF_H */
