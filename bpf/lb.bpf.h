/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lb.bpf.h - service lookup, backend selection and connection tracking.
 *
 * A new flow to a service takes its client's affinity backend (services
 * with client-IP affinity) or the backend in slot hash(flow) % M of the
 * service's Maglev table. Two conntrack entries pin it: FWD (client ->
 * service, gives the backend) and REV (backend -> client, gives the service
 * address for the reply). A tracked flow keeps its backend for as long as
 * that backend exists unchanged, whatever else happens to the service's
 * backend set; entries expire after their state's timeout without traffic.
 *
 * Frontends from outside the node (NodePort, external and LoadBalancer IPs)
 * may masquerade the client (externalTrafficPolicy Cluster, and hairpin: a
 * pod sent to itself): the flow gets two more entries (see struct
 * ct_value), made here with a node address and a port no other flow to that
 * backend uses. The destination is rewritten at ingress as for any service;
 * the source leaves as the node's when the packet leaves for the backend
 * (tc egress), and the backend's replies, addressed to the node, are turned
 * back to the client as they come in (tc ingress), before routing.
 */
#ifndef SVCBPF_LB_BPF_H
#define SVCBPF_LB_BPF_H

#include <stdbool.h>

#include "maps.bpf.h"
#include "parse.bpf.h"
#include "verdict.bpf.h"

#define CT_REFRESH_NS 1000000000ULL
#define NS_PER_SEC 1000000000ULL

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/* The address a packet is translated to, the counter that says why, and whose traffic it is. */
struct nat4 {
	__be32 addr;
	__be16 port;
	__u16 event; /* enum svcbpf_counter */
	__u32 svc_id;
	__u32 be_id;
	bool first_reply; /* REVNAT: the flow's first reply */
};

/* What a new flow's masquerade needs from its hook: where it came in, and the context for FIB lookups. */
struct lb_ctx {
	void *ctx; /* struct __sk_buff or struct xdp_md */
	__u32 ifindex;
};

/* The settings `svcbpf load` wrote (always there: an array's one entry). */
static __always_inline const struct svcbpf_cfg *cfg_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&svcbpf_cfg_v1, &zero);
}

static __always_inline bool port_in(__be16 port, __u16 min, __u16 max)
{
	__u16 p = bpf_ntohs(port);

	return p >= min && p <= max;
}

/*
 * The service frontend @p is addressed to, or NULL when it is not for a
 * service: its exact address (ClusterIP, external or LoadBalancer IP), else
 * a NodePort on any of the node's addresses.
 */
static __always_inline struct svc_value *lb4_lookup_service(const struct pkt4 *p)
{
	struct svc_key key = {
		.vip = p->daddr,
		.port = p->dport,
		.proto = p->proto,
	};
	struct svc_value *svc;

	/* 0.0.0.0 is no node address: only the NodePort's own key. */
	if (!p->daddr)
		return NULL;
	svc = bpf_map_lookup_elem(&svcbpf_svc_v2, &key);
	if (svc || !port_in(p->dport, SVCBPF_NODEPORT_MIN, SVCBPF_NODEPORT_MAX))
		return svc;
	if (!bpf_map_lookup_elem(&svcbpf_nip_v1, &p->daddr))
		return NULL;
	key.vip = 0;
	return bpf_map_lookup_elem(&svcbpf_svc_v2, &key);
}

/* May @p's client use @svc? Only the clients in its loadBalancerSourceRanges, when it has them. */
static __always_inline bool lb4_source_allowed(const struct pkt4 *p, const struct svc_value *svc)
{
	struct src_key key = { .prefixlen = 64, .svc_id = svc->id, .addr = p->saddr };

	return !(svc->flags & SVCBPF_SVC_SRC_RANGES) || bpf_map_lookup_elem(&svcbpf_src_v1, &key);
}

/* Does @p open a connection: a TCP SYN without ACK, or a UDP datagram? */
static __always_inline bool pkt4_opens_flow(const struct pkt4 *p)
{
	return p->proto == IPPROTO_UDP ||
	       (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

/* Conntrack key of @p as seen at the hook, tagged with @dir. */
static __always_inline void ct4_key(struct ct_key *key, const struct pkt4 *p, __u8 dir)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->saddr = p->saddr;
	key->daddr = p->daddr;
	key->sport = p->sport;
	key->dport = p->dport;
	key->proto = p->proto;
	key->dir = dir;
}

/* Conntrack key of the reply to @p that comes from @addr:@port (network order). */
static __always_inline void ct4_reply_key(struct ct_key *key, const struct pkt4 *p, __be32 addr,
					  __be16 port)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->saddr = addr;
	key->daddr = p->saddr;
	key->sport = port;
	key->dport = p->sport;
	key->proto = p->proto;
	key->dir = SVCBPF_CT_REV;
}

/* How long @ct lives without traffic, by protocol and state. */
static __always_inline __u64 ct_timeout_ns(const struct svcbpf_cfg *cfg, __u8 proto, __u8 state)
{
	__u32 s;

	if (proto == IPPROTO_UDP)
		s = cfg->ct_timeout_udp;
	else if (state == SVCBPF_CT_NEW)
		s = cfg->ct_timeout_syn;
	else if (state == SVCBPF_CT_ESTABLISHED)
		s = cfg->ct_timeout_tcp;
	else
		s = cfg->ct_timeout_fin;
	return (__u64)s * NS_PER_SEC;
}

/*
 * How long ago @then was. Signed: another CPU may have stamped an entry
 * with a later tick than the @now this packet read.
 */
static __always_inline __s64 age_ns(__u64 now, __u64 then)
{
	return (__s64)(now - then);
}

static __always_inline bool ct_expired(const struct ct_value *ct, const struct svcbpf_cfg *cfg,
				       __u8 proto, __u64 now)
{
	return age_ns(now, ct->last_seen) > (__s64)ct_timeout_ns(cfg, proto, ct->state);
}

/* The state an entry moves to on @p: RST closes, FIN starts closing, a non-SYN establishes. */
static __always_inline __u8 ct_next_state(__u8 state, const struct pkt4 *p)
{
	if (p->proto != IPPROTO_TCP)
		return SVCBPF_CT_ESTABLISHED;
	if (p->tcp_flags & TCP_FLAG_RST)
		return SVCBPF_CT_CLOSED;
	if ((p->tcp_flags & TCP_FLAG_FIN) && state < SVCBPF_CT_CLOSING)
		return SVCBPF_CT_CLOSING;
	if (!(p->tcp_flags & TCP_FLAG_SYN) && state == SVCBPF_CT_NEW)
		return SVCBPF_CT_ESTABLISHED;
	return state;
}

/*
 * The other direction's entry at @key: refreshed with this one (a flow is
 * alive while either side talks), and moved to at least @state when this
 * side saw a FIN or RST (its shorter timeout counts from now).
 */
static __always_inline void ct4_peer_update(const struct ct_key *key, __u8 state, __u64 now)
{
	struct ct_value *ct = bpf_map_lookup_elem(&svcbpf_ct_v3, key);

	if (!ct)
		return;
	if (ct->state < state)
		ct->state = state;
	ct->last_seen = now;
}

/* Re-create at @key the reply direction of the forward entry @fwd of @p. */
static __always_inline void ct4_reply_restore(const struct ct_key *key, const struct ct_value *fwd,
					      const struct pkt4 *p, __u64 now)
{
	struct ct_value val = {
		.addr = p->daddr,
		.port = p->dport,
		.state = fwd->state,
		.backend_id = fwd->backend_id,
		.svc_id = fwd->svc_id,
		.last_seen = now,
	};

	bpf_map_update_elem(&svcbpf_ct_v3, key, &val, BPF_NOEXIST);
}

/*
 * Account @p to @ct: its state, and last_seen at most once a second (no
 * cache-line write per packet). Returns true when last_seen moved.
 */
static __always_inline bool ct4_update(struct ct_value *ct, const struct pkt4 *p, __u64 now)
{
	__u8 state = ct_next_state(ct->state, p);

	if (state != ct->state)
		ct->state = state;
	if (age_ns(now, ct->last_seen) <= (__s64)CT_REFRESH_NS)
		return false;
	ct->last_seen = now;
	return true;
}

/* Keep @client's affinity to @svc alive while its flows carry traffic. */
static __always_inline void aff4_touch(__be32 client, const struct svc_value *svc, __u32 be_id,
				       __u64 now)
{
	struct aff_key key = { .client = client, .svc_id = svc->id };
	struct aff_value *a;

	if (!(svc->flags & SVCBPF_SVC_AFFINITY))
		return;
	a = bpf_map_lookup_elem(&svcbpf_aff_v1, &key);
	if (a && a->backend_id == be_id)
		a->last_seen = now;
}

/*
 * The masquerade entries of the flow @p, pinned by @fwd (SVCBPF_CT_F_MASQ):
 * REV (client -> backend): source -> node address, and FWD (backend ->
 * node address): destination -> client.
 */
static __always_inline void snat4_keys(struct ct_key *out, struct ct_key *in, const struct pkt4 *p,
				       __be32 be_addr, __be16 be_port, __be32 n_addr, __be16 n_port)
{
	__builtin_memset(out, 0, sizeof(*out));
	out->saddr = p->saddr;
	out->daddr = be_addr;
	out->sport = p->sport;
	out->dport = be_port;
	out->proto = p->proto;
	out->dir = SVCBPF_CT_REV;
	__builtin_memset(in, 0, sizeof(*in));
	in->saddr = be_addr;
	in->daddr = n_addr;
	in->sport = be_port;
	in->dport = n_port;
	in->proto = p->proto;
	in->dir = SVCBPF_CT_FWD;
}

/*
 * Should the LRU have evicted a masqueraded flow's entries, put them back,
 * so its packets keep leaving as the node's (the backend knows no other
 * client) and its replies keep coming back. The incoming one only if its
 * port is still free.
 */
static __always_inline void snat4_restore(const struct pkt4 *p, const struct ct_value *fwd,
					  __u64 now)
{
	struct ct_key out, in;
	struct ct_value val = {
		.addr = fwd->nat_addr,
		.port = fwd->nat_port,
		.state = fwd->state,
		.flags = SVCBPF_CT_F_SNAT,
		.backend_id = fwd->backend_id,
		.svc_id = fwd->svc_id,
		.last_seen = now,
	};

	snat4_keys(&out, &in, p, fwd->addr, fwd->port, fwd->nat_addr, fwd->nat_port);
	if (!bpf_map_lookup_elem(&svcbpf_ct_v3, &out))
		bpf_map_update_elem(&svcbpf_ct_v3, &out, &val, BPF_NOEXIST);
	if (bpf_map_lookup_elem(&svcbpf_ct_v3, &in))
		return;
	val.addr = p->saddr;
	val.port = p->sport;
	bpf_map_update_elem(&svcbpf_ct_v3, &in, &val, BPF_NOEXIST);
}

/*
 * The node address a client is masqueraded as toward backend @be: that of
 * the interface the FIB sends the flow out of (as MASQUERADE picks it),
 * else that of the interface it came in on; 0 when neither is known.
 */
static __always_inline __be32 snat4_addr(const struct lb_ctx *lc, const struct pkt4 *p, __be32 be)
{
	struct bpf_fib_lookup fib = {
		.family = 2, /* AF_INET */
		.l4_protocol = p->proto,
		.ipv4_src = p->saddr,
		.ipv4_dst = be,
		.ifindex = lc->ifindex,
	};
	__be32 *addr = NULL;
	long rc = bpf_fib_lookup(lc->ctx, &fib, sizeof(fib), 0);

	if (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		addr = bpf_map_lookup_elem(&svcbpf_ifa_v1, &fib.ifindex);
	if (!addr)
		addr = bpf_map_lookup_elem(&svcbpf_ifa_v1, &lc->ifindex);
	return addr ? *addr : 0;
}

/*
 * Claim a masquerade port for the incoming entry @in (its dport is the
 * port) with value @val: the client's own port @sport when it is in the
 * range, then a random start in the range and the next ports,
 * SVCBPF_SNAT_TRIES in all. BPF_NOEXIST makes the claim atomic, so no two
 * flows to one backend ever share node address and port; an entry whose
 * flow expired or was reset is taken over. Returns 0 or -1 (none free).
 */
static __always_inline int snat4_claim(struct ct_key *in, const struct ct_value *val, __be16 sport,
				       const struct svcbpf_cfg *cfg, __u64 now)
{
	__u32 range = SVCBPF_SNAT_PORT_MAX - SVCBPF_SNAT_PORT_MIN + 1;
	__u32 start = bpf_get_prandom_u32() % range;

	for (__u32 i = 0; i < SVCBPF_SNAT_TRIES; i++) {
		struct ct_value *old;

		in->dport = bpf_htons(SVCBPF_SNAT_PORT_MIN + (start + i) % range);
		if (!i && port_in(sport, SVCBPF_SNAT_PORT_MIN, SVCBPF_SNAT_PORT_MAX))
			in->dport = sport;
		if (!bpf_map_update_elem(&svcbpf_ct_v3, in, val, BPF_NOEXIST))
			return 0;
		old = bpf_map_lookup_elem(&svcbpf_ct_v3, in);
		if (old &&
		    (ct_expired(old, cfg, in->proto, now) || old->state == SVCBPF_CT_CLOSED) &&
		    !bpf_map_update_elem(&svcbpf_ct_v3, in, val, BPF_EXIST))
			return 0;
	}
	return -1;
}

/*
 * The backend of the tracked flow @p, if there is one, it has not expired
 * or closed before this new connection, and its backend still exists with
 * the address the flow was pinned to. Returns true with @nat filled.
 */
static __always_inline bool ct4_lookup_fwd(const struct pkt4 *p, const struct svc_value *svc,
					   const struct svcbpf_cfg *cfg, struct nat4 *nat,
					   __u64 now)
{
	struct backend_value *be;
	struct ct_value *ct;
	struct ct_key key;
	bool refreshed;
	__u8 state;

	ct4_key(&key, p, SVCBPF_CT_FWD);
	ct = bpf_map_lookup_elem(&svcbpf_ct_v3, &key);
	if (!ct || (ct->flags & SVCBPF_CT_F_SNAT) || ct_expired(ct, cfg, p->proto, now))
		return false;
	/* A SYN on a closed tuple is a new connection (the client reused its port). */
	if (p->proto == IPPROTO_TCP && pkt4_opens_flow(p) && ct->state >= SVCBPF_CT_CLOSING)
		return false;
	be = bpf_map_lookup_elem(&svcbpf_be_v1, &ct->backend_id);
	if (!be || be->ip != ct->addr || be->port != ct->port)
		return false;
	state = ct->state;
	refreshed = ct4_update(ct, p, now);
	if (refreshed)
		aff4_touch(p->saddr, svc, ct->backend_id, now);
	/*
	 * The reply direction lives with this one, and closes when the client
	 * does. The LRU evicts entries one by one: should it have taken the
	 * reply direction alone, the backend's next reply would reach the
	 * client untranslated and reset the connection, so it is put back. Not
	 * for a closing flow: its reply entry may have been deleted because the
	 * client opened a direct connection to the backend from the same port
	 * (ct4_forget_stale_reply), which a late packet must not take over.
	 */
	ct4_reply_key(&key, p, ct->addr, ct->port);
	if (!bpf_map_lookup_elem(&svcbpf_ct_v3, &key)) {
		if (ct->state < SVCBPF_CT_CLOSING)
			ct4_reply_restore(&key, ct, p, now);
	} else if (refreshed || (ct->state != state && ct->state >= SVCBPF_CT_CLOSING))
		ct4_peer_update(&key, ct->state >= SVCBPF_CT_CLOSING ? ct->state : 0, now);
	if (ct->flags & SVCBPF_CT_F_MASQ)
		snat4_restore(p, ct, now);
	nat->addr = ct->addr;
	nat->port = ct->port;
	nat->svc_id = ct->svc_id;
	nat->be_id = ct->backend_id;
	return true;
}

/*
 * Record the new flow @p -> backend @be_id at @nat, both directions, and
 * with @masq (a node address, 0: none) its masquerade. Returns
 * SVCBPF_CONTINUE, or a drop reason when no masquerade port is free.
 */
static __always_inline int ct4_create(const struct pkt4 *p, const struct svc_value *svc,
				      __u32 be_id, const struct nat4 *nat, __be32 masq,
				      const struct svcbpf_cfg *cfg, __u64 now)
{
	struct ct_value val = {
		.addr = nat->addr,
		.port = nat->port,
		/*
		 * A TCP flow first seen mid-stream (its entry expired or was evicted)
		 * is established, or closing if that packet closes it. UDP has no
		 * handshake: established from the first datagram.
		 */
		.state = p->proto == IPPROTO_TCP && pkt4_opens_flow(p) ?
				 SVCBPF_CT_NEW :
				 ct_next_state(SVCBPF_CT_ESTABLISHED, p),
		.backend_id = be_id,
		.svc_id = svc->id,
		.last_seen = now,
	};
	struct ct_key key, out;

	if (masq) {
		/* The incoming entry first: claiming it allocates the port. */
		snat4_keys(&out, &key, p, nat->addr, nat->port, masq, 0);
		val.addr = p->saddr;
		val.port = p->sport;
		val.flags = SVCBPF_CT_F_SNAT;
		if (snat4_claim(&key, &val, p->sport, cfg, now))
			return VERDICT_DROP(SVCBPF_CNT_DROP_SNAT);
		val.addr = masq;
		val.port = key.dport;
		if (bpf_map_update_elem(&svcbpf_ct_v3, &out, &val, BPF_ANY))
			counter_add(SVCBPF_CNT_CT_FULL, p->len);
		val.nat_addr = masq;
		val.nat_port = key.dport;
		val.flags = SVCBPF_CT_F_MASQ;
	}
	val.addr = nat->addr;
	val.port = nat->port;
	ct4_key(&key, p, SVCBPF_CT_FWD);
	if (bpf_map_update_elem(&svcbpf_ct_v3, &key, &val, BPF_ANY))
		counter_add(SVCBPF_CNT_CT_FULL, p->len);

	/* The reply comes from the backend to the client. */
	ct4_reply_key(&key, p, nat->addr, nat->port);
	val.addr = p->daddr;
	val.port = p->dport;
	val.flags = 0;
	val.nat_addr = 0;
	val.nat_port = 0;
	if (bpf_map_update_elem(&svcbpf_ct_v3, &key, &val, BPF_ANY))
		counter_add(SVCBPF_CNT_CT_FULL, p->len);
	return SVCBPF_CONTINUE;
}

/* May a new flow take @be? Draining and weight-0 backends take none. */
static __always_inline bool be_takes_new_flows(const struct backend_value *be)
{
	return be->state == SVCBPF_BE_ACTIVE && be->weight;
}

/* @p's client's affinity backend for @svc, if it has one that is still live. */
static __always_inline struct backend_value *
aff4_lookup(const struct pkt4 *p, const struct svc_value *svc, __u64 now, __u32 *be_id)
{
	struct aff_key key = { .client = p->saddr, .svc_id = svc->id };
	struct backend_value *be;
	struct aff_value *a;

	a = bpf_map_lookup_elem(&svcbpf_aff_v1, &key);
	if (!a || age_ns(now, a->last_seen) > (__s64)svc->affinity_timeout * (__s64)NS_PER_SEC)
		return NULL;
	be = bpf_map_lookup_elem(&svcbpf_be_v1, &a->backend_id);
	if (!be || !be_takes_new_flows(be))
		return NULL;
	*be_id = a->backend_id;
	return be;
}

static __always_inline void aff4_record(const struct pkt4 *p, const struct svc_value *svc,
					__u32 be_id, __u64 now)
{
	struct aff_key key = { .client = p->saddr, .svc_id = svc->id };
	struct aff_value val = { .backend_id = be_id, .last_seen = now };

	bpf_map_update_elem(&svcbpf_aff_v1, &key, &val, BPF_ANY);
}

/* The backend in slot hash(@p) % M of @svc's Maglev table, or NULL. */
static __always_inline struct backend_value *maglev4_pick(const struct pkt4 *p,
							  const struct svc_value *svc, __u32 *be_id)
{
	__u32 zero = 0, slot, id;
	__u32 *slots;
	void *table;

	table = bpf_map_lookup_elem(&svcbpf_mag_v1, &svc->id);
	if (!table)
		return NULL;
	slots = bpf_map_lookup_elem(table, &zero);
	if (!slots)
		return NULL;
	slot = svcbpf_flow_hash(p->saddr, p->daddr, p->sport, p->dport, p->proto) % maglev_m;
	if (slot >= maglev_m) /* for the verifier: the table holds maglev_m slots */
		return NULL;
	id = slots[slot];
	*be_id = id;
	return bpf_map_lookup_elem(&svcbpf_be_v1, &id);
}

/*
 * Pick the backend for @p, addressed to @svc: the tracked one, else the
 * client's affinity backend, else the Maglev choice. Returns SVCBPF_CONTINUE
 * with @nat filled, SVCBPF_REJECT when the service has no backend for it
 * (no Maglev table: every backend gone, draining or at weight 0), or a drop
 * reason.
 */
static __always_inline int lb4_select(const struct pkt4 *p, const struct svc_value *svc,
				      const struct lb_ctx *lc, struct nat4 *nat)
{
	const struct svcbpf_cfg *cfg = cfg_get();
	__u64 now = bpf_ktime_get_coarse_ns();
	struct backend_value *be = NULL;
	bool affinity = svc->flags & SVCBPF_SVC_AFFINITY;
	__u32 be_id = 0;
	__be32 masq = 0;

	if (!cfg)
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);
	if (ct4_lookup_fwd(p, svc, cfg, nat, now)) {
		nat->event = SVCBPF_CNT_DNAT_EST;
		return SVCBPF_CONTINUE;
	}
	if (affinity)
		be = aff4_lookup(p, svc, now, &be_id);
	if (!be)
		be = maglev4_pick(p, svc, &be_id);
	/*
	 * A table read just before a switch may name a backend freed just after
	 * it: the second read finds the new table.
	 */
	if (!be)
		be = maglev4_pick(p, svc, &be_id);
	/*
	 * No table: the service has no backend taking new flows, and the client
	 * is told so. A table naming a backend that is gone is a moment of
	 * inconsistency (a failed reconcile before `sync`): drop, let it retry.
	 */
	if (!be)
		return bpf_map_lookup_elem(&svcbpf_mag_v1, &svc->id) ?
			       VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND) :
			       SVCBPF_REJECT;
	/*
	 * Masquerade the client when the frontend asks (externalTrafficPolicy
	 * Cluster: the reply must come back through this node), and when a
	 * client is sent to itself (hairpin: it would drop a packet from its
	 * own address).
	 */
	if ((svc->flags & SVCBPF_SVC_MASQ) || be->ip == p->saddr) {
		masq = snat4_addr(lc, p, be->ip);
		if (!masq)
			return VERDICT_DROP(SVCBPF_CNT_DROP_SNAT);
	}
	if (affinity)
		aff4_record(p, svc, be_id, now);

	nat->addr = be->ip;
	nat->port = be->port;
	nat->event = SVCBPF_CNT_DNAT_NEW;
	nat->svc_id = svc->id;
	nat->be_id = be_id;
	return ct4_create(p, svc, be_id, nat, masq, cfg, now);
}

/*
 * @p goes from a client straight to a backend, not through a service. If
 * it opens a connection, a REV entry for its reply tuple is left over from
 * an earlier service flow that used the same client port: it would rewrite
 * this connection's replies to come from the service. Forget it. (tc sees
 * every such packet untranslated: XDP leaves connection starts to tc.)
 */
static __always_inline void ct4_forget_stale_reply(const struct pkt4 *p)
{
	struct ct_value *rev, *fwd;
	struct ct_key key, fkey;

	if (!pkt4_opens_flow(p))
		return;
	ct4_reply_key(&key, p, p->daddr, p->dport);
	rev = bpf_map_lookup_elem(&svcbpf_ct_v3, &key);
	if (!rev)
		return;
	/*
	 * The service flow is over: closed, a late packet of it cannot put this
	 * entry back (ct4_lookup_fwd restores only open flows). Deleting it
	 * instead would let that packet start the flow again, entry and all.
	 * UDP stays ambiguous: one socket talking to both the service and the
	 * pod from one port cannot be told apart.
	 */
	ct4_key(&fkey, p, SVCBPF_CT_FWD);
	fkey.daddr = rev->addr;
	fkey.dport = rev->port;
	fwd = bpf_map_lookup_elem(&svcbpf_ct_v3, &fkey);
	if (fwd)
		fwd->state = SVCBPF_CT_CLOSED;
	bpf_map_delete_elem(&svcbpf_ct_v3, &key);
}

/*
 * A reply of a tracked flow: @p from a backend to a client. Returns true
 * with @nat set to the service address the client expects it from. Or a
 * masqueraded client's packet leaving for its backend: @nat is then the
 * node address and port it leaves as (SVCBPF_CNT_SNAT).
 */
static __always_inline bool lb4_lookup_reply(const struct pkt4 *p, struct nat4 *nat)
{
	const struct svcbpf_cfg *cfg = cfg_get();
	__u64 now = bpf_ktime_get_coarse_ns();
	struct ct_value *ct;
	struct ct_key key;
	__u8 state;

	ct4_key(&key, p, SVCBPF_CT_REV);
	ct = bpf_map_lookup_elem(&svcbpf_ct_v3, &key);
	if (!ct || !cfg || ct_expired(ct, cfg, p->proto, now))
		return false;
	state = ct->state;
	/* The client's direction lives with this one, and closes when the backend does. */
	if (ct4_update(ct, p, now) || (ct->state != state && ct->state >= SVCBPF_CT_CLOSING)) {
		__builtin_memset(&key, 0, sizeof(key));
		key.saddr = p->daddr;
		key.daddr = ct->addr;
		key.sport = p->dport;
		key.dport = ct->port;
		key.proto = p->proto;
		key.dir = SVCBPF_CT_FWD;
		ct4_peer_update(&key, ct->state >= SVCBPF_CT_CLOSING ? ct->state : 0, now);
	}
	nat->addr = ct->addr;
	nat->port = ct->port;
	nat->svc_id = ct->svc_id;
	nat->be_id = ct->backend_id;
	/* A masqueraded client's packet leaving for its backend, not a reply. */
	if (ct->flags & SVCBPF_CT_F_SNAT) {
		nat->event = SVCBPF_CNT_SNAT;
		return true;
	}
	/* One write per flow, so the monitor can tell a flow's first reply. */
	nat->first_reply = !(ct->flags & SVCBPF_CT_F_REPLIED);
	if (nat->first_reply)
		ct->flags |= SVCBPF_CT_F_REPLIED;
	nat->event = SVCBPF_CNT_REVNAT;
	return true;
}

/*
 * What a packet @p to frontend @svc gets, for tc and XDP alike: dropped
 * when its client is outside the source ranges; dropped when Local finds
 * no backend here (kube-proxy drops, it does not reject); else as
 * lb4_select() says.
 */
static __always_inline int lb4_frontend(const struct pkt4 *p, const struct svc_value *svc,
					const struct lb_ctx *lc, struct nat4 *nat)
{
	int ret;

	if (!lb4_source_allowed(p, svc))
		return VERDICT_DROP(SVCBPF_CNT_DROP_SOURCE_RANGE);
	ret = lb4_select(p, svc, lc, nat);
	if (ret == SVCBPF_REJECT && (svc->flags & SVCBPF_SVC_LOCAL))
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_LOCAL);
	return ret;
}

/*
 * A backend's reply to a masqueraded client: @p addressed to a node address
 * and a masquerade port. Returns true with @nat set to the client it goes
 * back to (SVCBPF_CNT_UNSNAT); the source is turned back to the service
 * as the reply leaves (lb4_lookup_reply).
 */
static __always_inline bool lb4_lookup_unsnat(const struct pkt4 *p, struct nat4 *nat)
{
	const struct svcbpf_cfg *cfg;
	struct ct_value *ct;
	struct ct_key key;
	__u8 state;
	__u64 now;

	/* Only to a node address: replies to clients' ephemeral ports pay no conntrack lookup. */
	if (!port_in(p->dport, SVCBPF_SNAT_PORT_MIN, SVCBPF_SNAT_PORT_MAX) ||
	    !bpf_map_lookup_elem(&svcbpf_nip_v1, &p->daddr))
		return false;
	ct4_key(&key, p, SVCBPF_CT_FWD);
	ct = bpf_map_lookup_elem(&svcbpf_ct_v3, &key);
	cfg = cfg_get();
	now = bpf_ktime_get_coarse_ns();
	if (!ct || !(ct->flags & SVCBPF_CT_F_SNAT) || !cfg || ct_expired(ct, cfg, p->proto, now))
		return false;
	state = ct->state;
	/* The outgoing entry lives with this one, and closes when the backend does. */
	if (ct4_update(ct, p, now) || (ct->state != state && ct->state >= SVCBPF_CT_CLOSING)) {
		ct4_reply_key(&key, p, ct->addr, ct->port);
		ct4_peer_update(&key, ct->state >= SVCBPF_CT_CLOSING ? ct->state : 0, now);
	}
	nat->addr = ct->addr;
	nat->port = ct->port;
	nat->event = SVCBPF_CNT_UNSNAT;
	nat->svc_id = ct->svc_id;
	nat->be_id = ct->backend_id;
	return true;
}

#endif /* SVCBPF_LB_BPF_H */
