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
	char node[K8S_NAME_LEN]; /* the Pod's spec.nodeName or the address' nodeName; "" unknown */
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

/*
 * Every translation the Services in @set ask for, sorted by address: per
 * Service port the ClusterIP frontend, and for NodePort/LoadBalancer/
 * externalIPs the external frontends (rec.flags, rec.ranges). @node is this
 * node's name: with externalTrafficPolicy Local the external frontends get
 * only the endpoints on @node (or with no nodeName at all; @node NULL: every
 * endpoint counts as local).
 */
int k8s_translations_on(const struct k8s_set *set, const char *node, struct k8s_xlate **out,
			size_t *n);
/* k8s_translations_on(@set, NULL, ...): kept for the fuzz harnesses. */
int k8s_translations(const struct k8s_set *set, struct k8s_xlate **out, size_t *n);
void k8s_xlates_free(struct k8s_xlate *x, size_t n);

/* Kubernetes-shaped Endpoints and EndpointSlices (a JSON array) for Service @svc. */
json_t *k8s_endpoints_json(const struct k8s_set *set, const struct k8s_obj *svc);
json_t *k8s_slices_json(const struct k8s_set *set, const struct k8s_obj *svc);

/* A LoadBalancer Service with externalTrafficPolicy Local and its health check port. */
struct k8s_health {
	char ns[K8S_NAME_LEN];
	char name[K8S_NAME_LEN];
	uint16_t port; /* spec.healthCheckNodePort */
	size_t local_endpoints; /* ready, not terminating, on this node */
};

/*
 * Every LoadBalancer + Local Service in @set with a healthCheckNodePort, and
 * how many of its endpoints are ready, not terminating and on node @node.
 * *@out is malloc'ed (free()); 0 or -errno.
 */
int k8s_health_checks(const struct k8s_set *set, const char *node, struct k8s_health **out,
		      size_t *n);

/*
 * This node's name: the store's "node-name" setting (`load --node-name`),
 * else the host name in lower case (as the kubelet's default). 0 or -errno.
 */
int k8s_node_name(struct store *s, char *buf, size_t len);

/*
 * Store @node (a DNS subdomain; NULL: keep the one stored) as this node's
 * name and run the controller, so externalTrafficPolicy Local frontends
 * follow, in one change (state lock, store transaction, maps). Reports
 * errors; returns an exit code. Not under the state lock: it takes it.
 */
int k8s_node_apply(const char *node);

/* "ns/name" */
void k8s_owner(char *buf, size_t len, const struct k8s_obj *o);

#endif /* SVCBPF_K8S_CTL_H */
