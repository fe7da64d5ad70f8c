/**
 * The trust bundle (docs/catalog.md "Trust bundle"): what an administrator hands a lab, in one JSON
 * file — the vendor roots (or bare public keys), the CRLs, optionally the signed release catalog,
 * and whether the lab runs in production mode. One file because it is one decision, made once: a
 * lab loads it in the page (persisted) or passes it to the CLI (`--bundle`), and can compare its
 * SHA-256 with the one the administrator published. It is not signed: it carries the roots
 * themselves, so whoever could change it could change the roots; it is as trusted as the hand that
 * gave it (the same as a `--trust` file). The catalog inside is signed and checked as usual.
 *
 * Read strictly (strict-json.ts) against an allow-list, every list and string bounded; the PEM
 * texts go through the trust store's own loader, so a root in a bundle is read exactly as a root
 * in a `--trust` file. Pure: from the file's text, no I/O.
 */
import { parseStrictJson } from '../bytes/strict-json.ts';
import { CRL_MAX } from '../crypto/crl.ts';
import { loadTrustStore, type TrustStore, type TrustText } from '../crypto/trust.ts';
import { parsePem, toPem } from '../crypto/pem.ts';
import { parseCertificate, type Certificate } from '../crypto/x509.ts';
import { CATALOG_FILE_MAX } from './catalog-json.ts';
import { catalogDer } from './catalog-verify.ts';

export const BUNDLE_SCHEMA = 'trustflash-trust-bundle';
export const BUNDLE_SCHEMA_VERSION = 1;
export const BUNDLE_FILE_MAX = 16 * 1024 * 1024;
export const BUNDLE_ROOTS_MAX = 64;
export const BUNDLE_CRLS_MAX = 64;
export const BUNDLE_DEVICE_CAS_MAX = 16;
const ROOT_TEXT_MAX = 64 * 1024;
const NAME_MAX = 128;

export interface TrustBundle {
  /** The administrator's label for the bundle ("ACME lab, December 2026"). */
  readonly name: string;
  /** Roots, bare keys and CRLs, loaded as `--trust` and `--crl` files are. */
  readonly trust: TrustStore;
  /** The signed release catalog's DER, unverified (verify it with catalog-verify.ts at the validation time). */
  readonly catalog: Uint8Array | undefined;
  /**
   * The administrator's production flag. The bundle only carries it: production mode itself
   * (refusing demo keys and overrides) is decided where the CLI and the page read this field.
   */
  readonly production: boolean;
  /**
   * The device CAs a lab checks device-signed update receipts against (protocol §4.11): the
   * certificates that certify its NICs' attestation keys. Not trust roots for images.
   */
  readonly deviceCas: readonly Certificate[];
  /** The PEM texts as given, for a holder that keeps them (the page remembers roots and CRLs as text). */
  readonly rootTexts: readonly string[];
  readonly crlTexts: readonly string[];
  readonly deviceCaTexts: readonly string[];
}

export type BundleResult = { ok: true; value: TrustBundle; warnings: string[] } | { ok: false; reason: string; errors: string[] };

const KEYS = new Set(['schema', 'schemaVersion', 'name', 'production', 'roots', 'crls', 'catalog', 'deviceCas']);

function pemList(v: unknown, field: string, max: number, itemMax: number, errors: string[]): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    errors.push(`bundle.${field} must be a list of PEM texts`);
    return [];
  }
  if (v.length > max) errors.push(`bundle.${field} has ${v.length} entries, at most ${max}`);
  v.forEach((x: string, i) => x.length > itemMax && errors.push(`bundle.${field}[${i}] is ${x.length} characters, at most ${itemMax}`));
  return v.slice(0, max) as string[];
}

/** Each `deviceCas` entry must be exactly one certificate (a receipt's device certificate chains to it); problems go to `errors`. */
export async function deviceCaCertificates(texts: readonly string[], errors: string[]): Promise<Certificate[]> {
  const out: Certificate[] = [];
  for (const [i, t] of texts.entries()) {
    const blocks = parsePem(t).blocks;
    if (blocks.length !== 1 || blocks[0]!.label !== 'CERTIFICATE') {
      errors.push(`bundle.deviceCas[${i}] must be one PEM CERTIFICATE, found ${blocks.map((x) => x.label).join(', ') || 'none'}`);
      continue;
    }
    const c = await parseCertificate(blocks[0]!.der);
    if (!c.ok) errors.push(`bundle.deviceCas[${i}]: ${c.reason}`);
    else out.push(c.value);
  }
  return out;
}

/** Reads a bundle file's text. Every problem is listed (a bundle is all or nothing: any error refuses it). */
export async function loadTrustBundle(text: string, fileName = 'bundle'): Promise<BundleResult> {
  const refuse = (errors: string[]): BundleResult => ({ ok: false, reason: `${fileName}: ${errors.join('; ')}`, errors });
  if (text.length > BUNDLE_FILE_MAX) return refuse([`the bundle is ${text.length} characters, at most ${BUNDLE_FILE_MAX}`]);
  const j = parseStrictJson(text);
  if (!j.ok) return refuse([`not valid JSON: ${j.reason}`]);
  const o = j.value;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return refuse(['a trust bundle is a JSON object']);
  const b = o as Record<string, unknown>;
  const errors: string[] = [];
  for (const k of Object.keys(b)) if (!KEYS.has(k)) errors.push(`unknown field ${JSON.stringify(k)} (allowed: ${[...KEYS].join(', ')})`);
  if (b.schema !== BUNDLE_SCHEMA) errors.push(`bundle.schema must be ${JSON.stringify(BUNDLE_SCHEMA)}`);
  if (b.schemaVersion !== BUNDLE_SCHEMA_VERSION) errors.push(`bundle.schemaVersion ${JSON.stringify(b.schemaVersion)} is not supported (this version reads ${BUNDLE_SCHEMA_VERSION})`);
  const name = typeof b.name === 'string' && b.name.length > 0 && b.name.length <= NAME_MAX && !/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(b.name) ? b.name : undefined;
  if (b.name !== undefined && name === undefined) errors.push(`bundle.name must be 1 to ${NAME_MAX} characters without control characters`);
  if (typeof b.production !== 'boolean') errors.push('bundle.production must be true or false (a bundle says which mode the lab runs in)');
  const roots = pemList(b.roots, 'roots', BUNDLE_ROOTS_MAX, ROOT_TEXT_MAX, errors);
  if (roots.length === 0 && Array.isArray(b.roots)) errors.push('bundle.roots is empty: a bundle must name at least one root or key to trust');
  if (b.roots === undefined) errors.push('bundle.roots is missing');
  const crls = pemList(b.crls, 'crls', BUNDLE_CRLS_MAX, CRL_MAX * 2, errors);
  const deviceCaTexts = pemList(b.deviceCas, 'deviceCas', BUNDLE_DEVICE_CAS_MAX, ROOT_TEXT_MAX, errors);
  const deviceCas = await deviceCaCertificates(deviceCaTexts, errors);
  let catalog: Uint8Array | undefined;
  if (b.catalog !== undefined) {
    if (typeof b.catalog !== 'string' || b.catalog.length > CATALOG_FILE_MAX * 2) errors.push('bundle.catalog must be the signed catalog as PEM text ("-----BEGIN CMS-----")');
    else {
      const der = catalogDer(new TextEncoder().encode(b.catalog));
      if (!der.ok) errors.push(`bundle.catalog: ${der.reason}`);
      else if (!b.catalog.includes('-----BEGIN ')) errors.push('bundle.catalog must be PEM text ("-----BEGIN CMS-----"), not raw bytes');
      else catalog = der.der;
    }
  }
  if (errors.length) return refuse(errors);
  const sources: TrustText[] = [...roots.map((t, i) => ({ name: `bundle.roots[${i}]`, text: t })), ...crls.map((t, i) => ({ name: `bundle.crls[${i}]`, text: t, kind: 'crl' as const }))];
  const { store, errors: trustErrors, warnings } = await loadTrustStore(sources);
  // a root in a CRL slot is refused by loadTrustStore (kind 'crl'); a CRL in a root slot would be trusted as a CRL, so refuse it here
  for (const [i, t] of roots.entries()) if (/-----BEGIN X509 CRL-----/.test(t)) trustErrors.push(`bundle.roots[${i}] holds a CRL; CRLs go in bundle.crls`);
  if (trustErrors.length) return refuse(trustErrors);
  return { ok: true, value: { name: name ?? fileName, trust: store, catalog, production: b.production as boolean, deviceCas, rootTexts: roots, crlTexts: crls, deviceCaTexts }, warnings };
}

/** A bundle file's text from its parts (PEM texts; the catalog as DER, written as a "CMS" PEM block). */
export function trustBundleText(b: { name: string; production: boolean; roots: readonly string[]; crls?: readonly string[]; catalog?: Uint8Array; deviceCas?: readonly string[] }): string {
  const catalog = b.catalog ? { catalog: toPem('CMS', b.catalog) } : {};
  const deviceCas = b.deviceCas?.length ? { deviceCas: b.deviceCas } : {};
  return `${JSON.stringify({ schema: BUNDLE_SCHEMA, schemaVersion: BUNDLE_SCHEMA_VERSION, name: b.name, production: b.production, roots: b.roots, crls: b.crls ?? [], ...catalog, ...deviceCas }, null, 2)}\n`;
}
