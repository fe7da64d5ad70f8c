/** Test helpers for driving the NIC firmware directly (as a host's MCC driver would). */
import { readFileSync } from 'node:fs';
import { EmulatedNic, type NicOptions } from '../../../src/emulator/nic.ts';

export const sample = (name: string) => new Uint8Array(readFileSync(`public/samples/${name}.tfw`));

export const I = { QUERY: 0, LOCK: 1, RELEASE: 2, UPDATE: 3, VERIFY: 4, ACTIVATE: 6, READ: 7, CANCEL: 8, CHECK: 9, FORCE: 0xa, READ_PENDING: 0xb, REACTIVATE: 0x20 } as const;
export const S = { IDLE: 0, LOCKED: 1, INITIALIZE: 2, DOWNLOAD: 3, UPLOAD: 7, UPLOAD_PENDING: 8 } as const;
export const R = { OK: 0, BUSY: 1, NOT_SUPP: 6, BAD_PARAM: 7, RES_NOT_AVLBL: 8 } as const;

/** A controllable clock. */
export function manualClock(start = 1000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

export async function newNic(opts: Partial<NicOptions> = {}): Promise<EmulatedNic> {
  return EmulatedNic.create({ factoryImage: sample('factory'), bankSize: 1024 * 1024, ...opts });
}

/** The QUERY TLVs as a map tag → bytes (a minimal reader for firmware tests). */
export function queryTags(nic: EmulatedNic): Map<number, Uint8Array> {
  const q = nic.firmware.queryBytes();
  const out = new Map<number, Uint8Array>();
  for (let at = 0; at + 3 <= q.length; ) {
    const len = q[at + 1]! | (q[at + 2]! << 8);
    out.set(q[at]!, q.subarray(at + 3, at + 3 + len));
    at += 3 + len;
  }
  return out;
}

export function version(b: Uint8Array | undefined): string | undefined {
  if (!b) return undefined;
  const v = new DataView(b.buffer, b.byteOffset);
  return `${v.getUint16(0, true)}.${v.getUint16(2, true)}.${v.getUint16(4, true)}`;
}

export const running = (nic: EmulatedNic) => version(queryTags(nic).get(1));
export const pending = (nic: EmulatedNic) => version(queryTags(nic).get(2));

/** LOCK with a freshly offered handle. */
export function lock(nic: EmulatedNic): number {
  const fw = nic.firmware;
  fw.mcc(I.QUERY, 0, 0);
  const h = fw.status().handle;
  const r = fw.mcc(I.LOCK, h, 0);
  if (r !== R.OK) throw new Error(`LOCK answered ${r}`);
  return h;
}

/**
 * The full MCC flow, as mstflint drives it: LOCK, UPDATE_COMPONENT(size), blocks, VERIFY,
 * ACTIVATE, RELEASE. Stops at the first device error and cleans up (CANCEL, RELEASE). Returns the
 * MCC error (0 = activated).
 */
export async function update(nic: EmulatedNic, image: Uint8Array, block = 4096): Promise<number> {
  const h = await nic.run('mcc:1', (fw) => {
    fw.mcc(I.QUERY, 0, 0);
    const hh = fw.status().handle;
    fw.mcc(I.LOCK, hh, 0);
    return hh;
  });
  const fail = async () => {
    const e = nic.firmware.status().error;
    await nic.run('mcc:8', (fw) => fw.mcc(I.CANCEL, h, 0));
    await nic.run('mcc:2', (fw) => fw.mcc(I.RELEASE, h, 0));
    return e;
  };
  await nic.run('mcc:3', (fw) => fw.mcc(I.UPDATE, h, image.length));
  if (nic.firmware.status().error) return fail();
  for (let at = 0, n = 0; at < image.length; at += block, n++) {
    await nic.run('block', (fw) => fw.writeBlock(h, at, image.subarray(at, at + block)), n);
    if (nic.firmware.status().error) return fail();
  }
  await nic.run('mcc:4', (fw) => fw.mcc(I.VERIFY, h, 0));
  if (nic.firmware.status().error) return fail();
  await nic.run('mcc:6', (fw) => fw.mcc(I.ACTIVATE, h, 0));
  if (nic.firmware.status().error) return fail();
  await nic.run('mcc:2', (fw) => fw.mcc(I.RELEASE, h, 0));
  return 0;
}
