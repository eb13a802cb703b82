// Runs every bench/*.bench.ts in sequence, each in a process of its own so that one bench's servers, caches or heap
// cannot colour another's figures. `npm run bench -- installer` runs only the files whose name contains "installer".
// Benchmarks print figures; they do not assert.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const directory = fileURLToPath(new URL('.', import.meta.url));
const filter = process.argv[2] ?? '';
const benches = readdirSync(directory)
  .filter((name) => name.endsWith('.bench.ts') && name.includes(filter))
  .sort();

const failed: string[] = [];
for (const bench of benches) {
  console.log(`\n== ${bench}`);
  const run = spawnSync(process.execPath, [join(directory, bench)], { stdio: 'inherit' });
  if (run.status !== 0) failed.push(bench);
}
if (benches.length === 0) console.log(`no bench/*.bench.ts matches "${filter}"`);
if (failed.length > 0) {
  console.error(`\nbenches that did not finish: ${failed.join(', ')}`);
  process.exitCode = 1;
}
