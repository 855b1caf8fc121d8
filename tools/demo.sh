#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/demo.sh - the README quick start, end to end (run by 'make demo' after the build):
# build the test topology (tools/topo.sh), load svcbpf on the node's eth0, apply the seed's
# Service manifest (10.96.0.50:80, selector app=my-app, targetPort 8080) and its two Pods
# (10.244.1.10, 10.244.2.15), show the Endpoints the controller made, send requests from the
# client to the ClusterIP and show which pod answered each, take a pod out of rotation (not
# Ready), then 'svc list' and 'status', and tear everything down (also on failure or Ctrl-C).
#
# Needs root. Environment: SVCBPF (default build/svcbpf), DEMO_REQUESTS (default 10).
# Nothing touches the machine's /sys/fs/bpf/svcbpf or /var/lib/svcbpf: the run uses its own
# pin dir /sys/fs/bpf/svcbpf-<run id> and a temporary state dir.

set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${SVCBPF:=$REPO/build/svcbpf}"
: "${DEMO_REQUESTS:=10}"
export TOPO_SERVER_SECONDS=${TOPO_SERVER_SECONDS:-300}
# shellcheck source=topo.sh
source "$REPO/tools/topo.sh"

VIP=10.96.0.50
LB_IP=198.51.100.10
NODEPORT=30080
POD1=$(topo_pod_ip 1)
POD2=$(topo_pod_ip 2)

section() { printf '\n=== %s ===\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}
# run ARGS...: svcbpf in the node namespace, echoed first as a user would type it.
run() {
	printf '$ svcbpf %s\n' "$*"
	topo_svcbpf "$@" || die "'svcbpf $*' failed (exit $?)"
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces and BPF)"
[ -x "$SVCBPF" ] || die "no svcbpf binary at $SVCBPF (run make first)"
((DEMO_REQUESTS >= 1 && DEMO_REQUESTS <= 1000)) || die "DEMO_REQUESTS must be 1..1000"

topo_init || die "cannot set up the run"
topo_trap

section "Topology (namespaces prefixed $TOPO_ID)"
topo_create 2 || die "cannot create the topology"
topo_start_servers || die "the pod servers did not start"
topo_wait_ready || die "the client cannot reach the pods directly"
topo_create_outside || die "cannot create the outside world"
cat <<EOF
  client  10.244.0.5   --eth0-->  node 10.244.0.1 (svcbpf on every node interface)
  pod1    $POD1  <-- node pod1 10.244.1.1
  pod2    $POD2  <-- node pod2 10.244.2.1
  outside 192.0.2.10 --> router 192.0.2.1 | 203.0.113.2 --> node eth1 203.0.113.1
  ClusterIP $VIP and LoadBalancer IP $LB_IP exist only in svcbpf's maps
EOF

MANIFESTS=$(mktemp -d /tmp/svcbpf-demo.XXXXXX) || die "cannot create a temp dir"
# pod NAME IP READY: the manifest of a pod of the seed's app, as the kubelet reports it.
pod() { k8s_pod "$1" "$2" my-app "$3"; } # NAME IP READY: an app=my-app Pod
cat >"$MANIFESTS/my-service.yaml" <<EOF
apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  clusterIP: $VIP
  selector:
    app: my-app
  ports:
    - protocol: TCP
      port: 80
      targetPort: 8080
EOF
{ pod pod1 "$POD1" True; pod pod2 "$POD2" True; } >"$MANIFESTS/pods.yaml"

section "Load svcbpf on the node's interfaces (the pods' too: masqueraded replies come in there)"
run load eth0 eth1 pod1 pod2

section "Apply the seed's Service and its two Pods (the API server's and controller's part)"
sed 's/^/  /' "$MANIFESTS/my-service.yaml"
run apply -f "$MANIFESTS/my-service.yaml" -f "$MANIFESTS/pods.yaml"
run get services
run get endpoints my-service -o yaml

# requests N: N requests from the client to the ClusterIP, each answer recorded.
answers=()
requests() {
	local i out pod ip
	for ((i = 1; i <= $1; i++)); do
		if out=$(topo_client curl -sS --max-time 2 "http://$VIP:80/" 2>&1); then
			read -r pod ip _ <<<"$out"
			printf '  request %2d -> %s (%s)\n' "$i" "$pod" "$ip"
			answers+=("$pod ($ip)")
		else
			printf '  request %2d -> FAILED: %s\n' "$i" "$out"
			answers+=("no answer")
		fi
	done
}

section "$DEMO_REQUESTS requests from the client to http://$VIP:80/"
requests "$DEMO_REQUESTS"

section "Answers per pod"
printf '%s\n' "${answers[@]}" | sort | uniq -c | awk '{c = $1; sub(/^ *[0-9]+ /, ""); printf "  %-24s %d\n", $0, c}'

section "Where they went, as the dataplane counted them (iptables -t nat -L -n -v style)"
run dump
run stats

section "Watch it live: svcbpf monitor, while 3 more requests go through"
printf '$ svcbpf monitor --count 6 --duration 10\n'
mon_out="$MANIFESTS/monitor.out"
topo_svcbpf monitor --count 6 --duration 10 >"$mon_out" 2>"$mon_out.err" &
mon_pid=$!
for ((i = 0; i < 50; i++)); do # up to 5 s for it to start listening
	grep -q monitoring "$mon_out.err" 2>/dev/null && break
	sleep 0.1
done
requests 3 >/dev/null
wait "$mon_pid" || true
sed 's/^/  /' "$mon_out"

section "The connections svcbpf tracked (closed ones expire after the fin timeout)"
run ct list

section "Why a flow goes where it goes (Maglev slot of its 5-tuple)"
run svc explain "$VIP:80" --from 10.244.0.5:40000

section "pod1 is no longer Ready: the controller takes it out, new connections go to pod2"
{ pod pod1 "$POD1" False; pod pod2 "$POD2" True; } >"$MANIFESTS/pods-1-not-ready.yaml"
run apply -f "$MANIFESTS/pods-1-not-ready.yaml"
run get endpoints
requests 4
run apply -f "$MANIFESTS/pods.yaml"

section "From outside the node: the same Service as a LoadBalancer (nodePort $NODEPORT)"
sed -e 's/^spec:/spec:\n  type: LoadBalancer/' -e "s/targetPort: 8080/targetPort: 8080\n      nodePort: $NODEPORT/" \
	"$MANIFESTS/my-service.yaml" >"$MANIFESTS/my-service-lb.yaml"
printf 'status:\n  loadBalancer:\n    ingress:\n      - ip: %s\n' "$LB_IP" >>"$MANIFESTS/my-service-lb.yaml"
sed 's/^/  /' "$MANIFESTS/my-service-lb.yaml"
run apply -f "$MANIFESTS/my-service-lb.yaml"
run get services
# outside URL: 4 requests from the outside namespace; each pod names the client it saw.
outside() {
	local i out
	for ((i = 1; i <= 4; i++)); do
		if out=$(topo_outside curl -sS --max-time 2 "$1" 2>&1); then
			printf '  %s -> %s\n' "$1" "$out"
		else
			printf '  %s -> FAILED: %s\n' "$1" "$out"
			answers+=("no answer")
		fi
	done
}
echo "  (each pod sees the node's address: externalTrafficPolicy Cluster masquerades the client)"
outside "http://203.0.113.1:$NODEPORT/"
outside "http://$LB_IP/"
run ct list "0.0.0.0:$NODEPORT"
run ct list "$LB_IP:80"

section "svcbpf svc list"
run svc list

section "svcbpf status"
run status

section "Teardown"
rm -rf -- "$MANIFESTS"
topo_teardown
trap - EXIT INT TERM
echo "  namespaces and pins of $TOPO_ID removed"
failed=$(printf '%s\n' "${answers[@]}" | grep -c '^no answer' || true)
if ((failed > 0)); then
	echo "demo: $failed of $DEMO_REQUESTS requests got no answer" >&2
	exit 1
fi
