// The whole status of a KasprApp, computed from what the informers see. Pure; the reconciler writes it in the same
// pass as the children, after their steps (and after the events of its transitions), so it reports that pass.
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { KasprApp, KasprAppStatus, PythonPackagesStatus } from '../api/types.ts';
import type { FieldError } from '../api/field-error.ts';
import { formatFieldError } from '../api/field-error.ts';
import { packagesIgnoredWarning, type AppModel } from '../model/app-model.ts';
import { summarize, VALIDATE_HINT } from './message-limits.ts';
import { ConditionTypes, removeCondition, setCondition, type ConditionUpdate } from './conditions.ts';
import type { InstallObservation } from './install-observation.ts';
import { installedCount, packagesStatus, type CacheMode } from './packages-status.ts';

export interface StatusInput {
  readonly app: KasprApp;
  readonly now: string;
}

export interface ValidStatusInput extends StatusInput {
  readonly model: AppModel;
  readonly statefulSet: StatefulSet | undefined;
  /** What the app's pods report about their installs (observeInstall). */
  readonly observations: readonly InstallObservation[];
  readonly cacheMode: CacheMode;
  /** Operator warnings about the packages (e.g. the emptyDir fallback and its cause). */
  readonly packagesWarnings: readonly string[];
}

export function validStatus(input: ValidStatusInput): KasprAppStatus {
  const { app, model, statefulSet, now } = input;
  const previous = app.status ?? {};
  const generation = app.metadata.generation;
  const ready = statefulSet?.status?.readyReplicas ?? 0;
  const rolledOut = rolloutComplete(statefulSet, model.replicas);

  let pythonPackages: PythonPackagesStatus | undefined;
  if (model.packages) {
    pythonPackages = packagesStatus({
      hash: model.packages.hash,
      cacheMode: input.cacheMode,
      observations: input.observations,
      previous: previous.pythonPackages,
      warnings: [...model.warnings, ...input.packagesWarnings],
    });
  }

  let conditions = previous.conditions ?? [];
  const set = (update: ConditionUpdate): void => {
    conditions = setCondition(conditions, update, now, generation);
  };
  if (pythonPackages) set(packagesCondition(pythonPackages));
  else if (model.packagesIgnored) {
    set({
      type: ConditionTypes.pythonPackagesReady,
      status: 'False',
      reason: 'Disabled',
      message: packagesIgnoredWarning,
    });
  } else conditions = removeCondition(conditions, ConditionTypes.pythonPackagesReady);
  set(
    rolledOut
      ? {
          type: ConditionTypes.progressing,
          status: 'False',
          reason: 'RolloutComplete',
          message: 'all pods run the current spec',
        }
      : {
          type: ConditionTypes.progressing,
          status: 'True',
          reason: 'RollingOut',
          message: rolloutMessage(statefulSet, model.replicas),
        },
  );
  set(readyCondition(model, pythonPackages, ready, rolledOut));

  return {
    ...(generation !== undefined && { observedGeneration: generation }),
    kasprVersion: model.version,
    availableMembers: `${ready}/${model.replicas}`,
    conditions,
    ...(pythonPackages && { pythonPackages }),
  };
}

/** An invalid spec: say why, and leave everything else as it was (the children are left as they are too). */
export function invalidStatus(input: StatusInput & { readonly errors: readonly FieldError[] }): KasprAppStatus {
  const previous = input.app.status ?? {};
  const generation = input.app.metadata.generation;
  const conditions = setCondition(
    previous.conditions ?? [],
    {
      type: ConditionTypes.ready,
      status: 'False',
      reason: 'InvalidSpec',
      message: summarize(input.errors.map(formatFieldError), VALIDATE_HINT),
    },
    input.now,
    generation,
  );
  return { ...previous, ...(generation !== undefined && { observedGeneration: generation }), conditions };
}

function packagesCondition(status: PythonPackagesStatus): ConditionUpdate {
  const type = ConditionTypes.pythonPackagesReady;
  switch (status.state) {
    case 'Ready':
      return {
        type,
        status: 'True',
        reason: 'Installed',
        message: `${installedCount(status)} installed by ${status.installedBy ?? 'a pod'}`,
      };
    case 'Failed':
      return {
        type,
        status: 'False',
        reason: 'InstallFailed',
        message: `${status.errorType ?? 'unknown'}: ${status.error ?? ''}`,
      };
    default:
      return {
        type,
        status: 'False',
        reason: 'Installing',
        message: `installing packages for spec hash ${status.hash ?? ''}`,
      };
  }
}

function readyCondition(
  model: AppModel,
  packages: PythonPackagesStatus | undefined,
  ready: number,
  rolledOut: boolean,
): ConditionUpdate {
  const type = ConditionTypes.ready;
  const allowed = model.packages?.installPolicy.onFailure === 'allow';
  if (packages && packages.state !== 'Ready' && !(allowed && packages.state === 'Failed')) {
    return { type, status: 'False', reason: 'PackagesNotReady', message: `python packages are ${packages.state}` };
  }
  if (ready < model.replicas || !rolledOut) {
    return { type, status: 'False', reason: 'PodsNotReady', message: `${ready}/${model.replicas} pods ready` };
  }
  return { type, status: 'True', reason: 'Ready', message: `${ready}/${model.replicas} pods ready` };
}

function rolloutComplete(sts: StatefulSet | undefined, replicas: number): boolean {
  if (!sts?.status) return replicas === 0 && sts !== undefined;
  const s = sts.status;
  const observed = (s.observedGeneration ?? 0) >= (sts.metadata?.generation ?? 0);
  const revisionsMatch = s.updateRevision === undefined || s.currentRevision === s.updateRevision;
  return observed && revisionsMatch && (s.updatedReplicas ?? 0) >= replicas && s.replicas === replicas;
}

function rolloutMessage(sts: StatefulSet | undefined, replicas: number): string {
  if (!sts) return 'the StatefulSet is being created';
  return `${sts.status?.updatedReplicas ?? 0}/${replicas} pods updated to the current spec`;
}
