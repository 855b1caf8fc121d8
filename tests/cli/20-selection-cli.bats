#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# The CLI of backend selection: weights, drain, client-IP affinity, 'svc explain',
# 'ct list|flush', and the Maglev and conntrack settings of 'load'. Good input does what it
# says and shows in 'svc list' and 'status'; bad input gets one stderr line, exit 1 (misuse, invalid
# value or refusal), and leaves the store and the pinned maps exactly as they were.
# Runs svcbpf in a namespace of its own with one veth pair, a private pin dir and state dir;
# no traffic is sent. Every test starts unloaded with an empty store.

load ../lib/e2e
load ../lib/cli

setup_file() {
	cli_ns_setup sel
	export PYTHON # resolved once by ../lib/e2e; every test loads it again
}

teardown_file() {
	cli_ns_teardown
}

# Each test starts unloaded, with an empty store.
teardown() {
	[ ! -e "$SVCBPF_PIN_DIR" ] || svcbpf unload >/dev/null 2>&1 || true
	rm -rf "${SVCBPF_PIN_DIR:?}" "${SVCBPF_STATE_DIR:?}"
}

# svcbpf ARGS...: the binary in the test namespace, as is.
svcbpf() {
	nsenter --net="/run/netns/$CLI_NS" "$SVCBPF_BIN" "$@"
}

# sb ARGS...: svcbpf, as bats' 'run --separate-stderr' would, at a fraction of its cost: sets
# $status, $output (stdout), $stderr and $stderr_lines.
sb() {
	status=0
	output=$(svcbpf "$@" 2>"$CLI_TMP/stderr") || status=$?
	mapfile -t stderr_lines <"$CLI_TMP/stderr"
	local IFS=$'\n'
	stderr="${stderr_lines[*]}"
}

# ok ARGS...: svcbpf ARGS must exit 0; its stdout is in $output.
ok() {
	sb "$@"
	[ "$status" = 0 ] && return 0
	printf 'FAIL: svcbpf %s\n  expected: exit 0\n  actual:   exit %s: %s%s\n' \
		"$*" "$status" "$stderr" "$output" >&2
	return 1
}

# The whole persistent state: the store's rows and, when pinned, the pins, what 'status'
# reports of the dataplane (settings, attachments with their program and link ids, map fill,
# counters) and every pinned map's entries (one bpftool for all). Read from the root
# namespace, where svcbpf starts faster: interface names may read differently there, but the
# same before and after.
snapshot() {
	"$SVCBPF_BIN" svc list -o json
	[ -e "$SVCBPF_PIN_DIR" ] || return 0
	echo "$SVCBPF_PIN_DIR"/*
	# Not the programs' run counts: they count every packet the interface gets (IPv6
	# neighbour discovery too), which no command controls.
	"$SVCBPF_BIN" status | sed '/^PROGRAM /,/^$/d'
	# Nor the counters map, for the same reason; a ring buffer has no entries to dump (and
	# bpftool's batch stops after trying).
	printf 'map dump pinned %s\n' "$SVCBPF_PIN_DIR"/svcbpf_* | grep -v '_cnt_\|_evt_' |
		bpftool -j batch file - || true
}

# bad EXIT PATTERN ARGS...: fails with EXIT, nothing on stdout, one stderr line matching
# PATTERN, and the state exactly as it was.
bad() {
	local want=$1 pattern=$2 before after
	shift 2
	before=$(snapshot)
	sb "$@"
	after=$(snapshot)
	assert_eq "exit code of 'svcbpf $*' ($stderr)" "$want" "$status"
	assert_eq "stdout of 'svcbpf $*'" "" "$output"
	assert_eq "lines on stderr of 'svcbpf $*' ($stderr)" 1 "${#stderr_lines[@]}"
	assert_match "error of 'svcbpf $*'" "$pattern" "$stderr"
	assert_eq "state after 'svcbpf $*'" "$before" "$after"
}

# re_escape TEXT: TEXT as an ERE that matches it literally.
re_escape() {
	# shellcheck disable=SC2001 # one sed beats a bracket expression in ${//}
	sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$1"
}

# services: one line a service from 'svc list -o json':
# "VIP:PORT/PROTO STATE AFFINITY/TIMEOUT BE:PORT=WEIGHT/STATE..."
services() {
	"$SVCBPF_BIN" svc list -o json | jq -r '.services[] |
		"\(.address):\(.port)/\(.protocol) \(.state) \(.affinity)/\(.affinity_timeout) " +
		([.backends[] | "\(.address):\(.port)=\(.weight)/\(.state)"] | join(" "))'
}

# The object 'svc explain -o json' prints. Tolerates the object being nested under a "?"
# key (see the test "svc explain -o json: one top-level object"), so the tests of what
# explain says do not hinge on that.
EXPLAIN='(if has("?") then .["?"] else . end)'

# explain_many SVC FIRST COUNT: 'svc explain SVC --from 10.244.0.5:PORT -o json' for COUNT
# client ports from FIRST, four at a time; prints one line a port, in port order:
# "PORT BACKEND:PORT REASON DATAPLANE", or "ERROR ..." for a command that failed.
explain_many() {
	seq "$2" $(($2 + $3 - 1)) |
		nsenter --net="/run/netns/$CLI_NS" xargs -P 4 -I{} \
			"$SVCBPF_BIN" svc explain "$1" --from 10.244.0.5:{} -o json |
		jq -r 'if .error then "ERROR \(.error)" else '"$EXPLAIN"' |
			"\(.client | sub(".*:"; "")) \(.backend.address):\(.backend.port) \(.reason) \(.dataplane)"
			end' | sort -n
}

# ----------------------------------------------------------------------------- weights

@test "weights: 0, 1 (default) and 10000 are accepted and listed, plain and JSON" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080,weight=0 \
		--backend=10.244.2.15:8080 --backend 10.244.3.20:8080,weight=10000
	ok backend add 10.96.0.50:80 10.244.4.25:8080,weight=7
	ok backend add 10.96.0.50:80 10.244.5.30:8080
	assert_eq "services after weighted adds" \
		"10.96.0.50:80/tcp not-loaded none/0 10.244.1.10:8080=0/active 10.244.2.15:8080=1/active 10.244.3.20:8080=10000/active 10.244.4.25:8080=7/active 10.244.5.30:8080=1/active" \
		"$(services)"
	ok svc list
	assert_match "plain list: weight 0" "-> 10\.244\.1\.10:8080 +weight 0 +active" "$output"
	assert_match "plain list: default weight" "-> 10\.244\.2\.15:8080 +weight 1 +active" "$output"
	assert_match "plain list: weight 10000" "-> 10\.244\.3\.20:8080 +weight 10000 +active" "$output"
	# 'svc add' replaces the set and its weights; a backend that stays takes its new weight.
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080,weight=3
	assert_eq "services after the set was replaced" \
		"10.96.0.50:80/tcp not-loaded none/0 10.244.1.10:8080=3/active" "$(services)"
}

@test "weights: out of range, not a number, empty, unknown key are refused; nothing changes" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080,weight=4 --backend 10.244.2.15:8080
	local b
	for b in 10.244.3.20:8080,weight=10001 10.244.3.20:8080,weight=4294967296; do
		bad 1 "invalid backend '$b': invalid weight '.*': must be 0-10000" \
			svc add 10.96.0.50:80 --backend "$b"
	done
	for b in 10.244.3.20:8080,weight=-1 10.244.3.20:8080,weight=abc 10.244.3.20:8080,weight= \
		10.244.3.20:8080,weight=01 10.244.3.20:8080,weight=1.5 \
		10.244.3.20:8080,weight=1,weight=2; do
		bad 1 "invalid backend '$b': invalid weight '.*': not a decimal number" \
			svc add 10.96.0.50:80 --backend "$b"
	done
	bad 1 "^svcbpf: invalid backend '10.244.3.20:8080,weight=10001': invalid weight '10001': must be 0-10000$" \
		backend add 10.96.0.50:80 10.244.3.20:8080,weight=10001
	bad 1 "^svcbpf: invalid backend '10.244.3.20:8080,weight=-1': invalid weight '-1': not a decimal number$" \
		backend add 10.96.0.50:80 10.244.3.20:8080,weight=-1
	for b in 10.244.3.20:8080,foo=1 "10.244.3.20:8080," 10.244.3.20:8080,weight; do
		bad 1 "invalid backend '$b': expected IP:PORT or IP:PORT,weight=N" \
			svc add 10.96.0.50:80 --backend "$b"
	done
	bad 1 "^svcbpf: invalid address '': expected IP:PORT$" svc add 10.96.0.50:80 --backend ,weight=
	bad 1 "^svcbpf: invalid address '': expected IP:PORT$" backend add 10.96.0.50:80 ,weight=1
	# A weight belongs to add (and 'backend weight'), not to the verbs that name a backend.
	bad 1 "backend del: give the weight on its own \('backend weight'\)" \
		backend del 10.96.0.50:80 10.244.1.10:8080,weight=4
	bad 1 "backend drain: give the weight on its own" \
		backend drain 10.96.0.50:80 10.244.1.10:8080,weight=4
	bad 1 "backend weight: give the weight on its own" \
		backend weight 10.96.0.50:80 10.244.1.10:8080,weight=4 5
	assert_eq "services after the refusals" \
		"10.96.0.50:80/tcp not-loaded none/0 10.244.1.10:8080=4/active 10.244.2.15:8080=1/active" \
		"$(services)"
}

# ----------------------------------------------------------------------------- affinity

@test "affinity: none, client-ip (10800 s) and client-ip,timeout=S are accepted and listed" {
	ok svc add 10.96.0.51:80 --backend 10.244.1.10:8080 --affinity none
	ok svc add 10.96.0.52:80 --backend 10.244.1.10:8080 --affinity client-ip
	ok svc add 10.96.0.53:53/udp --backend 10.244.1.10:53 --affinity=client-ip,timeout=60
	ok svc add 10.96.0.54:80 --affinity client-ip,timeout=1
	ok svc add 10.96.0.55:80 --affinity client-ip,timeout=86400
	assert_eq "services with affinity" \
		"10.96.0.51:80/tcp not-loaded none/0 10.244.1.10:8080=1/active
10.96.0.52:80/tcp not-loaded client-ip/10800 10.244.1.10:8080=1/active
10.96.0.53:53/udp not-loaded client-ip/60 10.244.1.10:53=1/active
10.96.0.54:80/tcp not-loaded client-ip/1 
10.96.0.55:80/tcp not-loaded client-ip/86400 " "$(services)"
	ok svc list
	assert_match "plain list: no affinity shown for none" "10\.96\.0\.51:80/tcp +1 +not-loaded"$'\n' "$output"
	assert_contains "plain list: default timeout" "affinity client-ip,timeout=10800" "$output"
	assert_contains "plain list: timeout 60" "affinity client-ip,timeout=60" "$output"
	# Re-adding with 'none' switches it off.
	ok svc add 10.96.0.52:80 --backend 10.244.1.10:8080 --affinity none
	sb svc list -o json
	assert_eq "affinity after 'none'" "none 0" \
		"$(jq -r '.services[] | select(.address == "10.96.0.52") | "\(.affinity) \(.affinity_timeout)"' <<<"$output")"
}

@test "affinity: bad names and timeouts are refused; nothing changes" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --affinity client-ip,timeout=120
	local a
	for a in client-ip,timeout=0 client-ip,timeout=86401 client-ip,timeout=4294967297; do
		bad 1 "invalid affinity '$a': invalid affinity timeout '.*': must be 1-86400" \
			svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --affinity "$a"
	done
	for a in client-ip,timeout=abc client-ip,timeout= client-ip,timeout=-5 \
		client-ip,timeout=060 client-ip,timeout=60,foo=1; do
		bad 1 "invalid affinity '$a': invalid affinity timeout '.*': not a decimal number" \
			svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --affinity "$a"
	done
	for a in client "client-ip," client-ip,ttl=60 none,timeout=5 CLIENT-IP ""; do
		bad 1 "invalid affinity '$a': expected none or client-ip\[,timeout=SECONDS\]" \
			svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --affinity "$a"
	done
	bad 1 "--affinity needs none or client-ip" svc add 10.96.0.50:80 --affinity
	# The service is checked first, the affinity before the backends: the first error wins.
	bad 1 "invalid affinity 'client'" svc add 10.96.0.50:80 --backend 10.244.1.10:8080,weight=x \
		--affinity client
	assert_eq "service after the refusals" \
		"10.96.0.50:80/tcp not-loaded client-ip/120 10.244.1.10:8080=1/active" "$(services)"
}

# ----------------------------------------------------------------------------- drain, weight

@test "drain, undrain, weight: the backend's state and weight change, plain and JSON" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080,weight=5
	ok backend drain 10.96.0.50:80 10.244.1.10:8080
	ok backend drain 10.96.0.50:80 10.244.1.10:8080
	assert_eq "after drain (twice)" \
		"10.96.0.50:80/tcp not-loaded none/0 10.244.1.10:8080=1/draining 10.244.2.15:8080=5/active" \
		"$(services)"
	ok svc list
	assert_match "plain list: draining" "-> 10\.244\.1\.10:8080 +weight 1 +draining" "$output"
	ok backend weight 10.96.0.50:80 10.244.1.10:8080 0
	assert_eq "a weight change keeps the drain" \
		"10.96.0.50:80/tcp not-loaded none/0 10.244.1.10:8080=0/draining 10.244.2.15:8080=5/active" \
		"$(services)"
	ok backend undrain 10.96.0.50:80 10.244.1.10:8080
	ok backend weight 10.96.0.50:80 10.244.2.15:8080 10000
	ok backend we 10.96.0.50:80 10.244.1.10:8080 2
	assert_eq "after undrain and weights (one by prefix)" \
		"10.96.0.50:80/tcp not-loaded none/0 10.244.1.10:8080=2/active 10.244.2.15:8080=10000/active" \
		"$(services)"
}

@test "drain, undrain, weight on a missing service or backend: exit 1, one line, nothing changed" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080,weight=5
	ok backend drain 10.96.0.50:80 10.244.2.15:8080
	local verb extra
	for verb in drain undrain weight; do
		extra=()
		[ "$verb" = weight ] && extra=(3)
		bad 1 "^svcbpf: cannot change backend 10\.244\.1\.10:8080: no service 10\.96\.0\.51:80/tcp$" \
			backend "$verb" 10.96.0.51:80 10.244.1.10:8080 "${extra[@]}"
		bad 1 "^svcbpf: cannot change backend 10\.244\.9\.9:8080: not a backend of 10\.96\.0\.50:80/tcp$" \
			backend "$verb" 10.96.0.50:80 10.244.9.9:8080 "${extra[@]}"
	done
	bad 1 "^svcbpf: cannot change backend 10\.244\.1\.10:8080: no service 10\.96\.0\.50:80/udp$" \
		backend drain 10.96.0.50:80/udp 10.244.1.10:8080
	bad 1 "invalid address '10\.96\.0\.300:80'" backend undrain 10.96.0.300:80 10.244.1.10:8080
	bad 1 "backend weight: needs VIP:PORT and IP:PORT and a weight" backend weight 10.96.0.50:80
	bad 1 "backend undrain: unknown option '--now'" \
		backend undrain 10.96.0.50:80 10.244.1.10:8080 --now
	bad 1 "backend drain: too many arguments" backend drain 10.96.0.50:80 10.244.1.10:8080 3
	assert_eq "services after the refusals" \
		"10.96.0.50:80/tcp not-loaded none/0 10.244.1.10:8080=1/active 10.244.2.15:8080=5/draining" \
		"$(services)"
}

@test "backend weight: a bad N is refused; nothing changes" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080,weight=9
	local n
	for n in 10001 4294967296; do
		bad 1 "^svcbpf: invalid weight '$n': must be 0-10000$" \
			backend weight 10.96.0.50:80 10.244.1.10:8080 "$n"
	done
	for n in abc "" 1.5 01 0x10 " 5" +5; do
		bad 1 "^svcbpf: invalid weight '$(re_escape "$n")': not a decimal number$" \
			backend weight 10.96.0.50:80 10.244.1.10:8080 "$n"
	done
	# A leading '-' reads as an option, as for every positional argument.
	bad 1 "backend weight: unknown option '-1'" backend weight 10.96.0.50:80 10.244.1.10:8080 -1
	bad 1 "backend weight: needs VIP:PORT and IP:PORT and a weight" \
		backend weight 10.96.0.50:80 10.244.1.10:8080
	bad 1 "backend weight: too many arguments" backend weight 10.96.0.50:80 10.244.1.10:8080 3 4
	assert_eq "service after the refusals" \
		"10.96.0.50:80/tcp not-loaded none/0 10.244.1.10:8080=9/active" "$(services)"
}

# ----------------------------------------------------------------------------- svc explain

@test "svc explain: usage errors, bad addresses, unknown services; nothing changes" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	bad 1 "svc explain: needs VIP:PORT and --from IP:PORT" svc explain 10.96.0.50:80
	bad 1 "svc explain: needs VIP:PORT and --from IP:PORT" svc explain --from 10.244.0.5:1000
	bad 1 "--from needs a value" svc explain 10.96.0.50:80 --from
	bad 1 "--proto needs a value" svc explain 10.96.0.50:80 --from 10.244.0.5:1000 --proto
	bad 1 "--proto must be tcp or udp, not 'bogus'" \
		svc explain 10.96.0.50:80 --from 10.244.0.5:1000 --proto bogus
	bad 1 "svc explain: unknown option '--via'" svc explain 10.96.0.50:80 --via 10.244.0.5:1000
	bad 1 "svc explain: --to is for a NodePort \\(0\\.0\\.0\\.0:PORT\\)" \
		svc explain 10.96.0.50:80 --from 10.244.0.5:1000 --to 10.244.0.1
	bad 1 "svc explain: 0\\.0\\.0\\.0:30080 is a NodePort: give --to NODE-IP" \
		svc explain 0.0.0.0:30080 --from 10.244.0.5:1000
	bad 1 "svc explain: --to given twice" \
		svc explain 0.0.0.0:30080 --from 10.244.0.5:1000 --to 10.244.0.1 --to 10.244.0.1
	bad 1 "invalid --to '10\\.244\\.0\\.1:80': expected the node's IPv4 address" \
		svc explain 0.0.0.0:30080 --from 10.244.0.5:1000 --to 10.244.0.1:80
	bad 1 "svc explain: unexpected argument '10.96.0.51:80'" \
		svc explain 10.96.0.50:80 10.96.0.51:80 --from 10.244.0.5:1000
	bad 1 "invalid address '10\.244\.0\.5': expected IP:PORT" \
		svc explain 10.96.0.50:80 --from 10.244.0.5
	bad 1 "'10\.244\.0\.500' is not an IPv4 address" \
		svc explain 10.96.0.50:80 --from 10.244.0.500:1000
	bad 1 "port 0 out of range" svc explain 10.96.0.50:80 --from 10.244.0.5:0
	bad 1 "invalid --from '10\.244\.0\.5:1000/udp': the client's IP:PORT" \
		svc explain 10.96.0.50:80 --from 10.244.0.5:1000/udp
	bad 1 "invalid address '10\.96\.0\.300:80'" svc explain 10.96.0.300:80 --from 10.244.0.5:1000
	bad 1 "^svcbpf: no service 10\.96\.0\.51:80/tcp$" svc explain 10.96.0.51:80 --from 10.244.0.5:1000
	bad 1 "^svcbpf: no service 10\.96\.0\.50:80/udp$" \
		svc explain 10.96.0.50:80 --from 10.244.0.5:1000 --proto udp
	bad 1 "^svcbpf: no service 10\.96\.0\.50:80/udp$" svc explain 10.96.0.50:80/udp \
		--from 10.244.0.5:1000
	bad 1 "-:1: svc explain: only changes belong in a batch" \
		batch - <<<"svc explain 10.96.0.50:80 --from 10.244.0.5:1000"
	sb svc explain 10.96.0.51:80 --from 10.244.0.5:1000 -o json
	assert_eq "exit code of explain of an unknown service, -o json" 1 "$status"
	assert_eq "JSON error" "no service 10.96.0.51:80/tcp" "$(jq -r .error <<<"$output")"
}

# Bug: the contradiction names the service twice instead of the --proto value
# (cmd_svc.c passes argv[0] where the value is meant).
@test "svc explain: --proto contradicting VIP:PORT/proto names the --proto value" {
	ok svc add 10.96.0.50:80/udp --backend 10.244.1.10:8080
	bad 1 "svc explain: --proto tcp contradicts 10\.96\.0\.50:80/udp" \
		svc explain 10.96.0.50:80/udp --from 10.244.0.5:1000 --proto tcp
}

# Bug: the object is printed as {"?": {...}} (cmd_svc.c opens it with out_open_object(NULL)
# at the top level, and output.c's json_put names a key-less member "?").
@test "svc explain -o json: one top-level object with the documented fields" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	ok svc explain 10.96.0.50:80 --from 10.244.0.5:40000 -o json
	assert_eq "top-level keys of 'svc explain -o json'" \
		"affinity backend client dataplane hash maglev_backend reason service slot table_size" \
		"$(jq -r 'keys | join(" ")' <<<"$output")"
	assert_eq "reason" maglev "$(jq -r .reason <<<"$output")"
}

@test "svc explain, not loaded: the mirror's choice, dataplane not-loaded" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080,weight=0 --backend 10.244.2.15:8080
	ok svc explain 10.96.0.50:80 --from 10.244.0.5:40000 -o json
	assert_eq "explain, not loaded" \
		"10.244.0.5:40000 10.96.0.50:80/tcp 16381 none maglev 10.244.2.15:8080 1 active 16381 not-loaded" \
		"$(jq -r "$EXPLAIN"' | "\(.client) \(.service) \(.table_size) \(.affinity) \(.reason) \(.backend.address):\(.backend.port) \(.backend.weight) \(.backend.state) \(.backend.slots) \(.dataplane)"' <<<"$output")"
	ok svc explain 10.96.0.50:80 --from 10.244.0.5:40000
	assert_match "plain: reason" $'\n''reason +maglev'$'\n' "$output"
	assert_match "plain: dataplane" $'\n''dataplane +not-loaded' "$output"
}

@test "svc explain, loaded: fields, reason maglev, dataplane agrees, stable for one client" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080,weight=2 \
		--backend 10.244.3.20:8080 --affinity client-ip,timeout=60
	ok svc add 10.96.0.51:53/udp --backend 10.244.1.10:53,weight=0
	ok load eth0
	ok svc explain 10.96.0.50:80 --from 10.244.0.5:40000 -o json
	local first=$output obj
	obj=$(jq -c "$EXPLAIN" <<<"$output")
	assert_eq "fields of explain" \
		"affinity backend client dataplane hash maglev_backend reason service slot table_size" \
		"$(jq -r 'keys | join(" ")' <<<"$obj")"
	assert_eq "backend fields" "address id port slots state weight" \
		"$(jq -r '.backend | keys | join(" ")' <<<"$obj")"
	assert_eq "client, service, table, affinity, reason, dataplane" \
		"10.244.0.5:40000 10.96.0.50:80/tcp 16381 client-ip maglev agrees" \
		"$(jq -r '"\(.client) \(.service) \(.table_size) \(.affinity) \(.reason) \(.dataplane)"' <<<"$obj")"
	assert_eq "slot is hash mod table_size" true \
		"$(jq '.slot == .hash % .table_size and .slot < .table_size' <<<"$obj")"
	assert_eq "with no tracked flow and no affinity entry, the backend is Maglev's" true \
		"$(jq '.backend == .maglev_backend' <<<"$obj")"
	assert_match "backend is one of the service's" \
		"^10\.244\.(1\.10|2\.15|3\.20):8080$" "$(jq -r '"\(.backend.address):\(.backend.port)"' <<<"$obj")"
	local be_id want_id
	be_id=$(jq -r .backend.id <<<"$obj")
	want_id=$(svcbpf svc list -o json | jq -r --argjson o "$obj" '.services[].backends[] |
		select(.address == $o.backend.address and .port == $o.backend.port) | .id')
	assert_eq "backend id is the store's" "$want_id" "$be_id"
	for _ in 1 2 3; do
		ok svc explain 10.96.0.50:80 --from 10.244.0.5:40000 -o json
		assert_eq "explain again for the same client" "$first" "$output"
	done
	ok svc explain 10.96.0.50:80 --from 10.244.0.5:40000
	assert_match "plain: dataplane agrees" $'\n''dataplane +agrees' "$output"
	# Only weight-0 backends: nothing takes new flows.
	ok svc explain 10.96.0.51:53 --proto udp --from 10.244.0.5:40000 -o json
	assert_eq "explain with only a weight-0 backend" "no-backend null agrees" \
		"$(jq -r "$EXPLAIN"' | "\(.reason) \(.backend) \(.dataplane)"' <<<"$output")"
}

@test "svc explain, loaded: weight-0 and draining backends are never chosen (200 clients)" {
	local a=10.244.1.10:8080 b=10.244.2.15:8080 c=10.244.3.20:8080 d=10.244.4.25:8080
	local before drained after zero
	ok svc add 10.96.0.50:80 --backend "$a,weight=0" --backend "$b" --backend "$c" \
		--backend "$d,weight=3"
	ok load eth0 --maglev-size 4093
	before=$(explain_many 10.96.0.50:80 20000 40)
	assert_eq "every client: reason maglev, dataplane agrees" 40 \
		"$(grep -c ' maglev agrees$' <<<"$before" || true)"
	assert_not_contains "weight 0: never chosen" " $a " "$before"
	assert_contains "before the drain, $b is chosen for some clients" " $b " "$before"
	local nc nd
	nc=$(grep -c " $c " <<<"$before" || true)
	nd=$(grep -c " $d " <<<"$before" || true)
	((nd > nc)) || e2e_fail "weight 3 ($d: $nd clients) should take more than weight 1 ($c: $nc)"

	ok backend drain 10.96.0.50:80 "$b"
	drained=$(explain_many 10.96.0.50:80 20000 200)
	assert_eq "drained: every client, reason maglev, dataplane agrees" 200 \
		"$(grep -c ' maglev agrees$' <<<"$drained" || true)"
	assert_not_contains "drained: $a never chosen" " $a " "$drained"
	assert_not_contains "drained: $b never chosen" " $b " "$drained"
	ok svc list
	assert_contains "the drained service is programmed" "programmed" "$output"

	ok backend undrain 10.96.0.50:80 "$b"
	after=$(explain_many 10.96.0.50:80 20000 40)
	assert_eq "undrained: the same choices as before the drain" "$before" "$after"

	ok backend weight 10.96.0.50:80 "$c" 0
	zero=$(explain_many 10.96.0.50:80 20000 40)
	assert_not_contains "after 'backend weight $c 0': $c never chosen" " $c " "$zero"
	assert_not_contains "after 'backend weight $c 0': $a never chosen" " $a " "$zero"
	assert_eq "weight 0: every client, dataplane agrees" 40 \
		"$(grep -c ' maglev agrees$' <<<"$zero" || true)"
}

# ----------------------------------------------------------------------------- conntrack

@test "ct list/flush, not loaded: exit 1, one line; bad arguments are usage errors" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	local verb
	for verb in list flush; do
		bad 1 "^svcbpf: svcbpf is not loaded \(no maps in $SVCBPF_PIN_DIR\)$" ct "$verb"
		bad 1 "^svcbpf: svcbpf is not loaded" ct "$verb" 10.96.0.50:80
		bad 1 "ct $verb: too many arguments" ct "$verb" 10.96.0.50:80 10.96.0.51:80
		bad 1 "ct $verb: unknown option '--all'" ct "$verb" --all
	done
	bad 1 "unknown command 'frob'" ct frob
	sb ct list -o json
	assert_eq "exit code of 'ct list -o json', not loaded" 1 "$status"
	assert_match "JSON error" "svcbpf is not loaded" "$(jq -r .error <<<"$output")"
	[ ! -e "$SVCBPF_PIN_DIR" ] || e2e_fail "a ct command left $SVCBPF_PIN_DIR"
}

# An invalid VIP:PORT is an invalid value, as for svc del and backend ....
@test "ct list/flush: an invalid VIP:PORT is an invalid value (exit 1)" {
	ok load eth0
	bad 1 "invalid address '10\.96\.0\.300:80'" ct flush 10.96.0.300:80
	bad 1 "invalid address '10\.96\.0\.300:80'" ct list 10.96.0.300:80
	bad 1 "not a unicast address" ct flush 127.0.0.1:80
}

@test "ct list/flush, loaded: an empty table lists no flows; flush of nothing is fine" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	ok load eth0
	ok ct list
	assert_eq "ct list on an empty table" "no tracked flows" "$output"
	ok ct list -o json
	assert_eq "ct list -o json on an empty table" '{"flows":[]}' "$(jq -c . <<<"$output")"
	ok ct list 10.96.0.50:80 -o json
	assert_eq "ct list VIP -o json" '{"flows":[]}' "$(jq -c . <<<"$output")"
	ok ct sh 10.96.0.99:80/udp
	assert_eq "ct list of a service that does not exist (by prefix 'sh')" "no tracked flows" "$output"
	local before
	before=$(snapshot)
	ok ct flush
	assert_eq "ct flush of an empty table" "flushed 0 flows (0 conntrack entries, 0 client affinities)" "$output"
	ok ct flush 10.96.0.50:80 -o json
	assert_eq "ct flush VIP -o json" '{"flushed":0,"entries":0,"affinities":0}' "$(jq -c . <<<"$output")"
	assert_eq "state after flushing an empty table" "$before" "$(snapshot)"
	bad 1 "^svcbpf: -:1: unknown command 'ct'" batch - <<<"ct list"
	bad 1 "ct flush: too many arguments" ct flush 10.96.0.50:80 extra
}

# ----------------------------------------------------------------------------- load settings

@test "load --maglev-size: not prime, out of range, not a number are refused; nothing pinned" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	bad 1 "^svcbpf: invalid --maglev-size 1000: not a prime \(try 4093, 16381 or 65521\)$" \
		load eth0 --maglev-size 1000
	bad 1 "invalid --maglev-size 130000: not a prime" load eth0 --maglev-size 130000
	bad 1 "^svcbpf: invalid maglev-size '100': must be 251-131071$" load eth0 --maglev-size 100
	bad 1 "invalid maglev-size '241': must be 251-131071" load eth0 --maglev-size 241
	bad 1 "invalid maglev-size '131101': must be 251-131071" load eth0 --maglev-size 131101
	bad 1 "invalid maglev-size 'abc': not a decimal number" load eth0 --maglev-size abc
	bad 1 "invalid maglev-size '0': must be 251-131071" load eth0 --maglev-size 0
	bad 1 "--maglev-size needs a number" load eth0 --maglev-size
	for t in syn tcp fin udp; do
		bad 1 "invalid ct-timeout-$t '0': must be 1-1073741824" load eth0 --ct-timeout-$t 0
	done
	bad 1 "invalid ct-timeout-syn 'x': not a decimal number" load eth0 --ct-timeout-syn x
	bad 1 "--ct-timeout-fin needs a number" load eth0 --ct-timeout-fin
	[ ! -e "$SVCBPF_PIN_DIR" ] || e2e_fail "a refused load left $SVCBPF_PIN_DIR"
	# The smallest and largest primes are accepted.
	ok load eth0 --maglev-size 251
	sb status -o json
	assert_eq "table size 251" 251 "$(jq .maglev.table_size <<<"$output")"
	ok unload
	ok load eth0 --maglev-size 131071
	sb status -o json
	assert_eq "table size 131071" 131071 "$(jq .maglev.table_size <<<"$output")"
}

@test "load --maglev-size 4093: status shows it; a reload cannot resize, state unchanged" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080,weight=2
	ok load eth0 --maglev-size 4093
	ok status -o json
	assert_eq "maglev table size" 4093 "$(jq .maglev.table_size <<<"$output")"
	local bytes
	bytes=$(jq .maglev.bytes_per_service <<<"$output")
	((bytes >= 4093 * 4 && bytes < 16381 * 4)) ||
		e2e_fail "bytes_per_service for M=4093: expected 16372..65523, actual $bytes"
	ok status
	assert_match "plain status: M" "maglev: +M = 4093 slots a service" "$output"
	ok svc explain 10.96.0.50:80 --from 10.244.0.5:40000 -o json
	assert_eq "explain uses the loaded table size" "4093 agrees" \
		"$(jq -r "$EXPLAIN"' | "\(.table_size) \(.dataplane)"' <<<"$output")"

	bad 1 "^svcbpf: cannot resize --maglev-size to 16381: pinned with 4093 \(unload to resize\)$" \
		load eth0 --maglev-size 16381
	bad 1 "cannot resize --maglev-size to 16381: pinned with 4093" \
		load eth0 --maglev-size 16381 --ct-timeout-udp 45
	bad 1 "cannot resize --maglev-size to 65521: pinned with 4093" load eth1 --maglev-size 65521
	bad 1 "invalid --maglev-size 1000: not a prime" load eth0 --maglev-size 1000
	ok svc list
	assert_contains "still programmed after the refusals" "programmed" "$output"
	assert_not_contains "nothing out of sync after the refusals" "out-of-sync" "$output"
	# Giving the size it has is not a resize.
	ok load eth0 --maglev-size 4093
	ok status -o json
	assert_eq "table size after a reload with the same size" 4093 "$(jq .maglev.table_size <<<"$output")"
	# After an unload the size is free again; the default is 16381.
	ok unload
	ok load eth0
	ok status -o json
	assert_eq "default table size" 16381 "$(jq .maglev.table_size <<<"$output")"
}

@test "load: conntrack timeouts given on a reload change; sizes and services stay" {
	ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080
	ok svc add 10.96.0.51:53/udp --backend 10.244.1.10:53 --affinity client-ip
	ok load eth0 --maglev-size 4093
	ok status -o json
	assert_eq "default timeouts" '{"syn":60,"tcp":21600,"fin":10,"udp":60}' \
		"$(jq -c .ct_timeouts <<<"$output")"
	local links list
	links=$(jq -c '[.attachments[] | .link_id]' <<<"$output")
	list=$(svcbpf svc list -o json)
	ok load eth0 --ct-timeout-udp 30
	ok status -o json
	assert_eq "timeouts after --ct-timeout-udp 30" '{"syn":60,"tcp":21600,"fin":10,"udp":30}' \
		"$(jq -c .ct_timeouts <<<"$output")"
	assert_eq "table size kept" 4093 "$(jq .maglev.table_size <<<"$output")"
	assert_eq "links kept (programs replaced in place)" "$links" \
		"$(jq -c '[.attachments[] | .link_id]' <<<"$output")"
	assert_eq "services kept, programmed" "$list" "$(svcbpf svc list -o json)"
	ok status
	assert_match "plain status: timeouts" \
		"conntrack: +timeouts syn 60 s, tcp 21600 s, fin 10 s, udp 30 s" "$output"
	# A reload without timeouts keeps them; each given one changes.
	ok load eth0
	ok status -o json
	assert_eq "timeouts after a plain reload" '{"syn":60,"tcp":21600,"fin":10,"udp":30}' \
		"$(jq -c .ct_timeouts <<<"$output")"
	ok load eth0 --ct-timeout-syn 5 --ct-timeout-tcp 600 --ct-timeout-fin 3
	ok status -o json
	assert_eq "timeouts after syn/tcp/fin" '{"syn":5,"tcp":600,"fin":3,"udp":30}' \
		"$(jq -c .ct_timeouts <<<"$output")"
	bad 1 "invalid ct-timeout-tcp '0'" load eth0 --ct-timeout-tcp 0
	bad 1 "invalid ct-timeout-udp '1073741825': must be 1-1073741824" \
		load eth0 --ct-timeout-udp 1073741825
	bad 1 "load: unknown option '--ct-timeout'" load eth0 --ct-timeout 5
	assert_eq "services after the reloads" "$list" "$(svcbpf svc list -o json)"
}

# ----------------------------------------------------------------------------- batch

@test "batch: weights, affinity, drain and weight lines apply in one go; a bad line applies nothing" {
	local f=$CLI_TMP/batch.txt
	ok load eth0
	printf '%s\n' "# weights, affinity and drain, one transaction" \
		"svc add 10.96.2.1:80 --backend 10.244.1.10:8080,weight=5 --backend 10.244.2.15:8080,weight=0 --affinity client-ip,timeout=300" \
		"backend add 10.96.2.1:80 10.244.3.20:8080,weight=2" \
		"backend drain 10.96.2.1:80 10.244.3.20:8080   # leaving" \
		"backend weight 10.96.2.1:80 10.244.2.15:8080 7" \
		"" \
		"svc add 10.96.2.2:53/udp --backend 10.244.1.10:53,weight=10000" \
		"backend drain 10.96.2.2:53/udp 10.244.1.10:53" \
		"backend undrain 10.96.2.2:53/udp 10.244.1.10:53" >"$f"
	ok batch "$f" -o json
	assert_eq "changes applied" 7 "$(jq .changes <<<"$output")"
	assert_eq "services after the batch" \
		"10.96.2.1:80/tcp programmed client-ip/300 10.244.1.10:8080=5/active 10.244.2.15:8080=7/active 10.244.3.20:8080=2/draining
10.96.2.2:53/udp programmed none/0 10.244.1.10:53=10000/active" "$(services)"

	# Each bad line is refused with FILE:LINE, and the good line before it is not applied.
	local line
	while IFS='|' read -r code pattern line; do
		printf '%s\n' "backend weight 10.96.2.1:80 10.244.1.10:8080 1" "$line" >"$f"
		bad "$code" "^svcbpf: $f:2: $pattern" batch "$f" </dev/null
	done <<EOF
1|invalid weight '10001': must be 0-10000|backend weight 10.96.2.1:80 10.244.2.15:8080 10001
1|invalid backend '10.244.4.25:8080,weight=x': invalid weight 'x'|backend add 10.96.2.1:80 10.244.4.25:8080,weight=x
1|invalid backend '10.244.4.25:8080,w=1': expected IP:PORT or IP:PORT,weight=N|svc add 10.96.2.3:80 --backend 10.244.4.25:8080,w=1
1|invalid affinity 'client-ip,timeout=0'|svc add 10.96.2.3:80 --affinity client-ip,timeout=0
1|cannot change backend 10.244.9.9:8080: not a backend of 10.96.2.1:80/tcp|backend drain 10.96.2.1:80 10.244.9.9:8080
1|cannot change backend 10.244.1.10:8080: no service 10.96.2.9:80/tcp|backend undrain 10.96.2.9:80 10.244.1.10:8080
1|backend del: give the weight on its own|backend del 10.96.2.1:80 10.244.1.10:8080,weight=5
1|backend weight: needs VIP:PORT and IP:PORT and a weight|backend weight 10.96.2.1:80 10.244.1.10:8080
1|unknown command 'ct'|ct flush
EOF
	assert_eq "services after the refused batches" \
		"10.96.2.1:80/tcp programmed client-ip/300 10.244.1.10:8080=5/active 10.244.2.15:8080=7/active 10.244.3.20:8080=2/draining
10.96.2.2:53/udp programmed none/0 10.244.1.10:53=10000/active" "$(services)"
}
