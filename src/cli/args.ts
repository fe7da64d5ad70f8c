/** A small, strict argument parser: known flags only, `--flag value` or `--flag=value`, repeatable lists. */
import { closest } from './help.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface FlagSpec {
  readonly [flag: string]: 'string' | 'boolean' | 'list';
}

export interface Parsed {
  readonly positional: string[];
  readonly flags: Record<string, string | boolean | string[] | undefined>;
}

export function parseArgs(argv: readonly string[], spec: FlagSpec): Parsed {
  const positional: string[] = [];
  const flags: Record<string, string | boolean | string[] | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = (eq > 0 ? a.slice(0, eq) : a).replace(/^--?/, '');
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!kind) {
      const guess = closest(name, Object.keys(spec));
      throw new UsageError(`unknown option ${a.slice(0, eq > 0 ? eq : undefined)}${guess ? ` (did you mean ${guess.length === 1 ? '-' : '--'}${guess}?)` : ''}`);
    }
    if (kind === 'boolean') {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    let value: string | undefined = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (kind === 'list') ((flags[name] ??= []) as string[]).push(value);
    else {
      if (flags[name] !== undefined) throw new UsageError(`--${name} given twice`);
      flags[name] = value;
    }
    value = undefined;
  }
  return { positional, flags };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === 'string' ? v : undefined;
}
export function need(p: Parsed, name: string): string {
  const v = str(p, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}
export function list(p: Parsed, name: string): string[] {
  const v = p.flags[name];
  return Array.isArray(v) ? v : [];
}
export function bool(p: Parsed, name: string): boolean {
  return p.flags[name] === true;
}
