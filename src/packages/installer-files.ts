// The installer as the pods receive it: two files of a ConfigMap named after their content, so a new installer (an
// operator upgrade) is a new ConfigMap, and the old one stays what the pods of the old revision mount.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { INSTALLER_BOOTSTRAP_FILE, INSTALLER_MOUNT_PATH, INSTALLER_PROGRAM_FILE } from './installer-contract.ts';
import { INSTALLER_BOOTSTRAP, INSTALLER_PROGRAM } from './installer-source.generated.ts';

/** The installer ConfigMap's data: file name -> content. */
export const installerFiles: Readonly<Record<string, string>> = {
  [INSTALLER_BOOTSTRAP_FILE]: INSTALLER_BOOTSTRAP,
  [INSTALLER_PROGRAM_FILE]: INSTALLER_PROGRAM,
};

/**
 * 10 hex characters of a SHA-256 over both files: names the ConfigMap. 40 bits are plenty, as only the installers of
 * one app's live revisions ever share a name space.
 */
export const installerDigest = createHash('sha256')
  .update(JSON.stringify(Object.entries(installerFiles)))
  .digest('hex')
  .slice(0, 10);

/** Where the init container finds the files. */
export const installerBootstrapPath = posix.join(INSTALLER_MOUNT_PATH, INSTALLER_BOOTSTRAP_FILE);
export const installerProgramPath = posix.join(INSTALLER_MOUNT_PATH, INSTALLER_PROGRAM_FILE);
