/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lb.bpf.h - service lookup, backend selection and connection tracking.
 *
 * A new flow to a service is hashed onto one slot of the service's current
 * selection table; the backend found there is pinned to the flow by two
 * conntrack entries: FWD (client -> service, gives the backend) and REV
 * (backend -> client, gives the service address for the reply). A tracked
 * flow keeps its backend for as long as that backend exists unchanged,
 * whatever else happens to the service's backend set.
 */
#ifndef SVCBPF_LB_BPF_H
#define SVCBPF_LB_BPF_H

#include <stdbool.h>

#include "maps.bpf.h"
#include "parse.bpf.h"
#include "verdict.bpf.h"

#define CT_REFRESH_NS 1000000000ULL

/* The address a packet is translated to, and the counter that says why. */
struct nat4 {
	__be32 addr;
	__be16 port;
	__u16 event; /* enum svcbpf_counter */
};

/* The service @p is addressed to, or NULL when it is not for a service. */
static __always_inline struct svc_value *lb4_lookup_service(const struct pkt4 *p)
{
	struct svc_key key = {
		.vip = p->daddr,
		.port = p->dport,
		.proto = p->proto,
	};

	return bpf_map_lookup_elem(&svcbpf_svc_v1, &key);
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

static __always_inline void ct4_touch(struct ct_value *ct, __u64 now)
{
	/* Refresh at most once a second: no cache-line write per packet. */
	if (now - ct->last_seen > CT_REFRESH_NS)
		ct->last_seen = now;
}

/*
 * The backend of the tracked flow @p, if there is one and it still exists
 * with the address the flow was pinned to. Returns true with @nat filled.
 */
static __always_inline bool ct4_lookup_fwd(const struct pkt4 *p, struct nat4 *nat, __u64 now)
{
	struct backend_value *be;
	struct ct_value *ct;
	struct ct_key key;

	ct4_key(&key, p, SVCBPF_CT_FWD);
	ct = bpf_map_lookup_elem(&svcbpf_ct_v1, &key);
	if (!ct)
		return false;
	be = bpf_map_lookup_elem(&svcbpf_be_v1, &ct->backend_id);
	if (!be || be->ip != ct->addr || be->port != ct->port)
		return false;
	ct4_touch(ct, now);
	nat->addr = ct->addr;
	nat->port = ct->port;
	return true;
}

/* Record the new flow @p -> backend @be_id at @nat, both directions. */
static __always_inline void ct4_create(const struct pkt4 *p, const struct svc_value *svc,
				       __u32 be_id, const struct nat4 *nat, __u64 now)
{
	struct ct_value val = {
		.addr = nat->addr,
		.port = nat->port,
		.backend_id = be_id,
		.svc_id = svc->id,
		.last_seen = now,
	};
	struct ct_key key;

	ct4_key(&key, p, SVCBPF_CT_FWD);
	bpf_map_update_elem(&svcbpf_ct_v1, &key, &val, BPF_ANY);

	/* The reply comes from the backend to the client. */
	ct4_reply_key(&key, p, nat->addr, nat->port);
	val.addr = p->daddr;
	val.port = p->dport;
	bpf_map_update_elem(&svcbpf_ct_v1, &key, &val, BPF_ANY);
}

/*
 * Pick the backend for @p, addressed to @svc: the tracked one, or for a new
 * flow the one in slot hash(flow) % count of the service's table. Returns
 * SVCBPF_CONTINUE with @nat filled, or a drop reason.
 */
static __always_inline int lb4_select(const struct pkt4 *p, const struct svc_value *svc,
				      struct nat4 *nat)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct backend_value *be;
	struct slot_key sk;
	__u32 *be_id;

	if (ct4_lookup_fwd(p, nat, now)) {
		nat->event = SVCBPF_CNT_DNAT_EST;
		return SVCBPF_CONTINUE;
	}
	if (!svc->count)
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);

	sk.table = svc->table;
	sk.slot = svcbpf_flow_hash(p->saddr, p->daddr, p->sport, p->dport, p->proto) % svc->count;
	be_id = bpf_map_lookup_elem(&svcbpf_slot_v1, &sk);
	if (!be_id)
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);
	be = bpf_map_lookup_elem(&svcbpf_be_v1, be_id);
	if (!be)
		return VERDICT_DROP(SVCBPF_CNT_DROP_NO_BACKEND);

	nat->addr = be->ip;
	nat->port = be->port;
	nat->event = SVCBPF_CNT_DNAT_NEW;
	ct4_create(p, svc, *be_id, nat, now);
	return SVCBPF_CONTINUE;
}

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

/* Does @p open a connection: a TCP SYN without ACK, or a UDP datagram? */
static __always_inline bool pkt4_opens_flow(const struct pkt4 *p)
{
	return p->proto == IPPROTO_UDP ||
	       (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
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
	struct ct_key key;

	if (!pkt4_opens_flow(p))
		return;
	ct4_reply_key(&key, p, p->daddr, p->dport);
	bpf_map_delete_elem(&svcbpf_ct_v1, &key);
}

/*
 * A reply of a tracked flow: @p from a backend to a client. Returns true
 * with @nat set to the service address the client expects it from.
 */
static __always_inline bool lb4_lookup_reply(const struct pkt4 *p, struct nat4 *nat)
{
	struct ct_value *ct;
	struct ct_key key;

	ct4_key(&key, p, SVCBPF_CT_REV);
	ct = bpf_map_lookup_elem(&svcbpf_ct_v1, &key);
	if (!ct)
		return false;
	ct4_touch(ct, bpf_ktime_get_coarse_ns());
	nat->addr = ct->addr;
	nat->port = ct->port;
	nat->event = SVCBPF_CNT_REVNAT;
	return true;
}

#endif /* SVCBPF_LB_BPF_H */
