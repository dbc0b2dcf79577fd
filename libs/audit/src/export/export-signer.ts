import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalJson } from '../chain/canonical.js';

/** The public half of the signing key, as `/v1/audit/public-key` serves it. */
export interface PublicKeyView {
  readonly key_id: string;
  readonly pem: string;
  readonly jwk: JsonWebKey & { kid: string; alg: 'EdDSA'; use: 'sig' };
}

/**
 * Signs manifests and checkpoints with the Ed25519 key of `AUDIT_SIGNING_KEY_FILE`. What is
 * signed is the RFC 8785 canonical JSON of the object without its `signature`, so anyone can
 * rebuild the exact bytes (and check them with openssl alone). `key_id` is the first 16 hex
 * digits of the SHA-256 of the public key (SPKI DER).
 */
export class ExportSigner {
  readonly keyId: string;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;

  constructor(privateKeyPem: string) {
    this.#privateKey = createPrivateKey(privateKeyPem);
    if (this.#privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error('the audit signing key must be an Ed25519 private key');
    this.#publicKey = createPublicKey(this.#privateKey);
    this.keyId = keyIdOf(this.#publicKey);
  }

  /** Reads the key from a PEM file. */
  static fromFile(path: string): ExportSigner {
    return new ExportSigner(readFileSync(path, 'utf8'));
  }

  /** Base64 Ed25519 signature over the canonical JSON of `unsigned`. */
  sign(unsigned: Readonly<Record<string, unknown>>): string {
    return sign(null, Buffer.from(canonicalJson(unsigned), 'utf8'), this.#privateKey).toString(
      'base64',
    );
  }

  /** Whether `signature` is this key's over `unsigned`. */
  verify(unsigned: Readonly<Record<string, unknown>>, signature: string): boolean {
    return verifySigned(this.#publicKey, unsigned, signature);
  }

  publicKey(): PublicKeyView {
    const jwk = this.#publicKey.export({ format: 'jwk' });
    return {
      key_id: this.keyId,
      pem: this.#publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      jwk: { ...jwk, kid: this.keyId, alg: 'EdDSA', use: 'sig' },
    };
  }
}

/** The key id of an Ed25519 public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Checks a base64 Ed25519 signature over the canonical JSON of `unsigned`. */
export function verifySigned(
  publicKey: KeyObject,
  unsigned: Readonly<Record<string, unknown>>,
  signature: string,
): boolean {
  try {
    return verify(
      null,
      Buffer.from(canonicalJson(unsigned), 'utf8'),
      publicKey,
      Buffer.from(signature, 'base64'),
    );
  } catch {
    return false;
  }
}
