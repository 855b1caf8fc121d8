#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# The harness itself, without svcbpf: the namespaces, the pod servers, the offload modes and
# the teardown behave as tools/topo.sh promises, so a failure in the later files is svcbpf's.

load ../lib/e2e

setup_file() {
	e2e_setup_topology 3
}

teardown_file() {
	e2e_teardown_file
}

@test "topology: the client reaches every pod directly over TCP and UDP" {
	local n ip out
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		ip=$(topo_pod_ip "$n")
		out=$(http_once "$ip" 8080) || true
		assert_match "client -> pod$n $ip:8080" "^pod$n $ip client=10\.244\.0\.5:[0-9]+$" "$out"
		out=$(udp_query "$ip" 53) || true
		assert_eq "client -> pod$n $ip:53/udp" "reply=pod$n/$ip from=$ip:53" "$out"
	done
}

@test "topology: ClusterIPs are unrouted without svcbpf (client -> $E2E_VIP_HTTP:80 fails)" {
	expect_http_fails "no svcbpf: $E2E_VIP_HTTP:80" "$E2E_VIP_HTTP" 80
}

@test "topology: the root namespace's addresses and routes are untouched, no veth of this run" {
	local out
	out=$(e2e_root_net_state)
	assert_eq "root namespace IPv4 addresses and routes, before vs with the topology" \
		"$(cat "$TOPO_DIR/root-net-before")" "$out"
	out=$(ip -o link show)
	assert_not_contains "root namespace links" "$TOPO_ID" "$out"
}

@test "topology: offload modes on, off and mixed set tx checksumming as specified" {
	local mode ns dev got want
	for mode in off mixed on; do
		topo_offloads "$mode"
		while read -r ns dev; do
			got=$(topo_txcsum "$ns" "$dev")
			want=on
			[ "$mode" = off ] && want=off
			[ "$mode" = mixed ] && [ "$ns" = "$TOPO_NODE" ] && [ "$dev" != eth0 ] && want=off
			assert_eq "offloads=$mode: tx-checksumming of ${ns#"$TOPO_ID"-}/$dev" "$want" "$got"
		done < <(topo_devices)
	done
}

@test "topology: 5 MiB both ways to a pod directly arrive intact with offloads on, off, mixed" {
	local mode out
	for mode in on off mixed; do
		e2e_offloads "$mode"
		out=$(topo_client "$PYTHON" "$TOPO_PODSERVER" upload "$(topo_pod_ip 3)" 9000 --timeout 10) || true
		assert_match "offloads=$mode: direct upload to pod3" "match=yes" "$out"
		out=$(topo_client "$PYTHON" "$TOPO_PODSERVER" download "$(topo_pod_ip 3)" 9001 --timeout 10) || true
		assert_match "offloads=$mode: direct download from pod3" "match=yes" "$out"
	done
	e2e_offloads on
}

@test "topology: the checksum checker tells a seed and a full sum from a forgotten rewrite" {
	local out rc=0
	out=$("$PYTHON" "$TOPO_PODSERVER" selftest) || rc=$?
	assert_eq "podserver.py selftest exit (output: $out)" 0 "$rc"
}

_traffic_direct() {
	local n ip
	for ((n = 1; n <= TOPO_NPODS; n++)); do
		ip=$(topo_pod_ip "$n")
		http_once "$ip" 8080 >/dev/null
		udp_query "$ip" 53 >/dev/null
		topo_client "$PYTHON" "$TOPO_PODSERVER" upload "$ip" 9000 --bytes 262144 >/dev/null
	done
}

@test "topology: without svcbpf every checksum on the wire is right, offloads on, off, mixed" {
	local mode
	for mode in on off mixed; do
		e2e_offloads "$mode"
		e2e_note "offloads=$mode"
		sniff_checksums _traffic_direct
	done
	e2e_offloads on
}

@test "topology: teardown removes namespaces, servers and pin dir, and is idempotent" {
	local id dir pid left
	(
		topo_init
		topo_create 1
		topo_start_servers
		mkdir -p "$TOPO_PIN_DIR" 2>/dev/null || true # only if bpffs (or sysfs) allows it
		echo "$TOPO_ID $TOPO_DIR $(cat "$TOPO_DIR/pids/server-pod1")" >"$BATS_TEST_TMPDIR/inner"
		topo_teardown
		topo_teardown
	)
	read -r id dir pid <"$BATS_TEST_TMPDIR/inner"
	left=$(ip netns list | grep "^$id-" || true)
	assert_eq "namespaces of run $id after teardown" "" "$left"
	assert_eq "pin dir /sys/fs/bpf/svcbpf-$id exists after teardown" "no" \
		"$([ -e "/sys/fs/bpf/svcbpf-$id" ] && echo yes || echo no)"
	assert_eq "temp dir $dir exists after teardown" "no" "$([ -e "$dir" ] && echo yes || echo no)"
	assert_eq "pod server $pid alive after teardown" "no" \
		"$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)"
}
