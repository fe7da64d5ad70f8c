/**
 * The CS-token demo's signer: the DEMO vendor signer key from src/assets/demo-keys, whose
 * private half is public (it is in the repository). It exists so the emulated NIC's token
 * challenge can be answered in the page; a real CS token is signed by the vendor, never in a
 * browser. Imported only by the device Worker, and only when the demo runs.
 */
import demoSignerKeyPem from '../assets/demo-keys/signer/key.pem?raw';
import { importSigningKey, type SigningKey } from '../core/crypto/private-key.ts';
import { signBytes } from '../core/crypto/signature.ts';
import type { SignedTokenParts } from './maintenance.ts';

export const DEMO_SIGNER_LABEL = 'DEMO vendor signer key (its private half is public: demo only)';

let demoKey: Promise<SigningKey> | undefined;

function loadDemoKey(): Promise<SigningKey> {
  return (demoKey ??= importSigningKey(demoSignerKeyPem).then((r) => {
    if (!r.ok) throw new Error(`the DEMO signer key could not be loaded: ${r.reason}`);
    return r.value;
  }));
}

/** Signs a CS token body with the DEMO signer key; the key id is SHA-256 of its SubjectPublicKeyInfo. */
export async function signWithDemoKey(body: Uint8Array): Promise<SignedTokenParts> {
  const key = await loadDemoKey();
  const keyId = new Uint8Array(await crypto.subtle.digest('SHA-256', key.spki as Uint8Array<ArrayBuffer>));
  const signature = await signBytes(key.alg, key.privateKey, body);
  return { keyId, signature, signer: DEMO_SIGNER_LABEL };
}
