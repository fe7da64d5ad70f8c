/**
 * Record and replay (fwupd's habit): every control transfer a host makes can be recorded to JSON,
 * and the recording replayed as a device — the same log becomes a regression test. Replay is
 * strict: a host that sends a different request than the recording holds gets an error naming the
 * step, so a behaviour change in the host shows up as a failing test.
 */

export interface RecordedTransfer {
  readonly dir: 'in' | 'out';
  readonly setup: { requestType: USBRequestType; recipient: USBRecipient; request: number; value: number; index: number };
  /** IN: the requested length; OUT: the data (hex). */
  readonly length?: number;
  readonly data?: string;
  readonly result: { status: USBTransferStatus; data?: string; bytesWritten?: number } | { error: string; name: string };
}

export interface Recording {
  readonly format: 'trustflash-usb-recording';
  readonly version: 1;
  readonly device: { vendorId: number; productId: number; serialNumber?: string | undefined; productName?: string | undefined };
  readonly transfers: RecordedTransfer[];
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (s: string) => Uint8Array.from({ length: s.length / 2 }, (_, i) => parseInt(s.slice(2 * i, 2 * i + 2), 16));
const view = (d: DataView | undefined) => (d ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(0));

/**
 * A USBDevice with some methods replaced. A Proxy, not Object.create: device classes keep private
 * fields (#opened …) that only work with the real object as `this`, so every other property is read
 * from, and every other method called on, the real device.
 */
export function wrapDevice(device: USBDevice, overrides: Partial<Pick<USBDevice, 'controlTransferIn' | 'controlTransferOut'>>): USBDevice {
  return new Proxy(device, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop as keyof typeof overrides];
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Wraps a USBDevice so every control transfer is appended to `recording.transfers`. Everything else
 * passes through. Returns the wrapped device and the recording.
 */
export function recordDevice(device: USBDevice): { device: USBDevice; recording: Recording } {
  const recording: Recording = {
    format: 'trustflash-usb-recording',
    version: 1,
    device: { vendorId: device.vendorId, productId: device.productId, serialNumber: device.serialNumber ?? undefined, productName: device.productName ?? undefined },
    transfers: [],
  };
  const setupOf = (s: USBControlTransferParameters) => ({ requestType: s.requestType, recipient: s.recipient, request: s.request, value: s.value, index: s.index });
  const wrapped = wrapDevice(device, {
    controlTransferIn: async (setup: USBControlTransferParameters, length: number) => {
      try {
        const r = await device.controlTransferIn(setup, length);
        recording.transfers.push({ dir: 'in', setup: setupOf(setup), length, result: { status: r.status ?? 'ok', data: hex(view(r.data)) } });
        return r;
      } catch (e) {
        recording.transfers.push({ dir: 'in', setup: setupOf(setup), length, result: { error: (e as Error).message, name: (e as Error).name } });
        throw e;
      }
    },
    controlTransferOut: async (setup: USBControlTransferParameters, data?: BufferSource) => {
      const bytes = data ? new Uint8Array(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data) : undefined;
      try {
        const r = await device.controlTransferOut(setup, data);
        recording.transfers.push({ dir: 'out', setup: setupOf(setup), ...(bytes ? { data: hex(bytes) } : {}), result: { status: r.status ?? 'ok', bytesWritten: r.bytesWritten } });
        return r;
      } catch (e) {
        recording.transfers.push({ dir: 'out', setup: setupOf(setup), ...(bytes ? { data: hex(bytes) } : {}), result: { error: (e as Error).message, name: (e as Error).name } });
        throw e;
      }
    },
  });
  return { device: wrapped, recording };
}

export class ReplayMismatch extends Error {
  override name = 'ReplayMismatch';
}

/**
 * A device that plays a recording back. open/claim/select succeed; each control transfer must match
 * the next recorded one (direction, setup, length or data), and gets the recorded answer.
 */
export function replayDevice(rec: Recording): USBDevice & { readonly remaining: number } {
  if (rec.format !== 'trustflash-usb-recording' || rec.version !== 1 || !Array.isArray(rec.transfers)) throw new TypeError('"recording" expected a trustflash-usb-recording v1');
  let next = 0;
  let opened = false;
  const take = (dir: 'in' | 'out', setup: USBControlTransferParameters, lengthOrData: number | Uint8Array | undefined): RecordedTransfer => {
    const t = rec.transfers[next];
    const what = `${dir} request ${setup.request} value ${setup.value}`;
    if (!t) throw new ReplayMismatch(`step ${next + 1}: the host sent ${what} after the recording ended`);
    const same =
      t.dir === dir &&
      t.setup.requestType === setup.requestType &&
      t.setup.recipient === setup.recipient &&
      t.setup.request === setup.request &&
      t.setup.value === setup.value &&
      t.setup.index === setup.index &&
      (dir === 'in' ? t.length === lengthOrData : (t.data ?? '') === (lengthOrData instanceof Uint8Array ? hex(lengthOrData) : ''));
    if (!same) throw new ReplayMismatch(`step ${next + 1}: the host sent ${what}, the recording has ${t.dir} request ${t.setup.request} value ${t.setup.value}`);
    next++;
    return t;
  };
  const fail = (r: { error: string; name: string }) => Object.assign(new Error(r.error), { name: r.name });
  const dev = {
    vendorId: rec.device.vendorId,
    productId: rec.device.productId,
    serialNumber: rec.device.serialNumber,
    productName: rec.device.productName,
    get opened() {
      return opened;
    },
    configuration: { configurationValue: 1 },
    get remaining() {
      return rec.transfers.length - next;
    },
    open: async () => void (opened = true),
    close: async () => void (opened = false),
    selectConfiguration: async () => {},
    claimInterface: async () => {},
    releaseInterface: async () => {},
    selectAlternateInterface: async () => {},
    reset: async () => {},
    controlTransferIn: async (setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> => {
      const t = take('in', setup, length);
      if ('error' in t.result) throw fail(t.result);
      const data = unhex(t.result.data ?? '');
      return { status: t.result.status, data: new DataView(data.buffer) } as USBInTransferResult;
    },
    controlTransferOut: async (setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> => {
      const bytes = data ? new Uint8Array(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data) : undefined;
      const t = take('out', setup, bytes);
      if ('error' in t.result) throw fail(t.result);
      return { status: t.result.status, bytesWritten: t.result.bytesWritten ?? 0 } as USBOutTransferResult;
    },
  };
  return dev as unknown as USBDevice & { readonly remaining: number };
}
