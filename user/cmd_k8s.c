// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cmd_k8s.c - `svcbpf apply|delete|get`: Kubernetes objects in, the way
 * kubectl takes them, and the endpoints controller run on every change.
 *
 * apply: read and decode every document, check them all (names, ClusterIPs),
 * then in one store transaction write the objects, run the controller over
 * everything stored and turn the difference into service changes; the maps
 * follow. A file applies whole or not at all.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libfyaml.h>

#include "cli.h"
#include "k8s_ctl.h"
#include "output.h"
#include "svcbpf.h"

/* An object as read: where it came from and its document. */
struct input {
	struct k8s_obj obj;
	const struct k8s_doc *doc;
	char where[600]; /* "FILE: document N (Kind ns/name)" */
	const char *result; /* created, configured, unchanged, deleted */
};

struct k8s_job {
	struct input *in;
	size_t n;
	bool delete;
	uint32_t cidr_base, cidr_mask;
};

static int usage_k8s(const char *verb)
{
	fprintf(stderr,
		"Usage: svcbpf apply -f FILE|DIR|- [-f ...] [--service-cidr CIDR]\n"
		"       svcbpf delete -f FILE|DIR|- [-f ...]\n"
		"       svcbpf delete service|pod|endpoints|endpointslice NAME [-n NS]\n"
		"       svcbpf get services|endpoints|endpointslices|pods [NAME] [-n NS|-A]\n"
		"                  [-o yaml|json|wide]\n"
		"\n"
		"Kubernetes manifests (YAML or JSON) of Services, Pods, Endpoints and\n"
		"EndpointSlices; other kinds are skipped with a notice. A Service's ClusterIP\n"
		"is allocated from the service CIDR (--service-cidr or SVCBPF_SERVICE_CIDR,\n"
		"default %s) when it has none. The endpoints controller makes each\n"
		"Service's endpoints from the Ready pods its selector matches (or from the\n"
		"Endpoints/EndpointSlices given for a Service without a selector), and every\n"
		"port of every Service with a ClusterIP becomes a translation. NodePort and\n"
		"LoadBalancer Services get node ports (%d-%d) when they name none, kept\n"
		"on a later apply; their node ports, externalIPs and LoadBalancer ingress IPs\n"
		"translate too (externalTrafficPolicy Local: to this node's endpoints; the\n"
		"node's name is `load --node-name` or the host name).\n",
		K8S_SERVICE_CIDR_DEFAULT, SVCBPF_NODEPORT_MIN, SVCBPF_NODEPORT_MAX);
	(void)verb;
	return EXIT_OK;
}

static int parse_cidr(const char *s, uint32_t *base, uint32_t *mask)
{
	char buf[32], err[ERR_LEN];
	const char *slash = strchr(s, '/');
	struct l4addr a;
	uint32_t len;

	if (!slash || (size_t)(slash - s) >= 16)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s:1", (int)(slash - s), s);
	if (parse_l4addr(buf, false, &a, err) || parse_u32(slash + 1, "prefix", 8, 30, &len, err))
		return -EINVAL;
	*mask = len ? ~0u << (32 - len) : 0;
	if (a.ip & ~*mask)
		return -EINVAL;
	*base = a.ip;
	return 0;
}

/*
 * A manifest file holds at most 3 MiB: kube-apiserver refuses a request body
 * past that ("Request entity too large"), so no file kubectl can apply in one
 * request is refused, and a runaway input is turned away before it is parsed
 * (50 MB of YAML would take seconds and hundreds of MB). Checked for files,
 * the files of a directory, and stdin redirected from a file, by their size;
 * the reader (k8s_yaml.c) refuses binary data and stops a pipe at the limit.
 */
#define K8S_MAX_MANIFEST (3u << 20)

static int check_manifest_fd(int fd, const char *name)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return 0; /* a pipe (k8s_yaml.c stops reading past the limit), or an error */
	if (st.st_size > K8S_MAX_MANIFEST) {
		p_err("%s: %lld bytes, more than the %u MiB a manifest may have (kube-apiserver's "
		      "request limit)",
		      name, (long long)st.st_size, K8S_MAX_MANIFEST >> 20);
		return -EFBIG;
	}
	return 0;
}

static int check_manifest_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), ret;

	if (fd < 0)
		return 0; /* the reader says why */
	ret = check_manifest_fd(fd, path);
	close(fd);
	return ret;
}

/* What apply -f would read, checked before any of it is parsed. */
static int check_manifests(char **files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		struct dirent *de;
		DIR *d;
		int ret = 0;

		if (!strcmp(files[i], "-")) {
			ret = check_manifest_fd(STDIN_FILENO, "-");
		} else if (stat(files[i], &st) || !S_ISDIR(st.st_mode)) {
			ret = check_manifest_file(files[i]);
		} else if ((d = opendir(files[i]))) {
			/* The files the reader takes: *.yaml, *.yml, *.json. */
			while (!ret && (de = readdir(d))) {
				const char *dot = strrchr(de->d_name, '.');
				char path[4096];

				if (!dot || dot == de->d_name ||
				    (strcmp(dot, ".yaml") && strcmp(dot, ".yml") &&
				     strcmp(dot, ".json")))
					continue;
				snprintf(path, sizeof(path), "%s%s%s", files[i],
					 files[i][strlen(files[i]) - 1] == '/' ? "" : "/",
					 de->d_name);
				if (!stat(path, &st) && S_ISREG(st.st_mode))
					ret = check_manifest_file(path);
			}
			closedir(d);
		}
		if (ret)
			return ret;
	}
	return 0;
}

static void inputs_free(struct input *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		k8s_obj_free(&in[i].obj);
	free(in);
}

/*
 * Read and decode @files: every handled object into *@out, with its place
 * for errors. Reports the first error (file, document, field) and returns
 * -EINVAL; kinds svcbpf does not handle get a notice.
 */
static int read_inputs(char **files, size_t nfiles, const char *verb, struct k8s_docs *docs,
		       struct input **out, size_t *n)
{
	char err[ERR_LEN], first_skip[ERR_LEN + 600] = "";
	struct input *in;
	bool *skipped;
	int ret = check_manifests(files, nfiles);

	*out = NULL;
	*n = 0;
	if (ret)
		return ret;
	ret = k8s_read_files(files, nfiles, docs, err);
	if (ret) {
		p_err("%s", err);
		return ret;
	}
	in = calloc(docs->n + 1, sizeof(*in));
	skipped = calloc(docs->n + 1, sizeof(*skipped));
	if (!in || !skipped) {
		free(in);
		free(skipped);
		return -ENOMEM;
	}
	for (size_t i = 0; i < docs->n; i++) {
		const struct k8s_doc *d = &docs->doc[i];
		struct input *x = &in[*n];
		int r = k8s_decode(d->json, &x->obj, err);

		if (r == 0) {
			skipped[i] = true;
			if (!first_skip[0])
				snprintf(first_skip, sizeof(first_skip), "%s: document %d: %s",
					 d->file, d->index,
					 strncmp(err, "skipping ", 9) ? err : err + 9);
			continue;
		}
		if (r < 0) {
			free(skipped);
			p_err("%s: document %d (line %d): %s", d->file, d->index, d->line, err);
			inputs_free(in, *n);
			return -EINVAL;
		}
		x->doc = d;
		snprintf(x->where, sizeof(x->where), "%s: document %d (%s %s/%s)", d->file,
			 d->index, k8s_kind_name(x->obj.kind), x->obj.ns, x->obj.name);
		for (size_t j = 0; j < *n; j++) {
			if (in[j].obj.kind == x->obj.kind && !strcmp(in[j].obj.ns, x->obj.ns) &&
			    !strcmp(in[j].obj.name, x->obj.name)) {
				p_err("%s: given twice (first in %s)", x->where, in[j].where);
				k8s_obj_free(&x->obj);
				inputs_free(in, *n);
				free(skipped);
				return -EINVAL;
			}
		}
		(*n)++;
	}
	/*
	 * Nothing svcbpf handles: an error, as kubectl's "no objects passed to
	 * apply" (an empty file, only comments) - not a success that did nothing.
	 */
	if (!*n) {
		if (first_skip[0])
			p_err("no objects to %s: %s", verb, first_skip);
		else
			p_err("no objects passed to %s", verb);
		free(skipped);
		free(in);
		return -EINVAL;
	}
	/* Other kinds are skipped with a notice once the input is known to be good. */
	for (size_t i = 0; i < docs->n; i++) {
		const struct k8s_doc *d = &docs->doc[i];
		struct k8s_obj o;

		if (skipped[i] && k8s_decode(d->json, &o, err) == 0)
			p_info("%s: document %d: %s", d->file, d->index, err);
	}
	free(skipped);
	*out = in;
	return 0;
}

/* The stored Service of @o's namespace and name, if any. */
static const struct k8s_obj *stored(const struct k8s_set *set, const struct k8s_obj *o)
{
	return k8s_set_find(set, o->kind, o->ns, o->name);
}

/* Is @ip taken by a Service other than @self (stored, or earlier in this apply)? */
static const char *ip_taken(const struct k8s_set *set, const struct input *in, size_t n,
			    const struct k8s_obj *self, uint32_t ip)
{
	static char who[600];

	for (size_t i = 0; i < set->n; i++) {
		const struct k8s_obj *o = &set->obj[i];

		if (o->kind == K8S_SERVICE && o->svc.cluster_ip == ip &&
		    (strcmp(o->ns, self->ns) || strcmp(o->name, self->name))) {
			snprintf(who, sizeof(who), "Service %s/%s", o->ns, o->name);
			return who;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s_obj *o = &in[i].obj;

		if (o != self && o->kind == K8S_SERVICE && o->svc.cluster_ip == ip) {
			snprintf(who, sizeof(who), "Service %s/%s", o->ns, o->name);
			return who;
		}
	}
	return NULL;
}

/* A VIP the CLI uses (`svc add`) is not the allocator's to give. */
static int cli_vip(struct store *s, uint32_t ip)
{
	char owner[512];
	int rc = store_vip_used(s, ip, owner, sizeof(owner));

	return rc < 0 ? rc : rc && !owner[0];
}

/*
 * Give every Service of the job a ClusterIP: the one it names (inside the
 * CIDR, free), the one it was given before, or the lowest free address.
 */
static int allocate_ips(struct store *s, const struct k8s_set *set, struct k8s_job *job)
{
	for (size_t i = 0; i < job->n; i++) {
		struct k8s_obj *o = &job->in[i].obj;
		const struct k8s_obj *old;
		const char *who;
		char buf[ADDR_STR_LEN];
		uint32_t ip;
		int rc;

		if (o->kind != K8S_SERVICE || o->svc.headless ||
		    !strcmp(o->svc.type, "ExternalName"))
			continue;
		old = stored(set, o);
		ip = o->svc.cluster_ip;
		if (ip) {
			if ((ip & job->cidr_mask) != job->cidr_base || ip == job->cidr_base ||
			    ip == (job->cidr_base | ~job->cidr_mask)) {
				p_err("%s: spec.clusterIP: %s is not in the service CIDR",
				      job->in[i].where, fmt_ip(buf, ip));
				return -EINVAL;
			}
			if (old && old->svc.cluster_ip && old->svc.cluster_ip != ip) {
				char buf2[ADDR_STR_LEN];

				p_err("%s: spec.clusterIP: cannot change %s to %s (immutable; delete "
				      "the Service first)",
				      job->in[i].where, fmt_ip(buf, old->svc.cluster_ip),
				      fmt_ip(buf2, ip));
				return -EINVAL;
			}
		} else if (old && old->svc.cluster_ip) {
			ip = old->svc.cluster_ip;
		} else {
			/* The first 16 addresses stay for fixed ones (10.96.0.1, .10), if there is room. */
			uint32_t size = ~job->cidr_mask;

			for (uint32_t k = size > 64 ? 16 : 1; k < size && !ip; k++) {
				uint32_t cand = job->cidr_base + k;

				rc = cli_vip(s, cand);
				if (rc < 0)
					return rc;
				if (!rc && !ip_taken(set, job->in, job->n, o, cand))
					ip = cand;
			}
			if (!ip) {
				p_err("%s: no free ClusterIP left in the service CIDR",
				      job->in[i].where);
				return -ENOSPC;
			}
		}
		who = ip_taken(set, job->in, job->n, o, ip);
		rc = who ? 1 : cli_vip(s, ip);
		if (rc < 0)
			return rc;
		if (rc) {
			p_err("%s: spec.clusterIP: %s is already allocated to %s", job->in[i].where,
			      fmt_ip(buf, ip), who ? who : "a service added with 'svcbpf svc add'");
			return -EEXIST;
		}
		o->svc.cluster_ip = ip;
	}
	return 0;
}

/* ---------------------------------------------------------- node ports */

/* Is NodePort @port used by a `svc add --nodeport` frontend (either protocol)? */
static int cli_nodeport(struct store *s, uint16_t port)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		struct l4addr a = { 0, port, protos[i] };
		char owner[512];
		size_t nbe;
		int rc = store_svc_exists(s, &a, &nbe);

		if (rc == 1)
			rc = store_svc_owner(s, &a, owner, sizeof(owner)) ? 0 : 1;
		if (rc)
			return rc < 0 ? rc : 1;
	}
	return 0;
}

/* Does Service @o hold node port @port (a port's nodePort or its healthCheckNodePort)? */
static bool holds_port(const struct k8s_obj *o, uint16_t port)
{
	if (o->kind != K8S_SERVICE || !port)
		return false;
	for (size_t p = 0; p < o->svc.nports; p++)
		if (o->svc.ports[p].node_port == port)
			return true;
	return o->svc.health_node_port == port;
}

#define NODEPORTS (SVCBPF_NODEPORT_MAX - SVCBPF_NODEPORT_MIN + 1)

/* How many Services hold each node port: the stored ones this job does not replace, and the job's. */
struct nodeport_use {
	uint16_t count[NODEPORTS];
};

static void use_add(struct nodeport_use *u, const struct k8s_obj *o)
{
	const struct k8s_service *sv = &o->svc;

	if (o->kind != K8S_SERVICE)
		return;
	/* Each port once per Service (one nodePort may serve TCP and UDP). */
	for (size_t p = 0; p <= sv->nports; p++) {
		uint16_t port = p < sv->nports ? sv->ports[p].node_port : sv->health_node_port;
		bool seen = false;

		for (size_t q = 0; q < p && !seen; q++)
			seen = sv->ports[q].node_port == port;
		if (!seen && port >= SVCBPF_NODEPORT_MIN && port <= SVCBPF_NODEPORT_MAX)
			u->count[port - SVCBPF_NODEPORT_MIN]++;
	}
}

/*
 * Is node port @port taken for Service @self: by another Service (stored or
 * in the job), or by a `svc add --nodeport` frontend? 1, 0, or -errno.
 */
static int nodeport_taken(struct store *s, const struct nodeport_use *u, const struct k8s_obj *self,
			  uint16_t port)
{
	if (port >= SVCBPF_NODEPORT_MIN && port <= SVCBPF_NODEPORT_MAX &&
	    u->count[port - SVCBPF_NODEPORT_MIN] > (holds_port(self, port) ? 1 : 0))
		return 1;
	return cli_nodeport(s, port);
}

/* Is @port @sv's healthCheckNodePort or one of its ports' node ports, other than port @skip's? */
static bool own_port(const struct k8s_service *sv, size_t skip, uint16_t port)
{
	for (size_t p = 0; p < sv->nports; p++)
		if (p != skip && sv->ports[p].node_port == port)
			return true;
	return sv->health_node_port == port;
}

/*
 * A free node port for port @skip of Service @self (SIZE_MAX: its health
 * check): from a random start through the range, as Kubernetes' allocator.
 * 0 with @port set (and counted in @u), -ENOSPC, or -errno.
 */
static int nodeport_pick(struct store *s, struct nodeport_use *u, const struct k8s_obj *self,
			 size_t skip, uint16_t *port)
{
	uint32_t start;

	if (getrandom(&start, sizeof(start), 0) != sizeof(start))
		start = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	for (uint32_t k = 0; k < NODEPORTS; k++) {
		uint16_t cand = (uint16_t)(SVCBPF_NODEPORT_MIN + (start + k) % NODEPORTS);
		int rc;

		if (own_port(&self->svc, skip, cand))
			continue;
		rc = nodeport_taken(s, u, self, cand);
		if (rc < 0)
			return rc;
		if (!rc) {
			*port = cand;
			u->count[cand - SVCBPF_NODEPORT_MIN]++;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * Give the node ports of Service @x: those it names (free, or refused as
 * Kubernetes refuses them), those it had before (Kubernetes keeps them on
 * an update that leaves them out: by port name), or new ones; and a
 * healthCheckNodePort for LoadBalancer + Local.
 */
static int allocate_service_ports(struct store *s, const struct k8s_set *set,
				  struct nodeport_use *u, struct input *x)
{
	struct k8s_service *sv = &x->obj.svc;
	const struct k8s_obj *old = stored(set, &x->obj);
	bool node_ports = k8s_svc_node_ports(sv);
	bool old_np = old && k8s_svc_node_ports(&old->svc);
	bool health = !strcmp(sv->type, "LoadBalancer") && sv->etp_local;
	int rc;

	for (size_t p = 0; p < sv->nports; p++) {
		uint16_t np = sv->ports[p].node_port;

		if (!np)
			continue;
		rc = nodeport_taken(s, u, &x->obj, np);
		if (rc < 0)
			return rc;
		if (rc) {
			p_err("%s: spec.ports[%zu].nodePort: Invalid value: %u: provided port is "
			      "already allocated",
			      x->where, p, np);
			return -EEXIST;
		}
	}
	if (sv->health_node_port) {
		rc = nodeport_taken(s, u, &x->obj, sv->health_node_port);
		if (rc < 0)
			return rc;
		if (rc) {
			p_err("%s: spec.healthCheckNodePort: Invalid value: %u: provided port is "
			      "already allocated",
			      x->where, sv->health_node_port);
			return -EEXIST;
		}
	}
	/* Kept from the stored version: by name, unless another port now names it. */
	for (size_t p = 0; node_ports && old_np && p < sv->nports; p++) {
		for (size_t q = 0; !sv->ports[p].node_port && q < old->svc.nports; q++) {
			uint16_t was = old->svc.ports[q].node_port;

			if (was && !strcmp(old->svc.ports[q].name, sv->ports[p].name) &&
			    !own_port(sv, p, was)) {
				sv->ports[p].node_port = was;
				u->count[was - SVCBPF_NODEPORT_MIN]++;
			}
		}
	}
	if (health && !sv->health_node_port && old && old->svc.etp_local &&
	    !strcmp(old->svc.type, "LoadBalancer") && old->svc.health_node_port &&
	    !own_port(sv, SIZE_MAX, old->svc.health_node_port)) {
		sv->health_node_port = old->svc.health_node_port;
		u->count[sv->health_node_port - SVCBPF_NODEPORT_MIN]++;
	}
	for (size_t p = 0; node_ports && p < sv->nports; p++) {
		if (sv->ports[p].node_port)
			continue;
		rc = nodeport_pick(s, u, &x->obj, p, &sv->ports[p].node_port);
		if (rc)
			goto full;
	}
	if (health && !sv->health_node_port) {
		rc = nodeport_pick(s, u, &x->obj, SIZE_MAX, &sv->health_node_port);
		if (rc)
			goto full;
	}
	return 0;
full:
	if (rc == -ENOSPC)
		p_err("%s: no free node port left in %d-%d", x->where, SVCBPF_NODEPORT_MIN,
		      SVCBPF_NODEPORT_MAX);
	return rc;
}

static int allocate_ports(struct store *s, const struct k8s_set *set, struct k8s_job *job)
{
	struct nodeport_use *u = calloc(1, sizeof(*u));
	bool *replaced = calloc(set->n + 1, sizeof(*replaced));
	int rc = 0;

	if (!u || !replaced) {
		free(u);
		free(replaced);
		return -ENOMEM;
	}
	/* A stored Service the job applies again holds only what its new version holds. */
	for (size_t i = 0; i < job->n; i++) {
		const struct k8s_obj *old = stored(set, &job->in[i].obj);

		if (old)
			replaced[old - set->obj] = true;
		use_add(u, &job->in[i].obj);
	}
	for (size_t i = 0; i < set->n; i++)
		if (!replaced[i])
			use_add(u, &set->obj[i]);
	for (size_t i = 0; !rc && i < job->n; i++)
		if (job->in[i].obj.kind == K8S_SERVICE)
			rc = allocate_service_ports(s, set, u, &job->in[i]);
	free(replaced);
	free(u);
	return rc;
}

/* The document to store for @x: as given, with its namespace and ClusterIP filled in. */
static char *doc_to_store(const struct input *x)
{
	json_t *doc = json_deep_copy(x->doc->json), *meta, *spec;
	char buf[ADDR_STR_LEN], *text;

	if (!doc)
		return NULL;
	meta = json_object_get(doc, "metadata");
	if (json_is_object(meta))
		json_object_set_new(meta, "namespace", json_string(x->obj.ns));
	spec = json_object_get(doc, "spec");
	if (x->obj.kind == K8S_SERVICE && json_is_object(spec) && x->obj.svc.cluster_ip) {
		fmt_ip(buf, x->obj.svc.cluster_ip);
		json_object_set_new(spec, "clusterIP", json_string(buf));
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", buf));
	}
	/* Allocated node ports, where kubectl shows them. */
	if (x->obj.kind == K8S_SERVICE && json_is_object(spec)) {
		json_t *ports = json_object_get(spec, "ports");

		for (size_t p = 0; p < x->obj.svc.nports && p < json_array_size(ports); p++)
			if (x->obj.svc.ports[p].node_port)
				json_object_set_new(json_array_get(ports, p), "nodePort",
						    json_integer(x->obj.svc.ports[p].node_port));
		if (x->obj.svc.health_node_port)
			json_object_set_new(spec, "healthCheckNodePort",
					    json_integer(x->obj.svc.health_node_port));
	}
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return text;
}

/* Same settings (affinity, flags, source ranges in order) and the same backend set? */
static bool be_sets_equal(const struct svc_rec *a, const struct svc_rec *b)
{
	if (a->nbe != b->nbe || a->affinity != b->affinity || a->flags != b->flags ||
	    a->nranges != b->nranges)
		return false;
	for (size_t i = 0; i < a->nranges; i++)
		if (a->ranges[i].ip != b->ranges[i].ip || a->ranges[i].len != b->ranges[i].len)
			return false;
	for (size_t i = 0; i < a->nbe; i++) {
		bool found = false;

		for (size_t j = 0; j < b->nbe && !found; j++)
			found = a->be[i].addr.ip == b->be[j].addr.ip &&
				a->be[i].addr.port == b->be[j].addr.port &&
				a->be[i].weight == b->be[j].weight &&
				a->be[i].state == b->be[j].state;
		if (!found)
			return false;
	}
	return true;
}

/*
 * The controller: every translation the stored objects ask for, against
 * the services they own now; the difference becomes changes in @more.
 */
static int controller(struct store *s, struct change_list *more)
{
	struct k8s_xlate *x = NULL;
	struct l4addr *owned = NULL;
	struct k8s_set set;
	size_t nx = 0, nowned = 0;
	char err[ERR_LEN], node[K8S_NAME_LEN];
	int ret = k8s_set_load(s, &set, err);

	if (ret) {
		p_err("%s", err);
		return ret;
	}
	ret = k8s_node_name(s, node, sizeof(node));
	if (ret)
		p_err("cannot tell this node's name: %s", strerror(-ret));
	if (!ret)
		ret = k8s_translations_on(&set, node, &x, &nx);
	if (!ret)
		ret = store_owned_list(s, &owned, &nowned);
	for (size_t i = 0; !ret && i < nx; i++) {
		struct change c = { .op = CHANGE_SVC_SET, .svc = x[i].rec.addr };
		struct svc_rec cur;
		int rc = store_load_svc(s, &x[i].rec.addr, &cur);

		if (!rc) {
			bool same = be_sets_equal(&cur, &x[i].rec);
			char owner[512] = "";

			store_svc_owner(s, &x[i].rec.addr, owner, sizeof(owner));
			svc_rec_free(&cur);
			if (same && !strcmp(owner, x[i].owner))
				continue;
		}
		c.affinity = x[i].rec.affinity;
		c.flags = x[i].rec.flags;
		/* change_list_add() copies them; the translations keep (and free) these. */
		c.ranges = x[i].rec.ranges;
		c.nranges = x[i].rec.nranges;
		c.nodeport = -1;
		c.be = x[i].rec.be;
		c.nbe = x[i].rec.nbe;
		snprintf(c.owner, sizeof(c.owner), "%s", x[i].owner);
		snprintf(c.where, sizeof(c.where), "Service %s: ", x[i].owner);
		ret = change_list_add(more, &c);
	}
	/* Owned services no Service asks for any more. */
	for (size_t i = 0; !ret && i < nowned; i++) {
		struct change c = { .op = CHANGE_SVC_DEL, .svc = owned[i] };
		bool wanted = false;

		for (size_t j = 0; j < nx && !wanted; j++)
			wanted = !l4addr_cmp(&x[j].rec.addr, &owned[i]);
		if (wanted)
			continue;
		store_svc_owner(s, &owned[i], c.owner, sizeof(c.owner));
		ret = change_list_add(more, &c);
	}
	free(owned);
	k8s_xlates_free(x, nx);
	k8s_set_free(&set);
	return ret;
}

/* Inside the transaction: write (or delete) the objects, then run the controller. */
static int apply_pre(struct store *s, void *ctx, struct change_list *more)
{
	struct k8s_job *job = ctx;
	struct k8s_set set;
	char err[ERR_LEN];
	int ret = k8s_set_load(s, &set, err);

	if (ret) {
		p_err("%s", err);
		return ret;
	}
	if (!job->delete)
		ret = allocate_ips(s, &set, job);
	if (!ret && !job->delete)
		ret = allocate_ports(s, &set, job);
	for (size_t i = 0; !ret && i < job->n; i++) {
		struct input *x = &job->in[i];
		const char *kind = k8s_kind_name(x->obj.kind);

		if (job->delete) {
			ret = store_obj_del(s, kind, x->obj.ns, x->obj.name);
			if (ret == -ENOENT)
				p_err("%s: not found", x->where);
			x->result = "deleted";
			continue;
		}
		char *doc = doc_to_store(x);
		const struct k8s_obj *old = stored(&set, &x->obj);
		size_t oi = old ? (size_t)(old - set.obj) : 0;
		json_t *newj = doc ? json_loads(doc, JSON_ALLOW_NUL, NULL) : NULL;

		x->result = !old				  ? "created" :
			    newj && json_equal(set.doc[oi], newj) ? "unchanged" :
								    "configured";
		json_decref(newj);
		ret = doc ? store_obj_put(s, kind, x->obj.ns, x->obj.name, doc,
					  (int64_t)time(NULL)) :
			    -ENOMEM;
		if (ret)
			p_err("%s: cannot store it: %s", x->where, store_errmsg(s));
		free(doc);
	}
	k8s_set_free(&set);
	if (!ret)
		ret = controller(s, more);
	return ret;
}

/* Inside the transaction: store this node's name (when given), then run the controller. */
static int node_pre(struct store *s, void *ctx, struct change_list *more)
{
	const char *node = ctx;
	int ret = node ? store_setting_set(s, "node-name", node) : 0;

	if (ret) {
		p_err("cannot store the node name: %s", store_errmsg(s));
		return ret;
	}
	return controller(s, more);
}

int k8s_node_apply(const char *node)
{
	const char *why = node ? k8s_dns_subdomain(node) : NULL;

	if (why) {
		p_err("invalid node name '%.64s': %s", node, why);
		return EXIT_FAIL;
	}
	return cli_apply_with(NULL, 0, "set the node name", node_pre, (void *)node);
}

static void lower(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < len; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] - 'A' + 'a' : src[i]);
	dst[i] = '\0';
}

static void report(const struct k8s_job *job)
{
	out_open_array("objects");
	for (size_t i = 0; i < job->n; i++) {
		const struct input *x = &job->in[i];
		char kind[32];

		lower(kind, k8s_kind_name(x->obj.kind), sizeof(kind));
		out_open_object(NULL);
		out_string(PRINT_ANY, "kind", "%s/", kind);
		out_string(PRINT_ANY, "name", "%s", x->obj.name);
		out_string(PRINT_JSON, "namespace", NULL, x->obj.ns);
		out_string(PRINT_ANY, "result", " %s\n", x->result);
		out_close_object();
	}
	out_close_array();
}

/* -f FILE... and the verb's own options. */
static int k8s_files(int argc, char **argv, const char *verb, char ***files, size_t *n,
		     const char **cidr)
{
	*files = calloc((size_t)argc + 1, sizeof(**files));
	*n = 0;
	if (!*files)
		return EXIT_FAIL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--filename")) {
			if (i + 1 >= argc)
				return usage_err("%s: -f needs a file, a directory or -", verb);
			(*files)[(*n)++] = argv[++i];
		} else if (!strncmp(argv[i], "--filename=", 11)) {
			(*files)[(*n)++] = argv[i] + 11;
		} else if (cidr && !strcmp(argv[i], "--service-cidr")) {
			if (i + 1 >= argc)
				return usage_err("%s: --service-cidr needs a CIDR", verb);
			if (*cidr)
				return usage_err("%s: --service-cidr given twice", verb);
			*cidr = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_err("%s: unknown option '%s'", verb, argv[i]);
		} else {
			return usage_err("%s: unexpected argument '%s' (files need -f)", verb,
					 argv[i]);
		}
	}
	if (!*n)
		return usage_err("%s: needs -f FILE|DIR|-", verb);
	return EXIT_OK;
}

static int run_job(char **files, size_t nfiles, bool delete, const char *cidr)
{
	struct k8s_job job = { .delete = delete };
	struct k8s_docs docs = { 0 };
	int ret;

	if (!cidr || !*cidr)
		cidr = getenv("SVCBPF_SERVICE_CIDR");
	if (!cidr || !*cidr)
		cidr = K8S_SERVICE_CIDR_DEFAULT;
	if (parse_cidr(cidr, &job.cidr_base, &job.cidr_mask)) {
		p_err("invalid service CIDR '%s' (A.B.C.D/8..30)", cidr);
		return EXIT_FAIL;
	}
	if (read_inputs(files, nfiles, delete ? "delete" : "apply", &docs, &job.in, &job.n)) {
		k8s_docs_free(&docs);
		return EXIT_FAIL;
	}
	ret = cli_apply_with(NULL, 0, delete ? "delete" : "apply", apply_pre, &job);
	if (ret == EXIT_OK)
		report(&job);
	inputs_free(job.in, job.n);
	k8s_docs_free(&docs);
	return ret;
}

int do_apply(int argc, char **argv)
{
	const char *cidr = NULL;
	char **files;
	size_t n;
	int ret;

	if (argc == 1 && !strcmp(argv[0], "help"))
		return usage_k8s("apply");
	if (change_collecting())
		return usage_err("apply: not in a batch");
	ret = k8s_files(argc, argv, "apply", &files, &n, &cidr);
	if (ret == EXIT_OK)
		ret = require_privileges() ? run_job(files, n, false, cidr) : EXIT_FAIL;
	free(files);
	return ret;
}

/* "service", "svc", "services" -> K8S_SERVICE, and so on; -1 when unknown. */
static int kind_arg(const char *a)
{
	static const struct {
		const char *name;
		enum k8s_kind kind;
	} names[] = {
		{ "service", K8S_SERVICE },
		{ "services", K8S_SERVICE },
		{ "svc", K8S_SERVICE },
		{ "pod", K8S_POD },
		{ "pods", K8S_POD },
		{ "po", K8S_POD },
		{ "endpoints", K8S_ENDPOINTS },
		{ "ep", K8S_ENDPOINTS },
		{ "endpointslice", K8S_ENDPOINTSLICE },
		{ "endpointslices", K8S_ENDPOINTSLICE },
		{ "endpointslices.discovery.k8s.io", K8S_ENDPOINTSLICE },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(a, names[i].name))
			return (int)names[i].kind;
	return -1;
}

/* -n NS / --namespace NS / -A; the rest stays in @pos. */
static int ns_opts(int argc, char **argv, const char *verb, const char **ns, bool *all, char **pos,
		   int *npos)
{
	bool ns_given = false;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--namespace") ||
		    !strncmp(argv[i], "--namespace=", 12)) {
			/* One namespace: a second one would silently win. */
			if (ns_given)
				return usage_err("%s: the namespace (-n) given twice", verb);
			ns_given = true;
			if (argv[i][1] != 'n' && argv[i][11] == '=')
				*ns = argv[i] + 12;
			else if (i + 1 >= argc)
				return usage_err("%s: %s needs a namespace", verb, argv[i]);
			else
				*ns = argv[++i];
		} else if (all &&
			   (!strcmp(argv[i], "-A") || !strcmp(argv[i], "--all-namespaces"))) {
			*all = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_err("%s: unknown option '%s'", verb, argv[i]);
		} else {
			pos[(*npos)++] = argv[i];
		}
	}
	return EXIT_OK;
}

int do_delete(int argc, char **argv)
{
	const char *ns = K8S_NS_DEFAULT;
	char **files, *pos[8];
	struct k8s_job job = { .delete = true };
	size_t n;
	int ret, npos, kind;

	if (argc == 1 && !strcmp(argv[0], "help"))
		return usage_k8s("delete");
	if (change_collecting())
		return usage_err("delete: not in a batch");
	if (argc && (!strcmp(argv[0], "-f") || !strncmp(argv[0], "--filename", 10))) {
		ret = k8s_files(argc, argv, "delete", &files, &n, NULL);
		if (ret == EXIT_OK)
			ret = require_privileges() ? run_job(files, n, true, NULL) : EXIT_FAIL;
		free(files);
		return ret;
	}
	if (argc > 8)
		return usage_err("delete: too many arguments");
	ret = ns_opts(argc, argv, "delete", &ns, NULL, pos, &npos);
	if (ret)
		return ret;
	if (npos != 2)
		return usage_err("delete: needs -f FILE or KIND NAME (svcbpf delete service NAME)");
	kind = kind_arg(pos[0]);
	if (kind < 0)
		return usage_err("delete: unknown kind '%s' (service, pod, endpoints, "
				 "endpointslice)",
				 pos[0]);
	if (!require_privileges())
		return EXIT_FAIL;
	job.in = calloc(1, sizeof(*job.in));
	if (!job.in)
		return EXIT_FAIL;
	job.n = 1;
	job.in[0].obj.kind = (enum k8s_kind)kind;
	snprintf(job.in[0].obj.ns, sizeof(job.in[0].obj.ns), "%s", ns);
	snprintf(job.in[0].obj.name, sizeof(job.in[0].obj.name), "%s", pos[1]);
	snprintf(job.in[0].where, sizeof(job.in[0].where), "%s %s/%s", k8s_kind_name(kind), ns,
		 pos[1]);
	ret = cli_apply_with(NULL, 0, "delete", apply_pre, &job);
	if (ret == EXIT_OK)
		report(&job);
	free(job.in);
	return ret;
}

/* ------------------------------------------------------------------ get */

static void age(char *buf, size_t len, int64_t created)
{
	int64_t d = (int64_t)time(NULL) - created;

	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(buf, len, "%llds", (long long)d);
	else if (d < 2 * 3600)
		snprintf(buf, len, "%lldm", (long long)(d / 60));
	else if (d < 2 * 86400)
		snprintf(buf, len, "%lldh", (long long)(d / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(d / 86400));
}

/* Would YAML read @s back as this string if it were written plain? */
static bool plain_ok(const char *s)
{
	static const char *const special[] = { "true", "false", "null", "yes",	"no", "on",
					       "off",  "~",	".inf", ".nan", "y",  "n" };
	char *end;

	if (!*s || strlen(s) > 200)
		return false;
	/* Digits first: plain only as a dotted quad (0o17, 0x1f and 1e3 read as numbers). */
	if (*s >= '0' && *s <= '9') {
		int dots = 0;

		for (const char *p = s; *p; p++)
			dots += *p == '.';
		if (dots != 3)
			return false;
	}
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._/-", *p)))
			return false;
	if (*s == '-' || *s == '.')
		return false;
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (!strcasecmp(s, special[i]))
			return false;
	strtod(s, &end);
	return *end != '\0'; /* a number would come back as one */
}

/*
 * @j as a libfyaml node: plain scalars where they read back the same, quoted
 * otherwise. libfyaml keeps pointers into the scalars' YAML source: @keep
 * holds them until the document is emitted.
 */
static struct fy_node *to_node(struct fy_document *fyd, json_t *j, json_t *keep)
{
	struct fy_node *n = NULL;
	const char *key;
	json_t *v;
	size_t i;
	char *text;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		n = fy_node_create_mapping(fyd);
		json_object_foreach(j, key, v) {
			json_t *k = json_string(key);
			struct fy_node *kn = to_node(fyd, k, keep), *vn = to_node(fyd, v, keep);

			json_decref(k);
			if (!n || !kn || !vn || fy_node_mapping_append(n, kn, vn))
				return NULL;
		}
		return n;
	case JSON_ARRAY:
		n = fy_node_create_sequence(fyd);
		json_array_foreach(j, i, v) {
			struct fy_node *vn = to_node(fyd, v, keep);

			if (!n || !vn || fy_node_sequence_append(n, vn))
				return NULL;
		}
		return n;
	default:
		/* The YAML source of the scalar: plain when it reads back the same, else the
		 * JSON form (a valid double-quoted YAML scalar); libfyaml keeps the buffer. */
		text = json_is_string(j) && plain_ok(json_string_value(j)) ?
			       strdup(json_string_value(j)) :
			       json_dumps(j, JSON_ENCODE_ANY);
		if (!text || json_array_append_new(keep, json_string(text))) {
			free(text);
			return NULL;
		}
		free(text);
		return fy_node_build_from_string(
			fyd, json_string_value(json_array_get(keep, json_array_size(keep) - 1)),
			FY_NT);
	}
}

/* Print @j as YAML (kubectl's block style) or JSON. */
static int emit(json_t *j)
{
	struct fy_document *fyd;
	struct fy_node *root;
	json_t *keep;
	char *out;

	if (strcmp(cli.format ? cli.format : "", "yaml")) {
		/* -o json: as kubectl prints it, the object itself. */
		out = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		if (!out)
			return -ENOMEM;
		printf("%s\n", out);
		free(out);
		return 0;
	}
	keep = json_array();
	fyd = keep ? fy_document_create(NULL) : NULL;
	root = fyd ? to_node(fyd, j, keep) : NULL;
	out = root && !fy_document_set_root(fyd, root) ?
		      fy_emit_document_to_string(fyd, FYECF_MODE_BLOCK | FYECF_INDENT_2 |
							      FYECF_WIDTH_INF) :
		      NULL;
	if (out)
		fputs(out, stdout);
	free(out);
	fy_document_destroy(fyd);
	json_decref(keep);
	return out ? 0 : -EIO;
}

struct get_ctx {
	enum k8s_kind kind;
	const char *name;
	const char *ns;
	bool all;
	bool wide;
	bool structured; /* -o yaml|json */
	json_t *items;
	size_t shown;
	json_t *rows; /* services: the table's rows (arrays of strings), printed at the end */
};

/* kubectl's PORT(S): "80/TCP", "80:30080/TCP" with a node port, "<none>". */
static void ports_str(char *buf, size_t len, const struct k8s_service *sv)
{
	size_t off = 0;

	snprintf(buf, len, "<none>");
	for (size_t p = 0; p < sv->nports && off < len; p++) {
		const char *proto = sv->ports[p].proto == IPPROTO_UDP ? "UDP" : "TCP";

		if (sv->ports[p].node_port)
			off += (size_t)snprintf(buf + off, len - off, "%s%u:%u/%s", p ? "," : "",
						sv->ports[p].port, sv->ports[p].node_port, proto);
		else
			off += (size_t)snprintf(buf + off, len - off, "%s%u/%s", p ? "," : "",
						sv->ports[p].port, proto);
	}
}

/*
 * kubectl's EXTERNAL-IP: the LoadBalancer's ingress addresses (IP or
 * hostname; cut to 13 characters and "..." past 16 unless -o wide), then
 * the external IPs; <pending> for a LoadBalancer with neither, the
 * externalName of an ExternalName Service, else <none>.
 */
static void external_str(char *buf, size_t len, const struct k8s_service *sv, const json_t *doc,
			 bool wide)
{
	char lb[512] = "", ip[ADDR_STR_LEN];
	size_t off = 0, k;
	json_t *v;

	if (!strcmp(sv->type, "ExternalName")) {
		const char *name = json_string_value(
			json_object_get(json_object_get(doc, "spec"), "externalName"));

		snprintf(buf, len, "%s", name ? name : "<none>");
		return;
	}
	if (!strcmp(sv->type, "LoadBalancer")) {
		json_array_foreach(json_object_get(json_object_get(json_object_get(doc, "status"),
								   "loadBalancer"),
						   "ingress"),
				   k, v) {
			const char *a = json_string_value(json_object_get(v, "ip"));

			if (!a || !*a)
				a = json_string_value(json_object_get(v, "hostname"));
			if (a && *a && off < sizeof(lb))
				off += (size_t)snprintf(lb + off, sizeof(lb) - off, "%s%s",
							off ? "," : "", a);
		}
		if (!wide && strlen(lb) > 16)
			snprintf(lb + 13, sizeof(lb) - 13, "...");
	}
	off = (size_t)snprintf(buf, len, "%s", lb);
	for (size_t i = 0; i < sv->nexternal_ips && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
					fmt_ip(ip, sv->external_ips[i]));
	if (!buf[0])
		snprintf(buf, len, "%s",
			 !strcmp(sv->type, "LoadBalancer") ? "<pending>" : "<none>");
}

static void selector_str(char *buf, size_t len, const struct k8s_label *l, size_t n)
{
	size_t off = 0;

	snprintf(buf, len, "<none>");
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", l[i].key,
					l[i].value);
}

/* The endpoint list as kubectl shows it: "IP:PORT,IP:PORT" (ready ones). */
static void endpoints_str(char *buf, size_t len, const struct k8s_set *set,
			  const struct k8s_obj *svc)
{
	struct k8s_ep *eps;
	size_t neps, off = 0, shown = 0;

	snprintf(buf, len, "<none>");
	if (k8s_endpoints_of(set, svc, &eps, &neps))
		return;
	for (size_t i = 0; i < neps; i++) {
		char ip[ADDR_STR_LEN];

		if ((!eps[i].ready && !svc->svc.publish_not_ready) || eps[i].terminating)
			continue;
		for (size_t p = 0; p < svc->svc.nports && off < len; p++) {
			if (!eps[i].port[p])
				continue;
			off += (size_t)snprintf(buf + off, len - off, "%s%s:%u", shown++ ? "," : "",
						fmt_ip(ip, eps[i].ip), eps[i].port[p]);
		}
	}
	k8s_eps_free(eps, neps);
}

/* "IP:PORT,..." of the ready addresses of applied Endpoints @ep. */
static void stored_endpoints_str(char *buf, size_t len, const struct k8s_endpoints *ep)
{
	size_t off = 0, shown = 0;

	snprintf(buf, len, "<none>");
	for (size_t s = 0; s < ep->nsets; s++)
		for (size_t a = 0; a < ep->sets[s].naddrs; a++)
			for (size_t p = 0; p < ep->sets[s].nports && off < len; p++) {
				char ip[ADDR_STR_LEN];

				if (!ep->sets[s].addrs[a].ready)
					continue;
				off += (size_t)snprintf(buf + off, len - off, "%s%s:%u",
							shown++ ? "," : "",
							fmt_ip(ip, ep->sets[s].addrs[a].ip),
							ep->sets[s].ports[p].port);
			}
}

static void row_ns(const struct get_ctx *g, const char *ns)
{
	if (g->all)
		printf("%-16s ", ns);
}

static void header(struct get_ctx *g)
{
	if (g->structured || g->shown++)
		return;
	if (g->all)
		printf("%-16s ", "NAMESPACE");
	switch (g->kind) {
	case K8S_POD:
		printf("%-24s %-6s %-10s %-9s %-6s%s\n", "NAME", "READY", "STATUS", "RESTARTS",
		       "AGE", g->wide ? " IP" : "");
		break;
	case K8S_ENDPOINTS:
		printf("%-24s %-40s %s\n", "NAME", "ENDPOINTS", "AGE");
		break;
	default:
		printf("%-28s %-12s %-10s %-32s %s\n", "NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS",
		       "AGE");
	}
}

/* One slice's row: its ports and its addresses. */
static void slice_row(struct get_ctx *g, const char *ns, json_t *sl, const char *agebuf)
{
	char ports[128] = "", eps[256] = "";
	size_t off = 0, k;
	json_t *v;

	json_array_foreach(json_object_get(sl, "ports"), k, v) {
		if (off < sizeof(ports))
			off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%lld",
						k ? "," : "",
						json_integer_value(json_object_get(v, "port")));
	}
	off = 0;
	json_array_foreach(json_object_get(sl, "endpoints"), k, v) {
		json_t *a = json_array_get(json_object_get(v, "addresses"), 0);

		if (off < sizeof(eps))
			off += (size_t)snprintf(eps + off, sizeof(eps) - off, "%s%s", k ? "," : "",
						json_string_value(a));
	}
	row_ns(g, ns);
	printf("%-28s %-12s %-10s %-32s %s\n",
	       json_string_value(json_object_get(json_object_get(sl, "metadata"), "name")), "IPv4",
	       ports[0] ? ports : "<unset>", eps[0] ? eps : "<unset>", agebuf);
}

static void get_one(struct get_ctx *g, const struct k8s_set *set, size_t i)
{
	const struct k8s_obj *o = &set->obj[i];
	char agebuf[16], buf[512], ip[ADDR_STR_LEN];
	json_t *j = NULL;

	age(agebuf, sizeof(agebuf), set->created[i]);
	if (g->kind == K8S_ENDPOINTS || g->kind == K8S_ENDPOINTSLICE) {
		/* Applied ones (a Service without a selector's) as written... */
		if (o->kind == g->kind) {
			if (g->structured) {
				json_array_append(g->items, set->doc[i]);
			} else if (g->kind == K8S_ENDPOINTS) {
				header(g);
				stored_endpoints_str(buf, sizeof(buf), &o->ep);
				row_ns(g, o->ns);
				printf("%-24s %-40s %s\n", o->name, buf, agebuf);
			} else {
				header(g);
				slice_row(g, o->ns, set->doc[i], agebuf);
			}
			return;
		}
		/* ...and the controller's for a Service with a selector. */
		if (o->kind != K8S_SERVICE || !o->svc.has_selector)
			return;
		if (g->kind == K8S_ENDPOINTS)
			j = k8s_endpoints_json(set, o);
		else
			j = k8s_slices_json(set, o);
		if (!j)
			return;
		if (g->structured) {
			if (json_is_array(j))
				json_array_extend(g->items, j);
			else
				json_array_append(g->items, j);
		} else if (g->kind == K8S_ENDPOINTS) {
			header(g);
			endpoints_str(buf, sizeof(buf), set, o);
			row_ns(g, o->ns);
			printf("%-24s %-40s %s\n", o->name, buf, agebuf);
		} else {
			size_t k;
			json_t *sl;

			json_array_foreach(j, k, sl) {
				header(g);
				slice_row(g, o->ns, sl, agebuf);
			}
		}
		json_decref(j);
		return;
	}
	if (o->kind != g->kind)
		return;
	if (g->structured) {
		json_array_append(g->items, set->doc[i]);
		return;
	}
	if (g->kind == K8S_SERVICE) {
		char ext[600], sel[512];
		json_t *row;

		g->shown++;
		ports_str(buf, sizeof(buf), &o->svc);
		external_str(ext, sizeof(ext), &o->svc, set->doc[i], g->wide);
		selector_str(sel, sizeof(sel), o->svc.selector, o->svc.nselector);
		row = json_pack("[s, s, s, s, s, s, s, s]", o->ns, o->name, o->svc.type,
				o->svc.headless	  ? "None" :
				o->svc.cluster_ip ? fmt_ip(ip, o->svc.cluster_ip) :
						    "<none>",
				ext, buf, agebuf, sel);
		if (!row || json_array_append_new(g->rows, row))
			p_err("out of memory");
		return;
	}
	header(g);
	row_ns(g, o->ns);
	printf("%-24s %-6s %-10s %-9s %-6s", o->name, o->pod.ready ? "1/1" : "0/1",
	       o->pod.terminating ? "Terminating" :
	       o->pod.ip	  ? "Running" :
				    "Pending",
	       "0", agebuf);
	if (g->wide)
		printf(" %s", o->pod.ip ? fmt_ip(ip, o->pod.ip) : "<none>");
	printf("\n");
}

/*
 * The services' table as kubectl prints it: each column as wide as its
 * widest cell, three spaces apart (NAMESPACE with -A, SELECTOR with -o wide).
 */
static void print_service_rows(const struct get_ctx *g)
{
	static const char *const head[] = { "NAMESPACE",   "NAME",    "TYPE", "CLUSTER-IP",
					    "EXTERNAL-IP", "PORT(S)", "AGE",  "SELECTOR" };
	const size_t ncol = sizeof(head) / sizeof(head[0]);
	size_t width[sizeof(head) / sizeof(head[0])], r, first = g->all ? 0 : 1,
							 last = g->wide ? ncol : ncol - 1;
	json_t *row;

	if (!json_array_size(g->rows))
		return;
	for (size_t c = 0; c < ncol; c++)
		width[c] = strlen(head[c]);
	json_array_foreach(g->rows, r, row)
		for (size_t c = 0; c < ncol; c++)
			if (strlen(json_string_value(json_array_get(row, c))) > width[c])
				width[c] = strlen(json_string_value(json_array_get(row, c)));
	for (size_t c = first; c < last; c++)
		printf("%-*s%s", c + 1 < last ? (int)width[c] : 0, head[c],
		       c + 1 < last ? "   " : "\n");
	json_array_foreach(g->rows, r, row)
		for (size_t c = first; c < last; c++)
			printf("%-*s%s", c + 1 < last ? (int)width[c] : 0,
			       json_string_value(json_array_get(row, c)),
			       c + 1 < last ? "   " : "\n");
}

int do_get(int argc, char **argv)
{
	struct get_ctx g = { .ns = K8S_NS_DEFAULT };
	struct store *s = NULL;
	struct k8s_set set;
	char err[ERR_LEN], *pos[8];
	int npos, kind, ret;

	if (argc == 1 && !strcmp(argv[0], "help"))
		return usage_k8s("get");
	if (change_collecting())
		return usage_err("get: not in a batch");
	if (argc > 8)
		return usage_err("get: too many arguments");
	ret = ns_opts(argc, argv, "get", &g.ns, &g.all, pos, &npos);
	if (ret)
		return ret;
	if (npos < 1 || npos > 2)
		return usage_err("get: needs a kind (services, endpoints, endpointslices, pods) "
				 "and at most one NAME");
	kind = kind_arg(pos[0]);
	if (kind < 0)
		return usage_err("get: unknown kind '%s' (services, endpoints, endpointslices, "
				 "pods)",
				 pos[0]);
	g.kind = (enum k8s_kind)kind;
	g.name = npos == 2 ? pos[1] : NULL;
	g.wide = cli.format && !strcmp(cli.format, "wide");
	g.structured = json_output || (cli.format && !strcmp(cli.format, "yaml"));
	if (g.name && g.all)
		return usage_err("get: a NAME is looked up in one namespace (-n), not with -A");
	if (!require_privileges() || cli_open_store(&s))
		return EXIT_FAIL;
	ret = k8s_set_load(s, &set, err);
	store_close(s);
	if (ret) {
		p_err("%s", err);
		return EXIT_FAIL;
	}
	g.items = json_array();
	g.rows = json_array();
	for (size_t i = 0; i < set.n; i++) {
		const struct k8s_obj *o = &set.obj[i];

		if (!g.all && strcmp(o->ns, g.ns))
			continue;
		if (g.name && strcmp(o->name, g.name))
			continue;
		get_one(&g, &set, i);
	}
	ret = EXIT_OK;
	if (g.name && !g.shown && !json_array_size(g.items)) {
		/* Endpoints of an existing Service with none still exist, as in Kubernetes. */
		p_err("%s \"%s\" not found in namespace %s", pos[0], g.name, g.ns);
		ret = EXIT_FAIL;
	} else if (g.structured) {
		/* One object by name is the object; otherwise a v1 List, as kubectl prints. */
		json_t *out = g.name && json_array_size(g.items) == 1 ?
				      json_incref(json_array_get(g.items, 0)) :
				      json_pack("{s:s, s:O, s:s, s:{}}", "apiVersion", "v1",
						"items", g.items, "kind", "List", "metadata");

		json_output_suspend();
		if (emit(out))
			ret = EXIT_FAIL;
		json_decref(out);
	} else if (!g.shown) {
		fprintf(stderr, "No resources found in %s namespace.\n", g.all ? "any" : g.ns);
	}
	print_service_rows(&g);
	json_decref(g.rows);
	json_decref(g.items);
	k8s_set_free(&set);
	return ret;
}
