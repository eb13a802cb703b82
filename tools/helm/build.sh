#!/usr/bin/env bash
# Build (or reuse from cache) helm, compiled from its Go module, for the chart's tests (charts/kasprop).
#
# Usage: tools/helm/build.sh [--force] [--print-key]
#
# On success prints ONE line on stdout: the absolute path of the bin directory, which contains `helm`.
# Everything else (progress, go build output) goes to stderr.
#
# Cache: ${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/helm/<key>/
# where <key> = sha256 over this script (which pins helm's version), tools/go-build-cache.sh (the steps every Go
# build here shares) and `go version`. A hit costs a few milliseconds; a cold build takes ~3 min and ~2 GB RAM on
# 2 cores (plus ~150 MB of module downloads).
set -euo pipefail

# helm.sh/helm/v4 is installed by version with its own go.mod (no module of ours), as containerd is in
# tools/controlplane/build.sh: its dependencies need not agree with Kubernetes' there.
helm_version=v4.3.2

src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../go-build-cache.sh
. "$src_dir/../go-build-cache.sh"

go_cache_begin helm 2,12 "$@"
go_cache_key "$src_dir" build.sh
go_cache_reuse helm
tmp=$go_cache_tmp

log "building helm $helm_version from Go modules (cache key $go_cache_key)"
# Run outside any module, so that `go install pkg@version` uses helm's own go.mod.
cd "$tmp"
if ! GOBIN="$tmp/bin" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v4/cmd/helm@$helm_version" >&2; then
  die "go install of helm $helm_version failed (see output above; the Go module proxy must be reachable unless the module cache is warm)"
fi
got=$("$tmp/bin/helm" version --template '{{.Version}}') || die "the built helm does not run"
[ "$got" = "$helm_version" ] || die "built helm reports version '$got', expected '$helm_version'"
go_cache_publish
