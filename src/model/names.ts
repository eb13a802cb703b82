// Child names, compatible with the original operator so that its apps are adopted, not duplicated.

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
  };
}
