import { mount } from 'svelte';
import { registerSW } from 'virtual:pwa-register';
import App from './ui/App.svelte';
import { VerifierState, workerBackend } from './ui/state/verifier.svelte.ts';
import { SetupState } from './ui/state/setup.svelte.ts';
import { AppUpdate } from './ui/state/app-update.svelte.ts';
import './ui/app.css';

const fetchText = async (url: string) => {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
};

const verifier = new VerifierState(workerBackend());
const setup = new SetupState(fetchText);
const appUpdate = new AppUpdate();
void setup.load();

if ('serviceWorker' in navigator) {
  const update = registerSW({
    immediate: true,
    onNeedRefresh: () => appUpdate.announce(() => update(true)),
  });
}

mount(App, { target: document.getElementById('app')!, props: { verifier, setup, appUpdate } });
