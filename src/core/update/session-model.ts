/**
 * What an update session is and says, apart from how it runs (session.ts): its steps declared once
 * in a table (id, title, weight, and for one-instruction steps the MCC instruction and the state
 * the device must answer with), the one event stream it emits, its options and its result.
 */
import type { CatalogCheckInput } from '../catalog/catalog-check.ts';
import type { DfuHost } from '../dfu/host.ts';
import type { UsbBus } from '../dfu/reconnect.ts';
import type { TrustStore } from '../crypto/trust.ts';
import type { Certificate } from '../crypto/x509.ts';
import type { Report } from '../verify/report.ts';
import { reportToJson } from '../verify/format-report.ts';
import { MCC_INSTRUCTION, MCC_STATE, type MccErrorInfo } from './mcc-codes.ts';
import type { DeviceStatus } from './protocol.ts';
import type { DeviceQuery } from './query.ts';
import type { AuditLog } from './audit.ts';
import type { Gate } from './gate.ts';
import type { BlobLike } from '../crypto/sha256.ts';
import type { BlockHasher } from '../verify/block-check.ts';
import type { ReceiptOutcome } from './session-receipt.ts';

/**
 * The session's steps, declared once (fwupd's habit: each step's weight declared up front): its
 * title, its share of the progress bar (the byte-heavy steps dominate), and, for the steps that
 * are one MCC instruction, that instruction and the state the device must answer with (§5).
 */
export const STEP_TABLE = [
  { id: 'query', title: 'Query the device', weight: 1 },
  { id: 'preflight', title: 'Pre-flight checks on this host', weight: 14 },
  { id: 'lock', title: 'Lock the update handle', weight: 1, instruction: MCC_INSTRUCTION.LOCK_UPDATE_HANDLE, expect: MCC_STATE.LOCKED },
  { id: 'update-component', title: 'Update component (erase the inactive bank)', weight: 3, instruction: MCC_INSTRUCTION.UPDATE_COMPONENT, expect: MCC_STATE.DOWNLOAD },
  { id: 'download', title: 'Download the image', weight: 76 },
  { id: 'verify', title: 'Device verifies the image', weight: 3, instruction: MCC_INSTRUCTION.VERIFY_COMPONENT, expect: MCC_STATE.LOCKED },
  { id: 'activate', title: 'Activate (pending reset)', weight: 1, instruction: MCC_INSTRUCTION.ACTIVATE, expect: MCC_STATE.LOCKED },
  { id: 'release', title: 'Release the update handle', weight: 1, instruction: MCC_INSTRUCTION.RELEASE_UPDATE_HANDLE, expect: MCC_STATE.IDLE },
] as const;
export type StepId = (typeof STEP_TABLE)[number]['id'];
export const STEPS: readonly StepId[] = STEP_TABLE.map((s) => s.id);
export const STEP_TITLES = Object.fromEntries(STEP_TABLE.map((s) => [s.id, s.title])) as Record<StepId, string>;
export const WEIGHTS = Object.fromEntries(STEP_TABLE.map((s) => [s.id, s.weight])) as Record<StepId, number>;

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';
export interface StepState {
  readonly id: StepId;
  readonly title: string;
  readonly status: StepStatus;
  readonly detail?: string;
  /** How long the step ran, in milliseconds (on the session's clock), once it has ended. */
  readonly ms?: number;
}

export interface SessionProgress {
  /** 0..1 over the whole session, never decreasing. */
  readonly fraction: number;
  readonly bytesSent: number;
  readonly bytesTotal: number;
  /** Bytes per second over the download so far. */
  readonly rate: number;
  /** Estimated milliseconds left in the download, when known. */
  readonly etaMs: number | undefined;
}

/**
 * What a session tells its caller, in order, as it happens: the steps' states (all of them, each time
 * one changes), progress, each device STATUS answer it acted on (with the MCC instruction it answers,
 * if it is the answer to one: VERIFY and ACTIVATE leave the device in LOCKED, so only the instruction
 * says they happened), a log line, and the gate's pause before `next` (null when it goes on).
 */
export type SessionEvent =
  | { readonly kind: 'steps'; readonly steps: readonly StepState[] }
  | { readonly kind: 'progress'; readonly progress: SessionProgress }
  | { readonly kind: 'device-status'; readonly status: DeviceStatus; readonly instruction?: number }
  | { readonly kind: 'log'; readonly text: string }
  | { readonly kind: 'waiting'; readonly next: StepId | null };

export type Firmware =
  | { readonly kind: 'image'; readonly bytes: Uint8Array }
  /**
   * A signed image in a file, never held whole when it is format v2: the session reads its head once
   * and each hash block as it sends it, checking the block against the signed table first. A v1
   * image (one digest over the whole payload) is read whole and sent from that copy.
   */
  | { readonly kind: 'file'; readonly file: BlobLike }
  | { readonly kind: 'detached'; readonly bytes: Uint8Array; readonly signature: Uint8Array; readonly certificates: readonly Certificate[] };

export interface SessionOptions {
  readonly host: DfuHost;
  readonly firmware: Firmware;
  readonly trust: TrustStore;
  readonly now?: Date;
  /** Production mode (verify/production.ts): the pre-flight refuses DEMO keys, development and final images, and `now`. */
  readonly production?: boolean;
  /** A release catalog and the sequences seen before: the pre-flight report's `catalog` row (verify-image.ts). */
  readonly catalog?: CatalogCheckInput;
  readonly audit?: AuditLog;
  /** Asked before each step (StepGate: Step / Run / Cancel). Without a gate the session runs through. */
  readonly gate?: Gate;
  readonly signal?: AbortSignal;
  /** Data block size; default the device's wTransferSize, at most 65527. */
  readonly blockSize?: number;
  readonly clock?: () => number;
  /** Poll interval while the device is busy (INITIALIZE); mstflint uses 240 ms. */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Hashes a v2 payload's blocks in the pre-flight (the CLI's thread pool); default sequential WebCrypto. */
  readonly blockHasher?: BlockHasher;
  /** The session's one event stream (SessionEvent). */
  readonly onEvent?: (e: SessionEvent) => void;
  /** The bus to find the device on again after DETACH (navigator.usb, Node's WebUSB, the emulator's bus). */
  readonly usb?: UsbBus;
  /**
   * Device CAs to check the device's receipt against (issue #14). After an update the session asks
   * the device for a receipt either way; without a CA it is kept, not verified.
   */
  readonly deviceCa?: readonly Certificate[];
}

export type Outcome = 'updated' | 'rejected-by-host' | 'rejected-by-device' | 'cancelled' | 'failed';

export interface SessionResult {
  readonly outcome: Outcome;
  /** One sentence a person can act on. */
  readonly message: string;
  readonly report?: Report;
  readonly deviceError?: MccErrorInfo;
  readonly before?: DeviceQuery;
  readonly after?: DeviceQuery;
  /** False for generic DFU devices. */
  readonly deviceVerifies: boolean;
  /** Image bytes this run put on the wire, and the image offset it started from (0: a fresh download). */
  readonly download?: { readonly bytesSent: number; readonly resumedAt: number };
  /** The device-signed receipt asked for after an update (session-receipt.ts), or why there is none. */
  readonly receipt?: ReceiptOutcome;
  readonly steps: readonly StepState[];
}

/** The session's report as JSON for exports (the audit log has everything; this is the summary). */
export function sessionSummary(r: SessionResult): Record<string, unknown> {
  return {
    outcome: r.outcome,
    message: r.message,
    deviceVerifies: r.deviceVerifies,
    steps: r.steps,
    ...(r.deviceError ? { deviceError: { code: r.deviceError.code, name: r.deviceError.name, text: r.deviceError.mstflint } } : {}),
    ...(r.report ? { report: reportToJson(r.report) } : {}),
    ...(r.before ? { before: r.before } : {}),
    ...(r.after ? { after: r.after } : {}),
    ...(r.download ? { download: r.download } : {}),
    ...(r.receipt ? { receipt: { verified: r.receipt.verified, detail: r.receipt.detail, ...(r.receipt.fields ? { fields: r.receipt.fields } : {}) } } : {}),
  };
}
