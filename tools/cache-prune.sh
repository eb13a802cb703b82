# shellcheck shell=bash
# The pruning rule of the build caches (tools/go-build-cache.sh, tools/images/build.sh). Sourced, not run.
#
# Several worktrees of one machine share a cache, each with its own keys, and a test run reads its entries for as
# long as it runs (a real node imports the image archives, a second control plane starts from the binaries). So an
# entry is never pruned while it may be in use: every use marks it (its directory's mtime, touched on every hit), and
# an entry used in the last KASPROP_CACHE_KEEP_HOURS hours (default 6, far longer than any test run) is kept. Of the
# entries not used that recently, the most recently used one is kept as well, so switching back to the previous
# branch costs no rebuild; the others are removed.

# prune_cache_dir DIR CURRENT [LOG]: removes the entries (directories not starting with `.`) of DIR but CURRENT that
# the rule above does not keep; LOG, if given, is called with each removed path.
prune_cache_dir() {
  local dir=$1 current=$2 logger=${3:-}
  local hours=${KASPROP_CACHE_KEEP_HOURS:-6}
  case "$hours" in '' | *[!0-9]*) hours=6 ;; esac
  local cutoff kept_old=0 mtime path
  cutoff=$(($(date +%s) - hours * 3600))
  while read -r mtime path; do
    # Recently used: possibly in use by a run of another worktree.
    [ "${mtime%.*}" -ge "$cutoff" ] && continue
    if [ "$kept_old" = 0 ]; then
      kept_old=1
      continue
    fi
    [ -z "$logger" ] || "$logger" "pruning cache entry $path (unused for more than $hours h)"
    rm -rf "$path"
  done < <(find "$dir" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name "$current" -printf '%T@ %p\n' 2>/dev/null | sort -rn)
}
