#!/usr/bin/env bash
# Build (or reuse from cache) the OCI image archives a real-node test cluster imports with
# `ctr -n k8s.io images import`: no Docker daemon, no registry. Each image is one layer from Debian packages
# (`apt-get download`) and project files.
#
# Usage: tools/images/build.sh [--force]
#
# On success prints ONE line on stdout: the absolute path of a directory holding the archives and images.json,
#   [{"archive": "<absolute path of an .tar>", "names": ["<full image reference>", ...]}, ...]
# with, in this order:
#   pause     kasprop.test/pause:3.10                  pause.c of the k8s.io/kubernetes module (tools/controlplane)
#   python    docker.io/kasprio/kaspr:<default version> (the image of the default version in src/api/versions.ts),
#             kasprop.test/python:3
#             Debian's python3.11 with its whole stdlib and pip, busybox; runs kaspr-standin/app.py
#   nopip     kasprop.test/python-nopip:3              the same without pip
#   operator  docker.io/library/kasprop:<package.json version>   the Dockerfile's runtime stage
# Progress goes to stderr.
#
# Cache: ${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/images/, one entry per image keyed by
# sha256 over that image's inputs (this script, mkoci.py, the exact .deb files, and app.py, pause.c, or the
# operator's package.json, package-lock.json, tsconfig files, .node-version, src/ and crds/), so a source change
# rebuilds only the operator image. A hit costs well under a second. Sets and entries used in the last
# KASPROP_CACHE_KEEP_HOURS hours (default 6) are never pruned: another worktree's run may be reading them
# (tools/cache-prune.sh).
set -euo pipefail
export LC_ALL=C
umask 022

# shellcheck source-path=SCRIPTDIR source=../cache-prune.sh
. "$(dirname "${BASH_SOURCE[0]}")/../cache-prune.sh"

die() { echo "images/build.sh: error: $*" >&2; exit 1; }
log() { echo "images/build.sh: $*" >&2; }

script_args=("$@")
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

# The machine is shared with long compiles: everything below, children included, yields the CPU to them.
renice -n 10 -p $$ >/dev/null 2>&1 || true

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
cache_root="${KASPROP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kasprop}/images"
mkdir -p "$cache_root"

for tool in python3 apt-get apt-cache dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH"
done

hash_files() { # paths relative to the repository, so that every clone computes the same keys
  local f
  for f in "$@"; do [ -f "$repo/$f" ] || die "missing input file $repo/$f"; done
  (cd "$repo" && sha256sum -- "$@")
}
short_sha() { sha256sum | cut -c1-32; }
# A resolution's contents, not its path: the file name changes with every apt-get update, the versions seldom do.
hash_debs() { printf '== debs\n'; cat "$1"; }

# ---- names -----------------------------------------------------------------------------------------------------
versions_ts="$repo/src/api/versions.ts"
kaspr_version=$(sed -n "s/^export const defaultKasprVersion = '\([0-9A-Za-z.+-]*\)';\$/\1/p" "$versions_ts")
[ -n "$kaspr_version" ] || die "cannot find \"export const defaultKasprVersion = '<version>';\" in $versions_ts"
# The image the operator renders for the default version, as listed in the table of the same file.
kaspr_image=$(sed -n "s/^ *{ version: '${kaspr_version//./\\.}', image: '\([a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_.-]*\)' },\$/\1/p" "$versions_ts")
case "$kaspr_image" in
  */*/*) ;;
  */*) kaspr_image="docker.io/$kaspr_image" ;;
  *) kaspr_image="docker.io/library/$kaspr_image" ;;
esac
[ "$kaspr_image" != docker.io/library/ ] || die "no \"{ version: '$kaspr_version', image: '...' },\" row in $versions_ts"
# sed, not a JSON parser: this is on the cache-hit path, and Python or Node would double its cost.
operator_version=$(sed -n 's/^  "version": "\([0-9A-Za-z.+-]*\)",$/\1/p' "$repo/package.json")
[ -n "$operator_version" ] || die "no top-level '\"version\": \"<version>\",' line in $repo/package.json"
node_version=$(tr -d ' \n' <"$repo/.node-version")

pause_names=(kasprop.test/pause:3.10)
python_names=("$kaspr_image" kasprop.test/python:3)
nopip_names=(kasprop.test/python-nopip:3)
operator_names=("docker.io/library/kasprop:$operator_version")

# ---- Debian packages ---------------------------------------------------------------------------------------------
# Packages only maintainer scripts or other tools need; a container never runs them.
apt_exclude=dpkg,install-info,perl,perl-base,perl-modules-5.36,libperl5.36,libgdbm-compat4,tar,mailcap,mime-support,debconf,cdebconf,openssl
python_seeds=(python3.11 python3 python3-pip busybox-static)
nopip_seeds=(python3.11 python3 busybox-static)
operator_seeds=(libc6 libstdc++6 libgcc-s1)

# The resolution (package -> .deb file and sha256) takes apt several seconds, so it is cached until the package
# lists change (apt-get update) or the seeds do: apt/<key>/<image>, one "<package> <.deb file> <sha256>" per line.
apt_state=$(
  {
    dpkg --print-architecture
    find /var/lib/apt/lists -maxdepth 1 -type f -name '*_Packages*' -printf '%f %s %T@\n' | sort
    cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true
  } | short_sha
)
apt_sets=("python=$(IFS=,; echo "${python_seeds[*]}")" "nopip=$(IFS=,; echo "${nopip_seeds[*]}")"
  "operator=$(IFS=,; echo "${operator_seeds[*]}")")
apt_key=$( { printf '%s\n' "$apt_state" "$apt_exclude" "${apt_sets[@]}"; hash_files tools/images/aptclosure.py; } | short_sha)
apt_dir="$cache_root/apt/$apt_key"
if [ ! -d "$apt_dir" ]; then
  mkdir -p "$cache_root/apt"
  log "resolving the Debian packages of the images (apt-cache depends; cached until the package lists change)"
  resolving=$(mktemp -d "$cache_root/apt/.tmp.XXXXXX")
  python3 "$here/aptclosure.py" --exclude "$apt_exclude" "${apt_sets[@]}" >"$resolving/all" \
    || { rm -rf "$resolving"; die "cannot resolve the images' Debian packages (see above; 'apt-get update' may be needed)"; }
  for id in python nopip operator; do
    awk -v id="$id" '$1 == id { print $2, $3, $4 }' "$resolving/all" >"$resolving/$id"
  done
  rm "$resolving/all"
  # Another build may have published the same resolution meanwhile; either copy will do.
  mv -T "$resolving" "$apt_dir" 2>/dev/null || rm -rf "$resolving"
  [ -d "$apt_dir" ] || die "could not store the resolution in $apt_dir"
fi
python_debs="$apt_dir/python"
nopip_debs="$apt_dir/nopip"
operator_debs="$apt_dir/operator"

# ---- inputs and keys -----------------------------------------------------------------------------------------------
command -v go >/dev/null 2>&1 || die "'go' not found on PATH: the pause image is built from pause.c of the k8s.io/kubernetes Go module"
k8s_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v[0-9]/ { print $2; exit }' "$repo/tools/controlplane/go.mod")
[ -n "$k8s_version" ] || die "no k8s.io/kubernetes requirement in $repo/tools/controlplane/go.mod"
pause_dir="$(GOWORK=off go env GOMODCACHE)/k8s.io/kubernetes@$k8s_version/build/pause"
if [ ! -f "$pause_dir/linux/pause.c" ]; then
  log "downloading the k8s.io/kubernetes $k8s_version module for pause.c"
  (cd "$repo/tools/controlplane" && GOWORK=off GOFLAGS=-mod=mod go mod download k8s.io/kubernetes) >&2 \
    || die "'go mod download k8s.io/kubernetes' failed in tools/controlplane (the Go module proxy must be reachable)"
  [ -f "$pause_dir/linux/pause.c" ] || die "no $pause_dir/linux/pause.c after downloading the module"
fi
pause_tag=$(sed -n 's/^TAG ?= *//p' "$pause_dir/Makefile")
[ -n "$pause_tag" ] || die "no 'TAG ?=' in $pause_dir/Makefile"
command -v gcc >/dev/null 2>&1 || die "'gcc' not found on PATH (apt-get install gcc libc6-dev)"

common_inputs=(tools/images/build.sh tools/images/mkoci.py)
pause_key=$( { gcc --version | head -n 1; echo "$pause_tag"; printf '%s\n' "${pause_names[@]}"
  sha256sum <"$pause_dir/linux/pause.c"; hash_files "${common_inputs[@]}"; } | short_sha)
python_key=$( { printf '%s\n' "${python_names[@]}"; hash_debs "$python_debs"
  hash_files "${common_inputs[@]}" tools/images/kaspr-standin/app.py; } | short_sha)
nopip_key=$( { printf '%s\n' "${nopip_names[@]}"; hash_debs "$nopip_debs"
  hash_files "${common_inputs[@]}" tools/images/kaspr-standin/app.py; } | short_sha)
mapfile -t operator_sources < <(cd "$repo" && find src crds -type f | sort)
operator_key=$(
  {
    printf '%s\n' "${operator_names[@]}"
    hash_debs "$operator_debs"
    hash_files "${common_inputs[@]}" package.json package-lock.json tsconfig.json tsconfig.build.json .node-version \
      "${operator_sources[@]}"
  } | short_sha
)
images=(pause python nopip operator)
declare -A key=([pause]=$pause_key [python]=$python_key [nopip]=$nopip_key [operator]=$operator_key)
set_key=$(for id in "${images[@]}"; do echo "$id ${key[$id]}"; done | short_sha)
set_dir="$cache_root/sets/$set_key"

# ---- fast path ---------------------------------------------------------------------------------------------------
if [ "$force" = 0 ] && [ -f "$set_dir/.complete" ]; then
  for id in "${images[@]}"; do touch -c "$cache_root/entries/$id/${key[$id]}"; done
  touch -c "$set_dir"
  echo "$set_dir"
  exit 0
fi

exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  log "another build holds $cache_root/.lock; waiting for it..."
  flock 9
fi
if [ "$force" = 0 ] && [ -f "$set_dir/.complete" ]; then
  echo "$set_dir"
  exit 0
fi
# With the lock held nobody else is building: every temp dir is a leftover of a killed build. (Not so under apt/,
# where resolutions are made before the lock is taken.)
find "$cache_root/entries" "$cache_root/sets" "$cache_root/debs" -mindepth 1 -maxdepth 2 -name '.tmp.*' \
  -exec rm -rf {} + 2>/dev/null || true

tmp=""
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- .deb files --------------------------------------------------------------------------------------------------
debs_dir="$cache_root/debs"
mkdir -p "$debs_dir"
fetch_debs() { # resolution file: makes sure every .deb it names is in $debs_dir, with the sha256 it names
  local pkg file sum missing=() specs=() dl
  while read -r pkg file sum; do
    [ -f "$debs_dir/$file" ] || { missing+=("$file"); specs+=("$pkg=$(echo "${file#*_}" | sed 's/_[^_]*\.deb$//; s/%3a/:/g')"); }
  done <"$1"
  [ "${#missing[@]}" -gt 0 ] || return 0
  log "apt-get download ${specs[*]}"
  dl=$(mktemp -d "$debs_dir/.tmp.XXXXXX")
  if ! (cd "$dl" && apt-get download "${specs[@]}") >&2; then
    rm -rf "$dl"
    if [ "$(id -u)" = 0 ] && [ -z "${KASPROP_IMAGES_APT_UPDATED:-}" ]; then
      log "apt-get download failed: the package lists may be stale; running 'apt-get update' once and starting over"
      apt-get update >&2 || die "'apt-get update' failed"
      rm -rf "$apt_dir"
      cleanup
      exec 9>&-
      KASPROP_IMAGES_APT_UPDATED=1 exec "$here/build.sh" "${script_args[@]}"
    fi
    die "apt-get download failed (see above): the package lists may be stale; run 'apt-get update' (as root) and retry"
  fi
  while read -r pkg file sum; do
    if [ -f "$dl/$file" ]; then
      [ "$(sha256sum <"$dl/$file" | cut -d' ' -f1)" = "$sum" ] || die "$file does not have the sha256 apt announced ($sum)"
      mv -f "$dl/$file" "$debs_dir/$file"
    fi
  done <"$1"
  rm -rf "$dl"
  for file in "${missing[@]}"; do [ -f "$debs_dir/$file" ] || die "apt-get download did not produce $file"; done
}

extract_debs() { # resolution file, rootfs
  local pkg file sum
  while read -r pkg file sum; do
    dpkg-deb -x "$debs_dir/$file" "$2"
  done <"$1"
  # Documentation only: nothing in a container reads it.
  rm -rf "$2/usr/share/doc" "$2/usr/share/man" "$2/usr/share/info" "$2/usr/share/locale" "$2/usr/share/lintian"
}

# Runs the rootfs's loader with the rootfs's libraries, so that a program of the image runs as it would inside it,
# with no chroot (or root) needed. args: rootfs, then the loader's arguments (program and its arguments).
in_rootfs() {
  local root=$1; shift
  "$root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
    --library-path "$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu" "$@"
}

base_files() { # rootfs, name of the uid 1000 user
  mkdir -p "$1/etc" "$1/proc" "$1/sys" "$1/dev" "$1/tmp" "$1/root"
  chmod 1777 "$1/tmp"
  chmod 700 "$1/root"
  printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:1000:1000:%s:/home/%s:/bin/sh\n' "$2" "$2" "$2" >"$1/etc/passwd"
  printf 'root:x:0:\n%s:x:1000:\n' "$2" >"$1/etc/group"
}

# ---- the images ----------------------------------------------------------------------------------------------------
build_pause() { # rootfs
  gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-kasprop" -o "$1/pause" "$pause_dir/linux/pause.c" >&2
  strip "$1/pause"
  echo '{"Entrypoint":["/pause"],"User":"65535:65535","WorkingDir":"/"}'
}

build_python() { # rootfs, resolution file
  local root=$1 applet
  extract_debs "$2" "$root"
  base_files "$root" kaspr
  [ -x "$root/usr/bin/python3" ] || die "no /usr/bin/python3 in the python3-minimal package"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || [ -e "$root/usr/bin/$applet" ] || [ -e "$root/sbin/$applet" ] \
      || [ -e "$root/usr/sbin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  if [ -d "$root/usr/share/ca-certificates/mozilla" ]; then
    # What ca-certificates' maintainer script (update-ca-certificates) would generate: pip and ssl read the bundle.
    mkdir -p "$root/etc/ssl/certs" "$root/usr/lib/ssl"
    cat "$root"/usr/share/ca-certificates/mozilla/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"
    ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
    ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
  fi
  mkdir -p "$root/opt/kaspr-standin"
  cp "$here/kaspr-standin/app.py" "$root/opt/kaspr-standin/app.py"
  # Debian compiles .pyc files in a maintainer script. Without them every pip run would recompile pip (seconds of
  # CPU per pod); unchecked-hash ones stay valid whatever the sources' mtimes, which the layer sets to 0.
  PYTHONHOME="$root/usr" in_rootfs "$root" "$root/usr/bin/python3.11" -m compileall -q -j 1 \
    --invalidation-mode unchecked-hash -s "$root" -p / -x '/lib2to3/tests/' \
    "$root/usr/lib/python3.11" "$root/usr/lib/python3/dist-packages" >&2 \
    || die "compileall failed in the python image"
  echo '{"Entrypoint":["/usr/bin/python3","/opt/kaspr-standin/app.py"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8"],"ExposedPorts":{"6065/tcp":{}},"WorkingDir":"/"}'
}

# The Dockerfile's runtime stage, without its base image: the same Node binary, the glibc it links against,
# and /app as the stages put it together. test/script/images.test.ts keeps the config below equal to the
# Dockerfile's.
build_operator() { # rootfs
  local root=$1 node="$repo/node_modules/node/bin/node" got deps line
  [ "$(head -c 4 "$node" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ] \
    || die "$node is not the Node binary: run 'npm ci' in $repo (the node package's install script puts it there)"
  got=$("$node" --version) || die "$node --version failed"
  [ "$got" = "v$node_version" ] || die "$node is $got but .node-version says $node_version: run 'npm ci' in $repo"
  extract_debs "$operator_debs" "$root"
  base_files "$root" node
  mkdir -p "$root/usr/local/bin" "$root/app"
  cp "$node" "$root/usr/local/bin/node"
  chmod 755 "$root/usr/local/bin/node"
  while read -r line; do
    case "$line" in
      *'not found'*) die "the operator image lacks a library Node needs: $line" ;;
      *"=> $root/"* | linux-vdso.so.1*) ;;
      # The loader, by the absolute path in Node's ELF header, which the image's libc6 provides too.
      /lib64/ld-linux-x86-64.so.2*) [ -L "$root/lib64/ld-linux-x86-64.so.2" ] || die "no /lib64/ld-linux-x86-64.so.2 in the image" ;;
      *) die "Node would load a library from outside the image: $line" ;;
    esac
  done < <(in_rootfs "$root" --list "$root/usr/local/bin/node")
  got=$(in_rootfs "$root" "$root/usr/local/bin/node" --version) || die "Node does not run with the image's libraries"
  [ "$got" = "v$node_version" ] || die "the image's Node says $got"

  # `npm run build`, into the image instead of the repository's dist/.
  (cd "$repo" && "$node" node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir "$root/app/dist") >&2 \
    || die "tsc -p tsconfig.build.json failed"
  cp -R "$repo/crds" "$root/app/dist/crds"
  cp "$repo/package.json" "$repo/package-lock.json" "$root/app/"

  deps="$tmp/deps"
  mkdir -p "$deps/bin"
  cp "$repo/package.json" "$repo/package-lock.json" "$deps/"
  # npm runs on the pinned Node, as in the Dockerfile's node image.
  ln -s "$node" "$deps/bin/node"
  (cd "$deps" && PATH="$deps/bin:$PATH" npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline) >&2 \
    || die "npm ci --omit=dev failed (the npm registry or a warm npm cache is needed)"
  mv "$deps/node_modules" "$root/app/node_modules"
  printf '{"Entrypoint":["node","--max-semi-space-size=2","--optimize-for-size","dist/src/cli/main.js"],"Cmd":["run"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","NODE_VERSION=%s","NODE_ENV=production","MALLOC_ARENA_MAX=2"],"ExposedPorts":{"8080/tcp":{}},"User":"1000:1000","WorkingDir":"/app"}\n' "$node_version"
}

build_image() { # id, names...
  local id=$1; shift
  local dir="$cache_root/entries/$id" final start config
  final="$dir/${key[$id]}"
  if [ "$force" = 0 ] && [ -f "$final/.complete" ]; then
    touch -c "$final"
    return 0
  fi
  mkdir -p "$dir"
  tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
  chmod 755 "$tmp"
  mkdir "$tmp/rootfs"
  start=$EPOCHREALTIME
  log "building the $id image ($*)"
  # Here, not in the builders below: they run in command substitutions, and a failed download starts over.
  case "$id" in
    python) fetch_debs "$python_debs" ;;
    nopip) fetch_debs "$nopip_debs" ;;
    operator) fetch_debs "$operator_debs" ;;
  esac
  case "$id" in
    pause) config=$(build_pause "$tmp/rootfs") ;;
    python) config=$(build_python "$tmp/rootfs" "$python_debs") ;;
    nopip) config=$(build_python "$tmp/rootfs" "$nopip_debs") ;;
    operator) config=$(build_operator "$tmp/rootfs") ;;
  esac
  python3 "$here/mkoci.py" "$tmp/rootfs" "$config" "$tmp/image.tar" "$@"
  rm -rf "$tmp/rootfs" "$tmp/deps"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"
  if [ -e "$final" ]; then
    local old
    old=$(mktemp -d "$dir/.tmp.old.XXXXXX")
    mv "$final" "$old/" && rm -rf "$old"
  fi
  mv -T "$tmp" "$final"
  tmp=""
  log "built the $id image in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s: $(du -h "$final/image.tar" | cut -f1)"
  prune_cache_dir "$dir" "${key[$id]}"
}

build_image pause "${pause_names[@]}"
build_image python "${python_names[@]}"
build_image nopip "${nopip_names[@]}"
build_image operator "${operator_names[@]}"

# ---- the set: hard links to the entries, and images.json -------------------------------------------------------
mkdir -p "$cache_root/sets"
tmp=$(mktemp -d "$cache_root/sets/.tmp.XXXXXX")
chmod 755 "$tmp"
json_args=()
for id in "${images[@]}"; do
  ln "$cache_root/entries/$id/${key[$id]}/image.tar" "$tmp/$id.tar" 2>/dev/null \
    || cp "$cache_root/entries/$id/${key[$id]}/image.tar" "$tmp/$id.tar"
  declare -n names="${id}_names"
  json_args+=("$set_dir/$id.tar" "$(IFS=$'\n'; echo "${names[*]}")")
  unset -n names
done
python3 -c '
import json, sys
args = sys.argv[2:]
images = [{"archive": args[i], "names": args[i + 1].split("\n")} for i in range(0, len(args), 2)]
with open(sys.argv[1], "w") as f:
    json.dump(images, f, indent=2)
    f.write("\n")
' "$tmp/images.json" "${json_args[@]}"
date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"
if [ -e "$set_dir" ]; then
  old=$(mktemp -d "$cache_root/sets/.tmp.old.XXXXXX")
  mv "$set_dir" "$old/" && rm -rf "$old"
fi
mv -T "$tmp" "$set_dir"
tmp=""

# ---- prune: sets no run may be using (tools/cache-prune.sh), .deb files no current image uses, old resolutions --
# A run reads its set's archives while it runs; .deb files and resolutions are read only under the lock, by a build.
prune_cache_dir "$cache_root/sets" "$set_key" log
cat "$python_debs" "$nopip_debs" "$operator_debs" | cut -d' ' -f2 | sort -u >"$debs_dir/.keep"
find "$debs_dir" -maxdepth 1 -name '*.deb' -printf '%f\n' | sort | comm -23 - "$debs_dir/.keep" \
  | while IFS= read -r f; do rm -f "$debs_dir/$f"; done
rm -f "$debs_dir/.keep"
# (A resolution in progress, by a build that has not taken the lock yet, is a .tmp.* directory.)
find "$cache_root/apt" -mindepth 1 -maxdepth 1 ! -name '.tmp.*' ! -name "$apt_key" -exec rm -rf {} +

echo "$set_dir"
