// Labels every child carries, and the selector that ties pods to the StatefulSet and Services. The selector
// is immutable on a StatefulSet, so it uses only labels that never change for an app.
import { kasprAppKind } from '../api/types.ts';
import { childNames } from './names.ts';

export type Labels = Readonly<Record<string, string>>;

export const componentLabel = 'kaspr.io/component';
export const pythonPackagesComponent = 'python-packages';
export const managedBy = 'kasprop';

export function appLabels(appName: string): Labels {
  return {
    'kaspr.io/kind': kasprAppKind,
    'kaspr.io/name': childNames(appName).component,
    'kaspr.io/cluster': appName,
    'kaspr.io/component-type': kasprAppKind,
    'kaspr.io/app': appName,
    'app.kubernetes.io/name': kasprAppKind,
    'app.kubernetes.io/instance': appName,
    'app.kubernetes.io/part-of': labelValue(`kaspr-${appName}`),
    'app.kubernetes.io/managed-by': managedBy,
  };
}

export function selectorLabels(appName: string): Labels {
  const labels = appLabels(appName);
  return {
    'kaspr.io/cluster': appName,
    'kaspr.io/name': labels['kaspr.io/name'] ?? '',
    'kaspr.io/kind': kasprAppKind,
  };
}

/** A label value: at most 63 characters, not ending in `-`, `_` or `.`. */
function labelValue(value: string): string {
  return value.slice(0, 63).replace(/[-_.]+$/, '');
}
