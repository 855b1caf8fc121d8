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
#include "monitor.bpf.h"
#include "nat.bpf.h"
#include "parse.bpf.h"
#include "reject.bpf.h"
#include "verdict.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Count the reason carried by @ret, if any, against the packet @p (to
 * service @svc, or NULL) and tell the monitor; true when it means drop.
 */
static __always_inline bool verdict_account(int ret, const struct pkt4 *p,
					    const struct svc_value *svc, __u8 hook, __u32 ifindex)
{
	if (!verdict_has_reason(ret))
		return false;
	counter_add(verdict_reason(ret), p->len);
	if (verdict_is_drop(ret) && svc)
		lb_stats_drop(svc->id);
	mon_event(verdict_is_drop(ret) ? SVCBPF_EV_DROP : SVCBPF_EV_SKIP, hook, ifindex, p, NULL,
		  verdict_reason(ret));
	return verdict_is_drop(ret);
}

/* Account the translated packet @p to its service and backend, and tell the monitor. */
static __always_inline void nat_account(const struct pkt4 *p, const struct nat4 *nat, __u8 hook,
					__u32 ifindex)
{
	bool reply = nat->event == SVCBPF_CNT_REVNAT;
	bool fresh = nat->event == SVCBPF_CNT_DNAT_NEW;
	__u8 type;

	counter_add(nat->event, p->len);
	lb_stats_add(nat->svc_id, nat->be_id, p->len, reply, fresh);
	if (reply)
		type = nat->first_reply ? SVCBPF_EV_REPLY : SVCBPF_EV_REVNAT;
	else
		type = fresh ? SVCBPF_EV_NEW : SVCBPF_EV_DNAT;
	mon_event(type, hook, ifindex, p, nat, 0);
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
	struct nat4 nat = {};
	void *data;
	int ret;

	counter_add(SVCBPF_CNT_RUN_TC_INGRESS, p.len);
	data = tc_pull_headers(skb);
	ret = parse_pkt4(data, (void *)(long)skb->data_end, &p);
	if (ret != SVCBPF_CONTINUE)
		return verdict_account(ret, &p, NULL, SVCBPF_HOOK_TC_INGRESS, skb->ifindex) ?
			       TC_ACT_SHOT :
			       TC_PASS;

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
			lb_stats_drop(svc->id);
			nat.svc_id = svc->id;
			mon_event(SVCBPF_EV_REJECT, SVCBPF_HOOK_TC_INGRESS, skb->ifindex, &p, &nat,
				  SVCBPF_CNT_REJECT);
			return bpf_redirect(skb->ifindex, 0);
		}
	}
	if (ret == SVCBPF_CONTINUE)
		ret = nat4_rewrite_skb(skb, &p, true, &nat);
	if (ret == SVCBPF_CONTINUE)
		nat_account(&p, &nat, SVCBPF_HOOK_TC_INGRESS, skb->ifindex);
	return verdict_account(ret, &p, svc, SVCBPF_HOOK_TC_INGRESS, skb->ifindex) ? TC_ACT_SHOT :
										     TC_PASS;
}

SEC("tc")
int svcbpf_tc_egress(struct __sk_buff *skb)
{
	struct pkt4 p = { .len = skb->len };
	struct nat4 nat = {};
	void *data;
	int ret;

	counter_add(SVCBPF_CNT_RUN_TC_EGRESS, p.len);
	data = tc_pull_headers(skb);
	ret = parse_pkt4(data, (void *)(long)skb->data_end, &p);
	if (ret != SVCBPF_CONTINUE)
		return verdict_account(ret, &p, NULL, SVCBPF_HOOK_TC_EGRESS, skb->ifindex) ?
			       TC_ACT_SHOT :
			       TC_PASS;

	if (!lb4_lookup_reply(&p, &nat))
		return TC_PASS;

	ret = nat4_rewrite_skb(skb, &p, false, &nat);
	if (ret == SVCBPF_CONTINUE)
		nat_account(&p, &nat, SVCBPF_HOOK_TC_EGRESS, skb->ifindex);
	return verdict_account(ret, &p, NULL, SVCBPF_HOOK_TC_EGRESS, skb->ifindex) ? TC_ACT_SHOT :
										     TC_PASS;
}

SEC("xdp")
int svcbpf_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pkt4 p = { .len = data_end - data };
	struct svc_value *svc;
	struct nat4 nat = {};
	int ret;

	counter_add(SVCBPF_CNT_RUN_XDP, p.len);
	ret = parse_pkt4(data, data_end, &p);
	if (ret != SVCBPF_CONTINUE)
		return verdict_account(ret, &p, NULL, SVCBPF_HOOK_XDP, ctx->ingress_ifindex) ?
			       XDP_DROP :
			       XDP_PASS;

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
		nat_account(&p, &nat, SVCBPF_HOOK_XDP, ctx->ingress_ifindex);
	return verdict_account(ret, &p, svc, SVCBPF_HOOK_XDP, ctx->ingress_ifindex) ? XDP_DROP :
										      XDP_PASS;
}
