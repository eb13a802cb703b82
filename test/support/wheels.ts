// Builds valid pure-Python wheels in memory, so the tests need no network, no build backend and no fixture files.
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export interface WheelRelease {
  readonly version: string;
  /** Requires-Dist lines, e.g. `kaspr-demo-b>=1`. */
  readonly requires?: readonly string[];
  /** Size of an incompressible data file shipped in the package, for filling a volume. */
  readonly payloadBytes?: number;
}

export interface WheelProject {
  readonly name: string;
  readonly releases: readonly WheelRelease[];
}

export interface BuiltWheel {
  /** PEP 503 normalized project name, as it appears in `/simple/<project>/`. */
  readonly project: string;
  readonly filename: string;
  readonly bytes: Buffer;
  readonly sha256: string;
}

/**
 * The demo catalogue: `kaspr-demo-a` depends on `kaspr-demo-b` (2.0 needs b 2.0, so an upgrade of a moves b too),
 * `kaspr-demo-c` stands alone, `kaspr-demo-big` carries 1 MiB for disk-full scenarios. Each package exposes
 * `__version__` and a submodule `release` with `VERSION`, so a test can import something new from an old directory.
 */
export const DEMO_PROJECTS: readonly WheelProject[] = [
  {
    name: 'kaspr-demo-a',
    releases: [
      { version: '1.0', requires: ['kaspr-demo-b>=1'] },
      { version: '2.0', requires: ['kaspr-demo-b>=2'] },
    ],
  },
  { name: 'kaspr-demo-b', releases: [{ version: '1.0' }, { version: '2.0' }] },
  { name: 'kaspr-demo-c', releases: [{ version: '1.0' }] },
  { name: 'kaspr-demo-big', releases: [{ version: '1.0', payloadBytes: 1024 * 1024 }] },
];

export function normalizeProjectName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

const built = new Map<string, BuiltWheel>();

/** Wheels are built once per process and reused: generating the 1 MiB payload for every index would be waste. */
export function buildWheels(projects: readonly WheelProject[]): BuiltWheel[] {
  return projects.flatMap((project) =>
    project.releases.map((release) => {
      const key = JSON.stringify([project.name, release]);
      let wheel = built.get(key);
      if (wheel === undefined) {
        wheel = buildWheel(project.name, release);
        built.set(key, wheel);
      }
      return wheel;
    }),
  );
}

export function buildWheel(name: string, release: WheelRelease): BuiltWheel {
  const module = normalizeProjectName(name).replace(/-/g, '_');
  const distInfo = `${module}-${release.version}.dist-info`;
  const files: [string, Buffer][] = [
    [`${module}/__init__.py`, Buffer.from(`__version__ = ${JSON.stringify(release.version)}\n`)],
    [`${module}/release.py`, Buffer.from(`VERSION = ${JSON.stringify(release.version)}\n`)],
  ];
  if (release.payloadBytes !== undefined) files.push([`${module}/payload.bin`, randomBytes(release.payloadBytes)]);
  const metadata = [
    'Metadata-Version: 2.1',
    `Name: ${name}`,
    `Version: ${release.version}`,
    'Summary: kasprop test package',
    ...(release.requires ?? []).map((requirement) => `Requires-Dist: ${requirement}`),
    '',
  ].join('\n');
  files.push([`${distInfo}/METADATA`, Buffer.from(metadata)]);
  files.push([
    `${distInfo}/WHEEL`,
    Buffer.from('Wheel-Version: 1.0\nGenerator: kasprop-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n'),
  ]);
  files.push([`${distInfo}/top_level.txt`, Buffer.from(`${module}\n`)]);
  const record = files.map(([path, data]) => `${path},sha256=${recordDigest(data)},${data.length}`);
  record.push(`${distInfo}/RECORD,,`);
  files.push([`${distInfo}/RECORD`, Buffer.from(record.join('\n') + '\n')]);
  const bytes = zip(files);
  return {
    project: normalizeProjectName(name),
    filename: `${module}-${release.version}-py3-none-any.whl`,
    bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

function recordDigest(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64url');
}

// A minimal stored (uncompressed) zip: enough for Python's zipfile, which is what pip reads wheels with.
// A fixed timestamp (2020-01-01 00:00) keeps wheels byte-identical between runs.
const DOS_TIME = 0;
const DOS_DATE = ((2020 - 1980) << 9) | (1 << 5) | 1;
const REGULAR_FILE_0644 = 0o100644 * 0x10000;

function zip(files: readonly (readonly [string, Buffer])[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [path, data] of files) {
    const name = Buffer.from(path, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(REGULAR_FILE_0644, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
