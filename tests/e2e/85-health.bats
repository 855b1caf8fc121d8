#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# healthCheckNodePort: 'svcbpf agent' serves, per LoadBalancer Service with
# externalTrafficPolicy Local, kube-proxy's health check on 0.0.0.0:healthCheckNodePort:
# 200 with the exact count of this node's ready endpoints, 503 with none, kube-proxy's
# headers and body; listeners follow the store (a Service added, moved to another port,
# deleted) within 3 s; a port it cannot bind is logged once and retried; SIGTERM closes
# every port and exits 0. Requests come from the client namespace to the node's address.
# One topology for the file, svcbpf loaded on eth0 as node "node-a".

load ../lib/e2e

NODE_IP=10.244.0.1
HC_PORT=32100

setup_file() {
	e2e_require
	e2e_setup_topology 3
	sb_ok load eth0 --node-name node-a
}

teardown_file() {
	kill_pids
	e2e_teardown_file
}

# Every agent and port holder a test started, by pid, even when the test failed.
teardown() {
	kill_pids
}

kill_pids() {
	local p
	[ -e "$BATS_FILE_TMPDIR/pids" ] || return 0
	while read -r p; do
		kill -KILL "$p" 2>/dev/null || true
	done <"$BATS_FILE_TMPDIR/pids"
	rm -f "$BATS_FILE_TMPDIR/pids"
}

# agent_start LOG: an agent in the node namespace (metrics on a free loopback port); its pid
# in AGENT_PID.
agent_start() {
	local mport=$((20000 + RANDOM % 10000))
	while topo_node ss -Hltn "sport = :$mport" | grep -q .; do mport=$((mport + 1)); done
	nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" agent --metrics-addr "127.0.0.1:$mport" \
		</dev/null >"$1" 2>&1 3>&- &
	AGENT_PID=$!
	echo "$AGENT_PID" >>"$BATS_FILE_TMPDIR/pids"
	topo_poll 5 grep -q "serving metrics on" "$1" || e2e_fail "agent did not start: $(cat "$1")"
}

# svc_yaml NAME CLUSTERIP HCPORT APP NODEPORT: a LoadBalancer Service, externalTrafficPolicy
# Local; every port given, so no allocation can collide with a port a later step names.
svc_yaml() {
	cat <<-YAML
	---
	apiVersion: v1
	kind: Service
	metadata:
	  name: $1
	spec:
	  type: LoadBalancer
	  clusterIP: $2
	  externalTrafficPolicy: Local
	  healthCheckNodePort: $3
	  selector:
	    app: $4
	  ports:
	  - name: http
	    port: 80
	    targetPort: http
	    nodePort: $5
	YAML
}

# pod_on NODE NAME IP APP [READY]: a Pod manifest (k8s_pod) scheduled on NODE.
pod_on() {
	local node=$1
	shift
	k8s_pod "$@" | sed "s/^spec:\$/spec:\n  nodeName: $node/"
}

# apply FILE...: svcbpf apply -f each FILE.
apply() {
	local a=() f
	for f in "$@"; do a+=(-f "$f"); done
	sb_ok apply "${a[@]}"
}

# hc PORT [PATH [CURL ARGS...]]: one health check from the client to the node's address.
# HC_CODE (000: no answer), HC_HDRS (headers, no CRs), HC_BODY; HC_LOCAL the body's
# localEndpoints ("" when none).
hc() {
	local port=$1 path=${2:-/} d=$BATS_TEST_TMPDIR
	shift
	[ $# -gt 0 ] && shift
	rm -f "$d/hc.body" "$d/hc.hdr"
	HC_CODE=$(topo_client curl -sS --max-time 2 -D "$d/hc.hdr" -o "$d/hc.body" \
		-w '%{http_code}' "$@" "http://$NODE_IP:$port$path" 2>/dev/null) || true
	HC_BODY=$(cat "$d/hc.body" 2>/dev/null) || HC_BODY=
	HC_HDRS=$(cat "$d/hc.hdr" 2>/dev/null | tr -d '\r') || HC_HDRS=
	HC_LOCAL=$(jq -r '.localEndpoints' <<<"$HC_BODY" 2>/dev/null) || HC_LOCAL=
}

# wait_hc SECONDS PORT CODE [LOCAL]: poll until the check answers CODE (and LOCAL
# localEndpoints); the time it took in WAIT_MS; fails after SECONDS with what it saw.
wait_hc() {
	local secs=$1 port=$2 code=$3 want=${4:-} t0 deadline
	t0=$(date +%s%N)
	deadline=$((SECONDS + secs))
	while :; do
		hc "$port"
		if [ "$HC_CODE" = "$code" ] && { [ -z "$want" ] || [ "$HC_LOCAL" = "$want" ]; }; then
			WAIT_MS=$((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		if ((SECONDS >= deadline)); then
			e2e_fail ":$port: wanted $code${want:+ with localEndpoints $want} within $secs s," \
				"got $HC_CODE: $HC_BODY"
			return 1
		fi
		sleep 0.1
	done
}

# listening PORT: something listens on PORT in the node namespace.
listening() { topo_node ss -Hltn "sport = :$1" | grep -q .; }

# wait_closed SECONDS PORT: nothing listens on PORT any more; WAIT_MS.
wait_closed() {
	local t0
	t0=$(date +%s%N)
	topo_poll "$1" _not_listening "$2" || e2e_fail ":$2 still listens after $1 s" || return 1
	WAIT_MS=$((($(date +%s%N) - t0) / 1000000))
}
_not_listening() { ! listening "$1"; }

# body NS NAME N HEALTHY: kube-proxy's body, byte for byte (tabs, no final newline).
body() {
	printf '{\n\t"service": {\n\t\t"namespace": "%s",\n\t\t"name": "%s"\n\t},\n\t"localEndpoints": %s,\n\t"serviceProxyHealthy": %s\n}' \
		"$@"
}

# header NAME: the value of header NAME in HC_HDRS.
header() { sed -n "s/^$1: //Ip" <<<"$HC_HDRS"; }

@test "health: 200 with the exact local count, kube-proxy's headers and body; 503 when none is ready" {
	local log=$BATS_TEST_TMPDIR/agent.log d=$BATS_TEST_TMPDIR ip1 ip2 ip3
	ip1=$(topo_pod_ip 1) ip2=$(topo_pod_ip 2) ip3=$(topo_pod_ip 3)
	svc_yaml web 10.96.5.1 "$HC_PORT" web 30080 >"$d/svc.yaml"
	# Local and ready: web1, web2. Not counted: web3 on node-b, web4 local but not ready.
	{
		pod_on node-a web1 "$ip1" web
		pod_on node-a web2 "$ip2" web
		pod_on node-b web3 "$ip3" web
		pod_on node-a web4 10.244.3.44 web False
	} >"$d/pods.yaml"
	apply "$d/svc.yaml" "$d/pods.yaml" || return 1
	agent_start "$log" || return 1
	wait_hc 3 "$HC_PORT" 200 2 || return 1
	e2e_note "first answer ${WAIT_MS} ms after the agent started"
	assert_eq "body, byte for byte" "$(body default web 2 true)" "$HC_BODY"
	assert_eq "Content-Type" application/json "$(header Content-Type)"
	assert_eq "X-Content-Type-Options" nosniff "$(header X-Content-Type-Options)"
	assert_eq "X-Load-Balancing-Endpoint-Weight" 2 "$(header X-Load-Balancing-Endpoint-Weight)"
	assert_eq "status line" "HTTP/1.1 200 OK" "$(head -1 <<<"$HC_HDRS")"
	jq -e . <<<"$HC_BODY" >/dev/null || e2e_fail "body is not JSON: $HC_BODY" || return 1
	e2e_note "GET :$HC_PORT -> $HC_CODE, weight $(header X-Load-Balancing-Endpoint-Weight)," \
		"body $(jq -c . <<<"$HC_BODY")"
	hc "$HC_PORT" /any/path?x=1
	assert_eq "another path" "200 2" "$HC_CODE $HC_LOCAL"
	# HEAD (curl -I writes the headers as its output): the headers and nothing after them.
	hc "$HC_PORT" / -I
	assert_eq "HEAD: status" 200 "$HC_CODE"
	assert_eq "HEAD: no body" "$HC_HDRS" "$(tr -d '\r' <"$d/hc.body")"
	assert_contains "log: the listener" \
		"serving the health check of default/web on 0.0.0.0:$HC_PORT" "$(cat "$log")"

	# Not ready: 0 local endpoints within 3 s.
	{
		pod_on node-a web1 "$ip1" web False
		pod_on node-a web2 "$ip2" web False
	} >"$d/notready.yaml"
	apply "$d/notready.yaml" || return 1
	wait_hc 3 "$HC_PORT" 503 0 || return 1
	e2e_note "pods not ready: 503 after ${WAIT_MS} ms"
	assert_eq "503 body" "$(body default web 0 true)" "$HC_BODY"
	assert_eq "503 weight header" 0 "$(header X-Load-Balancing-Endpoint-Weight)"
	assert_eq "503 status line" "HTTP/1.1 503 Service Unavailable" "$(head -1 <<<"$HC_HDRS")"
	# One ready again, then every pod deleted.
	pod_on node-a web1 "$ip1" web >"$d/one.yaml"
	apply "$d/one.yaml" || return 1
	wait_hc 3 "$HC_PORT" 200 1 || return 1
	e2e_note "one local pod ready again: 200 with 1 after ${WAIT_MS} ms"
	sb_ok delete -f "$d/pods.yaml" || return 1
	wait_hc 3 "$HC_PORT" 503 0 || return 1
	e2e_note "pods deleted: 503 with 0 after ${WAIT_MS} ms"

	stop_pid "$AGENT_PID" TERM 2 || return 1
	assert_eq "agent exit after SIGTERM" 0 "$STOP_RC"
	! listening "$HC_PORT" || e2e_fail ":$HC_PORT still listens after the agent exited"
	sb_ok delete -f "$d/svc.yaml"
}

@test "health: listeners follow the store: a Service added, moved, deleted; a busy port retried; SIGTERM closes all" {
	local log=$BATS_TEST_TMPDIR/agent.log d=$BATS_TEST_TMPDIR p2=32101 p3=32102 p4=32103
	local holder n
	svc_yaml web 10.96.5.1 "$HC_PORT" web 30080 >"$d/web.yaml"
	pod_on node-a web1 "$(topo_pod_ip 1)" web >"$d/web-pods.yaml"
	apply "$d/web.yaml" "$d/web-pods.yaml" || return 1
	agent_start "$log" || return 1
	wait_hc 3 "$HC_PORT" 200 1 || return 1

	# A second Service: its port answers within 3 s (one local pod).
	svc_yaml api 10.96.5.2 "$p2" api 30081 >"$d/api.yaml"
	pod_on node-a api1 "$(topo_pod_ip 2)" api >"$d/api-pods.yaml"
	apply "$d/api.yaml" "$d/api-pods.yaml" || return 1
	wait_hc 3 "$p2" 200 1 || return 1
	assert_eq "second Service's body" "$(body default api 1 true)" "$HC_BODY"
	e2e_note "second Service: :$p2 answered ${WAIT_MS} ms after apply"

	# Moved to another port: the old one closes, the new one answers.
	svc_yaml api 10.96.5.2 "$p3" api 30081 >"$d/api-moved.yaml"
	apply "$d/api-moved.yaml" || return 1
	wait_hc 3 "$p3" 200 1 || return 1
	wait_closed 3 "$p2" || return 1
	e2e_note "healthCheckNodePort $p2 -> $p3: old port closed, new one answers"

	# Deleted: its port closes; the first Service still answers.
	sb_ok delete -f "$d/api-moved.yaml" -f "$d/api-pods.yaml" || return 1
	wait_closed 3 "$p3" || return 1
	e2e_note "Service deleted: :$p3 closed after ${WAIT_MS} ms"
	hc "$HC_PORT"
	assert_eq "first Service still answers" "200 1" "$HC_CODE $HC_LOCAL"

	# A port held by another process: logged once over several refreshes, then taken once free.
	nsenter --net="/run/netns/$TOPO_NODE" -- socat TCP-LISTEN:$p4,reuseaddr,fork \
		SYSTEM:'echo busy' </dev/null >/dev/null 2>&1 3>&- &
	holder=$!
	echo "$holder" >>"$BATS_FILE_TMPDIR/pids"
	topo_poll 3 listening "$p4" || e2e_fail "socat did not listen on :$p4" || return 1
	svc_yaml busy 10.96.5.3 "$p4" busy 30082 >"$d/busy.yaml"
	apply "$d/busy.yaml" || return 1
	topo_poll 3 grep -q "cannot serve the health check of default/busy on 0.0.0.0:$p4" "$log" ||
		e2e_fail "no bind failure logged: $(cat "$log")" || return 1
	sleep 2.5 # two more refreshes
	n=$(grep -c "cannot serve the health check of default/busy" "$log")
	assert_eq "bind failure lines after 3+ refreshes" 1 "$n"
	e2e_note "busy port: $(grep 'default/busy' "$log")"
	kill -0 "$AGENT_PID" || e2e_fail "agent exited on a busy port" || return 1
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	wait_hc 3 "$p4" 503 0 || return 1
	e2e_note "port freed: the agent serves :$p4 (503, no endpoints) after ${WAIT_MS} ms"

	stop_pid "$AGENT_PID" TERM 2 || return 1
	assert_eq "agent exit after SIGTERM" 0 "$STOP_RC"
	for n in "$HC_PORT" "$p4"; do
		! listening "$n" || e2e_fail ":$n still listens after SIGTERM" || return 1
	done
	hc "$HC_PORT"
	assert_eq "no answer after SIGTERM" 000 "$HC_CODE"
	e2e_note "SIGTERM: exit 0 in $STOP_MS ms, :$HC_PORT and :$p4 closed"
	sb_ok delete -f "$d/web.yaml" -f "$d/web-pods.yaml" -f "$d/busy.yaml"
}

@test "health: the dataplane unloaded: 503 with serviceProxyHealthy false; loaded again: 200" {
	local log=$BATS_TEST_TMPDIR/agent.log d=$BATS_TEST_TMPDIR
	svc_yaml web 10.96.5.1 "$HC_PORT" web 30080 >"$d/web.yaml"
	pod_on node-a web1 "$(topo_pod_ip 1)" web >"$d/web-pods.yaml"
	apply "$d/web.yaml" "$d/web-pods.yaml" || return 1
	agent_start "$log" || return 1
	wait_hc 3 "$HC_PORT" 200 1 || return 1
	sb_ok unload || return 1
	wait_hc 3 "$HC_PORT" 503 1 || return 1
	assert_eq "unloaded body" "$(body default web 1 false)" "$HC_BODY"
	e2e_note "unloaded: 503 after ${WAIT_MS} ms, $(jq -c . <<<"$HC_BODY")"
	sb_ok load eth0 --node-name node-a || return 1
	wait_hc 3 "$HC_PORT" 200 1 || return 1
	e2e_note "loaded again: 200 after ${WAIT_MS} ms"
	stop_pid "$AGENT_PID" TERM 2 || return 1
	assert_eq "agent exit after SIGTERM" 0 "$STOP_RC"
	sb_ok delete -f "$d/web.yaml" -f "$d/web-pods.yaml"
}
