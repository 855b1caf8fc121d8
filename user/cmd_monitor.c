// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cmd_monitor.c - `svcbpf monitor`: the dataplane's events, live, from the
 * pinned ring buffer.
 *
 * The programs make events only while the monitor switch (struct svcbpf_mon)
 * holds a lease in the future. This process renews it every second and, on
 * exit, clears it if no other monitor extended it since; a killed monitor
 * stops costing when its lease runs out (SVCBPF_MON_LEASE seconds). Filters
 * on service and client are applied here; the type mask also in the kernel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "cli.h"
#include "output.h"
#include "svcbpf.h"

#define NS_PER_SEC 1000000000ull
#define POLL_MS 200 /* longest wait: signals and the lease are served at least this often */
#define RENEW_NS NS_PER_SEC
#define NAMES_RELOAD_NS NS_PER_SEC
#define IFCACHE 32

#define EV_BIT(t) (1u << (t))
#define EV_DEFAULT                                                                    \
	(EV_BIT(SVCBPF_EV_NEW) | EV_BIT(SVCBPF_EV_REPLY) | EV_BIT(SVCBPF_EV_REJECT) | \
	 EV_BIT(SVCBPF_EV_DROP))
#define EV_ALL (((1u << SVCBPF_EV_MAX) - 1) & ~1u)

struct svc_name {
	uint32_t id;
	char *name; /* the Kubernetes Service ("ns/name"); NULL: made by the CLI */
};

struct mon_ctx {
	/* What was asked. */
	uint32_t events;
	uint32_t rate;
	uint64_t count; /* 0: no limit */
	uint64_t duration_ns; /* 0: no limit */
	bool svc_given, svc_proto_given;
	struct l4addr svc;
	bool client_given;
	uint32_t client_net, client_mask;
	/* Running state. */
	struct dp_maps m;
	uint64_t my_until; /* the lease this process wrote last */
	uint64_t start_mono; /* CLOCK_MONOTONIC at start: older events are someone else's */
	int64_t wall_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	uint64_t printed;
	bool done, out_failed;
	bool shared; /* the last renewal extended another monitor's lease */
	int lock_fd; /* the pin dir, flocked: this process reads the ring */
	struct svc_name *names;
	size_t nnames;
	uint64_t names_at; /* CLOCK_MONOTONIC of the last reload (0: none yet) */
	struct {
		uint32_t ifindex;
		char name[IF_NAMESIZE];
	} ifs[IFCACHE];
	size_t nifs;
};

static volatile sig_atomic_t mon_stop;

static void mon_signal(int sig)
{
	(void)sig;
	mon_stop = 1;
}

static int monitor_help(void)
{
	fprintf(stderr,
		"Usage: svcbpf monitor [--service VIP:PORT[/tcp|udp]] [--client IP[/LEN]]\n"
		"                      [--type LIST] [--count N] [--duration S] [--rate N]\n"
		"The dataplane's events as they happen, one line each (-o json: one object a line).\n"
		"  --type LIST     comma list of new, reply, reject, drop, skip, trace (every\n"
		"                  translated packet: dnat, revnat), or all; default\n"
		"                  new,reply,reject,drop\n"
		"  --service A     only events of that service (no /proto: either protocol)\n"
		"  --client IP[/LEN]  only events of clients in that network\n"
		"  --count N       exit after N events; --duration S: after S seconds\n"
		"  --rate N        at most N events a second per CPU (default %d); the rest are\n"
		"                  counted as lost\n"
		"Events are made only while a monitor listens (a lease of %d s, renewed every\n"
		"second).\n",
		SVCBPF_MON_RATE, SVCBPF_MON_LEASE);
	return EXIT_OK;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ arguments */

/* "new,reply", "trace", "all" -> a mask of event bits; 0 with an error reported. */
static uint32_t parse_types(const char *arg)
{
	char buf[256], *save = NULL, *tok;
	uint32_t mask = 0;

	if (strlen(arg) >= sizeof(buf) || !*arg) {
		p_err("invalid --type '%s' (new, reply, reject, drop, skip, trace or all)", arg);
		return 0;
	}
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		if (!strcmp(tok, "all")) {
			mask |= EV_ALL;
			continue;
		}
		if (!strcmp(tok, "trace")) {
			mask |= EV_BIT(SVCBPF_EV_DNAT) | EV_BIT(SVCBPF_EV_REVNAT);
			continue;
		}
		for (int t = 1; t < SVCBPF_EV_MAX && !found; t++) {
			if (!strcmp(tok, dp_event_names[t])) {
				mask |= EV_BIT(t);
				found = true;
			}
		}
		if (!found) {
			p_err("invalid --type '%s': unknown event type '%s' (new, reply, reject, "
			      "drop, skip, trace or all)",
			      arg, tok);
			return 0;
		}
	}
	if (!mask)
		p_err("invalid --type '%s': no event type", arg);
	return mask;
}

/* "IP" or "IP/LEN" -> network and mask (host order); -EINVAL reported. */
static int parse_client(const char *arg, uint32_t *net, uint32_t *mask)
{
	char ip[INET_ADDRSTRLEN], err[ERR_LEN];
	const char *slash = strchr(arg, '/');
	size_t len = slash ? (size_t)(slash - arg) : strlen(arg);
	uint32_t bits = 32;
	struct in_addr in;

	if (len >= sizeof(ip) || !len)
		goto bad;
	memcpy(ip, arg, len);
	ip[len] = '\0';
	if (inet_pton(AF_INET, ip, &in) != 1)
		goto bad;
	if (slash && parse_u32(slash + 1, "prefix length", 0, 32, &bits, err)) {
		p_err("invalid --client '%s': %s", arg, err);
		return -EINVAL;
	}
	*mask = bits ? ~0u << (32 - bits) : 0;
	*net = ntohl(in.s_addr) & *mask;
	return 0;
bad:
	p_err("invalid --client '%s': expected IP or IP/LEN (e.g. 10.244.0.5/32)", arg);
	return -EINVAL;
}

/* Seconds, decimals allowed: "2", "0.5"; more than 0, at most a week; to the nanosecond. */
static int parse_duration(const char *arg, uint64_t *ns)
{
	uint64_t sec = 0, frac = 0, scale = NS_PER_SEC;
	const char *c = arg;
	bool digits = false;

	for (; *c >= '0' && *c <= '9' && sec <= 7 * 86400; c++, digits = true)
		sec = sec * 10 + (uint64_t)(*c - '0');
	if (*c == '.')
		for (c++; *c >= '0' && *c <= '9'; c++, digits = true)
			if (scale /= 10)
				frac += (uint64_t)(*c - '0') * scale;
	*ns = sec * NS_PER_SEC + frac;
	if (!digits || *c || sec > 7 * 86400 || !*ns || *ns > 7 * 86400 * NS_PER_SEC) {
		p_err("invalid --duration '%s': expected seconds, more than 0 and at most a week "
		      "(e.g. 2 or 0.5)",
		      arg);
		return -EINVAL;
	}
	return 0;
}

/* The value of option argv[*i] ("--opt V" or "--opt=V"), or NULL when @name is not it. */
static const char *opt_arg(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t len = strlen(name);

	*missing = false;
	if (!strncmp(argv[*i], name, len) && argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (strcmp(argv[*i], name))
		return NULL;
	if (*i + 1 >= argc || !argv[*i + 1]) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static int parse_args(int argc, char **argv, struct mon_ctx *c)
{
	static const char *const opts[] = { "--service", "--client",   "--type",
					    "--count",	 "--duration", "--rate" };
	char err[ERR_LEN];
	uint32_t given = 0, u;

	c->events = EV_DEFAULT;
	c->rate = SVCBPF_MON_RATE;
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		bool missing = false;
		size_t k;

		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
			v = opt_arg(argc, argv, &i, opts[k], &missing);
			if (v || missing)
				break;
		}
		if (k == sizeof(opts) / sizeof(opts[0]))
			return usage_err("monitor: unknown %s '%s' (svcbpf monitor help)",
					 argv[i][0] == '-' ? "option" : "argument", argv[i]);
		if (missing)
			return usage_err("monitor: %s needs a value", opts[k]);
		if (given & 1u << k)
			return usage_err("monitor: %s given twice", opts[k]);
		given |= 1u << k;
		switch (k) {
		case 0:
			if (parse_svc_arg(v, &c->svc))
				return EXIT_FAIL;
			c->svc_given = true;
			c->svc_proto_given = strchr(v, '/') != NULL;
			break;
		case 1:
			if (parse_client(v, &c->client_net, &c->client_mask))
				return EXIT_FAIL;
			c->client_given = true;
			break;
		case 2:
			c->events = parse_types(v);
			if (!c->events)
				return EXIT_FAIL;
			break;
		case 3:
			if (parse_u32(v, "--count", 1, UINT32_MAX, &u, err)) {
				p_err("%s", err);
				return EXIT_FAIL;
			}
			c->count = u;
			break;
		case 4:
			if (parse_duration(v, &c->duration_ns))
				return EXIT_FAIL;
			break;
		case 5:
			if (parse_u32(v, "--rate", 1, 10000000, &c->rate, err)) {
				p_err("%s", err);
				return EXIT_FAIL;
			}
			break;
		}
	}
	return EXIT_OK;
}

/* ------------------------------------------------------------------ the lease */

/*
 * Hold the switch for SVCBPF_MON_LEASE more seconds: an expired entry, or
 * one still holding our last write, becomes ours alone; one another monitor
 * renewed is extended and its types and rate are kept alongside ours.
 */
static int lease_renew(struct mon_ctx *c)
{
	struct svcbpf_mon cur = { 0 }, next;
	uint64_t now = dp_now_ns();
	uint32_t key = 0;

	if (bpf_map_lookup_elem(c->m.mon, &key, &cur))
		return -errno;
	next = (struct svcbpf_mon){
		.until_ns = now + SVCBPF_MON_LEASE * NS_PER_SEC,
		.events = c->events,
		.rate = c->rate,
	};
	c->shared = cur.until_ns > now && cur.until_ns != c->my_until;
	if (c->shared) {
		if (cur.until_ns > next.until_ns)
			next.until_ns = cur.until_ns;
		next.events |= cur.events;
		if (cur.rate > next.rate)
			next.rate = cur.rate;
	}
	if (bpf_map_update_elem(c->m.mon, &key, &next, BPF_ANY))
		return -errno;
	c->my_until = next.until_ns;
	return 0;
}

/*
 * Switch the events off, unless another monitor holds the lease now or did
 * at our last renewal: then it is left to run out (or be renewed by the
 * other), so a monitor still listening sees no gap.
 */
static void lease_release(struct mon_ctx *c)
{
	struct svcbpf_mon cur;
	uint32_t key = 0;

	if (!c->my_until || c->shared || bpf_map_lookup_elem(c->m.mon, &key, &cur))
		return;
	if (cur.until_ns != c->my_until)
		return;
	cur.until_ns = 0;
	bpf_map_update_elem(c->m.mon, &key, &cur, BPF_ANY);
}

/* ------------------------------------------------------------------ names */

static void names_free(struct mon_ctx *c)
{
	for (size_t i = 0; i < c->nnames; i++)
		free(c->names[i].name);
	free(c->names);
	c->names = NULL;
	c->nnames = 0;
}

static int name_cmp(const void *a, const void *b)
{
	const struct svc_name *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int addr_cmp(const void *a, const void *b)
{
	return l4addr_cmp(a, b);
}

/*
 * Every service's id, and its Kubernetes Service where it has one. The
 * first load reports errors; a reload (an unknown id) keeps quiet, and only
 * reloads count for its once-a-second limit, so a service made just after
 * the start is named at once.
 */
static int names_load(struct mon_ctx *c, bool first)
{
	bool report = first;

	struct l4addr *owned = NULL;
	struct store *s = NULL;
	struct svc_name *names;
	size_t nowned = 0;
	struct model md;
	int ret;

	if (!first)
		c->names_at = clock_ns(CLOCK_MONOTONIC);
	if (first) {
		if (cli_open_store(&s))
			return -EIO;
	} else {
		char err[ERR_LEN];

		if (store_open(cli.state_dir, &s, err))
			return -EIO;
	}
	ret = store_load(s, &md);
	if (ret) {
		if (report)
			p_err("cannot read the store: %s", store_errmsg(s));
		store_close(s);
		return ret;
	}
	ret = store_owned_list(s, &owned, &nowned);
	names = calloc(md.n ? md.n : 1, sizeof(*names));
	if (ret || !names) {
		if (report)
			p_err("cannot read the store: %s",
			      ret ? store_errmsg(s) : strerror(ENOMEM));
		free(names);
		free(owned);
		model_free(&md);
		store_close(s);
		return ret ? ret : -ENOMEM;
	}
	for (size_t i = 0; i < md.n; i++) {
		char owner[512];

		names[i].id = (uint32_t)md.svc[i].id;
		if (nowned && bsearch(&md.svc[i].addr, owned, nowned, sizeof(*owned), addr_cmp) &&
		    store_svc_owner(s, &md.svc[i].addr, owner, sizeof(owner)) == 1)
			names[i].name = strdup(owner);
	}
	qsort(names, md.n, sizeof(*names), name_cmp);
	names_free(c);
	c->names = names;
	c->nnames = md.n;
	free(owned);
	model_free(&md);
	store_close(s);
	return 0;
}

/* The Kubernetes Service of service @id; reloads (at most once a second) for an unknown id. */
static const char *svc_name_of(struct mon_ctx *c, uint32_t id)
{
	struct svc_name key = { .id = id }, *n;

	if (!id)
		return NULL;
	n = c->nnames ? bsearch(&key, c->names, c->nnames, sizeof(*n), name_cmp) : NULL;
	if (!n && clock_ns(CLOCK_MONOTONIC) - c->names_at >= NAMES_RELOAD_NS) {
		names_load(c, false);
		n = c->nnames ? bsearch(&key, c->names, c->nnames, sizeof(*n), name_cmp) : NULL;
	}
	return n ? n->name : NULL;
}

static const char *ifname_of(struct mon_ctx *c, uint32_t ifindex, char buf[IF_NAMESIZE])
{
	size_t i;

	for (i = 0; i < c->nifs; i++)
		if (c->ifs[i].ifindex == ifindex)
			return c->ifs[i].name;
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%u", ifindex);
	if (c->nifs < IFCACHE) {
		c->ifs[c->nifs].ifindex = ifindex;
		memcpy(c->ifs[c->nifs].name, buf, IF_NAMESIZE);
		c->nifs++;
	}
	return buf;
}

/* ------------------------------------------------------------------ events */

static bool ev_is_reply(const struct svcbpf_event *e)
{
	return e->type == SVCBPF_EV_REPLY || e->type == SVCBPF_EV_REVNAT;
}

/* The service address the event is about: where the client sent it, or where a reply is from. */
static struct l4addr ev_service(const struct svcbpf_event *e)
{
	if (ev_is_reply(e))
		return (struct l4addr){ ntohl(e->nat_addr), ntohs(e->nat_port), e->proto };
	return (struct l4addr){ ntohl(e->daddr), ntohs(e->dport), e->proto };
}

static uint32_t ev_client(const struct svcbpf_event *e)
{
	return ntohl(ev_is_reply(e) ? e->daddr : e->saddr);
}

static bool ev_wanted(const struct mon_ctx *c, const struct svcbpf_event *e)
{
	if (e->type >= SVCBPF_EV_MAX || !(c->events & EV_BIT(e->type)))
		return false;
	if (e->ts_ns < c->start_mono)
		return false; /* left in the ring by an earlier listener */
	if (c->svc_given) {
		struct l4addr s = ev_service(e);

		if (s.ip != c->svc.ip || s.port != c->svc.port ||
		    (c->svc_proto_given && s.proto != c->svc.proto))
			return false;
	}
	if (c->client_given && (ev_client(e) & c->client_mask) != c->client_net)
		return false;
	return true;
}

static const char *ev_proto(uint8_t proto, char buf[8])
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		return proto_name(proto);
	if (proto == IPPROTO_ICMP)
		return "icmp";
	snprintf(buf, 8, "%u", proto);
	return buf;
}

static const char *ev_reason(const struct svcbpf_event *e)
{
	if (e->type != SVCBPF_EV_DROP && e->type != SVCBPF_EV_SKIP && e->type != SVCBPF_EV_REJECT)
		return NULL;
	if (e->reason < SVCBPF_CNT_MAX && dp_counters[e->reason].reason)
		return dp_counters[e->reason].reason;
	return "unknown";
}

static enum out_color ev_color(uint8_t type)
{
	switch (type) {
	case SVCBPF_EV_NEW:
		return COLOR_GREEN;
	case SVCBPF_EV_REJECT:
	case SVCBPF_EV_DROP:
		return COLOR_RED;
	case SVCBPF_EV_SKIP:
		return COLOR_YELLOW;
	default:
		return COLOR_NONE;
	}
}

static char *fmt_ep(char buf[ADDR_STR_LEN], __be32 ip, __be16 port)
{
	struct l4addr a = { ntohl(ip), ntohs(port), 0 };

	return fmt_l4addr(buf, &a, false);
}

static void print_plain(struct mon_ctx *c, const struct svcbpf_event *e, time_t sec, long usec)
{
	char tbuf[16], src[ADDR_STR_LEN], dst[ADDR_STR_LEN], nat[ADDR_STR_LEN];
	char ifbuf[IF_NAMESIZE], pbuf[8];
	const char *reason = ev_reason(e), *name = svc_name_of(c, e->svc_id);
	const char *hook = e->hook < 3 ? dp_hook_names[e->hook] : "?";
	enum out_color color = ev_color(e->type);
	struct tm tm;

	if (!localtime_r(&sec, &tm) || !strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm))
		snprintf(tbuf, sizeof(tbuf), "%lld", (long long)sec);
	printf("%s.%06ld %s%-7s%s %-4s %s -> %s", tbuf, usec, color ? out_color(color) : "",
	       dp_event_names[e->type], color ? out_color(COLOR_NONE) : "",
	       ev_proto(e->proto, pbuf), fmt_ep(src, e->saddr, e->sport),
	       fmt_ep(dst, e->daddr, e->dport));
	fmt_ep(nat, e->nat_addr, e->nat_port);
	if (e->type == SVCBPF_EV_NEW || e->type == SVCBPF_EV_DNAT)
		printf(" => %s", nat);
	else if (ev_is_reply(e))
		printf(" => from %s", nat);
	if (reason)
		printf("  %s", reason);
	printf("  %s %s", ifname_of(c, e->ifindex, ifbuf), hook);
	if (name)
		printf("  %s", name);
	putchar('\n');
}

static int print_json(struct mon_ctx *c, const struct svcbpf_event *e, time_t sec, long usec)
{
	char tbuf[32], when[48], src[ADDR_STR_LEN], dst[ADDR_STR_LEN], ep[ADDR_STR_LEN];
	char ifbuf[IF_NAMESIZE], pbuf[8];
	const char *reason = ev_reason(e), *name = svc_name_of(c, e->svc_id);
	struct l4addr svc = ev_service(e);
	json_t *o = json_object();
	struct tm tm;
	int ret;

	if (!o)
		return -ENOMEM;
	if (!gmtime_r(&sec, &tm) || !strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(tbuf, sizeof(tbuf), "%lld", (long long)sec);
	snprintf(when, sizeof(when), "%s.%06ldZ", tbuf, usec);
	fmt_ep(src, e->saddr, e->sport);
	fmt_ep(dst, e->daddr, e->dport);
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "ts_ns", json_integer((json_int_t)e->ts_ns));
	json_object_set_new(o, "type", json_string(dp_event_names[e->type]));
	json_object_set_new(o, "hook", json_string(e->hook < 3 ? dp_hook_names[e->hook] : "?"));
	json_object_set_new(o, "ifindex", json_integer(e->ifindex));
	json_object_set_new(o, "ifname", json_string(ifname_of(c, e->ifindex, ifbuf)));
	json_object_set_new(o, "protocol", json_string(ev_proto(e->proto, pbuf)));
	json_object_set_new(o, "src", json_string(src));
	json_object_set_new(o, "dst", json_string(dst));
	json_object_set_new(o, "client", json_string(ev_is_reply(e) ? dst : src));
	if (svc.proto == IPPROTO_TCP || svc.proto == IPPROTO_UDP)
		fmt_l4addr(ep, &svc, true);
	else
		fmt_l4addr(ep, &svc, false);
	json_object_set_new(o, "service", json_string(ep));
	if (e->type == SVCBPF_EV_NEW || e->type == SVCBPF_EV_DNAT)
		json_object_set_new(o, "backend",
				    json_string(fmt_ep(ep, e->nat_addr, e->nat_port)));
	else if (ev_is_reply(e))
		json_object_set_new(o, "backend", json_string(src));
	else
		json_object_set_new(o, "backend", json_null());
	json_object_set_new(o, "service_id", json_integer(e->svc_id));
	json_object_set_new(o, "backend_id", json_integer(e->backend_id));
	json_object_set_new(o, "name", name ? json_string(name) : json_null());
	json_object_set_new(o, "reason", reason ? json_string(reason) : json_null());
	json_object_set_new(o, "tcp_flags", json_integer(e->tcp_flags));
	json_object_set_new(o, "len", json_integer(e->len));
	ret = json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (ret || putchar('\n') == EOF)
		return -EIO;
	return 0;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct mon_ctx *c = ctx;
	const struct svcbpf_event *e = data;
	uint64_t wall;
	time_t sec;
	long usec;

	if (c->done || size < sizeof(*e) || !ev_wanted(c, e))
		return 0;
	wall = (uint64_t)((int64_t)e->ts_ns + c->wall_offset);
	sec = (time_t)(wall / NS_PER_SEC);
	usec = (long)(wall % NS_PER_SEC / 1000);
	if (json_output) {
		if (print_json(c, e, sec, usec))
			c->out_failed = true;
	} else {
		print_plain(c, e, sec, usec);
	}
	if (fflush(stdout) || ferror(stdout))
		c->out_failed = true;
	if (c->out_failed) {
		c->done = true;
		return 0;
	}
	c->printed++;
	if (c->count && c->printed >= c->count)
		c->done = true;
	return 0;
}

static void types_str(uint32_t mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int t = 1; t < SVCBPF_EV_MAX; t++) {
		if (!(mask & EV_BIT(t)))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
					dp_event_names[t]);
		if (off >= len)
			break;
	}
}

/* ------------------------------------------------------------------ the command */

/*
 * One reader at a time: the ring has one consumer position, so two monitors
 * would each take some of the events and neither would see them all. The
 * pin dir's flock says who reads; the kernel lets go of it when that process
 * ends, however it ends.
 */
static int reader_lock(struct mon_ctx *c)
{
	c->lock_fd = open(cli.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->lock_fd < 0) {
		p_err("cannot open %s: %s", cli.pin_dir, strerror(errno));
		return -errno;
	}
	if (!flock(c->lock_fd, LOCK_EX | LOCK_NB))
		return 0;
	if (errno == EWOULDBLOCK)
		p_err("another svcbpf monitor is reading the events (one reader a ring buffer: "
		      "each would see only part of them)");
	else
		p_err("cannot lock %s: %s", cli.pin_dir, strerror(errno));
	return -EBUSY;
}

/* Listen until done; returns EXIT_OK or EXIT_FAIL (reported). */
static int monitor_run(struct mon_ctx *c, struct ring_buffer *rb)
{
	uint64_t start = clock_ns(CLOCK_MONOTONIC), last_renew = start, now;
	char types[128];
	int ret;

	ret = lease_renew(c);
	if (ret) {
		p_err("cannot switch the monitor on: %s", strerror(-ret));
		return EXIT_FAIL;
	}
	types_str(c->events, types, sizeof(types));
	fprintf(stderr, "svcbpf: monitoring events %s (Ctrl-C to stop)\n", types);
	fflush(stderr);
	while (!c->done && !mon_stop) {
		uint64_t wait_ns = POLL_MS * 1000000ull;

		now = clock_ns(CLOCK_MONOTONIC);
		if (c->duration_ns) {
			if (now - start >= c->duration_ns)
				break;
			if (c->duration_ns - (now - start) < wait_ns)
				wait_ns = c->duration_ns - (now - start);
		}
		ret = ring_buffer__poll(rb, (int)((wait_ns + 999999) / 1000000));
		if (ret < 0 && ret != -EINTR) {
			p_err("cannot read the monitor's ring buffer: %s", strerror(-ret));
			return EXIT_FAIL;
		}
		now = clock_ns(CLOCK_MONOTONIC);
		if (!c->done && now - last_renew >= RENEW_NS) {
			ret = lease_renew(c);
			if (ret) {
				p_err("cannot renew the monitor's lease: %s", strerror(-ret));
				return EXIT_FAIL;
			}
			last_renew = now;
		}
	}
	return EXIT_OK;
}

int do_monitor(int argc, char **argv)
{
	struct counter_value before[SVCBPF_CNT_MAX], after[SVCBPF_CNT_MAX];
	struct sigaction sa = { .sa_handler = mon_signal }, old_int, old_term, old_pipe;
	struct sigaction ign = { .sa_handler = SIG_IGN };
	struct ring_buffer *rb = NULL;
	struct mon_ctx *c;
	bool have_before;
	int ret;

	if (argc && !strcmp(argv[0], "help"))
		return monitor_help();
	c = calloc(1, sizeof(*c));
	if (!c) {
		p_err("out of memory");
		return EXIT_FAIL;
	}
	c->m = (struct dp_maps)DP_MAPS_CLOSED;
	c->lock_fd = -1;
	ret = parse_args(argc, argv, c);
	if (ret)
		goto out;
	ret = EXIT_FAIL;
	if (!require_privileges())
		goto out;
	switch (cli_open_maps(&c->m)) {
	case 0:
		break;
	case -ENOENT:
		p_err("cannot monitor: svcbpf is not loaded (no maps in %s)", cli.pin_dir);
		/* fall through */
	default:
		goto out;
	}
	if (reader_lock(c))
		goto out;
	if (names_load(c, true))
		goto out;
	rb = ring_buffer__new(c->m.evt, handle_event, c, NULL);
	if (!rb) {
		p_err("cannot open the monitor's ring buffer (%s): %s", SVCBPF_MAP_EVENTS,
		      strerror(errno));
		goto out;
	}
	json_output_suspend();
	have_before = !dp_read_counters(&c->m, before);
	c->start_mono = clock_ns(CLOCK_MONOTONIC);
	c->wall_offset = (int64_t)(clock_ns(CLOCK_REALTIME) - c->start_mono);

	/* No SA_RESTART: a signal ends the wait at once. */
	mon_stop = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGPIPE, &ign, &old_pipe);
	ret = monitor_run(c, rb);
	lease_release(c);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);

	if (have_before && !dp_read_counters(&c->m, after))
		fprintf(stderr, "svcbpf: %llu events, %llu lost\n", (unsigned long long)c->printed,
			(unsigned long long)(after[SVCBPF_CNT_MON_LOST].packets -
					     before[SVCBPF_CNT_MON_LOST].packets));
	else
		fprintf(stderr, "svcbpf: %llu events\n", (unsigned long long)c->printed);
out:
	ring_buffer__free(rb);
	names_free(c);
	maps_close(&c->m);
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	free(c);
	return ret;
}
