/**
 * How the outcome shows a device-signed receipt (update-view.ts attestationOf): verified, the device's
 * claims with what vouches for them; unverified, the same fields marked as claims not to be trusted,
 * and why; none, "no receipt".
 */
import { describe, expect, it } from 'vitest';
import { attestationOf } from '../../../src/ui/state/update-view.ts';
import type { SessionResult } from '../../../src/core/update/session.ts';

const fields = { serial: 'TFN0000001', psid: 'TF_0000000001', runningVersion: '28.39.1002', pendingVersion: '28.40.1000', fusedSvn: 2 };
const result = (receipt: SessionResult['receipt']): SessionResult => ({ outcome: 'updated', message: 'ok', deviceVerifies: true, steps: [], ...(receipt ? { receipt } : {}) });

describe('attestationOf', () => {
  it('verified: device-attested, the claims as signed, and the device CA that vouches', () => {
    const a = attestationOf(result({ verified: true, bytes: new Uint8Array(500), detail: 'device-attested: …', deviceCa: 'CN=Lab Device CA', fields }))!;
    expect(a).toMatchObject({ verified: true, label: 'device-attested', claims: 'TFN0000001 (PSID TF_0000000001) runs 28.39.1002, 28.40.1000 pending, fused security version 2' });
    expect(a.detail).toContain('"CN=Lab Device CA"');
  });

  it('not verified: the fields are shown as claims not to be trusted, with the reason', () => {
    const a = attestationOf(result({ verified: false, bytes: new Uint8Array(500), detail: 'receipt refused: the device certificate is not from a trusted device CA', fields }))!;
    expect(a.label).toBe('receipt not verified');
    expect(a.claims).toBe('what it claims, not to be trusted: TFN0000001 (PSID TF_0000000001) runs 28.39.1002, 28.40.1000 pending, fused security version 2');
    expect(a.detail).toMatch(/^receipt refused: /);
  });

  it('no receipt: said, with no claims', () => {
    expect(attestationOf(result({ verified: false, detail: 'no receipt: a plain DFU device does not sign update receipts' }))).toMatchObject({ label: 'no receipt', claims: undefined });
    expect(attestationOf(result(undefined))).toBeUndefined();
  });
});
