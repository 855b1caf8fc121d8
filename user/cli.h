/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli.h - command dispatch (bpftool's model: one table per object, an exact
 * verb or a unique prefix, `help` at every level) and what every handler
 * shares: the global options and the one path every change takes:
 * parse -> validate -> write the store -> reconcile the maps.
 */
#ifndef SVCBPF_CLI_H
#define SVCBPF_CLI_H

#include <stdbool.h>

#include "addr.h"
#include "maps.h"
#include "store.h"

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_FAIL 1 /* the command failed: invalid value, refused, system error */
#define EXIT_USAGE 2 /* unknown verb or flag, missing argument */

struct cmd {
	const char *name;
	int (*func)(int argc, char **argv);
};

struct cli_ctx {
	const char *pin_dir;
	const char *state_dir;
	bool debug;
};

extern struct cli_ctx cli;

/* Run the command in @cmds named by argv[0]; @help when there is none. */
int cmd_select(const struct cmd *cmds, int argc, char **argv, int (*help)(int, char **));

/* A usage error: message, then exit code 2. */
int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Root (or CAP_BPF + CAP_NET_ADMIN), else a clear error. */
bool require_privileges(void);

/* The maps when svcbpf is loaded: 0, -ENOENT (not loaded), or -errno (reported). */
int cli_open_maps(struct dp_maps *m);

/*
 * The change path for one service: lock, open the store, run @change in a
 * transaction, check it fits the maps, commit, then reconcile @svc's maps.
 * @change returns 0 or a negative errno after reporting with p_err().
 */
typedef int (*change_fn)(struct store *s, const struct l4addr *svc, void *arg);
int cli_change_service(const struct l4addr *svc, const char *verb, change_fn change, void *arg);

/* Open the store read-only use (no lock); reports errors. */
int cli_open_store(struct store **s);

int do_svc(int argc, char **argv);
int do_backend(int argc, char **argv);
int do_load(int argc, char **argv);
int do_unload(int argc, char **argv);
int do_status(int argc, char **argv);
int do_sync(int argc, char **argv);

#endif /* SVCBPF_CLI_H */
