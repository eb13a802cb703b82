import type { ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { AppModel } from './app-model.ts';
import { childMetadata } from './metadata.ts';

export function buildServiceAccount(model: AppModel): ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMetadata(model, model.names.serviceAccount, {
      template: model.app.spec.template?.serviceAccount?.metadata,
    }),
  };
}
