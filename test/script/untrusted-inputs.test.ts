// The installer's verdict on every input of the shared corpus (test/corpus/untrusted-inputs.json), as if validation had
// been bypassed: the same verdict validation gives (test/unit/untrusted-inputs.test.ts). For the requirements it
// accepts, pip's own requirements-file parser must read the project and the marker the operator's parser reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequirement } from '../../src/packages/requirement.ts';
import { untrustedInputs } from '../corpus/untrusted-inputs.ts';
import { callInstaller } from './installer-harness.ts';

const VERDICTS = `
OUTPUT = {}
def verdict(check, value):
    try:
        check(value)
        return None
    except Failure as failure:
        return failure.message
OUTPUT["requirements"] = [verdict(requirement_lines, value) for value in INPUT["requirements"]]
OUTPUT["indexUrls"] = [verdict(lambda v: checked_url(v, "KASPR_PACKAGES_INDEX_URL"), v) for v in INPUT["indexUrls"]]
def trusted(value):
    if not is_trusted_host(value):
        raise Failure("invalid_input", "not host[:port]")
OUTPUT["trustedHosts"] = [verdict(trusted, value) for value in INPUT["trustedHosts"]]
`;

test('the installer gives the corpus verdict on every requirement, index URL and trusted host', () => {
  const input = {
    requirements: untrustedInputs.requirements.map((e) => e.input),
    indexUrls: untrustedInputs.indexUrls.map((e) => e.input),
    trustedHosts: untrustedInputs.trustedHosts.map((e) => e.input),
  };
  const output = callInstaller(VERDICTS, input) as Record<keyof typeof input, (string | null)[]>;
  for (const kind of ['requirements', 'indexUrls', 'trustedHosts'] as const) {
    untrustedInputs[kind].forEach((entry, index) => {
      const refusal = output[kind][index] ?? null;
      assert.equal(refusal === null, entry.accept, `${kind}: ${entry.input} (${entry.why}): ${String(refusal)}`);
    });
  }
});

test('the canonical line of every accepted requirement passes the installer too', () => {
  const canonical = untrustedInputs.requirements
    .filter((entry) => entry.accept)
    .map((entry) => {
      const parsed = parseRequirement(entry.input);
      assert.ok(parsed.ok, entry.input);
      return parsed.requirement.canonical;
    });
  const refusals = callInstaller(
    'OUTPUT = []\nfor line in INPUT:\n    try:\n        requirement_lines(line)\n        OUTPUT.append(None)\n' +
      '    except Failure as failure:\n        OUTPUT.append(failure.message)\n',
    canonical,
  ) as (string | null)[];
  assert.deepEqual(
    refusals,
    canonical.map(() => null),
  );
});

// pip's own reading of a requirements-file line: the project it names and whether it has a marker.
const PIP_READS = `
from pip._internal.req.constructors import install_req_from_line
from pip._vendor.packaging.utils import canonicalize_name
OUTPUT = []
for line in INPUT:
    req = install_req_from_line(line)
    OUTPUT.append([canonicalize_name(req.name), req.markers is not None])
`;

test('pip reads every accepted requirement as the operator does: same project, marker or none', () => {
  const accepted = untrustedInputs.requirements.filter((entry) => entry.accept);
  const lines = accepted.map((entry) => {
    const parsed = parseRequirement(entry.input);
    assert.ok(parsed.ok, entry.input);
    return parsed.requirement;
  });
  const pip = callInstaller(
    PIP_READS,
    lines.map((r) => r.canonical),
  ) as [string, boolean][];
  lines.forEach((requirement, index) => {
    assert.deepEqual(pip[index], [requirement.project, requirement.marker !== undefined], requirement.canonical);
  });
});
