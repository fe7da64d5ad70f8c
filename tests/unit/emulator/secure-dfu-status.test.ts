/** How the device reports an MCC refusal in a plain DFU download's bStatus (docs/protocol.md §3): the device side's one table. */
import { describe, expect, it } from 'vitest';
import { dfuStatusForMccError } from '../../../src/emulator/usb/secure-dfu.ts';
import { DFU_STATUS_NAMES } from '../../../src/emulator/usb/dfu-spec.ts';

describe('MCC error → DFU bStatus', () => {
  it('each refusal maps to the bStatus DFU 1.1 §6.1.2 names for it; anything else is errUNKNOWN (it is asked only about errors)', () => {
    const expected: Record<string, number[]> = {
      errVERIFY: [0x02, 0x04, 0x05, 0x06, 0x07],
      errTARGET: [0x03],
      errFILE: [0x08],
      errVENDOR: [0x09, 0x0a, 0x0f, 0x19, 0x32],
      errERASE: [0x10],
      errWRITE: [0x28],
      errADDRESS: [0x1e],
    };
    const name = (c: number) => DFU_STATUS_NAMES[dfuStatusForMccError(c)];
    for (const [status, codes] of Object.entries(expected)) for (const c of codes) expect(name(c), `0x${c.toString(16)}`).toBe(status);
    const mapped = new Set(Object.values(expected).flat());
    for (let c = 1; c < 0x40; c++) if (!mapped.has(c)) expect(name(c), `0x${c.toString(16)}`).toBe('errUNKNOWN');
  });
});
