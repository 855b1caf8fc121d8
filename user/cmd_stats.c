// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cmd_stats.c - `svcbpf stats` and `svcbpf dump`.
 *
 * stats: the traffic of each service and backend (the per-CPU stats maps,
 * summed), named from the store; with --watch, rates per second between
 * two samples. dump: the translations the maps hold, one line per service
 * and backend in its Maglev table, as `iptables -t nat -L -n -v` prints
 * kube-proxy's rules.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "cli.h"
#include "output.h"
#include "svcbpf.h"

#define OWNER_LEN 512 /* a namespace (63) and a name (253), with room */
#define NS_PER_SEC 1000000000ull

/* ----------------------------------------------------------------------- shared */

/* The maps, or a one-line error: "not loaded" is an error for both commands. */
static int open_loaded_maps(struct dp_maps *m, const char *what)
{
	int ret = cli_open_maps(m);

	if (ret == -ENOENT)
		p_err("cannot %s: svcbpf is not loaded (no maps in %s)", what, cli.pin_dir);
	return ret;
}

/* The Service ("ns/name") @a was made from, in @owner (NULL: made by the CLI); 0 or -ENOMEM. */
static int owner_of(struct store *s, const struct l4addr *a, char **owner)
{
	char buf[OWNER_LEN];

	*owner = NULL;
	/* Unreadable (-EIO) shows as made by the CLI: a name is no reason to fail. */
	if (store_svc_owner(s, a, buf, sizeof(buf)) <= 0)
		return 0;
	*owner = strdup(buf);
	return *owner ? 0 : -ENOMEM;
}

static const char *be_state_name(uint8_t state)
{
	return state == SVCBPF_BE_DRAINING ? "draining" : "active";
}

/* ----------------------------------------------------------------------- stats */

/* The counters of struct lb_stats, in column order. */
enum st_field { ST_FLOWS, ST_PACKETS, ST_BYTES, ST_REPLIES, ST_REPLY_BYTES, ST_DROPS, ST_MAX };

static const struct {
	const char *key; /* JSON */
	const char *head; /* column */
	const char *rate_head; /* --watch column; NULL: none */
	int width;
	bool bytes;
} st_cols[ST_MAX] = {
	[ST_FLOWS] = { "flows", "FLOWS", "FLOWS/s", 7, false },
	[ST_PACKETS] = { "packets", "PACKETS", "PKTS/s", 8, false },
	[ST_BYTES] = { "bytes", "BYTES", "BYTES/s", 9, true },
	[ST_REPLIES] = { "reply_packets", "REPLIES", "REPLIES/s", 8, false },
	[ST_REPLY_BYTES] = { "reply_bytes", "REPLY BYTES", NULL, 12, true },
	[ST_DROPS] = { "drops", "DROPS", "DROPS/s", 6, false },
};

#define RATE_WIDTH 9

struct be_snap {
	uint32_t id;
	struct l4addr addr;
	uint16_t weight;
	uint8_t state;
	uint64_t v[ST_MAX];
};

struct svc_snap {
	uint32_t id;
	struct l4addr addr;
	char *owner; /* "ns/name"; NULL when made by the CLI */
	uint64_t v[ST_MAX];
	size_t nbe;
	struct be_snap *be; /* ordered by address */
};

/* One reading of every (matching) service. */
struct snap {
	size_t n;
	struct svc_snap *svc;
	uint64_t t_ns; /* CLOCK_MONOTONIC when read */
	struct timespec wall;
};

/* The services `stats VIP:PORT[/proto]` shows: every protocol without /proto. */
struct svc_filter {
	bool on, any_proto;
	struct l4addr a;
};

static bool filter_match(const struct svc_filter *f, const struct l4addr *a)
{
	return !f->on || (a->ip == f->a.ip && a->port == f->a.port &&
			  (f->any_proto || a->proto == f->a.proto));
}

static void stats_fill(uint64_t v[ST_MAX], int fd, uint32_t id)
{
	struct lb_stats st;

	/* No entry (a service not programmed yet): nothing counted. */
	dp_stats_read(fd, id, &st);
	v[ST_FLOWS] = st.flows;
	v[ST_PACKETS] = st.packets;
	v[ST_BYTES] = st.bytes;
	v[ST_REPLIES] = st.reply_packets;
	v[ST_REPLY_BYTES] = st.reply_bytes;
	v[ST_DROPS] = st.drops;
}

static int be_snap_cmp(const void *a, const void *b)
{
	return l4addr_cmp(&((const struct be_snap *)a)->addr, &((const struct be_snap *)b)->addr);
}

static void snap_free(struct snap *sn)
{
	for (size_t i = 0; i < sn->n; i++) {
		free(sn->svc[i].be);
		free(sn->svc[i].owner);
	}
	free(sn->svc);
	*sn = (struct snap){ 0 };
}

/* Read the store and the stats maps into @sn; 0 or -errno (reported). */
static int snap_take(const struct dp_maps *m, const struct svc_filter *f, struct snap *sn)
{
	struct model md = { 0 };
	struct store *s;
	int ret = 0;

	*sn = (struct snap){ 0 };
	ret = cli_load_model(&md, &s);
	if (ret)
		return ret;
	sn->svc = calloc(md.n ? md.n : 1, sizeof(*sn->svc));
	if (!sn->svc)
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < md.n; i++) {
		const struct svc_rec *r = &md.svc[i];
		struct svc_snap *v = &sn->svc[sn->n];

		if (!filter_match(f, &r->addr))
			continue;
		sn->n++;
		v->id = (uint32_t)r->id;
		v->addr = r->addr;
		stats_fill(v->v, m->sst, v->id);
		v->be = calloc(r->nbe ? r->nbe : 1, sizeof(*v->be));
		if (!v->be || owner_of(s, &r->addr, &v->owner)) {
			ret = -ENOMEM;
			break;
		}
		v->nbe = r->nbe;
		for (size_t j = 0; j < r->nbe; j++) {
			struct be_snap *b = &v->be[j];

			b->id = (uint32_t)r->be[j].id;
			b->addr = r->be[j].addr;
			b->weight = r->be[j].weight;
			b->state = r->be[j].state;
			stats_fill(b->v, m->bst, b->id);
		}
		qsort(v->be, v->nbe, sizeof(*v->be), be_snap_cmp);
	}
	/* The time the counters were read, for the rate. */
	sn->t_ns = dp_mono_ns();
	clock_gettime(CLOCK_REALTIME, &sn->wall);
	if (ret == -ENOMEM)
		p_err("cannot read the stats: out of memory");
	if (ret)
		snap_free(sn);
	model_free(&md);
	store_close(s);
	return ret;
}

static int svc_snap_cmp(const void *a, const void *b)
{
	return l4addr_cmp(&((const struct svc_snap *)a)->addr, &((const struct svc_snap *)b)->addr);
}

/*
 * @v as the previous reading saw it, or NULL: new since (an address
 * deleted and added again has a new id), or not read then. Both readings
 * are ordered by address.
 */
static const struct svc_snap *prev_svc(const struct snap *prev, const struct svc_snap *v)
{
	const struct svc_snap *p = prev ? bsearch(v, prev->svc, prev->n, sizeof(*v), svc_snap_cmp) :
					  NULL;

	return p && p->id == v->id ? p : NULL;
}

static const struct be_snap *prev_be(const struct svc_snap *prev, const struct be_snap *b)
{
	const struct be_snap *p = prev ? bsearch(b, prev->be, prev->nbe, sizeof(*b), be_snap_cmp) :
					 NULL;

	return p && p->id == b->id ? p : NULL;
}

/* Per second between two readings; a counter that went back (never expected) is 0. */
static double rate_of(uint64_t cur, uint64_t prev, double dt)
{
	return cur > prev && dt > 0 ? (double)(cur - prev) / dt : 0;
}

/* ---------------------------------------------------------------- stats: JSON */

/*
 * One builder for `-o json` and for each line of `--watch -o json` (a
 * stream of compact objects the out_* printers cannot make), so the two
 * never drift. @pv: the previous reading, NULL for no rate.
 */
static void counters_json(json_t *o, const uint64_t *v, const uint64_t *pv, double dt, bool drops,
			  bool watch)
{
	json_t *rate;

	for (int f = 0; f < ST_MAX; f++)
		if (f != ST_DROPS || drops)
			json_object_set_new(o, st_cols[f].key, json_integer((json_int_t)v[f]));
	if (!watch)
		return;
	if (!pv) {
		json_object_set_new(o, "rate", json_null());
		return;
	}
	rate = json_object();
	for (int f = 0; f < ST_MAX; f++)
		if (f != ST_DROPS || drops)
			json_object_set_new(rate, st_cols[f].key,
					    json_real(rate_of(v[f], pv[f], dt)));
	json_object_set_new(o, "rate", rate);
}

static json_t *svc_json(const struct svc_snap *v, const struct svc_snap *pv, double dt, bool watch)
{
	char buf[ADDR_STR_LEN];
	json_t *o = json_object(), *arr = json_array();
	const char *slash = v->owner ? strchr(v->owner, '/') : NULL;

	json_object_set_new(o, "service", json_string(fmt_l4addr(buf, &v->addr, true)));
	json_object_set_new(o, "vip", json_string(fmt_ip(buf, v->addr.ip)));
	json_object_set_new(o, "port", json_integer(v->addr.port));
	json_object_set_new(o, "protocol", json_string(proto_name(v->addr.proto)));
	json_object_set_new(o, "namespace",
			    slash ? json_stringn(v->owner, (size_t)(slash - v->owner)) :
				    json_null());
	json_object_set_new(o, "name", slash ? json_string(slash + 1) : json_null());
	json_object_set_new(o, "id", json_integer(v->id));
	counters_json(o, v->v, pv ? pv->v : NULL, dt, true, watch);
	for (size_t j = 0; j < v->nbe; j++) {
		const struct be_snap *b = &v->be[j];
		const struct be_snap *pb = prev_be(pv, b);
		json_t *bo = json_object();

		json_object_set_new(bo, "backend", json_string(fmt_l4addr(buf, &b->addr, false)));
		json_object_set_new(bo, "ip", json_string(fmt_ip(buf, b->addr.ip)));
		json_object_set_new(bo, "port", json_integer(b->addr.port));
		json_object_set_new(bo, "id", json_integer(b->id));
		json_object_set_new(bo, "state", json_string(be_state_name(b->state)));
		json_object_set_new(bo, "weight", json_integer(b->weight));
		counters_json(bo, b->v, pb ? pb->v : NULL, dt, false, watch);
		json_array_append_new(arr, bo);
	}
	json_object_set_new(o, "backends", arr);
	return o;
}

static json_t *snap_json(const struct snap *cur, const struct snap *prev, double dt, bool watch)
{
	json_t *doc = json_object(), *arr = json_array();

	if (watch) {
		char t[40];
		struct tm tm;

		gmtime_r(&cur->wall.tv_sec, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(t + strlen(t), sizeof(t) - strlen(t), ".%03ldZ",
			 cur->wall.tv_nsec / 1000000);
		json_object_set_new(doc, "time", json_string(t));
		json_object_set_new(doc, "interval_s", json_real(dt));
	}
	for (size_t i = 0; i < cur->n; i++)
		json_array_append_new(arr, svc_json(&cur->svc[i], prev_svc(prev, &cur->svc[i]), dt,
						    watch));
	json_object_set_new(doc, "services", arr);
	return doc;
}

/* Print @doc (indented, or on one line for a stream); 0 or -EIO. */
static int json_print(json_t *doc, bool compact)
{
	size_t flags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10) |
		       (compact ? JSON_COMPACT : JSON_INDENT(2));
	int ret = 0;

	if (!doc || json_dumpf(doc, stdout, flags) || fputc('\n', stdout) == EOF ||
	    fflush(stdout)) {
		fprintf(stderr, "svcbpf: cannot write the output\n");
		ret = -EIO;
	}
	json_decref(doc);
	return ret;
}

/* ---------------------------------------------------------------- stats: table */

/* A rate for people: "0.4", "12", "1.2K"; bytes as "4.9KiB". */
static const char *fmt_rate(char buf[16], double r, bool bytes)
{
	uint64_t n = (uint64_t)(r + 0.5);

	if (bytes)
		return fmt_bytes(buf, n);
	if (r > 0 && r < 10) {
		snprintf(buf, 16, "%.1f", r);
		return buf;
	}
	return fmt_count(buf, n);
}

struct table_widths {
	int addr, name;
};

static void be_label(char *buf, size_t len, const struct be_snap *b)
{
	snprintf(buf, len, "%-9s weight %u", be_state_name(b->state), b->weight);
}

static struct table_widths table_widths(const struct snap *sn)
{
	struct table_widths w = { (int)strlen("SERVICE"), (int)strlen("NAME") };
	char buf[64];

	for (size_t i = 0; i < sn->n; i++) {
		const struct svc_snap *v = &sn->svc[i];
		int len = (int)strlen(fmt_l4addr(buf, &v->addr, true));

		w.addr = len > w.addr ? len : w.addr;
		len = v->owner ? (int)strlen(v->owner) : 1;
		w.name = len > w.name ? len : w.name;
		for (size_t j = 0; j < v->nbe; j++) {
			len = 2 + (int)strlen(fmt_l4addr(buf, &v->be[j].addr, false));
			w.addr = len > w.addr ? len : w.addr;
			be_label(buf, sizeof(buf), &v->be[j]);
			len = (int)strlen(buf);
			w.name = len > w.name ? len : w.name;
		}
	}
	return w;
}

/* The counter columns of one row; @pv NULL: no rate (a new id), @rates: --watch. */
static void row_counters(const uint64_t *v, const uint64_t *pv, double dt, bool rates, bool drops)
{
	char buf[16];

	for (int f = 0; f < ST_MAX; f++) {
		bool red = f == ST_DROPS && v[f] > 0;
		const char *s = st_cols[f].bytes ? fmt_bytes(buf, v[f]) : fmt_count(buf, v[f]);

		if (f == ST_DROPS && !drops)
			break;
		printf(" %s%*s%s", red ? out_color(COLOR_RED) : "", st_cols[f].width, s,
		       red ? out_color(COLOR_NONE) : "");
		if (!rates || !st_cols[f].rate_head)
			continue;
		s = pv ? fmt_rate(buf, rate_of(v[f], pv[f], dt), st_cols[f].bytes) : "-";
		red = f == ST_DROPS && pv && v[f] > pv[f];
		printf(" %s%*s%s", red ? out_color(COLOR_RED) : "", RATE_WIDTH, s,
		       red ? out_color(COLOR_NONE) : "");
	}
}

static void print_table(const struct snap *cur, const struct snap *prev, double dt, bool rates)
{
	struct table_widths w = table_widths(cur);
	char buf[ADDR_STR_LEN], label[64];

	printf("%-*s %-*s", w.addr, "SERVICE", w.name, "NAME");
	for (int f = 0; f < ST_MAX; f++) {
		printf(" %*s", st_cols[f].width, st_cols[f].head);
		if (rates && st_cols[f].rate_head)
			printf(" %*s", RATE_WIDTH, st_cols[f].rate_head);
	}
	printf("\n");
	for (size_t i = 0; i < cur->n; i++) {
		const struct svc_snap *v = &cur->svc[i];
		const struct svc_snap *pv = prev_svc(prev, v);

		printf("%s%-*s%s %-*s", out_color(COLOR_BOLD), w.addr,
		       fmt_l4addr(buf, &v->addr, true), out_color(COLOR_NONE), w.name,
		       v->owner ? v->owner : "-");
		row_counters(v->v, pv ? pv->v : NULL, dt, rates, true);
		printf("\n");
		for (size_t j = 0; j < v->nbe; j++) {
			const struct be_snap *b = &v->be[j];
			const struct be_snap *pb = prev_be(pv, b);
			/* No new flows: draining in yellow, weight 0 dim. */
			const char *c = b->state == SVCBPF_BE_DRAINING ? out_color(COLOR_YELLOW) :
					!b->weight		       ? out_color(COLOR_DIM) :
									 "";

			be_label(label, sizeof(label), b);
			printf("%s  %-*s %-*s", c, w.addr - 2, fmt_l4addr(buf, &b->addr, false),
			       w.name, label);
			row_counters(b->v, pb ? pb->v : NULL, dt, rates, false);
			printf("%s\n", *c ? out_color(COLOR_NONE) : "");
		}
	}
	if (!cur->n)
		printf("(no services)\n");
}

/* ---------------------------------------------------------------- stats: command */

static int stats_help(void)
{
	fprintf(stderr,
		"Usage: svcbpf stats [VIP:PORT[/tcp|udp]] [-o json] [--watch INTERVAL [--count N]]\n"
		"Traffic of each service and backend: new flows, packets and bytes to the\n"
		"service, replies, and drops (no backend, or a failure). A VIP:PORT without\n"
		"/tcp or /udp shows both protocols.\n"
		"  --watch INTERVAL  sample every INTERVAL (500ms, 1s, 2m; 100ms to 1h) and\n"
		"                    show rates per second; -o json prints one line a sample\n"
		"  --count N         stop after N samples (default: until interrupted)\n");
	return EXIT_OK;
}

/* "500ms", "1s", "1.5s", "2m", "1h", "2" (seconds) into nanoseconds, 100 ms to 1 h. */
static int parse_interval(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 }, { "", 1e9 } };
	char *end;
	double v;

	if (!(*s >= '0' && *s <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		double t = v * units[i].ns;

		if (strcmp(end, units[i].unit))
			continue;
		if (!(t >= 1e8 && t <= 3600e9))
			return -ERANGE;
		*ns = (uint64_t)(t + 0.5);
		return 0;
	}
	return -EINVAL;
}

/*
 * Sample every @interval_ns until @count frames (0: no end) or SIGINT/SIGTERM.
 * The signals are blocked and waited for with the sleep, so one that comes
 * at any moment ends the wait at once and the command exits 0.
 */
static int stats_watch(const struct dp_maps *m, const struct svc_filter *f, uint64_t interval_ns,
		       uint32_t count)
{
	bool tty = !json_output && isatty(STDOUT_FILENO);
	struct snap prev, cur;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Left blocked until exit: a signal during the last frame must not kill it. */
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		p_err("cannot block signals: %s", strerror(errno));
		return EXIT_FAIL;
	}
	if (snap_take(m, f, &prev))
		return EXIT_FAIL;
	if (f->on && !prev.n) {
		char buf[ADDR_STR_LEN];

		p_err("no service %s", fmt_l4addr(buf, &f->a, !f->any_proto));
		snap_free(&prev);
		return EXIT_FAIL;
	}
	for (uint32_t frame = 0; !count || frame < count; frame++) {
		uint64_t deadline = prev.t_ns + interval_ns, now;
		double dt;
		int sig = 0;

		while ((now = dp_mono_ns()) < deadline) {
			struct timespec ts = { .tv_sec = (time_t)((deadline - now) / NS_PER_SEC),
					       .tv_nsec = (long)((deadline - now) % NS_PER_SEC) };

			sig = sigtimedwait(&set, NULL, &ts);
			if (sig > 0)
				break;
			if (errno != EAGAIN && errno != EINTR) {
				p_err("cannot wait: %s", strerror(errno));
				snap_free(&prev);
				return EXIT_FAIL;
			}
			sig = 0;
		}
		if (sig > 0)
			break;
		if (snap_take(m, f, &cur)) {
			snap_free(&prev);
			return EXIT_FAIL;
		}
		dt = (double)(cur.t_ns - prev.t_ns) / 1e9;
		if (json_output) {
			ret = json_print(snap_json(&cur, &prev, dt, true), true);
		} else {
			char t[32], every[32];
			struct tm tm;

			gmtime_r(&cur.wall.tv_sec, &tm);
			strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
			if (interval_ns % NS_PER_SEC == 0)
				snprintf(every, sizeof(every), "%llus",
					 (unsigned long long)(interval_ns / NS_PER_SEC));
			else
				snprintf(every, sizeof(every), "%llums",
					 (unsigned long long)(interval_ns / 1000000));
			/* A terminal shows the last frame; a file or pipe keeps them all. */
			if (tty)
				printf("\033[H\033[2J");
			else if (frame)
				printf("\n");
			printf("%s  every %s, rates over the last %.3f s\n", t, every, dt);
			print_table(&cur, &prev, dt, true);
			ret = fflush(stdout) ? -EIO : 0;
		}
		snap_free(&prev);
		prev = cur;
		if (ret) {
			snap_free(&prev);
			return EXIT_FAIL;
		}
	}
	snap_free(&prev);
	return EXIT_OK;
}

int do_stats(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct svc_filter f = { 0 };
	const char *watch = NULL, *count_arg = NULL;
	uint64_t interval_ns = 0;
	uint32_t count = 0;
	char err[ERR_LEN];
	struct snap sn;
	int ret;

	if (argc && !strcmp(argv[0], "help"))
		return stats_help();
	for (int i = 0; i < argc; i++) {
		const char **opt = NULL, *name = NULL, *v = NULL;

		if (!strncmp(argv[i], "--watch", 7)) {
			opt = &watch;
			name = "--watch";
		} else if (!strncmp(argv[i], "--count", 7)) {
			opt = &count_arg;
			name = "--count";
		}
		if (opt && argv[i][7] == '=') {
			v = argv[i] + 8;
		} else if (opt && !argv[i][7]) {
			if (i + 1 >= argc)
				return usage_err("stats: %s needs a value", name);
			v = argv[++i];
		} else {
			opt = NULL; /* "--watchful": not ours */
		}
		if (opt) {
			if (*opt)
				return usage_err("stats: %s given twice", name);
			*opt = v;
			continue;
		}
		if (argv[i][0] == '-')
			return usage_err("stats: unknown option '%s'", argv[i]);
		if (f.on)
			return usage_err("stats: unexpected argument '%s'", argv[i]);
		if (parse_svc_arg(argv[i], &f.a))
			return EXIT_USAGE;
		f.on = true;
		f.any_proto = !strchr(argv[i], '/');
	}
	if (watch) {
		ret = parse_interval(watch, &interval_ns);
		if (ret)
			return usage_err("stats: invalid --watch '%s': %s", watch,
					 ret == -ERANGE ? "not between 100ms and 1h" :
							  "not a duration (500ms, 1s, 2m, 1h)");
	}
	if (count_arg && !watch)
		return usage_err("stats: --count needs --watch");
	if (count_arg && parse_u32(count_arg, "--count", 1, UINT32_MAX, &count, err))
		return usage_err("stats: %s", err);
	if (!require_privileges() || open_loaded_maps(&m, "show stats"))
		return EXIT_FAIL;
	if (watch) {
		ret = stats_watch(&m, &f, interval_ns, count);
		/* Each line was printed as it came: nothing for out_end() to add. */
		json_output_suspend();
		maps_close(&m);
		return ret;
	}
	ret = snap_take(&m, &f, &sn);
	maps_close(&m);
	if (ret)
		return EXIT_FAIL;
	if (f.on && !sn.n) {
		char buf[ADDR_STR_LEN];

		p_err("no service %s", fmt_l4addr(buf, &f.a, !f.any_proto));
		snap_free(&sn);
		return EXIT_FAIL;
	}
	if (json_output) {
		json_output_suspend();
		ret = json_print(snap_json(&sn, NULL, 0, false), false);
	} else {
		print_table(&sn, NULL, 0, false);
	}
	snap_free(&sn);
	return ret ? EXIT_FAIL : EXIT_OK;
}

/* ----------------------------------------------------------------------- dump */

struct dump_be {
	uint32_t id;
	bool in_map; /* the backend map has it (else: a table names a missing backend) */
	struct l4addr addr;
	uint16_t weight;
	uint8_t state;
	uint32_t slots; /* in the service's Maglev table */
	struct lb_stats st;
};

struct dump_svc {
	struct l4addr addr; /* ip 0: a NodePort */
	uint32_t id;
	uint16_t flags; /* enum svcbpf_svc_flags */
	char *owner; /* "ns/name"; NULL when made by the CLI */
	size_t nbe;
	struct dump_be *be; /* ordered by address */
	size_t ntable; /* how many of them the table holds */
	uint64_t drops;
};

static int dump_svc_cmp(const void *a, const void *b)
{
	return l4addr_cmp(&((const struct dump_svc *)a)->addr, &((const struct dump_svc *)b)->addr);
}

static int dump_be_cmp(const void *a, const void *b)
{
	return l4addr_cmp(&((const struct dump_be *)a)->addr, &((const struct dump_be *)b)->addr);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int svc_rec_cmp(const void *key, const void *rec)
{
	return l4addr_cmp(key, &((const struct svc_rec *)rec)->addr);
}

/* Add backend @id (slots @slots) to @d, read from the backend and stats maps. */
static void dump_add_be(const struct dp_maps *m, struct dump_svc *d, uint32_t id, uint32_t slots)
{
	struct dump_be *b = &d->be[d->nbe++];
	struct backend_value bv;

	*b = (struct dump_be){ .id = id, .slots = slots };
	if (!bpf_map_lookup_elem(m->be, &id, &bv)) {
		b->in_map = true;
		b->addr.ip = ntohl(bv.ip);
		b->addr.port = ntohs(bv.port);
		b->weight = bv.weight;
		b->state = bv.state;
	}
	dp_stats_read(m->bst, id, &b->st);
}

/*
 * Fill @d's backends: the distinct ids of its Maglev table with their slot
 * counts, then the store's backends the table leaves out (draining, weight
 * 0) that the backend map still holds: tracked flows still go there.
 */
static int dump_backends(const struct dp_maps *m, struct dump_svc *d, const struct svc_rec *r,
			 uint32_t *slots)
{
	size_t nids = 0, cap = r ? r->nbe : 0;
	/* No entry, or a table replaced since (ENOENT): no table to show. */
	int ret = dp_table_read(m, d->id, slots);
	bool table = !ret;

	if (ret == -ENOENT)
		ret = 0;
	else if (table)
		qsort(slots, m->maglev_m, sizeof(*slots), u32_cmp);
	if (ret) {
		char buf[ADDR_STR_LEN];

		p_err("cannot read the Maglev table of %s: %s", fmt_l4addr(buf, &d->addr, true),
		      strerror(-ret));
		return ret;
	}
	for (uint32_t i = 0; table && i < m->maglev_m; i++)
		nids += slots[i] && (!i || slots[i] != slots[i - 1]);
	cap += nids;
	d->be = calloc(cap ? cap : 1, sizeof(*d->be));
	if (!d->be)
		return -ENOMEM;
	for (uint32_t i = 0, run = 0; nids && i < m->maglev_m; i++) {
		run++;
		if (i + 1 < m->maglev_m && slots[i + 1] == slots[i])
			continue;
		if (slots[i])
			dump_add_be(m, d, slots[i], run);
		run = 0;
	}
	d->ntable = d->nbe;
	for (size_t j = 0; r && j < r->nbe; j++) {
		uint32_t id = (uint32_t)r->be[j].id;
		struct backend_value bv;
		bool listed = false;

		for (size_t k = 0; k < d->ntable && !listed; k++)
			listed = d->be[k].id == id;
		if (!listed && !bpf_map_lookup_elem(m->be, &id, &bv))
			dump_add_be(m, d, id, 0);
	}
	qsort(d->be, d->nbe, sizeof(*d->be), dump_be_cmp);
	return 0;
}

static void dump_free(struct dump_svc *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].be);
		free(d[i].owner);
	}
	free(d);
}

/* Every service entry of the maps, with its translations; 0 or -errno (reported). */
static int dump_read(const struct dp_maps *m, struct dump_svc **out, size_t *n)
{
	struct model md = { 0 };
	struct store *s = NULL;
	struct dump_svc *d = NULL;
	uint32_t *slots = NULL;
	struct svc_key key, *prev = NULL;
	size_t cap = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	ret = cli_load_model(&md, &s);
	if (ret)
		return ret;
	while (!(ret = bpf_map_get_next_key(m->svc, prev, &key) ? -errno : 0)) {
		struct svc_value v;

		prev = &key;
		/* Deleted since the key was read: not a translation any more. */
		if (bpf_map_lookup_elem(m->svc, &key, &v))
			continue;
		if (*n == cap) {
			struct dump_svc *nd = realloc(d, (cap ? cap * 2 : 16) * sizeof(*d));

			if (!nd) {
				ret = -ENOMEM;
				break;
			}
			d = nd;
			cap = cap ? cap * 2 : 16;
		}
		d[*n] = (struct dump_svc){ .addr = { .ip = ntohl(key.vip),
						     .port = ntohs(key.port),
						     .proto = key.proto },
					   .id = v.id,
					   .flags = v.flags };
		(*n)++;
	}
	if (ret == -ENOENT)
		ret = 0;
	else if (ret != -ENOMEM)
		p_err("cannot read the service map: %s", strerror(-ret));
	if (!ret && *n) {
		size_t k = 0;

		/* A key deleted under the walk restarts it: each service once. */
		qsort(d, *n, sizeof(*d), dump_svc_cmp);
		for (size_t i = 0; i < *n; i++)
			if (!k || l4addr_cmp(&d[k - 1].addr, &d[i].addr))
				d[k++] = d[i];
		*n = k;
	}
	if (!ret && !(slots = malloc((size_t)m->maglev_m * sizeof(*slots))))
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < *n; i++) {
		const struct svc_rec *r =
			bsearch(&d[i].addr, md.svc, md.n, sizeof(*md.svc), svc_rec_cmp);
		struct lb_stats st;

		/* The store's record only if it is this entry (not a stale one). */
		if (r && (uint32_t)r->id != d[i].id)
			r = NULL;
		dp_stats_read(m->sst, d[i].id, &st);
		d[i].drops = st.drops;
		ret = owner_of(s, &d[i].addr, &d[i].owner);
		if (!ret)
			ret = dump_backends(m, &d[i], r, slots);
	}
	if (ret == -ENOMEM)
		p_err("cannot read the maps: out of memory");
	if (ret) {
		dump_free(d, *n);
		d = NULL;
		*n = 0;
	}
	*out = d;
	free(slots);
	model_free(&md);
	store_close(s);
	return ret;
}

/* A counter as iptables -v prints it (print_num: K/M/G/T above 99999), or exact (-x). */
static void print_num(uint64_t num, bool exact)
{
	static const char units[] = "KMGT";
	int u = -1;

	if (exact) {
		out_fp("%8llu ", (unsigned long long)num);
		return;
	}
	if (num <= 99999) {
		out_fp("%5llu ", (unsigned long long)num);
		return;
	}
	do {
		num = (num + 500) / 1000;
		u++;
	} while (num > 9999 && u < 3);
	out_fp("%4llu%c ", (unsigned long long)num, units[u]);
}

/* The columns every rule starts with, up to the protocol match. */
static void rule_head(const struct dump_svc *d, const char *target, uint64_t pkts, uint64_t bytes,
		      bool exact)
{
	char buf[ADDR_STR_LEN];
	const char *proto = proto_name(d->addr.proto);

	print_num(pkts, exact);
	print_num(bytes, exact);
	out_string(PRINT_ANY, "target", "%-10s ", target);
	out_string(PRINT_ANY, "protocol", "%-4s ", proto);
	out_fp("%-3s ", "--");
	out_string(PRINT_ANY, "source", "%-20s ", "0.0.0.0/0");
	out_string(PRINT_ANY, "destination", "%-20s ",
		   d->addr.ip ? fmt_ip(buf, d->addr.ip) : "0.0.0.0/0");
	out_fp("%s ", proto);
	out_uint(PRINT_ANY, "dport", "dpt:%lu", d->addr.port);
	/* A NodePort: any of the node's own addresses, as kube-proxy's KUBE-NODEPORTS match. */
	if (!d->addr.ip)
		out_fp(" ADDRTYPE match dst-type LOCAL");
	out_uint(PRINT_JSON, "service_id", NULL, d->id);
	out_bool(PRINT_JSON, "nodeport", NULL, !d->addr.ip);
	out_bool(PRINT_JSON, "external", NULL, d->flags & SVCBPF_SVC_EXTERNAL);
	out_bool(PRINT_JSON, "masquerade", NULL, d->flags & SVCBPF_SVC_MASQ);
	out_bool(PRINT_JSON, "local", NULL, d->flags & SVCBPF_SVC_LOCAL);
	out_bool(PRINT_JSON, "source_ranges", NULL, d->flags & SVCBPF_SVC_SRC_RANGES);
}

/* What a frontend does besides DNAT, for the rule's comment. */
static const char *rule_policy(const struct dump_svc *d)
{
	if (d->flags & SVCBPF_SVC_SRC_RANGES)
		return d->flags & SVCBPF_SVC_MASQ ? "masquerade, loadBalancerSourceRanges only" :
						    "loadBalancerSourceRanges only";
	return d->flags & SVCBPF_SVC_MASQ ? "masquerade" : NULL;
}

/* The comments a rule ends with, joined as one. */
static void rule_comment(const char *a, const char *b, const char *c, const char *d)
{
	const char *parts[] = { a, b, c, d };
	bool first = true;

	for (size_t i = 0; i < 4; i++) {
		if (!parts[i] || !*parts[i])
			continue;
		out_fp("%s%s", first ? " /* " : ", ", parts[i]);
		first = false;
	}
	if (!first)
		out_fp(" */");
}

static void dump_rules(const struct dump_svc *d, bool exact)
{
	const struct dump_be *ref = NULL;
	bool weights_differ = false;
	char buf[ADDR_STR_LEN], wbuf[32];

	/* Weights matter only among the backends that take new flows. */
	for (size_t j = 0; j < d->nbe; j++) {
		if (!d->be[j].slots)
			continue;
		weights_differ |= ref && d->be[j].weight != ref->weight;
		ref = ref ? ref : &d->be[j];
	}
	for (size_t j = 0; j < d->nbe; j++) {
		const struct dump_be *b = &d->be[j];
		const char *why = NULL;

		if (!b->in_map)
			why = "backend missing from the backend map";
		else if (!b->slots && b->state == SVCBPF_BE_DRAINING)
			why = "draining: tracked flows only";
		else if (!b->slots)
			why = "weight 0: tracked flows only";
		snprintf(wbuf, sizeof(wbuf), "weight %u", b->weight);
		out_open_object(NULL);
		rule_head(d, "DNAT", b->st.packets, b->st.bytes, exact);
		out_string(PRINT_ANY, "to", " -> %s",
			   b->in_map ? fmt_l4addr(buf, &b->addr, false) : "?");
		out_uint(PRINT_JSON, "backend_id", NULL, b->id);
		out_string(PRINT_JSON, "state", NULL, be_state_name(b->state));
		out_uint(PRINT_JSON, "weight", NULL, b->weight);
		out_uint(PRINT_JSON, "slots", NULL, b->slots);
		if (d->owner)
			out_string(PRINT_JSON, "owner", NULL, d->owner);
		else
			out_null(PRINT_JSON, "owner", NULL, NULL);
		out_uint(PRINT_JSON, "packets", NULL, b->st.packets);
		out_uint(PRINT_JSON, "bytes", NULL, b->st.bytes);
		rule_comment(d->owner, rule_policy(d), weights_differ && b->slots ? wbuf : NULL,
			     why);
		out_fp("\n");
		out_close_object();
	}
	if (d->ntable)
		return;
	/*
	 * No table: a new flow has no backend and is refused, as kube-proxy's
	 * REJECT; dropped when externalTrafficPolicy Local finds none here.
	 */
	out_open_object(NULL);
	rule_head(d, d->flags & SVCBPF_SVC_LOCAL ? "DROP" : "REJECT", d->drops, 0, exact);
	if (d->flags & SVCBPF_SVC_LOCAL)
		out_null(PRINT_JSON, "reject_with", NULL, NULL);
	else
		out_string(PRINT_ANY, "reject_with", " reject-with %s",
			   d->addr.proto == IPPROTO_TCP ? "tcp-reset" : "icmp-port-unreachable");
	out_null(PRINT_JSON, "to", NULL, NULL);
	out_null(PRINT_JSON, "backend_id", NULL, NULL);
	out_null(PRINT_JSON, "state", NULL, NULL);
	out_null(PRINT_JSON, "weight", NULL, NULL);
	out_uint(PRINT_JSON, "slots", NULL, 0);
	if (d->owner)
		out_string(PRINT_JSON, "owner", NULL, d->owner);
	else
		out_null(PRINT_JSON, "owner", NULL, NULL);
	out_uint(PRINT_JSON, "packets", NULL, d->drops);
	out_uint(PRINT_JSON, "bytes", NULL, 0);
	rule_comment(d->owner, d->flags & SVCBPF_SVC_LOCAL ? "no local backend" : "no backend",
		     NULL, NULL);
	out_fp("\n");
	out_close_object();
}

static int dump_help(void)
{
	fprintf(stderr,
		"Usage: svcbpf dump [-x] [-o json]\n"
		"The translations the maps hold, as iptables -t nat -L -n -v shows kube-proxy's\n"
		"rules: a DNAT line for each backend in a service's Maglev table, one for each\n"
		"draining or weight-0 backend (its tracked flows), a REJECT line for a service\n"
		"without a backend. pkts/bytes: packets to the backend (REJECT: refused ones).\n"
		"  -x  exact numbers (without K, M, G, T)\n");
	return EXIT_OK;
}

int do_dump(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct dump_svc *d;
	size_t n, nrules = 0;
	bool exact = false;
	int ret;

	if (argc && !strcmp(argv[0], "help"))
		return dump_help();
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-x") || !strcmp(argv[i], "--exact")) {
			if (exact)
				return usage_err("dump: -x given twice");
			exact = true;
		} else if (argv[i][0] == '-') {
			return usage_err("dump: unknown option '%s'", argv[i]);
		} else {
			return usage_err("dump: unexpected argument '%s'", argv[i]);
		}
	}
	if (!require_privileges() || open_loaded_maps(&m, "dump"))
		return EXIT_FAIL;
	ret = dump_read(&m, &d, &n);
	maps_close(&m);
	if (ret)
		return EXIT_FAIL;
	for (size_t i = 0; i < n; i++)
		nrules += d[i].nbe + !d[i].ntable;
	out_string(PRINT_ANY, "chain", "Chain %s", "SVCBPF-SERVICES");
	out_fp(" (%zu service%s, %zu translation%s)\n", n, n == 1 ? "" : "s", nrules,
	       nrules == 1 ? "" : "s");
	out_fp(exact ? "%8s %8s " : "%5s %5s ", "pkts", "bytes");
	out_fp("%-10s %-4s %-3s %-20s %s\n", "target", "prot", "opt", "source", "destination");
	out_open_array("rules");
	for (size_t i = 0; i < n; i++)
		dump_rules(&d[i], exact);
	out_close_array();
	dump_free(d, n);
	return EXIT_OK;
}
