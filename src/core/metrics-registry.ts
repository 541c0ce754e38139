/**
 * The process's Prometheus registry (eps and proxy; the sd keeps its own, sd/metrics.ts), served on
 * `/metrics` of the metrics listener (metrics/server.ts). It lives here, at the bottom, so that every layer
 * counts what it alone sees (a refused TLS peer, a rate-limited connection, an HTTP/2 flood) where it
 * happens. Every metric and its labels: docs/metrics.md. Labels take only bounded values: names from the
 * verified directory or the settings, and fixed sets of codes; never what an unauthenticated peer sent.
 */
import { Registry } from 'prom-client';

export const registry = new Registry();
