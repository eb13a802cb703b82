// Resolves a validated KasprApp (defaults already applied by validation, see api/valid-app.ts) into everything the
// builders need: names, labels, the spec hash and the operator's settings. Pure: no I/O, no clock, no env.
import type { ValidKasprApp, ValidPythonPackages } from '../api/valid-app.ts';
import type { KasprApp } from '../api/types.ts';
import { packagesHash } from '../packages/spec-hash.ts';
import { appLabels, selectorLabels, type Labels } from './labels.ts';
import { childNames, type ChildNames } from './names.ts';
import type { OperatorSettings } from './operator-settings.ts';

export interface PackagesPlan extends Omit<ValidPythonPackages, 'requirements'> {
  /** The spec hash: names the install on the volume and rolls the pods when it changes. */
  readonly hash: string;
  /** Canonical requirement lines, in the user's order: what the installer hands pip. */
  readonly requirements: readonly string[];
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

export function resolveApp(valid: ValidKasprApp, settings: OperatorSettings): AppModel {
  const { app, image, pythonPackages } = valid;
  const name = app.metadata.name;
  const packagesIgnored = pythonPackages !== undefined && !settings.pythonPackagesEnabled;
  const packages = pythonPackages !== undefined && !packagesIgnored ? packagesPlan(pythonPackages, image) : undefined;
  return {
    app,
    name,
    namespace: app.metadata.namespace ?? 'default',
    names: childNames(name),
    labels: appLabels(name),
    selector: selectorLabels(name),
    image,
    version: valid.version,
    replicas: valid.replicas,
    ...(packages !== undefined && { packages }),
    packagesIgnored,
    warnings: packagesIgnored ? [packagesIgnoredWarning] : [],
  };
}

function packagesPlan(packages: ValidPythonPackages, image: string): PackagesPlan {
  return {
    ...packages,
    hash: packagesHash({ ...packages, image }),
    requirements: packages.requirements.map((r) => r.canonical),
  };
}
