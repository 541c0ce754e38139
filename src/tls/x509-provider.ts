/**
 * Loads @peculiar/x509 the way it must be loaded: 'reflect-metadata' first (its dependency-injection
 * container needs it), then Node's WebCrypto installed as the library's crypto provider.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
