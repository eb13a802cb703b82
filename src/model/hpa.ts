// The HorizontalPodAutoscaler owns the StatefulSet's replicas (DESIGN decision 6): the operator never sets
// them (except to 0, which an HPA cannot hold), so it never fights the autoscaler or `kubectl scale`.
// minReplicas = maxReplicas = spec.replicas: the HPA controller clamps to that range without needing any
// metrics, so an app gets its replicas on clusters without a metrics server too. The memory target is the
// original operator's (it drives scale-up where metrics exist; the clamp makes it harmless).
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import type { AppModel } from './app-model.ts';
import { childMetadata } from './metadata.ts';

export function buildHpa(model: AppModel): HorizontalPodAutoscaler | null {
  if (model.replicas === 0) return null;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(model, model.names.hpa),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: model.names.statefulSet },
      minReplicas: model.replicas,
      maxReplicas: model.replicas,
      metrics: [
        { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '1Mi' } } },
      ],
    },
  };
}
