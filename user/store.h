/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * store.h - the desired state: services and their backends, in SQLite.
 *
 * Every change runs inside store_begin()/store_commit(), so a crash leaves
 * the old or the new state, never a mix. Ids are never reused
 * (AUTOINCREMENT): the dataplane keys backends and tables by them, and a
 * reused id could make a stale conntrack entry look valid.
 */
#ifndef SVCBPF_STORE_H
#define SVCBPF_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define STORE_FILE "svcbpf.db"

struct store;

struct be_rec {
	int64_t id;
	struct l4addr addr; /* proto unused */
	uint16_t weight;
	uint8_t state; /* enum svcbpf_backend_state */
};

/* A service's settings beyond its backends (what `svc add` and the controller give). */
struct svc_opts {
	uint32_t affinity; /* client-IP affinity timeout in seconds; 0: none */
	/* SVCBPF_SVC_EXTERNAL, _MASQ, _LOCAL (affinity and ranges set their own flags) */
	uint16_t flags;
	struct cidr4 *ranges; /* only clients in these (LoadBalancer IPs); NULL: all */
	size_t nranges;
	/* A NodePort frontend made by `svc add --nodeport`: the service it follows. */
	struct l4addr parent; /* all 0: none */
};

struct svc_rec {
	int64_t id;
	struct l4addr addr; /* ip 0: a NodePort, on every node address */
	uint32_t affinity; /* client-IP affinity timeout in seconds; 0: none */
	size_t nbe;
	struct be_rec *be; /* ordered by id */
	uint16_t flags; /* as struct svc_opts */
	struct cidr4 *ranges; /* as struct svc_opts; freed with the record */
	size_t nranges;
	struct l4addr parent; /* as struct svc_opts */
};

struct model {
	size_t n;
	struct svc_rec *svc; /* ordered by address */
};

/* mkdir -p @dir, the last component 0700. Returns 0 or -errno. */
int store_mkdir(const char *dir);
/* Open (creating @dir 0700 and the schema if needed). -errno with @err set. */
int store_open(const char *dir, struct store **out, char err[ERR_LEN]);
void store_close(struct store *s);
const char *store_errmsg(struct store *s);

/* One writer at a time: BEGIN IMMEDIATE waits for the write lock. */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/*
 * Create @svc or replace its settings and backend set with @be[0..n) (their
 * addresses, weights and states). Backends that stay keep their ids (and so
 * their tracked flows). @o NULL: no settings. Ranges are stored each once, in
 * order. Returns 0, -EINVAL (a flag the store does not keep), -ENOENT (no
 * service @o->parent) or -errno.
 */
int store_svc_set(struct store *s, const struct l4addr *svc, const struct svc_opts *o,
		  const struct be_rec *be, size_t n);
/* The NodePort frontends `svc add --nodeport` made for @svc (their parent), by address. */
int store_svc_children(struct store *s, const struct l4addr *svc, struct l4addr **out, size_t *n);
/* 1 (and @parent) when @svc is a NodePort frontend `svc add --nodeport` made, 0 when not, -EIO. */
int store_svc_parent(struct store *s, const struct l4addr *svc, struct l4addr *parent);
/* The loadBalancerSourceRanges prefixes of every service together (the LPM map's entries). */
int store_range_count(struct store *s, size_t *n);
/*
 * 1 when a service frontend uses NodePort @port (address 0.0.0.0, either
 * protocol; @who set to it) or a Service's healthCheckNodePort is @port
 * (@who's protocol 0), 0 when neither, -EIO.
 */
int store_nodeport_used(struct store *s, uint16_t port, struct l4addr *who);
/* -ENOENT when there is no such service. Its NodePort frontends (children) go with it. */
int store_svc_del(struct store *s, const struct l4addr *svc);
/* -ENOENT: no such service; -EEXIST: already one of its backends. */
int store_be_add(struct store *s, const struct l4addr *svc, const struct be_rec *be);
/*
 * Set a backend's @weight and/or @state (-1: keep). -ENOENT: no such service
 * (@svc_missing set) or no such backend.
 */
int store_be_update(struct store *s, const struct l4addr *svc, const struct l4addr *be, int weight,
		    int state, int *svc_missing);
/* Ids of the backends deleted since the last call (rolled back ones excluded). */
int store_take_gone(struct store *s, uint32_t **ids, size_t *n);
/* -ENOENT: no such service (@svc_missing set) or no such backend. */
int store_be_del(struct store *s, const struct l4addr *svc, const struct l4addr *be,
		 int *svc_missing);

int store_load(struct store *s, struct model *m);
/* One service; -ENOENT when absent. */
int store_load_svc(struct store *s, const struct l4addr *svc, struct svc_rec *out);
/* Totals, for capacity checks before commit (O(1): kept by triggers). */
int store_counts(struct store *s, size_t *nsvc, size_t *nbe);
/* 1 (and its backend count) when @svc exists, 0 when not, -EIO. */
int store_svc_exists(struct store *s, const struct l4addr *svc, size_t *nbe);
/* Backends of @svc (0 when there is no such service). */
int store_svc_nbe(struct store *s, const struct l4addr *svc, size_t *nbe);

/* Kubernetes objects, as applied (the JSON document). */
struct obj_rec {
	char *kind;
	char *ns;
	char *name;
	char *doc;
	int64_t created; /* unix seconds */
};

/* Create or replace an object (a replaced one keeps its creation time). */
int store_obj_put(struct store *s, const char *kind, const char *ns, const char *name,
		  const char *doc, int64_t now);
/* -ENOENT when there is no such object. */
int store_obj_del(struct store *s, const char *kind, const char *ns, const char *name);
/* Every object, ordered by kind, namespace and name; free with obj_recs_free(). */
int store_obj_list(struct store *s, struct obj_rec **out, size_t *n);
void obj_recs_free(struct obj_rec *r, size_t n);

/* The Service object ("ns/name") a service was made from; NULL: made by the CLI. */
int store_svc_owner_set(struct store *s, const struct l4addr *svc, const char *owner);
/* 1 (with @owner filled) when @svc is owned, 0 when not or absent, -EIO. */
int store_svc_owner(struct store *s, const struct l4addr *svc, char *owner, size_t len);
/* Every owned service's address; caller frees. */
int store_owned_list(struct store *s, struct l4addr **out, size_t *n);
/* 1 when any service uses @vip (its owner, "" for the CLI, in @owner), 0, -EIO. */
int store_vip_used(struct store *s, uint32_t vip, char *owner, size_t len);

/* Node settings by name ("node-name"): 1 with @val, 0 when unset, -EIO. */
int store_setting_get(struct store *s, const char *name, char *val, size_t len);
int store_setting_set(struct store *s, const char *name, const char *val);

void svc_rec_free(struct svc_rec *r);
void model_free(struct model *m);

#endif /* SVCBPF_STORE_H */
