/** Plain-text and JSON renderings of a report (the CLI prints these; the page renders its own). */
import { toHex } from '../bytes/hex.ts';
import type { Manifest } from '../image/layout.ts';
import type { Report } from './report.ts';

const MARK = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP' } as const;

const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/** The manifest as plain JSON: dates ISO-8601, bytes hex, keys as key ids. */
export function manifestToJson(m: Manifest): Record<string, unknown> {
  return {
    vendor: m.vendor,
    product: m.product,
    psids: m.psids,
    deviceIds: m.deviceIds,
    version: m.version,
    securityVersion: m.securityVersion,
    ...(m.minSecurityVersion !== undefined ? { minSecurityVersion: m.minSecurityVersion } : {}),
    releaseDate: iso(m.releaseDate),
    ...(m.expires !== undefined ? { expires: iso(m.expires) } : {}),
    ...(m.sequence !== undefined ? { sequence: m.sequence } : {}),
    forbiddenVersions: m.forbiddenVersions,
    nextKeys: m.nextKeys.map((k) => ({ spkiHex: toHex(k) })),
    secured: m.secured,
    dev: m.dev,
    ...(m.releaseNotes !== undefined ? { releaseNotes: m.releaseNotes } : {}),
    payloadSize: m.payloadSize,
    ...(m.payloadSha256 ? { payloadSha256: toHex(m.payloadSha256) } : {}),
    ...(m.hashBlockSize !== undefined ? { hashBlockSize: m.hashBlockSize } : {}),
    ...(m.blockDigests ? { hashBlocks: m.blockDigests.length / 32 } : {}),
    ...(m.finalImage ? { finalImage: true } : {}),
  };
}

export function reportToJson(r: Report): Record<string, unknown> {
  return {
    verdict: r.verdict,
    ...(r.failed ? { failedCheck: r.failed.id } : {}),
    fileSize: r.fileSize,
    deviceVerifies: r.deviceVerifies,
    checks: r.checks.map((c) => ({ id: c.id, title: c.title, status: c.status, reason: c.reason })),
    signers: r.signers,
    notices: r.notices,
    overrides: r.overrides,
    ...(r.manifest ? { manifest: manifestToJson(r.manifest), manifestAuthenticated: r.checks.some((c) => c.id === 'signature' && c.status === 'pass') } : {}),
    ...(r.payloadSha256 ? { payloadSha256: r.payloadSha256 } : {}),
    ...(r.formatVersion !== undefined ? { formatVersion: r.formatVersion } : {}),
    ...(r.releaseDigest ? { releaseDigest: r.releaseDigest } : {}),
    ...(r.badBlocks?.length ? { badBlocks: r.badBlocks.map((x) => ({ index: x.index, start: x.start, end: x.end, actual: x.actual, expected: x.expected })) } : {}),
  };
}

export function reportToText(r: Report, file: string): string {
  const lines = [`${file}: ${r.fileSize} bytes`];
  const width = Math.max(...r.checks.map((c) => c.title.length));
  for (const c of r.checks) lines.push(`  ${MARK[c.status]}  ${c.title.padEnd(width)}  ${c.reason}`);
  if (r.manifest && r.checks.some((c) => c.id === 'signature' && c.status === 'pass')) {
    const m = r.manifest;
    lines.push(`  image: ${m.vendor} ${m.product} ${m.version} (security version ${m.securityVersion}) for ${m.psids.join(', ')}`);
  }
  if (r.releaseDigest) lines.push(`  release digest (SHA-256 of header and manifest${r.formatVersion === 2 ? ', the hash-block table included' : ''}): ${r.releaseDigest}`);
  for (const o of r.overrides) lines.push(`  OVERRIDE  --${o.name} ${o.value}: ${o.effect}`);
  for (const n of r.notices) lines.push(`  NOTE  ${n}`);
  lines.push(r.verdict === 'accept' ? 'ACCEPTED' : `REJECTED: ${r.failed ? `${r.failed.title}: ${r.failed.reason}` : 'a required check did not pass'}`);
  return lines.join('\n');
}
