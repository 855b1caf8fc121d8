// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * svcbpf.bpf.c - the entry points. All logic lives in the *.bpf.h helpers;
 * each entry point parses, asks the helpers what to do, writes the packet
 * through its hook's rewrite helper, and turns the result into a counter
 * and a verdict.
 *
 *   svcbpf_tc_ingress   DNAT: ClusterIP:port -> backend, new flows tracked;
 *                       a service with no backend answers with a TCP RST or
 *                       ICMP port unreachable, sent back to the client
 *   svcbpf_tc_egress    reverse NAT: a tracked reply's source -> ClusterIP:port
 *   svcbpf_xdp_ingress  DNAT in XDP for tracked TCP packets with a complete
 *                       checksum; connection starts, UDP, checksum-partial
 *                       packets and those to reject pass to svcbpf_tc_ingress
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "csum.bpf.h"
#include "lb.bpf.h"
#include "maps.bpf.h"
#include "nat.bpf.h"
#include "parse.bpf.h"
#include "reject.bpf.h"
#include "verdict.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Count the reason carried by @ret, if any; true when it means drop. */
static __always_inline bool verdict_account(int ret, __u32 len)
{
	if (verdict_has_reason(ret))
		counter_add(verdict_reason(ret), len);
	return verdict_is_drop(ret);
}

/*
 * The tc verdict for a packet that goes on: TC_ACT_UNSPEC is TCX_NEXT under
 * tcx and "next filter" under clsact, so programs after ours still see the
 * traffic (TC_ACT_OK would end the chain for every packet we pass).
 */
#define TC_PASS TC_ACT_UNSPEC

/* Make linear the first @need bytes (or all of a shorter packet). */
static __always_inline void tc_pull(struct __sk_buff *skb, __u32 need)
{
	if (need > skb->len)
		need = skb->len;
	if ((void *)(long)skb->data + need > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, need);
}

/*
 * Only IPv4 headers are made linear (AF_PACKET senders and GRO give
 * non-linear skbs), and only as far as they go: the IP header (with its
 * options) and the L4 header, never payload. Returns the packet start.
 */
static __always_inline void *tc_pull_headers(struct __sk_buff *skb)
{
	struct iphdr *ip;
	void *data;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		goto out;
	tc_pull(skb, sizeof(struct ethhdr) + sizeof(struct iphdr));
	barrier_var(skb); /* clang must reload data/data_end after the pull */
	data = (void *)(long)skb->data;
	ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > (void *)(long)skb->data_end)
		goto out;
	tc_pull(skb, sizeof(struct ethhdr) + ip->ihl * 4 +
			     (ip->protocol == IPPROTO_UDP ? sizeof(struct udphdr) :
							    sizeof(struct tcphdr)));
out:
	barrier_var(skb);
	return (void *)(long)skb->data;
}

SEC("tc")
int svcbpf_tc_ingress(struct __sk_buff *skb)
{
	struct pkt4 p = { .len = skb->len };
	struct svc_value *svc;
	struct nat4 nat;
	void *data;
	int ret;

	data = tc_pull_headers(skb);
	ret = parse_pkt4(data, (void *)(long)skb->data_end, &p);
	if (ret != SVCBPF_CONTINUE)
		return verdict_account(ret, p.len) ? TC_ACT_SHOT : TC_PASS;

	svc = lb4_lookup_service(&p);
	if (!svc) {
		ct4_forget_stale_reply(&p);
		return TC_PASS;
	}

	ret = lb4_select(&p, svc, &nat);
	if (ret == SVCBPF_REJECT) {
		/* No backend: the client hears so at once, as from kube-proxy's REJECT. */
		ret = reject4_skb(skb, &p);
		if (ret == SVCBPF_CONTINUE) {
			counter_add(SVCBPF_CNT_REJECT, p.len);
			return bpf_redirect(skb->ifindex, 0);
		}
	}
	if (ret == SVCBPF_CONTINUE)
		ret = nat4_rewrite_skb(skb, &p, true, &nat);
	if (ret == SVCBPF_CONTINUE)
		counter_add(nat.event, p.len);
	return verdict_account(ret, p.len) ? TC_ACT_SHOT : TC_PASS;
}

SEC("tc")
int svcbpf_tc_egress(struct __sk_buff *skb)
{
	struct pkt4 p = { .len = skb->len };
	struct nat4 nat;
	void *data;
	int ret;

	data = tc_pull_headers(skb);
	ret = parse_pkt4(data, (void *)(long)skb->data_end, &p);
	if (ret != SVCBPF_CONTINUE)
		return verdict_account(ret, p.len) ? TC_ACT_SHOT : TC_PASS;

	if (!lb4_lookup_reply(&p, &nat))
		return TC_PASS;

	ret = nat4_rewrite_skb(skb, &p, false, &nat);
	if (ret == SVCBPF_CONTINUE)
		counter_add(nat.event, p.len);
	return verdict_account(ret, p.len) ? TC_ACT_SHOT : TC_PASS;
}

SEC("xdp")
int svcbpf_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pkt4 p = { .len = data_end - data };
	struct svc_value *svc;
	struct nat4 nat;
	int ret;

	ret = parse_pkt4(data, data_end, &p);
	if (ret != SVCBPF_CONTINUE)
		return verdict_account(ret, p.len) ? XDP_DROP : XDP_PASS;

	svc = lb4_lookup_service(&p);
	if (!svc)
		return XDP_PASS;

	/*
	 * Possibly CHECKSUM_PARTIAL: only tc can rewrite it correctly. Connection
	 * starts go to tc too, which must see them untranslated to tell a
	 * client's direct connection from a service flow's (ct4_forget_stale_reply).
	 */
	if (pkt4_opens_flow(&p) ||
	    csum_l4_is_seed(p.saddr, p.daddr, p.proto, p.l4_len, *p.l4_check)) {
		counter_add(SVCBPF_CNT_XDP_DEFER, p.len);
		return XDP_PASS;
	}

	ret = lb4_select(&p, svc, &nat);
	if (ret == SVCBPF_REJECT) {
		/* The reply is built by tc, which can resize the packet. */
		counter_add(SVCBPF_CNT_XDP_DEFER, p.len);
		return XDP_PASS;
	}
	if (ret == SVCBPF_CONTINUE)
		ret = nat4_rewrite_xdp(&p, true, &nat);
	if (ret == SVCBPF_CONTINUE)
		counter_add(nat.event, p.len);
	return verdict_account(ret, p.len) ? XDP_DROP : XDP_PASS;
}
