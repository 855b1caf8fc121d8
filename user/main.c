// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * main.c - svcbpf: a Kubernetes service dataplane on eBPF.
 * Global options, the top-level command table, and the shared change path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cli.h"
#include "loader.h"
#include "output.h"
#include "svcbpf.h"

#ifndef SVCBPF_VERSION
#define SVCBPF_VERSION "0.1.0"
#endif

struct cli_ctx cli;

int usage_err(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p_err("%s", msg);
	return EXIT_USAGE;
}

int cmd_select(const struct cmd *cmds, int argc, char **argv, int (*help)(int, char **))
{
	const struct cmd *match = NULL;
	char candidates[512] = "";
	int nmatch = 0;

	if (argc < 1) {
		help(argc, argv);
		return EXIT_USAGE; /* a command was needed */
	}
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, argv[0]))
			return c->func(argc - 1, argv + 1);
	for (const struct cmd *c = cmds; c->name; c++) {
		if (strncmp(c->name, argv[0], strlen(argv[0])))
			continue;
		match = c;
		nmatch++;
		snprintf(candidates + strlen(candidates), sizeof(candidates) - strlen(candidates),
			 "%s%s", nmatch > 1 ? ", " : "", c->name);
	}
	if (nmatch == 1)
		return match->func(argc - 1, argv + 1);
	if (nmatch > 1)
		return usage_err("'%s' is ambiguous: %s", argv[0], candidates);
	return usage_err("unknown command '%s' (try 'help')", argv[0]);
}

bool require_privileges(void)
{
	if (have_privileges())
		return true;
	p_err("needs root (or CAP_BPF and CAP_NET_ADMIN) to use the BPF maps and the store");
	return false;
}

int cli_open_maps(struct dp_maps *m)
{
	char err[ERR_LEN] = "";
	int ret = bpffs_prepare(cli.pin_dir, false, err);

	*m = (struct dp_maps)DP_MAPS_CLOSED;
	if (ret == -ENOENT)
		return -ENOENT;
	if (ret) {
		p_err("%s", err);
		return ret;
	}
	ret = maps_open(cli.pin_dir, m);
	if (ret == -ENODATA)
		p_err("incomplete pin set in %s: run 'svcbpf load' to repair or 'svcbpf unload'",
		      cli.pin_dir);
	else if (ret && ret != -ENOENT)
		p_err("cannot open the maps in %s: %s", cli.pin_dir, strerror(-ret));
	return ret;
}

int cli_open_store(struct store **s)
{
	char err[ERR_LEN];
	int ret = store_open(cli.state_dir, s, err);

	/* SQLite says "unable to open database file" for a read-only directory: say why. */
	if (ret && access(cli.state_dir, W_OK) && (errno == EROFS || errno == EACCES))
		p_err("cannot open the store in %s: the state directory is not writable (%s)",
		      cli.state_dir, strerror(errno));
	else if (ret)
		p_err("%s", err);
	return ret;
}

int cli_load_model(struct model *md, struct store **sp)
{
	struct store *s;
	int ret;

	if (cli_open_store(&s))
		return -EIO;
	ret = store_load(s, md);
	if (ret)
		p_err("cannot read the store: %s", store_errmsg(s));
	if (ret || !sp)
		store_close(s);
	else
		*sp = s;
	return ret;
}

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"Usage: svcbpf [OPTIONS] OBJECT COMMAND [ARGS]\n"
		"\n"
		"  svcbpf load IFACE... [--xdp] [--max-services N] [--max-backends N] [--ct-size N]\n"
		"                       [--maglev-size M] [--ct-timeout-{syn,tcp,fin,udp} S]\n"
		"  svcbpf unload [IFACE...]\n"
		"  svcbpf svc add VIP:PORT[/tcp|udp] [--backend IP:PORT[,weight=N]]...\n"
		"                 [--affinity none|client-ip[,timeout=SECONDS]]\n"
		"  svcbpf svc del VIP:PORT[/tcp|udp]\n"
		"  svcbpf svc list\n"
		"  svcbpf svc explain VIP:PORT[/tcp|udp] --from IP:PORT [--proto tcp|udp]\n"
		"  svcbpf backend add|del VIP:PORT[/tcp|udp] IP:PORT[,weight=N]\n"
		"  svcbpf backend drain|undrain VIP:PORT[/tcp|udp] IP:PORT\n"
		"  svcbpf backend weight VIP:PORT[/tcp|udp] IP:PORT N\n"
		"  svcbpf apply -f FILE|DIR|-     Kubernetes manifests: Service, Pod, Endpoints...\n"
		"  svcbpf delete -f FILE|DIR|-  |  delete service NAME [-n NS]\n"
		"  svcbpf get services|endpoints|endpointslices|pods [NAME] [-n NS|-A]\n"
		"             [-o yaml|json|wide]\n"
		"  svcbpf ct list [VIP:PORT[/tcp|udp]]\n"
		"  svcbpf ct flush [VIP:PORT[/tcp|udp]]\n"
		"  svcbpf status              programs, maps, run counts, reasons for drops\n"
		"  svcbpf stats [VIP:PORT[/tcp|udp]] [--watch 1s] [--count N]\n"
		"  svcbpf dump [-x]             the translations as iptables -L -n -v shows them\n"
		"  svcbpf monitor [--service VIP:PORT[/tcp|udp]] [--client IP[/LEN]]\n"
		"                 [--type new,reply,reject,drop,skip,trace|all] [--count N]\n"
		"                 [--duration S] [--rate N]\n"
		"  svcbpf metrics               Prometheus text exposition\n"
		"  svcbpf agent [--metrics-addr IP:PORT]   serve /metrics (default 127.0.0.1:9402)\n"
		"  svcbpf sync\n"
		"  svcbpf batch FILE|-          many changes, one transaction\n"
		"  svcbpf version\n"
		"\n"
		"OPTIONS (anywhere on the line):\n"
		"  -o, --output plain|json   output format (-j = -o json)\n"
		"  --pin-dir DIR             BPF pins (env SVCBPF_PIN_DIR, default %s)\n"
		"  --state-dir DIR           the store (env SVCBPF_STATE_DIR, default %s)\n"
		"  -d, --debug               libbpf and verifier log\n"
		"  -h, --help                this help; 'svcbpf OBJECT help' for an object's\n"
		"\n"
		"Exit codes: 0 ok, 1 the command failed or was misused.\n",
		SVCBPF_PIN_DIR_DEFAULT, SVCBPF_STATE_DIR_DEFAULT);
	return EXIT_OK;
}

static int do_version(int argc, char **argv)
{
	(void)argv;
	if (argc)
		return usage_err("version takes no arguments");
	out_string(PRINT_ANY, "version", "svcbpf %s\n", SVCBPF_VERSION);
	return EXIT_OK;
}

static const struct cmd main_cmds[] = {
	{ "load", do_load },	   { "unload", do_unload },
	{ "svc", do_svc },	   { "service", do_svc },
	{ "backend", do_backend }, { "status", do_status },
	{ "sync", do_sync },	   { "batch", do_batch },
	{ "ct", do_ct },	   { "apply", do_apply },
	{ "delete", do_delete },   { "get", do_get },
	{ "stats", do_stats },	   { "dump", do_dump },
	{ "monitor", do_monitor }, { "metrics", do_metrics },
	{ "agent", do_agent },	   { "help", do_help },
	{ "version", do_version }, { NULL, NULL },
};

/* Takes the value of option @name at argv[*i] ("--name V" or "--name=V"). */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t len = strlen(name);

	if (!strncmp(argv[*i], name, len) && argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (strcmp(argv[*i], name))
		return NULL;
	if (*i + 1 >= argc || !argv[*i + 1])
		return "";
	return argv[++*i];
}

/* A usage error in the global options, reported once the output format is known. */
static char global_err[256];

static int global_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(global_err, sizeof(global_err), fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/*
 * Take the global options out of argv wherever they are (the seed writes
 * `svc list -o json`), leaving the command words and their own options.
 */
static int parse_global(int *argc, char **argv, bool *json, bool *help)
{
	bool output = false, pin_dir = false, state_dir = false;
	int out = 0;

	for (int i = 0; i < *argc && argv[i]; i++) {
		const char *v;

		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		/* Each option once: with two, one would silently lose (-j is -o json). */
		if ((v = opt_value(*argc, argv, &i, "-o")) ||
		    (v = opt_value(*argc, argv, &i, "--output"))) {
			if (output)
				return global_usage("the output format (-o) given twice");
			output = true;
			if (!strcmp(v, "json"))
				*json = true;
			else if (!strcmp(v, "plain") || !strcmp(v, "text"))
				*json = false;
			else if (!strcmp(v, "yaml") || !strcmp(v, "wide"))
				cli.format = v; /* get's own formats */
			else
				return global_usage("unknown output format '%s' (plain, json, yaml "
						    "or wide)",
						    v);
		} else if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			if (output)
				return global_usage("the output format (-o) given twice");
			output = true;
			*json = true;
		} else if (!strcmp(argv[i], "-d") || !strcmp(argv[i], "--debug")) {
			cli.debug = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			*help = true;
		} else if ((v = opt_value(*argc, argv, &i, "--pin-dir"))) {
			if (!*v)
				return global_usage("--pin-dir needs a directory");
			if (pin_dir)
				return global_usage("--pin-dir given twice");
			pin_dir = true;
			cli.pin_dir = v;
		} else if ((v = opt_value(*argc, argv, &i, "--state-dir"))) {
			if (!*v)
				return global_usage("--state-dir needs a directory");
			if (state_dir)
				return global_usage("--state-dir given twice");
			state_dir = true;
			cli.state_dir = v;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	return 0;
}

int main(int argc, char **argv)
{
	bool json = false, help = false;
	const char *env;
	int ret;

	/* Everything svcbpf creates (store, lock, pin directories) is root's alone. */
	umask(077);
	cli.pin_dir = (env = getenv("SVCBPF_PIN_DIR")) && *env ? env : SVCBPF_PIN_DIR_DEFAULT;
	cli.state_dir = (env = getenv("SVCBPF_STATE_DIR")) && *env ? env : SVCBPF_STATE_DIR_DEFAULT;
	argc--;
	argv++;
	/*
	 * Options first, output second: a usage error met while parsing is
	 * printed after the format is known (parse_global defers it).
	 */
	ret = parse_global(&argc, argv, &json, &help);
	out_begin(json);
	if (ret) {
		p_err("%s", global_err);
		out_end();
		return ret;
	}
	if (help) {
		/* `svcbpf svc add --help` = `svcbpf svc help` */
		if (!argc)
			return do_help(0, NULL);
		argv[1] = "help";
		argc = 2;
	}
	if (argc == 0) {
		do_help(0, NULL);
		out_end();
		return EXIT_USAGE;
	}
	/* yaml and wide are get's (kubectl's) formats only. */
	if (cli.format && (!argv[0][0] || strncmp("get", argv[0], strlen(argv[0])))) {
		p_err("unknown output format '%s' for '%s' (plain or json; yaml and wide with get)",
		      cli.format, argv[0]);
		out_end();
		return EXIT_USAGE;
	}
	ret = cmd_select(main_cmds, argc, argv, do_help);
	if (out_end() && !ret)
		ret = EXIT_FAIL;
	return ret;
}
