#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# 'svcbpf stats' and 'svcbpf dump' against traffic we control: N UDP datagrams counted exactly
# (packets, replies, flows, bytes to the frame), M TCP connections split over three backends as
# the pods saw them, the VIP:PORT filter and the errors, --watch frames and rates (plain and
# JSON, SIGINT), and the dump checked line by line against the maps as bpftool reads them.
#
# One topology of three pods for the file; every test starts with svcbpf loaded on eth0, an
# empty store and fresh maps, and uses its own ClusterIPs, so no earlier flow can be counted.

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
	BG_PIDS=$BATS_TEST_TMPDIR/bg-pids
	: >"$BG_PIDS"
}

# Stop what the test started in the background (by pid), then forget svcbpf.
teardown() {
	local pid
	while read -r pid; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done <"$BG_PIDS"
	e2e_reset_svcbpf
}

# The payload udp_query sends: podserver.py's default --message.
UDP_MSG=$(sed -n 's/.*"--message", default="\([^"]*\)".*/\1/p' "$TOPO_PODSERVER")

# udp_n VIP PORT N: N datagrams, each from a new socket (a new flow), as udp_query sends them
# ($UDP_MSG), in one client process; every one must be answered.
udp_n() {
	local ok
	ok=$(TOPO_TIMEOUT=30 topo_client "$PYTHON" -c '
import socket, sys
host, port, n, msg, ok = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], 0
base = int(sys.argv[5])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    # A source port of its own, below the ephemeral range: every datagram is a new flow (a
    # kernel-chosen port may be one an earlier datagram still has a conntrack entry for).
    s.bind(("", base + i))
    s.sendto(msg.encode(), (host, port))
    try:
        s.recvfrom(2048)
        ok += 1
    except socket.timeout:
        pass
    s.close()
print(ok)' "$1" "$2" "$3" "$UDP_MSG" "$((20000 + RANDOM % 8000))") || true
	assert_eq "UDP datagrams to $1:$2 answered" "$3" "$ok"
}

# stats_vals JSON_DOC SERVICE [BACKEND]: the counters of a service (or of one of its backends),
# "flows=N packets=N bytes=N reply_packets=N reply_bytes=N[ drops=N]", from one python run.
stats_vals() {
	"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
s = [s for s in d["services"] if s["service"] == sys.argv[1]][0]
o = [b for b in s["backends"] if b["backend"] == sys.argv[2]][0] if len(sys.argv) > 2 else s
keys = ["flows", "packets", "bytes", "reply_packets", "reply_bytes"] + (["drops"] if o is s else [])
print(" ".join("%s=%s" % (k, o[k]) for k in keys))' "${@:2}" <<<"$1"
}

# jsonl_eval PY_EXPR: evaluate PY_EXPR with L = the JSON lines on stdin, each parsed.
# traffic_counted VIP:PORT: the service has counted a packet.
traffic_counted() {
	local n
	n=$(topo_svcbpf -o json stats "$1" | jq '.services[0].packets') && ((n > 0))
}

jsonl_eval() {
	"$PYTHON" -c '
import json, sys
L = [json.loads(l) for l in sys.stdin.read().splitlines()]
print(eval(sys.argv[1]))' "$1"
}

# ipt_num N: N as iptables -L -v prints a counter (print_num with FMT_KILOMEGAGIGA), unpadded.
ipt_num() {
	local n=$1 u
	if ((n <= 99999)); then
		echo "$n"
		return
	fi
	for u in K M G T; do
		n=$(((n + 500) / 1000))
		if ((n <= 9999)) || [ "$u" = T ]; then
			echo "$n$u"
			return
		fi
	done
}

# maps_translations: what the maps hold, read by bpftool alone: one line per service entry,
# "VIP:PORT/proto id=N BACKEND_ID=IP:PORT/SLOTS ..." (backends in id order; "none": no table).
maps_translations() {
	"$PYTHON" - "$TOPO_PIN_DIR" <<-'PY'
	import json, subprocess, sys
	from collections import Counter
	pin = sys.argv[1]
	def dump(*args):
	    return json.loads(subprocess.check_output(["bpftool", "map", "dump", *args, "-j"]))
	def raw(v):
	    return bytes(int(x, 16) for x in v)
	be = {}
	for e in dump("pinned", pin + "/svcbpf_be_v1"):
	    k, v = raw(e["key"]), raw(e["value"])
	    be[int.from_bytes(k, "little")] = "%d.%d.%d.%d:%d" % (*v[0:4], int.from_bytes(v[4:6], "big"))
	tables = {}
	for e in dump("pinned", pin + "/svcbpf_mag_v1"):
	    sid = int.from_bytes(raw(e["key"]), "little")
	    inner = int.from_bytes(raw(e["value"]), "little")
	    t = raw(dump("id", str(inner))[0]["value"])
	    ids = [int.from_bytes(t[i:i + 4], "little") for i in range(0, len(t), 4)]
	    tables[sid] = Counter(i for i in ids if i)
	rows = []
	for e in dump("pinned", pin + "/svcbpf_svc_v2"):
	    k, v = raw(e["key"]), raw(e["value"])
	    sid = int.from_bytes(v[0:4], "little")
	    svc = "%d.%d.%d.%d:%d/%s" % (*k[0:4], int.from_bytes(k[4:6], "big"),
	                                  {6: "tcp", 17: "udp"}.get(k[6], str(k[6])))
	    t = tables.get(sid)
	    bes = " ".join("%d=%s/%d" % (b, be.get(b, "?"), n) for b, n in sorted(t.items())) if t else "none"
	    rows.append((k[0:6], "%s id=%d %s" % (svc, sid, bes)))
	for _, r in sorted(rows):
	    print(r)
	PY
}

# dump_translations JSON: the same lines from 'dump -o json' (its rules with table slots).
dump_translations() {
	"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
svcs = {}
for r in d["rules"]:
    key = (tuple(map(int, r["destination"].split("."))), r["dport"], r["protocol"])
    s = svcs.setdefault(key, ["%s:%d/%s id=%d" % (r["destination"], r["dport"], r["protocol"], r["service_id"])])
    if r["target"] == "DNAT" and r["slots"]:
        s.append((r["backend_id"], "%d=%s/%d" % (r["backend_id"], r["to"], r["slots"])))
for k in sorted(svcs):
    head, bes = svcs[k][0], sorted(svcs[k][1:])
    print(head, " ".join(b for _, b in bes) if bes else "none")'
}

# squeeze TEXT: runs of spaces as one.
squeeze() { tr -s ' ' <<<"$1"; }

@test "stats: N UDP datagrams counted exactly: packets, replies, flows, bytes to the frame" {
	local vip=10.96.1.10 n=20 pod1 doc b1 rb1 out reply
	pod1=$(topo_pod_ip 1)
	sb_ok svc add "$vip:53/udp" --backend "$pod1:53"
	sb_ok stats -o json
	assert_eq "counters before any traffic" "flows=0 packets=0 bytes=0 reply_packets=0 reply_bytes=0 drops=0" \
		"$(stats_vals "$SB_OUT" "$vip:53/udp")"

	# One datagram first: its frame on the node's eth0 is Ethernet + IPv4 + UDP + payload
	# (podserver.py's default message); the reply's payload is what the pod answered:
	# "pod1 IP\n", which udp_query prints with '/' for ' ' and without the newline.
	[ -n "$UDP_MSG" ] || e2e_fail "no default --message in $TOPO_PODSERVER"
	out=$(udp_query "$vip" 53)
	reply=${out#reply=}
	reply=${reply%% from=*}
	b1=$((14 + 20 + 8 + ${#UDP_MSG}))
	rb1=$((14 + 20 + 8 + ${#reply} + 1))
	sb_ok stats -o json
	assert_eq "one datagram ('$UDP_MSG' a $b1-byte frame, reply '$reply' a $rb1-byte frame)" \
		"flows=1 packets=1 bytes=$b1 reply_packets=1 reply_bytes=$rb1 drops=0" \
		"$(stats_vals "$SB_OUT" "$vip:53/udp")"

	udp_n "$vip" 53 "$n"
	local total=$((n + 1)) want
	want="flows=$total packets=$total bytes=$((total * b1)) reply_packets=$total reply_bytes=$((total * rb1))"
	sb_ok stats -o json
	doc=$SB_OUT
	assert_eq "service after $total datagrams" "$want drops=0" "$(stats_vals "$doc" "$vip:53/udp")"
	assert_eq "backend $pod1:53 after $total datagrams" "$want" "$(stats_vals "$doc" "$vip:53/udp" "$pod1:53")"
	assert_eq "backend state, weight, no owner" "active 1 None None" \
		"$(json_eval "' '.join(str(x) for s in d['services'] for x in (s['backends'][0]['state'], s['backends'][0]['weight'], s['namespace'], s['name']))" <<<"$doc")"

	sb_ok stats "$vip:53/udp"
	assert_match "plain service row" "^$vip:53/udp +- +$total +$total +[0-9.]+(B|KiB) +$total " \
		"$(grep "^$vip" <<<"$SB_OUT")"
	assert_match "plain backend row" "^  $pod1:53 +active +weight 1 +$total +$total " \
		"$(grep "^  $pod1" <<<"$SB_OUT")"
	e2e_note "UDP: $total datagrams -> packets/replies/flows $total, bytes $((total * b1)) ($b1 a frame), reply bytes $((total * rb1)) ($rb1 a frame)"
}

@test "stats: M TCP connections over three backends: flows as the pods answered them" {
	local vip=10.96.1.50 m=15 n b out doc served
	for ((n = 1; n <= 3; n++)); do b+=(--backend "$(topo_pod_ip "$n"):8080"); done
	sb_ok svc add "$vip:80" "${b[@]}"
	expect_http_ok "$m connections to $vip:80" "$vip" 80 "$m"
	out=$E2E_HTTP_OUT
	sb_ok stats -o json
	doc=$SB_OUT
	# Per backend "flows packets replies", and the service's.
	local rows
	rows=$(json_eval "[f\"{b['backend']} {b['flows']} {b['packets']} {b['reply_packets']}\" for b in d['services'][0]['backends']] + [f\"service {s['flows']} {s['packets']} {s['drops']}\" for s in d['services']]" <<<"$doc")
	local sum_f=0 sum_p=0 be f p r
	for ((n = 1; n <= 3; n++)); do
		read -r be f p r <<<"$(grep "^$(topo_pod_ip "$n"):8080 " <<<"$rows")"
		served=$(grep -c "^pod$n " <<<"$out" || true)
		assert_eq "flows of $be = connections pod$n answered" "$served" "$f"
		if ((f > 0)); then
			((p >= 3 * f)) || e2e_fail "$be: $p packets for $f connections" || return 1
			((r > 0)) || e2e_fail "$be: no reply for $f connections" || return 1
		else
			assert_eq "packets of $be, which served none" 0 "$p"
		fi
		sum_f=$((sum_f + f)) sum_p=$((sum_p + p))
		e2e_note "$be: flows $f packets $p replies $r"
	done
	assert_eq "sum of backend flows" "$m" "$sum_f"
	assert_eq "service: flows, packets (= sum over backends), drops" "service $m $sum_p 0" \
		"$(grep '^service ' <<<"$rows")"
}

@test "stats: VIP:PORT filter, errors, owner names, not loaded" {
	local vip=10.96.2.10 other=10.96.2.11 doc
	sb_ok svc add "$vip:53/udp" --backend "$(topo_pod_ip 1):53"
	sb_ok svc add "$vip:53" --backend "$(topo_pod_ip 1):8080"
	sb_ok svc add "$other:80" --backend "$(topo_pod_ip 2):8080"

	sb_ok stats "$vip:53" -o json
	assert_eq "filter without /proto: both protocols" "$vip:53/tcp $vip:53/udp" \
		"$(json_eval "' '.join(s['service'] for s in d['services'])" <<<"$SB_OUT")"
	sb_ok stats "$vip:53/udp" -o json
	assert_eq "filter with /udp" "$vip:53/udp" \
		"$(json_eval "' '.join(s['service'] for s in d['services'])" <<<"$SB_OUT")"
	sb_ok stats
	assert_eq "plain: header and 3 services with a backend each" 7 "$(wc -l <<<"$SB_OUT")"
	assert_match "plain header" "^SERVICE +NAME +FLOWS +PACKETS +BYTES +REPLIES +REPLY BYTES +DROPS$" \
		"$(head -1 <<<"$SB_OUT")"

	local bad
	for bad in "10.96.2.99:53" "10.96.2.11:80/udp"; do
		sb stats "$bad"
		assert_eq "stats $bad (no such service): exit" 1 "$SB_RC"
		assert_eq "stats $bad: one line" 1 "$(wc -l <<<"$SB_OUT")"
		assert_contains "stats $bad: message" "no service" "$SB_OUT"
	done
	for bad in "--bogus" "--watch 50ms" "--watch 2h" "--watch abc" "--watch" "--count 3" \
		"--watch 1s --count 0" "--watch 1s --watch 2s" "$vip:53 $other:80" "not-an-address"; do
		# shellcheck disable=SC2086 # the words are the arguments
		sb stats $bad
		assert_eq "stats $bad: usage error exit" 1 "$SB_RC"
		assert_eq "stats $bad: one line" 1 "$(wc -l <<<"$SB_OUT")"
	done
	sb stats --watch 1s --count 0 -o json
	json_eval "d['error']" <<<"$SB_OUT" >/dev/null || e2e_fail "-o json usage error is not JSON: $SB_OUT"

	# A Service applied as a manifest: its name, and null for the CLI's.
	cat >"$BATS_TEST_TMPDIR/svc.yaml" <<-YAML
	apiVersion: v1
	kind: Service
	metadata:
	  name: stats-svc
	spec:
	  clusterIP: 10.96.2.20
	  selector:
	    app: stats
	  ports:
	    - protocol: TCP
	      port: 80
	      targetPort: 8080
	---
	apiVersion: v1
	kind: Pod
	metadata:
	  name: pod1
	  labels:
	    app: stats
	spec:
	  containers:
	  - name: web
	    image: nginx
	status:
	  podIP: $(topo_pod_ip 1)
	  conditions:
	  - type: Ready
	    status: "True"
	YAML
	sb_ok apply -f "$BATS_TEST_TMPDIR/svc.yaml"
	sb_ok stats 10.96.2.20:80 -o json
	doc=$SB_OUT
	assert_eq "owned service: namespace/name" "default/stats-svc" \
		"$(json_eval "d['services'][0]['namespace'] + '/' + d['services'][0]['name']" <<<"$doc")"
	sb_ok stats 10.96.2.20:80
	assert_match "plain NAME column" "^10\.96\.2\.20:80/tcp +default/stats-svc +0 " \
		"$(sed -n 2p <<<"$SB_OUT")"
	sb_ok dump
	assert_contains "dump comment of an owned service" \
		"tcp dpt:80 -> $(topo_pod_ip 1):8080 /* default/stats-svc */" "$SB_OUT"

	sb_ok unload
	for bad in stats dump "stats --watch 1s --count 1"; do
		# shellcheck disable=SC2086
		sb $bad
		assert_eq "$bad when not loaded: exit" 1 "$SB_RC"
		assert_eq "$bad when not loaded: one line" 1 "$(wc -l <<<"$SB_OUT")"
		assert_contains "$bad when not loaded: message" "svcbpf is not loaded" "$SB_OUT"
	done
}

@test "stats --watch: frames, JSON lines, rates under traffic, SIGINT ends it at once" {
	local vip=10.96.3.10 out n pid i rc
	sb_ok svc add "$vip:53/udp" --backend "$(topo_pod_ip 1):53"

	sb_ok stats --watch 200ms --count 3
	n=$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  every 200ms' <<<"$SB_OUT" || true)
	assert_eq "plain frames (timestamp lines)" 3 "$n"
	assert_eq "plain frames (table headers)" 3 "$(grep -c '^SERVICE .*FLOWS/s .*PKTS/s .*BYTES/s .*REPLIES/s .*DROPS/s$' <<<"$SB_OUT")"
	assert_eq "plain frames (service rows)" 3 "$(grep -c "^$vip:53/udp " <<<"$SB_OUT")"

	sb_ok stats --watch 0.1 --count 1
	assert_match "--watch 0.1 (seconds without a unit)" "every 100ms" "$SB_OUT"
	sb_ok stats --watch 200ms --count 3 -o json
	assert_eq "JSON lines" 3 "$(wc -l <<<"$SB_OUT")"
	assert_eq "each line: rates >= 0, interval about 0.2 s, a UTC time" True \
		"$(jsonl_eval "all(v >= 0 and 0.15 < l['interval_s'] < 1 and l['time'].endswith('Z') for l in L for s in l['services'] for v in s['rate'].values())" <<<"$SB_OUT")"

	# A datagram every 10 ms for 3 s (each a new flow): every sample must see a rate.
	TOPO_TIMEOUT=6 topo_client "$PYTHON" -c '
import socket, sys, time
end = time.monotonic() + 3
while time.monotonic() < end:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"hello", (sys.argv[1], 53))
    s.close()
    time.sleep(0.01)' "$vip" &
	echo $! >>"$BG_PIDS"
	topo_poll 5 traffic_counted "$vip:53" || e2e_fail "no packet counted for $vip:53 in 5 s" || return 1
	sb_ok stats "$vip:53" --watch 300ms --count 4 -o json
	local rates
	rates=$(jsonl_eval "' '.join('%.1f' % l['services'][0]['rate']['packets'] for l in L)" <<<"$SB_OUT")
	e2e_note "under traffic: packet rates of 4 samples of 300 ms: $rates /s"
	assert_eq "every sample under traffic has a packet rate above 0 (rates: $rates)" True \
		"$(jsonl_eval "all(0 < l['services'][0]['rate']['packets'] < 1000 and l['services'][0]['rate']['flows'] > 0 for l in L)" <<<"$SB_OUT")"

	# Services come and go between samples: no crash, a rate only for ids in both samples.
	topo_svcbpf stats --watch 150ms --count 8 -o json >"$BATS_TEST_TMPDIR/churn.out" 2>&1 &
	pid=$!
	echo "$pid" >>"$BG_PIDS"
	for i in 1 2 3; do
		sb_ok svc add "10.96.3.2$i:80" --backend "$(topo_pod_ip "$i"):8080"
		sleep 0.15
		sb_ok svc del "10.96.3.2$i:80"
	done
	rc=0
	wait "$pid" || rc=$?
	assert_eq "stats --watch while services change: exit" 0 "$rc"
	out=$(cat "$BATS_TEST_TMPDIR/churn.out")
	assert_eq "lines while services change" 8 "$(wc -l <<<"$out")"
	assert_eq "a service new since the last sample has rate null, the others a rate" True \
		"$(jsonl_eval "any(s['rate'] is None for l in L for s in l['services']) and all(s['rate'] is not None for l in L for s in l['services'] if s['service'] == '$vip:53/udp')" <<<"$out")"

	# --watch 1h: SIGINT must end the sleep at once, with exit 0.
	# (nsenter execs svcbpf: the pid is svcbpf's own, not timeout(1)'s as with sb.)
	nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" stats --watch 1h >"$BATS_TEST_TMPDIR/watch.out" 2>&1 &
	pid=$!
	echo "$pid" >>"$BG_PIDS"
	# Signal it only once it waits (as a background job of a script it starts with SIGINT
	# ignored: one sent before it blocks SIGINT for its wait would be lost).
	local ready=""
	for ((i = 0; i < 100; i++)); do
		ready=$(grep -o sigtimedwait "/proc/$pid/wchan" 2>/dev/null) && break
		sleep 0.03
	done
	[ -n "$ready" ] || e2e_fail "stats --watch 1h not waiting after 3 s: $(cat "/proc/$pid/wchan")"
	stop_pid "$pid" INT 2 || return 1
	assert_eq "exit status after SIGINT" 0 "$STOP_RC"
	e2e_note "stats --watch 1h ended ${STOP_MS} ms after SIGINT, exit $STOP_RC"
}

@test "dump: the maps' translations, counters as iptables -v, REJECT, draining, -x, JSON" {
	local vip=10.96.0.50 dns=10.96.4.10 none_u=10.96.4.60 none_t=10.96.4.61 up=10.96.4.70
	local n p1 p2 p3 b=() u=() line maps dumped i k=3 before after
	p1=$(topo_pod_ip 1) p2=$(topo_pod_ip 2) p3=$(topo_pod_ip 3)
	for n in 1 2 3; do
		b+=(--backend "$(topo_pod_ip "$n"):8080")
		u+=(--backend "$(topo_pod_ip "$n"):9000")
	done
	sb_ok svc add "$vip:80" "${b[@]}"
	sb_ok svc add "$dns:53/udp" --backend "$p1:53"
	sb_ok svc add "$none_u:53/udp"
	sb_ok svc add "$none_t:80"
	sb_ok svc add "$up:9000" "${u[@]}"

	sb_ok dump
	e2e_note "dump:"$'\n'"$SB_OUT"
	assert_match "chain line" "^Chain SVCBPF-SERVICES \(5 services, 9 translations\)$" "$(head -1 <<<"$SB_OUT")"
	assert_match "header" "^ pkts bytes target +prot opt source +destination$" "$(sed -n 2p <<<"$SB_OUT")"
	assert_contains "the seed's line (squeezed)" \
		"DNAT tcp -- 0.0.0.0/0 10.96.0.50 tcp dpt:80 -> 10.244.1.10:8080" "$(squeeze "$SB_OUT")"
	assert_contains "UDP REJECT" \
		"REJECT udp -- 0.0.0.0/0 $none_u udp dpt:53 reject-with icmp-port-unreachable /* no backend */" \
		"$(squeeze "$SB_OUT")"
	assert_contains "TCP REJECT" \
		"REJECT tcp -- 0.0.0.0/0 $none_t tcp dpt:80 reject-with tcp-reset /* no backend */" \
		"$(squeeze "$SB_OUT")"

	# Every service entry and every backend of its Maglev table, as bpftool reads the maps.
	maps=$(maps_translations)
	sb_ok dump -o json
	dumped=$(dump_translations <<<"$SB_OUT")
	assert_eq "translations: dump -o json vs the maps (bpftool)" "$maps" "$dumped"
	e2e_note "maps (bpftool):"$'\n'"$maps"
	assert_eq "service entries in the map" 5 "$(wc -l <<<"$maps")"

	# N datagrams: the DNAT line's pkts is N, its bytes N frames.
	udp_n "$dns" 53 7
	sb_ok dump
	line=$(squeeze "$(grep " $dns " <<<"$SB_OUT")")
	assert_match "DNAT line after 7 datagrams" "^ ?7 $((7 * (42 + ${#UDP_MSG}))) DNAT udp -- 0.0.0.0/0 $dns udp dpt:53 -> $p1:53$" "$line"

	# Refused connections: the REJECT line's pkts grow by the attempts.
	before=$(squeeze "$(grep " $none_t " <<<"$SB_OUT")" | awk '{print $1}')
	for ((i = 0; i < k; i++)); do
		http_once "$none_t" 80 >/dev/null && e2e_fail "$none_t:80 answered without a backend"
	done
	sb_ok dump
	after=$(squeeze "$(grep " $none_t " <<<"$SB_OUT")" | awk '{print $1}')
	assert_eq "REJECT pkts after $k refused connections (before: $before)" $((before + k)) "$after"

	# A drained backend leaves the table but keeps its line, with the comment.
	sb_ok backend drain "$vip:80" "$p2:8080"
	sb_ok dump
	assert_contains "drained backend's line" \
		"DNAT tcp -- 0.0.0.0/0 $vip tcp dpt:80 -> $p2:8080 /* draining: tracked flows only */" \
		"$(squeeze "$SB_OUT")"
	assert_contains "the others stay" "DNAT tcp -- 0.0.0.0/0 $vip tcp dpt:80 -> $p3:8080" "$(squeeze "$SB_OUT")"
	sb_ok dump -o json
	assert_eq "drained backend: state and slots" "draining 0" \
		"$(json_eval "[f\"{r['state']} {r['slots']}\" for r in d['rules'] if r['to'] == '$p2:8080'][0]" <<<"$SB_OUT")"
	assert_eq "translations after drain: dump vs the maps" "$(maps_translations)" "$(dump_translations <<<"$SB_OUT")"
	assert_eq "slots of $vip:80 add up to M" 16381 \
		"$(json_eval "sum(r['slots'] for r in d['rules'] if r['destination'] == '$vip')" <<<"$SB_OUT")"

	# 1 MiB up through a service: a bytes counter past 99999, so K units (iptables' print_num).
	out=$(TOPO_TIMEOUT=30 topo_client "$PYTHON" "$TOPO_PODSERVER" upload "$up" 9000 --bytes 1048576 --timeout 10)
	assert_match "upload through $up:9000" "match=yes" "$out"
	# The counters settle (the connection's last ACKs), then three reads agree.
	local json="" rules
	for ((i = 0; i < 20; i++)); do
		sb_ok dump -o json
		[ "$SB_OUT" = "$json" ] && break
		json=$SB_OUT
		sleep 0.2
	done
	sb_ok dump -x
	local exact=$SB_OUT
	sb_ok dump
	local plain=$SB_OUT
	assert_match "-x header" "^    pkts    bytes target" "$(sed -n 2p <<<"$exact")"
	rules=$(json_eval "[f\"{r['packets']} {r['bytes']} {r['destination']} {r['to']}\" for r in d['rules']]" <<<"$json")
	local pk by dst to seen_k=0 pline xline xp xb pp pb
	while read -r pk by dst to; do
		[ "$to" = None ] && to=reject-with
		xline=$(grep -F " $dst " <<<"$exact" | grep -F -- " $to" | tr -s ' ')
		pline=$(grep -F " $dst " <<<"$plain" | grep -F -- " $to" | tr -s ' ')
		[[ $xline =~ ^\ ?[0-9]+\ [0-9]+\  ]] || e2e_fail "-x line not numeric: $xline" || return 1
		read -r xp xb _ <<<"${xline# }"
		read -r pp pb _ <<<"${pline# }"
		assert_eq "plain pkts of $dst -> $to = print_num(-x pkts)" "$(ipt_num "$xp")" "$pp" || return 1
		assert_eq "plain bytes of $dst -> $to = print_num(-x bytes)" "$(ipt_num "$xb")" "$pb" || return 1
		[[ $pb == *K ]] && seen_k=1
		assert_eq "JSON and -x pkts of $dst -> $to" "$pk" "$xp" || return 1
		assert_eq "JSON and -x bytes of $dst -> $to" "$by" "$xb" || return 1
	done <<<"$rules"
	((seen_k)) || e2e_fail "no counter in K units after a 1 MiB upload: $plain"
	e2e_note "after 1 MiB up:"$'\n'"$(grep " $up " <<<"$plain")"$'\n'"$(grep " $up " <<<"$exact")"
}
