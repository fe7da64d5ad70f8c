/**
 * The maintenance commands secure firmware blocks (MAINT, docs/protocol.md §4.6), sent as flint
 * would, and the CS-token demo (§11, reference §5.4): SET_VSD refused; the device's challenge read;
 * a token for that nonce and PSID signed and applied; SET_VSD accepted. The wire work is NicClient's
 * (`maintenance`, `tokenChallenge`, `tokenApply`); this module decides what to send and says what
 * happened.
 */
import { NicClient } from '../core/update/nic-client.ts';
import { encodeTokenBody, MAINT_OP, MAINT_OP_MSTFLINT, TOKEN_MAX_SECONDS, tokenOps, VSD_MAX } from '../core/update/protocol.ts';
import { toHex } from '../core/bytes/hex.ts';
import type { CsTokenStep, MaintenanceOp } from './device-protocol.ts';
import type { Outbox } from './outbox.ts';
import type { DeviceRegistry, Slot } from './registry.ts';

/** What a token signer returns: the key id the device looks the key up by, and the signature. */
export interface SignedTokenParts {
  /** SHA-256 of the signer's SubjectPublicKeyInfo (DER). */
  readonly keyId: Uint8Array;
  /** RSASSA-PKCS1-v1_5 / SHA-256 / RSA-2048 over the body. */
  readonly signature: Uint8Array;
  /** Who signed, for a person ("DEMO vendor signer key (public, demo only)"). */
  readonly signer: string;
}

export type TokenSigner = (body: Uint8Array) => Promise<SignedTokenParts>;

/** How long the demo's CS token asks to be valid (the device caps it at TOKEN_MAX_SECONDS). */
export const DEMO_TOKEN_SECONDS = 300;

/** What each blocked command carries: flint's own kind of argument. */
const ARGUMENT: Record<MaintenanceOp, () => Uint8Array> = {
  RAW_FLASH_WRITE: () => new Uint8Array(16).fill(0xff),
  SET_VSD: () => new TextEncoder().encode('bench 7'),
  ROM_BURN: () => new Uint8Array(16),
};

export class Maintenance {
  readonly #registry: DeviceRegistry;
  readonly #out: Outbox;
  readonly #save: (slot: Slot) => Promise<void>;
  readonly #sign: TokenSigner | undefined;

  constructor(o: { registry: DeviceRegistry; out: Outbox; save: (slot: Slot) => Promise<void>; signToken?: TokenSigner }) {
    this.#registry = o.registry;
    this.#out = o.out;
    this.#save = o.save;
    this.#sign = o.signToken;
  }

  /** One maintenance command; secure firmware refuses it with a STALL, and LAST_RESULT then says why. */
  async send(slot: Slot, op: MaintenanceOp): Promise<void> {
    this.#out.note(slot.serial, `maintenance command ${op} sent`);
    const r = await new NicClient(await this.#registry.host(slot)).maintenance(op, ARGUMENT[op]());
    const last = r.accepted ? undefined : r.last;
    this.#out.note(slot.serial, r.accepted ? `${op} accepted by the device` : `${op} refused by the device: ${last?.text ?? 'STALL'}`);
    this.#out.emit({ kind: 'maintenance', serial: slot.serial, op, refused: !r.accepted, ...(last ? { deviceText: last.text, registerStatus: last.code } : {}), mstflint: MAINT_OP_MSTFLINT[MAINT_OP[op]] ?? '' });
  }

  /** The CS-token demo on one NIC, each step posted as it happens. */
  async csToken(slot: Slot, vsd: string): Promise<void> {
    const sign = this.#sign;
    if (!sign) throw new Error('no CS-token signer is available here');
    const value = new TextEncoder().encode(vsd);
    if (value.length === 0 || value.length > VSD_MAX) throw new RangeError(`"vsd" expected 1..${VSD_MAX} bytes, got ${value.length}`);
    const nic = new NicClient(await this.#registry.host(slot));
    const step = (id: CsTokenStep, ok: boolean, text: string) => {
      this.#out.note(slot.serial, `CS token: ${text}`);
      this.#out.emit({ kind: 'cs-token', serial: slot.serial, step: id, ok, text });
    };

    const refused = await setVsd(nic, value);
    if (refused === undefined) {
      step('refused', false, 'SET_VSD was accepted without asking for a token: a token applied earlier is still active');
      await this.#registry.query(slot);
      return;
    }
    step('refused', true, `SET_VSD refused by the device: ${refused} (${MAINT_OP_MSTFLINT[MAINT_OP.SET_VSD]})`);

    const ch = await nic.tokenChallenge();
    const nonceHex = toHex(ch.nonce);
    step('challenge', true, `challenge read: nonce ${nonceHex.slice(0, 8)}…${nonceHex.slice(-4)} for PSID ${ch.psid}`);

    const body = encodeTokenBody({ ops: tokenOps([MAINT_OP.SET_VSD]), seconds: DEMO_TOKEN_SECONDS, nonce: ch.nonce, psid: ch.psid });
    const signed = await sign(body);
    step('signed', true, `token for SET_VSD, ${DEMO_TOKEN_SECONDS} s, signed by the ${signed.signer} (key id ${toHex(signed.keyId.slice(0, 6))}…)`);

    const applied = await nic.tokenApply({ body, keyId: signed.keyId, signature: signed.signature });
    if (!applied.accepted) {
      step('applied', false, `the device refused the token: ${applied.last?.text ?? 'STALL'}`);
      return;
    }
    const seconds = Math.min(DEMO_TOKEN_SECONDS, TOKEN_MAX_SECONDS);
    step('applied', true, `token applied: SET_VSD is unlocked for ${seconds} s (the device caps any token at ${TOKEN_MAX_SECONDS} s and accepts one answer per challenge); raw flash writes and ROM burns stay refused`);

    const again = await setVsd(nic, value);
    if (again !== undefined) {
      step('accepted', false, `SET_VSD still refused: ${again}`);
      return;
    }
    await this.#registry.query(slot);
    await this.#save(slot);
    step('accepted', true, `SET_VSD accepted: the device VSD is now "${vsd}"`);
  }
}

/** MAINT SET_VSD: undefined when the device took it, else what it said (LAST_RESULT) when it stalled. */
async function setVsd(nic: NicClient, value: Uint8Array): Promise<string | undefined> {
  const r = await nic.maintenance('SET_VSD', value);
  return r.accepted ? undefined : (r.last?.text ?? 'the request was stalled');
}
