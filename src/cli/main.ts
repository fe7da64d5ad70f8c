/**
 * `trustflash` entry point. Every failure becomes a one-line message and an exit code; a stack
 * trace is printed only with TRUSTFLASH_DEBUG=1 (a bug, not bad input, is the only way to get one).
 */
import { UsageError } from './args.ts';
import { cmdDevices, cmdInspect, cmdKeygen, cmdSign, cmdSignDetached, cmdVerify, USAGE } from './commands.ts';
import { IoError, type Io } from './io.ts';
import { cmdAudit, cmdEmulator, cmdQuery, cmdReset, cmdUpdate } from './device-commands.ts';
import { escapeControls } from '../core/bytes/safe-text.ts';

const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  keygen: cmdKeygen,
  sign: cmdSign,
  'sign-detached': cmdSignDetached,
  inspect: cmdInspect,
  verify: cmdVerify,
  devices: cmdDevices,
  emulator: cmdEmulator,
  query: cmdQuery,
  update: cmdUpdate,
  reset: cmdReset,
  audit: cmdAudit,
};

/**
 * Every line any command prints goes through here: text from files and devices (certificate
 * names, release notes, vendor and product strings, file names, USB strings) reaches the terminal
 * with its control and bidi characters escaped, in every command and output mode (JSON stays
 * valid: the escape is JSON's own spelling). The CLI itself prints no control character but LF.
 */
export function safeIo(io: Io): Io {
  return { ...io, out: (t) => io.out(escapeControls(t)), err: (t) => io.err(escapeControls(t)) };
}

export async function run(argv: readonly string[], rawIo: Io): Promise<number> {
  const io = safeIo(rawIo);
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`trustflash: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await cmd(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`trustflash ${name}: ${e.message}\n(see trustflash --help)`);
      return 2;
    }
    if (e instanceof IoError) {
      io.err(`trustflash ${name}: ${e.message}`);
      return 2;
    }
    io.err(`trustflash ${name}: internal error: ${(e as Error)?.message ?? String(e)}`);
    if (process.env.TRUSTFLASH_DEBUG) io.err(String((e as Error)?.stack));
    return 2;
  }
}

