/// <reference lib="webworker" />
/**
 * The device Worker: the emulated NICs (their firmware is WebAssembly), the DFU host and the update
 * session run here, so the page never blocks. It receives DeviceRequests and posts DeviceEvents;
 * the NICs' state is kept in IndexedDB.
 */
import { DeviceService } from './device-service.ts';
import type { DeviceEvent, DeviceRequest } from './device-protocol.ts';
import { indexedDbNicStore, memoryNicStore } from './nic-store.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

const service = new DeviceService({
  source: 'emulator',
  post: (e: DeviceEvent) => scope.postMessage(e),
  store: typeof indexedDB !== 'undefined' ? indexedDbNicStore(indexedDB) : memoryNicStore(),
  fetchBytes: async (url) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  },
  // the CS-token demo signs with the DEMO key (public); loaded only when the demo runs
  signToken: async (body) => (await import('./demo-token-signer.ts')).signWithDemoKey(body),
});

scope.onmessage = (ev: MessageEvent<DeviceRequest>) => void service.handle(ev.data);
