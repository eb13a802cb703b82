import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import type { AppModel } from './app-model.ts';
import { childMetadata } from './metadata.ts';
import { settingsData } from './settings.ts';

export function buildSettingsConfigMap(model: AppModel): ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMetadata(model, model.names.settingsConfigMap),
    data: settingsData(model),
  };
}
