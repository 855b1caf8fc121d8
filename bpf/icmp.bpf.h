/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * icmp.bpf.h - ICMP errors about translated flows, translated too.
 *
 * An ICMP error (destination unreachable, fragmentation needed, time
 * exceeded, parameter problem) quotes the packet it is about: its IPv4
 * header and at least 8 bytes of TCP/UDP header. It travels back the way a
 * reply to that packet would, so it is translated like one: the flow is
 * found by the quoted tuple reversed, with the lookup the hook makes for
 * replies, and then
 *   tc ingress (destination NAT): outer destination and quoted source
 *   tc egress (source NAT): outer source and quoted destination
 * take the addresses (and the quoted port) that entry gives, as Linux's own
 * NAT does (nf_nat_icmp_reply_translation). Without this, a client never
 * learns a path MTU to a service, nor that a port is unreachable behind it.
 *
 * Checksums: the quoted IPv4 header's and the quoted TCP/UDP checksum (when
 * quoted; UDP's 0 stays 0) change with what they cover; the ICMP checksum
 * takes every change to the bytes it covers; the outer IPv4 checksum its
 * address. XDP leaves ICMP to tc.
 */
#ifndef SVCBPF_ICMP_BPF_H
#define SVCBPF_ICMP_BPF_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "csum.bpf.h"
#include "lb.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "reject.bpf.h"
#include "verdict.bpf.h"

#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

/* Linear bytes an ICMP error needs: outer IPv4 (with options), ICMP, quoted IPv4 and TCP. */
#define ICMP_MAX_HDR (sizeof(struct ethhdr) + 60 + 8 + 60 + sizeof(struct tcphdr))

static __always_inline bool icmp4_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB;
}

/*
 * tc: translate the ICMP error in @skb if it is about a tracked flow.
 * @ingress picks the side (see above). Returns SVCBPF_PASS (not one of
 * ours: untouched), SVCBPF_CONTINUE (translated), or a drop reason when a
 * checksum helper failed midway.
 */
static __always_inline int icmp4_xlate_skb(struct __sk_buff *skb, bool ingress)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__be32 old_outer, old_in_addr, new_addr;
	__be16 old_port, new_port, *ports;
	__sum16 *l4_check = NULL, old_l4_check = 0, new_l4_check = 0;
	__sum16 old_in_check, new_in_check;
	struct iphdr *ip, *in;
	struct reject_icmphdr *ic;
	struct ct_value *ct;
	struct ct_key key;
	const struct svcbpf_cfg *cfg = cfg_get();
	__u32 ihl, in_ihl, check_off, tot_len;
	struct ethhdr *eth = data;
	void *l4;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return SVCBPF_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_ICMP || ip->ihl < 5 ||
	    ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return SVCBPF_PASS;
	ihl = ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	/* Never a truncated or padded one: what is quoted must lie inside the IP length. */
	if (tot_len < ihl || tot_len > skb->len - sizeof(struct ethhdr))
		return SVCBPF_PASS;
	ic = (void *)ip + ihl;
	if ((void *)(ic + 1) > data_end || !icmp4_is_error(ic->type))
		return SVCBPF_PASS;
	in = (void *)(ic + 1);
	if ((void *)(in + 1) > data_end || in->version != 4 || in->ihl < 5 ||
	    (in->protocol != IPPROTO_TCP && in->protocol != IPPROTO_UDP) ||
	    in->frag_off & bpf_htons(IP_OFFSET))
		return SVCBPF_PASS;
	/*
	 * An error goes to the quoted packet's sender (Linux's conntrack refuses
	 * others: "outer daddr mismatch").
	 */
	if (ip->daddr != in->saddr)
		return SVCBPF_PASS;
	in_ihl = in->ihl * 4;
	l4 = (void *)in + in_ihl;
	if (l4 + 8 > data_end || l4 + 8 > (void *)ip + tot_len)
		return SVCBPF_PASS;
	ports = l4;

	/* The quoted packet went from S to D: this error goes back like D's reply to S. */
	__builtin_memset(&key, 0, sizeof(key));
	key.saddr = in->daddr;
	key.daddr = in->saddr;
	key.sport = ports[1];
	key.dport = ports[0];
	key.proto = in->protocol;
	key.dir = ingress ? SVCBPF_CT_FWD : SVCBPF_CT_REV;
	ct = bpf_map_lookup_elem(&svcbpf_ct_v3, &key);
	if (!ct || !cfg || ct_expired(ct, cfg, key.proto, bpf_ktime_get_coarse_ns()))
		return SVCBPF_PASS;
	new_addr = ct->addr;
	new_port = ct->port;

	if (in->protocol == IPPROTO_UDP)
		l4_check = l4 + offsetof(struct udphdr, check);
	else if (l4 + sizeof(struct tcphdr) <= data_end &&
		 l4 + sizeof(struct tcphdr) <= (void *)ip + tot_len)
		l4_check = l4 + offsetof(struct tcphdr, check);
	if (l4_check && in->protocol == IPPROTO_UDP && !*l4_check)
		l4_check = NULL; /* no checksum: stays none */

	old_outer = ingress ? ip->daddr : ip->saddr;
	old_in_addr = ingress ? in->saddr : in->daddr;
	old_port = ingress ? ports[0] : ports[1];
	old_in_check = in->check;
	if (ingress) {
		ip->daddr = new_addr;
		in->saddr = new_addr;
		ports[0] = new_port;
	} else {
		ip->saddr = new_addr;
		in->daddr = new_addr;
		ports[1] = new_port;
	}
	csum_replace4(&in->check, old_in_addr, new_addr);
	new_in_check = in->check;
	if (l4_check) {
		old_l4_check = *l4_check;
		csum_replace4(l4_check, old_in_addr, new_addr);
		csum_replace2(l4_check, old_port, new_port);
		if (in->protocol == IPPROTO_UDP && !*l4_check)
			*l4_check = (__sum16)0xffff;
		new_l4_check = *l4_check;
	}

	/* The helpers take old and new values: no packet pointer is used past here. */
	check_off = sizeof(struct ethhdr) + ihl + offsetof(struct reject_icmphdr, checksum);
	if (bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check),
				old_outer, new_addr, sizeof(new_addr)) ||
	    bpf_l4_csum_replace(skb, check_off, old_in_addr, new_addr, sizeof(new_addr)) ||
	    bpf_l4_csum_replace(skb, check_off, old_in_check, new_in_check, sizeof(__sum16)) ||
	    bpf_l4_csum_replace(skb, check_off, old_port, new_port, sizeof(new_port)) ||
	    (old_l4_check != new_l4_check &&
	     bpf_l4_csum_replace(skb, check_off, old_l4_check, new_l4_check, sizeof(__sum16))))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	return SVCBPF_CONTINUE;
}

#endif /* SVCBPF_ICMP_BPF_H */
