#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# The e2e scenarios in attach mode "tc" ('svcbpf load eth0': tc ingress DNAT, tc egress
# reverse NAT), each with the veth offloads on, off and mixed (tools/topo.sh topo_offloads).
# One topology and one load for the file; the offload mode switches between groups of tests.

load ../lib/e2e

setup_file() {
	e2e_matrix_setup_file tc
}

teardown_file() {
	e2e_teardown_file
}

@test "tc: svcbpf is attached to the node's eth0 in this mode" {
	expect_attach_mode tc
}

@test "tc offloads=on: 60 TCP connections to a 3-backend ClusterIP, all answered, every backend serves" {
	e2e_offloads on
	scenario_tcp_spread
}

@test "tc offloads=on: UDP through a ClusterIP is answered from the ClusterIP" {
	e2e_offloads on
	scenario_udp
}

@test "tc offloads=on: direct pod traffic (TCP and UDP) still works while services exist" {
	e2e_offloads on
	scenario_direct
}

@test "tc offloads=on: a deleted service stops answering" {
	e2e_offloads on
	scenario_delete
}

@test "tc offloads=on: 5 MiB upload and download through ClusterIPs arrive intact" {
	e2e_offloads on
	scenario_transfer
}

@test "tc offloads=on: every checksum on the client's and pods' wire is right (full or seed)" {
	e2e_offloads on
	scenario_checksums
}

@test "tc offloads=off: 60 TCP connections to a 3-backend ClusterIP, all answered, every backend serves" {
	e2e_offloads off
	scenario_tcp_spread
}

@test "tc offloads=off: UDP through a ClusterIP is answered from the ClusterIP" {
	e2e_offloads off
	scenario_udp
}

@test "tc offloads=off: direct pod traffic (TCP and UDP) still works while services exist" {
	e2e_offloads off
	scenario_direct
}

@test "tc offloads=off: a deleted service stops answering" {
	e2e_offloads off
	scenario_delete
}

@test "tc offloads=off: 5 MiB upload and download through ClusterIPs arrive intact" {
	e2e_offloads off
	scenario_transfer
}

@test "tc offloads=off: every checksum on the client's and pods' wire is right (full or seed)" {
	e2e_offloads off
	scenario_checksums
}

@test "tc offloads=mixed: 60 TCP connections to a 3-backend ClusterIP, all answered, every backend serves" {
	e2e_offloads mixed
	scenario_tcp_spread
}

@test "tc offloads=mixed: UDP through a ClusterIP is answered from the ClusterIP" {
	e2e_offloads mixed
	scenario_udp
}

@test "tc offloads=mixed: direct pod traffic (TCP and UDP) still works while services exist" {
	e2e_offloads mixed
	scenario_direct
}

@test "tc offloads=mixed: a deleted service stops answering" {
	e2e_offloads mixed
	scenario_delete
}

@test "tc offloads=mixed: 5 MiB upload and download through ClusterIPs arrive intact" {
	e2e_offloads mixed
	scenario_transfer
}

@test "tc offloads=mixed: every checksum on the client's and pods' wire is right (full or seed)" {
	e2e_offloads mixed
	scenario_checksums
}

@test "tc: after all scenarios, no packet was dropped or failed its rewrite (status counters)" {
	expect_clean_counters
}
