// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cmd_ct.c - `svcbpf ct list|flush`: the connections the dataplane tracks. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cli.h"
#include "output.h"
#include "svcbpf.h"

static const char *const state_names[] = {
	[SVCBPF_CT_NEW] = "syn",
	[SVCBPF_CT_ESTABLISHED] = "established",
	[SVCBPF_CT_CLOSING] = "closing",
	[SVCBPF_CT_CLOSED] = "closed",
};

static int ct_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"Usage: svcbpf ct list [VIP:PORT[/tcp|udp]] [-o json]\n"
		"       svcbpf ct flush [VIP:PORT[/tcp|udp]]\n"
		"\n"
		"'list' prints every live tracked flow (client -> service -> backend), its\n"
		"state and the seconds it has left without traffic. 'flush' forgets the\n"
		"flows and client affinities of one service, or of all: their next\n"
		"packets choose a backend anew.\n");
	return EXIT_OK;
}

/*
 * The id of service frontend @svc in the maps, or 0 (ids start at 1): every
 * entry of its flows carries it, masquerade entries and NodePorts (whose
 * flows name the node address the client used) included.
 */
static uint32_t ct_service_id(const struct dp_maps *m, const struct l4addr *svc)
{
	struct svc_key key = { htonl(svc->ip), htons(svc->port), svc->proto, 0 };
	struct svc_value val;

	return bpf_map_lookup_elem(m->svc, &key, &val) ? 0 : val.id;
}

/* Does the entry @v belong to service @id (0 with @all: any)? */
static bool ct_of_service(const struct ct_value *v, uint32_t id, bool all)
{
	return all || v->svc_id == id;
}

/* A flow's own entry: client -> service (the others are its mirror and its masquerade). */
static bool ct_is_flow(const struct ct_key *k, const struct ct_value *v)
{
	return k->dir == SVCBPF_CT_FWD && !(v->flags & SVCBPF_CT_F_SNAT);
}

/*
 * Parse the optional VIP:PORT argument: 1 when given, 0 when not; an exit
 * code (negated, reported) for a usage error or an invalid address.
 */
static int ct_args(int argc, char **argv, const char *verb, struct l4addr *svc)
{
	if (argc > 1)
		return -usage_err("ct %s: too many arguments", verb);
	if (argc && argv[0][0] == '-')
		return -usage_err("ct %s: unknown option '%s'", verb, argv[0]);
	if (argc && parse_svc_arg(argv[0], svc))
		return -EXIT_FAIL;
	return argc;
}

/* Open the maps for a ct command: loaded, else a one-line error. */
static int ct_open(struct dp_maps *m)
{
	int ret = cli_open_maps(m);

	if (ret == -ENOENT)
		p_err("svcbpf is not loaded (no maps in %s)", cli.pin_dir);
	return ret;
}

static int do_ct_list(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct ct_key *k = NULL;
	struct ct_value *v = NULL;
	struct svcbpf_cfg cfg;
	struct l4addr svc = { 0 };
	size_t n, shown = 0;
	uint32_t id;
	uint64_t now;
	int given = ct_args(argc, argv, "list", &svc), ret;

	if (given < 0)
		return -given;
	if (change_collecting())
		return usage_err("ct list: only changes belong in a batch");
	if (!require_privileges() || ct_open(&m))
		return EXIT_FAIL;
	ret = dp_cfg_read(&m, &cfg);
	if (!ret)
		ret = dp_ct_read(&m, &k, &v, &n);
	if (ret) {
		p_err("cannot read conntrack: %s", strerror(-ret));
		maps_close(&m);
		return EXIT_FAIL;
	}
	now = dp_now_ns();
	id = given ? ct_service_id(&m, &svc) : 0;
	out_open_array("flows");
	for (size_t i = 0; i < n; i++) {
		struct l4addr client = { ntohl(k[i].saddr), ntohs(k[i].sport), k[i].proto };
		struct l4addr service = { ntohl(k[i].daddr), ntohs(k[i].dport), k[i].proto };
		struct l4addr be = { ntohl(v[i].addr), ntohs(v[i].port), k[i].proto };
		uint64_t idle = now > v[i].last_seen ? (now - v[i].last_seen) / 1000000000ULL : 0;
		uint32_t t = dp_ct_timeout(&cfg, k[i].proto, v[i].state);
		struct l4addr masq = { ntohl(v[i].nat_addr), ntohs(v[i].nat_port), k[i].proto };
		char b1[ADDR_STR_LEN], b2[ADDR_STR_LEN], b3[ADDR_STR_LEN];

		/* One line a flow: its client side. */
		if (!ct_is_flow(&k[i], &v[i]) || !ct_of_service(&v[i], id, !given))
			continue;
		if (idle > t)
			continue; /* expired: the dataplane no longer uses it */
		if (!shown++ && !json_output)
			printf("%-5s %-21s %-21s %-21s %-11s %s\n", "PROTO", "CLIENT", "SERVICE",
			       "BACKEND", "STATE", "EXPIRES");
		out_open_object(NULL);
		out_string(PRINT_ANY, "protocol", "%-5s ", proto_name(k[i].proto));
		out_string(PRINT_ANY, "client", "%-21s ", fmt_l4addr(b1, &client, false));
		out_string(PRINT_ANY, "service", "%-21s ", fmt_l4addr(b2, &service, false));
		out_string(PRINT_ANY, "backend", "%-21s ", fmt_l4addr(b3, &be, false));
		out_uint(PRINT_JSON, "backend_id", NULL, v[i].backend_id);
		out_uint(PRINT_JSON, "service_id", NULL, v[i].svc_id);
		out_string(PRINT_ANY, "state", "%-11s ",
			   v[i].state <= SVCBPF_CT_CLOSED ? state_names[v[i].state] : "?");
		out_uint(PRINT_ANY, "expires_in", "%lus", t - idle);
		/* The client as the backend sees it, when masqueraded. */
		if (v[i].flags & SVCBPF_CT_F_MASQ)
			out_string(PRINT_ANY, "masquerade", "  masquerade %s",
				   fmt_l4addr(b1, &masq, false));
		out_fp("\n");
		out_close_object();
	}
	out_close_array();
	if (!shown)
		out_fp("no tracked flows\n");
	free(k);
	free(v);
	maps_close(&m);
	return EXIT_OK;
}

static int do_ct_flush(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct ct_key *k = NULL;
	struct ct_value *v = NULL;
	struct l4addr svc = { 0 };
	size_t n, nsel = 0, gone, flows = 0, naff;
	uint32_t id;
	int given = ct_args(argc, argv, "flush", &svc), ret, lock;

	if (given < 0)
		return -given;
	if (change_collecting())
		return usage_err("ct flush: only changes belong in a batch");
	if (!require_privileges() || (lock = cli_lock()) < 0)
		return EXIT_FAIL;
	if (ct_open(&m)) {
		close(lock);
		return EXIT_FAIL;
	}
	ret = dp_ct_read(&m, &k, &v, &n);
	if (ret) {
		p_err("cannot read conntrack: %s", strerror(-ret));
		maps_close(&m);
		close(lock);
		return EXIT_FAIL;
	}
	id = given ? ct_service_id(&m, &svc) : 0;
	for (size_t i = 0; i < n; i++) {
		if (!ct_of_service(&v[i], id, !given))
			continue;
		flows += ct_is_flow(&k[i], &v[i]);
		k[nsel++] = k[i];
	}
	gone = dp_ct_delete(&m, k, nsel);
	/* Affinities too: every next flow chooses anew. */
	naff = dp_aff_flush(&m, given ? &svc : NULL);
	out_uint(PRINT_ANY, "flushed", "flushed %lu flows", flows);
	out_uint(PRINT_ANY, "entries", " (%lu conntrack entries", gone);
	out_uint(PRINT_ANY, "affinities", ", %lu client affinities)\n", naff);
	free(k);
	free(v);
	maps_close(&m);
	close(lock);
	return EXIT_OK;
}

static const struct cmd ct_cmds[] = {
	{ "list", do_ct_list }, { "show", do_ct_list }, { "flush", do_ct_flush },
	{ "help", ct_help },	{ NULL, NULL },
};

int do_ct(int argc, char **argv)
{
	if (!argc) {
		ct_help(0, NULL);
		return EXIT_USAGE;
	}
	return cmd_select(ct_cmds, argc, argv, ct_help);
}
