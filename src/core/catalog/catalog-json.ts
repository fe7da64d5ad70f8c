/**
 * The release catalog's content (docs/catalog.md): the JSON a vendor signs into a CMS SignedData.
 * Read strictly (strict-json.ts: a duplicated key is an error) and against an allow-list: an
 * unknown key, a missing one or a value out of its bounds is refused with the path of the field,
 * because a catalog that means something other than what its reviewer read must not verify. Every
 * list and string is bounded, so a catalog's work is bounded before it is looked at.
 *
 * The freshness fields follow TUF's timestamp and snapshot roles (secure-update-frameworks.md §3):
 * `expires` bounds how long a stale catalog can be replayed (freeze protection), `sequence` only
 * grows, so a verifier that remembers the highest one it saw refuses an older one (rollback).
 */
import { parseStrictJson } from '../bytes/strict-json.ts';
import { parseIsoTime } from '../bytes/iso-time.ts';
import { compareVersions, parseVersion } from '../image/version.ts';
import type { Result } from '../bytes/result.ts';

export const CATALOG_SCHEMA = 'trustflash-release-catalog';
export const CATALOG_SCHEMA_VERSION = 1;
/** The signed file, CMS and certificates included; a catalog of 1024 products fits well within it. */
export const CATALOG_FILE_MAX = 1024 * 1024;
/** The JSON text inside the CMS. */
export const CATALOG_JSON_MAX = 512 * 1024;
export const CATALOG_PRODUCTS_MAX = 1024;
export const CATALOG_WITHDRAWN_MAX = 256;
export const CATALOG_ACCEPTED_MAX = 64;
export const CATALOG_REASON_MAX = 256;
/** A catalog valid for longer than this is refused: a lab must refresh it (freeze protection has a bound). */
export const CATALOG_VALIDITY_MAX_DAYS = 366;
/** A PSID as the image manifest bounds it (layout.ts: 1..16 printable ASCII). */
const PSID_RE = /^[\x21-\x7e]{1,16}$/;
const DIGEST_RE = /^[0-9a-f]{64}$/;
/** Dates are written in one unambiguous form: UTC, to the second. */
const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** No control or bidi-control characters in a reason (it is shown to a person). */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

export interface CatalogRelease {
  readonly version: string;
  /** SHA-256 of the image's header ‖ manifest, lowercase hex (Report.releaseDigest). */
  readonly releaseDigest: string;
}
export interface AcceptedRelease extends CatalogRelease {
  /** Why this older release is still acceptable ("long-term support branch"). */
  readonly reason: string;
}
export interface WithdrawnRelease {
  readonly version: string;
  readonly reason: string;
}
export interface CatalogProduct {
  readonly psid: string;
  readonly current: CatalogRelease;
  readonly minimumVersion: string;
  readonly withdrawn: readonly WithdrawnRelease[];
  readonly accepted: readonly AcceptedRelease[];
}
export interface CatalogContent {
  readonly issued: Date;
  readonly expires: Date;
  readonly sequence: number;
  readonly products: readonly CatalogProduct[];
}

class Bad extends Error {}

type Obj = Record<string, unknown>;

function object(v: unknown, at: string, keys: { required: readonly string[]; optional?: readonly string[] }): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Bad(`${at} must be an object`);
  const o = v as Obj;
  const allowed = new Set([...keys.required, ...(keys.optional ?? [])]);
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw new Bad(`${at} has an unknown field ${JSON.stringify(k)} (allowed: ${[...allowed].join(', ')})`);
  for (const k of keys.required) if (!Object.hasOwn(o, k)) throw new Bad(`${at}.${k} is missing`);
  return o;
}

function array(v: unknown, at: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw new Bad(`${at} must be a list`);
  if (v.length > max) throw new Bad(`${at} has ${v.length} entries, at most ${max} are allowed`);
  return v;
}

function version(v: unknown, at: string): string {
  if (typeof v !== 'string' || !parseVersion(v)) throw new Bad(`${at} must be a version "major.minor.subminor" (each 0..65535, no leading zeros), got ${JSON.stringify(v)}`);
  return v;
}

function reason(v: unknown, at: string): string {
  if (typeof v !== 'string' || v.trim().length === 0) throw new Bad(`${at} must be a non-empty text`);
  if (v.length > CATALOG_REASON_MAX) throw new Bad(`${at} is ${v.length} characters, at most ${CATALOG_REASON_MAX}`);
  if (UNSAFE_TEXT.test(v)) throw new Bad(`${at} contains a control or bidi-control character`);
  return v;
}

function digest(v: unknown, at: string): string {
  if (typeof v !== 'string' || !DIGEST_RE.test(v)) throw new Bad(`${at} must be a SHA-256 release digest: 64 lowercase hex digits`);
  return v;
}

function date(v: unknown, at: string): Date {
  if (typeof v !== 'string' || !DATE_RE.test(v)) throw new Bad(`${at} must be a UTC date-time such as "2026-12-01T00:00:00Z", got ${JSON.stringify(v)}`);
  const t = parseIsoTime(v);
  if (!t.ok) throw new Bad(`${at}: ${t.reason}`);
  return new Date(t.seconds * 1000);
}

function release(v: unknown, at: string): CatalogRelease {
  const o = object(v, at, { required: ['version', 'releaseDigest'] });
  return { version: version(o.version, `${at}.version`), releaseDigest: digest(o.releaseDigest, `${at}.releaseDigest`) };
}

function product(v: unknown, at: string): CatalogProduct {
  const o = object(v, at, { required: ['psid', 'current', 'minimumVersion'], optional: ['withdrawn', 'accepted'] });
  if (typeof o.psid !== 'string' || !PSID_RE.test(o.psid)) throw new Bad(`${at}.psid must be 1 to 16 printable ASCII characters, as in an image manifest`);
  const current = release(o.current, `${at}.current`);
  const minimumVersion = version(o.minimumVersion, `${at}.minimumVersion`);
  const withdrawn = array(o.withdrawn ?? [], `${at}.withdrawn`, CATALOG_WITHDRAWN_MAX).map((w, i) => {
    const wo = object(w, `${at}.withdrawn[${i}]`, { required: ['version', 'reason'] });
    return { version: version(wo.version, `${at}.withdrawn[${i}].version`), reason: reason(wo.reason, `${at}.withdrawn[${i}].reason`) };
  });
  const accepted = array(o.accepted ?? [], `${at}.accepted`, CATALOG_ACCEPTED_MAX).map((a, i) => {
    const ao = object(a, `${at}.accepted[${i}]`, { required: ['version', 'releaseDigest', 'reason'] });
    return { ...release({ version: ao.version, releaseDigest: ao.releaseDigest }, `${at}.accepted[${i}]`), reason: reason(ao.reason, `${at}.accepted[${i}].reason`) };
  });
  // a catalog that contradicts itself is refused, not interpreted
  if (compareVersions(current.version, minimumVersion) < 0) throw new Bad(`${at}: the current release ${current.version} is below the product's own minimumVersion ${minimumVersion}`);
  const seen = new Set<string>();
  for (const w of withdrawn) {
    if (seen.has(w.version)) throw new Bad(`${at}.withdrawn lists ${w.version} twice`);
    seen.add(w.version);
    if (w.version === current.version) throw new Bad(`${at}: the current release ${current.version} is also withdrawn`);
  }
  const acceptedSeen = new Set<string>();
  for (const a of accepted) {
    if (acceptedSeen.has(a.version)) throw new Bad(`${at}.accepted lists ${a.version} twice`);
    acceptedSeen.add(a.version);
    if (compareVersions(a.version, current.version) >= 0) throw new Bad(`${at}.accepted: ${a.version} is not older than the current release ${current.version}`);
    if (compareVersions(a.version, minimumVersion) < 0) throw new Bad(`${at}.accepted: ${a.version} is below the minimumVersion ${minimumVersion}`);
    if (seen.has(a.version)) throw new Bad(`${at}: ${a.version} is both withdrawn and accepted`);
  }
  return { psid: o.psid, current, minimumVersion, withdrawn, accepted };
}

/** Reads the catalog's JSON text. Untrusted input: a result, never an exception. */
export function parseCatalogJson(text: string): Result<CatalogContent> {
  if (text.length > CATALOG_JSON_MAX) return { ok: false, reason: `the catalog's JSON is ${text.length} characters, at most ${CATALOG_JSON_MAX}` };
  const j = parseStrictJson(text);
  if (!j.ok) return { ok: false, reason: `the catalog is not valid JSON: ${j.reason}` };
  try {
    const o = object(j.value, 'catalog', { required: ['schema', 'schemaVersion', 'issued', 'expires', 'sequence', 'products'] });
    if (o.schema !== CATALOG_SCHEMA) throw new Bad(`catalog.schema must be ${JSON.stringify(CATALOG_SCHEMA)}, got ${JSON.stringify(o.schema)}`);
    if (o.schemaVersion !== CATALOG_SCHEMA_VERSION) throw new Bad(`catalog.schemaVersion ${JSON.stringify(o.schemaVersion)} is not supported (this verifier reads ${CATALOG_SCHEMA_VERSION})`);
    const issued = date(o.issued, 'catalog.issued');
    const expires = date(o.expires, 'catalog.expires');
    if (expires.getTime() <= issued.getTime()) throw new Bad('catalog.expires must be after catalog.issued');
    const days = (expires.getTime() - issued.getTime()) / 86_400_000;
    if (days > CATALOG_VALIDITY_MAX_DAYS) throw new Bad(`the catalog is valid for ${Math.ceil(days)} days, at most ${CATALOG_VALIDITY_MAX_DAYS} are allowed`);
    const s = o.sequence;
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 1) throw new Bad(`catalog.sequence must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(s)}`);
    const list = array(o.products, 'catalog.products', CATALOG_PRODUCTS_MAX);
    if (list.length === 0) throw new Bad('catalog.products is empty');
    const products = list.map((p, i) => product(p, `catalog.products[${i}]`));
    const psids = new Set<string>();
    for (const p of products) {
      if (psids.has(p.psid)) throw new Bad(`catalog.products lists PSID ${p.psid} twice`);
      psids.add(p.psid);
    }
    return { ok: true, value: { issued, expires, sequence: s, products } };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, reason: e.message };
    throw e;
  }
}

/** The catalog content as canonical JSON (what `trustflash catalog sign` signs after reading a draft). */
export function catalogToJson(c: CatalogContent): string {
  const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
  return `${JSON.stringify(
    {
      schema: CATALOG_SCHEMA,
      schemaVersion: CATALOG_SCHEMA_VERSION,
      issued: iso(c.issued),
      expires: iso(c.expires),
      sequence: c.sequence,
      products: c.products.map((p) => ({ psid: p.psid, current: p.current, minimumVersion: p.minimumVersion, withdrawn: p.withdrawn, accepted: p.accepted })),
    },
    null,
    2,
  )}\n`;
}
