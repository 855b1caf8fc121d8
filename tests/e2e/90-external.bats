#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# Traffic from outside the node (issue 8): a client at 192.0.2.10 in its own namespace, behind
# a router, reaching the node's second interface eth1 203.0.113.1 (tools/topo.sh
# topo_create_outside). NodePorts made by the CLI and by manifests, LoadBalancer and external
# IPs, externalTrafficPolicy Cluster (masquerade) and Local (local pods only, the client's
# address kept), loadBalancerSourceRanges, hairpin, path-MTU discovery through a NodePort,
# 1000 parallel masqueraded connections from one address, XDP, ICMP errors translated back.
# One topology for the file; every test starts with an empty store and svcbpf loaded on every
# node interface (eth0 eth1 pod1 pod2 pod3) as node "node-a".

load ../lib/e2e

OUT_IP=192.0.2.10    # the outside client
NODE_EXT=203.0.113.1 # the node's eth1
NODE_IN=10.244.0.1   # the node's eth0 (the client namespace's side)

setup_file() {
	e2e_require
	e2e_setup_outside 3
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	M=$BATS_TEST_TMPDIR
	E2E_MON_PID=
	e2e_reset_svcbpf
	e2e_load_node || return 1
}

teardown() {
	e2e_monitor_stop
	# What a test may have changed in the topology, put back for the next one.
	topo_outside_mtu 1500 || true
	e2e_offloads on || true
	topo_offloads_outside on || true
	e2e_reset_svcbpf
}

# apply FILE...: 'svcbpf apply -f' each FILE; must succeed.
apply() {
	local a=() f
	for f in "$@"; do a+=(-f "$f"); done
	sb_ok apply "${a[@]}"
}

# counter_delta NAME BEFORE: prints the growth of counter NAME since BEFORE.
counter_delta() {
	local now
	now=$(e2e_counter "$1") || return 1
	echo $((now - $2))
}

@test "external: the router and outside namespaces leave the root namespace untouched" {
	assert_eq "root namespace IPv4 addresses and routes, before vs with the outside world" \
		"$(cat "$TOPO_DIR/root-net-before")" "$(e2e_root_net_state)"
	assert_not_contains "root namespace links" "$TOPO_ID" "$(ip -o link show)"
	assert_eq "this run's namespaces" "client node outside pod1 pod2 pod3 router" \
		"$(topo_namespaces | sed "s/^$TOPO_ID-//" | sort | tr '\n' ' ' | sed 's/ $//')"
	e2e_note "outside route: $(ip -n "$TOPO_OUTSIDE" route show default); router routes: $(ip -n "$TOPO_ROUTER" route show | tr '\n' ';')"
}

@test "external: CLI NodePort 30080 answers on eth1 and eth0 addresses, every backend, client masqueraded" {
	local ip1 ip2
	ip1=$(topo_pod_ip 1)
	ip2=$(topo_pod_ip 2)
	sb_ok svc add 10.96.0.50:80 --backend "$ip1:8080" --backend "$ip2:8080" --nodeport 30080
	sb_ok svc list
	e2e_note "svc list:"$'\n'"$SB_OUT"
	expect_http_from outside "outside -> $NODE_EXT:30080" "$NODE_EXT" 30080 40 \
		"$E2E_NODE_ADDR_ERE" pod1 pod2
	expect_every_pod "outside -> $NODE_EXT:30080" pod1 pod2
	expect_http_from client "client -> $NODE_IN:30080" "$NODE_IN" 30080 20 \
		"$E2E_NODE_ADDR_ERE" pod1 pod2
	expect_every_pod "client -> $NODE_IN:30080" pod1 pod2
	# The ClusterIP itself is not masqueraded.
	expect_http_ok "client -> ClusterIP 10.96.0.50:80" 10.96.0.50 80 10 pod1 pod2
	sb_ok ct list
	e2e_note "ct list (first lines):"$'\n'"$(head -4 <<<"$SB_OUT")"
}

@test "external: svc explain --to predicts the backend of each NodePort connection" {
	local sport pred got hits=0
	sb_ok svc add 10.96.0.50:80 --backend "$(topo_pod_ip 1):8080" \
		--backend "$(topo_pod_ip 2):8080" --backend "$(topo_pod_ip 3):8080" --nodeport 30080
	for sport in 42001 42002 42003 42004 42005 42006; do
		sb_ok svc explain 0.0.0.0:30080 --from "$TOPO_OUTSIDE_IP:$sport" --to "$NODE_EXT" \
			-o json
		pred=$(jq -r .backend.address <<<"$SB_OUT")
		got=$(topo_outside curl -sS --max-time 3 --local-port "$sport" \
			"http://$NODE_EXT:30080/" | awk '{print $2}')
		assert_eq "backend of $TOPO_OUTSIDE_IP:$sport -> $NODE_EXT:30080" "$pred" "$got"
		hits=$((hits + 1))
	done
	e2e_note "explain --to predicted $hits of $hits connections' backends"
}

@test "external: manifest NodePort and LoadBalancer (ingress IP, externalIPs) reach every backend" {
	local n
	cat >"$M/svc.yaml" <<-YAML
	apiVersion: v1
	kind: Service
	metadata:
	  name: web-np
	spec:
	  type: NodePort
	  clusterIP: 10.96.0.51
	  selector:
	    app: web
	  ports:
	  - name: http
	    protocol: TCP
	    port: 80
	    targetPort: 8080
	    nodePort: 30081
	---
	apiVersion: v1
	kind: Service
	metadata:
	  name: web-lb
	spec:
	  type: LoadBalancer
	  clusterIP: 10.96.0.52
	  externalIPs:
	  - 198.51.100.20
	  selector:
	    app: web
	  ports:
	  - name: http
	    protocol: TCP
	    port: 80
	    targetPort: 8080
	    nodePort: 30082
	status:
	  loadBalancer:
	    ingress:
	    - ip: 198.51.100.10
	YAML
	for n in 1 2 3; do k8s_pod "pod$n" "$(topo_pod_ip "$n")" web; done >"$M/pods.yaml"
	apply "$M/svc.yaml" "$M/pods.yaml"
	expect_http_from outside "outside -> NodePort $NODE_EXT:30081 (web-np)" "$NODE_EXT" 30081 24 \
		"$E2E_NODE_ADDR_ERE"
	expect_every_pod "web-np NodePort" pod1 pod2 pod3
	expect_http_from outside "outside -> NodePort $NODE_EXT:30082 (web-lb)" "$NODE_EXT" 30082 24 \
		"$E2E_NODE_ADDR_ERE"
	expect_every_pod "web-lb NodePort" pod1 pod2 pod3
	expect_http_from outside "outside -> LoadBalancer ingress 198.51.100.10:80" 198.51.100.10 80 24 \
		"$E2E_NODE_ADDR_ERE"
	expect_every_pod "LoadBalancer ingress IP" pod1 pod2 pod3
	expect_http_from outside "outside -> externalIP 198.51.100.20:80" 198.51.100.20 80 24 \
		"$E2E_NODE_ADDR_ERE"
	expect_every_pod "external IP" pod1 pod2 pod3
	sb_ok get services
	e2e_note "get services:"$'\n'"$SB_OUT"
	assert_match "get services: web-lb row" \
		"web-lb +LoadBalancer +10\.96\.0\.52 +198\.51\.100\.10(,198\.51\.100\.20)? +80:30082/TCP" "$SB_OUT"
	assert_match "get services: web-np row" "web-np +NodePort +10\.96\.0\.51 +<none> +80:30081/TCP" "$SB_OUT"
}

@test "external: externalTrafficPolicy Local: only this node's pods, the client's own address; none local drops" {
	local before d out
	cat >"$M/svc.yaml" <<-YAML
	apiVersion: v1
	kind: Service
	metadata:
	  name: web-local
	spec:
	  type: NodePort
	  clusterIP: 10.96.0.53
	  externalTrafficPolicy: Local
	  selector:
	    app: loc
	  ports:
	  - name: http
	    protocol: TCP
	    port: 80
	    targetPort: 8080
	    nodePort: 30083
	---
	apiVersion: v1
	kind: Service
	metadata:
	  name: far-local
	spec:
	  type: NodePort
	  clusterIP: 10.96.0.54
	  externalTrafficPolicy: Local
	  selector:
	    tier: far
	  ports:
	  - name: http
	    protocol: TCP
	    port: 80
	    targetPort: 8080
	    nodePort: 30084
	  - name: dns
	    protocol: UDP
	    port: 53
	    targetPort: 53
	    nodePort: 30085
	YAML
	{
		k8s_pod_on pod1 "$(topo_pod_ip 1)" "$E2E_NODE_NAME" app=loc
		k8s_pod_on pod2 "$(topo_pod_ip 2)" "$E2E_NODE_NAME" app=loc
		k8s_pod_on pod3 "$(topo_pod_ip 3)" "$E2E_OTHER_NODE" app=loc tier=far
	} >"$M/pods.yaml"
	apply "$M/svc.yaml" "$M/pods.yaml"
	expect_http_from outside "Local, pods 1+2 here, pod3 on $E2E_OTHER_NODE: outside -> $NODE_EXT:30083" \
		"$NODE_EXT" 30083 30 "^${OUT_IP//./\\.}\$" pod1 pod2
	expect_every_pod "Local NodePort 30083" pod1 pod2
	# The ClusterIP of a Local service still uses every pod.
	expect_http_ok "client -> ClusterIP 10.96.0.53:80 of the Local service" 10.96.0.53 80 30 pod1 pod2 pod3
	expect_every_pod "ClusterIP 10.96.0.53:80" pod1 pod2 pod3

	# far-local: its only pod is on another node. TCP: no answer; UDP: exactly one drop a datagram.
	before=$(e2e_counter drop_no_local_backend)
	out=$(http_burst_from outside "$NODE_EXT" 30084 1 1.5) || true
	assert_match "Local, no local pod: outside -> $NODE_EXT:30084 must not be answered" "^FAIL " "$out"
	d=$(counter_delta drop_no_local_backend "$before")
	e2e_note "Local, no local pod: TCP attempt '$out', drop_no_local_backend +$d"
	((d >= 1)) || e2e_fail "drop_no_local_backend did not move for the refused TCP attempt (+$d)"
	before=$(e2e_counter drop_no_local_backend)
	out=$(udp_burst_from outside "$NODE_EXT" 30085 5 0.3) || true
	d=$(counter_delta drop_no_local_backend "$before")
	e2e_note "Local, no local pod: 5 UDP datagrams to $NODE_EXT:30085: ${out%%$'\n'*}, drop_no_local_backend +$d"
	assert_eq "UDP to the Local NodePort without a local pod: answers" "answered=0 refused=0 timeout=5" "${out%%$'\n'*}"
	assert_eq "drop_no_local_backend growth for 5 datagrams" 5 "$d"
}

@test "external: loadBalancerSourceRanges: a client in range answers, others dropped and counted exactly" {
	local before d out
	cat >"$M/svc.yaml" <<-YAML
	apiVersion: v1
	kind: Service
	metadata:
	  name: inside-only
	spec:
	  type: LoadBalancer
	  clusterIP: 10.96.0.55
	  loadBalancerSourceRanges:
	  - 10.0.0.0/8
	  selector:
	    app: web
	  ports:
	  - name: http
	    protocol: TCP
	    port: 80
	    targetPort: 8080
	    nodePort: 30086
	  - name: dns
	    protocol: UDP
	    port: 53
	    targetPort: 53
	    nodePort: 30087
	status:
	  loadBalancer:
	    ingress:
	    - ip: 198.51.100.11
	---
	apiVersion: v1
	kind: Service
	metadata:
	  name: outside-only
	spec:
	  type: LoadBalancer
	  clusterIP: 10.96.0.56
	  loadBalancerSourceRanges:
	  - 192.0.2.0/28
	  selector:
	    app: web
	  ports:
	  - name: http
	    protocol: TCP
	    port: 80
	    targetPort: 8080
	    nodePort: 30088
	status:
	  loadBalancer:
	    ingress:
	    - ip: 198.51.100.12
	YAML
	for n in 1 2 3; do k8s_pod "pod$n" "$(topo_pod_ip "$n")" web; done >"$M/pods.yaml"
	apply "$M/svc.yaml" "$M/pods.yaml"
	# In range: the client namespace (10.244.0.5 in 10.0.0.0/8) and the outside (in 192.0.2.0/28).
	expect_http_from client "in range 10.0.0.0/8: client -> 198.51.100.11:80" 198.51.100.11 80 10 \
		"$E2E_NODE_ADDR_ERE"
	out=$(udp_burst_from client 198.51.100.11 53 3) || true
	assert_eq "in range: 3 UDP datagrams from the client to 198.51.100.11:53" "answered=3 refused=0 timeout=0" "${out%%$'\n'*}"
	expect_http_from outside "in range 192.0.2.0/28: outside -> 198.51.100.12:80" 198.51.100.12 80 10 \
		"$E2E_NODE_ADDR_ERE"
	# The ranges guard the LoadBalancer IP only: the NodePort answers the outside.
	expect_http_from outside "source ranges do not guard the NodePort: outside -> $NODE_EXT:30086" \
		"$NODE_EXT" 30086 5 "$E2E_NODE_ADDR_ERE"

	# Out of range: the outside (192.0.2.10) to 198.51.100.11.
	before=$(e2e_counter drop_source_range)
	out=$(http_burst_from outside 198.51.100.11 80 1 1.5) || true
	assert_match "out of range: outside -> 198.51.100.11:80 must not be answered" "^FAIL " "$out"
	d=$(counter_delta drop_source_range "$before")
	e2e_note "out of range, TCP: '$out', drop_source_range +$d (the SYN and its retransmits)"
	((d >= 1)) || e2e_fail "drop_source_range did not move for the refused TCP attempt (+$d)"
	before=$(e2e_counter drop_source_range)
	out=$(udp_burst_from outside 198.51.100.11 53 7 0.3) || true
	d=$(counter_delta drop_source_range "$before")
	e2e_note "out of range, 7 UDP datagrams: ${out%%$'\n'*}, drop_source_range +$d"
	assert_eq "out of range: UDP answers" "answered=0 refused=0 timeout=7" "${out%%$'\n'*}"
	assert_eq "drop_source_range growth for 7 datagrams" 7 "$d"
	# And the client namespace (10.244.0.5) is outside 192.0.2.0/28.
	before=$(e2e_counter drop_source_range)
	out=$(http_burst_from client 198.51.100.12 80 1 1.5) || true
	assert_match "out of range: client -> 198.51.100.12:80 must not be answered" "^FAIL " "$out"
	d=$(counter_delta drop_source_range "$before")
	e2e_note "out of range, client -> 198.51.100.12: drop_source_range +$d"
	((d >= 1)) || e2e_fail "drop_source_range did not move for client -> 198.51.100.12 (+$d)"
}

@test "external: hairpin: pod1 reaches its own service through the ClusterIP and its node's NodePort" {
	local ip1 out
	ip1=$(topo_pod_ip 1)
	sb_ok svc add 10.96.0.57:80 --backend "$ip1:8080" --nodeport 30089
	expect_http_from pod1 "hairpin: pod1 -> ClusterIP 10.96.0.57:80 (its only backend is pod1)" \
		10.96.0.57 80 10 "$E2E_NODE_ADDR_ERE" pod1
	expect_http_from pod1 "hairpin: pod1 -> its node's NodePort 10.244.1.1:30089" \
		10.244.1.1 30089 10 "$E2E_NODE_ADDR_ERE" pod1
	expect_http_from pod1 "hairpin: pod1 -> the node's eth1 NodePort $NODE_EXT:30089" \
		"$NODE_EXT" 30089 5 "$E2E_NODE_ADDR_ERE" pod1
	# Another pod through the same ClusterIP: plain DNAT, its own address kept.
	expect_http_from pod2 "pod2 -> ClusterIP 10.96.0.57:80" 10.96.0.57 80 5 "^10\.244\.2\.15\$" pod1
}

# pmtu_round MODE POD PORT_UP PORT_DOWN: with offloads MODE, a 4 MiB download and upload from
# the outside through NodePorts whose one backend is POD (a pod that has not learned this
# path's MTU yet), across the 1280-byte link.
pmtu_round() {
	local mode=$1 pod=$2 up=$3 down=$4 ip before d out cache
	ip=$(topo_pod_ip "$pod")
	e2e_offloads "$mode" || return 1
	sb_ok svc add "10.96.1.$pod:9000" --backend "$ip:9000" --nodeport "$up" || return 1
	sb_ok svc add "10.96.1.$pod:9001" --backend "$ip:9001" --nodeport "$down" || return 1
	before=$(e2e_counter icmp_error_translated)
	out=$(TOPO_TIMEOUT=40 topo_outside "$PYTHON" "$TOPO_PODSERVER" download "$NODE_EXT" "$down" \
		--bytes $((4 * 1024 * 1024)) --timeout 5) || true
	d=$(counter_delta icmp_error_translated "$before")
	cache=$(topo_pod "$pod" ip -4 route show cache 2>&1 | tr -s ' \n' ' ')
	e2e_note "offloads=$mode: download 4 MiB from pod$pod via $NODE_EXT:$down: ${out##*got_bytes=}; icmp_error_translated +$d; pod$pod route cache: ${cache:-empty}"
	assert_match "offloads=$mode: 4 MiB download through NodePort $down across MTU 1280 (sha256 both ends)" \
		"match=yes" "$out" || return 1
	((d >= 1)) || e2e_fail "offloads=$mode: no ICMP error was translated (icmp_error_translated +$d): the pod never learned the path MTU through the service" || return 1
	assert_match "offloads=$mode: pod$pod learned the path MTU (ip route show cache)" "mtu 1280" "$cache" || return 1
	out=$(TOPO_TIMEOUT=40 topo_outside "$PYTHON" "$TOPO_PODSERVER" upload "$NODE_EXT" "$up" \
		--bytes $((4 * 1024 * 1024)) --timeout 5) || true
	e2e_note "offloads=$mode: upload 4 MiB to pod$pod via $NODE_EXT:$up: ${out##*reply_bytes=}"
	assert_match "offloads=$mode: 4 MiB upload through NodePort $up across MTU 1280 (sha256 both ends)" \
		"match=yes" "$out"
}

@test "external: path MTU: 4 MiB down and up through a NodePort across a 1280-byte link, offloads on and off" {
	# The outside advertises MSS 1460, as if its own link were 1500 bytes: the pod's full-size
	# segments meet the router's 1280-byte link and only the router's ICMP "fragmentation
	# needed", translated back through the node to the pod, lets them through.
	topo_outside_mtu 1280 1460
	e2e_note "router<->outside MTU: $(ip -n "$TOPO_ROUTER" -o link show eth0 | grep -o 'mtu [0-9]*'), outside route: $(ip -n "$TOPO_OUTSIDE" route show default)"
	pmtu_round on 1 30090 30091
	pmtu_round off 2 30092 30093
}

@test "external: 1000 connections held open at once from one address through a masqueraded NodePort" {
	local ip3 out ports nports lo hi ctn
	ip3=$(topo_pod_ip 3)
	sb_ok svc add 10.96.0.58:80 --backend "$ip3:8080" --nodeport 30094
	# Earlier tests' masqueraded connections to pod3 may still wait in TIME_WAIT there; a new
	# flow masqueraded to the same node address:port meets one (see orphan_claims below).
	e2e_note "pod3 TIME_WAIT sockets before: $(topo_pod 3 ss -Htn state time-wait | wc -l)"
	out=$(TOPO_TIMEOUT=70 topo_outside "$PYTHON" "$TOPO_REPO/tools/conns.py" "$NODE_EXT" 30094 \
		--count 1000 --parallel 64 --rate 150 --deadline 60 --answers "$M/answers") || true
	e2e_note "conns.py: $out"
	assert_match "1000 connections to $NODE_EXT:30094, all open at once, then one request each" \
		"^opened=1000 answered=1000 errors=0 " "$out"
	# Every answer: pod3, and the client as a node address and a masquerade port.
	assert_eq "answers not from pod3 or with a client address other than a node address" "" \
		"$(grep -Ev "^pod3 ${ip3//./\\.} client=(10\.244\.[0-9]+\.1|203\.0\.113\.1):[0-9]+\$" "$M/answers" | head -3)"
	ports=$(sed 's/.*client=//' "$M/answers" | sort -u)
	nports=$(wc -l <<<"$ports")
	lo=$(cut -d: -f2 <<<"$ports" | sort -n | head -1)
	hi=$(cut -d: -f2 <<<"$ports" | sort -n | tail -1)
	e2e_note "pod3 saw $nports distinct client address:ports, ports $lo..$hi, addresses: $(cut -d: -f1 <<<"$ports" | sort | uniq -c | tr -s ' \n' ' ')"
	assert_eq "distinct masqueraded client address:port pairs pod3 saw" 1000 "$nports"
	((lo >= 32768 && hi <= 65535)) ||
		e2e_fail "masquerade ports $lo..$hi outside 32768-65535 (SVCBPF_SNAT_PORT_MIN/MAX)"
	# The dataplane's own record: each flow's masquerade (REV SNAT entry: client -> pod3:8080,
	# leaves as node address:port) and the claim of that address:port (FWD SNAT entry:
	# pod3:8080 -> node address:port). Claims no flow points to (left by a flow that was
	# masqueraded anew) are counted apart; they expire with their conntrack timeout.
	ctn=$(bpftool -j map dump pinned "$TOPO_PIN_DIR/svcbpf_ct_v3" | "$PYTHON" -c '
import json, socket, struct, sys
pod = struct.unpack("=I", socket.inet_aton(sys.argv[1]))[0]
port = struct.unpack("=H", struct.pack("!H", 8080))[0]
ntoh = lambda p: struct.unpack("!H", struct.pack("=H", p))[0]
claims, masq, of = {}, [], {}
for e in json.load(sys.stdin):
    k, v = e["formatted"]["key"], e["formatted"]["value"]
    if not v["flags"] & 4:
        continue
    if k["dir"] == 1 and k["saddr"] == pod and k["sport"] == port:
        claims[(k["daddr"], k["dport"])] = (ntoh(v["port"]), v["state"])
    elif k["dir"] == 2 and k["daddr"] == pod and k["dport"] == port:
        masq.append((v["addr"], v["port"]))
        of[ntoh(k["sport"])] = ntoh(v["port"])
live = set(claims) & set(masq)
orphans = ["node port %d (client port %d, state %d, that client now as %s)" %
           (ntoh(c[1]), claims[c][0], claims[c][1], of.get(claims[c][0]))
           for c in sorted(set(claims) - live)]
print("flows=%d distinct=%d claimed=%d orphan_claims=%d %s" %
      (len(masq), len(set(masq)), len(live), len(orphans), "; ".join(orphans[:3])))' "$ip3") || true
	e2e_note "conntrack (bpftool dump of svcbpf_ct_v3), masquerade toward pod3:8080: $ctn"
	assert_eq "masqueraded flows toward pod3:8080 in svcbpf_ct_v3: each with its own node address:port, claimed" \
		"flows=1000 distinct=1000 claimed=1000" "${ctn% orphan_claims=*}"
	# And as 'svcbpf ct list -o json' shows it.
	sb_ok ct list -o json
	out=$(jq -r --arg be "$ip3:8080" '[.flows[]? | select(.backend == $be and .masquerade != null)
		| .masquerade] | "\(length) \(unique | length)"' <<<"$SB_OUT")
	e2e_note "ct list -o json: flows to pod3:8080 with a masquerade, and distinct masquerades: $out"
	assert_eq "ct list -o json: masqueraded flows to pod3:8080 and their distinct masquerade address:ports" \
		"1000 1000" "$out"
	assert_eq "drop_snat_failed" 0 "$(e2e_counter drop_snat_failed)"
}

_xdp_traffic() {
	expect_http_from outside "XDP: outside -> $NODE_EXT:30095" "$NODE_EXT" 30095 20 \
		"$E2E_NODE_ADDR_ERE" pod1 pod2
	TOPO_TIMEOUT=40 topo_outside "$PYTHON" "$TOPO_PODSERVER" upload "$NODE_EXT" 30098 \
		--bytes 1048576 --timeout 5 >"$M/xdp-upload" 2>&1 || true
}

@test "external: --xdp: external NodePort flows are translated in XDP (offloads off on the outside links)" {
	local out hooks
	e2e_load_node --xdp
	assert_match "XDP program on the node's eth1" '^svcbpf' "$(e2e_xdp_prog eth1)"
	topo_offloads_outside off
	sb_ok svc add 10.96.0.59:80 --backend "$(topo_pod_ip 1):8080" --backend "$(topo_pod_ip 2):8080" \
		--nodeport 30095
	sb_ok svc add 10.96.0.59:9000 --backend "$(topo_pod_ip 1):9000" --nodeport 30098
	e2e_monitor_start "$M/mon" --type new,trace --client "$OUT_IP/32"
	# The pods check the checksums of what XDP rewrote, the outside those of the replies.
	sniff_checksums_at _xdp_traffic outside pod1 pod2
	sleep 0.3
	e2e_monitor_stop
	hooks=$(jq -r '"\(.type)@\(.hook)"' "$M/mon" | sort | uniq -c | tr -s ' \n' ' ')
	e2e_note "monitor events (type@hook): ${hooks:-none}; $(tail -1 "$M/mon.err")"
	e2e_note "1 MiB upload through NodePort 30098 in XDP: $(sed 's/.*reply_bytes=//' "$M/xdp-upload")"
	assert_match "1 MiB upload through NodePort 30098 with XDP (sha256 both ends)" "match=yes" "$(cat "$M/xdp-upload")"
	out=$(jq -s '[.[] | select(.type == "new" and .hook == "xdp")] | length' "$M/mon")
	assert_eq "new flows translated in XDP (monitor 'new' events with hook xdp), of 21 connections" 21 "$out"
	out=$(jq -s '[.[] | select(.type == "dnat" and .hook == "xdp")] | length' "$M/mon")
	((out > 0)) || e2e_fail "no packet of a tracked flow was translated in XDP (dnat events with hook xdp: $out)"
}

@test "external: ICMP: UDP to a NodePort whose backend port has no listener is refused at the outside client" {
	local before d out
	sb_ok svc add 10.96.0.60:53/udp --backend "$(topo_pod_ip 1):53" --nodeport 30096
	sb_ok svc add 10.96.0.61:5353/udp --backend "$(topo_pod_ip 1):5353" --nodeport 30097
	out=$(udp_burst_from outside "$NODE_EXT" 30096 3) || true
	e2e_note "UDP NodePort 30096 -> pod1:53: $(tr '\n' ' ' <<<"$out")"
	assert_eq "UDP to NodePort 30096 (pod1:53 listens): answers" "answered=3 refused=0 timeout=0" "${out%%$'\n'*}"
	assert_eq "the answers' source (as the outside client sees it)" "$NODE_EXT:30096" \
		"$(sed -n 's/.* from=//p' <<<"$out" | sort -u)"
	before=$(e2e_counter icmp_error_translated)
	out=$(udp_burst_from outside "$NODE_EXT" 30097 3) || true
	d=$(counter_delta icmp_error_translated "$before")
	e2e_note "UDP NodePort 30097 -> pod1:5353 (nothing listens): ${out%%$'\n'*}; icmp_error_translated +$d"
	assert_eq "UDP to NodePort 30097 (pod1:5353 has no listener): the client's socket" \
		"answered=0 refused=3 timeout=0" "${out%%$'\n'*}"
	((d >= 3)) || e2e_fail "icmp_error_translated grew by $d for 3 port-unreachable errors"
}
