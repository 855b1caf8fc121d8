// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cmd_dp.c - `svcbpf load|unload|status|sync`: the dataplane itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cli.h"
#include "k8s_ctl.h"
#include "loader.h"
#include "maglev.h"
#include "output.h"
#include "svcbpf.h"

static int load_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"Usage: svcbpf load IFACE... [--xdp] [--max-services N] [--max-backends N]\n"
		"                   [--ct-size N] [--maglev-size M]\n"
		"                   [--ct-timeout-syn S] [--ct-timeout-tcp S]\n"
		"                   [--ct-timeout-fin S] [--ct-timeout-udp S] [--node-name NAME]\n"
		"Attach tc ingress (DNAT) and tc egress (reverse NAT) to each IFACE; --xdp puts\n"
		"the DNAT in XDP in front (tc stays for what XDP must not rewrite). On a loaded\n"
		"interface the programs are replaced in place; maps and conntrack are kept.\n"
		"Map sizes default to %d services, %d backends, %d conntrack entries;\n"
		"the Maglev table to M = %d slots a service (a prime, %d-%d; 4 bytes a slot).\n"
		"Conntrack timeouts (seconds) default to syn %d, tcp %d, fin %d, udp %d; given\n"
		"on a reload they change, sizes do not (unload to resize).\n"
		"--node-name sets this node's name (default: the host name): Services with\n"
		"externalTrafficPolicy Local take only the endpoints on it (or with no node).\n",
		SVCBPF_MAX_SERVICES, SVCBPF_MAX_BACKENDS, SVCBPF_CT_SIZE, SVCBPF_MAGLEV_M,
		SVCBPF_MAGLEV_M_MIN, SVCBPF_MAGLEV_M_MAX, SVCBPF_CT_TIMEOUT_SYN,
		SVCBPF_CT_TIMEOUT_TCP, SVCBPF_CT_TIMEOUT_FIN, SVCBPF_CT_TIMEOUT_UDP);
	return EXIT_OK;
}

int do_load(int argc, char **argv)
{
	struct load_opts o = { 0 };
	const char *node = NULL; /* --node-name */
	char err[ERR_LEN] = "";
	struct model md;
	char **ifnames;
	int n = 0, ret, lock;
	/* Options seen (bit k: sizes[k], bit 31: --xdp): a second one would silently win. */
	uint32_t given = 0;

	if (argc && !strcmp(argv[0], "help"))
		return load_help(0, NULL);
	ifnames = calloc((size_t)argc + 1, sizeof(*ifnames));
	if (!ifnames)
		return EXIT_FAIL;
	for (int i = 0; i < argc; i++) {
		static const struct {
			const char *name;
			uint32_t min, max;
			size_t off;
		} sizes[] = {
			{ "--max-services", 1, 1 << 24, offsetof(struct load_opts, max_services) },
			{ "--max-backends", 1, 1 << 24, offsetof(struct load_opts, max_backends) },
			{ "--ct-size", 2, 1 << 26, offsetof(struct load_opts, ct_size) },
			{ "--maglev-size", SVCBPF_MAGLEV_M_MIN, SVCBPF_MAGLEV_M_MAX,
			  offsetof(struct load_opts, maglev_m) },
			{ "--ct-timeout-syn", 1, 1 << 30,
			  offsetof(struct load_opts, ct_timeout_syn) },
			{ "--ct-timeout-tcp", 1, 1 << 30,
			  offsetof(struct load_opts, ct_timeout_tcp) },
			{ "--ct-timeout-fin", 1, 1 << 30,
			  offsetof(struct load_opts, ct_timeout_fin) },
			{ "--ct-timeout-udp", 1, 1 << 30,
			  offsetof(struct load_opts, ct_timeout_udp) },
		};
		bool taken = false;

		if (!strcmp(argv[i], "--xdp")) {
			if (given & 1u << 31) {
				free(ifnames);
				return usage_err("load: --xdp given twice");
			}
			given |= 1u << 31;
			o.xdp = true;
			continue;
		}
		if (!strcmp(argv[i], "--node-name")) {
			if (node) {
				free(ifnames);
				return usage_err("load: --node-name given twice");
			}
			if (i + 1 >= argc || !argv[i + 1][0]) {
				free(ifnames);
				return usage_err("--node-name needs a name");
			}
			node = argv[++i];
			if (k8s_dns_subdomain(node)) {
				p_err("invalid --node-name '%.64s': %s", node,
				      k8s_dns_subdomain(node));
				free(ifnames);
				return EXIT_FAIL;
			}
			continue;
		}
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && !taken; k++) {
			if (strcmp(argv[i], sizes[k].name))
				continue;
			taken = true;
			if (given & 1u << k) {
				free(ifnames);
				return usage_err("load: %s given twice", argv[i]);
			}
			given |= 1u << k;
			if (i + 1 >= argc) {
				free(ifnames);
				return usage_err("%s needs a number", argv[i]);
			}
			if (parse_u32(argv[++i], sizes[k].name + 2, sizes[k].min, sizes[k].max,
				      (uint32_t *)((char *)&o + sizes[k].off), err)) {
				free(ifnames);
				p_err("%s", err);
				return EXIT_FAIL;
			}
		}
		if (taken)
			continue;
		if (argv[i][0] == '-') {
			free(ifnames);
			return usage_err("load: unknown option '%s'", argv[i]);
		}
		for (int j = 0; j < n; j++) {
			if (!strcmp(ifnames[j], argv[i])) {
				free(ifnames);
				return usage_err("load: interface %s given twice", argv[i]);
			}
		}
		ifnames[n++] = argv[i];
	}
	if (!n) {
		free(ifnames);
		return usage_err("load: missing interface (svcbpf load IFACE...)");
	}
	if (o.maglev_m && !maglev_m_valid(o.maglev_m)) {
		free(ifnames);
		p_err("invalid --maglev-size %u: not a prime (try 4093, 16381 or 65521)",
		      o.maglev_m);
		return EXIT_FAIL;
	}
	if (!require_privileges()) {
		free(ifnames);
		return EXIT_FAIL;
	}
	/*
	 * A node name first: stored and the controller run (its own change,
	 * under the state lock), so Local frontends follow it before the load
	 * below fills the maps from the store. Not when an interface is missing:
	 * the load fails below and changes nothing.
	 */
	bool ifaces_ok = true;

	for (int j = 0; j < n; j++)
		ifaces_ok &= if_nametoindex(ifnames[j]) != 0;
	if (node && ifaces_ok && k8s_node_apply(node) != EXIT_OK) {
		free(ifnames);
		return EXIT_FAIL;
	}
	if ((lock = cli_lock()) < 0) {
		free(ifnames);
		return EXIT_FAIL;
	}
	if (cli_load_model(&md, NULL)) {
		close(lock);
		free(ifnames);
		return EXIT_FAIL;
	}
	ret = dp_load(cli.pin_dir, ifnames, n, &o, &md, cli.debug, err);
	if (ret)
		p_err("%s", err);
	else
		maps_behind_clear(); /* the maps were filled whole from the store */
	model_free(&md);
	close(lock);
	free(ifnames);
	return ret ? EXIT_FAIL : EXIT_OK;
}

int do_unload(int argc, char **argv)
{
	char err[ERR_LEN] = "";
	int lock, ret;

	for (int i = 0; i < argc; i++)
		if (argv[i][0] == '-')
			return usage_err("unload: unknown option '%s'", argv[i]);
	if (!require_privileges() || (lock = cli_lock()) < 0)
		return EXIT_FAIL;
	ret = dp_unload(cli.pin_dir, argv, argc, err);
	if (ret)
		p_err("%s", err);
	close(lock);
	return ret ? EXIT_FAIL : EXIT_OK;
}

int do_sync(int argc, char **argv)
{
	struct dp_maps m;
	char err[ERR_LEN];
	struct model md;
	int ret, lock;

	if (argc)
		return usage_err("sync: unexpected argument '%s'", argv[0]);
	if (!require_privileges() || (lock = cli_lock()) < 0)
		return EXIT_FAIL;
	ret = cli_open_maps(&m);
	if (ret == -ENOENT)
		p_err("cannot sync: svcbpf is not loaded (no maps in %s)", cli.pin_dir);
	if (ret) {
		close(lock);
		return EXIT_FAIL;
	}
	ret = cli_load_model(&md, NULL);
	if (!ret) {
		uint64_t t0 = dp_mono_ns();

		ret = dp_sync_all(&m, &md, err);
		/* The attached interfaces' addresses, as they are now: where NodePorts answer. */
		if (!ret)
			ret = dp_node_addrs_sync(cli.pin_dir, &m, err);
		if (ret)
			p_err("%s", err);
		else
			maps_behind_clear();
		dp_sync_observe(&m, dp_mono_ns() - t0);
		model_free(&md);
	}
	maps_close(&m);
	close(lock);
	return ret ? EXIT_FAIL : EXIT_OK;
}

static void print_maps(const struct dp_maps *m)
{
	const struct {
		const char *name;
		int fd;
	} maps[] = {
		{ SVCBPF_MAP_SVC, m->svc },	 { SVCBPF_MAP_BE, m->be },
		{ SVCBPF_MAP_MAGLEV, m->mag },	 { SVCBPF_MAP_CT, m->ct },
		{ SVCBPF_MAP_AFF, m->aff },	 { SVCBPF_MAP_CNT, m->cnt },
		{ SVCBPF_MAP_CFG, m->cfg },	 { SVCBPF_MAP_SVC_STATS, m->sst },
		{ SVCBPF_MAP_BE_STATS, m->bst }, { SVCBPF_MAP_EVENTS, m->evt },
		{ SVCBPF_MAP_MON, m->mon },	 { SVCBPF_MAP_SYNC, m->sync },
		{ SVCBPF_MAP_SRC, m->src },	 { SVCBPF_MAP_NODE_IP, m->nip },
		{ SVCBPF_MAP_IF_ADDR, m->ifa },
	};
	struct map_usage mu = { 0 };
	uint64_t total = 0, per_table;
	char buf[16];

	out_fp("\n%-16s %8s %10s %10s %9s\n", "MAP", "ID", "ENTRIES", "MAX", "MEMORY");
	out_open_array("maps");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		struct map_usage u = { 0 };

		map_usage(maps[i].fd, &u);
		total += u.memlock;
		out_open_object(NULL);
		out_string(PRINT_ANY, "name", "%-16s ", maps[i].name);
		out_uint(PRINT_ANY, "id", "%8lu ", u.id);
		out_uint(PRINT_ANY, "entries", "%10lu ", u.entries);
		out_uint(PRINT_ANY, "max_entries", "%10lu ", u.max_entries);
		out_uint(PRINT_JSON, "memlock_bytes", NULL, u.memlock);
		out_string(PRINT_FP, NULL, "%9s\n", fmt_bytes(buf, u.memlock));
		out_close_object();
	}
	/* The Maglev tables are maps of their own, one per service with a backend. */
	map_usage(m->mag, &mu);
	per_table = dp_table_memory(m);
	total += per_table * mu.entries;
	out_open_object(NULL);
	out_string(PRINT_ANY, "name", "%-16s ", "(Maglev tables)");
	out_uint(PRINT_JSON, "id", NULL, 0);
	out_string(PRINT_FP, NULL, "%8s ", "");
	out_uint(PRINT_ANY, "entries", "%10lu ", mu.entries);
	out_uint(PRINT_ANY, "max_entries", "%10lu ", mu.max_entries);
	out_uint(PRINT_JSON, "memlock_bytes", NULL, per_table * mu.entries);
	out_string(PRINT_FP, NULL, "%9s\n", fmt_bytes(buf, per_table * mu.entries));
	out_close_object();
	out_close_array();
	out_uint(PRINT_JSON, "map_memory_bytes", NULL, total);
	out_fp("%-16s %8s %10s %10s %9s\n", "total", "", "", "", fmt_bytes(buf, total));
}

/*
 * Where NodePorts answer: the node addresses the dataplane knows (those of
 * the attached interfaces at the last load, unload or sync), in key order.
 */
static void print_node_addrs(const struct dp_maps *m)
{
	__be32 key, *prev = NULL;
	char ifname[IF_NAMESIZE], buf[ADDR_STR_LEN];
	size_t n = 0;
	__u32 idx;

	out_open_array("node_addresses");
	out_fp("nodeports:  on");
	while (n < SVCBPF_NODE_ADDRS && !bpf_map_get_next_key(m->nip, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(m->nip, &key, &idx))
			continue;
		if (!if_indextoname(idx, ifname))
			snprintf(ifname, sizeof(ifname), "ifindex %u", idx);
		out_open_object(NULL);
		out_string(PRINT_ANY, "address", n ? ", %s" : " %s", fmt_ip(buf, ntohl(key)));
		out_string(PRINT_ANY, "interface", " (%s)", ifname);
		out_close_object();
		n++;
	}
	out_close_array();
	out_fp(n ? "\n" : " no address (no attached interface has IPv4)\n");
}

static void print_settings(const struct dp_maps *m)
{
	struct svcbpf_cfg cfg;
	uint64_t per = dp_table_memory(m);
	char buf[16];

	if (dp_cfg_read(m, &cfg))
		return;
	out_open_object("maglev");
	out_uint(PRINT_ANY, "table_size", "maglev:     M = %lu slots a service, ", cfg.maglev_m);
	out_uint(PRINT_JSON, "bytes_per_service", NULL, per);
	out_fp("%s of kernel memory per service\n", fmt_bytes(buf, per));
	out_close_object();
	out_open_object("ct_timeouts");
	out_uint(PRINT_ANY, "syn", "conntrack:  timeouts syn %lu s, ", cfg.ct_timeout_syn);
	out_uint(PRINT_ANY, "tcp", "tcp %lu s, ", cfg.ct_timeout_tcp);
	out_uint(PRINT_ANY, "fin", "fin %lu s, ", cfg.ct_timeout_fin);
	out_uint(PRINT_ANY, "udp", "udp %lu s\n", cfg.ct_timeout_udp);
	out_close_object();
	print_node_addrs(m);
}

/*
 * What each program ran on: its own count of every packet (always kept),
 * and the kernel's run time when kernel.bpf_stats_enabled is set.
 */
static void print_programs(const struct counter_value *c, const struct hook_info *hooks, int nhooks)
{
	static const struct {
		const char *prog, *hook;
		int cnt;
	} progs[] = {
		{ "svcbpf_tc_ingress", "tc_ingress", SVCBPF_CNT_RUN_TC_INGRESS },
		{ "svcbpf_tc_egress", "tc_egress", SVCBPF_CNT_RUN_TC_EGRESS },
		{ "svcbpf_xdp_ingress", "xdp", SVCBPF_CNT_RUN_XDP },
	};
	char buf[16], nsbuf[16];

	out_fp("\n%-20s %10s %10s %12s\n", "PROGRAM", "RUNS", "BYTES", "NS PER RUN");
	out_open_array("programs");
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		uint64_t cnt = 0, ns = 0;

		/* One program serves every interface: its kernel stats once. */
		for (int h = 0; h < nhooks; h++) {
			if (strcmp(hooks[h].hook, progs[i].hook))
				continue;
			cnt = hooks[h].run_cnt;
			ns = hooks[h].run_time_ns;
			break;
		}
		out_open_object(NULL);
		out_string(PRINT_ANY, "name", "%-20s ", progs[i].prog);
		out_string(PRINT_JSON, "hook", NULL, progs[i].hook);
		out_uint(PRINT_JSON, "runs", NULL, c[progs[i].cnt].packets);
		out_fp("%10s ", fmt_count(buf, c[progs[i].cnt].packets));
		out_uint(PRINT_JSON, "bytes", NULL, c[progs[i].cnt].bytes);
		out_fp("%10s ", fmt_bytes(buf, c[progs[i].cnt].bytes));
		out_uint(PRINT_JSON, "kernel_run_cnt", NULL, cnt);
		out_uint(PRINT_JSON, "kernel_run_time_ns", NULL, ns);
		if (cnt)
			snprintf(nsbuf, sizeof(nsbuf), "%.1f", (double)ns / (double)cnt);
		out_fp("%12s\n", cnt ? nsbuf : "-");
		out_close_object();
	}
	out_close_array();
	out_fp("(NS PER RUN: the kernel's figure, kept while sysctl kernel.bpf_stats_enabled=1)\n");
}

static void print_counters(const struct counter_value *c)
{
	char buf[16];

	out_fp("\n%-22s %10s %10s\n", "TRANSLATED", "PACKETS", "BYTES");
	for (int i = 0; i < SVCBPF_CNT_MAX; i++) {
		if (dp_counters[i].kind != DP_CNT_TRAFFIC)
			continue;
		out_fp("%-22s %10s ", dp_counters[i].name, fmt_count(buf, c[i].packets));
		out_fp("%10s\n", fmt_bytes(buf, c[i].bytes));
	}
	/* Every packet not translated as asked, whatever became of it. */
	out_fp("\n%-16s %-10s %10s %10s\n", "REASON", "ACTION", "PACKETS", "BYTES");
	out_open_array("reasons");
	for (int i = 0; i < SVCBPF_CNT_MAX; i++) {
		if (dp_counters[i].kind != DP_CNT_REASON)
			continue;
		/* On a terminal, what was dropped shows red, what was passed or answered yellow. */
		bool dropped = !strcmp(dp_counters[i].action, "drop");

		out_open_object(NULL);
		out_fp("%s", c[i].packets ? out_color(dropped ? COLOR_RED : COLOR_YELLOW) : "");
		out_string(PRINT_ANY, "reason", "%-16s ", dp_counters[i].reason);
		out_string(PRINT_ANY, "action", "%-10s ", dp_counters[i].action);
		out_uint(PRINT_JSON, "packets", NULL, c[i].packets);
		out_fp("%10s ", fmt_count(buf, c[i].packets));
		out_uint(PRINT_JSON, "bytes", NULL, c[i].bytes);
		out_fp("%10s%s\n", fmt_bytes(buf, c[i].bytes),
		       c[i].packets ? out_color(COLOR_NONE) : "");
		out_close_object();
	}
	out_close_array();
	out_fp("monitor events lost (rate limit, full ring): %s\n",
	       fmt_count(buf, c[SVCBPF_CNT_MON_LOST].packets));
	/* Every counter by its name, for scripts. */
	out_open_object("counters");
	for (int i = 0; i < SVCBPF_CNT_MAX; i++) {
		out_open_object(dp_counters[i].name);
		out_uint(PRINT_JSON, "packets", NULL, c[i].packets);
		out_uint(PRINT_JSON, "bytes", NULL, c[i].bytes);
		out_close_object();
	}
	out_close_object();
}

int do_status(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct hook_info *hooks = NULL;
	size_t nsvc = 0, nbe = 0;
	struct store *s = NULL;
	int nhooks = 0, ret;
	bool loaded, behind;

	if (argc)
		return usage_err("status: unexpected argument '%s'", argv[0]);
	if (!require_privileges())
		return EXIT_FAIL;
	ret = cli_open_maps(&m);
	if (ret && ret != -ENOENT)
		return EXIT_FAIL;
	loaded = !ret;
	if (cli_open_store(&s) || store_counts(s, &nsvc, &nbe)) {
		store_close(s);
		maps_close(&m);
		return EXIT_FAIL;
	}
	store_close(s);

	out_bool(PRINT_JSON, "loaded", NULL, loaded);
	out_string(PRINT_ANY, "pin_dir", "pin dir:    %s", cli.pin_dir);
	out_fp("%s\n", loaded ? "" : " (not loaded)");
	out_string(PRINT_ANY, "state_dir", "state dir:  %s", cli.state_dir);
	out_uint(PRINT_ANY, "services", nsvc == 1 ? " (%lu service, " : " (%lu services, ", nsvc);
	out_uint(PRINT_ANY, "backends", nbe == 1 ? "%lu backend)\n" : "%lu backends)\n", nbe);
	/* The marker stands while a change runs, too: only a free lock means the maps lag. */
	behind = loaded && maps_behind() && !change_in_progress();
	out_bool(PRINT_JSON, "maps_behind", NULL, behind);
	if (behind)
		out_fp("%smaps:       behind the store: a change was interrupted before its map "
		       "writes;\n            the next change or 'svcbpf sync' repairs them%s\n",
		       out_color(COLOR_RED), out_color(COLOR_NONE));

	if (loaded)
		dp_list_hooks(cli.pin_dir, &hooks, &nhooks);
	out_fp("\n%-12s %-11s %-11s %-20s %8s %8s\n", "INTERFACE", "HOOK", "MODE", "PROGRAM",
	       "PROG ID", "LINK ID");
	out_open_array("attachments");
	for (int i = 0; i < nhooks; i++) {
		out_open_object(NULL);
		out_string(PRINT_ANY, "ifname", "%-12s ", hooks[i].ifname);
		out_uint(PRINT_JSON, "ifindex", NULL, hooks[i].ifindex);
		out_string(PRINT_ANY, "hook", "%-11s ", hooks[i].hook);
		out_string(PRINT_ANY, "mode", "%-11s ", hooks[i].mode);
		out_string(PRINT_ANY, "program", "%-20s ", hooks[i].prog_name);
		out_uint(PRINT_ANY, "prog_id", "%8lu ", hooks[i].prog_id);
		out_uint(PRINT_ANY, "link_id", "%8lu\n", hooks[i].link_id);
		out_uint(PRINT_JSON, "run_cnt", NULL, hooks[i].run_cnt);
		out_close_object();
	}
	out_close_array();
	if (!nhooks)
		out_fp("(none)\n");
	if (loaded) {
		out_fp("\n");
		struct counter_value c[SVCBPF_CNT_MAX];

		print_settings(&m);
		print_maps(&m);
		if (!dp_read_counters(&m, c)) {
			print_programs(c, hooks, nhooks);
			print_counters(c);
		}
	}
	free(hooks);
	maps_close(&m);
	return EXIT_OK;
}
