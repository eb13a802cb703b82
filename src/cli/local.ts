// `kasprop local` (`npm start`): everything on this machine, to try kasprop in a minute. The control plane, pod
// simulator and wheel index are the integration tests' own (test/support), loaded only when this command runs,
// so `kasprop run` never loads test code.
import type { ParseArgsOptionsConfig } from 'node:util';
import { parseLogLevel, type LogLevel } from '../runtime/logger.ts';
import type { OptionValues } from './commands.ts';
import type { CommandIo } from './validate.ts';

export const defaultLocalExample = 'examples/python-packages/basic.yaml';

export const localOptions = {
  options: {
    file: { type: 'string', short: 'f', default: defaultLocalExample },
    'index-url': { type: 'string' },
    'until-ready': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
  },
  help: `  -f, --file FILE      the KasprApp manifest to apply (default ${defaultLocalExample})
  --index-url URL      install from this package index (e.g. https://pypi.org/simple) instead of the local one,
                       which serves stand-in wheels with the names and versions the manifest asks for
  --until-ready        exit once the app is Ready (default: keep running until Ctrl-C)
  --log-level LEVEL    the operator's log level (default warn)`,
} as const satisfies { options: ParseArgsOptionsConfig; help: string };

/** Said next to the kubectl command with --until-ready: the cluster that command points at is gone on exit. */
export const untilReadyNote =
  '[cluster] with --until-ready, this cluster and its kubeconfig are removed once the app is Ready: ' +
  'drop --until-ready to look around with kubectl';

/** Said once the app is Ready on the local index: what was installed has real names and versions, but no code. */
export const standInsNote =
  'note: the installed packages are stand-ins: empty wheels the local index made with the names and versions ' +
  'asked for (--index-url https://pypi.org/simple installs the real ones)';

export interface LocalOptions {
  readonly file: string;
  readonly indexUrl: string | undefined;
  readonly untilReady: boolean;
  readonly logLevel: LogLevel;
}

/** test/support/local.ts, as this command sees it. */
interface LocalRunner {
  readonly runLocal: (options: LocalOptions, io: CommandIo) => Promise<number>;
}

// Not a literal on purpose: the compiler then leaves test code out of the build (and the image); `kasprop local`
// is for a checkout of the repository, where the file is.
const localRunnerModule = '../../test/support/local.ts';

export async function localCommand(values: OptionValues, io: CommandIo): Promise<number> {
  let runner: LocalRunner;
  try {
    runner = (await import(localRunnerModule)) as LocalRunner;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    io.err(
      'kasprop local: runs from a clone of the repository only (it builds a cluster with tools/ and test/support/)',
    );
    return 1;
  }
  return runner.runLocal(
    {
      file: String(values.file ?? defaultLocalExample),
      indexUrl: typeof values['index-url'] === 'string' ? values['index-url'] : undefined,
      untilReady: values['until-ready'] === true,
      logLevel: parseLogLevel(String(values['log-level'] ?? 'warn')),
    },
    io,
  );
}
