// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_k8s_ctl.c - the endpoints controller: label selection, readiness,
 * named and multiple ports, publishNotReadyAddresses, terminating pods,
 * Services without a selector (Endpoints, EndpointSlices), headless, and
 * the Endpoints object it writes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	};

	return cmocka_run_group_tests_name("k8s controller", tests, NULL, NULL);
}
