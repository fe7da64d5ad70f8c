/**
 * Signs a release catalog: the JSON text exactly as the release engineer wrote and reviewed it,
 * checked first against the schema (a catalog that would not verify is never signed), into an
 * attached CMS SignedData (`openssl cms -sign -nodetach -binary -outform DER -md sha256` shape).
 */
import type { Result } from '../bytes/result.ts';
import { createCms } from '../crypto/cms.ts';
import type { Certificate } from '../crypto/x509.ts';
import { parseCatalogJson, type CatalogContent } from './catalog-json.ts';

export interface CatalogSigner {
  readonly privateKey: CryptoKey;
  readonly certificate: Certificate;
  readonly chain?: readonly Certificate[];
  readonly signingTime?: Date;
}

export async function signCatalog(json: string, s: CatalogSigner): Promise<Result<{ der: Uint8Array; content: CatalogContent }>> {
  const content = parseCatalogJson(json);
  if (!content.ok) return content;
  const der = await createCms({
    content: new TextEncoder().encode(json),
    privateKey: s.privateKey,
    signer: s.certificate,
    attached: true,
    ...(s.chain ? { chain: s.chain } : {}),
    ...(s.signingTime ? { signingTime: s.signingTime } : {}),
  });
  return { ok: true, value: { der, content: content.value } };
}
