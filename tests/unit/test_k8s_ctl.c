// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_k8s_ctl.c - the endpoints controller: label selection, readiness,
 * named and multiple ports, publishNotReadyAddresses, terminating pods,
 * Services without a selector (Endpoints, EndpointSlices), headless, the
 * Endpoints object it writes; the external frontends (NodePort, external
 * and LoadBalancer IPs) with their flags and source ranges,
 * externalTrafficPolicy Local by node name, and the health checks.
 */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s_ctl.h"
#include "svcbpf.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static struct k8s_set set;

/* Decode @json (one object) into the set. */
static void add(const char *json)
{
	json_error_t je;
	json_t *doc = json_loads(json, 0, &je);
	char err[ERR_LEN];
	size_t i = set.n;

	if (!doc)
		fail_msg("bad test JSON: %s: %s", je.text, json);
	set.obj = realloc(set.obj, (i + 1) * sizeof(*set.obj));
	set.created = realloc(set.created, (i + 1) * sizeof(*set.created));
	set.doc = realloc(set.doc, (i + 1) * sizeof(*set.doc));
	assert_non_null(set.obj);
	assert_non_null(set.created);
	assert_non_null(set.doc);
	memset(&set.obj[i], 0, sizeof(set.obj[i]));
	if (k8s_decode(doc, &set.obj[i], err) != 1)
		fail_msg("decode: %s: %s", err, json);
	set.doc[i] = doc;
	set.created[i] = 0;
	set.n++;
}

static void pod(const char *name, const char *ns, const char *labels, const char *ip, bool ready,
		const char *ports, bool terminating)
{
	char buf[2048];

	snprintf(
		buf, sizeof(buf),
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		"\"namespace\":\"%s\",\"labels\":{%s}%s},\"spec\":{\"containers\":[{\"name\":\"c\","
		"\"ports\":[%s]}]},\"status\":{\"podIP\":\"%s\",\"conditions\":[{\"type\":"
		"\"Ready\",\"status\":\"%s\"}]}}",
		name, ns, labels,
		terminating ? ",\"deletionTimestamp\":\"2026-11-30T00:00:00Z\"" : "", ports, ip,
		ready ? "True" : "False");
	add(buf);
}

/* A Ready (or not) pod app=web on @node ("" none) at @ip serving 8080; @terminating. */
static void pod_on(const char *name, const char *ip, const char *node, bool ready, bool terminating)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		 "\"labels\":{\"app\":\"web\"}%s},\"spec\":{\"nodeName\":\"%s\"},"
		 "\"status\":{\"podIP\":\"%s\",\"conditions\":[{\"type\":\"Ready\","
		 "\"status\":\"%s\"}]}}",
		 name, terminating ? ",\"deletionTimestamp\":\"2026-11-30T00:00:00Z\"" : "", node,
		 ip, ready ? "True" : "False");
	add(buf);
}

static int teardown(void **state)
{
	(void)state;
	k8s_set_free(&set);
	return 0;
}

/* The translations, and the one for @ip:@port/@proto. */
static const struct k8s_xlate *xlate_of(struct k8s_xlate *x, size_t n, uint32_t ip, uint16_t port,
					uint8_t proto)
{
	for (size_t i = 0; i < n; i++)
		if (x[i].rec.addr.ip == ip && x[i].rec.addr.port == port &&
		    x[i].rec.addr.proto == proto)
			return &x[i];
	return NULL;
}

static const struct be_rec *be_of(const struct k8s_xlate *x, uint32_t ip)
{
	for (size_t i = 0; i < x->rec.nbe; i++)
		if (x->rec.be[i].addr.ip == ip)
			return &x->rec.be[i];
	return NULL;
}

static const char seed_svc[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"my-service\"},"
	"\"spec\":{\"clusterIP\":\"10.96.0.50\",\"selector\":{\"app\":\"my-app\"},"
	"\"ports\":[{\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}]}}";

/* The seed: two Ready pods with app=my-app, one other; 10.96.0.50:80 -> both at 8080. */
static void test_seed(void **state)
{
	struct k8s_xlate *x;
	const struct k8s_xlate *t;
	size_t n;
	json_t *ep, *sub;
	char *text;

	(void)state;
	add(seed_svc);
	pod("pod1", "default", "\"app\":\"my-app\"", "10.244.1.10", true, "", false);
	pod("pod2", "default", "\"app\":\"my-app\",\"tier\":\"web\"", "10.244.2.15", true, "",
	    false);
	pod("pod3", "default", "\"app\":\"other\"", "10.244.3.20", true, "", false);
	pod("pod4", "elsewhere", "\"app\":\"my-app\"", "10.244.3.21", true, "", false);
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	assert_int_equal(n, 1);
	t = xlate_of(x, n, IP(10, 96, 0, 50), 80, IPPROTO_TCP);
	assert_non_null(t);
	assert_string_equal(t->owner, "default/my-service");
	assert_int_equal(t->rec.nbe, 2);
	assert_non_null(be_of(t, IP(10, 244, 1, 10)));
	assert_non_null(be_of(t, IP(10, 244, 2, 15)));
	assert_int_equal(be_of(t, IP(10, 244, 1, 10))->addr.port, 8080);
	assert_int_equal(be_of(t, IP(10, 244, 1, 10))->state, SVCBPF_BE_ACTIVE);
	k8s_xlates_free(x, n);

	/* The Endpoints object, shaped as Kubernetes writes it. */
	ep = k8s_endpoints_json(&set, &set.obj[0]);
	assert_non_null(ep);
	text = json_dumps(ep, JSON_COMPACT);
	print_message("# Endpoints: %s\n", text);
	free(text);
	assert_string_equal(json_string_value(json_object_get(ep, "kind")), "Endpoints");
	assert_string_equal(json_string_value(json_object_get(ep, "apiVersion")), "v1");
	assert_int_equal(json_array_size(json_object_get(ep, "subsets")), 1);
	sub = json_array_get(json_object_get(ep, "subsets"), 0);
	assert_int_equal(json_array_size(json_object_get(sub, "addresses")), 2);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(sub, "ports"), 0), "port")),
			 8080);
	json_decref(ep);
}

/*
 * Not Ready pods take no new flows but keep theirs (listed not ready), unless
 * publishNotReadyAddresses; terminating ones drain.
 */
static void test_readiness(void **state)
{
	struct k8s_xlate *x;
	const struct k8s_xlate *t;
	size_t n;
	json_t *ep, *sub;

	(void)state;
	add(seed_svc);
	pod("pod1", "default", "\"app\":\"my-app\"", "10.244.1.10", true, "", false);
	pod("pod2", "default", "\"app\":\"my-app\"", "10.244.2.15", false, "", false);
	pod("pod3", "default", "\"app\":\"my-app\"", "10.244.3.20", true, "", true);
	pod("pod5", "default", "\"app\":\"my-app\"", "", true, "", false); /* no IP yet */
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	t = xlate_of(x, n, IP(10, 96, 0, 50), 80, IPPROTO_TCP);
	assert_non_null(t);
	assert_int_equal(t->rec.nbe, 3);
	assert_int_equal(be_of(t, IP(10, 244, 1, 10))->state, SVCBPF_BE_ACTIVE);
	assert_int_equal(be_of(t, IP(10, 244, 2, 15))->state, SVCBPF_BE_DRAINING);
	assert_int_equal(be_of(t, IP(10, 244, 3, 20))->state, SVCBPF_BE_DRAINING);
	k8s_xlates_free(x, n);

	ep = k8s_endpoints_json(&set, &set.obj[0]);
	sub = json_array_get(json_object_get(ep, "subsets"), 0);
	assert_int_equal(json_array_size(json_object_get(sub, "addresses")), 1);
	assert_int_equal(json_array_size(json_object_get(sub, "notReadyAddresses")), 1);
	json_decref(ep);
}

static void test_publish_not_ready(void **state)
{
	struct k8s_xlate *x;
	size_t n;

	(void)state;
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.51\",\"publishNotReadyAddresses\":true,"
	    "\"selector\":{\"app\":\"a\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}}");
	pod("p1", "default", "\"app\":\"a\"", "10.244.1.10", false, "", false);
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	assert_int_equal(x[0].rec.nbe, 1);
	assert_int_equal(x[0].rec.be[0].state, SVCBPF_BE_ACTIVE);
	k8s_xlates_free(x, n);
}

/* With no ready endpoint, serving terminating ones take new flows (kube-proxy's fallback). */
static void test_terminating_fallback(void **state)
{
	struct k8s_xlate *x;
	size_t n;

	(void)state;
	add(seed_svc);
	pod("old", "default", "\"app\":\"my-app\"", "10.244.1.10", true, "", true);
	pod("new", "default", "\"app\":\"my-app\"", "10.244.2.15", false, "", false);
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	assert_int_equal(x[0].rec.nbe, 2);
	assert_int_equal(be_of(&x[0], IP(10, 244, 1, 10))->state, SVCBPF_BE_ACTIVE);
	assert_int_equal(be_of(&x[0], IP(10, 244, 2, 15))->state, SVCBPF_BE_DRAINING);
	k8s_xlates_free(x, n);
}

/* Two ports, named targetPorts resolved per pod; a pod without the name serves only the other. */
static void test_named_multi_port(void **state)
{
	struct k8s_xlate *x;
	const struct k8s_xlate *web, *dns;
	size_t n;

	(void)state;
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"m\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.52\",\"selector\":{\"app\":\"m\"},"
	    "\"sessionAffinity\":\"ClientIP\","
	    "\"ports\":[{\"name\":\"web\",\"port\":80,\"targetPort\":\"http\"},"
	    "{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\",\"targetPort\":\"dns\"}]}}");
	pod("a", "default", "\"app\":\"m\"", "10.244.1.10", true,
	    "{\"name\":\"http\",\"containerPort\":8080},"
	    "{\"name\":\"dns\",\"containerPort\":5353,\"protocol\":\"UDP\"}",
	    false);
	pod("b", "default", "\"app\":\"m\"", "10.244.2.15", true,
	    "{\"name\":\"http\",\"containerPort\":9090}", false);
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	assert_int_equal(n, 2);
	web = xlate_of(x, n, IP(10, 96, 0, 52), 80, IPPROTO_TCP);
	dns = xlate_of(x, n, IP(10, 96, 0, 52), 53, IPPROTO_UDP);
	assert_non_null(web);
	assert_non_null(dns);
	assert_int_equal(web->rec.affinity, SVCBPF_AFFINITY_TIMEOUT);
	assert_int_equal(web->rec.nbe, 2);
	assert_int_equal(be_of(web, IP(10, 244, 1, 10))->addr.port, 8080);
	assert_int_equal(be_of(web, IP(10, 244, 2, 15))->addr.port, 9090);
	assert_int_equal(dns->rec.nbe, 1);
	assert_int_equal(dns->rec.be[0].addr.port, 5353);
	assert_int_equal(dns->rec.be[0].addr.proto, IPPROTO_UDP);
	k8s_xlates_free(x, n);
}

/* Without a selector: Endpoints and EndpointSlices as written; terminating slices drain. */
static void test_no_selector(void **state)
{
	struct k8s_xlate *x;
	const struct k8s_xlate *t;
	size_t n;

	(void)state;
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"ext\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.53\","
	    "\"ports\":[{\"port\":80,\"targetPort\":8080}]}}");
	add("{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"ext\"},"
	    "\"subsets\":[{\"addresses\":[{\"ip\":\"10.1.0.1\"}],"
	    "\"notReadyAddresses\":[{\"ip\":\"10.1.0.2\"}],\"ports\":[{\"port\":8080}]}]}");
	add("{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
	    "\"metadata\":{\"name\":\"ext-abc\",\"labels\":{\"kubernetes.io/service-name\":"
	    "\"ext\"}},\"addressType\":\"IPv4\",\"endpoints\":["
	    "{\"addresses\":[\"10.1.0.3\"],\"conditions\":{\"ready\":true}},"
	    "{\"addresses\":[\"10.1.0.4\"],\"conditions\":{\"ready\":false,\"serving\":true,"
	    "\"terminating\":true}}],\"ports\":[{\"port\":8080}]}");
	/* A pod that would match nothing: a Service without a selector never selects. */
	pod("p", "default", "\"app\":\"ext\"", "10.244.1.10", true, "", false);
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	t = xlate_of(x, n, IP(10, 96, 0, 53), 80, IPPROTO_TCP);
	assert_non_null(t);
	assert_int_equal(t->rec.nbe, 4);
	assert_int_equal(be_of(t, IP(10, 1, 0, 1))->state, SVCBPF_BE_ACTIVE);
	assert_int_equal(be_of(t, IP(10, 1, 0, 2))->state, SVCBPF_BE_DRAINING);
	assert_int_equal(be_of(t, IP(10, 1, 0, 3))->state, SVCBPF_BE_ACTIVE);
	assert_int_equal(be_of(t, IP(10, 1, 0, 4))->state, SVCBPF_BE_DRAINING);
	assert_null(be_of(t, IP(10, 244, 1, 10)));
	k8s_xlates_free(x, n);
}

/* Headless and ExternalName Services have no translation; their endpoints still exist. */
static void test_headless(void **state)
{
	struct k8s_xlate *x;
	size_t n;
	json_t *ep;

	(void)state;
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"h\"},"
	    "\"spec\":{\"clusterIP\":\"None\",\"selector\":{\"app\":\"h\"},"
	    "\"ports\":[{\"port\":80}]}}");
	pod("p", "default", "\"app\":\"h\"", "10.244.1.10", true, "", false);
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	assert_int_equal(n, 0);
	k8s_xlates_free(x, n);
	ep = k8s_endpoints_json(&set, &set.obj[0]);
	assert_int_equal(json_array_size(json_object_get(
				 json_array_get(json_object_get(ep, "subsets"), 0), "addresses")),
			 1);
	json_decref(ep);
}

/* A Service whose selector matches nothing has a translation with no backend (it rejects). */
static void test_no_endpoints(void **state)
{
	struct k8s_xlate *x;
	size_t n;
	json_t *ep, *sl;

	(void)state;
	add(seed_svc);
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(x[0].rec.nbe, 0);
	k8s_xlates_free(x, n);
	ep = k8s_endpoints_json(&set, &set.obj[0]);
	assert_null(json_object_get(ep, "subsets"));
	json_decref(ep);
	sl = k8s_slices_json(&set, &set.obj[0]);
	assert_int_equal(json_array_size(sl), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(sl, 0), "endpoints")), 0);
	json_decref(sl);
}

/* The addresses of @t's backends, sorted, as "a,b,c" (for exact comparison). */
static const char *bes(const struct k8s_xlate *t)
{
	static char buf[512];
	uint32_t ips[32];
	size_t n = 0, off = 0;

	assert_non_null(t);
	for (size_t i = 0; i < t->rec.nbe && n < 32; i++)
		ips[n++] = t->rec.be[i].addr.ip;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && ips[j - 1] > ips[j]; j--) {
			uint32_t t2 = ips[j];

			ips[j] = ips[j - 1];
			ips[j - 1] = t2;
		}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u.%u.%u.%u", i ? "," : "",
					ips[i] >> 24, ips[i] >> 16 & 255, ips[i] >> 8 & 255,
					ips[i] & 255);
	return buf;
}

static const char lb_svc[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"lb\"},"
	"\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.60\","
	"\"selector\":{\"app\":\"web\"},\"externalIPs\":[\"192.0.2.50\"],"
	"\"loadBalancerSourceRanges\":[\"198.51.100.0/24\",\"10.0.0.0/8\",\"10.0.0.0/8\"],"
	"\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080},"
	"{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\",\"targetPort\":8080,"
	"\"nodePort\":30053}]},"
	"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.10\"},"
	"{\"hostname\":\"lb.example.com\"},{\"ip\":\"192.0.2.50\"}]}}}";

/*
 * A LoadBalancer (Cluster policy): per port the ClusterIP (flags 0), the
 * NodePort, the external IP and each ingress IP (EXTERNAL|MASQ); source
 * ranges (sorted, once each) on the ingress IPs only; an address given as
 * both an external and an ingress IP is one frontend.
 */
static void test_external_frontends(void **state)
{
	const uint16_t ext = SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ;
	struct k8s_xlate *x;
	const struct k8s_xlate *t;
	size_t n;

	(void)state;
	add(lb_svc);
	pod_on("a", "10.244.1.10", "node-a", true, false);
	pod_on("b", "10.244.2.15", "node-b", true, false);
	assert_int_equal(k8s_translations_on(&set, "node-a", &x, &n), 0);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(x[i].owner, "default/lb");
		assert_string_equal(bes(&x[i]), "10.244.1.10,10.244.2.15");
	}
	t = xlate_of(x, n, IP(10, 96, 0, 60), 80, IPPROTO_TCP);
	assert_int_equal(t->rec.flags, 0);
	assert_int_equal(t->rec.nranges, 0);
	t = xlate_of(x, n, 0, 30080, IPPROTO_TCP);
	assert_non_null(t);
	assert_int_equal(t->rec.flags, ext);
	assert_int_equal(t->rec.nranges, 0);
	t = xlate_of(x, n, 0, 30053, IPPROTO_UDP);
	assert_non_null(t);
	assert_int_equal(t->rec.flags, ext);
	t = xlate_of(x, n, IP(192, 0, 2, 10), 80, IPPROTO_TCP);
	assert_non_null(t);
	assert_int_equal(t->rec.flags, ext);
	assert_int_equal(t->rec.nranges, 2);
	assert_int_equal(t->rec.ranges[0].ip, IP(10, 0, 0, 0));
	assert_int_equal(t->rec.ranges[0].len, 8);
	assert_int_equal(t->rec.ranges[1].ip, IP(198, 51, 100, 0));
	assert_int_equal(t->rec.ranges[1].len, 24);
	/* 192.0.2.50 is an external IP first: no ranges (they are the LoadBalancer's). */
	t = xlate_of(x, n, IP(192, 0, 2, 50), 53, IPPROTO_UDP);
	assert_non_null(t);
	assert_int_equal(t->rec.flags, ext);
	assert_int_equal(t->rec.nranges, 0);
	assert_non_null(xlate_of(x, n, IP(192, 0, 2, 10), 53, IPPROTO_UDP));
	assert_null(xlate_of(x, n, 0, 80, IPPROTO_TCP));
	k8s_xlates_free(x, n);
}

/*
 * externalTrafficPolicy Local: the external frontends get this node's
 * endpoints (and those with no node name); the ClusterIP keeps them all.
 * The terminating fallback works within the local set.
 */
static void test_local_policy(void **state)
{
	const uint16_t loc = SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_LOCAL;
	struct k8s_xlate *x;
	const struct k8s_xlate *t;
	size_t n;

	(void)state;
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"np\"},"
	    "\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.61\","
	    "\"externalTrafficPolicy\":\"Local\",\"selector\":{\"app\":\"web\"},"
	    "\"externalIPs\":[\"192.0.2.51\"],"
	    "\"ports\":[{\"port\":80,\"targetPort\":8080,\"nodePort\":30081}]}}");
	pod_on("a1", "10.244.1.10", "node-a", true, false);
	pod_on("a2", "10.244.1.11", "node-a", true, false);
	pod_on("b1", "10.244.2.15", "node-b", true, false);
	pod_on("c1", "10.244.3.20", "", true, false);
	assert_int_equal(k8s_translations_on(&set, "node-a", &x, &n), 0);
	assert_int_equal(n, 3);
	t = xlate_of(x, n, IP(10, 96, 0, 61), 80, IPPROTO_TCP);
	assert_int_equal(t->rec.flags, 0);
	assert_string_equal(bes(t), "10.244.1.10,10.244.1.11,10.244.2.15,10.244.3.20");
	t = xlate_of(x, n, 0, 30081, IPPROTO_TCP);
	assert_int_equal(t->rec.flags, loc);
	assert_string_equal(bes(t), "10.244.1.10,10.244.1.11,10.244.3.20");
	t = xlate_of(x, n, IP(192, 0, 2, 51), 80, IPPROTO_TCP);
	assert_int_equal(t->rec.flags, loc);
	assert_string_equal(bes(t), "10.244.1.10,10.244.1.11,10.244.3.20");
	k8s_xlates_free(x, n);

	assert_int_equal(k8s_translations_on(&set, "node-b", &x, &n), 0);
	assert_string_equal(bes(xlate_of(x, n, 0, 30081, IPPROTO_TCP)), "10.244.2.15,10.244.3.20");
	k8s_xlates_free(x, n);
	assert_int_equal(k8s_translations_on(&set, "node-z", &x, &n), 0);
	assert_string_equal(bes(xlate_of(x, n, 0, 30081, IPPROTO_TCP)), "10.244.3.20");
	k8s_xlates_free(x, n);
	/* No node given (k8s_translations): every endpoint counts as local. */
	assert_int_equal(k8s_translations(&set, &x, &n), 0);
	assert_int_equal(xlate_of(x, n, 0, 30081, IPPROTO_TCP)->rec.nbe, 4);
	k8s_xlates_free(x, n);

	/* node-b's only pod terminating (still serving): it takes new external flows. */
	k8s_set_free(&set);
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"np\"},"
	    "\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.61\","
	    "\"externalTrafficPolicy\":\"Local\",\"selector\":{\"app\":\"web\"},"
	    "\"ports\":[{\"port\":80,\"targetPort\":8080,\"nodePort\":30081}]}}");
	pod_on("a1", "10.244.1.10", "node-a", true, false);
	pod_on("b1", "10.244.2.15", "node-b", true, true);
	assert_int_equal(k8s_translations_on(&set, "node-b", &x, &n), 0);
	t = xlate_of(x, n, 0, 30081, IPPROTO_TCP);
	assert_string_equal(bes(t), "10.244.2.15");
	assert_int_equal(t->rec.be[0].state, SVCBPF_BE_ACTIVE);
	t = xlate_of(x, n, IP(10, 96, 0, 61), 80, IPPROTO_TCP);
	assert_int_equal(be_of(t, IP(10, 244, 2, 15))->state, SVCBPF_BE_DRAINING);
	k8s_xlates_free(x, n);
}

/* Local with Endpoints and an EndpointSlice: their nodeName decides. */
static void test_local_endpoints(void **state)
{
	struct k8s_xlate *x;
	size_t n;

	(void)state;
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"ext\"},"
	    "\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.62\","
	    "\"externalTrafficPolicy\":\"Local\","
	    "\"ports\":[{\"name\":\"http\",\"port\":80,\"nodePort\":30082}]}}");
	add("{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"ext\"},"
	    "\"subsets\":[{\"addresses\":[{\"ip\":\"10.1.0.1\",\"nodeName\":\"node-a\"},"
	    "{\"ip\":\"10.1.0.2\",\"nodeName\":\"node-b\"}],"
	    "\"ports\":[{\"name\":\"http\",\"port\":8080}]}]}");
	add("{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
	    "\"metadata\":{\"name\":\"ext-1\",\"labels\":{\"kubernetes.io/service-name\":"
	    "\"ext\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.1.0.3\"],"
	    "\"nodeName\":\"node-a\"},{\"addresses\":[\"10.1.0.4\"],\"nodeName\":\"node-c\"}],"
	    "\"ports\":[{\"name\":\"http\",\"port\":8080}]}");
	assert_int_equal(k8s_translations_on(&set, "node-a", &x, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(bes(xlate_of(x, n, 0, 30082, IPPROTO_TCP)), "10.1.0.1,10.1.0.3");
	assert_string_equal(bes(xlate_of(x, n, IP(10, 96, 0, 62), 80, IPPROTO_TCP)),
			    "10.1.0.1,10.1.0.2,10.1.0.3,10.1.0.4");
	k8s_xlates_free(x, n);
}

/*
 * allocateLoadBalancerNodePorts false: a port without a nodePort has no
 * NodePort frontend, one given keeps it. A ClusterIP Service with external
 * IPs gets them (Cluster policy), no NodePort.
 */
static void test_node_ports_off_and_cluster_external(void **state)
{
	struct k8s_xlate *x;
	size_t n;

	(void)state;
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"lb\"},"
	    "\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.63\","
	    "\"allocateLoadBalancerNodePorts\":false,"
	    "\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":81,"
	    "\"nodePort\":30181}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":"
	    "\"192.0.2.70\"}]}}}");
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"cip\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.64\",\"externalIPs\":[\"192.0.2.71\"],"
	    "\"ports\":[{\"port\":80}]}}");
	assert_int_equal(k8s_translations_on(&set, "node-a", &x, &n), 0);
	assert_int_equal(n, 7);
	assert_null(xlate_of(x, n, 0, 80, IPPROTO_TCP));
	assert_non_null(xlate_of(x, n, 0, 30181, IPPROTO_TCP));
	assert_non_null(xlate_of(x, n, IP(192, 0, 2, 70), 80, IPPROTO_TCP));
	assert_non_null(xlate_of(x, n, IP(192, 0, 2, 70), 81, IPPROTO_TCP));
	assert_int_equal(xlate_of(x, n, IP(192, 0, 2, 71), 80, IPPROTO_TCP)->rec.flags,
			 SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ);
	assert_int_equal(xlate_of(x, n, IP(10, 96, 0, 64), 80, IPPROTO_TCP)->rec.flags, 0);
	k8s_xlates_free(x, n);
}

/* Health checks: LoadBalancer + Local with a healthCheckNodePort, local ready endpoints. */
static void test_health_checks(void **state)
{
	struct k8s_health *h;
	size_t n;

	(void)state;
	add("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"lb\","
	    "\"namespace\":\"apps\"},\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":"
	    "\"10.96.0.65\",\"externalTrafficPolicy\":\"Local\",\"healthCheckNodePort\":32001,"
	    "\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}}");
	/* Cluster policy and NodePort Services have none. */
	add(lb_svc);
	pod("a1", "apps", "\"app\":\"web\"", "10.244.1.10", true, "", false);
	pod("a2", "apps", "\"app\":\"web\"", "10.244.1.11", false, "", false);
	pod("a3", "apps", "\"app\":\"web\"", "10.244.1.12", true, "", true);
	add("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b1\","
	    "\"namespace\":\"apps\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":"
	    "\"node-b\"},\"status\":{\"podIP\":\"10.244.2.15\",\"conditions\":[{\"type\":"
	    "\"Ready\",\"status\":\"True\"}]}}");
	add("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b2\","
	    "\"namespace\":\"apps\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":"
	    "\"node-b\"},\"status\":{\"podIP\":\"10.244.2.16\",\"conditions\":[{\"type\":"
	    "\"Ready\",\"status\":\"True\"}]}}");
	assert_int_equal(k8s_health_checks(&set, "node-b", &h, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].ns, "apps");
	assert_string_equal(h[0].name, "lb");
	assert_int_equal(h[0].port, 32001);
	/* a1 (no node: local), b1, b2; not a2 (not ready) nor a3 (terminating). */
	assert_int_equal(h[0].local_endpoints, 3);
	free(h);
	assert_int_equal(k8s_health_checks(&set, "node-a", &h, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].local_endpoints, 1);
	free(h);
}

/* The node's name: the stored setting, else the host name in lower case. */
static void test_node_name(void **state)
{
	char dir[] = "/tmp/test_k8s_ctl.XXXXXX", err[ERR_LEN], name[K8S_NAME_LEN], host[256];
	char path[sizeof(dir) + 64];
	struct store *s;

	(void)state;
	assert_non_null(mkdtemp(dir));
	if (store_open(dir, &s, err))
		fail_msg("store_open: %s", err);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	for (char *c = host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	assert_int_equal(k8s_node_name(s, name, sizeof(name)), 0);
	assert_string_equal(name, host);
	assert_int_equal(store_setting_set(s, "node-name", "node-a.example"), 0);
	assert_int_equal(k8s_node_name(s, name, sizeof(name)), 0);
	assert_string_equal(name, "node-a.example");
	store_close(s);
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_seed, teardown),
		cmocka_unit_test_teardown(test_readiness, teardown),
		cmocka_unit_test_teardown(test_publish_not_ready, teardown),
		cmocka_unit_test_teardown(test_terminating_fallback, teardown),
		cmocka_unit_test_teardown(test_named_multi_port, teardown),
		cmocka_unit_test_teardown(test_no_selector, teardown),
		cmocka_unit_test_teardown(test_headless, teardown),
		cmocka_unit_test_teardown(test_no_endpoints, teardown),
		cmocka_unit_test_teardown(test_external_frontends, teardown),
		cmocka_unit_test_teardown(test_local_policy, teardown),
		cmocka_unit_test_teardown(test_local_endpoints, teardown),
		cmocka_unit_test_teardown(test_node_ports_off_and_cluster_external, teardown),
		cmocka_unit_test_teardown(test_health_checks, teardown),
		cmocka_unit_test(test_node_name),
	};

	return cmocka_run_group_tests_name("k8s controller", tests, NULL, NULL);
}
