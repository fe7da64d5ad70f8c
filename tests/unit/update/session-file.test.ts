/**
 * An update from a file (issue #13): a v2 image is never held whole — the session reads its head
 * once and each hash block as it sends it, checks the block against the signed table first, and
 * sends exactly those bytes; a file changed after the pre-flight is refused at the changed block,
 * before any of it reaches the device. A v1 file is read whole and sent from that copy.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DfuHost } from '../../../src/core/dfu/host.ts';
import { loadTrustStore } from '../../../src/core/crypto/trust.ts';
import { NicClient } from '../../../src/core/update/nic-client.ts';
import { UpdateSession, type Firmware } from '../../../src/core/update/session.ts';
import { HEAD_MAX } from '../../../src/core/image/layout.ts';
import { parseImageHead } from '../../../src/core/image/parse.ts';
import { blockPlanOf, hashBlock } from '../../../src/core/image/hash-blocks.ts';
import type { BlobLike } from '../../../src/core/crypto/sha256.ts';
import { newDevice, sample } from '../emulator/host.ts';

const NOW = new Date('2026-11-22T00:00:00Z');
const pem = (p: string) => ({ name: p, text: readFileSync(`src/assets/demo-keys/${p}`, 'utf8') });

/** A file as a Blob, counting what is read; `change(start, bytes)` may alter what a read returns. */
function fileOf(bytes: Uint8Array, change?: (start: number, out: Uint8Array, read: number) => void) {
  const reads: { start: number; end: number }[] = [];
  const file: BlobLike = {
    size: bytes.length,
    slice(start = 0, end = bytes.length) {
      return {
        arrayBuffer: async () => {
          reads.push({ start, end });
          const out = bytes.slice(start, end);
          change?.(start, out, reads.length);
          return out.buffer;
        },
      };
    },
  };
  return { file, reads };
}

async function run(firmware: Firmware) {
  const dev = await newDevice();
  const host = new DfuHost(dev);
  await host.open();
  const { store } = await loadTrustStore([pem('root/cert.pem')]);
  const nic = new NicClient(host);
  const session = new UpdateSession({ host, usb: dev.usb, firmware, trust: store, now: NOW, onEvent: () => undefined });
  const result = await session.run();
  return { dev, host, nic, result };
}

describe('an update read from a file', () => {
  it('a v2 image: updated, never read whole (no read larger than the head or one hash block), every byte sent once', async () => {
    const bytes = await sample('good.tfw');
    const plan = blockPlanOf((parseImageHead(bytes.subarray(0, HEAD_MAX), bytes.length) as { ok: true; value: never }).value)!;
    expect(plan.count).toBeGreaterThan(1);
    const { file, reads } = fileOf(bytes);
    const { result, nic } = await run({ kind: 'file', file });
    expect(result.outcome, result.message).toBe('updated');
    expect(result.after?.fwVersionPending).toBe('28.40.1000');
    expect(result.download).toEqual({ bytesSent: bytes.length, resumedAt: 0 });
    const largest = Math.max(...reads.map((r) => r.end - r.start));
    expect(largest).toBeLessThanOrEqual(Math.min(bytes.length, HEAD_MAX));
    // the payload is read by block: each block once for the pre-flight and once to be sent
    for (let i = 0; i < plan.count; i++) {
      const b = hashBlock(plan, i);
      const n = reads.filter((r) => r.start === plan.payloadOffset + b.start && r.end === plan.payloadOffset + b.end).length;
      expect(n, `block ${i}`).toBe(2);
    }
    expect((await nic.status()).state).toBe(0);
  });

  it('the same bytes from memory and from a file leave the same pending image', async () => {
    const bytes = await sample('good.tfw');
    const a = await run({ kind: 'image', bytes });
    const b = await run({ kind: 'file', file: fileOf(bytes).file });
    expect([a.result.outcome, b.result.outcome]).toEqual(['updated', 'updated']);
    expect(b.result.after?.banks).toEqual(a.result.after?.banks);
    expect(b.result.after?.fwVersionPending).toBe(a.result.after?.fwVersionPending);
  });

  it('a file changed after the pre-flight is refused at the changed block, before any of it is sent; the device keeps its firmware', async () => {
    const bytes = await sample('good.tfw');
    const plan = blockPlanOf((parseImageHead(bytes.subarray(0, HEAD_MAX), bytes.length) as { ok: true; value: never }).value)!;
    for (const target of [0, Math.floor(plan.count / 2), plan.count - 1]) {
      const b = hashBlock(plan, target);
      const at = plan.payloadOffset + b.start;
      const seen = new Map<number, number>();
      // the second read of the target block (the send) returns one flipped byte
      const { file } = fileOf(bytes, (start, out) => {
        if (start !== at || out.length !== b.end - b.start) return;
        const n = (seen.get(start) ?? 0) + 1;
        seen.set(start, n);
        if (n === 2) out[Math.floor(out.length / 2)]! ^= 0x01;
      });
      const { result, nic } = await run({ kind: 'file', file });
      expect(result.outcome, `block ${target}`).toBe('failed');
      expect(result.message).toMatch(new RegExp(`the file changed after it was verified: hash block ${target} \\(payload bytes ${b.start}\\.\\.${b.end - 1}`));
      expect(result.steps.find((s) => s.id === 'preflight')?.status).toBe('done');
      // nothing of the changed block went out: the bytes sent end where it starts
      expect(result.download!.bytesSent).toBeLessThanOrEqual(at);
      const q = await nic.query();
      expect([q.fwVersionRunning, q.fwVersionPending]).toEqual(['28.39.1002', undefined]);
      expect((await nic.status()).handleOwned).toBe(false);
    }
  });

  it('a v1 image and a file that does not parse are read whole, as before', async () => {
    const v1 = await sample('factory.tfw');
    const one = fileOf(v1);
    const r1 = await run({ kind: 'file', file: one.file });
    expect(one.reads.some((r) => r.start === 0 && r.end === v1.length)).toBe(true);
    expect(r1.result.report?.formatVersion).toBe(1);
    const junk = fileOf(new TextEncoder().encode('not an image at all'));
    const r2 = await run({ kind: 'file', file: junk.file });
    expect(r2.result.outcome).toBe('rejected-by-host');
    expect(r2.result.report?.failed?.id).toBe('format');
  });
});
