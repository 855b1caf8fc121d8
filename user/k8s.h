/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * k8s.h - the Kubernetes objects svcbpf takes (Service, Pod, Endpoints,
 * EndpointSlice), read from manifests (YAML or JSON) as Kubernetes defines
 * them, and the endpoints controller that turns them into services.
 *
 *   k8s_read_files()  files, directories or "-" -> documents (JSON trees)
 *   k8s_decode()      one document -> a validated struct k8s_obj
 *   k8s_controller()  every stored object -> the services the dataplane needs
 *
 * Every object is kept in the store as the JSON document it came as, so
 * `get -o yaml|json` gives it back and the controller can run again.
 */
#ifndef SVCBPF_K8S_H
#define SVCBPF_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr.h"

#define K8S_NAME_LEN 254 /* DNS subdomain: 253 characters */
#define K8S_NS_DEFAULT "default"
/* Kubernetes' default --service-cluster-ip-range. */
#define K8S_SERVICE_CIDR_DEFAULT "10.96.0.0/12"

enum k8s_kind {
	K8S_SERVICE,
	K8S_POD,
	K8S_ENDPOINTS,
	K8S_ENDPOINTSLICE,
	K8S_KIND_MAX,
};

/* "Service", "Pod", "Endpoints", "EndpointSlice". */
const char *k8s_kind_name(enum k8s_kind k);

struct k8s_label {
	char *key;
	char *value;
};

/* A Service port. targetPort is a number (@target_port) or a name (@target_name). */
struct k8s_svc_port {
	char name[64]; /* "" when unnamed (allowed only when it is the only port) */
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
	uint16_t target_port; /* 0 when @target_name is set */
	char target_name[64];
	uint16_t node_port; /* NodePort/LoadBalancer: spec.ports[].nodePort (0: allocate) */
};

struct k8s_service {
	struct k8s_label *selector;
	size_t nselector;
	bool has_selector; /* spec.selector present and not empty */
	struct k8s_svc_port *ports;
	size_t nports;
	uint32_t cluster_ip; /* host order; 0 when not given (allocate) */
	bool headless; /* clusterIP: None */
	char type[32]; /* ClusterIP (default), NodePort, LoadBalancer, ExternalName */
	uint32_t affinity_timeout; /* sessionAffinity ClientIP: seconds (default 10800); 0: None */
	bool publish_not_ready;
	uint32_t *external_ips; /* spec.externalIPs, host order */
	size_t nexternal_ips;
	uint32_t *lb_ips; /* status.loadBalancer.ingress[].ip (LoadBalancer) */
	size_t nlb_ips;
	struct cidr4 *src_ranges; /* spec.loadBalancerSourceRanges */
	size_t nsrc_ranges;
	bool etp_local; /* spec.externalTrafficPolicy: Local (default Cluster) */
	uint16_t health_node_port; /* spec.healthCheckNodePort (LoadBalancer + Local; 0: allocate) */
	/* spec.allocateLoadBalancerNodePorts (LoadBalancer; default true) */
	bool alloc_lb_node_ports;
};

/* Does Service @s take traffic from outside the node (NodePort/LoadBalancer/externalIPs)? */
bool k8s_svc_external(const struct k8s_service *s);
/* Do the ports of Service @s get node ports (NodePort, LoadBalancer unless turned off)? */
bool k8s_svc_node_ports(const struct k8s_service *s);
/* Is @s a DNS subdomain (a node name)? NULL, or why not. */
const char *k8s_dns_subdomain(const char *s);

/* A container port of a Pod. */
struct k8s_pod_port {
	char name[64];
	uint8_t proto;
	uint16_t port;
};

struct k8s_pod {
	struct k8s_label *labels;
	size_t nlabels;
	struct k8s_pod_port *ports;
	size_t nports;
	uint32_t ip; /* status.podIP, host order; 0 when none yet */
	bool ready; /* status.conditions[type=Ready].status == "True" */
	bool terminating; /* metadata.deletionTimestamp set */
	char node_name[K8S_NAME_LEN]; /* spec.nodeName; "" when not given */
};

/* One endpoint address with its EndpointSlice conditions (Endpoints: ready or not). */
struct k8s_ep_addr {
	uint32_t ip;
	bool ready;
	bool serving;
	bool terminating;
	char node_name[K8S_NAME_LEN]; /* Endpoints addresses[].nodeName, slice endpoints[].nodeName */
};

struct k8s_ep_port {
	char name[64];
	uint8_t proto;
	uint16_t port;
};

/* An Endpoints subset or an EndpointSlice: every address with every port. */
struct k8s_ep_set {
	struct k8s_ep_addr *addrs;
	size_t naddrs;
	struct k8s_ep_port *ports;
	size_t nports;
};

/* Endpoints (subsets) or EndpointSlice (one set) of the service @service. */
struct k8s_endpoints {
	char service[K8S_NAME_LEN]; /* Endpoints: its name; slice: kubernetes.io/service-name */
	struct k8s_ep_set *sets;
	size_t nsets;
};

struct k8s_obj {
	enum k8s_kind kind;
	char ns[K8S_NAME_LEN];
	char name[K8S_NAME_LEN];
	union {
		struct k8s_service svc;
		struct k8s_pod pod;
		struct k8s_endpoints ep; /* K8S_ENDPOINTS and K8S_ENDPOINTSLICE */
	};
};

void k8s_obj_free(struct k8s_obj *o);

/* One document of a manifest, and where it came from (for errors). */
struct k8s_doc {
	char *file; /* the path, or "-" for stdin */
	int index; /* 1-based document number within the file */
	int line; /* first line of the document */
	json_t *json; /* the document as JSON (YAML's core schema for scalars) */
};

struct k8s_docs {
	struct k8s_doc *doc;
	size_t n;
};

/*
 * Read every manifest in @paths[0..n): files (YAML, several documents
 * split by "---", or JSON; a v1 List's items are documents too),
 * directories (their *.yaml, *.yml and *.json files, sorted, not
 * recursive) and "-" (stdin). Empty documents are skipped. Returns 0, or
 * -errno with @err as "FILE:LINE:COL: message" for a syntax error.
 */
int k8s_read_files(char *const *paths, size_t n, struct k8s_docs *out, char err[ERR_LEN]);
void k8s_docs_free(struct k8s_docs *d);

/*
 * Decode and validate one document into @o. Returns 1 (decoded), 0 (a kind
 * svcbpf does not handle: @err says which, as a notice), or -EINVAL with
 * @err naming the field ("spec.ports[0].port: must be 1-65535"); the
 * caller prefixes file and document. Unknown fields are ignored.
 */
int k8s_decode(const json_t *doc, struct k8s_obj *o, char err[ERR_LEN]);

#endif /* SVCBPF_K8S_H */
