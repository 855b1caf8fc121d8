// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cmd_svc.c - `svcbpf svc ...` and `svcbpf backend ...`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "cli.h"
#include "loader.h"
#include "maglev.h"
#include "output.h"
#include "svcbpf.h"

static int svc_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"Usage: svcbpf svc add VIP:PORT[/tcp|udp] [--backend IP:PORT[,weight=N]]...\n"
		"                      [--affinity none|client-ip[,timeout=SECONDS]]\n"
		"                      [--nodeport PORT]\n"
		"       svcbpf svc del VIP:PORT[/tcp|udp]\n"
		"       svcbpf svc list [-o json]\n"
		"       svcbpf svc get VIP:PORT[/tcp|udp] [-o json]\n"
		"       svcbpf svc explain VIP:PORT[/tcp|udp] --from IP:PORT [--proto tcp|udp]\n"
		"                          [--to NODE-IP]\n"
		"\n"
		"'svc add' creates the service, or replaces the settings and backend set of an\n"
		"existing one. The protocol defaults to tcp. A new flow takes the backend its\n"
		"5-tuple hashes to in the service's Maglev table; a backend owns slots in\n"
		"proportion to its weight (default 1; 0: no new flows). With client-ip affinity\n"
		"(timeout default %d s) a client's new flows follow its earlier ones until the\n"
		"timeout passes without traffic. A service without backends drops its traffic.\n"
		"--nodeport PORT (%d-%d, or 0 to allocate a free one) also serves the service\n"
		"on PORT of every address of the loaded interfaces (a NodePort: frontend\n"
		"0.0.0.0:PORT, clients masqueraded to the node's address). It follows its\n"
		"service: backend changes apply to both, 'svc del' removes both; 'svc add'\n"
		"again without --nodeport removes it.\n"
		"'svc explain' prints which backend a new flow would get, and why (for a NodePort,\n"
		"0.0.0.0:PORT, --to names the node address the client connects to).\n",
		SVCBPF_AFFINITY_TIMEOUT, SVCBPF_NODEPORT_MIN, SVCBPF_NODEPORT_MAX);
	return EXIT_OK;
}

static int backend_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"Usage: svcbpf backend add VIP:PORT[/tcp|udp] IP:PORT[,weight=N]\n"
		"       svcbpf backend del VIP:PORT[/tcp|udp] IP:PORT\n"
		"       svcbpf backend drain VIP:PORT[/tcp|udp] IP:PORT\n"
		"       svcbpf backend undrain VIP:PORT[/tcp|udp] IP:PORT\n"
		"       svcbpf backend weight VIP:PORT[/tcp|udp] IP:PORT N\n"
		"\n"
		"'drain' takes the backend out of new-flow selection; the flows it has go on\n"
		"until they end (Kubernetes' terminating endpoints). 'del' ends them too.\n"
		"A weight is 0-%d; 0 takes no new flows.\n",
		SVCBPF_MAX_WEIGHT);
	return EXIT_OK;
}

int parse_svc_arg(const char *arg, struct l4addr *svc)
{
	char err[ERR_LEN];

	if (parse_l4addr(arg, true, svc, err)) {
		p_err("%s", err);
		return -EINVAL;
	}
	/*
	 * A ClusterIP is a unicast address no host owns: not 0/8, loopback,
	 * multicast or E. 0.0.0.0 itself names a NodePort frontend.
	 */
	if ((svc->ip && svc->ip >> 24 == 0) || svc->ip >> 24 == 127 || svc->ip >> 28 >= 14) {
		p_err("invalid service address '%s': not a unicast address", arg);
		return -EINVAL;
	}
	return 0;
}

int parse_backend_arg(const char *arg, const struct l4addr *svc, struct be_rec *be)
{
	char err[ERR_LEN], buf[ADDR_STR_LEN], addr[64];
	const char *opt;
	uint32_t weight = 1;
	size_t len;

	memset(be, 0, sizeof(*be));
	if (!arg) {
		p_err("missing backend");
		return -EINVAL;
	}
	opt = strchr(arg, ',');
	len = opt ? (size_t)(opt - arg) : strlen(arg);
	if (len >= sizeof(addr)) {
		p_err("invalid backend '%s': not IP:PORT", arg);
		return -EINVAL;
	}
	memcpy(addr, arg, len);
	addr[len] = '\0';
	if (parse_l4addr(addr, false, &be->addr, err)) {
		p_err("%s", err);
		return -EINVAL;
	}
	if (opt && strncmp(opt, ",weight=", 8)) {
		p_err("invalid backend '%s': expected IP:PORT or IP:PORT,weight=N", arg);
		return -EINVAL;
	}
	if (opt && parse_u32(opt + 8, "weight", 0, SVCBPF_MAX_WEIGHT, &weight, err)) {
		p_err("invalid backend '%s': %s", arg, err);
		return -EINVAL;
	}
	be->addr.proto = svc->proto;
	be->weight = (uint16_t)weight;
	if (be->addr.ip == svc->ip) {
		p_err("invalid backend '%s': %s is the service address itself", arg,
		      fmt_ip(buf, svc->ip));
		return -EINVAL;
	}
	if (be->addr.ip >> 24 == 0 || be->addr.ip >> 24 == 127 || be->addr.ip >> 28 >= 14) {
		p_err("invalid backend '%s': not a unicast address a pod can have", arg);
		return -EINVAL;
	}
	return 0;
}

int parse_affinity_arg(const char *arg, uint32_t *timeout)
{
	char err[ERR_LEN];

	if (!strcmp(arg, "none")) {
		*timeout = 0;
		return 0;
	}
	if (!strcmp(arg, "client-ip")) {
		*timeout = SVCBPF_AFFINITY_TIMEOUT;
		return 0;
	}
	if (strncmp(arg, "client-ip,timeout=", 18)) {
		p_err("invalid affinity '%s': expected none or client-ip[,timeout=SECONDS]", arg);
		return -EINVAL;
	}
	/* Kubernetes' bounds for sessionAffinityConfig.clientIP.timeoutSeconds. */
	if (parse_u32(arg + 18, "affinity timeout", 1, 86400, timeout, err)) {
		p_err("invalid affinity '%s': %s", arg, err);
		return -EINVAL;
	}
	return 0;
}

/* "0" (allocate) or a port in the NodePort range. Reports errors. */
static int parse_nodeport_arg(const char *arg, int *port)
{
	char err[ERR_LEN];
	uint32_t v;

	if (parse_u32(arg, "nodePort", 0, 65535, &v, err) ||
	    (v && (v < SVCBPF_NODEPORT_MIN || v > SVCBPF_NODEPORT_MAX))) {
		p_err("invalid nodePort '%s': must be %d-%d, or 0 to allocate", arg,
		      SVCBPF_NODEPORT_MIN, SVCBPF_NODEPORT_MAX);
		return -EINVAL;
	}
	*port = (int)v;
	return 0;
}

static int do_svc_add(int argc, char **argv)
{
	struct change c = { .op = CHANGE_SVC_SET, .nodeport = -1 };
	const char *svc_arg = NULL, *aff_arg = NULL, *np_arg = NULL, **args;
	char what[ADDR_STR_LEN + 8], buf[ADDR_STR_LEN];
	int ret = EXIT_FAIL;

	args = calloc((size_t)argc + 1, sizeof(*args));
	c.be = calloc((size_t)argc + 1, sizeof(*c.be));
	if (!args || !c.be) {
		p_err("out of memory");
		goto out;
	}
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--backend") || !strcmp(argv[i], "-b")) {
			if (i + 1 >= argc) {
				ret = usage_err("%s needs IP:PORT", argv[i]);
				goto out;
			}
			args[c.nbe++] = argv[++i];
		} else if (!strncmp(argv[i], "--backend=", 10)) {
			if (!argv[i][10]) {
				ret = usage_err("--backend needs IP:PORT");
				goto out;
			}
			args[c.nbe++] = argv[i] + 10;
		} else if (!strcmp(argv[i], "--affinity") || !strncmp(argv[i], "--affinity=", 11)) {
			/* One setting: a second one would silently win. */
			if (aff_arg) {
				ret = usage_err("svc add: --affinity given twice");
				goto out;
			}
			if (argv[i][10] == '=') {
				aff_arg = argv[i] + 11;
			} else if (i + 1 >= argc) {
				ret = usage_err("--affinity needs none or client-ip[,timeout=S]");
				goto out;
			} else {
				aff_arg = argv[++i];
			}
		} else if (!strcmp(argv[i], "--nodeport") || !strncmp(argv[i], "--nodeport=", 11)) {
			if (np_arg) {
				ret = usage_err("svc add: --nodeport given twice");
				goto out;
			}
			if (argv[i][10] == '=') {
				np_arg = argv[i] + 11;
			} else if (i + 1 >= argc) {
				ret = usage_err("--nodeport needs a port (%d-%d, or 0 to allocate)",
						SVCBPF_NODEPORT_MIN, SVCBPF_NODEPORT_MAX);
				goto out;
			} else {
				np_arg = argv[++i];
			}
		} else if (argv[i][0] == '-') {
			ret = usage_err("svc add: unknown option '%s'", argv[i]);
			goto out;
		} else if (svc_arg) {
			ret = usage_err(
				"svc add: unexpected argument '%s' (backends need --backend)",
				argv[i]);
			goto out;
		} else {
			svc_arg = argv[i];
		}
	}
	if (!svc_arg) {
		ret = usage_err("svc add: missing VIP:PORT");
		goto out;
	}
	if (parse_svc_arg(svc_arg, &c.svc))
		goto out;
	/* 0.0.0.0 names NodePort frontends, which --nodeport makes. */
	if (!c.svc.ip) {
		p_err("invalid service address '%s': not a unicast address", svc_arg);
		goto out;
	}
	if (aff_arg && parse_affinity_arg(aff_arg, &c.affinity))
		goto out;
	if (np_arg && parse_nodeport_arg(np_arg, &c.nodeport))
		goto out;
	if (c.nbe > SVCBPF_MAX_SVC_BACKENDS) {
		p_err("cannot add %s: %zu backends, at most %d", svc_arg, c.nbe,
		      SVCBPF_MAX_SVC_BACKENDS);
		goto out;
	}
	/* Backends are checked once the service (and its protocol) is known. */
	for (size_t k = 0; k < c.nbe; k++) {
		if (parse_backend_arg(args[k], &c.svc, &c.be[k]))
			goto out;
		for (size_t j = 0; j < k; j++) {
			if (c.be[j].addr.ip == c.be[k].addr.ip &&
			    c.be[j].addr.port == c.be[k].addr.port) {
				p_err("backend %s given twice", args[k]);
				goto out;
			}
		}
	}
	snprintf(what, sizeof(what), "add %s", fmt_l4addr(buf, &c.svc, true));
	ret = cli_apply(&c, 1, what);
out:
	free(args);
	change_free(&c);
	return ret;
}

static int do_svc_del(int argc, char **argv)
{
	struct change c = { .op = CHANGE_SVC_DEL };
	char what[ADDR_STR_LEN + 8], buf[ADDR_STR_LEN];

	if (argc != 1)
		return usage_err(argc ? "svc del: too many arguments" :
					"svc del: missing VIP:PORT");
	if (argv[0][0] == '-')
		return usage_err("svc del: unknown option '%s'", argv[0]);
	if (parse_svc_arg(argv[0], &c.svc))
		return EXIT_FAIL;
	snprintf(what, sizeof(what), "delete %s", fmt_l4addr(buf, &c.svc, true));
	return cli_apply(&c, 1, what);
}

static const char *be_state_name(uint8_t state)
{
	return state == SVCBPF_BE_DRAINING ? "draining" : "active";
}

/* What kind of frontend @r is, as `kubectl get svc` names service types. */
static const char *svc_type(const struct svc_rec *r)
{
	if (!r->addr.ip)
		return "NodePort";
	return r->flags & SVCBPF_SVC_EXTERNAL ? "ExternalIP" : "ClusterIP";
}

/* A plain ClusterIP: printed as before frontends had types. */
static bool svc_plain(const struct svc_rec *r)
{
	return r->addr.ip && !r->flags && !r->nranges;
}

/*
 * One service: a line (with a TYPE column when @typed) and its backends,
 * or its JSON object.
 */
static void print_svc(const struct svc_rec *r, const char *state, bool typed)
{
	bool external = !r->addr.ip || (r->flags & SVCBPF_SVC_EXTERNAL);
	char buf[ADDR_STR_LEN];

	out_string(PRINT_FP, NULL, "%-24s ", fmt_l4addr(buf, &r->addr, true));
	out_string(PRINT_JSON, "address", NULL, fmt_ip(buf, r->addr.ip));
	out_uint(PRINT_JSON, "port", NULL, r->addr.port);
	out_string(PRINT_JSON, "protocol", NULL, proto_name(r->addr.proto));
	out_uint(PRINT_JSON, "id", NULL, (uint64_t)r->id);
	out_string(typed ? PRINT_ANY : PRINT_JSON, "type", "%-11s ", svc_type(r));
	out_uint(PRINT_ANY, "backend_count", "%-8lu ", r->nbe);
	out_string(PRINT_ANY, "state", "%s", state);
	if (r->affinity)
		out_fp("  affinity client-ip,timeout=%u", r->affinity);
	if (external)
		out_string(PRINT_ANY, "external_traffic_policy", "  policy %s",
			   r->flags & SVCBPF_SVC_LOCAL ? "Local" : "Cluster");
	if (r->nranges)
		out_fp("  ranges");
	out_open_array("source_ranges");
	for (size_t j = 0; j < r->nranges; j++)
		out_string(PRINT_ANY, NULL, j ? ",%s" : " %s", fmt_cidr4(buf, &r->ranges[j]));
	out_close_array();
	if (r->parent.ip || r->parent.port)
		out_string(PRINT_ANY, "parent", "  nodeport-of %s",
			   fmt_l4addr(buf, &r->parent, true));
	out_fp("\n");
	out_string(PRINT_JSON, "affinity", NULL, r->affinity ? "client-ip" : "none");
	out_uint(PRINT_JSON, "affinity_timeout", NULL, r->affinity);
	out_open_array("backends");
	for (size_t j = 0; j < r->nbe; j++) {
		const struct be_rec *b = &r->be[j];

		out_open_object(NULL);
		out_string(PRINT_FP, NULL, "  -> %-20s ", fmt_l4addr(buf, &b->addr, false));
		out_string(PRINT_JSON, "address", NULL, fmt_ip(buf, b->addr.ip));
		out_uint(PRINT_JSON, "port", NULL, b->addr.port);
		out_uint(PRINT_JSON, "id", NULL, (uint64_t)b->id);
		out_uint(PRINT_ANY, "weight", "weight %-5lu ", b->weight);
		out_string(PRINT_ANY, "state", "%s\n", be_state_name(b->state));
		out_close_object();
	}
	out_close_array();
}

static const char *svc_state(const struct dp_maps *m, const struct svc_rec *r)
{
	return m->svc < 0		   ? "not-loaded" :
	       dp_service_programmed(m, r) ? "programmed" :
					     "out-of-sync";
}

/* The header of the service lines; TYPE only once a frontend is not a plain ClusterIP. */
static void print_header(bool typed)
{
	if (json_output)
		return;
	if (typed)
		printf("%-24s %-11s %-8s %s\n", "SERVICE", "TYPE", "BACKENDS", "STATE");
	else
		printf("%-24s %-8s %s\n", "SERVICE", "BACKENDS", "STATE");
}

static int do_svc_list(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct hook_info *hooks = NULL;
	struct store *s = NULL;
	struct model md = { 0 };
	int nhooks = 0, ret;
	bool loaded, typed = false;

	if (argc)
		return usage_err("svc list: unexpected argument '%s'", argv[0]);
	if (change_collecting())
		return usage_err("svc list: only changes belong in a batch");
	if (!require_privileges())
		return EXIT_FAIL;
	ret = cli_open_maps(&m);
	if (ret && ret != -ENOENT)
		return EXIT_FAIL;
	loaded = m.svc >= 0;
	if (cli_load_model(&md, &s))
		goto fail;
	if (loaded)
		dp_list_hooks(cli.pin_dir, &hooks, &nhooks);

	for (size_t i = 0; i < md.n; i++)
		typed |= !svc_plain(&md.svc[i]);
	out_open_array("services");
	if (md.n)
		print_header(typed);
	for (size_t i = 0; i < md.n; i++) {
		out_open_object(NULL);
		print_svc(&md.svc[i], svc_state(&m, &md.svc[i]), typed);
		out_close_object();
	}
	out_close_array();
	if (!md.n)
		out_fp("no services\n");

	/* Every service is translated on every attached interface. */
	out_open_array("attached");
	out_fp("attached:");
	for (int i = 0; i < nhooks; i++) {
		bool first = i == 0 || strcmp(hooks[i].ifname, hooks[i - 1].ifname);
		bool last = i + 1 == nhooks || strcmp(hooks[i].ifname, hooks[i + 1].ifname);

		if (first) {
			out_open_object(NULL);
			out_string(PRINT_ANY, "ifname", " %s (", hooks[i].ifname);
			out_open_array("hooks");
		}
		out_string(PRINT_ANY, NULL, first ? "%s" : ", %s", hooks[i].hook);
		if (last) {
			out_close_array();
			out_close_object();
			out_fp(")");
		}
	}
	out_close_array();
	out_fp("%s\n", nhooks ? "" : loaded ? " nothing" : " nothing (svcbpf is not loaded)");
	free(hooks);
	model_free(&md);
	store_close(s);
	maps_close(&m);
	return EXIT_OK;
fail:
	store_close(s);
	maps_close(&m);
	return EXIT_FAIL;
}

/*
 * The maps (left closed when svcbpf is not loaded), the store and its record
 * of @svc, for a command about one service. 0, or -1 with the error reported.
 */
static int svc_open_one(const struct l4addr *svc, struct dp_maps *m, struct store **s,
			struct svc_rec *r)
{
	char buf[ADDR_STR_LEN];
	int rc;

	if (!require_privileges())
		return -1;
	rc = cli_open_maps(m);
	if (rc && rc != -ENOENT)
		return -1;
	if (cli_open_store(s))
		return -1;
	rc = store_load_svc(*s, svc, r);
	if (rc == -ENOENT)
		p_err("no service %s", fmt_l4addr(buf, svc, true));
	else if (rc)
		p_err("cannot read the store: %s", store_errmsg(*s));
	return rc ? -1 : 0;
}

/* `svc get VIP:PORT`: one service as `svc list` shows it (a JSON object of its own). */
static int do_svc_get(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct store *s = NULL;
	struct svc_rec r = { 0 };
	struct l4addr svc;
	int ret = EXIT_FAIL;

	if (argc != 1)
		return usage_err(argc ? "svc get: too many arguments" :
					"svc get: missing VIP:PORT");
	if (argv[0][0] == '-')
		return usage_err("svc get: unknown option '%s'", argv[0]);
	if (change_collecting())
		return usage_err("svc get: only changes belong in a batch");
	if (parse_svc_arg(argv[0], &svc))
		return EXIT_FAIL;
	if (svc_open_one(&svc, &m, &s, &r))
		goto out;
	print_header(!svc_plain(&r));
	print_svc(&r, svc_state(&m, &r), !svc_plain(&r));
	ret = EXIT_OK;
out:
	svc_rec_free(&r);
	store_close(s);
	maps_close(&m);
	return ret;
}

/* The live FWD conntrack entry of a flow, as the dataplane would judge it. */
static bool ct_entry_live(const struct dp_maps *m, const struct ct_value *ct, uint8_t proto)
{
	struct svcbpf_cfg cfg;

	if (dp_cfg_read(m, &cfg))
		return false;
	return (int64_t)(dp_now_ns() - ct->last_seen) <=
	       (int64_t)dp_ct_timeout(&cfg, proto, ct->state) * 1000000000LL;
}

static const struct be_rec *be_by_id(const struct svc_rec *r, uint64_t id)
{
	for (size_t i = 0; i < r->nbe; i++)
		if ((uint64_t)r->be[i].id == id)
			return &r->be[i];
	return NULL;
}

static void out_backend(const char *key, const struct be_rec *b, uint32_t owned, uint32_t m)
{
	char buf[ADDR_STR_LEN];

	out_open_object(key);
	out_string(PRINT_FP, NULL, "%s", fmt_l4addr(buf, &b->addr, false));
	out_string(PRINT_JSON, "address", NULL, fmt_ip(buf, b->addr.ip));
	out_uint(PRINT_JSON, "port", NULL, b->addr.port);
	out_uint(PRINT_JSON, "id", NULL, (uint64_t)b->id);
	out_uint(PRINT_ANY, "weight", " (weight %lu, ", b->weight);
	out_string(PRINT_ANY, "state", "%s, ",
		   b->state == SVCBPF_BE_DRAINING ? "draining" : "active");
	out_uint(PRINT_ANY, "slots", "owns %lu", owned);
	out_fp(" of %u slots, %.1f%%)\n", m, 100.0 * owned / m);
	out_close_object();
}

static int do_svc_explain(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	const char *svc_arg = NULL, *from_arg = NULL, *to_arg = NULL;
	const struct be_rec *pick = NULL, *chosen;
	const char *reason = "maglev";
	struct l4addr svc, from, dst;
	struct store *s = NULL;
	struct svc_rec r = { 0 };
	uint32_t *table = NULL, m_size, slot, hash, owned = 0;
	char err[ERR_LEN], buf[ADDR_STR_LEN], buf2[ADDR_STR_LEN];
	int proto = -1, ret = EXIT_FAIL;
	bool loaded;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--from") || !strcmp(argv[i], "--proto")) {
			if (i + 1 >= argc)
				return usage_err("%s needs a value", argv[i]);
			if (argv[i][2] == 'f' ? from_arg != NULL : proto >= 0)
				return usage_err("svc explain: %s given twice", argv[i]);
			if (argv[i][2] == 'f')
				from_arg = argv[++i];
			else if ((proto = parse_proto(argv[++i])) < 0)
				return usage_err("--proto must be tcp or udp, not '%s'", argv[i]);
		} else if (!strcmp(argv[i], "--to")) {
			if (i + 1 >= argc)
				return usage_err(
					"--to needs the node address a client connects to");
			if (to_arg)
				return usage_err("svc explain: --to given twice");
			to_arg = argv[++i];
		} else if (argv[i][0] == '-') {
			return usage_err("svc explain: unknown option '%s'", argv[i]);
		} else if (svc_arg) {
			return usage_err("svc explain: unexpected argument '%s'", argv[i]);
		} else {
			svc_arg = argv[i];
		}
	}
	if (!svc_arg || !from_arg)
		return usage_err("svc explain: needs VIP:PORT and --from IP:PORT");
	if (change_collecting())
		return usage_err("svc explain: only changes belong in a batch");
	if (parse_svc_arg(svc_arg, &svc))
		return EXIT_FAIL;
	if (strchr(from_arg, '/')) {
		p_err("invalid --from '%s': the client's IP:PORT (give the protocol with --proto)",
		      from_arg);
		return EXIT_FAIL;
	}
	if (parse_l4addr(from_arg, false, &from, err)) {
		p_err("%s", err);
		return EXIT_FAIL;
	}
	if (proto >= 0) {
		if (strchr(svc_arg, '/') && proto != svc.proto)
			return usage_err("svc explain: --proto %s contradicts %s",
					 proto_name((uint8_t)proto), svc_arg);
		svc.proto = (uint8_t)proto;
	}
	/*
	 * A NodePort's flows hash with the node address the client used: the
	 * dataplane sees that, never 0.0.0.0.
	 */
	dst = svc;
	if (!svc.ip && !to_arg)
		return usage_err("svc explain: %s is a NodePort: give --to NODE-IP, the address "
				 "the client connects to",
				 svc_arg);
	if (to_arg && svc.ip)
		return usage_err("svc explain: --to is for a NodePort (0.0.0.0:PORT)");
	if (to_arg) {
		struct in_addr in;

		/* Dotted decimal only, as every address svcbpf takes. */
		if (inet_pton(AF_INET, to_arg, &in) != 1 || !in.s_addr) {
			p_err("invalid --to '%s': expected the node's IPv4 address", to_arg);
			return EXIT_FAIL;
		}
		dst.ip = ntohl(in.s_addr);
	}
	if (svc_open_one(&svc, &m, &s, &r))
		goto out;
	loaded = m.svc >= 0;

	/* The mirror: the table the dataplane holds, rebuilt from the store. */
	m_size = m.maglev_m;
	table = malloc((size_t)m_size * sizeof(*table));
	if (!table || maglev_build_svc(&r, m_size, table) < 0) {
		p_err("out of memory");
		goto out;
	}
	from.proto = svc.proto;
	hash = svcbpf_flow_hash(htonl(from.ip), htonl(dst.ip), htons(from.port), htons(dst.port),
				dst.proto);
	slot = maglev_slot(&from, &dst, m_size);
	pick = table[slot] ? be_by_id(&r, table[slot]) : NULL;
	chosen = pick;

	/* What the dataplane would do first: a live tracked flow, then affinity. */
	if (loaded) {
		struct ct_key ck = { .saddr = htonl(from.ip),
				     .daddr = htonl(dst.ip),
				     .sport = htons(from.port),
				     .dport = htons(svc.port),
				     .proto = svc.proto,
				     .dir = SVCBPF_CT_FWD };
		struct aff_key ak = { .client = htonl(from.ip), .svc_id = (uint32_t)r.id };
		struct ct_value cv;
		struct aff_value av;
		const struct be_rec *b;

		if (!bpf_map_lookup_elem(m.ct, &ck, &cv) && ct_entry_live(&m, &cv, svc.proto) &&
		    cv.state < SVCBPF_CT_CLOSING && (b = be_by_id(&r, cv.backend_id))) {
			chosen = b;
			reason = "tracked";
		} else if (r.affinity && !bpf_map_lookup_elem(m.aff, &ak, &av) &&
			   (int64_t)(dp_now_ns() - av.last_seen) <=
				   (int64_t)r.affinity * 1000000000LL &&
			   (b = be_by_id(&r, av.backend_id)) && b->state == SVCBPF_BE_ACTIVE &&
			   b->weight) {
			chosen = b;
			reason = "affinity";
		}
	}
	if (!chosen)
		reason = "no-backend";

	out_string(PRINT_FP, NULL, "%-11s ", "flow");
	out_string(PRINT_ANY, "client", "%s -> ", fmt_l4addr(buf, &from, false));
	out_string(PRINT_ANY, "service", "%s", fmt_l4addr(buf2, &svc, true));
	if (to_arg)
		out_string(PRINT_ANY, "node_address", " at %s", fmt_ip(buf2, dst.ip));
	out_fp("\n");
	out_uint(PRINT_ANY, "hash", "hash        0x%08lx", hash);
	out_uint(PRINT_ANY, "slot", ", slot %lu", slot);
	out_uint(PRINT_ANY, "table_size", " of %lu (Maglev)\n", m_size);
	out_string(PRINT_ANY, "affinity", "affinity    %s\n", r.affinity ? "client-ip" : "none");
	if (pick) {
		for (uint32_t i = 0; i < m_size; i++)
			owned += table[i] == (uint32_t)pick->id;
		out_fp("maglev      ");
		out_backend("maglev_backend", pick, owned, m_size);
	} else {
		out_null(PRINT_JSON, "maglev_backend", NULL, NULL);
	}
	out_string(PRINT_ANY, "reason", "reason      %s\n", reason);
	if (chosen) {
		owned = 0;
		for (uint32_t i = 0; i < m_size; i++)
			owned += table[i] == (uint32_t)chosen->id;
		out_fp("backend     ");
		out_backend("backend", chosen, owned, m_size);
	} else {
		out_null(PRINT_ANY, "backend", "backend     %s\n",
			 "none: the service has no backend taking new flows (dropped)");
	}
	/* The mirror against the table the dataplane really holds. */
	if (loaded) {
		int64_t got = dp_table_slot(&m, (uint32_t)r.id, slot);
		bool agrees = got == (int64_t)table[slot];

		out_string(PRINT_ANY, "dataplane", "dataplane   %s", agrees ? "agrees" : "differs");
		out_fp(agrees ? " (slot %u of the loaded table holds the same backend)\n" :
				" (slot %u of the loaded table differs: run 'svcbpf sync')\n",
		       slot);
	} else {
		out_string(PRINT_ANY, "dataplane", "dataplane   %s\n", "not-loaded");
	}
	ret = EXIT_OK;
out:
	free(table);
	svc_rec_free(&r);
	store_close(s);
	maps_close(&m);
	return ret;
}

static const struct cmd svc_cmds[] = {
	{ "add", do_svc_add },	       { "del", do_svc_del },	{ "delete", do_svc_del },
	{ "list", do_svc_list },       { "show", do_svc_list }, { "get", do_svc_get },
	{ "explain", do_svc_explain }, { "help", svc_help },	{ NULL, NULL },
};

int do_svc(int argc, char **argv)
{
	if (!argc) {
		svc_help(0, NULL);
		return EXIT_USAGE;
	}
	return cmd_select(svc_cmds, argc, argv, svc_help);
}

/* `backend VERB VIP:PORT IP:PORT[,weight=N] [EXTRA]`: parse into @c (one backend). */
static int backend_args(int argc, char **argv, const char *verb, int extra, struct change *c)
{
	for (int i = 0; i < argc; i++)
		if (argv[i][0] == '-')
			return usage_err("backend %s: unknown option '%s'", verb, argv[i]);
	if (argc != 2 + extra)
		return usage_err(argc < 2 + extra ? "backend %s: needs VIP:PORT and IP:PORT%s" :
						    "backend %s: too many arguments",
				 verb, extra ? " and a weight" : "");
	c->be = calloc(1, sizeof(*c->be));
	if (!c->be)
		return EXIT_FAIL;
	c->nbe = 1;
	if (parse_svc_arg(argv[0], &c->svc) || parse_backend_arg(argv[1], &c->svc, &c->be[0]))
		return EXIT_FAIL;
	if (c->op != CHANGE_BE_ADD && strchr(argv[1], ',')) {
		p_err("backend %s: give the weight on its own ('backend weight')", verb);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int backend_change(int argc, char **argv, const char *verb, struct change *c, int extra)
{
	char what[2 * ADDR_STR_LEN + 16];
	int ret = backend_args(argc, argv, verb, extra, c);

	if (ret == EXIT_OK && extra) {
		char err[ERR_LEN];
		uint32_t w;

		if (parse_u32(argv[2], "weight", 0, SVCBPF_MAX_WEIGHT, &w, err)) {
			p_err("%s", err);
			ret = EXIT_FAIL;
		}
		c->weight = (int)w;
	}
	if (ret == EXIT_OK) {
		snprintf(what, sizeof(what), "%s backend %s of %s", verb, argv[1], argv[0]);
		ret = cli_apply(c, 1, what);
	}
	change_free(c);
	return ret;
}

static int do_backend_add(int argc, char **argv)
{
	struct change c = { .op = CHANGE_BE_ADD };

	return backend_change(argc, argv, "add", &c, 0);
}

static int do_backend_del(int argc, char **argv)
{
	struct change c = { .op = CHANGE_BE_DEL };

	return backend_change(argc, argv, "del", &c, 0);
}

static int do_backend_drain(int argc, char **argv)
{
	struct change c = { .op = CHANGE_BE_SET, .weight = -1, .state = SVCBPF_BE_DRAINING };

	return backend_change(argc, argv, "drain", &c, 0);
}

static int do_backend_undrain(int argc, char **argv)
{
	struct change c = { .op = CHANGE_BE_SET, .weight = -1, .state = SVCBPF_BE_ACTIVE };

	return backend_change(argc, argv, "undrain", &c, 0);
}

static int do_backend_weight(int argc, char **argv)
{
	struct change c = { .op = CHANGE_BE_SET, .weight = -1, .state = -1 };

	return backend_change(argc, argv, "weight", &c, 1);
}

static const struct cmd backend_cmds[] = {
	{ "add", do_backend_add },	   { "del", do_backend_del },
	{ "delete", do_backend_del },	   { "drain", do_backend_drain },
	{ "undrain", do_backend_undrain }, { "weight", do_backend_weight },
	{ "help", backend_help },	   { NULL, NULL },
};

int do_backend(int argc, char **argv)
{
	if (!argc) {
		backend_help(0, NULL);
		return EXIT_USAGE;
	}
	return cmd_select(backend_cmds, argc, argv, backend_help);
}
