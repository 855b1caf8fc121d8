#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# Metrics: 'svcbpf metrics' parsed by the real Prometheus parser (prometheus_client), exact
# per-service and per-backend counts for traffic we send, drops of a service without a
# backend, the sync histogram counting each change, and 'svcbpf agent' serving the same on
# /metrics (status codes, content type, live counters, unload/load, SIGTERM, port in use).
# One topology for the file, svcbpf loaded on eth0.

load ../lib/e2e

# The Debian interpreter: prometheus_client is a Debian module (python3-prometheus-client).
PROM_PY=/usr/bin/python3

setup_file() {
	e2e_require
	e2e_setup_topology 3
	sb_ok load eth0
	# prom.py MODE [ARGS]: the exposition on stdin, read with prometheus_client's parser.
	#   check               every family of the list with its type; histogram sanity;
	#                       prints the family names, one a line
	#   get QUERY...        per QUERY ("NAME K=V K=V..."), the value of the one sample NAME
	#                       whose labels include every K=V, one a line ("none": no such
	#                       sample, "many": more than one)
	cat >"$BATS_FILE_TMPDIR/prom.py" <<-'PY'
	import sys
	from prometheus_client.parser import text_string_to_metric_families

	# Families as the parser names them: a counter's family has no _total.
	WANT = {
	    "svcbpf_up": "gauge", "svcbpf_services": "gauge", "svcbpf_backends": "gauge",
	    "svcbpf_maps_behind": "gauge",
	    "svcbpf_service_packets": "counter", "svcbpf_service_bytes": "counter",
	    "svcbpf_service_reply_packets": "counter", "svcbpf_service_reply_bytes": "counter",
	    "svcbpf_service_flows": "counter", "svcbpf_service_drops": "counter",
	    "svcbpf_backend_packets": "counter", "svcbpf_backend_bytes": "counter",
	    "svcbpf_backend_reply_packets": "counter", "svcbpf_backend_reply_bytes": "counter",
	    "svcbpf_backend_flows": "counter", "svcbpf_backend_weight": "gauge",
	    "svcbpf_backend_active": "gauge",
	    "svcbpf_drops": "counter", "svcbpf_drop_bytes": "counter",
	    "svcbpf_translations": "counter", "svcbpf_program_runs": "counter",
	    "svcbpf_program_bytes": "counter", "svcbpf_monitor_events_lost": "counter",
	    "svcbpf_sync_duration_seconds": "histogram",
	    "svcbpf_last_sync_duration_seconds": "gauge",
	    "svcbpf_map_entries": "gauge", "svcbpf_map_max_entries": "gauge",
	}
	fams = list(text_string_to_metric_families(sys.stdin.read()))
	mode = sys.argv[1]
	if mode == "check":
	    got = {f.name: f.type for f in fams}
	    bad = ["%s: want %s, got %s" % (n, t, got.get(n)) for n, t in WANT.items()
	           if got.get(n) != t]
	    if len(got) != len(fams):
	        bad.append("a family appears twice")
	    for f in fams:
	        if f.type != "histogram":
	            continue
	        b = [(s.labels["le"], s.value) for s in f.samples if s.name.endswith("_bucket")]
	        cnt = [s.value for s in f.samples if s.name.endswith("_count")]
	        les = [float(le) for le, _ in b]
	        vals = [v for _, v in b]
	        if les != sorted(les) or b[-1][0] != "+Inf" or len(b) != 16:
	            bad.append("%s: buckets %s" % (f.name, [le for le, _ in b]))
	        if vals != sorted(vals):
	            bad.append("%s: buckets not monotonic: %s" % (f.name, vals))
	        if cnt != [b[-1][1]]:
	            bad.append("%s: +Inf %s != _count %s" % (f.name, b[-1][1], cnt))
	    if bad:
	        print("\n".join(bad))
	        sys.exit(1)
	    print("\n".join(sorted(got)))
	elif mode == "get":
	    for q in sys.argv[2:]:
	        name, *labels = q.split()
	        want = dict(a.split("=", 1) for a in labels)
	        hits = [s.value for f in fams for s in f.samples if s.name == name
	                and all(s.labels.get(k) == v for k, v in want.items())]
	        print("none" if not hits else "many" if len(hits) > 1 else "%d" % hits[0])
	PY
}

teardown_file() {
	kill_agents
	e2e_teardown_file
}

# Every agent a test started, by pid, even when the test failed.
teardown() {
	kill_agents
}

kill_agents() {
	local p
	[ -e "$BATS_FILE_TMPDIR/agent-pids" ] || return 0
	while read -r p; do
		kill -KILL "$p" 2>/dev/null || true
	done <"$BATS_FILE_TMPDIR/agent-pids"
	rm -f "$BATS_FILE_TMPDIR/agent-pids"
}

# prom MODE [ARGS]: prom.py over stdin.
prom() { "$PROM_PY" "$BATS_FILE_TMPDIR/prom.py" "$@"; }

# pvals TEXT QUERY...: the values of the QUERYs (prom.py get) in exposition TEXT, on one line.
pvals() {
	local text=$1
	shift
	prom get "$@" <<<"$text" | tr '\n' ' ' | sed 's/ $//'
}

# metrics QUERY...: pvals over a fresh 'svcbpf metrics' (which must succeed).
metrics() {
	sb_ok metrics || return 1
	pvals "$SB_OUT" "$@"
}


# udp_blast HOST PORT COUNT: COUNT datagrams, each from a new socket, no answer awaited.
udp_blast() {
	topo_client "$PYTHON" -c '
import socket, sys
for i in range(int(sys.argv[3])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", (sys.argv[1], int(sys.argv[2])))
    s.close()' "$1" "$2" "$3"
}

# wait_line SECONDS LINE: poll 'svcbpf metrics' (no parser: cheap) until it has LINE, exactly
# (packets cross a veth asynchronously); fail after SECONDS.
wait_line() {
	topo_poll "$1" _metrics_have "$2"
}
_metrics_have() { topo_svcbpf metrics 2>/dev/null | grep -qxF "$1"; }

@test "metrics: the real parser reads every family with its type; histogram buckets add up" {
	sb_ok svc add 10.96.0.50:80 --backend "$(topo_pod_ip 1):8080" --backend "$(topo_pod_ip 2):8080"
	expect_http_ok "some traffic" 10.96.0.50 80 4
	sb_ok metrics
	out=$SB_OUT
	fams=$(prom check <<<"$out") || e2e_fail "prometheus_client: $fams" || return 1
	e2e_note "families: $(wc -l <<<"$fams") ($(tr '\n' ' ' <<<"$fams"))"
	# Same state, same bytes.
	sb_ok metrics
	a=$(grep -v -e '^svcbpf_program_' -e '^svcbpf_translations' <<<"$out")
	b=$(grep -v -e '^svcbpf_program_' -e '^svcbpf_translations' <<<"$SB_OUT")
	assert_eq "two runs over the same state (traffic counters aside)" "$a" "$b"
	assert_contains "a CLI-made service is named by its address" \
		'svcbpf_service_flows_total{service="10.96.0.50:80/tcp",namespace="",port="80",protocol="tcp",cluster_ip="10.96.0.50"} 4' "$out"
	b2="backend=$(topo_pod_ip 2):8080"
	assert_eq "up, backend weight and active, map entries" "1 1 1 1" \
		"$(pvals "$out" svcbpf_up "svcbpf_backend_weight $b2" "svcbpf_backend_active $b2" \
			"svcbpf_map_entries map=services")"
	assert_eq "every reason, zero too" 9 "$(grep -c '^svcbpf_drops_total{' <<<"$out")"
	assert_contains "reject reason" 'svcbpf_drops_total{reason="no_backend",action="reject"}' "$out"
	assert_contains "fragment reason" 'svcbpf_drops_total{reason="fragment",action="pass"}' "$out"
	assert_contains "program runs" 'svcbpf_program_runs_total{program="svcbpf_tc_ingress",hook="tc_ingress"}' "$out"
	sb_ok svc del 10.96.0.50:80
}

@test "metrics: N datagrams to a manifest's Service count exactly N, by Service name and backend" {
	local n=5 i out name=dns vip=10.96.1.53 be
	be="$(topo_pod_ip 1):53"
	cat >"$BATS_TEST_TMPDIR/dns.yaml" <<-YAML
	apiVersion: v1
	kind: Service
	metadata:
	  name: $name
	spec:
	  clusterIP: $vip
	  selector:
	    app: dns
	  ports:
	  - name: dns
	    port: 53
	    protocol: UDP
	    targetPort: dns
	YAML
	k8s_pod dns1 "$(topo_pod_ip 1)" dns >"$BATS_TEST_TMPDIR/pods.yaml"
	sb_ok apply -f "$BATS_TEST_TMPDIR/dns.yaml" -f "$BATS_TEST_TMPDIR/pods.yaml"
	for ((i = 0; i < n; i++)); do
		out=$(udp_query "$vip" 53) || true
		assert_eq "UDP query $i" "reply=pod1/$(topo_pod_ip 1) from=$vip:53" "$out"
	done
	# udp_query waited for each reply: both directions are counted by now.
	local sl="service=$name namespace=default port=53 protocol=udp cluster_ip=$vip"
	v=$(metrics "svcbpf_service_packets_total $sl" "svcbpf_service_reply_packets_total $sl" \
		"svcbpf_service_flows_total $sl" "svcbpf_service_drops_total $sl" \
		"svcbpf_service_bytes_total $sl" "svcbpf_backend_packets_total $sl backend=$be" \
		"svcbpf_backend_reply_packets_total $sl backend=$be" \
		"svcbpf_backend_flows_total $sl backend=$be")
	# Bytes: skb->len at tc, 14 + 20 + 8 + len("hello") = 47 a datagram.
	assert_eq "service packets replies flows drops bytes; backend $be packets replies flows" \
		"$n $n $n 0 $((n * 47)) $n $n $n" "$v"
	e2e_note "Service default/$name $vip:53/udp, $n datagrams: service packets replies flows drops bytes; backend packets replies flows = $v"
	sb_ok delete -f "$BATS_TEST_TMPDIR/dns.yaml" -f "$BATS_TEST_TMPDIR/pods.yaml"
}

@test "metrics: K datagrams to a service without a backend: K rejects, K service drops" {
	local k=7 svc=10.96.0.70:5300/udp base v
	sb_ok svc add "$svc"
	base=$(metrics "svcbpf_drops_total reason=no_backend action=reject")
	udp_blast 10.96.0.70 5300 "$k"
	wait_line 3 "svcbpf_drops_total{reason=\"no_backend\",action=\"reject\"} $((base + k))" ||
		e2e_fail "rejects did not reach $base + $k: $(grep '^svcbpf_drops_total' <<<"$(topo_svcbpf metrics)")" ||
		return 1
	sleep 0.3 # nothing more may come
	v=$(metrics "svcbpf_drops_total reason=no_backend action=reject" \
		"svcbpf_service_drops_total service=$svc namespace= port=5300" \
		"svcbpf_service_flows_total service=$svc")
	assert_eq "rejects (was $base); service drops; service flows, after $k datagrams" \
		"$((base + k)) $k 0" "$v"
	e2e_note "no backend, $k datagrams: rejects (from $base), service drops, flows = $v"
	sb_ok svc del "$svc"
}

@test "metrics: the sync histogram counts each change, sync and load once" {
	local c0 c1 c2 c3
	c0=$(metrics svcbpf_sync_duration_seconds_count)
	sb_ok svc add 10.96.0.81:80 --backend "$(topo_pod_ip 1):8080"
	sb_ok svc add 10.96.0.82:80 --backend "$(topo_pod_ip 2):8080"
	sb_ok backend add 10.96.0.82:80 "$(topo_pod_ip 3):8080"
	sb_ok svc del 10.96.0.81:80
	c1=$(metrics svcbpf_sync_duration_seconds_count)
	assert_eq "_count after 4 changes (was $c0)" "$((c0 + 4))" "$c1"
	sb svc del 10.96.0.99:80 # refused: no such service, nothing programmed
	c2=$(metrics svcbpf_sync_duration_seconds_count)
	assert_eq "_count after a refused change" "$c1" "$c2"
	sb_ok sync
	sb_ok load eth0
	c3=$(metrics svcbpf_sync_duration_seconds_count)
	assert_eq "_count after sync and load" "$((c2 + 2))" "$c3"
	sb_ok metrics
	prom check <<<"$SB_OUT" >/dev/null || e2e_fail "histogram check: $(prom check <<<"$SB_OUT")"
	e2e_note "sync _count $c0 -> $c1 (4 changes) -> $c3 (sync, load); last: $(grep '^svcbpf_last_sync' <<<"$SB_OUT")"
	sb_ok svc del 10.96.0.82:80
}

# agent_start PORT LOG: an agent in the node namespace; its pid in AGENT_PID (and the pid list).
agent_start() {
	nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" agent --metrics-addr "127.0.0.1:$1" \
		</dev/null >"$2" 2>&1 3>&- &
	AGENT_PID=$!
	echo "$AGENT_PID" >>"$BATS_FILE_TMPDIR/agent-pids"
	topo_poll 5 grep -q "serving metrics on http://127.0.0.1:$1/metrics" "$2" ||
		e2e_fail "agent did not start: $(cat "$2")"
}

# scrape PATH [CURL ARGS]: GET in the node namespace; "code content-type" in SCRAPE, the body
# in SCRAPE_BODY (set here, not in a subshell).
scrape() {
	local path=$1
	shift
	rm -f "$BATS_TEST_TMPDIR/body"
	SCRAPE=$(topo_node curl -sS --max-time 5 -o "$BATS_TEST_TMPDIR/body" \
		-w '%{http_code} %{content_type}' "$@" "http://127.0.0.1:$PORT$path") || true
	SCRAPE_BODY=$(cat "$BATS_TEST_TMPDIR/body" 2>/dev/null)
}

@test "agent: /metrics as 'svcbpf metrics', live counters, unload/load, SIGTERM, port in use" {
	local log=$BATS_TEST_TMPDIR/agent.log nsvc fams cli_fams v0 v1 i
	PORT=$((20000 + RANDOM % 20000))
	while topo_node ss -Hltn "sport = :$PORT" | grep -q .; do PORT=$((PORT + 1)); done
	sb_ok svc add 10.96.0.90:53/udp --backend "$(topo_pod_ip 2):53"
	agent_start "$PORT" "$log"
	assert_eq "stderr: the one serving line" 1 "$(wc -l <"$log")"

	scrape /metrics
	assert_eq "GET /metrics" "200 text/plain; version=0.0.4; charset=utf-8" "$SCRAPE"
	fams=$(prom check <<<"$SCRAPE_BODY") || e2e_fail "agent's exposition: $fams" || return 1
	nsvc=$(pvals "$SCRAPE_BODY" svcbpf_services)
	sb_ok metrics
	cli_fams=$(prom check <<<"$SB_OUT")
	assert_eq "families: agent vs 'svcbpf metrics'" "$cli_fams" "$fams"
	scrape /healthz
	assert_eq "GET /healthz" "200 ok" "${SCRAPE%% *} $SCRAPE_BODY"
	scrape /
	assert_match "GET /" '^200 text/html' "$SCRAPE"
	assert_contains "index links /metrics" 'href="/metrics"' "$SCRAPE_BODY"
	scrape /nope
	assert_eq "GET /nope" 404 "${SCRAPE%% *}"
	scrape /metrics -X POST -d x=1
	assert_eq "POST /metrics" 405 "${SCRAPE%% *}"

	# Traffic between two scrapes shows in the second.
	scrape /metrics
	v0=$(pvals "$SCRAPE_BODY" "svcbpf_service_packets_total cluster_ip=10.96.0.90")
	for i in 1 2 3; do udp_query 10.96.0.90 53 >/dev/null || true; done
	scrape /metrics
	v1=$(pvals "$SCRAPE_BODY" "svcbpf_service_packets_total cluster_ip=10.96.0.90")
	assert_eq "packets between two scrapes (3 datagrams)" "$((v0 + 3))" "$v1"

	sb_ok unload
	scrape /metrics
	assert_eq "scrape while unloaded" 200 "${SCRAPE%% *}"
	assert_eq "svcbpf_up and svcbpf_services unloaded" "0 $nsvc" \
		"$(pvals "$SCRAPE_BODY" svcbpf_up svcbpf_services)"
	sb_ok load eth0
	scrape /metrics
	assert_eq "svcbpf_up loaded again" "200 1" "${SCRAPE%% *} $(pvals "$SCRAPE_BODY" svcbpf_up)"
	# A pin set missing a map cannot be read: 500 with a one-line body; load repairs it.
	rm -f "$TOPO_PIN_DIR/svcbpf_sync_v1"
	scrape /metrics
	assert_eq "scrape of a broken pin set" "500 1" "${SCRAPE%% *} $(wc -l <<<"$SCRAPE_BODY")"
	assert_contains "500 body" "incomplete pin set" "$SCRAPE_BODY"
	e2e_note "broken pin set: ${SCRAPE%% *} $SCRAPE_BODY"
	sb_ok load eth0
	scrape /metrics
	assert_eq "after load repaired it" 200 "${SCRAPE%% *}"

	# A second agent on the same port: one line, exit 1; the first still serves.
	sb agent --metrics-addr "127.0.0.1:$PORT"
	assert_eq "second agent on :$PORT exit" 1 "$SB_RC"
	assert_eq "second agent: one line" 1 "$(wc -l <<<"$SB_OUT")"
	assert_contains "second agent error" "Address already in use" "$SB_OUT"
	e2e_note "second agent: $SB_OUT"
	scrape /healthz
	assert_eq "first agent still serves" 200 "${SCRAPE%% *}"

	stop_pid "$AGENT_PID" TERM 2 || return 1
	assert_eq "agent exit after SIGTERM" 0 "$STOP_RC"
	e2e_note "agent on :$PORT: stopped in $STOP_MS ms after SIGTERM"
	sb_ok svc del 10.96.0.90:53/udp
}

@test "metrics: not loaded: svcbpf_up 0, exit 0; usage errors are one line, exit 1" {
	sb_ok unload
	sb_ok metrics
	assert_eq "svcbpf_up not loaded" 0 "$(pvals "$SB_OUT" svcbpf_up)"
	assert_not_contains "no dataplane families" "svcbpf_service_packets_total" "$SB_OUT"
	sb metrics -o json
	assert_eq "metrics -o json exit" 1 "$SB_RC"
	assert_eq "metrics -o json: one line" 1 "$(wc -l <<<"$SB_OUT")"
	assert_contains "metrics -o json" "-o json is not supported" "$SB_OUT"
	sb agent --metrics-addr 127.0.0.1:1 --metrics-addr 127.0.0.1:2
	assert_eq "agent option twice" "1 1" "$SB_RC $(wc -l <<<"$SB_OUT")"
	sb agent --bogus
	assert_eq "agent unknown option" "1 1" "$SB_RC $(wc -l <<<"$SB_OUT")"
	sb agent --metrics-addr 10.0.0.300:80
	assert_eq "agent bad address" "1 1" "$SB_RC $(wc -l <<<"$SB_OUT")"
	e2e_note "bad address: $SB_OUT"
	sb_ok load eth0
}
