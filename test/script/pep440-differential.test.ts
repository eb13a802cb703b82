// Our requirement parser and PEP 440 normalizer against the `packaging` library that pip vendors
// (pip._vendor.packaging, run by the machine's python3), over the shared corpus test/corpus/pep440.ts: the same
// versions are valid and normalize to the same string; a requirement we accept means the same to pip (project,
// extras, specifiers with normalized versions, URL, marker); one pip refuses we refuse, and what we refuse although
// pip accepts is listed, with the reason, in the corpus.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { normalizeVersion } from '../../src/packages/pep440.ts';
import { parseRequirement } from '../../src/packages/requirement.ts';
import { refusedOnPurpose, requirements, versions } from '../corpus/pep440.ts';

interface PipRequirement {
  readonly project: string;
  readonly extras: string[];
  readonly specifiers: [operator: string, version: string][];
  readonly url: string | null;
  readonly marker: string | null;
}

// Legacy (non-PEP 440) specifiers, which this packaging still parses, count as refused: pip 24.1 and later refuse them.
const pipProgram = String.raw`
import json, sys
from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
from pip._vendor.packaging.specifiers import Specifier
from pip._vendor.packaging.utils import canonicalize_name
from pip._vendor.packaging.version import InvalidVersion, Version

def version(text):
    try:
        return str(Version(text))
    except InvalidVersion:
        return None

def specifier_version(spec):
    if spec.operator == "===":
        return spec.version.lower()
    if spec.version.endswith(".*"):
        return str(Version(spec.version[:-2])) + ".*"
    return str(Version(spec.version))

def requirement(text):
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    if any(not isinstance(spec, Specifier) for spec in req.specifier):
        return None
    return {
        "project": canonicalize_name(req.name),
        "extras": sorted(canonicalize_name(e) for e in req.extras),
        "specifiers": sorted([s.operator, specifier_version(s)] for s in req.specifier),
        "url": req.url,
        "marker": None if req.marker is None else str(req.marker),
    }

inputs = json.load(sys.stdin)
json.dump({"versions": [version(v) for v in inputs["versions"]],
           "requirements": [requirement(r) for r in inputs["requirements"]]}, sys.stdout)
`;

function askPip(input: { versions: readonly string[]; requirements: readonly string[] }): {
  versions: (string | null)[];
  requirements: (PipRequirement | null)[];
} {
  const run = spawnSync('python3', ['-c', pipProgram], { input: JSON.stringify(input), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as ReturnType<typeof askPip>;
}

const pip = askPip({ versions, requirements: [...requirements, ...refusedOnPurpose] });

describe("PEP 440 and PEP 508 as pip's packaging reads them", () => {
  test(`${versions.length} versions: the same ones valid, normalized to the same string`, () => {
    const differences = versions.flatMap((version, index) => {
      const ours = normalizeVersion(version) ?? null;
      const theirs = pip.versions[index];
      return ours === theirs ? [] : [`${JSON.stringify(version)}: ours ${String(ours)}, pip ${String(theirs)}`];
    });
    assert.deepEqual(differences, []);
    assert.ok(pip.versions.filter((v) => v === null).length >= 10, 'the corpus has invalid versions');
  });

  test(`${requirements.length} requirements: accepted by both with the same meaning, or refused by both`, () => {
    const differences = requirements.flatMap((line, index) => {
      const ours = parseRequirement(line);
      const theirs = pip.requirements[index] ?? null;
      if (!ours.ok) return theirs === null ? [] : [`${JSON.stringify(line)}: we refuse (${ours.reason}), pip accepts`];
      if (theirs === null) return [`${JSON.stringify(line)}: we accept, pip refuses`];
      const { requirement } = ours;
      const meaning: PipRequirement = {
        project: requirement.project,
        extras: [...requirement.extras],
        specifiers: requirement.specifiers
          .map((s): [string, string] => [s.operator, s.version])
          .sort(([a, x], [b, y]) => (a + x < b + y ? -1 : a + x > b + y ? 1 : 0)),
        url: requirement.url ?? null,
        marker: requirement.marker ?? null,
      };
      const sorted = {
        ...theirs,
        specifiers: [...theirs.specifiers].sort((a, b) => (a.join('') < b.join('') ? -1 : 1)),
      };
      return JSON.stringify(meaning) === JSON.stringify(sorted)
        ? []
        : [`${JSON.stringify(line)}: ours ${JSON.stringify(meaning)}, pip ${JSON.stringify(sorted)}`];
    });
    assert.deepEqual(differences, []);
  });

  test(`${refusedOnPurpose.length} requirements pip accepts are refused on purpose`, () => {
    refusedOnPurpose.forEach((line, index) => {
      assert.equal(parseRequirement(line).ok, false, line);
      assert.notEqual(
        pip.requirements[requirements.length + index],
        null,
        `pip refuses ${line} too: not a deliberate case`,
      );
    });
  });
});
