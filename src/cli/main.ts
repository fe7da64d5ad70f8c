/**
 * `trustflash` entry point. Every failure becomes a one-line message and an exit code; a stack
 * trace is printed only with TRUSTFLASH_DEBUG=1 (a bug, not bad input, is the only way to get one).
 */
import { UsageError } from './args.ts';
import { cmdDevices, cmdInspect, cmdKeygen, cmdSign, cmdSignDetached, cmdVerify } from './commands.ts';
import { closest, commandHelp, formatCommandHelp, formatUsage, subcommands } from './help.ts';
import pkg from '../../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
import { IoError, type Io } from './io.ts';
import { cmdCrl } from './crl-command.ts';
import { cmdReceipt } from './receipt-command.ts';
import { cmdCatalog } from './catalog-command.ts';
import { cmdAudit, cmdQuery, cmdReset, cmdUpdate } from './device-commands.ts';
import { cmdEmulator } from './emulator-command.ts';
import { releaseStateLocks } from './state-lock.ts';
import { escapeControls } from '../core/bytes/safe-text.ts';

const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = {
  keygen: cmdKeygen,
  crl: cmdCrl,
  catalog: cmdCatalog,
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
  receipt: cmdReceipt,
};

/**
 * Every line any command prints goes through here: text from files and devices (certificate
 * names, release notes, vendor and product strings, file names, USB strings) reaches the terminal
 * with its control and bidi characters escaped, in every command and output mode (JSON stays
 * valid: the escape is JSON's own spelling). The CLI itself prints no control character but LF.
 */
export function safeIo(io: Io, opts: { progress?: boolean } = {}): Io {
  const { progress, ...rest } = io;
  return { ...rest, out: (t) => io.out(escapeControls(t)), err: (t) => io.err(escapeControls(t)), ...(progress && opts.progress !== false ? { progress } : {}) };
}

/** `--help` or `-h` anywhere before `--`. */
const wantsHelp = (argv: readonly string[]) => {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

export async function run(argv: readonly string[], rawIo: Io): Promise<number> {
  const [name, ...rest] = argv;
  // a progress bar only on a terminal (nodeIo offers one only then), never with --json or --quiet
  const io = safeIo(rawIo, { progress: !rest.some((a) => a === '--json' || a === '--quiet') });
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest.join(' ') : '';
    if (topic) return run([...rest, '--help'], rawIo);
    (name ? io.out : io.err)(formatUsage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`trustflash ${VERSION}`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    const guess = closest(name.replace(/^-+/, ''), [...Object.keys(COMMANDS), 'help', 'version']);
    io.err(`trustflash: unknown command "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}\n\n${formatUsage()}`);
    return 2;
  }
  // group commands: `emulator init --help`, and `emulator --help` lists the subcommands
  const groupSubs = subcommands(name);
  const fullName = groupSubs.length && rest[0] && groupSubs.includes(rest[0]) ? `${name} ${rest[0]}` : name;
  if (wantsHelp(rest)) {
    if (groupSubs.length && fullName === name) io.out(`Usage:\n${groupSubs.flatMap((s) => commandHelp(`${name} ${s}`).synopsis.map((l) => `  ${l}`)).join('\n')}\n\ntrustflash ${name} SUBCOMMAND --help describes one.`);
    else io.out(formatCommandHelp(fullName));
    return 0;
  }
  try {
    return await cmd(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`trustflash ${fullName}: ${e.message}\n(see trustflash ${fullName} --help)`);
      return 2;
    }
    if (e instanceof IoError) {
      io.err(`trustflash ${fullName}: ${e.message}`);
      return 2;
    }
    io.err(`trustflash ${fullName}: internal error: ${(e as Error)?.message ?? String(e)}`);
    if (process.env.TRUSTFLASH_DEBUG) io.err(String((e as Error)?.stack));
    return 2;
  } finally {
    // the NIC state files this command locked are free for the next command
    releaseStateLocks();
  }
}
