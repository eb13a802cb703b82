#!/usr/bin/env bash
# End-to-end smoke test of the control-plane binaries built by build.sh.
#
# Starts etcd, kube-apiserver and kube-controller-manager on free 127.0.0.1
# ports with the exact command lines documented in README.md (PKI generated
# with openssl in a temp dir), then checks:
#   - apiserver /readyz and /version (gitVersion == the bundled kubernetes)
#   - controller-manager /healthz and the "default" ServiceAccount appearing
#   - garbage collection of a ConfigMap whose owner is deleted
#   - the StatefulSet controller creating a Pod
#   - namespace deletion (namespace controller) finishing
# Everything it starts is stopped and the temp dir removed on exit
# (KEEP_WORKDIR=1 keeps the temp dir with logs for debugging).
#
# Usage: tools/controlplane/smoke.sh            (builds/reuses the cache)
#        CONTROLPLANE_BIN_DIR=/path/to/bin tools/controlplane/smoke.sh
# Needs: bash, curl, openssl, python3 (only to pick free ports).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
log() { printf '[smoke %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null 2>&1 || { log "error: '$tool' is required"; exit 1; }
done

bin_dir=${CONTROLPLANE_BIN_DIR:-$("$here/build.sh")}
cp_bin="$bin_dir/controlplane"
[ -x "$cp_bin" ] || { log "error: $cp_bin not found"; exit 1; }
want_version=$(sed -n 's/^kubernetes //p' "$bin_dir/VERSIONS")

work=$(mktemp -d "${TMPDIR:-/tmp}/kasprop-controlplane-smoke.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  # Stop in reverse start order: controller-manager, apiserver, etcd.
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  if [ "$rc" != 0 ]; then
    for f in etcd apiserver kcm; do
      [ -f "$work/$f.log" ] && { log "--- last lines of $f.log ---"; tail -n 15 "$work/$f.log" >&2; }
    done
  fi
  if [ "${KEEP_WORKDIR:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# ---- PKI ---------------------------------------------------------------------
pki="$work/pki"
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 7 -subj "/CN=kasprop-test-ca" 2>/dev/null
  printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
    'extendedKeyUsage=serverAuth' \
    'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local' >serving.ext
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 7 -extfile serving.ext 2>/dev/null
  printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=clientAuth' >client.ext
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=admin" 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 7 -extfile client.ext 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
)

# ---- ports -------------------------------------------------------------------
read -r etcd_client_port etcd_peer_port apiserver_port kcm_port < <(python3 -c '
import socket
socks = []
for _ in range(4):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))')
api="https://127.0.0.1:$apiserver_port"
kc=(curl -sS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")

wait_for() { # name pid timeout_s cmd...
  local name=$1 pid=$2 timeout=$3; shift 3
  local start; start=$(now)
  while ! "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { log "error: $name exited"; return 1; }
    if awk -v a="$start" -v b="$(now)" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
      log "error: $name not ready after ${timeout}s"; return 1
    fi
    sleep 0.1
  done
  log "$name ready after $(since "$start")s"
}

# ---- etcd ----------------------------------------------------------------------
mkdir -m 700 "$work/etcd-data"
"$cp_bin" etcd \
  --name=kasprop \
  --data-dir="$work/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$etcd_client_port" \
  --advertise-client-urls="http://127.0.0.1:$etcd_client_port" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster="kasprop=http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster-state=new \
  --unsafe-no-fsync \
  --log-level=warn \
  >"$work/etcd.log" 2>&1 &
pids+=($!)
wait_for etcd "${pids[-1]}" 30 curl -sf "http://127.0.0.1:$etcd_client_port/readyz"

# ---- kube-apiserver ------------------------------------------------------------
"$cp_bin" kube-apiserver \
  --etcd-servers="http://127.0.0.1:$etcd_client_port" \
  --bind-address=127.0.0.1 \
  --secure-port="$apiserver_port" \
  --advertise-address=127.0.0.1 \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$pki/apiserver.crt" \
  --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" \
  --service-account-signing-key-file="$pki/sa.key" \
  --service-cluster-ip-range=10.0.0.0/24 \
  >"$work/apiserver.log" 2>&1 &
pids+=($!)
wait_for kube-apiserver "${pids[-1]}" 120 "${kc[@]}" -f "$api/readyz"

cat >"$work/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $api
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
EOF

# ---- kube-controller-manager -----------------------------------------------------
"$cp_bin" kube-controller-manager \
  --kubeconfig="$work/admin.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="$kcm_port" \
  --leader-elect=false \
  --use-service-account-credentials=false \
  --controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token,root-ca-certificate-publisher-controller,statefulset,deployment,replicaset,job,cronjob,daemonset,endpointslice,resourcequota,disruption,ttl-after-finished-controller,persistentvolumeclaim-protection-controller,podgc \
  --service-account-private-key-file="$pki/sa.key" \
  --root-ca-file="$pki/ca.crt" \
  --flex-volume-plugin-dir="$work/flexvolume" \
  >"$work/kcm.log" 2>&1 &
pids+=($!)
wait_for kube-controller-manager "${pids[-1]}" 60 curl -skf "https://127.0.0.1:$kcm_port/healthz"
wait_for "ServiceAccount default/default" "${pids[-1]}" 60 "${kc[@]}" -f "$api/api/v1/namespaces/default/serviceaccounts/default"

# ---- checks ----------------------------------------------------------------------
passed=0 failed=0
check() { # description cmd...
  local d=$1; shift
  if "$@"; then passed=$((passed + 1)); log "ok: $d"; else failed=$((failed + 1)); log "FAIL: $d"; fi
}
post() { "${kc[@]}" -f -X POST -H 'Content-Type: application/json' "$api$1" -d "$2"; }
status_of() { "${kc[@]}" -o /dev/null -w '%{http_code}' "$api$1"; }
uid_of() { sed -n 's/^ *"uid": *"\([^"]*\)".*/\1/p' | head -n 1; }
eventually() { # timeout_s cmd...
  local timeout=$1; shift
  local start; start=$(now)
  until "$@"; do
    awk -v a="$start" -v b="$(now)" -v t="$timeout" 'BEGIN { exit !(b - a > t) }' && return 1
    sleep 0.1
  done
}
is_404() { [ "$(status_of "$1")" = 404 ]; }

version_json=$("${kc[@]}" -f "$api/version")
check "/version reports gitVersion $want_version" grep -q "\"gitVersion\": \"$want_version\"" <<<"$version_json"

post /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"smoke"}}' >/dev/null
owner_uid=$(post /api/v1/namespaces/smoke/configmaps \
  '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner"}}' | uid_of)
post /api/v1/namespaces/smoke/configmaps \
  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"dependent\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"$owner_uid\"}]}}" >/dev/null
"${kc[@]}" -f -X DELETE "$api/api/v1/namespaces/smoke/configmaps/owner" >/dev/null
t=$(now)
check "garbage collector deletes the dependent ConfigMap" eventually 60 is_404 /api/v1/namespaces/smoke/configmaps/dependent
log "  (took $(since "$t")s)"

post /apis/apps/v1/namespaces/smoke/statefulsets \
  '{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web"},"spec":{"replicas":1,"serviceName":"web","selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"registry.invalid/none:1"}]}}}}' >/dev/null
pod_exists() { [ "$(status_of /api/v1/namespaces/smoke/pods/web-0)" = 200 ]; }
t=$(now)
check "statefulset controller creates Pod web-0" eventually 60 pod_exists
log "  (took $(since "$t")s)"

"${kc[@]}" -f -X DELETE "$api/api/v1/namespaces/smoke" >/dev/null
t=$(now)
check "namespace controller finishes deleting namespace smoke" eventually 120 is_404 /api/v1/namespaces/smoke
log "  (took $(since "$t")s)"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
