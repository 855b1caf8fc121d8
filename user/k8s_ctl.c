// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* k8s_ctl.c - the endpoints controller (see k8s_ctl.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s_ctl.h"
#include "svcbpf.h"

static int kind_of(const char *name)
{
	for (int k = 0; k < K8S_KIND_MAX; k++)
		if (!strcmp(name, k8s_kind_name((enum k8s_kind)k)))
			return k;
	return -1;
}

void k8s_owner(char *buf, size_t len, const struct k8s_obj *o)
{
	snprintf(buf, len, "%s/%s", o->ns, o->name);
}

int k8s_set_load(struct store *s, struct k8s_set *set, char err[ERR_LEN])
{
	struct obj_rec *r;
	size_t n;
	int ret = store_obj_list(s, &r, &n);

	memset(set, 0, sizeof(*set));
	if (ret) {
		snprintf(err, ERR_LEN, "cannot read the store's objects");
		return ret;
	}
	set->obj = calloc(n + 1, sizeof(*set->obj));
	set->created = calloc(n + 1, sizeof(*set->created));
	set->doc = calloc(n + 1, sizeof(*set->doc));
	if (!set->obj || !set->created || !set->doc) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char e[ERR_LEN];
		json_error_t je;
		json_t *doc;

		if (kind_of(r[i].kind) < 0)
			continue;
		doc = json_loads(r[i].doc, JSON_ALLOW_NUL, &je);
		/*
		 * Stored objects were valid when applied. One that no longer reads
		 * stops everything: skipping it would take its Service down.
		 */
		if (!doc || k8s_decode(doc, &set->obj[set->n], e) != 1) {
			k8s_obj_free(&set->obj[set->n]);
			memset(&set->obj[set->n], 0, sizeof(set->obj[set->n]));
			json_decref(doc);
			snprintf(err, ERR_LEN,
				 "stored %.64s %.253s/%.253s does not read back: %s (delete it)",
				 r[i].kind, r[i].ns, r[i].name, doc ? e : je.text);
			/* One line, whatever an edited store holds in its names or jansson quotes. */
			for (char *c = err; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			ret = -EINVAL;
			break;
		}
		set->doc[set->n] = doc;
		set->created[set->n] = r[i].created;
		set->n++;
	}
out:
	obj_recs_free(r, n);
	if (ret == -ENOMEM)
		snprintf(err, ERR_LEN, "out of memory");
	if (ret)
		k8s_set_free(set);
	return ret;
}

void k8s_set_free(struct k8s_set *set)
{
	for (size_t i = 0; set->obj && set->doc && i < set->n; i++) {
		k8s_obj_free(&set->obj[i]);
		json_decref(set->doc[i]);
	}
	free(set->obj);
	free(set->created);
	free(set->doc);
	memset(set, 0, sizeof(*set));
}

const struct k8s_obj *k8s_set_find(const struct k8s_set *set, enum k8s_kind kind, const char *ns,
				   const char *name)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct k8s_obj *o = &set->obj[i];

		if (o->kind == kind && !strcmp(o->ns, ns) && !strcmp(o->name, name))
			return o;
	}
	return NULL;
}

/* Does @pod carry every label of @svc's selector? */
static bool selects(const struct k8s_service *svc, const struct k8s_pod *pod)
{
	for (size_t i = 0; i < svc->nselector; i++) {
		bool found = false;

		for (size_t j = 0; j < pod->nlabels && !found; j++)
			found = !strcmp(svc->selector[i].key, pod->labels[j].key) &&
				!strcmp(svc->selector[i].value, pod->labels[j].value);
		if (!found)
			return false;
	}
	return true;
}

/* The pod port a Service port targets: a number as given, a name looked up (0: none). */
static uint16_t pod_target(const struct k8s_svc_port *sp, const struct k8s_pod *pod)
{
	if (!sp->target_name[0])
		return sp->target_port;
	for (size_t i = 0; i < pod->nports; i++)
		if (pod->ports[i].proto == sp->proto &&
		    !strcmp(pod->ports[i].name, sp->target_name))
			return pod->ports[i].port;
	return 0;
}

/* The endpoint port matching Service port @sp in @set: by name and protocol. */
static uint16_t set_target(const struct k8s_svc_port *sp, const struct k8s_ep_set *es)
{
	for (size_t i = 0; i < es->nports; i++)
		if (es->ports[i].proto == sp->proto && !strcmp(es->ports[i].name, sp->name))
			return es->ports[i].port;
	return 0;
}

/* The entry for @ip in @eps[0..*n), added when new. */
static struct k8s_ep *ep_get(struct k8s_ep **eps, size_t *n, size_t *cap, uint32_t ip,
			     size_t nports)
{
	struct k8s_ep *e;

	for (size_t i = 0; i < *n; i++)
		if ((*eps)[i].ip == ip)
			return &(*eps)[i];
	if (*n == *cap) {
		struct k8s_ep *ne = realloc(*eps, (*cap = *cap ? *cap * 2 : 8) * sizeof(*ne));

		if (!ne)
			return NULL;
		*eps = ne;
	}
	e = &(*eps)[*n];
	memset(e, 0, sizeof(*e));
	e->ip = ip;
	e->port = calloc(nports + 1, sizeof(*e->port));
	if (!e->port)
		return NULL;
	(*n)++;
	return e;
}

static int endpoints_of(const struct k8s_set *set, const struct k8s_obj *svc, struct k8s_ep **out,
			size_t *n);

int k8s_endpoints_of(const struct k8s_set *set, const struct k8s_obj *svc, struct k8s_ep **out,
		     size_t *n)
{
	int ret = endpoints_of(set, svc, out, n);

	if (ret) {
		k8s_eps_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return ret;
}

static int endpoints_of(const struct k8s_set *set, const struct k8s_obj *svc, struct k8s_ep **out,
			size_t *n)
{
	const struct k8s_service *sv = &svc->svc;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < set->n; i++) {
		const struct k8s_obj *o = &set->obj[i];

		if (strcmp(o->ns, svc->ns))
			continue;
		if (sv->has_selector && o->kind == K8S_POD) {
			struct k8s_ep *e;

			/* A pod joins once it has an address; readiness says how. */
			if (!o->pod.ip || !selects(sv, &o->pod))
				continue;
			e = ep_get(out, n, &cap, o->pod.ip, sv->nports);
			if (!e)
				return -ENOMEM;
			e->ready = o->pod.ready;
			e->terminating = o->pod.terminating;
			snprintf(e->pod, sizeof(e->pod), "%s", o->name);
			snprintf(e->node, sizeof(e->node), "%s", o->pod.node_name);
			for (size_t p = 0; p < sv->nports; p++)
				e->port[p] = pod_target(&sv->ports[p], &o->pod);
		} else if (!sv->has_selector &&
			   (o->kind == K8S_ENDPOINTS || o->kind == K8S_ENDPOINTSLICE) &&
			   !strcmp(o->ep.service, svc->name)) {
			for (size_t k = 0; k < o->ep.nsets; k++) {
				const struct k8s_ep_set *es = &o->ep.sets[k];

				for (size_t a = 0; a < es->naddrs; a++) {
					struct k8s_ep *e =
						ep_get(out, n, &cap, es->addrs[a].ip, sv->nports);

					if (!e)
						return -ENOMEM;
					e->ready = es->addrs[a].ready;
					e->terminating = es->addrs[a].terminating;
					snprintf(e->node, sizeof(e->node), "%s",
						 es->addrs[a].node_name);
					for (size_t p = 0; p < sv->nports; p++) {
						uint16_t t = set_target(&sv->ports[p], es);

						if (t)
							e->port[p] = t;
					}
				}
			}
		}
	}
	return 0;
}

void k8s_eps_free(struct k8s_ep *eps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(eps[i].port);
	free(eps);
}

static int cmp_xlate(const void *a, const void *b)
{
	const struct l4addr *x = &((const struct k8s_xlate *)a)->rec.addr;
	const struct l4addr *y = &((const struct k8s_xlate *)b)->rec.addr;

	return l4addr_cmp(x, y);
}

/*
 * Is endpoint @e on node @node? One with no node name at all counts as
 * local: a single-node setup (pods applied without spec.nodeName, Endpoints
 * without nodeName) has every endpoint on this node. @node NULL: all are.
 */
static bool ep_local(const struct k8s_ep *e, const char *node)
{
	return !node || !e->node[0] || !strcmp(e->node, node);
}

/* A new zeroed translation at the end of *@out; NULL when out of memory. */
static struct k8s_xlate *xlate_new(struct k8s_xlate **out, size_t *n, size_t *cap)
{
	struct k8s_xlate *x;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct k8s_xlate *nx = realloc(*out, ncap * sizeof(*nx));

		if (!nx)
			return NULL;
		*out = nx;
		*cap = ncap;
	}
	x = &(*out)[(*n)++];
	memset(x, 0, sizeof(*x));
	return x;
}

/*
 * Fill @x's backends: the endpoints of @eps[0..neps) serving port @p, with
 * @node set only those on that node (externalTrafficPolicy Local).
 */
static int xlate_backends(struct k8s_xlate *x, const struct k8s_service *sv, size_t p,
			  const struct k8s_ep *eps, size_t neps, const char *node, bool local)
{
	bool any_ready = false;

	x->rec.be = calloc(neps + 1, sizeof(*x->rec.be));
	if (!x->rec.be)
		return -ENOMEM;
	/*
	 * Ready endpoints take new flows (not-ready ones too with
	 * publishNotReadyAddresses). Not-ready and terminating ones keep the
	 * flows they have and take no new ones, as kube-proxy keeps established
	 * connections. When none is ready, serving terminating ones take new
	 * flows (kube-proxy's fallback, per set: the local set with Local).
	 */
	for (size_t e = 0; e < neps; e++)
		any_ready |= eps[e].port[p] && !eps[e].terminating &&
			     (eps[e].ready || sv->publish_not_ready) &&
			     (!local || ep_local(&eps[e], node));
	for (size_t e = 0; e < neps; e++) {
		bool takes = !eps[e].terminating ? eps[e].ready || sv->publish_not_ready :
						   !any_ready && eps[e].ready;
		struct be_rec *b;

		if (!eps[e].port[p] || (local && !ep_local(&eps[e], node)))
			continue;
		b = &x->rec.be[x->rec.nbe++];
		b->addr = (struct l4addr){ eps[e].ip, eps[e].port[p], sv->ports[p].proto };
		b->weight = 1;
		b->state = takes ? SVCBPF_BE_ACTIVE : SVCBPF_BE_DRAINING;
	}
	return 0;
}

static int cmp_cidr(const void *a, const void *b)
{
	const struct cidr4 *x = a, *y = b;

	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	return (int)x->len - (int)y->len;
}

/* One frontend of Service @o's port @p at @addr; @ranges: its source ranges (copied). */
static int xlate_add(struct k8s_xlate **out, size_t *n, size_t *cap, const struct k8s_obj *o,
		     size_t p, struct l4addr addr, uint16_t flags, bool ranges,
		     const struct k8s_ep *eps, size_t neps, const char *node)
{
	const struct k8s_service *sv = &o->svc;
	struct k8s_xlate *x;

	/* One Service asking twice for one address (an external IP that is its LB IP). */
	for (size_t i = 0; i < *n; i++) {
		char owner[2 * K8S_NAME_LEN];

		k8s_owner(owner, sizeof(owner), o);
		if (!l4addr_cmp(&(*out)[i].rec.addr, &addr) && !strcmp((*out)[i].owner, owner))
			return 0;
	}
	x = xlate_new(out, n, cap);
	if (!x)
		return -ENOMEM;
	k8s_owner(x->owner, sizeof(x->owner), o);
	x->rec.addr = addr;
	x->rec.affinity = sv->affinity_timeout;
	x->rec.flags = flags;
	if (ranges && sv->nsrc_ranges) {
		size_t k = 0;

		x->rec.ranges = calloc(sv->nsrc_ranges, sizeof(*x->rec.ranges));
		if (!x->rec.ranges)
			return -ENOMEM;
		memcpy(x->rec.ranges, sv->src_ranges, sv->nsrc_ranges * sizeof(*x->rec.ranges));
		qsort(x->rec.ranges, sv->nsrc_ranges, sizeof(*x->rec.ranges), cmp_cidr);
		for (size_t i = 0; i < sv->nsrc_ranges; i++)
			if (!k || cmp_cidr(&x->rec.ranges[k - 1], &x->rec.ranges[i]))
				x->rec.ranges[k++] = x->rec.ranges[i];
		x->rec.nranges = k;
	}
	return xlate_backends(x, sv, p, eps, neps, node, flags & SVCBPF_SVC_LOCAL);
}

/* Every frontend of Service @o (see k8s_translations_on). */
static int service_xlates(const struct k8s_set *set, const struct k8s_obj *o, const char *node,
			  struct k8s_xlate **out, size_t *n, size_t *cap)
{
	const struct k8s_service *sv = &o->svc;
	uint16_t ext = SVCBPF_SVC_EXTERNAL | (sv->etp_local ? SVCBPF_SVC_LOCAL : SVCBPF_SVC_MASQ);
	bool lb = !strcmp(sv->type, "LoadBalancer");
	struct k8s_ep *eps;
	size_t neps;
	int ret = 0;

	if (k8s_endpoints_of(set, o, &eps, &neps))
		return -ENOMEM;
	for (size_t p = 0; !ret && p < sv->nports; p++) {
		uint16_t port = sv->ports[p].port;
		uint8_t proto = sv->ports[p].proto;

		ret = xlate_add(out, n, cap, o, p, (struct l4addr){ sv->cluster_ip, port, proto },
				0, false, eps, neps, node);
		/* A node port given with allocateLoadBalancerNodePorts false is used too. */
		if (!ret && (lb || !strcmp(sv->type, "NodePort")) && sv->ports[p].node_port)
			ret = xlate_add(out, n, cap, o, p,
					(struct l4addr){ 0, sv->ports[p].node_port, proto }, ext,
					false, eps, neps, node);
		for (size_t i = 0; !ret && i < sv->nexternal_ips; i++)
			ret = xlate_add(out, n, cap, o, p,
					(struct l4addr){ sv->external_ips[i], port, proto }, ext,
					false, eps, neps, node);
		for (size_t i = 0; !ret && lb && i < sv->nlb_ips; i++)
			ret = xlate_add(out, n, cap, o, p,
					(struct l4addr){ sv->lb_ips[i], port, proto }, ext, true,
					eps, neps, node);
	}
	k8s_eps_free(eps, neps);
	return ret;
}

int k8s_translations_on(const struct k8s_set *set, const char *node, struct k8s_xlate **out,
			size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < set->n; i++) {
		const struct k8s_obj *o = &set->obj[i];
		const struct k8s_service *sv = &o->svc;

		/* Headless and ExternalName Services have no ClusterIP to translate. */
		if (o->kind != K8S_SERVICE || sv->headless || !sv->cluster_ip ||
		    !strcmp(sv->type, "ExternalName"))
			continue;
		if (service_xlates(set, o, node, out, n, &cap)) {
			k8s_xlates_free(*out, *n);
			*out = NULL;
			*n = 0;
			return -ENOMEM;
		}
	}
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_xlate);
	return 0;
}

int k8s_translations(const struct k8s_set *set, struct k8s_xlate **out, size_t *n)
{
	return k8s_translations_on(set, NULL, out, n);
}

int k8s_health_checks(const struct k8s_set *set, const char *node, struct k8s_health **out,
		      size_t *n)
{
	*out = calloc(set->n + 1, sizeof(**out));
	*n = 0;
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		const struct k8s_obj *o = &set->obj[i];
		struct k8s_health *h = &(*out)[*n];
		struct k8s_ep *eps;
		size_t neps;

		if (o->kind != K8S_SERVICE || strcmp(o->svc.type, "LoadBalancer") ||
		    !o->svc.etp_local || !o->svc.health_node_port)
			continue;
		if (k8s_endpoints_of(set, o, &eps, &neps)) {
			free(*out);
			*out = NULL;
			*n = 0;
			return -ENOMEM;
		}
		snprintf(h->ns, sizeof(h->ns), "%s", o->ns);
		snprintf(h->name, sizeof(h->name), "%s", o->name);
		h->port = o->svc.health_node_port;
		h->local_endpoints = 0;
		for (size_t e = 0; e < neps; e++)
			h->local_endpoints += eps[e].ready && !eps[e].terminating &&
					      ep_local(&eps[e], node);
		k8s_eps_free(eps, neps);
		(*n)++;
	}
	return 0;
}

int k8s_node_name(struct store *s, char *buf, size_t len)
{
	int rc = store_setting_get(s, "node-name", buf, len);

	if (rc < 0)
		return rc;
	if (rc && buf[0])
		return 0;
	if (gethostname(buf, len))
		return -errno;
	buf[len - 1] = '\0';
	/* As the kubelet names its node: the host name in lower case. */
	for (char *c = buf; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return 0;
}

void k8s_xlates_free(struct k8s_xlate *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(x[i].rec.be);
		free(x[i].rec.ranges);
	}
	free(x);
}

static json_t *ip_json(uint32_t ip)
{
	char buf[ADDR_STR_LEN];

	return json_string(fmt_ip(buf, ip));
}

static const char *proto_upper(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "UDP" : "TCP";
}

/* The Service's ports that endpoint @e serves, as Kubernetes lists them (JSON array). */
static json_t *ep_ports(const struct k8s_service *sv, const struct k8s_ep *e)
{
	json_t *ports = json_array();

	for (size_t p = 0; p < sv->nports; p++) {
		json_t *port;

		if (!e->port[p])
			continue;
		port = json_object();
		if (sv->ports[p].name[0])
			json_object_set_new(port, "name", json_string(sv->ports[p].name));
		json_object_set_new(port, "port", json_integer(e->port[p]));
		json_object_set_new(port, "protocol", json_string(proto_upper(sv->ports[p].proto)));
		json_array_append_new(ports, port);
	}
	return ports;
}

static json_t *target_ref(const struct k8s_obj *svc, const struct k8s_ep *e)
{
	if (!e->pod[0])
		return NULL;
	return json_pack("{s:s, s:s, s:s}", "kind", "Pod", "name", e->pod, "namespace", svc->ns);
}

static json_t *metadata(const char *name, const char *ns)
{
	return json_pack("{s:s, s:s}", "name", name, "namespace", ns);
}

json_t *k8s_endpoints_json(const struct k8s_set *set, const struct k8s_obj *svc)
{
	json_t *obj = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "Endpoints",
				"metadata", metadata(svc->name, svc->ns));
	json_t *subsets = json_array();
	struct k8s_ep *eps;
	size_t neps;

	if (!obj || k8s_endpoints_of(set, svc, &eps, &neps)) {
		json_decref(obj);
		json_decref(subsets);
		return NULL;
	}
	/* One subset per distinct port list; ready and not-ready addresses in it. */
	for (size_t i = 0; i < neps; i++) {
		json_t *ports = ep_ports(&svc->svc, &eps[i]), *sub = NULL, *addr;
		const char *list;
		size_t k;

		/* Endpoints (v1) leaves terminating pods and portless endpoints out. */
		if (eps[i].terminating || !json_array_size(ports)) {
			json_decref(ports);
			continue;
		}
		json_array_foreach(subsets, k, sub)
			if (json_equal(json_object_get(sub, "ports"), ports))
				break;
		if (k == json_array_size(subsets)) {
			sub = json_object();
			json_object_set_new(sub, "ports", json_incref(ports));
			json_array_append_new(subsets, sub);
		}
		json_decref(ports);
		list = eps[i].ready || svc->svc.publish_not_ready ? "addresses" :
								    "notReadyAddresses";
		if (!json_object_get(sub, list))
			json_object_set_new(sub, list, json_array());
		addr = json_pack("{s:o}", "ip", ip_json(eps[i].ip));
		if (eps[i].pod[0])
			json_object_set_new(addr, "targetRef", target_ref(svc, &eps[i]));
		json_array_append_new(json_object_get(sub, list), addr);
	}
	k8s_eps_free(eps, neps);
	/* Kubernetes leaves subsets out when there are none. */
	if (json_array_size(subsets)) {
		size_t k;
		json_t *sub;

		/* Its own order: addresses, notReadyAddresses, ports. */
		json_array_foreach(subsets, k, sub) {
			json_t *ports = json_incref(json_object_get(sub, "ports"));

			json_object_del(sub, "ports");
			json_object_set_new(sub, "ports", ports);
		}
		json_object_set_new(obj, "subsets", subsets);
	} else {
		json_decref(subsets);
	}
	return obj;
}

json_t *k8s_slices_json(const struct k8s_set *set, const struct k8s_obj *svc)
{
	json_t *slices = json_array();
	struct k8s_ep *eps = NULL;
	size_t neps = 0;

	if (!slices)
		return NULL;
	if (k8s_endpoints_of(set, svc, &eps, &neps)) {
		json_decref(slices);
		return NULL;
	}
	/* One slice per distinct port list, named after the Service like Kubernetes' own. */
	for (size_t i = 0; i <= neps; i++) {
		json_t *ports = i < neps ? ep_ports(&svc->svc, &eps[i]) : json_array(), *sl = NULL;
		json_t *ep;
		size_t k;

		/* A Service without endpoints still has one (empty) slice. */
		if (i == neps && json_array_size(slices)) {
			json_decref(ports);
			break;
		}
		json_array_foreach(slices, k, sl)
			if (json_equal(json_object_get(sl, "ports"), ports))
				break;
		if (k == json_array_size(slices)) {
			char name[K8S_NAME_LEN + 16];

			snprintf(name, sizeof(name), "%.240s-%zx", svc->name, k);
			sl = json_pack("{s:s, s:s, s:o, s:s, s:[], s:O}", "apiVersion",
				       "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata",
				       metadata(name, svc->ns), "addressType", "IPv4", "endpoints",
				       "ports", ports);
			json_object_set_new(
				json_object_get(sl, "metadata"), "labels",
				json_pack("{s:s, s:s}", "kubernetes.io/service-name", svc->name,
					  "endpointslice.kubernetes.io/managed-by", "svcbpf"));
			json_array_append_new(slices, sl);
		}
		json_decref(ports);
		if (i == neps)
			break;
		ep = json_pack("{s:[o], s:{s:b, s:b, s:b}}", "addresses", ip_json(eps[i].ip),
			       "conditions", "ready", eps[i].ready && !eps[i].terminating,
			       "serving", eps[i].ready, "terminating", eps[i].terminating);
		if (eps[i].pod[0])
			json_object_set_new(ep, "targetRef", target_ref(svc, &eps[i]));
		json_array_append_new(json_object_get(sl, "endpoints"), ep);
	}
	k8s_eps_free(eps, neps);
	return slices;
}
