// Defaults are constants, applied when building children and never written into the user's object (DESIGN
// decision 8). The CRD's descriptions state the same values; a unit test keeps the two in step.

export const defaults = {
  replicas: 1,
  pythonPackages: {
    offlineMode: false,
    installer: 'pip',
    cache: {
      enabled: true,
      size: '256Mi',
      accessMode: 'ReadWriteMany',
      deleteClaim: true,
    },
    installPolicy: {
      retries: 3,
      timeout: 600,
      onFailure: 'block',
    },
    credentials: {
      usernameKey: 'username',
      passwordKey: 'password',
    },
    resources: {
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { memory: '1Gi' },
    },
  },
  storage: {
    deleteClaim: false,
  },
  /** Applied to a probe the user asks for; without livenessProbe/readinessProbe the pod has none (as before). */
  probe: {
    initialDelaySeconds: 15,
    periodSeconds: 10,
    timeoutSeconds: 5,
    successThreshold: 1,
    failureThreshold: 3,
  },
} as const;
