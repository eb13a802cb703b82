// The locked set of spec.pythonPackages.packagesWithHashes: every distribution pinned to one version with the digests
// of the files pip may pick. Each entry becomes one line of the installer's KASPR_PACKAGES_LOCKED variable,
// `name==version sha256:<hex> ...`, which the installer checks again and turns into pip's `--hash=` requirement lines
// itself: the user's strings never become pip options. The same canonical lines go into the spec hash.
import { parseRequirement, type Requirement } from './requirement.ts';

export const hashAlgorithms = ['sha256', 'sha384', 'sha512'] as const;
export type HashAlgorithm = (typeof hashAlgorithms)[number];

/** Hex digits of each algorithm's digest. */
export const digestHexLength: Readonly<Record<HashAlgorithm, number>> = { sha256: 64, sha384: 96, sha512: 128 };

// PEP 508's name rule; anything else would let the version field carry more than a version.
const projectNamePattern = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

export interface LockedHash {
  readonly algorithm: HashAlgorithm;
  readonly digest: string;
}

export interface LockedPackage {
  readonly name: string;
  readonly version: string;
  readonly hashes: readonly LockedHash[];
}

/** A problem with one entry, at a path relative to the entry (e.g. `['hashes', 2, 'digest']`). */
export interface LockedPackageProblem {
  readonly at: readonly (string | number)[];
  readonly message: string;
}

export type LockedPackageResult =
  | { readonly ok: true; readonly project: string; readonly line: string }
  | { readonly ok: false; readonly problems: readonly LockedPackageProblem[] };

/**
 * Checks one entry and gives its canonical line: the pin as requirement.ts canonicalizes `name==version`, then the
 * digests as `algorithm:hex`, lower case, sorted and without repeats (their order and case change nothing pip checks).
 */
export function lockedPackage(entry: LockedPackage): LockedPackageResult {
  const problems: LockedPackageProblem[] = [];
  const pin = parseRequirement(`${entry.name}==${entry.version}`);
  if (!projectNamePattern.test(entry.name)) {
    problems.push({ at: ['name'], message: "must be a project name (letters and digits, '.', '_' and '-' inside)" });
  } else if (!pin.ok || !isPlainPin(pin.requirement)) {
    problems.push({ at: ['version'], message: 'must be one exact PEP 440 version, such as 2.31.0' });
  }
  const digests = new Set<string>();
  entry.hashes.forEach((hash, index) => {
    const length = digestHexLength[hash.algorithm];
    const digest = hash.digest.toLowerCase();
    if (!/^[0-9a-f]*$/.test(digest) || digest.length !== length) {
      problems.push({
        at: ['hashes', index, 'digest'],
        message: `must be the ${String(length)} hex digits of a ${hash.algorithm} digest`,
      });
    }
    digests.add(`${hash.algorithm}:${digest}`);
  });
  if (problems.length > 0 || !pin.ok) return { ok: false, problems };
  return {
    ok: true,
    project: pin.requirement.project,
    line: [pin.requirement.canonical, ...[...digests].sort()].join(' '),
  };
}

// `1.0; sys_platform == "x"` or `1.0,<2` would parse as a requirement too: a version is one `==` and nothing else.
const isPlainPin = (requirement: Requirement): boolean =>
  requirement.specifiers.length === 1 &&
  requirement.specifiers[0]?.operator === '==' &&
  !requirement.specifiers[0].version.includes('*') &&
  requirement.marker === undefined &&
  requirement.url === undefined &&
  requirement.extras.length === 0;

/** The canonical lines of a validated lock, in the spec's order; an invalid entry is a programming error here. */
export function lockedLines(entries: readonly LockedPackage[]): string[] {
  return entries.map((entry) => {
    const result = lockedPackage(entry);
    if (!result.ok) throw new Error(`packagesWithHashes entry ${entry.name} was not validated`);
    return result.line;
  });
}
