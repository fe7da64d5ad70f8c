/**
 * Key ids (SHA-256 of the SPKI) of the demo key set committed in tests/fixtures/demo-keys/. Their private keys are
 * public, so anything they sign proves nothing: every report relying on one says so.
 * tests/unit/crypto/demo-keys.test.ts checks this list against the committed keys.
 */
import { toHex } from '../bytes/hex.ts';

export const DEMO_KEY_IDS: ReadonlySet<string> = new Set<string>([
  'ac147072f195af386b75b52ebb691ecf2581c4966a3860b595e99043aef27d90', // root
  '1090990a5346e9b637cd125bdccdb5df0bb16400031f4be08a21a6207e9d3932', // signer
  'd8a8f939f2ba85aa620a26762f0bcc82a815c06d721494c6312c64a5439b54b1', // next-signer
  'd0e40b23cd38329d8c183592df6c996e6c0f097d4af81ef33048727c8bba4acd', // rogue-root
  '4ad6e5eaf2f27e1269ae90f7d83c82473bd83f34b29b2181f0043c350711bd84', // rogue-signer
  '865ed76f8f9612e4c037a60ae73abf32eeec65b64ba608ce457c5d26f0f63194', // unknown
]);

export function isDemoKeyId(keyId: Uint8Array): boolean {
  return DEMO_KEY_IDS.has(toHex(keyId));
}
