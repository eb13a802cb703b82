// uv for the installer's tests and benchmarks: the wheel of the version the installer pins (UV_VERSION), fetched once
// with pip while the network is there (run-tests.ts calls fetchUv before it enters its network namespace) and cached
// outside the clone, keyed by version. Its digest must be one installer.py pins. The wheel is also what the test
// index serves when a test makes the installer put uv on the volume itself.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UV_VERSION } from '../../src/packages/installer-contract.ts';
import { INSTALLER_PROGRAM } from '../../src/packages/installer-source.generated.ts';
import type { BuiltWheel } from './wheels.ts';

export interface CachedUv {
  /** A directory holding the `uv` binary only, to put on an installer's PATH as an image's uv. */
  readonly binDir: string;
  /** The wheel, for a test index to serve. */
  readonly wheel: BuiltWheel;
}

// Where tools/ caches its builds (tools/images/README.md), so one setting moves them all.
const cacheRoot =
  process.env.KASPROP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kasprop');
const cacheDir = join(cacheRoot, 'uv', UV_VERSION);

/** The digests installer.py accepts for uv's wheels (UV_WHEEL_DIGESTS). */
export function pinnedUvDigests(): string[] {
  const block = /UV_WHEEL_DIGESTS = \(([^)]*)\)/.exec(INSTALLER_PROGRAM)?.[1] ?? '';
  return [...block.matchAll(/"([0-9a-f]{64})"/g)].map((m) => m[1]!);
}

/** The cached uv, fetched first when missing (needs the network: run-tests.ts does it before the namespace). */
export function fetchUv(log: (line: string) => void = () => {}): CachedUv {
  const binary = join(cacheDir, 'bin', 'uv');
  if (!existsSync(binary)) {
    log(`fetching uv ${UV_VERSION} into ${cacheDir}`);
    const partial = `${cacheDir}.partial-${String(process.pid)}`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(join(partial, 'bin'), { recursive: true });
    execFileSync(
      'python3',
      ['-m', 'pip', 'download', `uv==${UV_VERSION}`, '--only-binary', ':all:', '--no-deps', '-d', partial, '-q'],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PIP_FIND_LINKS: '' } },
    );
    const extract = [
      'import os, sys, zipfile',
      'wheel, target = sys.argv[1], sys.argv[2]',
      'name = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".data/scripts/uv"))',
      'open(target, "wb").write(zipfile.ZipFile(wheel).read(name))',
      'os.chmod(target, 0o755)',
    ].join('\n');
    execFileSync('python3', ['-c', extract, join(partial, wheelName(partial)), join(partial, 'bin', 'uv')]);
    mkdirSync(join(cacheDir, '..'), { recursive: true });
    rmSync(cacheDir, { recursive: true, force: true });
    renameSync(partial, cacheDir);
  }
  const filename = wheelName(cacheDir);
  const bytes = readFileSync(join(cacheDir, filename));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (!pinnedUvDigests().includes(sha256)) {
    throw new Error(`${join(cacheDir, filename)} has sha256 ${sha256}, not one installer.py pins; remove ${cacheDir}`);
  }
  return { binDir: join(cacheDir, 'bin'), wheel: { project: 'uv', filename, bytes, sha256 } };
}

function wheelName(dir: string): string {
  const found = readdirSync(dir).find((name) => name.startsWith(`uv-${UV_VERSION}-`) && name.endsWith('.whl'));
  if (found === undefined) throw new Error(`no uv ${UV_VERSION} wheel in ${dir}`);
  return found;
}
