/**
 * Maintenance commands under secure firmware, and the CS-token challenge/response (reference §5.2,
 * §5.4): every maintenance command is refused; a token signed by a key the running image embeds,
 * answering the live challenge for this PSID, unlocks SET_VSD (only) for a limited time, once.
 */
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePem } from '../../../src/core/crypto/pem.ts';
import { manualClock, newNic, queryTags } from './nic-helpers.ts';

const OP = { RAW_FLASH_WRITE: 1, SET_VSD: 2, ROM_BURN: 3, ROM_DELETE: 4, ROM_READ: 5 } as const;
const R_OK = 0;
const R_METHOD_NOT_SUPP = 6;

function token(challenge: Uint8Array, opts: { key?: string; ops?: number; seconds?: number; psid?: string; nonce?: Uint8Array } = {}): Uint8Array {
  const key = opts.key ?? 'signer';
  const body = new Uint8Array(60);
  const dv = new DataView(body.buffer);
  body.set(new TextEncoder().encode('TFTK'));
  dv.setUint16(4, 1, true);
  dv.setUint16(6, opts.ops ?? 1 << OP.SET_VSD, true);
  dv.setUint32(8, opts.seconds ?? 60, true);
  body.set(opts.nonce ?? challenge.subarray(0, 32), 12);
  body.set(opts.psid ? new TextEncoder().encode(opts.psid) : challenge.subarray(32, 48), 44);
  const spki = parsePem(readFileSync(`src/assets/demo-keys/${key}/pubkey.pem`, 'utf8')).blocks[0]!.der;
  const keyId = createHash('sha256').update(spki).digest();
  const sig = sign('sha256', body, createPrivateKey(readFileSync(`src/assets/demo-keys/${key}/key.pem`, 'utf8')));
  const out = new Uint8Array(60 + 32 + 256);
  out.set(body);
  out.set(keyId, 60);
  out.set(sig, 92);
  return out;
}

describe('maintenance commands and the CS token', () => {
  it('every maintenance command is refused under secure firmware', async () => {
    const nic = await newNic();
    for (const op of Object.values(OP)) expect(nic.firmware.maint(op, new Uint8Array(4)), `op ${op}`).toBe(R_METHOD_NOT_SUPP);
  });

  it('a valid token unlocks SET_VSD for its lifetime; raw flash stays closed; the challenge answers once', async () => {
    const clock = manualClock();
    const nic = await newNic({ clock: clock.now });
    const fw = nic.firmware;
    const ch = fw.tokenChallenge();
    expect(ch.length).toBe(48);
    expect(new TextDecoder().decode(ch.subarray(32, 45))).toBe('TF_0000000001');
    const t = token(ch, { ops: (1 << OP.SET_VSD) | (1 << OP.RAW_FLASH_WRITE), seconds: 30 });
    expect(fw.tokenApply(t)).toBe(0);
    expect(fw.status().flags & 8).toBe(8); // debug token active
    expect(fw.maint(OP.SET_VSD, new TextEncoder().encode('LAB-RACK-7'))).toBe(R_OK);
    expect(new TextDecoder().decode(queryTags(nic).get(23))).toBe('LAB-RACK-7');
    expect(fw.maint(OP.RAW_FLASH_WRITE, new Uint8Array(8))).toBe(R_METHOD_NOT_SUPP); // never opened by a token
    expect(fw.tokenApply(t)).toBe(0x0c); // replay: no live challenge
    clock.advance(31_000);
    expect(fw.maint(OP.SET_VSD, new TextEncoder().encode('X'))).toBe(R_METHOD_NOT_SUPP);
  });

  it('tokens for another nonce, another PSID, by an unknown key, tampered or malformed are refused', async () => {
    const nic = await newNic();
    const fw = nic.firmware;
    const ch = fw.tokenChallenge();
    expect(fw.tokenApply(token(ch, { nonce: new Uint8Array(32).fill(7) }))).toBe(0x05);
    expect(fw.tokenApply(token(ch, { psid: 'MT_0000000999' }))).toBe(0x03);
    expect(fw.tokenApply(token(ch, { key: 'rogue-signer' }))).toBe(0x04);
    const bad = token(ch);
    bad[8]! ^= 1; // seconds changed after signing
    expect(fw.tokenApply(bad)).toBe(0x05);
    expect(fw.tokenApply(bad.subarray(0, 100))).toBe(0x08);
    // none of these consumed the challenge: the genuine answer still works
    expect(fw.tokenApply(token(ch))).toBe(0);
  });

  it('a token is capped at 600 s whatever it asks for', async () => {
    const clock = manualClock();
    const nic = await newNic({ clock: clock.now });
    const ch = nic.firmware.tokenChallenge();
    expect(nic.firmware.tokenApply(token(ch, { seconds: 86_400 }))).toBe(0);
    clock.advance(599_000);
    expect(nic.firmware.maint(OP.SET_VSD, new Uint8Array([65]))).toBe(R_OK);
    clock.advance(2_000);
    expect(nic.firmware.maint(OP.SET_VSD, new Uint8Array([65]))).toBe(R_METHOD_NOT_SUPP);
  });
});
