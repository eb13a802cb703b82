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
# script (which pins containerd's version), tools/go-build-cache.sh (the
# steps every Go build here shares) and `go version`. A hit costs a few tens
# of milliseconds.
set -euo pipefail

src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../go-build-cache.sh
. "$src_dir/../go-build-cache.sh"

go_cache_begin controlplane 2,24 "$@"
export GOFLAGS="$GOFLAGS -mod=readonly"
cd "$src_dir"
# Paths relative to this directory, in a fixed, locale-independent order.
# shellcheck disable=SC2046 # file names here have no spaces
go_cache_key "$src_dir" go.mod go.sum build.sh $(find . -name '*.go' -type f -printf '%P\n' | LC_ALL=C sort)
go_cache_reuse controlplane
tmp=$go_cache_tmp

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
log "a cold build takes ~7-9 min and ~3 GB RAM on 2 cores (plus ~500 MB of module downloads on a fresh machine); cache key $go_cache_key"
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
  echo "go ${go_cache_go_version#go version }"
} >"$tmp/bin/VERSIONS"

# Sanity check: the binary runs and reports the expected version.
got=$("$tmp/bin/controlplane" version 2>&1 | sed -n 's/^kubernetes //p') || true
[ "$got" = "$k8s_version" ] || die "built binary reports kubernetes version '$got', expected '$k8s_version'"

log "controlplane binary: $(du -sh "$tmp/bin/controlplane" | cut -f1)"
go_cache_publish
