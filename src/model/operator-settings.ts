// Operator-wide settings that change what is built. They come from the operator's environment at the edge
// (src/cli) and reach the pure builders as an argument.

export interface OperatorSettings {
  /** PYTHON_PACKAGES_ENABLED: when false, spec.pythonPackages is ignored (with a warning). */
  readonly pythonPackagesEnabled: boolean;
}

export const defaultOperatorSettings: OperatorSettings = { pythonPackagesEnabled: true };

/** Reads the settings from environment variables (called at the edge, never by builders). */
export function operatorSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): OperatorSettings {
  const flag = env.PYTHON_PACKAGES_ENABLED?.trim().toLowerCase();
  if (flag !== undefined && !['true', 'false', '1', '0', 'yes', 'no'].includes(flag)) {
    throw new Error(
      `PYTHON_PACKAGES_ENABLED must be true or false, not ${JSON.stringify(env.PYTHON_PACKAGES_ENABLED)}`,
    );
  }
  return { pythonPackagesEnabled: flag === undefined || ['true', '1', 'yes'].includes(flag) };
}
