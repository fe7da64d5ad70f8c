/**
 * Production mode (issue #14): what a demo notices becomes a refusal. A lab that turns it on
 * (`--production`, the page's setting, or an administrator's trust bundle) says that nothing made
 * for demos or for an exception may pass: a DEMO key (its private half is public, so its signature
 * proves nothing), a development image, a deliberate last image (the signed finalImage opt-in),
 * nextKeys that would hand the device to a demo key, and any override of a check's input (`--now`).
 * The verdict is one row, "Production mode", placed right after the signature (what it weighs is
 * only known once the manifest is authenticated), so every report made in production mode says so.
 */
import { isDemoKeyId, DEMO_KEY_IDS } from '../crypto/demo-keys.ts';
import { keyIdOf } from '../crypto/keys.ts';
import type { Manifest } from '../image/layout.ts';
import type { Override, ReportBuilder, SignerInfo } from './report.ts';

/** The words every production-mode refusal starts with (the page and the CLI show them as they are). */
export const PRODUCTION_REFUSES = 'refused in production mode';

/** What production mode refuses, in one sentence, for the passing row and for help texts. */
export const PRODUCTION_RULES = 'DEMO keys, development images, final images and check overrides are refused';

const short = (hex: string) => `${hex.slice(0, 16)}…`;

/** The refusal for overrides: production mode judges at the host's clock, with nothing replaced. */
export function overrideRefusal(overrides: readonly Override[]): string | undefined {
  if (overrides.length === 0) return undefined;
  const what = overrides.map((o) => `--${o.name} ${o.value}`).join(', ');
  return `${PRODUCTION_REFUSES}: the check override ${what} (production mode checks at this host's clock, with no input replaced); nothing else was checked`;
}

export interface ProductionInput {
  /** The signers whose signatures verified (report.ts SignerInfo: `demo` set by key id or anchor). */
  readonly signers: readonly SignerInfo[];
  /** The authenticated manifest (absent for a detached signature), or the draft being signed. */
  readonly manifest?: Pick<Manifest, 'dev' | 'finalImage' | 'nextKeys'>;
  /** The device's embedded key ids (QUERY tag 14), when known. */
  readonly deviceKeyIds?: readonly string[];
}

/** Every reason production mode refuses this authenticated image; empty when it may pass. */
export async function productionProblems(c: ProductionInput): Promise<string[]> {
  const problems: string[] = [];
  const demo = c.signers.filter((s) => s.demo);
  if (demo.length) problems.push(`signed with a DEMO key (${demo.map((s) => `key ${short(s.keyId)}${s.anchor ? ` under "${s.anchor}"` : ''}`).join(', ')}), whose private half is public`);
  const m = c.manifest;
  if (m?.dev) problems.push('a development image (dev flag set)');
  if (m?.finalImage) problems.push('a final image (the signed finalImage opt-in: the device would accept no further update)');
  for (const i of m ? await demoKeyIndexes(m.nextKeys) : []) problems.push(`nextKeys[${i}] is a DEMO key: after this image the device would accept anything signed with a public key`);
  const held = c.deviceKeyIds;
  if (held && held.length > 0 && held.every((k) => DEMO_KEY_IDS.has(k.toLowerCase()))) {
    problems.push(`the device embeds only DEMO keys (${held.map(short).join(', ')}): use a device that trusts your own keys (an emulated NIC made to trust your key)`);
  }
  return problems;
}

/** Adds the "Production mode" row: pass with what was checked, or fail with every reason. */
export async function productionRow(b: ReportBuilder, c: ProductionInput): Promise<boolean> {
  const problems = await productionProblems(c);
  if (problems.length) return b.fail('production', `${PRODUCTION_REFUSES}: ${problems.join('; ')}`);
  const keys = c.signers.map((s) => `key ${short(s.keyId)}`).join(', ');
  return b.pass('production', `production mode on (${PRODUCTION_RULES}): signed by ${keys || 'no demo key'}${c.manifest ? ', a release image' : ''}, no override`);
}

/** Which of these keys (SPKI DER) are demo keys, by index. */
export async function demoKeyIndexes(keys: readonly Uint8Array[]): Promise<number[]> {
  const out: number[] = [];
  for (const [i, spki] of keys.entries()) if (isDemoKeyId(await keyIdOf(spki))) out.push(i);
  return out;
}

/**
 * Why production mode refuses to make an emulated NIC whose factory image embeds these nextKeys
 * (the keys it checks its next update with), or undefined: a NIC that trusts a demo key accepts
 * what anyone signs.
 */
export async function demoNicProblem(nextKeys: readonly Uint8Array[]): Promise<string | undefined> {
  const demo = await demoKeyIndexes(nextKeys);
  if (demo.length === 0) return undefined;
  const which = demo.length === nextKeys.length ? 'trusts only DEMO keys' : `trusts ${demo.length} DEMO key${demo.length === 1 ? '' : 's'}`;
  return `${PRODUCTION_REFUSES}: this NIC ${which} (their private halves are public); make it trust your own key instead`;
}

/** The key id hex of each demo key, for callers that hold key ids as text. */
export function isDemoKeyHex(hex: string): boolean {
  return DEMO_KEY_IDS.has(hex.toLowerCase());
}
