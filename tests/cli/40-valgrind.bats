#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# The CLI's paths under valgrind memcheck: every command a user runs, good and bad input,
# plain and JSON, manifests in and out. Each run must finish with the exit code the
# command owes, no memcheck error and no definitely or indirectly lost block. The only
# suppressions (valgrind.supp) are valgrind's model of the bpf(2) attr union inside
# libbpf. Runs in a namespace of its own with one veth pair, a private pin dir and state
# dir; no traffic is sent.

load ../lib/e2e
load ../lib/cli

setup_file() {
	command -v valgrind >/dev/null || skip "needs valgrind (tools/deps.sh installs it)"
	cli_ns_setup vg
}

teardown_file() {
	[ -z "${CLI_NS:-}" ] || nsenter --net="/run/netns/$CLI_NS" \
		"$SVCBPF_BIN" unload >/dev/null 2>&1 || true
	cli_ns_teardown
}

# vg EXIT ARGS...: svcbpf ARGS under memcheck in the test namespace; it must exit EXIT with
# a clean memcheck log. Standard input is passed through (apply -f -).
vg() {
	local want=$1 log rc=0
	shift
	log="$CLI_TMP/vg.$BATS_TEST_NUMBER.$RANDOM"
	timeout -k 5 120 nsenter --net="/run/netns/$CLI_NS" valgrind -q --log-file="$log" --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect \
		--suppressions="$BATS_TEST_DIRNAME/valgrind.supp" \
		"$SVCBPF_BIN" "$@" >"$CLI_TMP/out" 2>"$CLI_TMP/err" || rc=$?
	# The warnings about bpf commands valgrind has no model of are not errors.
	if grep -v -e 'WARNING: unhandled eBPF command' "$log" | grep -q .; then
		printf 'memcheck of svcbpf %s:\n' "$*" >&2
		cat "$log" >&2
		return 1
	fi
	assert_eq "exit code of 'svcbpf $*' ($(cat "$CLI_TMP/err"))" "$want" "$rc"
}

@test "valgrind: load, services, backends, selection, conntrack, status, stats, dump, metrics, monitor, sync, unload" {
	vg 0 load eth0
	vg 0 svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080,weight=3
	vg 0 svc add 10.96.0.10:53/udp --backend 10.244.1.10:53 --affinity client-ip,timeout=60
	vg 0 backend add 10.96.0.50:80 10.244.3.20:8080
	vg 0 backend drain 10.96.0.50:80 10.244.3.20:8080
	vg 0 backend undrain 10.96.0.50:80 10.244.3.20:8080
	vg 0 backend weight 10.96.0.50:80 10.244.3.20:8080 2
	vg 0 backend del 10.96.0.50:80 10.244.3.20:8080
	vg 0 svc list
	vg 0 svc list -o json
	vg 0 svc explain 10.96.0.50:80 --from 10.244.0.5:40000
	vg 0 svc explain 10.96.0.10:53/udp --from 10.244.0.5:40000 -o json
	vg 0 ct list
	vg 0 ct list 10.96.0.50:80 -o json
	vg 0 ct flush 10.96.0.50:80
	vg 0 status
	vg 0 status -o json
	vg 0 stats
	vg 0 stats 10.96.0.50:80 -o json
	vg 0 stats --watch 100ms --count 2 -o json
	vg 0 dump
	vg 0 dump -x -o json
	vg 0 metrics
	vg 0 monitor --duration 0.3
	vg 0 sync
	printf '%s\n' "svc add 10.96.0.51:80 --backend 10.244.1.10:8080" \
		"backend add 10.96.0.51:80 10.244.2.15:8080" >"$CLI_TMP/batch"
	vg 0 batch "$CLI_TMP/batch"
	vg 0 load eth0 --xdp
	vg 0 svc del 10.96.0.51:80
	vg 0 svc del 10.96.0.50:80
	vg 0 unload
}

@test "valgrind: bad input takes the error paths cleanly" {
	vg 0 load eth0
	vg 0 svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	vg 1
	vg 1 frobnicate
	vg 1 svc add 10.96.0.300:80 --backend 10.244.1.10:8080
	vg 1 svc add 10.96.0.50:80 --backend
	vg 1 svc add 10.96.0.50:80 --backend 10.96.0.50:8080
	vg 1 svc del 10.96.0.99:80
	vg 1 backend del 10.96.0.50:80 10.244.9.9:8080
	vg 1 svc explain 10.96.0.99:80 --from 10.244.0.5:1000
	vg 1 load nosuchdev0
	printf '%s\n' "svc add 10.96.0.52:80 --backend 10.244.1.10:8080" "svc add 10.96.0.52:0" \
		>"$CLI_TMP/batch"
	vg 1 batch "$CLI_TMP/batch"
	vg 1 svc list -o yaml
	vg 1 stats 10.96.0.99:80
	vg 1 monitor --type bogus
	vg 1 metrics -o json
	vg 0 svc del 10.96.0.50:80
	vg 0 unload
	vg 1 unload
}

@test "valgrind: manifests: apply, get in every format, delete, bad manifests" {
	vg 0 load eth0
	cat >"$CLI_TMP/app.yaml" <<-'YAML'
	apiVersion: v1
	kind: Service
	metadata:
	  name: my-service
	  labels: &labels
	    app: my-app
	spec:
	  selector: *labels
	  clusterIP: 10.96.0.50
	  ports:
	  - name: http
	    port: 80
	    targetPort: http
	  sessionAffinity: ClientIP
	---
	apiVersion: v1
	kind: Pod
	metadata:
	  name: pod1
	  labels: {app: my-app}
	spec:
	  containers:
	  - name: web
	    image: nginx
	    ports: [{containerPort: 8080, name: http}]
	status:
	  podIP: 10.244.1.10
	  conditions: [{type: Ready, status: "True"}]
	---
	apiVersion: v1
	kind: Endpoints
	metadata:
	  name: manual
	subsets:
	- addresses: [{ip: 10.244.2.15}]
	  ports: [{port: 9000}]
	---
	{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"},
	 "spec": {"ports": [{"port": 9000}]}}
	YAML
	vg 0 apply -f "$CLI_TMP/app.yaml"
	vg 0 get services
	vg 0 get services -A -o wide
	vg 0 get endpoints my-service -o yaml
	vg 0 get endpointslices -o json
	vg 0 get pods -o wide
	nsenter --net="/run/netns/$CLI_NS" "$SVCBPF_BIN" \
		get service my-service -o yaml >"$CLI_TMP/round.yaml"
	vg 0 apply -f - <"$CLI_TMP/round.yaml"
	vg 0 delete -f "$CLI_TMP/app.yaml"
	vg 1 delete service manual
	printf 'kind: Service\nmetadata: {name: x}\nspec: {ports: [{port: eighty}]}\n' \
		>"$CLI_TMP/bad.yaml"
	vg 1 apply -f "$CLI_TMP/bad.yaml"
	printf 'a: &a [1, 2]\nb: [*a, *a, *a\n' >"$CLI_TMP/broken.yaml"
	vg 1 apply -f "$CLI_TMP/broken.yaml"
	head -c 4096 /dev/urandom >"$CLI_TMP/garbage.yaml"
	vg 1 apply -f "$CLI_TMP/garbage.yaml"
	vg 1 get frobs
	vg 0 unload
}
