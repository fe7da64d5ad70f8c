/**
 * The trust store: vendor root certificates (chains end here) and bare public keys (images signed
 * without certificates, as a NIC's embedded keys work). Built from PEM text; nothing is trusted
 * implicitly. Known demo/test keys are flagged by key id, not by name, because their private
 * halves are public (EDK2 DetectTestKey, MCUboot GHSA-gcxh-546h-phg4).
 */
import { toHex } from '../bytes/hex.ts';
import { isDemoKeyId } from './demo-keys.ts';
import { checkKeyPolicy, describeKey, keyIdOf, parseSpki } from './keys.ts';
import { parsePem } from './pem.ts';
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
}

export const EMPTY_TRUST: TrustStore = { anchors: [], keys: [] };

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
 * Loads PEM texts holding CERTIFICATE and/or PUBLIC KEY blocks. Returns the store and one message
 * per block it could not use (so a typo in a trust file is reported, not silently dropped).
 */
export async function loadTrustStore(sources: readonly { text: string; name: string }[]): Promise<{ store: TrustStore; errors: string[] }> {
  const anchors: Certificate[] = [];
  const keys: TrustedKey[] = [];
  const errors: string[] = [];
  for (const { text, name } of sources) {
    const { blocks, errors: pemErrors } = parsePem(text);
    errors.push(...pemErrors.map((e) => `${name}: ${e}`));
    if (blocks.length === 0 && pemErrors.length === 0) errors.push(`${name}: no CERTIFICATE or PUBLIC KEY block found`);
    for (const [i, b] of blocks.entries()) {
      const where = `${name} block ${i + 1}`;
      if (b.label === 'CERTIFICATE') {
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
        errors.push(`${where}: "${b.label}" is not a CERTIFICATE or PUBLIC KEY`);
      }
    }
  }
  return { store: { anchors, keys }, errors };
}
