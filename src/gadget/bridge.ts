/**
 * Serves the emulated NIC on a real Linux USB bus: a configfs gadget with one FunctionFS function
 * whose endpoint 0 is answered by the same device model the page and the tests use
 * (NicUsbFunction over the WASM firmware). Hosts written by others (dfu-util, lsusb, libusb, the
 * kernel's own usbcore) then talk to it through the kernel's USB stack, on a UDC such as dummy_hcd.
 *
 * Each enumeration of the model is one binding of the gadget: the bridge writes that personality's
 * descriptors, binds the UDC, serves ep0 until the model leaves the bus (DETACH, RESET, a reboot),
 * then unbinds and waits for the next enumeration. Events from the bus go to the model: a DISABLE
 * the bridge did not cause is a USB reset from the host; an UNBIND it did not cause is a pulled
 * cable (the model plugs itself back in).
 *
 * FunctionFS acknowledges an OUT data stage when the data is read, before the model has seen it, so
 * an OUT request with data cannot be stalled afterwards; the model's answer then shows in the next
 * GETSTATUS / STATUS / LAST_RESULT, which is where DFU and our protocol report errors anyway. Such
 * cases are counted (`lateStalls`). The DFU status string (iString) is not served: the kernel
 * answers string requests itself from the strings written at bind time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readvSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync, writevSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Enumeration, NicUsbFunction, SetupPacket } from '../emulator/usb/nic-usb-function.ts';
import { FFS_EVENT, FFS_EVENT_NAMES, FFS_EVENT_SIZE, functionFsBlobs, gadgetAttributes, parseEvents, platformAttributes } from './ffs.ts';

/** libcomposite stalls control OUT requests longer than this (USB_COMP_EP0_BUFSIZ) before they reach FunctionFS. */
export const COMPOSITE_EP0_MAX = 4096;

export interface GadgetOptions {
  /** configfs mount point (default /sys/kernel/config). */
  readonly configfs?: string;
  /** Name of the gadget and of its FunctionFS instance (default "trustflash"). */
  readonly name?: string;
  /** UDC to bind to (default: the first in /sys/class/udc). */
  readonly udc?: string;
  /** Where FunctionFS is mounted (default /dev/ffs-<name>). */
  readonly ffsDir?: string;
  /** One line per event and request. */
  readonly verbose?: boolean;
  readonly log?: (line: string) => void;
}

export interface BridgeStats {
  enumerations: number;
  requests: number;
  stalls: number;
  /** OUT requests with data the model refused after FunctionFS had acknowledged them. */
  lateStalls: number;
  resets: number;
  cablePulls: number;
  /** ep0 reads or writes the kernel refused (the host cancelled the request, the bus went away). */
  ep0Errors: number;
}

const SETUP_IN = 0x80;
/**
 * Zero-length I/O on ep0 acknowledges or stalls a request. FileHandle.read/write return at once
 * for zero lengths without a system call; readv/writev make it.
 *
 * The data and status stages of a request use synchronous readv/writev: the host is waiting on
 * the other end, so they return at once, and each saves the thread-pool round trip an async call
 * costs, which under TCG was most of the time a request took. Only the wait for the next event is
 * asynchronous, so timers and signals run between requests. A stage the host abandons fails (the
 * kernel completes the request with an error), it does not hang.
 */
const EMPTY = new Uint8Array(0);

function mounted(dir: string): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[1] === dir && l.split(' ')[2] === 'functionfs');
  } catch {
    return false;
  }
}

/** DFU_GETSTATUS: class request to an interface, IN (DFU 1.1 §6.1.2). */
function isGetStatus(s: SetupPacket): boolean {
  return s.bmRequestType === 0xa1 && s.bRequest === 3;
}

/** Linux errno EIDRM; libuv has no name for it, so Node reports "Unknown system error -43". */
const EIDRM = 43;
function isErrno(err: unknown, errno: number): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.errno === -errno;
}

function describeSetup(s: SetupPacket): string {
  const h = (v: number, n: number) => v.toString(16).padStart(n, '0');
  return `bmRequestType=${h(s.bmRequestType, 2)} bRequest=${h(s.bRequest, 2)} wValue=${h(s.wValue, 4)} wIndex=${h(s.wIndex, 4)} wLength=${s.wLength}`;
}

export class GadgetBridge {
  readonly stats: BridgeStats = { enumerations: 0, requests: 0, stalls: 0, lateStalls: 0, resets: 0, cablePulls: 0, ep0Errors: 0 };
  readonly #fn: NicUsbFunction;
  readonly #dir: string;
  readonly #name: string;
  readonly #ffsDir: string;
  readonly #udc: string;
  readonly #verbose: boolean;
  readonly #log: (line: string) => void;
  /** The enumeration the model wants on the bus now (undefined: off the bus). */
  #wanted: Enumeration | undefined;
  #wake: (() => void) | undefined;
  /** The enumeration being served, and whether the bridge itself is unbinding it. */
  #serving: Enumeration | undefined;
  #unbinding = false;
  #inRequest = false;
  #stopping = false;
  #ep0: FileHandle | undefined;
  #onBound: ((e: Enumeration) => void) | undefined;
  /** Platform attributes this kernel lacks, each logged once. */
  readonly #skipped = new Set<string>();

  constructor(fn: NicUsbFunction, opts: GadgetOptions = {}) {
    if (fn.transferSize > COMPOSITE_EP0_MAX) {
      throw new RangeError(`wTransferSize ${fn.transferSize} cannot work on a Linux gadget: libcomposite stalls control transfers longer than ${COMPOSITE_EP0_MAX} bytes`);
    }
    this.#fn = fn;
    this.#name = opts.name ?? 'trustflash';
    this.#dir = join(opts.configfs ?? '/sys/kernel/config', 'usb_gadget', this.#name);
    this.#ffsDir = opts.ffsDir ?? `/dev/ffs-${this.#name}`;
    this.#verbose = opts.verbose ?? false;
    this.#log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    const udcs = existsSync('/sys/class/udc') ? readdirSync('/sys/class/udc') : [];
    const udc = opts.udc ?? udcs[0];
    if (!udc) throw new Error('no USB device controller (UDC) on this machine: load dummy_hcd or a real UDC driver');
    if (!udcs.includes(udc)) throw new Error(`no UDC named ${udc} (have: ${udcs.join(', ') || 'none'})`);
    this.#udc = udc;
  }

  get udc(): string {
    return this.#udc;
  }

  /** Called each time the gadget is bound (the device is on the bus). */
  onBound(cb: (e: Enumeration) => void): void {
    this.#onBound = cb;
  }

  /** Creates the configfs gadget and mounts FunctionFS (reusing what a previous run left). */
  #setUp(): void {
    const fdir = join(this.#dir, 'functions', `ffs.${this.#name}`);
    for (const d of [this.#dir, join(this.#dir, 'strings', '0x409'), join(this.#dir, 'configs', 'c.1'), fdir]) mkdirSync(d, { recursive: true });
    const link = join(this.#dir, 'configs', 'c.1', `ffs.${this.#name}`);
    if (!existsSync(link)) symlinkSync(fdir, link);
    mkdirSync(this.#ffsDir, { recursive: true });
    if (!mounted(this.#ffsDir)) execFileSync('mount', ['-t', 'functionfs', this.#name, this.#ffsDir]);
  }

  /** Unbinds, unmounts and removes the gadget (best effort, in the order configfs requires). */
  tearDown(): void {
    const quiet = (f: () => void) => {
      try {
        f();
      } catch {
        /* already gone */
      }
    };
    quiet(() => writeFileSync(join(this.#dir, 'UDC'), '\n'));
    if (mounted(this.#ffsDir)) quiet(() => execFileSync('umount', [this.#ffsDir]));
    quiet(() => unlinkSync(join(this.#dir, 'os_desc', 'c.1')));
    quiet(() => unlinkSync(join(this.#dir, 'configs', 'c.1', `ffs.${this.#name}`)));
    quiet(() => rmdirSync(join(this.#dir, 'configs', 'c.1', 'strings', '0x409')));
    quiet(() => rmdirSync(join(this.#dir, 'configs', 'c.1')));
    quiet(() => rmdirSync(join(this.#dir, 'functions', `ffs.${this.#name}`)));
    quiet(() => rmdirSync(join(this.#dir, 'strings', '0x409')));
    quiet(() => rmdirSync(this.#dir));
  }

  #writeAttributes(e: Enumeration): void {
    const a = gadgetAttributes(e.descriptors);
    for (const [k, v] of Object.entries(a.device)) writeFileSync(join(this.#dir, k), v);
    for (const [k, v] of Object.entries(a.strings)) writeFileSync(join(this.#dir, 'strings', '0x409', k), v);
    for (const [k, v] of Object.entries(a.config)) writeFileSync(join(this.#dir, 'configs', a.configName, k), v);
    this.#writePlatform(e, a.configName);
  }

  /**
   * The WebUSB and MS OS 1.0 attributes (ffs.ts platformAttributes), written before each bind: the
   * kernel reads them when the gadget binds. What this kernel does not have (webusb/ before 6.3, a
   * function without os_desc/interface.* directories) is skipped with one log line.
   */
  #writePlatform(e: Enumeration, configName: string): void {
    const p = platformAttributes(e.descriptors);
    const optional = (what: string, work: () => void): void => {
      try {
        work();
      } catch (err) {
        if (this.#skipped.has(what)) return;
        this.#skipped.add(what);
        this.#log(`${what}: skipped (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    };
    const group = (dir: string, files: Readonly<Record<string, string>>, what: string) =>
      optional(what, () => {
        if (!existsSync(dir)) throw Object.assign(new Error('not in this kernel'), { code: `no ${dir}` });
        for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
      });
    group(join(this.#dir, 'webusb'), p.webusb, 'WebUSB landing page (configfs webusb/, Linux 6.3+)');
    group(join(this.#dir, 'os_desc'), p.osDesc, 'MS OS 1.0 descriptors (configfs os_desc/)');
    optional('MS OS 1.0 configuration (configfs os_desc/c.1 link)', () => {
      const link = join(this.#dir, 'os_desc', 'c.1');
      if (!existsSync(link)) symlinkSync(join(this.#dir, 'configs', configName), link);
    });
    // FunctionFS makes no os_desc/interface.* directories (its compatible IDs come with its own
    // descriptors, #writeDescriptors); a function that has them gets WINUSB on its DFU interface
    const fdir = join(this.#dir, 'functions', `ffs.${this.#name}`, 'os_desc');
    optional('WINUSB compatible ID (configfs functions/ffs.*/os_desc/interface.*/compatible_id)', () => {
      const dirs = existsSync(fdir) ? readdirSync(fdir).filter((d) => d.startsWith('interface.')) : [];
      if (dirs.length === 0) throw Object.assign(new Error('none'), { code: 'FunctionFS has no os_desc/interface.* directory' });
      for (const d of dirs) writeFileSync(join(fdir, d, 'compatible_id'), p.compatibleId);
    });
  }

  #bind(): void {
    writeFileSync(join(this.#dir, 'UDC'), this.#udc);
  }

  #unbind(): void {
    try {
      writeFileSync(join(this.#dir, 'UDC'), '\n');
    } catch (e) {
      // ENODEV: not bound (the kernel got there first, e.g. ep0 closed)
      if ((e as NodeJS.ErrnoException).code !== 'ENODEV') throw e;
    }
  }

  /**
   * Runs until stop(): plugs the model in and serves each of its enumerations. Resolves after the
   * gadget is unbound for good.
   */
  async run(): Promise<void> {
    this.#setUp();
    this.#wanted = this.#fn.start({
      attached: (e) => {
        this.#wanted = e;
        this.#wake?.();
      },
      detached: (e) => {
        if (this.#wanted?.id === e.id) this.#wanted = undefined;
        // leave the bus now, or right after the request in progress has its status stage
        if (this.#serving?.id === e.id && !this.#inRequest) this.#leave();
        this.#wake?.();
      },
    });
    while (!this.#stopping) {
      const e = this.#wanted;
      if (!e) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      await this.#serve(e);
    }
  }

  /** Leaves the bus for good; run() resolves. */
  stop(): void {
    this.#stopping = true;
    if (this.#serving) this.#leave();
    this.#wake?.();
  }

  #leave(): void {
    if (this.#unbinding) return;
    this.#unbinding = true;
    this.#unbind();
  }

  async #serve(e: Enumeration): Promise<void> {
    const blobs = functionFsBlobs(e.descriptors);
    const ep0 = await open(join(this.#ffsDir, 'ep0'), 'r+');
    this.#ep0 = ep0;
    try {
      await this.#writeDescriptors(e, ep0, blobs.descriptors);
      await ep0.write(blobs.strings, 0, blobs.strings.length, null);
      this.#writeAttributes(e);
      this.#serving = e;
      this.#unbinding = false;
      this.stats.enumerations++;
      this.#bind();
      this.#log(`bound to ${this.#udc} as the ${e.descriptors.personality === 'dfu' ? 'DFU-mode' : 'run-time'} device (enumeration ${e.id})`);
      this.#onBound?.(e);
      // the model may have left the bus while the descriptors were being written
      if (this.#wanted?.id !== e.id || this.#stopping) this.#leave();
      const buf = new Uint8Array(FFS_EVENT_SIZE * 4);
      for (;;) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await ep0.read(buf, 0, buf.length, null));
        } catch (err) {
          // a setup the host (or an unbind) cancelled before we answered it is reported once, as
          // EIDRM, by the next ep0 read (f_fs.c: FFS_SETUP_CANCELLED); the events follow it
          if (isErrno(err, EIDRM)) continue;
          throw err;
        }
        let unbound = false;
        for (const ev of parseEvents(buf.subarray(0, bytesRead))) {
          if (this.#verbose && ev.type !== FFS_EVENT.SETUP) this.#log(`event ${FFS_EVENT_NAMES[ev.type] ?? ev.type}`);
          if (ev.type === FFS_EVENT.SETUP && ev.setup) await this.#request(e, ep0, ev.setup);
          else if (ev.type === FFS_EVENT.ENABLE) await this.#fn.setConfiguration(e.id, 1).catch(() => undefined);
          else if (ev.type === FFS_EVENT.DISABLE && !this.#unbinding) {
            // a bus reset (or SET_CONFIGURATION 0) from the host: the model decides what comes back
            this.stats.resets++;
            const r = await this.#fn.usbReset(e.id).catch(() => 'gone');
            if (this.#verbose) this.#log(`USB reset: ${r}`);
          } else if (ev.type === FFS_EVENT.UNBIND) unbound = true;
        }
        if (unbound) {
          if (!this.#unbinding) {
            // someone else unbound the UDC: the cable was pulled; the model plugs itself back in
            this.stats.cablePulls++;
            this.#log('the UDC was unbound from outside: cable pulled');
            this.#unbinding = true;
            await this.#fn.cableLost(e.id);
          }
          break;
        }
      }
    } finally {
      this.#serving = undefined;
      this.#ep0 = undefined;
      await ep0.close();
    }
  }

  /**
   * The FunctionFS descriptors, with the DFU interface's MS OS 1.0 compatible ID "WINUSB" (the
   * FunctionFS way: configfs has no os_desc/interface.* directories for it). A kernel that refuses
   * that part gets the descriptors without it (FunctionFS stays ready for descriptors after a
   * refused write), with one log line.
   */
  async #writeDescriptors(e: Enumeration, ep0: FileHandle, plain: Uint8Array): Promise<void> {
    const what = 'WINUSB compatible ID in the FunctionFS descriptors (FUNCTIONFS_HAS_MS_OS_DESC)';
    if (!this.#skipped.has(what)) {
      const withOs = functionFsBlobs(e.descriptors, { winUsb: true }).descriptors;
      try {
        await ep0.write(withOs, 0, withOs.length, null);
        return;
      } catch (err) {
        this.#skipped.add(what);
        this.#log(`${what}: skipped (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    await ep0.write(plain, 0, plain.length, null);
  }

  async #request(e: Enumeration, ep0: FileHandle, setup: SetupPacket): Promise<void> {
    this.stats.requests++;
    const dirIn = (setup.bmRequestType & SETUP_IN) !== 0;
    this.#inRequest = true;
    try {
      let data = new Uint8Array(0);
      if (!dirIn && setup.wLength > 0) {
        // the data stage; FunctionFS acknowledges it when it completes
        data = new Uint8Array(setup.wLength);
        data = data.subarray(0, readvSync(ep0.fd, [data]));
      }
      let result: Awaited<ReturnType<NicUsbFunction['control']>>;
      try {
        result = await this.#fn.control(e.id, setup, data);
      } catch (err) {
        // the model left the bus during the request (a power loss, a pulled cable): no answer
        if (this.#verbose) this.#log(`${describeSetup(setup)} → device gone (${(err as Error).message})`);
        result = { status: 'stall' };
      }
      if (result.status === 'ok' && isGetStatus(setup) && result.data.length >= 6 && result.data[5] !== 0) {
        // the kernel serves string descriptors from the table written at bind time, which cannot
        // hold the model's last-error sentence: say "no string" rather than name a missing one
        result = { status: 'ok', data: Uint8Array.of(...result.data.subarray(0, 5), 0, ...result.data.subarray(6)) };
      }
      if (this.#verbose) this.#log(`${describeSetup(setup)} → ${result.status === 'ok' ? `ok ${result.data.length}` : 'STALL'}`);
      if (result.status === 'stall') this.stats.stalls++;
      if (dirIn) {
        if (result.status === 'ok') writevSync(ep0.fd, [result.data.subarray(0, setup.wLength)]);
        else readvSync(ep0.fd, [EMPTY]); // I/O against the direction stalls ep0
      } else if (setup.wLength === 0) {
        if (result.status === 'ok') readvSync(ep0.fd, [EMPTY]); // the status stage
        else writevSync(ep0.fd, [EMPTY]);
      } else if (result.status === 'stall') this.stats.lateStalls++;
    } catch (err) {
      // the host gave up on the request (EIDRM, EL2HLT) or the bus went away (ESHUTDOWN)
      this.stats.ep0Errors++;
      if (this.#verbose) this.#log(`${describeSetup(setup)}: ep0 ${isErrno(err, EIDRM) ? 'EIDRM (the request was cancelled)' : ((err as NodeJS.ErrnoException).code ?? (err as Error).message)}`);
    } finally {
      this.#inRequest = false;
      // a detach the request caused (RESET, a reboot) happens after its status stage
      if (!this.#wanted || this.#wanted.id !== e.id) this.#leave();
    }
  }
}
