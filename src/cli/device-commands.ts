/**
 * The device commands: `query`, `update`, `reset`, `audit` — for the emulated NIC (a state
 * file) and for real USB devices (Node's `usb`). The same host code (DfuHost, NicClient,
 * UpdateSession) drives both: the emulator is reached through its WebUSB-shaped device only.
 */
import { join, resolve } from 'node:path';
import { DfuHost } from '../core/dfu/host.ts';
import { UpdateError } from '../core/dfu/errors.ts';
import { reconnect, sameDevice, type UsbBus } from '../core/dfu/reconnect.ts';
import { deviceCaOf } from './trust-files.ts';
import { loadTrustSetup } from './trust-setup.ts';
import { AuditLog, verifyAuditLog } from '../core/update/audit.ts';
import { NicClient } from '../core/update/nic-client.ts';
import { renderFlintQuery } from '../core/update/flint.ts';
import { decodeQuery } from '../core/update/query.ts';
import { mccStateName } from '../core/update/mcc-codes.ts';
import { nodeBlockHasher } from './block-pool.ts';
import { loadNic, saveNic } from './nic-state.ts';
import { UpdateSession, sessionSummary, type SessionEvent } from '../core/update/session.ts';
import { describeFault, parseFault, type EmulatedUSBDevice, type Fault, type TimingName } from '../emulator/index.ts';
import { bool, list, need, parseArgs, str, UsageError } from './args.ts';
import { IoError, type Io } from './io.ts';
import { openNodeUsb } from './usb.ts';
import { parseNow } from './commands.ts';
import { closest, flagSpec } from './help.ts';
import { productionMode } from './production-flag.ts';
import { DEMO_DEVICE_CA_LABEL } from '../service/demo-device-ca.ts';
import { armorReceipt } from '../core/receipt/receipt.ts';

const MiB = 1024 * 1024;

/** The running version, from the NIC's own QUERY answer (the host's decoder: one reading of the wire format). */
export function decodeQueryFromNic(dev: EmulatedUSBDevice): string | undefined {
  const q = decodeQuery(dev.nic.firmware.queryBytes());
  return q.ok ? q.value.fwVersionRunning : undefined;
}

export async function openHost(dev: USBDevice): Promise<DfuHost> {
  const host = new DfuHost(dev);
  await host.open();
  return host;
}

/** Picks a real device by VID:PID[:SERIAL]. */
export async function realDevice(spec: string): Promise<{ device: USBDevice; bus: UsbBus }> {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?::(.+))?$/.exec(spec);
  if (!m) throw new UsageError(`--usb expects VID:PID[:SERIAL] in hex, got ${JSON.stringify(spec)}`);
  const u = await openNodeUsb();
  if (!u.ok) throw new IoError(u.reason);
  const want = { vendorId: parseInt(m[1]!, 16), productId: parseInt(m[2]!, 16), serialNumber: m[3] };
  const all = (await u.usb.getDevices()).filter((d) => d.vendorId === want.vendorId && d.productId === want.productId && (want.serialNumber === undefined || sameDevice(d, { ...want, serialNumber: want.serialNumber })));
  if (all.length === 0) throw new IoError(`no USB device ${spec} found`);
  if (all.length > 1) throw new UsageError(`${all.length} devices match ${spec}: add :SERIAL (${all.map((d) => d.serialNumber ?? '?').join(', ')})`);
  return { device: all[0]!, bus: u.usb };
}

export async function cmdQuery(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('query'));
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  let device: USBDevice;
  if (bool(p, 'emulated')) device = await loadNic(io, need(p, 'state'), { journal: false });
  else if (str(p, 'usb')) device = (await realDevice(str(p, 'usb')!)).device;
  else throw new UsageError('query needs --emulated --state S or --usb VID:PID[:SERIAL]');
  try {
    const host = await openHost(device);
    const nic = new NicClient(host);
    if (!(await nic.supported())) {
      const f = host.functional;
      const info = { secureUpdate: false, mode: host.mode, transferSize: f.transferSize, canDownload: f.canDownload, canUpload: f.canUpload, manifestationTolerant: f.manifestationTolerant, willDetach: f.willDetach };
      io.out(bool(p, 'json') ? JSON.stringify(info, null, 2) : `a generic DFU device (${host.mode === 'dfu' ? 'DFU mode' : 'run-time'}, wTransferSize ${f.transferSize}); it has no secure-update protocol and does not verify signatures itself`);
      return 0;
    }
    const q = await nic.query();
    const s = await nic.status();
    io.out(bool(p, 'json') ? JSON.stringify({ secureUpdate: true, query: q, status: { ...s, stateName: mccStateName(s.state) } }, null, 2) : `${renderFlintQuery(q, { full: bool(p, 'full') })}\nUpdate state:          ${mccStateName(s.state)}${s.handleOwned ? ' (an update handle is held)' : ''}${q.resumable ? `\nKept download:         ${q.resumable.verified} of ${q.resumable.size} bytes verified, release ${q.resumable.releaseDigest.slice(0, 16)}… (the same update resumes there)` : ''}`);
    await host.close();
    return 0;
  } catch (e) {
    if (e instanceof UpdateError) throw new IoError(e.message);
    throw e;
  }
}

export async function cmdUpdate(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('update'));
  if (p.positional.length !== 1) throw new UsageError(`expected exactly one FILE to update with, got ${p.positional.length}`);
  const file = p.positional[0]!;
  productionMode(p); // --now with --production: a usage error before anything is read
  const faults = faultsOf(p);
  const timing = str(p, 'timing');
  if (timing !== undefined && !['instant', 'full-speed', 'high-speed'].includes(timing)) throw new UsageError('--timing takes instant, full-speed or high-speed');
  const now = parseNow(p);
  const setup = await loadTrustSetup(io, p, { now: now ?? new Date(), missingTrust: '--trust ROOT.pem (or --bundle BUNDLE.json) is required: the host checks the image before sending it' });
  const store = setup.trust;
  const production = productionMode(p, setup.bundleProduction);
  const blockText = str(p, 'block-size');
  const blockSize = blockText === undefined ? undefined : Number(blockText);
  if (blockSize !== undefined && (!Number.isInteger(blockSize) || blockSize < 64 || blockSize > 65527)) throw new UsageError('--block-size is 64..65527');

  const blob = await io.openBlob(file);
  if (blob.size > 2 ** 31 + 2 * MiB) throw new IoError(`${file}: ${blob.size} bytes is larger than any image`);
  // never held whole (format v2): the session reads the head once and each hash block as it sends it,
  // checked against the signed table first, so a file changed after the check is refused at that
  // block; a v1 image is read whole and sent from that one copy

  let device: USBDevice;
  let bus: UsbBus;
  let emulated: EmulatedUSBDevice | undefined;
  const statePath = str(p, 'state');
  if (bool(p, 'emulated')) {
    if (!statePath) throw new UsageError('--emulated needs --state S');
    emulated = await loadNic(io, statePath, { faults, ...(timing ? { timing: timing as TimingName } : {}) });
    device = emulated;
    bus = emulated.usb;
  } else if (str(p, 'usb')) {
    if (faults.length) throw new UsageError('--fault is for the emulated NIC');
    ({ device, bus } = await realDevice(str(p, 'usb')!));
  } else throw new UsageError('update needs --emulated --state S or --usb VID:PID[:SERIAL]');

  const receiptPath = str(p, 'receipt');
  const deviceCa = await deviceCaOf(io, list(p, 'device-ca'), !!emulated, setup.bundleDeviceCas);

  const json = bool(p, 'json');
  const quiet = bool(p, 'quiet');
  // the bar (a terminal only, never with --json or --quiet) ends its line before any other line
  const bar = io.progress;
  const endBar = () => bar?.({ label: '', end: true });
  const say = (t: string) => {
    if (json) return;
    endBar();
    io.out(t);
  };
  /** Step-by-step lines: not with --quiet. */
  const step = (t: string) => {
    if (!quiet) say(t);
  };
  let runningStep: string | undefined;
  if (faults.length) say(`faults armed: ${faults.map(describeFault).join(', ')}`);
  // the hash-chained log costs a hash per record (and one over the whole image): only when asked for
  const logPath = str(p, 'log');
  const audit = logPath ? new AuditLog() : undefined;
  let lastState = -1;
  const printed = new Map<string, string>();
  try {
    const host = await openHost(device);
    const session = new UpdateSession({
      host,
      usb: bus,
      firmware: { kind: 'file', file: blob },
      blockHasher: nodeBlockHasher(resolve(io.cwd, file)),
      trust: store,
      ...(setup.catalog ? { catalog: setup.catalog } : {}),
      ...(audit ? { audit } : {}),
      ...(now ? { now } : {}),
      ...(production ? { production } : {}),
      ...(blockSize ? { blockSize } : {}),
      deviceCa: deviceCa.certs,
      // the session's one event stream, rendered as lines (and the bar on a terminal)
      onEvent: (e: SessionEvent) => {
        switch (e.kind) {
          case 'steps':
            for (const s of e.steps) {
              if (s.status === 'pending' || printed.get(s.id) === s.status) continue;
              printed.set(s.id, s.status);
              if (s.status === 'running') {
                runningStep = s.id;
                if (s.id !== 'download') bar?.({ label: s.title });
              } else step(`${s.status === 'done' ? 'OK  ' : s.status === 'failed' ? 'FAIL' : 'SKIP'}  ${s.title}${s.detail ? `: ${s.detail}` : ''}`);
            }
            return;
          case 'progress':
            if (runningStep === 'download' && e.progress.bytesTotal) bar?.({ label: 'Download', done: e.progress.bytesSent, total: e.progress.bytesTotal });
            return;
          case 'device-status': {
            const s = e.status;
            if (s.state !== lastState) step(`      device state ${lastState < 0 ? '' : `${mccStateName(lastState)} → `}${mccStateName(s.state)}${s.error ? ` (error 0x${s.error.toString(16).padStart(2, '0')})` : ''}`);
            lastState = s.state;
            return;
          }
          case 'log':
            step(`      ${e.text}`);
            return;
          case 'waiting': // no gate: the CLI runs straight through
            return;
        }
      },
    });
    const result = await session.run();
    endBar();
    await setup.recordSeen();
    const auditHead = logPath && audit ? await writeAudit(io, logPath, audit) : undefined;
    if (receiptPath && result.receipt?.bytes) await io.writeBytes(receiptPath, new TextEncoder().encode(armorReceipt(result.receipt.bytes)));
    else if (receiptPath && result.outcome === 'updated') io.err(`no receipt written to ${receiptPath}: ${result.receipt?.detail ?? 'the device sent none'}`);
    if (json) io.out(JSON.stringify({ ...sessionSummary(result), ...(auditHead ? { audit: { path: logPath, head: auditHead } } : {}) }, null, 2));
    else {
      if (result.deviceError) say(`device: ${result.deviceError.mstflint} (MCC error 0x${result.deviceError.code.toString(16).padStart(2, '0')}) — ${result.deviceError.action}`);
      say(result.outcome === 'updated' ? `UPDATED: ${result.message}` : `${result.outcome === 'cancelled' ? 'CANCELLED' : result.outcome === 'failed' ? 'FAILED' : 'REJECTED'}: ${result.message}`);
      if (result.outcome === 'updated' && emulated) say(`to run it: trustflash emulator reboot --state ${statePath}`);
      if (result.receipt?.bytes && deviceCa.demo) say(`receipt checked against the ${DEMO_DEVICE_CA_LABEL}`);
      if (receiptPath && result.receipt?.bytes) say(`receipt: ${receiptPath} (${result.receipt.verified ? 'device-attested' : 'NOT verified'}; check it anywhere: trustflash receipt verify ${receiptPath} --trust DEVICE-CA.pem)`);
      if (auditHead) say(`audit log: ${logPath}, head ${auditHead} (keep it: trustflash audit verify ${logPath} --head ${auditHead})`);
    }
    return result.outcome === 'updated' ? 0 : result.outcome === 'failed' ? 2 : 1;
  } catch (e) {
    // a session that ends in an exception still leaves its log (what happened up to the failure)
    if (logPath && audit) await writeAudit(io, logPath, audit).then((h) => io.err(`audit log: ${logPath}, head ${h}`));
    throw e;
  } finally {
    if (emulated && statePath) await saveNic(io, statePath, emulated);
  }
}

/** Writes the audit log and returns its head hash (what `audit verify --head` compares with). */
async function writeAudit(io: Io, path: string, audit: AuditLog): Promise<string> {
  await io.writeBytes(path, await audit.toJsonl());
  return audit.head();
}

/**
 * `reset`: resets the NIC (vendor RESET, as mlxfwreset does) so a pending image starts running,
 * waits for it to come back on the bus and reads the running version.
 */
export async function cmdReset(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('reset'));
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  let device: USBDevice;
  let bus: UsbBus;
  let emulated: EmulatedUSBDevice | undefined;
  if (bool(p, 'emulated')) {
    emulated = await loadNic(io, need(p, 'state'));
    device = emulated;
    bus = emulated.usb;
  } else if (str(p, 'usb')) ({ device, bus } = await realDevice(str(p, 'usb')!));
  else throw new UsageError('reset needs --emulated --state S or --usb VID:PID[:SERIAL]');
  try {
    const host = await openHost(device);
    const nic = new NicClient(host);
    if (!(await nic.supported())) throw new IoError('a generic DFU device has no reset request: power-cycle it');
    const before = await nic.query();
    await nic.reset();
    const again = await reconnect(bus, device);
    const q = await new NicClient(await openHost(again)).query();
    if (bool(p, 'json')) io.out(JSON.stringify({ before: before.fwVersionRunning ?? null, running: q.fwVersionRunning ?? null, pending: q.fwVersionPending ?? null }, null, 2));
    else io.out(`reset: was running ${before.fwVersionRunning ?? 'nothing'}, now running ${q.fwVersionRunning ?? 'nothing'}${q.fwVersionPending ? ` (pending ${q.fwVersionPending})` : ''}`);
    return q.fwVersionRunning ? 0 : 1;
  } catch (e) {
    if (e instanceof UpdateError) throw new IoError(e.message);
    throw e;
  } finally {
    if (emulated) await saveNic(io, need(p, 'state'), emulated);
  }
}

export async function cmdAudit(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') throw new UsageError(`audit takes verify FILE, got ${JSON.stringify(sub ?? '')}${sub && closest(sub, ['verify']) ? ' (did you mean "verify"?)' : ''}`);
  const p = parseArgs(rest, flagSpec('audit verify'));
  if (p.positional.length !== 1) throw new UsageError('audit verify needs one FILE');
  const head = str(p, 'head');
  if (head !== undefined && !/^[0-9a-fA-F]{64}$/.test(head)) throw new UsageError(`--head expects the 64 hex digits printed when the log was written, got ${JSON.stringify(head)}`);
  const r = await verifyAuditLog(await io.readText(p.positional[0]!), head);
  if (bool(p, 'json')) io.out(JSON.stringify({ ...r, headChecked: head !== undefined }, null, 2));
  else if (r.ok) io.out(`${p.positional[0]}: intact, ${r.records} records, head ${r.head}${head ? ' (as expected)' : ' (compare it with the head printed when the log was written: a log cut after a record is otherwise still intact)'}`);
  else io.out(`${p.positional[0]}: BROKEN at line ${r.line}: ${r.reason}`);
  return r.ok ? 0 : 1;
}

/** The --fault flags, each parsed (a bad one names itself). */
export function faultsOf(p: ReturnType<typeof parseArgs>): Fault[] {
  return list(p, 'fault').map((f) => {
    const r = parseFault(f);
    if ('error' in r) throw new UsageError(`--fault ${f}: ${r.error}`);
    return r;
  });
}
