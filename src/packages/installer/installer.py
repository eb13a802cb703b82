# kasprop package installer: the program of the install-packages init container. bootstrap.sh hands over to it with
# `python3 <this file>` when the packages of the spec hash are not on the volume yet. It is constant (identical for
# every app): every input is an environment variable or a file, as listed in src/packages/installer-contract.ts.
# Standard library only, and it must run on Python 3.8: app images bring their own python3 and nothing else.
from __future__ import annotations

import base64
import copy
import errno
import fcntl
import hashlib
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

FORMAT_VERSION = 1
MAX_RESULT_BYTES = 4096
DEFAULT_DIR = "/packages"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
DEFAULT_RETRIES = 3
DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_ON_FAILURE = "block"
PREVIOUS_HASHES_KEPT = 2
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
# pip's socket timeout: a stalled connection fails the attempt with a clear "timed out" well before the attempt's own
# limit when that limit is long, and never outlives it when it is short.
PIP_SOCKET_TIMEOUT_MAX_SECONDS = 60
# The pip cache shares the volume with the installs it serves: at most a quarter of the volume, and no more than this.
CACHE_MAX_BYTES = 512 * 1024 * 1024
CACHE_VOLUME_SHARE = 4
# The store of distributions gets the same bound, separately: a quarter of the volume, 512 MiB at most.
STORE_MAX_BYTES = 512 * 1024 * 1024
STORE_VOLUME_SHARE = 4
# pip names an index that is not given: the store's scope for specs without indexUrl.
DEFAULT_INDEX_URL = "https://pypi.org/simple"
# uv's cache shares the same bound, counted apart (an app uses one installer at a time, so one of them is small).
UV_CACHE_BUCKET_RE = re.compile(r"archive-v\d+")
LOCK_POLL_MAX_SECONDS = 1.0
LOCK_REPORT_EVERY_SECONDS = 10.0
MAX_ERROR_CHARS = 400
MAX_WARNING_CHARS = 200
MAX_WARNINGS = 10
# Below this a password cannot be removed from pip's output without garbling it (and revealing it by the gaps).
MIN_PASSWORD_CHARS = 8
MAX_ITEM_CHARS = 200
# A pod name is at most 253 characters.
MAX_NAME_CHARS = 253

# Only these may change between attempts; the others would fail the same way again.
# A file that does not match its digest is not fixed by downloading it again: the index serves other bytes.
RETRYABLE = frozenset(["network", "timeout", "unknown"])

HASH_RE = re.compile(r"[0-9a-f]{8,64}")
INSTALL_SOURCES = ("index", "bundle", "bundleAndIndex")
MARKER_PREFIX = ".installed-"
RESULT_PREFIX = ".result-"
# An option token anywhere (`pkg --index-url x`): pip honours options inside requirements files.
OPTION_TOKEN_RE = re.compile(r"(?:^|\s)-")
TRUSTED_HOST_RE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::([0-9]{1,5}))?")
# The same URL rules as src/packages/url.ts (test/corpus/untrusted-inputs.json is the corpus both are tested on): the
# URL is taken apart literally, because urlsplit and pip read `http:host/x` differently from a WHATWG parser.
URL_CHARACTERS_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!&'()*+,;=%]+")
URL_SHAPE_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?")
HOST_RE = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
USER_RE = re.compile(r"[A-Za-z0-9._~][A-Za-z0-9._~-]*")
HOST_PORT_RE = re.compile(r"(.*?)(?::([0-9]*))?")
SUBDIRECTORY_RE = re.compile(r"[#&]subdirectory=([^&]*)")
# Only git: see url.ts for why hg, svn and bzr are refused.
VCS_TRANSPORTS = frozenset(["https", "http", "ssh", "git"])
# A requirement line that starts with a URL (pip's VCS form), and the URL of `name[extras] @ URL`.
LEADING_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
NAMED_URL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*@\s*(\S+)")
PROJECT_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
EGG_RE = re.compile(r"[#&]egg=([^&]*)")
# One line of KASPR_PACKAGES_LOCKED: `name==version algorithm:hex ...` (src/packages/locked-packages.ts writes it).
LOCKED_LINE_RE = re.compile(
    r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([A-Za-z0-9](?:[A-Za-z0-9._+!-]*[A-Za-z0-9])?)"
    r"((?: (?:sha256|sha384|sha512):[0-9a-f]+)+)"
)
DIGEST_HEX_DIGITS = {"sha256": 64, "sha384": 96, "sha512": 128}
# `name[extras]` at the start of a requirement: pip refuses extras in a constraint.
EXTRAS_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*\[[^\]]*\]")
# pip's report of hash-checking failures: a heading, then one indented line per requirement (and the digests).
HASH_MISMATCH_HEADING = "DO NOT MATCH THE HASHES"
UNPINNED_HEADINGS = ("all requirements must have their versions pinned", "Hashes are required in --require-hashes mode")
PIP_REQUIREMENT_FROM_RE = re.compile(r"^\s+(\S+)(?: --hash=\S+)* from (\S+?)(?: \(from (.*)\))?:?$")
PIP_EXPECTED_RE = re.compile(r"^\s+(?:Expected|Or)\s+(sha256|sha384|sha512)\s+([0-9a-f]+)")
PIP_GOT_RE = re.compile(r"^\s+Got\s+([0-9a-f]+)")
NUMBER_RE = re.compile(r"[0-9]{1,9}")
NO_MATCHING_DISTRIBUTION_RE = re.compile(r"No matching distribution found for (\S+)")
USERINFO_RE = re.compile(r"(?<=://)[^/\s@]+@")
LOG_TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d+ ")
LEVEL_PREFIX_RE = re.compile(r"^(?:ERROR|WARNING): ")
# What `pip download` logs about each file (pip/_internal/operations/prepare.py and commands/download.py): a file found
# in the download directory (logged before its digest is checked), one found there with another digest (deleted and
# downloaded again), one downloaded and saved there, and the projects of the final set.
# Matched against log lines without their timestamp. `pip install` logs each file it fetches as "Downloading <url>".
PIP_ALREADY_RE = re.compile(r"^\s*File was already downloaded (.+)$")
PIP_BAD_HASH_RE = re.compile(r"^\s*(?:WARNING: )?Previously-downloaded file (.+) has bad hash")
PIP_SAVED_RE = re.compile(r"^\s*Saved (.+)$")
PIP_DOWNLOADED_RE = re.compile(r"^\s*Successfully downloaded (.+)$")
PIP_DOWNLOADING_RE = re.compile(r"^\s*Downloading (?!link )\S")
STORE_EVENT_RE = re.compile(r"File was already downloaded |Previously-downloaded file |Saved |Successfully downloaded |Downloading ")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
# A distribution's file name as pip takes it from a link; anything else in the store was not put there by an installer.
DISTRIBUTION_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*\.(?:whl|tar\.gz|zip|tar\.bz2|tar\.xz|tgz|tar)")

# pip's console output hides why an index page could not be read (a 401, a refused connection and a missing project
# all end in "from versions: none"); its debug log says it. These lines are the ones worth keeping from that log.
DIAGNOSTIC_RE = re.compile(
    r"ERROR|Error|error|Could not|Errno|timed out|Timeout|refused|denied|conflict|HASHES|[Hh]ash|from versions"
)

AUTHENTICATION_RE = re.compile(r"\b40[13] Client Error|\b40[13] Error|HTTP error 40[13]|\b401 Unauthorized|\b403 Forbidden")

# Checked in this order: the first kind with a matching line wins. Transient kinds come before the "not found" and
# "conflict" kinds, because an index that could not be read also makes pip report that nothing matched.
FAILURE_PATTERNS = (
    ("disk_full", re.compile(r"No space left on device|\[Errno 28\]|Disk quota exceeded|\[Errno 122\]")),
    ("hash_mismatch", re.compile(r"DO NOT MATCH THE HASHES|HashMismatch|[Hh]ash mismatch")),
    (
        "invalid_input",
        re.compile(
            r"Invalid requirement|InvalidRequirement|Invalid marker|InvalidMarker|InvalidSpecifier|InvalidVersion|"
            # pip's marker evaluation crashing on an input (deep nesting, `~=` against a non-version): not transient.
            r"RecursionError|UndefinedComparison|UndefinedEnvironmentName"
        ),
    ),
    ("authentication", AUTHENTICATION_RE),
    ("timeout", re.compile(r"[Tt]imed out|ReadTimeoutError|ConnectTimeoutError")),
    (
        "network",
        re.compile(
            r"connection error|NewConnectionError|Connection refused|Connection reset|Connection aborted|"
            r"RemoteDisconnected|Name or service not known|Temporary failure in name resolution|"
            r"Network is unreachable|No route to host|ProtocolError|IncompleteRead|SSLError|CERTIFICATE_VERIFY_FAILED|"
            r"ProxyError|ResponseError|\b5\d\d Server Error"
        ),
    ),
    (
        "version_conflict",
        re.compile(
            r"conflicting dependencies|ERROR: ResolutionImpossible|requires a different Python|"
            r"\(from versions: (?!none\))[^)]+\)"
        ),
    ),
    ("package_not_found", re.compile(r"No matching distribution found|\(from versions: none\)|\b404 Client Error")),
)

# The installers a spec may ask for (KASPR_PACKAGES_INSTALLER): pip (the default), uv, or auto (uv when the image has
# it, else pip).
INSTALLERS = ("pip", "uv", "auto")
# The uv the installer puts on the volume when `installer: uv` finds none in the image: this version, from the spec's
# index, installed by pip in hash-checking mode against the digests of its Linux wheels on PyPI (pip picks the one of
# this platform). The TypeScript side puts the same version in the spec hash (installer-contract.ts UV_VERSION).
UV_VERSION = "0.13.8"
UV_WHEEL_DIGESTS = (
    "0ec33661a14e38dea8dfb18167d2a4a5c7fe3d476c62dd8eb6acf5f378727201",  # linux_armv6l
    "0b3e8b1a4f5e405e31e2ff33de8af4744831e9f7338539671efbd8c3c94e791d",  # manylinux_2_17 aarch64, musllinux_1_1
    "9cf0b7b12f13da6ab1c85694ab618d97a2bbd0c904cdea7f0172fb1dd768b9d5",  # manylinux_2_17 armv7l, musllinux_1_1
    "86f1319f851e645bc295bb921e6be19beae7e69216c75ae809010ca7817393aa",  # manylinux_2_17 armv7l
    "5ace7ec339798aca31be51a75fa7c1544fe84e02fadd17a9fa3324813bbaf237",  # manylinux_2_17 i686
    "6999618363d03a0a085a9491db319e00b461dbda205db06ef1fd55dfcbf6472b",  # manylinux_2_17 ppc64le
    "13050c64530a1ccfc223af0306a8152d41c0d36ea63bc19161221ca65dfe480a",  # manylinux_2_17 s390x
    "e18a57b8b352eb7c8feb317b9f6f533c8f0ad9673fd6cf34bbe3cf1a9f6a8984",  # manylinux_2_17 x86_64
    "5337c30bb893b4f9ce0ceb921ba2da0d13f649da644f40ad3bef84083bef0203",  # manylinux_2_28 aarch64
    "bfcaada3989c7716ad4b58673cd1413fad4fdc6b2e446f9553db0ef18da20850",  # manylinux_2_31 riscv64, musllinux_1_1
    "b26fe533dc6153787e40443b7d9428ed41349127bff36a954ec82c48be01ded9",  # manylinux_2_31 riscv64
    "63d807451e63c8d21b1b33c945af16438ac9d8ffddc59b31ce69c692135891f5",  # musllinux_1_1 i686
    "29451c60f5e8b07403e0a175d5229efc36b0289b34143ff4aaa499a5dd52553a",  # musllinux_1_1 x86_64
)
# An image's own uv is used from this version on: the options and variables below are all known to it.
UV_MINIMUM_VERSION = (0, 8, 0)
UV_VERSION_RE = re.compile(r"uv (\d+)\.(\d+)\.(\d+)")
# uv's HTTP client on a distribution file it received in full (a 304 to a revalidation is not one): against an index
# that sends no cache headers, uv revalidates every cached file and gets it whole again, although its summary says it
# prepared only the new ones. So downloads are counted from these lines, not from the summary.
UV_RECEIVED_RE = re.compile(r"Received response for \w+ request with status 200 OK for: (\S+)")
DISTRIBUTION_FILE_RE = re.compile(r"([^/]+?)-([^-/]+?)(?:-[^/]*\.whl|\.tar\.gz|\.zip)$")
# uv's report of hash-checking failures.
UV_MISMATCH_RE = re.compile(r"Hash mismatch for `([^`]+)`")
UV_DIGEST_RE = re.compile(r"^\s+(sha256|sha384|sha512):([0-9a-f]+)\s*$")
UV_UNLOCKED_RE = re.compile(r"no trusted hash was provided for: (.*)$")
UV_PINNED_RE = re.compile(r"all requirements must have their versions pinned with `==`, but found: (.*)$")
# uv's dry run over the installed target: what would change means the locked set does not satisfy `packages`.
UV_WOULD_CHANGE_RE = re.compile(r"^ [-+] \S+")
UV_NO_CHANGES = "Would make no changes"
UV_NO_WHEELS = "has no usable wheels"
# Checked in this order, as FAILURE_PATTERNS for pip: uv says why on its console (`error:` and `cause:` lines).
UV_FAILURE_PATTERNS = (
    ("disk_full", re.compile(r"No space left on device|os error 28\b|Disk quota exceeded|os error 122\b")),
    ("hash_mismatch", re.compile(r"Hash mismatch for")),
    (
        "invalid_input",
        re.compile(
            r"Couldn't parse requirement|Failed to parse|Invalid requirement|Invalid hash digest|unexpected argument|"
            r"or the start of a requirement"
        ),
    ),
    ("authentication", re.compile(r"\b40[13] Unauthorized|\b403 Forbidden|lack of valid authentication credentials")),
    ("timeout", re.compile(r"[Tt]imed out")),
    (
        "network",
        re.compile(
            r"Failed to fetch|error sending request|tcp connect error|Connection refused|Connection reset|"
            r"connection closed before message completed|dns error|failed to lookup address|Network is unreachable|"
            r"No route to host|server error \(5\d\d|invalid peer certificate|certificate verify failed|"
            r"Failed to download|Request failed after"
        ),
    ),
    ("package_not_found", re.compile(r"was not found in the package registry|not found in the provided package locations")),
    (
        "version_conflict",
        re.compile(
            r"requirements are unsatisfiable|are incompatible|there is no version of|No solution found when resolving"
        ),
    ),
)
UV_LEVEL_PREFIX_RE = re.compile(r"^(?:error|cause|hint|warning): ")
# uv's log (`-v`) on its console: kept for classification like pip's debug log, not shown. uv's console alone says
# "not found" where its log says the index answered 401.
UV_LOG_LINE_RE = re.compile(r"^(?:TRACE|DEBUG|INFO|WARN) ")
UV_DIAGNOSTIC_RE = re.compile(DIAGNOSTIC_RE.pattern + r"|failure|\b[45]\d\d [A-Z]|" + UV_RECEIVED_RE.pattern)

# prctl(PR_SET_DUMPABLE, 0): /proc/<pid>/environ, mem, fd and ptrace of a non-dumpable process need CAP_SYS_PTRACE,
# so code pip runs (an sdist's build backend, same uid) cannot read the credentials from the installer's environment
# or from pip's memory. execve resets the flag, so the pip runner sets it again, before it reads its arguments.
PR_SET_DUMPABLE = 4

# pip's arguments go through stdin, so the index URL with the credentials is in no argv (/proc/<pid>/cmdline is
# world-readable). Running pip's __main__ in-process is what `python -m pip` does.
PIP_RUNNER = (
    "import json, os, runpy, sys\n"
    "try:\n"
    "    import ctypes\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(%d, 0, 0, 0, 0)\n"
    "except (ImportError, OSError, AttributeError):\n"
    "    pass\n"
    "args = json.loads(sys.stdin.readline())\n"
    "sys.stdin = open(os.devnull)\n"
    "os.dup2(sys.stdin.fileno(), 0)\n"
    "sys.argv = ['pip'] + args\n"
    "runpy.run_module('pip', run_name='__main__', alter_sys=True)\n"
) % PR_SET_DUMPABLE


class Failure(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class Terminated(BaseException):
    """Raised by the SIGTERM handler, so that cleanup and the result still happen when the pod is stopped."""


def on_terminate(signum: int, frame: object) -> None:
    raise Terminated()


def say(message: str) -> None:
    print("kasprop: " + message, flush=True)


def utc_timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def redact_userinfo(text: str) -> str:
    return USERINFO_RE.sub("****@", text)


class Scrubber:
    """Removes a secret, in every encoding it may take in pip's output, from text before it is shown or stored."""

    def __init__(self, username: str, password: str) -> None:
        needles = set()
        # A shorter password is refused before pip runs (check_credentials): scrubbing it would only garble messages.
        if len(password) >= MIN_PASSWORD_CHARS:
            needles.update([password, quote(password, safe=""), quote(password), quote_plus(password)])
            needles.add(base64.b64encode((username + ":" + password).encode()).decode())
            encoded = quote(username, safe="") + ":" + quote(password, safe="")
            needles.add(base64.b64encode(encoded.encode()).decode())
        ordered = sorted((n for n in needles if n), key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(n) for n in ordered), re.IGNORECASE) if ordered else None

    def __call__(self, text: str) -> str:
        if self.pattern is not None:
            text = self.pattern.sub("****", text)
        return redact_userinfo(text)


class Config:
    def __init__(self, env: dict[str, str]) -> None:
        self.hash = env.get("KASPR_PACKAGES_HASH", "")
        if not HASH_RE.fullmatch(self.hash):
            raise Failure("invalid_input", "KASPR_PACKAGES_HASH must be 8 to 64 lowercase hex digits")
        self.locked = locked_lines(env.get("KASPR_PACKAGES_LOCKED", ""))
        self.requirements = requirement_lines(env.get("KASPR_PACKAGES_REQUIREMENTS", ""), required=not self.locked)
        self.index_url = checked_url(env.get("KASPR_PACKAGES_INDEX_URL", "").strip(), "KASPR_PACKAGES_INDEX_URL")
        self.extra_index_urls = [
            checked_url(line.strip(), "KASPR_PACKAGES_EXTRA_INDEX_URLS")
            for line in env.get("KASPR_PACKAGES_EXTRA_INDEX_URLS", "").split("\n")
            if line.strip()
        ]
        self.bundle_dir = bundle_directory(env.get("KASPR_PACKAGES_BUNDLE_DIR", ""))
        self.offline = env.get("KASPR_PACKAGES_OFFLINE", "") == "true"
        if self.offline and not self.bundle_dir:
            raise Failure("invalid_input", "KASPR_PACKAGES_OFFLINE is true without KASPR_PACKAGES_BUNDLE_DIR to install from")
        self.install_source = "bundle" if self.offline else "bundleAndIndex" if self.bundle_dir else "index"
        self.trusted_hosts = [line.strip() for line in env.get("KASPR_PACKAGES_TRUSTED_HOSTS", "").split("\n")]
        self.trusted_hosts = [host for host in self.trusted_hosts if host]
        if not all(is_trusted_host(host) for host in self.trusted_hosts):
            raise Failure("invalid_input", "KASPR_PACKAGES_TRUSTED_HOSTS has an entry that is not host[:port]")
        self.username = env.get("KASPR_PACKAGES_INDEX_USERNAME", "")
        self.password = env.get("KASPR_PACKAGES_INDEX_PASSWORD", "")
        self.has_credentials = bool(self.username or self.password)
        if self.has_credentials and not self.index_url:
            raise Failure("invalid_input", "index credentials are set without KASPR_PACKAGES_INDEX_URL")
        if self.has_credentials:
            check_credentials(self.username, self.password)
            for url in self.extra_index_urls:
                # pip's credential cache is keyed by host and port: such an extra index would get the credentials.
                if origin(url) == origin(self.index_url):
                    raise Failure(
                        "invalid_input",
                        "an extra index URL is on the index URL's scheme, host and port, so pip would send it the "
                        "index credentials; use one index that serves both, or another host or port",
                    )
        self.retries = number_setting(env, "KASPR_PACKAGES_RETRIES", DEFAULT_RETRIES, 0)
        self.timeout = number_setting(env, "KASPR_PACKAGES_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, 1)
        default_deadline = self.retries_budget()
        self.deadline = number_setting(env, "KASPR_PACKAGES_DEADLINE_SECONDS", default_deadline, 1)
        on_failure = env.get("KASPR_PACKAGES_ON_FAILURE", DEFAULT_ON_FAILURE) or DEFAULT_ON_FAILURE
        if on_failure not in ("block", "allow"):
            raise Failure("invalid_input", "KASPR_PACKAGES_ON_FAILURE must be block or allow")
        self.installer = env.get("KASPR_PACKAGES_INSTALLER", "").strip() or "pip"
        if self.installer not in INSTALLERS:
            raise Failure("invalid_input", "KASPR_PACKAGES_INSTALLER must be pip, uv or auto")
        self.dir = env.get("KASPR_PACKAGES_DIR") or DEFAULT_DIR
        if not os.path.isabs(self.dir):
            raise Failure("invalid_input", "KASPR_PACKAGES_DIR must be an absolute path")

    def retries_budget(self) -> int:
        backoff = sum(backoff_seconds(attempt) for attempt in range(1, self.retries + 1))
        return int((self.retries + 1) * self.timeout + backoff) + 1

    def pip_index_url(self) -> str:
        if not self.has_credentials:
            return self.index_url
        parts = urlsplit(self.index_url)
        host = parts.netloc.rpartition("@")[2]
        userinfo = quote(self.username, safe="") + ":" + quote(self.password, safe="")
        return urlunsplit((parts.scheme, userinfo + "@" + host, parts.path, parts.query, parts.fragment))


def bundle_directory(raw: str) -> str:
    """The bundle directory as given (the mount, or a path under it), when it is an absolute path that stays there."""
    if not raw:
        return raw
    if not os.path.isabs(raw) or ".." in raw.split("/") or any(ord(ch) < 32 for ch in raw):
        raise Failure("invalid_input", "KASPR_PACKAGES_BUNDLE_DIR must be an absolute path without '..'")
    return raw


def requirement_lines(raw: str, required: bool = True) -> list[str]:
    if "\0" in raw or "\r" in raw:
        raise Failure("invalid_input", "requirements contain a NUL or carriage return character")
    lines = [line.strip() for line in raw.split("\n") if line.strip()]
    if not lines and required:
        raise Failure(
            "invalid_input", "no requirements given (KASPR_PACKAGES_REQUIREMENTS and KASPR_PACKAGES_LOCKED are empty)"
        )
    for line in lines:
        reason = requirement_problem(line)
        if reason is not None:
            shown = shorten(redact_userinfo(line), 80)
            raise Failure("invalid_input", "requirement %r %s; refused before running pip" % (shown, reason))
    return lines


def locked_lines(raw: str) -> list[str]:
    """pip requirement lines `name==version --hash=algorithm:hex ...`, from the strictly checked lines of the lock."""
    result = []
    for line in raw.split("\n"):
        if not line.strip():
            continue
        match = LOCKED_LINE_RE.fullmatch(line.strip())
        digests = match.group(3).split() if match else []
        if match is None or any(len(d.partition(":")[2]) != DIGEST_HEX_DIGITS[d.partition(":")[0]] for d in digests):
            shown = shorten(line, 80)
            raise Failure(
                "invalid_input", "locked package %r is not `name==version algorithm:hex ...`; refused before running pip" % shown
            )
        result.append("%s==%s %s" % (match.group(1), match.group(2), " ".join("--hash=" + d for d in digests)))
    return result


def constraint_line(requirement: str) -> str:
    """A requirement as pip accepts it in a constraints file: without extras (the lock holds what they pull in)."""
    return EXTRAS_RE.sub(r"\1", requirement)


def hash_check_failure(console: list[str], locked: bool) -> Failure | None:
    """
    pip's hash-checking report as a permanent failure naming the file and both digests, or the dependency the lock
    is missing; None when pip reported neither.
    """
    for position, line in enumerate(console):
        details = console[position + 1 :]
        if HASH_MISMATCH_HEADING in line:
            return mismatch_failure(details, locked)
        if any(heading in line for heading in UNPINNED_HEADINGS):
            return unlocked_dependency_failure(details)
    return None


def mismatch_failure(details: list[str], locked: bool) -> Failure:
    what, url, expected, got = "", "", [], ""
    for line in details:
        requirement = PIP_REQUIREMENT_FROM_RE.match(line)
        if requirement is not None and not what:
            what, url = requirement.group(1), requirement.group(2)
            continue
        digest = PIP_EXPECTED_RE.match(line)
        if digest is not None:
            expected.append("%s:%s" % digest.groups())
            continue
        actual = PIP_GOT_RE.match(line)
        if actual is not None and expected:
            got = "%s:%s" % (expected[-1].partition(":")[0], actual.group(1))
            break
        if not line[:1].isspace():
            break
    filename = os.path.basename(urlsplit(url).path) or what or "a downloaded file"
    source = "packagesWithHashes" if locked else "the index's listing"
    # The file's digest first: a lock lists every file of a version (dozens of wheels), and the message has 400
    # characters. The first expected digest and how many others; pip's full report is in the log.
    others = " or %d other(s)" % (len(expected) - 1) if len(expected) > 1 else ""
    return Failure(
        "hash_mismatch",
        "%s (%s) has %s, not the digest in %s (%s%s); the index serves other bytes than were locked"
        % (filename, what or "?", got or "another digest", source, expected[0] if expected else "?", others),
    )


def unlocked_dependency_failure(details: list[str]) -> Failure:
    missing = []
    for line in details:
        if not line[:1].isspace():
            break
        requirement = PIP_REQUIREMENT_FROM_RE.match(line)
        text = requirement.group(1) if requirement else line.strip().split(" ")[0]
        name = PROJECT_NAME_RE.match(text)
        parent = requirement.group(3) if requirement and requirement.group(3) else ""
        required_by = " required by %s" % parent.split("->")[0] if "->" in parent else ""
        if name is not None:
            missing.append("'%s' (%s%s)" % (normalized_name(name.group(0)), text, required_by))
    return Failure(
        "invalid_input",
        "packagesWithHashes does not lock %s: a hash-checked install needs every dependency pinned with its digests; "
        "lock again with `kasprop lock -f FILE`" % (", ".join(missing) or "every dependency"),
    )


def requirement_problem(line: str) -> str | None:
    """Why pip must not see this requirement line, or None. The operator's parser is stricter; this is the backstop."""
    if "$" in line:
        return "contains '$' (pip expands environment variables in requirements files)"
    if OPTION_TOKEN_RE.search(line):
        return "carries a pip option"
    if line.endswith("\\"):
        return "ends in a line continuation"
    if LEADING_URL_RE.match(line):
        url = line.split()[0]
        # Only pip's VCS form may start with a URL; check_url says which VCS schemes are accepted.
        if "+" not in url.partition(":")[0]:
            return "is a URL without a project name (write 'name @ URL')"
    else:
        named = NAMED_URL_RE.match(line)
        if named is None:
            first = line.split()[0]
            # pip installs a local directory or archive when a line looks like a path.
            if "/" in first or "\\" in first or first.startswith((".", "~")) or ":" in first.split(";")[0]:
                return "is a local path, not a requirement"
            return None
        url = named.group(1)
    problem = check_url(url, "requirement")
    return None if problem is None else "has a URL that " + problem


def is_trusted_host(text: str) -> bool:
    match = TRUSTED_HOST_RE.fullmatch(text)
    return match is not None and (match.group(2) is None or 1 <= int(match.group(2)) <= 65535)


def check_url(text: str, kind: str) -> str | None:
    """Why the URL is not acceptable, or None; kind is "index" or "requirement". Mirrors checkUrl in url.ts."""
    if "$" in text:
        return "contains '$'"
    if not URL_CHARACTERS_RE.fullmatch(text):
        return "contains characters that are not allowed in a URL"
    parts = URL_SHAPE_RE.fullmatch(text)
    if parts is None:
        return "is not of the form scheme://host/path"
    scheme, authority, path, query, fragment = parts.groups()
    scheme = scheme.lower()
    vcs, _, transport = scheme.partition("+") if "+" in scheme else (None, "", scheme)
    if vcs is None or kind == "index":
        if scheme not in ("http", "https"):
            return "does not use http or https"
    elif vcs != "git" or transport not in VCS_TRANSPORTS:
        return "uses an unsupported scheme %r (only git+https, git+http, git+ssh, git+git)" % scheme
    problem = authority_problem(authority, vcs is not None and transport == "ssh")
    if problem is not None:
        return problem
    if query is not None:
        return "has a query ('?')"
    if kind == "index":
        return "has a fragment ('#')" if fragment is not None else None
    if ";" in text:
        return "contains ';' (pip would read a marker from it)"
    if vcs is not None and "@" in path:
        revision = path.rpartition("@")[2]
        if not revision:
            return "has an empty revision after '@'"
        if revision.startswith("-"):
            return "has a revision starting with '-'"
    for value in SUBDIRECTORY_RE.findall(text):
        if not value or value.startswith("/") or ".." in value.split("/") or "%" in value:
            return "has a subdirectory that leaves the source (empty, absolute, '..' or '%%'): %r" % value
    return None


def authority_problem(authority: str, user_allowed: bool) -> str | None:
    userinfo, at, host_port = authority.rpartition("@")
    if at:
        if not user_allowed or ":" in userinfo:
            return "embeds credentials"
        if not USER_RE.fullmatch(userinfo):
            return "has a user name that is empty or starts with '-'"
    host, port = HOST_PORT_RE.fullmatch(host_port).groups()
    if not host:
        return "names no host"
    if host.startswith("-"):
        return "has a host starting with '-'"
    if not HOST_RE.fullmatch(host):
        return "has an invalid host"
    if port is not None and (not port or len(port) > 5 or not 1 <= int(port) <= 65535):
        return "has a port out of range"
    return None


def checked_url(value: str, name: str) -> str:
    if not value:
        return value
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise Failure("invalid_input", "%s contains whitespace or control characters" % name)
    problem = check_url(value, "index")
    if problem is not None:
        raise Failure("invalid_input", "%s %s" % (name, problem))
    return value


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, "%s:%s" % ((parts.hostname or "").lower(), port)


def check_credentials(username: str, password: str) -> None:
    """Refuses credentials that would fail as a bare 401 or garble the output, with what to fix in the Secret."""
    for what, value in (("username", username), ("password", password)):
        if value != value.strip():
            raise Failure(
                "invalid_input",
                "the index %s in the credentials Secret starts or ends with whitespace or a newline (as "
                "`kubectl create secret --from-file` keeps a file's last newline); remove it from the Secret" % what,
            )
        if any(ord(ch) > 126 or ord(ch) < 32 for ch in value):
            # pip sends basic auth Latin-1 encoded, most indexes expect UTF-8: the result is a bare 401.
            raise Failure(
                "invalid_input",
                "the index %s in the credentials Secret has non-ASCII or control characters, which pip cannot "
                "send as most indexes expect them; use an ASCII %s or token" % (what, what),
            )
    if 0 < len(password) < MIN_PASSWORD_CHARS:
        raise Failure(
            "invalid_input",
            "the index password in the credentials Secret is shorter than %d characters: it could not be kept out "
            "of the logs without garbling them; use a longer password or token" % MIN_PASSWORD_CHARS,
        )


def number_setting(env: dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not NUMBER_RE.fullmatch(raw) or int(raw) < minimum:
        raise Failure("invalid_input", "%s must be a whole number >= %d" % (name, minimum))
    return int(raw)


def backoff_seconds(failed_attempt: int) -> float:
    return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (failed_attempt - 1))


class Layout:
    """The volume layout; the same paths as installer-contract.ts."""

    def __init__(self, root: str, hash_value: str) -> None:
        self.root = root
        self.hash = hash_value
        self.envs = os.path.join(root, "envs")
        self.hash_dir = os.path.join(self.envs, hash_value)
        self.marker = os.path.join(root, MARKER_PREFIX + hash_value)
        self.prepared_result = os.path.join(root, RESULT_PREFIX + hash_value)
        self.lock = os.path.join(root, ".lock")
        self.staging = os.path.join(root, ".staging")
        self.pip_cache = os.path.join(root, ".pip-cache")
        self.store = os.path.join(root, ".store")
        self.uv_cache = os.path.join(root, ".uv-cache")
        self.tools = os.path.join(root, ".tools")
        self.uv_tool = os.path.join(self.tools, "uv-" + UV_VERSION)
        self.pods = os.path.join(root, ".pods")


def classify_pip_failure(lines: list[str], timed_out: bool) -> tuple[str, str]:
    """
    The error type and the line that shows it, from pip's console lines followed by the diagnostic lines of its log.
    Message lines are preferred as evidence over indented ones (traceback frames, details).
    """
    if timed_out:
        return "timeout", "pip ran out of its time for one attempt and was stopped"
    stripped = [LOG_TIMESTAMP_RE.sub("", line) for line in lines]
    ordered = [line for line in stripped if not line[:1].isspace()] + [line for line in stripped if line[:1].isspace()]
    for error_type, pattern in FAILURE_PATTERNS:
        for line in ordered:
            if pattern.search(line):
                return error_type, clean_evidence(line)
    errors = [line for line in ordered if line.startswith("ERROR:") and line.strip() != "ERROR: Exception:"]
    if errors:
        return "unknown", clean_evidence(errors[0])
    meaningful = [line for line in stripped if line.strip()]
    return "unknown", clean_evidence(meaningful[-1]) if meaningful else "pip failed without output"


def clean_evidence(line: str) -> str:
    # pip's debug log marks rich-rendered messages with "[present-rich]": an internal tag, not part of the message.
    return LEVEL_PREFIX_RE.sub("", line.strip()).replace("[present-rich] ", "")


def pip_warnings(lines: list[str]) -> list[str]:
    found = []
    for line in lines:
        if line.startswith("WARNING:"):
            warning = shorten(line[len("WARNING:") :].strip(), MAX_WARNING_CHARS)
            if warning not in found:
                found.append(warning)
    return found[:MAX_WARNINGS]


class PipRun:
    def __init__(
        self, returncode: int, timed_out: bool, console: list[str], diagnostics: list[str], events: list[str]
    ) -> None:
        self.returncode = returncode
        self.timed_out = timed_out
        self.console = console
        self.diagnostics = diagnostics
        # Every line of pip's log about the files of a download directory (unbounded: one per file).
        self.events = events


def pip_environment(env: dict[str, str], tmp_dir: str) -> dict[str, str]:
    # No PIP_* from the image and no configuration file: the spec alone decides where packages come from. No
    # KASPR_PACKAGES_*: the credentials stay out of pip's environment, which pip would expand `${VAR}` from.
    clean = {k: v for k, v in env.items() if not k.startswith("PIP_") and not k.startswith("KASPR_PACKAGES_")}
    clean.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_KEYRING_PROVIDER": "disabled",
            "PIP_ROOT_USER_ACTION": "ignore",
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8:backslashreplace",
            "TMPDIR": tmp_dir,
        }
    )
    return clean


def pip_arguments(cfg: Config, paths: dict[str, str], log_fd: int, phase: str) -> list[str]:
    """
    phase `install`: one run that resolves from the indexes and installs; `download`: resolves from the indexes and
    puts the chosen files in the download directory (those already there with a matching digest are not downloaded);
    `offline`: installs from the download directory alone, no index.
    """
    if phase == "download":
        args = ["download", "--dest", paths["downloads"]]
    else:
        args = ["install", "--target", paths["site"], "--no-warn-script-location"]
    args += [
        "--requirement",
        paths["requirements"],
        "--no-input",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--no-color",
        # One request per file per attempt: pip's own retries (5 by default, with backoff) would multiply with ours
        # and make a dead index take minutes to report. Our attempts retry instead; the cache keeps what was fetched.
        "--retries",
        "0",
        "--timeout",
        str(max(1, min(cfg.timeout, PIP_SOCKET_TIMEOUT_MAX_SECONDS))),
        "--log",
        "/proc/self/fd/%d" % log_fd,
    ]
    if cfg.has_credentials:
        # pip's HTTP cache stores the request headers an index names in `Vary`: with `Vary: Authorization` that is
        # base64(user:password), in a file on the shared volume. So no pip cache at all with credentials.
        args.append("--no-cache-dir")
    else:
        args += ["--cache-dir", paths["cache"]]
    if cfg.locked:
        args += ["--require-hashes", "--constraint", paths["constraints"]]
    if phase == "offline":
        args += ["--no-index", "--find-links", paths["downloads"]]
    else:
        args += distribution_sources(cfg)
    if cfg.has_credentials:
        # With build isolation pip installs build dependencies in a child pip whose argv carries the index URL,
        # credentials included. Source distributions build against the image's own tools instead.
        args.append("--no-build-isolation")
    return args


def distribution_sources(cfg: Config) -> list[str]:
    """
    Where pip may take distributions from. Offline: the bundle directory only (`--no-index`: no index URL, extra
    index or trusted host reaches pip, and nothing is fetched). Otherwise the indexes, and the bundle beside them.
    """
    if cfg.offline:
        return ["--no-index", "--find-links", cfg.bundle_dir]
    args = ["--find-links", cfg.bundle_dir] if cfg.bundle_dir else []
    if cfg.index_url:
        args += ["--index-url", cfg.pip_index_url()]
    for url in cfg.extra_index_urls:
        args += ["--extra-index-url", url]
    for host in cfg.trusted_hosts:
        args += ["--trusted-host", host]
    return args


def bundle_missing_failure(lines: list[str]) -> Failure | None:
    """Offline, pip's "No matching distribution found for X": the bundle lacks X (or a file of it for this Python)."""
    for line in lines:
        match = NO_MATCHING_DISTRIBUTION_RE.search(line)
        if match is None:
            continue
        wanted = match.group(1)
        name = PROJECT_NAME_RE.match(wanted)
        project = normalized_name(name.group(0)) if name is not None else wanted
        return Failure(
            "package_not_found",
            "the bundle has no distribution of '%s' (%s) for this Python and platform, and offlineMode reads nothing "
            "else; add its files to the bundle (`kasprop bundle` writes every locked file)" % (project, wanted),
        )
    return None


def run_pip(
    cfg: Config, paths: dict[str, str], env: dict[str, str], timeout: float, scrub: Scrubber, phase: str
) -> PipRun:
    """One pip run in its own process group, killed whole when it runs out of time; output scrubbed as it streams."""
    console: deque[str] = deque(maxlen=500)
    diagnostics: deque[str] = deque(maxlen=500)
    events: list[str] = []
    # pip's debug log goes to a pipe, not a file: it is read for classification and never lands on a disk.
    log_read, log_write = os.pipe()
    args = pip_arguments(cfg, paths, log_write, phase)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", PIP_RUNNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=paths["work"],
            pass_fds=(log_write,),
            start_new_session=True,
        )
    except BaseException:
        os.close(log_read)
        raise
    finally:
        os.close(log_write)
    timed_out = False
    finished = False
    try:
        stdin = json.dumps(args).encode() + b"\n"
        finished, timed_out = supervise(proc, stdin, timeout, scrub, (console, diagnostics, events), log_read)
    finally:
        if not finished:
            # The group leader is not reaped yet, so its process group id cannot have been reused.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    return PipRun(proc.returncode, timed_out, list(console), list(diagnostics), events)


def supervise(
    proc: subprocess.Popen,
    stdin: bytes,
    timeout: float,
    scrub: Scrubber,
    collected: tuple[deque, deque, list],
    log_read: int | None,
) -> tuple[bool, bool]:
    """
    Feeds the process its stdin (pip's arguments), streams its output, waits; returns (finished, timed out). Without
    a log pipe (uv), the log lines on the console are the diagnostics.
    """
    console, diagnostics, events = collected

    def pump_console() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = scrub(raw.decode("utf-8", "replace").rstrip())
            if log_read is None and UV_LOG_LINE_RE.match(line):
                if UV_DIAGNOSTIC_RE.search(line):
                    diagnostics.append(UV_LOG_LINE_RE.sub("", line))
                continue
            print("  | " + line, flush=True)
            console.append(line)

    def pump_log() -> None:
        if log_read is None:
            return
        with os.fdopen(log_read, "rb") as log:
            for raw in log:
                line = scrub(raw.decode("utf-8", "replace").rstrip())
                if DIAGNOSTIC_RE.search(line):
                    diagnostics.append(line)
                if STORE_EVENT_RE.search(line):
                    events.append(line)

    readers = [threading.Thread(target=pump_console, daemon=True), threading.Thread(target=pump_log, daemon=True)]
    for reader in readers:
        reader.start()
    assert proc.stdin is not None
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    try:
        proc.wait(timeout=max(0.001, timeout))
    except subprocess.TimeoutExpired:
        return False, True
    for reader in readers:
        reader.join(timeout=5)
    return True, False


def uv_version(binary: str) -> tuple[int, int, int] | None:
    """The version `binary --version` reports, or None when it is not a uv that runs here."""
    try:
        output = subprocess.run(
            [binary, "--version"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"}
        ).stdout.decode("ascii", "replace")
    except (OSError, subprocess.SubprocessError):
        return None
    match = UV_VERSION_RE.match(output.strip())
    return tuple(int(part) for part in match.groups()) if match else None  # type: ignore[return-value]


def image_uv(env: dict[str, str]) -> str | None:
    """The image's own uv (on its PATH), when it is recent enough for the options the installer gives it."""
    found = shutil.which("uv", path=env.get("PATH", os.defpath))
    if found is None:
        return None
    version = uv_version(found)
    if version is None or version < UV_MINIMUM_VERSION:
        say("the image's %s is not uv %d.%d.%d or newer; not using it" % ((found,) + UV_MINIMUM_VERSION))
        return None
    return found


def uv_environment(cfg: Config, env: dict[str, str], tmp_dir: str) -> dict[str, str]:
    """
    uv's environment: nothing of the image's uv, pip or kasprop settings (the spec alone decides where packages come
    from, and no secret is in it), its home, config and data directories under the attempt's temporary directory (on
    the volume, removed after the attempt), and no retries of its own (ours are countable).
    """
    dropped = ("PIP_", "UV_", "KASPR_PACKAGES_", "VIRTUAL_ENV", "CONDA_PREFIX", "XDG_")
    clean = {k: v for k, v in env.items() if not k.startswith(dropped)}
    clean.update(
        {
            "HOME": tmp_dir,
            "XDG_CONFIG_HOME": os.path.join(tmp_dir, "config"),
            "XDG_DATA_HOME": os.path.join(tmp_dir, "data"),
            "XDG_CACHE_HOME": os.path.join(tmp_dir, "cache"),
            "TMPDIR": tmp_dir,
            "UV_NO_CONFIG": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_HTTP_RETRIES": "0",
            "UV_HTTP_TIMEOUT": str(max(1, min(cfg.timeout, PIP_SOCKET_TIMEOUT_MAX_SECONDS))),
            "UV_KEYRING_PROVIDER": "disabled",
            # With --verbose: uv's debug log, and its HTTP client's answers (a 401 that unsafe-best-match passes over
            # as "not found" is only in those).
            "RUST_LOG": "uv=debug,uv_client=trace",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return clean


def uv_arguments(cfg: Config, paths: dict[str, str], index_file: str | None, dry_run: bool = False) -> list[str]:
    """
    `uv pip install` into the target with the image's python3 and the same inputs as pip_arguments. The index URL,
    which may carry the credentials, is in index_file (a pipe, see run_uv), never in the arguments.
    """
    args = [
        "pip",
        "install",
        "--target",
        paths["site"],
        "--requirement",
        paths["requirements"],
        "--python",
        sys.executable,
        "--no-config",
        "--no-progress",
        "--color",
        "never",
        "--no-python-downloads",
        # pip's way with several indexes (the best version from any of them), so both installers resolve alike.
        "--index-strategy",
        "unsafe-best-match",
        "--cache-dir",
        paths["cache"],
    ]
    if index_file is not None:
        args += ["--requirement", index_file]
    if dry_run:
        # The check of `packages` against what a locked install put in the target: no network, nothing written.
        return args + ["--dry-run", "--offline", "--no-deps"]
    # pip compiles what it installs; the main container mounts the target read-only, so it could not.
    args.append("--compile-bytecode")
    if cfg.locked:
        # uv refuses a constraint that is not `==` in hash-checking mode: `packages` is checked after the install
        # instead (Installer.check_lock_satisfies), against what was installed, by uv's own resolver, offline.
        args.append("--require-hashes")
    for url in cfg.extra_index_urls:
        args += ["--extra-index-url", url]
    for host in cfg.trusted_hosts:
        args += ["--allow-insecure-host", host]
    if cfg.has_credentials:
        # uv runs build backends (a source distribution's code) as this user, which may read uv's environment, and
        # so the password. With credentials only wheels are installed: no package code runs during the install.
        args.append("--no-build")
    return args


def run_uv(
    uv: str, cfg: Config, paths: dict[str, str], env: dict[str, str], timeout: float, scrub: Scrubber, dry_run: bool = False
) -> PipRun:
    """
    One uv run, supervised like pip's: own process group, killed whole on timeout, output scrubbed as it streams.
    uv reads no arguments from stdin, an argv is world-readable and a file on the volume outlives the run, so the
    index URL with the credentials reaches uv as a requirements file that is a pipe (`--index-url URL`, one line, far
    below a pipe's buffer, so written before uv starts).
    """
    console: deque[str] = deque(maxlen=500)
    index_read = None
    if cfg.index_url:
        index_read, index_write = os.pipe()
        try:
            os.write(index_write, ("--index-url %s\n" % cfg.pip_index_url()).encode())
        finally:
            os.close(index_write)
    try:
        index_file = None if index_read is None else "/proc/self/fd/%d" % index_read
        proc = subprocess.Popen(
            [uv, "--verbose"] + uv_arguments(cfg, paths, index_file, dry_run),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=paths["work"],
            pass_fds=() if index_read is None else (index_read,),
            start_new_session=True,
        )
    finally:
        if index_read is not None:
            os.close(index_read)
    # Every download is counted (uv_counts): room for a few thousand distributions.
    diagnostics: deque[str] = deque(maxlen=20000)
    finished = False
    timed_out = False
    try:
        finished, timed_out = supervise(proc, b"", timeout, scrub, (console, diagnostics, []), None)
    finally:
        if not finished:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    return PipRun(proc.returncode, timed_out, list(console), list(diagnostics), [])


def uv_counts(diagnostics: list[str], installed: list[str]) -> dict[str, int]:
    """
    Of the installed distributions, how many uv downloaded (its client received the file whole, for the install or
    only to read its metadata) and how many came from its cache without a download (fromStore).
    """
    fetched = set()
    for line in diagnostics:
        received = UV_RECEIVED_RE.search(line)
        distribution = DISTRIBUTION_FILE_RE.search(urlsplit(received.group(1)).path) if received else None
        if distribution is not None:
            fetched.add((normalized_name(distribution.group(1)), distribution.group(2)))
    downloaded = sum(1 for item in installed if (normalized_name(item.partition("==")[0]), item.partition("==")[2]) in fetched)
    return {"fromStore": len(installed) - downloaded, "downloaded": downloaded}


def uv_warnings(console: list[str]) -> list[str]:
    found = []
    for line in console:
        # The index's requirements file holds an option only, which uv remarks on.
        if line.startswith("warning:") and "does not contain any dependencies" not in line:
            warning = shorten(line[len("warning:") :].strip(), MAX_WARNING_CHARS)
            if warning not in found:
                found.append(warning)
    return found[:MAX_WARNINGS]


def uv_hash_check_failure(console: list[str], locked: bool) -> Failure | None:
    """uv's hash-checking report as the same failures as pip's (hash_check_failure), or None."""
    for position, line in enumerate(console):
        mismatch = UV_MISMATCH_RE.search(line)
        if mismatch is not None:
            expected, computed, section = [], [], None
            for detail in console[position + 1 :]:
                if detail.strip() in ("Expected:", "Computed:"):
                    section = expected if detail.strip() == "Expected:" else computed
                    continue
                digest = UV_DIGEST_RE.match(detail)
                if digest is not None and section is not None:
                    section.append("%s:%s" % digest.groups())
                elif detail.strip() and section is not None:
                    break
            got = computed[0] if computed else ""
            source = "packagesWithHashes" if locked else "the index's listing"
            others = " or %d other(s)" % (len(expected) - 1) if len(expected) > 1 else ""
            return Failure(
                "hash_mismatch",
                "%s has %s, not the digest in %s (%s%s); the index serves other bytes than were locked"
                % (mismatch.group(1), got or "another digest", source, expected[0] if expected else "?", others),
            )
        unlocked = UV_UNLOCKED_RE.search(line) or UV_PINNED_RE.search(line)
        if unlocked is not None and locked:
            names = [normalized_name(n.strip("` ")) for n in unlocked.group(1).split(",") if n.strip("` ")]
            return Failure(
                "invalid_input",
                "packagesWithHashes does not lock %s: a hash-checked install needs every dependency pinned with its "
                "digests; lock again with `kasprop lock -f FILE`" % ", ".join("'%s'" % n for n in names),
            )
    return None


def classify_uv_failure(lines: list[str], timed_out: bool) -> tuple[str, str]:
    """The error type and the line that shows it, from uv's console (its `error:`, `cause:` and `hint:` lines)."""
    if timed_out:
        return "timeout", "uv ran out of its time for one attempt and was stopped"
    stripped = []
    for line in lines:
        # A message continued on indented lines (a long `cause:`) is one line.
        if stripped and line.startswith(" ") and line.strip() and not UV_LEVEL_PREFIX_RE.match(line.strip()):
            if stripped[-1].startswith("cause:"):
                stripped[-1] += " " + line.strip()
                continue
        if line.strip():
            stripped.append(line.strip())
    # uv's `cause:` chain goes from the general to the particular: the innermost cause is the best evidence.
    causes = [line for line in stripped if line.startswith("cause:")]
    ordered = causes[::-1] + [line for line in stripped if not line.startswith("cause:")]
    for error_type, pattern in UV_FAILURE_PATTERNS:
        for line in ordered:
            if pattern.search(line):
                return error_type, UV_LEVEL_PREFIX_RE.sub("", line)
    errors = [line for line in stripped if line.startswith("error:")]
    if errors:
        return "unknown", UV_LEVEL_PREFIX_RE.sub("", errors[0])
    return "unknown", UV_LEVEL_PREFIX_RE.sub("", stripped[-1]) if stripped else "uv failed without output"


def prune_uv_cache(root: str, limit: int) -> int:
    """
    Like prune_directory, but an unpacked wheel in uv's cache (a directory of its archive bucket) goes as a whole: uv
    links the files of an archive it finds into the target, so an archive missing some files must never be left.
    Returns the bytes freed.
    """
    units = []
    total = 0
    for directory, subdirectories, names in os.walk(root):
        if UV_CACHE_BUCKET_RE.fullmatch(os.path.basename(directory)):
            for name in subdirectories:
                path = os.path.join(directory, name)
                size, newest = tree_size(path)
                units.append((newest, size, path))
                total += size
            subdirectories[:] = []
        for name in names:
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            units.append((info.st_mtime_ns, info.st_size, path))
            total += info.st_size
    freed = 0
    for _, size, path in sorted(units):
        if total - freed <= limit:
            break
        if os.path.isdir(path) and not os.path.islink(path):
            # Renamed first, so that uv never sees the archive half deleted.
            doomed = path + ".pruned"
            os.rename(path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
        else:
            remove_path(path)
        freed += size
    return freed


def tree_size(root: str) -> tuple[int, int]:
    """Bytes of the files under root, and the newest modification time among them and root."""
    size = 0
    newest = os.lstat(root).st_mtime_ns
    for directory, _, names in os.walk(root):
        for name in names:
            try:
                info = os.lstat(os.path.join(directory, name))
            except FileNotFoundError:
                continue
            size += info.st_size
            newest = max(newest, info.st_mtime_ns)
    return size, newest


def normalized_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_projects(requirements: list[str], installed: list[str]) -> list[str]:
    """Projects requested without a marker that pip did not install: pip skips a line whose marker is false."""
    present = set(normalized_name(item.partition("==")[0]) for item in installed)
    missing = []
    for line in requirements:
        if LEADING_URL_RE.match(line):
            egg = EGG_RE.search(line)
            name = egg.group(1) if egg else ""
            has_marker = re.search(r"\s;", line) is not None
        else:
            match = PROJECT_NAME_RE.match(line)
            name = match.group(0) if match else ""
            # After a URL only ` ;` starts a marker (a bare `;` is part of the URL: refused by requirement_problem).
            has_marker = re.search(r"\s;", line) is not None if NAMED_URL_RE.match(line) else ";" in line
        if name and not has_marker and normalized_name(name) not in present:
            missing.append(normalized_name(name))
    return missing


def installed_distributions(site: str) -> list[str]:
    from importlib import metadata

    found = set()
    for dist in metadata.distributions(path=[site]):
        name = dist.metadata["Name"]
        if name:
            found.add("%s==%s" % (name, dist.version))
    return sorted(found, key=str.lower)


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EROFS):
            raise
    finally:
        os.close(fd)


def fsync_tree(root: str) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                fsync_path(path)
        fsync_path(directory)


def atomic_write(layout: Layout, path: str, text: str) -> None:
    temporary = os.path.join(layout.staging, "%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = text.encode()
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, path)
    except BaseException:
        remove_path(temporary)
        raise
    fsync_path(os.path.dirname(path))


def remove_path(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def empty_directory(path: str) -> None:
    for name in os.listdir(path):
        remove_path(os.path.join(path, name))


# A marker is a few KiB; anything much larger was not written by an installer.
MAX_MARKER_BYTES = 256 * 1024


def read_small_file(path: str, limit: int) -> bytes | None:
    """The content of a regular file of at most limit bytes, or None: never follows a symlink, never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return os.read(fd, limit + 1)[:limit]
    except OSError:
        return None
    finally:
        os.close(fd)


def reject_constant(name: str) -> object:
    raise ValueError("%s is not JSON" % name)


def read_marker(layout: Layout) -> dict | None:
    """The marker of this hash, when it is one an installer wrote and its install directory exists; otherwise None."""
    data = read_small_file(layout.marker, MAX_MARKER_BYTES)
    if data is None:
        return None
    try:
        marker = json.loads(data.decode("utf-8"), parse_constant=reject_constant)
    except ValueError:
        return None
    if not isinstance(marker, dict) or marker.get("hash") != layout.hash:
        return None
    if not isinstance(marker.get("installed"), list):
        return None
    # A marker without its directory (removed by hand, or a copied volume) must not make a pod start without packages.
    if not stat.S_ISDIR(lstat_mode(layout.hash_dir)):
        return None
    return marker


def lstat_mode(path: str) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def ensure_directory(path: str) -> None:
    """A real directory at path: a symlink, file, FIFO or device found there is removed first, never followed."""
    mode = lstat_mode(path)
    if stat.S_ISDIR(mode):
        return
    if mode:
        say("%s was not a directory; replacing it" % path)
        os.unlink(path)
    os.mkdir(path)


# Pod names are DNS subdomains; a record's file name is the pod's name.
POD_RECORD_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")


def record_pod(layout: Layout, pod: str) -> None:
    """Best effort: writes .pods/<pod> = hash, so garbage collection keeps this pod's install while it runs."""
    if not POD_RECORD_NAME_RE.fullmatch(pod) or not stat.S_ISDIR(lstat_mode(layout.pods)):
        return
    try:
        fd = os.open(os.path.join(layout.pods, pod), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError:
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
            os.write(fd, (layout.hash + "\n").encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def recorded_hashes(layout: Layout) -> set[str]:
    found = set()
    try:
        names = os.listdir(layout.pods)
    except OSError:
        return found
    for name in names:
        data = read_small_file(os.path.join(layout.pods, name), 128)
        text = data.decode("ascii", "replace").strip() if data is not None else ""
        if HASH_RE.fullmatch(text):
            found.add(text)
    return found


def result_document(**fields: object) -> dict:
    document = {
        "formatVersion": FORMAT_VERSION,
        "state": "Failed",
        "source": "installed",
        "hash": "",
        "installed": [],
        "installedTotal": 0,
        "installedBy": "",
        "installTime": utc_timestamp(time.time()),
        "durationSeconds": 0,
        "pythonVersion": platform.python_version(),
        "attempts": 0,
        "errorType": None,
        "error": None,
        "warnings": [],
        "hashVerified": False,
        "installSource": "index",
        "fromStore": 0,
        "downloaded": 0,
    }
    document.update(fields)
    return document


def text_field(value: object, limit: int) -> str:
    return shorten(value, limit) if isinstance(value, str) else ""


def number_field(value: object) -> float:
    valid = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return value if valid else 0


def text_items(value: object, limit: int) -> list[str]:
    return [shorten(item, limit) for item in value if isinstance(item, str)] if isinstance(value, list) else []


def cache_result(marker: dict) -> dict:
    """The result a later pod reports; every field checked, since a marker is only as trustworthy as the volume."""
    installed = text_items(marker.get("installed"), MAX_ITEM_CHARS)
    return result_document(
        state="Ready",
        source="cache",
        hash=text_field(marker.get("hash"), 64),
        installed=installed,
        installedTotal=len(installed),
        installedBy=text_field(marker.get("installedBy"), MAX_NAME_CHARS),
        installTime=text_field(marker.get("installTime"), 40),
        durationSeconds=number_field(marker.get("durationSeconds")),
        pythonVersion=text_field(marker.get("pythonVersion"), 40),
        attempts=int(number_field(marker.get("attempts"))),
        warnings=text_items(marker.get("warnings"), MAX_WARNING_CHARS)[:MAX_WARNINGS],
        hashVerified=marker.get("hashVerified") is True,
        installSource=marker.get("installSource") if marker.get("installSource") in INSTALL_SOURCES else "index",
        fromStore=int(number_field(marker.get("fromStore"))),
        downloaded=int(number_field(marker.get("downloaded"))),
    )


def encode_result(document: dict) -> str:
    """Compact ASCII JSON on one line, cut to stay under the termination message limit (newline included)."""

    def encoded(doc: dict) -> str:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, allow_nan=False)

    limit = MAX_RESULT_BYTES - 1
    doc = dict(document)
    doc["installedBy"] = shorten(str(doc["installedBy"]), MAX_NAME_CHARS)
    if doc.get("error") is not None:
        doc["error"] = shorten(str(doc["error"]), MAX_ERROR_CHARS)
    if len(encoded(doc)) <= limit:
        return encoded(doc)
    warnings = list(doc["warnings"])
    doc["warnings"] = []
    installed = list(doc["installed"])
    low, high = 0, len(installed)
    while low < high:
        middle = (low + high + 1) // 2
        doc["installed"] = installed[:middle]
        if len(encoded(doc)) <= limit:
            low = middle
        else:
            high = middle - 1
    doc["installed"] = installed[:low]
    for warning in warnings:
        doc["warnings"] = doc["warnings"] + [warning]
        if len(encoded(doc)) > limit:
            doc["warnings"] = doc["warnings"][:-1]
            break
    return encoded(doc)


class Lock:
    """An exclusive flock on a file nobody deletes: it dies with its holder, so no lock is ever stale."""

    def __init__(self, layout: Layout, pod: str) -> None:
        self.pod = pod
        self.held = False
        try:
            self.fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise Failure("unknown", "%s is a symbolic link, which no installer creates; remove it" % layout.lock)
        if not stat.S_ISREG(os.fstat(self.fd).st_mode):
            os.close(self.fd)
            raise Failure("unknown", "%s is not a regular file, which no installer creates; remove it" % layout.lock)

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        self.held = True
        self.describe_holder("pod %s (pid %d) since %s\n" % (self.pod, os.getpid(), utc_timestamp(time.time())))
        return True

    def holder(self) -> str:
        try:
            return shorten(os.pread(self.fd, 300, 0).decode("utf-8", "replace"), 200) or "an unnamed installer"
        except OSError:
            return "an unnamed installer"

    def describe_holder(self, text: str) -> None:
        # Best effort: the name only serves the waiters' log lines, and a full volume must not stop the install.
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, text.encode(), 0)
        except OSError:
            pass

    def release(self) -> None:
        if self.held:
            self.describe_holder("")
        os.close(self.fd)


def downloads_of(run: PipRun) -> int:
    """How many files a `pip install` run downloaded (pip logs each; a file from pip's own cache is not counted)."""
    return sum(1 for line in run.events if PIP_DOWNLOADING_RE.search(LOG_TIMESTAMP_RE.sub("", line)))


class PipChoice:
    """What `pip download` did with each file of the set it resolved, from its log."""

    def __init__(self, events: list[str]) -> None:
        self.already: set[str] = set()
        self.saved: set[str] = set()
        self.projects: list[str] = []
        rejected: set[str] = set()
        for line in (LOG_TIMESTAMP_RE.sub("", event) for event in events):
            for pattern, found in ((PIP_ALREADY_RE, self.already), (PIP_BAD_HASH_RE, rejected), (PIP_SAVED_RE, self.saved)):
                match = pattern.search(line)
                if match is not None:
                    found.add(os.path.basename(match.group(1).strip()))
            projects = PIP_DOWNLOADED_RE.search(line)
            if projects is not None:
                self.projects = projects.group(1).split()
        # A stored file pip found with another digest than the index's or the lock's: deleted, downloaded again.
        self.already -= rejected

    def files(self) -> set[str]:
        """
        The files pip chose, and the stored ones it looked at while resolving: more than one file of a project only
        when the resolver backtracked, and then the offline run resolves among files the index listed.
        """
        return self.saved | self.already

    def downloaded(self) -> int:
        return len(self.saved)

    def from_store(self) -> int:
        # One file per project of the final set: the ones not downloaded were already in the directory, from the store.
        return max(0, len(self.projects) - len(self.saved))


def file_sha256(path: str) -> str | None:
    """The sha256 of a regular file's content, or None for anything else; never follows a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        while True:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)


class Store:
    """
    The distributions earlier installs downloaded from the same indexes: `.store/<scope>/<sha256>/<file name>`.
    The scope is a digest of the index URL and the extra index URLs (never credentials: the URLs carry none), so a file
    is only offered for a link of the indexes it came from: pip checks a link's `#sha256`, or the locked digests, but
    takes a file of the right name as it is when an index gives neither.
    """

    def __init__(self, root: str, cfg: Config) -> None:
        indexes = "\n".join([cfg.index_url or DEFAULT_INDEX_URL] + cfg.extra_index_urls)
        self.dir = os.path.join(root, hashlib.sha256(indexes.encode()).hexdigest()[:32])
        self.files: dict[str, str] | None = None

    def fill(self, downloads: str) -> None:
        """A fresh download directory holding every stored file under its own name (a hard link, no copy)."""
        remove_path(downloads)
        os.makedirs(downloads)
        try:
            if self.files is None:
                self.files = self.verified_files()
            for name, path in self.files.items():
                target = os.path.join(downloads, name)
                try:
                    os.link(path, target)
                except OSError:
                    shutil.copyfile(path, target)
        except OSError as exc:
            # A store that cannot be read costs downloads, never the install.
            say("the store of distributions could not be read (%s): downloading every file" % exc)
            self.files = {}
            empty_directory(downloads)

    def verified_files(self) -> dict[str, str]:
        """Every stored file whose content has the digest it is stored under; anything else is removed."""
        found: dict[str, str] = {}
        mode = lstat_mode(self.dir)
        if mode and not stat.S_ISDIR(mode):
            # Planted (a symlink out of the volume, ...): removed, never followed.
            remove_path(self.dir)
        if not stat.S_ISDIR(lstat_mode(self.dir)):
            return found
        digests = sorted(os.listdir(self.dir))
        for digest in digests:
            entry = os.path.join(self.dir, digest)
            if not SHA256_RE.fullmatch(digest) or not stat.S_ISDIR(lstat_mode(entry)):
                remove_path(entry)
                continue
            for name in os.listdir(entry):
                path = os.path.join(entry, name)
                if not DISTRIBUTION_NAME_RE.fullmatch(name) or name in found:
                    remove_path(path)
                    continue
                if file_sha256(path) != digest:
                    say("the stored %s does not match its sha256 (damaged or cut short): removed, downloaded again" % name)
                    remove_path(path)
                    continue
                found[name] = path
        return found

    def keep(self, downloads: str, choice: PipChoice) -> None:
        """Stores what pip downloaded, marks the stored files it used, and leaves only its choice in downloads."""
        assert self.files is not None
        chosen = choice.files()
        for name in os.listdir(downloads):
            if name not in chosen:
                remove_path(os.path.join(downloads, name))
        try:
            for name in sorted(choice.saved):
                path = os.path.join(downloads, name)
                if DISTRIBUTION_NAME_RE.fullmatch(name) and os.path.isfile(path):
                    self.add(name, path)
            now = time.time()
            for name in choice.already - choice.saved:
                if name in self.files:
                    os.utime(self.files[name], (now, now))
        except OSError as exc:
            # The install has its files; a store that cannot take them only costs a later install the downloads.
            say("could not keep the downloaded files in the store of distributions: %s" % exc)

    def add(self, name: str, path: str) -> None:
        digest = file_sha256(path)
        if digest is None:
            return
        entry = os.path.join(self.dir, digest)
        final = os.path.join(entry, name)
        previous = self.files.get(name) if self.files is not None else None
        if previous is not None and previous != final:
            # The index now serves other bytes under this name: only the new file is kept.
            remove_path(previous)
            remove_empty_directories(self.dir)
        os.makedirs(entry, exist_ok=True)
        # pip's copy into the download directory was never synced. Written under a temporary name and renamed, so
        # the store never holds a partial file under a distribution's name.
        fsync_path(path)
        temporary = os.path.join(entry, ".%s.%d.tmp" % (name, os.getpid()))
        remove_path(temporary)
        try:
            os.link(path, temporary)
        except OSError:
            shutil.copyfile(path, temporary)
            fsync_path(temporary)
        os.rename(temporary, final)
        fsync_path(entry)
        fsync_path(self.dir)
        if self.files is not None:
            self.files[name] = final


class Installer:
    def __init__(
        self, cfg: Config, env: dict[str, str], pod: str, scrub: Scrubber, started: float, secrets_protected: bool
    ) -> None:
        self.cfg = cfg
        self.secrets_protected = secrets_protected
        self.env = env
        self.pod = pod
        self.scrub = scrub
        self.started = started
        self.deadline = started + cfg.deadline
        self.layout = Layout(cfg.dir, cfg.hash)
        self.attempts = 0
        self.install_started = None

    def run(self) -> dict:
        layout = self.layout
        # Before the marker is read: garbage collection keeps every hash a pod record names (see collect_garbage).
        record_pod(layout, self.pod)
        marker = read_marker(layout)
        if marker is not None:
            return self.reuse(marker)
        os.makedirs(layout.root, exist_ok=True)
        lock = Lock(layout, self.pod)
        try:
            if not self.wait_for_lock(lock):
                marker = read_marker(layout)
                if marker is None:
                    raise Failure("unknown", "the marker vanished after another pod installed")
                return self.reuse(marker)
            marker = read_marker(layout)
            if marker is not None:
                return self.reuse(marker)
            return self.install()
        finally:
            lock.release()

    def reuse(self, marker: dict) -> dict:
        by, at = marker.get("installedBy"), marker.get("installTime")
        say("packages for %s are ready, installed by %s at %s" % (self.cfg.hash, by, at))
        return cache_result(marker)

    def wait_for_lock(self, lock: Lock) -> bool:
        """True once the lock is ours; False when another pod finished the install while we waited."""
        delay = 0.05
        next_report = 0.0
        while not lock.try_acquire():
            if read_marker(self.layout) is not None:
                return False
            now = time.monotonic()
            if now >= next_report:
                say("waiting for the install lock, held by %s" % self.scrub(lock.holder()))
                next_report = now + LOCK_REPORT_EVERY_SECONDS
            if now + delay >= self.deadline:
                holder = self.scrub(lock.holder())
                raise Failure("timeout", "deadline reached while waiting for the install lock held by %s" % holder)
            time.sleep(delay)
            delay = min(delay * 1.5, LOCK_POLL_MAX_SECONDS)
        return True

    def install(self) -> dict:
        layout = self.layout
        cfg = self.cfg
        self.install_started = time.monotonic()
        # We hold the lock: whatever is in staging belongs to an installer that died, and an unmarked hash directory
        # is one whose marker was never written. Anything but a real directory at these paths was planted: replaced,
        # never followed.
        for directory in (
            layout.envs,
            layout.staging,
            layout.pip_cache,
            layout.store,
            layout.uv_cache,
            layout.tools,
            layout.pods,
        ):
            ensure_directory(directory)
        record_pod(layout, self.pod)
        if cfg.has_credentials:
            # Written by versions that kept pip's HTTP cache with credentials: it may hold base64(user:password).
            for name in ("http", "http-v2"):
                remove_path(os.path.join(layout.pip_cache, name))
        empty_directory(layout.staging)
        remove_path(layout.hash_dir)
        work = os.path.join(layout.staging, "%s.%d" % (cfg.hash, os.getpid()))
        index = redact_userinfo(cfg.index_url) if cfg.index_url else "the default index"
        credentials = " with credentials" if cfg.has_credentials else ""
        if cfg.locked:
            count = "%d locked distribution(s), hash-checked," % len(cfg.locked)
        else:
            count = "%d requirement(s)" % len(cfg.requirements)
        if cfg.offline:
            source = "the bundle in %s only (offline)" % cfg.bundle_dir
        else:
            source = index + credentials + (" and the bundle in %s" % cfg.bundle_dir if cfg.bundle_dir else "")
        if cfg.bundle_dir and not os.path.isdir(cfg.bundle_dir):
            raise Failure(
                "invalid_input",
                "the bundle directory %s does not exist in the bundle's volume: check bundleSource.path" % cfg.bundle_dir,
            )
        try:
            os.makedirs(work)
            uv = self.choose_uv(work)
            say("installing %s for %s from %s with %s" % (count, cfg.hash, source, "uv" if uv else "pip"))
            requirements_file = os.path.join(work, "requirements.txt")
            with open(requirements_file, "w", encoding="utf-8") as handle:
                handle.write("\n".join(cfg.locked or cfg.requirements) + "\n")
            if cfg.locked:
                # The loose requirements still say what the user asked for: pip checks that the lock satisfies them.
                with open(os.path.join(work, "constraints.txt"), "w", encoding="utf-8") as handle:
                    handle.write("".join(constraint_line(line) + "\n" for line in cfg.requirements))
            store = None if uv else self.usable_store()
            site, warnings, counts = self.install_with_retries(work, requirements_file, cfg, uv, store)
            if uv is not None and cfg.locked and cfg.requirements:
                self.check_lock_satisfies(uv, work, site)
            if uv is not None:
                # uv's lock file for the target; what the app imports from is the packages alone, as with pip.
                remove_path(os.path.join(site, ".lock"))
            installed = installed_distributions(site)
            missing = missing_projects(cfg.requirements, installed)
            if missing:
                raise Failure(
                    "invalid_input",
                    "pip finished without installing %s, requested without a marker (pip read part of the line as a "
                    "marker or skipped it); nothing was published" % ", ".join(missing),
                )
            duration = round(time.monotonic() - self.install_started, 3)
            finished = time.time()
            self.publish(site, installed, warnings, duration, finished, counts)
        finally:
            remove_path(work)
            self.prune_cache()
        reused = "the cache" if uv else "the store"
        say(
            "installed %d distribution(s) in %.1fs (%d from %s, %d downloaded): %s"
            % (len(installed), duration, counts["fromStore"], reused, counts["downloaded"], ", ".join(installed))
        )
        try:
            self.collect_garbage()
        except OSError as exc:
            # The install is published; a failed clean-up must not turn it into a failure.
            warnings = warnings + ["old installs could not be removed: %s" % shorten(str(exc), MAX_WARNING_CHARS)]
        return result_document(
            state="Ready",
            hash=cfg.hash,
            installed=installed,
            installedTotal=len(installed),
            installedBy=self.pod,
            installTime=utc_timestamp(finished),
            durationSeconds=duration,
            attempts=self.attempts,
            warnings=warnings,
            hashVerified=bool(cfg.locked),
            installSource=cfg.install_source,
            **counts,
        )

    def choose_uv(self, work: str) -> str | None:
        """The uv binary to install with, or None for pip, as KASPR_PACKAGES_INSTALLER asks (see INSTALLERS)."""
        choice = self.cfg.installer
        if choice == "pip":
            return self.require_pip()
        if self.cfg.bundle_dir:
            # Bundles are pip's (`--find-links`, `--no-index`): the operator refuses installer uv with a bundle.
            if choice == "uv":
                raise Failure("invalid_input", "installer uv does not install from a bundle; use installer pip or auto")
            say("installer auto: a bundle is installed by pip")
            return self.require_pip()
        found = image_uv(self.env)
        if found is not None:
            return found
        if choice == "auto":
            say("installer auto: the image has no uv, so pip installs")
            return self.require_pip()
        return self.volume_uv(work)

    def require_pip(self) -> None:
        if importlib.util.find_spec("pip") is None:
            raise Failure("pip_unavailable", "%s has no pip module, so this image cannot install packages" % sys.executable)
        return None

    def volume_uv(self, work: str) -> str:
        """
        uv UV_VERSION from the volume's `.tools/`, installed there first when missing: by pip, from the spec's index
        (its credentials and trusted hosts too), in hash-checking mode against UV_WHEEL_DIGESTS. Other versions there
        were put by other installer releases and are removed.
        """
        layout = self.layout
        binary = os.path.join(layout.uv_tool, "bin", "uv")
        for name in os.listdir(layout.tools):
            if name != os.path.basename(layout.uv_tool):
                remove_path(os.path.join(layout.tools, name))
        if stat.S_ISREG(lstat_mode(binary)) and uv_version(binary) is not None:
            return binary
        remove_path(layout.uv_tool)
        self.require_pip()
        say("the image has no uv: installing uv %s into the volume with pip, hash-checked" % UV_VERSION)
        tool_work = os.path.join(work, "uv-tool")
        os.makedirs(tool_work)
        requirements_file = os.path.join(tool_work, "requirements.txt")
        with open(requirements_file, "w", encoding="utf-8") as handle:
            handle.write("uv==%s %s\n" % (UV_VERSION, " ".join("--hash=sha256:" + d for d in UV_WHEEL_DIGESTS)))
        open(os.path.join(tool_work, "constraints.txt"), "w").close()
        tool_cfg = copy.copy(self.cfg)
        tool_cfg.locked = ["uv==" + UV_VERSION]
        tool_cfg.requirements = []
        try:
            site, _, _ = self.install_with_retries(tool_work, requirements_file, tool_cfg, None, None)
        except Failure as failure:
            raise Failure(failure.error_type, "installing uv %s failed: %s" % (UV_VERSION, failure.message))
        # The packages' attempts are counted from here.
        self.attempts = 0
        fsync_tree(site)
        os.rename(site, layout.uv_tool)
        fsync_path(layout.tools)
        if uv_version(binary) is None:
            remove_path(layout.uv_tool)
            raise Failure("unknown", "the uv %s installed from the index does not run on this platform" % UV_VERSION)
        return binary

    def check_lock_satisfies(self, uv: str, work: str, site: str) -> None:
        """
        With a lock, `packages` must be satisfied by what was installed (pip checks it as constraints, which uv refuses
        in hash-checking mode): uv's dry run over the target, offline, must find nothing to change.
        """
        constraints = os.path.join(work, "packages.txt")
        with open(constraints, "w", encoding="utf-8") as handle:
            handle.write("".join(constraint_line(line) + "\n" for line in self.cfg.requirements))
        paths = {"work": work, "site": site, "requirements": constraints, "cache": self.layout.uv_cache}
        tmp = os.path.join(work, "tmp")
        remove_path(tmp)
        os.makedirs(tmp)
        remaining = max(1.0, self.deadline - time.monotonic())
        env = uv_environment(self.cfg, self.env, tmp)
        run = run_uv(uv, self.cfg, paths, env, min(self.cfg.timeout, remaining), self.scrub, dry_run=True)
        if run.returncode == 0 and not run.timed_out and any(UV_NO_CHANGES in line for line in run.console):
            return
        changes = [line.strip() for line in run.console if UV_WOULD_CHANGE_RE.match(line)]
        evidence = ", ".join(changes) or classify_uv_failure(run.console, run.timed_out)[1]
        raise Failure(
            "version_conflict",
            shorten(self.scrub("the locked set does not satisfy packages (%s); lock again with `kasprop lock -f FILE`" % evidence), MAX_ERROR_CHARS),
        )

    def credential_warnings(self, run: PipRun) -> list[str]:
        """A refused password is otherwise silent when an extra index had the packages: pip falls back quietly."""
        if not self.cfg.has_credentials:
            return []
        warnings = []
        refused = [line for line in run.console + run.diagnostics if AUTHENTICATION_RE.search(line)]
        if refused:
            evidence = shorten(clean_evidence(refused[0]), 160)
            warnings.append(
                "the index refused the credentials (%s); what was installed came from the other indexes: check the "
                "credentials Secret" % evidence
            )
        if not self.secrets_protected:
            warnings.append(
                "the installer could not protect its environment (no ctypes or prctl in this image), so code run by "
                "the install could read the credentials"
            )
        return warnings

    def install_with_retries(
        self, work: str, requirements_file: str, cfg: Config, uv: str | None, store: Store | None
    ) -> tuple[str, list[str], dict[str, int]]:
        """
        pip (with the store when given), or uv when given, until it succeeds or fails for good: the staged site, the
        warnings, and how many distribution files were reused (`fromStore`) and downloaded.
        """
        total = cfg.retries + 1
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise Failure("timeout", "deadline reached before attempt %d" % (self.attempts + 1))
            self.attempts += 1
            paths = {
                "work": work,
                "site": os.path.join(work, "site"),
                "tmp": os.path.join(work, "tmp"),
                "downloads": os.path.join(work, "downloads"),
                "requirements": requirements_file,
                "constraints": os.path.join(work, "constraints.txt"),
                "cache": self.layout.uv_cache if uv else self.layout.pip_cache,
            }
            for directory in (paths["site"], paths["tmp"]):
                remove_path(directory)
                os.makedirs(directory)
            step = "uv install" if uv else "pip install" if store is None else "pip download"
            say("attempt %d/%d: %s" % (self.attempts, total, step))
            try:
                if uv is not None:
                    return self.uv_attempt(uv, cfg, paths, min(cfg.timeout, remaining))
                return self.attempt(cfg, paths, min(cfg.timeout, remaining), store)
            except Failure as failure:
                pause = backoff_seconds(self.attempts)
                if failure.error_type not in RETRYABLE or self.attempts >= total:
                    raise
                if time.monotonic() + pause + 1 >= self.deadline:
                    raise Failure(failure.error_type, failure.message + " (no time left for another attempt)")
                say("attempt %d failed (%s): %s; retrying in %.1fs" % (self.attempts, failure.error_type, failure.message, pause))
                time.sleep(pause)

    def usable_store(self) -> Store | None:
        """
        The store of this spec's indexes, or None when a requirement is a URL (pip fetches it, not an index) or a
        bundle is given (its files are local already, and a store keyed by the indexes must not keep the bundle's).
        """
        urls = [line for line in self.cfg.requirements if LEADING_URL_RE.match(line) or NAMED_URL_RE.match(line)]
        if urls:
            say("a requirement is a URL: one pip run, without the store of distributions")
            return None
        if self.cfg.bundle_dir:
            say("the distributions come from a bundle: one pip run, without the store of distributions")
            return None
        return Store(self.layout.store, self.cfg)

    def attempt(
        self, cfg: Config, paths: dict[str, str], limit: float, store: Store | None
    ) -> tuple[str, list[str], dict[str, int]]:
        """
        With the store, two pip runs: `pip download` resolves from the indexes into a directory that already holds
        the stored files (pip downloads only the chosen files that are not there or do not match their digest), then
        `pip install --no-index` installs exactly the chosen files. Raises a Failure for a failed pip run.
        """
        started = time.monotonic()
        env = pip_environment(self.env, paths["tmp"])
        if store is None:
            run = self.pip(cfg, paths, env, limit, "install")
            counts = {"fromStore": 0, "downloaded": downloads_of(run)}
            return paths["site"], pip_warnings(run.console) + self.credential_warnings(run), counts
        store.fill(paths["downloads"])
        fetched = self.pip(cfg, paths, env, limit, "download")
        choice = PipChoice(fetched.events)
        store.keep(paths["downloads"], choice)
        warnings = self.credential_warnings(fetched)
        left = max(1.0, limit - (time.monotonic() - started))
        if not all(name.endswith(".whl") for name in choice.files()):
            # pip's build isolation installs a source distribution's build requirements from the indexes, which an
            # offline run does not have: such a set installs in one run from the indexes (its files are stored all
            # the same).
            say("the set has a source distribution: pip install from the indexes")
            run = self.pip(cfg, paths, env, left, "install")
            counts = {"fromStore": 0, "downloaded": downloads_of(run)}
            return paths["site"], pip_warnings(fetched.console + run.console) + warnings, counts
        say("pip install of the %d chosen file(s), without an index" % len(choice.files()))
        run = self.pip(cfg, paths, env, left, "offline")
        counts = {"fromStore": choice.from_store(), "downloaded": choice.downloaded()}
        return paths["site"], pip_warnings(fetched.console + run.console) + warnings, counts

    def pip(self, cfg: Config, paths: dict[str, str], env: dict[str, str], limit: float, phase: str) -> PipRun:
        """A pip run that succeeded, or the Failure that says why it did not."""
        run = run_pip(cfg, paths, env, limit, self.scrub, phase)
        if run.returncode == 0 and not run.timed_out:
            return run
        hash_failure = None if run.timed_out else hash_check_failure(run.console, bool(cfg.locked))
        if hash_failure is None and cfg.offline and not run.timed_out:
            hash_failure = bundle_missing_failure(run.console)
        if hash_failure is not None:
            raise Failure(hash_failure.error_type, shorten(self.scrub(hash_failure.message), MAX_ERROR_CHARS))
        error_type, evidence = classify_pip_failure(run.console + run.diagnostics, run.timed_out)
        if run.timed_out:
            evidence = "pip did not finish within %.0fs and was stopped" % limit
        evidence = evidence.replace(paths["requirements"], "requirements.txt")
        raise Failure(error_type, shorten(self.scrub(evidence), MAX_ERROR_CHARS))

    def uv_attempt(self, uv: str, cfg: Config, paths: dict[str, str], limit: float) -> tuple[str, list[str], dict[str, int]]:
        """One uv run that succeeded (the site, warnings and its counts), or the Failure that says why it did not."""
        run = run_uv(uv, cfg, paths, uv_environment(cfg, self.env, paths["tmp"]), limit, self.scrub)
        if run.returncode == 0 and not run.timed_out:
            counts = uv_counts(run.diagnostics, installed_distributions(paths["site"]))
            return paths["site"], uv_warnings(run.console) + self.credential_warnings(run), counts
        hash_failure = None if run.timed_out else uv_hash_check_failure(run.console, bool(cfg.locked))
        if hash_failure is not None:
            raise Failure(hash_failure.error_type, shorten(self.scrub(hash_failure.message), MAX_ERROR_CHARS))
        error_type, evidence = classify_uv_failure(run.console + run.diagnostics, run.timed_out)
        if cfg.has_credentials and any(UV_NO_WHEELS in line for line in run.console):
            # Our own --no-build (see uv_arguments): say so, since uv's message blames the requirements.
            error_type = "invalid_input"
            evidence = (
                "with credentials uv installs wheels only, so no package code runs beside the password, and: %s; "
                "installer: pip builds source distributions" % evidence
            )
        if run.timed_out:
            evidence = "uv did not finish within %.0fs and was stopped" % limit
        evidence = evidence.replace(paths["requirements"], "requirements.txt")
        raise Failure(error_type, shorten(self.scrub(evidence), MAX_ERROR_CHARS))

    def publish(
        self,
        site: str,
        installed: list[str],
        warnings: list[str],
        duration: float,
        finished: float,
        counts: dict[str, int],
    ) -> None:
        layout = self.layout
        cfg = self.cfg
        marker = {
            "formatVersion": FORMAT_VERSION,
            "hash": cfg.hash,
            "requirements": [redact_userinfo(line) for line in cfg.requirements],
            "installed": installed,
            "installedBy": self.pod,
            "installTime": utc_timestamp(finished),
            "durationSeconds": duration,
            "pythonVersion": platform.python_version(),
            "attempts": self.attempts,
            "warnings": warnings,
            "hashVerified": bool(cfg.locked),
            "installSource": cfg.install_source,
        }
        marker.update(counts)
        fsync_tree(site)
        os.rename(site, layout.hash_dir)
        fsync_path(layout.envs)
        try:
            atomic_write(layout, layout.prepared_result, encode_result(cache_result(marker)) + "\n")
            atomic_write(layout, layout.marker, json.dumps(marker, indent=1) + "\n")
        except BaseException:
            remove_path(layout.marker)
            remove_path(layout.prepared_result)
            remove_path(layout.hash_dir)
            raise

    def collect_garbage(self) -> None:
        """
        Keeps the current hash, the two most recently installed before it and every hash a pod record names (the
        hash each pod of this volume last started with, so a pod of an older revision that still runs keeps its
        install); removes everything else.
        """
        layout = self.layout
        installs = []
        for name in os.listdir(layout.root):
            if name.startswith(MARKER_PREFIX) and HASH_RE.fullmatch(name[len(MARKER_PREFIX) :]):
                try:
                    installs.append((os.lstat(os.path.join(layout.root, name)).st_mtime_ns, name[len(MARKER_PREFIX) :]))
                except FileNotFoundError:
                    continue
        previous = [h for _, h in sorted(installs, reverse=True) if h != layout.hash]
        # A pod's record names the hash it started with: a pod still running an older revision keeps its install.
        keep = set([layout.hash] + previous[:PREVIOUS_HASHES_KEPT]) | recorded_hashes(layout)
        for old in (h for h in previous if h not in keep):
            # Marker first: once it is gone, no pod takes the directory for installed.
            remove_path(os.path.join(layout.root, MARKER_PREFIX + old))
            say("removed the install of %s" % old)
        for name in os.listdir(layout.root):
            if name.startswith(RESULT_PREFIX) and name[len(RESULT_PREFIX) :] not in keep:
                remove_path(os.path.join(layout.root, name))
        for name in os.listdir(layout.envs):
            if name not in keep:
                remove_path(os.path.join(layout.envs, name))

    def prune_cache(self) -> None:
        try:
            volume = os.statvfs(self.layout.root)
            size = volume.f_blocks * volume.f_frsize
            limit = min(CACHE_MAX_BYTES, size // CACHE_VOLUME_SHARE)
            prune_directory(self.layout.pip_cache, limit)
            prune_uv_cache(self.layout.uv_cache, limit)
            # Every use of a stored file sets its modification time: the least recently used go first.
            if prune_directory(self.layout.store, min(STORE_MAX_BYTES, size // STORE_VOLUME_SHARE)):
                remove_empty_directories(self.layout.store)
        except OSError as exc:
            say("could not prune the pip cache or the store: %s" % exc)


def prune_directory(root: str, limit: int) -> int:
    """Deletes the least recently written files until the tree's size is within limit; returns the bytes freed."""
    files = []
    total = 0
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            files.append((info.st_mtime_ns, info.st_size, path))
            total += info.st_size
    freed = 0
    for _, size, path in sorted(files):
        if total - freed <= limit:
            break
        try:
            os.unlink(path)
            freed += size
        except FileNotFoundError:
            continue
    return freed


def remove_empty_directories(root: str) -> None:
    for directory, _, _ in sorted(os.walk(root), reverse=True):
        if directory != root:
            try:
                os.rmdir(directory)
            except OSError:
                continue


def write_termination_log(path: str, line: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        print("kasprop: could not write the result to %s: %s" % (path, exc), file=sys.stderr, flush=True)


# The Secret's values, as the kubelet sets them (secretKeyRef).
SECRET_VARIABLES = (b"KASPR_PACKAGES_INDEX_USERNAME", b"KASPR_PACKAGES_INDEX_PASSWORD")


def blank_initial_environment(names: tuple[bytes, ...]) -> bool:
    """
    Overwrites the values of these variables in the process's initial environment block (os.environ keeps its copy),
    which is what /proc/<pid>/environ shows: root without CAP_SYS_PTRACE may still read that file of a non-dumpable
    process, though not its memory.
    """
    try:
        import ctypes

        environ = ctypes.POINTER(ctypes.c_void_p).in_dll(ctypes.CDLL(None), "environ")
        index = 0
        while environ[index]:
            address = environ[index]
            name, separator, value = ctypes.string_at(address).partition(b"=")
            if separator and name in names:
                ctypes.memset(address + len(name) + 1, ord("*"), len(value))
            index += 1
        return True
    except (ImportError, OSError, AttributeError, ValueError):
        return False


def make_non_dumpable() -> bool:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):  # no ctypes in the image, or a libc without prctl
        return False


def main() -> int:
    # First thing: nothing the install runs may read the credentials through /proc (see the two functions).
    secrets_protected = make_non_dumpable()
    started = time.monotonic()
    signal.signal(signal.SIGTERM, on_terminate)
    sys.stdout.reconfigure(line_buffering=True, errors="backslashreplace")
    env = dict(os.environ)
    secrets_protected = blank_initial_environment(SECRET_VARIABLES) and secrets_protected
    pod = env.get("KASPR_PACKAGES_POD_NAME") or socket.gethostname()
    on_failure = "allow" if env.get("KASPR_PACKAGES_ON_FAILURE") == "allow" else "block"
    termination_log = env.get("KASPR_PACKAGES_TERMINATION_LOG") or DEFAULT_TERMINATION_LOG
    given_hash = env.get("KASPR_PACKAGES_HASH", "")
    scrub = Scrubber(env.get("KASPR_PACKAGES_INDEX_USERNAME", ""), env.get("KASPR_PACKAGES_INDEX_PASSWORD", ""))
    installer = None
    result = None
    try:
        cfg = Config(env)
        installer = Installer(cfg, env, pod, scrub, started, secrets_protected)
        result = installer.run()
    except Failure as failure:
        result = failed(failure.error_type, failure.message)
    except (Terminated, KeyboardInterrupt):
        result = failed("unknown", "the installer was stopped by a signal")
    except OSError as exc:
        disk = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        result = failed("disk_full" if disk else "unknown", scrub(describe_os_error(exc)))
    except Exception as exc:  # the result must be written whatever went wrong
        result = failed("unknown", scrub("%s: %s" % (type(exc).__name__, exc)))
    finally:
        if result is None:
            result = failed("unknown", "the installer stopped unexpectedly")
        result["hash"] = given_hash if HASH_RE.fullmatch(given_hash) else ""
        if result["state"] == "Failed":
            since = installer.install_started if installer is not None and installer.install_started else started
            result["durationSeconds"] = round(time.monotonic() - since, 3)
            result["installedBy"] = pod
            result["attempts"] = installer.attempts if installer is not None else 0
            result["error"] = scrub(str(result["error"]))
        write_termination_log(termination_log, encode_result(result))
    if result["state"] == "Ready":
        return 0
    say("FAILED (%s): %s" % (result["errorType"], result["error"]))
    if on_failure == "allow":
        say("onFailure is allow: the app starts without these packages")
        return 0
    return 1


def describe_os_error(exc: OSError) -> str:
    """The error, and for a volume this user may not write, whose it is and what to change."""
    if exc.errno not in (errno.EACCES, errno.EPERM) or not exc.filename:
        return str(exc)
    try:
        owner = os.lstat(exc.filename).st_uid
    except OSError:
        try:
            owner = os.lstat(os.path.dirname(exc.filename)).st_uid
        except OSError:
            return str(exc)
    return (
        "%s: owned by uid %d, while this installer runs as uid %d and gid %d. The volume was probably written by a "
        "pod with another runAsUser: give every pod of the app the same runAsUser, or set fsGroup in the pod's "
        "securityContext, or fix the owner of the files on the volume" % (exc, owner, os.getuid(), os.getgid())
    )


def failed(error_type: str, message: str) -> dict:
    return result_document(state="Failed", errorType=error_type, error=message)


if __name__ == "__main__":
    sys.exit(main())
