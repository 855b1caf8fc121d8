// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * k8s_obj.c - one JSON document to a validated Service, Pod, Endpoints or
 * EndpointSlice (see k8s.h), with the rules and defaults Kubernetes' API
 * server applies (pkg/apis/core/validation, pkg/apis/discovery/validation,
 * apimachinery's IsDNS1123Label, IsQualifiedName, IsValidPortName...).
 * Every error is one line: the field path as Kubernetes prints it
 * ("spec.ports[1].targetPort", "metadata.labels[app]"), then the cause.
 *
 * svcbpf forwards IPv4 TCP and UDP: a Service with an SCTP port or an
 * IPv6 ClusterIP is refused; SCTP ports of Pods, Endpoints and slices
 * (which only SCTP Services use) are left out without an error.
 * NodePort/LoadBalancer fields (nodePort, externalIPs, the ingress IPs,
 * loadBalancerSourceRanges, externalTrafficPolicy, healthCheckNodePort,
 * allocateLoadBalancerNodePorts) follow ValidateService and the node port
 * allocator's messages ("Invalid value: 80: provided port is not in the
 * valid range..."); IPv6 entries of dual-stack lists are left out.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "svcbpf.h"

#define PATH_LEN 256
#define SHOW_LEN 96
#define LABEL_MAX 63
#define SUBDOMAIN_MAX 253
#define IANA_SVC_NAME_MAX 15
#define AFFINITY_DEFAULT 10800 /* seconds, Kubernetes' DefaultClientIPServiceAffinitySeconds */
#define AFFINITY_MAX 86400
#define SERVICE_NAME_LABEL "kubernetes.io/service-name"

static const char *const kind_names[K8S_KIND_MAX] = {
	[K8S_SERVICE] = "Service",
	[K8S_POD] = "Pod",
	[K8S_ENDPOINTS] = "Endpoints",
	[K8S_ENDPOINTSLICE] = "EndpointSlice",
};

static const char *const kind_api[K8S_KIND_MAX] = {
	[K8S_SERVICE] = "v1",
	[K8S_POD] = "v1",
	[K8S_ENDPOINTS] = "v1",
	[K8S_ENDPOINTSLICE] = "discovery.k8s.io/v1",
};

const char *k8s_kind_name(enum k8s_kind k)
{
	return (unsigned int)k < K8S_KIND_MAX ? kind_names[k] : "?";
}

/* "@path: message". Always -EINVAL. */
static int __attribute__((format(printf, 3, 4)))
fail(char err[ERR_LEN], const char *path, const char *fmt, ...)
{
	char msg[ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, ERR_LEN, "%s: %s", path, msg);
	return -EINVAL;
}

/* A user's string for a message: one line, at most SHOW_LEN bytes. */
static const char *show(char buf[SHOW_LEN], const char *s)
{
	size_t o = 0;

	for (; *s && o < SHOW_LEN - 4; s++)
		buf[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	buf[o] = '\0';
	if (*s)
		strcat(buf, "...");
	return buf;
}

static const char *join(char p[PATH_LEN], const char *base, const char *field)
{
	snprintf(p, PATH_LEN, "%s%s%s", base, *base ? "." : "", field);
	return p;
}

static const char *at(char p[PATH_LEN], const char *base, size_t i)
{
	snprintf(p, PATH_LEN, "%s[%zu]", base, i);
	return p;
}

static const char *keyed(char p[PATH_LEN], const char *base, const char *key)
{
	char k[SHOW_LEN];

	snprintf(p, PATH_LEN, "%s[%s]", base, show(k, key));
	return p;
}

static const char *type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a floating-point number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/* Member @key of @o; null counts as absent, as in Kubernetes. */
static const json_t *field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_null(v) ? NULL : v;
}

/*
 * A JSON string may hold "\u0000" (YAML "\0"): every check here reads up to
 * the NUL, so "web\0x" would pass as "web". Kubernetes refuses such values.
 */
static bool has_nul(const json_t *v)
{
	return strlen(json_string_value(v)) != json_string_length(v);
}

static int get_str(const json_t *o, const char *base, const char *key, bool required,
		   const char **out, char err[ERR_LEN])
{
	const json_t *v = field(o, key);
	char p[PATH_LEN];

	*out = NULL;
	if (!v)
		return required ? fail(err, join(p, base, key), "required") : 0;
	if (!json_is_string(v))
		return fail(err, join(p, base, key), "expected a string, got %s", type_of(v));
	if (has_nul(v))
		return fail(err, join(p, base, key), "contains a NUL character");
	*out = json_string_value(v);
	return 0;
}

static int get_obj(const json_t *o, const char *base, const char *key, bool required,
		   const json_t **out, char err[ERR_LEN])
{
	const json_t *v = field(o, key);
	char p[PATH_LEN];

	*out = NULL;
	if (!v)
		return required ? fail(err, join(p, base, key), "required") : 0;
	if (!json_is_object(v))
		return fail(err, join(p, base, key), "expected an object, got %s", type_of(v));
	*out = v;
	return 0;
}

static int get_arr(const json_t *o, const char *base, const char *key, bool required,
		   const json_t **out, char err[ERR_LEN])
{
	const json_t *v = field(o, key);
	char p[PATH_LEN];

	*out = NULL;
	if (!v)
		return required ? fail(err, join(p, base, key), "required") : 0;
	if (!json_is_array(v))
		return fail(err, join(p, base, key), "expected a list, got %s", type_of(v));
	*out = v;
	return 0;
}

/* Required string member @key of @o: the string, or NULL with @err set. */
static const char *need_str(const json_t *o, const char *base, const char *key, char err[ERR_LEN])
{
	const char *s;

	return get_str(o, base, key, true, &s, err) ? NULL : s;
}

/* @out keeps its value (the default) when the field is absent. */
static int get_bool(const json_t *o, const char *base, const char *key, bool *out,
		    char err[ERR_LEN])
{
	const json_t *v = field(o, key);
	char p[PATH_LEN];

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(err, join(p, base, key), "expected true or false, got %s", type_of(v));
	*out = json_is_true(v);
	return 0;
}

static int want_object(const json_t *v, const char *path, char err[ERR_LEN])
{
	return json_is_object(v) ? 0 : fail(err, path, "expected an object, got %s", type_of(v));
}

static int want_port(const json_t *v, const char *path, uint16_t *out, char err[ERR_LEN])
{
	json_int_t n;

	if (!json_is_integer(v))
		return fail(err, path, "expected a number, got %s", type_of(v));
	n = json_integer_value(v);
	if (n < 1 || n > 65535)
		return fail(err, path, "must be 1-65535, not %" JSON_INTEGER_FORMAT, n);
	*out = (uint16_t)n;
	return 0;
}

/* The port's protocol (TCP when absent): 0, 1 for SCTP (the caller decides), or -EINVAL. */
static int get_proto(const json_t *o, const char *base, uint8_t *proto, char err[ERR_LEN])
{
	char p[PATH_LEN], v[SHOW_LEN];
	const char *s;
	int ret = get_str(o, base, "protocol", false, &s, err);

	if (ret)
		return ret;
	if (!s || !strcmp(s, "TCP"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "UDP"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(s, "SCTP"))
		return 1;
	else
		return fail(err, join(p, base, "protocol"),
			    "'%s' is not a protocol (TCP, UDP or SCTP)", show(v, s));
	return 0;
}

static const char *proto_upper(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "UDP" : "TCP";
}

/* Names, as apimachinery's validation package checks them: NULL when valid, else why not. */

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. */
static const char *dns_label_n(const char *s, size_t len)
{
	if (!len)
		return "must not be empty";
	if (len > LABEL_MAX)
		return "must be no more than 63 characters";
	for (size_t i = 0; i < len; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return "must consist of lower case letters, digits and '-'";
	if (s[0] == '-' || s[len - 1] == '-')
		return "must start and end with a lower case letter or digit";
	return NULL;
}

static const char *dns_label(const char *s)
{
	return dns_label_n(s, strlen(s));
}

/* RFC 1035 label (Service names): a RFC 1123 label starting with a letter. */
static const char *dns1035_label(const char *s)
{
	const char *why = dns_label(s);

	if (why)
		return why;
	return s[0] >= 'a' && s[0] <= 'z' ? NULL : "must start with a lower case letter";
}

/* RFC 1123 subdomain: labels joined by '.', at most 253 characters. */
static const char *dns_subdomain(const char *s)
{
	size_t len = strlen(s);

	if (!len)
		return "must not be empty";
	if (len > SUBDOMAIN_MAX)
		return "must be no more than 253 characters";
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		/*
		 * Each part as a label, but of any length: Kubernetes'
		 * IsDNS1123Subdomain limits the whole to 253 only (a slice named
		 * after a 63-character Service and a suffix is longer than a label).
		 */
		bool ok = l && p[0] != '-' && p[l - 1] != '-';

		for (size_t i = 0; ok && i < l; i++)
			ok = lower_alnum(p[i]) || p[i] == '-';
		if (!ok)
			return "must consist of lower case letters, digits, '-' and '.', "
			       "each part starting and ending with a letter or digit";
		if (!dot)
			return NULL;
		p = dot + 1;
	}
}

/* IANA_SVC_NAME (RFC 6335): [-a-z0-9]{1,15}, a letter, no leading, trailing or double '-'. */
static const char *iana_svc_name(const char *s)
{
	size_t len = strlen(s);
	bool letter = false;

	if (!len)
		return "must not be empty";
	if (len > IANA_SVC_NAME_MAX)
		return "must be no more than 15 characters";
	for (size_t i = 0; i < len; i++) {
		if (!lower_alnum(s[i]) && s[i] != '-')
			return "must consist of lower case letters, digits and '-'";
		letter |= s[i] >= 'a' && s[i] <= 'z';
	}
	if (s[0] == '-' || s[len - 1] == '-' || strstr(s, "--"))
		return "must not start or end with '-' or contain '--'";
	if (!letter)
		return "must contain at least one letter";
	return NULL;
}

/* The name part of a qualified name or a label value: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]. */
static const char *label_name_n(const char *s, size_t len)
{
	if (len > LABEL_MAX)
		return "must be no more than 63 characters";
	for (size_t i = 0; i < len; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return "must consist of letters, digits, '-', '_' and '.'";
	if (len && (!alnum(s[0]) || !alnum(s[len - 1])))
		return "must start and end with a letter or digit";
	return NULL;
}

/* A label key: [prefix/]name, prefix a DNS subdomain, name 1-63 characters. */
static const char *label_key(const char *s)
{
	const char *slash = strchr(s, '/'), *name = slash ? slash + 1 : s;

	if (slash) {
		char prefix[SUBDOMAIN_MAX + 2];
		size_t plen = (size_t)(slash - s);

		if (!plen)
			return "prefix part must not be empty";
		if (plen > SUBDOMAIN_MAX)
			return "prefix part must be no more than 253 characters";
		memcpy(prefix, s, plen);
		prefix[plen] = '\0';
		if (dns_subdomain(prefix))
			return "prefix part must be a lower case DNS subdomain";
		if (strchr(name, '/'))
			return "must be a name with an optional DNS subdomain prefix and '/'";
	}
	if (!*name)
		return "name part must not be empty";
	return label_name_n(name, strlen(name));
}

static const char *label_value(const char *s)
{
	return label_name_n(s, strlen(s));
}

/* Dotted decimal, four parts of 0-255, no leading zeros, nothing else. */
static bool parse_ipv4(const char *s, uint32_t *ip)
{
	uint32_t v = 0;

	for (int part = 0; part < 4; part++) {
		unsigned int octet = 0;
		int digits = 0;

		if (part && *s++ != '.')
			return false;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			octet = octet * 10 + (unsigned int)(*s++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || octet > 255 || (digits > 1 && s[-digits] == '0'))
			return false;
		v = v << 8 | octet;
	}
	if (*s)
		return false;
	*ip = v;
	return true;
}

/* Why @ip cannot be a Service or endpoint address, as Kubernetes' ValidateEndpointIP. */
static const char *ip_special(uint32_t ip)
{
	if (!ip)
		return "must not be the unspecified address";
	if (ip >> 24 == 127)
		return "must not be in the loopback range (127.0.0.0/8)";
	if (ip >> 16 == 0xa9fe)
		return "must not be in the link-local range (169.254.0.0/16)";
	if (ip >> 28 == 0xe)
		return "must not be in the multicast range (224.0.0.0/4)";
	if (ip == 0xffffffff)
		return "must not be the broadcast address";
	return NULL;
}

/* String @s at @path as an IPv4 address; with @special, also not one ip_special() refuses. */
static int want_ip(const char *s, const char *path, bool special, uint32_t *ip, char err[ERR_LEN])
{
	const char *why;
	char v[SHOW_LEN];

	if (!parse_ipv4(s, ip))
		return fail(err, path,
			    "'%s' is not an IPv4 address (dotted decimal, no leading zeros)",
			    show(v, s));
	why = special ? ip_special(*ip) : NULL;
	return why ? fail(err, path, "'%s' %s", show(v, s), why) : 0;
}

const char *k8s_dns_subdomain(const char *s)
{
	return dns_subdomain(s);
}

/* Optional node name @key of @o (a DNS subdomain, as Kubernetes' ValidateNodeName) into @out. */
static int get_node_name(const json_t *o, const char *base, const char *key, char out[K8S_NAME_LEN],
			 char err[ERR_LEN])
{
	char p[PATH_LEN], shown[SHOW_LEN];
	const char *name, *why;
	int ret = get_str(o, base, key, false, &name, err);

	if (ret || !name || !*name)
		return ret;
	why = dns_subdomain(name);
	if (why)
		return fail(err, join(p, base, key), "'%s': %s", show(shown, name), why);
	snprintf(out, K8S_NAME_LEN, "%s", name);
	return 0;
}

static void labels_free(struct k8s_label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

/*
 * The label map @key of @o (metadata.labels, spec.selector): string keys
 * and values as Kubernetes validates them. With @out NULL, only checked.
 * *@out and *@n are kept consistent, so a partial map can be freed.
 */
static int get_labels(const json_t *o, const char *base, const char *key, struct k8s_label **out,
		      size_t *n, char err[ERR_LEN])
{
	char path[PATH_LEN], p[PATH_LEN], shown[SHOW_LEN];
	const json_t *map, *v;
	const char *k, *why;
	int ret = get_obj(o, base, key, false, &map, err);

	if (ret || !map)
		return ret;
	join(path, base, key);
	if (out) {
		*out = calloc(json_object_size(map) + 1, sizeof(**out));
		if (!*out)
			return fail(err, path, "out of memory");
	}
	for (void *it = json_object_iter((json_t *)map); it;
	     it = json_object_iter_next((json_t *)map, it)) {
		k = json_object_iter_key(it);
		v = json_object_iter_value(it);
		why = label_key(k);
		if (why)
			return fail(err, path, "key '%s': %s", show(shown, k), why);
		if (json_is_null(v) || !json_is_string(v))
			return fail(err, keyed(p, path, k), "expected a string, got %s",
				    type_of(v));
		if (has_nul(v))
			return fail(err, keyed(p, path, k), "contains a NUL character");
		why = label_value(json_string_value(v));
		if (why)
			return fail(err, keyed(p, path, k), "value '%s': %s",
				    show(shown, json_string_value(v)), why);
		if (!out)
			continue;
		(*out)[*n].key = strdup(k);
		(*out)[*n].value = strdup(json_string_value(v));
		(*n)++;
		if (!(*out)[*n - 1].key || !(*out)[*n - 1].value)
			return fail(err, path, "out of memory");
	}
	return 0;
}

/* spec.clusterIP and spec.clusterIPs (the first is the IPv4 one; a second, IPv6, is ignored). */
static int decode_cluster_ip(const json_t *spec, struct k8s_service *s, char err[ERR_LEN])
{
	char shown[SHOW_LEN], shown2[SHOW_LEN], p[PATH_LEN];
	const char *cip, *first = NULL, *path = "spec.clusterIP", *ext;
	const json_t *cips, *v;
	size_t i;
	int ret;

	ret = get_str(spec, "spec", "clusterIP", false, &cip, err);
	if (!ret)
		ret = get_arr(spec, "spec", "clusterIPs", false, &cips, err);
	if (ret)
		return ret;
	if (json_array_size(cips) > 2)
		return fail(err, "spec.clusterIPs",
			    "must have at most two entries (one per family)");
	for (i = 0; i < json_array_size(cips); i++) {
		v = json_array_get(cips, i);
		if (!json_is_string(v))
			return fail(err, at(p, "spec.clusterIPs", i), "expected a string, got %s",
				    type_of(v));
		if (has_nul(v))
			return fail(err, at(p, "spec.clusterIPs", i), "contains a NUL character");
	}
	if (json_array_size(cips))
		first = json_string_value(json_array_get(cips, 0));
	if (cip && *cip && first && strcmp(cip, first))
		return fail(err, "spec.clusterIPs[0]", "'%s' must match spec.clusterIP '%s'",
			    show(shown, first), show(shown2, cip));
	if ((!cip || !*cip) && first) {
		cip = first;
		path = "spec.clusterIPs[0]";
	}
	if (!strcmp(s->type, "ExternalName")) {
		if (cip && *cip)
			return fail(err, path, "must not be set for type ExternalName");
		ext = need_str(spec, "spec", "externalName", err);
		if (!ext)
			return -EINVAL;
		/* A fully qualified name may end with '.'. */
		snprintf(p, sizeof(p), "%s", ext);
		if (*p && p[strlen(p) - 1] == '.')
			p[strlen(p) - 1] = '\0';
		if (dns_subdomain(p))
			return fail(err, "spec.externalName", "'%s': %s", show(shown, ext),
				    dns_subdomain(p));
		return 0;
	}
	if (!cip || !*cip)
		return 0;
	if (!strcmp(cip, "None")) {
		if (strcmp(s->type, "ClusterIP"))
			return fail(err, path, "None (headless) is only valid with type ClusterIP");
		s->headless = true;
		return 0;
	}
	return want_ip(cip, path, true, &s->cluster_ip, err);
}

bool k8s_svc_external(const struct k8s_service *s)
{
	return !strcmp(s->type, "NodePort") || !strcmp(s->type, "LoadBalancer") ||
	       (!strcmp(s->type, "ClusterIP") && s->nexternal_ips);
}

bool k8s_svc_node_ports(const struct k8s_service *s)
{
	return !strcmp(s->type, "NodePort") ||
	       (!strcmp(s->type, "LoadBalancer") && s->alloc_lb_node_ports);
}

/* A node port given at @path (nodePort, healthCheckNodePort): in 30000-32767. */
static int want_node_port(const json_t *v, const char *path, uint16_t *out, char err[ERR_LEN])
{
	json_int_t n;

	if (!json_is_integer(v))
		return fail(err, path, "expected a number, got %s", type_of(v));
	n = json_integer_value(v);
	if (!n)
		return 0;
	/* Kubernetes' portallocator message. */
	if (n < SVCBPF_NODEPORT_MIN || n > SVCBPF_NODEPORT_MAX)
		return fail(err, path,
			    "Invalid value: %" JSON_INTEGER_FORMAT
			    ": provided port is not in the valid range. The range of valid ports "
			    "is %d-%d",
			    n, SVCBPF_NODEPORT_MIN, SVCBPF_NODEPORT_MAX);
	*out = (uint16_t)n;
	return 0;
}

/*
 * A list of IPv4 addresses at @base.@key into *@out (IPv6 entries of a
 * dual-stack manifest are left out, as spec.clusterIPs' second is).
 */
static int get_ip_list(const json_t *o, const char *base, const char *key, uint32_t **out,
		       size_t *n, char err[ERR_LEN])
{
	char lp[PATH_LEN], p[PATH_LEN];
	const json_t *list, *v;
	size_t i;
	int ret = get_arr(o, base, key, false, &list, err);

	if (ret || !list)
		return ret;
	join(lp, base, key);
	*out = calloc(json_array_size(list) + 1, sizeof(**out));
	if (!*out)
		return fail(err, lp, "out of memory");
	json_array_foreach(list, i, v) {
		uint32_t ip;

		at(p, lp, i);
		if (!json_is_string(v))
			return fail(err, p, "expected a string, got %s", type_of(v));
		if (has_nul(v))
			return fail(err, p, "contains a NUL character");
		if (strchr(json_string_value(v), ':'))
			continue;
		ret = want_ip(json_string_value(v), p, true, &ip, err);
		if (ret)
			return ret;
		/* Kubernetes takes a repeated address; it is one frontend. */
		bool dup = false;

		for (size_t j = 0; j < *n; j++)
			dup |= (*out)[j] == ip;
		if (!dup)
			(*out)[(*n)++] = ip;
	}
	return 0;
}

/* status.loadBalancer.ingress[].ip (entries with only a hostname are left out). */
static int decode_lb_ingress(const json_t *doc, struct k8s_service *s, char err[ERR_LEN])
{
	const char *base = "status.loadBalancer.ingress";
	const json_t *status, *lb, *ing, *v;
	char p[PATH_LEN], q[PATH_LEN];
	size_t i;
	int ret = get_obj(doc, "", "status", false, &status, err);

	if (!ret)
		ret = get_obj(status, "status", "loadBalancer", false, &lb, err);
	if (!ret)
		ret = get_arr(lb, "status.loadBalancer", "ingress", false, &ing, err);
	if (ret || !ing)
		return ret;
	s->lb_ips = calloc(json_array_size(ing) + 1, sizeof(*s->lb_ips));
	if (!s->lb_ips)
		return fail(err, base, "out of memory");
	json_array_foreach(ing, i, v) {
		const char *ip, *host;
		uint32_t a;

		at(p, base, i);
		ret = want_object(v, p, err);
		if (!ret)
			ret = get_str(v, p, "ip", false, &ip, err);
		if (!ret)
			ret = get_str(v, p, "hostname", false, &host, err);
		if (ret)
			return ret;
		if (!ip || !*ip || strchr(ip, ':'))
			continue;
		ret = want_ip(ip, join(q, p, "ip"), true, &a, err);
		if (ret)
			return ret;
		bool dup = false;

		for (size_t j = 0; j < s->nlb_ips; j++)
			dup |= s->lb_ips[j] == a;
		if (!dup)
			s->lb_ips[s->nlb_ips++] = a;
	}
	return 0;
}

/*
 * NodePort, LoadBalancer and external IP fields, with Kubernetes' rules
 * (ValidateService, validateServiceExternalTrafficPolicy) and defaults
 * (allocateLoadBalancerNodePorts true, externalTrafficPolicy Cluster).
 */
static int decode_external(const json_t *doc, const json_t *spec, struct k8s_service *s,
			   char err[ERR_LEN])
{
	bool lb = !strcmp(s->type, "LoadBalancer");
	const json_t *ranges, *v;
	const char *etp;
	char p[PATH_LEN], shown[SHOW_LEN];
	size_t i;
	int ret;

	s->alloc_lb_node_ports = lb;
	if (field(spec, "allocateLoadBalancerNodePorts") && !lb)
		return fail(err, "spec.allocateLoadBalancerNodePorts",
			    "Forbidden: may only be used when `type` is 'LoadBalancer'");
	ret = get_bool(spec, "spec", "allocateLoadBalancerNodePorts", &s->alloc_lb_node_ports, err);
	if (!ret)
		ret = get_ip_list(spec, "spec", "externalIPs", &s->external_ips, &s->nexternal_ips,
				  err);
	if (!ret)
		ret = get_arr(spec, "spec", "loadBalancerSourceRanges", false, &ranges, err);
	if (!ret)
		ret = get_str(spec, "spec", "externalTrafficPolicy", false, &etp, err);
	if (ret)
		return ret;
	if (json_array_size(ranges) && !lb)
		return fail(err, "spec.loadBalancerSourceRanges",
			    "Forbidden: may only be used when `type` is 'LoadBalancer'");
	s->src_ranges = calloc(json_array_size(ranges) + 1, sizeof(*s->src_ranges));
	if (!s->src_ranges)
		return fail(err, "spec.loadBalancerSourceRanges", "out of memory");
	json_array_foreach(ranges, i, v) {
		char why[ERR_LEN];

		at(p, "spec.loadBalancerSourceRanges", i);
		if (!json_is_string(v))
			return fail(err, p, "expected a string, got %s", type_of(v));
		if (has_nul(v))
			return fail(err, p, "contains a NUL character");
		if (strchr(json_string_value(v), ':'))
			continue;
		if (parse_cidr4(json_string_value(v), &s->src_ranges[s->nsrc_ranges], why)) {
			/* @why quotes the value: one line, whatever it holds. */
			for (char *c = why; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			return fail(err, p, "Invalid value: \"%s\": %s",
				    show(shown, json_string_value(v)), why);
		}
		s->nsrc_ranges++;
	}
	if (etp && *etp) {
		if (strcmp(etp, "Cluster") && strcmp(etp, "Local"))
			return fail(err, "spec.externalTrafficPolicy",
				    "Unsupported value: \"%s\": supported values: \"Cluster\", "
				    "\"Local\"",
				    show(shown, etp));
		if (!k8s_svc_external(s))
			return fail(err, "spec.externalTrafficPolicy",
				    "Invalid value: \"%s\": may only be set for "
				    "externally-accessible services",
				    etp);
		s->etp_local = !strcmp(etp, "Local");
	}
	v = field(spec, "healthCheckNodePort");
	if (v) {
		ret = want_node_port(v, "spec.healthCheckNodePort", &s->health_node_port, err);
		if (ret)
			return ret;
		if (s->health_node_port && !(lb && s->etp_local))
			return fail(err, "spec.healthCheckNodePort",
				    "Invalid value: %u: may only be set when `type` is "
				    "'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
				    s->health_node_port);
		for (i = 0; i < s->nports && s->health_node_port; i++)
			if (s->ports[i].node_port == s->health_node_port)
				return fail(err, "spec.healthCheckNodePort",
					    "Invalid value: %u: provided port is already allocated",
					    s->health_node_port);
	}
	return lb ? decode_lb_ingress(doc, s, err) : 0;
}

/* One entry of spec.ports at @p; @i and @n: its index and the number of ports. */
static int decode_svc_port(const json_t *item, const char *p, size_t n, struct k8s_svc_port *sp,
			   char err[ERR_LEN])
{
	char q[PATH_LEN], shown[SHOW_LEN];
	const char *name, *why;
	const json_t *t;
	int ret;

	ret = want_object(item, p, err);
	if (!ret)
		ret = get_str(item, p, "name", false, &name, err);
	if (ret)
		return ret;
	if (name && *name) {
		why = dns_label(name);
		if (why)
			return fail(err, join(q, p, "name"), "'%s': %s", show(shown, name), why);
		snprintf(sp->name, sizeof(sp->name), "%s", name);
	} else if (n > 1) {
		return fail(err, join(q, p, "name"),
			    "required when a Service has more than one port");
	}
	ret = get_proto(item, p, &sp->proto, err);
	if (ret < 0)
		return ret;
	if (ret)
		return fail(err, join(q, p, "protocol"),
			    "SCTP is not supported (svcbpf forwards TCP and UDP)");
	if (!field(item, "port"))
		return fail(err, join(q, p, "port"), "required");
	ret = want_port(field(item, "port"), join(q, p, "port"), &sp->port, err);
	if (ret)
		return ret;
	/* targetPort: a number or a container port's name; absent, 0 or "" means the port. */
	t = field(item, "targetPort");
	join(q, p, "targetPort");
	sp->target_port = sp->port;
	if (!t)
		return 0;
	if (json_is_integer(t)) {
		json_int_t v = json_integer_value(t);

		if (v < 0 || v > 65535)
			return fail(err, q, "must be 1-65535, not %" JSON_INTEGER_FORMAT, v);
		if (v)
			sp->target_port = (uint16_t)v;
		return 0;
	}
	if (!json_is_string(t))
		return fail(err, q, "expected a number or a port name, got %s", type_of(t));
	if (has_nul(t))
		return fail(err, q, "contains a NUL character");
	name = json_string_value(t);
	if (!*name)
		return 0;
	why = iana_svc_name(name);
	if (why)
		return fail(err, q, "'%s' is not a port name: %s%s", show(shown, name), why,
			    strspn(name, "0123456789") == strlen(name) ?
				    " (write a port number without quotes)" :
				    "");
	snprintf(sp->target_name, sizeof(sp->target_name), "%s", name);
	sp->target_port = 0;
	return 0;
}

/* spec.ports[].nodePort at @p of Service @s (whose type is known). */
static int decode_node_port(const json_t *item, const char *p, const struct k8s_service *s,
			    struct k8s_svc_port *sp, char err[ERR_LEN])
{
	const json_t *v = field(item, "nodePort");
	char q[PATH_LEN];

	join(q, p, "nodePort");
	if (!v || (json_is_integer(v) && !json_integer_value(v)))
		return 0;
	if (strcmp(s->type, "NodePort") && strcmp(s->type, "LoadBalancer"))
		return fail(err, q, "Forbidden: may not be used when `type` is '%s'", s->type);
	return want_node_port(v, q, &sp->node_port, err);
}

static int decode_affinity(const json_t *spec, struct k8s_service *s, char err[ERR_LEN])
{
	const json_t *cfg, *cip, *t;
	const char *aff;
	char shown[SHOW_LEN];
	int ret = get_str(spec, "spec", "sessionAffinity", false, &aff, err);

	if (!ret)
		ret = get_obj(spec, "spec", "sessionAffinityConfig", false, &cfg, err);
	if (ret)
		return ret;
	if (!aff || !strcmp(aff, "None")) {
		if (cfg)
			return fail(err, "spec.sessionAffinityConfig",
				    "must not be set when sessionAffinity is None");
		return 0;
	}
	if (strcmp(aff, "ClientIP"))
		return fail(err, "spec.sessionAffinity", "'%s' is not supported (None or ClientIP)",
			    show(shown, aff));
	s->affinity_timeout = AFFINITY_DEFAULT;
	ret = get_obj(cfg, "spec.sessionAffinityConfig", "clientIP", false, &cip, err);
	if (ret || !cip)
		return ret;
	t = field(cip, "timeoutSeconds");
	if (!t)
		return 0;
	if (!json_is_integer(t))
		return fail(err, "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
			    "expected a number, got %s", type_of(t));
	if (json_integer_value(t) < 1 || json_integer_value(t) > AFFINITY_MAX)
		return fail(err, "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
			    "must be 1-86400, not %" JSON_INTEGER_FORMAT, json_integer_value(t));
	s->affinity_timeout = (uint32_t)json_integer_value(t);
	return 0;
}

static int decode_service(const json_t *doc, const json_t *md, struct k8s_obj *o, char err[ERR_LEN])
{
	static const char *const types[] = { "ClusterIP", "NodePort", "LoadBalancer",
					     "ExternalName" };
	struct k8s_service *s = &o->svc;
	const json_t *spec, *ports;
	const char *type;
	char p[PATH_LEN], shown[SHOW_LEN];
	size_t n, i;
	int ret;

	(void)md;
	ret = get_obj(doc, "", "spec", true, &spec, err);
	if (!ret)
		ret = get_str(spec, "spec", "type", false, &type, err);
	if (ret)
		return ret;
	if (!type)
		type = "ClusterIP";
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(type, types[i]))
			break;
	if (i == sizeof(types) / sizeof(types[0]))
		return fail(err, "spec.type",
			    "'%s' is not supported (ClusterIP, NodePort, LoadBalancer or "
			    "ExternalName)",
			    show(shown, type));
	snprintf(s->type, sizeof(s->type), "%s", type);
	ret = decode_cluster_ip(spec, s, err);
	if (!ret)
		ret = get_labels(spec, "spec", "selector", &s->selector, &s->nselector, err);
	if (!ret)
		ret = get_arr(spec, "spec", "ports", false, &ports, err);
	if (ret)
		return ret;
	s->has_selector = s->nselector > 0;
	n = json_array_size(ports);
	/* Kubernetes lets headless and ExternalName Services go without ports. */
	if (!n && !s->headless && strcmp(s->type, "ExternalName"))
		return fail(err, "spec.ports", "required (at least one port)");
	s->ports = calloc(n + 1, sizeof(*s->ports));
	if (!s->ports)
		return fail(err, "spec.ports", "out of memory");
	for (i = 0; i < n; i++) {
		struct k8s_svc_port *sp = &s->ports[i];

		at(p, "spec.ports", i);
		ret = decode_svc_port(json_array_get(ports, i), p, n, sp, err);
		if (!ret)
			ret = decode_node_port(json_array_get(ports, i), p, s, sp, err);
		if (ret)
			return ret;
		s->nports++;
		for (size_t j = 0; j < i; j++) {
			char q[PATH_LEN];

			if (sp->name[0] && !strcmp(sp->name, s->ports[j].name))
				return fail(err, join(q, p, "name"),
					    "duplicate name '%s' (also spec.ports[%zu])", sp->name,
					    j);
			if (sp->port == s->ports[j].port && sp->proto == s->ports[j].proto)
				return fail(err, p, "duplicate port %u/%s (also spec.ports[%zu])",
					    sp->port, proto_upper(sp->proto), j);
			/* Kubernetes: one nodePort per protocol. */
			if (sp->node_port && sp->node_port == s->ports[j].node_port &&
			    sp->proto == s->ports[j].proto)
				return fail(err, join(q, p, "nodePort"), "Duplicate value: %u",
					    sp->node_port);
		}
	}
	ret = decode_affinity(spec, s, err);
	if (!ret)
		ret = get_bool(spec, "spec", "publishNotReadyAddresses", &s->publish_not_ready,
			       err);
	if (!ret)
		ret = decode_external(doc, spec, s, err);
	return ret;
}

/* The container ports of every container; SCTP ones are left out. */
static int decode_pod_ports(const json_t *spec, struct k8s_pod *pod, char err[ERR_LEN])
{
	char cp[PATH_LEN], pp[PATH_LEN], q[PATH_LEN], shown[SHOW_LEN];
	const json_t *ctrs, *c, *ports;
	size_t ci, pi, total = 0;
	int ret = get_arr(spec, "spec", "containers", false, &ctrs, err);

	if (ret)
		return ret;
	for (ci = 0; ci < json_array_size(ctrs); ci++) {
		c = json_array_get(ctrs, ci);
		ret = want_object(c, at(cp, "spec.containers", ci), err);
		if (!ret)
			ret = get_arr(c, cp, "ports", false, &ports, err);
		if (ret)
			return ret;
		total += json_array_size(ports);
	}
	pod->ports = calloc(total + 1, sizeof(*pod->ports));
	if (!pod->ports)
		return fail(err, "spec.containers", "out of memory");
	for (ci = 0; ci < json_array_size(ctrs); ci++) {
		c = json_array_get(ctrs, ci);
		ports = json_object_get(c, "ports");
		at(cp, "spec.containers", ci);
		for (pi = 0; pi < json_array_size(ports); pi++) {
			const json_t *item = json_array_get(ports, pi);
			struct k8s_pod_port *pt = &pod->ports[pod->nports];
			const char *name, *why;

			at(pp, join(q, cp, "ports"), pi);
			ret = want_object(item, pp, err);
			if (!ret)
				ret = get_str(item, pp, "name", false, &name, err);
			if (ret)
				return ret;
			if (!field(item, "containerPort"))
				return fail(err, join(q, pp, "containerPort"), "required");
			ret = want_port(field(item, "containerPort"), join(q, pp, "containerPort"),
					&pt->port, err);
			if (!ret)
				ret = get_proto(item, pp, &pt->proto, err);
			if (ret < 0)
				return ret;
			if (name && *name) {
				why = iana_svc_name(name);
				if (why)
					return fail(err, join(q, pp, "name"), "'%s': %s",
						    show(shown, name), why);
				for (size_t j = 0; j < pod->nports; j++)
					if (!strcmp(pod->ports[j].name, name))
						return fail(err, join(q, pp, "name"),
							    "duplicate name '%s'", name);
			}
			if (ret) /* SCTP */
				continue;
			snprintf(pt->name, sizeof(pt->name), "%s", name ? name : "");
			pod->nports++;
		}
	}
	return 0;
}

static int decode_pod(const json_t *doc, const json_t *md, struct k8s_obj *o, char err[ERR_LEN])
{
	struct k8s_pod *pod = &o->pod;
	const json_t *spec, *status, *conds;
	const char *ip;
	char p[PATH_LEN];
	size_t i;
	int ret;

	ret = get_labels(md, "metadata", "labels", &pod->labels, &pod->nlabels, err);
	if (!ret)
		ret = get_obj(doc, "", "spec", false, &spec, err);
	if (!ret)
		ret = decode_pod_ports(spec, pod, err);
	if (!ret)
		ret = get_node_name(spec, "spec", "nodeName", pod->node_name, err);
	if (!ret)
		ret = get_obj(doc, "", "status", false, &status, err);
	if (!ret)
		ret = get_str(status, "status", "podIP", false, &ip, err);
	if (ret)
		return ret;
	if (ip && *ip) {
		ret = want_ip(ip, "status.podIP", false, &pod->ip, err);
		if (ret)
			return ret;
	}
	ret = get_arr(status, "status", "conditions", false, &conds, err);
	if (ret)
		return ret;
	for (i = 0; i < json_array_size(conds); i++) {
		const json_t *c = json_array_get(conds, i);
		const char *type, *st;

		at(p, "status.conditions", i);
		ret = want_object(c, p, err);
		if (!ret)
			ret = get_str(c, p, "type", false, &type, err);
		if (!ret)
			ret = get_str(c, p, "status", false, &st, err);
		if (ret)
			return ret;
		if (type && !strcmp(type, "Ready"))
			pod->ready = st && !strcmp(st, "True");
	}
	pod->terminating = field(md, "deletionTimestamp") != NULL;
	return 0;
}

/*
 * The ports of an Endpoints subset or an EndpointSlice (@slice: a port may
 * have no number, meaning "all ports", which no ClusterIP translation can
 * use: left out). Names are DNS labels, unique; SCTP ports are left out.
 */
static int decode_ep_ports(const json_t *ports, const char *base, bool slice,
			   struct k8s_ep_set *set, char err[ERR_LEN])
{
	char p[PATH_LEN], q[PATH_LEN], shown[SHOW_LEN];
	size_t n = json_array_size(ports), i;
	int ret;

	set->ports = calloc(n + 1, sizeof(*set->ports));
	if (!set->ports)
		return fail(err, base, "out of memory");
	for (i = 0; i < n; i++) {
		const json_t *item = json_array_get(ports, i);
		struct k8s_ep_port *pt = &set->ports[set->nports];
		const char *name, *why;

		at(p, base, i);
		ret = want_object(item, p, err);
		if (!ret)
			ret = get_str(item, p, "name", false, &name, err);
		if (ret)
			return ret;
		if (!name)
			name = "";
		if (*name) {
			why = dns_label(name);
			if (why)
				return fail(err, join(q, p, "name"), "'%s': %s", show(shown, name),
					    why);
		} else if (n > 1 && !slice) {
			return fail(err, join(q, p, "name"),
				    "required when there is more than one port");
		}
		for (size_t j = 0; j < i; j++) {
			const char *other = json_string_value(
				json_object_get(json_array_get(ports, j), "name"));

			if (!strcmp(name, other ? other : ""))
				return fail(err, join(q, p, "name"),
					    "duplicate name '%s' (also %s[%zu])", name, base, j);
		}
		ret = get_proto(item, p, &pt->proto, err);
		if (ret < 0)
			return ret;
		if (ret || (slice && !field(item, "port")))
			continue;
		if (!field(item, "port"))
			return fail(err, join(q, p, "port"), "required");
		ret = want_port(field(item, "port"), join(q, p, "port"), &pt->port, err);
		if (ret)
			return ret;
		snprintf(pt->name, sizeof(pt->name), "%s", name);
		set->nports++;
	}
	return 0;
}

/* The "ip" of each address in list @key of Endpoints subset @ss. */
static int decode_ep_addrs(const json_t *ss, const char *base, const char *key, bool ready,
			   struct k8s_ep_set *set, char err[ERR_LEN])
{
	char lp[PATH_LEN], p[PATH_LEN], q[PATH_LEN];
	const json_t *list;
	const char *ip;
	size_t i;
	int ret = get_arr(ss, base, key, false, &list, err);

	if (ret)
		return ret;
	join(lp, base, key);
	for (i = 0; i < json_array_size(list); i++) {
		const json_t *a = json_array_get(list, i);
		struct k8s_ep_addr *ea = &set->addrs[set->naddrs];

		at(p, lp, i);
		ret = want_object(a, p, err);
		if (!ret && !(ip = need_str(a, p, "ip", err)))
			ret = -EINVAL;
		if (!ret)
			ret = want_ip(ip, join(q, p, "ip"), true, &ea->ip, err);
		if (!ret)
			ret = get_node_name(a, p, "nodeName", ea->node_name, err);
		if (ret)
			return ret;
		ea->ready = ready;
		ea->serving = ready;
		set->naddrs++;
	}
	return 0;
}

static int decode_endpoints(const json_t *doc, const json_t *md, struct k8s_obj *o,
			    char err[ERR_LEN])
{
	struct k8s_endpoints *ep = &o->ep;
	const json_t *subsets, *ports;
	char p[PATH_LEN], q[PATH_LEN];
	size_t i;
	int ret;

	(void)md;
	snprintf(ep->service, sizeof(ep->service), "%s", o->name);
	ret = get_arr(doc, "", "subsets", false, &subsets, err);
	if (ret)
		return ret;
	ep->sets = calloc(json_array_size(subsets) + 1, sizeof(*ep->sets));
	if (!ep->sets)
		return fail(err, "subsets", "out of memory");
	for (i = 0; i < json_array_size(subsets); i++) {
		const json_t *ss = json_array_get(subsets, i);
		struct k8s_ep_set *set = &ep->sets[ep->nsets];
		const json_t *ready, *not_ready;
		size_t n;

		at(p, "subsets", i);
		ret = want_object(ss, p, err);
		if (!ret)
			ret = get_arr(ss, p, "addresses", false, &ready, err);
		if (!ret)
			ret = get_arr(ss, p, "notReadyAddresses", false, &not_ready, err);
		if (!ret)
			ret = get_arr(ss, p, "ports", false, &ports, err);
		if (ret)
			return ret;
		n = json_array_size(ready) + json_array_size(not_ready);
		if (!n)
			return fail(err, p, "must have addresses or notReadyAddresses");
		ep->nsets++;
		set->addrs = calloc(n, sizeof(*set->addrs));
		if (!set->addrs)
			return fail(err, p, "out of memory");
		ret = decode_ep_addrs(ss, p, "addresses", true, set, err);
		if (!ret)
			ret = decode_ep_addrs(ss, p, "notReadyAddresses", false, set, err);
		if (!ret)
			ret = decode_ep_ports(ports, join(q, p, "ports"), false, set, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int decode_slice_endpoint(const json_t *e, const char *p, struct k8s_ep_addr *ea,
				 char err[ERR_LEN])
{
	char q[PATH_LEN], ap[PATH_LEN];
	const json_t *addrs, *cond;
	size_t i;
	int ret;

	ret = want_object(e, p, err);
	if (!ret)
		ret = get_arr(e, p, "addresses", true, &addrs, err);
	if (ret)
		return ret;
	join(ap, p, "addresses");
	if (!json_array_size(addrs))
		return fail(err, ap, "must have at least one address");
	/* Consumers use the first address; Kubernetes writes exactly one. */
	for (i = 0; i < json_array_size(addrs); i++) {
		const json_t *a = json_array_get(addrs, i);
		uint32_t ip = 0;

		at(q, ap, i);
		if (!json_is_string(a))
			return fail(err, q, "expected a string, got %s", type_of(a));
		if (has_nul(a))
			return fail(err, q, "contains a NUL character");
		ret = want_ip(json_string_value(a), q, true, &ip, err);
		if (ret)
			return ret;
		if (!i)
			ea->ip = ip;
	}
	ret = get_node_name(e, p, "nodeName", ea->node_name, err);
	if (ret)
		return ret;
	/* Unknown readiness counts as ready; serving follows ready unless given. */
	ea->ready = true;
	ea->terminating = false;
	join(q, p, "conditions");
	ret = get_obj(e, p, "conditions", false, &cond, err);
	if (!ret)
		ret = get_bool(cond, q, "ready", &ea->ready, err);
	ea->serving = ea->ready;
	if (!ret)
		ret = get_bool(cond, q, "serving", &ea->serving, err);
	if (!ret)
		ret = get_bool(cond, q, "terminating", &ea->terminating, err);
	return ret;
}

static int decode_slice(const json_t *doc, const json_t *md, struct k8s_obj *o, char err[ERR_LEN])
{
	struct k8s_endpoints *ep = &o->ep;
	const json_t *labels, *eps, *ports;
	const char *at_type, *svc, *why;
	char p[PATH_LEN], shown[SHOW_LEN];
	struct k8s_ep_set *set;
	size_t i;
	int ret;

	at_type = need_str(doc, "", "addressType", err);
	if (!at_type)
		return -EINVAL;
	if (!strcmp(at_type, "IPv6") || !strcmp(at_type, "FQDN"))
		return fail(err, "addressType", "%s is not supported (svcbpf handles IPv4)",
			    at_type);
	if (strcmp(at_type, "IPv4"))
		return fail(err, "addressType", "'%s' is not an address type (IPv4, IPv6 or FQDN)",
			    show(shown, at_type));
	ret = get_labels(md, "metadata", "labels", NULL, NULL, err);
	if (!ret)
		ret = get_obj(md, "metadata", "labels", false, &labels, err);
	if (!ret)
		ret = get_str(labels, "metadata.labels", SERVICE_NAME_LABEL, false, &svc, err);
	if (ret)
		return ret;
	why = !svc || !*svc ? "required: the name of the Service this slice belongs to" :
			      dns1035_label(svc);
	if (why)
		return fail(err, "metadata.labels[" SERVICE_NAME_LABEL "]", "%s", why);
	snprintf(ep->service, sizeof(ep->service), "%s", svc);
	ep->sets = calloc(1, sizeof(*ep->sets));
	if (!ep->sets)
		return fail(err, "endpoints", "out of memory");
	ep->nsets = 1;
	set = &ep->sets[0];
	ret = get_arr(doc, "", "endpoints", false, &eps, err);
	if (!ret)
		ret = get_arr(doc, "", "ports", false, &ports, err);
	if (ret)
		return ret;
	set->addrs = calloc(json_array_size(eps) + 1, sizeof(*set->addrs));
	if (!set->addrs)
		return fail(err, "endpoints", "out of memory");
	for (i = 0; i < json_array_size(eps); i++) {
		ret = decode_slice_endpoint(json_array_get(eps, i), at(p, "endpoints", i),
					    &set->addrs[i], err);
		if (ret)
			return ret;
		set->naddrs++;
	}
	return decode_ep_ports(ports, "ports", true, set, err);
}

/*
 * Is @api ("group/version") a group Kubernetes itself serves? Custom
 * resources live in groups with a dot outside k8s.io; one of those may
 * well have a kind called "Service" (Knative's) and is not ours.
 */
static bool builtin_group(const char *api)
{
	const char *slash = strrchr(api, '/');
	size_t glen = slash ? (size_t)(slash - api) : 0;

	if (!slash || !memchr(api, '.', glen))
		return true;
	return (glen == 6 && !memcmp(api, "k8s.io", 6)) ||
	       (glen > 7 && !memcmp(api + glen - 7, ".k8s.io", 7));
}

typedef int (*decode_fn)(const json_t *doc, const json_t *md, struct k8s_obj *o, char err[ERR_LEN]);

static const decode_fn decoders[K8S_KIND_MAX] = {
	[K8S_SERVICE] = decode_service,
	[K8S_POD] = decode_pod,
	[K8S_ENDPOINTS] = decode_endpoints,
	[K8S_ENDPOINTSLICE] = decode_slice,
};

/* metadata.name and metadata.namespace. */
static int decode_meta(const json_t *md, struct k8s_obj *o, char err[ERR_LEN])
{
	char shown[SHOW_LEN];
	const char *name, *ns, *why;

	name = need_str(md, "metadata", "name", err);
	if (!name || get_str(md, "metadata", "namespace", false, &ns, err))
		return -EINVAL;
	/* Service names become DNS labels (my-svc.ns.svc); other objects' are subdomains. */
	why = o->kind == K8S_SERVICE ? dns1035_label(name) : dns_subdomain(name);
	if (why)
		return fail(err, "metadata.name", "'%s': %s", show(shown, name), why);
	if (!ns || !*ns)
		ns = K8S_NS_DEFAULT;
	why = dns_label(ns);
	if (why)
		return fail(err, "metadata.namespace", "'%s': %s", show(shown, ns), why);
	snprintf(o->name, sizeof(o->name), "%s", name);
	snprintf(o->ns, sizeof(o->ns), "%s", ns);
	return 0;
}

int k8s_decode(const json_t *doc, struct k8s_obj *o, char err[ERR_LEN])
{
	char shown[SHOW_LEN], shown2[SHOW_LEN];
	const char *kind, *api;
	const json_t *md;
	int k, ret;

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	if (!json_is_object(doc))
		return fail(err, "document", "expected an object, got %s", type_of(doc));
	kind = need_str(doc, "", "kind", err);
	if (!kind)
		return -EINVAL;
	api = need_str(doc, "", "apiVersion", err);
	if (!api)
		return -EINVAL;
	if (!*kind)
		return fail(err, "kind", "required");
	for (k = 0; k < K8S_KIND_MAX; k++)
		if (!strcmp(kind, kind_names[k]))
			break;
	if (k < K8S_KIND_MAX && strcmp(api, kind_api[k]) && builtin_group(api))
		return fail(err, "apiVersion", "'%s' has no %s (it is %s)", show(shown, api),
			    kind_names[k], kind_api[k]);
	if (k == K8S_KIND_MAX || strcmp(api, kind_api[k])) {
		const char *name = json_string_value(
			json_object_get(json_object_get(doc, "metadata"), "name"));

		snprintf(err, ERR_LEN, "skipping %s%s%s: svcbpf does not handle this kind",
			 show(shown, kind), name ? "/" : "", name ? show(shown2, name) : "");
		return 0;
	}
	o->kind = (enum k8s_kind)k;
	ret = get_obj(doc, "", "metadata", true, &md, err);
	if (!ret)
		ret = decode_meta(md, o, err);
	if (!ret)
		ret = decoders[k](doc, md, o, err);
	if (ret) {
		k8s_obj_free(o);
		return ret;
	}
	return 1;
}

void k8s_obj_free(struct k8s_obj *o)
{
	if (!o)
		return;
	switch (o->kind) {
	case K8S_SERVICE:
		labels_free(o->svc.selector, o->svc.nselector);
		free(o->svc.ports);
		free(o->svc.external_ips);
		free(o->svc.lb_ips);
		free(o->svc.src_ranges);
		break;
	case K8S_POD:
		labels_free(o->pod.labels, o->pod.nlabels);
		free(o->pod.ports);
		break;
	case K8S_ENDPOINTS:
	case K8S_ENDPOINTSLICE:
		for (size_t i = 0; i < o->ep.nsets; i++) {
			free(o->ep.sets[i].addrs);
			free(o->ep.sets[i].ports);
		}
		free(o->ep.sets);
		break;
	case K8S_KIND_MAX:
		break;
	}
	memset(o, 0, sizeof(*o));
}
