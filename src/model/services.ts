// The API Service (ClusterIP, for clients of the app's web port) and the headless Service the StatefulSet
// needs for stable pod DNS names; the headless one publishes not-ready pods so that members find each other
// while starting.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { AppModel } from './app-model.ts';
import { childMetadata } from './metadata.ts';
import { webPort, webPortName } from './settings.ts';

const ports = [{ name: webPortName, protocol: 'TCP', port: webPort, targetPort: webPort }];

export function buildService(model: AppModel): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(model, model.names.service, { template: model.app.spec.template?.service?.metadata }),
    spec: { type: 'ClusterIP', selector: { ...model.selector }, ports },
  };
}

export function buildHeadlessService(model: AppModel): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(model, model.names.headlessService, {
      template: model.app.spec.template?.service?.metadata,
    }),
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { ...model.selector }, ports },
  };
}
