/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maps.bpf.h - the dataplane's maps, pinned by name under the pin dir.
 *
 * Sizes here are placeholders: the loader sets every max_entries from its
 * options (or from the maps already pinned) before load. Layouts are in
 * include/svcbpf.h; names are versioned there.
 */
#ifndef SVCBPF_MAPS_BPF_H
#define SVCBPF_MAPS_BPF_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "svcbpf.h"

/* Services: (ClusterIP, port, proto) -> service id and its selection table. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SVCBPF_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct svc_key);
	__type(value, struct svc_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_svc_v2 SEC(".maps");

/* Backends: backend id -> address, weight and state. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SVCBPF_MAX_BACKENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct backend_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_be_v1 SEC(".maps");

/*
 * Maglev tables: service id -> its table, a one-entry array whose value is
 * the M backend ids (4 bytes a slot; an array of M u32 entries would take
 * 8). Userspace writes a table whole before it publishes it here. The
 * loader gives the real template, sized for the M it loads with.
 */
struct maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32[SVCBPF_MAGLEV_M]);
};

/* Slots in every Maglev table, set by the loader: the verifier knows it. */
const volatile __u32 maglev_m = SVCBPF_MAGLEV_M;

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, SVCBPF_MAX_SERVICES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct maglev_table);
} svcbpf_mag_v1 SEC(".maps");

/* Conntrack: flow tuple and direction -> pinned backend or service address. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SVCBPF_CT_SIZE);
	__type(key, struct ct_key);
	__type(value, struct ct_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_ct_v3 SEC(".maps");

/* Client-IP affinity: (client, service) -> backend, for affinity services. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SVCBPF_AFF_SIZE);
	__type(key, struct aff_key);
	__type(value, struct aff_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_aff_v1 SEC(".maps");

/* Settings: one struct svcbpf_cfg, written by `svcbpf load`. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct svcbpf_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_cfg_v1 SEC(".maps");

/* Counters: enum svcbpf_counter -> packets and bytes, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SVCBPF_CNT_MAX);
	__type(key, __u32);
	__type(value, struct counter_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_cnt_v4 SEC(".maps");

/* Traffic per service and per backend, per CPU (entries made by userspace). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SVCBPF_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_sst_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SVCBPF_MAX_BACKENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_bst_v1 SEC(".maps");

/* Monitor events, and the switch its listeners hold on (struct svcbpf_mon). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SVCBPF_EVENTS_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_evt_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct svcbpf_mon);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_mon_v1 SEC(".maps");

/* The monitor's rate limit: events sent in the current second, per CPU (not pinned). */
struct mon_window {
	__u64 start_ns;
	__u64 sent;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mon_window);
} svcbpf_mon_rl SEC(".maps");

/* Sync durations: written by userspace only; here so `load` pins it with the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct svcbpf_sync_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_sync_v1 SEC(".maps");

/* loadBalancerSourceRanges: (service id, client prefix) -> 1. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SVCBPF_SRC_RANGES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct src_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_src_v1 SEC(".maps");

/*
 * The node's addresses (every IPv4 address of the attached interfaces), to
 * ifindex: where a NodePort answers. And per attached interface, the
 * address a client is masqueraded as when its flow leaves there. Written by
 * `svcbpf load` and `sync`.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SVCBPF_NODE_ADDRS);
	__type(key, __be32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_nip_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SVCBPF_NODE_ADDRS);
	__type(key, __u32);
	__type(value, __be32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svcbpf_ifa_v1 SEC(".maps");

/* Count one packet of @len bytes under @idx (enum svcbpf_counter). */
static __always_inline void counter_add(__u32 idx, __u32 len)
{
	struct counter_value *c = bpf_map_lookup_elem(&svcbpf_cnt_v4, &idx);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

/*
 * Account a translated packet of @len bytes to its service and backend:
 * a client's (@reply false, @new_flow when it opened the flow) or a reply.
 */
static __always_inline void lb_stats_count(struct lb_stats *st, __u32 len, bool reply,
					   bool new_flow)
{
	if (!st)
		return;
	if (reply) {
		st->reply_packets++;
		st->reply_bytes += len;
	} else {
		st->packets++;
		st->bytes += len;
		st->flows += new_flow;
	}
}

static __always_inline void lb_stats_add(__u32 svc_id, __u32 be_id, __u32 len, bool reply,
					 bool new_flow)
{
	lb_stats_count(bpf_map_lookup_elem(&svcbpf_sst_v1, &svc_id), len, reply, new_flow);
	lb_stats_count(bpf_map_lookup_elem(&svcbpf_bst_v1, &be_id), len, reply, new_flow);
}

/* A packet to service @svc_id that was not translated (rejected or dropped). */
static __always_inline void lb_stats_drop(__u32 svc_id)
{
	struct lb_stats *st = bpf_map_lookup_elem(&svcbpf_sst_v1, &svc_id);

	if (st)
		st->drops++;
}

#endif /* SVCBPF_MAPS_BPF_H */
