import { mount } from 'svelte';
import { registerSW } from 'virtual:pwa-register';
import App from './ui/App.svelte';
import { VerifierState, workerBackend } from './ui/state/verifier.svelte.ts';
import { fetchBytesFromApp, fetchFromApp, SetupState } from './ui/state/setup.svelte.ts';
import { AppUpdate } from './ui/state/app-update.svelte.ts';
import { DeviceChannel } from './ui/state/device-channel.ts';
import { combinedBackend, pageUsbBackend, workerDeviceBackend } from './ui/state/device-backend.ts';
import { DevicesState, USB_FILTERS, type UsbSupport } from './ui/state/devices.svelte.ts';
import { UpdateState } from './ui/state/update.svelte.ts';
import { MaintenanceState } from './ui/state/maintenance.svelte.ts';
import { LogState } from './ui/state/log.svelte.ts';
import { FaultDraft } from './ui/state/fault-draft.svelte.ts';
import { BatchState } from './ui/state/batch.svelte.ts';
import { OTHER_PSID } from './ui/state/scenarios.ts';
import { FirmwareFlow } from './ui/state/firmware-flow.svelte.ts';
import { HistoryState } from './ui/state/history.svelte.ts';
import { EmulatorOwner } from './ui/state/emulator-owner.svelte.ts';
import { indexedDbHistoryStore, memoryHistoryStore } from './service/history-store.ts';
import { ReleaseState } from './ui/state/release.svelte.ts';
import { RELEASE_CHANNEL } from './core/release/messages.ts';
import type { ReleaseBuildInfo } from './core/release/build-info.ts';
import { indexedDbCatalogStore, memoryCatalogStore } from './service/catalog-store.ts';
import { CatalogState } from './ui/state/catalog.svelte.ts';
import './ui/app.css';

const fetchText = async (url: string) => (await fetchFromApp(url)).text();

/** Offers text as a file download through a short-lived Blob URL. */
function saveFile(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const usbSupport: UsbSupport = !window.isSecureContext ? 'insecure' : 'usb' in navigator ? 'available' : 'no-webusb';

const verifier = new VerifierState(workerBackend());
// the operator's vendor roots are remembered in this browser (they are public certificates)
const catalogStore = typeof indexedDB !== 'undefined' ? indexedDbCatalogStore(indexedDB) : memoryCatalogStore();
const setup = new SetupState(fetchText, window.localStorage, undefined, new CatalogState(catalogStore));
const appUpdate = new AppUpdate();
const channel = new DeviceChannel(combinedBackend(workerDeviceBackend(), pageUsbBackend()));
const devices = new DevicesState({
  channel,
  baseUrl: document.baseURI,
  usbSupport,
  ...(usbSupport === 'available'
    ? {
        requestUsbDevice: async () => ({ device: await navigator.usb.requestDevice({ filters: USB_FILTERS }), bus: navigator.usb }),
        grantedUsbDevices: async () => (await navigator.usb.getDevices()).map((device) => ({ device, bus: navigator.usb })),
      }
    : {}),
});
const maintenance = new MaintenanceState({ channel, devices });
const update = new UpdateState({
  channel,
  devices,
  trust: () => setup.trust,
  catalog: () => setup.catalog?.forVerify,
  fetchBytes: fetchBytesFromApp,
  production: () => setup.production,
  deviceCas: () => setup.deviceCaTexts,
});
const log = new LogState({ channel, saveFile });
const faults = new FaultDraft();
const batch = new BatchState({ channel, trust: () => setup.trust, catalog: () => setup.catalog?.forVerify, fetchBytes: fetchBytesFromApp, production: () => setup.production, deviceCas: () => setup.deviceCaTexts });
const historyStore = typeof indexedDB !== 'undefined' ? indexedDbHistoryStore(indexedDB) : memoryHistoryStore();
const history = new HistoryState({ channel, read: () => historyStore.entries(), saveFile, ...(navigator.storage ? { storage: navigator.storage } : {}) });
const owner = new EmulatorOwner(channel);
void history.load();
void history.requestPersistence();
// leaving mid-update cuts the device off mid-download: the browser asks first (the history flags it if the person leaves anyway)
addEventListener('beforeunload', (e) => {
  if (update.running || batch.running) e.preventDefault();
});
const flow = new FirmwareFlow({ verifier, setup, update, devices });
// the page opens ready to go: the signed sample chosen, and its report shown
update.choose({ kind: 'sample', file: 'good.tfw', title: 'Signed update 28.40.1000' });
void setup.load().then(() => {
  const good = setup.samples.find((x) => x.file === 'good.tfw');
  // only if the person has not picked anything yet (a pick before the samples loaded wins)
  if (good && flow.picks === 0 && !verifier.busy && verifier.report === undefined) void flow.pickSample(good, { focus: false });
});
void devices.start();

/** Pinned at build time by scripts/release-plugin.ts (threat T12). */
declare const __TRUSTFLASH_RELEASE__: ReleaseBuildInfo;
const release = new ReleaseState(__TRUSTFLASH_RELEASE__, {
  fetchBytes: async (url) => new Uint8Array(await fetchBytesFromApp(url)),
  controlled: () => !!navigator.serviceWorker?.controller,
});
void release.load();

if ('serviceWorker' in navigator) {
  // the service worker says here whether it accepted a new release, or why it refused it; listening starts before it is registered
  if (typeof BroadcastChannel !== 'undefined') new BroadcastChannel(RELEASE_CHANNEL).onmessage = (e) => release.onMessage(e.data);
  // a newly controlling worker serves the manifest it verified: read the digest again
  navigator.serviceWorker.addEventListener('controllerchange', () => void release.load());
  const registration = registerSW({
    immediate: true,
    onNeedRefresh: () => appUpdate.announce(() => registration(true)),
  });
}

mount(App, { target: document.getElementById('app')!, props: { verifier, setup, appUpdate, devices, maintenance, update, log, faults, batch, flow, history, owner, release, otherPsid: OTHER_PSID } });
