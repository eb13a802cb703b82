// The app's settings, as the K_* environment the Kaspr framework reads. They live in the `<n>-app-config`
// ConfigMap and reach the container through configMapKeyRef, as with the original operator.
import { createHash } from 'node:crypto';
import type { AppModel } from './app-model.ts';

export const webPort = 6065;
export const webPortName = 'http';
export const dataDir = '/var/lib/data';
export const tableDir = '/var/lib/data/tables';
export const definitionsDir = '/var/lib/data/definitions';

/** `topic_partitions` -> `K_TOPIC_PARTITIONS`, the framework's naming of settings as environment variables. */
export const settingEnvName = (setting: string): string => `K_${setting.toUpperCase()}`;

const saslMechanisms = { 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512', plain: 'PLAIN' } as const;

export function settingsData(model: AppModel): Record<string, string> {
  const { spec } = model.app;
  const fromConfig = Object.entries(spec.config ?? {}).map(([key, value]) => [
    settingEnvName(key),
    typeof value === 'string' ? value : JSON.stringify(value),
  ]);
  const tls = spec.tls !== undefined;
  const auth = spec.authentication;
  const security: Record<string, string> =
    auth !== undefined
      ? {
          [settingEnvName('kafka_security_protocol')]: tls ? 'SASL_SSL' : 'SASL_PLAINTEXT',
          [settingEnvName('kafka_sasl_mechanism')]: saslMechanisms[auth.type],
          ...(auth.username !== undefined && { [settingEnvName('kafka_auth_username')]: auth.username }),
        }
      : { [settingEnvName('kafka_security_protocol')]: tls ? 'SSL' : 'PLAINTEXT' };
  // The operator's own settings win over spec.config: they describe how the pod is actually built.
  const entries: [string, string][] = [
    ...(fromConfig as [string, string][]),
    [settingEnvName('app_name'), model.names.component],
    [settingEnvName('kafka_bootstrap_servers'), spec.bootstrapServers],
    ...Object.entries(security),
    [settingEnvName('web_port'), String(webPort)],
    [settingEnvName('data_dir'), dataDir],
    [settingEnvName('table_dir'), tableDir],
    [settingEnvName('definitions_dir'), definitionsDir],
  ];
  return Object.fromEntries([...new Map(entries)].sort(([a], [b]) => a.localeCompare(b)));
}

/** Changes whenever the settings do; set on the pod template so that new settings roll the pods. */
export function settingsHash(data: Readonly<Record<string, string>>): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 16);
}
