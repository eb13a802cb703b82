// Writes deploy/crd.yaml (`npm run gen:deploy`): kustomize loads only files inside the kustomization's directory
// (unless told --load-restrictor=LoadRestrictionsNone), so deploy/ keeps a copy of crds/kasprapp.crd.yaml.
// test/unit/deploy.test.ts fails when the copy drifts from the source, until this is run again.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdText } from '../src/api/crd.ts';

export const deployCrdPath = fileURLToPath(new URL('../deploy/crd.yaml', import.meta.url));

const header =
  '# GENERATED from crds/kasprapp.crd.yaml by `npm run gen:deploy`: edit the source, not this copy. kustomize loads\n' +
  '# only files inside deploy/, hence the copy; test/unit/deploy.test.ts fails when the two differ.\n';

/** What deploy/crd.yaml must contain: the header, then the source CRD byte for byte. */
export function deployCrdText(): string {
  return header + crdText;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(deployCrdPath, deployCrdText());
  console.log('wrote deploy/crd.yaml');
}
