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
#define SVCBPF_MAP_CT "svcbpf_ct_v2"
#define SVCBPF_MAP_CNT "svcbpf_cnt_v2"
#define SVCBPF_MAP_AFF "svcbpf_aff_v1"
#define SVCBPF_MAP_CFG "svcbpf_cfg_v1"

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

/* Service: the (ClusterIP, port, protocol) a client addresses. */
struct svc_key {
	__be32 vip;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

enum svcbpf_svc_flags {
	SVCBPF_SVC_AFFINITY = 1 << 0, /* sessionAffinity: ClientIP */
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

/*
 * Conntrack value. FWD: @addr/@port is the backend the flow is pinned to.
 * REV: @addr/@port is the service address the reply must come from.
 */
struct ct_value {
	__be32 addr;
	__be16 port;
	__u8 state; /* enum svcbpf_ct_state */
	__u8 pad;
	__u32 backend_id;
	__u32 svc_id;
	__u64 last_seen; /* bpf_ktime_get_coarse_ns(), refreshed at most once a second */
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
	SVCBPF_CNT_MAX,
};

struct counter_value {
	__u64 packets;
	__u64 bytes;
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
_Static_assert(sizeof(struct ct_value) == 24, "ct_value layout");
_Static_assert(sizeof(struct counter_value) == 16, "counter_value layout");

#endif /* SVCBPF_H */
