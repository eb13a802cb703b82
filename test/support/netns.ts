// The real node's network lives in a private network namespace that the whole test run (or `kasprop local`) enters
// at its start: `unshare --net --fork`, done by the entry points, since a running Node.js process cannot switch.
import { readlinkSync } from 'node:fs';

/** The network namespace the entry point ran in, handed down so that the run can tell it left it. */
const parentNamespaceEnv = 'KASPROP_PARENT_NETNS';

/**
 * Whether this process runs in a network namespace other than its entry point's, i.e. one made for it. (PID 1's
 * is no reference: in a sandbox it may be neither the host's nor ours.)
 */
export function inPrivateNetworkNamespace(): boolean {
  const parent = process.env[parentNamespaceEnv];
  return parent !== undefined && parent !== ownNetworkNamespace();
}

/**
 * The command that runs `command args...` in a new network namespace whose loopback is up (a new namespace starts
 * with every link down), killed with its parent, and the environment entry that lets it know. The script is
 * constant; the command and its arguments stay words.
 */
export function inNewNetworkNamespace(
  command: string,
  args: readonly string[],
): { command: string; args: string[]; env: Record<string, string> } {
  const loopbackUp = 'ip link set lo up && exec "$@"';
  return {
    command: 'unshare',
    args: ['--net', '--fork', '--kill-child', '--', 'sh', '-c', loopbackUp, 'sh', command, ...args],
    env: { [parentNamespaceEnv]: ownNetworkNamespace() },
  };
}

function ownNetworkNamespace(): string {
  return readlinkSync('/proc/self/ns/net');
}
