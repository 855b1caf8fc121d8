#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# The CLI's contract: exit codes (0 ok, 1 failed or misused), one-line errors
# that name the problem, JSON on request, and bad input that changes neither
# the store nor the pinned maps. Runs svcbpf in a namespace of its own with
# one veth pair, a private pin dir and state dir; no traffic is sent.

load ../lib/e2e
load ../lib/cli

setup_file() {
	cli_ns_setup cli
}

teardown_file() {
	cli_ns_teardown
}

# A failed test must not leave the next one loaded.
teardown() {
	nsenter --net="/run/netns/$CLI_NS" "${SVCBPF:-$BATS_TEST_DIRNAME/../../build/svcbpf}" unload \
		>/dev/null 2>&1 || true
}

# The whole persistent state: the store's rows and every pinned map's entries, but the
# counters (they count every packet the interface gets, IPv6 neighbour discovery too, which no
# command controls).
snapshot() {
	nsenter --net="/run/netns/$CLI_NS" "${SVCBPF:-$BATS_TEST_DIRNAME/../../build/svcbpf}" svc list -o json
	for m in "$SVCBPF_PIN_DIR"/svcbpf_*; do
		[[ -e $m && $m != */svcbpf_cnt_* ]] && bpftool -j map dump pinned "$m"
	done
	true
}

# bad EXIT PATTERN ARGS...: fails with EXIT, one stderr line matching PATTERN,
# and leaves the state exactly as it was.
bad() {
	local want=$1 pattern=$2 before after
	shift 2
	before=$(snapshot)
	sb "$@"
	after=$(snapshot)
	assert_eq "exit code of 'svcbpf $*'" "$want" "$status"
	assert_eq "lines of output of 'svcbpf $*' ($output)" 1 "${#lines[@]}"
	assert_match "error of 'svcbpf $*'" "$pattern" "$output"
	assert_eq "state after 'svcbpf $*'" "$before" "$after"
}

@test "no arguments, help at every level" {
	sb
	assert_eq "exit code without a command" 1 "$status"
	assert_contains "usage" "Usage: svcbpf" "$output"
	for words in help "svc help" "backend help" "load help" "--help" "svc --help"; do
		sb $words
		assert_eq "exit code of 'svcbpf $words'" 0 "$status"
		assert_contains "help of '$words'" "Usage:" "$output"
	done
}

@test "commands: exact, unique prefix, ambiguous, unknown" {
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	assert_eq "svc add" 0 "$status"
	sb sv li
	assert_eq "unique prefixes 'sv li'" 0 "$status"
	assert_contains "svc list by prefix" "10.96.0.50:80/tcp" "$output"
	bad 1 "'s' is ambiguous: svc, service, status, sync" s
	bad 1 "unknown command 'frobnicate'" frobnicate
	bad 1 "unknown command 'frob'" svc frob
	sb svc del 10.96.0.50:80
	assert_eq "svc del" 0 "$status"
}

@test "svc add: addresses, ports and flags are validated before anything changes" {
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	assert_eq "seed service" 0 "$status"
	bad 1 "'10.96.0.300' is not an IPv4 address" svc add 10.96.0.300:80 --backend 10.244.1.10:8080
	bad 1 "missing or bad IPv4 address" svc add :80 --backend 10.244.1.10:8080
	bad 1 "port 0 out of range" svc add 10.96.0.50:0 --backend 10.244.1.10:8080
	bad 1 "port 65536 out of range" svc add 10.96.0.50:65536 --backend 10.244.1.10:8080
	bad 1 "port must be a decimal" svc add 10.96.0.50:0x50 --backend 10.244.1.10:8080
	bad 1 "port must be a decimal" svc add 10.96.0.50:080 --backend 10.244.1.10:8080
	bad 1 "is not an IPv4 address" svc add 010.96.0.50:80 --backend 10.244.1.10:8080
	bad 1 "port must be a decimal" svc add 10.96.0.50:80abc --backend 10.244.1.10:8080
	bad 1 "unknown protocol 'sctp'" svc add 10.96.0.50:80/sctp --backend 10.244.1.10:8080
	bad 1 "port must be a decimal" svc add 10.96.0.50:80 --backend 10.244.1.10:-1
	bad 1 "a backend takes no protocol" svc add 10.96.0.50:80 --backend 10.244.1.10:8080/udp
	bad 1 "is the service address itself" svc add 10.96.0.50:80 --backend 10.96.0.50:8080
	bad 1 "not a unicast address" svc add 10.96.0.50:80 --backend 127.0.0.1:8080
	bad 1 "invalid service address '0.0.0.0:80': not a unicast address" svc add 0.0.0.0:80
	bad 1 "invalid service address '224.0.0.1:80': not a unicast address" svc add 224.0.0.1:80
	bad 1 "invalid service address '255.255.255.255:80'" svc add 255.255.255.255:80
	bad 1 "backend 10.244.2.15:8080 given twice" svc add 10.96.0.50:80 \
		--backend 10.244.2.15:8080 --backend 10.244.2.15:8080
	bad 1 "missing VIP:PORT" svc add --backend 10.244.1.10:8080
	bad 1 "--backend needs IP:PORT" svc add 10.96.0.50:80 --backend
	bad 1 "unknown option '--bogus'" svc add 10.96.0.50:80 --bogus
	bad 1 "unexpected argument '10.244.1.10:8080'" svc add 10.96.0.50:80 10.244.1.10:8080
	bad 1 "unknown output format 'yaml'" svc list -o yaml
}

@test "svc add replaces the backend set; backend add/del; deleting what is not there fails" {
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080
	assert_eq "svc add" 0 "$status"
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080
	assert_eq "the same svc add again (idempotent)" 0 "$status"
	sb backend add 10.96.0.50:80 10.244.3.20:8080
	assert_eq "backend add" 0 "$status"
	bad 1 "already a backend of 10.96.0.50:80/tcp" backend add 10.96.0.50:80 10.244.3.20:8080
	bad 1 "no service 10.96.0.51:80/tcp" backend add 10.96.0.51:80 10.244.3.20:8080
	bad 1 "not a backend of 10.96.0.50:80/tcp" backend del 10.96.0.50:80 10.244.9.9:8080
	bad 1 "no such service" svc del 10.96.0.99:80
	bad 1 "no such service" svc del 10.96.0.50:80/udp
	bad 1 "needs VIP:PORT and IP:PORT" backend add 10.96.0.50:80
	sb svc list -o json
	run jq -r '[.services[] | select(.port == 80) | .backends[] | "\(.address):\(.port)"] | join(" ")' <<<"$output"
	assert_eq "backends after add" "10.244.1.10:8080 10.244.2.15:8080 10.244.3.20:8080" "$output"
	sb svc add 10.96.0.50:80 --backend 10.244.3.20:8080
	sb svc list -o json
	run jq -r '[.services[] | select(.port == 80) | .backends[] | .address] | join(" ")' <<<"$output"
	assert_eq "backends after the set was replaced" "10.244.3.20" "$output"
	sb svc del 10.96.0.50:80
	assert_eq "svc del" 0 "$status"
}

@test "load: bad interface, bad sizes, nothing loaded to unload; pins appear only on success" {
	bad 1 "nothing is loaded" unload
	bad 1 "cannot load on eth9: no such interface" load eth9
	[ ! -e "$SVCBPF_PIN_DIR" ] || e2e_fail "a failed load left $SVCBPF_PIN_DIR"
	bad 1 "invalid max-services '0'" load eth0 --max-services 0
	bad 1 "missing interface" load
	bad 1 "unknown option '--frob'" load eth0 --frob
	bad 1 "interface eth0 given twice" load eth0 eth0
	bad 1 "cannot load on lo: not an Ethernet device" load lo
	[ ! -e "$SVCBPF_PIN_DIR" ] || e2e_fail "a failed load left $SVCBPF_PIN_DIR"
	# A store that does not fit the sizes asked for: refused before anything is pinned.
	sb svc add 10.96.0.1:80 --backend 10.244.1.10:8080
	sb svc add 10.96.0.2:80 --backend 10.244.1.10:8080
	bad 1 "cannot load: the store holds 2 services \(--max-services 1\)" load eth0 --max-services 1
	[ ! -e "$SVCBPF_PIN_DIR" ] || e2e_fail "a load refused for size left $SVCBPF_PIN_DIR"
	sb load eth0 --max-services 2
	assert_eq "load with room ($output)" 0 "$status"
	sb svc del 10.96.0.1:80
	sb svc del 10.96.0.2:80
}

@test "loaded: map full is refused whole; resize while pinned is refused; unload cleans up" {
	sb svc add 10.96.0.1:80 --backend 10.244.1.10:8080
	sb load eth0 --max-services 2 --max-backends 4
	assert_eq "load with small maps ($output)" 0 "$status"
	sb svc add 10.96.0.2:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080
	assert_eq "second service fits" 0 "$status"
	bad 1 "service map full \(2 entries; raise --max-services\)" \
		svc add 10.96.0.3:80 --backend 10.244.1.10:8080
	bad 1 "backend map full \(4 entries; raise --max-backends\)" \
		svc add 10.96.0.2:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080 \
		--backend 10.244.3.20:8080 --backend 10.244.4.25:8080
	# At capacity, a service can still switch to a whole new set, and a batch that deletes one
	# service and adds another fits (removals are reconciled first).
	sb svc add 10.96.0.2:80 --backend 10.244.3.20:8080 --backend 10.244.4.25:8080
	assert_eq "switch a full service to a new set ($output)" 0 "$status"
	sb batch - <<<"svc add 10.96.0.9:80 --backend 10.244.1.10:8080
svc del 10.96.0.1:80"
	assert_eq "batch: delete one, add one, at the service limit ($output)" 0 "$status"
	sb svc list -o json
	run jq -r '[.services[] | "\(.address)=\(.state):\([.backends[].address] | join(","))"] | join(" ")' <<<"$output"
	assert_eq "maps follow the store at capacity" \
		"10.96.0.2=programmed:10.244.3.20,10.244.4.25 10.96.0.9=programmed:10.244.1.10" "$output"
	bad 1 "cannot resize --max-services to 8: pinned with 2 entries" load eth0 --max-services 8
	bad 1 "eth1 is not loaded" unload eth1
	sb svc list
	assert_contains "services are programmed" "programmed" "$output"
	assert_not_contains "no service is out of sync" "out-of-sync" "$output"
	sb unload
	assert_eq "unload" 0 "$status"
	[ ! -e "$SVCBPF_PIN_DIR" ] || e2e_fail "unload left $SVCBPF_PIN_DIR"
	sb svc del 10.96.0.9:80
	sb svc del 10.96.0.2:80
}

@test "two interfaces; unload one keeps the maps, unload the other removes them" {
	sb load eth0 eth1
	assert_eq "load two interfaces ($output)" 0 "$status"
	sb status -o json
	run jq -r '[.attachments[] | "\(.ifname)/\(.hook)/\(.mode)"] | join(" ")' <<<"$output"
	assert_eq "attachments" "eth0/tc_ingress/tcx eth0/tc_egress/tcx eth1/tc_ingress/tcx eth1/tc_egress/tcx" "$output"
	sb unload eth0
	[ -e "$SVCBPF_PIN_DIR/svcbpf_svc_v2" ] || e2e_fail "unload eth0 removed the maps while eth1 is loaded"
	sb unload eth1
	[ ! -e "$SVCBPF_PIN_DIR" ] || e2e_fail "the last unload left $SVCBPF_PIN_DIR"
}

@test "-o json: reads are JSON, errors are a JSON object" {
	sb status -o json
	assert_eq "status exit" 0 "$status"
	run jq -r '.loaded' <<<"$output"
	assert_eq "status .loaded when not loaded" false "$output"
	sb svc del 10.96.0.99:80 -o json
	assert_eq "exit code" 1 "$status"
	run jq -r '.error' <<<"$output"
	assert_match "JSON error" "no such service" "$output"
	for form in "-o json" "-j" "--json" "--output=json" "-o=json"; do
		sb $form version
		run jq -r '.version' <<<"$output"
		assert_match "version with '$form'" "^[0-9]+\.[0-9]+" "$output"
	done
	sb -o json svc add $'\xff:80'
	assert_eq "exit code of a non-UTF-8 address" 1 "$status"
	run jq -r '.error' <<<"$output"
	assert_match "JSON error for a non-UTF-8 address" "invalid address" "$output"
}

@test "non-root: a clear error, exit 1, nothing changed" {
	before=$(snapshot)
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"${SVCBPF:-$BATS_TEST_DIRNAME/../../build/svcbpf}" svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	assert_eq "exit code as nobody" 1 "$status"
	assert_match "error as nobody" "needs root \(or CAP_BPF and CAP_NET_ADMIN\)" "$output"
	assert_eq "state after a non-root attempt" "$before" "$(snapshot)"
}

@test "batch: all lines or none; errors name FILE:LINE; -o json reports the work" {
	local f=$CLI_TMP/batch.txt
	printf '%s\n' "# three services, one change" \
		"svc add 10.96.1.1:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080" \
		"" "svc add 10.96.1.2:53/udp --backend 10.244.1.10:53" \
		"svc add 10.96.1.3:80 --backend 10.244.3.20:8080" \
		"backend add 10.96.1.3:80 10.244.1.10:8080  # trailing comment" >"$f"
	sb batch "$f" -o json
	assert_eq "batch exit ($output)" 0 "$status"
	run jq -r '.changes' <<<"$output"
	assert_eq "changes applied" 4 "$output"
	sb svc list -o json
	run jq -r '[.services[] | "\(.address):\(.port)/\(.protocol)=\(.backend_count)"] | join(" ")' <<<"$output"
	assert_eq "services after the batch" "10.96.1.1:80/tcp=2 10.96.1.2:53/udp=1 10.96.1.3:80/tcp=2" "$output"

	printf '%s\n' "svc del 10.96.1.1:80" "svc add 10.96.1.9:80 --backend 10.244.1.10:8080" \
		"svc add 10.96.1.300:80" >"$f"
	bad 1 "^svcbpf: $f:3: invalid address '10.96.1.300:80'" batch "$f"
	printf '%s\n' "svc del 10.96.1.1:80" "svc del 10.96.1.1:80" >"$f"
	bad 1 "^svcbpf: $f:2: cannot delete 10.96.1.1:80/tcp: no such service" batch "$f"
	printf '%s\n' "svc add 10.96.1.9:80" "svc list" >"$f"
	bad 1 "$f:2: svc list: only changes belong in a batch" batch "$f"
	bad 1 "^svcbpf: -:1: unknown command 'load'" batch - <<<"load eth0"
	bad 1 "cannot read /nonexistent" batch /nonexistent
	sb batch - <<<"svc del 10.96.1.1:80
svc del 10.96.1.2:53/udp
svc del 10.96.1.3:80"
	assert_eq "batch from stdin ($output)" 0 "$status"
}

@test "maps behind the store (a change killed after its commit): status says so, sync repairs" {
	sb load eth0
	sb svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	assert_eq "svc add" 0 "$status"
	# What a change killed between its commit and its map writes leaves: the store has
	# a service the maps lack, and the marker.
	local key
	key=$(bpftool -j map dump pinned "$SVCBPF_PIN_DIR/svcbpf_svc_v2" | jq -r '.[0].key | join(" ")')
	# shellcheck disable=SC2086
	bpftool map delete pinned "$SVCBPF_PIN_DIR/svcbpf_svc_v2" key hex $key
	sb svc list -o json
	assert_eq "the service out of the maps" out-of-sync "$(jq -r '.services[0].state' <<<"$output")"
	touch "$SVCBPF_STATE_DIR/maps-behind"
	sb status
	assert_contains "status" "behind the store" "$output"
	sb sync
	assert_eq "sync" 0 "$status"
	sb status -o json
	assert_eq "maps_behind after sync" false "$(jq .maps_behind <<<"$output")"
	sb svc list -o json
	assert_eq "the service programmed again" programmed "$(jq -r '.services[0].state' <<<"$output")"
	sb svc del 10.96.0.50:80
}
