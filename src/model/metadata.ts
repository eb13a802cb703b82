// Metadata shared by every child: name, namespace, labels, the owner, and template labels/annotations.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { AppModel } from './app-model.ts';
import { ownerReferences } from './owner.ts';

export interface TemplateMetadata {
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

export function childMetadata(
  model: AppModel,
  name: string,
  {
    template,
    extraLabels,
    owned = true,
  }: { template?: TemplateMetadata | undefined; extraLabels?: Record<string, string>; owned?: boolean } = {},
): ObjectMeta {
  const annotations = template?.annotations;
  const owners = owned ? ownerReferences(model) : undefined;
  return {
    name,
    namespace: model.namespace,
    // The operator's labels win over template labels: selectors and queries depend on them.
    labels: { ...template?.labels, ...model.labels, ...extraLabels },
    ...(annotations !== undefined && Object.keys(annotations).length > 0 && { annotations: { ...annotations } }),
    ...(owners !== undefined && { ownerReferences: owners }),
  };
}
