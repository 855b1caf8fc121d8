/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat.bpf.h - write a translation into the packet, with its checksums.
 *
 * Both hooks rewrite the same two fields (the destination for DNAT, the
 * source for the reverse NAT of a reply): the IPv4 address and the TCP/UDP
 * port, plus the IPv4 header checksum and the L4 checksum, which covers the
 * address through the pseudo-header.
 *
 * tc goes through skb helpers: bpf_l4_csum_replace(BPF_F_PSEUDO_HDR) does
 * the right thing for every skb->ip_summed, including CHECKSUM_PARTIAL where
 * the field holds only the pseudo-header seed. XDP writes the bytes itself
 * and must only be used on packets whose checksum is complete (see
 * csum_l4_is_seed()).
 */
#ifndef SVCBPF_NAT_BPF_H
#define SVCBPF_NAT_BPF_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "csum.bpf.h"
#include "lb.bpf.h"
#include "parse.bpf.h"
#include "verdict.bpf.h"

/*
 * tc: rewrite the destination (@dst) or source address and port of @p to
 * @nat. The new bytes go straight through the header pointers the parser
 * checked (the verifier makes a cloned skb private first); the checksum
 * helpers then take the old and new values, never rereading the packet.
 * Returns SVCBPF_CONTINUE, or a drop reason if a helper failed (the packet
 * is then half-written: drop it).
 */
static __always_inline int nat4_rewrite_skb(struct __sk_buff *skb, const struct pkt4 *p, bool dst,
					    const struct nat4 *nat)
{
	__be32 old_addr = dst ? p->daddr : p->saddr;
	__be16 old_port = dst ? p->dport : p->sport;
	/* A UDP checksum of 0 means "none" (RFC 768): keep it 0, never produce it. */
	__u64 l4_flags = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	bool no_l4_csum = p->proto == IPPROTO_UDP && !*p->l4_check;
	__be16 *ports = p->l4;
	__be32 port_from = old_port, port_to = nat->port;

	if (dst) {
		p->ip->daddr = nat->addr;
		ports[1] = nat->port;
	} else {
		p->ip->saddr = nat->addr;
		ports[0] = nat->port;
	}
	if (bpf_l4_csum_replace(skb, p->check_off, old_addr, nat->addr,
				l4_flags | BPF_F_PSEUDO_HDR | sizeof(nat->addr)))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	if (bpf_l4_csum_replace(skb, p->check_off, old_port, nat->port,
				l4_flags | sizeof(nat->port)))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	if (bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check), old_addr, nat->addr,
				sizeof(nat->addr)))
		return VERDICT_DROP(SVCBPF_CNT_DROP_REWRITE);
	/*
	 * A CHECKSUM_COMPLETE skb's sum covers the packet's bytes. The helpers
	 * keep it when a checksum field offsets each change; a UDP datagram
	 * without a checksum has none, so its port's change is added by hand
	 * (the address is offset by the IPv4 header checksum). A no-op for
	 * other skbs. The port sits 16-bit aligned: a 32-bit word holding it
	 * sums the same.
	 */
	if (no_l4_csum)
		bpf_csum_update(skb, bpf_csum_diff(&port_from, sizeof(port_from), &port_to,
						   sizeof(port_to), 0));
	return SVCBPF_CONTINUE;
}

/*
 * XDP: the same rewrite on a packet whose L4 checksum is complete, through
 * the header pointers the parser checked. Always succeeds.
 */
static __always_inline int nat4_rewrite_xdp(const struct pkt4 *p, bool dst, const struct nat4 *nat)
{
	struct iphdr *ip = p->ip;
	__be16 *ports = p->l4;
	__be32 old_addr = dst ? p->daddr : p->saddr;
	__be16 old_port = dst ? p->dport : p->sport;
	__sum16 *check = p->l4_check;

	if (p->proto != IPPROTO_UDP || *check) {
		csum_replace4(check, old_addr, nat->addr);
		csum_replace2(check, old_port, nat->port);
		if (p->proto == IPPROTO_UDP && !*check)
			*check = (__sum16)0xffff;
	}
	csum_replace4(&ip->check, old_addr, nat->addr);
	if (dst) {
		ip->daddr = nat->addr;
		ports[1] = nat->port;
	} else {
		ip->saddr = nat->addr;
		ports[0] = nat->port;
	}
	return SVCBPF_CONTINUE;
}

#endif /* SVCBPF_NAT_BPF_H */
