# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# tests/lib/e2e.bash - what the e2e bats files share: topology lifetime, the svcbpf wrapper,
# assertions that say what differed, and the traffic scenarios.
#
# Loaded by tests/e2e/*.bats ('load ../lib/e2e'). The topology comes from tools/topo.sh;
# svcbpf always runs as 'nsenter --net=/run/netns/$TOPO_NODE $SVCBPF --pin-dir
# /sys/fs/bpf/svcbpf-$TOPO_ID --state-dir $TOPO_DIR/state', so a run never touches the
# machine's /sys/fs/bpf/svcbpf or /var/lib/svcbpf.
#
# Environment: SVCBPF (default build/svcbpf), PYTHON (default python3), TOPO_KEEP=1 keeps the
# run's temp dir (server logs) after teardown, E2E_VERBOSE=1 prints every svcbpf command.

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tools/topo.sh
source "$E2E_LIB_DIR/../../tools/topo.sh"

# The ClusterIPs the matrix uses; all within 10.96.0.0/12, none on any interface.
E2E_VIP_HTTP=10.96.0.50   # :80     -> every pod :8080
E2E_VIP_DNS=10.96.0.10    # :53/udp -> pod1 :53
E2E_VIP_UP=10.96.0.60     # :9000   -> every pod :9000 (upload, sha256 on both sides)
E2E_VIP_DOWN=10.96.0.61   # :9001   -> every pod :9001 (download, sha256 on both sides)
E2E_VIP_DEL=10.96.0.7     # + 0|1|2 (offloads on|off|mixed) :80 -> pod3 :8080, added, deleted
E2E_XFER_BYTES=$((5 * 1024 * 1024))

# ----------------------------------------------------------------------------- reporting

# e2e_note MSG...: a line in the TAP stream ('# MSG'), shown whether the test passes or not.
e2e_note() {
	if { true >&3; } 2>/dev/null; then
		printf '# %s\n' "$*" >&3
	else
		printf '# %s\n' "$*" >&2
	fi
}

# e2e_fail MSG...: print why and fail.
e2e_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	return 1
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	[ "$2" = "$3" ] && return 0
	printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" >&2
	return 1
}

# assert_match WHAT ERE ACTUAL
assert_match() {
	[[ $3 =~ $2 ]] && return 0
	printf 'FAIL: %s\n  expected to match: %s\n  actual:            %s\n' "$1" "$2" "$3" >&2
	return 1
}

# assert_contains WHAT NEEDLE HAYSTACK
assert_contains() {
	[[ $3 == *"$2"* ]] && return 0
	printf 'FAIL: %s\n  expected to contain: %s\n  actual:\n%s\n' "$1" "$2" "$(sed 's/^/    /' <<<"$3")" >&2
	return 1
}

# assert_not_contains WHAT NEEDLE HAYSTACK
assert_not_contains() {
	[[ $3 != *"$2"* ]] && return 0
	printf 'FAIL: %s\n  expected not to contain: %s\n  actual:\n%s\n' "$1" "$2" "$(sed 's/^/    /' <<<"$3")" >&2
	return 1
}

# ----------------------------------------------------------------------------- svcbpf

# e2e_require_root: namespaces, veths and bpffs need root.
e2e_require_root() {
	[ "$(id -u)" = 0 ] || e2e_fail "the e2e tests need root (network namespaces, bpffs)"
}

# e2e_require: root, and a built svcbpf binary.
e2e_require() {
	e2e_require_root || return 1
	[ -x "$SVCBPF" ] || e2e_fail "svcbpf binary not found at $SVCBPF: run 'make' first"
}

# sb ARGS...: run svcbpf in the node namespace; sets SB_OUT (stdout+stderr) and SB_RC.
sb() {
	SB_RC=0
	SB_OUT=$(topo_svcbpf "$@" 2>&1) || SB_RC=$?
	[ "${E2E_VERBOSE:-0}" = 1 ] && e2e_note "svcbpf $* -> exit $SB_RC"
	return 0
}

# sb_ok ARGS...: svcbpf ARGS must exit 0.
sb_ok() {
	sb "$@"
	[ "$SB_RC" = 0 ] && return 0
	printf 'FAIL: svcbpf %s\n  expected: exit 0\n  actual:   exit %s, output:\n%s\n' \
		"$*" "$SB_RC" "$(sed 's/^/    /' <<<"$SB_OUT")" >&2
	return 1
}

# sb_list: the output of 'svcbpf svc list' (must succeed), in SB_OUT.
sb_list() { sb_ok svc list; }

# ----------------------------------------------------------------------------- lifetime

# e2e_setup_topology [NPODS]: build the topology with running pod servers (setup_file).
e2e_setup_topology() {
	e2e_require_root || return 1
	topo_reap # runs whose owner died without teardown (kill -9); never a live run
	topo_init || return 1
	e2e_root_net_state >"$TOPO_DIR/root-net-before"
	topo_create "${1:-3}" || return 1
	topo_start_servers || return 1
	topo_wait_ready || return 1
}

# e2e_root_net_state: the root namespace's IPv4 addresses and routes (without lifetimes).
e2e_root_net_state() {
	ip -4 -o addr show | awk '{print $2, $4}'
	ip -4 route show table all
}

# stop_pid PID SIG SECONDS: send SIG to PID (a child of this shell) and wait up to SECONDS for
# it to exit. Sets STOP_RC (its exit code) and STOP_MS (signal to exit); fails if it still runs.
stop_pid() {
	local pid=$1 t0 i
	t0=$(date +%s%N)
	kill "-$2" "$pid" || return 1
	for ((i = 0; i < $3 * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		e2e_fail "pid $pid still runs $3 s after SIG$2"
		return 1
	fi
	STOP_RC=0
	wait "$pid" || STOP_RC=$?
	STOP_MS=$((($(date +%s%N) - t0) / 1000000))
}

# e2e_teardown_file: tear the topology down (teardown_file); prove nothing of it is left.
e2e_teardown_file() {
	local left
	topo_teardown
	left=$(topo_namespaces)
	[ -z "$left" ] || e2e_fail "namespaces left after teardown: $left"
	[ ! -e "${TOPO_PIN_DIR:-/nonexistent}" ] || e2e_fail "pin dir left after teardown: $TOPO_PIN_DIR"
}

# e2e_load tc|xdp: attach svcbpf to the node's eth0 in that mode.
e2e_load() {
	case $1 in
	tc) sb_ok load eth0 ;;
	xdp) sb_ok load eth0 --xdp ;;
	*) e2e_fail "e2e_load: tc|xdp, not '$1'" ;;
	esac
}

# e2e_add_matrix_services: the services the matrix scenarios use.
e2e_add_matrix_services() {
	local n b_http=() b_up=() b_down=()
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		b_http+=(--backend "$(topo_pod_ip "$n"):8080")
		b_up+=(--backend "$(topo_pod_ip "$n"):9000")
		b_down+=(--backend "$(topo_pod_ip "$n"):9001")
	done
	sb_ok svc add "$E2E_VIP_HTTP:80" "${b_http[@]}" || return 1
	sb_ok svc add "$E2E_VIP_DNS:53/udp" --backend "$(topo_pod_ip 1):53" || return 1
	sb_ok svc add "$E2E_VIP_UP:9000" "${b_up[@]}" || return 1
	sb_ok svc add "$E2E_VIP_DOWN:9001" "${b_down[@]}" || return 1
}

# e2e_matrix_setup_file tc|xdp: topology, svcbpf loaded in that mode, the matrix services.
e2e_matrix_setup_file() {
	e2e_require || return 1
	e2e_setup_topology 3 || return 1
	e2e_load "$1" || return 1
	e2e_add_matrix_services || return 1
}

# e2e_offloads on|off|mixed: switch the veth offloads if they are not in that mode already.
e2e_offloads() {
	[ "$(topo_offloads_current)" = "$1" ] && return 0
	topo_offloads "$1"
}

# e2e_reset_svcbpf: detach svcbpf and forget its pins and store (between lifecycle tests).
e2e_reset_svcbpf() {
	sb unload
	rm -rf -- "${TOPO_PIN_DIR:?}"
	rm -rf -- "${TOPO_STATE_DIR:?}"
	mkdir -p "$TOPO_STATE_DIR"
}

# ----------------------------------------------------------------------------- traffic

# http_burst HOST PORT COUNT: COUNT new TCP connections from the client, one curl each;
# prints one line per attempt: the pod's answer, or "FAIL curl-exit=N". Stops after 3 failures
# so a broken dataplane costs seconds, not minutes.
http_burst() {
	# shellcheck disable=SC2016
	TOPO_TIMEOUT=$((20 + $3 / 2)) topo_client bash -c '
		fails=0
		for ((i = 0; i < $3; i++)); do
			if r=$(curl -sS --max-time 2 "http://$1:$2/" 2>&1); then
				echo "$r"
			else
				rc=$?
				echo "FAIL curl-exit=$rc" $r
				fails=$((fails + 1))
				((fails < 3)) || break
			fi
		done' http_burst "$1" "$2" "$3"
}

# http_once HOST PORT: one request; prints the answer; fails if there is none.
http_once() {
	topo_client curl -sS --max-time 2 "http://$1:$2/" 2>&1
}

# expect_http_ok WHAT HOST PORT COUNT [POD...]: COUNT connections all answered, each by one
# of the PODs (default: any pod); prints the per-pod distribution as a TAP note.
expect_http_ok() {
	local what=$1 host=$2 port=$3 count=$4 out answered allowed dist p
	shift 4
	out=$(http_burst "$host" "$port" "$count") || true
	answered=$(grep -c '^pod[0-9]* ' <<<"$out" || true)
	dist=$(grep -o '^pod[0-9]*' <<<"$out" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
	e2e_note "$what: $answered/$count answered; per backend: ${dist:-none}"
	if [ "$answered" != "$count" ]; then
		printf 'FAIL: %s: connections to %s:%s answered\n  expected: %s\n  actual:   %s\n  attempts:\n%s\n' \
			"$what" "$host" "$port" "$count" "$answered" "$(sed 's/^/    /' <<<"$out")" >&2
		return 1
	fi
	if (($# > 0)); then
		allowed=" $* "
		for p in $(grep -o '^pod[0-9]*' <<<"$out" | sort -u); do
			[[ $allowed == *" $p "* ]] ||
				e2e_fail "$what: answered by $p, expected only by: $*" || return 1
		done
	fi
	# The backends must see the client's own address (DNAT only, no SNAT).
	if grep '^pod' <<<"$out" | grep -qv ' client=10\.244\.0\.5:'; then
		e2e_fail "$what: a backend saw a source other than the client 10.244.0.5:" \
			"$(grep '^pod' <<<"$out" | grep -v ' client=10\.244\.0\.5:' | head -3)" || return 1
	fi
	E2E_HTTP_OUT=$out
}

# expect_http_fails WHAT HOST PORT: one bounded attempt (2 s) must get no answer.
expect_http_fails() {
	local out rc=0
	out=$(http_once "$2" "$3") || rc=$?
	if [ "$rc" = 0 ]; then
		printf 'FAIL: %s: request to %s:%s\n  expected: no answer\n  actual:   answered "%s"\n' \
			"$1" "$2" "$3" "$out" >&2
		return 1
	fi
	e2e_note "$1: no answer as expected (curl exit $rc: ${out//$'\n'/ })"
}

# udp_query HOST PORT: one datagram from a new socket; prints "reply=... from=IP:PORT".
udp_query() {
	topo_client "$PYTHON" "$TOPO_PODSERVER" udp "$1" "$2" --timeout 2
}

# ----------------------------------------------------------------------------- scenarios
# Each scenario runs against the services e2e_add_matrix_services programmed.

# 60 new TCP connections to a 3-backend ClusterIP: all answered, every backend serves some.
scenario_tcp_spread() {
	local n
	expect_http_ok "60 connections to $E2E_VIP_HTTP:80" "$E2E_VIP_HTTP" 80 60 || return 1
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		grep -q "^pod$n " <<<"$E2E_HTTP_OUT" ||
			e2e_fail "backend pod$n ($(topo_pod_ip "$n"):8080) served none of the 60 connections" ||
			return 1
	done
}

# UDP through a ClusterIP: every datagram is answered by the backend and the reply's source is
# the ClusterIP:port, not the pod.
scenario_udp() {
	local i out
	for ((i = 1; i <= 5; i++)); do
		out=$(udp_query "$E2E_VIP_DNS" 53) || true
		assert_eq "UDP query $i to $E2E_VIP_DNS:53: reply and its source" \
			"reply=pod1/$(topo_pod_ip 1) from=$E2E_VIP_DNS:53" "$out" || return 1
	done
	e2e_note "UDP: 5/5 answered by pod1 from $E2E_VIP_DNS:53"
}

# Direct pod traffic still works while services exist: TCP to pod2, UDP to pod1 (whose port
# is a UDP backend: its reply must keep the pod's own source, not get the ClusterIP's).
scenario_direct() {
	local out ip2 ip1
	ip2=$(topo_pod_ip 2)
	ip1=$(topo_pod_ip 1)
	out=$(http_once "$ip2" 8080) || true
	assert_match "direct TCP client -> $ip2:8080 answered by pod2" "^pod2 $ip2 client=10\.244\.0\.5:" "$out" || return 1
	out=$(udp_query "$ip1" 53) || true
	assert_eq "direct UDP client -> $ip1:53 (a backend of $E2E_VIP_DNS:53/udp)" \
		"reply=pod1/$ip1 from=$ip1:53" "$out" || return 1
	expect_http_ok "direct TCP x10 to $ip2:8080" "$ip2" 8080 10 pod2 || return 1
}

# A deleted service stops answering (and the others keep answering). Each offload mode uses
# its own ClusterIP, so no earlier flow of the same address can be in conntrack.
scenario_delete() {
	local vip
	case $(topo_offloads_current) in
	on) vip=${E2E_VIP_DEL}0 ;;
	off) vip=${E2E_VIP_DEL}1 ;;
	*) vip=${E2E_VIP_DEL}2 ;;
	esac
	sb_ok svc add "$vip:80" --backend "$(topo_pod_ip 3):8080" || return 1
	expect_http_ok "before delete: $vip:80" "$vip" 80 3 pod3 || return 1
	sb_ok svc del "$vip:80" || return 1
	sb_list || return 1
	assert_not_contains "svc list after 'svc del $vip:80'" "$vip:" "$SB_OUT" || return 1
	expect_http_fails "after delete: $vip:80" "$vip" 80 || return 1
	expect_http_ok "after delete, the other service $E2E_VIP_HTTP:80" "$E2E_VIP_HTTP" 80 3 || return 1
}

# 5 MiB both ways through ClusterIPs; sha256 computed on both ends must agree.
scenario_transfer() {
	local out
	out=$(TOPO_TIMEOUT=60 topo_client "$PYTHON" "$TOPO_PODSERVER" upload "$E2E_VIP_UP" 9000 \
		--bytes "$E2E_XFER_BYTES" --timeout 10) || true
	assert_match "5 MiB upload to $E2E_VIP_UP:9000 (client sha vs the pod's sha of what it got)" \
		"match=yes" "$out" || return 1
	e2e_note "upload: ${out##*pod=}"
	out=$(TOPO_TIMEOUT=60 topo_client "$PYTHON" "$TOPO_PODSERVER" download "$E2E_VIP_DOWN" 9001 \
		--bytes "$E2E_XFER_BYTES" --timeout 10) || true
	assert_match "5 MiB download from $E2E_VIP_DOWN:9001 (the pod's sha of what it sent vs the client's of what it got)" \
		"match=yes" "$out" || return 1
	e2e_note "download: ${out##*pod=}"
}

# ----------------------------------------------------------------------------- introspection

# json_eval PY_EXPR: evaluate PY_EXPR with d = the JSON document on stdin; print the result
# (lists one item a line).
json_eval() {
	"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print("\n".join(map(str, r)) if isinstance(r, (list, tuple)) else r)' "$1"
}

# e2e_hooks IFACE: the hooks 'svcbpf status -o json' reports attached on IFACE, sorted, on one
# line.
e2e_hooks() {
	sb_ok status -o json || return 1
	json_eval "sorted(a['hook'] for a in d.get('attachments', []) if a['ifname'] == '$1')" \
		<<<"$SB_OUT" | tr '\n' ' ' | sed 's/ $//'
}

# e2e_xdp_prog IFACE: the name of the XDP program the kernel has on the node's IFACE, or
# "none" (read with ip(8), independently of svcbpf).
e2e_xdp_prog() {
	local out
	out=$(ip -n "$TOPO_NODE" -d link show "$1") || return 1
	sed -n 's/.*prog\/xdp id [0-9]* name \([^ ]*\).*/\1/p' <<<"$out" | grep . || echo none
}

# expect_attach_mode tc|xdp: what the kernel and 'svcbpf status' show for eth0 matches the mode.
expect_attach_mode() {
	local hooks xdp
	hooks=$(e2e_hooks eth0) || return 1
	xdp=$(e2e_xdp_prog eth0) || return 1
	case $1 in
	tc)
		assert_eq "hooks on eth0 in 'status -o json' (mode tc)" "tc_egress tc_ingress" "$hooks" || return 1
		assert_eq "XDP program on the node's eth0 (ip link, mode tc)" none "$xdp" || return 1
		;;
	xdp)
		assert_eq "hooks on eth0 in 'status -o json' (mode xdp)" "tc_egress tc_ingress xdp" "$hooks" || return 1
		assert_match "XDP program on the node's eth0 (ip link, mode xdp)" '^svcbpf' "$xdp" || return 1
		;;
	esac
	e2e_note "mode $1: status hooks [$hooks], kernel XDP program: $xdp"
}

# e2e_counter NAME: the packets of counter NAME in 'svcbpf status -o json' ("" if absent).
e2e_counter() {
	sb_ok status -o json || return 1
	json_eval "d.get('counters', {}).get('$1', {}).get('packets', '')" <<<"$SB_OUT"
}

# expect_clean_counters: after the traffic of a file, nothing was dropped or failed a rewrite,
# and flows were translated. Prints the counters as a note.
expect_clean_counters() {
	local name val all
	sb_ok status -o json || return 1
	all=$(json_eval "' '.join('%s=%s' % (k, v['packets']) for k, v in d['counters'].items())" \
		<<<"$SB_OUT") || e2e_fail "no counters in 'status -o json': $SB_OUT" || return 1
	e2e_note "counters: $all"
	for name in drop_rewrite_failed pass_malformed drop_no_backend; do
		val=$(e2e_counter "$name")
		assert_eq "counter $name after the scenarios" 0 "$val" || return 1
	done
	val=$(e2e_counter dnat_new_flow)
	((val > 0)) || e2e_fail "counter dnat_new_flow after the scenarios: expected > 0, actual '$val'"
}

# sniff_checksums TRAFFIC_FN: sniff the client's and every pod's eth0 (AF_PACKET, both
# directions) while TRAFFIC_FN runs; every IPv4/TCP/UDP checksum seen must be right: the full
# sum, or, for a CHECKSUM_PARTIAL packet a veth hands over unfinished, exactly the
# pseudo-header seed (tools/podserver.py check_packet).
sniff_checksums() {
	local traffic=$1 dir=$BATS_TEST_TMPDIR/sniff n name out bad=0 total=0 notes=()
	local -A where=([client]=$TOPO_CLIENT)
	for ((n = 1; n <= TOPO_NPODS; n++)); do where[pod$n]=$(topo_pod_ns "$n"); done
	rm -rf "$dir"
	mkdir -p "$dir"
	for name in "${!where[@]}"; do
		TOPO_TIMEOUT=90 topo_in "${where[$name]}" "$PYTHON" "$TOPO_PODSERVER" sniff --iface eth0 \
			--stop-file "$dir/stop" --ready-file "$dir/ready-$name" --max-seconds 60 \
			>"$dir/$name" 2>&1 3>&- &
	done
	for name in "${!where[@]}"; do
		topo_poll 10 test -e "$dir/ready-$name" ||
			e2e_fail "sniffer in $name did not start: $(cat "$dir/$name")" || return 1
	done
	"$traffic"
	touch "$dir/stop"
	for name in "${!where[@]}"; do
		topo_poll 10 grep -q '^packets=' "$dir/$name" ||
			e2e_fail "sniffer in $name gave no summary: $(cat "$dir/$name")" || return 1
	done
	for name in $(printf '%s\n' "${!where[@]}" | sort); do
		out=$(cat "$dir/$name")
		notes+=("$name: $(head -1 <<<"$out")")
		if ! grep -q '^packets=[0-9]* .* bad=0$' <<<"$out"; then
			printf 'FAIL: checksums seen on %s eth0\n  expected: bad=0\n  actual:\n%s\n' \
				"$name" "$(sed 's/^/    /' <<<"$out")" >&2
			bad=1
		fi
		total=$((total + $(sed -n 's/^packets=\([0-9]*\).*/\1/p' <<<"$out")))
	done
	for out in "${notes[@]}"; do e2e_note "checksums $out"; done
	((bad == 0)) || return 1
	((total > 0)) || e2e_fail "the sniffers saw no TCP/UDP packet at all"
}

# Traffic through every matrix ClusterIP: HTTP, UDP, 1 MiB up and down.
_traffic_clusterips() {
	expect_http_ok "sniffed: 10 connections to $E2E_VIP_HTTP:80" "$E2E_VIP_HTTP" 80 10 || true
	udp_query "$E2E_VIP_DNS" 53 >/dev/null || true
	TOPO_TIMEOUT=60 topo_client "$PYTHON" "$TOPO_PODSERVER" upload "$E2E_VIP_UP" 9000 \
		--bytes 1048576 >/dev/null || true
	TOPO_TIMEOUT=60 topo_client "$PYTHON" "$TOPO_PODSERVER" download "$E2E_VIP_DOWN" 9001 \
		--bytes 1048576 >/dev/null || true
}

# Checksums on the wire through the ClusterIPs. With offloads on, a wrong seed reaches the
# receiver unchecked (a veth receiver trusts a partial skb), so only this catches it: the pods
# see the DNATed requests, the client sees the reverse-NATed replies.
scenario_checksums() {
	sniff_checksums _traffic_clusterips
}

# ----------------------------------------------------------------------------- outside the node
# The outside world of tools/topo.sh (topo_create_outside): a client at 192.0.2.10 behind a
# router, reaching the node's eth1 203.0.113.1; LoadBalancer and external IPs in
# 198.51.100.0/24 (routed to the node by the router).

E2E_NODE_NAME="node-a" # what 'load --node-name' is given: spec.nodeName of this node's pods
# shellcheck disable=SC2034 # for the bats files
E2E_OTHER_NODE="node-b" # a node name that is not this node
# A masqueraded client as a pod sees it: one of the node's own addresses.
# shellcheck disable=SC2034 # for the bats files
E2E_NODE_ADDR_ERE='^(10\.244\.[0-9]+\.1|203\.0\.113\.1)$'

# e2e_setup_outside [NPODS]: e2e_setup_topology plus the outside world (setup_file).
e2e_setup_outside() {
	e2e_setup_topology "${1:-3}" || return 1
	topo_create_outside
}

# e2e_load_node [ARGS...]: svcbpf on every node interface (eth0, eth1, the pods' veths: replies
# from the pods are translated as they come in), this node named $E2E_NODE_NAME.
e2e_load_node() {
	local n ifs=(eth0 eth1)
	for ((n = 1; n <= TOPO_NPODS; n++)); do ifs+=("pod$n"); done
	sb_ok load "${ifs[@]}" --node-name "$E2E_NODE_NAME" "$@"
}

# e2e_in WHERE CMD...: run CMD in the namespace WHERE: client, outside, router, node or podN.
e2e_in() {
	local from=$1
	shift
	case $from in
	client) topo_client "$@" ;;
	outside) topo_outside "$@" ;;
	router) topo_router "$@" ;;
	node) topo_node "$@" ;;
	pod[0-9]*) topo_pod "${from#pod}" "$@" ;;
	*) e2e_fail "e2e_in: client|outside|router|node|podN, not '$from'" ;;
	esac
}

# http_burst_from WHERE HOST PORT COUNT [TIMEOUT]: as http_burst (COUNT new TCP connections,
# one request each, within TIMEOUT seconds (default 2) each, an answer or a "FAIL ..." line per
# attempt, at most 3 failures), from the namespace WHERE (e2e_in), in one process
# (tools/conns.py --serial: a curl costs ~0.1 s here).
http_burst_from() {
	TOPO_TIMEOUT=$((20 + $4 / 2)) e2e_in "$1" "$PYTHON" "$TOPO_REPO/tools/conns.py" "$2" "$3" \
		--serial --count "$4" --timeout "${5:-2}"
}

# expect_http_from WHERE WHAT HOST PORT COUNT SRC_ERE [POD...]: COUNT connections from WHERE,
# all answered, each by one of the PODs (default: any), and every backend saw a client
# address (without port) matching SRC_ERE. Notes the per-pod distribution and the client
# addresses the pods saw; the answers are left in E2E_HTTP_OUT.
expect_http_from() {
	local from=$1 what=$2 host=$3 port=$4 count=$5 src_ere=$6 out answered dist seen p a
	shift 6
	out=$(http_burst_from "$from" "$host" "$port" "$count") || true
	E2E_HTTP_OUT=$out
	answered=$(grep -c '^pod[0-9]* ' <<<"$out" || true)
	dist=$(grep -o '^pod[0-9]*' <<<"$out" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
	seen=$(sed -n 's/^pod[0-9]* [0-9.]* client=\([0-9.]*\):[0-9]*$/\1/p' <<<"$out" | sort |
		uniq -c | awk '{printf "%s(x%s) ", $2, $1}')
	e2e_note "$what: $answered/$count answered; per backend: ${dist:-none}; pods saw the client as: ${seen:-nothing}"
	if [ "$answered" != "$count" ]; then
		printf 'FAIL: %s: connections from %s to %s:%s answered\n  expected: %s\n  actual:   %s\n  attempts:\n%s\n' \
			"$what" "$from" "$host" "$port" "$count" "$answered" "$(sed 's/^/    /' <<<"$out" | head -20)" >&2
		return 1
	fi
	if (($# > 0)); then
		for p in $(grep -o '^pod[0-9]*' <<<"$out" | sort -u); do
			[[ " $* " == *" $p "* ]] ||
				e2e_fail "$what: answered by $p, expected only by: $*" || return 1
		done
	fi
	for a in $(sed -n 's/^pod[0-9]* [0-9.]* client=\([0-9.]*\):[0-9]*$/\1/p' <<<"$out" | sort -u); do
		[[ $a =~ $src_ere ]] ||
			e2e_fail "$what: a backend saw the client as $a, expected an address matching $src_ere:" \
				"$(grep "client=$a:" <<<"$out" | head -3)" || return 1
	done
}

# expect_every_pod WHAT POD...: each POD answered at least one request of E2E_HTTP_OUT.
expect_every_pod() {
	local what=$1 p
	shift
	for p in "$@"; do
		grep -q "^$p " <<<"$E2E_HTTP_OUT" ||
			e2e_fail "$what: backend $p answered none of the requests (answers: $(grep -o '^pod[0-9]*' <<<"$E2E_HTTP_OUT" | sort | uniq -c | tr '\n' ' '))" ||
			return 1
	done
}

# udp_burst_from WHERE HOST PORT COUNT [TIMEOUT]: COUNT datagrams from WHERE, each from a new
# connected socket (a new flow), each waiting up to TIMEOUT (default 1) seconds for its answer.
# Prints "answered=A refused=R timeout=T" (refused: the socket got ECONNREFUSED, an ICMP port
# unreachable for its flow), then one "reply=... from=IP:PORT" line per answer.
udp_burst_from() {
	local wait=${5:-1}
	TOPO_TIMEOUT=$((10 + $4 * (${wait%%.*} + 1))) e2e_in "$1" "$PYTHON" -c '
import socket, sys
host, port, n, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
got, refused, timeout, lines = 0, 0, 0, []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.connect((host, port))
    try:
        s.send(b"hello")
        data, src = s.recvfrom(2048)
        got += 1
        lines.append("reply=%s from=%s:%d" % (data.decode().strip().replace(" ", "/"), *src))
    except ConnectionRefusedError:
        refused += 1
    except socket.timeout:
        timeout += 1
    s.close()
print("answered=%d refused=%d timeout=%d" % (got, refused, timeout))
print("\n".join(lines))' "$2" "$3" "$4" "$wait"
}

# k8s_pod_on NAME IP NODE LABEL=VALUE...: a Ready Pod manifest on node NODE (spec.nodeName)
# with those labels, ports 8080/tcp (http) and 53/udp (dns).
k8s_pod_on() {
	local name=$1 ip=$2 node=$3 l
	shift 3
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels:\n' "$name"
	for l in "$@"; do printf '    %s: %s\n' "${l%%=*}" "${l#*=}"; done
	cat <<-YAML
	spec:
	  nodeName: $node
	  containers:
	  - name: web
	    image: nginx
	    ports:
	    - containerPort: 8080
	      name: http
	    - containerPort: 53
	      name: dns
	      protocol: UDP
	status:
	  podIP: $ip
	  conditions:
	  - type: Ready
	    status: "True"
	YAML
}

# e2e_monitor_start FILE ARGS...: 'svcbpf monitor -o json ARGS' in the background, events in
# FILE (stderr in FILE.err), pid in E2E_MON_PID; waits (10 s at most) until it listens.
e2e_monitor_start() {
	local file=$1
	shift
	nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" -o json monitor "$@" </dev/null >"$file" 2>"$file.err" 3>&- &
	E2E_MON_PID=$!
	topo_poll 10 grep -q '^svcbpf: monitoring events ' "$file.err" ||
		e2e_fail "monitor $* did not start listening: $(cat "$file.err")"
}

# e2e_monitor_stop: SIGINT the monitor of e2e_monitor_start, wait up to 5 s (then SIGKILL).
e2e_monitor_stop() {
	[ -n "${E2E_MON_PID:-}" ] || return 0
	stop_pid "$E2E_MON_PID" INT 5 || { kill -KILL "$E2E_MON_PID" 2>/dev/null; wait "$E2E_MON_PID" 2>/dev/null; }
	E2E_MON_PID=
}

# sniff_checksums_at TRAFFIC_FN WHERE...: sniff_checksums on the eth0 of each namespace WHERE
# (e2e_in names: client, outside, router, podN) while TRAFFIC_FN runs: every IPv4/TCP/UDP
# checksum seen must be the full sum or the exact CHECKSUM_PARTIAL seed.
sniff_checksums_at() {
	local traffic=$1 dir=$BATS_TEST_TMPDIR/sniff-at w out bad=0 total=0
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	for w in "$@"; do
		TOPO_TIMEOUT=90 e2e_in "$w" "$PYTHON" "$TOPO_PODSERVER" sniff --iface eth0 \
			--stop-file "$dir/stop" --ready-file "$dir/ready-$w" --max-seconds 60 \
			>"$dir/$w" 2>&1 3>&- &
	done
	for w in "$@"; do
		topo_poll 10 test -e "$dir/ready-$w" ||
			e2e_fail "sniffer in $w did not start: $(cat "$dir/$w")" || { touch "$dir/stop"; return 1; }
	done
	"$traffic"
	touch "$dir/stop"
	for w in "$@"; do
		topo_poll 10 grep -q '^packets=' "$dir/$w" ||
			e2e_fail "sniffer in $w gave no summary: $(cat "$dir/$w")" || return 1
	done
	for w in "$@"; do
		out=$(cat "$dir/$w")
		e2e_note "checksums $w eth0: $(head -1 <<<"$out")"
		if ! grep -q '^packets=[0-9]* .* bad=0$' <<<"$out"; then
			printf 'FAIL: checksums seen on %s eth0\n  expected: bad=0\n  actual:\n%s\n' \
				"$w" "$(sed 's/^/    /' <<<"$out")" >&2
			bad=1
		fi
		total=$((total + $(sed -n 's/^packets=\([0-9]*\).*/\1/p' <<<"$out")))
	done
	((bad == 0)) || return 1
	((total > 0)) || e2e_fail "the sniffers saw no TCP/UDP packet at all"
}
