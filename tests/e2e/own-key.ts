/**
 * A release engineer's own key for the page tests: a fresh RSA-2048 key pair (made by Node, as
 * openssl would), its public key written as `my-key.pub`, and an image `mine.tfw` (28.41.1000, for
 * the demo NIC's PSID) signed with it, whose nextKeys keep that key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signImage } from '../../src/core/sign/sign-image.ts';
import { importSigningKey } from '../../src/core/crypto/private-key.ts';
import { parsePem } from '../../src/core/crypto/pem.ts';
import { DRAFT, payloadOf } from '../unit/helpers/demo.ts';

export async function ownKeyImage(prefix: string): Promise<{ dir: string; pub: string; file: string; image: Uint8Array }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const pub = join(dir, 'my-key.pub');
  writeFileSync(pub, publicKey);
  const key = await importSigningKey(privateKey);
  if (!key.ok) throw new Error(key.reason);
  const spki = parsePem(publicKey).blocks[0]!.der;
  const image = await signImage({ ...DRAFT, vendor: 'Example Corp', version: '28.41.1000', nextKeys: [spki] }, payloadOf(4096), [{ key: key.value }]);
  const file = join(dir, 'mine.tfw');
  writeFileSync(file, image);
  return { dir, pub, file, image };
}
