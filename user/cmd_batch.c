// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cmd_batch.c - `svcbpf batch FILE|-`: many changes, one transaction.
 *
 * Each line is a change command as typed after `svcbpf` (svc add|del,
 * backend add|del); `#` starts a comment. Every line is parsed and validated
 * first (an error names FILE:LINE and nothing is applied), then all of them
 * go into the store in one transaction and each touched service is
 * reconciled once. This is the interface for a controller programming
 * thousands of services.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

#define BATCH_MAX_LINES 1000000
#define BATCH_MAX_WORDS 8200 /* svc add VIP + 4096 x (--backend IP:PORT) */

static int batch_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "Usage: svcbpf batch FILE|-\n"
			"One change per line, as after 'svcbpf': svc add|del,\n"
			"backend add|del|drain|undrain|weight; '#' starts\n"
			"a comment. All lines are validated, then applied in one transaction.\n");
	return EXIT_OK;
}

static const struct cmd batch_cmds[] = {
	{ "svc", do_svc },
	{ "service", do_svc },
	{ "backend", do_backend },
	{ NULL, NULL },
};

/* Split @line into words in place; returns the count, or -1 when too many. */
static int split_words(char *line, char **words, int max)
{
	int n = 0;

	for (char *p = strtok(line, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
		if (*p == '#')
			break;
		if (n == max)
			return -1;
		words[n++] = p;
	}
	return n;
}

int do_batch(int argc, char **argv)
{
	struct change_list list = { 0 };
	const char *name;
	char **words = NULL, *line = NULL, where[64];
	size_t cap = 0;
	long lineno = 0;
	int ret = EXIT_OK;
	FILE *f;

	if (argc == 1 && !strcmp(argv[0], "help"))
		return batch_help(0, NULL);
	if (argc != 1)
		return usage_err(argc ? "batch: one file at a time" : "batch: missing FILE (or -)");
	if (change_collecting())
		return usage_err("batch: a batch cannot hold a batch");
	name = argv[0];
	f = strcmp(name, "-") ? fopen(name, "r") : stdin;
	if (!f) {
		p_err("cannot read %s: %s", name, strerror(errno));
		return EXIT_FAIL;
	}
	words = calloc(BATCH_MAX_WORDS + 1, sizeof(*words));
	if (!words) {
		ret = EXIT_FAIL;
		goto out;
	}

	change_collect(&list);
	while (getline(&line, &cap, f) > 0) {
		size_t before = list.n;
		int n;

		if (++lineno > BATCH_MAX_LINES) {
			p_err("%s: more than %d lines", name, BATCH_MAX_LINES);
			ret = EXIT_FAIL;
			break;
		}
		snprintf(where, sizeof(where), "%.40s:%ld: ", name, lineno);
		p_err_prefix(where);
		n = split_words(line, words, BATCH_MAX_WORDS);
		if (n < 0) {
			ret = usage_err("too many words");
			break;
		}
		if (n == 0)
			continue;
		ret = cmd_select(batch_cmds, n, words, batch_help);
		if (ret)
			break;
		for (size_t i = before; i < list.n; i++)
			memcpy(list.c[i].where, where, sizeof(where));
	}
	p_err_prefix(NULL);
	change_collect(NULL);
	if (!ret && ferror(f)) {
		p_err("cannot read %s: %s", name, strerror(errno));
		ret = EXIT_FAIL;
	}
	if (!ret && list.n) {
		char what[80];

		snprintf(what, sizeof(what), "apply %.40s (%zu changes)", name, list.n);
		ret = cli_apply(list.c, list.n, what);
	}
out:
	/* For controllers and `make bench`: what the transaction and the maps took. */
	out_uint(PRINT_JSON, "changes", NULL, ret ? 0 : list.n);
	out_uint(PRINT_JSON, "store_us", NULL, ret ? 0 : apply_stats.store_us);
	out_uint(PRINT_JSON, "maps_us", NULL, ret ? 0 : apply_stats.maps_us);
	change_list_free(&list);
	free(words);
	free(line);
	if (f != stdin)
		fclose(f);
	return ret;
}
