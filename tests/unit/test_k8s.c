// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_k8s.c - manifests in, validated objects out (k8s.h): real kubectl
 * output, a guestbook-style multi-document file, JSON, Lists, directories
 * and stdin; YAML's core schema, anchors and merge keys; every kind's
 * fields and defaults; and every refusal, checked by the field path the
 * message starts with. Files go to a mkdtemp() directory, removed at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[] = "/tmp/test_k8s.XXXXXX";

/* ---- real inputs ---- */

/* The seed's Service. */
static const char seed_svc[] = "apiVersion: v1\n"
			       "kind: Service\n"
			       "metadata:\n"
			       "  name: my-service\n"
			       "spec:\n"
			       "  selector:\n"
			       "    app: my-app\n"
			       "  ports:\n"
			       "    - protocol: TCP\n"
			       "      port: 80\n"
			       "      targetPort: 8080\n";

/* Its Endpoints, as the endpoints controller writes them (kubectl get -o yaml). */
static const char seed_ep[] = "apiVersion: v1\n"
			      "kind: Endpoints\n"
			      "metadata:\n"
			      "  annotations:\n"
			      "    endpoints.kubernetes.io/last-change-trigger-time: "
			      "\"2024-05-01T10:00:00Z\"\n"
			      "  creationTimestamp: \"2024-05-01T09:59:58Z\"\n"
			      "  name: my-service\n"
			      "  namespace: default\n"
			      "  resourceVersion: \"1234\"\n"
			      "  uid: 7f1c2a3e-1b2c-4d5e-8f90-123456789abc\n"
			      "subsets:\n"
			      "- addresses:\n"
			      "  - ip: 10.244.1.10\n"
			      "    nodeName: node-1\n"
			      "    targetRef:\n"
			      "      kind: Pod\n"
			      "      name: my-app-6d4b7c9f8-abcde\n"
			      "      namespace: default\n"
			      "      uid: 0a1b2c3d-0000-4000-8000-000000000001\n"
			      "  - ip: 10.244.2.15\n"
			      "    nodeName: node-2\n"
			      "    targetRef:\n"
			      "      kind: Pod\n"
			      "      name: my-app-6d4b7c9f8-fghij\n"
			      "      namespace: default\n"
			      "      uid: 0a1b2c3d-0000-4000-8000-000000000002\n"
			      "  ports:\n"
			      "  - port: 8080\n"
			      "    protocol: TCP\n";

/* kubectl create service clusterip my-svc --tcp=80:8080 --dry-run=client -o yaml (1.32) */
static const char kubectl_svc_yaml[] = "apiVersion: v1\n"
				       "kind: Service\n"
				       "metadata:\n"
				       "  creationTimestamp: null\n"
				       "  labels:\n"
				       "    app: my-svc\n"
				       "  name: my-svc\n"
				       "spec:\n"
				       "  ports:\n"
				       "  - name: 80-8080\n"
				       "    port: 80\n"
				       "    protocol: TCP\n"
				       "    targetPort: 8080\n"
				       "  selector:\n"
				       "    app: my-svc\n"
				       "  type: ClusterIP\n"
				       "status:\n"
				       "  loadBalancer: {}\n";

/* The same with -o json. */
static const char kubectl_svc_json[] = "{\n"
				       "    \"kind\": \"Service\",\n"
				       "    \"apiVersion\": \"v1\",\n"
				       "    \"metadata\": {\n"
				       "        \"name\": \"my-svc\",\n"
				       "        \"creationTimestamp\": null,\n"
				       "        \"labels\": {\n"
				       "            \"app\": \"my-svc\"\n"
				       "        }\n"
				       "    },\n"
				       "    \"spec\": {\n"
				       "        \"ports\": [\n"
				       "            {\n"
				       "                \"name\": \"80-8080\",\n"
				       "                \"protocol\": \"TCP\",\n"
				       "                \"port\": 80,\n"
				       "                \"targetPort\": 8080\n"
				       "            }\n"
				       "        ],\n"
				       "        \"selector\": {\n"
				       "            \"app\": \"my-svc\"\n"
				       "        },\n"
				       "        \"type\": \"ClusterIP\"\n"
				       "    },\n"
				       "    \"status\": {\n"
				       "        \"loadBalancer\": {}\n"
				       "    }\n"
				       "}\n";

/* kubectl create deployment web --image=nginx --port=80 --dry-run=client -o yaml */
static const char kubectl_deploy[] = "apiVersion: apps/v1\n"
				     "kind: Deployment\n"
				     "metadata:\n"
				     "  creationTimestamp: null\n"
				     "  labels:\n"
				     "    app: web\n"
				     "  name: web\n"
				     "spec:\n"
				     "  replicas: 1\n"
				     "  selector:\n"
				     "    matchLabels:\n"
				     "      app: web\n"
				     "  strategy: {}\n"
				     "  template:\n"
				     "    metadata:\n"
				     "      creationTimestamp: null\n"
				     "      labels:\n"
				     "        app: web\n"
				     "    spec:\n"
				     "      containers:\n"
				     "      - image: nginx\n"
				     "        name: nginx\n"
				     "        ports:\n"
				     "        - containerPort: 80\n"
				     "        resources: {}\n"
				     "status: {}\n";

/* kubectl create service clusterip my-hl --clusterip=None --dry-run=client -o yaml */
static const char kubectl_headless[] = "apiVersion: v1\n"
				       "kind: Service\n"
				       "metadata:\n"
				       "  creationTimestamp: null\n"
				       "  labels:\n"
				       "    app: my-hl\n"
				       "  name: my-hl\n"
				       "spec:\n"
				       "  clusterIP: None\n"
				       "  selector:\n"
				       "    app: my-hl\n"
				       "  type: ClusterIP\n"
				       "status:\n"
				       "  loadBalancer: {}\n";

/* kubectl create service externalname ext --external-name=db.example.com ... -o yaml */
static const char kubectl_extname[] = "apiVersion: v1\n"
				      "kind: Service\n"
				      "metadata:\n"
				      "  creationTimestamp: null\n"
				      "  labels:\n"
				      "    app: ext\n"
				      "  name: ext\n"
				      "spec:\n"
				      "  externalName: db.example.com\n"
				      "  selector:\n"
				      "    app: ext\n"
				      "  type: ExternalName\n"
				      "status:\n"
				      "  loadBalancer: {}\n";

/* Guestbook-style: Services and Deployments, a ConfigMap, comments, flow style, anchors. */
static const char guestbook[] = "# Guestbook: a Redis leader and followers, and a frontend.\n"
				"apiVersion: v1\n"
				"kind: Service\n"
				"metadata:\n"
				"  name: redis-leader\n"
				"  labels: &leader {app: redis, role: leader, tier: backend}\n"
				"spec:\n"
				"  ports:\n"
				"  - port: 6379\n"
				"    targetPort: 6379\n"
				"  selector: *leader\n"
				"---\n"
				"apiVersion: apps/v1\n"
				"kind: Deployment\n"
				"metadata:\n"
				"  name: redis-leader\n"
				"spec:\n"
				"  replicas: 1\n"
				"  selector:\n"
				"    matchLabels: {app: redis}\n"
				"  template:\n"
				"    metadata:\n"
				"      labels: {app: redis, role: leader, tier: backend}\n"
				"    spec:\n"
				"      containers:\n"
				"      - name: leader\n"
				"        image: \"docker.io/redis:6.0.5\"\n"
				"        ports: [{containerPort: 6379}]\n"
				"---\n"
				"# The followers read from the leader.\n"
				"apiVersion: v1\n"
				"kind: Service\n"
				"metadata:\n"
				"  name: redis-follower\n"
				"  labels: {app: redis, role: follower, tier: backend}\n"
				"spec:\n"
				"  ports:\n"
				"    # the Redis port\n"
				"  - port: 6379\n"
				"  selector: {app: redis, role: follower, tier: backend}\n"
				"---\n"
				"---\n"
				"apiVersion: v1\n"
				"kind: ConfigMap\n"
				"metadata: {name: frontend-config}\n"
				"data:\n"
				"  GET_HOSTS_FROM: dns\n"
				"  greeting: |\n"
				"    Hello,\n"
				"    guestbook\n"
				"---\n"
				"apiVersion: v1\n"
				"kind: Service\n"
				"metadata:\n"
				"  name: frontend\n"
				"  labels:\n"
				"    app: guestbook\n"
				"    tier: frontend\n"
				"spec:\n"
				"  type: LoadBalancer\n"
				"  ports:\n"
				"  - port: 80 # the web port\n"
				"  selector:\n"
				"    app: guestbook\n"
				"    tier: frontend\n"
				"...\n"
				"---\n"
				"apiVersion: apps/v1\n"
				"kind: Deployment\n"
				"metadata: {name: frontend}\n"
				"spec:\n"
				"  replicas: 3\n";

/* ---- helpers ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write @text to @name in the temporary directory; the path in @path. */
static const char *put(char path[256], const char *name, const char *text)
{
	FILE *f;

	snprintf(path, 256, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Read @text as file @name; returns k8s_read_files()'s result. */
static int read_text(const char *name, const char *text, struct k8s_docs *d, char err[ERR_LEN])
{
	char path[256];
	char *paths[] = { (char *)put(path, name, text) };

	return k8s_read_files(paths, 1, d, err);
}

/* @text must hold one document: decode it into @o. Returns k8s_decode()'s result. */
static int decode_text(const char *text, struct k8s_obj *o, char err[ERR_LEN])
{
	struct k8s_docs d;
	int ret;

	if (read_text("one.yaml", text, &d, err))
		fail_msg("read: %s\n%s", err, text);
	assert_int_equal(d.n, 1);
	ret = k8s_decode(d.doc[0].json, o, err);
	k8s_docs_free(&d);
	return ret;
}

static void decode_ok(const char *text, struct k8s_obj *o)
{
	char err[ERR_LEN];
	int ret = decode_text(text, o, err);

	if (ret != 1)
		fail_msg("decode returned %d: %s\n%s", ret, err, text);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void assert_one_line(const char *err)
{
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
}

/* ---- reading ---- */

static void test_seed_service(void **state)
{
	struct k8s_obj o;

	(void)state;
	decode_ok(seed_svc, &o);
	assert_int_equal(o.kind, K8S_SERVICE);
	assert_string_equal(o.name, "my-service");
	assert_string_equal(o.ns, "default");
	assert_true(o.svc.has_selector);
	assert_int_equal(o.svc.nselector, 1);
	assert_string_equal(o.svc.selector[0].key, "app");
	assert_string_equal(o.svc.selector[0].value, "my-app");
	assert_int_equal(o.svc.nports, 1);
	assert_string_equal(o.svc.ports[0].name, "");
	assert_int_equal(o.svc.ports[0].proto, IPPROTO_TCP);
	assert_int_equal(o.svc.ports[0].port, 80);
	assert_int_equal(o.svc.ports[0].target_port, 8080);
	assert_string_equal(o.svc.ports[0].target_name, "");
	assert_int_equal(o.svc.cluster_ip, 0);
	assert_false(o.svc.headless);
	assert_string_equal(o.svc.type, "ClusterIP");
	assert_int_equal(o.svc.affinity_timeout, 0);
	assert_false(o.svc.publish_not_ready);
	k8s_obj_free(&o);
	/* Freeing twice is harmless: the object is left zeroed. */
	k8s_obj_free(&o);
}

static void test_seed_endpoints(void **state)
{
	struct k8s_obj o;

	(void)state;
	decode_ok(seed_ep, &o);
	assert_int_equal(o.kind, K8S_ENDPOINTS);
	assert_string_equal(o.name, "my-service");
	assert_string_equal(o.ep.service, "my-service");
	assert_int_equal(o.ep.nsets, 1);
	assert_int_equal(o.ep.sets[0].naddrs, 2);
	assert_int_equal(o.ep.sets[0].addrs[0].ip, IP(10, 244, 1, 10));
	assert_int_equal(o.ep.sets[0].addrs[1].ip, IP(10, 244, 2, 15));
	for (int i = 0; i < 2; i++) {
		assert_true(o.ep.sets[0].addrs[i].ready);
		assert_true(o.ep.sets[0].addrs[i].serving);
		assert_false(o.ep.sets[0].addrs[i].terminating);
	}
	assert_int_equal(o.ep.sets[0].nports, 1);
	assert_int_equal(o.ep.sets[0].ports[0].port, 8080);
	assert_int_equal(o.ep.sets[0].ports[0].proto, IPPROTO_TCP);
	assert_string_equal(o.ep.sets[0].ports[0].name, "");
	k8s_obj_free(&o);
}

static void check_kubectl_svc(const struct k8s_obj *o)
{
	assert_int_equal(o->kind, K8S_SERVICE);
	assert_string_equal(o->name, "my-svc");
	assert_string_equal(o->ns, "default");
	assert_int_equal(o->svc.nports, 1);
	/* "80-8080" is a DNS label, which is what Service port names are. */
	assert_string_equal(o->svc.ports[0].name, "80-8080");
	assert_int_equal(o->svc.ports[0].port, 80);
	assert_int_equal(o->svc.ports[0].target_port, 8080);
	assert_int_equal(o->svc.nselector, 1);
	assert_string_equal(o->svc.selector[0].value, "my-svc");
	assert_string_equal(o->svc.type, "ClusterIP");
}

static void test_kubectl_service(void **state)
{
	struct k8s_docs d, y;
	char err[ERR_LEN];
	struct k8s_obj o;

	(void)state;
	decode_ok(kubectl_svc_yaml, &o);
	check_kubectl_svc(&o);
	k8s_obj_free(&o);

	/* The -o json form, from a .json file: the same object, the same JSON. */
	assert_int_equal(read_text("svc.json", kubectl_svc_json, &d, err), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.doc[0].index, 1);
	assert_int_equal(d.doc[0].line, 1);
	assert_int_equal(k8s_decode(d.doc[0].json, &o, err), 1);
	check_kubectl_svc(&o);
	k8s_obj_free(&o);
	assert_int_equal(read_text("svc.yaml", kubectl_svc_yaml, &y, err), 0);
	assert_true(json_equal(d.doc[0].json, y.doc[0].json));
	/* creationTimestamp: null stays null. */
	assert_true(json_is_null(
		json_object_get(json_object_get(y.doc[0].json, "metadata"), "creationTimestamp")));
	k8s_docs_free(&y);
	k8s_docs_free(&d);
}

static void test_kubectl_deployment_skipped(void **state)
{
	char err[ERR_LEN];
	struct k8s_obj o;

	(void)state;
	assert_int_equal(decode_text(kubectl_deploy, &o, err), 0);
	assert_string_equal(err, "skipping Deployment/web: svcbpf does not handle this kind");
	k8s_obj_free(&o);
}

static void test_kubectl_headless_and_external(void **state)
{
	struct k8s_obj o;

	(void)state;
	/* Kubernetes lets these two go without ports; so does kubectl. */
	decode_ok(kubectl_headless, &o);
	assert_true(o.svc.headless);
	assert_int_equal(o.svc.cluster_ip, 0);
	assert_int_equal(o.svc.nports, 0);
	k8s_obj_free(&o);
	decode_ok(kubectl_extname, &o);
	assert_string_equal(o.svc.type, "ExternalName");
	assert_false(o.svc.headless);
	assert_int_equal(o.svc.cluster_ip, 0);
	k8s_obj_free(&o);
}

static void test_guestbook(void **state)
{
	static const struct {
		int index, line;
		int ret;
		const char *name;
	} want[] = {
		{ 1, 2, 1, "redis-leader" },	{ 2, 13, 0, "redis-leader" },
		{ 3, 31, 1, "redis-follower" }, { 5, 43, 0, "frontend-config" },
		{ 6, 52, 1, "frontend" },	{ 7, 68, 0, "frontend" },
	};
	struct k8s_docs d;
	char err[ERR_LEN];
	struct k8s_obj o;

	(void)state;
	assert_int_equal(read_text("guestbook.yaml", guestbook, &d, err), 0);
	/* Document 4 ("---" alone) is empty and skipped; the numbering keeps counting. */
	assert_int_equal(d.n, ARRAY_SIZE(want));
	for (size_t i = 0; i < d.n; i++) {
		assert_true(strstr(d.doc[i].file, "guestbook.yaml") != NULL);
		assert_int_equal(d.doc[i].index, want[i].index);
		assert_int_equal(d.doc[i].line, want[i].line);
		assert_int_equal(k8s_decode(d.doc[i].json, &o, err), want[i].ret);
		if (want[i].ret == 1)
			assert_string_equal(o.name, want[i].name);
		else
			assert_non_null(strstr(err, want[i].name));
		k8s_obj_free(&o);
	}
	/* The alias gives the selector the labels of the anchor. */
	assert_int_equal(k8s_decode(d.doc[0].json, &o, err), 1);
	assert_int_equal(o.svc.nselector, 3);
	assert_string_equal(o.svc.selector[1].key, "role");
	assert_string_equal(o.svc.selector[1].value, "leader");
	k8s_obj_free(&o);
	assert_int_equal(k8s_decode(d.doc[4].json, &o, err), 1);
	assert_string_equal(o.svc.type, "LoadBalancer");
	assert_int_equal(o.svc.ports[0].target_port, 80);
	k8s_obj_free(&o);
	/* A literal block stays text, newlines included. */
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(d.doc[3].json, "data"), "greeting")),
			    "Hello,\nguestbook\n");
	k8s_docs_free(&d);
}

static void test_core_schema(void **state)
{
	static const char text[] =
		"apiVersion: v1\n"
		"kind: Scalars\n"
		"bools: [true, True, TRUE, false, False, FALSE, yes, on, tRUE]\n"
		"nulls: [null, Null, NULL, ~, nULL]\n"
		"empty:\n"
		"ints: [0, -7, +8, 012, 0x1F, 0o17, 9223372036854775807]\n"
		"floats: [1.5, -0.5, .5, 1e3, 6.02E+23, 99999999999999999999]\n"
		"strings: ['true', \"80\", !!str 5, 0x, 0o8, 1_000, .inf, .nan, 1.2.3, 10.244.1.10]\n"
		"tagged: [!!int \"6\", !!bool \"true\", !!float 1, !!null '', ! 5]\n"
		"block: >\n"
		"  folded\n"
		"  text\n";
	static const char want[] =
		"{\"apiVersion\": \"v1\", \"kind\": \"Scalars\", "
		"\"bools\": [true, true, true, false, false, false, \"yes\", \"on\", \"tRUE\"], "
		"\"nulls\": [null, null, null, null, \"nULL\"], "
		"\"empty\": null, "
		"\"ints\": [0, -7, 8, 12, 31, 15, 9223372036854775807], "
		"\"floats\": [1.5, -0.5, 0.5, 1000.0, 6.02e23, 1e20], "
		"\"strings\": [\"true\", \"80\", \"5\", \"0x\", \"0o8\", \"1_000\", \".inf\", "
		"\".nan\", \"1.2.3\", \"10.244.1.10\"], "
		"\"tagged\": [6, true, 1.0, null, \"5\"], "
		"\"block\": \"folded text\\n\"}";
	json_t *expect = json_loads(want, 0, NULL);
	struct k8s_docs d;
	char err[ERR_LEN];

	(void)state;
	assert_non_null(expect);
	if (read_text("scalars.yaml", text, &d, err))
		fail_msg("%s", err);
	assert_int_equal(d.n, 1);
	if (!json_equal(d.doc[0].json, expect)) {
		char *got = json_dumps(d.doc[0].json, 0);

		fail_msg("got %s", got);
	}
	json_decref(expect);
	k8s_docs_free(&d);
}

static void test_anchors_and_merge_keys(void **state)
{
	static const char text[] = "base: &base {app: web, tier: front}\n"
				   "extra: &extra {tier: back, zone: a}\n"
				   "one:\n"
				   "  <<: *base\n"
				   "  app: api\n"
				   "list:\n"
				   "  <<: [*extra, *base]\n"
				   "ports: &p [{port: 80}]\n"
				   "again: *p\n";
	static const char want[] =
		"{\"base\": {\"app\": \"web\", \"tier\": \"front\"},"
		" \"extra\": {\"tier\": \"back\", \"zone\": \"a\"},"
		" \"one\": {\"app\": \"api\", \"tier\": \"front\"},"
		" \"list\": {\"tier\": \"back\", \"zone\": \"a\", \"app\": \"web\"},"
		" \"ports\": [{\"port\": 80}], \"again\": [{\"port\": 80}]}";
	json_t *expect = json_loads(want, 0, NULL);
	struct k8s_docs d;
	char err[ERR_LEN];

	(void)state;
	if (read_text("merge.yaml", text, &d, err))
		fail_msg("%s", err);
	assert_int_equal(d.n, 1);
	assert_true(json_equal(d.doc[0].json, expect));
	/* Aliases are copies: changing one leaves the other alone. */
	assert_true(json_object_get(d.doc[0].json, "ports") !=
		    json_object_get(d.doc[0].json, "again"));
	json_decref(expect);
	k8s_docs_free(&d);
}

static void test_json_manifest(void **state)
{
	static const char pod[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-0\","
		"\"namespace\":\"shop\",\"labels\":{\"app\":\"web\","
		"\"app.kubernetes.io/name\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"nginx\","
		"\"image\":\"nginx\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080},"
		"{\"name\":\"dns\",\"containerPort\":53,\"protocol\":\"UDP\"},"
		"{\"containerPort\":9,\"protocol\":\"SCTP\"}]}]},\"status\":{\"phase\":\"Running\","
		"\"podIP\":\"10.244.1.10\",\"conditions\":[{\"type\":\"Initialized\",\"status\":"
		"\"True\"},{\"type\":\"Ready\",\"status\":\"True\"}]}}";
	struct k8s_docs d;
	char err[ERR_LEN];
	struct k8s_obj o;

	(void)state;
	assert_int_equal(read_text("pod.json", pod, &d, err), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.doc[0].line, 1);
	assert_int_equal(k8s_decode(d.doc[0].json, &o, err), 1);
	assert_int_equal(o.kind, K8S_POD);
	assert_string_equal(o.ns, "shop");
	assert_int_equal(o.pod.nlabels, 2);
	assert_string_equal(o.pod.labels[1].key, "app.kubernetes.io/name");
	/* The SCTP port is left out: only SCTP Services could use it. */
	assert_int_equal(o.pod.nports, 2);
	assert_string_equal(o.pod.ports[0].name, "http");
	assert_int_equal(o.pod.ports[0].port, 8080);
	assert_int_equal(o.pod.ports[0].proto, IPPROTO_TCP);
	assert_int_equal(o.pod.ports[1].proto, IPPROTO_UDP);
	assert_int_equal(o.pod.ip, IP(10, 244, 1, 10));
	assert_true(o.pod.ready);
	assert_false(o.pod.terminating);
	k8s_obj_free(&o);
	k8s_docs_free(&d);
}

static void test_pod_states(void **state)
{
	struct k8s_obj o;

	(void)state;
	/* Pending: no IP, not ready. */
	decode_ok("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
		  "status: {phase: Pending, conditions: [{type: Ready, status: \"False\"}]}\n",
		  &o);
	assert_int_equal(o.pod.ip, 0);
	assert_false(o.pod.ready);
	assert_int_equal(o.pod.nports, 0);
	k8s_obj_free(&o);
	decode_ok("apiVersion: v1\nkind: Pod\n"
		  "metadata: {name: p, deletionTimestamp: \"2024-05-01T10:00:00Z\"}\n"
		  "spec: {containers: [{name: c}]}\n"
		  "status: {podIP: 10.244.3.20, conditions: [{type: Ready, status: \"True\"}]}\n",
		  &o);
	assert_true(o.pod.terminating);
	assert_true(o.pod.ready);
	assert_int_equal(o.pod.ip, IP(10, 244, 3, 20));
	k8s_obj_free(&o);
	/* A DNS subdomain's parts may be longer than a label (only the whole is limited: 253). */
	decode_ok("apiVersion: v1\nkind: Pod\nmetadata: {name: "
		  "a234567890123456789012345678901234567890123456789012345678901234567890.b}\n",
		  &o);
	k8s_obj_free(&o);
}

static void test_v1_list(void **state)
{
	static const char list[] = "apiVersion: v1\n"
				   "kind: List\n"
				   "metadata:\n"
				   "  resourceVersion: \"\"\n"
				   "items:\n"
				   "- apiVersion: v1\n"
				   "  kind: Service\n"
				   "  metadata: {name: a}\n"
				   "  spec: {ports: [{port: 80}]}\n"
				   "- apiVersion: v1\n"
				   "  kind: Pod\n"
				   "  metadata: {name: b}\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: List\n"
				   "items: []\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: ServiceList\n"
				   "items:\n"
				   "- metadata: {name: c}\n"
				   "  spec: {ports: [{port: 81}]}\n";
	struct k8s_docs d;
	char err[ERR_LEN];
	struct k8s_obj o;

	(void)state;
	assert_int_equal(read_text("list.yaml", list, &d, err), 0);
	assert_int_equal(d.n, 3);
	/* Items keep their List's file and index; each has its own line. */
	assert_int_equal(d.doc[0].index, 1);
	assert_int_equal(d.doc[1].index, 1);
	assert_int_equal(d.doc[0].line, 6);
	assert_int_equal(d.doc[1].line, 10);
	assert_int_equal(d.doc[2].index, 3);
	assert_int_equal(d.doc[2].line, 21);
	assert_int_equal(k8s_decode(d.doc[0].json, &o, err), 1);
	assert_string_equal(o.name, "a");
	k8s_obj_free(&o);
	assert_int_equal(k8s_decode(d.doc[1].json, &o, err), 1);
	assert_int_equal(o.kind, K8S_POD);
	k8s_obj_free(&o);
	/* A ServiceList's items get the kind and apiVersion the API leaves out. */
	assert_int_equal(k8s_decode(d.doc[2].json, &o, err), 1);
	assert_int_equal(o.kind, K8S_SERVICE);
	assert_int_equal(o.svc.ports[0].port, 81);
	k8s_obj_free(&o);
	k8s_docs_free(&d);

	assert_int_equal(read_text("badlist.yaml", "apiVersion: v1\nkind: List\nitems: {}\n", &d,
				   err),
			 -EINVAL);
	assert_true(strstr(err, "badlist.yaml:1:1: items: ") != NULL);
	assert_int_equal(d.n, 0);
}

static void test_multi_port_named_targets(void **state)
{
	static const char text[] =
		"apiVersion: v1\n"
		"kind: Service\n"
		"metadata: {name: web, namespace: shop}\n"
		"spec:\n"
		"  clusterIP: 10.96.0.52\n"
		"  clusterIPs: [10.96.0.52, \"fd00::52\"]\n"
		"  type: NodePort\n"
		"  selector: {app: web, app.kubernetes.io/part-of: shop, empty: \"\"}\n"
		"  ports:\n"
		"  - {name: http, port: 80, targetPort: http, nodePort: 30080}\n"
		"  - {name: https, port: 443, targetPort: 8443}\n"
		"  - {name: dns, port: 53, protocol: UDP, targetPort: dns-udp}\n"
		"  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 0}\n";
	struct k8s_obj o;

	(void)state;
	decode_ok(text, &o);
	assert_string_equal(o.ns, "shop");
	assert_int_equal(o.svc.cluster_ip, IP(10, 96, 0, 52));
	assert_string_equal(o.svc.type, "NodePort");
	assert_int_equal(o.svc.nselector, 3);
	assert_string_equal(o.svc.selector[2].value, "");
	assert_int_equal(o.svc.nports, 4);
	assert_string_equal(o.svc.ports[0].name, "http");
	assert_string_equal(o.svc.ports[0].target_name, "http");
	assert_int_equal(o.svc.ports[0].target_port, 0);
	assert_int_equal(o.svc.ports[1].target_port, 8443);
	assert_string_equal(o.svc.ports[1].target_name, "");
	assert_int_equal(o.svc.ports[2].proto, IPPROTO_UDP);
	assert_string_equal(o.svc.ports[2].target_name, "dns-udp");
	/* targetPort 0 means "the port", as Kubernetes' defaulting has it. */
	assert_int_equal(o.svc.ports[3].target_port, 53);
	assert_int_equal(o.svc.ports[3].proto, IPPROTO_TCP);
	k8s_obj_free(&o);
}

static void test_affinity_and_not_ready(void **state)
{
	struct k8s_obj o;

	(void)state;
	decode_ok("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
		  "spec: {sessionAffinity: ClientIP, ports: [{port: 80}]}\n",
		  &o);
	assert_int_equal(o.svc.affinity_timeout, 10800);
	k8s_obj_free(&o);
	decode_ok("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
		  "spec:\n  sessionAffinity: ClientIP\n"
		  "  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}\n"
		  "  publishNotReadyAddresses: true\n  ports: [{port: 80}]\n",
		  &o);
	assert_int_equal(o.svc.affinity_timeout, 600);
	assert_true(o.svc.publish_not_ready);
	k8s_obj_free(&o);
	decode_ok("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
		  "spec: {sessionAffinity: None, ports: [{port: 80}], clusterIP: \"\"}\n",
		  &o);
	assert_int_equal(o.svc.affinity_timeout, 0);
	assert_false(o.svc.has_selector);
	k8s_obj_free(&o);
}

static void test_endpointslice(void **state)
{
	static const char text[] =
		"apiVersion: discovery.k8s.io/v1\n"
		"kind: EndpointSlice\n"
		"metadata:\n"
		"  name: my-service-abc12\n"
		"  namespace: default\n"
		"  labels:\n"
		"    kubernetes.io/service-name: my-service\n"
		"    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io\n"
		"addressType: IPv4\n"
		"endpoints:\n"
		"- addresses: [10.244.1.10]\n"
		"  conditions: {ready: true, serving: true, terminating: false}\n"
		"  nodeName: node-1\n"
		"- addresses: [10.244.2.15]\n"
		"  conditions: {ready: false, serving: true, terminating: true}\n"
		"- addresses: [10.244.3.20]\n"
		"- addresses: [10.244.4.25]\n"
		"  conditions: {ready: false}\n"
		"ports:\n"
		"- {name: http, port: 8080, protocol: TCP}\n"
		"- {name: dns, port: 53, protocol: UDP}\n"
		"- {name: all}\n";
	struct k8s_obj o;
	const struct k8s_ep_addr *a;

	(void)state;
	decode_ok(text, &o);
	assert_int_equal(o.kind, K8S_ENDPOINTSLICE);
	assert_string_equal(o.name, "my-service-abc12");
	assert_string_equal(o.ep.service, "my-service");
	assert_int_equal(o.ep.nsets, 1);
	assert_int_equal(o.ep.sets[0].naddrs, 4);
	a = o.ep.sets[0].addrs;
	assert_int_equal(a[0].ip, IP(10, 244, 1, 10));
	assert_true(a[0].ready && a[0].serving && !a[0].terminating);
	assert_true(!a[1].ready && a[1].serving && a[1].terminating);
	/* No conditions: ready (unknown counts as ready), serving as ready. */
	assert_true(a[2].ready && a[2].serving && !a[2].terminating);
	assert_true(!a[3].ready && !a[3].serving && !a[3].terminating);
	/* A port without a number ("all ports") is left out. */
	assert_int_equal(o.ep.sets[0].nports, 2);
	assert_string_equal(o.ep.sets[0].ports[0].name, "http");
	assert_int_equal(o.ep.sets[0].ports[1].port, 53);
	assert_int_equal(o.ep.sets[0].ports[1].proto, IPPROTO_UDP);
	k8s_obj_free(&o);

	/* An empty slice, as kubectl prints it: endpoints: null. */
	decode_ok("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		  "metadata: {name: s, labels: {kubernetes.io/service-name: svc}}\n"
		  "addressType: IPv4\nendpoints: null\nports: null\n",
		  &o);
	assert_int_equal(o.ep.sets[0].naddrs, 0);
	assert_int_equal(o.ep.sets[0].nports, 0);
	k8s_obj_free(&o);
}

static void test_endpoints_not_ready(void **state)
{
	struct k8s_obj o;

	(void)state;
	decode_ok("apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext, namespace: db}\n"
		  "subsets:\n"
		  "- addresses: [{ip: 10.1.0.1}]\n"
		  "  notReadyAddresses: [{ip: 10.1.0.2}]\n"
		  "  ports: [{name: pg, port: 5432}, {name: metrics, port: 9187}]\n"
		  "- addresses: [{ip: 10.1.0.3}]\n",
		  &o);
	assert_string_equal(o.ns, "db");
	assert_int_equal(o.ep.nsets, 2);
	assert_int_equal(o.ep.sets[0].naddrs, 2);
	assert_true(o.ep.sets[0].addrs[0].ready);
	assert_false(o.ep.sets[0].addrs[1].ready);
	assert_false(o.ep.sets[0].addrs[1].serving);
	assert_int_equal(o.ep.sets[0].nports, 2);
	assert_string_equal(o.ep.sets[0].ports[1].name, "metrics");
	assert_int_equal(o.ep.sets[1].nports, 0);
	k8s_obj_free(&o);
}

static void test_other_kinds(void **state)
{
	static const struct {
		const char *text, *notice;
	} cases[] = {
		{ "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n",
		  "skipping ConfigMap/cfg: svcbpf does not handle this kind" },
		{ "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
		  "skipping Namespace/shop: svcbpf does not handle this kind" },
		{ "apiVersion: v1\nkind: Secret\n",
		  "skipping Secret: svcbpf does not handle this kind" },
		/* A custom resource's "Service" is another kind (Knative's). */
		{ "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\n",
		  "skipping Service/hello: svcbpf does not handle this kind" },
	};
	char err[ERR_LEN];
	struct k8s_obj o;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(decode_text(cases[i].text, &o, err), 0);
		assert_string_equal(err, cases[i].notice);
		k8s_obj_free(&o);
	}
	assert_string_equal(k8s_kind_name(K8S_SERVICE), "Service");
	assert_string_equal(k8s_kind_name(K8S_POD), "Pod");
	assert_string_equal(k8s_kind_name(K8S_ENDPOINTS), "Endpoints");
	assert_string_equal(k8s_kind_name(K8S_ENDPOINTSLICE), "EndpointSlice");
}

static void test_directory(void **state)
{
	char dir[256], path[256], sub[300];
	char *paths[2] = { dir, NULL };
	struct k8s_docs d;
	char err[ERR_LEN];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/manifests", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	put(path, "manifests/b.yml", "kind: B\n---\nkind: B2\n");
	put(path, "manifests/a.json", "{\"kind\": \"A\"}");
	put(path, "manifests/c.yaml", "kind: C\n");
	put(path, "manifests/notes.txt", "kind: Ignored\n");
	put(path, "manifests/d.yaml.bak", "kind: Ignored\n");
	snprintf(sub, sizeof(sub), "%s/sub.yaml", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	put(path, "manifests/sub.yaml/e.yaml", "kind: Ignored\n");
	assert_int_equal(k8s_read_files(paths, 1, &d, err), 0);
	assert_int_equal(d.n, 4);
	assert_string_equal(json_string_value(json_object_get(d.doc[0].json, "kind")), "A");
	assert_string_equal(json_string_value(json_object_get(d.doc[1].json, "kind")), "B");
	assert_string_equal(json_string_value(json_object_get(d.doc[2].json, "kind")), "B2");
	assert_int_equal(d.doc[2].index, 2);
	assert_string_equal(json_string_value(json_object_get(d.doc[3].json, "kind")), "C");
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	assert_string_equal(d.doc[3].file, path);
	k8s_docs_free(&d);

	/* A directory and a file: in the order given. */
	put(path, "first.yaml", "kind: First\n");
	paths[0] = path;
	paths[1] = dir;
	assert_int_equal(k8s_read_files(paths, 2, &d, err), 0);
	assert_int_equal(d.n, 5);
	assert_string_equal(json_string_value(json_object_get(d.doc[0].json, "kind")), "First");
	k8s_docs_free(&d);
}

static void test_stdin(void **state)
{
	char path[256];
	char *paths[] = { "-" };
	struct k8s_docs d;
	char err[ERR_LEN];
	int saved = dup(0);

	(void)state;
	assert_true(saved >= 0);
	put(path, "stdin.yaml", seed_svc);
	assert_non_null(freopen(path, "r", stdin));
	assert_int_equal(k8s_read_files(paths, 1, &d, err), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.doc[0].file, "-");
	k8s_docs_free(&d);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	clearerr(stdin);
}

/* ---- refusals ---- */

/* YAML or file errors: k8s_read_files() returns @ret, @err starts with FILE then @msg. */
static void test_read_errors(void **state)
{
	static const struct {
		const char *text;
		const char *where; /* ":LINE:COL: " after the file name */
		const char *msg; /* part of the message */
	} cases[] = {
		{ "apiVersion: v1\nkind: Service\nmetadata:\n  name: [a, b\n",
		  ":5:1: ", "flow sequence without a closing bracket" },
		{ "a:\n\tb: 1\n", ":2:1: ", "tab character may not be used as indentation" },
		{ "a: \"unterminated\n", ":", "" },
		{ "metadata:\n  name: a\n  name: b\n", ":3:3: ", "duplicate key" },
		{ "a: *nowhere\n", ":1:", "undefined alias '*nowhere'" },
		{ "a: &x [1, *x]\n", ":1:", "refers to a node that contains it" },
		{ "a: !!int eighty\n", ":1:10: ", "'eighty' is not a valid !!int" },
		{ "a: 1\nb: \xff\n", ":2:4: ", "invalid UTF-8" },
		{ "<<: 5\n", ":1:5: ", "merge key" },
		{ "? [a]\n: b\n", ":1:", "a mapping key must be a scalar" },
		{ "kind: List\nitems: 5\n", ":1:1: ", "items: " },
	};
	char err[ERR_LEN], want[300];
	struct k8s_docs d;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char path[256];

		put(path, "bad.yaml", cases[i].text);
		assert_int_equal(read_text("bad.yaml", cases[i].text, &d, err), -EINVAL);
		assert_int_equal(d.n, 0);
		assert_null(d.doc);
		assert_one_line(err);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].where);
		if (!starts_with(err, want) || !strstr(err, cases[i].msg))
			fail_msg("case %zu: got '%s', want '%s...%s'", i, err, want, cases[i].msg);
	}
}

static void test_missing_file(void **state)
{
	char path[256], missing[300];
	char *paths[] = { path, missing };
	struct k8s_docs d;
	char err[ERR_LEN], want[400];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/nope.yaml", tmpdir);
	put(path, "good.yaml", seed_svc);
	/* The first file was fine: nothing is returned all the same. */
	assert_int_equal(k8s_read_files(paths, 2, &d, err), -ENOENT);
	assert_int_equal(d.n, 0);
	snprintf(want, sizeof(want), "cannot read %s: No such file or directory", missing);
	assert_string_equal(err, want);
}

struct bad {
	const char *text;
	const char *err; /* the whole message, or its start when it ends with "..." */
};

#define SVC(spec) "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: " spec "\n"
#define PORTS(p) SVC("{ports: [" p "]}")
#define POD(rest) "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n" rest "\n"
#define EPS(subsets) "apiVersion: v1\nkind: Endpoints\nmetadata: {name: s}\nsubsets: " subsets "\n"
#define SLICE(rest)                                                                                \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                                   \
	"metadata: {name: s-1, labels: {kubernetes.io/service-name: s}}\naddressType: IPv4\n" rest \
	"\n"

static const struct bad bad_objects[] = {
	/* The document and its metadata. */
	{ "- a\n- b\n", "document: expected an object, got a list" },
	{ "apiVersion: v1\nmetadata: {name: s}\n", "kind: required" },
	{ "kind: Service\nmetadata: {name: s}\n", "apiVersion: required" },
	{ "kind: 5\napiVersion: v1\n", "kind: expected a string, got an integer" },
	{ "apiVersion: apps/v1\nkind: Service\nmetadata: {name: s}\n",
	  "apiVersion: 'apps/v1' has no Service (it is v1)" },
	{ "apiVersion: v2\nkind: Pod\nmetadata: {name: s}\n", "apiVersion: 'v2' has no Pod..." },
	{ "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: s}\n",
	  "apiVersion: 'discovery.k8s.io/v1beta1' has no EndpointSlice (it is "
	  "discovery.k8s.io/v1)" },
	{ "apiVersion: v1\nkind: Service\nspec: {ports: [{port: 80}]}\n", "metadata: required" },
	{ "apiVersion: v1\nkind: Service\nmetadata: []\n",
	  "metadata: expected an object, got a list" },
	{ "apiVersion: v1\nkind: Service\nmetadata: {}\nspec: {ports: [{port: 80}]}\n",
	  "metadata.name: required" },
	{ "apiVersion: v1\nkind: Service\nmetadata: {labels: {a: b}}\n",
	  "metadata.name: required" },
	{ "apiVersion: v1\nkind: Service\nmetadata: {name: My-Svc}\n",
	  "metadata.name: 'My-Svc': must consist of lower case letters, digits and '-'" },
	{ "apiVersion: v1\nkind: Service\nmetadata: {name: 1svc}\n",
	  "metadata.name: '1svc': must start with a lower case letter" },
	{ "apiVersion: v1\nkind: Service\nmetadata: {name: my.svc}\n", "metadata.name: ..." },
	{ "apiVersion: v1\nkind: Service\nmetadata: {name: "
	  "a234567890123456789012345678901234567890123456789012345678901234}\n",
	  "metadata.name: 'a234567890123456789012345678901234567890123456789012345678901234': "
	  "must be no more than 63 characters" },
	{ "apiVersion: v1\nkind: Pod\nmetadata: {name: web-}\n", "metadata.name: 'web-'..." },
	{ "apiVersion: v1\nkind: Pod\nmetadata: {name: a..b}\n", "metadata.name: 'a..b'..." },
	{ "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: Prod}\n",
	  "metadata.namespace: 'Prod': must consist of lower case letters, digits and '-'" },
	{ "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a.b}\n",
	  "metadata.namespace: ..." },
	{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "spec: required" },

	/* Service: type, cluster IP. */
	{ SVC("{type: Foo, ports: [{port: 80}]}"),
	  "spec.type: 'Foo' is not supported (ClusterIP, NodePort, LoadBalancer or ExternalName)" },
	{ SVC("{type: clusterip, ports: [{port: 80}]}"), "spec.type: 'clusterip'..." },
	{ SVC("{clusterIP: 10.96.0.300, ports: [{port: 80}]}"),
	  "spec.clusterIP: '10.96.0.300' is not an IPv4 address (dotted decimal, no leading "
	  "zeros)" },
	{ SVC("{clusterIP: 10.96.0.010, ports: [{port: 80}]}"),
	  "spec.clusterIP: '10.96.0.010'..." },
	{ SVC("{clusterIP: 10.96.0, ports: [{port: 80}]}"), "spec.clusterIP: '10.96.0'..." },
	{ SVC("{clusterIP: 10.96.0.1.2, ports: [{port: 80}]}"), "spec.clusterIP: ..." },
	{ SVC("{clusterIP: ' 10.96.0.1', ports: [{port: 80}]}"), "spec.clusterIP: ..." },
	{ SVC("{clusterIP: \"fd00::1\", ports: [{port: 80}]}"), "spec.clusterIP: 'fd00::1'..." },
	{ SVC("{clusterIP: none, ports: [{port: 80}]}"), "spec.clusterIP: 'none'..." },
	{ SVC("{clusterIP: 127.0.0.1, ports: [{port: 80}]}"),
	  "spec.clusterIP: '127.0.0.1' must not be in the loopback range (127.0.0.0/8)" },
	{ SVC("{clusterIP: 0.0.0.0, ports: [{port: 80}]}"), "spec.clusterIP: '0.0.0.0'..." },
	{ SVC("{clusterIP: 10, ports: [{port: 80}]}"),
	  "spec.clusterIP: expected a string, got an integer" },
	{ SVC("{clusterIP: 10.96.0.1, clusterIPs: [10.96.0.2], ports: [{port: 80}]}"),
	  "spec.clusterIPs[0]: '10.96.0.2' must match spec.clusterIP '10.96.0.1'" },
	{ SVC("{clusterIPs: [10.96.0.256], ports: [{port: 80}]}"),
	  "spec.clusterIPs[0]: '10.96.0.256'..." },
	{ SVC("{clusterIPs: 10.96.0.1, ports: [{port: 80}]}"),
	  "spec.clusterIPs: expected a list, got a string" },
	{ SVC("{clusterIP: None, type: NodePort, ports: [{port: 80}]}"),
	  "spec.clusterIP: None (headless) is only valid with type ClusterIP" },
	{ SVC("{type: ExternalName}"), "spec.externalName: required" },
	{ SVC("{type: ExternalName, externalName: Bad_Name}"), "spec.externalName: 'Bad_Name'..." },
	{ SVC("{type: ExternalName, externalName: db.example.com, clusterIP: 10.96.0.1}"),
	  "spec.clusterIP: must not be set for type ExternalName" },

	/* Service ports. */
	{ SVC("{}"), "spec.ports: required (at least one port)" },
	{ SVC("{ports: []}"), "spec.ports: required (at least one port)" },
	{ SVC("{ports: {}}"), "spec.ports: expected a list, got an object" },
	{ SVC("{ports: [80]}"), "spec.ports[0]: expected an object, got an integer" },
	{ PORTS("{name: a, port: 80}, {name: b}"), "spec.ports[1].port: required" },
	{ PORTS("{port: 0}"), "spec.ports[0].port: must be 1-65535, not 0" },
	{ PORTS("{port: 65536}"), "spec.ports[0].port: must be 1-65535, not 65536" },
	{ PORTS("{port: -1}"), "spec.ports[0].port: must be 1-65535, not -1" },
	{ PORTS("{port: \"80\"}"), "spec.ports[0].port: expected a number, got a string" },
	{ PORTS("{port: 80.5}"), "spec.ports[0].port: expected a number, got a floating-point..." },
	{ PORTS("{port: true}"), "spec.ports[0].port: expected a number, got a boolean" },
	{ PORTS("{port: 80, protocol: SCTP}"),
	  "spec.ports[0].protocol: SCTP is not supported (svcbpf forwards TCP and UDP)" },
	{ PORTS("{port: 80, protocol: tcp}"),
	  "spec.ports[0].protocol: 'tcp' is not a protocol (TCP, UDP or SCTP)" },
	{ PORTS("{port: 80, protocol: 6}"),
	  "spec.ports[0].protocol: expected a string, got an integer" },
	{ PORTS("{name: http, port: 80}, {name: http, port: 81}"),
	  "spec.ports[1].name: duplicate name 'http' (also spec.ports[0])" },
	{ PORTS("{port: 80}, {name: b, port: 81}"),
	  "spec.ports[0].name: required when a Service has more than one port" },
	{ PORTS("{name: a, port: 80}, {port: 81}"),
	  "spec.ports[1].name: required when a Service has more than one port" },
	{ PORTS("{name: a, port: 80}, {name: b, port: 80}"),
	  "spec.ports[1]: duplicate port 80/TCP (also spec.ports[0])" },
	{ PORTS("{name: Web, port: 80}"),
	  "spec.ports[0].name: 'Web': must consist of lower case letters, digits and '-'" },
	{ PORTS("{name: -web, port: 80}"), "spec.ports[0].name: '-web'..." },
	{ PORTS("{port: 80, targetPort: HTTP}"),
	  "spec.ports[0].targetPort: 'HTTP' is not a port name: must consist of lower case "
	  "letters, digits and '-'" },
	{ PORTS("{port: 80, targetPort: \"8080\"}"),
	  "spec.ports[0].targetPort: '8080' is not a port name: must contain at least one letter "
	  "(write a port number without quotes)" },
	{ PORTS("{port: 80, targetPort: a-very-long-port}"),
	  "spec.ports[0].targetPort: 'a-very-long-port' is not a port name: must be no more than "
	  "15 characters" },
	{ PORTS("{port: 80, targetPort: web--api}"),
	  "spec.ports[0].targetPort: 'web--api' is not a port name: must not start or end with "
	  "'-' or contain '--'" },
	{ PORTS("{name: a, port: 80}, {name: b, port: 81, targetPort: {}}"),
	  "spec.ports[1].targetPort: expected a number or a port name, got an object" },
	{ PORTS("{port: 80, targetPort: 70000}"),
	  "spec.ports[0].targetPort: must be 1-65535, not 70000" },

	/* Service selector. */
	{ SVC("{selector: {bad key: x}, ports: [{port: 80}]}"),
	  "spec.selector: key 'bad key': must consist of letters, digits, '-', '_' and '.'" },
	{ SVC("{selector: {-app: x}, ports: [{port: 80}]}"),
	  "spec.selector: key '-app': must start and end with a letter or digit" },
	{ SVC("{selector: {Example.com/app: x}, ports: [{port: 80}]}"),
	  "spec.selector: key 'Example.com/app': prefix part must be a lower case DNS subdomain" },
	{ SVC("{selector: {a/b/c: x}, ports: [{port: 80}]}"), "spec.selector: key 'a/b/c'..." },
	{ SVC("{selector: {example.com/: x}, ports: [{port: 80}]}"),
	  "spec.selector: key 'example.com/': name part must not be empty" },
	{ SVC("{selector: {app: my app}, ports: [{port: 80}]}"),
	  "spec.selector[app]: value 'my app': must consist of letters, digits, '-', '_' and '.'" },
	{ SVC("{selector: {version: 2}, ports: [{port: 80}]}"),
	  "spec.selector[version]: expected a string, got an integer" },
	{ SVC("{selector: {app: null}, ports: [{port: 80}]}"),
	  "spec.selector[app]: expected a string, got null" },
	{ SVC("{selector: [app], ports: [{port: 80}]}"),
	  "spec.selector: expected an object, got a list" },

	/* Service affinity and flags. */
	{ SVC("{sessionAffinity: Sticky, ports: [{port: 80}]}"),
	  "spec.sessionAffinity: 'Sticky' is not supported (None or ClientIP)" },
	{ SVC("{sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}},"
	      " ports: [{port: 80}]}"),
	  "spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be 1-86400, not 0" },
	{ SVC("{sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: "
	      "86401}}, ports: [{port: 80}]}"),
	  "spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be 1-86400, not 86401" },
	{ SVC("{sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: "
	      "\"60\"}}, ports: [{port: 80}]}"),
	  "spec.sessionAffinityConfig.clientIP.timeoutSeconds: expected a number, got a string" },
	{ SVC("{sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}, ports: [{port: 80}]}"),
	  "spec.sessionAffinityConfig: must not be set when sessionAffinity is None" },
	{ SVC("{publishNotReadyAddresses: yes, ports: [{port: 80}]}"),
	  "spec.publishNotReadyAddresses: expected true or false, got a string" },

	/* Pod. */
	{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: \"a b\"}}\n",
	  "metadata.labels[app]: value 'a b'..." },
	{ POD("spec: {containers: [{name: c, ports: [{containerPort: 0}]}]}"),
	  "spec.containers[0].ports[0].containerPort: must be 1-65535, not 0" },
	{ POD("spec: {containers: [{name: c, ports: [{name: http}]}]}"),
	  "spec.containers[0].ports[0].containerPort: required" },
	{ POD("spec: {containers: [{name: c, ports: [{containerPort: 80, name: Http}]}]}"),
	  "spec.containers[0].ports[0].name: 'Http'..." },
	{ POD("spec: {containers: [{name: c, ports: [{containerPort: 80, name: metrics-endpoint}]}"
	      "]}"),
	  "spec.containers[0].ports[0].name: 'metrics-endpoint': must be no more than 15 "
	  "characters" },
	{ POD("spec: {containers: [{name: a, ports: [{containerPort: 80, name: web}]},"
	      " {name: b, ports: [{containerPort: 81, name: web}]}]}"),
	  "spec.containers[1].ports[0].name: duplicate name 'web'" },
	{ POD("spec: {containers: [{name: c, ports: [{containerPort: 80, protocol: ICMP}]}]}"),
	  "spec.containers[0].ports[0].protocol: 'ICMP'..." },
	{ POD("spec: {containers: {name: c}}"), "spec.containers: expected a list, got an object" },
	{ POD("status: {podIP: 10.244.1}"), "status.podIP: '10.244.1' is not an IPv4 address..." },
	{ POD("status: {podIP: \"fd00::10\"}"), "status.podIP: 'fd00::10'..." },
	{ POD("status: {conditions: [{type: Ready, status: true}]}"),
	  "status.conditions[0].status: expected a string, got a boolean" },

	/* Endpoints. */
	{ EPS("[{addresses: [{ip: 10.244.1.10}, {ip: 10.244.1.300}]}]"),
	  "subsets[0].addresses[1].ip: '10.244.1.300' is not an IPv4 address..." },
	{ EPS("[{addresses: [{hostname: a}]}]"), "subsets[0].addresses[0].ip: required" },
	{ EPS("[{notReadyAddresses: [{ip: 127.0.0.1}]}]"),
	  "subsets[0].notReadyAddresses[0].ip: '127.0.0.1' must not be in the loopback range..." },
	{ EPS("[{addresses: [{ip: 169.254.0.5}]}]"),
	  "subsets[0].addresses[0].ip: '169.254.0.5'..." },
	{ EPS("[{ports: [{port: 80}]}]"), "subsets[0]: must have addresses or notReadyAddresses" },
	{ EPS("[{addresses: [{ip: 10.1.0.1}]}, {addresses: [{ip: 10.1.0.2}], ports: [{port: 80},"
	      " {name: b, port: 81}]}]"),
	  "subsets[1].ports[0].name: required when there is more than one port" },
	{ EPS("[{addresses: [{ip: 10.1.0.1}], ports: [{name: a}]}]"),
	  "subsets[0].ports[0].port: required" },
	{ EPS("[{addresses: [{ip: 10.1.0.1}], ports: [{name: a, port: 80}, {name: a, port: 81}]}]"),
	  "subsets[0].ports[1].name: duplicate name 'a' (also subsets[0].ports[0])" },
	{ EPS("{}"), "subsets: expected a list, got an object" },

	/* EndpointSlice. */
	{ "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s}\n",
	  "addressType: required" },
	{ "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s}\n"
	  "addressType: IPv6\n",
	  "addressType: IPv6 is not supported (svcbpf handles IPv4)" },
	{ "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s}\n"
	  "addressType: ipv4\n",
	  "addressType: 'ipv4' is not an address type (IPv4, IPv6 or FQDN)" },
	{ "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s}\n"
	  "addressType: IPv4\n",
	  "metadata.labels[kubernetes.io/service-name]: required: the name of the Service this "
	  "slice belongs to" },
	{ "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	  "metadata: {name: s, labels: {kubernetes.io/service-name: My_Svc}}\naddressType: IPv4\n",
	  "metadata.labels[kubernetes.io/service-name]: must consist of lower case..." },
	{ SLICE("endpoints: [{conditions: {ready: true}}]"), "endpoints[0].addresses: required" },
	{ SLICE("endpoints: [{addresses: []}]"),
	  "endpoints[0].addresses: must have at least one address" },
	{ SLICE("endpoints: [{addresses: [10.1.0.1]}, {addresses: [10.1.0.01]}]"),
	  "endpoints[1].addresses[0]: '10.1.0.01' is not an IPv4 address..." },
	{ SLICE("endpoints: [{addresses: [{ip: 10.1.0.1}]}]"),
	  "endpoints[0].addresses[0]: expected a string, got an object" },
	{ SLICE("endpoints: [{addresses: [10.1.0.1], conditions: {ready: \"true\"}}]"),
	  "endpoints[0].conditions.ready: expected true or false, got a string" },
	{ SLICE("endpoints: [{addresses: [10.1.0.1], conditions: {terminating: 1}}]"),
	  "endpoints[0].conditions.terminating: expected true or false, got an integer" },
	{ SLICE("ports: [{name: http, port: 0}]"), "ports[0].port: must be 1-65535, not 0" },
	{ SLICE("ports: [{name: http, port: 80}, {name: http, port: 81}]"),
	  "ports[1].name: duplicate name 'http' (also ports[0])" },
	{ SLICE("ports: [{name: HTTP, port: 80}]"), "ports[0].name: 'HTTP'..." },

	/* NodePort, LoadBalancer, external IPs, traffic policy, node names. */
	{ PORTS("{port: 80, nodePort: 30080}"),
	  "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" },
	{ SVC("{type: NodePort, ports: [{port: 80, nodePort: 80}]}"),
	  "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The "
	  "range of valid ports is 30000-32767" },
	{ SVC("{type: LoadBalancer, ports: [{port: 80, nodePort: 32768}]}"),
	  "spec.ports[0].nodePort: Invalid value: 32768: provided port is not in the valid..." },
	{ SVC("{type: NodePort, ports: [{port: 80, nodePort: \"30080\"}]}"),
	  "spec.ports[0].nodePort: expected a number, got a string" },
	{ SVC("{type: NodePort, ports: [{name: a, port: 80, nodePort: 30080}, "
	      "{name: b, port: 81, nodePort: 30080}]}"),
	  "spec.ports[1].nodePort: Duplicate value: 30080" },
	{ SVC("{type: NodePort, externalIPs: [10.0.0.300], ports: [{port: 80}]}"),
	  "spec.externalIPs[0]: '10.0.0.300' is not an IPv4 address..." },
	{ SVC("{externalIPs: [127.0.0.1], ports: [{port: 80}]}"),
	  "spec.externalIPs[0]: '127.0.0.1' must not be in the loopback range (127.0.0.0/8)" },
	{ SVC("{type: NodePort, loadBalancerSourceRanges: [10.0.0.0/8], ports: [{port: 80}]}"),
	  "spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is "
	  "'LoadBalancer'" },
	{ SVC("{type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.1/8], ports: [{port: 80}]}"),
	  "spec.loadBalancerSourceRanges[0]: Invalid value: \"10.0.0.1/8\": invalid CIDR "
	  "'10.0.0.1/8': host bits set" },
	{ SVC("{type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.0], ports: [{port: 80}]}"),
	  "spec.loadBalancerSourceRanges[0]: Invalid value: \"10.0.0.0\": invalid CIDR..." },
	{ SVC("{externalTrafficPolicy: Local, ports: [{port: 80}]}"),
	  "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for "
	  "externally-accessible services" },
	{ SVC("{type: NodePort, externalTrafficPolicy: Remote, ports: [{port: 80}]}"),
	  "spec.externalTrafficPolicy: Unsupported value: \"Remote\": supported values: "
	  "\"Cluster\", \"Local\"" },
	{ SVC("{type: NodePort, externalTrafficPolicy: Local, healthCheckNodePort: 30100, "
	      "ports: [{port: 80}]}"),
	  "spec.healthCheckNodePort: Invalid value: 30100: may only be set when `type` is "
	  "'LoadBalancer' and `externalTrafficPolicy` is 'Local'" },
	{ SVC("{type: LoadBalancer, healthCheckNodePort: 30100, ports: [{port: 80}]}"),
	  "spec.healthCheckNodePort: Invalid value: 30100: may only be set when..." },
	{ SVC("{type: LoadBalancer, externalTrafficPolicy: Local, healthCheckNodePort: 1000, "
	      "ports: [{port: 80}]}"),
	  "spec.healthCheckNodePort: Invalid value: 1000: provided port is not in the valid..." },
	{ SVC("{type: LoadBalancer, externalTrafficPolicy: Local, healthCheckNodePort: 30100, "
	      "ports: [{port: 80, nodePort: 30100}]}"),
	  "spec.healthCheckNodePort: Invalid value: 30100: provided port is already allocated" },
	{ SVC("{type: NodePort, allocateLoadBalancerNodePorts: false, ports: [{port: 80}]}"),
	  "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is "
	  "'LoadBalancer'" },
	{ SVC("{type: LoadBalancer, allocateLoadBalancerNodePorts: no, ports: [{port: 80}]}"),
	  "spec.allocateLoadBalancerNodePorts: expected true or false, got a string" },
	{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: LoadBalancer, "
	  "ports: [{port: 80}]}\nstatus: {loadBalancer: {ingress: [{ip: 192.0.2.256}]}}\n",
	  "status.loadBalancer.ingress[0].ip: '192.0.2.256' is not an IPv4 address..." },
	{ POD("spec: {nodeName: Node_A}"),
	  "spec.nodeName: 'Node_A': must consist of lower case letters, digits, '-' and '.', "
	  "each part starting and ending with a letter or digit" },
	{ EPS("[{addresses: [{ip: 10.1.0.1, nodeName: -x}], ports: [{port: 80}]}]"),
	  "subsets[0].addresses[0].nodeName: '-x'..." },
	{ EPS("[{notReadyAddresses: [{ip: 10.1.0.1, nodeName: 5}], ports: [{port: 80}]}]"),
	  "subsets[0].notReadyAddresses[0].nodeName: expected a string, got an integer" },
	{ SLICE("endpoints: [{addresses: [10.1.0.1], nodeName: A.b}]"),
	  "endpoints[0].nodeName: 'A.b'..." },
};

/* NodePort, LoadBalancer and external IP fields, their defaults, and node names. */
static void test_external_fields(void **state)
{
	struct k8s_obj o;

	(void)state;
	/* A NodePort Service: the nodePort given, or 0 (allocated at apply); Cluster policy. */
	decode_ok(SVC("{type: NodePort, selector: {app: web}, ports: [{name: http, port: 80, "
		      "nodePort: 30080}, {name: dns, port: 53, protocol: UDP, nodePort: 30080}, "
		      "{name: x, port: 81, nodePort: 0}]}"),
		  &o);
	assert_string_equal(o.svc.type, "NodePort");
	assert_int_equal(o.svc.nports, 3);
	/* One nodePort for two protocols is allowed (Kubernetes keys it by protocol). */
	assert_int_equal(o.svc.ports[0].node_port, 30080);
	assert_int_equal(o.svc.ports[1].node_port, 30080);
	assert_int_equal(o.svc.ports[2].node_port, 0);
	assert_false(o.svc.etp_local);
	assert_true(k8s_svc_external(&o.svc));
	assert_true(k8s_svc_node_ports(&o.svc));
	k8s_obj_free(&o);

	/* A LoadBalancer with everything; hostname-only ingress and IPv6 entries left out. */
	decode_ok("apiVersion: v1\nkind: Service\nmetadata: {name: lb}\n"
		  "spec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n"
		  "  healthCheckNodePort: 32000\n"
		  "  externalIPs: [192.0.2.50, \"2001:db8::1\"]\n"
		  "  loadBalancerSourceRanges: [198.51.100.0/24, 10.0.0.0/8]\n"
		  "  ports: [{port: 443, nodePort: 31443}]\n"
		  "status:\n  loadBalancer:\n    ingress:\n    - ip: 192.0.2.10\n"
		  "    - hostname: lb.example.com\n    - ip: 192.0.2.11\n      ipMode: VIP\n",
		  &o);
	assert_string_equal(o.svc.type, "LoadBalancer");
	assert_true(o.svc.etp_local);
	assert_int_equal(o.svc.health_node_port, 32000);
	assert_true(o.svc.alloc_lb_node_ports);
	assert_int_equal(o.svc.nexternal_ips, 1);
	assert_int_equal(o.svc.external_ips[0], IP(192, 0, 2, 50));
	assert_int_equal(o.svc.nlb_ips, 2);
	assert_int_equal(o.svc.lb_ips[0], IP(192, 0, 2, 10));
	assert_int_equal(o.svc.lb_ips[1], IP(192, 0, 2, 11));
	assert_int_equal(o.svc.nsrc_ranges, 2);
	assert_int_equal(o.svc.src_ranges[0].ip, IP(198, 51, 100, 0));
	assert_int_equal(o.svc.src_ranges[0].len, 24);
	assert_int_equal(o.svc.src_ranges[1].ip, IP(10, 0, 0, 0));
	assert_int_equal(o.svc.src_ranges[1].len, 8);
	assert_int_equal(o.svc.ports[0].node_port, 31443);
	k8s_obj_free(&o);

	/* Kubernetes takes an address twice: one frontend. */
	decode_ok(SVC("{externalIPs: [192.0.2.1, 192.0.2.2, 192.0.2.1], ports: [{port: 80}]}"), &o);
	assert_int_equal(o.svc.nexternal_ips, 2);
	assert_int_equal(o.svc.external_ips[1], IP(192, 0, 2, 2));
	k8s_obj_free(&o);

	/* allocateLoadBalancerNodePorts: false: no node ports unless given. */
	decode_ok(SVC("{type: LoadBalancer, allocateLoadBalancerNodePorts: false, "
		      "ports: [{port: 80}]}"),
		  &o);
	assert_false(o.svc.alloc_lb_node_ports);
	assert_false(k8s_svc_node_ports(&o.svc));
	assert_true(k8s_svc_external(&o.svc));
	k8s_obj_free(&o);

	/* A ClusterIP Service with externalIPs is reachable from outside: Local is allowed. */
	decode_ok(SVC("{externalIPs: [192.0.2.60], externalTrafficPolicy: Local, "
		      "ports: [{port: 80}]}"),
		  &o);
	assert_true(o.svc.etp_local);
	assert_true(k8s_svc_external(&o.svc));
	assert_false(k8s_svc_node_ports(&o.svc));
	k8s_obj_free(&o);

	/* A ClusterIP Service's status (no LoadBalancer) is not read. */
	decode_ok("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}"
		  "\nstatus: {loadBalancer: {ingress: [{ip: 192.0.2.10}]}}\n",
		  &o);
	assert_int_equal(o.svc.nlb_ips, 0);
	assert_false(k8s_svc_external(&o.svc));
	k8s_obj_free(&o);

	/* Node names: Pod spec.nodeName, Endpoints and slice nodeName. */
	decode_ok(POD("spec: {nodeName: node-a.example}"), &o);
	assert_string_equal(o.pod.node_name, "node-a.example");
	k8s_obj_free(&o);
	decode_ok(POD("spec: {containers: []}"), &o);
	assert_string_equal(o.pod.node_name, "");
	k8s_obj_free(&o);
	decode_ok(seed_ep, &o);
	assert_string_equal(o.ep.sets[0].addrs[0].node_name, "node-1");
	assert_string_equal(o.ep.sets[0].addrs[1].node_name, "node-2");
	k8s_obj_free(&o);
	decode_ok(EPS("[{notReadyAddresses: [{ip: 10.1.0.1, nodeName: node-b}], "
		      "ports: [{port: 80}]}]"),
		  &o);
	assert_string_equal(o.ep.sets[0].addrs[0].node_name, "node-b");
	k8s_obj_free(&o);
	decode_ok(SLICE("endpoints: [{addresses: [10.1.0.1], nodeName: node-c}, "
			"{addresses: [10.1.0.2]}]"),
		  &o);
	assert_string_equal(o.ep.sets[0].addrs[0].node_name, "node-c");
	assert_string_equal(o.ep.sets[0].addrs[1].node_name, "");
	k8s_obj_free(&o);
}

static void test_decode_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_objects); i++) {
		const struct bad *b = &bad_objects[i];
		size_t len = strlen(b->err);
		bool prefix = len > 3 && !strcmp(b->err + len - 3, "...");
		char err[ERR_LEN];
		struct k8s_obj o;
		int ret = decode_text(b->text, &o, err);

		if (ret != -EINVAL)
			fail_msg("case %zu: returned %d (%s), want -EINVAL for\n%s", i, ret, err,
				 b->text);
		assert_one_line(err);
		if (prefix ? strncmp(err, b->err, len - 3) : strcmp(err, b->err))
			fail_msg("case %zu: got\n  '%s'\nwant\n  '%s'", i, err, b->err);
		/* A refused object holds nothing; freeing it again is harmless. */
		assert_null(o.svc.ports);
		assert_null(o.svc.selector);
		k8s_obj_free(&o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_service),
		cmocka_unit_test(test_seed_endpoints),
		cmocka_unit_test(test_kubectl_service),
		cmocka_unit_test(test_kubectl_deployment_skipped),
		cmocka_unit_test(test_kubectl_headless_and_external),
		cmocka_unit_test(test_guestbook),
		cmocka_unit_test(test_core_schema),
		cmocka_unit_test(test_anchors_and_merge_keys),
		cmocka_unit_test(test_json_manifest),
		cmocka_unit_test(test_pod_states),
		cmocka_unit_test(test_v1_list),
		cmocka_unit_test(test_multi_port_named_targets),
		cmocka_unit_test(test_affinity_and_not_ready),
		cmocka_unit_test(test_endpointslice),
		cmocka_unit_test(test_endpoints_not_ready),
		cmocka_unit_test(test_other_kinds),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_external_fields),
	};

	return cmocka_run_group_tests_name("k8s manifests", tests, group_setup, group_teardown);
}
