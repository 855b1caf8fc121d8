/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maps.h - the dataplane's maps from userspace, and the reconciler that
 * makes them hold what the store says.
 *
 * Update order never shows a packet a half-built service: backends first,
 * then a complete new selection table, then the service entry switched to
 * it in one write, and only then the old table and unused backends freed.
 */
#ifndef SVCBPF_MAPS_H
#define SVCBPF_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "store.h"

struct dp_maps {
	int svc, be, slot, ct, cnt;
};

#define DP_MAPS_CLOSED             \
	{                          \
		-1, -1, -1, -1, -1 \
	}

/*
 * Open the maps pinned under @pin_dir: -ENOENT when svcbpf is not loaded,
 * -ENODATA when only some are pinned, else the error that stopped it.
 */
int maps_open(const char *pin_dir, struct dp_maps *m);
void maps_close(struct dp_maps *m);

/* The kernel's view of a map: entries in use, capacity, memory (fdinfo memlock). */
struct map_usage {
	uint32_t id;
	uint32_t max_entries;
	uint64_t entries;
	uint64_t memlock;
};
int map_usage(int fd, struct map_usage *u);

/* Program @r: its backends, a fresh table, then the service entry. */
int dp_sync_service(const struct dp_maps *m, const struct svc_rec *r, char err[ERR_LEN]);
/*
 * Program many services: the new ones with one batched map write per map
 * (backends, then tables, then services), the others one by one.
 */
int dp_sync_services(const struct dp_maps *m, const struct svc_rec *const *r, size_t n,
		     char err[ERR_LEN]);
/* Remove a service and the backends only it used; absent is not an error. */
int dp_remove_service(const struct dp_maps *m, const struct l4addr *svc);
/* Make the maps hold exactly @md: program every service, sweep the rest. */
int dp_sync_all(const struct dp_maps *m, const struct model *md, char err[ERR_LEN]);
/* Does the service entry in the maps match @r (id and slot count)? */
bool dp_service_programmed(const struct dp_maps *m, const struct svc_rec *r);
/* Sum the per-CPU counters; @out has SVCBPF_CNT_MAX entries. */
struct counter_value;
int dp_read_counters(const struct dp_maps *m, struct counter_value *out);

#endif /* SVCBPF_MAPS_H */
