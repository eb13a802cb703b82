#!/usr/bin/env node
// kasprop: the operator and its tools. Each command is a function of its options and I/O (see commands.ts); this
// file only parses and dispatches, so every command can be tested without spawning a process.
import { parseArgs } from 'node:util';
import { commands, findCommand, type OptionValues } from './commands.ts';
import type { CommandIo } from './validate.ts';
import { packageVersion } from './version.ts';

function usage(): string {
  const lines = commands.map((c) => `  ${`${c.name} ${c.synopsis}`.trimEnd().padEnd(30)} ${c.summary}`);
  return [
    'usage: kasprop <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    "kasprop <command> --help shows a command's options; kasprop --version its version.",
    'Exit codes: 0 success, 1 the command failed (invalid input, a lost lease), 2 wrong usage.',
  ].join('\n');
}

export async function main(
  argv: readonly string[],
  io: CommandIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.out(packageVersion());
    return 0;
  }
  const command = findCommand(name);
  if (command === undefined) {
    io.err(`kasprop: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  let values: OptionValues;
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    io.err(`kasprop ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (values.help === true) {
    io.out(
      `usage: kasprop ${name} ${command.synopsis}`.trimEnd() +
        `\n\n${command.summary}${command.help ? `\n\n${command.help}` : ''}`,
    );
    return 0;
  }
  return command.run(values, io, env);
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
