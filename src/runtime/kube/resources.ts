// REST paths for the resource types kasprop touches. A fixed table instead of discovery: the operator
// only ever talks to these, and a table cannot fail or go stale at startup the way discovery can.

export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  /** Lower-case plural used in REST paths. */
  readonly plural: string;
  readonly namespaced: boolean;
}

const builtin = (apiVersion: string, kind: string, plural: string, namespaced = true): ResourceType => ({
  apiVersion,
  kind,
  plural,
  namespaced,
});

export const ResourceTypes = {
  Namespace: builtin('v1', 'Namespace', 'namespaces', false),
  Node: builtin('v1', 'Node', 'nodes', false),
  PersistentVolume: builtin('v1', 'PersistentVolume', 'persistentvolumes', false),
  Pod: builtin('v1', 'Pod', 'pods'),
  Secret: builtin('v1', 'Secret', 'secrets'),
  ConfigMap: builtin('v1', 'ConfigMap', 'configmaps'),
  Service: builtin('v1', 'Service', 'services'),
  ServiceAccount: builtin('v1', 'ServiceAccount', 'serviceaccounts'),
  PersistentVolumeClaim: builtin('v1', 'PersistentVolumeClaim', 'persistentvolumeclaims'),
  CoreEvent: builtin('v1', 'Event', 'events'),
  StatefulSet: builtin('apps/v1', 'StatefulSet', 'statefulsets'),
  ControllerRevision: builtin('apps/v1', 'ControllerRevision', 'controllerrevisions'),
  HorizontalPodAutoscaler: builtin('autoscaling/v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers'),
  Lease: builtin('coordination.k8s.io/v1', 'Lease', 'leases'),
  CustomResourceDefinition: builtin(
    'apiextensions.k8s.io/v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
  ),
  ClusterRole: builtin('rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false),
  ClusterRoleBinding: builtin('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
} as const satisfies Record<string, ResourceType>;

export interface PathOptions {
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
  readonly subresource?: string | undefined;
}

/** The REST path of a collection (no name) or of one object, e.g. /apis/apps/v1/namespaces/ns/statefulsets/x/status. */
export function resourcePath(type: ResourceType, { namespace, name, subresource }: PathOptions = {}): string {
  const root = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const scope = type.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const object = name !== undefined ? `/${encodeURIComponent(name)}` : '';
  const sub = name !== undefined && subresource !== undefined ? `/${subresource}` : '';
  return `${root}${scope}/${type.plural}${object}${sub}`;
}

/** The type whose apiVersion and kind an object declares, from the given tables. */
export function resourceTypeOf(
  object: { apiVersion?: string; kind?: string },
  types: readonly ResourceType[],
): ResourceType | undefined {
  return types.find((t) => t.apiVersion === object.apiVersion && t.kind === object.kind);
}
