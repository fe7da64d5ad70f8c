/**
 * Write-through in the page (issue #13): the emulated NIC's flash changes are journaled to its
 * store as they happen, so a page closed in the middle of a download is a power loss of the NIC at
 * that moment — the next page load replays the journal onto the saved state, says so, and the same
 * update resumes the download the NIC kept instead of starting over.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceService } from '../../../src/service/device-service.ts';
import { memoryNicStore, type NicStore } from '../../../src/service/nic-store.ts';
import type { DeviceEvent, DeviceRequest } from '../../../src/service/device-protocol.ts';
import type { FlashOp } from '../../../src/emulator/persist.ts';
import { sample } from '../emulator/host.ts';
import { smallCertImage } from '../helpers/demo.ts';

const TRUST = [{ name: 'root.pem', text: readFileSync('src/assets/demo-keys/root/cert.pem', 'utf8') }];
type Body = DeviceRequest extends infer R ? (R extends DeviceRequest ? Omit<R, 'id'> : never) : never;

function page(nics: NicStore) {
  const events: DeviceEvent[] = [];
  const service = new DeviceService({ source: 'emulator', post: (e) => events.push(e), store: nics, bankSize: 4 * 1024 * 1024, fetchBytes: async (url) => sample(url.split('/').pop()!) });
  let id = 0;
  const send = (body: Body) => service.handle({ ...body, id: ++id } as DeviceRequest);
  return { events, send, init: () => send({ kind: 'init', baseUrl: 'http://app.test/' }) };
}

/** What a closed page leaves in its store at this instant (a copy: the old page's writes after it are lost). */
function frozen(store: ReturnType<typeof memoryNicStore>): NicStore {
  const copy = memoryNicStore();
  for (const [k, v] of store.saved) copy.saved.set(k, v.slice());
  for (const [k, v] of store.journals) copy.journals.set(k, v.map((op): FlashOp => ('bytes' in op ? { ...op, bytes: op.bytes.slice() } : { ...op })));
  return copy;
}

describe('a page closed in the middle of a download', () => {
  it('the next load replays the journal, says the NIC lost power, and the same update resumes what the NIC kept', async () => {
    const image = Uint8Array.from(await smallCertImage(3 * 1024 * 1024));
    const store = memoryNicStore();
    const a = page(store);
    await a.init();
    let closed: NicStore | undefined;
    // close the page once more than half of the image is journaled to the store: the moment is taken
    // from the journal itself, not from the progress events, because the write-through journals
    // behind the transfer (a timer's turn later), and by how much depends on the machine's load
    const append = store.append!.bind(store);
    const journaledBytes = () => (store.journals.get('TFN0000001') ?? []).reduce((n, op) => n + ('bytes' in op ? op.bytes.length : 0), 0);
    store.append = async (serial, ops) => {
      await append(serial, ops);
      if (!closed && journaledBytes() > image.length / 2) closed = frozen(store);
    };
    await a.send({ kind: 'start', serial: 'TFN0000001', name: 'big.tfw', image: new Blob([image]), trust: TRUST, mode: 'run' });
    expect(closed, 'the download was seen half-way').toBeDefined();
    expect((closed as ReturnType<typeof memoryNicStore>).journals.get('TFN0000001')?.length).toBeGreaterThan(0);

    const b = page(closed!);
    await b.init();
    const notes = b.events.filter((e): e is Extract<DeviceEvent, { kind: 'log' }> => e.kind === 'log').flatMap((e) => e.lines.map((l) => l.text));
    expect(notes.join('\n')).toMatch(/the page was closed in the middle of a change to this NIC \(\d+ flash changes journaled\): it lost power then and powers on now/);
    const q = b.events.filter((e): e is Extract<DeviceEvent, { kind: 'query' }> => e.kind === 'query').at(-1)!.query;
    expect(q.fwVersionPending).toBeUndefined();
    expect(q.resumable?.size).toBe(image.length);
    await b.send({ kind: 'start', serial: 'TFN0000001', name: 'big.tfw', image: new Blob([image]), trust: TRUST, mode: 'run' });
    const result = b.events.filter((e): e is Extract<DeviceEvent, { kind: 'result' }> => e.kind === 'result').at(-1)!.result;
    expect(result.outcome, result.message).toBe('updated');
    expect(result.download!.resumedAt).toBeGreaterThan(image.length / 4);
    expect(result.download!.resumedAt + result.download!.bytesSent).toBe(image.length);
    // the save after the session dropped the journal with it
    expect((closed as ReturnType<typeof memoryNicStore>).journals.get('TFN0000001') ?? []).toEqual([]);
  }, 60_000);
});
