/**
 * The DOWNLOAD step of a secure update (docs/protocol.md §5.5, §5.6): the image as DATA requests
 * from `from` (0, or where a RESUME_COMPONENT left the device), STATUS read after each block until
 * the head is in (the device authenticates the head on arrival, so a rejection stops the transfer
 * at once), then every 64 blocks and at the end. A device that leaves the bus in the middle (a
 * pulled cable) and comes back still holding this session's handle in DOWNLOAD is found again on
 * the bus and the download goes on from the bytes it has (STATUS.received): only what it had not
 * taken is sent again.
 */
import { UpdateError } from '../dfu/errors.ts';
import { DfuHost } from '../dfu/host.ts';
import { reconnect, type UsbBus } from '../dfu/reconnect.ts';
import { deviceRejected, MCC_STATE, mccStateName, regStatus } from './mcc-codes.ts';
import { NicClient } from './nic-client.ts';
import type { DeviceStatus } from './protocol.ts';
import type { LoadedImage } from './image-stream.ts';

/** DATA requests handed to the host at once after the image head. */
export const DATA_IN_FLIGHT = 4;
/** How many times a download goes on after the device left the bus and came back, and how long it may take to come back. */
const MAX_CUTS = 8;
const RECONNECT_MS = 10_000;

export interface DownloadContext {
  readonly nic: NicClient;
  readonly handle: number;
  readonly image: LoadedImage;
  /** The image offset to start at (STATUS.received after UPDATE_COMPONENT or RESUME_COMPONENT). */
  readonly from: number;
  /** Bytes of image per DATA request. */
  readonly size: number;
  /** The bus to find the device on again after a cut; without one a cut ends the download. */
  readonly usb?: UsbBus;
  readonly stopping: () => boolean;
  /** Every STATUS the download acted on. */
  readonly device: (s: DeviceStatus) => void;
  readonly log: (text: string) => void;
  /** `n` more image bytes the device has taken. */
  readonly taken: (n: number) => void;
  readonly progress: (sent: number, total: number) => void;
}

/** Sends the image; returns the client of the device as it is now (a new USBDevice after a re-enumeration). */
export async function downloadImage(ctx: DownloadContext): Promise<NicClient> {
  let nic = ctx.nic;
  let from = ctx.from;
  for (let cuts = 0; ; cuts++) {
    try {
      await sendFrom(ctx, nic, from);
      return nic;
    } catch (e) {
      const usb = ctx.usb;
      if (!(e instanceof UpdateError && e.code === 'NotFound') || !usb || cuts >= MAX_CUTS || ctx.stopping()) throw e;
      ctx.log(`the device left the bus during the download (${e.message}); waiting up to ${RECONNECT_MS / 1000} s for it to come back`);
      const again = await reconnect(usb, nic.host.device, RECONNECT_MS).catch(() => {
        throw e;
      });
      const host = new DfuHost(again);
      await host.open();
      nic = new NicClient(host);
      const s = await nic.status();
      ctx.device(s);
      if (!(s.handleOwned && s.handle === ctx.handle && s.state === MCC_STATE.DOWNLOAD)) {
        throw new UpdateError('NotFound', `the device came back without this download (${mccStateName(s.state)}${s.handleOwned ? '' : ', no update handle held'}): ${e.message}`, { cause: e });
      }
      from = s.received;
      ctx.log(`the device is back with ${from} of ${ctx.image.size} bytes: the download goes on from byte ${from}`);
    }
  }
}

async function sendFrom(ctx: DownloadContext, nic: NicClient, from: number): Promise<void> {
  const { image, size, handle } = ctx;
  const total = image.size;
  const blocks = Math.ceil(total / size);
  const headEnd = image.headEnd;
  // After the head, up to DATA_IN_FLIGHT blocks are handed to the host at once. DfuHost puts them
  // on the bus one at a time, in order; the queue lets the next block be prepared (for a file: read
  // and checked against the signed table) while the current one is on the wire. A block the device
  // refuses makes every later one fail too (its offset no longer follows), and the STATUS read at
  // the next checkpoint, or the first failed transfer, ends the download.
  const inFlight: Promise<void>[] = [];
  const settle = async (): Promise<void> => {
    const all = inFlight.splice(0);
    const results = await Promise.allSettled(all);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  try {
    for await (const { at, bytes: block } of image.send.chunks(from, size)) {
      if (ctx.stopping()) throw new UpdateError('Cancelled', 'cancelled');
      const n = Math.floor(at / size);
      const sent = at + block.length;
      const send = nic.data(handle, at, block, `cannot download block ${n} (of blocks 0..${blocks - 1})`);
      // counted when the device has taken it: a transfer cut by a pulled cable is sent again, and counted once
      void send.then(
        () => ctx.taken(block.length),
        () => undefined,
      );
      const checkpoint = at < headEnd || n % 64 === 63 || sent === total;
      if (checkpoint) {
        inFlight.push(send);
        await settle();
        const s = await nic.status();
        ctx.device(s);
        if (s.error !== 0) throw deviceRejected(s.error);
        if (s.result !== 0) throw new UpdateError('Rejected', `block ${n}: ${regStatus(s.result).sentence}`);
        if (s.received !== sent) throw new UpdateError('InvalidData', `the device acknowledged ${s.received} bytes, ${sent} were sent`);
      } else {
        send.catch(() => undefined); // seen by settle(); never an unhandled rejection meanwhile
        inFlight.push(send);
        if (inFlight.length >= DATA_IN_FLIGHT) await inFlight.shift();
      }
      ctx.progress(sent, total);
    }
  } finally {
    // nothing else (CANCEL, RELEASE) may go out while blocks are still queued
    await Promise.allSettled(inFlight.splice(0));
  }
}
