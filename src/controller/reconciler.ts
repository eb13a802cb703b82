// The KasprApp reconciler. Level-triggered (DESIGN decision 6): every run derives everything from the cached
// state of the cluster, applies each child through its step, then writes the status apart from the children.
// A run that finds nothing to change sends no mutating request.
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import { KasprAppResource, type KasprApp, type KasprAppStatus } from '../api/types.ts';
import { formatFieldError } from '../api/field-error.ts';
import { validateKasprApp } from '../api/validation.ts';
import { resolveApp, type AppModel } from '../model/app-model.ts';
import type { OperatorSettings } from '../model/operator-settings.ts';
import type { Applier } from '../runtime/applier.ts';
import type { FreshObjects } from '../runtime/fresh-objects.ts';
import { isNamespaceTerminating, isTransportError } from '../runtime/kube/client.ts';
import { ResourceTypes } from '../runtime/kube/resources.ts';
import type { Logger } from '../runtime/logger.ts';
import { invalidStatus, validStatus } from './app-status.ts';
import type { ClusterView } from './cluster-view.ts';
import { ConditionTypes, setCondition } from './conditions.ts';
import type { EventRecorder } from './event-recorder.ts';
import {
  invalidSpecEvent,
  fallbackEvents,
  packagesDisabledEvents,
  packagesClaimTransition,
  packagesEvents,
  specWarningEvents,
  type AppEvent,
} from './events.ts';
import { observeInstall } from './install-observation.ts';
import { unusedInstallerConfigMaps } from './installer-config-maps.ts';
import type { InstallLedger } from './install-ledger.ts';
import type { PackageMetrics } from './package-metrics.ts';
import { decidePackagesVolume, type PackagesVolumeDecision } from './packages-volume.ts';
import { childSteps, type ChildStep } from './steps.ts';

/** What a reconcile reads of the cluster: the informer caches of cluster-view.ts, never the API. */
export type ReconcilerView = Pick<ClusterView, 'child' | 'childrenOf' | 'podsOf' | 'eventsOfClaim'> & {
  readonly apps: Pick<ClusterView['apps'], 'getByKey' | 'list'>;
};

export interface ReconcilerDeps {
  readonly view: ReconcilerView;
  /** Apps newer than the view's cache: this operator's own status writes, until the watch delivers them. */
  readonly freshApps: FreshObjects<KasprApp>;
  readonly applier: Applier;
  readonly events: EventRecorder;
  readonly metrics: PackageMetrics;
  readonly ledger: InstallLedger;
  readonly settings: OperatorSettings;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export type StepOutcome = 'created' | 'patched' | 'unchanged' | 'deleted';

export class KasprAppReconciler {
  readonly #deps: ReconcilerDeps;
  readonly #now: () => Date;
  /** Namespaces that refused a write as being deleted; forgotten once their last app is gone. */
  readonly #terminatingNamespaces = new Set<string>();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
  }

  async reconcile(key: string, signal: AbortSignal): Promise<void> {
    const { view, metrics, ledger, freshApps } = this.#deps;
    // Never the cache alone: until the watch delivers our last status write, the cache shows the status before it,
    // and a reconcile computing from that would write the same transition (and derive its events) a second time.
    const app = freshApps.freshest(key, view.apps.getByKey(key));
    const [namespace = '', name = ''] = key.split('/');
    if (app === undefined) {
      // Deleted: the garbage collector removes the children; only our own memory of the app is left to drop.
      ledger.forget(key);
      metrics.forget(namespace, name);
      // The last app of a namespace being deleted is gone: a namespace created later under that name is a new one.
      if (view.apps.list(namespace).length === 0) this.#terminatingNamespaces.delete(namespace);
      return;
    }
    if (app.metadata.deletionTimestamp !== undefined) return;
    // A namespace being deleted admits no new object, ever: its apps are about to go with it.
    if (this.#terminatingNamespaces.has(namespace)) return;
    try {
      await this.#reconcileApp(key, app, signal);
    } catch (error) {
      if (error instanceof NamespaceTerminatingError) return;
      if (!isNamespaceTerminating(error)) throw error;
      this.#terminatingNamespaces.add(namespace);
      this.#deps.logger.info('namespace is being deleted; its apps are not reconciled any more', {
        app: key,
        error: String(error),
      });
    }
  }

  async #reconcileApp(key: string, app: KasprApp, signal: AbortSignal): Promise<void> {
    const { view } = this.#deps;
    const logger = this.#deps.logger.child({ app: key });

    const validation = validateKasprApp(app);
    if (!validation.ok) {
      // Bad input costs nothing (decision 9): the children stay as they are; status and an event say why.
      const status = invalidStatus({ app, now: this.#now().toISOString(), errors: validation.errors });
      const messages = validation.errors.map(formatFieldError);
      logger.warn('invalid spec; children left as they are', { errors: messages });
      const becameInvalid =
        readyReason(app.status) !== 'InvalidSpec' || readyMessage(app.status) !== readyMessage(status);
      // The event first: until the status shows the transition, every reconcile derives it again, and the
      // recorder's name for it makes a second recording a no-op (event-recorder.ts).
      if (becameInvalid) await this.#record(app, invalidSpecEvent(messages));
      await this.#writeStatus(app, status, signal);
      return;
    }

    const model = resolveApp(validation.valid, this.#deps.settings);
    const claimName = model.names.packagesClaim;
    const claim = view.child(ResourceTypes.PersistentVolumeClaim, model.namespace, claimName) as
      PersistentVolumeClaim | undefined;
    const packagesVolume: PackagesVolumeDecision = model.packages
      ? decidePackagesVolume(model.packages, claim, view.eventsOfClaim(model.namespace, claimName))
      : { source: 'claim', cacheMode: 'shared', warnings: [] };

    const warnings = [...packagesVolume.warnings];
    // A child the apiserver refuses (say, a claim resize its storage class does not allow) is reported, but does not
    // hold back the steps after it: each child is independent enough that the others should still converge.
    const failures: string[] = [];
    for (const step of childSteps) {
      let outcome: StepOutcome;
      try {
        outcome = await this.#runStep(step, model, packagesVolume, warnings, signal);
      } catch (error) {
        if (signal.aborted || endsReconcile(error)) throw error;
        failures.push(`${step.childName(model.names)}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (outcome !== 'unchanged') {
        logger.info('child reconciled', { step: step.name, result: outcome, name: step.childName(model.names) });
      }
    }
    await this.#removeUnusedInstallers(key, model, failures);
    if (failures.length > 0) {
      const message = failures.join('; ');
      await this.#reportApplyFailure(app, message, signal);
      throw new Error(`children refused by the apiserver: ${message}`);
    }

    // Each pod's report is read once, for the status and for the install metrics.
    const observations = view.podsOf(key).flatMap((pod) => observeInstall(pod) ?? []);
    // Installs of any spec hash count, also of one the spec has moved on from while it ran; those the status
    // records as counted were counted by this operator or one before it (install-ledger.ts).
    const counted = this.#deps.ledger.record(key, observations, app.status?.countedInstalls);
    const claimTransition = packagesClaimTransition({
      previous: app.status,
      name: claimName,
      wanted: model.packages?.cache.enabled === true,
      live: claim,
      appCreated: app.metadata.creationTimestamp,
    });
    const status = {
      ...validStatus({
        app,
        model,
        statefulSet: view.child(ResourceTypes.StatefulSet, model.namespace, model.names.statefulSet) as
          StatefulSet | undefined,
        observations,
        cacheMode: packagesVolume.cacheMode,
        packagesWarnings: warnings,
        now: this.#now().toISOString(),
      }),
      ...(claimTransition.record && { packagesClaim: claimTransition.record }),
      ...(counted.counted && { countedInstalls: [...counted.counted] }),
    };
    this.#deps.metrics.record(model.namespace, model.name, counted.installs);
    const events: AppEvent[] = [
      ...claimTransition.events,
      ...specWarningEvents(app.status, app.metadata.generation, validation.warnings.map(formatFieldError)),
      ...packagesEvents(app.status, status),
      ...packagesDisabledEvents(app.status, status),
      ...fallbackEvents(app.status, status),
    ];
    // Events before the status that marks their transitions: see the invalid spec above.
    for (const event of events) await this.#record(app, event);
    await this.#writeStatus(app, status, signal);
  }

  async #runStep(
    step: ChildStep,
    model: AppModel,
    packagesVolume: PackagesVolumeDecision,
    warnings: string[],
    signal: AbortSignal,
  ): Promise<StepOutcome> {
    const { view, applier } = this.#deps;
    this.#ensureAdmitted(model.namespace);
    const live = view.child(step.type, model.namespace, step.childName(model.names));
    const context = { model, packagesVolume, live };
    const desired = step.desired(context);
    warnings.push(...(desired.warnings ?? []));
    if (desired.object === null) {
      if (live === undefined || step.deleteWhenUnwanted?.(context) === false) return 'unchanged';
      return applier.deleteIfPresent(step.type, live);
    }
    return (await applier.apply(step.type, desired.object, live, { signal })).result;
  }

  /** Installer ConfigMaps of earlier installers, once no pod mounts them or may again (installer-config-maps.ts). */
  async #removeUnusedInstallers(key: string, model: AppModel, failures: string[]): Promise<void> {
    const { view, applier } = this.#deps;
    const unused = unusedInstallerConfigMaps({
      desired: model.packages === undefined ? undefined : model.names.installerConfigMap,
      configMaps: view.childrenOf(ResourceTypes.ConfigMap, key),
      statefulSet: view.child(ResourceTypes.StatefulSet, model.namespace, model.names.statefulSet) as
        StatefulSet | undefined,
      pods: view.podsOf(key),
    });
    for (const configMap of unused) {
      this.#ensureAdmitted(model.namespace);
      try {
        const outcome = await applier.deleteIfPresent(ResourceTypes.ConfigMap, configMap);
        if (outcome === 'deleted') {
          this.#deps.logger.info('unused installer ConfigMap deleted', { app: key, name: configMap.metadata?.name });
        }
      } catch (error) {
        if (endsReconcile(error)) throw error;
        failures.push(`${configMap.metadata?.name ?? ''}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  async #writeStatus(app: KasprApp, status: KasprAppStatus, signal: AbortSignal): Promise<void> {
    this.#ensureAdmitted(app.metadata.namespace ?? '');
    const outcome = await this.#deps.applier.applyStatus(KasprAppResource, app, status, { signal });
    if (outcome.result === 'patched') this.#deps.freshApps.remember(outcome.object);
  }

  async #record(app: KasprApp, event: AppEvent): Promise<void> {
    this.#ensureAdmitted(app.metadata.namespace ?? '');
    await this.#deps.events.record(app, event);
  }

  /** Before every request: another worker's reconcile may have learnt meanwhile that the namespace is going. */
  #ensureAdmitted(namespace: string): void {
    if (this.#terminatingNamespaces.has(namespace)) throw new NamespaceTerminatingError(namespace);
  }

  /** A child the apiserver refused (e.g. an invalid template field): say so on the app, then let the queue retry. */
  async #reportApplyFailure(app: KasprApp, message: string, signal: AbortSignal): Promise<void> {
    const previous = app.status ?? {};
    const conditions = setCondition(
      previous.conditions ?? [],
      { type: ConditionTypes.ready, status: 'False', reason: 'ApplyFailed', message },
      this.#now().toISOString(),
      app.metadata.generation,
    );
    const changed = readyMessage(previous) !== message || readyReason(previous) !== 'ApplyFailed';
    try {
      if (changed) await this.#record(app, { type: 'Warning', reason: 'ApplyFailed', message });
      await this.#writeStatus(app, { ...previous, conditions }, signal);
    } catch (statusError) {
      if (endsReconcile(statusError)) throw statusError;
      this.#deps.logger.warn('could not report an apply failure', { error: String(statusError) });
    }
  }
}

/** Stops a reconcile whose namespace refused another app's write as being deleted. */
class NamespaceTerminatingError extends Error {
  constructor(namespace: string) {
    super(`namespace ${namespace} is being deleted`);
    this.name = 'NamespaceTerminatingError';
  }
}

/** No answer, or a namespace that admits nothing: every later request of the reconcile would fail the same way. */
const endsReconcile = (error: unknown): boolean =>
  isTransportError(error) || isNamespaceTerminating(error) || error instanceof NamespaceTerminatingError;

const readyCondition = (status: KasprAppStatus | undefined) =>
  status?.conditions?.find((c) => c.type === ConditionTypes.ready);
const readyReason = (status: KasprAppStatus | undefined): string | undefined => readyCondition(status)?.reason;
const readyMessage = (status: KasprAppStatus | undefined): string | undefined => readyCondition(status)?.message;
