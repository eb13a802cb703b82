#!/usr/bin/env node
// kasprop: the operator and its tools. Each command is a function of its arguments and I/O; this file only
// dispatches, so every command can be tested without spawning a process.
import { parseArgs } from 'node:util';
import { crdText } from '../api/crd.ts';
import { operatorSettingsFromEnv } from '../model/operator-settings.ts';
import { renderCommand } from './render.ts';
import { runCommand, runUsage } from './run.ts';
import { validateCommand, type CommandIo } from './validate.ts';

const usage = `usage: kasprop <command> [options]

commands:
  crd                      print the KasprApp CustomResourceDefinition
  validate -f FILE...      validate KasprApp manifests (multi-document YAML); exit 1 on any error
  render -f FILE... [-o yaml|json]
                           print the children the operator would apply, in apply order
  run [options]            run the operator (kasprop run --help for its options)
`;

function fileArgs(command: string, args: readonly string[], io: CommandIo, withOutput = false) {
  const { values } = parseArgs({
    args: [...args],
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      ...(withOutput && { output: { type: 'string', short: 'o', default: 'yaml' } }),
    },
    strict: true,
  });
  const files = values.file ?? [];
  if (files.length === 0) io.err(`kasprop ${command}: at least one -f FILE is required`);
  return { files, output: (values as { output?: string }).output };
}

export async function main(
  argv: readonly string[],
  io: CommandIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'crd':
      parseArgs({ args: rest, options: {}, strict: true });
      io.out(crdText.trimEnd());
      return 0;
    case 'validate': {
      const { files } = fileArgs(command, rest, io);
      return files.length === 0 ? 2 : validateCommand(files, io);
    }
    case 'render': {
      const { files, output } = fileArgs(command, rest, io, true);
      if (output !== 'yaml' && output !== 'json') {
        io.err(`kasprop render: -o must be yaml or json, not ${JSON.stringify(output)}`);
        return 2;
      }
      return files.length === 0 ? 2 : renderCommand(files, output, operatorSettingsFromEnv(env), io);
    }
    case 'run':
      if (rest.includes('--help') || rest.includes('-h')) {
        io.out(runUsage.trimEnd());
        return 0;
      }
      return runCommand(rest, io, env);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(usage.trimEnd());
      return command === undefined ? 2 : 0;
    default:
      io.err(`kasprop: unknown command '${command}'\n${usage}`);
      return 2;
  }
}

if (import.meta.main) {
  const io: CommandIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
  try {
    process.exitCode = await main(process.argv.slice(2), io);
  } catch (error) {
    io.err(`kasprop: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  }
}
