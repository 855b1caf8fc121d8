#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# `svcbpf monitor`: the dataplane's events, live. One NEW event (with the backend that really
# answered) per TCP connection and per UDP flow, one REPLY each, REJECT with its reason,
# the service/client/type filters, per-packet trace, Kubernetes names, nothing made when
# nobody listens (the lease is released on exit and expires after a SIGKILL), the rate
# limit with its lost count, and bad input. One topology and one `load eth0` for the file;
# each test uses its own ClusterIP, and only one monitor listens at a time (they share the
# ring).

load ../lib/e2e

VIP_WEB=10.96.0.50     # :80 -> every pod :8080
VIP_DNS=10.96.0.10     # :53/udp -> pod1 :53
VIP_EMPTY=10.96.0.99   # :80, no backend: rejected
VIP_RATE=10.96.0.11    # :53/udp -> pod2 :53 (the rate-limit burst)
VIP_K8S=10.96.0.80     # a Kubernetes Service, applied while a monitor listens

setup_file() {
	e2e_require
	e2e_setup_topology 3
	sb_ok load eth0
	sb_ok svc add "$VIP_WEB:80" --backend "$(topo_pod_ip 1):8080" \
		--backend "$(topo_pod_ip 2):8080" --backend "$(topo_pod_ip 3):8080"
	sb_ok svc add "$VIP_DNS:53/udp" --backend "$(topo_pod_ip 1):53"
	sb_ok svc add "$VIP_EMPTY:80"
	sb_ok svc add "$VIP_RATE:53/udp" --backend "$(topo_pod_ip 2):53"
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	M=$BATS_TEST_TMPDIR
	MON_PID=
	MON2_PID=
}

teardown() {
	mon_kill
}

# mon_start ARGS...: `svcbpf monitor ARGS` in the node namespace, in the background (stdout
# in $M/mon.out, stderr in $M/mon.err, pid in MON_PID); waits (10 s at most) until it
# listens. nsenter execs svcbpf, so MON_PID is svcbpf's own pid.
mon_start() {
	: >"$M/mon.out"
	: >"$M/mon.err"
	nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" monitor "$@" </dev/null >"$M/mon.out" 2>"$M/mon.err" 3>&- &
	MON_PID=$!
	MON_T0=$(date +%s.%N)
	topo_poll 10 grep -q '^svcbpf: monitoring events ' "$M/mon.err" ||
		e2e_fail "monitor $* did not start listening: $(cat "$M/mon.err")"
}

# mon_wait SECONDS: wait for the monitor to exit by itself; MON_RC is its exit code.
mon_wait() {
	local deadline=$((SECONDS + $1))
	while kill -0 "$MON_PID" 2>/dev/null; do
		((SECONDS < deadline)) || { e2e_fail "monitor still running after $1 s"; return 1; }
		sleep 0.05
	done
	MON_RC=0
	wait "$MON_PID" || MON_RC=$?
	MON_PID=
	MON_T1=$(date +%s.%N)
}

# mon_stop [SIG]: SIGINT (as Ctrl-C) or SIG, then wait (5 s at most); it must exit 0.
mon_stop() {
	kill "-${1:-INT}" "$MON_PID" || return 1
	mon_wait 5 || return 1
	assert_eq "monitor exit code after SIG${1:-INT} (stderr: $(cat "$M/mon.err"))" 0 "$MON_RC"
}

# mon_kill: the teardown's: whatever monitor is still running is killed.
mon_kill() {
	local pid
	for pid in ${MON_PID:-} ${MON2_PID:-}; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	MON_PID=
	MON2_PID=
}

# lines_at_least N: the monitor printed N lines or more.
lines_at_least() { (($(wc -l <"$M/mon.out") >= $1)); }

# mon_events JQ_FILTER: apply JQ_FILTER to the JSON events (slurped into one array).
mon_events() { jq -rs "$1" "$M/mon.out"; }

# mon_switch FIELD: the monitor switch's FIELD (until_ns, events, rate) read with bpftool.
mon_switch() {
	bpftool -j map dump pinned "$TOPO_PIN_DIR/svcbpf_mon_v1" |
		jq -r ".[0].formatted.value.$1 // .[0].value.$1"
}

# coarse_now: CLOCK_MONOTONIC_COARSE (clock id 6; not every Python names it) in ns, the
# clock of the switch's until_ns.
coarse_now() {
	"$PYTHON" -c 'import time; print(time.clock_gettime_ns(6))'
}

# lease_over: the switch's until_ns is in the past (no monitor holds it).
lease_over() { (($(mon_switch until_ns) < $(coarse_now))); }

# ring_producer: the ring buffer's producer position (bytes ever written to it), read from
# its pinned map's mmap'd producer page: it moves only when a program makes an event.
ring_producer() {
	"$PYTHON" - "$TOPO_PIN_DIR/svcbpf_evt_v1" <<-'PY'
	import ctypes, mmap, os, struct, sys
	libc = ctypes.CDLL(None, use_errno=True)
	path = sys.argv[1].encode()
	# union bpf_attr for BPF_OBJ_GET (7): pathname, bpf_fd, file_flags (BPF_F_RDONLY = 1 << 3)
	attr = struct.pack("=QII", ctypes.cast(ctypes.c_char_p(path), ctypes.c_void_p).value, 0, 0)
	buf = ctypes.create_string_buffer(attr, 128)
	fd = libc.syscall(321, 7, buf, 128)
	if fd < 0:
	    sys.exit("BPF_OBJ_GET %s: %s" % (path, os.strerror(ctypes.get_errno())))
	page = mmap.PAGESIZE
	m = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
	print(struct.unpack("=Q", m[:8])[0])
	PY
}

# udp_queries HOST PORT N: N queries, each from a new socket (a new flow), one after the other
# in one process (a Python start costs ~0.3 s here); prints "reply=... from=IP:PORT" for each.
udp_queries() {
	topo_client "$PYTHON" -c '
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"hello", (host, port))
    try:
        data, src = s.recvfrom(2048)
        print("reply=%s from=%s:%d" % (data.decode().strip().replace(" ", "/"), src[0], src[1]))
    except socket.timeout:
        print("reply= from= error=timeout")
    s.close()' "$1" "$2" "$3"
}

# udp_flows HOST PORT N: N datagrams from the client, each from a new socket (a new flow),
# sent in one process; no wait for answers.
udp_flows() {
	topo_client "$PYTHON" -c '
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", (host, port))
    socks.append(s)' "$1" "$2" "$3"
}

@test "monitor: one NEW event per TCP connection, with the backend that answered, and one REPLY" {
	local k=20 out n
	mon_start -o json --type new,reply
	out=$(http_burst "$VIP_WEB" 80 $k)
	assert_eq "connections answered" $k "$(grep -c '^pod[0-9] ' <<<"$out")"
	topo_poll 5 lines_at_least $((2 * k)) || e2e_fail "expected $((2 * k)) events: $(cat "$M/mon.out")"
	sleep 0.3 # nothing more may come
	mon_stop
	n=$(wc -l <"$M/mon.out")
	e2e_note "$k connections -> $n events; stderr: $(tail -1 "$M/mon.err")"
	assert_eq "new events" $k "$(mon_events '[.[] | select(.type == "new")] | length')"
	assert_eq "reply events" $k "$(mon_events '[.[] | select(.type == "reply")] | length')"
	assert_eq "events in all" $((2 * k)) "$n"
	assert_eq "distinct client ports of the new events" $k \
		"$(mon_events '[.[] | select(.type == "new") | .src] | unique | length')"
	assert_eq "every new event: service, protocol, hook, interface" "" \
		"$(mon_events '.[] | select(.type == "new") | select(.service != "'$VIP_WEB':80/tcp" or
			.protocol != "tcp" or .hook != "tc_ingress" or .ifname != "eth0" or
			.client != .src or .dst != "'$VIP_WEB':80" or .reason != null or
			.tcp_flags != 2 or .service_id == 0 or .backend_id == 0) | tostring')"
	# The backend of each connection's NEW event is the pod that answered it (by client port).
	local answered seen
	answered=$(sed -n 's/^pod[0-9] \([0-9.]*\) client=10\.244\.0\.5:\([0-9]*\)$/\2 \1:8080/p' <<<"$out" | sort)
	seen=$(mon_events '.[] | select(.type == "new") | "\(.src | split(":")[1]) \(.backend)"' | sort)
	assert_eq "client port -> backend: what the pods answered vs the NEW events" "$answered" "$seen"
	# Each REPLY: from the backend the NEW event named, translated back to the service.
	seen=$(mon_events '.[] | select(.type == "reply") | "\(.dst | split(":")[1]) \(.src)"' | sort)
	assert_eq "client port -> backend of the REPLY events" "$answered" "$seen"
	assert_eq "REPLY events: service, hook, client, SYN-ACK" "" \
		"$(mon_events '.[] | select(.type == "reply") | select(.service != "'$VIP_WEB':80/tcp" or
			.hook != "tc_egress" or .client != .dst or .backend != .src or .tcp_flags != 18) |
			tostring')"
	e2e_note "per backend: $(mon_events '[.[] | select(.type == "new") | .backend] | group_by(.) |
		map("\(.[0])=\(length)") | join(" ")')"
	assert_match "exit summary" "^svcbpf: $((2 * k)) events, 0 lost$" "$(tail -1 "$M/mon.err")"
}

@test "monitor: UDP flows make NEW and REPLY events; a service without backends REJECT events (plain output)" {
	local i n out
	mon_start --type new,reply,reject --client 10.244.0.5/32
	out=$(udp_queries "$VIP_DNS" 53 5)
	assert_eq "5 UDP queries answered by pod1 from the ClusterIP" 5 \
		"$(grep -cx "reply=pod1/$(topo_pod_ip 1) from=$VIP_DNS:53" <<<"$out")"
	for ((i = 0; i < 3; i++)); do
		! http_once "$VIP_EMPTY" 80 >/dev/null || e2e_fail "$VIP_EMPTY:80 has no backend, yet answered"
	done
	topo_poll 5 lines_at_least 13 || e2e_fail "expected 13 events: $(cat "$M/mon.out")"
	sleep 0.3
	mon_stop TERM
	e2e_note "events:"$'\n'"$(cat "$M/mon.out")"
	n=$(grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} new     udp  10\.244\.0\.5:[0-9]+ -> '"$VIP_DNS"':53 => 10\.244\.1\.10:53  eth0 tc_ingress$' "$M/mon.out")
	assert_eq "UDP new events (one per datagram, from a new socket each)" 5 "$n"
	n=$(grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} reply   udp  10\.244\.1\.10:53 -> 10\.244\.0\.5:[0-9]+ => from '"$VIP_DNS"':53  eth0 tc_egress$' "$M/mon.out")
	assert_eq "UDP reply events (the first reply of each flow)" 5 "$n"
	n=$(grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} reject  tcp  10\.244\.0\.5:[0-9]+ -> '"$VIP_EMPTY"':80  no_backend  eth0 tc_ingress$' "$M/mon.out")
	assert_eq "reject events with reason no_backend (one per attempt)" 3 "$n"
	assert_eq "events in all" 13 "$(wc -l <"$M/mon.out")"
	# The events' wall clock is now (within a minute), converted from CLOCK_MONOTONIC.
	local first now
	first=$(head -1 "$M/mon.out" | cut -c1-8)
	now=$(date +%H:%M:%S)
	e2e_note "first event at $first, now $now"
	(($(date -d "$now" +%s) - $(date -d "$first" +%s) < 60)) ||
		e2e_fail "event time $first is not now ($now)"
}

@test "monitor: IPv4 fragments make SKIP events with reason fragment" {
	local n
	mon_start -o json --type skip,drop
	# One 3000-byte datagram: the client's stack sends it as 3 fragments (MTU 1500).
	topo_client "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x" * 3000, (sys.argv[1], 53))' "$VIP_DNS"
	topo_poll 5 lines_at_least 3 || e2e_fail "expected 3 skip events: $(cat "$M/mon.out")"
	sleep 0.3
	mon_stop
	e2e_note "fragment events: $(mon_events 'map("\(.type) \(.reason) \(.src)->\(.dst) \(.hook) len=\(.len)") | join(", ")')"
	n=$(mon_events '[.[] | select(.type == "skip" and .reason == "fragment" and .hook == "tc_ingress" and .ifname == "eth0")] | length')
	assert_eq "skip events, reason fragment, one per fragment" 3 "$n"
	assert_eq "events in all" 3 "$(wc -l <"$M/mon.out")"
	assert_eq "fragment lengths (frame bytes)" "82 1514 1514" "$(mon_events 'map(.len) | sort | map(tostring) | join(" ")')"
	# The addresses are known (the ports are not: only the first fragment has them).
	assert_eq "fragment events' addresses" "udp 10.244.0.5 $VIP_DNS" \
		"$(mon_events '[.[] | "\(.protocol) \(.src | split(":")[0]) \(.dst | split(":")[0])"] | unique | join(",")')"
}

@test "monitor: --service, --client and --type filters" {
	local out
	# Only the UDP service's events (no /proto given: either protocol), client in a /32.
	mon_start -o json --service "$VIP_DNS:53" --client 10.244.0.5/32 --type new,reply,reject
	http_burst "$VIP_WEB" 80 3 >/dev/null
	udp_queries "$VIP_DNS" 53 3 >/dev/null
	http_once "$VIP_EMPTY" 80 >/dev/null || true
	topo_poll 5 lines_at_least 6 || e2e_fail "expected 6 events: $(cat "$M/mon.out")"
	sleep 0.3
	mon_stop
	out=$(mon_events 'map("\(.type) \(.service)") | group_by(.) | map("\(.[0])=\(length)") | join(" ")')
	e2e_note "--service $VIP_DNS:53 --client 10.244.0.5/32: $out"
	assert_eq "events of --service $VIP_DNS:53" "new $VIP_DNS:53/udp=3 reply $VIP_DNS:53/udp=3" "$out"

	# A client network nobody is in: no event; --duration ends it.
	mon_start --client 10.244.9.9 --type all --duration 1.5
	http_burst "$VIP_WEB" 80 3 >/dev/null
	udp_query "$VIP_DNS" 53 >/dev/null || true
	mon_wait 5
	assert_eq "exit code after --duration" 0 "$MON_RC"
	assert_eq "events for --client 10.244.9.9" "" "$(cat "$M/mon.out")"
	assert_match "summary" "^svcbpf: 0 events, 0 lost$" "$(tail -1 "$M/mon.err")"
	e2e_note "--client 10.244.9.9 --duration 1.5: exited after $(echo "$MON_T1 - $MON_T0" | bc) s, no event"
	(($(echo "$MON_T1 - $MON_T0 < 3" | bc))) || e2e_fail "--duration 1.5 took too long"

	# --type new with --count: exactly the new events, then exit 0 by itself.
	mon_start -o json --type new --count 4
	http_burst "$VIP_WEB" 80 2 >/dev/null
	udp_queries "$VIP_DNS" 53 2 >/dev/null
	mon_wait 5
	assert_eq "exit code after --count 4" 0 "$MON_RC"
	assert_eq "--type new --count 4: types" "new new new new" "$(mon_events 'map(.type) | join(" ")')"
	assert_eq "--count 4: protocols" "tcp tcp udp udp" "$(mon_events 'map(.protocol) | join(" ")')"
}

@test "monitor: --type trace shows every translated packet of a keep-alive flow" {
	local ports
	touch "$M/go"
	mon_start -o json --type trace --service "$VIP_WEB:80/tcp"
	out=$(topo_client "$PYTHON" "$TOPO_PODSERVER" keepalive "$VIP_WEB" 80 --wait-file "$M/go")
	assert_match "two GETs on one connection" "^first=pod[0-9].second=pod[0-9]$" "${out//$'\n'/.}"
	topo_poll 5 lines_at_least 6 || e2e_fail "expected 6+ trace events: $(cat "$M/mon.out")"
	sleep 0.5
	mon_stop
	e2e_note "keep-alive flow: $(mon_events 'map(.type) | group_by(.) | map("\(.[0])=\(length)") | join(" ")')"
	assert_eq "only dnat and revnat events" "dnat revnat" \
		"$(mon_events 'map(.type) | unique | join(" ")')"
	(($(mon_events '[.[] | select(.type == "dnat")] | length') >= 3)) ||
		e2e_fail "expected 3+ dnat events (ACK, GET, GET, FIN...)"
	(($(mon_events '[.[] | select(.type == "revnat")] | length') >= 2)) ||
		e2e_fail "expected 2+ revnat events (the two answers)"
	ports=$(mon_events 'map(.client) | unique | length')
	assert_eq "one flow: one client address" 1 "$ports"
	assert_eq "one flow: one backend" 1 "$(mon_events 'map(.backend) | unique | length')"
	assert_eq "service of every event" "$VIP_WEB:80/tcp" "$(mon_events 'map(.service) | unique | join(" ")')"
	assert_eq "dnat from tc_ingress, revnat from tc_egress" "dnat tc_ingress revnat tc_egress" \
		"$(mon_events 'map("\(.type) \(.hook)") | unique | join(" ")')"
	assert_eq "time order" "$(mon_events 'map(.ts_ns) | sort | join(" ")')" \
		"$(mon_events 'map(.ts_ns) | join(" ")')"
}

@test "monitor: names a Kubernetes Service applied while it listens" {
	cat >"$M/web.yaml" <<-YAML
	apiVersion: v1
	kind: Service
	metadata:
	  name: web
	  namespace: shop
	spec:
	  clusterIP: $VIP_K8S
	  selector:
	    app: web
	  ports:
	    - protocol: TCP
	      port: 80
	      targetPort: 8080
	---
	apiVersion: v1
	kind: Pod
	metadata:
	  name: web-1
	  namespace: shop
	  labels:
	    app: web
	spec:
	  containers:
	  - name: web
	    image: nginx
	status:
	  podIP: $(topo_pod_ip 3)
	  conditions:
	  - type: Ready
	    status: "True"
	YAML
	mon_start -o json --type new --count 2
	sb_ok apply -f "$M/web.yaml"
	http_once "$VIP_K8S" 80 >/dev/null
	http_once "$VIP_WEB" 80 >/dev/null
	mon_wait 5
	e2e_note "names: $(mon_events 'map("\(.service) \(.name)") | join(", ")')"
	assert_eq "name of each event's service" "shop/web null" "$(mon_events 'map(.name | tostring) | join(" ")')"
	assert_eq "backend of the Service's flow" "$(topo_pod_ip 3):8080" "$(mon_events '.[0].backend')"
	sb_ok delete -f "$M/web.yaml"
}

@test "monitor: nothing is made when nobody listens; a killed monitor's lease expires" {
	local p0 p1 until now t0 waited
	# The last monitor exited: the switch is off, and traffic writes nothing to the ring.
	mon_start --type all --count 1
	udp_query "$VIP_DNS" 53 >/dev/null || true
	mon_wait 5
	assert_eq "until_ns after the monitor exited" 0 "$(mon_switch until_ns)"
	p0=$(ring_producer)
	http_burst "$VIP_WEB" 80 5 >/dev/null
	udp_query "$VIP_DNS" 53 >/dev/null || true
	p1=$(ring_producer)
	e2e_note "ring producer position before/after 5 connections and a datagram, nobody listening: $p0 / $p1"
	assert_eq "ring producer position, nobody listening" "$p0" "$p1"

	# While one listens, the same traffic does write events.
	mon_start --type all
	http_once "$VIP_WEB" 80 >/dev/null
	p1=$(ring_producer)
	((p1 > p0)) || e2e_fail "ring producer did not move while a monitor listened ($p0 -> $p1)"

	# SIGKILL: no release; the lease runs out within SVCBPF_MON_LEASE (3 s) + 1 s.
	kill -KILL "$MON_PID"
	wait "$MON_PID" 2>/dev/null || true
	MON_PID=
	t0=$SECONDS
	until=$(mon_switch until_ns)
	now=$(coarse_now)
	((until > now)) || e2e_fail "lease already over right after the kill ($until <= $now)"
	e2e_note "killed monitor: lease ends in $(((until - now) / 1000000)) ms"
	topo_poll 5 lease_over ||
		e2e_fail "the lease did not run out within 5 s of the kill"
	waited=$((SECONDS - t0))
	((waited <= 4)) || e2e_fail "the lease ran out only after $waited s (at most 4 expected)"
	p0=$(ring_producer)
	http_burst "$VIP_WEB" 80 3 >/dev/null
	p1=$(ring_producer)
	assert_eq "ring producer position after the lease ran out" "$p0" "$p1"
	e2e_note "killed monitor's lease over within $waited s; traffic after it: no event"
}

@test "monitor: one reader at a time; the first keeps every event, a killed one frees the ring" {
	local rc=0 err
	mon_start --type new,reply
	# A second reader would take part of the events from the first: refused.
	err=$(nsenter --net="/run/netns/$TOPO_NODE" -- timeout 10 "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" monitor --type reply --duration 2 2>&1 </dev/null 3>&-) || rc=$?
	assert_eq "second monitor's exit code" 1 "$rc"
	assert_match "second monitor's error" "^svcbpf: another svcbpf monitor is reading the events" "$err"
	assert_eq "second monitor's output lines" 1 "$(wc -l <<<"$err")"
	# The first still sees both halves of a connection.
	http_once "$VIP_WEB" 80 >/dev/null
	topo_poll 3 grep -q '^[0-9:.]* reply ' "$M/mon.out" ||
		e2e_fail "the first monitor saw no reply: $(cat "$M/mon.out")"
	grep -q '^[0-9:.]* new ' "$M/mon.out" || e2e_fail "the first monitor saw no new event"
	# Killed, it lets go of the ring at once: the next monitor starts.
	kill -KILL "$MON_PID"
	wait "$MON_PID" 2>/dev/null || true
	MON_PID=
	rc=0
	err=$(nsenter --net="/run/netns/$TOPO_NODE" -- timeout 10 "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" monitor --duration 0.5 2>&1 </dev/null 3>&-) || rc=$?
	assert_eq "a monitor after a killed one: exit code ($err)" 0 "$rc"
	topo_poll 5 lease_over || e2e_fail "the lease stands 5 s after the last monitor left"
}

@test "monitor: --rate 5 under a 100-flow burst: bounded output, the rest counted lost" {
	local lost0 lost1 n elapsed ncpu sum
	topo_poll 5 lease_over || e2e_fail "an earlier monitor's lease still stands"
	lost0=$(e2e_counter monitor_events_lost)
	mon_start -o json --type new --rate 5 --service "$VIP_RATE:53/udp"
	udp_flows "$VIP_RATE" 53 100
	sleep 0.5
	mon_stop
	lost1=$(e2e_counter monitor_events_lost)
	n=$(wc -l <"$M/mon.out")
	ncpu=$(nproc)
	elapsed=$(echo "$MON_T1 - $MON_T0" | bc)
	sum=$(tail -1 "$M/mon.err")
	e2e_note "--rate 5, 100 flows, $ncpu CPUs, ${elapsed} s: $n printed; '$sum'; status lost $lost0 -> $lost1"
	((n >= 1)) || e2e_fail "no event printed"
	(($(echo "$n <= 5 * ($elapsed + 1) * $ncpu" | bc))) ||
		e2e_fail "$n events printed: more than 5/s per CPU over ${elapsed} s"
	assert_match "summary" "^svcbpf: $n events, [1-9][0-9]* lost$" "$sum"
	local lost=${sum##*events, }
	lost=${lost% lost}
	((lost1 - lost0 >= lost)) || e2e_fail "status monitor_events_lost grew by $((lost1 - lost0)), summary says $lost"
	((n + lost >= 100)) || e2e_fail "printed $n + lost $lost < the 100 flows"
}

@test "monitor: bad input exits 1 with one line" {
	local args
	for args in "--type new,bogus" "--type" "--client 10.244.0" "--client 10.244.0.5/33" \
		"--count 0" "--count -1" "--duration 0" "--duration 1s" "--rate 0" \
		"--service 10.96.0.50" "--service 10.96.0.50:80/sctp" "--bogus" "extra" \
		"--count 1 --count 2"; do
		# shellcheck disable=SC2086
		sb monitor $args
		assert_eq "exit code of 'monitor $args' ($SB_OUT)" 1 "$SB_RC"
		assert_eq "lines of 'monitor $args'" 1 "$(wc -l <<<"$SB_OUT")"
		assert_match "message of 'monitor $args'" "^svcbpf: " "$SB_OUT"
	done
	e2e_note "e.g. 'monitor --type new,bogus': $(topo_svcbpf monitor --type new,bogus 2>&1)"
	SB_RC=0
	SB_OUT=$(timeout 10 nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" \
		--pin-dir "$TOPO_PIN_DIR-none" --state-dir "$TOPO_STATE_DIR" monitor 2>&1) || SB_RC=$?
	assert_eq "exit code when not loaded ($SB_OUT)" 1 "$SB_RC"
	assert_eq "lines when not loaded" 1 "$(wc -l <<<"$SB_OUT")"
	assert_contains "not loaded message" "not loaded" "$SB_OUT"
	sb -o json monitor --count 0
	assert_eq "-o json error exit code" 1 "$SB_RC"
	assert_eq "-o json error is one JSON object" "true" "$(jq -c 'has("error")' <<<"$SB_OUT")"
}
