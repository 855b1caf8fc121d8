// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cmd_svc.c - `svcbpf svc ...` and `svcbpf backend ...`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loader.h"
#include "output.h"
#include "svcbpf.h"

static int svc_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"Usage: svcbpf svc add VIP:PORT[/tcp|udp] [--backend IP:PORT]...\n"
		"       svcbpf svc del VIP:PORT[/tcp|udp]\n"
		"       svcbpf svc list [-o json]\n"
		"\n"
		"'svc add' creates the service, or replaces the backend set of an existing one.\n"
		"The protocol defaults to tcp. A service without backends drops its traffic.\n");
	return EXIT_OK;
}

static int backend_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "Usage: svcbpf backend add VIP:PORT[/tcp|udp] IP:PORT\n"
			"       svcbpf backend del VIP:PORT[/tcp|udp] IP:PORT\n");
	return EXIT_OK;
}

/* Parse a service address argument, reporting errors. */
static int get_svc(const char *arg, struct l4addr *svc)
{
	char err[ERR_LEN];

	if (parse_l4addr(arg, true, svc, err)) {
		p_err("%s", err);
		return -EINVAL;
	}
	/* A ClusterIP is a unicast address no host owns: not 0/8, loopback, multicast or E. */
	if (svc->ip >> 24 == 0 || svc->ip >> 24 == 127 || svc->ip >> 28 >= 14) {
		p_err("invalid service address '%s': not a unicast address", arg);
		return -EINVAL;
	}
	return 0;
}

/* Parse a backend of @svc: a valid IP:PORT that is not the service itself. */
static int get_backend(const char *arg, const struct l4addr *svc, struct l4addr *be)
{
	char err[ERR_LEN], buf[ADDR_STR_LEN];

	if (parse_l4addr(arg, false, be, err)) {
		p_err("%s", err);
		return -EINVAL;
	}
	be->proto = svc->proto;
	if (be->ip == svc->ip) {
		p_err("invalid backend '%s': %s is the service address itself", arg,
		      fmt_ip(buf, svc->ip));
		return -EINVAL;
	}
	if (be->ip >> 24 == 0 || be->ip >> 24 == 127 || be->ip >> 28 >= 14) {
		p_err("invalid backend '%s': not a unicast address a pod can have", arg);
		return -EINVAL;
	}
	return 0;
}

static int do_svc_add(int argc, char **argv)
{
	struct change c = { .op = CHANGE_SVC_SET };
	const char *svc_arg = NULL, **args;
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
			args[c.nbe++] = argv[i] + 10;
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
	if (get_svc(svc_arg, &c.svc))
		goto out;
	if (c.nbe > SVCBPF_MAX_SVC_BACKENDS) {
		p_err("cannot add %s: %zu backends, at most %d", svc_arg, c.nbe,
		      SVCBPF_MAX_SVC_BACKENDS);
		goto out;
	}
	/* Backends are checked once the service (and its protocol) is known. */
	for (size_t k = 0; k < c.nbe; k++) {
		if (get_backend(args[k], &c.svc, &c.be[k]))
			goto out;
		for (size_t j = 0; j < k; j++) {
			if (c.be[j].ip == c.be[k].ip && c.be[j].port == c.be[k].port) {
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
	if (get_svc(argv[0], &c.svc))
		return EXIT_FAIL;
	snprintf(what, sizeof(what), "delete %s", fmt_l4addr(buf, &c.svc, true));
	return cli_apply(&c, 1, what);
}

static const char *be_state_name(uint8_t state)
{
	return state == SVCBPF_BE_DRAINING ? "draining" : "active";
}

static int do_svc_list(int argc, char **argv)
{
	struct dp_maps m = DP_MAPS_CLOSED;
	struct hook_info *hooks = NULL;
	struct store *s = NULL;
	struct model md = { 0 };
	char buf[ADDR_STR_LEN];
	int nhooks = 0, ret;
	bool loaded;

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
	if (cli_open_store(&s))
		goto fail;
	if (store_load(s, &md)) {
		p_err("cannot read the store: %s", store_errmsg(s));
		goto fail;
	}
	if (loaded)
		dp_list_hooks(cli.pin_dir, &hooks, &nhooks);

	out_open_array("services");
	if (!json_output && md.n)
		printf("%-24s %-8s %s\n", "SERVICE", "BACKENDS", "STATE");
	for (size_t i = 0; i < md.n; i++) {
		const struct svc_rec *r = &md.svc[i];
		const char *state = !loaded			 ? "not-loaded" :
				    dp_service_programmed(&m, r) ? "programmed" :
								   "out-of-sync";

		out_open_object(NULL);
		out_string(PRINT_FP, NULL, "%-24s ", fmt_l4addr(buf, &r->addr, true));
		out_string(PRINT_JSON, "address", NULL, fmt_ip(buf, r->addr.ip));
		out_uint(PRINT_JSON, "port", NULL, r->addr.port);
		out_string(PRINT_JSON, "protocol", NULL, proto_name(r->addr.proto));
		out_uint(PRINT_JSON, "id", NULL, (uint64_t)r->id);
		out_uint(PRINT_ANY, "backend_count", "%-8lu ", r->nbe);
		out_string(PRINT_ANY, "state", "%s\n", state);
		out_open_array("backends");
		for (size_t j = 0; j < r->nbe; j++) {
			const struct be_rec *b = &r->be[j];

			out_open_object(NULL);
			out_string(PRINT_FP, NULL, "  -> %-20s ", fmt_l4addr(buf, &b->addr, false));
			out_string(PRINT_JSON, "address", NULL, fmt_ip(buf, b->addr.ip));
			out_uint(PRINT_JSON, "port", NULL, b->addr.port);
			out_uint(PRINT_JSON, "id", NULL, (uint64_t)b->id);
			out_uint(PRINT_JSON, "weight", NULL, b->weight);
			out_string(PRINT_ANY, "state", "%s\n", be_state_name(b->state));
			out_close_object();
		}
		out_close_array();
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

static const struct cmd svc_cmds[] = {
	{ "add", do_svc_add },	 { "del", do_svc_del },	  { "delete", do_svc_del },
	{ "list", do_svc_list }, { "show", do_svc_list }, { "help", svc_help },
	{ NULL, NULL },
};

int do_svc(int argc, char **argv)
{
	if (!argc) {
		svc_help(0, NULL);
		return EXIT_USAGE;
	}
	return cmd_select(svc_cmds, argc, argv, svc_help);
}

static int backend_change(int argc, char **argv, const char *verb, enum change_op op)
{
	struct change c = { .op = op, .nbe = 1 };
	char what[2 * ADDR_STR_LEN + 16];
	struct l4addr be;
	int ret;

	for (int i = 0; i < argc; i++)
		if (argv[i][0] == '-')
			return usage_err("backend %s: unknown option '%s'", verb, argv[i]);
	if (argc != 2)
		return usage_err(argc < 2 ? "backend %s: needs VIP:PORT and IP:PORT" :
					    "backend %s: too many arguments",
				 verb);
	if (get_svc(argv[0], &c.svc) || get_backend(argv[1], &c.svc, &be))
		return EXIT_FAIL;
	c.be = malloc(sizeof(*c.be));
	if (!c.be)
		return EXIT_FAIL;
	c.be[0] = be;
	snprintf(what, sizeof(what), "%s backend %s of %s", verb, argv[1], argv[0]);
	ret = cli_apply(&c, 1, what);
	change_free(&c);
	return ret;
}

static int do_backend_add(int argc, char **argv)
{
	return backend_change(argc, argv, "add", CHANGE_BE_ADD);
}

static int do_backend_del(int argc, char **argv)
{
	return backend_change(argc, argv, "del", CHANGE_BE_DEL);
}

static const struct cmd backend_cmds[] = {
	{ "add", do_backend_add },
	{ "del", do_backend_del },
	{ "delete", do_backend_del },
	{ "help", backend_help },
	{ NULL, NULL },
};

int do_backend(int argc, char **argv)
{
	if (!argc) {
		backend_help(0, NULL);
		return EXIT_USAGE;
	}
	return cmd_select(backend_cmds, argc, argv, backend_help);
}
