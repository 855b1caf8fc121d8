// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* maps.c - userspace side of the pinned maps, and the reconciler. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"
#include "svcbpf.h"

static int open_pin(const char *dir, const char *name)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

int maps_open(const char *pin_dir, struct dp_maps *m)
{
	int *fds[] = { &m->svc, &m->be, &m->slot, &m->ct, &m->cnt };
	static const char *const names[] = { SVCBPF_MAP_SVC, SVCBPF_MAP_BE, SVCBPF_MAP_SLOT,
					     SVCBPF_MAP_CT, SVCBPF_MAP_CNT };
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
	if (err)
		maps_close(m);
	return err;
}

void maps_close(struct dp_maps *m)
{
	int *fds[] = { &m->svc, &m->be, &m->slot, &m->ct, &m->cnt };

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

static bool be_in(const struct svc_rec *r, uint32_t id)
{
	for (size_t i = 0; i < r->nbe; i++)
		if ((uint64_t)r->be[i].id == id)
			return true;
	return false;
}

/* Free table @table (@count slots), and the backends in it that @keep lacks. */
static void free_table(const struct dp_maps *m, uint32_t table, uint16_t count,
		       const struct svc_rec *keep)
{
	for (uint32_t i = 0; i < count; i++) {
		struct slot_key sk = { .table = table, .slot = i };
		__u32 id;

		if (bpf_map_lookup_elem(m->slot, &sk, &id))
			continue;
		bpf_map_delete_elem(m->slot, &sk);
		if (!keep || !be_in(keep, id))
			bpf_map_delete_elem(m->be, &id);
	}
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

int dp_sync_service(const struct dp_maps *m, const struct svc_rec *r, char err[ERR_LEN])
{
	struct svc_key key = svc_key_of(&r->addr);
	struct svc_value old, val;
	bool have_old, same = false;
	uint16_t count = 0;
	uint32_t table;

	if (r->id <= 0 || r->id > INT32_MAX / 2) {
		snprintf(err, ERR_LEN, "service id %lld out of range", (long long)r->id);
		return -ERANGE;
	}
	have_old = !bpf_map_lookup_elem(m->svc, &key, &old);

	/* 1. Backends: written before anything can select them. */
	for (size_t i = 0; i < r->nbe; i++) {
		struct backend_value v = backend_value_of(&r->be[i]), cur;
		__u32 id = (__u32)r->be[i].id;

		if (!bpf_map_lookup_elem(m->be, &id, &cur) && !memcmp(&cur, &v, sizeof(v)))
			continue;
		if (bpf_map_update_elem(m->be, &id, &v, BPF_ANY))
			return map_err(err, "backend", &r->addr, errno);
	}
	for (size_t i = 0; i < r->nbe; i++)
		if (r->be[i].state == SVCBPF_BE_ACTIVE)
			count++;

	/* Nothing to switch when the current table already says the same. */
	if (have_old && old.id == (uint32_t)r->id && old.count == count) {
		same = true;
		for (uint32_t i = 0, n = 0; same && i < r->nbe; i++) {
			struct slot_key sk = { .table = old.table, .slot = n };
			__u32 id;

			if (r->be[i].state != SVCBPF_BE_ACTIVE)
				continue;
			same = !bpf_map_lookup_elem(m->slot, &sk, &id) && id == (__u32)r->be[i].id;
			n++;
		}
	}
	if (same)
		return 0;

	/* 2. A complete table under the id the service is not using now. */
	table = (uint32_t)r->id * 2;
	if (have_old && old.table == table)
		table++;
	for (uint32_t i = 0, n = 0; i < r->nbe; i++) {
		struct slot_key sk = { .table = table, .slot = n };
		__u32 id = (__u32)r->be[i].id;

		if (r->be[i].state != SVCBPF_BE_ACTIVE)
			continue;
		if (bpf_map_update_elem(m->slot, &sk, &id, BPF_ANY)) {
			int e = errno;

			free_table(m, table, (uint16_t)n, r);
			return map_err(err, "selection", &r->addr, e);
		}
		n++;
	}

	/* 3. Publish: one write switches every new flow to the new table. */
	memset(&val, 0, sizeof(val));
	val.id = (uint32_t)r->id;
	val.table = table;
	val.count = count;
	if (bpf_map_update_elem(m->svc, &key, &val, BPF_ANY)) {
		int e = errno;

		free_table(m, table, count, r);
		return map_err(err, "service", &r->addr, e);
	}

	/* 4. Free what nothing selects any more. */
	if (have_old && old.table != table)
		free_table(m, old.table, old.count, r);
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

int dp_sync_services(const struct dp_maps *m, const struct svc_rec *const *r, size_t n,
		     char err[ERR_LEN])
{
	struct svc_key *sk = NULL;
	struct svc_value *sv = NULL;
	struct slot_key *slk = NULL;
	struct backend_value *bv = NULL;
	__u32 *bid = NULL, *slv = NULL;
	size_t nsvc = 0, nbe = 0, nslot = 0, total = 0;
	int ret = 0, failed = 0;

	for (size_t i = 0; i < n; i++)
		total += r[i]->nbe;
	sk = calloc(n + 1, sizeof(*sk));
	sv = calloc(n + 1, sizeof(*sv));
	slk = calloc(total + 1, sizeof(*slk));
	slv = calloc(total + 1, sizeof(*slv));
	bv = calloc(total + 1, sizeof(*bv));
	bid = calloc(total + 1, sizeof(*bid));
	if (!sk || !sv || !slk || !slv || !bv || !bid) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		struct svc_key key = svc_key_of(&r[i]->addr);
		struct svc_value old;
		uint16_t count = 0;

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
		if (r[i]->id <= 0 || r[i]->id > INT32_MAX / 2) {
			snprintf(err, ERR_LEN, "service id %lld out of range", (long long)r[i]->id);
			ret = -ERANGE;
			break;
		}
		for (size_t j = 0; j < r[i]->nbe; j++) {
			const struct be_rec *b = &r[i]->be[j];

			bid[nbe] = (__u32)b->id;
			bv[nbe++] = backend_value_of(b);
			if (b->state != SVCBPF_BE_ACTIVE)
				continue;
			slk[nslot] = (struct slot_key){ .table = (uint32_t)r[i]->id * 2,
							.slot = count++ };
			slv[nslot++] = (__u32)b->id;
		}
		sk[nsvc] = key;
		sv[nsvc] = (struct svc_value){ .id = (uint32_t)r[i]->id,
					       .table = (uint32_t)r[i]->id * 2,
					       .count = count };
		nsvc++;
	}
	if (ret)
		goto out;
	/* The same order as one service: backends, then tables, then the services. */
	ret = update_many(m->be, bid, sizeof(*bid), bv, sizeof(*bv), nbe);
	if (!ret)
		ret = update_many(m->slot, slk, sizeof(*slk), slv, sizeof(*slv), nslot);
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
	free(slk);
	free(slv);
	free(bv);
	free(bid);
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
	free_table(m, old.table, old.count, NULL);
	return 0;
}

bool dp_service_programmed(const struct dp_maps *m, const struct svc_rec *r)
{
	struct svc_key key = svc_key_of(&r->addr);
	struct svc_value v;
	uint16_t n = 0;

	if (bpf_map_lookup_elem(m->svc, &key, &v) || v.id != (uint32_t)r->id)
		return false;
	/* Every backend as the store has it, and each active one in its slot. */
	for (size_t i = 0; i < r->nbe; i++) {
		struct backend_value want = backend_value_of(&r->be[i]), got;
		struct slot_key sk = { .table = v.table, .slot = n };
		__u32 id = (__u32)r->be[i].id, slot_id;

		if (bpf_map_lookup_elem(m->be, &id, &got) || memcmp(&got, &want, sizeof(got)))
			return false;
		if (r->be[i].state != SVCBPF_BE_ACTIVE)
			continue;
		if (bpf_map_lookup_elem(m->slot, &sk, &slot_id) || slot_id != id)
			return false;
		n++;
	}
	return v.count == n;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_svc(const void *a, const void *b)
{
	const struct l4addr *x = a, *y = &((const struct svc_rec *)b)->addr;

	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (int)x->proto - (int)y->proto;
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
	uint32_t *tables = NULL, *bes = NULL;
	const struct svc_rec **recs;
	size_t ntables = 0, nbes = 0, nkeys;
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

	/* Slots of tables no service uses, and backends no service has. */
	tables = calloc(md->n + 1, sizeof(*tables));
	bes = calloc(nbes + 1, sizeof(*bes));
	if (!tables || !bes) {
		ret = -ENOMEM;
		goto out;
	}
	nbes = 0;
	for (size_t i = 0; i < md->n; i++) {
		struct svc_key key = svc_key_of(&md->svc[i].addr);
		struct svc_value v;

		if (!bpf_map_lookup_elem(m->svc, &key, &v))
			tables[ntables++] = v.table;
		for (size_t j = 0; j < md->svc[i].nbe; j++)
			bes[nbes++] = (uint32_t)md->svc[i].be[j].id;
	}
	qsort(tables, ntables, sizeof(*tables), cmp_u32);
	qsort(bes, nbes, sizeof(*bes), cmp_u32);

	struct slot_key *slots = map_keys(m->slot, sizeof(*slots), &nkeys);

	for (size_t i = 0; slots && i < nkeys; i++)
		if (!bsearch(&slots[i].table, tables, ntables, sizeof(*tables), cmp_u32))
			bpf_map_delete_elem(m->slot, &slots[i]);
	free(slots);

	__u32 *ids = map_keys(m->be, sizeof(*ids), &nkeys);

	for (size_t i = 0; ids && i < nkeys; i++)
		if (!bsearch(&ids[i], bes, nbes, sizeof(*bes), cmp_u32))
			bpf_map_delete_elem(m->be, &ids[i]);
	free(ids);
out:
	free(tables);
	free(bes);
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
