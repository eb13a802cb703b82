// The images a real node runs, built without a daemon or registry by tools/images/build.sh (cached there) and
// imported into the node's containerd when it starts.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runBuildScript } from './controlplane.ts';
import type { Image } from './node.ts';

/** Set by run-tests.ts for the test runner: the build's directory, so no test process builds again. */
export const imagesDirEnv = 'KASPROP_IMAGES_DIR';
const buildScript = resolve(import.meta.dirname, '../../tools/images/build.sh');

/** The pause image every pod's sandbox runs: the node's containerd is told its name. */
export const sandboxImage = 'kasprop.test/pause:3.10';
/** The stand-in for the Kaspr app image (Debian's python3 and pip), under the name test manifests use (kasprApp()). */
export const appImage = 'kasprop.test/python:3';
/** The same without pip, for the installer's `pip_missing`-style failures. */
export const appImageWithoutPip = 'kasprop.test/python-nopip:3';
/** The operator's image, as deploy/ names it. */
export const operatorImage = 'docker.io/library/kasprop:0.1.0';

export async function buildImages(log: (line: string) => void): Promise<string> {
  return runBuildScript(buildScript, 'images build', log);
}

export function loadImages(dir: string): Image[] {
  return JSON.parse(readFileSync(join(dir, 'images.json'), 'utf8')) as Image[];
}
