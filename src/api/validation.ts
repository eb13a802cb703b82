// Validation of a KasprApp: the CRD schema (what the apiserver checks) plus the semantic rules it cannot express
// (PEP 508 requirements, URLs, trusted hosts, quantities, cross-field rules). Every problem is reported at once,
// each with its field path and reason, so a user fixes a manifest in one pass.
import { formatPath, checkSpecSchema, closest } from './schema-validation.ts';
import { parseQuantity, quantityGrammarHint } from '../kubernetes/quantity.ts';
import { findKasprVersion, kasprVersions, defaultKasprVersion } from './versions.ts';
import {
  kasprAppApiVersion,
  kasprAppKind,
  type KasprApp,
  type KasprAppSpec,
  type PythonPackagesSpec,
} from './types.ts';
import type { FieldError } from './field-error.ts';
import { kasprAppSchema } from './crd.ts';
import { parseRequirement, type Requirement } from '../packages/requirement.ts';
import { checkTrustedHost, checkUrl } from '../packages/url.ts';
import { validApp, type ParsedPackages, type ValidKasprApp } from './valid-app.ts';
import { hashAlgorithms, lockedPackage, type HashAlgorithm } from '../packages/locked-packages.ts';
import { INSTALLER_ENV_PREFIX, MAX_INSTALLER_ENV_VALUE_BYTES } from '../packages/installer-contract.ts';

export type Validation =
  | { readonly ok: true; readonly valid: ValidKasprApp; readonly warnings: readonly FieldError[] }
  | { readonly ok: false; readonly errors: readonly FieldError[]; readonly warnings: readonly FieldError[] };

// The StatefulSet `<name>-app` must leave room for the controller-revision-hash label (`<sts>-<10 chars>`,
// 63 at most), and Service names must be DNS-1035 labels.
export const maxAppNameLength = 48;

export function validateKasprApp(input: unknown): Validation {
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];
  const error = (segments: readonly (string | number)[], message: string): void => {
    errors.push({ path: formatPath(segments), message });
  };

  if (!isRecord(input)) {
    return { ok: false, errors: [{ path: '(document)', message: 'must be a mapping (a KasprApp object)' }], warnings };
  }
  if (input.apiVersion !== kasprAppApiVersion) error(['apiVersion'], `must be ${kasprAppApiVersion}`);
  if (input.kind !== kasprAppKind) error(['kind'], `must be ${kasprAppKind}`);
  checkMetadata(input.metadata, error);

  let parsed: ParsedPackages = noPackages;
  if (!isRecord(input.spec)) {
    error(['spec'], input.spec === undefined ? 'is required' : 'must be an object');
  } else {
    errors.push(...checkSpecSchema(input.spec));
    parsed = checkSpec(input.spec, error, warnings);
  }

  return errors.length > 0
    ? { ok: false, errors, warnings }
    : { ok: true, valid: validApp(input as unknown as KasprApp, parsed), warnings };
}

type Report = (segments: readonly (string | number)[], message: string) => void;

function checkMetadata(metadata: unknown, error: Report): void {
  if (!isRecord(metadata)) {
    error(['metadata'], 'is required');
    return;
  }
  const name = metadata.name;
  if (typeof name !== 'string' || name === '') {
    error(['metadata', 'name'], 'is required');
  } else if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    error(
      ['metadata', 'name'],
      'must start with a lower-case letter and contain only lower-case letters, digits and - (it names Services)',
    );
  } else if (name.length > maxAppNameLength) {
    error(
      ['metadata', 'name'],
      `must be at most ${maxAppNameLength} characters (child names and labels derive from it)`,
    );
  }
}

const knownSpecFields = Object.keys(kasprAppSchema.properties?.spec?.properties ?? {});

const noPackages: ParsedPackages = { requirements: [], locked: [] };

/** Checks the spec; returns what it parsed of pythonPackages (meaningful only when nothing failed). */
function checkSpec(spec: Record<string, unknown>, error: Report, warnings: FieldError[]): ParsedPackages {
  // The spec keeps unknown fields (manifests of the original operator must still apply), but a near miss of a
  // known name is almost certainly a typo that would silently do nothing.
  for (const field of Object.keys(spec)) {
    if (knownSpecFields.includes(field)) continue;
    const suggestion = closest(field, knownSpecFields);
    warnings.push({
      path: `spec.${field}`,
      message: `unknown field, ignored${suggestion !== undefined ? `; did you mean '${suggestion}'?` : ''}`,
    });
  }
  const typed = spec as Partial<KasprAppSpec>;
  if (typeof typed.image !== 'string' && typeof typed.version === 'string' && !findKasprVersion(typed.version)) {
    error(
      ['spec', 'version'],
      `unknown Kaspr version '${typed.version}'; known: ${kasprVersions.map((v) => v.version).join(', ')} ` +
        `(default ${defaultKasprVersion}), or set spec.image`,
    );
  }
  if (isRecord(typed.storage)) {
    const { type, size } = typed.storage as { type?: unknown; size?: unknown };
    if (type === 'persistent-claim' && size === undefined) {
      error(['spec', 'storage', 'size'], 'is required when type is persistent-claim');
    }
    checkPositiveQuantity(size, ['spec', 'storage', 'size'], error);
  }
  checkRequestsWithinLimits(typed.resources, ['spec', 'resources'], error);
  const parsed = isRecord(typed.pythonPackages) ? checkPythonPackages(typed.pythonPackages, error) : noPackages;
  checkTemplateEnv(typed, error, warnings);
  return parsed;
}

function checkTemplateEnv(spec: Partial<KasprAppSpec>, error: Report, warnings: FieldError[]): void {
  spec.template?.pythonPackagesInitContainer?.env?.forEach((variable, index) => {
    if (typeof variable.name === 'string' && variable.name.startsWith(INSTALLER_ENV_PREFIX)) {
      error(
        ['spec', 'template', 'pythonPackagesInitContainer', 'env', index, 'name'],
        `${INSTALLER_ENV_PREFIX}* variables are the installer's inputs; they come from spec.pythonPackages only`,
      );
    }
  });
  if (spec.pythonPackages === undefined) return;
  spec.template?.kasprContainer?.env?.forEach((variable, index) => {
    if (variable.name === 'PYTHONPATH' && variable.value === undefined) {
      warnings.push({
        path: formatPath(['spec', 'template', 'kasprContainer', 'env', index]),
        message: 'a PYTHONPATH from valueFrom replaces the packages directory: the app will not see its pythonPackages',
      });
    }
  });
}

function checkPythonPackages(packages: Record<string, unknown>, error: Report): ParsedPackages {
  const at = (...rest: (string | number)[]): (string | number)[] => ['spec', 'pythonPackages', ...rest];
  const spec = packages as Partial<PythonPackagesSpec>;
  /** Each parsed requirement with its index in `packages`, where the lock's checks report it. */
  const requirements: { readonly index: number; readonly requirement: Requirement }[] = [];

  // Over maxItems the schema check has said so; thousands of per-entry errors (duplicates) would bury that.
  if (Array.isArray(spec.packages) && spec.packages.length <= maxPackages) {
    const seen = new Map<string, { index: number; requirement: Requirement }>();
    let canonicalBytes = 0;
    spec.packages.forEach((line, index) => {
      if (typeof line !== 'string' || line === '') return; // the schema reported it
      const parsed = parseRequirement(line);
      if (!parsed.ok) {
        error(at('packages', index), printable(`invalid requirement ${JSON.stringify(line)}: ${parsed.reason}`));
        return;
      }
      const { requirement } = parsed;
      requirements.push({ index, requirement });
      canonicalBytes += Buffer.byteLength(requirement.canonical) + 1;
      const earlier = seen.get(requirement.project);
      // Two entries for one project are a mistake unless each applies to a different environment (markers).
      const markersSplit =
        earlier?.requirement.marker !== undefined &&
        requirement.marker !== undefined &&
        earlier.requirement.marker !== requirement.marker;
      if (earlier && !markersSplit) {
        error(
          at('packages', index),
          `duplicate requirement for project '${requirement.project}' (also packages[${earlier.index}]); ` +
            'combine the version specifiers into one entry',
        );
      } else if (!earlier) {
        seen.set(requirement.project, { index, requirement });
      }
    });
    checkEnvValueSize(canonicalBytes, at('packages'), 'the requirements', error);
  }

  const locked = checkLock(spec, requirements, at, error);
  checkBundle(spec, at, error);

  if (typeof spec.indexUrl === 'string') {
    const problem = checkUrl(spec.indexUrl, 'index');
    if (problem !== undefined) error(at('indexUrl'), `URL ${problem}`);
  }
  if (typeof spec.indexUrl === 'string') checkEnvValueSize(spec.indexUrl.length, at('indexUrl'), 'the URL', error);
  spec.extraIndexUrls?.forEach((url, index) => {
    if (typeof url !== 'string') return;
    const problem = checkUrl(url, 'index');
    if (problem !== undefined) error(at('extraIndexUrls', index), `URL ${problem}`);
    // pip sends the credentials to every URL of indexUrl's scheme, host and port once it has used them there.
    else if (spec.credentials !== undefined && typeof spec.indexUrl === 'string' && sameOrigin(url, spec.indexUrl)) {
      error(
        at('extraIndexUrls', index),
        "is on indexUrl's scheme, host and port, so pip would send it indexUrl's credentials; " +
          'use one index that serves both, or an extra index on another host or port',
      );
    }
  });
  if (Array.isArray(spec.extraIndexUrls)) {
    checkEnvValueSize(joinedBytes(spec.extraIndexUrls), at('extraIndexUrls'), 'the URLs', error);
  }
  spec.trustedHosts?.forEach((host, index) => {
    if (typeof host !== 'string') return;
    const problem = checkTrustedHost(host);
    if (problem !== undefined) error(at('trustedHosts', index), problem);
  });
  if (Array.isArray(spec.trustedHosts)) {
    checkEnvValueSize(joinedBytes(spec.trustedHosts), at('trustedHosts'), 'the hosts', error);
  }
  if (spec.credentials !== undefined && spec.indexUrl === undefined) {
    error(at('credentials'), 'requires indexUrl: the credentials are only ever sent to indexUrl');
  }
  if (isRecord(spec.credentials) && isRecord(spec.credentials.secretRef)) {
    checkSecretRef(spec.credentials.secretRef, at('credentials', 'secretRef'), error);
  }
  if (isRecord(spec.cache)) checkPositiveQuantity(spec.cache.size, at('cache', 'size'), error);
  checkRequestsWithinLimits(spec.resources, at('resources'), error);
  return { requirements: requirements.map((r) => r.requirement), locked };
}

/**
 * packagesWithHashes (each entry, and the lock as a whole), requireHashes, and how `packages` must agree with a lock:
 * with one, pip installs the locked set in hash-checking mode and reads `packages` as constraints only. Returns the
 * canonical line of each entry (packages/locked-packages.ts), in the spec's order; meaningful only when none failed.
 */
function checkLock(
  spec: Partial<PythonPackagesSpec>,
  requirements: readonly { readonly index: number; readonly requirement: Requirement }[],
  at: (...rest: (string | number)[]) => (string | number)[],
  error: Report,
): string[] {
  const lock = Array.isArray(spec.packagesWithHashes) ? spec.packagesWithHashes : [];
  if (spec.packages === undefined && spec.packagesWithHashes === undefined) {
    error(at(), 'needs packages, packagesWithHashes or both');
  }
  if (spec.requireHashes === true && lock.length === 0) {
    error(
      at('requireHashes'),
      'is true, but there is no packagesWithHashes to check the files against; lock the packages with ' +
        '`kasprop lock -f FILE`, or set requireHashes to false',
    );
  }
  if (lock.length === 0 || lock.length > maxLocked) return []; // over maxItems the schema check has said so
  const locked = new Map<string, number>();
  const lines: string[] = [];
  let lockedBytes = 0;
  lock.forEach((entry, index) => {
    // Entries of the wrong shape were reported by the schema check.
    if (!isRecord(entry) || typeof entry.name !== 'string' || typeof entry.version !== 'string') return;
    if (!Array.isArray(entry.hashes) || !entry.hashes.every((h) => isRecord(h) && isHashShape(h))) return;
    const result = lockedPackage(entry);
    if (!result.ok) {
      for (const problem of result.problems) error(at('packagesWithHashes', index, ...problem.at), problem.message);
      return;
    }
    lines.push(result.line);
    lockedBytes += Buffer.byteLength(result.line) + 1;
    const earlier = locked.get(result.project);
    if (earlier !== undefined) {
      error(
        at('packagesWithHashes', index, 'name'),
        `'${result.project}' is locked twice (also packagesWithHashes[${String(earlier)}]); a lock has one version per project`,
      );
    } else {
      locked.set(result.project, index);
    }
  });
  checkEnvValueSize(lockedBytes, at('packagesWithHashes'), 'the locked packages', error);
  // Against a lock with a broken entry, every requirement of that project would be reported as well.
  if (lines.length < lock.length) return lines;
  for (const { index, requirement } of requirements) {
    if (requirement.url !== undefined) {
      error(
        at('packages', index),
        'is a URL or VCS requirement, which pip cannot check against digests; with packagesWithHashes, install ' +
          'it from an index, or remove the lock',
      );
    } else if (requirement.marker === undefined && !locked.has(requirement.project)) {
      error(
        at('packages', index),
        `'${requirement.project}' is not in packagesWithHashes (the lock is older than this requirement); lock again ` +
          'with `kasprop lock -f FILE`',
      );
    }
  }
  return lines;
}

/**
 * bundleSource and offlineMode: what the source needs for its type (a name or an image reference), a path that
 * stays inside the mounted source, and no offline install without a bundle to install from.
 */
function checkBundle(
  spec: Partial<PythonPackagesSpec>,
  at: (...rest: (string | number)[]) => (string | number)[],
  error: Report,
): void {
  if (spec.installer === 'uv' && spec.bundleSource !== undefined) {
    error(
      at('installer'),
      'is uv, but a bundle is installed by pip (--find-links, --no-index): use installer pip or auto with bundleSource',
    );
  }
  if (spec.offlineMode === true && spec.bundleSource === undefined) {
    error(
      at('offlineMode'),
      'is true, but there is no bundleSource to install from (offline, pip reaches no index); write one with ' +
        '`kasprop bundle -f FILE -o DIR` and name it in bundleSource',
    );
  }
  const source = spec.bundleSource;
  if (!isRecord(source) || typeof source.type !== 'string') return; // absent, or reported by the schema
  const { type } = source;
  const { name, reference, path } = source as Record<string, unknown>;
  if (type === 'image') {
    if (name !== undefined)
      error(at('bundleSource', 'name'), "is not used with type image; give the image's reference");
    if (reference === undefined)
      error(at('bundleSource', 'reference'), 'is required with type image (an OCI image reference)');
    else if (typeof reference === 'string' && !imageReferencePattern.test(reference)) {
      error(
        at('bundleSource', 'reference'),
        'must be an OCI image reference: [registry[:port]/]repository[:tag][@sha256:digest], lower-case repository',
      );
    }
  } else {
    if (reference !== undefined) error(at('bundleSource', 'reference'), `is only for type image, not ${type}`);
    if (name === undefined) error(at('bundleSource', 'name'), `is required with type ${type}`);
    else if (typeof name === 'string' && (name.length > maxSecretNameLength || !secretNamePattern.test(name))) {
      error(
        at('bundleSource', 'name'),
        `must be a ${type === 'pvc' ? 'PersistentVolumeClaim' : type === 'secret' ? 'Secret' : 'ConfigMap'} name: ` +
          `at most ${String(maxSecretNameLength)} lower-case letters, digits, '-' and '.'`,
      );
    }
  }
  if (typeof path !== 'string') return;
  if (type === 'configmap' || type === 'secret') {
    error(
      at('bundleSource', 'path'),
      `is only for type pvc and image: the keys of a ${type === 'secret' ? 'Secret' : 'ConfigMap'} are files at the ` +
        'root of its volume',
    );
  } else if (!bundlePathPattern.test(path) || path.split('/').some((segment) => segment === '..' || segment === '.')) {
    error(
      at('bundleSource', 'path'),
      "must be a relative directory inside the source: segments of letters, digits, '.', '_' and '-' separated by " +
        "'/', none of them '.' or '..'",
    );
  }
}

const bundlePathPattern = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

// The reference grammar of github.com/distribution/reference (what the kubelet and containerd parse), without the
// alternation of its domain rules: a lower-case repository path, an optional registry host[:port], tag and digest.
const imageReferencePattern =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

const isHashShape = (hash: Record<string, unknown>): hash is { algorithm: HashAlgorithm; digest: string } =>
  hashAlgorithms.some((algorithm) => algorithm === hash.algorithm) && typeof hash.digest === 'string';

const maxLocked =
  kasprAppSchema.properties?.spec?.properties?.pythonPackages?.properties?.packagesWithHashes?.maxItems ?? 1024;

const maxPackages = kasprAppSchema.properties?.spec?.properties?.pythonPackages?.properties?.packages?.maxItems ?? 256;

/**
 * Escapes what a terminal would not show as itself (C0/C1 controls, format characters, line and paragraph separators,
 * unusual spaces), so that a message quoting an input shows where the invisible character is.
 */
function printable(text: string): string {
  return text.replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u00a0\u2000-\u200a\u202f\u205f\u3000]/gu,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

// Kubernetes' rules for a Secret's name (DNS subdomain) and its keys; the apiserver would otherwise refuse the
// StatefulSet that references them, long after validation said yes.
const secretNamePattern = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const secretKeyPattern = /^[-._a-zA-Z0-9]+$/;
const maxSecretNameLength = 253;

function checkSecretRef(ref: Record<string, unknown>, segments: (string | number)[], error: Report): void {
  const { name, usernameKey, passwordKey } = ref;
  if (typeof name === 'string' && name !== '' && (name.length > maxSecretNameLength || !secretNamePattern.test(name))) {
    error(
      [...segments, 'name'],
      `must be a Secret name: at most ${String(maxSecretNameLength)} lower-case letters, digits, '-' and '.'`,
    );
  }
  for (const [field, key] of [
    ['usernameKey', usernameKey],
    ['passwordKey', passwordKey],
  ] as const) {
    if (typeof key !== 'string' || key === '') continue; // absent (default) or reported by the schema
    if (key.length > maxSecretNameLength || !secretKeyPattern.test(key) || key === '.' || key === '..') {
      error([...segments, field], "must be a Secret key: letters, digits, '-', '_' and '.' (not '.' or '..')");
    }
  }
}

/** Linux refuses to start a process with one environment variable over 128 KiB (E2BIG): the pod would never start. */
function checkEnvValueSize(bytes: number, segments: (string | number)[], what: string, error: Report): void {
  if (bytes > MAX_INSTALLER_ENV_VALUE_BYTES) {
    error(
      segments,
      `${what} take ${String(bytes)} bytes, more than the ${String(MAX_INSTALLER_ENV_VALUE_BYTES)} that fit in ` +
        "the installer's environment variable",
    );
  }
}

const joinedBytes = (values: readonly unknown[]): number =>
  values.reduce<number>((sum, value) => sum + (typeof value === 'string' ? Buffer.byteLength(value) + 1 : 0), 0);

/** Same scheme, host and port (default ports filled in), as pip's credential cache keys them. */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function checkPositiveQuantity(value: unknown, segments: (string | number)[], error: Report): void {
  if (value === undefined) return;
  if (!isQuantityValue(value)) return; // the schema reported it
  const parsed = parseQuantity(value);
  if (parsed === undefined) error(segments, `must be ${quantityGrammarHint}`);
  else if (parsed.nanos <= 0n) error(segments, 'must be greater than zero');
}

function checkRequestsWithinLimits(resources: unknown, segments: (string | number)[], error: Report): void {
  if (!isRecord(resources) || !isRecord(resources.requests) || !isRecord(resources.limits)) return;
  for (const [name, request] of Object.entries(resources.requests)) {
    const limit = resources.limits[name];
    // Values of the wrong type were reported by the schema check.
    if (!isQuantityValue(request) || !isQuantityValue(limit)) continue;
    const requested = parseQuantity(request);
    const limited = parseQuantity(limit);
    if (requested !== undefined && limited !== undefined && requested.nanos > limited.nanos) {
      error([...segments, 'requests', name], `${String(request)} exceeds the limit ${String(limit)}`);
    }
  }
}

const isQuantityValue = (value: unknown): value is string | number =>
  typeof value === 'string' || typeof value === 'number';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
