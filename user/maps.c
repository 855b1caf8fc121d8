// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* maps.c - userspace side of the pinned maps, and the reconciler. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maglev.h"
#include "maps.h"
#include "svcbpf.h"

const struct dp_counter_info dp_counters[SVCBPF_CNT_MAX] = {
	[SVCBPF_CNT_DNAT_NEW] = { "dnat_new_flow", DP_CNT_TRAFFIC },
	[SVCBPF_CNT_DNAT_EST] = { "dnat_tracked", DP_CNT_TRAFFIC },
	[SVCBPF_CNT_REVNAT] = { "reverse_nat", DP_CNT_TRAFFIC },
	[SVCBPF_CNT_XDP_DEFER] = { "xdp_deferred_to_tc", DP_CNT_TRAFFIC },
	[SVCBPF_CNT_DROP_NO_BACKEND] = { "drop_no_backend", DP_CNT_REASON, "no_backend", "drop" },
	[SVCBPF_CNT_PASS_FRAGMENT] = { "pass_fragment", DP_CNT_REASON, "fragment", "pass" },
	[SVCBPF_CNT_PASS_MALFORMED] = { "pass_malformed", DP_CNT_REASON, "malformed", "pass" },
	[SVCBPF_CNT_DROP_REWRITE] = { "drop_rewrite_failed", DP_CNT_REASON, "rewrite_failed",
				      "drop" },
	[SVCBPF_CNT_REJECT] = { "reject_no_backend", DP_CNT_REASON, "no_backend", "reject" },
	[SVCBPF_CNT_CT_FULL] = { "conntrack_full", DP_CNT_REASON, "conntrack_full", "untracked" },
	[SVCBPF_CNT_MON_LOST] = { "monitor_events_lost", DP_CNT_OTHER },
	[SVCBPF_CNT_SNAT] = { "snat", DP_CNT_TRAFFIC },
	[SVCBPF_CNT_UNSNAT] = { "reverse_snat", DP_CNT_TRAFFIC },
	[SVCBPF_CNT_ICMP_XLATE] = { "icmp_error_translated", DP_CNT_TRAFFIC },
	[SVCBPF_CNT_DROP_SOURCE_RANGE] = { "drop_source_range", DP_CNT_REASON, "source_range",
					   "drop" },
	[SVCBPF_CNT_DROP_NO_LOCAL] = { "drop_no_local_backend", DP_CNT_REASON, "no_local_backend",
				       "drop" },
	[SVCBPF_CNT_DROP_SNAT] = { "drop_snat_failed", DP_CNT_REASON, "snat_failed", "drop" },
	[SVCBPF_CNT_RUN_TC_INGRESS] = { "runs_tc_ingress", DP_CNT_RUN },
	[SVCBPF_CNT_RUN_TC_EGRESS] = { "runs_tc_egress", DP_CNT_RUN },
	[SVCBPF_CNT_RUN_XDP] = { "runs_xdp", DP_CNT_RUN },
};

const char *const dp_hook_names[3] = {
	[SVCBPF_HOOK_TC_INGRESS] = "tc_ingress",
	[SVCBPF_HOOK_TC_EGRESS] = "tc_egress",
	[SVCBPF_HOOK_XDP] = "xdp",
};

const char *const dp_event_names[SVCBPF_EV_MAX] = {
	[0] = "none",
	[SVCBPF_EV_NEW] = "new",
	[SVCBPF_EV_REPLY] = "reply",
	[SVCBPF_EV_REJECT] = "reject",
	[SVCBPF_EV_DROP] = "drop",
	[SVCBPF_EV_SKIP] = "skip",
	[SVCBPF_EV_DNAT] = "dnat",
	[SVCBPF_EV_REVNAT] = "revnat",
};

static int open_pin(const char *dir, const char *name)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

#define DP_FDS(m)                                                                          \
	{                                                                                  \
		&(m)->svc, &(m)->be, &(m)->mag, &(m)->ct, &(m)->cnt, &(m)->aff, &(m)->cfg, \
			&(m)->sst, &(m)->bst, &(m)->evt, &(m)->mon, &(m)->sync, &(m)->src, \
			&(m)->nip, &(m)->ifa                                               \
	}

int maps_open(const char *pin_dir, struct dp_maps *m)
{
	int *fds[] = DP_FDS(m);
	static const char *const names[] = {
		SVCBPF_MAP_SVC,	     SVCBPF_MAP_BE,	 SVCBPF_MAP_MAGLEV,  SVCBPF_MAP_CT,
		SVCBPF_MAP_CNT,	     SVCBPF_MAP_AFF,	 SVCBPF_MAP_CFG,     SVCBPF_MAP_SVC_STATS,
		SVCBPF_MAP_BE_STATS, SVCBPF_MAP_EVENTS,	 SVCBPF_MAP_MON,     SVCBPF_MAP_SYNC,
		SVCBPF_MAP_SRC,	     SVCBPF_MAP_NODE_IP, SVCBPF_MAP_IF_ADDR,
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == sizeof(fds) / sizeof(fds[0]),
		       "a name for every map");
	struct svcbpf_cfg cfg;
	int missing = 0, err = 0;

	*m = (struct dp_maps)DP_MAPS_CLOSED;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		*fds[i] = open_pin(pin_dir, names[i]);
		if (*fds[i] >= 0)
			continue;
		if (errno == ENOENT)
			missing++;
		else if (!err)
			err = -errno;
	}
	/* Not loaded only when nothing is pinned; a partial set is an error. */
	if (!err && missing == (int)(sizeof(fds) / sizeof(fds[0])))
		err = -ENOENT;
	else if (!err && missing)
		err = -ENODATA;
	if (err) {
		maps_close(m);
		return err;
	}
	if (!dp_cfg_read(m, &cfg) && cfg.maglev_m)
		m->maglev_m = cfg.maglev_m;
	return 0;
}

int dp_cfg_read(const struct dp_maps *m, struct svcbpf_cfg *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(m->cfg, &zero, cfg) ? -errno : 0;
}

int dp_cfg_write(const struct dp_maps *m, const struct svcbpf_cfg *cfg)
{
	__u32 zero = 0;

	return bpf_map_update_elem(m->cfg, &zero, cfg, BPF_ANY) ? -errno : 0;
}

void maps_close(struct dp_maps *m)
{
	int *fds[] = DP_FDS(m);

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* The kernel's own accounting of a map's memory, from /proc/self/fdinfo. */
static uint64_t fdinfo_memlock(int fd)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

int map_usage(int fd, struct map_usage *u)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	void *key, *next;
	int err;

	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return -errno;
	u->id = info.id;
	u->max_entries = info.max_entries;
	u->memlock = fdinfo_memlock(fd);
	u->entries = 0;
	if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		u->entries = info.max_entries;
		return 0;
	}
	key = calloc(2, info.key_size);
	if (!key)
		return -ENOMEM;
	next = (char *)key + info.key_size;
	if (!bpf_map_get_next_key(fd, NULL, next)) {
		do {
			u->entries++;
			memcpy(key, next, info.key_size);
		} while (!bpf_map_get_next_key(fd, key, next) && u->entries <= info.max_entries);
	}
	free(key);
	return 0;
}

static struct svc_key svc_key_of(const struct l4addr *a)
{
	struct svc_key k;

	memset(&k, 0, sizeof(k));
	k.vip = htonl(a->ip);
	k.port = htons(a->port);
	k.proto = a->proto;
	return k;
}

static struct backend_value backend_value_of(const struct be_rec *b)
{
	struct backend_value v;

	memset(&v, 0, sizeof(v));
	v.ip = htonl(b->addr.ip);
	v.port = htons(b->addr.port);
	v.weight = b->weight;
	v.state = b->state;
	return v;
}

struct svc_value dp_svc_value_of(const struct svc_rec *r)
{
	struct svc_value v;

	memset(&v, 0, sizeof(v));
	v.id = (uint32_t)r->id;
	if (r->affinity) {
		v.flags = SVCBPF_SVC_AFFINITY;
		v.affinity_timeout = r->affinity;
	}
	if (r->nranges)
		v.flags |= SVCBPF_SVC_SRC_RANGES;
	v.flags |= r->flags & (SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ | SVCBPF_SVC_LOCAL);
	return v;
}

static struct src_key src_key_of(uint32_t id, const struct cidr4 *c)
{
	struct src_key k;

	memset(&k, 0, sizeof(k));
	k.prefixlen = 32 + c->len;
	k.svc_id = id;
	k.addr = htonl(c->ip);
	return k;
}

/* Is @k one of @r's source ranges? */
static bool src_wanted(const struct svc_rec *r, const struct src_key *k)
{
	for (size_t i = 0; r && i < r->nranges; i++) {
		struct src_key w = src_key_of((uint32_t)r->id, &r->ranges[i]);

		if (!memcmp(&w, k, sizeof(w)))
			return true;
	}
	return false;
}

/*
 * Write @r's loadBalancerSourceRanges entries (before the service entry
 * whose flag makes the dataplane look them up). Returns 0 or -errno.
 */
static int src_write(const struct dp_maps *m, const struct svc_rec *r)
{
	__u8 one = 1;

	for (size_t i = 0; m->src >= 0 && i < r->nranges; i++) {
		struct src_key k = src_key_of((uint32_t)r->id, &r->ranges[i]);

		if (bpf_map_update_elem(m->src, &k, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

static void *map_keys(int fd, size_t ksz, size_t *n);

/*
 * Delete the source range entries of service @id that @r (NULL: none) does
 * not have: after the service entry stopped naming them. With @ids (sorted,
 * @nids), every entry whose service is not among them instead.
 */
static void src_sweep(const struct dp_maps *m, uint32_t id, const struct svc_rec *r,
		      const uint32_t *ids, size_t nids)
{
	struct src_key *keys;
	size_t n;

	if (m->src < 0)
		return;
	keys = map_keys(m->src, sizeof(*keys), &n);
	for (size_t i = 0; keys && i < n; i++) {
		bool stale;

		if (ids) {
			stale = true;
			for (size_t lo = 0, hi = nids; lo < hi && stale;) {
				size_t mid = (lo + hi) / 2;

				if (ids[mid] == keys[i].svc_id)
					stale = false;
				else if (ids[mid] < keys[i].svc_id)
					lo = mid + 1;
				else
					hi = mid;
			}
		} else {
			stale = keys[i].svc_id == id && !src_wanted(r, &keys[i]);
		}
		if (stale)
			bpf_map_delete_elem(m->src, &keys[i]);
	}
	free(keys);
}

static int map_err(char err[ERR_LEN], const char *what, const struct l4addr *a, int e)
{
	char buf[ADDR_STR_LEN];

	if (e == E2BIG || e == ENOMEM)
		snprintf(err, ERR_LEN, "cannot program %s: %s map full", fmt_l4addr(buf, a, true),
			 what);
	else
		snprintf(err, ERR_LEN, "cannot program %s: %s map update: %s",
			 fmt_l4addr(buf, a, true), what, strerror(e));
	return -e;
}

/* Read service @svc_id's table into @slots: 0, -ENOENT when it has none, -errno. */
int dp_table_read(const struct dp_maps *m, uint32_t svc_id, uint32_t *slots)
{
	__u32 inner_id, zero = 0;
	int fd, ret = 0;

	if (bpf_map_lookup_elem(m->mag, &svc_id, &inner_id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (bpf_map_lookup_elem(fd, &zero, slots))
		ret = -errno;
	close(fd);
	return ret;
}

int64_t dp_table_slot(const struct dp_maps *m, uint32_t svc_id, uint32_t slot)
{
	uint32_t *t = malloc((size_t)m->maglev_m * sizeof(*t));
	int64_t id;
	int ret;

	if (!t)
		return -ENOMEM;
	if (slot >= m->maglev_m) {
		free(t);
		return -ERANGE;
	}
	ret = dp_table_read(m, svc_id, t);
	id = ret == -ENOENT ? 0 : ret < 0 ? (int64_t)ret : (int64_t)t[slot];
	free(t);
	return id;
}

/*
 * A one-entry array of M slots: the Maglev map's template. (Written with
 * one update; an mmapable table written in place measured slower: page
 * faults and TLB shootdowns on every new table.)
 */
int dp_table_create(uint32_t maglev_m)
{
	return bpf_map_create(BPF_MAP_TYPE_ARRAY, "svcbpf_mag_tbl", sizeof(__u32),
			      maglev_m * sizeof(__u32), 1, NULL);
}

uint64_t dp_table_memory(const struct dp_maps *m)
{
	uint64_t bytes = 0;
	__u32 key, inner;
	int fd;

	if (!bpf_map_get_next_key(m->mag, NULL, &key) &&
	    !bpf_map_lookup_elem(m->mag, &key, &inner) && (fd = bpf_map_get_fd_by_id(inner)) >= 0) {
		bytes = fdinfo_memlock(fd);
		close(fd);
	}
	if (!bytes) {
		int fd2 = dp_table_create(m->maglev_m);

		if (fd2 >= 0) {
			bytes = fdinfo_memlock(fd2);
			close(fd2);
		}
	}
	return bytes;
}

/*
 * Publish @slots as service @id's table (one write: the kernel keeps the
 * old table whole for any packet still reading it), or drop its table when
 * @owners is 0. @cur is the table in place (NULL: none), left alone when equal.
 */
static int table_publish(const struct dp_maps *m, uint32_t id, const uint32_t *slots, int owners,
			 const uint32_t *cur)
{
	__u32 zero = 0;
	int fd, ret = 0;

	if (owners <= 0) {
		if (bpf_map_delete_elem(m->mag, &id) && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (cur && !memcmp(cur, slots, (size_t)m->maglev_m * sizeof(*slots)))
		return 0;
	fd = dp_table_create(m->maglev_m);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &zero, slots, BPF_ANY) ||
	    bpf_map_update_elem(m->mag, &id, &fd, BPF_ANY))
		ret = -errno;
	close(fd);
	return ret;
}

/* One per-CPU lb_stats value for every possible CPU, all zero; NULL on failure. */
static void *stats_zero(size_t n)
{
	int ncpu = libbpf_num_possible_cpus();

	return ncpu > 0 ? calloc(n ? n : 1, (size_t)ncpu * sizeof(struct lb_stats)) : NULL;
}

/*
 * Give @r and its backends their traffic counters where they have none
 * (those they have keep counting). Returns 0 or -errno.
 */
static int stats_create(const struct dp_maps *m, const struct svc_rec *r)
{
	void *zero = stats_zero(1);
	__u32 id = (__u32)r->id;
	int ret = 0;

	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(m->sst, &id, zero, BPF_NOEXIST) && errno != EEXIST)
		ret = -errno;
	for (size_t i = 0; i < r->nbe && !ret; i++) {
		id = (__u32)r->be[i].id;
		if (bpf_map_update_elem(m->bst, &id, zero, BPF_NOEXIST) && errno != EEXIST)
			ret = -errno;
	}
	free(zero);
	return ret;
}

/* Write @r's backends that differ from what the map holds. */
static int backends_write(const struct dp_maps *m, const struct svc_rec *r, char err[ERR_LEN])
{
	for (size_t i = 0; i < r->nbe; i++) {
		struct backend_value v = backend_value_of(&r->be[i]), cur;
		__u32 id = (__u32)r->be[i].id;

		if (!bpf_map_lookup_elem(m->be, &id, &cur) && !memcmp(&cur, &v, sizeof(v)))
			continue;
		if (bpf_map_update_elem(m->be, &id, &v, BPF_ANY))
			return map_err(err, "backend", &r->addr, errno);
	}
	return 0;
}

int dp_sync_service(const struct dp_maps *m, const struct svc_rec *r, char err[ERR_LEN])
{
	struct svc_key key = svc_key_of(&r->addr);
	struct svc_value val = dp_svc_value_of(r), old;
	uint32_t *slots, *cur;
	bool have_old;
	int owners, ret;

	if (r->id <= 0 || r->id > INT32_MAX) {
		snprintf(err, ERR_LEN, "service id %lld out of range", (long long)r->id);
		return -ERANGE;
	}
	/* 1. Backends: written before any table can name them; counters before traffic. */
	ret = stats_create(m, r);
	if (ret)
		return map_err(err, "counters", &r->addr, -ret);
	ret = backends_write(m, r, err);
	if (ret)
		return ret;

	/* 2. The table, built whole, then switched to in one write. */
	slots = malloc(2 * (size_t)m->maglev_m * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	cur = slots + m->maglev_m;
	owners = maglev_build_svc(r, m->maglev_m, slots);
	ret = owners < 0 ? owners :
			   table_publish(m, val.id, slots, owners,
					 dp_table_read(m, val.id, cur) ? NULL : cur);
	free(slots);
	if (ret)
		return map_err(err, "Maglev", &r->addr, -ret);

	/* 3. Its source ranges, before an entry that turns them on. */
	ret = src_write(m, r);
	if (ret)
		return map_err(err, "source range", &r->addr, -ret);

	/* 4. The service entry, when it is new or its settings changed. */
	have_old = !bpf_map_lookup_elem(m->svc, &key, &old);
	if (!have_old || memcmp(&old, &val, sizeof(val))) {
		if (bpf_map_update_elem(m->svc, &key, &val, BPF_ANY))
			return map_err(err, "service", &r->addr, errno);
		/* Deleted and added again (one batch): the old id's table goes. */
		if (have_old && old.id != val.id) {
			bpf_map_delete_elem(m->mag, &old.id);
			if (old.flags & SVCBPF_SVC_SRC_RANGES)
				src_sweep(m, old.id, NULL, NULL, 0);
		}
	}
	/* 5. Ranges it no longer has: no entry looks them up any more. */
	if (r->nranges || (have_old && (old.flags & SVCBPF_SVC_SRC_RANGES)))
		src_sweep(m, val.id, r, NULL, 0);
	return 0;
}

/* Write @n entries in one syscall where the kernel can, else one by one. */
static int update_many(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, size_t n)
{
	__u32 count = (__u32)n;

	if (!n || !bpf_map_update_batch(fd, keys, vals, &count, NULL))
		return 0;
	/* 524 is the kernel's ENOTSUPP: no batch op for this map type. */
	if (errno != EINVAL && errno != 524 && errno != EOPNOTSUPP)
		return -errno;
	for (size_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz,
					(const char *)vals + i * vsz, BPF_ANY))
			return -errno;
	return 0;
}

/* Zeroed counters at @ids[0..n) of stats map @fd, a chunk of entries a syscall. */
static int stats_create_many(int fd, const __u32 *ids, size_t n)
{
	const size_t chunk = 1024;
	int ncpu = libbpf_num_possible_cpus();
	void *zero = stats_zero(chunk);
	int ret = 0;

	if (!zero)
		return -ENOMEM;
	for (size_t i = 0; i < n && !ret; i += chunk)
		ret = update_many(fd, ids + i, sizeof(*ids), zero,
				  (size_t)ncpu * sizeof(struct lb_stats),
				  n - i < chunk ? n - i : chunk);
	free(zero);
	return ret;
}

int dp_sync_services(const struct dp_maps *m, const struct svc_rec *const *r, size_t n,
		     char err[ERR_LEN])
{
	struct svc_key *sk = NULL;
	struct svc_value *sv = NULL;
	struct backend_value *bv = NULL;
	const struct svc_rec **fresh = NULL;
	uint32_t *slots = NULL;
	__u32 *bid = NULL, *sid = NULL;
	size_t nsvc = 0, nbe = 0, total = 0;
	int ret = 0, failed = 0;

	for (size_t i = 0; i < n; i++)
		total += r[i]->nbe;
	sk = calloc(n + 1, sizeof(*sk));
	sv = calloc(n + 1, sizeof(*sv));
	fresh = calloc(n + 1, sizeof(*fresh));
	bv = calloc(total + 1, sizeof(*bv));
	bid = calloc(total + 1, sizeof(*bid));
	sid = calloc(n + 1, sizeof(*sid));
	slots = malloc((size_t)m->maglev_m * sizeof(*slots));
	if (!sk || !sv || !fresh || !bv || !bid || !sid || !slots) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct svc_key key = svc_key_of(&r[i]->addr);
		struct svc_value old;

		/* A service already in the maps takes the careful one-by-one path. */
		if (!bpf_map_lookup_elem(m->svc, &key, &old)) {
			char e[ERR_LEN];
			int r2 = dp_sync_service(m, r[i], e);

			/* Go on with the others; report the first failure. */
			if (r2 && !failed) {
				failed = r2;
				memcpy(err, e, ERR_LEN);
			}
			continue;
		}
		if (r[i]->id <= 0 || r[i]->id > INT32_MAX) {
			snprintf(err, ERR_LEN, "service id %lld out of range", (long long)r[i]->id);
			ret = -ERANGE;
			goto out;
		}
		for (size_t j = 0; j < r[i]->nbe; j++) {
			bid[nbe] = (__u32)r[i]->be[j].id;
			bv[nbe++] = backend_value_of(&r[i]->be[j]);
		}
		fresh[nsvc] = r[i];
		sk[nsvc] = key;
		sv[nsvc++] = dp_svc_value_of(r[i]);
	}
	/* The same order as one service: counters and backends, tables, then the services. */
	for (size_t i = 0; i < nsvc; i++)
		sid[i] = sv[i].id;
	ret = stats_create_many(m->sst, sid, nsvc);
	if (!ret)
		ret = stats_create_many(m->bst, bid, nbe);
	if (!ret)
		ret = update_many(m->be, bid, sizeof(*bid), bv, sizeof(*bv), nbe);
	for (size_t i = 0; i < nsvc && !ret; i++) {
		int owners = maglev_build_svc(fresh[i], m->maglev_m, slots);

		ret = owners < 0 ? owners : table_publish(m, sv[i].id, slots, owners, NULL);
		/* Source ranges before the entry that turns them on. */
		if (!ret)
			ret = src_write(m, fresh[i]);
	}
	if (!ret)
		ret = update_many(m->svc, sk, sizeof(*sk), sv, sizeof(*sv), nsvc);
	if (ret)
		snprintf(err, ERR_LEN, "cannot program %zu services: %s", nsvc,
			 ret == -E2BIG || ret == -ENOMEM ? "map full" : strerror(-ret));
	else
		ret = failed;
out:
	free(sk);
	free(sv);
	free(fresh);
	free(bv);
	free(bid);
	free(sid);
	free(slots);
	return ret;
}

int dp_remove_service(const struct dp_maps *m, const struct l4addr *svc)
{
	struct svc_key key = svc_key_of(svc);
	struct svc_value old;

	if (bpf_map_lookup_elem(m->svc, &key, &old))
		return 0;
	if (bpf_map_delete_elem(m->svc, &key))
		return -errno;
	if (bpf_map_delete_elem(m->mag, &old.id) && errno != ENOENT)
		return -errno;
	bpf_map_delete_elem(m->sst, &old.id);
	/* Its source ranges, now that no entry looks them up (others: dp_sync_all sweeps). */
	if (old.flags & SVCBPF_SVC_SRC_RANGES)
		src_sweep(m, old.id, NULL, NULL, 0);
	return 0;
}

/* Read every entry of hash map @fd (@ksz/@vsz bytes each); caller frees both. */
static int map_read_all(int fd, size_t ksz, size_t vsz, void **keys, void **vals, size_t *n)
{
	size_t cap = 1024, got = 0;
	char *k = malloc(cap * ksz), *v = malloc(cap * vsz);
	__u64 batch = 0;
	bool first = true;

	*keys = *vals = NULL;
	*n = 0;
	if (!k || !v)
		goto nomem;
	for (;;) {
		__u32 count;
		int rc;

		if (cap - got < 256) {
			char *nk = realloc(k, cap * 2 * ksz), *nv;

			if (!nk)
				goto nomem;
			k = nk;
			nv = realloc(v, cap * 2 * vsz);
			if (!nv)
				goto nomem;
			v = nv;
			cap *= 2;
		}
		count = (__u32)(cap - got);
		rc = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, k + got * ksz,
					  v + got * vsz, &count, NULL);
		first = false;
		if (rc && errno != ENOENT) {
			int e = -errno;

			free(k);
			free(v);
			return e;
		}
		got += count;
		if (rc)
			break; /* ENOENT: that was the last batch */
	}
	*keys = k;
	*vals = v;
	*n = got;
	return 0;
nomem:
	free(k);
	free(v);
	return -ENOMEM;
}

int dp_ct_read(const struct dp_maps *m, struct ct_key **keys, struct ct_value **vals, size_t *n)
{
	return map_read_all(m->ct, sizeof(**keys), sizeof(**vals), (void **)keys, (void **)vals, n);
}

/* Delete @keys[0..n) from @fd; returns how many were there. */
static size_t delete_many(int fd, const void *keys, size_t ksz, size_t n)
{
	size_t gone = 0;

	for (size_t i = 0; i < n; i++)
		gone += !bpf_map_delete_elem(fd, (const char *)keys + i * ksz);
	return gone;
}

size_t dp_ct_delete(const struct dp_maps *m, const struct ct_key *keys, size_t n)
{
	return delete_many(m->ct, keys, sizeof(*keys), n);
}

uint64_t dp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint32_t dp_ct_timeout(const struct svcbpf_cfg *cfg, uint8_t proto, uint8_t state)
{
	if (proto == IPPROTO_UDP)
		return cfg->ct_timeout_udp;
	return state == SVCBPF_CT_NEW	      ? cfg->ct_timeout_syn :
	       state == SVCBPF_CT_ESTABLISHED ? cfg->ct_timeout_tcp :
						cfg->ct_timeout_fin;
}

size_t dp_aff_flush(const struct dp_maps *m, const struct l4addr *svc)
{
	struct svc_key key;
	struct svc_value v;
	struct aff_key *ak;
	struct aff_value *av;
	size_t n, k = 0;

	if (svc) {
		key = svc_key_of(svc);
		if (bpf_map_lookup_elem(m->svc, &key, &v))
			return 0;
	}
	if (map_read_all(m->aff, sizeof(*ak), sizeof(*av), (void **)&ak, (void **)&av, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!svc || ak[i].svc_id == v.id)
			ak[k++] = ak[i];
	k = delete_many(m->aff, ak, sizeof(*ak), k);
	free(ak);
	free(av);
	return k;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int dp_remove_backends(const struct dp_maps *m, const uint32_t *ids, size_t n)
{
	uint32_t *sorted;
	struct ct_key *ck;
	struct ct_value *cv;
	struct aff_key *ak;
	struct aff_value *av;
	size_t nct, naff, k = 0;
	int ret;

	if (!n)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, ids, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	for (size_t i = 0; i < n; i++) {
		bpf_map_delete_elem(m->be, &sorted[i]);
		bpf_map_delete_elem(m->bst, &sorted[i]);
	}

	/*
	 * Their flows go: the next client packet takes another backend (UDP too:
	 * kube-proxy clears those at once). A TCP reply already on its way from
	 * the old backend is still translated back, for the fin timeout, so the
	 * client sees it come from the service and its answer meets the new
	 * backend's reset, rather than hanging on a reply from a pod's address.
	 */
	ret = dp_ct_read(m, &ck, &cv, &nct);
	if (!ret) {
		for (size_t i = 0; i < nct; i++) {
			if (!bsearch(&cv[i].backend_id, sorted, n, sizeof(*sorted), cmp_u32))
				continue;
			if (ck[i].dir == SVCBPF_CT_REV && ck[i].proto == IPPROTO_TCP) {
				cv[i].state = SVCBPF_CT_CLOSED;
				bpf_map_update_elem(m->ct, &ck[i], &cv[i], BPF_EXIST);
				continue;
			}
			ck[k++] = ck[i];
		}
		dp_ct_delete(m, ck, k);
		free(ck);
		free(cv);
	}
	/* And the clients whose affinity named them. */
	if (!ret)
		ret = map_read_all(m->aff, sizeof(*ak), sizeof(*av), (void **)&ak, (void **)&av,
				   &naff);
	if (!ret) {
		k = 0;
		for (size_t i = 0; i < naff; i++)
			if (bsearch(&av[i].backend_id, sorted, n, sizeof(*sorted), cmp_u32))
				ak[k++] = ak[i];
		delete_many(m->aff, ak, sizeof(*ak), k);
		free(ak);
		free(av);
	}
	free(sorted);
	return ret;
}

/*
 * Does the trie hold exactly @r's ranges under its id? (A lookup would
 * not say: an LPM trie answers with the longest prefix that covers a key.)
 */
static bool src_programmed(const struct dp_maps *m, const struct svc_rec *r)
{
	struct src_key *keys;
	size_t n, mine = 0;
	bool ok = true;

	if (m->src < 0)
		return false;
	keys = map_keys(m->src, sizeof(*keys), &n);
	if (!keys)
		return false;
	for (size_t i = 0; i < n && ok; i++) {
		if (keys[i].svc_id != (uint32_t)r->id)
			continue;
		mine++;
		ok = src_wanted(r, &keys[i]);
	}
	free(keys);
	/* Each wanted one is there once (the ranges of a row are distinct). */
	return ok && mine == r->nranges;
}

bool dp_service_programmed(const struct dp_maps *m, const struct svc_rec *r)
{
	struct svc_key key = svc_key_of(&r->addr);
	struct svc_value want = dp_svc_value_of(r), got;
	uint32_t *slots, *table;
	bool ok = true;
	int owners, rc;

	if (bpf_map_lookup_elem(m->svc, &key, &got) || memcmp(&got, &want, sizeof(got)))
		return false;
	/* Flags are compared with the entry; the ranges are entries of their own. */
	if (r->nranges && !src_programmed(m, r))
		return false;
	for (size_t i = 0; i < r->nbe; i++) {
		struct backend_value bw = backend_value_of(&r->be[i]), bg;
		__u32 id = (__u32)r->be[i].id;

		if (bpf_map_lookup_elem(m->be, &id, &bg) || memcmp(&bg, &bw, sizeof(bg)))
			return false;
	}
	/* The table in place is the one the store's backend set builds. */
	slots = malloc(2 * (size_t)m->maglev_m * sizeof(*slots));
	if (!slots)
		return false;
	table = slots + m->maglev_m;
	owners = maglev_build_svc(r, m->maglev_m, slots);
	rc = dp_table_read(m, want.id, table);
	if (owners < 0)
		ok = false;
	else if (!owners)
		ok = rc == -ENOENT;
	else
		ok = !rc && !memcmp(table, slots, (size_t)m->maglev_m * sizeof(*slots));
	free(slots);
	return ok;
}

static int cmp_svc(const void *a, const void *b)
{
	const struct l4addr *x = a, *y = &((const struct svc_rec *)b)->addr;

	return l4addr_cmp(x, y);
}

/* Collect every key of @fd (@ksz bytes each) into a new array. */
static void *map_keys(int fd, size_t ksz, size_t *n)
{
	size_t cap = 64;
	char *keys = malloc(cap * ksz), *prev = NULL;

	*n = 0;
	if (!keys)
		return NULL;
	for (;;) {
		if (*n == cap) {
			char *nk = realloc(keys, cap * 2 * ksz);

			if (!nk)
				break;
			keys = nk;
			cap *= 2;
		}
		prev = *n ? keys + (*n - 1) * ksz : NULL;
		if (bpf_map_get_next_key(fd, prev, keys + *n * ksz))
			break;
		(*n)++;
	}
	return keys;
}

int dp_sync_all(const struct dp_maps *m, const struct model *md, char err[ERR_LEN])
{
	uint32_t *ids = NULL, *bes = NULL, *gone = NULL;
	const struct svc_rec **recs;
	size_t nids = 0, nbes = 0, nkeys, ngone = 0;
	struct svc_key *sk;
	int ret = 0;

	/* Removals first: what the store dropped frees room for what it added. */
	sk = map_keys(m->svc, sizeof(*sk), &nkeys);
	for (size_t i = 0; sk && i < nkeys; i++) {
		struct l4addr a = { .ip = ntohl(sk[i].vip),
				    .port = ntohs(sk[i].port),
				    .proto = sk[i].proto };

		if (!bsearch(&a, md->svc, md->n, sizeof(*md->svc), cmp_svc))
			dp_remove_service(m, &a);
	}
	free(sk);

	recs = calloc(md->n + 1, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	for (size_t i = 0; i < md->n; i++) {
		recs[i] = &md->svc[i];
		nbes += md->svc[i].nbe;
	}
	ret = dp_sync_services(m, recs, md->n, err);
	free(recs);
	if (ret)
		return ret;

	/* Tables of services the store lacks, and backends no service has. */
	ids = calloc(md->n + 1, sizeof(*ids));
	bes = calloc(nbes + 1, sizeof(*bes));
	if (!ids || !bes) {
		ret = -ENOMEM;
		goto out;
	}
	nbes = 0;
	for (size_t i = 0; i < md->n; i++) {
		ids[nids++] = (uint32_t)md->svc[i].id;
		for (size_t j = 0; j < md->svc[i].nbe; j++)
			bes[nbes++] = (uint32_t)md->svc[i].be[j].id;
	}
	qsort(ids, nids, sizeof(*ids), cmp_u32);
	qsort(bes, nbes, sizeof(*bes), cmp_u32);

	/* Source ranges of services the store lacks (each service's own: its sync above). */
	src_sweep(m, 0, NULL, ids, nids);

	__u32 *keys = map_keys(m->mag, sizeof(*keys), &nkeys);

	for (size_t i = 0; keys && i < nkeys; i++)
		if (!bsearch(&keys[i], ids, nids, sizeof(*ids), cmp_u32))
			bpf_map_delete_elem(m->mag, &keys[i]);
	free(keys);
	/* Counters of services and backends that are gone. */
	keys = map_keys(m->sst, sizeof(*keys), &nkeys);
	for (size_t i = 0; keys && i < nkeys; i++)
		if (!bsearch(&keys[i], ids, nids, sizeof(*ids), cmp_u32))
			bpf_map_delete_elem(m->sst, &keys[i]);
	free(keys);
	keys = map_keys(m->bst, sizeof(*keys), &nkeys);
	for (size_t i = 0; keys && i < nkeys; i++)
		if (!bsearch(&keys[i], bes, nbes, sizeof(*bes), cmp_u32))
			bpf_map_delete_elem(m->bst, &keys[i]);
	free(keys);

	keys = map_keys(m->be, sizeof(*keys), &nkeys);
	gone = calloc(nkeys + 1, sizeof(*gone));
	for (size_t i = 0; keys && gone && i < nkeys; i++)
		if (!bsearch(&keys[i], bes, nbes, sizeof(*bes), cmp_u32))
			gone[ngone++] = keys[i];
	free(keys);
	ret = dp_remove_backends(m, gone, ngone);
out:
	free(ids);
	free(bes);
	free(gone);
	return ret;
}

int dp_read_counters(const struct dp_maps *m, struct counter_value *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct counter_value *percpu;

	if (ncpu <= 0)
		return -EINVAL;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (__u32 i = 0; i < SVCBPF_CNT_MAX; i++) {
		out[i] = (struct counter_value){ 0 };
		if (bpf_map_lookup_elem(m->cnt, &i, percpu))
			continue;
		for (int c = 0; c < ncpu; c++) {
			out[i].packets += percpu[c].packets;
			out[i].bytes += percpu[c].bytes;
		}
	}
	free(percpu);
	return 0;
}

int dp_stats_read(int fd, uint32_t id, struct lb_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_stats *percpu = stats_zero(1);
	__u32 key = id;
	int ret = 0;

	*out = (struct lb_stats){ 0 };
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, percpu))
		ret = -errno;
	for (int c = 0; !ret && c < ncpu; c++) {
		out->packets += percpu[c].packets;
		out->bytes += percpu[c].bytes;
		out->reply_packets += percpu[c].reply_packets;
		out->reply_bytes += percpu[c].reply_bytes;
		out->flows += percpu[c].flows;
		out->drops += percpu[c].drops;
	}
	free(percpu);
	return ret;
}

int dp_sync_hist_read(const struct dp_maps *m, struct svcbpf_sync_hist *h)
{
	__u32 zero = 0;

	memset(h, 0, sizeof(*h));
	return bpf_map_lookup_elem(m->sync, &zero, h) ? -errno : 0;
}

uint64_t dp_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void dp_sync_observe(const struct dp_maps *m, uint64_t ns)
{
	struct svcbpf_sync_hist h;
	__u32 zero = 0;

	if (m->sync < 0 || dp_sync_hist_read(m, &h))
		return;
	h.count++;
	h.sum_ns += ns;
	h.last_ns = ns;
	for (int i = 0; i < SVCBPF_SYNC_BUCKETS; i++)
		if (ns <= (1000000ULL << i))
			h.le[i]++;
	bpf_map_update_elem(m->sync, &zero, &h, BPF_ANY);
}
