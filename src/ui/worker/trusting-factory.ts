/**
 * "Add emulated NIC trusting my key": the operator's PEM (a PUBLIC KEY, or a CERTIFICATE whose key
 * is taken) becomes the nextKeys of the NIC's factory image (src/core/sign/factory-image.ts), so
 * the NIC accepts the operator's releases and nothing signed by the demo keys.
 */
import { parsePem } from '../../core/crypto/pem.ts';
import { parseCertificate } from '../../core/crypto/x509.ts';
import { factoryImageTrusting } from '../../core/sign/factory-image.ts';

/** SPKI DER of each PEM text; a text with neither block is an error naming it. */
async function spkisOf(pems: readonly string[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const [i, text] of pems.entries()) {
    const blocks = parsePem(text).blocks;
    const pub = blocks.find((b) => b.label === 'PUBLIC KEY');
    const cert = blocks.find((b) => b.label === 'CERTIFICATE');
    if (pub) out.push(pub.der);
    else if (cert) {
      const c = await parseCertificate(cert.der);
      if (!c.ok) throw new Error(`key ${i + 1}: ${c.reason}`);
      out.push(c.value.spki);
    } else throw new Error(`key ${i + 1}: no PUBLIC KEY or CERTIFICATE in it (openssl pkey -in KEY.pem -pubout makes one)`);
  }
  return out;
}

export async function factoryTrusting(base: Uint8Array, pems: readonly string[]): Promise<Uint8Array> {
  const r = await factoryImageTrusting(base, await spkisOf(pems));
  if (!r.ok) throw new Error(`the NIC cannot be made to trust this key: ${r.reason}`);
  return r.image;
}
