/** The trust store as the page remembers it (localStorage, key `trustflash.trust`): its versioned shape, read strictly and written back. */
import type { TrustSource } from '../worker/protocol.ts';

/**
 * Where the operator's trust choices are remembered (the page passes localStorage): the vendor roots
 * added and whether the demo root is used, so a lab's trust store survives reloads and works offline.
 */
export interface TrustMemory {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * The stored shape, versioned: an older or unknown one is set aside with a message, never half-read.
 * `crls` came later, optional within version 1: a store saved before it loads unchanged, and it is
 * written only when a CRL is kept, so a store without CRLs is byte-identical to the older one.
 */
interface StoredTrust {
  readonly version: 1;
  readonly useDemoRoot: boolean;
  readonly roots: readonly TrustSource[];
  /** CRL files as PEM text ("X509 CRL"; a DER file is armoured when added). */
  readonly crls?: readonly TrustSource[];
  /** The trust bundle loaded last (docs/catalog.md §7): its name and production flag; written only once one is loaded. */
  readonly bundle?: BundleMark;
}

/** What the page remembers of a loaded trust bundle beyond its roots, CRLs and catalog. */
export interface BundleMark {
  readonly name: string;
  readonly production: boolean;
  /** The bundle's device CAs (PEM certificates) for device-signed receipts; absent when it had none. */
  readonly deviceCas?: readonly string[];
}
/** At most this many remembered device CAs (the bundle's own bound). */
export const MAX_STORED_DEVICE_CAS = 16;
export const TRUST_KEY = 'trustflash.trust';
export const MAX_STORED_ROOTS = 32;
export const MAX_STORED_CRLS = 32;

const isSource = (r: unknown): r is TrustSource => typeof (r as TrustSource)?.name === 'string' && typeof (r as TrustSource)?.text === 'string';

/** The remembered store; throws (naming what is wrong) on any shape this version does not know. */
export function readStoredTrust(text: string): { useDemoRoot: boolean; roots: TrustSource[]; crls: TrustSource[]; bundle?: BundleMark } {
  const v = JSON.parse(text) as Partial<StoredTrust>;
  if (v.version !== 1 || typeof v.useDemoRoot !== 'boolean' || !Array.isArray(v.roots) || v.roots.length > MAX_STORED_ROOTS || !v.roots.every(isSource)) {
    throw new Error(`an unknown format (version ${JSON.stringify(v.version)})`);
  }
  if (v.crls !== undefined && (!Array.isArray(v.crls) || v.crls.length > MAX_STORED_CRLS || !v.crls.every(isSource))) throw new Error('an unknown list of revocation lists');
  const b = v.bundle;
  if (b !== undefined && (typeof b?.name !== 'string' || typeof b?.production !== 'boolean')) throw new Error('an unknown trust bundle record');
  const cas = b?.deviceCas;
  if (cas !== undefined && (!Array.isArray(cas) || cas.length > MAX_STORED_DEVICE_CAS || !cas.every((t) => typeof t === 'string'))) throw new Error('an unknown list of device CAs in the trust bundle record');
  return { useDemoRoot: v.useDemoRoot, roots: v.roots.map((r) => ({ name: r.name, text: r.text })), crls: (v.crls ?? []).map((r) => ({ name: r.name, text: r.text })), ...(b ? { bundle: { name: b.name, production: b.production, ...(cas?.length ? { deviceCas: [...cas] } : {}) } } : {}) };
}

/** The text to remember (no `crls` key without a CRL: byte-identical to a store saved before CRLs existed). */
export function storedTrustText(useDemoRoot: boolean, roots: readonly TrustSource[], crls: readonly TrustSource[], bundle?: BundleMark): string {
  const v: StoredTrust = { version: 1, useDemoRoot, roots, ...(crls.length ? { crls } : {}), ...(bundle ? { bundle } : {}) };
  return JSON.stringify(v);
}

/**
 * Production mode as the page remembers it (localStorage `trustflash.production`, its own key so
 * the trust store's shape is unchanged): `{"version":1,"production":true}`. Absent means off.
 */
export const PRODUCTION_KEY = 'trustflash.production';

/** The remembered setting; throws (naming what is wrong) on a shape this version does not know. */
export function readStoredProduction(text: string): boolean {
  const v = JSON.parse(text) as { version?: unknown; production?: unknown };
  if (v?.version !== 1 || typeof v.production !== 'boolean') throw new Error(`an unknown format (version ${JSON.stringify(v?.version)})`);
  return v.production;
}

export function storedProductionText(on: boolean): string {
  return JSON.stringify({ version: 1, production: on });
}
