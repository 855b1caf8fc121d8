// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_store.c - the SQLite store: changes, ids, transactions, errors. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "svcbpf.h"

static const struct l4addr svc = { 0x0a600032, 80, IPPROTO_TCP };
static const struct l4addr svc_udp = { 0x0a60000a, 53, IPPROTO_UDP };
static const struct l4addr b1 = { 0x0af4010a, 8080, IPPROTO_TCP };
static const struct l4addr b2 = { 0x0af4020f, 8080, IPPROTO_TCP };
static const struct l4addr b3 = { 0x0af40314, 8080, IPPROTO_TCP };

static char dir[64];

/* The backend set @a[0..n) at weight 1, no affinity: what `svc add` with plain backends writes. */
static int svc_set(struct store *s, const struct l4addr *sv, const struct l4addr *a, size_t n)
{
	struct be_rec be[8] = { 0 };

	for (size_t i = 0; i < n && i < 8; i++) {
		be[i].addr = a[i];
		be[i].weight = 1;
	}
	return store_svc_set(s, sv, NULL, be, n);
}

static int be_add(struct store *s, const struct l4addr *sv, const struct l4addr *a)
{
	struct be_rec be = { .addr = *a, .weight = 1 };

	return store_be_add(s, sv, &be);
}

static int open_fresh(void **state)
{
	struct store *s;
	char err[ERR_LEN];

	snprintf(dir, sizeof(dir), "/tmp/svcbpf-test-store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (store_open(dir, &s, err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = s;
	return 0;
}

static int close_and_remove(void **state)
{
	char path[128];

	store_close(*state);
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
	unlink(path);
	rmdir(dir);
	return 0;
}

static void test_set_replaces_and_keeps_ids(void **state)
{
	struct store *s = *state;
	struct l4addr set1[] = { b1, b2 }, set2[] = { b2, b3 };
	struct svc_rec r;
	int64_t b2_id;

	assert_int_equal(svc_set(s, &svc, set1, 2), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.nbe, 2);
	b2_id = r.be[1].id;
	svc_rec_free(&r);

	/* The same command again changes nothing (idempotent scripts). */
	assert_int_equal(svc_set(s, &svc, set1, 2), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.nbe, 2);
	assert_int_equal(r.be[1].id, b2_id);
	svc_rec_free(&r);

	/* A new set: b1 goes, b3 comes, b2 keeps its id (its flows stay). */
	assert_int_equal(svc_set(s, &svc, set2, 2), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.nbe, 2);
	assert_int_equal(r.be[0].addr.ip, b2.ip);
	assert_int_equal(r.be[0].id, b2_id);
	assert_int_equal(r.be[1].addr.ip, b3.ip);
	assert_true(r.be[1].id > b2_id);
	svc_rec_free(&r);
}

static void test_backend_add_del(void **state)
{
	struct store *s = *state;
	struct svc_rec r;
	int missing;

	assert_int_equal(be_add(s, &svc, &b1), -ENOENT);
	assert_int_equal(svc_set(s, &svc, NULL, 0), 0);
	assert_int_equal(be_add(s, &svc, &b1), 0);
	assert_int_equal(be_add(s, &svc, &b1), -EEXIST);
	assert_int_equal(be_add(s, &svc, &b2), 0);
	assert_int_equal(store_be_del(s, &svc, &b3, &missing), -ENOENT);
	assert_false(missing);
	assert_int_equal(store_be_del(s, &svc_udp, &b1, &missing), -ENOENT);
	assert_true(missing);
	assert_int_equal(store_be_del(s, &svc, &b1, &missing), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.nbe, 1);
	assert_int_equal(r.be[0].addr.ip, b2.ip);
	svc_rec_free(&r);
}

static void test_delete_cascades(void **state)
{
	struct store *s = *state;
	struct l4addr set[] = { b1, b2, b3 };
	size_t nsvc, nbe, per;

	assert_int_equal(svc_set(s, &svc, set, 3), 0);
	assert_int_equal(svc_set(s, &svc_udp, set, 1), 0);
	assert_int_equal(store_counts(s, &nsvc, &nbe), 0);
	assert_int_equal(nsvc, 2);
	assert_int_equal(nbe, 4);
	assert_int_equal(store_svc_nbe(s, &svc, &per), 0);
	assert_int_equal(per, 3);
	assert_int_equal(store_svc_del(s, &svc), 0);
	assert_int_equal(store_svc_del(s, &svc), -ENOENT);
	/* The counters follow cascading deletes. */
	assert_int_equal(store_counts(s, &nsvc, &nbe), 0);
	assert_int_equal(nsvc, 1);
	assert_int_equal(nbe, 1);
	assert_int_equal(store_svc_nbe(s, &svc, &per), 0);
	assert_int_equal(per, 0);
}

static void test_rollback_changes_nothing(void **state)
{
	struct store *s = *state;
	struct l4addr set[] = { b1 };
	struct model m;

	assert_int_equal(store_begin(s), 0);
	assert_int_equal(svc_set(s, &svc, set, 1), 0);
	store_rollback(s);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 0);
	model_free(&m);

	assert_int_equal(store_begin(s), 0);
	assert_int_equal(svc_set(s, &svc, set, 1), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 1);
	model_free(&m);
}

static void test_ids_never_reused(void **state)
{
	struct store *s = *state;
	struct svc_rec r;
	int64_t first;

	assert_int_equal(svc_set(s, &svc, &b1, 1), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	first = r.id;
	svc_rec_free(&r);
	assert_int_equal(store_svc_del(s, &svc), 0);
	assert_int_equal(svc_set(s, &svc, &b1, 1), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_true(r.id > first);
	svc_rec_free(&r);
}

static void test_model_is_ordered(void **state)
{
	struct store *s = *state;
	struct model m;

	assert_int_equal(svc_set(s, &svc, &b1, 1), 0);
	assert_int_equal(svc_set(s, &svc_udp, &b1, 1), 0);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 2);
	/* By address: the reconciler binary-searches it. */
	assert_int_equal(m.svc[0].addr.ip, svc_udp.ip);
	assert_int_equal(m.svc[1].addr.ip, svc.ip);
	model_free(&m);
}

static void test_corrupt_store_is_refused(void **state)
{
	char d[] = "/tmp/svcbpf-test-corrupt.XXXXXX", path[96], err[ERR_LEN];
	struct store *s;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(d));
	snprintf(path, sizeof(path), "%s/%s", d, STORE_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not a database, just text that is long enough to be a header....\n", f);
	fclose(f);
	assert_true(store_open(d, &s, err) < 0);
	assert_non_null(strstr(err, path));
	unlink(path);
	rmdir(d);
}

static const struct l4addr np = { 0, 30080, IPPROTO_TCP };

/* Run @sql on the store's file directly: a hand edit, or an older svcbpf's schema. */
static void raw_sql(const char *d, const char *sql)
{
	char path[128], *msg = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/%s", d, STORE_FILE);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static void test_opts_round_trip(void **state)
{
	struct store *s = *state;
	struct cidr4 ranges[] = { { 0x0a000000, 8 }, { 0xc0000200, 24 }, { 0x0a000000, 8 } };
	struct svc_opts o = { .affinity = 30,
			      .flags = SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_LOCAL,
			      .ranges = ranges,
			      .nranges = 3 };
	struct be_rec be = { .addr = b1, .weight = 2 };
	struct svc_rec r;
	struct model m;

	assert_int_equal(store_svc_set(s, &svc, &o, &be, 1), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.affinity, 30);
	assert_int_equal(r.flags, SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_LOCAL);
	/* Each prefix once, in the order given. */
	assert_int_equal(r.nranges, 2);
	assert_int_equal(r.ranges[0].ip, 0x0a000000);
	assert_int_equal(r.ranges[0].len, 8);
	assert_int_equal(r.ranges[1].ip, 0xc0000200);
	assert_int_equal(r.ranges[1].len, 24);
	assert_int_equal(r.parent.ip | r.parent.port | r.parent.proto, 0);
	assert_int_equal(r.nbe, 1);
	assert_int_equal(r.be[0].weight, 2);
	svc_rec_free(&r);

	/* A NodePort frontend following it. */
	o = (struct svc_opts){ .flags = SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ, .parent = svc };
	assert_int_equal(store_svc_set(s, &np, &o, &be, 1), 0);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.svc[0].addr.ip, 0);
	assert_int_equal(m.svc[0].flags, SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ);
	assert_int_equal(m.svc[0].nranges, 0);
	assert_null(m.svc[0].ranges);
	assert_int_equal(l4addr_cmp(&m.svc[0].parent, &svc), 0);
	assert_int_equal(m.svc[1].nranges, 2);
	model_free(&m);

	/* Set again without options: every setting back to none. */
	assert_int_equal(store_svc_set(s, &svc, NULL, &be, 1), 0);
	assert_int_equal(store_svc_set(s, &np, NULL, &be, 1), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.affinity + r.flags + r.nranges, 0);
	assert_null(r.ranges);
	svc_rec_free(&r);
	assert_int_equal(store_load_svc(s, &np, &r), 0);
	assert_int_equal(r.parent.ip | r.parent.port | r.parent.proto, 0);
	svc_rec_free(&r);

	/* Flags the store does not keep, and a parent that does not exist. */
	o = (struct svc_opts){ .flags = SVCBPF_SVC_AFFINITY };
	assert_int_equal(store_svc_set(s, &svc, &o, &be, 1), -EINVAL);
	o = (struct svc_opts){ .parent = svc_udp };
	assert_int_equal(store_svc_set(s, &np, &o, &be, 1), -ENOENT);
}

static void test_children(void **state)
{
	struct store *s = *state;
	struct svc_opts o = { .flags = SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ, .parent = svc };
	struct l4addr *kids, parent, np2 = { 0, 30081, IPPROTO_TCP };
	size_t n, nsvc, nbe;

	assert_int_equal(svc_set(s, &svc, &b1, 1), 0);
	assert_int_equal(svc_set(s, &svc_udp, &b1, 1), 0);
	assert_int_equal(store_svc_children(s, &svc, &kids, &n), 0);
	assert_int_equal(n, 0);
	free(kids);
	assert_int_equal(store_svc_set(s, &np2, &o, NULL, 0), 0);
	assert_int_equal(store_svc_set(s, &np, &o, NULL, 0), 0);
	assert_int_equal(store_svc_children(s, &svc, &kids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(kids[0].port, 30080);
	assert_int_equal(kids[1].port, 30081);
	free(kids);
	assert_int_equal(store_svc_children(s, &svc_udp, &kids, &n), 0);
	assert_int_equal(n, 0);
	free(kids);
	/* Absent: none, not an error. */
	assert_int_equal(store_svc_children(s, &b1, &kids, &n), 0);
	assert_int_equal(n, 0);
	free(kids);
	assert_int_equal(store_svc_parent(s, &np, &parent), 1);
	assert_int_equal(l4addr_cmp(&parent, &svc), 0);
	assert_int_equal(store_svc_parent(s, &svc, &parent), 0);
	/* The children go with their parent. */
	assert_int_equal(store_svc_del(s, &svc), 0);
	assert_int_equal(store_svc_exists(s, &np, &n), 0);
	assert_int_equal(store_svc_exists(s, &np2, &n), 0);
	assert_int_equal(store_counts(s, &nsvc, &nbe), 0);
	assert_int_equal(nsvc, 1);
	assert_int_equal(nbe, 1);
}

static void test_nodeport_used(void **state)
{
	struct store *s = *state;
	struct l4addr who = { 0 }, cluster = { 0x0a600033, 30080, IPPROTO_TCP };
	struct l4addr np_udp = { 0, 30080, IPPROTO_UDP };
	struct cidr4 r[] = { { 0x0a000000, 8 }, { 0xc0000200, 24 } };
	struct svc_opts o = { .flags = SVCBPF_SVC_EXTERNAL, .ranges = r, .nranges = 2 };
	size_t n;

	/* A ClusterIP on that port is no NodePort. */
	assert_int_equal(svc_set(s, &cluster, NULL, 0), 0);
	assert_int_equal(store_nodeport_used(s, 30080, &who), 0);
	assert_int_equal(svc_set(s, &np_udp, NULL, 0), 0);
	assert_int_equal(store_nodeport_used(s, 30080, &who), 1);
	assert_int_equal(who.ip, 0);
	assert_int_equal(who.port, 30080);
	assert_int_equal(who.proto, IPPROTO_UDP);
	assert_int_equal(store_nodeport_used(s, 30081, &who), 0);
	/* Either protocol: TCP first. */
	assert_int_equal(svc_set(s, &np, NULL, 0), 0);
	assert_int_equal(store_nodeport_used(s, 30080, &who), 1);
	assert_int_equal(who.proto, IPPROTO_TCP);
	/* The source ranges of every service, for the LPM map's capacity. */
	assert_int_equal(store_range_count(s, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_svc_set(s, &cluster, &o, NULL, 0), 0);
	o.nranges = 1;
	assert_int_equal(store_svc_set(s, &np, &o, NULL, 0), 0);
	assert_int_equal(store_range_count(s, &n), 0);
	assert_int_equal(n, 3);
}

/* A damaged row is refused naming it, by a full load and by a load of that service. */
static void test_damaged_rows_refused(void **state)
{
	static const struct {
		const char *sql, *msg;
	} cases[] = {
		{ "UPDATE service SET flags = 256 WHERE port = 80", "flags 0x100" },
		{ "UPDATE service SET flags = 1 WHERE port = 80", "flags 0x1" },
		{ "UPDATE service SET flags = 'x' WHERE port = 80", "flags" },
		{ "UPDATE service SET ranges = '10.0.0.1/8' WHERE port = 80",
		  "ranges '10.0.0.1/8'" },
		{ "UPDATE service SET ranges = '10.0.0.0/8,' WHERE port = 80", "ranges" },
		{ "UPDATE service SET ranges = '' WHERE port = 80", "ranges" },
		{ "UPDATE service SET ranges = 7 WHERE port = 80", "ranges" },
		{ "UPDATE service SET parent = 9999 WHERE port = 80",
		  "parent 9999 does not exist" },
		{ "UPDATE service SET parent = id WHERE port = 80", "is itself" },
	};
	struct store *s = *state;
	char want[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct svc_rec r;
		struct model m;
		int64_t id;

		assert_int_equal(svc_set(s, &svc, &b1, 1), 0);
		assert_int_equal(store_load_svc(s, &svc, &r), 0);
		id = r.id;
		svc_rec_free(&r);
		raw_sql(dir, cases[i].sql);
		snprintf(want, sizeof(want), "service id %lld", (long long)id);
		if (store_load(s, &m) != -EINVAL)
			fail_msg("'%s' not refused by a load", cases[i].sql);
		if (!strstr(store_errmsg(s), want) || !strstr(store_errmsg(s), cases[i].msg))
			fail_msg("'%s': %s", cases[i].sql, store_errmsg(s));
		if (store_load_svc(s, &svc, &r) != -EINVAL)
			fail_msg("'%s' not refused by a load of the service", cases[i].sql);
		assert_non_null(strstr(store_errmsg(s), want));
		assert_int_equal(store_svc_del(s, &svc), 0);
	}
}

/* A store an older svcbpf wrote (schema 3): opened, upgraded to 4, everything kept. */
static void test_upgrade_from_v3(void **state)
{
	static const char v3[] =
		"CREATE TABLE service (id INTEGER PRIMARY KEY AUTOINCREMENT,"
		"  vip INTEGER NOT NULL, port INTEGER NOT NULL, proto INTEGER NOT NULL,"
		"  affinity INTEGER NOT NULL DEFAULT 0, owner TEXT, UNIQUE (vip, port, proto));"
		"CREATE TABLE backend (id INTEGER PRIMARY KEY AUTOINCREMENT,"
		"  service_id INTEGER NOT NULL REFERENCES service(id) ON DELETE CASCADE,"
		"  ip INTEGER NOT NULL, port INTEGER NOT NULL,"
		"  weight INTEGER NOT NULL DEFAULT 1, state INTEGER NOT NULL DEFAULT 0,"
		"  UNIQUE (service_id, ip, port));"
		"CREATE INDEX backend_service ON backend(service_id);"
		"CREATE TABLE counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL);"
		"INSERT INTO counts VALUES ('service', 0), ('backend', 0);"
		"CREATE TRIGGER service_ins AFTER INSERT ON service BEGIN"
		"  UPDATE counts SET n = n + 1 WHERE name = 'service'; END;"
		"CREATE TRIGGER service_del AFTER DELETE ON service BEGIN"
		"  UPDATE counts SET n = n - 1 WHERE name = 'service'; END;"
		"CREATE TRIGGER backend_ins AFTER INSERT ON backend BEGIN"
		"  UPDATE counts SET n = n + 1 WHERE name = 'backend'; END;"
		"CREATE TRIGGER backend_del AFTER DELETE ON backend BEGIN"
		"  UPDATE counts SET n = n - 1 WHERE name = 'backend'; END;"
		"CREATE TABLE object (kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
		"  doc TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (kind, ns, name));"
		/* Rows as svcbpf 3 wrote them, ids past 1 as after earlier deletes. */
		"INSERT INTO service VALUES (7, 174063666, 80, 6, 0, NULL);"
		"INSERT INTO service VALUES (9, 174063626, 53, 17, 600, 'default/dns');"
		"INSERT INTO backend VALUES (11, 7, 183763210, 8080, 3, 1);"
		"INSERT INTO backend VALUES (12, 7, 183763471, 8080, 1, 0);"
		"INSERT INTO backend VALUES (13, 9, 183763210, 53, 1, 0);"
		"INSERT INTO object VALUES ('Service', 'default', 'dns', '{}', 1700000000);"
		"UPDATE sqlite_sequence SET seq = 20 WHERE name = 'service';"
		"PRAGMA user_version = 3;";
	char d[] = "/tmp/svcbpf-test-v3.XXXXXX", path[128], err[ERR_LEN], owner[64];
	struct svc_opts o = { .flags = SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ, .parent = svc };
	struct obj_rec *objs;
	struct svc_rec r;
	struct model m;
	struct store *s;
	size_t nsvc, nbe, nobj;

	(void)state;
	assert_non_null(mkdtemp(d));
	raw_sql(d, v3);
	if (store_open(d, &s, err))
		fail_msg("%s", err);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 2);
	/* 10.96.0.10:53/udp, then 10.96.0.50:80/tcp */
	assert_int_equal(m.svc[0].id, 9);
	assert_int_equal(m.svc[0].addr.proto, IPPROTO_UDP);
	assert_int_equal(m.svc[0].affinity, 600);
	assert_int_equal(m.svc[0].nbe, 1);
	assert_int_equal(m.svc[1].id, 7);
	assert_int_equal(l4addr_cmp(&m.svc[1].addr, &svc), 0);
	assert_int_equal(m.svc[1].nbe, 2);
	assert_int_equal(m.svc[1].be[0].id, 11);
	assert_int_equal(m.svc[1].be[0].weight, 3);
	assert_int_equal(m.svc[1].be[0].state, SVCBPF_BE_DRAINING);
	for (size_t i = 0; i < m.n; i++) {
		assert_int_equal(m.svc[i].flags, 0);
		assert_int_equal(m.svc[i].nranges, 0);
		assert_int_equal(m.svc[i].parent.ip | m.svc[i].parent.port, 0);
	}
	model_free(&m);
	assert_int_equal(store_svc_owner(s, &svc_udp, owner, sizeof(owner)), 1);
	assert_string_equal(owner, "default/dns");
	assert_int_equal(store_obj_list(s, &objs, &nobj), 0);
	assert_int_equal(nobj, 1);
	assert_string_equal(objs[0].name, "dns");
	assert_int_equal(objs[0].created, 1700000000);
	obj_recs_free(objs, nobj);
	assert_int_equal(store_counts(s, &nsvc, &nbe), 0);
	assert_int_equal(nsvc, 2);
	assert_int_equal(nbe, 3);
	/* Schema 4 works on it: a NodePort child, ids past the old ones. */
	assert_int_equal(store_svc_set(s, &np, &o, NULL, 0), 0);
	assert_int_equal(store_load_svc(s, &np, &r), 0);
	assert_true(r.id > 20);
	assert_int_equal(l4addr_cmp(&r.parent, &svc), 0);
	svc_rec_free(&r);
	assert_int_equal(store_setting_set(s, "node-name", "n1"), 0);
	store_close(s);

	/* Opened again: schema 4 as it is, nothing upgraded twice. */
	if (store_open(d, &s, err))
		fail_msg("%s", err);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 3);
	model_free(&m);
	assert_int_equal(store_setting_get(s, "node-name", owner, sizeof(owner)), 1);
	assert_string_equal(owner, "n1");
	store_close(s);
	snprintf(path, sizeof(path), "%s/%s", d, STORE_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s-wal", d, STORE_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s-shm", d, STORE_FILE);
	unlink(path);
	rmdir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_replaces_and_keeps_ids, open_fresh,
						close_and_remove),
		cmocka_unit_test_setup_teardown(test_backend_add_del, open_fresh, close_and_remove),
		cmocka_unit_test_setup_teardown(test_delete_cascades, open_fresh, close_and_remove),
		cmocka_unit_test_setup_teardown(test_rollback_changes_nothing, open_fresh,
						close_and_remove),
		cmocka_unit_test_setup_teardown(test_ids_never_reused, open_fresh,
						close_and_remove),
		cmocka_unit_test_setup_teardown(test_model_is_ordered, open_fresh,
						close_and_remove),
		cmocka_unit_test(test_corrupt_store_is_refused),
		cmocka_unit_test_setup_teardown(test_opts_round_trip, open_fresh, close_and_remove),
		cmocka_unit_test_setup_teardown(test_children, open_fresh, close_and_remove),
		cmocka_unit_test_setup_teardown(test_nodeport_used, open_fresh, close_and_remove),
		cmocka_unit_test_setup_teardown(test_damaged_rows_refused, open_fresh,
						close_and_remove),
		cmocka_unit_test(test_upgrade_from_v3),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
