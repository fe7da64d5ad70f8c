/**
 * The DfuHost's transfer log (every control transfer, both directions) as lines a person can read:
 * one for the request, one for the answer. This is wire decoding, so it lives beside the decoders it
 * uses (protocol.ts, query.ts, dfu/spec.ts); nothing here talks to a device. The MCC state the page
 * draws comes from the session's `device-status` events, not from these lines.
 */
import type { TransferLogEntry } from '../dfu/host.ts';
import { DFU_REQUEST, DFU_STATE_NAMES, DFU_STATUS_NAMES } from '../dfu/spec.ts';
import { mccError, mccInstructionName, mccStateName, regStatus } from './mcc-codes.ts';
import { decodeControl, decodeData, decodeStatus, VENDOR_REQUEST, VENDOR_REQUEST_NAMES, type DeviceStatus } from './protocol.ts';
import { decodeQuery } from './query.ts';

const DFU_REQUEST_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DFU_REQUEST).map(([k, v]) => [v, k]));
const STANDARD_NAMES: Record<number, string> = { 0: 'GET_STATUS', 1: 'CLEAR_FEATURE', 3: 'SET_FEATURE', 6: 'GET_DESCRIPTOR', 8: 'GET_CONFIGURATION', 9: 'SET_CONFIGURATION', 10: 'GET_INTERFACE', 11: 'SET_INTERFACE' };
const DESCRIPTOR_NAMES: Record<number, string> = { 1: 'DEVICE', 2: 'CONFIGURATION', 3: 'STRING', 0x21: 'DFU FUNCTIONAL' };

const hex = (n: number, digits = 2) => `0x${n.toString(16).padStart(digits, '0')}`;

export interface TransferLines {
  readonly request: string;
  readonly answer: string;
}

/** The name of a request, as a log shows it: "CONTROL", "DFU_GETSTATUS", "GET_DESCRIPTOR(CONFIGURATION)". */
export function requestName(setup: USBControlTransferParameters): string {
  if (setup.requestType === 'vendor') return VENDOR_REQUEST_NAMES[setup.request] ?? `vendor request ${hex(setup.request)}`;
  if (setup.requestType === 'class') return DFU_REQUEST_NAMES[setup.request] ?? `class request ${hex(setup.request)}`;
  const name = STANDARD_NAMES[setup.request] ?? `standard request ${setup.request}`;
  if (setup.request === 6) return `${name}(${DESCRIPTOR_NAMES[setup.value >> 8] ?? hex(setup.value >> 8)}${setup.value & 0xff ? ` ${setup.value & 0xff}` : ''})`;
  return name;
}

export function describeStatus(s: DeviceStatus): string {
  const parts = [mccStateName(s.state)];
  if (s.error !== 0) parts.push(`error ${hex(s.error)} ${mccError(s.error).name}`);
  if (s.result !== 0) parts.push(`result ${regStatus(s.result).name}`);
  if (s.handleOwned) parts.push(`handle ${hex(s.handle, 6)}`);
  if (s.received) parts.push(`${s.received} bytes received`);
  if (s.pendingReset) parts.push('pending reset');
  return parts.join(', ');
}

function describeRequest(t: TransferLogEntry): string {
  const name = requestName(t.setup);
  if (t.direction === 'in') return `${name} (up to ${t.length} bytes)`;
  if (t.setup.requestType === 'vendor' && t.data) {
    if (t.setup.request === VENDOR_REQUEST.CONTROL) {
      const c = decodeControl(t.data);
      if (c.ok) return `${name} ${mccInstructionName(c.value.instruction)}${c.value.handle ? ` handle ${hex(c.value.handle, 6)}` : ''}${c.value.componentSize ? ` size ${c.value.componentSize}` : ''}`;
    }
    if (t.setup.request === VENDOR_REQUEST.DATA) {
      const d = decodeData(t.data);
      if (d.ok) return `${name} offset ${d.value.offset}, ${d.value.block.length} bytes`;
    }
  }
  if (t.setup.requestType === 'class' && t.setup.request === DFU_REQUEST.DFU_DNLOAD) return `${name} block ${t.setup.value}, ${t.length} bytes`;
  return t.length ? `${name}, ${t.length} bytes` : name;
}

function describeAnswer(t: TransferLogEntry): string {
  if (t.status === 'error') return `${requestName(t.setup)} failed: ${t.error ?? 'transfer error'}`;
  if (t.status === 'stall') return `${requestName(t.setup)}: STALL`;
  if (t.direction === 'out') return `${requestName(t.setup)}: ACK`;
  const data = t.data ?? new Uint8Array(0);
  if (t.setup.requestType === 'vendor' && t.setup.request === VENDOR_REQUEST.STATUS) {
    const s = decodeStatus(data);
    return s.ok ? `STATUS: ${describeStatus(s.value)}` : `STATUS: malformed (${s.error.message})`;
  }
  if (t.setup.requestType === 'vendor' && t.setup.request === VENDOR_REQUEST.QUERY) {
    const q = decodeQuery(data);
    return q.ok ? `QUERY: ${q.value.psid ?? '?'} ${q.value.serial ?? ''}, running ${q.value.fwVersionRunning ?? '?'}${q.value.fwVersionPending ? `, pending ${q.value.fwVersionPending}` : ''}` : `QUERY: malformed (${q.error.message})`;
  }
  if (t.setup.requestType === 'class' && t.setup.request === DFU_REQUEST.DFU_GETSTATUS && data.length === 6) {
    return `DFU_GETSTATUS: ${DFU_STATUS_NAMES[data[0]!] ?? hex(data[0]!)} in ${DFU_STATE_NAMES[data[4]!] ?? data[4]}`;
  }
  return `${requestName(t.setup)}: ${data.length} bytes`;
}

/** One line for the request, one for the answer. */
export function describeTransfer(t: TransferLogEntry): TransferLines {
  return { request: describeRequest(t), answer: describeAnswer(t) };
}
