// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * svcbpf.bpf.c - the entry points. All logic lives in the *.bpf.h helpers;
 * each entry point parses, asks the helpers what to do, writes the packet
 * through its hook's rewrite helper, and turns the result into a counter
 * and a verdict.
 *
 *   svcbpf_tc_ingress   DNAT: service frontend -> backend, new flows tracked
 *                       (and masqueraded where the frontend asks); a service
 *                       with no backend answers with a TCP RST or ICMP port
 *                       unreachable; a backend's reply to a masqueraded
 *                       client goes back to that client
 *   svcbpf_tc_egress    reverse NAT: a tracked reply's source -> the service;
 *                       a masqueraded client's source -> the node's address
 *   svcbpf_xdp_ingress  DNAT in XDP: tracked TCP packets, and every packet to
 *                       a NodePort, external or LoadBalancer IP, when its
 *                       checksum is complete; the rest pass to tc
 * Both tc programs also translate ICMP errors about translated flows.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "csum.bpf.h"
#include "icmp.bpf.h"
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
 * options) and the L4 header, or for ICMP the error's quote, never payload.
 * Returns the packet start.
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
	if (ip->protocol == IPPROTO_ICMP)
		tc_pull(skb, ICMP_MAX_HDR);
	else
		tc_pull(skb, sizeof(struct ethhdr) + ip->ihl * 4 +
				     (ip->protocol == IPPROTO_UDP ? sizeof(struct udphdr) :
								    sizeof(struct tcphdr)));
out:
	barrier_var(skb);
	return (void *)(long)skb->data;
}

/*
 * XDP marks the packets it translated that tc must not look at again (a
 * translated connection start would look like a client's direct
 * connection to the backend): a word of metadata in front of the frame.
 */
#define XDP_MARK_TRANSLATED 0x5ec0b9f1u

static __always_inline bool tc_xdp_translated(struct __sk_buff *skb)
{
	__u32 *meta = (void *)(long)skb->data_meta;

	return (void *)(meta + 1) <= (void *)(long)skb->data && *meta == XDP_MARK_TRANSLATED;
}

/* Make room for the mark, cleared; false when the driver gives no room for metadata. */
static __always_inline bool xdp_mark_reserve(struct xdp_md *ctx)
{
	__u32 *meta;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return false;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		return false;
	*meta = 0;
	return true;
}

static __always_inline void xdp_mark_translated(struct xdp_md *ctx)
{
	__u32 *meta = (void *)(long)ctx->data_meta;

	if ((void *)(meta + 1) <= (void *)(long)ctx->data)
		*meta = XDP_MARK_TRANSLATED;
}

/* An ICMP error (not TCP/UDP, so the parser passed it): translated if it is about a flow of ours. */
static __always_inline int tc_icmp(struct __sk_buff *skb, struct pkt4 *p, bool ingress, __u8 hook)
{
	int ret = icmp4_xlate_skb(skb, ingress);

	if (ret == SVCBPF_CONTINUE)
		counter_add(SVCBPF_CNT_ICMP_XLATE, p->len);
	return verdict_account(ret, p, NULL, hook, skb->ifindex) ? TC_ACT_SHOT : TC_PASS;
}

SEC("tc")
int svcbpf_tc_ingress(struct __sk_buff *skb)
{
	struct lb_ctx lc = { .ctx = skb, .ifindex = skb->ifindex };
	struct pkt4 p = { .len = skb->len };
	struct svc_value *svc;
	struct nat4 nat = {};
	void *data;
	int ret;

	counter_add(SVCBPF_CNT_RUN_TC_INGRESS, p.len);
	if (tc_xdp_translated(skb))
		return TC_PASS;
	data = tc_pull_headers(skb);
	ret = parse_pkt4(data, (void *)(long)skb->data_end, &p);
	if (ret == SVCBPF_PASS)
		return tc_icmp(skb, &p, true, SVCBPF_HOOK_TC_INGRESS);
	if (ret != SVCBPF_CONTINUE)
		return verdict_account(ret, &p, NULL, SVCBPF_HOOK_TC_INGRESS, skb->ifindex) ?
			       TC_ACT_SHOT :
			       TC_PASS;

	svc = lb4_lookup_service(&p);
	if (!svc) {
		/* A backend's reply to a masqueraded client: back to the client, before routing. */
		if (lb4_lookup_unsnat(&p, &nat)) {
			ret = nat4_rewrite_skb(skb, &p, true, &nat);
			if (ret == SVCBPF_CONTINUE)
				counter_add(SVCBPF_CNT_UNSNAT, p.len);
			return verdict_account(ret, &p, NULL, SVCBPF_HOOK_TC_INGRESS,
					       skb->ifindex) ?
				       TC_ACT_SHOT :
				       TC_PASS;
		}
		ct4_forget_stale_reply(&p);
		return TC_PASS;
	}

	ret = lb4_frontend(&p, svc, &lc, &nat);
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
	if (ret == SVCBPF_PASS)
		return tc_icmp(skb, &p, false, SVCBPF_HOOK_TC_EGRESS);
	if (ret != SVCBPF_CONTINUE)
		return verdict_account(ret, &p, NULL, SVCBPF_HOOK_TC_EGRESS, skb->ifindex) ?
			       TC_ACT_SHOT :
			       TC_PASS;

	if (!lb4_lookup_reply(&p, &nat))
		return TC_PASS;

	ret = nat4_rewrite_skb(skb, &p, false, &nat);
	if (ret == SVCBPF_CONTINUE) {
		/* A masqueraded client's packet: counted as the service's when it came in. */
		if (nat.event == SVCBPF_CNT_SNAT)
			counter_add(SVCBPF_CNT_SNAT, p.len);
		else
			nat_account(&p, &nat, SVCBPF_HOOK_TC_EGRESS, skb->ifindex);
	}
	return verdict_account(ret, &p, NULL, SVCBPF_HOOK_TC_EGRESS, skb->ifindex) ? TC_ACT_SHOT :
										     TC_PASS;
}

SEC("xdp")
int svcbpf_xdp_ingress(struct xdp_md *ctx)
{
	struct lb_ctx lc = { .ctx = ctx, .ifindex = ctx->ingress_ifindex };
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pkt4 p = { .len = data_end - data };
	bool mark = false;
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
	 * Possibly CHECKSUM_PARTIAL: only tc can rewrite it correctly. A
	 * connection start to a ClusterIP goes to tc too, which must see it
	 * untranslated to tell a client's direct connection from a service
	 * flow's (ct4_forget_stale_reply). One from outside the node (NodePort,
	 * external and LoadBalancer IPs) is translated here, and marked so tc
	 * leaves it alone; the parse is redone past the metadata move.
	 */
	if (csum_l4_is_seed(p.saddr, p.daddr, p.proto, p.l4_len, *p.l4_check))
		goto defer;
	if (pkt4_opens_flow(&p)) {
		if (!(svc->flags & SVCBPF_SVC_EXTERNAL) || !xdp_mark_reserve(ctx))
			goto defer;
		mark = true;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (parse_pkt4(data, data_end, &p) != SVCBPF_CONTINUE)
			goto defer;
	}

	ret = lb4_frontend(&p, svc, &lc, &nat);
	/* The reply is built by tc, which can resize the packet. */
	if (ret == SVCBPF_REJECT)
		goto defer;
	if (ret == SVCBPF_CONTINUE)
		ret = nat4_rewrite_xdp(&p, true, &nat);
	if (ret == SVCBPF_CONTINUE) {
		nat_account(&p, &nat, SVCBPF_HOOK_XDP, ctx->ingress_ifindex);
		if (mark)
			xdp_mark_translated(ctx);
	}
	return verdict_account(ret, &p, svc, SVCBPF_HOOK_XDP, ctx->ingress_ifindex) ? XDP_DROP :
										      XDP_PASS;
defer:
	counter_add(SVCBPF_CNT_XDP_DEFER, p.len);
	return XDP_PASS;
}
