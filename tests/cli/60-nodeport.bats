#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# `svc add --nodeport`: the NodePort frontend 0.0.0.0:PORT a service gets, in the store and the
# pinned maps. Explicit and allocated ports, the frontend's flags and backend set in the BPF maps
# (the same Maglev table as its service), backend changes that follow, moves and deletes, and
# refusals (bad values, a port in use, a direct change of the NodePort) that change nothing.
# Runs svcbpf in a namespace of its own with one veth pair, a private pin dir and state dir; no
# traffic is sent (the e2e files send it).

load ../lib/e2e
load ../lib/cli

setup_file() {
	cli_ns_setup np
}

teardown_file() {
	cli_ns_teardown
}

# Each test starts loaded (small Maglev tables: quick to compare) with an empty store.
setup() {
	svcbpf unload >/dev/null 2>&1 || true
	rm -rf "$SVCBPF_STATE_DIR"
	sb load eth0 --maglev-size 251
	assert_eq "load ($output)" 0 "$status"
}

teardown() {
	svcbpf unload >/dev/null 2>&1 || true
}

svcbpf() {
	timeout -k 2 30 nsenter --net="/run/netns/$CLI_NS" \
		"${SVCBPF:-$BATS_TEST_DIRNAME/../../build/svcbpf}" "$@"
}

# sb ARGS...: svcbpf in the test namespace; sets $status, $output and $lines (bats run).
sb() {
	run svcbpf "$@"
}

# The whole persistent state: the state dir's files (but SQLite's shared-memory index, which a
# reader rewrites), the store as svc list sees it, and the service and backend maps.
snapshot() {
	(cd "$SVCBPF_STATE_DIR" && ls -1 && find . -type f ! -name '*-shm' ! -name lock -print0 |
		sort -z | xargs -0 sha256sum)
	svcbpf svc list -o json | sha256sum
	bpftool -j map dump pinned "$SVCBPF_PIN_DIR/svcbpf_svc_v2" | sha256sum
	bpftool -j map dump pinned "$SVCBPF_PIN_DIR/svcbpf_be_v1" | sha256sum
}


# dataplane: one line per service map entry, "ADDR:PORT/PROTO flags=F aff=T table=T", where T
# is the entry's Maglev table with each slot's backend id replaced by the backend's
# IP:PORT,weight,state from the backend map: two frontends with the same backend set have the
# same table.
dataplane() {
	/usr/bin/python3 - "$SVCBPF_PIN_DIR" <<'EOF'
import json, socket, struct, subprocess, sys
pin = sys.argv[1]
def dump(args):
    return json.loads(subprocess.run(["bpftool", "-j"] + args, check=True,
                                     capture_output=True, text=True).stdout or "[]")
def raw(h):
    return bytes(int(x, 16) for x in h)
be = {}
for e in dump(["map", "dump", "pinned", pin + "/svcbpf_be_v1"]):
    bid = struct.unpack("<I", raw(e["key"]))[0]
    ip, port, weight, state = struct.unpack("<4sHHB3x", raw(e["value"]))
    be[bid] = "%s:%d,%d,%d" % (socket.inet_ntoa(ip), socket.ntohs(port), weight, state)
mag = {}
for e in dump(["map", "dump", "pinned", pin + "/svcbpf_mag_v1"]):
    mag[struct.unpack("<I", raw(e["key"]))[0]] = struct.unpack("<I", raw(e["value"]))[0]
out = []
for e in dump(["map", "dump", "pinned", pin + "/svcbpf_svc_v2"]):
    vip, port, proto = struct.unpack("<4sHB1x", raw(e["key"]))
    sid, flags, aff = struct.unpack("<IH2xI4x", raw(e["value"]))
    table = "none"
    if sid in mag:
        t = dump(["map", "dump", "id", str(mag[sid])])[0]["value"]
        v = raw(t)
        ids = struct.unpack("<%dI" % (len(v) // 4), v)
        table = "|".join(be.get(i, "?%d" % i) for i in ids)
    out.append("%s:%d/%s flags=%d aff=%d table=%s" % (socket.inet_ntoa(vip), socket.ntohs(port),
               {6: "tcp", 17: "udp"}.get(proto, "?"), flags, aff, table))
print("\n".join(sorted(out)))
EOF
}

# entry ADDR:PORT/PROTO [FILE]: that frontend's line of 'dataplane' (or of FILE, its output)
# without its address ("" if none).
entry() {
	if [ -n "${2:-}" ]; then cat "$2"; else dataplane; fi |
		awk -v a="$1" '$1 == a { $1 = ""; sub(/^ /, ""); print }'
}

# same_as_parent CHILD PARENT: the child's entry has the parent's flags plus MASQ|EXTERNAL (6),
# the parent's affinity, and the parent's Maglev table (backend addresses, weights, states slot
# by slot).
same_as_parent() {
	local c p
	dataplane >"$CLI_TMP/dp"
	c=$(entry "$1" "$CLI_TMP/dp")
	p=$(entry "$2" "$CLI_TMP/dp")
	[ -n "$c" ] || e2e_fail "no service map entry for $1" || return 1
	[ -n "$p" ] || e2e_fail "no service map entry for $2" || return 1
	local cf=${c%% *} pf=${p%% *}
	assert_eq "flags of $1 (the service's | MASQ|EXTERNAL)" "flags=$((${pf#flags=} | 6))" "$cf"
	assert_eq "affinity and table of $1 = of $2" "${p#flags=* }" "${c#flags=* }"
	[[ $c != *"table=none"* ]] || e2e_fail "$1 has no Maglev table" || return 1
	e2e_note "$1: $(cut -c1-24 <<<"$c")..., the table of $2"
}

# store_be SVC: the backends of SVC in the store, "IP:PORT,weight,state ..." ("" if none).
store_be() {
	svcbpf svc get "$1" -o json | jq -r '[.backends[] | "\(.address):\(.port),\(.weight),\(.state)"] | join(" ")'
}

@test "nodeport given: a NodePort frontend with its service's backends, flags MASQ|EXTERNAL" {
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080 \
		--nodeport 30080
	assert_eq "svc add --nodeport 30080 ($output)" 0 "$status"
	assert_eq "nothing printed for a port given" "" "$output"
	sb svc list
	assert_match "list: the NodePort line" \
		"0\.0\.0\.0:30080/tcp +NodePort +2 +programmed +policy Cluster +nodeport-of 10\.96\.0\.50:80/tcp" \
		"$output"
	assert_match "list: the service line" "10\.96\.0\.50:80/tcp +ClusterIP +2 +programmed" "$output"
	assert_match "list: the header" "^SERVICE +TYPE +BACKENDS +STATE" "$output"
	sb svc list -o json
	assert_eq "json: the NodePort" \
		'{"type":"NodePort","external_traffic_policy":"Cluster","source_ranges":[],"parent":"10.96.0.50:80/tcp","state":"programmed","n":2}' \
		"$(jq -c '.services[] | select(.address == "0.0.0.0" and .port == 30080) |
			{type, external_traffic_policy, source_ranges, parent, state, n: .backend_count}' <<<"$output")"
	assert_eq "json: the service" '{"type":"ClusterIP","etp":null,"parent":null}' \
		"$(jq -c '.services[] | select(.address == "10.96.0.50") |
			{type, etp: .external_traffic_policy, parent}' <<<"$output")"
	sb svc get 0.0.0.0:30080
	assert_eq "svc get ($output)" 0 "$status"
	assert_match "svc get: the NodePort" "^SERVICE +TYPE .*0\.0\.0\.0:30080/tcp +NodePort" "$output"
	assert_eq "the same backends in the store" "$(store_be 10.96.0.50:80)" "$(store_be 0.0.0.0:30080)"
	same_as_parent 0.0.0.0:30080/tcp 10.96.0.50:80/tcp
	assert_eq "the service's own entry: flags 0" 0 \
		"$(entry 10.96.0.50:80/tcp | sed -E 's/^flags=([0-9]+).*/\1/')"

	# UDP and affinity: the NodePort takes the service's protocol and affinity.
	sb svc add 10.96.0.10:53/udp --backend 10.244.1.10:53 --affinity client-ip,timeout=60 \
		--nodeport=30053
	assert_eq "svc add udp ($output)" 0 "$status"
	same_as_parent 0.0.0.0:30053/udp 10.96.0.10:53/udp
	assert_match "affinity in the NodePort's entry" "aff=60 " "$(entry 0.0.0.0:30053/udp)"
	# Services without a NodePort list as before (no TYPE column).
	sb svc del 10.96.0.50:80
	sb svc del 10.96.0.10:53/udp
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	sb svc list
	assert_eq "list of a ClusterIP only" "SERVICE                  BACKENDS STATE" "${lines[0]}"
}

@test "nodeport 0: allocated in 30000-32767, printed, kept when added again" {
	sb svc add 10.96.0.51:80 --backend 10.244.1.10:8080 --nodeport 0
	assert_eq "svc add --nodeport 0 ($output)" 0 "$status"
	assert_match "the allocated port printed" '^10\.96\.0\.51:80/tcp nodePort [0-9]+$' "$output"
	local port=${output##* }
	[ "$port" -ge 30000 ] && [ "$port" -le 32767 ] || e2e_fail "nodePort $port out of range"
	e2e_note "allocated nodePort $port"
	same_as_parent "0.0.0.0:$port/tcp" 10.96.0.51:80/tcp
	sb svc list -o json
	assert_eq "json: the allocated NodePort" "NodePort 10.96.0.51:80/tcp" \
		"$(jq -r --argjson p "$port" '.services[] | select(.address == "0.0.0.0" and .port == $p) |
			"\(.type) \(.parent)"' <<<"$output")"
	# Added again with 0 (or the same port): the port it has stays.
	sb svc add 10.96.0.51:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080 --nodeport 0
	assert_eq "added again with 0" "10.96.0.51:80/tcp nodePort $port" "$output"
	sb svc add 10.96.0.51:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080 \
		--nodeport "$port"
	assert_eq "added again with its port ($output)" "0 " "$status $output"
	same_as_parent "0.0.0.0:$port/tcp" 10.96.0.51:80/tcp
	# -o json: the service and the port.
	sb -o json svc add 10.96.0.52:80 --backend 10.244.1.10:8080 --nodeport 0
	assert_eq "svc add -o json ($output)" 0 "$status"
	assert_eq "json of an allocation" '"10.96.0.52:80/tcp" true' \
		"$(jq -c '.service, (.nodeport >= 30000 and .nodeport <= 32767 and .nodeport != '"$port"')' <<<"$output" | paste -sd' ')"
	# Every port different: 20 more allocations.
	for i in $(seq 1 20); do
		sb svc add "10.96.1.$i:80" --nodeport 0
		assert_eq "allocation $i ($output)" 0 "$status"
	done
	sb svc list -o json
	assert_eq "22 distinct NodePorts in range" "22 22" \
		"$(jq -r '[.services[] | select(.type == "NodePort") | .port | select(. >= 30000 and . <= 32767)] |
			"\(length) \(unique | length)"' <<<"$output")"
}

@test "backend add, del, drain, weight on the service apply to its NodePort, in the maps too" {
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --nodeport 30080
	local step
	for step in "backend add 10.96.0.50:80 10.244.2.15:8080" \
		"backend add 10.96.0.50:80 10.244.3.20:8080,weight=3" \
		"backend drain 10.96.0.50:80 10.244.1.10:8080" \
		"backend weight 10.96.0.50:80 10.244.2.15:8080 7" \
		"backend undrain 10.96.0.50:80 10.244.1.10:8080" \
		"backend del 10.96.0.50:80 10.244.3.20:8080" \
		"svc add 10.96.0.50:80 --backend 10.244.4.25:8080 --nodeport 30080"; do
		# shellcheck disable=SC2086
		sb $step
		assert_eq "$step ($output)" 0 "$status"
		assert_eq "store after '$step'" "$(store_be 10.96.0.50:80)" "$(store_be 0.0.0.0:30080)"
		same_as_parent 0.0.0.0:30080/tcp 10.96.0.50:80/tcp
	done
	assert_eq "the last set" "10.244.4.25:8080,1,active" "$(store_be 0.0.0.0:30080)"
	sb svc list
	assert_not_contains "nothing out of sync" "out-of-sync" "$output"
	# The backends dropped are gone from the backend map (both frontends' copies).
	assert_eq "backend map entries" 2 \
		"$(bpftool -j map dump pinned "$SVCBPF_PIN_DIR/svcbpf_be_v1" | jq length)"
}

@test "nodeport moves when added again with another, goes without one; svc del removes both" {
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --nodeport 30080
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --nodeport 30090
	assert_eq "moved ($output)" 0 "$status"
	assert_eq "30080 gone from the maps" "" "$(entry 0.0.0.0:30080/tcp)"
	same_as_parent 0.0.0.0:30090/tcp 10.96.0.50:80/tcp
	sb svc get 0.0.0.0:30080
	assert_eq "30080 gone from the store" "1 svcbpf: no service 0.0.0.0:30080/tcp" "$status $output"
	# The freed port is free for another service.
	sb svc add 10.96.0.51:80 --backend 10.244.2.15:8080 --nodeport 30080
	assert_eq "30080 reused ($output)" 0 "$status"
	same_as_parent 0.0.0.0:30080/tcp 10.96.0.51:80/tcp
	# Without --nodeport: the service keeps its backends, its NodePort goes.
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	assert_eq "added again without --nodeport ($output)" 0 "$status"
	assert_eq "30090 gone from the maps" "" "$(entry 0.0.0.0:30090/tcp)"
	assert_match "the service stays" "flags=0 " "$(entry 10.96.0.50:80/tcp)"
	# svc del: the service and its NodePort, store and maps, their backends freed.
	sb svc del 10.96.0.51:80
	assert_eq "svc del ($output)" 0 "$status"
	assert_eq "both gone from the maps" "" "$(entry 0.0.0.0:30080/tcp)$(entry 10.96.0.51:80/tcp)"
	sb svc list -o json
	assert_eq "the store keeps one service" "10.96.0.50:80" \
		"$(jq -r '[.services[] | "\(.address):\(.port)"] | join(" ")' <<<"$output")"
	assert_eq "one backend left in the map" 1 \
		"$(bpftool -j map dump pinned "$SVCBPF_PIN_DIR/svcbpf_be_v1" | jq length)"
	dataplane >"$CLI_TMP/dp"
	assert_eq "one service map entry" 1 "$(wc -l <"$CLI_TMP/dp")"
}

@test "a change aimed at the NodePort itself is refused, nothing changes" {
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --nodeport 30080
	local why="cannot change 0\.0\.0\.0:30080/tcp: it is the NodePort of 10\.96\.0\.50:80/tcp \(change that service\)$"
	cli_bad "^svcbpf: $why" backend add 0.0.0.0:30080 10.244.2.15:8080
	cli_bad "^svcbpf: $why" backend del 0.0.0.0:30080 10.244.1.10:8080
	cli_bad "^svcbpf: $why" backend drain 0.0.0.0:30080 10.244.1.10:8080
	cli_bad "^svcbpf: $why" backend weight 0.0.0.0:30080 10.244.1.10:8080 5
	cli_bad "^svcbpf: $why" svc del 0.0.0.0:30080
	cli_bad "^svcbpf: invalid service address '0\.0\.0\.0:30080': not a unicast address$" \
		svc add 0.0.0.0:30080 --backend 10.244.2.15:8080
	# In a batch: the line named, nothing of the batch applied.
	printf '%s\n' "svc add 10.96.0.60:80 --backend 10.244.1.10:8080" \
		"backend add 0.0.0.0:30080 10.244.2.15:8080" >"$CLI_TMP/b"
	cli_bad "^svcbpf: $CLI_TMP/b:2: $why" batch "$CLI_TMP/b"
	same_as_parent 0.0.0.0:30080/tcp 10.96.0.50:80/tcp
}

@test "bad nodePort values and a port in use are refused, nothing changes" {
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --nodeport 30080
	sb svc add 10.96.0.10:53/udp --backend 10.244.1.10:53 --nodeport 30053
	local v
	for v in 29999 32768 65536 -1 abc 030080 ""; do
		cli_bad "^svcbpf: invalid nodePort '$v': must be 30000-32767, or 0 to allocate$" \
			svc add 10.96.0.51:80 --backend 10.244.1.10:8080 "--nodeport=$v"
	done
	cli_bad "^svcbpf: invalid nodePort '80': must be 30000-32767, or 0 to allocate$" \
		svc add 10.96.0.51:80 --nodeport 80
	cli_bad "^svcbpf: svc add: --nodeport given twice" \
		svc add 10.96.0.51:80 --nodeport 30081 --nodeport 30082
	cli_bad "^svcbpf: --nodeport needs a port" svc add 10.96.0.51:80 --nodeport
	cli_bad "^svcbpf: cannot add 10\.96\.0\.51:80/tcp: nodePort 30080 is in use by 0\.0\.0\.0:30080/tcp \(NodePort of 10\.96\.0\.50:80/tcp\)$" \
		svc add 10.96.0.51:80 --backend 10.244.1.10:8080 --nodeport 30080
	# Either protocol: a UDP NodePort's port is not free for TCP.
	cli_bad "^svcbpf: cannot add 10\.96\.0\.51:80/tcp: nodePort 30053 is in use by 0\.0\.0\.0:30053/udp \(NodePort of 10\.96\.0\.10:53/udp\)$" \
		svc add 10.96.0.51:80 --nodeport 30053
	# Moving a NodePort onto a taken one: refused, the old one stays.
	cli_bad "^svcbpf: cannot add 10\.96\.0\.50:80/tcp: nodePort 30053 is in use" \
		svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --nodeport 30053
	# A batch: the conflicting line named, nothing applied; one that fits applies whole.
	printf '%s\n' "svc add 10.96.0.61:80 --backend 10.244.1.10:8080 --nodeport 30100" \
		"svc add 10.96.0.62:80 --backend 10.244.1.10:8080 --nodeport 30100" >"$CLI_TMP/b"
	cli_bad "^svcbpf: $CLI_TMP/b:2: cannot add 10\.96\.0\.62:80/tcp: nodePort 30100 is in use by 0\.0\.0\.0:30100/tcp \(NodePort of 10\.96\.0\.61:80/tcp\)$" \
		batch "$CLI_TMP/b"
	printf '%s\n' "svc add 10.96.0.61:80 --backend 10.244.1.10:8080 --nodeport 30100" \
		"svc add 10.96.0.62:80 --backend 10.244.2.15:8080 --nodeport 0" \
		"backend add 10.96.0.61:80 10.244.3.20:8080" >"$CLI_TMP/b"
	sb batch "$CLI_TMP/b"
	assert_eq "batch with NodePorts ($output)" 0 "$status"
	assert_match "the batch prints the allocated port" '^10\.96\.0\.62:80/tcp nodePort [0-9]+$' "$output"
	same_as_parent 0.0.0.0:30100/tcp 10.96.0.61:80/tcp
	same_as_parent "0.0.0.0:${output##* }/tcp" 10.96.0.62:80/tcp
	assert_eq "the batch's backend add reached the NodePort" \
		"10.244.1.10:8080,1,active 10.244.3.20:8080,1,active" "$(store_be 0.0.0.0:30100)"
	sb svc list
	assert_not_contains "nothing out of sync" "out-of-sync" "$output"
}

@test "not loaded: the NodePort is stored, and programmed by the next load" {
	svcbpf unload
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080 \
		--nodeport 30080
	assert_eq "svc add, not loaded ($output)" 0 "$status"
	sb svc get 0.0.0.0:30080 -o json
	assert_eq "stored, not loaded" "not-loaded NodePort" "$(jq -r '"\(.state) \(.type)"' <<<"$output")"
	sb load eth0 --maglev-size 251
	assert_eq "load ($output)" 0 "$status"
	same_as_parent 0.0.0.0:30080/tcp 10.96.0.50:80/tcp
	sb status -o json
	assert_eq "status: maps not behind" false "$(jq .maps_behind <<<"$output")"
}
