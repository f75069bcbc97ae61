/**
 * node:crypto's `generateKeyPairSync`, with keys that are safe to export as JWK on Node 20. Exporting a
 * freshly generated key as JWK can deadlock the process when a GC lands inside the export: the GC
 * finalises the key-generation job, whose destructor waits on the mutex the export holds (see
 * generateDpopKey in lib/protocol/dpop.ts). The pair is re-imported from PKCS#8 here, so no
 * key-generation job shares its lock, and a test run cannot hang on it.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync as generate, type KeyObject } from 'node:crypto';

export function generateKeyPairSync(type: string, options?: object): { privateKey: KeyObject; publicKey: KeyObject } {
  const { privateKey } = (generate as unknown as (type: string, options?: object) => { privateKey: KeyObject })(type, options);
  const imported = createPrivateKey({ key: privateKey.export({ format: 'der', type: 'pkcs8' }), format: 'der', type: 'pkcs8' });
  return { privateKey: imported, publicKey: createPublicKey(imported) };
}
