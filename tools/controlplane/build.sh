#!/usr/bin/env bash
# Build (or reuse from cache) the kasprop cluster binaries, compiled from Go
# modules: a single multi-call executable bundling a real kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl and
# etcd; and containerd 2.x with its runc shim and ctr, for the real node.
#
# Usage: tools/controlplane/build.sh [--force] [--print-key]
#
# On success prints ONE line on stdout: the absolute path of the bin
# directory, which contains
#   controlplane             the multi-call binary
#   kube-apiserver           -> controlplane (symlink, argv[0] dispatch)
#   kube-controller-manager  -> controlplane (and likewise kube-scheduler,
#   etcd                     -> controlplane  kubelet, kube-proxy, kubectl)
#   containerd, containerd-shim-runc-v2, ctr   containerd (the shim must sit
#                            on containerd's PATH: put this directory first)
#   VERSIONS                 component versions, one "name version" per line
# Everything else (progress, go build -v output) goes to stderr.
#
# Cache: ${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/controlplane/<key>/
# where <key> = sha256 over go.mod, go.sum, every *.go file here, this
# script (which pins containerd's version) and `go version`. A hit costs a
# few tens of milliseconds.
set -euo pipefail

die() { echo "controlplane/build.sh: error: $*" >&2; exit 1; }
log() { echo "controlplane/build.sh: $*" >&2; }

force=0
print_key=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-key) print_key=1 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

command -v go >/dev/null 2>&1 || die "'go' not found on PATH. Install Go >= 1.26 (the module's go.mod says 'go 1.26.0'; GOTOOLCHAIN=local is enforced, so no toolchain download happens)."

export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false -mod=readonly"
export CGO_ENABLED=0
# Never let a workspace file elsewhere in the repo capture this module.
export GOWORK=off

go_version=$(go version) || die "'go version' failed"

# ---- cache key -------------------------------------------------------------
cd "$src_dir"
key=$(
  {
    printf 'go-version %s\n' "$go_version"
    # Fixed, locale-independent order; paths are relative so every clone of
    # the repository computes the same key.
    find . -name '*.go' -type f -print | LC_ALL=C sort | {
      printf '%s\n' ./go.mod ./go.sum ./build.sh
      cat
    } | while IFS= read -r f; do
      [ -f "$f" ] || die "missing $src_dir/$f"
      printf '== %s %s\n' "$f" "$(wc -c <"$f")"
      cat "$f"
    done
  } | sha256sum | cut -c1-32
)
if [ "$print_key" = 1 ]; then
  echo "$key"
  exit 0
fi

cache_root="${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/controlplane"
final="$cache_root/$key"
bin_dir="$final/bin"

is_complete() { [ -f "$final/.complete" ] && [ -x "$bin_dir/controlplane" ]; }

# ---- fast path ---------------------------------------------------------------
if [ "$force" = 0 ] && is_complete; then
  # Mark as recently used (pruning keeps the most recently used entries).
  touch -c "$final" 2>/dev/null || true
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$cache_root"

# ---- serialize builders ------------------------------------------------------
have_flock=0
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_root/.lock"
  if ! flock -n 9; then
    log "another build holds $cache_root/.lock; waiting for it..."
    flock 9
  fi
  have_flock=1
else
  log "warning: flock not found; concurrent builds are not serialized (the final rename is still atomic)"
fi

# Someone else may have finished the same build while we waited.
if [ "$force" = 0 ] && is_complete; then
  echo "$bin_dir"
  exit 0
fi

# Stale temp dirs: with the lock held nobody else is building, so all of them
# are leftovers of killed builds; without flock only remove old ones.
if [ "$have_flock" = 1 ]; then
  find "$cache_root" -mindepth 1 -maxdepth 1 -name '.tmp.*' -exec rm -rf {} + 2>/dev/null || true
else
  find "$cache_root" -mindepth 1 -maxdepth 1 -name '.tmp.*' -mmin +240 -exec rm -rf {} + 2>/dev/null || true
fi

tmp=$(mktemp -d "$cache_root/.tmp.$key.XXXXXX")
chmod 755 "$tmp"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- toolchain check ------------------------------------------------------------
need_go=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' go.mod)
have_go=$(go env GOVERSION) || die "'go env GOVERSION' failed"
have_go=${have_go#go}
if [ "$(printf '%s\n%s\n' "$need_go" "${have_go%%[!0-9.]*}" | sort -V | head -n 1)" != "$need_go" ]; then
  die "go.mod needs Go >= $need_go but '$(command -v go)' is go$have_go (GOTOOLCHAIN=local: no automatic toolchain download)"
fi

# ---- versions, for ldflags ---------------------------------------------------
mod_field() { go list -m -f "$2" "$1"; }
k8s_version=$(mod_field k8s.io/kubernetes '{{.Version}}') || die "cannot resolve k8s.io/kubernetes from go.mod (see the go error above; the Go module proxy must be reachable unless the module cache is warm)"
etcd_version=$(mod_field go.etcd.io/etcd/server/v3 '{{.Version}}') || die "cannot resolve go.etcd.io/etcd/server/v3"
# Build date = the module's publication time, so the build is reproducible.
build_date=$(mod_field k8s.io/kubernetes '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}')
[ -n "$build_date" ] || build_date=1970-01-01T00:00:00Z

case "$k8s_version" in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) die "unexpected k8s.io/kubernetes version '$k8s_version'" ;;
esac
k8s_major=${k8s_version#v}; k8s_major=${k8s_major%%.*}
k8s_minor=${k8s_version#v*.}; k8s_minor=${k8s_minor%%.*}

# The same variables upstream's hack/lib/version.sh sets. The apiserver's
# binary/emulation/min-compatibility versions (k8s.io/component-base/
# compatibility) are derived from gitVersion, so it must be a real release
# version matching version.DefaultKubeBinaryVersion.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$k8s_version"
  ldflags="$ldflags -X $pkg.gitMajor=$k8s_major"
  ldflags="$ldflags -X $pkg.gitMinor=$k8s_minor"
  ldflags="$ldflags -X $pkg.gitTreeState=clean"
  ldflags="$ldflags -X $pkg.buildDate=$build_date"
  # No commit hash is available from the module proxy; say so explicitly
  # instead of the "$Format:%H$" placeholder.
  ldflags="$ldflags -X $pkg.gitCommit=module-$k8s_version"
done
ldflags="$ldflags -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd_version"

# ---- build -------------------------------------------------------------------
log "building kube-apiserver/kube-controller-manager/kube-scheduler/kubelet/kube-proxy/kubectl/etcd (kubernetes $k8s_version, etcd $etcd_version) from Go modules"
log "a cold build takes ~7-9 min and ~3 GB RAM on 2 cores (plus ~500 MB of module downloads on a fresh machine); cache key $key"
start=$(date +%s)
mkdir -p "$tmp/bin"
if ! go build -v -trimpath -ldflags "$ldflags" -o "$tmp/bin/controlplane" . >&2; then
  die "go build failed (see output above)"
fi
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl etcd; do
  ln -s controlplane "$tmp/bin/$c"
done

# containerd 2.x: Kubernetes 1.36+ expects it (1.x works with this kubelet only through a fallback that 1.38
# removes). Its own module graph, so it is installed by version rather than added to go.mod, where its
# dependencies would have to agree with Kubernetes'. The storage drivers left out need cgo or are not used here.
containerd_version=v2.3.7
log "building containerd $containerd_version, containerd-shim-runc-v2 and ctr from Go modules"
if ! GOBIN="$tmp/bin" GOFLAGS=-buildvcs=false go install -trimpath \
  -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$containerd_version" \
  -tags 'no_btrfs no_devmapper no_zfs' \
  "github.com/containerd/containerd/v2/cmd/containerd@$containerd_version" \
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$containerd_version" \
  "github.com/containerd/containerd/v2/cmd/ctr@$containerd_version" >&2; then
  die "go install of containerd $containerd_version failed (see output above)"
fi
{
  echo "kubernetes $k8s_version"
  echo "etcd $etcd_version"
  echo "containerd $containerd_version"
  echo "go ${go_version#go version }"
} >"$tmp/bin/VERSIONS"

# Sanity check: the binary runs and reports the expected version.
got=$("$tmp/bin/controlplane" version 2>&1 | sed -n 's/^kubernetes //p') || true
[ "$got" = "$k8s_version" ] || die "built binary reports kubernetes version '$got', expected '$k8s_version'"

date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"

# ---- atomic publish ------------------------------------------------------------
# A keyed dir only ever appears via rename of a fully written temp dir. If an
# (incomplete or forced-over) one is in the way, move it aside first.
if [ -e "$final" ]; then
  old=$(mktemp -d "$cache_root/.tmp.old.XXXXXX")
  mv "$final" "$old/" && rm -rf "$old" || true
fi
if ! mv -T "$tmp" "$final"; then
  # Only possible without flock: a concurrent builder published first.
  is_complete || die "could not move $tmp to $final"
  log "another build published $final first; using it"
  rm -rf "$tmp"
fi
trap - EXIT

log "built in $(( $(date +%s) - start ))s: $bin_dir ($(du -sh "$bin_dir/controlplane" | cut -f1))"

# ---- prune: keep the current key plus the most recently used other one -------
find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name "$key" -printf '%T@ %p\n' 2>/dev/null \
  | sort -rn | tail -n +2 | cut -d' ' -f2- | while IFS= read -r d; do
      log "pruning old cache entry $d"
      rm -rf "$d"
    done

echo "$bin_dir"
