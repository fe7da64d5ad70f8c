/**
 * Firmware versions as Mellanox prints them: "major.minor.subminor" (e.g. "14.22.4020"), each part
 * 0..65535. Encoded on the wire as three little-endian u16 (docs/image-format.md).
 */
import type { Failed } from '../bytes/result.ts';

export type VersionTriple = readonly [major: number, minor: number, subminor: number];

const VERSION_RE = /^(0|[1-9][0-9]{0,4})\.(0|[1-9][0-9]{0,4})\.(0|[1-9][0-9]{0,4})$/;

/** Parses "M.m.s"; returns undefined for anything else (leading zeros and parts > 65535 included). */
export function parseVersion(text: string): VersionTriple | undefined {
  const m = VERSION_RE.exec(text);
  if (!m) return undefined;
  const parts = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
  return parts.every((p) => p <= 0xffff) ? parts : undefined;
}

/**
 * A version as a person writes it: the canonical "28.41.1" or the spelling `flint q` prints (and
 * `trustflash query` too), whose minor and subminor may be zero-padded to four digits
 * ("28.41.0001"). Returns the canonical form, or why the text is not a version, naming leading
 * zeros when they are the problem.
 */
export function normalizeVersion(text: string): { ok: true; version: string } | Failed {
  if (parseVersion(text)) return { ok: true, version: text };
  const m = /^([0-9]{1,5})\.([0-9]{1,5})\.([0-9]{1,5})$/.exec(text);
  if (!m) return { ok: false, reason: `${JSON.stringify(text)} is not a version "major.minor.subminor"` };
  const parts: [string, string, string] = [m[1]!, m[2]!, m[3]!];
  const t = [Number(parts[0]), Number(parts[1]), Number(parts[2])] as const;
  if (t.some((p) => p > 0xffff)) return { ok: false, reason: `${JSON.stringify(text)}: each part is 0..65535` };
  const canonical = (p: string) => p === String(Number(p));
  const padded = (p: string) => p.length === 4;
  if (canonical(parts[0]) && parts.slice(1).every((p) => canonical(p) || padded(p))) return { ok: true, version: formatVersion(t) };
  return { ok: false, reason: `${JSON.stringify(text)}: leading zeros are the problem (write ${formatVersion(t)}); only the four-digit minor and subminor flint prints (28.41.0001) may be zero-padded` };
}

export function formatVersion(v: VersionTriple): string {
  return `${v[0]}.${v[1]}.${v[2]}`;
}

/** Orders two "M.m.s" strings; both must be valid (callers validate first). */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) throw new TypeError(`"version" expected M.m.s, got ${JSON.stringify(x ? b : a)}`);
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}
