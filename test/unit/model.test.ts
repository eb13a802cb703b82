import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Container, PersistentVolumeClaim, Service } from 'kubernetes-types/core/v1.js';
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import type { KasprApp, PythonPackagesSpec } from '../../src/api/types.ts';
import { validateKasprApp } from '../../src/api/validation.ts';
import { resolveApp } from '../../src/model/app-model.ts';
import type { ValidKasprApp } from '../../src/api/valid-app.ts';
import { buildChildren, type DesiredObject } from '../../src/model/children.ts';
import { defaultOperatorSettings, operatorSettingsFromEnv } from '../../src/model/operator-settings.ts';
import { distributionStoreDirectory, INSTALLER_ENV, pipCacheDirectory } from '../../src/packages/installer-contract.ts';
import { installerDigest } from '../../src/packages/installer-files.ts';
import { INSTALLER_BOOTSTRAP, INSTALLER_PROGRAM } from '../../src/packages/installer-source.generated.ts';

const uid = '6f1b7c2e-0000-4000-8000-000000000001';

function app(pythonPackages?: PythonPackagesSpec, extra: Partial<KasprApp['spec']> = {}): ValidKasprApp {
  const manifest = {
    apiVersion: 'kaspr.io/v1alpha1',
    kind: 'KasprApp',
    metadata: { name: 'orders', namespace: 'streams', uid },
    spec: { bootstrapServers: 'kafka:9092', replicas: 3, ...extra, ...(pythonPackages && { pythonPackages }) },
  };
  const result = validateKasprApp(manifest);
  assert.ok(result.ok, JSON.stringify(result));
  return result.valid;
}

const children = (a: ValidKasprApp, settings = defaultOperatorSettings): DesiredObject[] =>
  buildChildren(resolveApp(a, settings));

function find(objects: DesiredObject[], kind: string, name?: string): DesiredObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  assert.ok(found, `no ${kind} ${name ?? ''}`);
  return found;
}

const statefulSet = (objects: DesiredObject[]): StatefulSet => find(objects, 'StatefulSet') as StatefulSet;
const podSpec = (objects: DesiredObject[]) => statefulSet(objects).spec!.template.spec!;
const initContainer = (objects: DesiredObject[]): Container => podSpec(objects).initContainers![0]!;
const mainContainer = (objects: DesiredObject[]): Container => podSpec(objects).containers[0]!;
const envValue = (container: Container, name: string) => container.env?.find((e) => e.name === name);

const packages: PythonPackagesSpec = { packages: ['requests==2.31.0', 'Python_DateUtil ~= 2.8'] };

describe('children of a KasprApp', () => {
  test('names, kinds and apply order', () => {
    assert.deepEqual(
      children(app(packages)).map((o) => `${o.kind}/${o.metadata?.name}`),
      [
        'ServiceAccount/orders-app',
        'ConfigMap/orders-app-config',
        'Service/orders-app-api',
        'Service/orders-app',
        `ConfigMap/orders-app-installer-${installerDigest}`,
        'PersistentVolumeClaim/orders-app-python-packages',
        'StatefulSet/orders-app',
        'HorizontalPodAutoscaler/orders-app-hpa',
      ],
    );
  });

  test('every child carries the app labels and lives in the app namespace', () => {
    for (const child of children(app(packages))) {
      assert.equal(child.metadata!.namespace, 'streams');
      assert.deepEqual(
        { ...child.metadata!.labels, 'kaspr.io/component': undefined },
        {
          'kaspr.io/kind': 'KasprApp',
          'kaspr.io/name': 'orders-app',
          'kaspr.io/cluster': 'orders',
          'kaspr.io/component-type': 'KasprApp',
          'kaspr.io/app': 'orders',
          'app.kubernetes.io/name': 'KasprApp',
          'app.kubernetes.io/instance': 'orders',
          'app.kubernetes.io/part-of': 'kaspr-orders',
          'app.kubernetes.io/managed-by': 'kasprop',
          'kaspr.io/component': undefined,
        },
      );
    }
    const claim = find(children(app(packages)), 'PersistentVolumeClaim') as PersistentVolumeClaim;
    assert.equal(claim.metadata?.labels?.['kaspr.io/component'], 'python-packages');
  });

  test('the selector uses only cluster, name and kind, and does not change with the spec', () => {
    const selector = { 'kaspr.io/cluster': 'orders', 'kaspr.io/name': 'orders-app', 'kaspr.io/kind': 'KasprApp' };
    const variants = [
      app(),
      app(packages),
      app(packages, { replicas: 0, image: 'x/y:1', template: { pod: { metadata: { labels: { team: 'a' } } } } }),
    ];
    for (const variant of variants) {
      const objects = children(variant);
      assert.deepEqual(statefulSet(objects).spec?.selector, { matchLabels: selector });
      assert.deepEqual((find(objects, 'Service', 'orders-app-api') as Service).spec!.selector, selector);
      assert.deepEqual((find(objects, 'Service', 'orders-app') as Service).spec!.selector, selector);
      // Pods carry every selector label.
      const podLabels = statefulSet(objects).spec?.template.metadata?.labels ?? {};
      for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v);
    }
  });

  test('every child has a controller ownerReference to the KasprApp', () => {
    for (const child of children(app(packages))) {
      assert.deepEqual(child.metadata?.ownerReferences, [
        {
          apiVersion: 'kaspr.io/v1alpha1',
          kind: 'KasprApp',
          name: 'orders',
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  test('the packages claim has no ownerReference when deleteClaim is false', () => {
    const objects = children(app({ ...packages, cache: { deleteClaim: false } }));
    assert.equal(find(objects, 'PersistentVolumeClaim').metadata?.ownerReferences, undefined);
    assert.ok(statefulSet(objects).metadata?.ownerReferences);
  });

  test('services: ClusterIP API service and headless service publishing not-ready pods, port http 6065', () => {
    const objects = children(app());
    const api = find(objects, 'Service', 'orders-app-api') as Service;
    const headless = find(objects, 'Service', 'orders-app') as Service;
    assert.equal(api.spec!.type, 'ClusterIP');
    assert.equal(headless.spec!.clusterIP, 'None');
    assert.equal(headless.spec!.publishNotReadyAddresses, true);
    for (const service of [api, headless]) {
      assert.deepEqual(service.spec!.ports, [{ name: 'http', protocol: 'TCP', port: 6065, targetPort: 6065 }]);
    }
  });

  test('the settings ConfigMap holds the K_* settings plus spec.config', () => {
    const objects = children(
      app(undefined, {
        config: { topic_partitions: 6, web_port: 1 },
        tls: {},
        authentication: {
          type: 'scram-sha-512',
          username: 'svc',
          passwordSecret: { secretName: 'kafka-pw', passwordKey: 'pw' },
        },
      }),
    );
    assert.deepEqual((find(objects, 'ConfigMap') as ConfigMap).data, {
      K_APP_NAME: 'orders-app',
      K_DATA_DIR: '/var/lib/data',
      K_DEFINITIONS_DIR: '/var/lib/data/definitions',
      K_KAFKA_AUTH_USERNAME: 'svc',
      K_KAFKA_BOOTSTRAP_SERVERS: 'kafka:9092',
      K_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      K_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      K_TABLE_DIR: '/var/lib/data/tables',
      K_TOPIC_PARTITIONS: '6',
      K_WEB_PORT: '6065',
    });
    const main = mainContainer(objects);
    assert.deepEqual(envValue(main, 'K_KAFKA_AUTH_PASSWORD')?.valueFrom, {
      secretKeyRef: { name: 'kafka-pw', key: 'pw' },
    });
    assert.deepEqual(envValue(main, 'K_CONSUMER_GROUP_INSTANCE_ID')?.valueFrom, {
      fieldRef: { fieldPath: 'metadata.name' },
    });
    assert.deepEqual(envValue(main, 'POD_NAME')?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.deepEqual(envValue(main, 'K_TOPIC_PARTITIONS')?.valueFrom, {
      configMapKeyRef: { name: 'orders-app-config', key: 'K_TOPIC_PARTITIONS' },
    });
  });

  test('statefulset: headless service, Parallel, RollingUpdate, replicas left to the HPA', () => {
    const objects = children(app());
    const spec = statefulSet(objects).spec!;
    assert.equal(spec.serviceName, 'orders-app');
    assert.equal(spec.podManagementPolicy, 'Parallel');
    assert.deepEqual(spec.updateStrategy, { type: 'RollingUpdate' });
    assert.equal(spec.replicas, undefined);
    const hpa = find(objects, 'HorizontalPodAutoscaler') as HorizontalPodAutoscaler;
    assert.deepEqual(hpa.spec!.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'orders-app' });
    assert.equal(hpa.spec!.minReplicas, 3);
    assert.equal(hpa.spec!.maxReplicas, 3);
  });

  test('replicas 0: the StatefulSet holds 0 and there is no HPA', () => {
    const objects = children(app(undefined, { replicas: 0 }));
    assert.equal(statefulSet(objects).spec?.replicas, 0);
    assert.equal(
      objects.find((o) => o.kind === 'HorizontalPodAutoscaler'),
      undefined,
    );
  });

  test('persistent storage: claim template <n>-app-pv with the retention policy from deleteClaim', () => {
    const objects = children(
      app(undefined, { storage: { type: 'persistent-claim', size: '5Gi', class: 'fast', deleteClaim: true } }),
    );
    const spec = statefulSet(objects).spec!;
    assert.deepEqual(spec.volumeClaimTemplates, [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'orders-app-pv' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } }, storageClassName: 'fast' },
      },
    ]);
    assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Delete', whenScaled: 'Retain' });
    const retained = children(app(undefined, { storage: { type: 'persistent-claim', size: '5Gi' } }));
    assert.equal(statefulSet(retained).spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted, 'Retain');
    assert.equal(podSpec(objects).volumes, undefined);
  });

  test('image from spec.image, else from spec.version, else the default version', () => {
    assert.equal(
      mainContainer(children(app(undefined, { image: 'registry.example.com/kaspr:custom' }))).image,
      'registry.example.com/kaspr:custom',
    );
    assert.equal(mainContainer(children(app(undefined, { version: '0.11.4' }))).image, 'kasprio/kaspr:0.11.4');
    assert.equal(mainContainer(children(app())).image, 'kasprio/kaspr:0.11.19');
  });
});

describe('children with pythonPackages', () => {
  test('the claim: ReadWriteMany, default 256Mi, storage class when given', () => {
    const claim = find(children(app(packages)), 'PersistentVolumeClaim') as PersistentVolumeClaim;
    assert.deepEqual(claim.spec, { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '256Mi' } } });
    const custom = find(
      children(app({ ...packages, cache: { storageClass: 'nfs', size: '2Gi', accessMode: 'ReadWriteOnce' } })),
      'PersistentVolumeClaim',
    ) as PersistentVolumeClaim;
    assert.deepEqual(custom.spec, {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '2Gi' } },
      storageClassName: 'nfs',
    });
  });

  test('cache disabled: no claim, a per-pod emptyDir instead', () => {
    const objects = children(app({ ...packages, cache: { enabled: false } }));
    assert.equal(
      objects.find((o) => o.kind === 'PersistentVolumeClaim'),
      undefined,
    );
    assert.deepEqual(
      podSpec(objects).volumes?.find((v) => v.name === 'python-packages'),
      { name: 'python-packages', emptyDir: { sizeLimit: '256Mi' } },
    );
  });

  test('the emptyDir fallback keeps the claim but mounts an emptyDir', () => {
    const model = resolveApp(app(packages), defaultOperatorSettings);
    const objects = buildChildren(model, { packagesVolume: 'emptyDir' });
    assert.ok(objects.find((o) => o.kind === 'PersistentVolumeClaim'));
    assert.ok(podSpec(objects).volumes?.find((v) => v.name === 'python-packages')?.emptyDir);
    assert.deepEqual(
      podSpec(buildChildren(model)).volumes?.find((v) => v.name === 'python-packages'),
      { name: 'python-packages', persistentVolumeClaim: { claimName: 'orders-app-python-packages' } },
    );
  });

  test('the installer: one immutable ConfigMap named after its content, owned by the app, mounted by the init container', () => {
    const objects = children(app(packages));
    const name = `orders-app-installer-${installerDigest}`;
    assert.match(installerDigest, /^[0-9a-f]{10}$/);
    const configMap = find(objects, 'ConfigMap', name) as ConfigMap;
    assert.equal(configMap.immutable, true);
    assert.deepEqual(configMap.data, { 'bootstrap.sh': INSTALLER_BOOTSTRAP, 'installer.py': INSTALLER_PROGRAM });
    assert.equal(configMap.metadata?.labels?.['kaspr.io/component'], 'python-packages-installer');
    assert.deepEqual(
      configMap.metadata.ownerReferences?.map((o) => [o.kind, o.uid, o.controller]),
      [['KasprApp', uid, true]],
    );
    assert.deepEqual(
      podSpec(objects).volumes?.find((v) => v.name === 'python-packages-installer'),
      { name: 'python-packages-installer', configMap: { name } },
    );
    assert.ok(
      !mainContainer(objects).volumeMounts?.some((m) => m.name === 'python-packages-installer'),
      'the app container does not see the installer',
    );
    const template = JSON.stringify(statefulSet(objects).spec?.template);
    for (const source of [INSTALLER_BOOTSTRAP, INSTALLER_PROGRAM]) {
      assert.ok(
        !template.includes(JSON.stringify(source.slice(0, 200)).slice(1, -1)),
        'no installer source in the pod',
      );
    }
    assert.equal(
      children(app()).find((o) => o.metadata?.name?.includes('-installer-')),
      undefined,
      'no installer without packages',
    );
  });

  test('pythonPackages adds at most 2 KB to the pod template; the basic example StatefulSet is at most 8 KB', () => {
    const example = parse(readFileSync('examples/python-packages/basic.yaml', 'utf8')) as KasprApp;
    const { pythonPackages: _, ...withoutPackages } = example.spec;
    const build = (manifest: unknown): StatefulSet => {
      const result = validateKasprApp(manifest);
      assert.ok(result.ok);
      return statefulSet(buildChildren(resolveApp(result.valid, defaultOperatorSettings)));
    };
    const withPackages = build(example);
    const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));
    const added =
      bytes(withPackages.spec?.template) - bytes(build({ ...example, spec: withoutPackages }).spec?.template);
    assert.ok(added <= 2048, `pythonPackages adds ${String(added)} bytes to the pod template`);
    assert.ok(bytes(withPackages) <= 8192, `the StatefulSet is ${String(bytes(withPackages))} bytes of JSON`);
    const yaml = Buffer.byteLength(stringify(withPackages));
    assert.ok(yaml <= 8192, `the StatefulSet is ${String(yaml)} bytes of YAML`);
  });

  test('the install-packages init container: app image, constant command, env, mount, resources, termination policy', () => {
    const a = app({
      ...packages,
      indexUrl: 'https://pypi.example.com/simple',
      extraIndexUrls: ['https://m1.example.com/simple', 'https://m2.example.com/simple'],
      trustedHosts: ['m1.example.com'],
      credentials: { secretRef: { name: 'pypi' } },
      installPolicy: { retries: 1, timeout: 120, onFailure: 'allow' },
    });
    const objects = children(a);
    const init = initContainer(objects);
    const hash = resolveApp(a, defaultOperatorSettings).packages!.hash;
    assert.equal(init.name, 'install-packages');
    assert.equal(init.image, mainContainer(objects).image);
    assert.deepEqual(init.command, ['/bin/sh']);
    assert.deepEqual(init.args, ['/kasprop/installer/bootstrap.sh', '/kasprop/installer/installer.py']);
    assert.equal(init.terminationMessagePolicy, 'FallbackToLogsOnError');
    assert.equal(init.terminationMessagePath, '/dev/termination-log');
    assert.deepEqual(init.volumeMounts, [
      { name: 'python-packages', mountPath: '/packages' },
      { name: 'python-packages-installer', mountPath: '/kasprop/installer', readOnly: true },
    ]);
    assert.deepEqual(init.resources, { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } });
    assert.deepEqual(init.env, [
      { name: INSTALLER_ENV.hash, value: hash },
      { name: INSTALLER_ENV.requirements, value: 'requests==2.31.0\npython-dateutil~=2.8' },
      { name: INSTALLER_ENV.indexUrl, value: 'https://pypi.example.com/simple' },
      { name: INSTALLER_ENV.extraIndexUrls, value: 'https://m1.example.com/simple\nhttps://m2.example.com/simple' },
      { name: INSTALLER_ENV.trustedHosts, value: 'm1.example.com' },
      { name: INSTALLER_ENV.indexUsername, valueFrom: { secretKeyRef: { name: 'pypi', key: 'username' } } },
      { name: INSTALLER_ENV.indexPassword, valueFrom: { secretKeyRef: { name: 'pypi', key: 'password' } } },
      { name: INSTALLER_ENV.retries, value: '1' },
      { name: INSTALLER_ENV.timeoutSeconds, value: '120' },
      { name: INSTALLER_ENV.onFailure, value: 'allow' },
      { name: INSTALLER_ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: INSTALLER_ENV.dir, value: '/packages' },
      { name: INSTALLER_ENV.terminationLog, value: '/dev/termination-log' },
    ]);
    // No user string anywhere in the command line.
    assert.ok(!JSON.stringify([init.command, init.args]).includes('requests'));
  });

  test('packagesWithHashes reach the installer as canonical lock lines in their own variable, not in args', () => {
    const digest = 'AB'.repeat(32);
    const a = app({
      packages: ['Requests>=2'],
      packagesWithHashes: [
        {
          name: 'Requests',
          version: '2.31.0',
          hashes: [
            { algorithm: 'sha512', digest: 'c'.repeat(128) },
            { algorithm: 'sha256', digest },
          ],
        },
      ],
    });
    const init = initContainer(children(a));
    assert.equal(envValue(init, INSTALLER_ENV.requirements)?.value, 'requests>=2');
    assert.equal(
      envValue(init, INSTALLER_ENV.locked)?.value,
      `requests==2.31.0 sha256:${digest.toLowerCase()} sha512:${'c'.repeat(128)}`,
    );
    assert.ok(!JSON.stringify([init.command, init.args]).includes(digest.toLowerCase()));
    assert.equal(envValue(initContainer(children(app(packages))), INSTALLER_ENV.locked), undefined);
  });

  test('a bundle: its volume of each type, mounted read-only by the init container only, its directory in the env', () => {
    const cases: [PythonPackagesSpec['bundleSource'], Record<string, unknown>, string][] = [
      [{ type: 'configmap', name: 'wheels' }, { configMap: { name: 'wheels' } }, '/kasprop/bundle'],
      [{ type: 'secret', name: 'wheels' }, { secret: { secretName: 'wheels' } }, '/kasprop/bundle'],
      [
        { type: 'pvc', name: 'wheels', path: 'py311/wheels' },
        { persistentVolumeClaim: { claimName: 'wheels', readOnly: true } },
        '/kasprop/bundle/py311/wheels',
      ],
      [
        { type: 'image', reference: 'registry.example/wheels:1' },
        { image: { reference: 'registry.example/wheels:1', pullPolicy: 'IfNotPresent' } },
        '/kasprop/bundle',
      ],
    ];
    for (const [bundleSource, source, dir] of cases) {
      const objects = children(app({ ...packages, bundleSource }));
      assert.deepEqual(
        podSpec(objects).volumes?.find((v) => v.name === 'python-packages-bundle'),
        { name: 'python-packages-bundle', ...source },
      );
      const init = initContainer(objects);
      assert.deepEqual(
        init.volumeMounts?.find((m) => m.name === 'python-packages-bundle'),
        { name: 'python-packages-bundle', mountPath: '/kasprop/bundle', readOnly: true },
      );
      assert.equal(envValue(init, INSTALLER_ENV.bundleDir)?.value, dir);
      assert.equal(envValue(init, INSTALLER_ENV.offline), undefined);
      assert.ok(!mainContainer(objects).volumeMounts?.some((m) => m.name === 'python-packages-bundle'));
    }
    assert.equal(envValue(initContainer(children(app(packages))), INSTALLER_ENV.bundleDir), undefined);
  });

  test('offlineMode: the installer is told so and gets no index, extra index, trusted host or credentials', () => {
    const online = {
      ...packages,
      indexUrl: 'https://pypi.example.com/simple',
      extraIndexUrls: ['https://mirror.example.com/simple'],
      trustedHosts: ['mirror.example.com'],
      credentials: { secretRef: { name: 'pypi' } },
      bundleSource: { type: 'pvc' as const, name: 'wheels' },
    };
    const names = (spec: PythonPackagesSpec) =>
      (initContainer(children(app(spec))).env ?? []).map((e) => e.name).filter((n) => n.startsWith('KASPR_'));
    const offline = names({ ...online, offlineMode: true });
    assert.deepEqual(
      names(online).filter((n) => !offline.includes(n)),
      [
        INSTALLER_ENV.indexUrl,
        INSTALLER_ENV.extraIndexUrls,
        INSTALLER_ENV.trustedHosts,
        INSTALLER_ENV.indexUsername,
        INSTALLER_ENV.indexPassword,
      ],
    );
    assert.equal(
      envValue(initContainer(children(app({ ...online, offlineMode: true }))), INSTALLER_ENV.offline)?.value,
      'true',
    );
  });

  test('installer reaches the installer only when it is not pip, the default (pip apps keep their template)', () => {
    for (const installer of ['uv', 'auto'] as const) {
      const init = initContainer(children(app({ ...packages, installer })));
      assert.equal(envValue(init, INSTALLER_ENV.installer)?.value, installer);
    }
    assert.equal(
      envValue(initContainer(children(app({ ...packages, installer: 'pip' }))), INSTALLER_ENV.installer),
      undefined,
    );
    assert.equal(envValue(initContainer(children(app(packages))), INSTALLER_ENV.installer), undefined);
  });

  test('the init container takes resources from the spec and template env and mounts', () => {
    const init = initContainer(
      children(
        app(
          { ...packages, resources: { requests: { cpu: 1, memory: '1Gi' } } },
          {
            template: {
              pythonPackagesInitContainer: {
                env: [{ name: 'HTTPS_PROXY', value: 'http://proxy.example.com:3128' }],
                volumeMounts: [{ name: 'ca', mountPath: '/etc/ssl/custom' }],
              },
            },
          },
        ),
      ),
    );
    assert.deepEqual(init.resources, { requests: { cpu: '1', memory: '1Gi' } });
    assert.deepEqual(init.env?.at(-1), { name: 'HTTPS_PROXY', value: 'http://proxy.example.com:3128' });
    assert.deepEqual(init.volumeMounts?.at(-1), { name: 'ca', mountPath: '/etc/ssl/custom' });
  });

  test('the main container mounts only its own hash directory, read-only, and imports from it', () => {
    const a = app(packages);
    const main = mainContainer(children(a));
    const hash = resolveApp(a, defaultOperatorSettings).packages!.hash;
    const mounts = main.volumeMounts?.filter((m) => m.name === 'python-packages');
    assert.deepEqual(mounts, [
      {
        name: 'python-packages',
        mountPath: `/packages/envs/${hash}`,
        subPath: `envs/${hash}`,
        readOnly: true,
      },
    ]);
    // So the store of distributions and pip's cache, beside envs/ on the volume, are not in the main container.
    const mounted = `/${mounts[0]?.subPath ?? ''}/`;
    for (const hidden of [distributionStoreDirectory('/'), pipCacheDirectory('/')]) {
      assert.ok(!mounted.startsWith(`${hidden}/`) && !`${hidden}/`.startsWith(mounted), hidden);
    }
    assert.deepEqual(envValue(main, 'PYTHONPATH'), { name: 'PYTHONPATH', value: `/packages/envs/${hash}` });
  });

  test('the pod-template annotation changes with the hash, not with retries, timeout, onFailure or resources', () => {
    const annotation = (p: PythonPackagesSpec) =>
      statefulSet(children(app(p))).spec?.template.metadata?.annotations?.['kaspr.io/python-packages-hash'];
    const base = annotation(packages);
    assert.match(base ?? '', /^[0-9a-f]{16}$/);
    assert.equal(
      annotation({
        ...packages,
        installPolicy: { retries: 0, timeout: 3000, onFailure: 'allow' },
        resources: { limits: { memory: '3Gi' } },
      }),
      base,
    );
    assert.notEqual(annotation({ packages: ['requests==2.32.0', 'python-dateutil~=2.8'] }), base);
    assert.notEqual(annotation({ ...packages, indexUrl: 'https://pypi.example.com/simple' }), base);
  });

  test('without pythonPackages the output is exactly that of an app that never had the feature', () => {
    const plain = children(app());
    assert.equal(podSpec(plain).initContainers, undefined);
    assert.equal(statefulSet(plain).spec?.template.metadata?.annotations, undefined);
    assert.equal(envValue(mainContainer(plain), 'PYTHONPATH'), undefined);
    assert.ok(!JSON.stringify(plain).includes('python-packages'));
    assert.ok(!JSON.stringify(plain).includes('KASPR_PACKAGES'));
  });

  test('PYTHON_PACKAGES_ENABLED=false ignores pythonPackages with a warning', () => {
    const settings = operatorSettingsFromEnv({ PYTHON_PACKAGES_ENABLED: 'false' });
    const model = resolveApp(app(packages), settings);
    assert.equal(model.packages, undefined);
    assert.deepEqual(model.warnings, [
      'spec.pythonPackages is ignored: the operator runs with PYTHON_PACKAGES_ENABLED=false',
    ]);
    assert.deepEqual(buildChildren(model), children(app()));
    assert.throws(() => operatorSettingsFromEnv({ PYTHON_PACKAGES_ENABLED: 'maybe' }), /PYTHON_PACKAGES_ENABLED/);
  });
});

describe('template lists merged without duplicate keys (server-side apply refuses them)', () => {
  test('main container: a template variable replaces the operator one of the same name and comes last', () => {
    const main = mainContainer(
      children(
        app(undefined, {
          template: {
            kasprContainer: {
              env: [
                { name: 'K_WEB_PORT', value: '7000' },
                { name: 'EXTRA', value: '$(POD_NAME)-x' },
              ],
              volumeMounts: [
                { name: 'orders-app-pv', mountPath: '/var/lib/data/tables' },
                { name: 'certs', mountPath: '/certs' },
              ],
            },
          },
        }),
      ),
    );
    const names = main.env!.map((e) => e.name);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(main.env!.slice(-2), [
      { name: 'K_WEB_PORT', value: '7000' },
      { name: 'EXTRA', value: '$(POD_NAME)-x' },
    ]);
    assert.deepEqual(
      main.volumeMounts!.map((m) => m.mountPath),
      ['/var/lib/data/tables', '/certs'],
    );
  });

  test('init container: installer inputs cannot come from the template; other template variables are added', () => {
    const template = {
      pythonPackagesInitContainer: {
        env: [
          { name: 'KASPR_PACKAGES_HASH', value: 'deadbeefdeadbeef' },
          { name: 'KASPR_PACKAGES_INDEX_URL', value: 'https://u:p@evil.example.com/simple' },
          { name: 'HTTPS_PROXY', value: 'http://proxy:3128' },
        ],
      },
    };
    // Validation refuses such a spec...
    const refused = validateKasprApp({
      apiVersion: 'kaspr.io/v1alpha1',
      kind: 'KasprApp',
      metadata: { name: 'orders', namespace: 'streams', uid },
      spec: { bootstrapServers: 'kafka:9092', pythonPackages: packages, template },
    });
    assert.deepEqual(refused.ok ? [] : refused.errors.map((e) => e.path), [
      'spec.template.pythonPackagesInitContainer.env[0].name',
      'spec.template.pythonPackagesInitContainer.env[1].name',
    ]);
    // ...and the builder drops them should one get through.
    const valid = app(packages);
    const unchecked = { ...valid, app: { ...valid.app, spec: { ...valid.app.spec, template } } };
    const init = initContainer(children(unchecked));
    assert.deepEqual(
      init
        .env!.filter((e) => e.name.startsWith('KASPR_PACKAGES_HASH') || e.name === 'KASPR_PACKAGES_INDEX_URL')
        .map((e) => e.value),
      [resolveApp(app(packages), defaultOperatorSettings).packages!.hash],
    );
    assert.ok(init.env!.some((e) => e.name === 'HTTPS_PROXY'));
  });

  test('main container: a template PYTHONPATH value comes after the packages directory instead of replacing it', () => {
    const a = app(packages, { template: { kasprContainer: { env: [{ name: 'PYTHONPATH', value: '/app/lib' }] } } });
    const main = mainContainer(children(a));
    const hash = resolveApp(a, defaultOperatorSettings).packages!.hash;
    assert.deepEqual(
      main.env!.filter((e) => e.name === 'PYTHONPATH'),
      [{ name: 'PYTHONPATH', value: `/packages/envs/${hash}:/app/lib` }],
    );
    // Without packages the template's PYTHONPATH is used as it is.
    const plain = mainContainer(
      children(app(undefined, { template: { kasprContainer: { env: [{ name: 'PYTHONPATH', value: '/app/lib' }] } } })),
    );
    assert.deepEqual(
      plain.env!.filter((e) => e.name === 'PYTHONPATH'),
      [{ name: 'PYTHONPATH', value: '/app/lib' }],
    );
  });

  test('template volumes do not replace the operator volumes', () => {
    const volumes = podSpec(
      children(
        app(packages, {
          template: {
            pod: {
              volumes: [
                { name: 'python-packages', emptyDir: {} },
                { name: 'certs', secret: { secretName: 'c' } },
              ],
            },
          },
        }),
      ),
    ).volumes!;
    assert.deepEqual(
      volumes.map((v) => v.name),
      ['orders-app-pv', 'python-packages', 'python-packages-installer', 'certs'],
    );
    assert.ok(volumes.find((v) => v.name === 'python-packages')?.persistentVolumeClaim);
  });
});
