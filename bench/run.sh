#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/run.sh - `make bench`: svcbpf against the floor, iptables and nftables, in one run.
#
# Builds its own namespaces (tools/topo.sh: a node, a client, one pod with ten addresses), then
# for each size N (services, each with 10 backends) measures five columns, one dataplane
# active at a time in the node namespace:
#   floor       the client talks to the pod's address directly, nothing translates
#   iptables    kube-proxy's iptables-mode layout (nat: KUBE-SERVICES -> KUBE-SVC -> KUBE-SEP)
#   nftables    kube-proxy's nftables-mode layout (service-ips verdict map, numgen vmaps)
#   svcbpf_tc   svcbpf load eth0
#   svcbpf_xdp  svcbpf load eth0 --xdp
# Each column also carries the NodePort path (np_* figures): the client to the node's address
# 10.244.0.1 on the measured service's nodePort, masqueraded toward the pod (svcbpf then also
# loaded on the pod's veth pod1; the floor's np_* figures are its ClusterIP-floor repeats).
# and prints one table (stdout), writing the same figures to $BENCH_OUT/results.json and a
# chart to $BENCH_OUT/results.png. bench/README.md explains the figures and how to read them.
#
# Environment:
#   BENCH_SCALE   smoke | default | full     (sizes, repeats and durations; see below)
#   BENCH_SIZES   override the sizes, e.g. "1 100 1000"
#   BENCH_OUT     where results.{json,png,txt} go (default: bench/)
#   SVCBPF, PKTBENCH, CONNBENCH   the binaries (default build/svcbpf, build/pktbench,
#                 build/connbench; connbench is compiled into the run's temp dir if missing)
#   TOPO_KEEP=1   keep the run's temp dir (raw measurements, logs, generated rule sets)
#
# Safety: every packet stays inside the namespaces this run creates; iptables and nft rules are
# loaded inside the node namespace only; every client and command is bounded by timeout(1);
# teardown (trap on EXIT, INT, TERM) removes the namespaces, pins and temp dir by name.
set -uo pipefail

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_HERE/.." && pwd)

if [ "$(id -u)" != 0 ]; then
	echo "bench: must run as root (it creates network namespaces and loads BPF programs and netfilter rules inside them): sudo make bench" >&2
	exit 1
fi

# ----------------------------------------------------------------------------- settings

SCALE=${BENCH_SCALE:-default}
case $SCALE in
smoke)
	SIZES=(1 10)
	REPS=1            # repeats of every figure
	CONN_SECS=1       # connbench window per repeat (16 in flight)
	LAT_SECS=0.5      # connbench window per repeat (1 in flight)
	BULK_SECS=1       # iperf3 -t per repeat
	CP_BUDGET=10      # stop repeating a control-plane figure once its repeats took this long
	PKT_RUNS=2000      # packets per pktbench case (one BPF_PROG_TEST_RUN each)
	;;
default)
	SIZES=(1 1000 10000)
	REPS=3
	CONN_SECS=2
	LAT_SECS=1
	BULK_SECS=2
	CP_BUDGET=20
	PKT_RUNS=20000
	;;
full)
	SIZES=(1 1000 10000)
	REPS=7
	CONN_SECS=5
	LAT_SECS=2
	BULK_SECS=5
	CP_BUDGET=600
	PKT_RUNS=100000
	;;
*)
	echo "bench: BENCH_SCALE must be smoke, default or full, not '$SCALE'" >&2
	exit 2
	;;
esac
if [ -n "${BENCH_SIZES:-}" ]; then
	read -r -a SIZES <<<"$BENCH_SIZES"
fi
for n in "${SIZES[@]}"; do
	if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 50000)); then
		echo "bench: sizes are 1..50000, not '$n'" >&2
		exit 2
	fi
done

OUT=${BENCH_OUT:-$BENCH_HERE}
BUILD=$REPO/build
: "${SVCBPF:=$BUILD/svcbpf}"
: "${PKTBENCH:=$BUILD/pktbench}"
: "${CONNBENCH:=$BUILD/connbench}"
export SVCBPF

VIP=10.96.0.50          # the measured service (gen.py), in the middle of N services
VIP_PORT=80
POD_IP=10.244.1.10      # the floor's target: the pod's first address (the same nginx)
POD_PORT=8080
NODE_IP=10.244.0.1      # the node's eth0: the NodePort figures' destination (gen.py's nodePort)
POD_IFACE=pod1          # the node's end of the pod's veth (tools/topo.sh): NodePort replies
CLIENT_SRC_BASE=10.244.0.50 # the client's extra source addresses .50 - .249 (connbench)
CLIENT_SRC_COUNT=200
SB_MAX_BACKENDS=131072  # 10 000 services x 10 backends do not fit the default 65536
CP_TIMEOUT=1500         # bound of one control-plane command (nft -f of 10 000 services is slow)
SERVER_SECONDS=7200     # lifetime bound of the pod's servers

# ----------------------------------------------------------------------------- helpers

# shellcheck source=../tools/topo.sh
source "$REPO/tools/topo.sh"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

need_tool() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || die "'$t' not found: run tools/deps.sh (make bench installs the bench packages)"
	done
}

# num X: X if it is a plain decimal number, else null (JSON).
num() {
	if [[ ${1:-} =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then echo "$1"; else echo null; fi
}

# rec SIZE COLUMN FIGURE VALUE: one raw measurement (a repeat) for report.py.
rec() {
	printf '{"size": %s, "column": "%s", "figure": "%s", "value": %s}\n' \
		"$1" "$2" "$3" "$(num "${4:-}")" >>"$RAW"
}

# note SIZE COLUMN TEXT: a remark that goes into results.json and under the table.
note() {
	jq -cn --argjson size "$1" --arg column "$2" --arg text "$3" \
		'{size: $size, column: $column, note: $text}' >>"$NOTES"
	log "note [$1 $2]: $3"
}

# kmem: the kernel's unreclaimable slab + vmalloc + percpu memory, bytes (/proc/meminfo).
# Global, so only large deltas mean something; used for the rules memory of iptables and
# nftables, which have no per-object accounting to read.
kmem() {
	awk '/^(SUnreclaim|VmallocUsed|Percpu):/ {s += $2} END {printf "%d\n", s * 1024}' /proc/meminfo
}

# run_bg FILE CMD...: run CMD with stdout to FILE, in the background, and wait for it: a signal
# (Ctrl-C, kill) interrupts the wait at once and the trap tears down, instead of waiting for
# a long command to end as bash does for a foreground one.
run_bg() {
	local f=$1
	shift
	"$@" >"$f" &
	wait $!
}

# node_timed CMD...: run CMD in the node namespace; sets T_RC (exit code) and T_SECS (wall
# time, or null). The clock runs in a shell inside the namespace around fork+exec of CMD (the
# nsenter and timeout wrappers are outside it). CMD's stderr goes to logs/last-cmd.err.
node_timed() {
	local f=$TOPO_DIR/logs/timed.out s e
	T_RC=124
	T_SECS=null
	: >"$f"
	# shellcheck disable=SC2016
	TOPO_TIMEOUT=$CP_TIMEOUT run_bg "$f" topo_node bash -c '
		err=$1; shift
		s=$EPOCHREALTIME; "$@" >/dev/null 2>"$err"; rc=$?; e=$EPOCHREALTIME
		echo "$rc $s $e"' _ "$TOPO_DIR/logs/last-cmd.err" "$@"
	read -r T_RC s e <"$f"
	if [ -z "${e:-}" ]; then
		T_RC=124
		return
	fi
	T_SECS=$(awk -v s="$s" -v e="$e" 'BEGIN {printf "%.6f", e - s}')
}

last_err() { head -c 400 "$TOPO_DIR/logs/last-cmd.err" 2>/dev/null | tr '\n' ' '; }

sb() { topo_svcbpf "$@"; }

# ----------------------------------------------------------------------------- topology

# The pod runs nginx (port 8080) for the connection figures, and iperf3 -s on the same port
# for the bulk figure: the service's backends are the pod's ten addresses, port 8080, so the
# same service carries both without an extra service entry.
POD_NS=
SERVER=none

server_listening() {
	topo_in "$POD_NS" ss -Hltn "sport = :$POD_PORT" | grep -q LISTEN
}

server_stop() {
	local i pid
	pid=$(cat "$TOPO_DIR/pids/pod-server" 2>/dev/null)
	topo_stop pod-server
	[ -z "$pid" ] || wait "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		server_listening || break
		sleep 0.05
	done
	SERVER=none
}

# server_use nginx|iperf3: make that server the one listening on the pod's port 8080.
server_use() {
	[ "$SERVER" = "$1" ] && return 0
	server_stop
	case $1 in
	nginx)
		nsenter --net="/run/netns/$POD_NS" -- timeout -k 2 "$SERVER_SECONDS" \
			nginx -e "$TOPO_DIR/logs/nginx-error.log" -p "$TOPO_DIR" -c "$TOPO_DIR/nginx.conf" \
			</dev/null >>"$TOPO_DIR/logs/nginx.log" 2>&1 3>&- &
		;;
	iperf3)
		nsenter --net="/run/netns/$POD_NS" -- timeout -k 2 "$SERVER_SECONDS" \
			iperf3 -s -p "$POD_PORT" </dev/null >>"$TOPO_DIR/logs/iperf3.log" 2>&1 3>&- &
		;;
	esac
	topo_track_pid $! pod-server
	topo_poll 10 server_listening || die "$1 does not listen on the pod's port $POD_PORT (see $TOPO_DIR/logs)"
	SERVER=$1
}

bench_topology() {
	local j
	topo_create 1 || die "cannot build the namespaces"
	POD_NS=$(topo_pod_ns 1)
	# The pod's ten addresses: the measured service's ten backends (one nginx serves them all,
	# so every column talks to the same server process).
	for ((j = 11; j <= 19; j++)); do
		ip -n "$POD_NS" addr add "10.244.1.$j/24" dev eth0 || die "pod address 10.244.1.$j"
	done
	# The client's source addresses for connbench (see its header: no 4-tuple is reused).
	for ((j = 0; j < CLIENT_SRC_COUNT; j++)); do
		ip -n "$TOPO_CLIENT" addr add "10.244.0.$((50 + j))/24" dev eth0 || die "client address"
	done
	printf '1024 65535\n' | topo_client tee /proc/sys/net/ipv4/ip_local_port_range >/dev/null
	mkdir -p "$TOPO_DIR/nginx-tmp"
	sed "s|@DIR@|$TOPO_DIR|g" "$BENCH_HERE/nginx.conf" >"$TOPO_DIR/nginx.conf"
	server_use nginx
	topo_poll 10 topo_client curl -sf --max-time 1 "http://$POD_IP:$POD_PORT/" ||
		die "the client cannot reach nginx at $POD_IP:$POD_PORT"
}

# ----------------------------------------------------------------------------- traffic

SRC_TURN=0

# conntrack_flush: empty the node's netfilter conntrack table (if netfilter tracks at all),
# so every repeat starts alike.
conntrack_flush() { topo_node conntrack -F >/dev/null 2>&1 || true; }

# service_answers DST PORT: one HTTP request answered (bounded).
service_answers() {
	topo_poll 5 topo_client curl -sf --max-time 1 "http://$1:$2/"
}

# measure_conn SIZE COLUMN DST PORT: new connections per second (16 in flight) and latency,
# then latency with 1 in flight.
measure_conn() {
	local size=$1 col=$2 dst=$3 port=$4 r
	server_use nginx
	if ! service_answers "$dst" "$port"; then
		note "$size" "$col" "no HTTP answer through $dst:$port: connection figures missing"
		return 1
	fi
	for ((r = 1; r <= REPS; r++)); do
		connbench_rec "$size" "$col" conn $((CONN_SECS + 20)) --dst "$dst" --port "$port" \
			--seconds "$CONN_SECS" --warmup 0.5 --conns 16 --threads 2
	done
	for ((r = 1; r <= REPS; r++)); do
		connbench_rec "$size" "$col" lat1 20 --dst "$dst" --port "$port" \
			--seconds "$LAT_SECS" --warmup 0.2 --conns 1 --threads 1
	done
}

# connbench_rec SIZE COLUMN PREFIX TIMEOUT ARGS...: one connbench run from the client (fresh
# conntrack, the next turn of source addresses); records PREFIX_{rate,p50_us,p99_us,errors,count}.
connbench_rec() {
	local size=$1 col=$2 prefix=$3 limit=$4 out f=$TOPO_DIR/logs/client.out
	shift 4
	conntrack_flush
	SRC_TURN=$((SRC_TURN + 1))
	TOPO_TIMEOUT=$limit run_bg "$f" topo_client "$CONNBENCH" "$@" \
		--src-base "$CLIENT_SRC_BASE" --src-count "$CLIENT_SRC_COUNT" \
		--src-start $((SRC_TURN * 37)) 2>>"$TOPO_DIR/logs/connbench.err"
	out=$(cat "$f")
	echo "$size $col $prefix $out" >>"$TOPO_DIR/logs/connbench.log"
	rec "$size" "$col" "${prefix}_rate" "$(jq -r '.rate // empty' <<<"$out" 2>/dev/null)"
	rec "$size" "$col" "${prefix}_p50_us" "$(jq -r '.lat_us.p50 // empty' <<<"$out" 2>/dev/null)"
	rec "$size" "$col" "${prefix}_p99_us" "$(jq -r '.lat_us.p99 // empty' <<<"$out" 2>/dev/null)"
	rec "$size" "$col" "${prefix}_errors" "$(jq -r '.errors // empty' <<<"$out" 2>/dev/null)"
	rec "$size" "$col" "${prefix}_count" "$(jq -r '.conns // empty' <<<"$out" 2>/dev/null)"
}

# measure_bulk SIZE COLUMN DST PORT: iperf3 throughput, client -> pod.
measure_bulk() {
	local size=$1 col=$2 dst=$3 port=$4 r out bps f=$TOPO_DIR/logs/client.out
	server_use iperf3
	for ((r = 1; r <= REPS; r++)); do
		conntrack_flush
		SRC_TURN=$((SRC_TURN + 1))
		TOPO_TIMEOUT=$((BULK_SECS + 20)) run_bg "$f" topo_client iperf3 -c "$dst" -p "$port" \
			-t "$BULK_SECS" -J -B "10.244.0.$((50 + SRC_TURN % CLIENT_SRC_COUNT))" \
			2>>"$TOPO_DIR/logs/iperf3-client.err"
		out=$(cat "$f")
		bps=$(jq -r '.end.sum_received.bits_per_second // empty' <<<"$out" 2>/dev/null)
		if [ -z "$bps" ]; then
			note "$size" "$col" "iperf3 to $dst:$port gave no result: $(jq -r '.error // empty' <<<"$out" 2>/dev/null | head -c 200)"
		fi
		rec "$size" "$col" "${BULK_FIG:-bulk_gbps}" "$(awk -v b="${bps:-x}" 'BEGIN {if (b == "x") print ""; else printf "%.3f", b / 1e9}')"
	done
	server_use nginx
}

measure_traffic() { # SIZE COLUMN DST PORT
	measure_conn "$@" || true
	measure_bulk "$@"
}

# measure_np SIZE COLUMN: the NodePort path (the client to the node's address on the measured
# service's nodePort; externalTrafficPolicy Cluster, so the client is masqueraded to the node
# toward the pod): np_conn_* (16 in flight) and np_bulk_gbps.
measure_np() {
	local size=$1 col=$2 r
	server_use nginx
	if ! service_answers "$NODE_IP" "$NP_PORT"; then
		note "$size" "$col" "no HTTP answer through NodePort $NODE_IP:$NP_PORT: NodePort figures missing"
		return 1
	fi
	for ((r = 1; r <= REPS; r++)); do
		connbench_rec "$size" "$col" np_conn $((CONN_SECS + 20)) --dst "$NODE_IP" \
			--port "$NP_PORT" --seconds "$CONN_SECS" --warmup 0.5 --conns 16 --threads 2
	done
	BULK_FIG=np_bulk_gbps measure_bulk "$size" "$col" "$NODE_IP" "$NP_PORT"
}

# np_from_floor SIZE: the floor of the NodePort figures is the pod directly, the same path as
# the ClusterIP floor: its conn_* and bulk_gbps repeats, recorded again as np_*.
np_from_floor() {
	local tmp=$TOPO_DIR/raw.np
	jq -c --argjson size "$1" 'select(.size == $size and .column == "floor" and
		(.figure | test("^(conn_(rate|p50_us|p99_us|errors|count)|bulk_gbps)$"))) |
		.figure = "np_" + .figure' "$RAW" >"$tmp" && cat "$tmp" >>"$RAW"
	rm -f "$tmp"
}

# ----------------------------------------------------------------------------- per packet

# pkt_bench SIZE: build/pktbench (BPF_PROG_TEST_RUN of the built programs, private maps); its
# JSON goes to raw/ and report.py maps its keys to the per-packet rows.
pkt_bench() {
	local size=$1 out
	if [ ! -x "$PKTBENCH" ]; then
		note "$size" all "no $PKTBENCH (make build/pktbench): per-packet figures missing"
		return
	fi
	TOPO_TIMEOUT=600 run_bg "$TOPO_DIR/logs/pktbench.out" topo_node "$PKTBENCH" --services "$size" \
		--backends 10 --runs "$PKT_RUNS" 2>"$TOPO_DIR/logs/pktbench-$size.err"
	out=$(cat "$TOPO_DIR/logs/pktbench.out")
	if jq -e . <<<"$out" >/dev/null 2>&1; then
		jq -c --argjson size "$size" '{size: $size, pktbench: .}' <<<"$out" >>"$PKT"
	else
		note "$size" all "pktbench failed: $(head -c 300 "$TOPO_DIR/logs/pktbench-$size.err" | tr '\n' ' ')"
	fi
}

# ----------------------------------------------------------------------------- columns

# cp_more R ELAPSED: repeat a control-plane figure again? (R done so far, ELAPSED seconds)
cp_more() {
	((${1} < REPS)) && awk -v e="$2" -v b="$CP_BUDGET" 'BEGIN {exit !(e < b)}'
}

add_secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.6f", a + (b == "null" ? 0 : b)}'; }

nf_flush() {
	topo_node nft flush ruleset >/dev/null 2>&1
	if [ -n "$(topo_node nft list ruleset 2>/dev/null)" ]; then
		die "the node's netfilter ruleset is not empty after 'nft flush ruleset'"
	fi
	conntrack_flush
}

# settle SIZE: let deferred (RCU) frees of a previous rule set finish before a memory baseline.
settle() { (($1 >= 1000)) && sleep 1; return 0; }

col_floor() {
	local size=$1 r
	# The control plane's floor: starting a process that does nothing, timed like every
	# control-plane command (fork+exec is not free on this kind of machine).
	for ((r = 1; r <= REPS + 2; r++)); do
		node_timed /bin/true
		rec "$size" floor exec_s "$T_SECS"
	done
	log "[$size] floor: client -> $POD_IP:$POD_PORT directly"
	measure_traffic "$size" floor "$POD_IP" "$POD_PORT"
	np_from_floor "$size"
}

# program_rules SIZE COL WHAT CMD...: load a whole rule set from empty with CMD, timed and
# repeated within the control-plane budget; records program_s and mem_kernel_bytes. Fails
# (after a note) when the load does.
program_rules() {
	local size=$1 col=$2 what=$3 r=0 el=0 rc t m0 m1
	shift 3
	while :; do
		nf_flush
		settle "$size"
		m0=$(kmem)
		node_timed "$@"
		rc=$T_RC t=$T_SECS
		m1=$(kmem)
		[ "$rc" = 0 ] || { note "$size" "$col" "$what failed (exit $rc): $(last_err)"; return 1; }
		r=$((r + 1))
		el=$(add_secs "$el" "$t")
		rec "$size" "$col" program_s "$t"
		rec "$size" "$col" mem_kernel_bytes $((m1 - m0))
		cp_more "$r" "$el" || break
	done
}

col_iptables() {
	local size=$1 g=$2 k rc t out
	log "[$size] iptables ($IPT_RESTORE): programming"
	program_rules "$size" iptables iptables-restore "$IPT_RESTORE" "$g/ipt-full.rules" || return
	out=$(topo_node "${IPT_RESTORE%-restore}" -t nat -S KUBE-SERVICES | grep -c '^-A KUBE-SERVICES')
	rec "$size" iptables kube_services_rules "$out"
	log "[$size] iptables: one backend added and removed, $REPS times (kube-proxy partial sync)"
	for ((k = 1; k <= REPS; k++)); do
		for op in add del; do
			node_timed "$IPT_RESTORE" --noflush "$g/ipt-$op-$k.rules"
			rc=$T_RC t=$T_SECS
			[ "$rc" = 0 ] || note "$size" iptables "partial restore ipt-$op-$k failed: $(last_err)"
			rec "$size" iptables update_s "$t"
		done
		for op in add del; do
			node_timed "$IPT_RESTORE" --noflush "$g/ipt-min-$op-$k.rules"
			rc=$T_RC t=$T_SECS
			[ "$rc" = 0 ] || note "$size" iptables "restore ipt-min-$op-$k failed: $(last_err)"
			rec "$size" iptables update_alt_s "$t"
		done
	done
	log "[$size] iptables: traffic"
	measure_traffic "$size" iptables "$VIP" "$VIP_PORT"
	log "[$size] iptables: NodePort traffic ($NODE_IP:$NP_PORT)"
	measure_np "$size" iptables || true
	nf_flush
}

col_nftables() {
	local size=$1 g=$2 k rc t
	log "[$size] nftables: programming (one nft -f transaction)"
	program_rules "$size" nftables "nft -f" nft -f "$g/nft-full.nft" || return
	log "[$size] nftables: one backend added and removed, $REPS times (one transaction each)"
	for ((k = 1; k <= REPS; k++)); do
		for op in add del; do
			node_timed nft -f "$g/nft-$op-$k.nft"
			rc=$T_RC t=$T_SECS
			[ "$rc" = 0 ] || note "$size" nftables "nft -f nft-$op-$k failed: $(last_err)"
			rec "$size" nftables update_s "$t"
		done
	done
	log "[$size] nftables: traffic"
	measure_traffic "$size" nftables "$VIP" "$VIP_PORT"
	log "[$size] nftables: NodePort traffic ($NODE_IP:$NP_PORT)"
	measure_np "$size" nftables || true
	nf_flush
}

# sb_status_mem: "TOTAL SVC BE MAGLEV" memlock bytes of svcbpf's maps (status -o json);
# SVC and BE include their per-CPU traffic counters (svcbpf_sst_v1, svcbpf_bst_v1, when the
# binary has them); MAGLEV is the Maglev map and the per-service tables it holds.
sb_status_mem() {
	sb status -o json 2>/dev/null | jq -r '
		def m(n): ([.maps[] | select(.name == n) | .memlock_bytes] | add // 0);
		"\(.map_memory_bytes) \(m("svcbpf_svc_v2") + m("svcbpf_sst_v1")) \(m("svcbpf_be_v1") + m("svcbpf_bst_v1")) \(m("svcbpf_mag_v1") + m("(Maglev tables)"))"'
}

sb_counter() { # NAME: packets of a svcbpf counter
	sb status -o json 2>/dev/null | jq -r --arg c "$1" '.counters[$c].packets // empty'
}

sb_reset() {
	sb unload >/dev/null 2>&1 || true
	rm -rf "${TOPO_STATE_DIR:?}"/* 2>/dev/null
	[ ! -e "$TOPO_PIN_DIR" ] || rm -rf -- "$TOPO_PIN_DIR"
}

# sb_program FILE: program the services of FILE (svc add lines): 'svcbpf batch' when the
# binary has it, else one CLI call per line (the fallback, much slower); prints "RC SECONDS".
sb_program() {
	if [ "$SB_HAS_BATCH" = 1 ]; then
		node_timed "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" --state-dir "$TOPO_STATE_DIR" batch "$1"
	else
		# shellcheck disable=SC2016
		node_timed bash -c 'sb=$1; f=$2; shift 2
			grep -v "^#" "$f" | while read -r -a w; do
				[ ${#w[@]} -gt 0 ] || continue
				"$sb" "$@" "${w[@]}" >/dev/null || exit 1
			done' _ "$SVCBPF" "$1" --pin-dir "$TOPO_PIN_DIR" --state-dir "$TOPO_STATE_DIR"
	fi
}

col_svcbpf() {
	local size=$1 g=$2 r=0 k el=0 rc t m0 m1 s0 s1 op args xdp new0 new1 trk0 trk1 def0 def1
	sb_reset
	if ! sb load eth0 --max-backends "$SB_MAX_BACKENDS" >"$TOPO_DIR/logs/last-cmd.err" 2>&1; then
		note "$size" svcbpf_tc "svcbpf load eth0 failed: $(last_err)"
		return
	fi
	log "[$size] svcbpf: programming ($([ "$SB_HAS_BATCH" = 1 ] && echo "svcbpf batch" || echo "CLI loop: no 'svcbpf batch' in this binary"))"
	[ "$SB_HAS_BATCH" = 1 ] || note "$size" svcbpf_tc "svcbpf has no 'batch': programmed with one CLI call per service (not a controller's path)"
	while :; do
		if ((r > 0)); then
			sb_program "$g/sb-clear.batch"
			rc=$T_RC t=$T_SECS
			rec "$size" svcbpf_tc clear_s "$t"
			settle "$size"
		fi
		read -r -a s0 <<<"$(sb_status_mem)"
		m0=$(kmem)
		sb_program "$g/sb-full.batch"
		rc=$T_RC t=$T_SECS
		m1=$(kmem)
		read -r -a s1 <<<"$(sb_status_mem)"
		[ "$rc" = 0 ] || { note "$size" svcbpf_tc "programming failed (exit $rc): $(last_err)"; return; }
		r=$((r + 1))
		el=$(add_secs "$el" "$t")
		rec "$size" svcbpf_tc program_s "$t"
		rec "$size" svcbpf_tc mem_kernel_bytes $((m1 - m0))
		rec "$size" svcbpf_tc mem_map_bytes $((s1[0] - s0[0]))
		rec "$size" svcbpf_tc mem_svc_map_bytes $((s1[1] - s0[1]))
		rec "$size" svcbpf_tc mem_be_map_bytes $((s1[2] - s0[2]))
		rec "$size" svcbpf_tc mem_maglev_map_bytes $((s1[3] - s0[3]))
		rec "$size" svcbpf_tc mem_map_total_bytes "${s1[0]}"
		[ "$SB_HAS_BATCH" = 1 ] || break
		cp_more "$r" "$el" || break
	done
	log "[$size] svcbpf: one backend added and removed, $REPS times (CLI, then batch)"
	for ((k = 1; k <= REPS; k++)); do
		for op in add del; do
			mapfile -t args <"$g/sb-$op-$k.args"
			node_timed "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
				--state-dir "$TOPO_STATE_DIR" "${args[@]}"
			rc=$T_RC t=$T_SECS
			[ "$rc" = 0 ] || note "$size" svcbpf_tc "svcbpf ${args[*]} failed: $(last_err)"
			rec "$size" svcbpf_tc update_s "$t"
		done
	done
	if [ "$SB_HAS_BATCH" = 1 ]; then
		for ((k = 1; k <= REPS; k++)); do
			for op in add del; do
				node_timed "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
					--state-dir "$TOPO_STATE_DIR" batch "$g/sb-$op-$k.batch"
				rc=$T_RC t=$T_SECS
				[ "$rc" = 0 ] || note "$size" svcbpf_tc "svcbpf batch sb-$op-$k failed: $(last_err)"
				rec "$size" svcbpf_tc update_alt_s "$t"
			done
		done
	fi
	for mode in tc xdp; do
		if [ "$mode" = xdp ]; then
			# Upgrade in place: the maps, services and conntrack stay.
			if ! sb load eth0 --xdp --max-backends "$SB_MAX_BACKENDS" >"$TOPO_DIR/logs/last-cmd.err" 2>&1; then
				note "$size" svcbpf_xdp "svcbpf load eth0 --xdp failed: $(last_err)"
				break
			fi
		fi
		log "[$size] svcbpf $mode: traffic"
		new0=$(sb_counter dnat_new_flow)
		trk0=$(sb_counter dnat_tracked)
		def0=$(sb_counter xdp_deferred_to_tc)
		measure_traffic "$size" "svcbpf_$mode" "$VIP" "$VIP_PORT"
		new1=$(sb_counter dnat_new_flow)
		trk1=$(sb_counter dnat_tracked)
		def1=$(sb_counter xdp_deferred_to_tc)
		rec "$size" "svcbpf_$mode" sb_new_flows $((${new1:-0} - ${new0:-0}))
		rec "$size" "svcbpf_$mode" sb_tracked $((${trk1:-0} - ${trk0:-0}))
		rec "$size" "svcbpf_$mode" sb_xdp_deferred $((${def1:-0} - ${def0:-0}))
		# NodePort: svcbpf on the pod's veth too (the masqueraded replies come in there),
		# for this measurement only, so the ClusterIP figures keep their setup.
		xdp=()
		[ "$mode" = xdp ] && xdp=(--xdp)
		if ! sb load eth0 "$POD_IFACE" "${xdp[@]}" \
			--max-backends "$SB_MAX_BACKENDS" >"$TOPO_DIR/logs/last-cmd.err" 2>&1; then
			note "$size" "svcbpf_$mode" "svcbpf load eth0 $POD_IFACE failed: $(last_err)"
			continue
		fi
		log "[$size] svcbpf $mode: NodePort traffic ($NODE_IP:$NP_PORT, loaded on eth0 and $POD_IFACE)"
		measure_np "$size" "svcbpf_$mode" || true
		if ! sb unload "$POD_IFACE" >"$TOPO_DIR/logs/last-cmd.err" 2>&1; then
			note "$size" "svcbpf_$mode" "svcbpf unload $POD_IFACE failed: $(last_err)"
		fi
	done
	sb_reset
	# Native XDP on the node's eth0 turned TSO off on its peer (the client's eth0): back on.
	topo_offloads on >/dev/null 2>&1 || true
}

# ----------------------------------------------------------------------------- run

machine_info() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	jq -n \
		--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--arg scale "$SCALE" \
		--argjson sizes "$(printf '%s\n' "${SIZES[@]}" | jq -s .)" \
		--argjson reps "$REPS" \
		--argjson conn_secs "$CONN_SECS" --argjson lat_secs "$LAT_SECS" \
		--argjson bulk_secs "$BULK_SECS" --argjson cp_budget "$CP_BUDGET" \
		--arg cpu "${cpu:-unknown}" --argjson cpus "$(nproc)" \
		--argjson mem_kib "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
		--arg kernel "$(uname -r)" --arg arch "$(uname -m)" \
		--arg os "$(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown}")" \
		--arg iptables "$("${IPT_RESTORE%-restore}" -V 2>/dev/null | head -1)" \
		--arg iptables_default "$(iptables -V 2>/dev/null | head -1)" \
		--arg nft "$(nft -v 2>/dev/null | head -1)" \
		--arg nginx "$(nginx -v 2>&1 | head -1)" \
		--arg iperf3 "$(iperf3 -v 2>/dev/null | head -1)" \
		--arg svcbpf "$("$SVCBPF" version 2>/dev/null | head -1)" \
		--arg git "$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)" \
		--arg state_fs "$(stat -f -c %T "$TOPO_STATE_DIR" 2>/dev/null)" \
		--argjson batch "$SB_HAS_BATCH" \
		'{date: $date, scale: $scale, sizes: $sizes, repeats: $reps,
		  seconds: {conn: $conn_secs, lat1: $lat_secs, bulk: $bulk_secs, control_plane_budget: $cp_budget},
		  machine: {cpu: $cpu, cpus: $cpus, mem_kib: $mem_kib, kernel: $kernel, arch: $arch, os: $os},
		  tools: {iptables: $iptables, iptables_default: $iptables_default, nft: $nft,
		          nginx: $nginx, iperf3: $iperf3, svcbpf: $svcbpf, svcbpf_git: $git,
		          svcbpf_batch: ($batch == 1)},
		  svcbpf_state_fs: $state_fs}'
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	topo_teardown
	exit "$rc"
}

main() {
	local size g t0 t1 cols
	need_tool nsenter ip jq awk curl nginx iperf3 nft iptables-nft-restore conntrack gnuplot
	[ -x "$SVCBPF" ] || die "no $SVCBPF: run 'make' first"
	IPT_RESTORE=iptables-nft-restore
	"$SVCBPF" batch --help >/dev/null 2>&1 && SB_HAS_BATCH=1 || SB_HAS_BATCH=0

	mkdir -p "$OUT" || die "cannot create $OUT"
	topo_reap
	topo_init || die "topo_init failed"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	RAW=$TOPO_DIR/raw.jsonl
	NOTES=$TOPO_DIR/notes.jsonl
	PKT=$TOPO_DIR/pkt.jsonl
	: >"$RAW"
	: >"$NOTES"
	: >"$PKT"
	if [ ! -x "$CONNBENCH" ] || [ "$BENCH_HERE/connbench.c" -nt "$CONNBENCH" ]; then
		CONNBENCH=$TOPO_DIR/connbench
		"${CC:-gcc}" -O2 -Wall -pthread -o "$CONNBENCH" "$BENCH_HERE/connbench.c" ||
			die "cannot compile bench/connbench.c"
	fi

	t0=$SECONDS
	log "scale $SCALE: sizes ${SIZES[*]}, $REPS repeat(s); run id $TOPO_ID"
	bench_topology
	machine_info >"$TOPO_DIR/meta.json"

	for size in "${SIZES[@]}"; do
		g=$TOPO_DIR/gen-$size
		log "[$size] generating the rule sets and batch files ($size services x 10 backends)"
		TOPO_TIMEOUT=300 "$PYTHON" "$BENCH_HERE/gen.py" --services "$size" --updates "$REPS" \
			--out "$g" || die "gen.py failed"
		jq -c --argjson size "$size" '{size: $size, gen: .}' "$g/meta.json" >>"$PKT"
		NP_PORT=$(jq -r '.measured_nodeport' "$g/meta.json")
		pkt_bench "$size"
		col_floor "$size"
		col_iptables "$size" "$g"
		col_nftables "$size" "$g"
		col_svcbpf "$size" "$g"
		rm -rf "$g"
		log "[$size] done after $((SECONDS - t0)) s"
	done
	t1=$SECONDS

	# The raw repeats, kept so the table can be rebuilt (bench/report.py) without a rerun.
	rm -rf "$OUT/results.raw"
	mkdir -p "$OUT/results.raw"
	cp "$TOPO_DIR/meta.json" "$RAW" "$NOTES" "$PKT" "$OUT/results.raw/"
	echo $((t1 - t0)) >"$OUT/results.raw/elapsed"
	"$PYTHON" "$BENCH_HERE/report.py" --meta "$TOPO_DIR/meta.json" --raw "$RAW" \
		--notes "$NOTES" --extra "$PKT" --elapsed $((t1 - t0)) --out "$OUT" ||
		die "report.py failed (raw data: $OUT/results.raw)"
	cols=$OUT/results.gp
	if [ -f "$cols" ]; then
		(cd "$OUT" && TOPO_TIMEOUT=60 timeout 60 gnuplot results.gp) ||
			log "gnuplot failed: no chart"
		rm -f "$cols" "$OUT"/results-*.dat
	fi
	cat "$OUT/results.txt"
	log "wrote $OUT/results.json, $OUT/results.txt$([ -f "$OUT/results.png" ] && echo ", $OUT/results.png") in $((SECONDS - t0)) s"
}

main "$@"
