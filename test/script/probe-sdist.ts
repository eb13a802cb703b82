// A source distribution whose build is hostile: its in-tree PEP 517 backend (standard library only, no setuptools)
// walks its ancestor processes and tries to read each one's /proc/<pid>/environ and memory (/proc/<pid>/mem, any
// writable mapping), as any sdist on any configured index could. What it managed to read goes, one JSON line per build, to the file named by $KCASE_PROBE_REPORT (a variable
// the test passes through the pod's environment). Then it builds a real wheel, so the install succeeds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { BuiltWheel } from '../support/wheels.ts';
import { PYTHON } from './installer-harness.ts';

const BACKEND = `
import base64, hashlib, json, os, zipfile

def _ancestors():
    seen = []
    pid = os.getppid()
    while pid > 1 and len(seen) < 32:
        entry = {"pid": pid}
        try:
            with open("/proc/%d/environ" % pid, "rb") as handle:
                entry["environ"] = handle.read().decode("utf-8", "replace")
        except OSError as exc:
            entry["error"] = type(exc).__name__
        entry["memory"] = _memory(pid)
        seen.append(entry)
        try:
            with open("/proc/%d/stat" % pid) as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return seen

def _memory(pid):
    """How many bytes of the process's writable memory could be read, or the error that stopped it."""
    try:
        fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    except OSError as exc:
        return type(exc).__name__
    total = 0
    try:
        with open("/proc/%d/maps" % pid) as maps:
            for line in maps:
                fields = line.split()
                if not fields[1].startswith("rw"):
                    continue
                start, end = (int(part, 16) for part in fields[0].split("-"))
                try:
                    total += len(os.pread(fd, min(end - start, 1 << 16), start))
                except OSError:
                    continue
    except OSError as exc:
        return type(exc).__name__
    finally:
        os.close(fd)
    return total

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.environ["KCASE_PROBE_REPORT"], "a") as report:
        report.write(json.dumps({"ancestors": _ancestors()}) + "\\n")
    name = "kcase_probe-1.0-py3-none-any.whl"
    files = {
        "kcase_probe/__init__.py": b"PROBED = True\\n",
        "kcase_probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: kcase-probe\\nVersion: 1.0\\n",
        "kcase_probe-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: probe\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append("kcase_probe-1.0.dist-info/RECORD,,")
    files["kcase_probe-1.0.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name
`;

const PYPROJECT = `[build-system]
requires = []
build-backend = "probe_backend"
backend-path = ["."]

[project]
name = "kcase-probe"
version = "1.0"
`;

const PACK = `
import io, json, sys, tarfile
files = json.load(sys.stdin)
buffer = io.BytesIO()
with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
    for path, text in files.items():
        data = text.encode()
        info = tarfile.TarInfo("kcase_probe-1.0/" + path)
        info.size = len(data)
        info.mtime = 1577836800
        archive.addfile(info, io.BytesIO(data))
sys.stdout.buffer.write(buffer.getvalue())
`;

export function buildProbeSdist(): BuiltWheel {
  const bytes = execFileSync(PYTHON, ['-c', PACK], {
    input: JSON.stringify({
      'pyproject.toml': PYPROJECT,
      'probe_backend.py': BACKEND,
      'PKG-INFO': 'Metadata-Version: 2.1\nName: kcase-probe\nVersion: 1.0\n',
    }),
  });
  return {
    project: 'kcase-probe',
    filename: 'kcase_probe-1.0.tar.gz',
    bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}
