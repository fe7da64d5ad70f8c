/**
 * The manifest JSON that vendors write for `trustflash sign` (field names as in docs/image-format.md).
 * Validation collects every problem with the field it is about; the payload fields are filled in
 * by signing. File access is injected (`readText`) so this stays pure.
 */
import { normalizeVersion } from '../image/version.ts';
import { RELEASE_NOTES_FORBIDDEN, SVN_MAX } from '../image/layout.ts';
import { checkNextKeys } from '../verify/next-keys.ts';
import { checkKeyPolicy, parseSpki } from '../crypto/keys.ts';
import { parsePem } from '../crypto/pem.ts';
import type { ManifestDraft } from './sign-image.ts';
import { parseIsoTime } from '../bytes/iso-time.ts';
import type { Failed } from '../bytes/result.ts';

export type JsonResult<T> = { ok: true; value: T } | Failed<{ errors: string[] }>;

const KNOWN = new Set([
  'vendor', 'product', 'psids', 'deviceIds', 'version', 'securityVersion', 'minSecurityVersion', 'releaseDate',
  'expires', 'forbiddenVersions', 'nextKeys', 'secured', 'dev', 'releaseNotes',
]);

export interface ManifestJsonOptions {
  /** `trustflash sign --final-image`: a deliberate last image, allowed to leave the device with no usable key (signed tag 18). */
  readonly finalImage?: boolean;
}

export async function manifestFromJson(json: unknown, readText: (path: string) => Promise<string>, opts: ManifestJsonOptions = {}): Promise<JsonResult<ManifestDraft>> {
  const errors: string[] = [];
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, reason: 'the manifest must be a JSON object', errors: ['the manifest must be a JSON object'] };
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k === 'payloadSize' || k === 'payloadSha256') errors.push(`"${k}" is filled in by sign; remove it from the manifest`);
    else if (k === 'sequence') errors.push('"sequence" is no longer part of the format (tag 10 is reserved: it was never enforced); remove it from the manifest');
    else if (k === 'finalImage') errors.push('"finalImage" is set only by `trustflash sign --final-image`, never from the manifest; remove it');
    else if (!KNOWN.has(k)) errors.push(`"${k}" is not a manifest field`);
  }
  const missing = (k: string): boolean => {
    if (o[k] !== undefined) return false;
    errors.push(`"${k}" is required`);
    return true;
  };
  const str = (k: string, max: number, required = true): string | undefined => {
    const v = o[k];
    if (v === undefined && !required) return undefined;
    if (missing(k)) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > max || !/^[\x20-\x7e]*$/.test(v)) {
      errors.push(`"${k}" must be printable ASCII text of 1..${max} characters`);
      return undefined;
    }
    return v;
  };
  const int = (k: string, max: number, required = true): number | undefined => {
    const v = o[k];
    if (v === undefined && !required) return undefined;
    if (missing(k)) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
      errors.push(`"${k}" must be an integer in 0..${max}`);
      return undefined;
    }
    return v;
  };
  const bool = (k: string, dflt?: boolean): boolean | undefined => {
    const v = o[k] ?? dflt;
    if (typeof v !== 'boolean') {
      errors.push(`"${k}" must be true or false`);
      return undefined;
    }
    return v;
  };
  const list = <T>(k: string, max: number, item: (v: unknown, i: number) => T | undefined, required = false): T[] => {
    const v = o[k];
    if (v === undefined && !required) return [];
    if (missing(k)) return [];
    if (!Array.isArray(v) || v.length > max || (required && v.length === 0)) {
      errors.push(`"${k}" must be a list of ${required ? '1' : '0'}..${max} entries`);
      return [];
    }
    return v.map(item).filter((x): x is T => x !== undefined);
  };
  const version = (v: unknown, where: string): string | undefined => {
    if (v === undefined && where === '"version"') {
      errors.push('"version" is required');
      return undefined;
    }
    const n = typeof v === 'string' ? normalizeVersion(v) : undefined;
    if (n?.ok) return n.version;
    errors.push(`${where} must be a version "major.minor.subminor" with parts 0..65535${n && !n.ok && /leading zeros/.test(n.reason) ? ` (${n.reason})` : ''}, got ${JSON.stringify(v)}`);
    return undefined;
  };
  const date = (k: string, required: boolean): number | undefined => {
    if (o[k] === undefined && !required) return undefined;
    if (missing(k)) return undefined;
    const r = parseIsoTime(o[k]);
    if (!r.ok) errors.push(`"${k}": ${r.reason}`);
    return r.ok ? r.seconds : undefined;
  };

  const vendor = str('vendor', 64);
  const product = str('product', 64);
  const psids = list('psids', 64, (v, i) => (typeof v === 'string' && /^[\x21-\x7e]{1,16}$/.test(v) ? v : void errors.push(`"psids[${i}]" must be 1..16 printable characters`)), true);
  const deviceIds = list('deviceIds', 64, (v, i) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : void errors.push(`"deviceIds[${i}]" must be an integer in 0..4294967295`)));
  const ver = version(o.version, '"version"');
  // at most SVN_MAX: the fuses that count security versions run out there (issue #10, S1)
  const securityVersion = int('securityVersion', SVN_MAX);
  const minSecurityVersion = int('minSecurityVersion', SVN_MAX, false);
  const releaseDate = date('releaseDate', true);
  const expires = date('expires', false);
  const forbiddenVersions = list('forbiddenVersions', 32, (v, i) => version(v, `"forbiddenVersions[${i}]"`));
  const secured = bool('secured', true);
  const dev = bool('dev', false);
  const releaseNotes =
    o.releaseNotes === undefined
      ? undefined
      : typeof o.releaseNotes === 'string' && o.releaseNotes.length > 0 && new TextEncoder().encode(o.releaseNotes).length <= 16384 && !RELEASE_NOTES_FORBIDDEN.test(o.releaseNotes) && !/\p{Cs}/u.test(o.releaseNotes)
        ? o.releaseNotes
        : void errors.push('"releaseNotes" must be 1..16384 bytes of UTF-8 text without control characters (tab and line breaks are fine), C1 controls or bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069)');
  const nextKeys: Uint8Array[] = [];
  const rawKeys = list('nextKeys', 8, (v, i) => (typeof v === 'string' && v.length > 0 ? v : void errors.push(`"nextKeys[${i}]" must be a PEM file path or PEM text`)));
  for (const [i, entry] of rawKeys.entries()) {
    let text = entry;
    if (!entry.includes('-----BEGIN')) {
      try {
        text = await readText(entry);
      } catch (e) {
        errors.push(`"nextKeys[${i}]": cannot read ${entry}: ${(e as Error).message}`);
        continue;
      }
    }
    const block = parsePem(text).blocks.find((b) => b.label === 'PUBLIC KEY' || b.label === 'CERTIFICATE');
    if (!block || block.label !== 'PUBLIC KEY') {
      errors.push(`"nextKeys[${i}]" must hold a PUBLIC KEY PEM block (openssl pkey -pubout)`);
      continue;
    }
    const info = parseSpki(block.der);
    const policy = info.ok ? checkKeyPolicy(info.value) : info;
    if (!policy.ok) errors.push(`"nextKeys[${i}]": ${policy.reason}`);
    else nextKeys.push(block.der);
  }
  // lock-out (issue #10, S2): after this image the device must hold a key it can verify the next one with
  if (rawKeys.length === nextKeys.length) {
    const nk = checkNextKeys(nextKeys, { finalImage: opts.finalImage === true });
    if (!nk.ok) errors.push(`"nextKeys": ${nk.reason}`);
  }
  if (minSecurityVersion !== undefined && securityVersion !== undefined && minSecurityVersion > securityVersion) {
    errors.push(`"minSecurityVersion" (${minSecurityVersion}) cannot exceed "securityVersion" (${securityVersion})`);
  }
  if (errors.length) return { ok: false, reason: errors.join('; '), errors };
  return {
    ok: true,
    value: {
      vendor: vendor!,
      product: product!,
      psids,
      deviceIds,
      version: ver!,
      securityVersion: securityVersion!,
      ...(minSecurityVersion !== undefined ? { minSecurityVersion } : {}),
      releaseDate: releaseDate!,
      ...(expires !== undefined ? { expires } : {}),
      forbiddenVersions,
      nextKeys,
      secured: secured!,
      dev: dev!,
      ...(releaseNotes !== undefined ? { releaseNotes } : {}),
      ...(opts.finalImage ? { finalImage: true } : {}),
    },
  };
}
