/**
 * `trustflash receipt get` asks a NIC for a fresh device-signed receipt (issue #14) and writes it;
 * `trustflash receipt verify` checks one offline against a device CA, from any machine. A receipt
 * file is the device's bytes armored as "-----BEGIN TRUSTFLASH RECEIPT-----" (raw bytes are read
 * too); layout in docs/protocol.md §4.11.
 */
import { fromHex, toHex } from '../core/bytes/hex.ts';
import { UpdateError } from '../core/dfu/errors.ts';
import { NicClient, RECEIPT_NONCE_SIZE } from '../core/update/nic-client.ts';
import { armorReceipt, parseReceipt, receiptFields, unarmorReceipt, RECEIPT_MAX } from '../core/receipt/receipt.ts';
import { verifyReceipt } from '../core/receipt/verify.ts';
import { bool, list, need, parseArgs, str, UsageError } from './args.ts';
import { parseNow } from './commands.ts';
import { openHost, realDevice } from './device-commands.ts';
import { closest, flagSpec, subcommands } from './help.ts';
import { IoError, type Io } from './io.ts';
import { loadNic, saveNic } from './nic-state.ts';
import { loadTrustFiles } from './trust-files.ts';

function nonceOf(text: string | undefined): Uint8Array {
  if (text === undefined) return crypto.getRandomValues(new Uint8Array(RECEIPT_NONCE_SIZE));
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`--nonce expects ${RECEIPT_NONCE_SIZE} bytes as 64 hex digits, got ${text.length} characters`);
  return fromHex(text);
}

/** The receipt's fields, one per line, as `query` prints the device's. */
function fieldLines(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => `  ${`${k}:`.padEnd(16)}${v === null ? '-' : String(v)}`)
    .join('\n');
}

async function cmdGet(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('receipt get'));
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  const out = need(p, 'out');
  if (!bool(p, 'force') && (await io.exists(out))) throw new IoError(`${out} already exists (pass --force to replace it)`);
  const nonce = nonceOf(str(p, 'nonce'));
  const statePath = str(p, 'state');
  let device: USBDevice;
  let emulated: Awaited<ReturnType<typeof loadNic>> | undefined;
  if (bool(p, 'emulated')) {
    if (!statePath) throw new UsageError('--emulated needs --state S');
    device = emulated = await loadNic(io, statePath, { journal: false });
  } else if (str(p, 'usb')) device = (await realDevice(str(p, 'usb')!)).device;
  else throw new UsageError('receipt get needs --emulated --state S or --usb VID:PID[:SERIAL]');
  try {
    const host = await openHost(device);
    const nic = new NicClient(host);
    if (!(await nic.supported())) throw new IoError('a generic DFU device: it has no secure-update protocol and signs no receipts');
    const answer = await nic.receipt(nonce);
    await host.close();
    if (!answer.accepted) {
      io.err(`the device signed no receipt: ${answer.last?.text ?? 'it did not say why'}`);
      return 1;
    }
    await io.writeBytes(out, new TextEncoder().encode(armorReceipt(answer.bytes)));
    const parsed = parseReceipt(answer.bytes);
    if (bool(p, 'json')) io.out(JSON.stringify({ out, nonce: toHex(nonce), ...(parsed.ok ? { fields: receiptFields(parsed.value) } : { malformed: parsed.error }) }, null, 2));
    else {
      io.out(`${out}: receipt from the device, over nonce ${toHex(nonce)} (not yet verified)`);
      if (parsed.ok) io.out(fieldLines(receiptFields(parsed.value)));
      else io.out(`it does not parse: ${parsed.error.field} at offset ${parsed.error.offset}: ${parsed.error.message}`);
      io.out(`check it: trustflash receipt verify ${out} --trust DEVICE-CA.pem --nonce ${toHex(nonce)}`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UpdateError) throw new IoError(e.message);
    throw e;
  } finally {
    // the firmware may have rewritten a damaged key copy at power-on: keep what the NIC now holds
    if (emulated && statePath) await saveNic(io, statePath, emulated);
  }
}

async function cmdVerify(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('receipt verify'));
  if (p.positional.length !== 1) throw new UsageError(`expected exactly one receipt FILE, got ${p.positional.length}`);
  const file = p.positional[0]!;
  const trustPaths = list(p, 'trust');
  if (trustPaths.length === 0) throw new UsageError('--trust DEVICE-CA.pem is required: a receipt is only as good as the CA that certified the device');
  const store = await loadTrustFiles(io, trustPaths, []);
  if (store.anchors.length === 0) throw new UsageError('--trust needs a device CA certificate (CERTIFICATE PEM), not a bare public key');
  const nonceText = str(p, 'nonce');
  const nonce = nonceText === undefined ? undefined : nonceOf(nonceText);
  const serial = str(p, 'serial');
  if ((await io.openBlob(file)).size > 4 * RECEIPT_MAX) throw new IoError(`${file}: too large for a receipt`);
  const raw = unarmorReceipt(await io.readBytes(file));
  if (!raw.ok) throw new IoError(`${file}: ${raw.reason}`);
  const v = await verifyReceipt(raw.bytes, { anchors: store.anchors, time: parseNow(p) ?? new Date(), ...(nonce ? { nonce } : {}), ...(serial !== undefined ? { serial } : {}) });
  const fields = v.receipt ? receiptFields(v.receipt) : undefined;
  if (bool(p, 'json')) {
    io.out(JSON.stringify(v.ok ? { verified: true, fields, device: v.device.subject, deviceCa: v.anchor.subject, notes: v.notes } : { verified: false, reason: v.reason, ...(fields ? { fields } : {}) }, null, 2));
  } else if (v.ok) {
    io.out(`VERIFIED: ${file} was signed by device ${v.receipt.serial} (certificate "${v.device.subject}", issued by "${v.anchor.subject}")`);
    io.out(fieldLines(fields!));
    for (const n of v.notes) io.out(`note: ${n}`);
  } else {
    io.out(`REFUSED: ${file}: ${v.reason}`);
    if (fields) io.out(`what it claims (not to be trusted):\n${fieldLines(fields)}`);
  }
  return v.ok ? 0 : 1;
}

export async function cmdReceipt(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'get') return cmdGet(rest, io);
  if (sub === 'verify') return cmdVerify(rest, io);
  const guess = sub ? closest(sub, subcommands('receipt')) : undefined;
  throw new UsageError(`receipt takes get or verify, got ${JSON.stringify(sub ?? '')}${guess ? ` (did you mean "${guess}"?)` : ''}`);
}
