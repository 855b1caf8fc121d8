#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# Services reached from outside the node, from their manifests to the BPF service map:
# NodePort (given and allocated node ports, kept on a later apply), LoadBalancer (ingress IPs,
# source ranges, externalIPs, healthCheckNodePort), externalTrafficPolicy Local (only this
# node's pods, by spec.nodeName and `load --node-name`), and refusals that leave the store and
# the maps exactly as they were. Runs svcbpf in a namespace of its own with one veth pair, a
# private pin dir and a state dir per test; no traffic is sent (the e2e files send it).

load ../lib/e2e
load ../lib/cli

# The state dir is per test (setup).
setup_file() {
	cli_ns_setup k8x
}

teardown_file() {
	cli_ns_teardown
}

# Each test starts from an empty store and nothing loaded.
setup() {
	export SVCBPF_STATE_DIR="$CLI_TMP/state-$BATS_TEST_NUMBER"
	M="$CLI_TMP/m-$BATS_TEST_NUMBER"
	mkdir -p "$M"
}

teardown() {
	nsenter --net="/run/netns/$CLI_NS" "${SVCBPF:-$BATS_TEST_DIRNAME/../../build/svcbpf}" unload \
		>/dev/null 2>&1 || true
}

# sb_ok ARGS...: svcbpf ARGS must exit 0 (the output is in $output).
sb_ok() {
	sb "$@"
	assert_eq "exit code of 'svcbpf $*' ($output)" 0 "$status"
}

# The BPF service map's frontends, one line each, sorted: "VIP:PORT/PROTO FLAGS" (the key's
# address and port are network order, read as little-endian numbers by bpftool).
frontends() {
	bpftool -j map dump pinned "$SVCBPF_PIN_DIR/svcbpf_svc_v2" | jq -r '.[] | .formatted |
		(.key.vip) as $v | (.key.port) as $p |
		"\($v % 256).\(($v / 256 | floor) % 256).\(($v / 65536 | floor) % 256).\($v / 16777216 | floor):\(($p % 256) * 256 + ($p / 256 | floor))/\(.key.proto) \(.value.flags)"' |
		sort
}

# The backends the maps' Maglev tables hold for frontend VIP:PORT/PROTO (proto tcp|udp), sorted:
# the dump's rules of the service id the service map gives that frontend.
backends_of() {
	local proto=${1##*/} id
	[ "$proto" = udp ] && proto=17 || proto=6
	id=$(svc_id_of "${1%/*}/$proto")
	[ -n "$id" ] || return 0
	nsenter --net="/run/netns/$CLI_NS" "${SVCBPF:-$BATS_TEST_DIRNAME/../../build/svcbpf}" dump -o json |
		jq -r --argjson id "$id" \
			'[.rules[] | select(.service_id == $id and .target == "DNAT") | .to] | unique | join(",")'
}

# The source-range LPM entries: "SVC_ID A.B.C.D/LEN", sorted.
src_ranges() {
	bpftool -j map dump pinned "$SVCBPF_PIN_DIR/svcbpf_src_v1" | jq -r '.[] | .formatted.key |
		(.addr) as $a |
		"\(.svc_id) \($a % 256).\(($a / 256 | floor) % 256).\(($a / 65536 | floor) % 256).\($a / 16777216 | floor)/\(.prefixlen - 32)"' |
		sort
}

# The id the service map gives frontend VIP:PORT/PROTO (numeric proto).
svc_id_of() {
	local vip=${1%%:*} rest=${1#*:}
	local port=${rest%/*} proto=${rest#*/}
	bpftool -j map dump pinned "$SVCBPF_PIN_DIR/svcbpf_svc_v2" | jq -r --arg v "$vip" \
		--argjson p "$port" --argjson t "$proto" '.[] | .formatted |
		(.key.vip) as $x | (.key.port) as $q |
		select("\($x % 256).\(($x / 256 | floor) % 256).\(($x / 65536 | floor) % 256).\($x / 16777216 | floor)" == $v and ($q % 256) * 256 + ($q / 256 | floor) == $p and .key.proto == $t) | .value.id'
}

# The whole persistent state: a hash of every state-dir file, and every pinned map's entries
# but the counters (IPv6 neighbour discovery moves them) and the ring buffers.
snapshot() {
	(cd "$SVCBPF_STATE_DIR" && sha256sum -- *)
	for m in "$SVCBPF_PIN_DIR"/svcbpf_*; do
		[[ -e $m && $m != */svcbpf_cnt_* && $m != */svcbpf_evt_* && $m != */svcbpf_mon_* ]] &&
			bpftool -j map dump pinned "$m"
	done
	true
}


# pod NAME IP NODE: a Ready pod app=web on NODE ("" none) serving 8080 and 5353.
pod() {
	cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: web}}
spec: {nodeName: "$3"}
status: {podIP: $2, conditions: [{type: Ready, status: "True"}]}
EOF
}

@test "NodePort: a given and an allocated node port, kept on a later apply, in get and the map" {
	{
		cat <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  clusterIP: 10.96.0.20
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
  - {name: dns, port: 53, protocol: UDP, targetPort: 5353}
EOF
		pod web-a 10.244.1.10 node-a
		pod web-b 10.244.2.15 node-b
	} >"$M/web.yaml"
	sb_ok apply -f "$M/web.yaml"
	sb_ok load eth0 --node-name node-a
	sb_ok get svc web -o json
	np=$(jq -r '.spec.ports[1].nodePort' <<<"$output")
	e2e_note "allocated nodePort for dns/UDP: $np"
	[[ $np =~ ^[0-9]+$ ]] && ((np >= 30000 && np <= 32767 && np != 30080)) ||
		e2e_fail "allocated nodePort '$np' is not in 30000-32767"
	assert_eq "the given nodePort is kept" 30080 "$(jq -r '.spec.ports[0].nodePort' <<<"$output")"
	sb_ok get svc web -o yaml
	assert_contains "get -o yaml shows the allocated port" "nodePort: $np" "$output"
	sb_ok get svc
	assert_match "get svc row" "web +NodePort +10\.96\.0\.20 +<none> +80:30080/TCP,53:$np/UDP " "$output"
	assert_eq "the service map's frontends" "0.0.0.0:30080/6 6
0.0.0.0:$np/17 6
10.96.0.20:53/17 0
10.96.0.20:80/6 0" "$(frontends)"
	assert_eq "NodePort backends (Cluster policy: every pod)" "10.244.1.10:8080,10.244.2.15:8080" \
		"$(backends_of 0.0.0.0:30080/tcp)"
	assert_eq "UDP NodePort backends" "10.244.1.10:5353,10.244.2.15:5353" \
		"$(backends_of "0.0.0.0:$np/udp")"

	# The same file again: nothing changes; without any nodePort: both are kept (by port name).
	sb_ok apply -f "$M/web.yaml"
	assert_contains "same file again" "service/web unchanged" "$output"
	sed 's/, nodePort: 30080//' "$M/web.yaml" >"$M/web2.yaml"
	sb_ok apply -f "$M/web2.yaml"
	assert_contains "no nodePort given: kept" "service/web unchanged" "$output"
	sb_ok get svc web -o json
	assert_eq "node ports after a re-apply without them" "30080 $np" \
		"$(jq -r '[.spec.ports[].nodePort] | join(" ")' <<<"$output")"
	assert_eq "frontends after the re-apply" "0.0.0.0:30080/6 6
0.0.0.0:$np/17 6
10.96.0.20:53/17 0
10.96.0.20:80/6 0" "$(frontends)"

	# Back to ClusterIP: the NodePort frontends go, the ClusterIP ones stay.
	sed 's/type: NodePort/type: ClusterIP/; s/, nodePort: 30080//' "$M/web.yaml" >"$M/web3.yaml"
	sb_ok apply -f "$M/web3.yaml"
	assert_eq "frontends as a ClusterIP Service" "10.96.0.20:53/17 0
10.96.0.20:80/6 0" "$(frontends)"
	sb_ok get svc web -o json
	assert_eq "no node ports stored" "" "$(jq -r '[.spec.ports[].nodePort // empty] | join(" ")' <<<"$output")"
}

@test "LoadBalancer: ingress IPs with source ranges, externalIPs, a NodePort; get shows them" {
	{
		cat <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.30
  selector: {app: web}
  externalIPs: [192.0.2.50]
  loadBalancerSourceRanges: [198.51.100.0/24, 10.244.0.0/16]
  ports:
  - {port: 80, targetPort: 8080, nodePort: 31080}
status:
  loadBalancer:
    ingress:
    - ip: 192.0.2.10
    - hostname: lb.example.com
    - ip: 192.0.2.11
---
apiVersion: v1
kind: Service
metadata: {name: pending}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.31
  allocateLoadBalancerNodePorts: false
  selector: {app: web}
  ports:
  - {port: 81, targetPort: 8080}
EOF
		pod web-a 10.244.1.10 node-a
		pod web-b 10.244.2.15 node-b
	} >"$M/lb.yaml"
	sb_ok load eth0 --node-name node-a
	sb_ok apply -f "$M/lb.yaml"
	assert_eq "the service map's frontends (6: external+masquerade, 22: + source ranges)" \
		"0.0.0.0:31080/6 6
10.96.0.30:80/6 0
10.96.0.31:81/6 0
192.0.2.10:80/6 22
192.0.2.11:80/6 22
192.0.2.50:80/6 6" "$(frontends)"
	for fe in 0.0.0.0:31080/tcp 192.0.2.10:80/tcp 192.0.2.50:80/tcp 10.96.0.30:80/tcp; do
		assert_eq "backends of $fe" "10.244.1.10:8080,10.244.2.15:8080" "$(backends_of $fe)"
	done
	id10=$(svc_id_of 192.0.2.10:80/6)
	id11=$(svc_id_of 192.0.2.11:80/6)
	e2e_note "ingress frontends: ids $id10 and $id11"
	assert_eq "source-range entries: each ingress frontend, each range" "$(printf '%s\n' \
		"$id10 10.244.0.0/16" "$id10 198.51.100.0/24" "$id11 10.244.0.0/16" \
		"$id11 198.51.100.0/24" | sort)" "$(src_ranges)"
	sb_ok get svc
	assert_match "get svc row of lb (kubectl cuts ingress lists past 16 characters)" \
		"lb +LoadBalancer +10\.96\.0\.30 +192\.0\.2\.10,lb\.\.\.,192\.0\.2\.50 +80:31080/TCP " "$output"
	assert_match "get svc row of a LoadBalancer without ingress" \
		"pending +LoadBalancer +10\.96\.0\.31 +<pending> +81/TCP " "$output"
	sb_ok get svc -o wide
	assert_match "get svc -o wide: the whole ingress list" \
		"lb +LoadBalancer +10\.96\.0\.30 +192\.0\.2\.10,lb\.example\.com,192\.0\.2\.11,192\.0\.2\.50 " \
		"$output"

	# The ranges change: the LPM entries follow; the ingress IP 192.0.2.11 goes.
	sed 's|198.51.100.0/24, 10.244.0.0/16|203.0.113.0/25|; /ip: 192.0.2.11/d' "$M/lb.yaml" >"$M/lb2.yaml"
	sb_ok apply -f "$M/lb2.yaml"
	assert_eq "frontends after the change" "0.0.0.0:31080/6 6
10.96.0.30:80/6 0
10.96.0.31:81/6 0
192.0.2.10:80/6 22
192.0.2.50:80/6 6" "$(frontends)"
	assert_eq "source ranges after the change" "$id10 203.0.113.0/25" "$(src_ranges)"
}

@test "externalTrafficPolicy Local: external frontends take this node's pods; --node-name moves them" {
	{
		cat <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: loc}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.40
  externalTrafficPolicy: Local
  selector: {app: web}
  externalIPs: [192.0.2.60]
  ports:
  - {port: 80, targetPort: 8080, nodePort: 31090}
status:
  loadBalancer:
    ingress: [{ip: 192.0.2.12}]
EOF
		pod a1 10.244.1.10 node-a
		pod a2 10.244.1.11 node-a
		pod b1 10.244.2.15 node-b
	} >"$M/loc.yaml"
	sb_ok apply -f "$M/loc.yaml"
	sb_ok load eth0 --node-name node-a
	sb_ok get svc loc -o json
	hc=$(jq -r '.spec.healthCheckNodePort' <<<"$output")
	e2e_note "allocated healthCheckNodePort: $hc"
	[[ $hc =~ ^[0-9]+$ ]] && ((hc >= 30000 && hc <= 32767 && hc != 31090)) ||
		e2e_fail "healthCheckNodePort '$hc' is not in 30000-32767"
	assert_eq "frontends (10: external+local)" "0.0.0.0:31090/6 10
10.96.0.40:80/6 0
192.0.2.12:80/6 10
192.0.2.60:80/6 10" "$(frontends)"
	for fe in 0.0.0.0:31090/tcp 192.0.2.12:80/tcp 192.0.2.60:80/tcp; do
		assert_eq "node-a: backends of $fe" "10.244.1.10:8080,10.244.1.11:8080" "$(backends_of $fe)"
	done
	assert_eq "node-a: the ClusterIP keeps every pod" \
		"10.244.1.10:8080,10.244.1.11:8080,10.244.2.15:8080" "$(backends_of 10.96.0.40:80/tcp)"

	sb_ok load eth0 --node-name node-b
	for fe in 0.0.0.0:31090/tcp 192.0.2.12:80/tcp 192.0.2.60:80/tcp; do
		assert_eq "node-b: backends of $fe" "10.244.2.15:8080" "$(backends_of $fe)"
	done
	assert_eq "node-b: the ClusterIP keeps every pod" \
		"10.244.1.10:8080,10.244.1.11:8080,10.244.2.15:8080" "$(backends_of 10.96.0.40:80/tcp)"

	# A node with none of the pods: the external frontends have no backend (the dataplane drops).
	sb_ok load eth0 --node-name node-c
	assert_eq "node-c: no backend on the NodePort" "" "$(backends_of 0.0.0.0:31090/tcp)"
	assert_eq "node-c: frontends stay" "0.0.0.0:31090/6 10
10.96.0.40:80/6 0
192.0.2.12:80/6 10
192.0.2.60:80/6 10" "$(frontends)"

	# A pod without spec.nodeName counts as local (a single-node setup).
	pod c1 10.244.3.20 "" >"$M/c1.yaml"
	sb_ok apply -f "$M/c1.yaml"
	assert_eq "node-c: the pod without a node" "10.244.3.20:8080" "$(backends_of 0.0.0.0:31090/tcp)"

	# Back to Cluster: every pod, masqueraded (6); the health check port goes.
	sed 's/externalTrafficPolicy: Local/externalTrafficPolicy: Cluster/' "$M/loc.yaml" >"$M/loc2.yaml"
	sb_ok apply -f "$M/loc2.yaml"
	assert_eq "Cluster policy: flags" "0.0.0.0:31090/6 6
10.96.0.40:80/6 0
192.0.2.12:80/6 6
192.0.2.60:80/6 6" "$(frontends)"
	assert_eq "Cluster policy: every pod" \
		"10.244.1.10:8080,10.244.1.11:8080,10.244.2.15:8080,10.244.3.20:8080" \
		"$(backends_of 0.0.0.0:31090/tcp)"
	sb_ok get svc loc -o json
	assert_eq "no healthCheckNodePort with Cluster" null "$(jq -r '.spec.healthCheckNodePort' <<<"$output")"
}

@test "conflicts and bad fields are refused with one line, exit 1, state unchanged" {
	{
		cat <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.20
  externalTrafficPolicy: Local
  healthCheckNodePort: 32100
  selector: {app: web}
  externalIPs: [192.0.2.50]
  ports:
  - {port: 80, targetPort: 8080, nodePort: 30080}
EOF
		pod web-a 10.244.1.10 node-a
	} >"$M/web.yaml"
	sb_ok apply -f "$M/web.yaml"
	sb_ok svc add 10.96.100.1:80 --backend 10.244.1.10:8080 --nodeport 30090
	sb_ok load eth0 --node-name node-a

	svc() { # NAME SPEC-LINES...: a Service manifest
		local name=$1
		shift
		printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec:\n' "$name"
		printf '  %s\n' "$@"
	}
	svc other "type: NodePort" "ports: [{port: 81, nodePort: 30080}]" >"$M/b1.yaml"
	cli_bad "spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated" \
		apply -f "$M/b1.yaml"
	svc other "type: NodePort" "ports: [{port: 81, nodePort: 32100}]" >"$M/b2.yaml"
	cli_bad "spec\.ports\[0\]\.nodePort: Invalid value: 32100: provided port is already allocated" \
		apply -f "$M/b2.yaml"
	svc other "type: NodePort" "ports: [{port: 81, nodePort: 30090}]" >"$M/b3.yaml"
	cli_bad "spec\.ports\[0\]\.nodePort: Invalid value: 30090: provided port is already allocated" \
		apply -f "$M/b3.yaml"
	svc other "type: LoadBalancer" "externalTrafficPolicy: Local" "healthCheckNodePort: 30080" \
		"ports: [{port: 81}]" >"$M/b4.yaml"
	cli_bad "spec\.healthCheckNodePort: Invalid value: 30080: provided port is already allocated" \
		apply -f "$M/b4.yaml"
	svc other "ports: [{port: 81, nodePort: 30081}]" >"$M/b5.yaml"
	cli_bad "spec\.ports\[0\]\.nodePort: Forbidden: may not be used when \`type\` is 'ClusterIP'" \
		apply -f "$M/b5.yaml"
	svc other "type: NodePort" "ports: [{port: 81, nodePort: 8080}]" >"$M/b6.yaml"
	cli_bad "spec\.ports\[0\]\.nodePort: Invalid value: 8080: provided port is not in the valid range\. The range of valid ports is 30000-32767" \
		apply -f "$M/b6.yaml"
	svc other "externalTrafficPolicy: Local" "ports: [{port: 81}]" >"$M/b7.yaml"
	cli_bad "spec\.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services" \
		apply -f "$M/b7.yaml"
	svc other "type: LoadBalancer" "loadBalancerSourceRanges: [10.0.0.1/8]" "ports: [{port: 81}]" >"$M/b8.yaml"
	cli_bad "spec\.loadBalancerSourceRanges\[0\]: Invalid value: \"10\.0\.0\.1/8\": invalid CIDR '10\.0\.0\.1/8': host bits set" \
		apply -f "$M/b8.yaml"
	svc other "type: NodePort" "healthCheckNodePort: 30100" "ports: [{port: 81}]" >"$M/b9.yaml"
	cli_bad "spec\.healthCheckNodePort: Invalid value: 30100: may only be set when \`type\` is 'LoadBalancer' and \`externalTrafficPolicy\` is 'Local'" \
		apply -f "$M/b9.yaml"
	svc other "type: NodePort" "externalIPs: [192.0.2.256]" "ports: [{port: 81}]" >"$M/b10.yaml"
	cli_bad "spec\.externalIPs\[0\]: '192\.0\.2\.256' is not an IPv4 address" apply -f "$M/b10.yaml"
	# Another Service's external IP and port: the frontend belongs to web.
	svc other "externalIPs: [192.0.2.50]" "ports: [{port: 80}]" >"$M/b11.yaml"
	cli_bad "cannot program Service default/other: 192\.0\.2\.50:80/tcp belongs to Service default/web" \
		apply -f "$M/b11.yaml"
	pod bad 10.244.1.30 Node_A >"$M/b12.yaml"
	cli_bad "spec\.nodeName: 'Node_A': must consist of lower case letters" apply -f "$M/b12.yaml"
	cli_bad "invalid --node-name 'Node_A': must consist of lower case letters" \
		load eth0 --node-name Node_A
	cli_bad "invalid --node-name 'a\.\.b'" load eth0 --node-name a..b
	cli_bad "node-name needs a name" load eth0 --node-name
	cli_bad "--node-name given twice" load eth0 --node-name a --node-name b
	# A missing interface: the load fails and the node name stays as it was.
	cli_bad "cannot load on eth9: no such interface" load eth9 --node-name node-b
	assert_eq "web's NodePort still has node-a's pod" "10.244.1.10:8080" \
		"$(backends_of 0.0.0.0:30080/tcp)"
}
