#!/usr/bin/env bash
# Build (or reuse from cache) helm, compiled from its Go module, for the chart's tests (charts/kasprop).
#
# Usage: tools/helm/build.sh [--force] [--print-key]
#
# On success prints ONE line on stdout: the absolute path of the bin directory, which contains `helm`.
# Everything else (progress, go build output) goes to stderr.
#
# Cache: ${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/helm/<key>/
# where <key> = sha256 over this script (which pins helm's version) and `go version`. A hit costs a few
# milliseconds; a cold build takes ~3 min and ~2 GB RAM on 2 cores (plus ~150 MB of module downloads).
set -euo pipefail

# helm.sh/helm/v4 is installed by version with its own go.mod (no module of ours), as containerd is in
# tools/controlplane/build.sh: its dependencies need not agree with Kubernetes' there.
helm_version=v4.3.2

die() { echo "helm/build.sh: error: $*" >&2; exit 1; }
log() { echo "helm/build.sh: $*" >&2; }

force=0
print_key=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-key) print_key=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
command -v go >/dev/null 2>&1 || die "'go' not found on PATH (GOTOOLCHAIN=local is enforced, so no toolchain download happens)"

export GOTOOLCHAIN=local
export GOFLAGS=-buildvcs=false
export CGO_ENABLED=0
export GOWORK=off

go_version=$(go version) || die "'go version' failed"
key=$({ printf 'go-version %s\n' "$go_version"; cat "$src_dir/build.sh"; } | sha256sum | cut -c1-32)
if [ "$print_key" = 1 ]; then
  echo "$key"
  exit 0
fi

cache_root="${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/helm"
final="$cache_root/$key"
bin_dir="$final/bin"
is_complete() { [ -f "$final/.complete" ] && [ -x "$bin_dir/helm" ]; }

if [ "$force" = 0 ] && is_complete; then
  touch -c "$final" 2>/dev/null || true
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  log "another build holds $cache_root/.lock; waiting for it..."
  flock 9
fi
if [ "$force" = 0 ] && is_complete; then
  echo "$bin_dir"
  exit 0
fi
# With the lock held nobody else is building: every temp dir is a leftover of a killed build.
find "$cache_root" -mindepth 1 -maxdepth 1 -name '.tmp.*' -exec rm -rf {} + 2>/dev/null || true

tmp=$(mktemp -d "$cache_root/.tmp.$key.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building helm $helm_version from Go modules (cache key $key)"
start=$(date +%s)
# Run outside any module, so that `go install pkg@version` uses helm's own go.mod.
cd "$tmp"
if ! GOBIN="$tmp/bin" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v4/cmd/helm@$helm_version" >&2; then
  die "go install of helm $helm_version failed (see output above; the Go module proxy must be reachable unless the module cache is warm)"
fi
got=$("$tmp/bin/helm" version --template '{{.Version}}') || die "the built helm does not run"
[ "$got" = "$helm_version" ] || die "built helm reports version '$got', expected '$helm_version'"
date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"

if [ -e "$final" ]; then
  old=$(mktemp -d "$cache_root/.tmp.old.XXXXXX")
  mv "$final" "$old/" && rm -rf "$old" || true
fi
mv -T "$tmp" "$final" || die "could not move $tmp to $final"
trap - EXIT
log "built in $(( $(date +%s) - start ))s: $bin_dir"

# Keep the current key plus the most recently used other one.
find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name "$key" -printf '%T@ %p\n' 2>/dev/null \
  | sort -rn | tail -n +2 | cut -d' ' -f2- | while IFS= read -r d; do
      log "pruning old cache entry $d"
      rm -rf "$d"
    done

echo "$bin_dir"
