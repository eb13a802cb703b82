// Conditions with Kubernetes' semantics: lastTransitionTime moves only when the status of a condition changes,
// so rewriting the same condition is a no-op and a status diff means something happened.
import type { Condition } from '../api/types.ts';

export interface ConditionUpdate {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

export function setCondition(
  conditions: readonly Condition[],
  update: ConditionUpdate,
  now: string,
  observedGeneration: number | undefined,
): Condition[] {
  const existing = conditions.find((c) => c.type === update.type);
  const next: Condition = {
    ...update,
    lastTransitionTime: existing && existing.status === update.status ? existing.lastTransitionTime : now,
    ...(observedGeneration !== undefined && { observedGeneration }),
  };
  return [...conditions.filter((c) => c.type !== update.type), next].sort((a, b) => a.type.localeCompare(b.type));
}

export function removeCondition(conditions: readonly Condition[], type: string): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

export const ConditionTypes = {
  ready: 'Ready',
  progressing: 'Progressing',
  pythonPackagesReady: 'PythonPackagesReady',
} as const;
