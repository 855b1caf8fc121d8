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
#include <stdint.h>

#include "addr.h"
#include "maps.h"
#include "store.h"

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_FAIL 1 /* the command failed: invalid value, refused, system error */
/* Usage errors too: kubectl exits 1 for every error, and scripts test for it. */
#define EXIT_USAGE 1 /* unknown verb or flag, missing or repeated argument */

struct cmd {
	const char *name;
	int (*func)(int argc, char **argv);
};

struct cli_ctx {
	const char *pin_dir;
	const char *state_dir;
	bool debug;
	const char *format; /* -o yaml or -o wide (get); NULL otherwise */
};

extern struct cli_ctx cli;

/* Run the command in @cmds named by argv[0]; @help when there is none. */
int cmd_select(const struct cmd *cmds, int argc, char **argv, int (*help)(int, char **));

/* A usage error: message, then exit code 1. */
int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Root (or CAP_BPF + CAP_NET_ADMIN), else a clear error. */
bool require_privileges(void);

/* The maps when svcbpf is loaded: 0, -ENOENT (not loaded), or -errno (reported). */
int cli_open_maps(struct dp_maps *m);

enum change_op {
	CHANGE_SVC_SET, /* create, or replace the backend set */
	CHANGE_SVC_DEL,
	CHANGE_BE_ADD,
	CHANGE_BE_DEL,
	CHANGE_BE_SET, /* a backend's weight and/or state */
};

/* One parsed, validated change to the desired state. */
struct change {
	enum change_op op;
	struct l4addr svc;
	uint32_t affinity; /* SVC_SET: client-IP affinity timeout (s); 0: none */
	uint16_t flags; /* SVC_SET: SVCBPF_SVC_EXTERNAL, _MASQ, _LOCAL */
	struct cidr4 *ranges; /* SVC_SET: loadBalancerSourceRanges (owned, freed with it) */
	size_t nranges;
	/* SVC_SET from `svc add`: -1 none, 0 allocate, else the NodePort frontend's port */
	int nodeport;
	struct be_rec *be; /* SVC_SET: the set; BE_*: one (address, weight) */
	size_t nbe;
	int weight, state; /* BE_SET: the new values, -1 to keep */
	char owner[512]; /* SVC_SET/DEL by the controller: the Service object ("ns/name") */
	char where[64]; /* "FILE:LINE: " in a batch, for error messages */
};

struct change_list {
	struct change *c;
	size_t n, cap;
};

/*
 * The change path: lock, run @c[0..n) in one store transaction, check it
 * fits the maps, commit, then reconcile the touched services' maps. @what
 * names it in errors ("add 10.96.0.50:80/tcp"). While a batch is parsed
 * (change_collect()), the changes are moved into its list instead.
 */
int cli_apply(struct change *c, size_t n, const char *what);

/*
 * The same, with @pre run first inside the transaction: it writes what it
 * must (Kubernetes objects) and adds the changes that follow from it to
 * @more. Returns 0 or -errno (reported).
 */
struct store;
typedef int (*change_pre_fn)(struct store *s, void *ctx, struct change_list *more);
int cli_apply_with(struct change *c, size_t n, const char *what, change_pre_fn pre, void *ctx);
/* Append a copy of @c (its backends too) to @l; 0 or -ENOMEM. */
int change_list_add(struct change_list *l, const struct change *c);

/* What the last cli_apply() spent: the store transaction, then the maps. */
struct apply_stats {
	uint64_t store_us;
	uint64_t maps_us;
};
extern struct apply_stats apply_stats;
void change_free(struct change *c);
void change_collect(struct change_list *into); /* NULL: apply again */
bool change_collecting(void);
void change_list_free(struct change_list *l);

/* Take the state lock that serialises every change (store and maps); -errno reported. */
int cli_lock(void);

/* Open the store (no lock); reports errors. */
int cli_open_store(struct store **s);
/*
 * Read the whole desired state into @md; reports errors. With @sp, the store
 * stays open there for further reads (on success); without, it is closed.
 */
struct model;
int cli_load_model(struct model *md, struct store **sp);

/*
 * Did a change commit the store without finishing its map writes (killed)?
 * The next change, or a full sync (load, sync), repairs the maps and clears it.
 */
bool maps_behind(void);
void maps_behind_clear(void);
/* Does another svcbpf hold the state lock (a change under way)? */
bool change_in_progress(void);

int do_svc(int argc, char **argv);
int do_backend(int argc, char **argv);
int do_load(int argc, char **argv);
int do_unload(int argc, char **argv);
int do_status(int argc, char **argv);
int do_sync(int argc, char **argv);
int do_batch(int argc, char **argv);
int do_ct(int argc, char **argv);
int do_apply(int argc, char **argv);
int do_delete(int argc, char **argv);
int do_get(int argc, char **argv);
int do_stats(int argc, char **argv);
int do_dump(int argc, char **argv);
int do_monitor(int argc, char **argv);
int do_metrics(int argc, char **argv);
int do_agent(int argc, char **argv);

/*
 * Parse a backend argument of @svc: "IP:PORT[,weight=N]" (weight 1 when
 * not given). Reports errors; returns 0 or -EINVAL.
 */
int parse_backend_arg(const char *arg, const struct l4addr *svc, struct be_rec *be);
/* Parse "none" or "client-ip[,timeout=S]" into a timeout (0: none). Reports errors. */
int parse_affinity_arg(const char *arg, uint32_t *timeout);
/* Parse a service address argument (VIP:PORT[/proto], a unicast VIP). Reports errors. */
int parse_svc_arg(const char *arg, struct l4addr *svc);

#endif /* SVCBPF_CLI_H */
