/**
 * Every DFU state × request cell, driven for real through the USBDevice and checked against a
 * table written here from DFU 1.1 Appendix A (reference/usb-dfu-and-webusb.md §1.7) — not from
 * the device's own table. The device runs the full-speed timing model on a NIC clock the test
 * holds still, so the transient states (dfuDNBUSY, dfuMANIFEST, dfuMANIFEST-WAIT-RESET) last
 * until the test moves the clock.
 *
 * Choices the spec leaves to the device, and this one's answers:
 * - dfuDNLOAD-SYNC + GETSTATUS: the first block is still being written (bank erase) → dfuDNBUSY.
 * - dfuDNLOAD-IDLE + zero-length DNLOAD after one block: data is missing → stall, errNOTDONE.
 * - dfuMANIFEST / dfuMANIFEST-WAIT-RESET do not service requests: stall, state unchanged.
 * - dfuERROR + an illegal request: stall, the status that explains the error is kept.
 * - USB reset in any DFU-mode state → run-time (the running image is valid; the update is fail-safe).
 */
import { describe, expect, it } from 'vitest';
import type { EmulatedUSBDevice } from '../../../src/emulator/usb/usb-device.ts';
import {
  ABORT,
  CLRSTATUS,
  DETACH,
  DNLOAD,
  GETSTATE,
  GETSTATUS,
  ManualClock,
  S,
  ST,
  UPLOAD,
  detachToDfu,
  dfuDownload,
  dfuIn,
  dfuOut,
  getState,
  getStatus,
  newDevice,
  nextConnect,
  openDfu,
  sample,
  sleep,
} from './host.ts';

const BLOCK = 4096;
const NAMES = ['appIDLE', 'appDETACH', 'dfuIDLE', 'dfuDNLOAD-SYNC', 'dfuDNBUSY', 'dfuDNLOAD-IDLE', 'dfuMANIFEST-SYNC', 'dfuMANIFEST', 'dfuMANIFEST-WAIT-RESET', 'dfuUPLOAD-IDLE', 'dfuERROR'];

type Column = 'DETACH' | 'DNLOAD>0' | 'DNLOAD 0' | 'UPLOAD' | 'GETSTATUS' | 'CLRSTATUS' | 'GETSTATE' | 'ABORT' | 'USB reset';
const COLUMNS: Column[] = ['DETACH', 'DNLOAD>0', 'DNLOAD 0', 'UPLOAD', 'GETSTATUS', 'CLRSTATUS', 'GETSTATE', 'ABORT', 'USB reset'];

interface Expect {
  /** The request is answered with STALL. */
  stall: boolean;
  /** The state after the request (for USB reset: the state of the re-enumerated device if `reenumerate`). */
  next: number;
  /** bStatus after (checked with GETSTATUS where the device answers it). */
  status?: number;
  /** The device leaves the bus and comes back as a new USBDevice. */
  reenumerate?: boolean;
}

const stall = (next: number, status?: number): Expect => ({ stall: true, next, ...(status === undefined ? {} : { status }) });
const ok = (next: number, status?: number): Expect => ({ stall: false, next, ...(status === undefined ? {} : { status }) });
const toError = stall(S.dfuERROR, ST.errSTALLEDPKT);
const resetToApp: Expect = { stall: false, next: S.appIDLE, reenumerate: true };

/** DFU 1.1 Appendix A. */
const APPENDIX_A: Record<number, Record<Column, Expect>> = {
  [S.appIDLE]: {
    DETACH: ok(S.appDETACH),
    'DNLOAD>0': stall(S.appIDLE),
    'DNLOAD 0': stall(S.appIDLE),
    UPLOAD: stall(S.appIDLE),
    GETSTATUS: ok(S.appIDLE),
    CLRSTATUS: stall(S.appIDLE),
    GETSTATE: ok(S.appIDLE),
    ABORT: stall(S.appIDLE),
    'USB reset': ok(S.appIDLE),
  },
  [S.appDETACH]: {
    DETACH: stall(S.appIDLE),
    'DNLOAD>0': stall(S.appIDLE),
    'DNLOAD 0': stall(S.appIDLE),
    UPLOAD: stall(S.appIDLE),
    GETSTATUS: ok(S.appDETACH),
    CLRSTATUS: stall(S.appIDLE),
    GETSTATE: ok(S.appDETACH),
    ABORT: stall(S.appIDLE),
    'USB reset': { stall: false, next: S.dfuIDLE, reenumerate: true },
  },
  [S.dfuIDLE]: {
    DETACH: toError,
    'DNLOAD>0': ok(S.dfuDNLOAD_SYNC),
    'DNLOAD 0': toError,
    UPLOAD: ok(S.dfuUPLOAD_IDLE),
    GETSTATUS: ok(S.dfuIDLE),
    CLRSTATUS: toError,
    GETSTATE: ok(S.dfuIDLE),
    ABORT: ok(S.dfuIDLE),
    'USB reset': resetToApp,
  },
  [S.dfuDNLOAD_SYNC]: {
    DETACH: toError,
    'DNLOAD>0': toError,
    'DNLOAD 0': toError,
    UPLOAD: toError,
    GETSTATUS: ok(S.dfuDNBUSY),
    CLRSTATUS: toError,
    GETSTATE: ok(S.dfuDNLOAD_SYNC),
    ABORT: toError,
    'USB reset': resetToApp,
  },
  [S.dfuDNBUSY]: {
    DETACH: toError,
    'DNLOAD>0': toError,
    'DNLOAD 0': toError,
    UPLOAD: toError,
    GETSTATUS: toError,
    CLRSTATUS: toError,
    GETSTATE: toError,
    ABORT: toError,
    'USB reset': resetToApp,
  },
  [S.dfuDNLOAD_IDLE]: {
    DETACH: toError,
    'DNLOAD>0': ok(S.dfuDNLOAD_SYNC),
    'DNLOAD 0': stall(S.dfuERROR, ST.errNOTDONE),
    UPLOAD: toError,
    GETSTATUS: ok(S.dfuDNLOAD_IDLE),
    CLRSTATUS: toError,
    GETSTATE: ok(S.dfuDNLOAD_IDLE),
    ABORT: ok(S.dfuIDLE),
    'USB reset': resetToApp,
  },
  [S.dfuMANIFEST_SYNC]: {
    DETACH: toError,
    'DNLOAD>0': toError,
    'DNLOAD 0': toError,
    UPLOAD: toError,
    GETSTATUS: ok(S.dfuMANIFEST),
    CLRSTATUS: toError,
    GETSTATE: ok(S.dfuMANIFEST_SYNC),
    ABORT: toError,
    'USB reset': resetToApp,
  },
  [S.dfuMANIFEST]: {
    DETACH: stall(S.dfuMANIFEST),
    'DNLOAD>0': stall(S.dfuMANIFEST),
    'DNLOAD 0': stall(S.dfuMANIFEST),
    UPLOAD: stall(S.dfuMANIFEST),
    GETSTATUS: stall(S.dfuMANIFEST),
    CLRSTATUS: stall(S.dfuMANIFEST),
    GETSTATE: stall(S.dfuMANIFEST),
    ABORT: stall(S.dfuMANIFEST),
    'USB reset': resetToApp,
  },
  [S.dfuMANIFEST_WAIT_RESET]: {
    DETACH: stall(S.dfuMANIFEST_WAIT_RESET),
    'DNLOAD>0': stall(S.dfuMANIFEST_WAIT_RESET),
    'DNLOAD 0': stall(S.dfuMANIFEST_WAIT_RESET),
    UPLOAD: stall(S.dfuMANIFEST_WAIT_RESET),
    GETSTATUS: stall(S.dfuMANIFEST_WAIT_RESET),
    CLRSTATUS: stall(S.dfuMANIFEST_WAIT_RESET),
    GETSTATE: stall(S.dfuMANIFEST_WAIT_RESET),
    ABORT: stall(S.dfuMANIFEST_WAIT_RESET),
    'USB reset': resetToApp,
  },
  [S.dfuUPLOAD_IDLE]: {
    DETACH: toError,
    'DNLOAD>0': toError,
    'DNLOAD 0': toError,
    UPLOAD: ok(S.dfuUPLOAD_IDLE),
    GETSTATUS: ok(S.dfuUPLOAD_IDLE),
    CLRSTATUS: toError,
    GETSTATE: ok(S.dfuUPLOAD_IDLE),
    ABORT: ok(S.dfuIDLE),
    'USB reset': resetToApp,
  },
  [S.dfuERROR]: {
    DETACH: stall(S.dfuERROR, ST.errSTALLEDPKT),
    'DNLOAD>0': stall(S.dfuERROR, ST.errSTALLEDPKT),
    'DNLOAD 0': stall(S.dfuERROR, ST.errSTALLEDPKT),
    UPLOAD: stall(S.dfuERROR, ST.errSTALLEDPKT),
    GETSTATUS: ok(S.dfuERROR, ST.errSTALLEDPKT),
    CLRSTATUS: ok(S.dfuIDLE, ST.OK),
    GETSTATE: ok(S.dfuERROR, ST.errSTALLEDPKT),
    ABORT: stall(S.dfuERROR, ST.errSTALLEDPKT),
    'USB reset': resetToApp,
  },
};

interface Rig {
  dev: EmulatedUSBDevice;
  clock: ManualClock;
  image: Uint8Array<ArrayBuffer>;
  /** wBlockNum the next DNLOAD carries. */
  nextBlock: number;
  /** Milliseconds the device asked to wait (dfuDNBUSY, dfuMANIFEST). */
  poll: number;
}

async function statusOrThrow(dev: USBDevice) {
  const st = await getStatus(dev);
  if (st === 'stall') throw new Error('GETSTATUS stalled while driving the device');
  return st;
}

/** Brings a fresh device into `state` with real requests only. */
async function driveTo(state: number): Promise<Rig> {
  const clock = new ManualClock();
  const image = await sample('good.tfw');
  const dev = await newDevice({ timing: 'full-speed', clock: clock.now, manifestationTolerant: state !== S.dfuMANIFEST_WAIT_RESET });
  await openDfu(dev);
  const rig: Rig = { dev, clock, image, nextBlock: 0, poll: 0 };
  if (state === S.appIDLE) return rig;
  if (state === S.appDETACH) {
    expect((await dfuOut(dev, DETACH, 1000)).status).toBe('ok');
    return rig;
  }
  rig.dev = await detachToDfu(dev);
  const d = rig.dev;
  switch (state) {
    case S.dfuIDLE:
      break;
    case S.dfuERROR:
      expect((await dfuOut(d, CLRSTATUS)).status).toBe('stall');
      break;
    case S.dfuUPLOAD_IDLE: {
      const r = await dfuIn(d, UPLOAD, BLOCK, 0);
      expect(r.data?.byteLength).toBe(BLOCK);
      rig.nextBlock = 1;
      break;
    }
    case S.dfuDNLOAD_SYNC:
    case S.dfuDNBUSY:
    case S.dfuDNLOAD_IDLE: {
      expect((await dfuOut(d, DNLOAD, 0, image.subarray(0, BLOCK))).status).toBe('ok');
      rig.nextBlock = 1;
      if (state === S.dfuDNLOAD_SYNC) break;
      let st = await statusOrThrow(d);
      expect(st.state).toBe(S.dfuDNBUSY);
      expect(st.poll).toBeGreaterThan(0);
      rig.poll = st.poll;
      if (state === S.dfuDNBUSY) break;
      for (let i = 0; st.state !== S.dfuDNLOAD_IDLE; i++) {
        if (i > 10) throw new Error('block 0 never completes');
        clock.advance(st.poll);
        st = await statusOrThrow(d);
      }
      break;
    }
    case S.dfuMANIFEST_SYNC:
    case S.dfuMANIFEST:
    case S.dfuMANIFEST_WAIT_RESET: {
      let block = 0;
      for (let off = 0; off < image.length; off += BLOCK, block++) {
        expect((await dfuOut(d, DNLOAD, block, image.subarray(off, off + BLOCK))).status).toBe('ok');
        for (let st = await statusOrThrow(d), i = 0; st.state !== S.dfuDNLOAD_IDLE; st = await statusOrThrow(d), i++) {
          if (st.state !== S.dfuDNBUSY || i > 10) throw new Error(`block ${block}: ${JSON.stringify(st)}`);
          clock.advance(st.poll);
        }
      }
      expect((await dfuOut(d, DNLOAD, block)).status).toBe('ok');
      rig.nextBlock = block + 1;
      if (state === S.dfuMANIFEST_SYNC) break;
      const st = await statusOrThrow(d);
      expect(st).toMatchObject({ status: ST.OK, state: S.dfuMANIFEST });
      expect(st.poll).toBeGreaterThan(0);
      rig.poll = st.poll;
      if (state === S.dfuMANIFEST_WAIT_RESET) clock.advance(st.poll);
      break;
    }
  }
  return rig;
}

/** Sends one column's request; returns whether it stalled and, for GETSTATUS, the bState it announced. */
async function send(rig: Rig, col: Column): Promise<{ stalled: boolean; announced?: number }> {
  const d = rig.dev;
  const out = async (p: Promise<USBOutTransferResult>) => ({ stalled: (await p).status === 'stall' });
  const inn = async (p: Promise<USBInTransferResult>) => ({ stalled: (await p).status === 'stall' });
  switch (col) {
    case 'DETACH':
      return out(dfuOut(d, DETACH, 1000));
    case 'DNLOAD>0':
      return out(dfuOut(d, DNLOAD, rig.nextBlock, rig.image.subarray(rig.nextBlock * BLOCK, (rig.nextBlock + 1) * BLOCK)));
    case 'DNLOAD 0':
      return out(dfuOut(d, DNLOAD, rig.nextBlock));
    case 'UPLOAD':
      return inn(dfuIn(d, UPLOAD, BLOCK, rig.nextBlock));
    case 'GETSTATUS': {
      const st = await getStatus(d);
      return st === 'stall' ? { stalled: true } : { stalled: false, announced: st.state };
    }
    case 'CLRSTATUS':
      return out(dfuOut(d, CLRSTATUS));
    case 'GETSTATE':
      return inn(dfuIn(d, GETSTATE, 1));
    case 'ABORT':
      return out(dfuOut(d, ABORT));
    case 'USB reset':
      throw new Error('USB reset is not a request');
  }
}

describe('DFU 1.1 Appendix A: every state × request', () => {
  for (const state of Object.values(S)) {
    for (const col of COLUMNS) {
      const want = APPENDIX_A[state]![col];
      const name = `${NAMES[state]} × ${col} → ${want.stall ? 'STALL, ' : ''}${NAMES[want.next]}${want.reenumerate ? ' (re-enumerates)' : ''}`;
      it(name, async () => {
        const rig = await driveTo(state);
        const d = rig.dev;

        if (col === 'USB reset') {
          if (!want.reenumerate) {
            await d.reset();
            expect(d.connected).toBe(true);
            expect(await getState(d)).toBe(want.next);
            return;
          }
          const connected = nextConnect(d.usb);
          await expect(d.reset()).rejects.toMatchObject({ name: 'NetworkError' });
          const fresh = await connected;
          expect(fresh).not.toBe(d);
          expect(fresh.personality).toBe(want.next === S.dfuIDLE ? 'dfu' : 'runtime');
          await expect(d.controlTransferIn({ requestType: 'class', recipient: 'interface', request: GETSTATE, value: 0, index: 0 }, 1)).rejects.toMatchObject({ name: 'NotFoundError' });
          await openDfu(fresh);
          expect(await getState(fresh)).toBe(want.next);
          return;
        }

        const r = await send(rig, col);
        expect(r.stalled, 'stall').toBe(want.stall);
        if (col === 'GETSTATUS' && !r.stalled) expect(r.announced, 'bState in the GETSTATUS reply').toBe(want.next);

        switch (want.next) {
          case S.dfuDNBUSY: {
            // busy: any request before bwPollTimeout is an error, so check by letting the time pass
            rig.clock.advance(60_000);
            expect(await getState(d)).toBe(S.dfuDNLOAD_SYNC);
            break;
          }
          case S.dfuMANIFEST: {
            if (state === S.dfuMANIFEST) expect(await getState(d), 'no request is serviced while manifesting').toBe('stall');
            rig.clock.advance(60_000);
            // manifestation tolerant: MANIFEST → MANIFEST-SYNC once the time has passed, and GETSTATUS → dfuIDLE
            const st = await getStatus(d);
            expect(st).toMatchObject({ status: ST.OK, state: S.dfuIDLE });
            break;
          }
          case S.dfuMANIFEST_WAIT_RESET: {
            const connected = nextConnect(d.usb);
            expect(await getState(d), 'waiting for a reset: no answer').toBe('stall');
            // bitWillDetach: the device resets itself and comes back in run-time
            const fresh = await connected;
            await openDfu(fresh);
            expect(await getState(fresh)).toBe(S.appIDLE);
            break;
          }
          default: {
            expect(await getState(d), 'GETSTATE after').toBe(want.next);
            if (want.status !== undefined) {
              const st = await getStatus(d);
              expect(st === 'stall' ? st : st.status, 'bStatus after').toBe(want.status);
            }
          }
        }

        // run-time: DETACH schedules the device's own detach; a stall in appDETACH cancels it
        if (state === S.appDETACH || (state === S.appIDLE && col === 'DETACH')) {
          if (want.next === S.appDETACH) {
            const fresh = await nextConnect(d.usb);
            expect(fresh.personality).toBe('dfu');
          } else {
            await sleep(80);
            expect(d.connected).toBe(true);
            expect(await getState(d)).toBe(S.appIDLE);
          }
        }
      });
    }
  }
});
