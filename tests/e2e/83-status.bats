#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# `svcbpf status`: each program's run count (its own, always kept; the kernel's run time when
# kernel.bpf_stats_enabled is on) and the reason counters, driven by injected packets:
# IPv4 fragments and malformed headers sent raw from the client, and requests to a service
# without a backend. Counts are exact: the client sends nothing else to the node meanwhile.

load ../lib/e2e

setup_file() {
	e2e_require
	e2e_setup_topology 1
}

teardown_file() {
	e2e_teardown_file
}

setup() {
	e2e_reset_svcbpf
	sb_ok load eth0
}

teardown() {
	if [ -n "${STATS_WAS:-}" ]; then
		sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS" || true
	fi
	e2e_reset_svcbpf
}

# status_json: 'svcbpf status -o json' into SJ.
status_json() {
	sb_ok -o json status || return 1
	SJ=$SB_OUT
}

# reason REASON ACTION: the packets counted under it in $SJ.
reason() {
	jq -r --arg r "$1" --arg a "$2" \
		'.reasons[] | select(.reason == $r and .action == $a) | .packets' <<<"$SJ"
}

# runs HOOK: the program's own run count in $SJ.
runs() {
	jq -r --arg h "$1" '.programs[] | select(.hook == $h) | .runs' <<<"$SJ"
}

# inject KIND COUNT DST: COUNT raw IPv4 packets from the client to DST:53/udp, made bad the
# KIND way: "fragment" (more-fragments set) or "malformed" (UDP length past the IP payload).
inject() {
	topo_client "$PYTHON" - "$@" <<-'PY'
	import socket, struct, sys
	kind, count, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	src = "10.244.0.5"
	payload = b"x" * 16
	s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
	for i in range(count):
	    udp_len = 8 + len(payload) + (40 if kind == "malformed" else 0)
	    udp = struct.pack("!HHHH", 40000 + i, 53, udp_len, 0) + payload
	    frag = 0x2000 if kind == "fragment" else 0x4000  # MF, or DF
	    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x100 + i, frag, 64,
	                     socket.IPPROTO_UDP, 0, socket.inet_aton(src), socket.inet_aton(dst))
	    s.sendto(ip + udp, (dst, 0))
	PY
}

@test "status: program run counts grow with the packets each program saw" {
	local in0 eg0 in1 eg1
	sb_ok svc add 10.96.0.10:53/udp --backend "$(topo_pod_ip 1):53" || return 1
	status_json || return 1
	in0=$(runs tc_ingress)
	eg0=$(runs tc_egress)
	for i in 1 2 3 4 5; do udp_query 10.96.0.10 53 >/dev/null || true; done
	status_json || return 1
	in1=$(runs tc_ingress)
	eg1=$(runs tc_egress)
	e2e_note "5 UDP exchanges: tc_ingress ran $((in1 - in0)) times, tc_egress $((eg1 - eg0))"
	# At least the 5 requests in and the 5 replies out (ARP and the like come on top).
	((in1 - in0 >= 5)) || e2e_fail "tc_ingress runs grew by $((in1 - in0)), expected >= 5" || return 1
	((eg1 - eg0 >= 5)) || e2e_fail "tc_egress runs grew by $((eg1 - eg0)), expected >= 5" || return 1
	[ "$(runs xdp)" = 0 ] || e2e_fail "xdp ran $(runs xdp) times without --xdp" || return 1
	sb_ok status || return 1
	assert_contains "status shows the programs table" "NS PER RUN" "$SB_OUT" || return 1
	assert_match "status shows tc ingress runs" "svcbpf_tc_ingress +[0-9]" "$SB_OUT" || return 1
}

@test "status: with kernel.bpf_stats_enabled, the kernel's run count and time per run" {
	local cnt ns
	STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1 || return 1
	sb_ok svc add 10.96.0.10:53/udp --backend "$(topo_pod_ip 1):53" || return 1
	for i in 1 2 3; do udp_query 10.96.0.10 53 >/dev/null || true; done
	status_json || return 1
	cnt=$(jq -r '.programs[] | select(.hook == "tc_ingress") | .kernel_run_cnt' <<<"$SJ")
	ns=$(jq -r '.programs[] | select(.hook == "tc_ingress") | .kernel_run_time_ns' <<<"$SJ")
	e2e_note "kernel: tc_ingress ran $cnt times, $ns ns in all"
	((cnt >= 3 && ns > 0)) || e2e_fail "kernel run stats: cnt=$cnt ns=$ns" || return 1
	sb_ok status || return 1
	assert_match "status prints ns per run" "svcbpf_tc_ingress +[0-9.KM]+ +[0-9.KMGiB]+ +[0-9]+\.[0-9]" "$SB_OUT" || return 1
}

@test "status: reason counters count injected fragments, malformed packets and rejects exactly" {
	local f0 m0 r0 f1 m1 r1 out
	sb_ok svc add 10.96.0.10:53/udp --backend "$(topo_pod_ip 1):53" || return 1
	sb_ok svc add 10.96.0.11:53/udp || return 1 # no backend: rejected
	status_json || return 1
	f0=$(reason fragment pass)
	m0=$(reason malformed pass)
	r0=$(reason no_backend reject)
	inject fragment 7 10.96.0.10 || return 1
	inject malformed 4 10.96.0.10 || return 1
	for i in 1 2 3; do
		out=$(udp_query 10.96.0.11 53 2>&1) || true
	done
	status_json || return 1
	f1=$(reason fragment pass)
	m1=$(reason malformed pass)
	r1=$(reason no_backend reject)
	e2e_note "fragment +$((f1 - f0)), malformed +$((m1 - m0)), no_backend/reject +$((r1 - r0)); last reject: $out"
	assert_eq "fragments counted" 7 $((f1 - f0)) || return 1
	assert_eq "malformed counted" 4 $((m1 - m0)) || return 1
	assert_eq "rejects counted" 3 $((r1 - r0)) || return 1
	# Every reason is listed, with its action, zero or not.
	assert_eq "reasons listed" \
		"conntrack_full/untracked fragment/pass malformed/pass no_backend/drop no_backend/reject no_local_backend/drop rewrite_failed/drop snat_failed/drop source_range/drop" \
		"$(jq -r '[.reasons[] | "\(.reason)/\(.action)"] | sort | join(" ")' <<<"$SJ")" || return 1
	sb_ok status || return 1
	assert_match "status prints the reasons table" "fragment +pass +7" "$SB_OUT" || return 1
}
