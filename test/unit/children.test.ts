// One list of children (model/children.ts): `kasprop render` prints exactly what the reconciler's steps apply for the
// same app, and the types the operator watches are the types of those steps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { validateKasprApp } from '../../src/api/validation.ts';
import { renderCommand } from '../../src/cli/render.ts';
import { childTypes } from '../../src/controller/cluster-view.ts';
import { decidePackagesVolume, type PackagesVolumeDecision } from '../../src/controller/packages-volume.ts';
import { childSteps } from '../../src/controller/steps.ts';
import { resolveApp } from '../../src/model/app-model.ts';
import { childDeclarations } from '../../src/model/children.ts';
import { defaultOperatorSettings } from '../../src/model/operator-settings.ts';
import { exampleFiles } from '../../scripts/gen-golden.ts';

/** What `kasprop render -f <file> -o json` prints, as objects. */
function rendered(file: string): unknown[] {
  const out: string[] = [];
  const code = renderCommand([file], process.cwd(), 'json', defaultOperatorSettings, {
    out: (l) => out.push(l),
    err: () => undefined,
  });
  assert.equal(code, 0);
  return (JSON.parse(out.join('\n')) as { items: unknown[] }).items;
}

/** What the reconciler's steps apply for the apps of `file` on an empty cluster (no live child, no claim yet). */
function applied(file: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => doc.toJS() as { kind?: string });
  return documents.flatMap((document) => {
    if (document.kind !== 'KasprApp') return [];
    const validation = validateKasprApp(document);
    assert.ok(validation.ok);
    const model = resolveApp(validation.valid, defaultOperatorSettings);
    // As the reconciler decides it (reconciler.ts), with no claim and no claim event in the cache.
    const packagesVolume: PackagesVolumeDecision = model.packages
      ? decidePackagesVolume(model.packages, undefined, [])
      : { source: 'claim', cacheMode: 'shared', warnings: [] };
    return childSteps.flatMap((step) => {
      const desired = step.desired({ model, packagesVolume, live: undefined });
      if (desired.object !== null) {
        assert.equal(desired.object.metadata?.name, step.childName(model.names), `${step.name} builds its child`);
        assert.equal(desired.object.kind, step.type.kind, step.name);
        assert.equal(desired.object.apiVersion, step.type.apiVersion, step.name);
      }
      return desired.object === null ? [] : [desired.object];
    });
  });
}

describe('one list of children', () => {
  for (const example of exampleFiles()) {
    const name = example.slice(example.indexOf('examples/'));
    test(`kasprop render -f ${name} prints exactly what the reconciler's steps apply, in their order`, () => {
      assert.deepEqual(rendered(example), applied(example));
    });
  }

  test('one step per declared child, in the declared order; the watched types are theirs', () => {
    assert.deepEqual(
      childSteps.map((s) => s.name),
      childDeclarations.map((d) => d.id),
    );
    assert.deepEqual(
      childTypes.map((t) => t.kind),
      [...new Set(childDeclarations.map((d) => d.kind))],
    );
  });
});
