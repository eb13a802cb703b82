// The one place where the pod builders (which set the init container's env and volume) and the installer program
// (src/packages/installer/, which reads them) agree. The installer is Python, so it cannot import this file: the script
// tests check that every name here is the one installer.py and bootstrap.sh use, and that the paths below are where the
// real installer puts things.
import { posix } from 'node:path';

/**
 * Environment of the `install-packages` init container. Every input of the installer arrives here (or in the volume),
 * never in the command line: the command and args are constant and identical for every app (operator release).
 */
export const INSTALLER_ENV = {
  /** Spec hash, `^[0-9a-f]{8,64}$`; names the hash directory, the marker and the prepared result. Required. */
  hash: 'KASPR_PACKAGES_HASH',
  /**
   * The requirement lines, newline-separated, exactly as listed in `spec.pythonPackages.packages`. The installer writes
   * them to a requirements file itself. Lines starting with `-` (pip options), carrying an option anywhere, containing
   * `$`, a NUL or a CR, or ending in a line continuation are refused before pip runs. Required unless `locked` is set.
   */
  requirements: 'KASPR_PACKAGES_REQUIREMENTS',
  /**
   * `spec.pythonPackages.packagesWithHashes`, one distribution a line: `name==version algorithm:hex ...` (sha256,
   * sha384, sha512; see src/packages/locked-packages.ts). When set, these are what pip installs, in hash-checking mode
   * (`--require-hashes`): every file must match a listed digest and every dependency must be listed; the
   * `requirements` lines then only constrain the resolution (pip's `--constraint`). The installer checks every line
   * against that grammar and writes pip's `--hash=` options itself. Either this or `requirements` is required.
   */
  locked: 'KASPR_PACKAGES_LOCKED',
  /**
   * The bundle's directory in the init container: {@link BUNDLE_MOUNT_PATH}, or `bundleSource.path` under it. pip
   * reads distribution files there (`--find-links`) besides the indexes, or instead of them with `offline`. Unset
   * without `bundleSource`. Must be an absolute path without `..`.
   */
  bundleDir: 'KASPR_PACKAGES_BUNDLE_DIR',
  /**
   * `true` (`spec.pythonPackages.offlineMode`): pip reads the bundle only (`--no-index --find-links`), and no index
   * URL, extra index or credentials reach it. Requires `bundleDir`. Unset or `false` otherwise.
   */
  offline: 'KASPR_PACKAGES_OFFLINE',
  /** `spec.pythonPackages.indexUrl`; empty or unset means pip's default (PyPI). The credentials go only here. */
  indexUrl: 'KASPR_PACKAGES_INDEX_URL',
  /** `extraIndexUrls`, newline-separated. Never given the credentials. */
  extraIndexUrls: 'KASPR_PACKAGES_EXTRA_INDEX_URLS',
  /** `trustedHosts`, newline-separated `host` or `host:port`. */
  trustedHosts: 'KASPR_PACKAGES_TRUSTED_HOSTS',
  /**
   * From the credentials Secret via `secretKeyRef` (with the password, or neither). Spliced URL-encoded into the index
   * URL inside the installer process only; never in an argv, pip's environment, a log line, a file or the result.
   * Setting credentials without an index URL is refused (they would go to PyPI).
   */
  indexUsername: 'KASPR_PACKAGES_INDEX_USERNAME',
  /** See `indexUsername`. */
  indexPassword: 'KASPR_PACKAGES_INDEX_PASSWORD',
  /** Extra attempts after a failed pip run (0 means one attempt). Permanent failures are not retried. Default 3. */
  retries: 'KASPR_PACKAGES_RETRIES',
  /** Limit for one pip run, in seconds; pip's whole process group is killed when it runs out. Default 600. */
  timeoutSeconds: 'KASPR_PACKAGES_TIMEOUT_SECONDS',
  /**
   * Limit for the whole init container run in seconds (waiting for another pod's install included). Default:
   * `(retries + 1) * timeout` plus the backoff between attempts, so it only binds when set lower.
   */
  deadlineSeconds: 'KASPR_PACKAGES_DEADLINE_SECONDS',
  /** `block` (exit non-zero on failure, the pod waits) or `allow` (exit 0 without packages). Default `block`. */
  onFailure: 'KASPR_PACKAGES_ON_FAILURE',
  /** The pod's name (fieldRef `metadata.name`), recorded as `installedBy` and in the lock file. Default: hostname. */
  podName: 'KASPR_PACKAGES_POD_NAME',
  /** Mount path of the packages volume in the init container. Default {@link DEFAULT_PACKAGES_MOUNT_PATH}. */
  dir: 'KASPR_PACKAGES_DIR',
  /** Where the result document goes; the container's `terminationMessagePath`. Default `/dev/termination-log`. */
  terminationLog: 'KASPR_PACKAGES_TERMINATION_LOG',
  /**
   * `pip` (default), `uv` or `auto`: which program installs (spec.pythonPackages.installer). With `uv` and no uv of
   * 0.8 or newer in the image, the installer first installs uv {@link UV_VERSION} into the volume with pip.
   */
  installer: 'KASPR_PACKAGES_INSTALLER',
} as const;

/** Every installer input starts with this; the init container template may not set such a variable. */
export const INSTALLER_ENV_PREFIX = 'KASPR_PACKAGES_';

/** What the installer assumes for an unset variable; the builders always set them from the spec's defaults. */
export const INSTALLER_ENV_DEFAULTS = {
  retries: 3,
  timeoutSeconds: 600,
  onFailure: 'block',
} as const;

export type OnFailure = 'block' | 'allow';

/** Mount path of the packages volume, in the init container (read-write) and the main container (read-only). */
export const DEFAULT_PACKAGES_MOUNT_PATH = '/packages';

/**
 * Where the init container finds the installer's two files: the app's installer ConfigMap, mounted read-only. The pod
 * spec names them (`/bin/sh <bootstrap> <program>`) and carries neither.
 */
export const INSTALLER_MOUNT_PATH = '/kasprop/installer';

/**
 * Where the init container (and only it) mounts the bundle, read-only. Outside the packages volume: the bundle is
 * input, never part of an install.
 */
export const BUNDLE_MOUNT_PATH = '/kasprop/bundle';

/** Where an install's distributions came from, as the result and `status.pythonPackages.installSource` say. */
export type InstallSource = 'index' | 'bundle' | 'bundleAndIndex';

/** The installer ConfigMap's keys, and so the file names under {@link INSTALLER_MOUNT_PATH}. */
export const INSTALLER_BOOTSTRAP_FILE = 'bootstrap.sh';
export const INSTALLER_PROGRAM_FILE = 'installer.py';

/** Kubernetes' default `terminationMessagePath`; the installer writes its result there unless told otherwise. */
export const DEFAULT_TERMINATION_LOG_PATH = '/dev/termination-log';

// Volume layout. Everything lives on the volume (nothing on the container's root filesystem, which may be read-only),
// and everything that must appear atomically is built under `.staging/` on the same filesystem and renamed into place.

/** The installed packages of one spec (pip `--target`); the main container's `PYTHONPATH` names it. */
export function hashDirectory(mountPath: string, hash: string): string {
  return posix.join(mountPath, hashSubPath(hash));
}

/** {@link hashDirectory} relative to the volume: the only part of it the main container mounts. */
export function hashSubPath(hash: string): string {
  return posix.join('envs', hash);
}

/** JSON record of a finished install, written last and atomically: the one thing that means "installed". */
export function markerPath(mountPath: string, hash: string): string {
  return posix.join(mountPath, `.installed-${hash}`);
}

/**
 * The one-line result a later pod reports (`source: cache`), prepared at install time and written before the marker,
 * so the bootstrap can hand it to the termination log with shell builtins and without starting python3.
 */
export function preparedResultPath(mountPath: string, hash: string): string {
  return posix.join(mountPath, `.result-${hash}`);
}

/**
 * flock(2) target, never deleted; its content names the current holder for the waiters' log lines. One per volume:
 * installs of different hashes serialize too, which is what makes garbage collection under it safe.
 */
export function lockPath(mountPath: string): string {
  return posix.join(mountPath, '.lock');
}

/** Work in progress (pip's target and temp dirs, files about to be renamed); emptied by every lock holder. */
export function stagingRoot(mountPath: string): string {
  return posix.join(mountPath, '.staging');
}

/**
 * pip's download and wheel cache, kept so a changed spec reuses what was fetched; pruned to a bounded size. Not used
 * when credentials are set: pip's HTTP cache would store the Authorization header of an index answering with
 * `Vary: Authorization`.
 */
export function pipCacheDirectory(mountPath: string): string {
  return posix.join(mountPath, '.pip-cache');
}

/**
 * The store of distributions: every file an install downloaded, kept as `<store>/<scope>/<sha256>/<file name>` and
 * offered to later installs of any hash from the same indexes (`scope` is a digest of the index URL and the extra
 * index URLs, which carry no credentials). Unlike pip's HTTP cache it does not depend on the index's cache headers.
 * Every file is checked against its sha256 before an install uses it; pruned like {@link pipCacheDirectory}, least
 * recently used first. Kept also with credentials: it holds distributions only, never a request or a header.
 */
export function distributionStoreDirectory(mountPath: string): string {
  return posix.join(mountPath, '.store');
}

/**
 * One file per pod, named after the pod, holding the hash it last started with; every init container run writes its
 * own (the bootstrap's fast path included, best effort). Garbage collection keeps every hash a record names, so a pod
 * of an older revision that still runs keeps its install however many newer ones exist. A StatefulSet has one pod per
 * name, so a record is current while its pod runs; the record of a pod scaled away keeps one install until a pod of
 * that name starts again.
 */
export function podRecordsDirectory(mountPath: string): string {
  return posix.join(mountPath, '.pods');
}

/** Hash directories kept besides the current one, for pods of the previous revisions during a rollout or rollback. */
export const PREVIOUS_HASHES_KEPT = 2;

/**
 * The most one installer environment variable may carry (requirements, extra index URLs, ...). Linux refuses to
 * exec a process with a single argument or environment string over 128 KiB (MAX_ARG_STRLEN); this leaves room.
 */
export const MAX_INSTALLER_ENV_VALUE_BYTES = 64 * 1024;

/** Kubernetes truncates termination messages to 4096 bytes; the installer keeps the whole document below that. */
export const MAX_RESULT_BYTES = 4096;

export const RESULT_FORMAT_VERSION = 1;

/**
 * Why an install failed, classified by the installer from pip's output (its debug log included: pip's console says
 * "from versions: none" for a missing project, a refused connection and a 401 alike). Only `network`, `timeout` and
 * `unknown` are retried: the others would fail the same way again.
 * - `package_not_found`: the index has no distribution of a project (404, "from versions: none"); offline, the
 *   bundle has no distribution (or none that fits) of a project, named in the message.
 * - `version_conflict`: the project exists but no version satisfies the requirements together (conflicting
 *   dependencies, a pinned version that does not exist, requires-python).
 * - `authentication`: the index answered 401 or 403.
 * - `network`: no answer, a dropped connection, DNS or TLS failure, 5xx.
 * - `hash_mismatch`: a downloaded file did not match its digest in `packagesWithHashes` (or the one the index gave);
 *   the message names the file and both digests.
 * - `timeout`: a pip run exceeded the attempt timeout, a read timed out, or the deadline passed (also while waiting
 *   for another pod's install).
 * - `disk_full`: ENOSPC or EDQUOT on the volume.
 * - `invalid_input`: an input the installer refuses before pip runs (bad hash, a pip option or `$` in a
 *   requirement, a malformed URL or number), a requirement pip cannot parse, or a dependency that
 *   `packagesWithHashes` does not lock (named in the message).
 * - `pip_unavailable`: the image's python3 has no pip module; only another image (or pip in it) helps.
 * - `unknown`: anything else (the installer stopped by SIGTERM, ...).
 */
export const INSTALL_ERROR_TYPES = [
  'package_not_found',
  'version_conflict',
  'authentication',
  'network',
  'hash_mismatch',
  'timeout',
  'disk_full',
  'invalid_input',
  'pip_unavailable',
  'unknown',
] as const;

export type InstallErrorType = (typeof INSTALL_ERROR_TYPES)[number];

/**
 * The document the init container writes to its termination message on every exit, as compact JSON. The operator reads
 * only this (from pod status) to build `status.pythonPackages`, events and metrics.
 */
export interface InstallResult {
  readonly formatVersion: typeof RESULT_FORMAT_VERSION;
  readonly state: 'Ready' | 'Failed';
  /**
   * `installed`: this pod ran the install (or tried to; `attempts` says how many pip runs). `cache`: it reused an
   * install found on the volume, and the install fields describe that install. Counting results with
   * `source: installed` once per (`installedBy`, `installTime`) counts every install exactly once.
   */
  readonly source: 'installed' | 'cache';
  /** The spec hash, or empty when the hash given was invalid. */
  readonly hash: string;
  /** `name==version` of every installed distribution, sorted, possibly cut short to fit; see `installedTotal`. */
  readonly installed: readonly string[];
  readonly installedTotal: number;
  /** Pod that ran the install (for `Failed`, the pod that tried). */
  readonly installedBy: string;
  /** RFC 3339 UTC time the install finished (or failed). */
  readonly installTime: string;
  readonly durationSeconds: number;
  /** Python version of the interpreter that installed, e.g. `3.11.7`. */
  readonly pythonVersion: string;
  /**
   * Install attempts made (each a `pip download` then a `pip install --no-index`, or one `pip install`); 0 when it
   * failed before pip ran.
   */
  readonly attempts: number;
  readonly errorType: InstallErrorType | null;
  /** Short, one line, credentials removed. */
  readonly error: string | null;
  readonly warnings: readonly string[];
  /**
   * pip ran in hash-checking mode against `packagesWithHashes`: every installed file matched a locked digest. Absent
   * in the results of installers older than the lock (read as false).
   */
  readonly hashVerified: boolean;
  /**
   * Where pip could take distributions from: `index`, `bundle` (offline) or `bundleAndIndex`. Absent in the results
   * of installers older than bundles (read as `index`).
   */
  readonly installSource: InstallSource;
  /**
   * Distribution files of the install taken from the store on the volume (downloaded by an earlier install of any
   * hash), and files downloaded from an index. Absent in the results of installers older than the store.
   * `fromStore + downloaded` is less than `installedTotal` when pip's own cache served a file (a set with a source
   * distribution or a URL requirement installs in one pip run from the indexes, without the store).
   */
  readonly fromStore?: number;
  /** See `fromStore`. */
  readonly downloaded?: number;
}

/**
 * `spec.pythonPackages.installer`: `pip` (the default), `uv`, or `auto` (uv when the image has it, else pip). Reaches
 * the installer as {@link INSTALLER_ENV}.installer, set only when it is not `pip`.
 */
export const PACKAGE_INSTALLERS = ['pip', 'uv', 'auto'] as const;
export type PackageInstaller = (typeof PACKAGE_INSTALLERS)[number];

/**
 * The uv the installer puts on the volume (`.tools/uv-<version>/`) when `installer: uv` finds none in the image; the
 * same as installer.py's UV_VERSION (a script test holds them together). Part of the spec hash of every spec that may
 * install with uv, so that a new pinned version installs again.
 */
export const UV_VERSION = '0.13.8';

/** uv's cache, the counterpart of {@link pipCacheDirectory}; pruned to the same bound, whole unpacked wheels at a time. */
export function uvCacheDirectory(mountPath: string): string {
  return posix.join(mountPath, '.uv-cache');
}

/** Tools the installer installs for itself (uv, see {@link UV_VERSION}); invisible to the main container. */
export function toolsDirectory(mountPath: string): string {
  return posix.join(mountPath, '.tools');
}
