#!/usr/bin/env node
// kasprop: the operator and its tools. Each command is a function of its arguments and I/O; this file only
// dispatches, so every command can be tested without spawning a process.
import { parseArgs } from 'node:util';
import { crdText } from '../api/crd.ts';
import { validateCommand, type CommandIo } from './validate.ts';

const usage = `usage: kasprop <command> [options]

commands:
  crd                      print the KasprApp CustomResourceDefinition
  validate -f FILE...      validate KasprApp manifests (multi-document YAML); exit 1 on any error
`;

export function main(argv: readonly string[], io: CommandIo): number {
  const [command, ...rest] = argv;
  switch (command) {
    case 'crd':
      parseArgs({ args: rest, options: {}, strict: true });
      io.out(crdText.trimEnd());
      return 0;
    case 'validate': {
      const { values } = parseArgs({
        args: rest,
        options: { file: { type: 'string', short: 'f', multiple: true } },
        strict: true,
      });
      const files = values.file ?? [];
      if (files.length === 0) {
        io.err('kasprop validate: at least one -f FILE is required');
        return 2;
      }
      return validateCommand(files, io);
    }
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
    process.exitCode = main(process.argv.slice(2), io);
  } catch (error) {
    io.err(`kasprop: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  }
}
