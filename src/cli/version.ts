// The version `kasprop --version` prints: package.json's, found upwards from this module, so it is right from the
// sources (src/cli/), from the build (dist/src/cli/), in the image and in an npm install alike.
import { readFileSync } from 'node:fs';

export function packageVersion(from: URL = new URL('.', import.meta.url)): string {
  for (let dir = from; ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kasprop' && typeof pkg.version === 'string') return pkg.version;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (dir.pathname === '/') throw new Error(`no package.json of kasprop above ${from.pathname}`);
  }
}
