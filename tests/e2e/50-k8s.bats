#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# Kubernetes objects end to end: the seed's Service and two Pods applied as manifests, the
# endpoints controller's Endpoints, traffic through the ClusterIP, relabel and readiness,
# delete -f, ClusterIP allocation, named and multiple ports, a bad file, and a Service with
# no endpoints refusing connections at once. One topology for the file; every test starts
# with svcbpf loaded on eth0 and an empty store.

load ../lib/e2e

setup_file() {
	e2e_require
	e2e_setup_topology 3
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	e2e_reset_svcbpf
	sb_ok load eth0
	M=$BATS_TEST_TMPDIR
}

teardown() {
	e2e_reset_svcbpf
}

pod() { k8s_pod "$@"; }

# The seed's Service, at the seed's ClusterIP.
seed_service() {
	cat <<-YAML
	apiVersion: v1
	kind: Service
	metadata:
	  name: my-service
	spec:
	  clusterIP: 10.96.0.50
	  selector:
	    app: my-app
	  ports:
	    - protocol: TCP
	      port: 80
	      targetPort: 8080
	YAML
}

# endpoint_ips NAME: the ready addresses of Endpoints NAME, sorted, space separated.
endpoint_ips() {
	sb_ok get endpoints "$1" -o json || return 1
	jq -r '[.subsets[]?.addresses[]?.ip] | sort | join(" ")' <<<"$SB_OUT"
}

@test "k8s: the seed's Service and Pods: Endpoints as Kubernetes writes them, traffic to both" {
	seed_service >"$M/svc.yaml"
	{ pod pod1 "$(topo_pod_ip 1)" my-app True; pod pod2 "$(topo_pod_ip 2)" my-app True
	  pod pod3 "$(topo_pod_ip 3)" other True; } >"$M/pods.yaml"
	sb_ok apply -f "$M/svc.yaml" -f "$M/pods.yaml"
	assert_contains "apply output" "service/my-service created" "$SB_OUT"
	assert_contains "apply output" "pod/pod1 created" "$SB_OUT"

	sb_ok get endpoints my-service -o yaml
	e2e_note "get endpoints my-service -o yaml:" $'\n'"$SB_OUT"
	assert_contains "Endpoints apiVersion" "apiVersion: v1" "$SB_OUT"
	assert_contains "Endpoints kind" "kind: Endpoints" "$SB_OUT"
	assert_contains "Endpoints address 1" "ip: $(topo_pod_ip 1)" "$SB_OUT"
	assert_contains "Endpoints address 2" "ip: $(topo_pod_ip 2)" "$SB_OUT"
	assert_not_contains "pod3 is not selected" "ip: $(topo_pod_ip 3)" "$SB_OUT"
	assert_contains "Endpoints port" "port: 8080" "$SB_OUT"
	assert_eq "ready addresses (JSON)" "$(topo_pod_ip 1) $(topo_pod_ip 2)" "$(endpoint_ips my-service)"

	sb_ok get services
	assert_match "get services row" "my-service +ClusterIP +10\.96\.0\.50 +<none> +80/TCP" "$SB_OUT"
	expect_http_ok "seed service" 10.96.0.50 80 30 pod1 pod2
	grep -q '^pod1 ' <<<"$E2E_HTTP_OUT" && grep -q '^pod2 ' <<<"$E2E_HTTP_OUT" ||
		e2e_fail "both pods must answer: $E2E_HTTP_OUT"
	sb_ok apply -f "$M/svc.yaml"
	assert_contains "apply again" "service/my-service unchanged" "$SB_OUT"

	# What a Service owns changes only through it, and its ClusterIP is its own.
	sb backend drain 10.96.0.50:80 "$(topo_pod_ip 1):8080"
	assert_eq "backend drain on a Service's translation" 1 "$SB_RC"
	assert_contains "drain refused" "belongs to Service default/my-service" "$SB_OUT"
	sb svc add 10.96.0.50:53/udp --backend "$(topo_pod_ip 1):53"
	assert_eq "svc add on a Service's ClusterIP" 1 "$SB_RC"
	sb_ok apply -f "$M/svc.yaml"
}

@test "k8s: a relabelled pod, then a not-Ready pod, drops out; back, it returns" {
	seed_service >"$M/svc.yaml"
	{ pod pod1 "$(topo_pod_ip 1)" my-app True; pod pod2 "$(topo_pod_ip 2)" my-app True; } >"$M/pods.yaml"
	sb_ok apply -f "$M/svc.yaml" -f "$M/pods.yaml"

	pod pod2 "$(topo_pod_ip 2)" something-else True >"$M/pod2.yaml"
	sb_ok apply -f "$M/pod2.yaml"
	assert_contains "relabel" "pod/pod2 configured" "$SB_OUT"
	assert_eq "endpoints after relabel" "$(topo_pod_ip 1)" "$(endpoint_ips my-service)"
	expect_http_ok "after relabel" 10.96.0.50 80 20 pod1

	{ pod pod1 "$(topo_pod_ip 1)" my-app False; pod pod2 "$(topo_pod_ip 2)" my-app True; } >"$M/pods2.yaml"
	sb_ok apply -f "$M/pods2.yaml"
	assert_eq "endpoints with pod1 not Ready" "$(topo_pod_ip 2)" "$(endpoint_ips my-service)"
	sb_ok get endpoints my-service -o json
	assert_eq "pod1 listed not ready" "$(topo_pod_ip 1)" \
		"$(jq -r '[.subsets[]?.notReadyAddresses[]?.ip] | join(" ")' <<<"$SB_OUT")"
	expect_http_ok "pod1 not Ready" 10.96.0.50 80 20 pod2

	sb_ok apply -f "$M/pods.yaml"
	expect_http_ok "both back" 10.96.0.50 80 20 pod1 pod2
}

@test "k8s: delete -f and the ClusterIP stops answering; delete service NAME too" {
	seed_service >"$M/svc.yaml"
	pod pod1 "$(topo_pod_ip 1)" my-app True >"$M/pods.yaml"
	sb_ok apply -f "$M/svc.yaml" -f "$M/pods.yaml"
	expect_http_ok "before delete" 10.96.0.50 80 5 pod1
	sb_ok delete -f "$M/svc.yaml"
	assert_contains "delete output" "service/my-service deleted" "$SB_OUT"
	expect_http_fails "after delete -f" 10.96.0.50 80
	sb_ok svc list
	assert_not_contains "svc list after delete" "10.96.0.50:80" "$SB_OUT"

	sb_ok apply -f "$M/svc.yaml"
	expect_http_ok "applied again" 10.96.0.50 80 5 pod1
	sb_ok delete service my-service
	expect_http_fails "after delete service" 10.96.0.50 80
	sb delete service my-service
	assert_eq "deleting it again" 1 "$SB_RC"
	assert_contains "deleting it again: why" "Service default/my-service: not found" "$SB_OUT"
}

@test "k8s: kubectl's own manifest: ClusterIP allocated from 10.96.0.0/12, named and multiple ports" {
	command -v kubectl >/dev/null || skip "kubectl is not installed"
	kubectl create service clusterip web --tcp=80:8080 --dry-run=client -o yaml >"$M/web.yaml"
	cat >"$M/multi.yaml" <<-YAML
	apiVersion: v1
	kind: Service
	metadata:
	  name: multi
	  namespace: apps
	spec:
	  selector:
	    app: multi
	  ports:
	  - name: web
	    port: 8000
	    targetPort: http
	  - name: dns
	    port: 5353
	    protocol: UDP
	    targetPort: dns
	YAML
	{ pod web1 "$(topo_pod_ip 1)" web True; } >"$M/pods.yaml"
	{ pod multi1 "$(topo_pod_ip 3)" multi True; } | sed 's/^  name: multi1/  name: multi1\n  namespace: apps/' >"$M/apps.yaml"
	sb_ok apply -f "$M/web.yaml" -f "$M/pods.yaml" -f "$M/multi.yaml" -f "$M/apps.yaml"
	sb_ok get services web -o json
	ip=$(jq -r .spec.clusterIP <<<"$SB_OUT")
	assert_match "allocated ClusterIP in 10.96.0.0/12" '^10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+$' "$ip"
	e2e_note "kubectl's Service 'web' got ClusterIP $ip"
	expect_http_ok "kubectl's service" "$ip" 80 5 pod1

	sb_ok get services -A
	assert_match "get -A shows the namespace" "apps +multi +ClusterIP" "$SB_OUT"
	sb_ok get services multi -n apps -o json
	mip=$(jq -r .spec.clusterIP <<<"$SB_OUT")
	expect_http_ok "named targetPort http" "$mip" 8000 5 pod3
	out=$(udp_query "$mip" 5353)
	assert_contains "UDP port of the same Service, named targetPort dns" "from=$mip:5353" "$out"
	assert_contains "UDP answered by pod3" "reply=pod3" "$out"
}

@test "k8s: a bad file applies nothing and names the file, document and field" {
	seed_service >"$M/svc.yaml"
	sb_ok apply -f "$M/svc.yaml"
	sb_ok get services -o json
	before=$SB_OUT
	{ pod pod1 "$(topo_pod_ip 1)" my-app True
	  printf -- '---\n'
	  seed_service | sed 's/my-service/other/; s/10.96.0.50/192.168.0.1/'; } >"$M/bad.yaml"
	sb apply -f "$M/bad.yaml"
	assert_eq "exit code" 1 "$SB_RC"
	assert_eq "one line" 1 "$(wc -l <<<"$SB_OUT")"
	assert_match "names file, document and field" "bad\.yaml: document 2 .*spec\.clusterIP" "$SB_OUT"
	sb_ok get services -o json
	assert_eq "nothing applied" "$before" "$SB_OUT"
	sb get pods pod1
	assert_eq "pod1 of the bad file not applied" 1 "$SB_RC"
}

@test "k8s: a Service with no ready endpoints refuses connections at once (no timeout)" {
	seed_service | sed 's/app: my-app/app: nobody/' >"$M/svc.yaml"
	sb_ok apply -f "$M/svc.yaml"
	sb_ok get endpoints my-service
	assert_contains "no endpoints" "<none>" "$SB_OUT"
	rc=0
	out=$(topo_client curl -sS --max-time 3 http://10.96.0.50:80/ 2>&1) || rc=$?
	e2e_note "curl to a Service without endpoints: exit $rc: $out"
	assert_eq "curl: connection refused (7), not a timeout (28)" 7 "$rc"
}
