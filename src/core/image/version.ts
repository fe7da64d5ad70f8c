/**
 * Firmware versions as Mellanox prints them: "major.minor.subminor" (e.g. "14.22.4020"), each part
 * 0..65535. Encoded on the wire as three little-endian u16 (docs/image-format.md).
 */

export type VersionTriple = readonly [major: number, minor: number, subminor: number];

const VERSION_RE = /^(0|[1-9][0-9]{0,4})\.(0|[1-9][0-9]{0,4})\.(0|[1-9][0-9]{0,4})$/;

/** Parses "M.m.s"; returns undefined for anything else (leading zeros and parts > 65535 included). */
export function parseVersion(text: string): VersionTriple | undefined {
  const m = VERSION_RE.exec(text);
  if (!m) return undefined;
  const parts = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
  return parts.every((p) => p <= 0xffff) ? parts : undefined;
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
