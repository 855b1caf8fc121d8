#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# Conntrack under pressure ('svcbpf load eth0 --ct-size N', tc): a table far smaller than the
# flows through it, and a flood of SYNs from random sources next to established connections.
#
# The conntrack map is a BPF LRU hash: a full table evicts, it never refuses a flow. A flow
# whose entries were evicted is re-created by its next packet, and Maglev picks the same
# backend again as long as the backend set did not change: the hard invariant here is that no
# request fails and no connection moves to another pod. How much is evicted is measured and
# reported (e2e_note), not asserted: it is the kernel's LRU policy, not svcbpf's.
#
# One topology of three pods for the file; each test loads svcbpf with its own table size and
# its own ClusterIPs. The traffic comes from tools/pressure.py in the client namespace; it reads
# the pinned conntrack map (bpf(2) batch lookups) between rounds. Spoofed SYN sources are in
# 10.250.0.0/16, which no namespace of the topology routes: the pods' SYN-ACKs die at the node
# (IpExtInNoRoutes), and nothing of it reaches the root namespace, which is not linked to the
# topology at all.

load ../lib/e2e

PRESSURE_PY=$TOPO_REPO/tools/pressure.py

VIP_FILL=10.96.0.90    # :53/udp test 1
VIP_TCP=10.96.0.91     # :80     test 2
VIP_UDP=10.96.0.92     # :53/udp test 2
VIP_FLOOD=10.96.0.93   # :80     test 3
SPOOF_NET=10.250.0.0/16
SYNFLOOD_OUT='^sent=[0-9]+ seconds=[0-9.]+ rate=[1-9][0-9]* errors=[0-9]+$'

setup_file() {
	e2e_require
	e2e_setup_topology 3
	export CT_PIN=$TOPO_PIN_DIR/svcbpf_ct_v3 # the conntrack map, read by pressure.py
}

teardown_file() {
	e2e_teardown_file
}

# Stop what the test left running (by pid: processes this test started): a stop file first,
# then TERM after 3 s.
teardown() {
	local pid i d
	[ -f "$BATS_TEST_TMPDIR/bg-pids" ] || return 0
	for d in "$BATS_TEST_TMPDIR"/*/; do
		[ -d "$d" ] && touch "${d}stop"
	done
	while read -r pid; do
		for ((i = 0; i < 60; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done <"$BATS_TEST_TMPDIR/bg-pids"
	true
}

# ----------------------------------------------------------------------------- helpers

# load_ct N: svcbpf afresh (no pins, no store), attached to eth0 with an N-entry conntrack.
load_ct() {
	e2e_reset_svcbpf
	sb_ok load eth0 --ct-size "$1" || return 1
	sb_ok status -o json || return 1
	assert_eq "max_entries of the conntrack map after 'load --ct-size $1'" "$1" \
		"$(jq '.maps[] | select(.name == "svcbpf_ct_v3") | .max_entries' <<<"$SB_OUT")"
}

# svc_all_pods VIP:PORT[/udp] PORT: a service over the three pods.
svc_all_pods() {
	sb_ok svc add "$1" --backend "$(topo_pod_ip 1):$2" --backend "$(topo_pod_ip 2):$2" \
		--backend "$(topo_pod_ip 3):$2"
}

# pressure ARGS...: tools/pressure.py in the client namespace, bounded (60 s).
pressure() {
	TOPO_TIMEOUT=60 topo_client "$PYTHON" "$PRESSURE_PY" "$@"
}

# hold_bg DIR SECONDS ARGS...: 'pressure.py hold ARGS --dir DIR' in the client namespace, in
# the background, bounded by SECONDS; its probe reads the pinned conntrack map and the
# counters ('svcbpf status' in the node), and the snmp counters of the pods and the node.
# Summary in DIR/out. Sets BG_PID.
hold_bg() {
	local dir=$1 secs=$2 n ns=$TOPO_NODE
	shift 2
	mkdir -p "$dir"
	for ((n = 1; n <= TOPO_NPODS; n++)); do ns+=",$(topo_pod_ns "$n")"; done
	timeout -k 2 "$secs" nsenter --net="/run/netns/$TOPO_CLIENT" -- \
		"$PYTHON" "$PRESSURE_PY" hold "$@" --dir "$dir" --ct-map "$CT_PIN" \
		--snmp-ns "$ns" --max-seconds $((secs - 10)) -- \
		nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" >"$dir/out" 2>&1 3>&- &
	BG_PID=$!
	echo "$BG_PID" >>"$BATS_TEST_TMPDIR/bg-pids"
	echo "$BG_PID" >"$dir/pid"
}

# hold_at DIR PHASE N: the holder has done N rounds (or more) in PHASE.
hold_at() {
	local phase rounds _total
	read -r phase rounds _total <"$1/progress" || return 1
	[ "$phase" = "$2" ] && ((rounds >= $3))
}

# hold_phase DIR PHASE [N]: switch the holder to PHASE; wait until it did N rounds in it (1).
hold_phase() {
	echo "$2" >"$1/phase.tmp" && mv "$1/phase.tmp" "$1/phase"
	topo_poll 30 hold_at "$1" "$2" "${3:-1}" ||
		e2e_fail "holder $1: not ${3:-1} rounds in phase $2 within 30 s (progress:" \
			"$(cat "$1/progress" 2>/dev/null); log: $(tail -c 500 "$1/out"))"
}

# hold_wait DIR: wait for the holder to end; its JSON summary must be in DIR/out.
hold_wait() {
	local rc=0
	wait "$(cat "$1/pid")" || rc=$?
	assert_eq "exit of pressure.py hold ($(tail -c 300 "$1/out"))" 0 "$rc" || return 1
	jq -e .rounds "$1/out" >/dev/null || e2e_fail "holder $1 gave no summary: $(cat "$1/out")"
}

# ct_held DIR VIP: "A/I": how many of the active and of the idle connections of the holder in
# DIR 'ct list VIP:80' shows.
ct_held() {
	sb_ok ct list "$2:80" -o json || return 1
	jq -r --slurpfile r "$1/ready" '[.flows[] | select(.client | startswith("10.244.0.5:")) |
		.client | sub(".*:"; "") | tonumber] as $ports |
		[$r[0][] | select(.sport as $p | $ports | any(.[]; . == $p))] |
		"\(map(select(.group == "active")) | length)/\(map(select(.group == "idle")) |
		length)"' <<<"$SB_OUT"
}

# snmp_sum FILE KEY [WHEN]: KEY of the snmp deltas over the rounds (WHEN snmp) or the closes
# (snmp_close), summed over the client and the pods.
snmp_sum() {
	jq --arg k "$2" --arg w "${3:-snmp}" '[.[$w] | to_entries[] |
		select(.key | endswith("-node") | not) | .value[$k]] | add' "$1"
}

# node_snmp FILE KEY: KEY of the node's snmp delta over the rounds.
node_snmp() {
	jq --arg k "$2" '.snmp | to_entries[] | select(.key | endswith("-node")) | .value[$k]' "$1"
}

# spread FILE: the connections per first pod, "pod1=N pod2=N ...".
spread() {
	jq -r '[.conns[].first] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' "$1"
}

# JQ_ROUNDS: the rounds, each with "new": the flows created from its start to the next
# round's (dnat_new_flow between its probe and the next: its own re-created flows, and
# whatever else came meanwhile).
# shellcheck disable=SC2016 # jq's variables
JQ_ROUNDS='.final as $f | .rounds as $r | [range(0; $r | length) as $i | $r[$i] + {new:
	((if $i + 1 < ($r | length) then $r[$i + 1].probe else $f end).delta.dnat_new_flow // 0)}]'


# ----------------------------------------------------------------------------- 1. fill

@test "pressure: 256 UDP flows into 256 entries: all answered; how full the LRU gets" {
	local out max first steps
	load_ct 256
	svc_all_pods "$VIP_FILL:53/udp" 53
	# One datagram from each of 256 client ports (2 entries a flow: 512 > 256), one at a
	# time; the map's entries every 8 flows. pressure.py fails on a missing answer or one
	# not from the ClusterIP.
	out=$(pressure fill "$VIP_FILL" 53 --flows 256 --step 8 --ct-map "$CT_PIN") ||
		e2e_fail "pressure.py fill: $out"
	max=$(jq .max_entries <<<"$out")
	first=$(jq .first_short_at_flows <<<"$out")
	steps=$(jq -r '[.steps[] | "\(.flows):\(.entries)"] | join(" ")' <<<"$out")
	e2e_note "fill: 256 flows one by one into 256 entries: at most $max entries held; first" \
		"eviction seen at $first flows ($((2 * first)) entries wanted);" \
		"flows:entries $steps"
	((max <= 256)) || e2e_fail "the conntrack map held $max entries, more than its 256"
	# The LRU hands out free entries to per-CPU lists, 128 at a time, and evicts once the
	# global free list cannot refill the inserting CPU's: the other CPU may hold up to 128
	# free entries, so eviction may start before the map is full, not before 256 - 128.
	((max >= 128)) || e2e_fail "the conntrack map held at most $max of 256 entries"
	((first > 0 && first <= 136)) ||
		e2e_fail "256 flows (512 entries) in 256 entries: no eviction seen ($steps)"
}

# ----------------------------------------------------------------------------- 2. pressure

@test "pressure: 1024 TCP + 64 UDP flows through 256 entries: always the first pod, no reset" {
	local dir=$BATS_TEST_TMPDIR/hold s k=1024 u=64 rounds=6 line bad n
	load_ct 256
	svc_all_pods "$VIP_TCP:80" 8080
	svc_all_pods "$VIP_UDP:53/udp" 53
	hold_bg "$dir" 90 "$VIP_TCP" 80 --conns "$k" --udp-host "$VIP_UDP" --udp-port 53 \
		--udp-flows "$u" --rounds "$rounds"
	hold_wait "$dir"
	s=$dir/out

	e2e_note "pressure: $k TCP connections ($(spread "$s")) and $u UDP flows opened in" \
		"$(jq .open_seconds "$s") s; $rounds rounds of one request on each, back to back"
	# Per round: the table before it (what survived the previous round), and what the round
	# re-created.
	for ((n = 0; n < rounds; n++)); do
		line=$(jq -r --argjson n "$n" --argjson k "$k" --argjson u "$u" \
			"$JQ_ROUNDS"' | .[$n] | "\(.dur) s, answered tcp" +
			" \(.asked.active_ok // 0)/\($k)" +
			" udp \(.asked.udp_ok // 0)/\($u); before it: ct \(.probe.ct_entries)/256" +
			" entries" +
			" (fwd \(.probe.ct_fwd), rev \(.probe.ct_rev)), tracked: tcp" +
			" \(.probe.active.fwd), udp \(.probe.udp.fwd); re-created by it" +
			" (dnat_new_flow) \(.new) of \($k + $u) flows"' "$s")
		e2e_note "pressure: round $((n + 1)): $line"
	done
	sb_ok ct list -o json
	e2e_note "pressure: after the rounds 'ct list' shows $(jq '.flows | length' <<<"$SB_OUT")" \
		"flows; 'status': $(jq '.final.ct_entries_status' "$s") entries of 256"
	e2e_note "pressure: TCP resets over the rounds: client EstabResets" \
		"$(jq .snmp.client.TcpEstabResets "$s"), OutRsts" \
		"$(jq .snmp.client.TcpOutRsts "$s");" \
		"client+pods EstabResets $(snmp_sum "$s" TcpEstabResets), OutRsts" \
		"$(snmp_sum "$s" TcpOutRsts), retransmits $(snmp_sum "$s" TcpRetransSegs)"
	e2e_note "pressure: closing one at a time: $(jq -c .closes "$s"); client+pods OutRsts" \
		"while closing $(snmp_sum "$s" TcpOutRsts snmp_close)"

	assert_eq "rounds done (stopped by)" "$rounds rounds" \
		"$(jq -r '"\(.rounds | length) \(.stopped_by)"' "$s")"
	bad=$(jq -r --argjson k "$k" --argjson u "$u" '.rounds | to_entries[] |
		select(.value.asked != {"active_ok": $k, "udp_ok": $u}) |
		"round \(.key + 1): \(.value.asked)"' "$s")
	assert_eq "rounds in which a request failed or another pod answered" "" "$bad"
	bad=$(jq -r --argjson r "$rounds" '(.conns + .udp)[] | select(.end != null or
		(.answers | keys) != [.first] or (.answers | add) != $r) | "port \(.sport): \(.)"' \
		"$s" | head -5)
	assert_eq "flows not answered $rounds times by their first pod" "" "$bad"
	assert_eq "client and pods: TCP resets over the rounds (EstabResets OutRsts)" "0 0" \
		"$(snmp_sum "$s" TcpEstabResets) $(snmp_sum "$s" TcpOutRsts)"
	assert_eq "connections closed cleanly (FIN both ways)" "{\"clean\":$k}" \
		"$(jq -c .closes "$s")"
	bad=$(jq -r '[.rounds[].probe, .final] | map(select(.ct_entries > 256)) | length' "$s")
	assert_eq "probes that saw more than 256 conntrack entries" 0 "$bad"
	# The pressure was real: the table cannot hold them, flows were evicted and re-created.
	n=$(jq "$JQ_ROUNDS"' | map(.new) | add' "$s")
	((n > k)) || e2e_fail "flows re-created over $rounds rounds: $n (no pressure?)"
	expect_clean_counters
}

# ----------------------------------------------------------------------------- 3. SYN flood

@test "pressure: SYN flood into 4096 entries: 300 established connections never fail or move" {
	local dir=$BATS_TEST_TMPDIR/flood s c=4096 e=200 idle=100 syns=40960 paced=8000 pps=2000
	local out fast slow rate prate bad r tc ptc interval n verdict p ph what listed
	local ct_fast ct_slow
	load_ct "$c"
	svc_all_pods "$VIP_FLOOD:80" 8080
	# The node has no route to the spoofed sources: the pods' SYN-ACKs are dropped there.
	if out=$(ip -n "$TOPO_NODE" route get 10.250.1.1 2>&1); then
		e2e_fail "the node routes the spoofed range: $out"
	fi
	# $e connections asked every round (0.25 s), $idle more asked only outside the floods.
	mkdir -p "$dir"
	echo before >"$dir/phase"
	hold_bg "$dir" 100 "$VIP_FLOOD" 80 --conns "$e" --idle-conns "$idle" \
		--idle-skip flood,paced --interval 0.25 --rounds 400
	topo_poll 30 test -s "$dir/progress" ||
		e2e_fail "holder not started in 30 s: $(tail -c 500 "$dir/out")"
	hold_phase "$dir" before 2

	# The flood at full speed: 10 x the table.
	echo flood >"$dir/phase"
	topo_poll 10 hold_at "$dir" flood 1 || true
	fast=$(pressure synflood "$VIP_FLOOD" 80 --count "$syns" --src-net "$SPOOF_NET" \
		--max-seconds 20 --seed 1) || e2e_fail "pressure.py synflood: $fast"
	ct_fast=$(ct_held "$dir" "$VIP_FLOOD")
	hold_phase "$dir" after-flood 1
	# Paced at $pps a second: the table takes C / (2 x $pps) s to cycle, longer than a round.
	echo paced >"$dir/phase"
	topo_poll 10 hold_at "$dir" paced 1 || true
	slow=$(pressure synflood "$VIP_FLOOD" 80 --count "$paced" --src-net "$SPOOF_NET" \
		--pps "$pps" --max-seconds 20 --seed 2) || e2e_fail "pressure.py synflood: $slow"
	ct_slow=$(ct_held "$dir" "$VIP_FLOOD")
	hold_phase "$dir" after-paced 2
	touch "$dir/stop"
	hold_wait "$dir"
	s=$dir/out

	assert_match "synflood at full speed" "$SYNFLOOD_OUT" "$fast"
	assert_match "synflood paced" "$SYNFLOOD_OUT" "$slow"
	rate=${fast#* rate=}
	rate=${rate%% *}
	prate=${slow#* rate=}
	prate=${prate%% *}
	# What a plain LRU must do: 2 entries a SYN (both directions), so the flood cycles through
	# C entries in C / (2 x rate) s; an entry touched every round survives only if a round
	# comes sooner; an entry not touched during the flood is gone once 2 S > C.
	tc=$(awk -v c="$c" -v r="$rate" 'BEGIN { printf "%.3f", c / (2 * r) }')
	ptc=$(awk -v c="$c" -v r="$prate" 'BEGIN { printf "%.3f", c / (2 * r) }')
	interval=$(jq '.rounds | (.[-1].t - .[0].t) / (length - 1) * 1000 | round' "$s")
	verdict=">= a round: it would keep the active flows"
	awk -v t="$tc" -v i="$interval" 'BEGIN { exit !(t * 1000 < i) }' &&
		verdict="< a round: it would evict every active flow"
	e2e_note "flood: $e active + $idle idle connections ($(spread "$s")), a round every" \
		"$interval ms (mean); table $c entries"
	e2e_note "flood: $fast ($syns SYNs from $SPOOF_NET to $VIP_FLOOD:80): a plain LRU" \
		"cycles $c entries in $tc s, $verdict, and every idle one ($((2 * syns)) > $c)"
	e2e_note "flood: $slow (paced): a plain LRU cycles in $ptc s"
	# Per phase: the table at its probes, and the flows created from its first round's start
	# to the next phase (the flood's SYNs, and held flows re-created).
	for p in before flood after-flood paced after-paced; do
		e2e_note "flood: phase $p: $(jq -r --arg p "$p" --argjson c "$c" "$JQ_ROUNDS"' |
			map(select(.phase == $p)) | map(.probe.ct_entries) as $e |
			"\(length) rounds, ct entries \($e | min)..\($e | max) of \($c)," +
			" new flows \(map(.new) | add)"' "$s")"
	done
	# What survived each flood: the held flows' entries at the first probe after it (the
	# idle ones were not touched during it), and 'ct list' right after it.
	for p in "after-flood full-speed $ct_fast" "after-paced paced $ct_slow"; do
		read -r ph what listed <<<"$p"
		e2e_note "flood: survived the $what flood: $(jq -r --arg p "$ph" '
			[.rounds[] | select(.phase == $p)][0].probe |
			"active: fwd \(.active.fwd), rev \(.active.rev) of \(.active.live);" +
			" idle: fwd \(.idle.fwd), rev \(.idle.rev) of \(.idle.live);" +
			" fwd without rev \(.active.fwd_only + .idle.fwd_only)," +
			" rev without fwd \(.active.rev_only + .idle.rev_only)"' "$s");" \
			"'ct list' right after the flood showed active/idle $listed"
	done
	e2e_note "flood: snmp over the rounds: client (non-zero) [$(jq -r '[.snmp.client |
		to_entries[] | select(.value != 0) | "\(.key)=\(.value)"] | join(" ")' "$s")];" \
		"node IpExtInNoRoutes (SYN-ACKs to spoofed sources dropped)" \
		"$(node_snmp "$s" IpExtInNoRoutes); pods SyncookiesSent" \
		"$(snmp_sum "$s" TcpExtSyncookiesSent), OutRsts $(snmp_sum "$s" TcpOutRsts)," \
		"EstabResets $(snmp_sum "$s" TcpEstabResets)"

	# The hard invariants: every request answered, always by the connection's first pod.
	bad=$(jq -r '.rounds | to_entries[] | select(.value.asked | keys - ["active_ok",
		"idle_ok"] != []) | "round \(.key + 1) (\(.value.phase)): \(.value.asked)"' "$s")
	assert_eq "rounds in which a request failed or another pod answered" "" "$bad"
	bad=$(jq -r '.conns[] | select(.end != null or (.answers | keys) != [.first]) |
		"port \(.sport): \(.)"' "$s" | head -5)
	assert_eq "connections that failed or were answered by another pod" "" "$bad"
	n=$(jq '[.rounds[] | select(.phase | startswith("after"))] | length' "$s")
	((n >= 3)) || e2e_fail "only $n rounds after the floods"
	assert_eq "idle connections asked after the floods, answered by their first pod" "$idle" \
		"$(jq '[.conns[] | select(.group == "idle" and .answers[.first] >= 3)] |
			length' "$s")"
	assert_eq "client: TCP resets over the rounds (EstabResets OutRsts)" "0 0" \
		"$(jq -r '"\(.snmp.client.TcpEstabResets) \(.snmp.client.TcpOutRsts)"' "$s")"
	assert_eq "pods: established connections reset" 0 "$(snmp_sum "$s" TcpEstabResets)"
	assert_eq "connections closed cleanly (FIN both ways)" "{\"clean\":$((e + idle))}" \
		"$(jq -c .closes "$s")"
	# The flood was sent and went through the dataplane (a new flow each).
	assert_eq "SYNs sent at full speed" "$syns" "$(sed -n 's/^sent=\([0-9]*\) .*/\1/p' \
		<<<"$fast")"
	r=$(jq "$JQ_ROUNDS"' | map(.new) | add' "$s")
	((r >= syns)) || e2e_fail "new flows counted during the rounds: $r, fewer than $syns SYNs"
	# Nothing reached the root namespace: no link to it, its addresses and routes as before.
	assert_not_contains "root namespace links" "$TOPO_ID" "$(ip -o link show)"
	assert_eq "root namespace IPv4 addresses and routes, before vs after the flood" \
		"$(cat "$TOPO_DIR/root-net-before")" "$(e2e_root_net_state)"
	expect_clean_counters
}
