# kasprop package installer: the program of the install-packages init container. bootstrap.sh hands over to it with
# `python3 -c <this text>` when the packages of the spec hash are not on the volume yet. It is constant (identical for
# every app): every input is an environment variable or a file, as listed in src/packages/installer-contract.ts.
# Standard library only, and it must run on Python 3.8: app images bring their own python3 and nothing else.
from __future__ import annotations

import base64
import errno
import fcntl
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
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
LOCK_POLL_MAX_SECONDS = 1.0
LOCK_REPORT_EVERY_SECONDS = 10.0
MAX_ERROR_CHARS = 400
MAX_WARNING_CHARS = 200
MAX_WARNINGS = 10

# Only these may change between attempts; the others would fail the same way again.
RETRYABLE = frozenset(["network", "timeout", "hash_mismatch", "unknown"])

HASH_RE = re.compile(r"[0-9a-f]{8,64}")
MARKER_PREFIX = ".installed-"
RESULT_PREFIX = ".result-"
# An option token anywhere (`pkg --index-url x`): pip honours options inside requirements files.
OPTION_TOKEN_RE = re.compile(r"(?:^|\s)-")
TRUSTED_HOST_RE = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
NUMBER_RE = re.compile(r"[0-9]{1,9}")
USERINFO_RE = re.compile(r"(?<=://)[^/\s@]+@")
LOG_TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d+ ")
LEVEL_PREFIX_RE = re.compile(r"^(?:ERROR|WARNING): ")

# pip's console output hides why an index page could not be read (a 401, a refused connection and a missing project
# all end in "from versions: none"); its debug log says it. These lines are the ones worth keeping from that log.
DIAGNOSTIC_RE = re.compile(
    r"ERROR|Error|error|Could not|Errno|timed out|Timeout|refused|denied|conflict|HASHES|[Hh]ash|from versions"
)

# Checked in this order: the first kind with a matching line wins. Transient kinds come before the "not found" and
# "conflict" kinds, because an index that could not be read also makes pip report that nothing matched.
FAILURE_PATTERNS = (
    ("disk_full", re.compile(r"No space left on device|\[Errno 28\]|Disk quota exceeded|\[Errno 122\]")),
    ("hash_mismatch", re.compile(r"DO NOT MATCH THE HASHES|HashMismatch|[Hh]ash mismatch")),
    (
        "invalid_input",
        re.compile(
            r"Invalid requirement|InvalidRequirement|Invalid marker|InvalidMarker|InvalidSpecifier|InvalidVersion"
        ),
    ),
    (
        "authentication",
        re.compile(r"\b40[13] Client Error|\b40[13] Error|HTTP error 40[13]|\b401 Unauthorized|\b403 Forbidden"),
    ),
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

# pip's arguments go through stdin, so the index URL with the credentials is in no argv (/proc/<pid>/cmdline is
# world-readable). Running pip's __main__ in-process is what `python -m pip` does.
PIP_RUNNER = (
    "import json, os, runpy, sys\n"
    "args = json.loads(sys.stdin.readline())\n"
    "sys.stdin = open(os.devnull)\n"
    "os.dup2(sys.stdin.fileno(), 0)\n"
    "sys.argv = ['pip'] + args\n"
    "runpy.run_module('pip', run_name='__main__', alter_sys=True)\n"
)


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
        if password:
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
        self.requirements = requirement_lines(env.get("KASPR_PACKAGES_REQUIREMENTS", ""))
        self.index_url = checked_url(env.get("KASPR_PACKAGES_INDEX_URL", "").strip(), "KASPR_PACKAGES_INDEX_URL")
        self.extra_index_urls = [
            checked_url(line.strip(), "KASPR_PACKAGES_EXTRA_INDEX_URLS")
            for line in env.get("KASPR_PACKAGES_EXTRA_INDEX_URLS", "").split("\n")
            if line.strip()
        ]
        self.trusted_hosts = []
        for line in env.get("KASPR_PACKAGES_TRUSTED_HOSTS", "").split("\n"):
            if line.strip() and not TRUSTED_HOST_RE.fullmatch(line.strip()):
                raise Failure("invalid_input", "KASPR_PACKAGES_TRUSTED_HOSTS has an entry that is not host[:port]")
            if line.strip():
                self.trusted_hosts.append(line.strip())
        self.username = env.get("KASPR_PACKAGES_INDEX_USERNAME", "")
        self.password = env.get("KASPR_PACKAGES_INDEX_PASSWORD", "")
        self.has_credentials = bool(self.username or self.password)
        if self.has_credentials and not self.index_url:
            raise Failure("invalid_input", "index credentials are set without KASPR_PACKAGES_INDEX_URL")
        self.retries = number_setting(env, "KASPR_PACKAGES_RETRIES", DEFAULT_RETRIES, 0)
        self.timeout = number_setting(env, "KASPR_PACKAGES_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, 1)
        default_deadline = self.retries_budget()
        self.deadline = number_setting(env, "KASPR_PACKAGES_DEADLINE_SECONDS", default_deadline, 1)
        on_failure = env.get("KASPR_PACKAGES_ON_FAILURE", DEFAULT_ON_FAILURE) or DEFAULT_ON_FAILURE
        if on_failure not in ("block", "allow"):
            raise Failure("invalid_input", "KASPR_PACKAGES_ON_FAILURE must be block or allow")
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


def requirement_lines(raw: str) -> list[str]:
    if "\0" in raw or "\r" in raw:
        raise Failure("invalid_input", "requirements contain a NUL or carriage return character")
    lines = [line.strip() for line in raw.split("\n") if line.strip()]
    if not lines:
        raise Failure("invalid_input", "no requirements given (KASPR_PACKAGES_REQUIREMENTS is empty)")
    for line in lines:
        if "$" in line:
            reason = "contains '$' (pip expands environment variables in requirements files)"
        elif OPTION_TOKEN_RE.search(line):
            reason = "carries a pip option"
        elif line.endswith("\\"):
            reason = "ends in a line continuation"
        else:
            continue
        shown = shorten(redact_userinfo(line), 80)
        raise Failure("invalid_input", "requirement %r %s; refused before running pip" % (shown, reason))
    return lines


def checked_url(value: str, name: str) -> str:
    if not value:
        return value
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise Failure("invalid_input", "%s contains whitespace or control characters" % name)
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a malformed port
        valid = False
    if not valid:
        raise Failure("invalid_input", "%s is not an http(s) URL with a host" % name)
    return value


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
    return LEVEL_PREFIX_RE.sub("", line.strip())


def pip_warnings(lines: list[str]) -> list[str]:
    found = []
    for line in lines:
        if line.startswith("WARNING:"):
            warning = shorten(line[len("WARNING:") :].strip(), MAX_WARNING_CHARS)
            if warning not in found:
                found.append(warning)
    return found[:MAX_WARNINGS]


class PipRun:
    def __init__(self, returncode: int, timed_out: bool, console: list[str], diagnostics: list[str]) -> None:
        self.returncode = returncode
        self.timed_out = timed_out
        self.console = console
        self.diagnostics = diagnostics


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


def pip_arguments(cfg: Config, site: str, requirements_file: str, cache_dir: str, log_fd: int) -> list[str]:
    args = [
        "install",
        "--target",
        site,
        "--requirement",
        requirements_file,
        "--no-input",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--no-color",
        "--no-warn-script-location",
        "--cache-dir",
        cache_dir,
        # One request per file per attempt: pip's own retries (5 by default, with backoff) would multiply with ours
        # and make a dead index take minutes to report. Our attempts retry instead; the cache keeps what was fetched.
        "--retries",
        "0",
        "--timeout",
        str(max(1, min(cfg.timeout, PIP_SOCKET_TIMEOUT_MAX_SECONDS))),
        "--log",
        "/proc/self/fd/%d" % log_fd,
    ]
    if cfg.index_url:
        args += ["--index-url", cfg.pip_index_url()]
    for url in cfg.extra_index_urls:
        args += ["--extra-index-url", url]
    for host in cfg.trusted_hosts:
        args += ["--trusted-host", host]
    if cfg.has_credentials:
        # With build isolation pip installs build dependencies in a child pip whose argv carries the index URL,
        # credentials included. Source distributions build against the image's own tools instead.
        args.append("--no-build-isolation")
    return args


def run_pip(cfg: Config, paths: dict[str, str], env: dict[str, str], timeout: float, scrub: Scrubber) -> PipRun:
    """One pip run in its own process group, killed whole when it runs out of time; output scrubbed as it streams."""
    console: deque[str] = deque(maxlen=500)
    diagnostics: deque[str] = deque(maxlen=500)
    # pip's debug log goes to a pipe, not a file: it is read for classification and never lands on a disk.
    log_read, log_write = os.pipe()
    args = pip_arguments(cfg, paths["site"], paths["requirements"], paths["cache"], log_write)
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
        finished, timed_out = supervise(proc, args, timeout, scrub, console, diagnostics, log_read)
    finally:
        if not finished:
            # The group leader is not reaped yet, so its process group id cannot have been reused.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    return PipRun(proc.returncode, timed_out, list(console), list(diagnostics))


def supervise(
    proc: subprocess.Popen,
    args: list[str],
    timeout: float,
    scrub: Scrubber,
    console: deque,
    diagnostics: deque,
    log_read: int,
) -> tuple[bool, bool]:
    """Feeds pip its arguments, streams its output, waits; returns (finished, timed out)."""

    def pump_console() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = scrub(raw.decode("utf-8", "replace").rstrip())
            print("  | " + line, flush=True)
            console.append(line)

    def pump_log() -> None:
        with os.fdopen(log_read, "rb") as log:
            for raw in log:
                line = scrub(raw.decode("utf-8", "replace").rstrip())
                if DIAGNOSTIC_RE.search(line):
                    diagnostics.append(line)

    readers = [threading.Thread(target=pump_console, daemon=True), threading.Thread(target=pump_log, daemon=True)]
    for reader in readers:
        reader.start()
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps(args).encode() + b"\n")
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


def read_marker(layout: Layout) -> dict | None:
    try:
        with open(layout.marker, encoding="utf-8") as handle:
            marker = json.load(handle)
    except (OSError, ValueError):
        return None
    if isinstance(marker, dict) and marker.get("hash") == layout.hash and isinstance(marker.get("installed"), list):
        return marker
    return None


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
    }
    document.update(fields)
    return document


def cache_result(marker: dict) -> dict:
    installed = [str(item) for item in marker.get("installed", [])]
    return result_document(
        state="Ready",
        source="cache",
        hash=marker.get("hash", ""),
        installed=installed,
        installedTotal=len(installed),
        installedBy=str(marker.get("installedBy", "")),
        installTime=str(marker.get("installTime", "")),
        durationSeconds=marker.get("durationSeconds", 0),
        pythonVersion=str(marker.get("pythonVersion", "")),
        attempts=marker.get("attempts", 0),
        warnings=[str(item) for item in marker.get("warnings", [])],
    )


def encode_result(document: dict) -> str:
    """Compact ASCII JSON on one line, cut to stay under the termination message limit (newline included)."""

    def encoded(doc: dict) -> str:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=True)

    limit = MAX_RESULT_BYTES - 1
    doc = dict(document)
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
        self.fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o644)

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


class Installer:
    def __init__(self, cfg: Config, env: dict[str, str], pod: str, scrub: Scrubber, started: float) -> None:
        self.cfg = cfg
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
        marker = read_marker(layout)
        if marker is not None:
            return self.reuse(marker)
        for directory in (layout.root, layout.envs, layout.staging, layout.pip_cache):
            os.makedirs(directory, exist_ok=True)
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
            if os.path.exists(self.layout.marker):
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
        # is one whose marker was never written.
        empty_directory(layout.staging)
        remove_path(layout.hash_dir)
        work = os.path.join(layout.staging, "%s.%d" % (cfg.hash, os.getpid()))
        index = redact_userinfo(cfg.index_url) if cfg.index_url else "the default index"
        credentials = " with credentials" if cfg.has_credentials else ""
        say("installing %d requirement(s) for %s from %s%s" % (len(cfg.requirements), cfg.hash, index, credentials))
        if importlib.util.find_spec("pip") is None:
            raise Failure("pip_unavailable", "%s has no pip module, so this image cannot install packages" % sys.executable)
        try:
            os.makedirs(work)
            requirements_file = os.path.join(work, "requirements.txt")
            with open(requirements_file, "w", encoding="utf-8") as handle:
                handle.write("\n".join(cfg.requirements) + "\n")
            site, warnings = self.pip_with_retries(work, requirements_file)
            installed = installed_distributions(site)
            duration = round(time.monotonic() - self.install_started, 3)
            finished = time.time()
            self.publish(site, installed, warnings, duration, finished)
        finally:
            remove_path(work)
            self.prune_cache()
        say("installed %d distribution(s) in %.1fs: %s" % (len(installed), duration, ", ".join(installed)))
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
        )

    def pip_with_retries(self, work: str, requirements_file: str) -> tuple[str, list[str]]:
        cfg = self.cfg
        total = cfg.retries + 1
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise Failure("timeout", "deadline reached before attempt %d" % (self.attempts + 1))
            self.attempts += 1
            site = os.path.join(work, "site")
            tmp = os.path.join(work, "tmp")
            remove_path(site)
            remove_path(tmp)
            os.makedirs(site)
            os.makedirs(tmp)
            say("attempt %d/%d: pip install" % (self.attempts, total))
            paths = {"work": work, "site": site, "requirements": requirements_file, "cache": self.layout.pip_cache}
            limit = min(cfg.timeout, remaining)
            run = run_pip(cfg, paths, pip_environment(self.env, tmp), limit, self.scrub)
            if run.returncode == 0 and not run.timed_out:
                return site, pip_warnings(run.console)
            error_type, evidence = classify_pip_failure(run.console + run.diagnostics, run.timed_out)
            if run.timed_out:
                evidence = "pip did not finish within %.0fs and was stopped" % limit
            message = shorten(self.scrub(evidence.replace(requirements_file, "requirements.txt")), MAX_ERROR_CHARS)
            pause = backoff_seconds(self.attempts)
            if error_type not in RETRYABLE or self.attempts >= total:
                raise Failure(error_type, message)
            if time.monotonic() + pause + 1 >= self.deadline:
                raise Failure(error_type, message + " (no time left for another attempt)")
            say("attempt %d failed (%s): %s; retrying in %.1fs" % (self.attempts, error_type, message, pause))
            time.sleep(pause)

    def publish(self, site: str, installed: list[str], warnings: list[str], duration: float, finished: float) -> None:
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
        }
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
        """Keeps the current hash and the most recently installed ones before it; removes everything else."""
        layout = self.layout
        installs = []
        for name in os.listdir(layout.root):
            if name.startswith(MARKER_PREFIX) and HASH_RE.fullmatch(name[len(MARKER_PREFIX) :]):
                try:
                    installs.append((os.stat(os.path.join(layout.root, name)).st_mtime_ns, name[len(MARKER_PREFIX) :]))
                except FileNotFoundError:
                    continue
        previous = [h for _, h in sorted(installs, reverse=True) if h != layout.hash]
        keep = set([layout.hash] + previous[:PREVIOUS_HASHES_KEPT])
        for old in previous[PREVIOUS_HASHES_KEPT:]:
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
            limit = min(CACHE_MAX_BYTES, volume.f_blocks * volume.f_frsize // CACHE_VOLUME_SHARE)
            prune_directory(self.layout.pip_cache, limit)
        except OSError as exc:
            say("could not prune the pip cache: %s" % exc)


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


def write_termination_log(path: str, line: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        print("kasprop: could not write the result to %s: %s" % (path, exc), file=sys.stderr, flush=True)


def main() -> int:
    started = time.monotonic()
    signal.signal(signal.SIGTERM, on_terminate)
    sys.stdout.reconfigure(line_buffering=True, errors="backslashreplace")
    env = dict(os.environ)
    pod = env.get("KASPR_PACKAGES_POD_NAME") or socket.gethostname()
    on_failure = "allow" if env.get("KASPR_PACKAGES_ON_FAILURE") == "allow" else "block"
    termination_log = env.get("KASPR_PACKAGES_TERMINATION_LOG") or DEFAULT_TERMINATION_LOG
    given_hash = env.get("KASPR_PACKAGES_HASH", "")
    scrub = Scrubber(env.get("KASPR_PACKAGES_INDEX_USERNAME", ""), env.get("KASPR_PACKAGES_INDEX_PASSWORD", ""))
    installer = None
    result = None
    try:
        cfg = Config(env)
        installer = Installer(cfg, env, pod, scrub, started)
        result = installer.run()
    except Failure as failure:
        result = failed(failure.error_type, failure.message)
    except (Terminated, KeyboardInterrupt):
        result = failed("unknown", "the installer was stopped by a signal")
    except OSError as exc:
        disk = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        result = failed("disk_full" if disk else "unknown", scrub(str(exc)))
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


def failed(error_type: str, message: str) -> dict:
    return result_document(state="Failed", errorType=error_type, error=message)


if __name__ == "__main__":
    sys.exit(main())
