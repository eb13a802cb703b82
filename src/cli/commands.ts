// The kasprop commands as data: name, synopsis, options and what runs. main.ts parses and dispatches with it, and
// the docs test checks every command line shown in the README and docs against the same options.
import type { ParseArgsOptionsConfig } from 'node:util';
import { crdText } from '../api/crd.ts';
import { operatorSettingsFromEnv } from '../model/operator-settings.ts';
import { localCommand, localOptions } from './local.ts';
import { lockCommand, lockOptions } from './lock.ts';
import { bundleCommand, bundleOptions } from './bundle.ts';
import { renderCommand } from './render.ts';
import { runCommand, runOptions } from './run.ts';
import { validateCommand, type CommandIo } from './validate.ts';

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Command {
  readonly name: string;
  /** Arguments after the name, as shown in the usage line. */
  readonly synopsis: string;
  readonly summary: string;
  readonly options: ParseArgsOptionsConfig;
  /** Lines under the usage line that explain the options. */
  readonly help?: string;
  run(values: OptionValues, io: CommandIo, env: NodeJS.ProcessEnv): number | Promise<number>;
}

const files = (values: OptionValues): string[] => (values.file as string[] | undefined) ?? [];

// `npm run kasprop` runs in the package's root; INIT_CWD is where the user typed it, so `-f my-app.yaml` means the
// file they are looking at, from any directory of the clone.
const baseDir = (env: NodeJS.ProcessEnv): string => env.INIT_CWD ?? process.cwd();

const needFiles = (name: string, values: OptionValues, io: CommandIo): boolean => {
  if (files(values).length > 0) return true;
  io.err(`kasprop ${name}: at least one -f FILE is required`);
  return false;
};

export const commands: readonly Command[] = [
  {
    name: 'crd',
    synopsis: '',
    summary: 'print the KasprApp CustomResourceDefinition',
    options: {},
    run: (_values, io) => {
      io.out(crdText.trimEnd());
      return 0;
    },
  },
  {
    name: 'validate',
    synopsis: '-f FILE...',
    summary: 'validate KasprApp manifests (multi-document YAML); exit 1 on any error',
    options: { file: { type: 'string', short: 'f', multiple: true } },
    help: `  -f, --file FILE      a manifest file; repeat for more. Each error prints as file:line: field: reason (the
                       line of the field, or of its parent when it is missing); warnings go to stderr. Then one
                       line per file says what was checked; documents of other kinds are skipped and counted`,
    run: (values, io, env) =>
      needFiles('validate', values, io) ? validateCommand(files(values), baseDir(env), io) : 2,
  },
  {
    name: 'render',
    synopsis: '-f FILE... [-o yaml|json]',
    summary: 'print the children the operator would apply, in apply order',
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      output: { type: 'string', short: 'o', default: 'yaml' },
    },
    help: `  -f, --file FILE      a manifest file; repeat for more (invalid input prints the errors, nothing on stdout)
  -o, --output FORMAT  yaml (a multi-document stream, the default) or json (a v1 List)
  PYTHON_PACKAGES_ENABLED=false renders as an operator with the feature off would`,
    run: (values, io, env) => {
      const output = values.output;
      if (output !== 'yaml' && output !== 'json') {
        io.err(`kasprop render: -o must be yaml or json, not ${JSON.stringify(output)}`);
        return 2;
      }
      return needFiles('render', values, io)
        ? renderCommand(files(values), baseDir(env), output, operatorSettingsFromEnv(env), io)
        : 2;
    },
  },
  {
    name: 'lock',
    synopsis: '-f FILE [--index-url URL] [--python-version X.Y] [--platform TAG] [--patch]',
    summary: 'resolve pythonPackages.packages with pip and write the locked set back as packagesWithHashes',
    options: lockOptions.options,
    help: lockOptions.help,
    run: (values, io, env) => lockCommand(values, io, env, baseDir(env)),
  },
  {
    name: 'bundle',
    synopsis: '-f FILE -o DIR [--index-url URL] [--python-version X.Y] [--platform TAG]',
    summary: 'download the locked files of pythonPackages into a wheelhouse DIR for bundleSource (offline installs)',
    options: bundleOptions.options,
    help: bundleOptions.help,
    run: (values, io, env) => bundleCommand(values, io, env, baseDir(env)),
  },
  {
    name: 'run',
    synopsis: '[options]',
    summary: 'run the operator against a cluster',
    options: runOptions.options,
    help: runOptions.help,
    run: (values, io, env) => runCommand(values, io, env),
  },
  {
    name: 'local',
    synopsis: '[options]',
    summary: 'try kasprop: a local control plane, the operator, pods as local processes, and an example app',
    options: localOptions.options,
    help: localOptions.help,
    run: (values, io) => localCommand(values, io),
  },
];

export function findCommand(name: string): Command | undefined {
  return commands.find((c) => c.name === name);
}
