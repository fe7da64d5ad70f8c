/**
 * The trust store: vendor root certificates (chains end here), bare public keys (images signed
 * without certificates, as a NIC's embedded keys work) and the vendor's CRLs (crl.ts: a revoked
 * signer or intermediate fails its chain). Built from PEM text; nothing is trusted implicitly. Known demo/test keys are flagged by key id, not by name, because their private
 * halves are public (EDK2 DetectTestKey, MCUboot GHSA-gcxh-546h-phg4).
 */
import { toHex } from '../bytes/hex.ts';
import { isDemoKeyId } from './demo-keys.ts';
import { checkKeyPolicy, describeKey, keyIdOf, parseSpki } from './keys.ts';
import { parsePem } from './pem.ts';
import { crlNamesIssuer, describeCrl, parseCrl, PEM_LABEL_CRL, verifyCrlSignature, type Crl } from './crl.ts';
import { parseCertificate, type Certificate } from './x509.ts';

export interface TrustedKey {
  readonly keyId: Uint8Array;
  readonly spki: Uint8Array;
  readonly label: string;
  readonly demo: boolean;
  /** Present when the key came from a root certificate. */
  readonly certificate?: Certificate;
}

export interface TrustStore {
  readonly anchors: readonly Certificate[];
  readonly keys: readonly TrustedKey[];
  /**
   * CRLs (X509 CRL blocks) checked against every non-anchor certificate of a path. Absent in a
   * store built before CRLs existed; absent or empty, the chain row says none is loaded.
   */
  readonly crls?: readonly Crl[];
}

/** A trust file as the page and the device side pass it around (one definition: TrustText). */
export type TrustSource = TrustText;

export const EMPTY_TRUST: TrustStore = { anchors: [], keys: [], crls: [] };

/** One trust file's text. `kind: 'crl'` (a `--crl` file, a CRL picked in the page) accepts X509 CRL blocks only, so a root can never be trusted by way of a CRL file. */
export interface TrustText {
  readonly name: string;
  readonly text: string;
  readonly kind?: 'crl';
}

/**
 * The trust entry for a key id. When the same key is trusted both as a bare key and through a root
 * certificate, the bare key wins whatever the load order: trusting a key directly is the more
 * specific statement.
 */
export function findTrustedKey(store: TrustStore, keyId: Uint8Array): TrustedKey | undefined {
  const hex = toHex(keyId);
  const all = store.keys.filter((k) => toHex(k.keyId) === hex);
  return all.find((k) => !k.certificate) ?? all[0];
}

/**
 * Loads PEM texts holding CERTIFICATE, PUBLIC KEY and/or X509 CRL blocks. Returns the store, one
 * error per block it could not use (so a typo in a trust file is reported, not silently dropped),
 * and warnings about CRLs that are usable but doubtful: one whose issuer is no trusted root (it
 * applies only if that issuer turns up as an intermediate in a path), or one that names a trusted
 * root but does not verify with its key (any chain through that root then fails closed).
 */
export async function loadTrustStore(sources: readonly TrustText[]): Promise<{ store: TrustStore; errors: string[]; warnings: string[] }> {
  const anchors: Certificate[] = [];
  const keys: TrustedKey[] = [];
  const crls: { crl: Crl; where: string }[] = [];
  const errors: string[] = [];
  for (const { text, name, kind } of sources) {
    const { blocks, errors: pemErrors } = parsePem(text);
    errors.push(...pemErrors.map((e) => `${name}: ${e}`));
    if (blocks.length === 0 && pemErrors.length === 0) errors.push(`${name}: ${kind === 'crl' ? `no ${PEM_LABEL_CRL} block found` : 'no CERTIFICATE or PUBLIC KEY block found (nor an X509 CRL)'}`);
    for (const [i, b] of blocks.entries()) {
      const where = `${name} block ${i + 1}`;
      if (kind === 'crl' && b.label !== PEM_LABEL_CRL) {
        errors.push(`${where}: "${b.label}" in a CRL file; roots and keys are trusted separately (--trust)`);
      } else if (b.label === PEM_LABEL_CRL) {
        const c = parseCrl(b.der);
        if (!c.ok) errors.push(`${where}: ${c.reason}`);
        else crls.push({ crl: c.value, where });
      } else if (b.label === 'CERTIFICATE') {
        const c = await parseCertificate(b.der);
        if (!c.ok) {
          errors.push(`${where}: ${c.reason}`);
          continue;
        }
        anchors.push(c.value);
        keys.push({ keyId: c.value.keyId, spki: c.value.spki, label: c.value.subject, demo: isDemoKeyId(c.value.keyId), certificate: c.value });
      } else if (b.label === 'PUBLIC KEY') {
        const k = parseSpki(b.der);
        if (!k.ok) {
          errors.push(`${where}: ${k.reason}`);
          continue;
        }
        const policy = checkKeyPolicy(k.value);
        if (!policy.ok) {
          errors.push(`${where}: ${policy.reason}`);
          continue;
        }
        const keyId = await keyIdOf(b.der);
        keys.push({ keyId, spki: b.der, label: `${describeKey(k.value)} key ${toHex(keyId).slice(0, 16)}`, demo: isDemoKeyId(keyId) });
      } else {
        errors.push(`${where}: "${b.label}" is not a CERTIFICATE or PUBLIC KEY (nor an X509 CRL)`);
      }
    }
  }
  const warnings: string[] = [];
  for (const { crl, where } of crls) {
    const roots = anchors.filter((a) => crlNamesIssuer(crl, a));
    if (roots.length === 0) {
      warnings.push(`${where}: ${describeCrl(crl)} is from no trusted root; it is used only if "${crl.issuer}" appears as an intermediate on a chain`);
      continue;
    }
    const verdicts = await Promise.all(roots.map((r) => verifyCrlSignature(crl, r)));
    const bad = verdicts.find((v) => !v.ok);
    if (bad && !bad.ok && !verdicts.some((v) => v.ok)) warnings.push(`${where}: ${bad.reason}; every chain through "${crl.issuer}" will fail (revocation status unknown)`);
  }
  return { store: { anchors, keys, crls: crls.map((c) => c.crl) }, errors, warnings };
}
