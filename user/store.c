// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* store.c - services and backends in SQLite (see store.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store.h"
#include "svcbpf.h"

#define STORE_SCHEMA_VERSION 4
#define STORE_BUSY_MS 10000
#define STORE_STMT_CACHE 24
/* Kubernetes' bound for sessionAffinityConfig.clientIP.timeoutSeconds, as the CLI's. */
#define STORE_AFFINITY_MAX 86400

/* Statements are prepared once per process and reused (a batch runs thousands). */
struct stmt_slot {
	const char *sql; /* a string literal: compared by address */
	sqlite3_stmt *st;
};

struct store {
	sqlite3 *db;
	struct stmt_slot cache[STORE_STMT_CACHE];
	char bad[160]; /* the row a read refused, for store_errmsg(); "" when none */
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS service ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  vip INTEGER NOT NULL, port INTEGER NOT NULL, proto INTEGER NOT NULL,"
	"  affinity INTEGER NOT NULL DEFAULT 0,"
	"  owner TEXT,"
	"  flags INTEGER NOT NULL DEFAULT 0, ranges TEXT, parent INTEGER,"
	"  UNIQUE (vip, port, proto));"
	"CREATE TABLE IF NOT EXISTS backend ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  service_id INTEGER NOT NULL REFERENCES service(id) ON DELETE CASCADE,"
	"  ip INTEGER NOT NULL, port INTEGER NOT NULL,"
	"  weight INTEGER NOT NULL DEFAULT 1, state INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (service_id, ip, port));"
	"CREATE INDEX IF NOT EXISTS backend_service ON backend(service_id);"
	/* Row counts kept by triggers: capacity checks must not scan 100k rows. */
	"CREATE TABLE IF NOT EXISTS counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO counts VALUES ('service', 0), ('backend', 0);"
	"CREATE TRIGGER IF NOT EXISTS service_ins AFTER INSERT ON service BEGIN"
	"  UPDATE counts SET n = n + 1 WHERE name = 'service'; END;"
	"CREATE TRIGGER IF NOT EXISTS service_del AFTER DELETE ON service BEGIN"
	"  UPDATE counts SET n = n - 1 WHERE name = 'service'; END;"
	"CREATE TRIGGER IF NOT EXISTS backend_ins AFTER INSERT ON backend BEGIN"
	"  UPDATE counts SET n = n + 1 WHERE name = 'backend'; END;"
	"CREATE TRIGGER IF NOT EXISTS backend_del AFTER DELETE ON backend BEGIN"
	"  UPDATE counts SET n = n - 1 WHERE name = 'backend'; END;";

/*
 * Kubernetes objects as applied (the JSON document), by kind, namespace and
 * name. The services a Service object produces name it as their owner.
 */
static const char schema_objects[] = "CREATE TABLE IF NOT EXISTS object ("
				     "  kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
				     "  doc TEXT NOT NULL, created INTEGER NOT NULL,"
				     "  PRIMARY KEY (kind, ns, name));";

/* Schema 1 -> 2: client-IP affinity per service. */
static const char upgrade_v2[] =
	"ALTER TABLE service ADD COLUMN affinity INTEGER NOT NULL DEFAULT 0;";
/* Schema 2 -> 3: Kubernetes objects, and the services they own. */
static const char upgrade_v3[] = "ALTER TABLE service ADD COLUMN owner TEXT;";
/*
 * Schema 3 -> 4: traffic from outside the node. A frontend's dataplane
 * flags, its loadBalancerSourceRanges ("10.0.0.0/8,192.0.2.0/24"), and for a
 * NodePort frontend made by `svc add --nodeport` the service id it follows.
 */
static const char upgrade_v4[] = "ALTER TABLE service ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;"
				 "ALTER TABLE service ADD COLUMN ranges TEXT;"
				 "ALTER TABLE service ADD COLUMN parent INTEGER;";
/* A service's NodePort frontends, found from it (svc del, backend changes). */
static const char schema_parent_index[] =
	"CREATE INDEX IF NOT EXISTS service_parent ON service(parent) WHERE parent IS NOT NULL;";
/* Node settings by name ("node-name"). */
static const char schema_settings[] =
	"CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);";

/*
 * Per connection: the ids of backends deleted in the open transaction (one
 * by one or with their service), which the maps must free after it.
 */
static const char temp_schema[] =
	"CREATE TEMP TABLE IF NOT EXISTS gone (id INTEGER PRIMARY KEY);"
	"CREATE TEMP TRIGGER IF NOT EXISTS backend_gone AFTER DELETE ON main.backend BEGIN"
	"  INSERT OR IGNORE INTO gone VALUES (old.id); END;";

const char *store_errmsg(struct store *s)
{
	return s->bad[0] ? s->bad : sqlite3_errmsg(s->db);
}

static int exec(struct store *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int store_mkdir(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	/* Parents as the system would make them; the state directory itself private. */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The store is root's alone, whatever made it: SQLite creates its files 0644
 * less the umask, and an older svcbpf or a copy may have left them readable.
 */
static void store_tighten(const char *db)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char path[4096 + 16];
	struct stat st;

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffix[i]);
		if (!lstat(path, &st) && S_ISREG(st.st_mode) && (st.st_mode & 077))
			chmod(path, st.st_mode & 0700);
	}
}

int store_open(const char *dir, struct store **out, char err[ERR_LEN])
{
	char path[4096];
	struct store *s;
	sqlite3_stmt *st;
	int version = -1;

	int ret = store_mkdir(dir);

	if (ret) {
		snprintf(err, ERR_LEN, "cannot create state directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE) >= (int)sizeof(path)) {
		snprintf(err, ERR_LEN, "state directory path too long");
		return -ENAMETOOLONG;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, ERR_LEN, "cannot open store %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	store_tighten(path);
	/*
	 * WAL: a commit is one append, and a crash (even a SIGKILL mid-commit)
	 * still leaves the old or the new state. synchronous=NORMAL may lose the
	 * last commits on power loss, never consistency; `svcbpf sync` re-derives
	 * the maps from whatever the store then holds.
	 */
	if (exec(s, "PRAGMA journal_mode = WAL") || exec(s, "PRAGMA synchronous = NORMAL") ||
	    exec(s, "PRAGMA foreign_keys = ON") ||
	    sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, ERR_LEN, "cannot read store %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0) {
		snprintf(err, ERR_LEN, "cannot read store %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, ERR_LEN, "store %s has schema %d, newer than this svcbpf (%d)", path,
			 version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	/* A fresh store gets the whole schema; an older one its upgrades. */
	if (version < STORE_SCHEMA_VERSION &&
	    (exec(s, "BEGIN IMMEDIATE") || (version == 0 && exec(s, schema)) ||
	     (version == 1 && exec(s, upgrade_v2)) ||
	     (version >= 1 && version < 3 && exec(s, upgrade_v3)) ||
	     (version >= 1 && exec(s, upgrade_v4)) || exec(s, schema_objects) ||
	     exec(s, schema_settings) || exec(s, schema_parent_index) ||
	     exec(s, "PRAGMA user_version = 4") || exec(s, "COMMIT"))) {
		snprintf(err, ERR_LEN, "cannot initialise store %s: %s", path,
			 sqlite3_errmsg(s->db));
		goto fail;
	}
	if (exec(s, temp_schema)) {
		snprintf(err, ERR_LEN, "cannot open store %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	sqlite3_close(s->db);
	free(s);
	return -EIO;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < STORE_STMT_CACHE; i++)
		if (s->cache[i].st)
			sqlite3_finalize(s->cache[i].st);
	sqlite3_close(s->db);
	free(s);
}

int store_begin(struct store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

int store_commit(struct store *s)
{
	return exec(s, "COMMIT");
}

void store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
}

/* The cached statement for @sql, reset, with the integer arguments bound in order. */
static sqlite3_stmt *prep(struct store *s, const char *sql, int nargs, const int64_t *args)
{
	struct stmt_slot *slot = NULL;
	sqlite3_stmt *st;

	for (int i = 0; i < STORE_STMT_CACHE && !slot; i++)
		if (s->cache[i].sql == sql || !s->cache[i].sql)
			slot = &s->cache[i];
	if (slot && slot->sql == sql) {
		st = slot->st;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
		    SQLITE_OK)
			return NULL;
		if (slot) {
			slot->sql = sql;
			slot->st = st;
		}
	}
	for (int i = 0; i < nargs; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
	return st;
}

/* Done with a statement from prep(): keep it if cached, else free it. */
static void done(struct store *s, sqlite3_stmt *st)
{
	for (int i = 0; i < STORE_STMT_CACHE; i++) {
		if (s->cache[i].st == st) {
			sqlite3_reset(st);
			return;
		}
	}
	sqlite3_finalize(st);
}

/* Room for one more @size-byte element in *@arr (@n used of *@cap); false when out of memory. */
static bool grow(void *arr, size_t n, size_t *cap, size_t size)
{
	void **a = arr, *na;

	if (n < *cap)
		return true;
	na = realloc(*a, (*cap ? *cap * 2 : 16) * size);
	if (!na)
		return false;
	*a = na;
	*cap = *cap ? *cap * 2 : 16;
	return true;
}

/* Run a statement that returns nothing; returns rows changed or -EIO. */
static int run(struct store *s, const char *sql, int nargs, const int64_t *args)
{
	sqlite3_stmt *st = prep(s, sql, nargs, args);
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	done(s, st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : -EIO;
}

/*
 * Run @sql, which yields at most one row of @ncols integers, into @out.
 * Returns 1 (a row), 0 (none) or -EIO.
 */
static int query_ints(struct store *s, const char *sql, int nargs, const int64_t *args, int ncols,
		      int64_t *out)
{
	sqlite3_stmt *st = prep(s, sql, nargs, args);
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	for (int i = 0; rc == SQLITE_ROW && i < ncols; i++)
		out[i] = sqlite3_column_int64(st, i);
	done(s, st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

/* The id of @svc, 0 when absent, -EIO on error. */
static int64_t svc_id(struct store *s, const struct l4addr *svc)
{
	int64_t args[] = { svc->ip, svc->port, svc->proto }, id = 0;
	int rc = query_ints(s, "SELECT id FROM service WHERE vip=? AND port=? AND proto=?", 3, args,
			    1, &id);

	return rc < 0 ? rc : rc ? id : 0;
}

/* Every flag a row may hold: affinity and source ranges are derived (maps.c). */
#define STORE_SVC_FLAGS (SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ | SVCBPF_SVC_LOCAL)
/* Ranges text of one service: "255.255.255.255/32," each. */
#define STORE_RANGE_TEXT 20

/* "10.0.0.0/8,192.0.2.0/24" for @r[0..n) (malloc'd), NULL when none or out of memory. */
static char *ranges_text(const struct cidr4 *r, size_t n)
{
	char *t, *p, buf[ADDR_STR_LEN];

	if (!n)
		return NULL;
	t = malloc(n * STORE_RANGE_TEXT + 1);
	if (!t)
		return NULL;
	p = t;
	for (size_t i = 0; i < n; i++) {
		bool again = false;

		/* Each prefix once: the maps hold one entry for it. */
		for (size_t j = 0; j < i && !again; j++)
			again = r[j].ip == r[i].ip && r[j].len == r[i].len;
		if (!again)
			p += sprintf(p, "%s%s", p > t ? "," : "", fmt_cidr4(buf, &r[i]));
	}
	return t;
}

/* Parse ranges text into *@out (NULL, 0 for none); -EINVAL with @err, -ENOMEM. */
static int ranges_parse(const char *text, struct cidr4 **out, size_t *n, char err[ERR_LEN])
{
	size_t cap = 1;
	const char *p;
	char *copy, *tok;
	int ret = 0;

	*out = NULL;
	*n = 0;
	for (p = text; *p; p++)
		cap += *p == ',';
	copy = strdup(text);
	*out = calloc(cap, sizeof(**out));
	if (!copy || !*out) {
		free(copy);
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	/* strtok would skip empty items: "a,,b" and "" must be refused, not read as fewer. */
	tok = copy;
	for (;;) {
		char *comma = strchr(tok, ',');

		if (comma)
			*comma = '\0';
		if (parse_cidr4(tok, &(*out)[*n], err)) {
			ret = -EINVAL;
			break;
		}
		(*n)++;
		if (!comma)
			break;
		tok = comma + 1;
	}
	free(copy);
	if (ret) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return ret;
}

int store_svc_set(struct store *s, const struct l4addr *svc, const struct svc_opts *o,
		  const struct be_rec *be, size_t n)
{
	static const struct svc_opts none;
	const struct l4addr *pa;
	char *ranges = NULL;
	int64_t id, parent = 0;
	sqlite3_stmt *st;
	int created, rc;

	if (!o)
		o = &none;
	pa = &o->parent;
	if (o->flags & ~STORE_SVC_FLAGS)
		return -EINVAL;
	if (pa->ip || pa->port || pa->proto) {
		parent = svc_id(s, pa);
		if (parent <= 0)
			return parent < 0 ? -EIO : -ENOENT;
	}
	if (o->nranges) {
		ranges = ranges_text(o->ranges, o->nranges);
		if (!ranges)
			return -ENOMEM;
	}

	int64_t args[5] = { svc->ip, svc->port, svc->proto, o->affinity, o->flags };

	st = prep(
		s,
		"INSERT OR IGNORE INTO service (vip, port, proto, affinity, flags, ranges, parent) "
		"VALUES (?, ?, ?, ?, ?, ?, ?)",
		5, args);
	if (!st) {
		free(ranges);
		return -EIO;
	}
	if (ranges)
		sqlite3_bind_text(st, 6, ranges, -1, SQLITE_TRANSIENT);
	if (parent)
		sqlite3_bind_int64(st, 7, parent);
	rc = sqlite3_step(st);
	done(s, st);
	if (rc != SQLITE_DONE) {
		free(ranges);
		return -EIO;
	}
	created = sqlite3_changes(s->db);
	id = created ? sqlite3_last_insert_rowid(s->db) : svc_id(s, svc);
	if (id <= 0) {
		free(ranges);
		return -EIO;
	}
	if (created) {
		free(ranges);
		goto insert; /* a new service: nothing to keep or drop */
	}

	int64_t up[] = { o->affinity, o->flags, id };

	st = prep(s,
		  "UPDATE service SET affinity = ?, flags = ?, ranges = ?4, parent = ?5 "
		  "WHERE id = ?3",
		  3, up);
	if (!st) {
		free(ranges);
		return -EIO;
	}
	if (ranges)
		sqlite3_bind_text(st, 4, ranges, -1, SQLITE_TRANSIENT);
	if (parent)
		sqlite3_bind_int64(st, 5, parent);
	rc = sqlite3_step(st);
	done(s, st);
	free(ranges);
	if (rc != SQLITE_DONE)
		return -EIO;
	/* Keep the rows (and ids) of backends that stay; drop the others. */
	if (run(s, "CREATE TEMP TABLE IF NOT EXISTS want (ip INTEGER, port INTEGER)", 0, NULL) <
		    0 ||
	    run(s, "DELETE FROM temp.want", 0, NULL) < 0)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		int64_t w[] = { be[i].addr.ip, be[i].addr.port };

		if (run(s, "INSERT INTO temp.want VALUES (?, ?)", 2, w) < 0)
			return -EIO;
	}
	if (run(s,
		"DELETE FROM backend WHERE service_id = ? AND (ip, port) NOT IN "
		"(SELECT ip, port FROM temp.want)",
		1, &id) < 0)
		return -EIO;
insert:
	/* New backends are inserted; staying ones take the weight and state given. */
	for (size_t i = 0; i < n; i++) {
		int64_t b[] = { id, be[i].addr.ip, be[i].addr.port, be[i].weight, be[i].state };

		if (run(s,
			"INSERT INTO backend (service_id, ip, port, weight, state) "
			"VALUES (?, ?, ?, ?, ?) "
			"ON CONFLICT (service_id, ip, port) DO UPDATE SET weight = excluded.weight, "
			"state = excluded.state",
			5, b) < 0)
			return -EIO;
	}
	return 0;
}

/* Read @n addresses from @st's rows (columns 0-2) into *@out; caller frees. */
static int read_addrs(struct store *s, sqlite3_stmt *st, struct l4addr **out, size_t *n)
{
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!grow(out, *n, &cap, sizeof(**out))) {
			rc = SQLITE_NOMEM;
			break;
		}
		(*out)[(*n)++] = (struct l4addr){ .ip = (uint32_t)sqlite3_column_int64(st, 0),
						  .port = (uint16_t)sqlite3_column_int(st, 1),
						  .proto = (uint8_t)sqlite3_column_int(st, 2) };
	}
	done(s, st);
	if (rc != SQLITE_DONE) {
		free(*out);
		*out = NULL;
		*n = 0;
		return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	}
	return 0;
}

int store_svc_children(struct store *s, const struct l4addr *svc, struct l4addr **out, size_t *n)
{
	int64_t id = svc_id(s, svc);
	sqlite3_stmt *st;

	*out = NULL;
	*n = 0;
	if (id <= 0)
		return id < 0 ? -EIO : 0;
	st = prep(s,
		  "SELECT vip, port, proto FROM service WHERE parent = ? "
		  "ORDER BY vip, port, proto",
		  1, &id);
	if (!st)
		return -EIO;
	return read_addrs(s, st, out, n);
}

int store_svc_parent(struct store *s, const struct l4addr *svc, struct l4addr *parent)
{
	int64_t args[] = { svc->ip, svc->port, svc->proto }, p[3];
	int rc = query_ints(s,
			    "SELECT p.vip, p.port, p.proto FROM service c JOIN service p "
			    "ON p.id = c.parent WHERE c.vip=? AND c.port=? AND c.proto=?",
			    3, args, 3, p);

	if (rc == 1)
		*parent = (struct l4addr){ .ip = (uint32_t)p[0],
					   .port = (uint16_t)p[1],
					   .proto = (uint8_t)p[2] };
	return rc;
}

int store_nodeport_used(struct store *s, uint16_t port, struct l4addr *who)
{
	int64_t arg = port, p = 0;
	int rc = query_ints(s,
			    "SELECT proto FROM service WHERE vip = 0 AND port = ? "
			    "ORDER BY proto LIMIT 1",
			    1, &arg, 1, &p);

	if (rc == 1)
		*who = (struct l4addr){ .ip = 0, .port = port, .proto = (uint8_t)p };
	if (rc)
		return rc;
	/* A Service's healthCheckNodePort has no row: the agent listens on it. */
	rc = query_ints(s,
			"SELECT 1 FROM object WHERE kind = 'Service' AND "
			"json_extract(doc, '$.spec.healthCheckNodePort') = ? LIMIT 1",
			1, &arg, 1, &p);
	if (rc == 1)
		*who = (struct l4addr){ .ip = 0, .port = port, .proto = 0 };
	return rc;
}

int store_range_count(struct store *s, size_t *n)
{
	int64_t v = 0;

	/* One prefix per comma, plus one: the text is canonical ("a/b,c/d"). */
	if (query_ints(s,
		       "SELECT coalesce(sum(length(ranges) - length(replace(ranges, ',', '')) + 1),"
		       " 0) FROM service WHERE ranges IS NOT NULL",
		       0, NULL, 1, &v) != 1)
		return -EIO;
	*n = (size_t)v;
	return 0;
}

int store_svc_del(struct store *s, const struct l4addr *svc)
{
	int64_t id = svc_id(s, svc);

	if (id <= 0)
		return id < 0 ? -EIO : -ENOENT;
	/* Its NodePort frontends go with it: a row must never name a parent that is gone. */
	if (run(s, "DELETE FROM service WHERE parent = ?", 1, &id) < 0 ||
	    run(s, "DELETE FROM service WHERE id = ?", 1, &id) < 0)
		return -EIO;
	return 0;
}

int store_be_add(struct store *s, const struct l4addr *svc, const struct be_rec *be)
{
	int64_t id = svc_id(s, svc);
	int64_t args[4];
	int rc;

	if (id <= 0)
		return id < 0 ? -EIO : -ENOENT;
	args[0] = id;
	args[1] = be->addr.ip;
	args[2] = be->addr.port;
	args[3] = be->weight;
	rc = run(s,
		 "INSERT OR IGNORE INTO backend (service_id, ip, port, weight) VALUES (?, ?, ?, ?)",
		 4, args);
	return rc < 0 ? rc : rc == 0 ? -EEXIST : 0;
}

int store_be_update(struct store *s, const struct l4addr *svc, const struct l4addr *be, int weight,
		    int state, int *svc_missing)
{
	int64_t id = svc_id(s, svc);
	int64_t args[5];
	int rc;

	*svc_missing = id == 0;
	if (id <= 0)
		return id < 0 ? -EIO : -ENOENT;
	args[0] = weight;
	args[1] = state;
	args[2] = id;
	args[3] = be->ip;
	args[4] = be->port;
	rc = run(s,
		 "UPDATE backend SET weight = CASE WHEN ?1 < 0 THEN weight ELSE ?1 END,"
		 " state = CASE WHEN ?2 < 0 THEN state ELSE ?2 END"
		 " WHERE service_id = ?3 AND ip = ?4 AND port = ?5",
		 5, args);
	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int store_take_gone(struct store *s, uint32_t **ids, size_t *n)
{
	sqlite3_stmt *st = prep(s, "SELECT id FROM temp.gone ORDER BY id", 0, NULL);
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!grow(ids, *n, &cap, sizeof(**ids))) {
			done(s, st);
			return -ENOMEM;
		}
		(*ids)[(*n)++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	done(s, st);
	if (rc != SQLITE_DONE)
		return -EIO;
	return run(s, "DELETE FROM temp.gone", 0, NULL) < 0 ? -EIO : 0;
}

int store_be_del(struct store *s, const struct l4addr *svc, const struct l4addr *be,
		 int *svc_missing)
{
	int64_t id = svc_id(s, svc);
	int64_t args[3];
	int rc;

	*svc_missing = id == 0;
	if (id <= 0)
		return id < 0 ? -EIO : -ENOENT;
	args[0] = id;
	args[1] = be->ip;
	args[2] = be->port;
	rc = run(s, "DELETE FROM backend WHERE service_id=? AND ip=? AND port=?", 3, args);
	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/*
 * Column @i of the current row as an integer in [@min, @max]. The store is
 * only written by svcbpf, but a hand-edited or damaged one must be refused,
 * not truncated into another address or weight for the maps: a NULL, a text,
 * a real or an out-of-range number sets @s->bad naming the row and column.
 */
static bool col_int(struct store *s, sqlite3_stmt *st, int i, int64_t min, int64_t max,
		    int64_t *out)
{
	int64_t v = sqlite3_column_int64(st, i);

	if (sqlite3_column_type(st, i) == SQLITE_INTEGER && v >= min && v <= max) {
		*out = v;
		return true;
	}
	if (!s->bad[0])
		snprintf(s->bad, sizeof(s->bad),
			 "damaged store: %s id %lld: %s is not a number in %lld-%lld",
			 sqlite3_column_table_name(st, i) ? sqlite3_column_table_name(st, i) :
							    "row",
			 (long long)sqlite3_column_int64(st, 0), sqlite3_column_name(st, i),
			 (long long)min, (long long)max);
	return false;
}

/* Fill @r's backends from the store; -EINVAL (s->bad set) for a row the maps cannot take. */
static int load_backends(struct store *s, struct svc_rec *r)
{
	sqlite3_stmt *st = prep(s,
				"SELECT id, ip, port, weight, state FROM backend "
				"WHERE service_id = ? ORDER BY id",
				1, &r->id);
	size_t cap = 0;
	int rc;

	if (!st)
		return -EIO;
	r->nbe = 0;
	r->be = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id, ip, port, weight, state;
		struct be_rec *b;

		/* The maps key backends by a 32-bit id: a larger one would alias another. */
		if (!col_int(s, st, 0, 1, UINT32_MAX, &id) ||
		    !col_int(s, st, 1, 0, UINT32_MAX, &ip) ||
		    !col_int(s, st, 2, 1, UINT16_MAX, &port) ||
		    !col_int(s, st, 3, 0, SVCBPF_MAX_WEIGHT, &weight) ||
		    !col_int(s, st, 4, SVCBPF_BE_ACTIVE, SVCBPF_BE_DRAINING, &state)) {
			done(s, st);
			return -EINVAL;
		}
		if (!grow(&r->be, r->nbe, &cap, sizeof(*r->be))) {
			done(s, st);
			return -ENOMEM;
		}
		b = &r->be[r->nbe++];
		b->id = id;
		b->addr.ip = (uint32_t)ip;
		b->addr.port = (uint16_t)port;
		b->addr.proto = r->addr.proto;
		b->weight = (uint16_t)weight;
		b->state = (uint8_t)state;
	}
	done(s, st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/*
 * The columns every read of a service takes, in row_to_svc()'s order: the
 * parent's address comes from its row (a LEFT JOIN: NULL when it has none).
 */
#define SVC_COLUMNS                                                                     \
	"SELECT s.id, s.vip, s.port, s.proto, s.affinity, s.flags, s.ranges, s.parent," \
	" p.id, p.vip, p.port, p.proto FROM service s LEFT JOIN service p ON p.id = s.parent "

/* The service of the current row of @st; false (s->bad set) when the maps cannot take it. */
static bool row_to_svc(struct store *s, sqlite3_stmt *st, struct svc_rec *r)
{
	int64_t id, vip, port, proto, affinity, flags, parent, pid, pvip, pport, pproto;
	char err[ERR_LEN];
	int rtype;

	memset(r, 0, sizeof(*r));
	/* Service ids past INT32_MAX are refused by the maps too (maps.c). */
	if (!col_int(s, st, 0, 1, INT32_MAX, &id) || !col_int(s, st, 1, 0, UINT32_MAX, &vip) ||
	    !col_int(s, st, 2, 1, UINT16_MAX, &port) ||
	    !col_int(s, st, 3, IPPROTO_TCP, IPPROTO_UDP, &proto) ||
	    !col_int(s, st, 4, 0, STORE_AFFINITY_MAX, &affinity) ||
	    !col_int(s, st, 5, 0, UINT16_MAX, &flags))
		return false;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		snprintf(s->bad, sizeof(s->bad), "damaged store: service id %lld: proto %lld",
			 (long long)id, (long long)proto);
		return false;
	}
	if (flags & ~STORE_SVC_FLAGS) {
		snprintf(s->bad, sizeof(s->bad),
			 "damaged store: service id %lld: flags 0x%llx has unknown bits",
			 (long long)id, (long long)flags);
		return false;
	}
	if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
		if (!col_int(s, st, 7, 1, INT32_MAX, &parent))
			return false;
		if (sqlite3_column_type(st, 8) == SQLITE_NULL || parent == id) {
			snprintf(s->bad, sizeof(s->bad),
				 "damaged store: service id %lld: parent %lld %s", (long long)id,
				 (long long)parent, parent == id ? "is itself" : "does not exist");
			return false;
		}
		if (!col_int(s, st, 8, 1, INT32_MAX, &pid) ||
		    !col_int(s, st, 9, 0, UINT32_MAX, &pvip) ||
		    !col_int(s, st, 10, 1, UINT16_MAX, &pport) ||
		    !col_int(s, st, 11, IPPROTO_TCP, IPPROTO_UDP, &pproto))
			return false;
		r->parent.ip = (uint32_t)pvip;
		r->parent.port = (uint16_t)pport;
		r->parent.proto = (uint8_t)pproto;
	}
	rtype = sqlite3_column_type(st, 6);
	if (rtype != SQLITE_NULL) {
		const unsigned char *t = sqlite3_column_text(st, 6);
		int rc = rtype != SQLITE_TEXT || !t ?
				 -EINVAL :
				 ranges_parse((const char *)t, &r->ranges, &r->nranges, err);

		if (rc == -ENOMEM) {
			snprintf(s->bad, sizeof(s->bad), "out of memory");
			return false;
		}
		if (rc) {
			snprintf(s->bad, sizeof(s->bad),
				 "damaged store: service id %lld: ranges '%.40s' do not parse",
				 (long long)id, t ? (const char *)t : "");
			return false;
		}
	}
	r->id = id;
	r->addr.ip = (uint32_t)vip;
	r->addr.port = (uint16_t)port;
	r->addr.proto = (uint8_t)proto;
	r->affinity = (uint32_t)affinity;
	r->flags = (uint16_t)flags;
	return true;
}

static int store_load_txn(struct store *s, struct model *m);

int store_load(struct store *s, struct model *m)
{
	/*
	 * One snapshot: services and backends are read by several statements,
	 * and a reader outside a change (status, metrics) must not see half of
	 * another process's commit between them.
	 */
	bool own_txn = sqlite3_get_autocommit(s->db) && !exec(s, "BEGIN");
	int err = store_load_txn(s, m);

	if (own_txn)
		exec(s, "COMMIT");
	return err;
}

static int store_load_txn(struct store *s, struct model *m)
{
	sqlite3_stmt *st = prep(s, SVC_COLUMNS "ORDER BY s.vip, s.port, s.proto", 0, NULL);
	size_t cap = 0;
	int rc, err = 0;

	memset(m, 0, sizeof(*m));
	s->bad[0] = '\0';
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct svc_rec *r;

		if (!grow(&m->svc, m->n, &cap, sizeof(*m->svc))) {
			err = -ENOMEM;
			break;
		}
		r = &m->svc[m->n];
		if (!row_to_svc(s, st, r)) {
			err = -EINVAL;
			break;
		}
		m->n++;
		/*
		 * Without its UNIQUE index a store could hold a service twice, and with
		 * a damaged index ORDER BY can come back out of order: the maps and
		 * every merge by address need each service once, in order.
		 */
		if (m->n > 1 && l4addr_cmp(&r[-1].addr, &r->addr) >= 0) {
			char a[ADDR_STR_LEN];

			snprintf(s->bad, sizeof(s->bad), "damaged store: service %s %s",
				 fmt_l4addr(a, &r->addr, true),
				 l4addr_cmp(&r[-1].addr, &r->addr) ?
					 "out of order (a damaged index)" :
					 "is there twice");
			err = -EINVAL;
			break;
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = -EIO;
	done(s, st);
	for (size_t i = 0; !err && i < m->n; i++)
		err = load_backends(s, &m->svc[i]);
	if (err)
		model_free(m);
	return err;
}

int store_load_svc(struct store *s, const struct l4addr *svc, struct svc_rec *out)
{
	int64_t args[] = { svc->ip, svc->port, svc->proto };
	sqlite3_stmt *st = prep(s, SVC_COLUMNS "WHERE s.vip=? AND s.port=? AND s.proto=?", 3, args);
	int rc;

	s->bad[0] = '\0';
	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && !row_to_svc(s, st, out)) {
		done(s, st);
		return -EINVAL;
	}
	done(s, st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	rc = load_backends(s, out);
	if (rc)
		svc_rec_free(out);
	return rc;
}

int store_counts(struct store *s, size_t *nsvc, size_t *nbe)
{
	int64_t n[2];

	if (query_ints(s,
		       "SELECT (SELECT n FROM counts WHERE name = 'service'),"
		       " (SELECT n FROM counts WHERE name = 'backend')",
		       0, NULL, 2, n) != 1)
		return -EIO;
	*nsvc = (size_t)n[0];
	*nbe = (size_t)n[1];
	return 0;
}

int store_svc_exists(struct store *s, const struct l4addr *svc, size_t *nbe)
{
	int64_t id = svc_id(s, svc), n = 0;

	if (id <= 0)
		return id < 0 ? -EIO : 0;
	if (query_ints(s, "SELECT count(*) FROM backend WHERE service_id = ?", 1, &id, 1, &n) != 1)
		return -EIO;
	*nbe = (size_t)n;
	return 1;
}

int store_svc_nbe(struct store *s, const struct l4addr *svc, size_t *nbe)
{
	int ret = store_svc_exists(s, svc, nbe);

	if (ret == 0)
		*nbe = 0;
	return ret < 0 ? ret : 0;
}

void svc_rec_free(struct svc_rec *r)
{
	free(r->be);
	r->be = NULL;
	r->nbe = 0;
	free(r->ranges);
	r->ranges = NULL;
	r->nranges = 0;
}

void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		svc_rec_free(&m->svc[i]);
	free(m->svc);
	m->svc = NULL;
	m->n = 0;
}

/* A one-off statement with text (T) and integer (I) arguments as @types spells them. */
static sqlite3_stmt *prep_args(struct store *s, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 'T')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	return st;
}

static int step_done(struct store *s, sqlite3_stmt *st)
{
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : -EIO;
}

int store_obj_put(struct store *s, const char *kind, const char *ns, const char *name,
		  const char *doc, int64_t now)
{
	/* An object applied again keeps its creation time (AGE). */
	int rc = step_done(s, prep_args(s,
					"INSERT INTO object (kind, ns, name, doc, created) "
					"VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, ns, name) "
					"DO UPDATE SET doc = excluded.doc",
					"TTTTI", kind, ns, name, doc, now));

	return rc < 0 ? rc : 0;
}

int store_setting_get(struct store *s, const char *name, char *val, size_t len)
{
	sqlite3_stmt *st = prep_args(s, "SELECT value FROM setting WHERE name=?", "T", name);
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(val, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

int store_setting_set(struct store *s, const char *name, const char *val)
{
	int rc = step_done(s, prep_args(s,
					"INSERT INTO setting (name, value) VALUES (?, ?) "
					"ON CONFLICT (name) DO UPDATE SET value = excluded.value",
					"TT", name, val));

	return rc < 0 ? rc : 0;
}

int store_obj_del(struct store *s, const char *kind, const char *ns, const char *name)
{
	int rc = step_done(s, prep_args(s, "DELETE FROM object WHERE kind=? AND ns=? AND name=?",
					"TTT", kind, ns, name));

	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return strdup(t ? (const char *)t : "");
}

int store_obj_list(struct store *s, struct obj_rec **out, size_t *n)
{
	sqlite3_stmt *st = prep_args(s,
				     "SELECT kind, ns, name, doc, created FROM object "
				     "ORDER BY kind, ns, name",
				     "");
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct obj_rec *r;

		if (!grow(out, *n, &cap, sizeof(**out)))
			break;
		r = &(*out)[(*n)++];
		r->kind = col_dup(st, 0);
		r->ns = col_dup(st, 1);
		r->name = col_dup(st, 2);
		r->doc = col_dup(st, 3);
		r->created = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		obj_recs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -EIO;
	}
	return 0;
}

void obj_recs_free(struct obj_rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].kind);
		free(r[i].ns);
		free(r[i].name);
		free(r[i].doc);
	}
	free(r);
}

int store_svc_owner_set(struct store *s, const struct l4addr *svc, const char *owner)
{
	int rc = step_done(
		s, prep_args(s, "UPDATE service SET owner = ? WHERE vip=? AND port=? AND proto=?",
			     "TIII", owner, (int64_t)svc->ip, (int64_t)svc->port,
			     (int64_t)svc->proto));

	return rc < 0 ? rc : 0;
}

int store_svc_owner(struct store *s, const struct l4addr *svc, char *owner, size_t len)
{
	sqlite3_stmt *st = prep_args(s,
				     "SELECT owner FROM service WHERE vip=? AND port=? AND proto=? "
				     "AND owner IS NOT NULL",
				     "III", (int64_t)svc->ip, (int64_t)svc->port,
				     (int64_t)svc->proto);
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(owner, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

int store_owned_list(struct store *s, struct l4addr **out, size_t *n)
{
	sqlite3_stmt *st = prep_args(s,
				     "SELECT vip, port, proto FROM service WHERE owner IS NOT NULL "
				     "ORDER BY vip, port, proto",
				     "");
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!grow(out, *n, &cap, sizeof(**out)))
			break;
		(*out)[(*n)++] = (struct l4addr){ .ip = (uint32_t)sqlite3_column_int64(st, 0),
						  .port = (uint16_t)sqlite3_column_int(st, 1),
						  .proto = (uint8_t)sqlite3_column_int(st, 2) };
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(*out);
		*out = NULL;
		*n = 0;
		return -EIO;
	}
	return 0;
}

int store_vip_used(struct store *s, uint32_t vip, char *owner, size_t len)
{
	/* A CLI service first: the allocator must never hand its VIP to a Service. */
	sqlite3_stmt *st = prep_args(s,
				     "SELECT coalesce(owner, '') FROM service WHERE vip=? "
				     "ORDER BY owner IS NOT NULL LIMIT 1",
				     "I", (int64_t)vip);
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(owner, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}
