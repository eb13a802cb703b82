// Validation of a KasprApp: the CRD schema (what the apiserver checks) plus the semantic rules it cannot express
// (PEP 508 requirements, URLs, trusted hosts, quantities, cross-field rules). Every problem is reported at once,
// each with its field path and reason, so a user fixes a manifest in one pass.
import { formatPath, checkSpecSchema, closest } from './schema-validation.ts';
import { parseQuantity, quantityGrammarHint } from '../runtime/kube/quantity.ts';
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
import { INSTALLER_ENV_PREFIX } from '../packages/installer-contract.ts';

export type Validation =
  | { readonly ok: true; readonly app: KasprApp; readonly warnings: readonly FieldError[] }
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

  if (!isRecord(input.spec)) {
    error(['spec'], input.spec === undefined ? 'is required' : 'must be an object');
  } else {
    errors.push(...checkSpecSchema(input.spec));
    checkSpec(input.spec, error, warnings);
  }

  return errors.length > 0
    ? { ok: false, errors, warnings }
    : { ok: true, app: input as unknown as KasprApp, warnings };
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

function checkSpec(spec: Record<string, unknown>, error: Report, warnings: FieldError[]): void {
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
  if (isRecord(typed.pythonPackages)) checkPythonPackages(typed.pythonPackages, error);
  checkTemplateEnv(typed, error, warnings);
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

function checkPythonPackages(packages: Record<string, unknown>, error: Report): void {
  const at = (...rest: (string | number)[]): (string | number)[] => ['spec', 'pythonPackages', ...rest];
  const spec = packages as Partial<PythonPackagesSpec>;

  if (Array.isArray(spec.packages)) {
    const seen = new Map<string, { index: number; requirement: Requirement }>();
    spec.packages.forEach((line, index) => {
      if (typeof line !== 'string' || line === '') return; // the schema reported it
      const parsed = parseRequirement(line);
      if (!parsed.ok) {
        error(at('packages', index), `invalid requirement ${JSON.stringify(line)}: ${parsed.reason}`);
        return;
      }
      const { requirement } = parsed;
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
  }

  if (typeof spec.indexUrl === 'string') {
    const problem = checkUrl(spec.indexUrl, 'index');
    if (problem !== undefined) error(at('indexUrl'), `URL ${problem}`);
  }
  spec.extraIndexUrls?.forEach((url, index) => {
    if (typeof url !== 'string') return;
    const problem = checkUrl(url, 'index');
    if (problem !== undefined) error(at('extraIndexUrls', index), `URL ${problem}`);
  });
  spec.trustedHosts?.forEach((host, index) => {
    if (typeof host !== 'string') return;
    const problem = checkTrustedHost(host);
    if (problem !== undefined) error(at('trustedHosts', index), problem);
  });
  if (spec.credentials !== undefined && spec.indexUrl === undefined) {
    error(at('credentials'), 'requires indexUrl: the credentials are only ever sent to indexUrl');
  }
  if (isRecord(spec.cache)) checkPositiveQuantity(spec.cache.size, at('cache', 'size'), error);
  checkRequestsWithinLimits(spec.resources, at('resources'), error);
}

function checkPositiveQuantity(value: unknown, segments: (string | number)[], error: Report): void {
  if (value === undefined) return;
  if (!isQuantityValue(value)) return; // the schema reported it
  const parsed = parseQuantity(value);
  if (parsed === undefined) error(segments, `must be ${quantityGrammarHint}`);
  else if (parsed <= 0) error(segments, 'must be greater than zero');
}

function checkRequestsWithinLimits(resources: unknown, segments: (string | number)[], error: Report): void {
  if (!isRecord(resources) || !isRecord(resources.requests) || !isRecord(resources.limits)) return;
  for (const [name, request] of Object.entries(resources.requests)) {
    const limit = resources.limits[name];
    // Values of the wrong type were reported by the schema check.
    if (!isQuantityValue(request) || !isQuantityValue(limit)) continue;
    const requested = parseQuantity(request);
    const limited = parseQuantity(limit);
    if (requested !== undefined && limited !== undefined && requested > limited) {
      error([...segments, 'requests', name], `${String(request)} exceeds the limit ${String(limit)}`);
    }
  }
}

const isQuantityValue = (value: unknown): value is string | number =>
  typeof value === 'string' || typeof value === 'number';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
