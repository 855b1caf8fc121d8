/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * loader.h - bpffs, loading the embedded BPF object, and its attachments.
 *
 * Layout under the pin dir:
 *   svcbpf_*_v1                 the maps (libbpf pins them by name)
 *   links/IFNAME/tc_ingress     tcx link: DNAT
 *   links/IFNAME/tc_egress      tcx link: reverse NAT
 *   links/IFNAME/xdp            XDP link (with --xdp): DNAT fast path
 * A link lives as long as its pin: unpinning the last one detaches it, and
 * traffic never depends on a running svcbpf process.
 */
#ifndef SVCBPF_LOADER_H
#define SVCBPF_LOADER_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "store.h"

struct load_opts {
	bool xdp;
	/* 0 = keep what is pinned, or the default when nothing is. */
	uint32_t max_services;
	uint32_t max_backends;
	uint32_t ct_size;
	uint32_t maglev_m;
	/* Conntrack timeouts in seconds; 0 = keep what is set, or the default. */
	uint32_t ct_timeout_syn;
	uint32_t ct_timeout_tcp;
	uint32_t ct_timeout_fin;
	uint32_t ct_timeout_udp;
};

/*
 * Make sure @pin_dir sits on a bpffs that outlives this process. Under
 * `ip netns exec` (a private mount namespace whose fresh /sys has no bpffs)
 * join the caller's mount namespace, keeping the network namespace and the
 * working directory. With @create, mount bpffs at /sys/fs/bpf if it is
 * missing and create @pin_dir (0700). Returns 0, -ENOENT (not there and not
 * @create), or -errno with @err set.
 */
int bpffs_prepare(const char *pin_dir, bool create, char err[ERR_LEN]);

/*
 * Load (or upgrade) the programs, program the maps from @md, then attach to
 * @ifnames[0..n). Pinned maps are reused with their entries (conntrack too).
 */
int dp_load(const char *pin_dir, char *const *ifnames, int n, const struct load_opts *o,
	    const struct model *md, bool debug, char err[ERR_LEN]);
/*
 * Load @skel (opened, maps sized by the caller) with nothing pinned or
 * attached, default settings written, and fill @m: for tests and benches.
 */
struct svcbpf_bpf;
struct dp_maps;
int dp_load_unpinned(struct svcbpf_bpf *skel, struct dp_maps *m);

/* Detach from @ifnames (all when n == 0); remove every pin when none is left. */
int dp_unload(const char *pin_dir, char *const *ifnames, int n, char err[ERR_LEN]);

/*
 * Make the node address maps hold the IPv4 addresses of the interfaces
 * svcbpf is attached to (where NodePorts answer) and, per interface, the
 * address a masqueraded client leaves it as (its first). load, unload and
 * sync call it; an address added later counts from the next sync.
 */
int dp_node_addrs_sync(const char *pin_dir, const struct dp_maps *m, char err[ERR_LEN]);

struct hook_info {
	char ifname[IF_NAMESIZE]; /* the pin's name */
	char hook[16]; /* tc_ingress, tc_egress, xdp */
	const char *mode; /* tcx, xdp-native, xdp-generic, detached */
	uint32_t ifindex; /* 0 when the device is gone */
	uint32_t link_id;
	uint32_t prog_id;
	char prog_name[32];
	uint64_t run_cnt; /* with kernel.bpf_stats_enabled */
	uint64_t run_time_ns;
};

/* Every attachment pinned under @pin_dir; caller frees *out. */
int dp_list_hooks(const char *pin_dir, struct hook_info **out, int *n);

/* Root, or CAP_BPF + CAP_NET_ADMIN (or CAP_SYS_ADMIN). */
bool have_privileges(void);

#endif /* SVCBPF_LOADER_H */
