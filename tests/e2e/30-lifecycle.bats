#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# svcbpf's lifecycle in the test topology: services programmed at load, load over a loaded
# interface (upgrade), unload, loading from 'ip netns exec', the environment variables.
# One topology for the file; every test starts with svcbpf unloaded, no pins, an empty store.

load ../lib/e2e

setup_file() {
	e2e_require
	e2e_setup_topology 3
	# What the machine had before this file ran: a test run must never create these.
	export E2E_HAD_REAL_PINS=no E2E_HAD_REAL_STATE=no
	[ -e /sys/fs/bpf/svcbpf ] && E2E_HAD_REAL_PINS=yes
	[ -e /var/lib/svcbpf ] && E2E_HAD_REAL_STATE=yes
	true
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	e2e_reset_svcbpf
}

teardown() {
	e2e_reset_svcbpf
}

# The HTTP service every lifecycle test uses: 10.96.0.50:80 -> all pods :8080.
add_http_service() {
	local n b=()
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		b+=(--backend "$(topo_pod_ip "$n"):8080")
	done
	sb_ok svc add "$E2E_VIP_HTTP:80" "${b[@]}"
}

pins_state() {
	if [ -d "$TOPO_PIN_DIR" ]; then
		echo "present ($(find "$TOPO_PIN_DIR" -mindepth 1 | wc -l) entries)"
	else
		echo absent
	fi
}

@test "lifecycle: a service added before load is programmed at load and carries traffic" {
	sb_ok svc add "$E2E_VIP_HTTP:80" --backend "$(topo_pod_ip 1):8080" --backend "$(topo_pod_ip 2):8080"
	sb_ok load eth0
	expect_http_ok "after load: $E2E_VIP_HTTP:80" "$E2E_VIP_HTTP" 80 20 pod1 pod2
	sb_list
	assert_contains "svc list after load" "$E2E_VIP_HTTP:80" "$SB_OUT"
}

@test "lifecycle: load on an already-loaded interface (upgrade) keeps serving, svc list unchanged" {
	local before
	sb_ok load eth0
	add_http_service
	sb_ok svc add "$E2E_VIP_DNS:53/udp" --backend "$(topo_pod_ip 1):53"
	expect_http_ok "before upgrade" "$E2E_VIP_HTTP" 80 10
	sb_list
	before=$SB_OUT
	sb_ok load eth0
	expect_http_ok "after upgrade" "$E2E_VIP_HTTP" 80 30
	assert_eq "UDP after upgrade" "reply=pod1/$(topo_pod_ip 1) from=$E2E_VIP_DNS:53" \
		"$(udp_query "$E2E_VIP_DNS" 53 || true)"
	sb_list
	assert_eq "svc list after the upgrade load" "$before" "$SB_OUT"
}

# The programs replaced under the flow: 'load eth0' again.
reload_programs() {
	E2E_CHANGE="load eth0"
	sb_ok load eth0
}

@test "lifecycle: an established connection survives an upgrade load on its backend" {
	# One HTTP/1.1 connection: a request before the reload, one after (on the same flow).
	keepalive_across reload_programs
}

@test "lifecycle: load --xdp over a tc load, then tc again, switches the mode and keeps serving" {
	local before
	sb_ok load eth0
	add_http_service
	sb_list
	before=$SB_OUT
	expect_attach_mode tc
	sb_ok load eth0 --xdp
	expect_attach_mode xdp
	expect_http_ok "after 'load eth0 --xdp' over tc" "$E2E_VIP_HTTP" 80 10
	sb_ok load eth0
	expect_attach_mode tc
	expect_http_ok "after 'load eth0' over --xdp" "$E2E_VIP_HTTP" 80 10
	sb_list
	assert_eq "svc list after the mode changes" "$before" "$SB_OUT"
}

# The tc filters svcbpf owns on the node's eth0, as the tc tool lists them.
clsact_filters() {
	{ topo_node tc filter show dev eth0 ingress; topo_node tc filter show dev eth0 egress; } |
		grep -o 'name svcbpf_tc_[a-z]*' | cut -d' ' -f2 | sort | tr '\n' ' '
}

@test "lifecycle: the clsact fallback (kernels without tcx) carries traffic, upgrades, unloads" {
	local status_json
	SVCBPF_TC_ATTACH=clsact sb_ok load eth0
	add_http_service
	sb_ok status -o json
	status_json=$SB_OUT
	assert_eq "tc attachments and their mode" "eth0/tc_ingress/clsact eth0/tc_egress/clsact" \
		"$(jq -r '[.attachments[] | "\(.ifname)/\(.hook)/\(.mode)"] | join(" ")' <<<"$status_json")" || return 1
	assert_eq "tc filters on eth0" "svcbpf_tc_egres svcbpf_tc_ingre " "$(clsact_filters)" || return 1
	expect_http_ok "through clsact filters" "$E2E_VIP_HTTP" 80 20 || return 1
	# An upgrade replaces the filters' programs in place (same handle and priority).
	sb_ok load eth0 --xdp
	expect_http_ok "after an upgrade load over clsact" "$E2E_VIP_HTTP" 80 10 || return 1
	assert_eq "tc filters after the upgrade" "svcbpf_tc_egres svcbpf_tc_ingre " "$(clsact_filters)" || return 1
	sb_ok unload
	assert_eq "tc filters after unload" "" "$(clsact_filters)" || return 1
	expect_http_fails "after unload" "$E2E_VIP_HTTP" 80
}

@test "lifecycle: svc add on an existing service replaces its backend set" {
	sb_ok load eth0
	sb_ok svc add "$E2E_VIP_HTTP:80" --backend "$(topo_pod_ip 1):8080" --backend "$(topo_pod_ip 2):8080"
	expect_http_ok "backends pod1, pod2" "$E2E_VIP_HTTP" 80 10 pod1 pod2
	sb_ok svc add "$E2E_VIP_HTTP:80" --backend "$(topo_pod_ip 3):8080"
	expect_http_ok "after replacing the backends by pod3" "$E2E_VIP_HTTP" 80 10 pod3
	sb_list
	assert_not_contains "svc list after the replacement" "$(topo_pod_ip 1):8080" "$SB_OUT"
}

@test "lifecycle: backend add and backend del change which pods serve" {
	sb_ok load eth0
	sb_ok svc add "$E2E_VIP_HTTP:80" --backend "$(topo_pod_ip 1):8080"
	expect_http_ok "one backend, pod1" "$E2E_VIP_HTTP" 80 5 pod1
	sb_ok backend add "$E2E_VIP_HTTP:80" "$(topo_pod_ip 2):8080"
	expect_http_ok "after backend add pod2" "$E2E_VIP_HTTP" 80 30 pod1 pod2
	grep -q '^pod2 ' <<<"$E2E_HTTP_OUT" || e2e_fail "pod2 served none of 30 connections after 'backend add'"
	sb_ok backend del "$E2E_VIP_HTTP:80" "$(topo_pod_ip 1):8080"
	expect_http_ok "after backend del pod1" "$E2E_VIP_HTTP" 80 10 pod2
}

# keepalive_across CHANGE: one HTTP/1.1 connection to the ClusterIP (3 backends); after its
# first answer, run "CHANGE <pod of the first answer>", then a second request on the same
# connection must be answered by the same pod.
keepalive_across() {
	local change=$1 expect=${2:-same} first go=$BATS_TEST_TMPDIR/go log=$BATS_TEST_TMPDIR/keepalive pid out
	sb_ok load eth0
	add_http_service
	topo_client "$PYTHON" "$TOPO_PODSERVER" keepalive "$E2E_VIP_HTTP" 80 --wait-file "$go" \
		--wait-seconds 20 >"$log" 2>&1 3>&- &
	pid=$!
	topo_poll 10 grep -q '^first=' "$log" ||
		e2e_fail "keepalive client got no first answer: $(cat "$log")"
	first=$(sed -n 's/^first=//p' "$log")
	"$change" "$first"
	touch "$go"
	wait "$pid" || true
	out=$(tr '\n' ' ' <"$log")
	if [ "$expect" = same ]; then
		assert_eq "one connection, first request to $first, second after '$E2E_CHANGE'" \
			"first=$first second=$first " "$out"
	else
		# No zombie traffic: the removed backend must not get the flow's next request.
		assert_match "one connection, first request to $first" "^first=$first " "$out" || return 1
		assert_not_contains "second request after '$E2E_CHANGE' (its backend is gone)" \
			"second=$first " "$out" || return 1
		e2e_note "after its backend left: ${out#first=$first }"
	fi
}

# The set minus the flow's own backend: 'svc add' with the other pods only.
remove_own_backend() {
	local n others=()
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		[ "pod$n" = "$1" ] || others+=(--backend "$(topo_pod_ip "$n"):8080")
	done
	E2E_CHANGE="svc add $E2E_VIP_HTTP:80 ${others[*]}"
	sb_ok svc add "$E2E_VIP_HTTP:80" "${others[@]}"
}

# Another backend leaves the set: 'backend del' of a pod that is not the flow's.
remove_other_backend() {
	local n
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		[ "pod$n" = "$1" ] || break
	done
	E2E_CHANGE="backend del $E2E_VIP_HTTP:80 $(topo_pod_ip "$n"):8080"
	sb_ok backend del "$E2E_VIP_HTTP:80" "$(topo_pod_ip "$n"):8080"
}

@test "lifecycle: an established connection stays on its backend when another backend leaves" {
	keepalive_across remove_other_backend
}

@test "lifecycle: a connection whose backend leaves the set no longer reaches that backend" {
	# Issue 4: when a backend is removed its flows stop being translated to it (no zombie
	# traffic); their next packets are re-balanced (and reset by the new backend). Keeping
	# flows on a leaving backend is what 'backend drain' is for.
	keepalive_across remove_own_backend away
	expect_http_ok "new connections after the change" "$E2E_VIP_HTTP" 80 10
}

@test "lifecycle: unload removes the pins dir and the ClusterIP stops being translated" {
	sb_ok load eth0
	add_http_service
	expect_http_ok "before unload" "$E2E_VIP_HTTP" 80 5
	assert_match "pin dir $TOPO_PIN_DIR while loaded" '^present' "$(pins_state)"
	sb_ok unload
	assert_eq "pin dir $TOPO_PIN_DIR after unload (nothing attached)" absent "$(pins_state)"
	expect_http_fails "after unload: $E2E_VIP_HTTP:80" "$E2E_VIP_HTTP" 80
	expect_http_ok "after unload, direct to pod2" "$(topo_pod_ip 2)" 8080 3 pod2
}

@test "lifecycle: unload IFACE keeps the pins while another interface is attached, the last removes them" {
	local out
	# Also on pod1's veth: pod1 becomes a client of the service (whose backends are the others).
	sb_ok load eth0 pod1
	sb_ok svc add "$E2E_VIP_HTTP:80" --backend "$(topo_pod_ip 2):8080" --backend "$(topo_pod_ip 3):8080"
	expect_http_ok "client, loaded on eth0 and pod1" "$E2E_VIP_HTTP" 80 5 pod2 pod3
	out=$(topo_pod 1 curl -sS --max-time 2 "http://$E2E_VIP_HTTP/" 2>&1) || true
	assert_match "pod1 -> $E2E_VIP_HTTP:80 (svcbpf on pod1's veth)" \
		"^pod[23] [0-9.]+ client=$(topo_pod_ip 1):" "$out"
	sb_ok unload eth0
	assert_match "pin dir after 'unload eth0' while pod1 is attached" '^present' "$(pins_state)"
	expect_http_fails "client after 'unload eth0'" "$E2E_VIP_HTTP" 80
	out=$(topo_pod 1 curl -sS --max-time 2 "http://$E2E_VIP_HTTP/" 2>&1) || true
	assert_match "pod1 -> $E2E_VIP_HTTP:80 after 'unload eth0'" "^pod[23] " "$out"
	sb_ok unload pod1
	assert_eq "pin dir after 'unload pod1' (nothing attached)" absent "$(pins_state)"
}

@test "lifecycle: load under 'ip netns exec' leaves pins in the real /sys/fs/bpf and traffic works" {
	local out rc=0
	out=$(timeout -k 2 60 ip netns exec "$TOPO_NODE" "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" load eth0 2>&1) || rc=$?
	assert_eq "exit of 'ip netns exec NODE svcbpf load eth0' (output: $out)" 0 "$rc"
	# This shell is in the machine's mount namespace: the pins must be here, not in the
	# private /sys that 'ip netns exec' gave the command.
	assert_match "pin dir $TOPO_PIN_DIR in the real bpffs after the command exited" \
		'^present \([1-9]' "$(pins_state)"
	add_http_service
	expect_http_ok "after a load under ip netns exec" "$E2E_VIP_HTTP" 80 10
}

@test "lifecycle: svc add under 'ip netns exec' reaches the real pinned maps" {
	local out rc=0
	sb_ok load eth0
	out=$(timeout -k 2 60 ip netns exec "$TOPO_NODE" "$SVCBPF" --pin-dir "$TOPO_PIN_DIR" \
		--state-dir "$TOPO_STATE_DIR" svc add "$E2E_VIP_HTTP:80" \
		--backend "$(topo_pod_ip 3):8080" 2>&1) || rc=$?
	assert_eq "exit of 'ip netns exec NODE svcbpf svc add' (output: $out)" 0 "$rc"
	expect_http_ok "after svc add under ip netns exec" "$E2E_VIP_HTTP" 80 5 pod3
}

@test "lifecycle: SVCBPF_PIN_DIR and SVCBPF_STATE_DIR are equivalent to the flags" {
	local out rc=0
	out=$(SVCBPF_PIN_DIR=$TOPO_PIN_DIR SVCBPF_STATE_DIR=$TOPO_STATE_DIR \
		timeout -k 2 60 nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" load eth0 2>&1) || rc=$?
	assert_eq "exit of 'svcbpf load eth0' with the env variables (output: $out)" 0 "$rc"
	out=$(SVCBPF_PIN_DIR=$TOPO_PIN_DIR SVCBPF_STATE_DIR=$TOPO_STATE_DIR \
		timeout -k 2 60 nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" \
		svc add "$E2E_VIP_HTTP:80" --backend "$(topo_pod_ip 2):8080" 2>&1) || rc=$?
	assert_eq "exit of 'svcbpf svc add' with the env variables (output: $out)" 0 "$rc"
	assert_match "pin dir $TOPO_PIN_DIR (from SVCBPF_PIN_DIR)" '^present' "$(pins_state)"
	sb_list # through the flags
	assert_contains "svc list through the flags" "$E2E_VIP_HTTP:80" "$SB_OUT"
	expect_http_ok "service added through the env variables" "$E2E_VIP_HTTP" 80 5 pod2
}

@test "lifecycle: global options are accepted after the command" {
	local out rc=0
	sb_ok load eth0
	add_http_service
	out=$(timeout -k 2 60 nsenter --net="/run/netns/$TOPO_NODE" -- "$SVCBPF" svc list \
		--pin-dir "$TOPO_PIN_DIR" -o json --state-dir "$TOPO_STATE_DIR" 2>&1) || rc=$?
	assert_eq "exit of 'svcbpf svc list --pin-dir D -o json --state-dir S' (output: $out)" 0 "$rc"
	assert_contains "svc list -o json with trailing global options" "$E2E_VIP_HTTP" "$out"
	"$PYTHON" -c 'import json, sys; json.loads(sys.stdin.read())' <<<"$out" ||
		e2e_fail "svc list -o json is not valid JSON: $out"
}

@test "lifecycle: nothing was written to the machine's /sys/fs/bpf/svcbpf or /var/lib/svcbpf" {
	local now_pins=no now_state=no
	[ -e /sys/fs/bpf/svcbpf ] && now_pins=yes
	[ -e /var/lib/svcbpf ] && now_state=yes
	[ "$E2E_HAD_REAL_PINS" = yes ] || assert_eq "/sys/fs/bpf/svcbpf exists after the run" no "$now_pins"
	[ "$E2E_HAD_REAL_STATE" = yes ] || assert_eq "/var/lib/svcbpf exists after the run" no "$now_state"
}
