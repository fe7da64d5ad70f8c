/// <reference lib="webworker" />
/**
 * The device Worker: the device side (src/service: the emulated NICs, whose firmware is WebAssembly,
 * the DFU host and the update sessions) runs here, so the page never blocks. It receives
 * DeviceRequests and posts DeviceEvents; the NICs' state, the update history and the audit log are
 * kept in IndexedDB. The NICs are restored only by the tab that holds the emulator lock
 * (emulator-lock.ts); until then this side refuses every request but the audit export.
 */
import { DeviceService } from '../../service/device-service.ts';
import type { DeviceEvent, DeviceRequest } from '../../service/device-protocol.ts';
import { indexedDbNicStore, memoryNicStore } from '../../service/nic-store.ts';
import { indexedDbHistoryStore, memoryHistoryStore } from '../../service/history-store.ts';
import { claimEmulator } from './emulator-lock.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (e: DeviceEvent) => scope.postMessage(e);
const idb = typeof indexedDB !== 'undefined';
const locks = 'locks' in navigator ? navigator.locks : undefined;

const service = new DeviceService({
  source: 'emulator',
  post,
  store: idb ? indexedDbNicStore(indexedDB) : memoryNicStore(),
  historyStore: idb ? indexedDbHistoryStore(indexedDB) : memoryHistoryStore(),
  ...(locks ? { locks } : {}),
  fetchBytes: async (url) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  },
  // the CS-token demo signs with the DEMO key (public); loaded only when the demo runs
  signToken: async (body) => (await import('../../service/demo-token-signer.ts')).signWithDemoKey(body),
});

let owner = false;

scope.onmessage = (ev: MessageEvent<DeviceRequest>) => {
  const req = ev.data;
  if (req.kind === 'init') {
    void claimEmulator(locks, {
      held: async (takeover) => {
        owner = true;
        post({ kind: 'emulator-lock', held: true, takeover });
        // a takeover's init answers no request of the page (id 0 is never pending)
        await service.handle(takeover ? { ...req, id: 0 } : req);
      },
      elsewhere: () => {
        post({ kind: 'emulator-lock', held: false, takeover: false });
        post({ kind: 'done', id: req.id });
      },
    });
  } else if (owner || req.kind === 'export-audit') void service.handle(req);
  else post({ kind: 'done', id: req.id, error: { code: 'Busy', message: 'the emulated NICs are open in another tab of TrustFlash; close it or use that tab' } });
};
