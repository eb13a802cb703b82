// Events on the KasprApp, derived from status transitions rather than from reconciles: a reconcile may run a
// hundred times for one install, a transition happens once (and survives operator restarts, being in the status).
import type { KasprAppStatus } from '../api/types.ts';

export interface AppEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export function packagesEvents(previous: KasprAppStatus | undefined, next: KasprAppStatus): AppEvent[] {
  const before = previous?.pythonPackages;
  const after = next.pythonPackages;
  if (after === undefined) return [];
  const changed = before?.hash !== after.hash || before?.state !== after.state;
  if (!changed) return [];
  switch (after.state) {
    case 'Ready':
      return [
        {
          type: 'Normal',
          reason: 'PackagesInstalled',
          message: `${after.installed?.length ?? 0} distributions for spec hash ${after.hash ?? ''} installed by ${after.installedBy ?? 'a pod'} in ${after.installDuration ?? '?'}`,
        },
      ];
    case 'Failed':
      return [
        {
          type: 'Warning',
          reason: 'PackagesInstallFailed',
          message: `spec hash ${after.hash ?? ''}: ${after.errorType ?? 'unknown'}: ${after.error ?? ''}`,
        },
      ];
    case 'Installing':
      return before?.hash !== after.hash
        ? [
            {
              type: 'Normal',
              reason: 'PackagesInstalling',
              message: `installing packages for spec hash ${after.hash ?? ''}`,
            },
          ]
        : [];
    default:
      return [];
  }
}

export function invalidSpecEvent(messages: readonly string[]): AppEvent {
  return { type: 'Warning', reason: 'InvalidSpec', message: messages.join('; ') };
}
