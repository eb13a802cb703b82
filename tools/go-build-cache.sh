# shellcheck shell=bash
# Build a Go program into a cache keyed by its inputs: the steps tools/controlplane/build.sh and tools/helm/build.sh
# share. Sourced, not run. A build script calls, in this order:
#
#   go_cache_begin NAME HELP "$@"
#                                NAME: the cache's subdirectory and the log prefix; HELP: the sed range of the
#                                script's usage comment. Arguments (--force, --print-key, -h), Go's environment,
#                                `go version`
#   go_cache_key DIR FILE...     key = sha256 over `go version`, this file and FILEs (relative to DIR, which names them
#                                in the key, so every clone computes the same key); with --print-key prints it and exits
#   go_cache_reuse CHECK         a complete entry (CHECK: the executable in its bin/ that proves it) prints its bin
#                                directory and exits; otherwise takes the build lock and makes $go_cache_tmp for the build
#   ... the build, into "$go_cache_tmp/bin" ...
#   go_cache_publish             marks it complete, renames it into place, prunes entries (tools/cache-prune.sh),
#                                prints the bin directory
#
# Cache: ${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/<NAME>/<key>/. The key names inputs only (no
# time, no absolute path), so every clone computes the same one; each build script keeps its pins (versions) in its
# own text, which is among its key's files. A change of this file changes every key: each program is built once more.

# shellcheck source-path=SCRIPTDIR source=cache-prune.sh
. "$(dirname "${BASH_SOURCE[0]}")/cache-prune.sh"

die() { echo "$go_cache_name/build.sh: error: $*" >&2; exit 1; }
log() { echo "$go_cache_name/build.sh: $*" >&2; }

go_cache_begin() {
  go_cache_name=$1
  local help=$2
  shift 2
  go_cache_force=0
  go_cache_print_key=0
  local arg
  for arg in "$@"; do
    case "$arg" in
      --force) go_cache_force=1 ;;
      --print-key) go_cache_print_key=1 ;;
      -h|--help) sed -n "${help}p" "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
      *) die "unknown argument: $arg" ;;
    esac
  done
  command -v go >/dev/null 2>&1 || die "'go' not found on PATH (GOTOOLCHAIN=local is enforced, so no toolchain download happens)"
  export GOTOOLCHAIN=local
  export GOFLAGS=-buildvcs=false
  export CGO_ENABLED=0
  # Never let a workspace file elsewhere in the repository capture the module.
  export GOWORK=off
  go_cache_go_version=$(go version) || die "'go version' failed"
}

go_cache_key() {
  local dir=$1 lib
  shift
  lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/go-build-cache.sh"
  go_cache_key=$(
    {
      printf 'go-version %s\n' "$go_cache_go_version"
      # Fixed order, each file named and sized, so that moving bytes between files changes the key.
      printf '== go-build-cache.sh %s\n' "$(wc -c <"$lib")"
      cat "$lib"
      local f
      for f in "$@"; do
        [ -f "$dir/$f" ] || die "missing $dir/$f"
        printf '== %s %s\n' "$f" "$(wc -c <"$dir/$f")"
        cat "$dir/$f"
      done
    } | sha256sum | cut -c1-32
  )
  if [ "$go_cache_print_key" = 1 ]; then
    echo "$go_cache_key"
    exit 0
  fi
  go_cache_root="${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/$go_cache_name"
  go_cache_final="$go_cache_root/$go_cache_key"
}

go_cache_reuse() {
  go_cache_check=$1
  if [ "$go_cache_force" = 0 ] && go_cache_complete; then
    # Mark as recently used: pruning keeps the most recently used entries.
    touch -c "$go_cache_final" 2>/dev/null || true
    echo "$go_cache_final/bin"
    exit 0
  fi
  mkdir -p "$go_cache_root"
  local have_flock=0
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$go_cache_root/.lock"
    if ! flock -n 9; then
      log "another build holds $go_cache_root/.lock; waiting for it..."
      flock 9
    fi
    have_flock=1
  else
    log "warning: flock not found; concurrent builds are not serialized (the final rename is still atomic)"
  fi
  # Someone else may have finished the same build while we waited.
  if [ "$go_cache_force" = 0 ] && go_cache_complete; then
    echo "$go_cache_final/bin"
    exit 0
  fi
  # With the lock held nobody else is building: every temp dir is a leftover of a killed build. Without flock only
  # old ones are.
  if [ "$have_flock" = 1 ]; then
    find "$go_cache_root" -mindepth 1 -maxdepth 1 -name '.tmp.*' -exec rm -rf {} + 2>/dev/null || true
  else
    find "$go_cache_root" -mindepth 1 -maxdepth 1 -name '.tmp.*' -mmin +240 -exec rm -rf {} + 2>/dev/null || true
  fi
  go_cache_tmp=$(mktemp -d "$go_cache_root/.tmp.$go_cache_key.XXXXXX")
  chmod 755 "$go_cache_tmp"
  mkdir -p "$go_cache_tmp/bin"
  trap 'rm -rf "$go_cache_tmp"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  go_cache_start=$(date +%s)
}

go_cache_complete() { [ -f "$go_cache_final/.complete" ] && [ -x "$go_cache_final/bin/$go_cache_check" ]; }

go_cache_publish() {
  date -u +%Y-%m-%dT%H:%M:%SZ >"$go_cache_tmp/.complete"
  # A keyed dir only ever appears by the rename of a fully written temp dir. An (incomplete or forced-over) one in
  # the way is moved aside first.
  if [ -e "$go_cache_final" ]; then
    local old
    old=$(mktemp -d "$go_cache_root/.tmp.old.XXXXXX")
    if mv "$go_cache_final" "$old/"; then rm -rf "$old"; fi
  fi
  if ! mv -T "$go_cache_tmp" "$go_cache_final"; then
    # Only possible without flock: a concurrent builder published first.
    go_cache_complete || die "could not move $go_cache_tmp to $go_cache_final"
    log "another build published $go_cache_final first; using it"
    rm -rf "$go_cache_tmp"
  fi
  trap - EXIT
  log "built in $(($(date +%s) - go_cache_start))s: $go_cache_final/bin"

  prune_cache_dir "$go_cache_root" "$go_cache_key" log
  echo "$go_cache_final/bin"
}
