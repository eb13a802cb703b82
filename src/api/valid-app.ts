// What validation hands on: the app as the user wrote it, together with what validation parsed (the requirements
// and the lock's canonical lines)
// and every default resolved (DESIGN decision 8: defaults are constants applied here, never written back). The model
// builds from this value only, so nothing is parsed twice and nothing downstream can meet an unvalidated spec.
import type { ResourceRequirements } from 'kubernetes-types/core/v1.js';
import type { Requirement } from '../packages/requirement.ts';
import type { OnFailure, PackageInstaller } from '../packages/installer-contract.ts';
import { defaults } from './defaults.ts';
import type { KasprApp, PythonPackagesBundleSource, PythonPackagesCache, PythonPackagesSpec } from './types.ts';
import { defaultKasprVersion, findKasprVersion } from './versions.ts';

export type AccessMode = NonNullable<PythonPackagesCache['accessMode']>;

export interface ValidKasprApp {
  /** The object as given (the builders read its metadata and templates). */
  readonly app: KasprApp;
  readonly version: string;
  /** `spec.image`, or the image of the (default) Kaspr version. */
  readonly image: string;
  readonly replicas: number;
  /** Absent when the spec has no pythonPackages. */
  readonly pythonPackages?: ValidPythonPackages;
}

export interface ValidPythonPackages {
  /** Parsed requirements, in the user's order. */
  readonly requirements: readonly Requirement[];
  /** Canonical lines of packagesWithHashes (packages/locked-packages.ts), in the user's order; empty without a lock. */
  readonly locked: readonly string[];
  /** Where the bundle (a wheelhouse) comes from; absent without `bundleSource`. */
  readonly bundle?: ValidBundleSource;
  /** Install from the bundle only, with no index (validation made sure there is a bundle). */
  readonly offline: boolean;
  readonly indexUrl?: string | undefined;
  readonly extraIndexUrls: readonly string[];
  readonly trustedHosts: readonly string[];
  /** `installer`, defaulted: which program installs (installer-contract.ts PACKAGE_INSTALLERS). */
  readonly installer: PackageInstaller;
  readonly credentials?: { readonly secretName: string; readonly usernameKey: string; readonly passwordKey: string };
  readonly cache: {
    readonly enabled: boolean;
    readonly storageClass?: string | undefined;
    readonly size: string;
    readonly accessMode: AccessMode;
    readonly deleteClaim: boolean;
  };
  readonly installPolicy: { readonly retries: number; readonly timeoutSeconds: number; readonly onFailure: OnFailure };
  readonly resources: ResourceRequirements;
}

/** What validation parsed of `pythonPackages`: nothing downstream parses it again. */
export type ParsedPackages = Pick<ValidPythonPackages, 'requirements' | 'locked'>;

/** `bundleSource`, checked: a name for configmap, secret and pvc; a reference for image; path only where it applies. */
export type ValidBundleSource =
  | { readonly type: 'configmap' | 'secret'; readonly name: string }
  | { readonly type: 'pvc'; readonly name: string; readonly path?: string | undefined }
  | { readonly type: 'image'; readonly reference: string; readonly path?: string | undefined };

/**
 * The valid value of an app that passed every check, with what validation parsed of its `pythonPackages`.
 * Only validation calls this: a version without an image is known by then.
 */
export function validApp(app: KasprApp, parsed: ParsedPackages): ValidKasprApp {
  const { spec } = app;
  const version = spec.version ?? defaultKasprVersion;
  const image = spec.image ?? findKasprVersion(version)?.image;
  if (image === undefined) throw new Error(`Kaspr version ${version} was not validated`);
  return {
    app,
    version,
    image,
    replicas: spec.replicas ?? defaults.replicas,
    ...(spec.pythonPackages !== undefined && { pythonPackages: validPackages(spec.pythonPackages, parsed) }),
  };
}

function validPackages(spec: PythonPackagesSpec, parsed: ParsedPackages): ValidPythonPackages {
  const d = defaults.pythonPackages;
  const secretRef = spec.credentials?.secretRef;
  const size = spec.cache?.size;
  return {
    requirements: parsed.requirements,
    locked: parsed.locked,
    ...(spec.bundleSource !== undefined && { bundle: validBundle(spec.bundleSource) }),
    offline: spec.offlineMode ?? d.offlineMode,
    indexUrl: spec.indexUrl,
    extraIndexUrls: spec.extraIndexUrls ?? [],
    trustedHosts: spec.trustedHosts ?? [],
    installer: spec.installer ?? d.installer,
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

function validBundle(source: PythonPackagesBundleSource): ValidBundleSource {
  const { type, name, reference, path } = source;
  if (type === 'image') return { type, reference: required(reference, 'reference'), path };
  if (type === 'pvc') return { type, name: required(name, 'name'), path };
  return { type, name: required(name, 'name') };
}

function required(value: string | undefined, field: string): string {
  if (value === undefined) throw new Error(`bundleSource.${field} was not validated`);
  return value;
}

/** Quantities as strings, the form the apiserver returns, so applied and live objects compare equal. */
export function stringifyQuantities(resources: {
  requests?: Record<string, number | string>;
  limits?: Record<string, number | string>;
}): ResourceRequirements {
  const convert = (values: Record<string, number | string> | undefined): Record<string, string> | undefined =>
    values === undefined ? undefined : Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
  const requests = convert(resources.requests);
  const limits = convert(resources.limits);
  return { ...(requests !== undefined && { requests }), ...(limits !== undefined && { limits }) };
}
