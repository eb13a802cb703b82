// Resolves a validated KasprApp into everything the builders need, with every default applied (DESIGN
// decision 8: defaults are constants applied here, never written back). Pure: no I/O, no clock, no env.
import type { ResourceRequirements as K8sResources } from 'kubernetes-types/core/v1.js';
import { defaults } from '../api/defaults.ts';
import { defaultKasprVersion, findKasprVersion } from '../api/versions.ts';
import type { KasprApp } from '../api/types.ts';
import { canonicalRequirements, computePackagesHash } from '../packages/spec-hash.ts';
import { lockedLines } from '../packages/locked-packages.ts';
import { appLabels, selectorLabels, type Labels } from './labels.ts';
import { childNames, type ChildNames } from './names.ts';
import type { OperatorSettings } from './operator-settings.ts';

export type AccessMode = 'ReadWriteMany' | 'ReadWriteOnce';
export type OnFailure = 'block' | 'allow';

export interface PackagesPlan {
  /** The spec hash: names the install on the volume and rolls the pods when it changes. */
  readonly hash: string;
  /** Canonical requirement lines, in the user's order. */
  readonly requirements: readonly string[];
  /** Canonical lines of packagesWithHashes (locked-packages.ts), in the user's order; empty without a lock. */
  readonly locked: readonly string[];
  readonly indexUrl?: string | undefined;
  readonly extraIndexUrls: readonly string[];
  readonly trustedHosts: readonly string[];
  readonly credentials?: { readonly secretName: string; readonly usernameKey: string; readonly passwordKey: string };
  readonly cache: {
    readonly enabled: boolean;
    readonly storageClass?: string | undefined;
    readonly size: string;
    readonly accessMode: AccessMode;
    readonly deleteClaim: boolean;
  };
  readonly installPolicy: { readonly retries: number; readonly timeoutSeconds: number; readonly onFailure: OnFailure };
  readonly resources: K8sResources;
}

export interface AppModel {
  readonly app: KasprApp;
  readonly name: string;
  readonly namespace: string;
  readonly names: ChildNames;
  readonly labels: Labels;
  readonly selector: Labels;
  readonly image: string;
  readonly version: string;
  readonly replicas: number;
  /** Absent when the app has no pythonPackages, or the operator has the feature turned off. */
  readonly packages?: PackagesPlan;
  /** The spec has pythonPackages but the operator runs with the feature off: nothing of it is built or deleted. */
  readonly packagesIgnored: boolean;
  /** Things the user should know that are not errors (shown as status warnings and events). */
  readonly warnings: readonly string[];
}

export const packagesIgnoredWarning =
  'spec.pythonPackages is ignored: the operator runs with PYTHON_PACKAGES_ENABLED=false';

export function resolveApp(app: KasprApp, settings: OperatorSettings): AppModel {
  const { spec } = app;
  const name = app.metadata.name;
  const version = spec.version ?? defaultKasprVersion;
  // Validation guarantees a known version when no image is given.
  const image = spec.image ?? findKasprVersion(version)?.image ?? '';
  const warnings: string[] = [];
  let packages: PackagesPlan | undefined;
  if (spec.pythonPackages !== undefined) {
    if (settings.pythonPackagesEnabled) packages = resolvePackages(spec.pythonPackages, image);
    else warnings.push(packagesIgnoredWarning);
  }
  return {
    app,
    name,
    namespace: app.metadata.namespace ?? 'default',
    names: childNames(name),
    labels: appLabels(name),
    selector: selectorLabels(name),
    image,
    version,
    replicas: spec.replicas ?? defaults.replicas,
    ...(packages !== undefined && { packages }),
    packagesIgnored: spec.pythonPackages !== undefined && !settings.pythonPackagesEnabled,
    warnings,
  };
}

function resolvePackages(spec: NonNullable<KasprApp['spec']['pythonPackages']>, image: string): PackagesPlan {
  const d = defaults.pythonPackages;
  const secretRef = spec.credentials?.secretRef;
  const size = spec.cache?.size;
  // Parsed once: the same canonical lines go to the installer and into the hash.
  const requirements = canonicalRequirements(spec.packages ?? []);
  const locked = lockedLines(spec.packagesWithHashes ?? []);
  return {
    hash: computePackagesHash({ ...spec, requirements, locked, image }),
    requirements,
    locked,
    indexUrl: spec.indexUrl,
    extraIndexUrls: spec.extraIndexUrls ?? [],
    trustedHosts: spec.trustedHosts ?? [],
    ...(secretRef !== undefined && {
      credentials: {
        secretName: secretRef.name,
        usernameKey: secretRef.usernameKey ?? d.credentials.usernameKey,
        passwordKey: secretRef.passwordKey ?? d.credentials.passwordKey,
      },
    }),
    cache: {
      enabled: spec.cache?.enabled ?? d.cache.enabled,
      storageClass: spec.cache?.storageClass,
      size: size === undefined ? d.cache.size : String(size),
      accessMode: spec.cache?.accessMode ?? d.cache.accessMode,
      deleteClaim: spec.cache?.deleteClaim ?? d.cache.deleteClaim,
    },
    installPolicy: {
      retries: spec.installPolicy?.retries ?? d.installPolicy.retries,
      timeoutSeconds: spec.installPolicy?.timeout ?? d.installPolicy.timeout,
      onFailure: spec.installPolicy?.onFailure ?? d.installPolicy.onFailure,
    },
    // The user's resources replace the defaults as a whole: mixing them could put a request above a limit.
    resources: spec.resources !== undefined ? stringifyQuantities(spec.resources) : structuredClone(d.resources),
  };
}

/** Quantities as strings, the form the apiserver returns, so applied and live objects compare equal. */
export function stringifyQuantities(resources: {
  requests?: Record<string, number | string>;
  limits?: Record<string, number | string>;
}): K8sResources {
  const convert = (values: Record<string, number | string> | undefined): Record<string, string> | undefined =>
    values === undefined ? undefined : Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
  const requests = convert(resources.requests);
  const limits = convert(resources.limits);
  return { ...(requests !== undefined && { requests }), ...(limits !== undefined && { limits }) };
}
