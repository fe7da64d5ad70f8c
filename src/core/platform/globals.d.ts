/**
 * The platform src/core may use, and nothing more: what a page, a Worker and Node 20 all provide.
 * `tsconfig.core.json` type-checks src/core against these declarations alone (no DOM, no Node
 * types), so a core module that reaches for `document`, `window`, `Buffer`, `process` or `fs`
 * fails `npm test`. The app's own tsconfig uses the real DOM and Node types instead and never
 * reads this file. The shapes are the subsets of the WHATWG / W3C interfaces core calls.
 */

type BufferSource = ArrayBufferView | ArrayBuffer;

// ---- timers, time, cancellation (HTML Living Standard; Node 20 has the same globals) ----------
declare function setTimeout(handler: () => void, timeout?: number): number;
declare function clearTimeout(id: number | undefined): void;
declare function setInterval(handler: () => void, timeout?: number): number;
declare function clearInterval(id: number | undefined): void;
declare const performance: { now(): number };
// channel messaging: one turn of the event loop without a nested setTimeout's clamping (image-stream.ts)
interface MessagePort {
  onmessage: ((event: unknown) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}
declare class MessageChannel {
  readonly port1: MessagePort;
  readonly port2: MessagePort;
}

interface Event {
  readonly type: string;
}
interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
  throwIfAborted(): void;
}
declare class DOMException extends Error {
  constructor(message?: string, name?: string);
  readonly name: string;
}

// ---- Encoding Standard ------------------------------------------------------------------------
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: BufferSource, options?: { stream?: boolean }): string;
}
declare function atob(data: string): string;
declare function btoa(data: string): string;

// ---- Web Cryptography API (the calls core makes) ----------------------------------------------
interface CryptoKey {
  readonly type: 'public' | 'private' | 'secret';
  readonly extractable: boolean;
  readonly algorithm: { name: string };
  readonly usages: string[];
}
interface CryptoKeyPair {
  readonly publicKey: CryptoKey;
  readonly privateKey: CryptoKey;
}
interface Algorithm {
  name: string;
}
type AlgorithmIdentifier = Algorithm | string;
interface RsaHashedImportParams extends Algorithm {
  hash: AlgorithmIdentifier;
}
interface EcKeyImportParams extends Algorithm {
  namedCurve: string;
}
interface EcdsaParams extends Algorithm {
  hash: AlgorithmIdentifier;
}
interface JsonWebKey {
  kty?: string;
  [member: string]: unknown;
}
type KeyFormat = 'raw' | 'spki' | 'pkcs8' | 'jwk';
type KeyUsage = 'sign' | 'verify' | 'encrypt' | 'decrypt' | 'deriveBits' | 'deriveKey' | 'wrapKey' | 'unwrapKey';
interface SubtleCrypto {
  digest(algorithm: AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer>;
  importKey(format: KeyFormat, keyData: BufferSource | JsonWebKey, algorithm: AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams, extractable: boolean, keyUsages: KeyUsage[]): Promise<CryptoKey>;
  exportKey(format: 'jwk', key: CryptoKey): Promise<JsonWebKey>;
  exportKey(format: Exclude<KeyFormat, 'jwk'>, key: CryptoKey): Promise<ArrayBuffer>;
  generateKey(algorithm: AlgorithmIdentifier | (Algorithm & Record<string, unknown>), extractable: boolean, keyUsages: KeyUsage[]): Promise<CryptoKeyPair>;
  sign(algorithm: AlgorithmIdentifier | EcdsaParams, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  verify(algorithm: AlgorithmIdentifier | EcdsaParams, key: CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean>;
}
declare const crypto: {
  readonly subtle: SubtleCrypto;
  getRandomValues<T extends ArrayBufferView>(array: T): T;
};

// ---- WebUSB (W3C Community Group report): the device interface the DFU host drives ----------
type USBRequestType = 'standard' | 'class' | 'vendor';
type USBRecipient = 'device' | 'interface' | 'endpoint' | 'other';
type USBTransferStatus = 'ok' | 'stall' | 'babble';
interface USBControlTransferParameters {
  requestType: USBRequestType;
  recipient: USBRecipient;
  request: number;
  value: number;
  index: number;
}
interface USBInTransferResult {
  readonly data?: DataView | undefined;
  readonly status?: USBTransferStatus | undefined;
}
interface USBOutTransferResult {
  readonly bytesWritten: number;
  readonly status?: USBTransferStatus | undefined;
}
interface USBAlternateInterface {
  readonly alternateSetting: number;
  readonly interfaceClass: number;
  readonly interfaceSubclass: number;
  readonly interfaceProtocol: number;
  readonly interfaceName?: string | null | undefined;
}
interface USBInterface {
  readonly interfaceNumber: number;
  readonly alternate: USBAlternateInterface;
  readonly alternates: USBAlternateInterface[];
  readonly claimed: boolean;
}
interface USBConfiguration {
  readonly configurationValue: number;
  readonly configurationName?: string | null | undefined;
  readonly interfaces: USBInterface[];
}
interface USBDevice {
  readonly vendorId: number;
  readonly productId: number;
  readonly deviceVersionMajor: number;
  readonly deviceVersionMinor: number;
  readonly deviceVersionSubminor: number;
  readonly manufacturerName?: string | undefined;
  readonly productName?: string | undefined;
  readonly serialNumber?: string | undefined;
  readonly configuration?: USBConfiguration | undefined;
  readonly configurations: USBConfiguration[];
  readonly opened: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  reset(): Promise<void>;
  selectConfiguration(configurationValue: number): Promise<void>;
  claimInterface(interfaceNumber: number): Promise<void>;
  releaseInterface(interfaceNumber: number): Promise<void>;
  selectAlternateInterface(interfaceNumber: number, alternateSetting: number): Promise<void>;
  controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult>;
  controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult>;
}
