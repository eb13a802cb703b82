// Child names, compatible with the original operator so that its apps are adopted, not duplicated.
import { installerDigest } from '../packages/installer-files.ts';

export interface ChildNames {
  /** `<n>-app`: the component name, also the StatefulSet, the headless Service and the ServiceAccount. */
  readonly component: string;
  readonly serviceAccount: string;
  readonly settingsConfigMap: string;
  readonly service: string;
  readonly headlessService: string;
  readonly statefulSet: string;
  readonly hpa: string;
  /** The volumeClaimTemplate of persistent-claim storage (and the data volume's name otherwise). */
  readonly dataVolume: string;
  readonly packagesClaim: string;
  /** The installer ConfigMap: named after the installer's content, so each installer has its own (python-packages.ts). */
  readonly installerConfigMap: string;
}

export function childNames(appName: string): ChildNames {
  const component = `${appName}-app`;
  return {
    component,
    serviceAccount: component,
    settingsConfigMap: `${component}-config`,
    service: `${component}-api`,
    headlessService: component,
    statefulSet: component,
    hpa: `${component}-hpa`,
    dataVolume: `${component}-pv`,
    packagesClaim: `${component}-python-packages`,
    installerConfigMap: `${component}-installer-${installerDigest}`,
  };
}
