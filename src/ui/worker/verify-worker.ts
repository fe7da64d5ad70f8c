/// <reference lib="webworker" />
/**
 * The verification Worker: hashing a large file here keeps the page responsive. It only receives
 * Blobs and PEM text, and answers with plain report data. The hash blocks of a format v2 image are
 * hashed by a pool of block-hasher Workers it starts (block-pool.ts).
 */
import { parsePem } from '../../core/crypto/pem.ts';
import { loadTrustStore } from '../../core/crypto/trust.ts';
import { parseCertificate, type Certificate } from '../../core/crypto/x509.ts';
import { verifyDetached, DETACHED_MAX } from '../../core/verify/verify-detached.ts';
import { verifyImage } from '../../core/verify/verify-image.ts';
import { verifyCatalog } from '../../core/catalog/catalog-verify.ts';
import { pageBlockHasher } from './block-pool.ts';
import type { WorkerRequest, WorkerResponse } from './protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const running = new Map<number, AbortController>();
const post = (m: WorkerResponse) => scope.postMessage(m);
/** Format v2 payloads: hash blocks in parallel Workers (issue #13); v1 keeps hash-wasm streaming. */
const blockHasher = pageBlockHasher();
// started now, while the page starts, so the first verification does not pay for it
blockHasher.warm();

scope.onmessage = async (ev: MessageEvent<WorkerRequest>) => {
  const req = ev.data;
  if (req.kind === 'cancel') {
    running.get(req.id)?.abort();
    return;
  }
  const ctl = new AbortController();
  running.set(req.id, ctl);
  try {
    const { store, errors } = await loadTrustStore(req.trust);
    const now = req.now !== undefined ? new Date(req.now) : undefined;
    let lastPost = 0;
    const onProgress = (p: { done: number; total: number }) => {
      const t = performance.now();
      if (t - lastPost > 50 || p.done === p.total) {
        lastPost = t;
        post({ id: req.id, kind: 'progress', done: p.done, total: p.total });
      }
    };
    if (req.kind === 'image') {
      // the catalog is checked against the same trust store and time as the image
      const catalog = req.catalog ? { catalog: await verifyCatalog(req.catalog.bytes, { trust: store, time: now ?? new Date() }), lastSeen: req.catalog.lastSeen } : undefined;
      const report = await verifyImage(req.file, { trust: store, ...(req.device ? { device: req.device } : {}), ...(now ? { now } : {}), ...(catalog ? { catalog } : {}), ...(req.production ? { production: true } : {}), onProgress, signal: ctl.signal, blockHasher });
      post({ id: req.id, kind: 'report', report, trustErrors: errors });
    } else {
      if (req.file.size > DETACHED_MAX) throw new Error(`the firmware file is ${req.file.size} bytes; detached verification stops at ${DETACHED_MAX}`);
      const certs: Certificate[] = [];
      for (const src of req.certificates) {
        for (const b of parsePem(src.text).blocks.filter((x) => x.label === 'CERTIFICATE')) {
          const c = await parseCertificate(b.der);
          if (!c.ok) throw new Error(`${src.name}: ${c.reason}`);
          certs.push(c.value);
        }
      }
      const data = new Uint8Array(await req.file.arrayBuffer());
      const sig = new Uint8Array(await req.signature.slice(0, 64 * 1024 + 1).arrayBuffer());
      const report = await verifyDetached(data, sig, { trust: store, certificates: certs, ...(now ? { now } : {}), ...(req.production ? { production: true } : {}) });
      post({ id: req.id, kind: 'report', report, trustErrors: errors });
    }
  } catch (e) {
    post({ id: req.id, kind: 'error', message: (e as Error).name === 'AbortError' ? 'cancelled' : (e as Error).message });
  } finally {
    running.delete(req.id);
  }
};
