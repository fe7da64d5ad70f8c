/**
 * Typed messages between the page and the device side: the device Worker that owns the emulated
 * NICs (and, for a real WebUSB device, the same service running in the page, because USBDevice
 * objects cannot move to a Worker). The page sends intents; the device side answers with events.
 * Every request carries an id; the device side ends each one with exactly one `done`.
 */
import type { DeviceQuery } from '../core/update/query.ts';
import type { DeviceStatus } from '../core/update/protocol.ts';
import type { SessionProgress, SessionResult, StepId, StepState } from '../core/update/session.ts';
import type { AuditCheck } from '../core/update/audit.ts';
import type { WireError } from '../core/dfu/errors.ts';
import type { Fault, TimingName } from '../emulator/index.ts';
import type { RunMode } from '../core/update/gate.ts';
import type { HistoryEntry } from './history-store.ts';

export type { Fault, RunMode, TimingName };

/** A trust root or key as the page holds it: a file name and its PEM text. */
import type { TrustSource } from '../core/crypto/trust.ts';
/** A trust file as text (the one definition is core's). */
export type { TrustSource };

/** The blocked maintenance commands the app can try (MAINT_OP names in core/update/protocol.ts). */
export type MaintenanceOp = 'RAW_FLASH_WRITE' | 'SET_VSD' | 'ROM_BURN';

/** The CS-token demo's steps, in order (docs/protocol.md §4.6, reference §5.4). */
export const CS_TOKEN_STEPS = ['refused', 'challenge', 'signed', 'applied', 'accepted'] as const;
export type CsTokenStep = (typeof CS_TOKEN_STEPS)[number];

/** The release catalog the page keeps (docs/catalog.md) and the sequences seen: the session's pre-flight checks the image against it. */
export interface SessionCatalog {
  readonly bytes: Uint8Array;
  readonly lastSeen: Readonly<Record<string, number>>;
}

export type DeviceRequest =
  /** Start the emulator: restore the NICs saved in IndexedDB (a reboot), or manufacture the first one. */
  | { id: number; kind: 'init'; baseUrl: string }
  | { id: number; kind: 'query'; serial: string }
  /**
   * Start an update. `image` is the file the person picked (a fetched sample wrapped in a Blob): the
   * device side never holds it whole when it is a v2 image — it reads the head once and each hash
   * block as it sends it, checked against the signed table first (UpdateSession, `kind: 'file'`).
   * `faults` (emulator only) are armed for this run.
   */
  | { id: number; kind: 'start'; serial: string; name: string; image: Blob; trust: readonly TrustSource[]; mode: RunMode; faults?: readonly Fault[]; production?: boolean; catalog?: SessionCatalog; deviceCas?: readonly string[] }
  /** Let the paused session take one step. */
  | { id: number; kind: 'step' }
  /** Continue without pausing. */
  | { id: number; kind: 'run' }
  | { id: number; kind: 'cancel' }
  /** Host-side reset over USB (vendor RESET): the device reboots and runs its pending image. */
  | { id: number; kind: 'reset-device'; serial: string }
  /** Emulator only: a power cycle of the NIC. */
  | { id: number; kind: 'power-cycle'; serial: string }
  /** Emulator only: re-manufacture the NIC with the factory image (same identity). */
  | { id: number; kind: 'factory-reset'; serial: string }
  | { id: number; kind: 'set-faults'; serial: string; faults: readonly Fault[] }
  | { id: number; kind: 'set-timing'; serial: string; timing: TimingName }
  /** Manufacture another emulated NIC; `demo` makes (once) the dedicated demo NIC that demo scenarios run on. */
  | { id: number; kind: 'add-nic'; psid?: string; demo?: boolean; trustKeys?: readonly string[]; production?: boolean }
  /** Try a maintenance command secure firmware blocks (raw flash write, set VSD, ROM burn). */
  | { id: number; kind: 'maintenance'; serial: string; op: MaintenanceOp }
  | { id: number; kind: 'export-audit' }
  /**
   * Emulator demo: SET_VSD is refused, the device's challenge is answered with a CS token signed by
   * the DEMO signer key (its private half is public), then SET_VSD is sent again with `vsd`.
   */
  | { id: number; kind: 'cs-token'; serial: string; vsd: string }
  /**
   * Update several NICs at once with the same image: one independent session per NIC, running
   * concurrently and straight through (no step gate). Without `serials`, every emulated NIC.
   */
  | { id: number; kind: 'start-all'; name: string; image: Blob; trust: readonly TrustSource[]; serials?: readonly string[]; production?: boolean; catalog?: SessionCatalog; deviceCas?: readonly string[] }
  /** Page side only (a USBDevice cannot be posted to a Worker): take over a device the user picked. */
  | { id: number; kind: 'adopt-usb'; device: USBDevice; bus: DeviceBus };

/** A navigator.usb-shaped bus: where a device is found again after it re-enumerates. */
export interface DeviceBus {
  getDevices(): Promise<USBDevice[]>;
  addEventListener(type: 'connect' | 'disconnect', listener: (e: Event) => void): void;
  removeEventListener(type: 'connect' | 'disconnect', listener: (e: Event) => void): void;
}

export interface DeviceSummary {
  readonly serial: string;
  readonly kind: 'emulated' | 'usb';
  /** What the bus says (product string, or the emulated NIC's PSID). */
  readonly label: string;
  readonly psid?: string;
  readonly timing?: TimingName;
  /** Armed faults, as the CLI writes them (power-loss:block=3, …). */
  readonly faults: readonly string[];
}

export type LogSource = 'host' | 'device' | 'session' | 'nic';

export interface LogLine {
  /** Milliseconds since the device side started. */
  readonly t: number;
  readonly serial: string;
  readonly source: LogSource;
  readonly text: string;
}

/** A restored emulated NIC whose reboot at start-up changed what it runs (its pending image applied). */
export interface RebootNotice {
  readonly serial: string;
  /** "The page was reloaded: the emulated NIC TFN… was power-cycled and now runs X (…)". */
  readonly text: string;
}

export type DeviceEvent =
  /** Whether this tab owns the emulated NICs (Web Lock); `takeover`: it got them when another tab closed. */
  | { kind: 'emulator-lock'; held: boolean; takeover: boolean }
  /**
   * Start-up is done: NICs whose reboot applied a pending image, updates a reload cut off, and the
   * audit chain continued (`resumed` records) or set aside because it failed verification.
   */
  | { kind: 'restored'; reboots: readonly RebootNotice[]; interrupted: readonly HistoryEntry[]; audit: { resumed: number; keptAside?: string } }
  /** Sent once the device side is up: the session's steps, all pending (their titles come from the core). */
  | { kind: 'ready'; steps: readonly StepState[] }
  | { kind: 'devices'; source: 'emulator' | 'usb'; devices: readonly DeviceSummary[] }
  | { kind: 'query'; serial: string; query: DeviceQuery }
  /** A device STATUS answer (the session's device-status, or a QUERY's); `instruction` is the MCC instruction it answers, if any. */
  | { kind: 'status'; serial: string; status: DeviceStatus; instruction?: number }
  | { kind: 'session-start'; serial: string; name: string; size: number; mode: RunMode }
  | { kind: 'steps'; serial: string; steps: readonly StepState[] }
  | { kind: 'progress'; serial: string; progress: SessionProgress }
  /** The session is paused before `next`; null when it runs on. */
  | { kind: 'waiting'; serial: string; next: StepId | null }
  | { kind: 'result'; serial: string; name: string; result: SessionResult }
  | { kind: 'log'; lines: readonly LogLine[] }
  /** What the device answered to a maintenance command: refused (STALL) with its LAST_RESULT, or done. */
  | { kind: 'maintenance'; serial: string; op: MaintenanceOp; refused: boolean; deviceText?: string; registerStatus?: number; mstflint: string }
  | { kind: 'audit'; id: number; jsonl: string; check: AuditCheck }
  /** One step of the CS-token demo, as it happened. */
  | { kind: 'cs-token'; serial: string; step: CsTokenStep; ok: boolean; text: string }
  /** An "update all" run began: one session per serial. */
  | { kind: 'batch-start'; name: string; serials: readonly string[] }
  | { kind: 'batch-progress'; serial: string; progress: SessionProgress }
  | { kind: 'batch-result'; serial: string; name: string; result: SessionResult }
  /** The end of a request; a failure keeps its code across the Worker boundary (docs/protocol.md, one error vocabulary). */
  | { kind: 'done'; id: number; error?: WireError };

/** The dedicated demo NIC: demo scenarios reset and use it, so a person's own NICs are never touched by a demo. */
export const DEMO_SERIAL = 'TFNDEMO0001';

/** An error as it crosses the Worker boundary: the code it was born with, its sentence, and the device's MCC error when it has one (core/dfu/errors.ts). */
export type { WireError };
