// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_store.c - the store loader (user/store.c) on whatever the store file
 * holds: it must refuse or read, never crash, and what it reads must be
 * something the dataplane can take.
 *
 * Two kinds of input:
 *   - a file starting "SQLite format 3" is written as the store file itself
 *     (the seed is a small store made by svcbpf: see corpus/store/README);
 *   - anything else is a program of edits, run with bound parameters on a
 *     valid store (services, backends, owned services, objects), as a
 *     hand-edited or damaged store would look: any column of any row set to
 *     NULL, a negative, huge or text value, rows inserted or deleted, the
 *     unique indexes, triggers or tables dropped, user_version changed,
 *     arbitrary JSON as a stored object. Fuzzing the SQLite page format
 *     alone would hardly ever reach a row that parses.
 * Then everything the CLI reads: store_open(), the counts, the whole model
 * (svc list, sync, load), each service alone, owners, the VIP check, the
 * objects and the controller over them (get, apply), and one write in a
 * rolled-back transaction (every change starts so).
 *
 * Invariants: what store_load() returns is sorted, unique, and in the
 * dataplane's ranges (port 1-65535, TCP or UDP, weight <= SVCBPF_MAX_WEIGHT,
 * a known state, an affinity a Service can ask for), and each service reads
 * the same alone (store_load_svc()) as in the whole model.
 */
#include <sqlite3.h>

#include "fuzz_util.h"
#include "k8s_ctl.h"
#include "svcbpf.h"

#include <errno.h>
#include <netinet/in.h>

static char db_path[128], wal_path[140], shm_path[140];
static uint8_t *template;
static size_t template_len;

/* A cursor over the input. */
struct rd {
	const uint8_t *p;
	size_t n;
};

static unsigned rd_u8(struct rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static int64_t rd_i64(struct rd *r)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | rd_u8(r);
	return (int64_t)v;
}

/* An integer worth trying: a boundary, a small one, or any 64-bit value. */
static int64_t rd_int(struct rd *r)
{
	static const int64_t edge[] = {
		0,	   1,	      -1,    6,	    17,		  65535,
		65536,	   10000,     10001, 86400, 4294967295LL, 4294967296LL,
		INT64_MAX, INT64_MIN, 2,     255
	};
	unsigned k = rd_u8(r);

	if (k < 128)
		return edge[k % (sizeof(edge) / sizeof(edge[0]))];
	if (k < 192)
		return (int64_t)(k - 160);
	return rd_i64(r);
}

/* A text of the input: a length byte, then that many bytes. */
static const char *rd_text(struct rd *r, int *len)
{
	const char *t = (const char *)r->p;

	*len = (int)rd_u8(r);
	if ((size_t)*len > r->n)
		*len = (int)r->n;
	r->p += *len;
	r->n -= (size_t)*len;
	return t;
}

/* Bind parameter @i of @st to a value the input picks: NULL, integer, real, text or blob. */
static void bind_value(sqlite3_stmt *st, int i, struct rd *r)
{
	const char *t;
	int len;

	switch (rd_u8(r) % 6) {
	case 0:
		sqlite3_bind_null(st, i);
		break;
	case 1:
	case 2:
		sqlite3_bind_int64(st, i, rd_int(r));
		break;
	case 3:
		sqlite3_bind_double(st, i, (double)rd_int(r) / 3.0);
		break;
	case 4:
		t = rd_text(r, &len);
		sqlite3_bind_text(st, i, t, len, SQLITE_TRANSIENT);
		break;
	default:
		t = rd_text(r, &len);
		sqlite3_bind_blob(st, i, t, len, SQLITE_TRANSIENT);
		break;
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const service_cols[] = { "id", "vip", "port", "proto", "affinity", "owner" };
static const char *const backend_cols[] = { "id", "service_id", "ip", "port", "weight", "state" };
static const char *const object_cols[] = { "kind", "ns", "name", "doc", "created" };
static const struct {
	const char *name;
	const char *const *cols;
	unsigned ncols;
} tables[] = {
	{ "service", service_cols, N(service_cols) },
	{ "backend", backend_cols, N(backend_cols) },
	{ "object", object_cols, N(object_cols) },
};
static const char *const kinds[] = { "Service", "Pod", "Endpoints", "EndpointSlice", "Other" };
static const char *const drops[] = {
	"DROP INDEX IF EXISTS backend_service",
	"DROP TRIGGER IF EXISTS service_ins",
	"DROP TRIGGER IF EXISTS backend_del",
	"DROP TABLE IF EXISTS object",
	"DROP TABLE IF EXISTS counts",
	"DROP TABLE IF EXISTS backend",
	"CREATE TABLE service2 AS SELECT * FROM service; DROP TABLE service;"
	" ALTER TABLE service2 RENAME TO service",
	"CREATE TABLE backend2 AS SELECT * FROM backend; DROP TABLE backend;"
	" ALTER TABLE backend2 RENAME TO backend",
	"CREATE TABLE object2 AS SELECT * FROM object; DROP TABLE object;"
	" ALTER TABLE object2 RENAME TO object",
	"DELETE FROM counts",
	"ALTER TABLE service DROP COLUMN owner",
	"ALTER TABLE service RENAME COLUMN affinity TO aff",
};

/* Run one prepared statement (with its parameters from the input); errors are fine. */
static void run_sql(sqlite3 *db, const char *sql, struct rd *r, int nbind)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	for (int i = 1; i <= nbind; i++)
		bind_value(st, i, r);
	while (sqlite3_step(st) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
}

/* One edit from the input. */
static void edit(sqlite3 *db, struct rd *r)
{
	char sql[256];
	unsigned op = rd_u8(r) % 10, row = rd_u8(r) % 8;

	switch (op) {
	case 0: /* one column of a row of the service, backend or object table */
	case 1:
	case 2:
		snprintf(sql, sizeof(sql),
			 "UPDATE %s SET %s = ? WHERE rowid IN "
			 "(SELECT rowid FROM %s LIMIT 1 OFFSET %u)",
			 tables[op].name, tables[op].cols[rd_u8(r) % tables[op].ncols],
			 tables[op].name, row);
		run_sql(db, sql, r, 1);
		break;
	case 3: {
		/* A stored object: a handled kind, any document (the rest of a text). */
		sqlite3_stmt *st;
		const char *t;
		int len;

		if (sqlite3_prepare_v2(
			    db,
			    "INSERT OR REPLACE INTO object (kind, ns, name, doc, created) "
			    "VALUES (?, 'default', ?, ?, 0)",
			    -1, &st, NULL) != SQLITE_OK)
			break;
		sqlite3_bind_text(st, 1, kinds[row % N(kinds)], -1, SQLITE_STATIC);
		snprintf(sql, sizeof(sql), "o%u", rd_u8(r));
		sqlite3_bind_text(st, 2, sql, -1, SQLITE_TRANSIENT);
		t = rd_text(r, &len);
		sqlite3_bind_text(st, 3, t, len, SQLITE_TRANSIENT);
		sqlite3_step(st);
		sqlite3_finalize(st);
		break;
	}
	case 4:
		run_sql(db,
			"INSERT INTO service (vip, port, proto, affinity, owner) "
			"VALUES (?, ?, ?, ?, ?)",
			r, 5);
		break;
	case 5:
		run_sql(db,
			"INSERT INTO backend (service_id, ip, port, weight, state) "
			"VALUES (?, ?, ?, ?, ?)",
			r, 5);
		break;
	case 6:
		run_sql(db, "UPDATE counts SET n = ?", r, 1);
		break;
	case 7:
		run_sql(db, "PRAGMA user_version = 2", r, 0);
		if (row == 0)
			run_sql(db, "PRAGMA user_version = 1", r, 0);
		if (row == 1)
			run_sql(db, "PRAGMA user_version = 4", r, 0);
		break;
	case 8:
		sqlite3_exec(db, drops[rd_u8(r) % N(drops)], NULL, NULL, NULL);
		break;
	default:
		snprintf(sql, sizeof(sql),
			 "DELETE FROM %s WHERE rowid IN "
			 "(SELECT rowid FROM %s LIMIT 1 OFFSET %u)",
			 row & 1 ? "service" : "backend", row & 1 ? "service" : "backend", row / 2);
		run_sql(db, sql, r, 0);
		break;
	}
}

static void fresh_file(const uint8_t *data, size_t size)
{
	unlink(wal_path);
	unlink(shm_path);
	fuzz_write(db_path, data, size);
}

/* The template store, edited as the input says. */
static void edited_store(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	sqlite3 *db;

	fresh_file(template, template_len);
	FUZZ_CHECK(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK,
		   "cannot open the template store");
	sqlite3_exec(db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
	for (int i = 0; i < 64 && r.n; i++)
		edit(db, &r);
	FUZZ_CHECK(sqlite3_close(db) == SQLITE_OK, "sqlite3_close");
}

static bool same_svc(const struct svc_rec *a, const struct svc_rec *b)
{
	if (a->id != b->id || l4addr_cmp(&a->addr, &b->addr) || a->affinity != b->affinity ||
	    a->nbe != b->nbe)
		return false;
	for (size_t i = 0; i < a->nbe; i++)
		if (a->be[i].id != b->be[i].id || l4addr_cmp(&a->be[i].addr, &b->be[i].addr) ||
		    a->be[i].weight != b->be[i].weight || a->be[i].state != b->be[i].state)
			return false;
	return true;
}

static void check_model(struct store *s, const struct model *m)
{
	char a[ADDR_STR_LEN], a2[ADDR_STR_LEN], owner[512];
	size_t nbe;

	for (size_t i = 0; i < m->n; i++) {
		const struct svc_rec *v = &m->svc[i];
		struct svc_rec one;
		int r;

		FUZZ_CHECK(v->addr.port &&
				   (v->addr.proto == IPPROTO_TCP || v->addr.proto == IPPROTO_UDP),
			   "service %s (proto %u) read", fmt_l4addr(a, &v->addr, true),
			   v->addr.proto);
		FUZZ_CHECK(v->id > 0 && v->id <= INT32_MAX, "service %s: id %lld",
			   fmt_l4addr(a, &v->addr, true), (long long)v->id);
		FUZZ_CHECK(v->affinity <= 86400, "service %s: affinity %u",
			   fmt_l4addr(a, &v->addr, true), v->affinity);
		FUZZ_CHECK(i == 0 || l4addr_cmp(&m->svc[i - 1].addr, &v->addr) < 0,
			   "services out of order or twice: %s", fmt_l4addr(a, &v->addr, true));
		FUZZ_CHECK(v->nbe <= SVCBPF_MAX_SVC_BACKENDS, "service %s: %zu backends",
			   fmt_l4addr(a, &v->addr, true), v->nbe);
		for (size_t b = 0; b < v->nbe; b++) {
			const struct be_rec *be = &v->be[b];

			FUZZ_CHECK(be->addr.port && be->weight <= SVCBPF_MAX_WEIGHT &&
					   (be->state == SVCBPF_BE_ACTIVE ||
					    be->state == SVCBPF_BE_DRAINING) &&
					   be->addr.proto == v->addr.proto && be->id > 0 &&
					   be->id <= UINT32_MAX &&
					   (b == 0 || v->be[b - 1].id < be->id),
				   "service %s: backend %zu (id %lld) %s weight %u state %u",
				   fmt_l4addr(a, &v->addr, true), b, (long long)be->id,
				   fmt_l4addr(a2, &be->addr, false), be->weight, be->state);
		}
		r = store_load_svc(s, &v->addr, &one);
		FUZZ_CHECK(r == 0 || r == -EIO || r == -EINVAL || r == -ENOMEM,
			   "store_load_svc(%s): %d", fmt_l4addr(a, &v->addr, true), r);
		if (!r) {
			FUZZ_CHECK(same_svc(v, &one), "service %s reads differently alone",
				   fmt_l4addr(a, &v->addr, true));
			svc_rec_free(&one);
		}
		store_svc_owner(s, &v->addr, owner, sizeof(owner));
		store_svc_exists(s, &v->addr, &nbe);
		store_vip_used(s, v->addr.ip, owner, sizeof(owner));
	}
}

static void check_objects(struct store *s)
{
	struct obj_rec *o;
	struct k8s_set set;
	char err[ERR_LEN];
	size_t n;

	if (!store_obj_list(s, &o, &n)) {
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(o[i].kind && o[i].ns && o[i].name && o[i].doc, "object %zu", i);
		obj_recs_free(o, n);
	}
	if (!k8s_set_load(s, &set, err)) {
		struct k8s_xlate *x;
		size_t nx;

		if (!k8s_translations(&set, &x, &nx))
			k8s_xlates_free(x, nx);
		k8s_set_free(&set);
	} else {
		FUZZ_CHECK(err[0] && !strchr(err, '\n'), "k8s_set_load: error '%s'", err);
	}
}

static void load_all(void)
{
	struct store *s;
	struct model m;
	struct l4addr *owned;
	size_t nsvc, nbe, nowned;
	char err[ERR_LEN] = "";
	int r = store_open(fuzz_dir, &s, err);

	if (r) {
		FUZZ_CHECK(err[0] && !strchr(err, '\n'), "store_open: %d, error '%s'", r, err);
		return;
	}
	store_counts(s, &nsvc, &nbe);
	r = store_load(s, &m);
	FUZZ_CHECK(r == 0 || r == -EIO || r == -EINVAL || r == -ENOMEM, "store_load: %d", r);
	if (!r) {
		check_model(s, &m);
		/* The first write of every change: inside a transaction, then undone. */
		if (m.n && !store_begin(s)) {
			store_svc_set(s, &m.svc[0].addr,
				      &(struct svc_opts){ .affinity = m.svc[0].affinity },
				      m.svc[0].be, m.svc[0].nbe);
			store_rollback(s);
		}
		model_free(&m);
	}
	if (!store_owned_list(s, &owned, &nowned))
		free(owned);
	check_objects(s);
	store_close(s);
}

/* The template: a store as svcbpf leaves it, read into memory once. */
static void make_template(void)
{
	struct be_rec be[3] = {
		{ .addr = { 0x0af40102, 8080, IPPROTO_TCP }, .weight = 1 },
		{ .addr = { 0x0af40202, 8080, IPPROTO_TCP }, .weight = 5, .state = 1 },
		{ .addr = { 0x0af40302, 53, IPPROTO_TCP }, .weight = 0 },
	};
	struct l4addr svc[3] = { { 0x0a600032, 80, IPPROTO_TCP },
				 { 0x0a600035, 53, IPPROTO_UDP },
				 { 0x0a600010, 80, IPPROTO_TCP } };
	const char *doc = "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
			  "\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":"
			  "\"10.96.0.16\",\"ports\":[{\"port\":80}],\"selector\":{\"app\":\"w\"}}}";
	const char *pod = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
			  "\"w1\",\"namespace\":\"default\",\"labels\":{\"app\":\"w\"}},"
			  "\"spec\":{},\"status\":{\"podIP\":\"10.244.1.2\",\"conditions\":"
			  "[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
	char err[ERR_LEN];
	struct store *s;
	FILE *f;
	long len;

	FUZZ_CHECK(!store_open(fuzz_dir, &s, err), "template: %s", err);
	FUZZ_CHECK(!store_begin(s), "template: begin");
	FUZZ_CHECK(!store_svc_set(s, &svc[0], NULL, be, 2), "template: svc");
	for (int i = 0; i < 2; i++)
		be[i].addr.proto = IPPROTO_UDP;
	FUZZ_CHECK(!store_svc_set(s, &svc[1], &(struct svc_opts){ .affinity = 600 }, be, 3),
		   "template: svc");
	FUZZ_CHECK(!store_svc_set(s, &svc[2], &(struct svc_opts){ .affinity = 10800 }, be, 1),
		   "template: svc");
	FUZZ_CHECK(!store_svc_owner_set(s, &svc[2], "default/web"), "template: owner");
	FUZZ_CHECK(!store_obj_put(s, "Service", "default", "web", doc, 1) &&
			   !store_obj_put(s, "Pod", "default", "w1", pod, 1),
		   "template: objects");
	FUZZ_CHECK(!store_commit(s), "template: commit");
	store_close(s);
	/* Everything in the main file: the WAL checkpointed, as at the last close. */
	f = fopen(db_path, "rb");
	FUZZ_CHECK(f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0, "template: read");
	rewind(f);
	template_len = (size_t)len;
	template = malloc(template_len);
	FUZZ_CHECK(template && fread(template, 1, template_len, f) == template_len, "template");
	fclose(f);
}

/*
 * SQLite churns megabytes through malloc per open store: ASan's default 256 MB
 * quarantine would make every input fault in fresh pages (20 ms an input on
 * this VM). 16 MB still holds many inputs' worth of freed memory for
 * use-after-free reports. ASAN_OPTIONS overrides it.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup();
	snprintf(db_path, sizeof(db_path), "%s/" STORE_FILE, fuzz_dir);
	snprintf(wal_path, sizeof(wal_path), "%s-wal", db_path);
	snprintf(shm_path, sizeof(shm_path), "%s-shm", db_path);
	make_template();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char magic[] = "SQLite format 3";

	if (size >= sizeof(magic) && !memcmp(data, magic, sizeof(magic)))
		fresh_file(data, size);
	else
		edited_store(data, size);
	load_all();
	return 0;
}
