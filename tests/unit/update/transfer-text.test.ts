/** The transfer log as text (src/core/update/transfer-text.ts): one line per request, one per answer. */
import { describe, expect, it } from 'vitest';
import { describeTransfer } from '../../../src/core/update/transfer-text.ts';
import { MCC_STATE } from '../../../src/core/update/mcc-codes.ts';
import { encodeControl, encodeData, vendorSetup } from '../../../src/core/update/protocol.ts';
import { encodeStatus } from './device-side-codec.ts';
import type { TransferLogEntry } from '../../../src/core/dfu/host.ts';

const statusBytes = (state: number, extra: Partial<Parameters<typeof encodeStatus>[0]> = {}) =>
  encodeStatus({ state, error: 0, result: 0, flags: 0, handle: 0, received: 0, componentSize: 0, expectedTotal: 0, elapsedMs: 0, bootStatus: 0, ...extra });
const out = (name: 'CONTROL' | 'DATA', data: Uint8Array): TransferLogEntry => ({ direction: 'out', setup: vendorSetup(name, 0), length: data.length, status: 'ok', data });
const statusIn = (data: Uint8Array): TransferLogEntry => ({ direction: 'in', setup: vendorSetup('STATUS', 0), length: 64, status: 'ok', data });

describe('transfer log', () => {
  it('names vendor requests and decodes CONTROL, DATA and STATUS', () => {
    expect(describeTransfer(out('CONTROL', encodeControl({ instruction: 3, handle: 0x1234, componentSize: 67728 }))).request).toBe('CONTROL UPDATE_COMPONENT handle 0x001234 size 67728');
    expect(describeTransfer(out('DATA', encodeData({ handle: 1, offset: 8192, block: new Uint8Array(4096) }))).request).toBe('DATA offset 8192, 4096 bytes');
    expect(describeTransfer(statusIn(statusBytes(MCC_STATE.LOCKED, { flags: 1, handle: 0x1234 }))).answer).toBe('STATUS: LOCKED, handle 0x001234');
    expect(describeTransfer(statusIn(statusBytes(MCC_STATE.LOCKED, { error: 0x0f }))).answer).toBe('STATUS: LOCKED, error 0x0f REJECTED_FORBIDDEN_VERSION');
    expect(describeTransfer({ direction: 'in', setup: vendorSetup('QUERY', 0), length: 4096, status: 'stall' }).answer).toBe('QUERY: STALL');
    expect(describeTransfer({ direction: 'out', setup: vendorSetup('RESET', 0), length: 0, status: 'error', error: 'gone' }).answer).toBe('RESET failed: gone');
    expect(describeTransfer({ direction: 'in', setup: { requestType: 'standard', recipient: 'device', request: 6, value: 0x0200, index: 0 }, length: 9, status: 'ok', data: new Uint8Array(9) }).request).toBe('GET_DESCRIPTOR(CONFIGURATION) (up to 9 bytes)');
  });
});
