// Renders every example to test/golden/ (`npm run gen:golden`); test/unit/golden.test.ts fails when the rendering
// changes until the goldens are regenerated and the diff reviewed. The installer's constant bootstrap and program
// appear as their digests: they have their own tests, and a change to them still changes the golden.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { formatYaml, renderCommand } from '../src/cli/render.ts';
import type { DesiredObject } from '../src/model/children.ts';
import { defaultOperatorSettings } from '../src/model/operator-settings.ts';
import { INSTALLER_BOOTSTRAP, INSTALLER_PROGRAM } from '../src/packages/installer-source.generated.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const goldenDir = join(root, 'test', 'golden');

export function exampleFiles(dir = join(root, 'examples')): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? exampleFiles(join(dir, entry.name))
        : entry.name.endsWith('.yaml')
          ? [join(dir, entry.name)]
          : [],
    )
    .sort();
}

export const goldenPathFor = (example: string): string =>
  join(goldenDir, relative(join(root, 'examples'), example).replaceAll('/', '__'));

const digest = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** What `kasprop render -f <example>` prints, with the installer's constant sources as digests. */
export function renderGolden(example: string): string {
  const out: string[] = [];
  const errors: string[] = [];
  const code = renderCommand([example], root, 'json', defaultOperatorSettings, {
    out: (l) => out.push(l),
    err: (l) => errors.push(l),
  });
  if (code !== 0) throw new Error(`${example} does not render: ${errors.join('; ')}`);
  const children = (JSON.parse(out.join('\n')) as { items: DesiredObject[] }).items;
  const constants = new Map([
    [INSTALLER_BOOTSTRAP, `<installer bootstrap sha256:${digest(INSTALLER_BOOTSTRAP)}>`],
    [INSTALLER_PROGRAM, `<installer program sha256:${digest(INSTALLER_PROGRAM)}>`],
  ]);
  const abbreviated = JSON.parse(
    JSON.stringify(children, (_key, value: unknown) =>
      typeof value === 'string' ? (constants.get(value) ?? value) : value,
    ),
  ) as DesiredObject[];
  return `${formatYaml(abbreviated, true)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(goldenDir, { recursive: true });
  for (const example of exampleFiles()) {
    writeFileSync(goldenPathFor(example), renderGolden(example));
    console.log(`wrote ${relative(root, goldenPathFor(example))}`);
  }
}
