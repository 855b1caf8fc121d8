/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * svcbpf.h - the one contract between the BPF dataplane and userspace.
 *
 * Every struct that crosses the map boundary lives here, built only from
 * <linux/types.h> types with explicit padding and a size assertion, so the
 * kernel and user side can never disagree about a layout. Keys must be
 * zeroed before use: hash maps compare padding bytes too.
 *
 * Pinned map names carry a layout version (_v1). Bump it when a key or value
 * changes, so an old pin is never read with a new layout.
 */
#ifndef SVCBPF_H
#define SVCBPF_H

#include <linux/types.h>

#define SVCBPF_PIN_DIR_DEFAULT "/sys/fs/bpf/svcbpf"
#define SVCBPF_STATE_DIR_DEFAULT "/var/lib/svcbpf"

/* Pinned map names (the kernel keeps 15 characters). */
#define SVCBPF_MAP_SVC "svcbpf_svc_v2"
#define SVCBPF_MAP_BE "svcbpf_be_v1"
#define SVCBPF_MAP_MAGLEV "svcbpf_mag_v1"
#define SVCBPF_MAP_CT "svcbpf_ct_v3"
#define SVCBPF_MAP_CNT "svcbpf_cnt_v4"
#define SVCBPF_MAP_AFF "svcbpf_aff_v1"
#define SVCBPF_MAP_CFG "svcbpf_cfg_v1"
#define SVCBPF_MAP_SVC_STATS "svcbpf_sst_v1"
#define SVCBPF_MAP_BE_STATS "svcbpf_bst_v1"
#define SVCBPF_MAP_EVENTS "svcbpf_evt_v1"
#define SVCBPF_MAP_MON "svcbpf_mon_v1"
#define SVCBPF_MAP_SYNC "svcbpf_sync_v1"
#define SVCBPF_MAP_SRC "svcbpf_src_v1"
#define SVCBPF_MAP_NODE_IP "svcbpf_nip_v1"
#define SVCBPF_MAP_IF_ADDR "svcbpf_ifa_v1"

/* Default map sizes; every one is a `svcbpf load` option. */
#define SVCBPF_MAX_SERVICES 65536
#define SVCBPF_MAX_BACKENDS 65536
#define SVCBPF_CT_SIZE 262144
/* Client-IP affinity entries: one per (client, service) in use. */
#define SVCBPF_AFF_SIZE 65536
#define SVCBPF_MAX_SVC_BACKENDS 4096
/* Backend weights: 0 (no new flows) to this; Maglev gives slots in proportion. */
#define SVCBPF_MAX_WEIGHT 10000
/*
 * Room beyond --max-backends in the backend map: a service's new set is
 * written before the backends it drops are freed, so a switch at full
 * capacity still fits. Capacity checks use the map size minus this.
 */
#define SVCBPF_BE_HEADROOM SVCBPF_MAX_SVC_BACKENDS

/*
 * Maglev lookup table size M (slots per service, a prime). Each of N equal
 * backends owns floor(M/N) or ceil(M/N) slots, so the load is even to one
 * slot in M/N; the Maglev paper wants M >= 100 N for near-minimal
 * disruption, which 16381 gives up to 163 backends (Cilium's default too):
 * removing one backend moves at most 1.7% of the other slots (measured,
 * N = 2..1000). It costs 4 bytes a slot: 64 KiB per service.
 */
#define SVCBPF_MAGLEV_M 16381
#define SVCBPF_MAGLEV_M_MIN 251
#define SVCBPF_MAGLEV_M_MAX 131071

/* Conntrack timeouts in seconds (Cilium's defaults; kube-proxy's UDP is 30-120 s). */
#define SVCBPF_CT_TIMEOUT_SYN 60
#define SVCBPF_CT_TIMEOUT_TCP 21600
#define SVCBPF_CT_TIMEOUT_FIN 10
#define SVCBPF_CT_TIMEOUT_UDP 60
/* Session affinity default: Kubernetes' sessionAffinityConfig default, 3 hours. */
#define SVCBPF_AFFINITY_TIMEOUT 10800

/*
 * Traffic from outside the node. NodePorts come from Kubernetes' default
 * --service-node-port-range. A masqueraded flow keeps its client's own
 * source port when that is in the masquerade range and free, as Linux's NAT
 * does, else takes another from the range (Cilium's: the upper half, which
 * holds Linux's default ephemeral ports, 32768-60999). Keeping the port is
 * what lets a client open connections as fast as it likes: a port a closed
 * flow held stays taken for the fin timeout, and a backend's TIME_WAIT for
 * it lasts longer still.
 */
#define SVCBPF_NODEPORT_MIN 30000
#define SVCBPF_NODEPORT_MAX 32767
#define SVCBPF_SNAT_PORT_MIN 32768
#define SVCBPF_SNAT_PORT_MAX 65535
/* Ports a new masqueraded flow tries before it is dropped (Cilium: 32). */
#define SVCBPF_SNAT_TRIES 32
/* loadBalancerSourceRanges entries, all services together. */
#define SVCBPF_SRC_RANGES 16384
/* Node addresses and interfaces (the attached interfaces' IPv4 addresses). */
#define SVCBPF_NODE_ADDRS 1024

/* The monitor's event ring buffer, and what a listener may ask of it. */
#define SVCBPF_EVENTS_SIZE (1 << 20)
/* Seconds a monitor's request lasts unless renewed: one killed stops costing soon. */
#define SVCBPF_MON_LEASE 3
#define SVCBPF_MON_RATE 5000 /* default events a second, per CPU */

/*
 * Service frontend: the (address, port, protocol) a client addresses: a
 * ClusterIP, an external or LoadBalancer IP, or 0.0.0.0 for a NodePort
 * (every node address, see svcbpf_nip_v1).
 */
struct svc_key {
	__be32 vip;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

enum svcbpf_svc_flags {
	SVCBPF_SVC_AFFINITY = 1 << 0, /* sessionAffinity: ClientIP */
	SVCBPF_SVC_EXTERNAL = 1 << 1, /* NodePort, LoadBalancer or external IP frontend */
	SVCBPF_SVC_MASQ = 1 << 2, /* externalTrafficPolicy Cluster: the client is masqueraded */
	SVCBPF_SVC_LOCAL = 1 << 3, /* externalTrafficPolicy Local: no local backend drops */
	SVCBPF_SVC_SRC_RANGES = 1 << 4, /* only clients in its ranges (svcbpf_src_v1) */
};

/*
 * What a service translates to. Its Maglev table is the inner map at @id
 * in the Maglev map: M backend ids, one per slot. A new backend set gets a
 * whole new table, published by one write of that outer entry; the kernel
 * frees the old table only after every reader is done with it. A service
 * with no table has no backend a new flow may take.
 */
struct svc_value {
	__u32 id; /* stable service id: counters, conntrack, Maglev table */
	__u16 flags; /* enum svcbpf_svc_flags */
	__u16 pad;
	__u32 affinity_timeout; /* seconds, with SVCBPF_SVC_AFFINITY */
	__u32 pad2;
};

enum svcbpf_backend_state {
	SVCBPF_BE_ACTIVE = 0,
	SVCBPF_BE_DRAINING = 1, /* no new flows; tracked flows continue */
};

/* Backend, keyed by its __u32 id: where a service's flow is sent. */
struct backend_value {
	__be32 ip;
	__be16 port;
	__u16 weight;
	__u8 state; /* enum svcbpf_backend_state */
	__u8 pad[3];
};

/*
 * loadBalancerSourceRanges: an LPM trie of (service id, client prefix).
 * @prefixlen counts the service id's 32 bits too.
 */
struct src_key {
	__u32 prefixlen; /* 32 + the CIDR's length */
	__u32 svc_id;
	__be32 addr;
};

/* Client-IP affinity: the backend a client's new flows to a service take. */
struct aff_key {
	__be32 client;
	__u32 svc_id;
};

struct aff_value {
	__u32 backend_id;
	__u32 pad;
	__u64 last_seen; /* bpf_ktime_get_coarse_ns() */
};

/*
 * Load-time settings, the one entry of the config map: what the dataplane
 * reads at run time and `svcbpf load` keeps across reloads.
 */
struct svcbpf_cfg {
	__u32 maglev_m; /* slots in every Maglev table */
	__u32 ct_timeout_syn; /* seconds: TCP until the handshake completes */
	__u32 ct_timeout_tcp; /* established TCP */
	__u32 ct_timeout_fin; /* TCP after a FIN or RST */
	__u32 ct_timeout_udp;
	__u32 pad;
};

enum svcbpf_ct_dir {
	SVCBPF_CT_FWD = 1, /* client -> service: DNAT to the backend */
	SVCBPF_CT_REV = 2, /* backend -> client: source back to the service */
};

/* Conntrack key: the tuple as the packet carries it at the hook. */
struct ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir; /* enum svcbpf_ct_dir */
	__u16 pad;
};

/*
 * TCP state as one direction has seen it; its timeout says how long the
 * entry lives without traffic. UDP entries use the UDP timeout throughout.
 */
enum svcbpf_ct_state {
	SVCBPF_CT_NEW = 0, /* only connection starts (SYN) seen */
	SVCBPF_CT_ESTABLISHED = 1, /* a packet past the handshake */
	SVCBPF_CT_CLOSING = 2, /* a FIN either way */
	SVCBPF_CT_CLOSED = 3, /* a RST either way */
};

enum svcbpf_ct_flags {
	SVCBPF_CT_F_REPLIED =
		1 << 0, /* REV: a reply was translated (the monitor's first-reply event) */
	SVCBPF_CT_F_MASQ = 1
			   << 1, /* FWD: the flow's client is masqueraded as @nat_addr:@nat_port */
	SVCBPF_CT_F_SNAT = 1 << 2, /* a masquerade entry (below), not a service translation */
};

/*
 * Conntrack value. FWD: @addr/@port is the backend the flow is pinned to.
 * REV: @addr/@port is the service address the reply must come from.
 *
 * A masqueraded flow (client C:c -> service F:f, backend P:p, node address
 * N:n) has two more entries, both SVCBPF_CT_F_SNAT, rewriting like the
 * others: destination at ingress (FWD), source at egress (REV):
 *   REV (C:c -> P:p): source -> N:n     the client's packets, as they leave
 *   FWD (P:p -> N:n): destination -> C:c  the backend's replies, as they come in
 * The FWD one is made with BPF_NOEXIST: that is what keeps N:n unique.
 */
struct ct_value {
	__be32 addr;
	__be16 port;
	__u8 state; /* enum svcbpf_ct_state */
	__u8 flags; /* enum svcbpf_ct_flags */
	__u32 backend_id;
	__u32 svc_id;
	__u64 last_seen; /* bpf_ktime_get_coarse_ns(), refreshed at most once a second */
	__be32 nat_addr; /* FWD with SVCBPF_CT_F_MASQ: the client's address on the node */
	__be16 nat_port;
	__u16 pad;
};

/* Per-CPU counters, one per event or reason (the array index). */
enum svcbpf_counter {
	SVCBPF_CNT_DNAT_NEW, /* new flow translated to a backend */
	SVCBPF_CNT_DNAT_EST, /* packet of a tracked flow translated */
	SVCBPF_CNT_REVNAT, /* reply translated back to the service */
	SVCBPF_CNT_XDP_DEFER, /* XDP left it to tc: a connection start, UDP, a checksum seed */
	SVCBPF_CNT_DROP_NO_BACKEND, /* service without a backend, not answered: a RST, no unicast source */
	SVCBPF_CNT_PASS_FRAGMENT, /* IPv4 fragment: passed untranslated */
	SVCBPF_CNT_PASS_MALFORMED, /* bad or truncated header: passed untouched */
	SVCBPF_CNT_DROP_REWRITE, /* a rewrite helper failed mid-packet */
	SVCBPF_CNT_REJECT, /* service without a backend: answered with a TCP RST or ICMP error */
	SVCBPF_CNT_CT_FULL, /* translated, but conntrack could not record the flow */
	SVCBPF_CNT_MON_LOST, /* monitor events not sent: rate limit or ring buffer full */
	SVCBPF_CNT_SNAT, /* a masqueraded flow's packet: source -> node address (egress) */
	SVCBPF_CNT_UNSNAT, /* a reply to a masqueraded flow: destination -> client (ingress) */
	SVCBPF_CNT_ICMP_XLATE, /* an ICMP error about a translated flow, translated */
	SVCBPF_CNT_DROP_SOURCE_RANGE, /* client outside the service's loadBalancerSourceRanges */
	SVCBPF_CNT_DROP_NO_LOCAL, /* externalTrafficPolicy Local, no backend on this node */
	SVCBPF_CNT_DROP_SNAT, /* no node address or no free port to masquerade the client */
	/* Every packet each program saw: its run count, kept by the program itself. */
	SVCBPF_CNT_RUN_TC_INGRESS,
	SVCBPF_CNT_RUN_TC_EGRESS,
	SVCBPF_CNT_RUN_XDP,
	SVCBPF_CNT_MAX,
};

struct counter_value {
	__u64 packets;
	__u64 bytes;
};

/*
 * Per-CPU traffic of one service (keyed by service id) or one backend
 * (keyed by backend id). Userspace creates the entry with the service or
 * backend and deletes it with it; the programs only add.
 */
struct lb_stats {
	__u64 packets; /* client -> service, translated */
	__u64 bytes;
	__u64 reply_packets; /* backend -> client, translated back */
	__u64 reply_bytes;
	__u64 flows; /* new flows: connections (TCP) or conntrack entries (UDP) */
	__u64 drops; /* to the service, not translated: no backend (rejected or dropped), failure */
};

/* Monitor events: what happened to a packet. */
enum svcbpf_event_type {
	SVCBPF_EV_NEW = 1, /* a new flow: the backend chosen */
	SVCBPF_EV_REPLY, /* a flow's first reply, translated back */
	SVCBPF_EV_REJECT, /* no backend: the client was answered with a reset or ICMP error */
	SVCBPF_EV_DROP, /* dropped, @reason says why */
	SVCBPF_EV_SKIP, /* passed untranslated, @reason says why (fragment, malformed) */
	SVCBPF_EV_DNAT, /* trace: any packet of a tracked flow, translated */
	SVCBPF_EV_REVNAT, /* trace: any reply translated back */
	SVCBPF_EV_MAX,
};

enum svcbpf_hook {
	SVCBPF_HOOK_TC_INGRESS,
	SVCBPF_HOOK_TC_EGRESS,
	SVCBPF_HOOK_XDP,
};

struct svcbpf_event {
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u8 type; /* enum svcbpf_event_type */
	__u8 hook; /* enum svcbpf_hook */
	__u8 proto;
	__u8 reason; /* enum svcbpf_counter, for DROP and SKIP */
	__u32 ifindex;
	__be32 saddr; /* the packet as it arrived */
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__be32 nat_addr; /* what it was translated to: backend, or service for replies */
	__be16 nat_port;
	__u8 tcp_flags;
	__u8 pad;
	__u32 svc_id;
	__u32 backend_id;
	__u32 len;
};

/*
 * The monitor's switch, the one entry of its map: listeners renew
 * @until_ns; events are made only for the types in @events until then, at
 * most @rate a second on each CPU. Nobody listening costs one lookup.
 */
struct svcbpf_mon {
	__u64 until_ns; /* bpf_ktime_get_coarse_ns() clock; 0: off */
	__u32 events; /* bit (1 << type) for each enum svcbpf_event_type wanted */
	__u32 rate;
};

/*
 * Sync durations, the one entry of its map (userspace only, under the state
 * lock): a histogram with kube-proxy's buckets, 1 ms doubling 15 times.
 */
#define SVCBPF_SYNC_BUCKETS 15
struct svcbpf_sync_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 le[SVCBPF_SYNC_BUCKETS]; /* syncs of at most 1 ms << i, cumulative */
	__u64 last_ns; /* the last sync's duration */
};

/*
 * Flow hash shared by the dataplane and userspace (which mirrors the
 * selection): Bob Jenkins' lookup3 final mix over the 5-tuple, in network
 * byte order as the packet carries it.
 */
#define SVCBPF_HASH_SEED 0x5ec0b9f1u

static inline __attribute__((always_inline)) __u32 svcbpf_rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

static inline __attribute__((always_inline)) __u32
svcbpf_flow_hash(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport, __u8 proto)
{
	__u32 a = (__u32)saddr + SVCBPF_HASH_SEED;
	__u32 b = (__u32)daddr + SVCBPF_HASH_SEED;
	__u32 c = (((__u32)sport << 16) | (__u32)dport) + SVCBPF_HASH_SEED + proto;

	c ^= b;
	c -= svcbpf_rol32(b, 14);
	a ^= c;
	a -= svcbpf_rol32(c, 11);
	b ^= a;
	b -= svcbpf_rol32(a, 25);
	c ^= b;
	c -= svcbpf_rol32(b, 16);
	a ^= c;
	a -= svcbpf_rol32(c, 4);
	b ^= a;
	b -= svcbpf_rol32(a, 14);
	c ^= b;
	c -= svcbpf_rol32(b, 24);
	return c;
}

_Static_assert(sizeof(struct svc_key) == 8, "svc_key layout");
_Static_assert(sizeof(struct svc_value) == 16, "svc_value layout");
_Static_assert(sizeof(struct aff_key) == 8, "aff_key layout");
_Static_assert(sizeof(struct aff_value) == 16, "aff_value layout");
_Static_assert(sizeof(struct svcbpf_cfg) == 24, "svcbpf_cfg layout");
_Static_assert(sizeof(struct backend_value) == 12, "backend_value layout");
_Static_assert(sizeof(struct ct_key) == 16, "ct_key layout");
_Static_assert(sizeof(struct ct_value) == 32, "ct_value layout");
_Static_assert(sizeof(struct src_key) == 12, "src_key layout");
_Static_assert(sizeof(struct counter_value) == 16, "counter_value layout");
_Static_assert(sizeof(struct lb_stats) == 48, "lb_stats layout");
_Static_assert(sizeof(struct svcbpf_event) == 48, "svcbpf_event layout");
_Static_assert(sizeof(struct svcbpf_mon) == 16, "svcbpf_mon layout");
_Static_assert(sizeof(struct svcbpf_sync_hist) == 8 * (SVCBPF_SYNC_BUCKETS + 3), "sync layout");

#endif /* SVCBPF_H */
