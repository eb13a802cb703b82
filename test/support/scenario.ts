// The setting of most operator scenarios: a fresh namespace (with a pod simulator on a simulated cluster), a local
// wheel index its pods reach, and the operator watching that namespace; all of it cleaned up after the test.
import type { TestContext } from 'node:test';
import type { PythonPackagesSpec } from '../../src/api/types.ts';
import { createTestNamespace, type Cluster, type SimulatorSettings, type TestNamespace } from './integration.ts';
import { imagePath } from './kasprapps.ts';
import { startTestOperator, type TestOperator, type TestOperatorOptions } from './operator.ts';
import { startWheelIndex, type WheelIndex, type WheelIndexOptions } from './wheel-index.ts';

export interface Scenario {
  readonly ns: TestNamespace;
  readonly index: WheelIndex;
  readonly operator: TestOperator;
  readonly client: Cluster['client'];
  /** spec.pythonPackages installing `requirements` from the scenario's index. */
  readonly packages: (requirements: string[], extra?: Partial<PythonPackagesSpec>) => PythonPackagesSpec;
}

export interface ScenarioOptions {
  readonly simulator?: SimulatorSettings;
  readonly index?: WheelIndexOptions;
  readonly operator?: Partial<TestOperatorOptions>;
}

export async function startScenario(
  t: TestContext,
  cluster: Cluster,
  options: ScenarioOptions = {},
): Promise<Scenario> {
  const ns = await createTestNamespace(t, cluster, { path: imagePath, ...options.simulator });
  const index = await startWheelIndex({ reachableAt: cluster.serverAddressForPods, ...options.index });
  t.after(() => index.close());
  const operator = await startTestOperator(cluster, { namespaces: [ns.name], ...options.operator });
  return {
    ns,
    index,
    operator,
    client: cluster.client,
    packages: (requirements, extra = {}) => ({
      packages: requirements,
      indexUrl: index.url,
      trustedHosts: [index.host],
      ...extra,
    }),
  };
}
