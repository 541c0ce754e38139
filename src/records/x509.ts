/** Loads @peculiar/x509 (for certificate extensions) after the reflect polyfill it needs. */
import 'reflect-metadata';

export * as px509 from '@peculiar/x509';
