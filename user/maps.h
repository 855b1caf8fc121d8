/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maps.h - the dataplane's maps from userspace, and the reconciler that
 * makes them hold what the store says.
 *
 * Update order never shows a packet a half-built service: backends first,
 * then a complete new Maglev table published by one write of the service's
 * Maglev map entry, then the service entry; backends a change dropped are
 * freed only after that, with their conntrack and affinity entries.
 */
#ifndef SVCBPF_MAPS_H
#define SVCBPF_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "store.h"
#include "svcbpf.h"

struct dp_maps {
	int svc, be, mag, ct, cnt, aff, cfg;
	int sst, bst; /* traffic per service and per backend */
	int evt, mon; /* the monitor's ring buffer and switch */
	int sync; /* sync durations */
	int src; /* loadBalancerSourceRanges (LPM trie of struct src_key) */
	int nip, ifa; /* node addresses -> ifindex; ifindex -> masquerade address */
	uint32_t maglev_m; /* from the config map */
};

#define DP_MAPS_CLOSED                                                                      \
	{                                                                                   \
		-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, SVCBPF_MAGLEV_M \
	}

/*
 * Open the maps pinned under @pin_dir: -ENOENT when svcbpf is not loaded,
 * -ENODATA when only some are pinned, else the error that stopped it.
 */
int maps_open(const char *pin_dir, struct dp_maps *m);
void maps_close(struct dp_maps *m);

/* Read or write the config map's one entry. */
int dp_cfg_read(const struct dp_maps *m, struct svcbpf_cfg *cfg);
int dp_cfg_write(const struct dp_maps *m, const struct svcbpf_cfg *cfg);

/* The kernel's view of a map: entries in use, capacity, memory (fdinfo memlock). */
struct map_usage {
	uint32_t id;
	uint32_t max_entries;
	uint64_t entries;
	uint64_t memlock;
};
int map_usage(int fd, struct map_usage *u);

/* Program @r: its backends, a fresh Maglev table, then the service entry. */
int dp_sync_service(const struct dp_maps *m, const struct svc_rec *r, char err[ERR_LEN]);
/*
 * Program many services: the new ones with batched map writes where the
 * kernel has them, the others one by one.
 */
int dp_sync_services(const struct dp_maps *m, const struct svc_rec *const *r, size_t n,
		     char err[ERR_LEN]);
/* Remove a service's entry and table; absent is not an error. */
int dp_remove_service(const struct dp_maps *m, const struct l4addr *svc);
/*
 * Free backends @ids[0..n) (no table names them any more): their entries,
 * and every conntrack and affinity entry that points at them, so no packet
 * is sent to, or translated back from, a backend that is gone.
 */
int dp_remove_backends(const struct dp_maps *m, const uint32_t *ids, size_t n);
/* Make the maps hold exactly @md: program every service, sweep the rest. */
int dp_sync_all(const struct dp_maps *m, const struct model *md, char err[ERR_LEN]);
/* Does the dataplane hold @r exactly: entry, backends and Maglev table? */
bool dp_service_programmed(const struct dp_maps *m, const struct svc_rec *r);
/* Service @svc_id's whole table (m->maglev_m slots): 0, -ENOENT (none), -errno. */
int dp_table_read(const struct dp_maps *m, uint32_t svc_id, uint32_t *slots);
/*
 * The backend id in slot @slot of service @svc_id's table: 0 when it has
 * none, -errno.
 */
int64_t dp_table_slot(const struct dp_maps *m, uint32_t svc_id, uint32_t slot);
/* What a global counter (enum svcbpf_counter) counts. */
enum dp_counter_kind {
	DP_CNT_TRAFFIC, /* translations */
	DP_CNT_REASON, /* a packet not translated as asked: why, and what became of it */
	DP_CNT_RUN, /* every packet a program saw */
	DP_CNT_OTHER,
};

struct dp_counter_info {
	const char *name; /* status and JSON: "drop_no_backend" */
	enum dp_counter_kind kind;
	const char *reason; /* DP_CNT_REASON: the metric's reason label ("no_backend") */
	const char *action; /* DP_CNT_REASON: "drop", "reject", "pass" or "untracked" */
};

extern const struct dp_counter_info dp_counters[SVCBPF_CNT_MAX];
/* The hook names of enum svcbpf_hook, and the event names of enum svcbpf_event_type. */
extern const char *const dp_hook_names[3];
extern const char *const dp_event_names[SVCBPF_EV_MAX];

/* Sum the per-CPU counters; @out has SVCBPF_CNT_MAX entries. */
struct counter_value;
int dp_read_counters(const struct dp_maps *m, struct counter_value *out);

/*
 * The traffic of service or backend @id, summed over the CPUs, from stats
 * map @fd (m->sst or m->bst). -ENOENT when it has no entry.
 */
int dp_stats_read(int fd, uint32_t id, struct lb_stats *out);

/* Add one sync of @ns nanoseconds to the histogram (caller holds the state lock). */
void dp_sync_observe(const struct dp_maps *m, uint64_t ns);
/* CLOCK_MONOTONIC in nanoseconds: what sync durations are timed with. */
uint64_t dp_mono_ns(void);
int dp_sync_hist_read(const struct dp_maps *m, struct svcbpf_sync_hist *h);

/* Every conntrack entry (live or not); caller frees both arrays. */
int dp_ct_read(const struct dp_maps *m, struct ct_key **keys, struct ct_value **vals, size_t *n);
/* Delete conntrack entries @keys[0..n). Returns how many went. */
size_t dp_ct_delete(const struct dp_maps *m, const struct ct_key *keys, size_t n);

/* A new, empty Maglev table of @maglev_m slots (the map's template too); fd or -1. */
int dp_table_create(uint32_t maglev_m);
/* Kernel memory one Maglev table costs (a live one's fdinfo, else an estimate). */
uint64_t dp_table_memory(const struct dp_maps *m);

/* Forget the client-IP affinities to @svc (NULL: every service); returns how many. */
size_t dp_aff_flush(const struct dp_maps *m, const struct l4addr *svc);

/* The dataplane's clock: bpf_ktime_get_coarse_ns() is CLOCK_MONOTONIC_COARSE. */
uint64_t dp_now_ns(void);
/* Seconds a conntrack entry of @proto in @state lives without traffic (lb.bpf.h's rule). */
uint32_t dp_ct_timeout(const struct svcbpf_cfg *cfg, uint8_t proto, uint8_t state);

/* A service's flags and affinity timeout as the service map holds them. */
struct svc_value dp_svc_value_of(const struct svc_rec *r);

#endif /* SVCBPF_MAPS_H */
