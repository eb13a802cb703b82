// The one corpus of untrusted inputs that validation and the installer are both tested against (see the JSON's
// `about`), typed.
import { readFileSync } from 'node:fs';

export interface CorpusEntry {
  readonly input: string;
  /** The verdict both validation and the installer must give. */
  readonly accept: boolean;
  readonly why: string;
}

export interface UntrustedInputs {
  readonly requirements: readonly CorpusEntry[];
  readonly indexUrls: readonly CorpusEntry[];
  readonly trustedHosts: readonly CorpusEntry[];
}

export const untrustedInputs = JSON.parse(
  readFileSync(new URL('untrusted-inputs.json', import.meta.url), 'utf8'),
) as UntrustedInputs;
