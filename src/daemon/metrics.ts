/**
 * Prometheus metrics (--metrics URL), through prom-client with a registry of our own. The
 * names are an interface dashboards depend on; README "Metrics" lists them.
 *
 * Most counters are read from the daemon's own log events (one pino hook, see logHook), so the
 * transaction and dispatch code carry no metrics calls: `request` lines give
 * hostnetd_requests_total, `applied` lines the per-phase timings, `rollback` and `recover` lines
 * the rollbacks, `connection opened`/`connection closed` (with the connection logger's transport
 * binding) the clients. The libvirt gauge is read when scraped.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode } from '../errors.js';
import type { TlsMaterial } from '../rpc/server.js';
import type { MetricsListen } from './options.js';

/** Why a change was rolled back, from the error code of its `rollback` log event. */
const ROLLBACK_CAUSES = new Map<number, string>([
  [ErrorCode.LOST_CONNECTION, 'connectivity'],
  [ErrorCode.APPLY_FAILED, 'iproute2'],
  [ErrorCode.VERIFY_FAILED, 'verify'],
  [ErrorCode.LIBVIRT_FAILED, 'libvirt'],
  [ErrorCode.STORE_FAILED, 'store'],
]);

export interface MetricsSources {
  /** the verbs served: other method names share the label value 'other' (bounded series) */
  verbs: Iterable<string>;
  libvirtConnected(): boolean;
}

export class Metrics {
  readonly registry = new Registry();
  private verbs: ReadonlySet<string> = new Set();
  private sources: MetricsSources | undefined;
  private readonly requests: Counter<'verb' | 'code' | 'transport'>;
  private readonly phases: Histogram<'phase'>;
  private readonly rollbacks: Counter<'cause'>;
  private readonly connectivityTimeouts: Counter;
  private readonly clients: Gauge<'transport'>;
  readonly portPasses: Counter;
  readonly portPassDuration: Histogram;
  readonly kernelReenumerations: Counter;
  /** set by the DHCP client supervisor: one series per (network, family) with a lease */
  readonly dhcpLeases: Gauge<'network' | 'family'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'hostnetd_' });
    this.requests = new Counter({ name: 'hostnetd_requests_total', help: 'JSON-RPC requests answered, by verb, result code (0 = success) and transport', labelNames: ['verb', 'code', 'transport'], registers });
    this.phases = new Histogram({ name: 'hostnetd_change_duration_seconds', help: 'Duration of each phase of a setupNetworks change that was applied', labelNames: ['phase'], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers });
    this.rollbacks = new Counter({ name: 'hostnetd_rollbacks_total', help: 'Changes rolled back, by cause (connectivity, iproute2, verify, libvirt, store, crash, other)', labelNames: ['cause'], registers });
    this.connectivityTimeouts = new Counter({ name: 'hostnetd_connectivity_timeouts_total', help: 'Changes rolled back because no Host.confirmConnectivity came in time', registers });
    this.clients = new Gauge({ name: 'hostnetd_clients', help: 'Open client connections (WebSocket upgraded or STOMP), by transport', labelNames: ['transport'], registers });
    for (const transport of ['ws', 'stomp']) this.clients.set({ transport }, 0);
    this.portPasses = new Counter({ name: 'hostnetd_port_agent_passes_total', help: 'Port agent passes (reconciles of bridge port flags and FDB entries)', registers });
    this.portPassDuration = new Histogram({ name: 'hostnetd_port_agent_pass_duration_seconds', help: 'Duration of a port agent pass', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers });
    const metrics = this;
    new Gauge({ name: 'hostnetd_libvirt_connected', help: '1 while the libvirt connection is up', registers,
      collect() { this.set(metrics.sources?.libvirtConnected() ? 1 : 0); } });
    this.kernelReenumerations = new Counter({ name: 'hostnetd_kernel_view_reenumerations_total', help: 'Full re-reads (dumps) of the kernel view', registers });
    this.dhcpLeases = new Gauge({ name: 'hostnetd_dhcp_leases', help: 'DHCP leases held, by network and family (4 or 6)', labelNames: ['network', 'family'], registers });
  }

  /** The daemon's parts, once they exist. */
  bind(sources: MetricsSources): void {
    this.sources = sources;
    this.verbs = new Set(sources.verbs);
  }

  /** Reads one log event: the logged object, its message and the logger's bindings. */
  observeLog(obj: unknown, msg: unknown, bindings: () => Record<string, unknown>): void {
    if (obj === 'connection opened' || obj === 'connection closed' || msg === 'connection opened' || msg === 'connection closed') {
      const transport = bindings()['transport'];
      if (transport === 'ws' || transport === 'stomp') this.clients.inc({ transport }, (msg ?? obj) === 'connection opened' ? 1 : -1);
      return;
    }
    if (typeof obj !== 'object' || obj === null) return;
    const line = obj as Record<string, unknown>;
    if (msg === 'request' && 'outcome' in line) {
      const verb = typeof line['method'] === 'string' && this.verbs.has(line['method']) ? line['method'] : 'other';
      const code = typeof line['code'] === 'number' ? String(line['code']) : '0';
      this.requests.inc({ verb, code, transport: String(line['transport']) });
      return;
    }
    switch (line['event']) {
      case 'applied':
        // the change's timings: journalMs, executeMs, verifyMs, ... → phase journal, execute, verify;
        // validateMs and snapshotMs are bound on the change's logger
        for (const [key, value] of [...Object.entries(bindings()), ...Object.entries(line)]) {
          if (key !== 'ms' && key.endsWith('Ms') && typeof value === 'number') this.phases.observe({ phase: key.slice(0, -2) }, value / 1000);
        }
        break;
      case 'rollback': {
        const code = typeof line['code'] === 'number' ? line['code'] : undefined;
        this.rollbacks.inc({ cause: (code !== undefined ? ROLLBACK_CAUSES.get(code) : undefined) ?? 'other' });
        if (code === ErrorCode.LOST_CONNECTION) this.connectivityTimeouts.inc();
        break;
      }
      case 'recover':
        this.rollbacks.inc({ cause: 'crash' });
        break;
    }
  }

  /** A pino `hooks.logMethod`: counts the event, then logs it unchanged. */
  logHook(): (this: { bindings(): Record<string, unknown> }, args: unknown[], method: (...a: unknown[]) => void) => void {
    const metrics = this;
    return function (args, method) {
      metrics.observeLog(args[0], args[1], () => this.bindings());
      method.apply(this, args);
    };
  }
}

/** The scrape endpoint: GET <path> only. https demands a client certificate, as tls:// does. */
export async function serveMetrics(metrics: Metrics, spec: MetricsListen, tls: TlsMaterial | undefined): Promise<{ url: string; close(): Promise<void> }> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== spec.path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: the metrics are at GET ${spec.path}\n`);
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`),
    );
  };
  if (spec.tls && !tls) throw new Error(`--metrics ${spec.url}: https needs the TLS material of --tls-cert/--tls-key/--tls-ca`);
  const server: Server = spec.tls
    ? createHttpsServer({ cert: tls!.cert, key: tls!.key, ca: tls!.ca, requestCert: true, rejectUnauthorized: true }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`--metrics ${spec.url}: cannot listen: ${e.message}`)));
    server.listen(spec.port, spec.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return {
    url: `${spec.tls ? 'https' : 'http'}://${host}:${port}${spec.path}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
