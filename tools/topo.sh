#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# tools/topo.sh - the svcbpf test topology in network namespaces: a node, a client and pods.
#
# Source it (tests/lib/e2e.bash and tools/demo.sh do); nothing runs at source time except
# variable defaults. Executed directly it offers two maintenance commands:
#     tools/topo.sh list    the namespaces and pin dirs of all runs, with their owner's state
#     tools/topo.sh reap    tear down runs whose owner process is gone (e.g. after kill -9)
#
#   client ns                node ns                                pod ns (N = 1, 2, 3 ...)
#   eth0 10.244.0.5/24 <---> eth0 10.244.0.1/24   svcbpf here
#   default via .0.1         podN 10.244.N.1/24 <-------------------> eth0 10.244.N.x/24
#                            ip_forward=1                            default via 10.244.N.1
#                                                                    tools/podserver.py
# On request (topo_create_outside, after topo_create), the world outside the cluster, reached
# through a second node interface and a router, as a NodePort or LoadBalancer client sees it:
#
#   outside ns               router ns (ip_forward=1)                  node ns
#   eth0 192.0.2.10/24 <---> eth0 192.0.2.1/24
#   default via 192.0.2.1    eth1 203.0.113.2/24 <-------------------> eth1 203.0.113.1/24
#                            198.51.100.0/24 via 203.0.113.1           192.0.2.0/24 via
#                            default via 203.0.113.1                   203.0.113.2
# 198.51.100.0/24 holds the LoadBalancer and external IPs: like ClusterIPs, only map entries
# (the router sends them to the node, no interface has them).
#
# Pod IPs: pod1 10.244.1.10, pod2 10.244.2.15 (the seed's pods), pod3 10.244.3.20,
# podN 10.244.N.10 beyond. ClusterIPs (10.96.0.0/12) are only map entries: the client reaches
# them through its default route, the node has no route for them.
#
# Safety: every veth is created inside the namespaces (never in the root namespace), the
# root namespace gets no address or route, and everything a run creates carries its run id:
# namespaces "$TOPO_ID-node", "$TOPO_ID-client", "$TOPO_ID-podN" (and "$TOPO_ID-router",
# "$TOPO_ID-outside" with topo_create_outside), the pin dir
# /sys/fs/bpf/svcbpf-$TOPO_ID and a mktemp dir holding the svcbpf state dir, server logs and
# pid files. topo_teardown removes exactly these, is idempotent, and is meant to run from a
# trap (topo_trap) or a bats teardown_file. Every wait is a bounded poll; every command
# run inside a namespace through topo_in is bounded by timeout(1).
#
# Usage:
#   source tools/topo.sh
#   topo_init            # pick a run id, set the TOPO_* variables (exported)
#   topo_trap            # optional: tear down on EXIT/INT/TERM (scripts; bats uses teardown_file)
#   topo_create 3        # namespaces, veths, addresses, routes
#   topo_start_servers   # tools/podserver.py in every pod, waits until all ports listen
#   topo_wait_ready      # the client reaches every pod directly (TCP and UDP)
#   topo_create_outside  # optional: router and outside namespaces, node eth1
#   topo_svcbpf load eth0 ; topo_client curl -s http://10.96.0.50/
#   topo_outside curl -s http://203.0.113.1:30080/
#   topo_offloads off
#   topo_teardown

TOPO_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${SVCBPF:=$TOPO_REPO/build/svcbpf}"
# The interpreter itself, not a pyenv shim (a shim costs ~0.3 s per start; clients start often).
: "${PYTHON:=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)}"
: "${TOPO_TIMEOUT:=30}"          # default bound, in seconds, of a command run in a namespace
: "${TOPO_SERVER_SECONDS:=600}"  # lifetime of the pod servers
TOPO_PODSERVER=$TOPO_REPO/tools/podserver.py

topo_log() { printf 'topo: %s\n' "$*" >&2; }
topo_err() { printf 'topo: error: %s\n' "$*" >&2; return 1; }

# topo_pod_ip N: the IP of pod N.
topo_pod_ip() {
	case $1 in
	1) echo 10.244.1.10 ;;
	2) echo 10.244.2.15 ;;
	3) echo 10.244.3.20 ;;
	*) echo "10.244.$1.10" ;;
	esac
}

# topo_pod_ns N: the namespace name of pod N.
topo_pod_ns() { echo "$TOPO_ID-pod$1"; }

# k8s_pod NAME IP LABEL [READY] [PORTNAME]: a Pod manifest (status as the kubelet reports it):
# app=LABEL, ports 8080/tcp (named PORTNAME, default http) and 53/udp (dns), Ready READY
# (default True).
k8s_pod() {
	cat <<-YAML
	---
	apiVersion: v1
	kind: Pod
	metadata:
	  name: $1
	  labels:
	    app: $3
	spec:
	  containers:
	  - name: web
	    image: nginx
	    ports:
	    - containerPort: 8080
	      name: ${5:-http}
	    - containerPort: 53
	      name: dns
	      protocol: UDP
	status:
	  podIP: $2
	  conditions:
	  - type: Ready
	    status: "${4:-True}"
	YAML
}

# topo_init [ID]: choose the run id and set (and export) the TOPO_* variables.
# shellcheck disable=SC2120 # ID is for callers that want a fixed id
topo_init() {
	local rnd
	rnd=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	TOPO_ID=${1:-sb$$-$rnd}
	TOPO_OWNER=$$
	TOPO_NODE=$TOPO_ID-node
	TOPO_CLIENT=$TOPO_ID-client
	TOPO_ROUTER=$TOPO_ID-router
	TOPO_OUTSIDE=$TOPO_ID-outside
	TOPO_NPODS=0
	TOPO_PIN_DIR=/sys/fs/bpf/svcbpf-$TOPO_ID
	TOPO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/svcbpf-$TOPO_ID.XXXXXX") || return 1
	TOPO_STATE_DIR=$TOPO_DIR/state
	mkdir -p "$TOPO_STATE_DIR" "$TOPO_DIR/pids" "$TOPO_DIR/logs"
	export TOPO_ID TOPO_OWNER TOPO_NODE TOPO_CLIENT TOPO_ROUTER TOPO_OUTSIDE TOPO_NPODS \
		TOPO_PIN_DIR TOPO_DIR TOPO_STATE_DIR SVCBPF PYTHON
	# The record 'topo.sh reap' uses to find what a dead run left behind.
	printf 'TOPO_ID=%s\nTOPO_OWNER=%s\nTOPO_DIR=%s\n' "$TOPO_ID" "$TOPO_OWNER" "$TOPO_DIR" \
		>"$TOPO_DIR/run.env"
}

# topo_namespaces: every namespace of this run that exists now.
topo_namespaces() {
	[ -n "${TOPO_ID:-}" ] || return 0
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${TOPO_ID}-(node|client|router|outside|pod[0-9]+)\$"
}

# topo_in NS CMD...: run CMD in namespace NS (network namespace only: the machine's bpffs and
# /sys stay visible, unlike 'ip netns exec'), bounded by $TOPO_TIMEOUT seconds.
topo_in() {
	local ns=$1
	shift
	timeout -k 2 "$TOPO_TIMEOUT" nsenter --net="/run/netns/$ns" -- "$@"
}
topo_node() { topo_in "$TOPO_NODE" "$@"; }
topo_client() { topo_in "$TOPO_CLIENT" "$@"; }
topo_pod() { local n=$1; shift; topo_in "$(topo_pod_ns "$n")" "$@"; }
topo_router() { topo_in "$TOPO_ROUTER" "$@"; }
topo_outside() { topo_in "$TOPO_OUTSIDE" "$@"; }

# topo_svcbpf ARGS...: the svcbpf CLI in the node namespace with this run's pin and state dirs.
topo_svcbpf() {
	timeout -k 2 60 nsenter --net="/run/netns/$TOPO_NODE" -- \
		"$SVCBPF" --pin-dir "$TOPO_PIN_DIR" --state-dir "$TOPO_STATE_DIR" "$@"
}

# topo_poll SECONDS CMD...: run CMD every 50 ms until it succeeds; fail after SECONDS.
topo_poll() {
	local secs=$1 deadline
	shift
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 0.05
	done
}

_topo_sysctl() { # NS KEY VALUE
	printf '%s\n' "$3" | topo_in "$1" tee "/proc/sys/${2//.//}" >/dev/null
}

# topo_create [NPODS]: build the namespaces, links, addresses and routes (default 3 pods).
topo_create() {
	local npods=${1:-3} n ns ip
	[ -n "${TOPO_ID:-}" ] || topo_init || return 1
	((npods >= 1 && npods <= 250)) || { topo_err "topo_create: 1..250 pods, not $npods"; return 1; }
	TOPO_NPODS=$npods
	export TOPO_NPODS
	echo "TOPO_NPODS=$npods" >>"$TOPO_DIR/run.env"
	ip netns add "$TOPO_NODE" || return 1
	ip netns add "$TOPO_CLIENT" || return 1
	# client <-> node: both ends are born inside their namespaces.
	ip -n "$TOPO_NODE" link add eth0 type veth peer name eth0 netns "$TOPO_CLIENT" || return 1
	ip -n "$TOPO_NODE" link set lo up
	ip -n "$TOPO_NODE" addr add 10.244.0.1/24 dev eth0
	ip -n "$TOPO_NODE" link set eth0 up
	ip -n "$TOPO_CLIENT" link set lo up
	ip -n "$TOPO_CLIENT" addr add 10.244.0.5/24 dev eth0
	ip -n "$TOPO_CLIENT" link set eth0 up
	ip -n "$TOPO_CLIENT" route add default via 10.244.0.1 || return 1
	_topo_sysctl "$TOPO_NODE" net.ipv4.ip_forward 1 || return 1
	for ((n = 1; n <= npods; n++)); do
		ns=$(topo_pod_ns "$n")
		ip=$(topo_pod_ip "$n")
		ip netns add "$ns" || return 1
		ip -n "$TOPO_NODE" link add "pod$n" type veth peer name eth0 netns "$ns" || return 1
		ip -n "$TOPO_NODE" addr add "10.244.$n.1/24" dev "pod$n"
		ip -n "$TOPO_NODE" link set "pod$n" up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$ip/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "10.244.$n.1" || return 1
	done
	# Bounded wait for carrier on every link (veth reports LOWER_UP once both ends are up).
	topo_poll 10 _topo_links_up || { topo_err "links did not come up within 10 s"; return 1; }
	echo offloads=on >"$TOPO_DIR/offloads"
}

_topo_links_up() {
	local n
	ip -n "$TOPO_NODE" link show eth0 | grep -q LOWER_UP || return 1
	ip -n "$TOPO_CLIENT" link show eth0 | grep -q LOWER_UP || return 1
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		ip -n "$TOPO_NODE" link show "pod$n" | grep -q LOWER_UP || return 1
		ip -n "$(topo_pod_ns "$n")" link show eth0 | grep -q LOWER_UP || return 1
	done
}

# The outside world's addresses (see the picture at the top).
TOPO_OUTSIDE_IP=192.0.2.10
TOPO_ROUTER_OUT_IP=192.0.2.1
TOPO_ROUTER_IP=203.0.113.2
TOPO_NODE_EXT_IP=203.0.113.1
TOPO_EXT_NET=198.51.100.0/24

# topo_has_outside: topo_create_outside has run for this topology.
topo_has_outside() { [ -n "${TOPO_DIR:-}" ] && [ -e "$TOPO_DIR/outside" ]; }

# topo_create_outside: after topo_create, the router and outside namespaces, the node's eth1
# and the routes between them (see the picture at the top). Waits (bounded) for carrier and
# for the outside to reach the node's eth1 address.
topo_create_outside() {
	if [ -z "${TOPO_NODE:-}" ] || [ ! -e "/run/netns/$TOPO_NODE" ]; then
		topo_err "topo_create_outside: run topo_create first"
		return 1
	fi
	topo_has_outside && { topo_err "topo_create_outside: already created"; return 1; }
	ip netns add "$TOPO_ROUTER" || return 1
	ip netns add "$TOPO_OUTSIDE" || return 1
	: >"$TOPO_DIR/outside"
	# router <-> node and outside <-> router: born inside their namespaces.
	ip -n "$TOPO_ROUTER" link add eth1 type veth peer name eth1 netns "$TOPO_NODE" || return 1
	ip -n "$TOPO_OUTSIDE" link add eth0 type veth peer name eth0 netns "$TOPO_ROUTER" ||
		return 1
	ip -n "$TOPO_ROUTER" link set lo up
	ip -n "$TOPO_ROUTER" addr add "$TOPO_ROUTER_OUT_IP/24" dev eth0
	ip -n "$TOPO_ROUTER" addr add "$TOPO_ROUTER_IP/24" dev eth1
	ip -n "$TOPO_ROUTER" link set eth0 up
	ip -n "$TOPO_ROUTER" link set eth1 up
	ip -n "$TOPO_NODE" addr add "$TOPO_NODE_EXT_IP/24" dev eth1
	ip -n "$TOPO_NODE" link set eth1 up
	ip -n "$TOPO_OUTSIDE" link set lo up
	ip -n "$TOPO_OUTSIDE" addr add "$TOPO_OUTSIDE_IP/24" dev eth0
	ip -n "$TOPO_OUTSIDE" link set eth0 up
	_topo_sysctl "$TOPO_ROUTER" net.ipv4.ip_forward 1 || return 1
	ip -n "$TOPO_OUTSIDE" route add default via "$TOPO_ROUTER_OUT_IP" || return 1
	ip -n "$TOPO_ROUTER" route add "$TOPO_EXT_NET" via "$TOPO_NODE_EXT_IP" || return 1
	ip -n "$TOPO_ROUTER" route add default via "$TOPO_NODE_EXT_IP" || return 1
	ip -n "$TOPO_NODE" route add 192.0.2.0/24 via "$TOPO_ROUTER_IP" || return 1
	topo_poll 10 _topo_outside_links_up ||
		{ topo_err "outside links did not come up within 10 s"; return 1; }
	topo_poll 10 _topo_outside_reaches "$TOPO_NODE_EXT_IP" ||
		{ topo_err "outside cannot reach the node's eth1 $TOPO_NODE_EXT_IP within 10 s"; return 1; }
}

# _topo_outside_reaches IP: a TCP connection from the outside to IP port 9 is refused at once
# (the address answers; nothing listens there). No ping on this machine.
_topo_outside_reaches() {
	TOPO_TIMEOUT=5 topo_outside "$PYTHON" -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9), timeout=1).close()
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    sys.exit(1)' "$1"
}

_topo_outside_links_up() {
	ip -n "$TOPO_NODE" link show eth1 | grep -q LOWER_UP || return 1
	ip -n "$TOPO_ROUTER" link show eth1 | grep -q LOWER_UP || return 1
	ip -n "$TOPO_ROUTER" link show eth0 | grep -q LOWER_UP || return 1
	ip -n "$TOPO_OUTSIDE" link show eth0 | grep -q LOWER_UP
}

# topo_outside_mtu MTU [ADVMSS]: the MTU of the router <-> outside link, both ends. With
# ADVMSS, the outside client also advertises that MSS on its default route (as a client
# whose own link is wider than the bottleneck would), so the far end sends segments too big
# for the link and must learn the path MTU from the router's ICMP "fragmentation needed";
# without it, the outside's MSS follows its MTU and nothing needs discovering.
topo_outside_mtu() {
	local mtu=$1 advmss=${2:-}
	topo_has_outside || { topo_err "topo_outside_mtu: no outside (topo_create_outside)"; return 1; }
	ip -n "$TOPO_ROUTER" link set eth0 mtu "$mtu" || return 1
	ip -n "$TOPO_OUTSIDE" link set eth0 mtu "$mtu" || return 1
	if [ -n "$advmss" ]; then
		ip -n "$TOPO_OUTSIDE" route replace default via "$TOPO_ROUTER_OUT_IP" advmss "$advmss" ||
			return 1
	else
		ip -n "$TOPO_OUTSIDE" route replace default via "$TOPO_ROUTER_OUT_IP" || return 1
	fi
}

# topo_track_pid PID NAME: have topo_teardown stop PID (a process this run started).
topo_track_pid() { echo "$1" >"$TOPO_DIR/pids/$2"; }

# _topo_listening NS: the pod server's four ports are bound in NS.
_topo_listening() {
	local out
	out=$(topo_in "$1" ss -Hltnu) || return 1
	grep -q ':8080 ' <<<"$out" && grep -q ':9000 ' <<<"$out" &&
		grep -q ':9001 ' <<<"$out" && grep -Eq '^udp .*:53 ' <<<"$out"
}

# topo_start_servers: start tools/podserver.py in every pod; wait (bounded) until they listen.
topo_start_servers() {
	local n ns pid
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		ns=$(topo_pod_ns "$n")
		# nsenter execs python, so $! is the server's own pid. fd 3 is closed: bats waits
		# for it otherwise.
		nsenter --net="/run/netns/$ns" -- "$PYTHON" "$TOPO_PODSERVER" serve \
			--name "pod$n" --ip "$(topo_pod_ip "$n")" --max-seconds "$TOPO_SERVER_SECONDS" \
			${TOPO_SERVER_VERBOSE:+-v} </dev/null >"$TOPO_DIR/logs/pod$n.log" 2>&1 3>&- &
		pid=$!
		topo_track_pid "$pid" "server-pod$n"
	done
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		ns=$(topo_pod_ns "$n")
		if ! topo_poll 15 _topo_listening "$ns"; then
			topo_err "pod$n server not listening after 15 s; its log:"
			sed 's/^/    /' "$TOPO_DIR/logs/pod$n.log" >&2
			return 1
		fi
	done
}

# topo_wait_ready: bounded check that the client reaches every pod directly (TCP 8080, UDP 53).
topo_wait_ready() {
	local n ip
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		ip=$(topo_pod_ip "$n")
		topo_poll 10 topo_client curl -sf --max-time 1 "http://$ip:8080/" ||
			{ topo_err "client cannot reach pod$n at $ip:8080"; return 1; }
		topo_poll 10 topo_client "$PYTHON" "$TOPO_PODSERVER" udp "$ip" 53 --timeout 1 ||
			{ topo_err "client gets no UDP answer from pod$n at $ip:53"; return 1; }
	done
}

# topo_devices: "NS DEV" of every veth end, one a line (the outside links too, once made).
topo_devices() {
	local n
	echo "$TOPO_CLIENT eth0"
	echo "$TOPO_NODE eth0"
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		echo "$TOPO_NODE pod$n"
		echo "$(topo_pod_ns "$n") eth0"
	done
	topo_outside_devices
}

# topo_outside_devices: "NS DEV" of the outside links' veth ends (none before
# topo_create_outside).
topo_outside_devices() {
	topo_has_outside || return 0
	echo "$TOPO_NODE eth1"
	echo "$TOPO_ROUTER eth1"
	echo "$TOPO_ROUTER eth0"
	echo "$TOPO_OUTSIDE eth0"
}

# _topo_offload_plan MODE [DEVICES]: "NS DEV WANT_TX FEATURES..." for every veth end (or
# for the "NS DEV" lines of DEVICES).
_topo_offload_plan() {
	local ns dev
	while read -r ns dev; do
		[ -n "$dev" ] || continue
		case $1 in
		on) echo "$ns $dev on rx on tx on sg on tso on gso on" ;;
		off) echo "$ns $dev off rx off tx off sg off tso off gso off" ;;
		mixed)
			if [ "$ns" = "$TOPO_NODE" ] && [[ $dev == pod* ]]; then
				echo "$ns $dev off rx on tx off sg on tso on gso on"
			else
				echo "$ns $dev on rx on tx on sg on tso on gso on"
			fi
			;;
		esac
	done <<<"${2-$(topo_devices)}"
}

# topo_txcsum NS DEV: the device's tx-checksumming state (on|off).
topo_txcsum() {
	topo_in "$1" ethtool -k "$2" | awk '$1 == "tx-checksumming:" {print $2}'
}

# topo_offloads on|off|mixed
#   on:    the veth defaults (rx/tx checksum, sg, tso, gso on) on every veth end;
#   off:   rx/tx checksum, sg, tso and gso off on every veth end;
#   mixed: defaults, except tx checksum off on the node's pod-facing veths, so the node must
#          finalize the checksums of what it forwards to the pods.
# ethtool errors are tolerated (a veth whose peer has XDP refuses TSO); the tx checksum state
# of every device is verified afterwards. One nsenter per namespace. The outside links
# (topo_create_outside) are included.
topo_offloads() {
	local rc=0
	_topo_offloads_apply "$1" "$(topo_devices)" || rc=$?
	((rc == 2)) || echo "offloads=$1" >"$TOPO_DIR/offloads"
	return $rc
}

# topo_offloads_outside on|off: the same on the outside links' four veth ends only (node eth1,
# router eth0 and eth1, outside eth0); topo_offloads_current is not changed.
topo_offloads_outside() {
	case $1 in
	on | off) ;;
	*)
		topo_err "topo_offloads_outside: on|off, not '$1'"
		return 2
		;;
	esac
	topo_has_outside || { topo_err "topo_offloads_outside: no outside (topo_create_outside)"; return 1; }
	_topo_offloads_apply "$1" "$(topo_outside_devices)"
}

# _topo_offloads_apply MODE DEVICES: set MODE's features on the "NS DEV" lines of DEVICES.
_topo_offloads_apply() {
	local mode=$1 ns plan out dev want got bad=0
	case $mode in
	on | off | mixed) ;;
	*)
		topo_err "topo_offloads: on|off|mixed, not '$mode'"
		return 2
		;;
	esac
	plan=$(_topo_offload_plan "$mode" "$2")
	for ns in $(awk '{print $1}' <<<"$plan" | sort -u); do # names without spaces
		# In NS: apply each device's features, then print "DEV WANT GOT".
		# shellcheck disable=SC2016
		out=$(awk -v ns="$ns" '$1 == ns {$1 = ""; print}' <<<"$plan" | topo_in "$ns" bash -c '
			while read -r dev want feats; do
				ethtool -K "$dev" $feats >/dev/null 2>&1
				echo "$dev $want $(ethtool -k "$dev" | awk "\$1 == \"tx-checksumming:\" {print \$2}")"
			done') || { topo_err "offloads $mode: ethtool failed in $ns"; bad=1; }
		while read -r dev want got; do
			[ -n "$dev" ] || continue
			if [ "$got" != "$want" ]; then
				topo_err "offloads $mode: ${ns#"$TOPO_ID"-}/$dev tx-checksumming expected $want, got '$got'"
				bad=1
			fi
		done <<<"$out"
	done
	return $bad
}

# topo_offloads_current: the mode last set by topo_offloads (on after topo_create).
topo_offloads_current() { sed -n 's/^offloads=//p' "$TOPO_DIR/offloads" 2>/dev/null; }

# _topo_alive PID: PID exists and is not a zombie (an exited child not yet reaped).
_topo_alive() {
	kill -0 "$1" 2>/dev/null &&
		[ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ]
}

_topo_stop_pids() { # PID...: stop processes this run started: TERM, up to 2 s, then KILL
	local pid alive i
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
	for ((i = 0; i < 40; i++)); do
		alive=
		for pid in "$@"; do _topo_alive "$pid" && alive+=" $pid"; done
		[ -n "$alive" ] || return 0
		sleep 0.05
	done
	# shellcheck disable=SC2086
	kill -KILL $alive 2>/dev/null
	return 0
}

# topo_stop NAME: stop the process tracked as NAME (topo_track_pid) if it still lives in one
# of this run's namespaces, and forget it. Bounded: TERM, up to 2 s, then KILL.
topo_stop() {
	local f=${TOPO_DIR:-/nonexistent}/pids/$1 pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	rm -f "$f"
	case $(ip netns identify "$pid" 2>/dev/null) in
	"$TOPO_ID"-*) _topo_stop_pids "$pid" ;;
	esac
	return 0
}

# topo_teardown: stop this run's processes, delete its namespaces and pin dir, remove its
# temp dir (kept if TOPO_KEEP=1). Idempotent; safe on a half-built topology.
topo_teardown() {
	local f ns pid pids=()
	[ -n "${TOPO_ID:-}" ] || return 0
	if [ -d "${TOPO_DIR:-}/pids" ]; then
		# A tracked pid counts only while it still lives in one of our namespaces (never
		# signal a process that reused the number).
		for f in "$TOPO_DIR"/pids/*; do
			[ -f "$f" ] || continue
			pid=$(cat "$f")
			case $(ip netns identify "$pid" 2>/dev/null) in
			"$TOPO_ID"-*) pids+=("$pid") ;;
			esac
		done
	fi
	# Plus anything else still running inside our namespaces (e.g. a client a test left).
	for ns in $(topo_namespaces); do
		mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
	done
	((${#pids[@]} == 0)) || _topo_stop_pids "${pids[@]}"
	rm -f "${TOPO_DIR:-/nonexistent}"/pids/*
	for ns in $(topo_namespaces); do
		ip netns del "$ns" 2>/dev/null || topo_log "could not delete netns $ns"
	done
	# Pinned tcx/XDP links and maps go with their pins (the devices died with the namespaces).
	if [ -n "${TOPO_PIN_DIR:-}" ] && [ -e "$TOPO_PIN_DIR" ]; then
		rm -rf -- "$TOPO_PIN_DIR" || topo_log "could not remove $TOPO_PIN_DIR"
	fi
	if [ -n "${TOPO_DIR:-}" ] && [ -d "$TOPO_DIR" ] && [ "${TOPO_KEEP:-0}" != 1 ]; then
		rm -rf -- "$TOPO_DIR"
	fi
}

# topo_trap: run topo_teardown on EXIT, INT and TERM (for scripts such as tools/demo.sh).
topo_trap() {
	trap 'topo_teardown' EXIT
	trap 'topo_teardown; trap - EXIT; exit 130' INT
	trap 'topo_teardown; trap - EXIT; exit 143' TERM
}

# topo_list: every run's namespaces and pin dirs on this machine, with the owner's state.
# Only names of the exact form sb<pid>-<6 hex digits> are runs of this harness.
topo_list() {
	local id owner state d
	{
		ip netns list 2>/dev/null | awk '{print $1}' |
			sed -En 's/^(sb[0-9]+-[0-9a-f]{6})-(node|client|router|outside|pod[0-9]+)$/\1/p'
		for d in /sys/fs/bpf/svcbpf-sb*; do
			[ -e "$d" ] && echo "${d#/sys/fs/bpf/svcbpf-}"
		done | grep -E '^sb[0-9]+-[0-9a-f]{6}$'
	} | sort -u | while read -r id; do
		owner=${id#sb}
		owner=${owner%%-*}
		state=dead
		_topo_alive "$owner" && state=alive
		echo "$id owner=$owner $state"
	done
}

# topo_reap: tear down runs whose owner process no longer exists.
topo_reap() {
	local id owner state env
	topo_list | while read -r id owner state; do
		[ "$state" = dead ] || continue
		topo_log "reaping stale run $id ($owner)"
		(
			TOPO_ID=$id TOPO_PIN_DIR=/sys/fs/bpf/svcbpf-$id TOPO_DIR=
			for env in "${TMPDIR:-/tmp}"/svcbpf-"$id".*/run.env; do
				[ -f "$env" ] && TOPO_DIR=$(dirname "$env")
			done
			topo_teardown
		)
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case ${1:-} in
	list) topo_list ;;
	reap) topo_reap ;;
	*)
		echo "usage: tools/topo.sh list|reap   (or: source tools/topo.sh)" >&2
		exit 2
		;;
	esac
fi
