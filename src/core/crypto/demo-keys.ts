/**
 * Key ids (SHA-256 of the SPKI) of the demo key set committed in src/assets/demo-keys/. Their private keys are
 * public, so anything they sign proves nothing: every report relying on one says so.
 * tests/unit/crypto/demo-keys.test.ts checks this list against the committed keys.
 */
import { toHex } from '../bytes/hex.ts';

export const DEMO_KEY_IDS: ReadonlySet<string> = new Set<string>([
  '9b0eac5d916106682644339a9b5945c6be9a517a9b7e84e848f3061bcf2b2760', // root
  '04ce2a9b6b927144d303348230b070ecc9e96df9046b5539cbd2380f74880ec9', // signer
  '6ab8106fe2286ef93e60084614684ffbf98190ba2bab105363f61a770ed376b3', // next-signer
  'ed0ad9f566e3449c7e8ed0ffc6c6b6fe1bc8f549d931e14d8815b751d44c4b62', // rogue-root
  '797e20876d38150a7130ae310c24528fe7a392bbcb1f0b1cddffe71fce7c1d85', // rogue-signer
  '58f5036b0cbe45f5f81680f9747e009bdc97e5d51fc4c93e36aae176f4279112', // unknown
  '75c6149532dd50697b6d28743e5b059480f918ce205dbc5de04e8e12662236d0', // release (signs the web app's release manifest)
  '59d4d0ee93e084d918511f78496fec2ae732bf914ec4a6e80ef9af799637576f', // device-ca
  '9a1f3766655b4c78006ed4928f07553942a5401df2d79840bb5450ed13d3c067', // rogue-device-ca
]);

export function isDemoKeyId(keyId: Uint8Array): boolean {
  return DEMO_KEY_IDS.has(toHex(keyId));
}
