// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cmd_metrics.c - `svcbpf metrics` and `svcbpf agent`: the dataplane's
 * counters in the Prometheus text exposition format (version 0.0.4), printed
 * once or served on /metrics.
 *
 * One generator writes the whole exposition into a memory stream from the
 * store (the services, their owners), the per-service and per-backend stats
 * maps, the global counters and the sync histogram. The agent runs it per
 * scrape, opening maps and store afresh, so a reload, unload or load while it
 * runs shows in the next scrape. It only reads: changes keep their own lock.
 * The agent's main thread serves the healthCheckNodePorts (health.c) beside
 * the HTTP daemon's thread.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "health.h"
#include "loader.h"
#include "output.h"
#include "svcbpf.h"

#define METRICS_ADDR_DEFAULT "127.0.0.1:9402"
/* Every sample value is a u64, printed the one way whatever the type's spelling. */
#define U64(v) ((unsigned long long)(v))
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One service's labels and traffic, and its backends', as a scrape saw them. */
struct svc_sample {
	const struct svc_rec *r;
	char name[320]; /* the Service's name, or the address for a CLI-made one */
	char ns[256];
	struct lb_stats st;
	struct be_rec *be; /* a copy ordered by address */
	struct lb_stats *be_st;
};

/* Write @v as a label value: backslash, double quote and newline escaped. */
static void put_label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void svc_labels(FILE *f, const struct svc_sample *s)
{
	char ip[ADDR_STR_LEN];

	fputs("service=\"", f);
	put_label_value(f, s->name);
	fputs("\",namespace=\"", f);
	put_label_value(f, s->ns);
	fprintf(f, "\",port=\"%u\",protocol=\"%s\",cluster_ip=\"%s\"", s->r->addr.port,
		proto_name(s->r->addr.proto), fmt_ip(ip, s->r->addr.ip));
}

static int cmp_be_addr(const void *a, const void *b)
{
	const struct be_rec *x = a, *y = b;
	struct l4addr ax = x->addr, ay = y->addr;

	ax.proto = ay.proto = 0; /* unused in a backend */
	return l4addr_cmp(&ax, &ay);
}

/* The field of struct lb_stats a per-service or per-backend family shows. */
#define LB_FIELD(name) offsetof(struct lb_stats, name)

static uint64_t lb_field(const struct lb_stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

static const struct {
	const char *name, *help;
	size_t off;
	bool service_only;
} lb_families[] = {
	{ "packets_total", "Client-to-service packets translated to a backend.",
	  LB_FIELD(packets) },
	{ "bytes_total", "Bytes of the client-to-service packets translated to a backend.",
	  LB_FIELD(bytes) },
	{ "reply_packets_total", "Backend-to-client reply packets translated back to the service.",
	  LB_FIELD(reply_packets) },
	{ "reply_bytes_total", "Bytes of the reply packets translated back to the service.",
	  LB_FIELD(reply_bytes) },
	{ "flows_total", "New flows: TCP connections or UDP conntrack entries.", LB_FIELD(flows) },
	{ "drops_total",
	  "Packets to the service not translated: no backend (rejected or dropped), a failure.",
	  LB_FIELD(drops), true },
};

static void print_services(FILE *f, const struct svc_sample *s, size_t n)
{
	char name[96], be[ADDR_STR_LEN];

	for (size_t k = 0; k < sizeof(lb_families) / sizeof(lb_families[0]); k++) {
		snprintf(name, sizeof(name), "svcbpf_service_%s", lb_families[k].name);
		family(f, name, "counter", lb_families[k].help);
		for (size_t i = 0; i < n; i++) {
			fprintf(f, "%s{", name);
			svc_labels(f, &s[i]);
			fprintf(f, "} %llu\n", U64(lb_field(&s[i].st, lb_families[k].off)));
		}
	}
	for (size_t k = 0; k < sizeof(lb_families) / sizeof(lb_families[0]); k++) {
		if (lb_families[k].service_only)
			continue;
		snprintf(name, sizeof(name), "svcbpf_backend_%s", lb_families[k].name);
		family(f, name, "counter", lb_families[k].help);
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < s[i].r->nbe; j++) {
				fprintf(f, "%s{", name);
				svc_labels(f, &s[i]);
				fprintf(f, ",backend=\"%s\"} %llu\n",
					fmt_l4addr(be, &s[i].be[j].addr, false),
					U64(lb_field(&s[i].be_st[j], lb_families[k].off)));
			}
		}
	}
	for (int k = 0; k < 2; k++) {
		if (k == 0)
			family(f, "svcbpf_backend_weight", "gauge",
			       "The backend's weight: its share of new flows (0: none).");
		else
			family(f, "svcbpf_backend_active", "gauge",
			       "1 when the backend takes new flows, 0 when it is draining.");
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < s[i].r->nbe; j++) {
				const struct be_rec *b = &s[i].be[j];

				fprintf(f, "svcbpf_backend_%s{", k ? "active" : "weight");
				svc_labels(f, &s[i]);
				fprintf(f, ",backend=\"%s\"} %u\n", fmt_l4addr(be, &b->addr, false),
					k ? b->state == SVCBPF_BE_ACTIVE : b->weight);
			}
		}
	}
}

static void print_counters(FILE *f, const struct counter_value *c)
{
	static const struct {
		int cnt;
		const char *kind;
	} kinds[] = {
		{ SVCBPF_CNT_DNAT_NEW, "dnat_new" },
		{ SVCBPF_CNT_DNAT_EST, "dnat_tracked" },
		{ SVCBPF_CNT_REVNAT, "reverse" },
		{ SVCBPF_CNT_XDP_DEFER, "xdp_deferred" },
	};
	static const struct {
		int cnt;
		const char *prog, *hook;
	} progs[] = {
		{ SVCBPF_CNT_RUN_TC_INGRESS, "svcbpf_tc_ingress", "tc_ingress" },
		{ SVCBPF_CNT_RUN_TC_EGRESS, "svcbpf_tc_egress", "tc_egress" },
		{ SVCBPF_CNT_RUN_XDP, "svcbpf_xdp_ingress", "xdp" },
	};

	for (int k = 0; k < 2; k++) {
		if (k == 0)
			family(f, "svcbpf_drops_total", "counter",
			       "Packets not translated as asked, by reason and what became of "
			       "them.");
		else
			family(f, "svcbpf_drop_bytes_total", "counter",
			       "Bytes of the packets not translated as asked, by reason and "
			       "action.");
		for (int i = 0; i < SVCBPF_CNT_MAX; i++) {
			if (dp_counters[i].kind != DP_CNT_REASON)
				continue;
			fprintf(f, "%s{reason=\"%s\",action=\"%s\"} %llu\n",
				k ? "svcbpf_drop_bytes_total" : "svcbpf_drops_total",
				dp_counters[i].reason, dp_counters[i].action,
				U64(k ? c[i].bytes : c[i].packets));
		}
	}
	family(f, "svcbpf_translations_total", "counter",
	       "Packets translated: new flows, tracked flows, replies; and packets XDP left "
	       "to tc.");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		fprintf(f, "svcbpf_translations_total{kind=\"%s\"} %llu\n", kinds[i].kind,
			U64(c[kinds[i].cnt].packets));
	for (int k = 0; k < 2; k++) {
		if (k == 0)
			family(f, "svcbpf_program_runs_total", "counter",
			       "Packets each dataplane program saw.");
		else
			family(f, "svcbpf_program_bytes_total", "counter",
			       "Bytes of the packets each dataplane program saw.");
		for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
			fprintf(f, "%s{program=\"%s\",hook=\"%s\"} %llu\n",
				k ? "svcbpf_program_bytes_total" : "svcbpf_program_runs_total",
				progs[i].prog, progs[i].hook,
				U64(k ? c[progs[i].cnt].bytes : c[progs[i].cnt].packets));
	}
	family(f, "svcbpf_monitor_events_lost_total", "counter",
	       "Monitor events not sent: over the rate limit or the ring buffer full.");
	fprintf(f, "svcbpf_monitor_events_lost_total %llu\n", U64(c[SVCBPF_CNT_MON_LOST].packets));
}

static void print_sync(FILE *f, const struct svcbpf_sync_hist *h)
{
	family(f, "svcbpf_sync_duration_seconds", "histogram",
	       "Time to program the dataplane's maps for a change, a load or a sync.");
	for (int i = 0; i < SVCBPF_SYNC_BUCKETS; i++)
		fprintf(f, "svcbpf_sync_duration_seconds_bucket{le=\"%g\"} %llu\n",
			(double)(1u << i) / 1000.0, U64(h->le[i]));
	fprintf(f, "svcbpf_sync_duration_seconds_bucket{le=\"+Inf\"} %llu\n", U64(h->count));
	fprintf(f, "svcbpf_sync_duration_seconds_sum %.9f\n", (double)h->sum_ns / 1e9);
	fprintf(f, "svcbpf_sync_duration_seconds_count %llu\n", U64(h->count));
	family(f, "svcbpf_last_sync_duration_seconds", "gauge",
	       "Duration of the last sync of the dataplane's maps.");
	fprintf(f, "svcbpf_last_sync_duration_seconds %.9f\n", (double)h->last_ns / 1e9);
}

/*
 * Entries in hash map @fd, counted with batched lookups (a syscall per
 * few thousand entries, where walking the keys costs one per entry), and
 * its capacity. Kernels without batches for the map type: walk the keys.
 */
static int map_count(int fd, uint64_t *entries, uint32_t *max_entries)
{
	const __u32 chunk = 4096;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), tok = 0, n;
	void *keys, *vals;
	bool first = true;
	int ret = 0;

	*entries = 0;
	*max_entries = 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*max_entries = info.max_entries;
	keys = malloc((size_t)chunk * info.key_size);
	vals = malloc((size_t)chunk * info.value_size);
	while (keys && vals) {
		n = chunk;
		ret = bpf_map_lookup_batch(fd, first ? NULL : &tok, &tok, keys, vals, &n, NULL);
		first = false;
		if (ret && errno != ENOENT)
			break;
		*entries += n;
		if (ret) {
			ret = 0; /* ENOENT: the last batch */
			break;
		}
	}
	if (!keys || !vals)
		ret = -ENOMEM;
	free(keys);
	free(vals);
	if (ret) {
		struct map_usage u = { 0 };

		ret = map_usage(fd, &u);
		*entries = u.entries;
	}
	return ret;
}

/*
 * What the maps that grow with services, backends and clients hold against
 * their capacity. Not conntrack: up to millions of entries a scrape would
 * copy out.
 */
static void print_map_usage(FILE *f, const struct dp_maps *m)
{
	const struct {
		const char *name;
		int fd;
	} maps[] = {
		{ "services", m->svc },
		{ "backends", m->be },
		{ "maglev", m->mag },
		{ "affinity", m->aff },
	};
	enum { NMAPS = sizeof(maps) / sizeof(maps[0]) };
	uint64_t entries[NMAPS];
	uint32_t max[NMAPS];
	bool ok[NMAPS];

	for (size_t i = 0; i < NMAPS; i++)
		ok[i] = !map_count(maps[i].fd, &entries[i], &max[i]);
	family(f, "svcbpf_map_entries", "gauge", "Entries in a dataplane map.");
	for (size_t i = 0; i < NMAPS; i++)
		if (ok[i])
			fprintf(f, "svcbpf_map_entries{map=\"%s\"} %llu\n", maps[i].name,
				U64(entries[i]));
	family(f, "svcbpf_map_max_entries", "gauge", "Capacity of a dataplane map.");
	for (size_t i = 0; i < NMAPS; i++)
		if (ok[i])
			fprintf(f, "svcbpf_map_max_entries{map=\"%s\"} %u\n", maps[i].name, max[i]);
}

static void samples_free(struct svc_sample *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++) {
		free(s[i].be);
		free(s[i].be_st);
	}
	free(s);
}

/* Labels and traffic of every service and backend; 0 or -errno with @err set. */
static int samples_read(struct store *st, const struct model *md, const struct dp_maps *m,
			struct svc_sample **out, char err[ERR_LEN])
{
	struct svc_sample *s = calloc(md->n ? md->n : 1, sizeof(*s));
	char owner[512];
	int ret = 0;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < md->n && !ret; i++) {
		const struct svc_rec *r = &md->svc[i];
		char *slash;

		s[i].r = r;
		ret = store_svc_owner(st, &r->addr, owner, sizeof(owner));
		if (ret < 0) {
			snprintf(err, ERR_LEN, "cannot read the store: %s", store_errmsg(st));
			break;
		}
		slash = ret ? strchr(owner, '/') : NULL;
		if (slash) {
			*slash = '\0';
			snprintf(s[i].ns, sizeof(s[i].ns), "%s", owner);
			snprintf(s[i].name, sizeof(s[i].name), "%s", slash + 1);
		} else {
			fmt_l4addr(s[i].name, &r->addr, true);
		}
		ret = 0;
		if (m->sst >= 0)
			dp_stats_read(m->sst, (uint32_t)r->id, &s[i].st);
		s[i].be = calloc(r->nbe ? r->nbe : 1, sizeof(*s[i].be));
		s[i].be_st = calloc(r->nbe ? r->nbe : 1, sizeof(*s[i].be_st));
		if (!s[i].be || !s[i].be_st) {
			snprintf(err, ERR_LEN, "out of memory");
			ret = -ENOMEM;
			break;
		}
		if (r->nbe)
			memcpy(s[i].be, r->be, r->nbe * sizeof(*r->be));
		qsort(s[i].be, r->nbe, sizeof(*s[i].be), cmp_be_addr);
		/* No entry (a service the maps do not hold yet) reads as zero. */
		for (size_t j = 0; m->bst >= 0 && j < r->nbe; j++)
			dp_stats_read(m->bst, (uint32_t)s[i].be[j].id, &s[i].be_st[j]);
	}
	if (ret) {
		samples_free(s, md->n);
		return ret;
	}
	*out = s;
	return 0;
}

/* cli_open_maps() with its error in @err, not on stderr: the agent's goes in a reply. */
static int open_maps(struct dp_maps *m, char err[ERR_LEN])
{
	int ret = bpffs_prepare(cli.pin_dir, false, err);

	*m = (struct dp_maps)DP_MAPS_CLOSED;
	if (ret)
		return ret;
	ret = maps_open(cli.pin_dir, m);
	if (ret == -ENODATA)
		snprintf(err, ERR_LEN,
			 "incomplete pin set in %s: run 'svcbpf load' to repair or 'svcbpf unload'",
			 cli.pin_dir);
	else if (ret && ret != -ENOENT)
		snprintf(err, ERR_LEN, "cannot open the maps in %s: %s", cli.pin_dir,
			 strerror(-ret));
	return ret;
}

/*
 * The whole exposition into @f. Not loaded: svcbpf_up 0 and the store's
 * gauges. Returns 0, or -errno with @err set (a one-line message).
 */
static int metrics_write(FILE *f, char err[ERR_LEN])
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct counter_value c[SVCBPF_CNT_MAX];
	struct svcbpf_sync_hist h;
	struct svc_sample *s = NULL;
	struct store *st = NULL;
	struct model md = { 0 };
	size_t nbe = 0;
	bool loaded;
	int ret;

	ret = open_maps(&m, err);
	if (ret && ret != -ENOENT)
		return ret;
	loaded = !ret;
	ret = store_open(cli.state_dir, &st, err);
	if (ret)
		goto out;
	ret = store_load(st, &md);
	if (ret) {
		snprintf(err, ERR_LEN, "cannot read the store: %s", store_errmsg(st));
		goto out;
	}
	for (size_t i = 0; i < md.n; i++)
		nbe += md.svc[i].nbe;

	family(f, "svcbpf_up", "gauge", "1 when the svcbpf dataplane is loaded, else 0.");
	fprintf(f, "svcbpf_up %d\n", loaded);
	family(f, "svcbpf_services", "gauge", "Services in the store.");
	fprintf(f, "svcbpf_services %zu\n", md.n);
	family(f, "svcbpf_backends", "gauge", "Backends of the services in the store.");
	fprintf(f, "svcbpf_backends %zu\n", nbe);
	family(f, "svcbpf_maps_behind", "gauge",
	       "1 when a change was interrupted before its map writes (run 'svcbpf sync').");
	fprintf(f, "svcbpf_maps_behind %d\n", loaded && maps_behind());
	if (!loaded)
		goto out;

	ret = samples_read(st, &md, &m, &s, err);
	if (ret)
		goto out;
	ret = dp_read_counters(&m, c);
	if (!ret)
		ret = dp_sync_hist_read(&m, &h);
	if (ret) {
		snprintf(err, ERR_LEN, "cannot read the counters: %s", strerror(-ret));
		goto out;
	}
	print_services(f, s, md.n);
	print_counters(f, c);
	print_sync(f, &h);
	print_map_usage(f, &m);
out:
	samples_free(s, md.n);
	model_free(&md);
	store_close(st);
	maps_close(&m);
	return ret;
}

/* The exposition in a malloc'd buffer (*buf, *len); 0 or -errno with @err set. */
static int metrics_render(char **buf, size_t *len, char err[ERR_LEN])
{
	FILE *f = open_memstream(buf, len);
	int ret;

	if (!f) {
		ret = -errno;
		snprintf(err, ERR_LEN, "cannot render the metrics: %s", strerror(-ret));
		return ret;
	}
	ret = metrics_write(f, err);
	if (fclose(f) && !ret) {
		snprintf(err, ERR_LEN, "cannot render the metrics: %s", strerror(errno));
		ret = -ENOMEM;
	}
	if (ret) {
		free(*buf);
		*buf = NULL;
	}
	return ret;
}

int do_metrics(int argc, char **argv)
{
	char err[ERR_LEN] = "";
	size_t len = 0;
	char *buf = NULL;

	if (argc && !strcmp(argv[0], "help")) {
		fprintf(stderr, "Usage: svcbpf metrics\n"
				"Print the dataplane's counters in the Prometheus text format.\n");
		return EXIT_OK;
	}
	if (json_output)
		return usage_err(
			"metrics: the output is Prometheus text; -o json is not supported");
	if (argc)
		return usage_err("metrics: unexpected argument '%s'", argv[0]);
	if (!require_privileges())
		return EXIT_FAIL;
	if (metrics_render(&buf, &len, err)) {
		p_err("%s", err);
		return EXIT_FAIL;
	}
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout)) {
		free(buf);
		p_err("cannot write the metrics: %s", strerror(errno));
		return EXIT_FAIL;
	}
	free(buf);
	return EXIT_OK;
}

/* ---------------------------------------------------------------- agent */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
		     MHD_RESPMEM_PERSISTENT);
}

/* Serialises scrapes should the daemon ever run more than one thread. */
static pthread_mutex_t scrape_lock = PTHREAD_MUTEX_INITIALIZER;

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	static const char index_html[] =
		"<html><head><title>svcbpf</title></head><body><h1>svcbpf</h1>"
		"<p><a href=\"/metrics\">Metrics</a></p></body></html>\n";
	char err[ERR_LEN] = "", line[ERR_LEN + 16];
	size_t len = 0;
	char *buf = NULL;
	int ret;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (!strcmp(url, "/healthz"))
		return reply_text(conn, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/"))
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", (char *)index_html,
			     strlen(index_html), MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");

	pthread_mutex_lock(&scrape_lock);
	ret = metrics_render(&buf, &len, err);
	pthread_mutex_unlock(&scrape_lock);
	if (ret) {
		snprintf(line, sizeof(line), "svcbpf: %s\n", err);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			     line, strlen(line), MHD_RESPMEM_MUST_COPY);
	}
	return reply(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, buf, len, MHD_RESPMEM_MUST_FREE);
}

/* Parse "IPv4:PORT" or "[IPv6]:PORT" into @sa. 0, or -EINVAL with @err set. */
static int parse_listen_addr(const char *arg, struct sockaddr_storage *sa, socklen_t *salen,
			     char err[ERR_LEN])
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs = arg;
	size_t hlen;
	uint32_t port;

	memset(sa, 0, sizeof(*sa));
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':')
			goto bad;
		hs = arg + 1;
		hlen = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon)
			goto bad;
		hlen = (size_t)(colon - arg);
	}
	if (!hlen || hlen >= sizeof(host))
		goto bad;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	if (parse_u32(colon + 1, "port", 1, 65535, &port, err))
		return -EINVAL;
	if (arg[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*salen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*salen = sizeof(*s4);
	}
	return 0;
bad:
	snprintf(err, ERR_LEN, "invalid --metrics-addr '%s' (IP:PORT or [IPv6]:PORT)", arg);
	return -EINVAL;
}

/* A socket listening on @sa, or -1 with @err set. */
static int listen_on(const struct sockaddr_storage *sa, socklen_t salen, const char *addr,
		     char err[ERR_LEN])
{
	int one = 1, fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, ERR_LEN, "cannot listen on %s: %s", addr, strerror(errno));
		return -1;
	}
	if (sa->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* A restarted agent must not wait for TIME_WAIT; a live listener still refuses. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)sa, salen) || listen(fd, 64)) {
		snprintf(err, ERR_LEN, "cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int agent_help(void)
{
	fprintf(stderr,
		"Usage: svcbpf agent [--metrics-addr IP:PORT]\n"
		"Serve the metrics (svcbpf metrics) on http://IP:PORT/metrics, default %s;\n"
		"\"[IPv6]:PORT\" too. Also /healthz. And, as kube-proxy, per LoadBalancer\n"
		"Service with externalTrafficPolicy Local, its healthCheckNodePort on\n"
		"0.0.0.0: 200 while this node has a ready endpoint of it, else 503 (the\n"
		"store is re-read every second). Runs until SIGINT or SIGTERM.\n",
		METRICS_ADDR_DEFAULT);
	return EXIT_OK;
}

int do_agent(int argc, char **argv)
{
	const char *addr = NULL;
	struct sockaddr_storage sa;
	struct MHD_Daemon *d;
	char err[ERR_LEN] = "";
	socklen_t salen = 0;
	sigset_t sigs;
	int fd, sfd, ret;

	if (argc && !strcmp(argv[0], "help"))
		return agent_help();
	if (json_output)
		return usage_err("agent: serves Prometheus text; -o json is not supported");
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;

		if (!strcmp(argv[i], "--metrics-addr")) {
			if (i + 1 >= argc)
				return usage_err("agent: --metrics-addr needs IP:PORT");
			v = argv[++i];
		} else if (!strncmp(argv[i], "--metrics-addr=", 15)) {
			v = argv[i] + 15;
		} else {
			return usage_err("agent: unknown argument '%s'", argv[i]);
		}
		if (addr)
			return usage_err("agent: --metrics-addr given twice");
		addr = v;
	}
	if (!addr)
		addr = METRICS_ADDR_DEFAULT;
	if (parse_listen_addr(addr, &sa, &salen, err))
		return usage_err("agent: %s", err);
	if (!require_privileges())
		return EXIT_FAIL;
	/*
	 * Find the pins once here, single-threaded: a bpffs only the host's
	 * mount namespace shows is joined now (setns fails in a threaded
	 * process), and every scrape then finds it.
	 */
	ret = bpffs_prepare(cli.pin_dir, false, err);
	if (ret && ret != -ENOENT) {
		p_err("%s", err);
		return EXIT_FAIL;
	}

	fd = listen_on(&sa, salen, addr, err);
	if (fd < 0) {
		p_err("%s", err);
		return EXIT_FAIL;
	}
	/* Blocked before the daemon's thread starts, so it inherits the mask: the signalfd gets them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	ret = pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (ret) {
		close(fd);
		p_err("cannot block signals: %s", strerror(ret));
		return EXIT_FAIL;
	}
	/* The signals as a file: the health check loop polls it beside its sockets. */
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		ret = errno;
		close(fd);
		p_err("cannot wait for signals: %s", strerror(ret));
		return EXIT_FAIL;
	}
	/* One polling thread: scrapes run one at a time, never beside each other. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 64u,
			     MHD_OPTION_END);
	if (!d) {
		close(fd);
		close(sfd);
		p_err("cannot serve on %s: the HTTP daemon did not start", addr);
		return EXIT_FAIL;
	}
	fprintf(stderr, "svcbpf: serving metrics on http://%s/metrics\n", addr);
	fflush(stderr);
	ret = health_serve(sfd);
	MHD_stop_daemon(d);
	close(sfd);
	if (ret) {
		p_err("health checks stopped: %s", strerror(-ret));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
