/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * k8s_ctl.h - the endpoints controller: from every stored Service, Pod,
 * Endpoints and EndpointSlice to the endpoints of each Service (as
 * Kubernetes would write them) and the translations the dataplane needs.
 */
#ifndef SVCBPF_K8S_CTL_H
#define SVCBPF_K8S_CTL_H

#include "k8s.h"
#include "store.h"

/* Every object the store holds, decoded. */
struct k8s_set {
	struct k8s_obj *obj;
	int64_t *created; /* unix seconds, per object */
	json_t **doc; /* the document as applied, per object */
	size_t n;
};

/* Decode the store's objects into @set. -errno with @err naming the object. */
int k8s_set_load(struct store *s, struct k8s_set *set, char err[ERR_LEN]);
void k8s_set_free(struct k8s_set *set);
/* The object of @kind called @ns/@name, or NULL. */
const struct k8s_obj *k8s_set_find(const struct k8s_set *set, enum k8s_kind kind, const char *ns,
				   const char *name);

/* One endpoint of a Service: an address and, per Service port, its target (0: none). */
struct k8s_ep {
	uint32_t ip;
	bool ready;
	bool terminating;
	char pod[K8S_NAME_LEN]; /* "" when it came from Endpoints/EndpointSlice */
	uint16_t *port; /* [svc.nports] */
};

/* The endpoints of Service @svc: from its selector's pods, or from Endpoints/slices. */
int k8s_endpoints_of(const struct k8s_set *set, const struct k8s_obj *svc, struct k8s_ep **out,
		     size_t *n);
void k8s_eps_free(struct k8s_ep *eps, size_t n);

/* One translation a Service asks for: ClusterIP:port/proto -> its backends. */
struct k8s_xlate {
	struct svc_rec rec; /* addr, affinity and backends (ids unused) */
	char owner[2 * K8S_NAME_LEN]; /* "ns/name" */
};

/* Every translation the Services in @set ask for, sorted by address. */
int k8s_translations(const struct k8s_set *set, struct k8s_xlate **out, size_t *n);
void k8s_xlates_free(struct k8s_xlate *x, size_t n);

/* Kubernetes-shaped Endpoints and EndpointSlices (a JSON array) for Service @svc. */
json_t *k8s_endpoints_json(const struct k8s_set *set, const struct k8s_obj *svc);
json_t *k8s_slices_json(const struct k8s_set *set, const struct k8s_obj *svc);

/* "ns/name" */
void k8s_owner(char *buf, size_t len, const struct k8s_obj *o);

#endif /* SVCBPF_K8S_CTL_H */
