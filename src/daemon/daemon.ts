/**
 * Wiring only: the state-directory lock, the stores, the kernel reader, the verbs and the
 * listeners, started in that order and stopped in reverse. Everything here is a composition
 * of parts tested on their own.
 */
import { mkdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ConnectivityTracker } from '../apply/connectivity.js';
import { buildNetworkCapabilities } from '../caps/network.js';
import { readNicSpeeds } from '../caps/speed.js';
import { buildStatistics } from '../caps/statistics.js';
import { HostApi } from '../api/host.js';
import { managedDevices, NetworkEvents } from '../api/events.js';
import { fromOptions, makeTransactions } from '../apply/factory.js';
import type { TransactionDeps } from '../apply/transaction.js';
import { configNics, refuseForeignNics } from '../apply/nic-owners.js';
import { WARM_UP, warmUp } from '../apply/warm-up.js';
import { dhcpClientProcesses, networkManagerStates } from '../kernel/owners.js';
import { libvirtMirror } from '../libvirt/mirror.js';
import { desiredFromConfig, LibvirtNetworkManager } from '../libvirt/networks.js';
import { LibvirtSession } from '../libvirt/session.js';
import { NwFilterKeeper } from '../libvirt/nwfilter.js';
import { PortMirrors } from '../mirror/service.js';
import { readHostFacts } from '../kernel/host-facts.js';
import { hostMethods } from '../rpc/host-methods.js';
import { readNameservers } from '../store/resolv-read.js';
import { detectKernelFeatures } from '../kernel/features.js';
import { readTc } from '../kernel/tc-read.js';
import { createIproute, type Iproute } from '../kernel/iproute.js';
import { LeaseRoutes } from '../apply/lease-routes.js';
import { learnedIpv4 } from '../plan/source-routes.js';
import { BatchGuard } from '../kernel/batch-guard.js';
import { readKernelState } from '../kernel/snapshot.js';
import { KernelView } from '../kernel/view.js';
import { startPorts, type Ports } from '../ports/service.js';
import { Dispatcher } from '../rpc/dispatch.js';
import { DEFAULT_MAX_PAYLOAD, RpcServer, type TlsMaterial } from '../rpc/server.js';
import { acquireStateLock, type StateLock } from '../store/lock.js';
import { secureStateDir } from '../store/permissions.js';
import { ConfigStore } from '../store/config-store.js';
import type { DaemonOptions } from './options.js';
import type { Metrics } from './metrics.js';
import { serveMetrics } from './metrics.js';
import { hostnetVersion } from './version.js';
import { DhcpClients } from '../dhcp/clients.js';
import { LeaseDns } from '../dhcp/dns.js';
import { clientSpecs } from '../dhcp/spec.js';

export interface DaemonHooks {
  /** --metrics: the registry main.ts counts log events into; served here once we listen */
  metrics?: Metrics;
}

export interface RunningDaemon {
  /** listener addresses with real ports */
  addresses: string[];
  close(): Promise<void>;
}

/** Starts serving; resolves once every listener accepts. Throws with an admin-readable message. */
export async function startDaemon(opts: DaemonOptions, log: Logger, hooks: DaemonHooks = {}): Promise<RunningDaemon> {
  const tls = opts.tls ? await readTls(opts.tls) : undefined;
  await mkdir(opts.runDir, { recursive: true, mode: 0o755 });
  for (const fix of await secureStateDir(opts.stateDir)) {
    log.warn({ event: 'state-permissions-fixed', ...fix }, `${fix.path} was writable by group or others; mode ${fix.from} -> ${fix.to}`);
  }
  const lock = await acquireStateLock(opts.stateDir, 'daemon');
  if (lock.tookOver) log.warn({ previous: lock.tookOver.record, reason: lock.tookOver.reason }, 'replaced a stale state lock');
  let server: RpcServer | undefined;
  let session: LibvirtSession | undefined;
  let libvirt: LibvirtNetworkManager | undefined;
  let kernel: KernelView | undefined;
  let ports: Ports | undefined;
  let events: NetworkEvents | undefined;
  let dhcp: DhcpClients | undefined;
  let scrape: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  const metrics = hooks.metrics;
  try {
    const store = await ConfigStore.open(opts.stateDir);
    const ipr = createIproute({ batches: new BatchGuard(opts.stateDir) });
    const connectivity = new ConnectivityTracker();
    // detected once: kernel features do not change while we run
    const features = await detectKernelFeatures({ state: await readKernelState(ipr) });
    log.info({ features }, 'kernel features');
    // one libvirt connection for the daemon: the network manager and the guest-MAC reader use it
    session = new LibvirtSession({ uri: opts.libvirtUri, log: log.child({ component: 'libvirt' }) });
    libvirt = new LibvirtNetworkManager({ session, log: log.child({ component: 'libvirt' }), vlanFiltering: features.vlanFiltering });
    // VDSM's vdsm-no-mac-spoofing, defined on every (re)connection when missing or different
    const nwfilters = new NwFilterKeeper({ session, log: log.child({ component: 'libvirt' }) });
    nwfilters.start();
    await session.start();
    let mirrors: PortMirrors | undefined;
    // the engine refreshes capabilities when told a managed device changed; the server exists only later
    const netEvents = new NetworkEvents({ publish: (json) => server?.notify(json), managed: () => managedDevices(store.running()) });
    events = netEvents;
    // the one view of the kernel: capabilities, planning and the port agent read it
    kernel = new KernelView({ log: log.child({ component: 'kernel-view' }), rcvbuf: opts.netlinkRcvbuf, onDevice: (name) => netEvents.deviceEvent(name) });
    await kernel.start();
    // a mirror whose tap or bridge goes away is reconciled at once
    kernel.onLink((ev) => {
      if (ev.deleted) mirrors?.deviceDeleted(ev.name);
    });
    // every full read of the kernel is an enumeration (the metric): the first at start, then one
    // after each overflow or doubt. Events may have been lost then, so whoever follows them is
    // told: the engine re-reads (a needless event costs it one capabilities call), the mirrors
    // check their taps (the port agent's monitor reconciles on its own, monitor.ts)
    metrics?.kernelReenumerations.inc();
    kernel.onResync(() => {
      metrics?.kernelReenumerations.inc();
      netEvents.changed();
      mirrors?.recheck('kernel view read again');
    });
    const view = kernel;
    // a lease gained, changed or lost: the view is stale, the engine is told, auto DNS follows
    // (held until the crash recovery below is done, and while a change runs: see dhcp/dns.ts)
    const leaseDns = new LeaseDns({ file: opts.resolvConf, config: () => store.running(), lease: (dev) => clients.lease(dev), log });
    const leaseRoutes = dhcpSourceRoutes(ipr, view, store, () => clients, log);
    const clients = new DhcpClients({ runDir: opts.runDir, log, onLease: (dev) => {
      view.invalidate();
      netEvents.changed();
      leaseRoutes.leaseChanged(dev);
      leaseDns.follow(dev).catch((err: unknown) => dnsFailed(log, err, dev));
    } });
    dhcp = clients;
    await clients.open();
    const env: TransactionDeps = { ...fromOptions(opts), log, ipr, store, connectivity, features, mirror: libvirtMirror(libvirt), current: (scope, o) => view.get(scope, o), configStamp: (s) => view.configStamp(s), dhcp: clients,
      // the view reads on during a change (its batch arrives as events), paced (view.pace); this
      // hook keeps the port agent out of a change's kernel phases: the
      // transaction pauses around its batch + verification and around a rollback (quiet()), and
      // a paused agent waits out its pass in progress and holds every new one (timer, libvirt
      // guests, link events) until resume. The connectivity wait is outside: ports are watched then.
      watch: {
        pause: async () => {
          await ports?.agent.pause();
          view.pace(true);
        },
        resume: () => {
          view.pace(false);
          void ports?.agent.resume().catch((err: unknown) => log.error({ err: (err as Error).message }, 'port agent did not resume'));
        },
      },
    };
    const transactions = await makeTransactions(env);
    // clients of a previous run (or of `hostnetd restore`) are adopted, dead ones restarted, unneeded ones stopped
    const now = await readKernelState(ipr, 'config');
    await clients.apply(clientSpecs(store.running(), (d) => d in now.links));
    await leaseDns.start().catch((err: unknown) => dnsFailed(log, err));
    await leaseRoutes.start().catch(() => undefined);
    // the port agent owns the flags and FDB of every port of the bridges we manage
    ports = await startPorts({ ipr, config: () => store.running(), features, session, log, view,
      onPass: (r) => {
        metrics?.portPasses.inc();
        metrics?.portPassDuration.observe(r.ms / 1000);
      } });
    // port mirrors: re-applied from mirrors.json (taps still there), kept out of a setupNetworks' way
    const portMirrors = new PortMirrors({ ipr, stateDir: opts.stateDir, config: () => store.running(), log });
    await portMirrors.start();
    mirrors = portMirrors;
    // a NIC that NetworkManager or a foreign DHCP client manages is refused (21) before anything changes
    const guarded = refuseForeignNics(leaseRoutes.wrap(ports.wrap(transactions)), {
      networkManager: networkManagerStates,
      dhcpClients: dhcpClientProcesses,
      ownDhcpPids: () => clients.pids(),
      managedNics: () => configNics(store.running()),
    });
    const changer = portMirrors.wrap(leaseDns.wrap(guarded));
    // after a restart (or a crash rolled back), libvirt's networks follow the running config again
    await libvirt.sync(desiredFromConfig(store.running())).catch((err: unknown) =>
      log.error({ event: 'libvirt-sync-failed', err: (err as Error).message }, 'could not bring libvirt networks in step'));
    const mgr = libvirt;
    const api = new HostApi({
      readKernel: () => view.get(),
      readStats: () => view.stats(),
      features: async () => features,
      readTc: (state, devices) => readTc(ipr, state, devices),
      config: store,
      nameservers: () => readNameservers(opts.resolvConf),
      libvirt: () => ({ ...mgr.status(), nwfilters: nwfilters.status() }),
      mirrors: portMirrors,
      hostFacts: memo(readHostFacts),
      fakeNics: opts.fakeNics,
      version: hostnetVersion(),
      connectivity,
      changer,
      buildNetworkCapabilities,
      leases: (dev) => clients.lease(dev),
      leaseVersion: () => clients.leaseVersion,
      statistics: async (state, now) => buildStatistics(state, opts.fakeNics, now, await readNicSpeeds(state)),
    });
    // the first change of this run plans with optimized code, not in the interpreter (warm-up.ts)
    if (opts.warmUp > 0) {
      const warmed = warmUp(transactions, features, { ...WARM_UP, rounds: opts.warmUp });
      log.info({ event: 'warmed-up', rounds: opts.warmUp, ...warmed }, 'change path warmed up');
    }
    const methods = hostMethods(api);
    metrics?.bind({ verbs: Object.keys(methods), libvirtConnected: () => mgr.status().connected });
    const dispatcher = new Dispatcher({ methods, log: log.child({ component: 'rpc' }), defaultTimeoutMs: 60_000 });
    server = new RpcServer({
      listeners: opts.listen,
      ...(tls ? { tls } : {}),
      allowOrigins: opts.allowOrigins,
      maxPayload: DEFAULT_MAX_PAYLOAD,
      maxConnections: opts.maxConnections,
      keepaliveMs: opts.keepalive * 1000,
      maxInFlight: 32,
      log: log.child({ component: 'rpc' }),
      handleFrame: (text, from, o) => dispatcher.handleFrame(text, from, o),
    });
    await server.start();
    if (metrics && opts.metrics) scrape = await serveMetrics(metrics, opts.metrics, tls);
  } catch (e) {
    events?.stop();
    dhcp?.close();
    await scrape?.close();
    await server?.close().catch(() => undefined);
    await ports?.stop();
    await libvirt?.stop();
    await session?.stop();
    await kernel?.stop();
    await lock.release();
    throw e;
  }
  const running = server;
  const netEvents = events!;
  const leaseWatch = dhcp!;
  const scraper = scrape;
  return {
    addresses: scraper ? [...running.addresses(), scraper.url] : running.addresses(),
    close: async () => {
      netEvents.stop();
      leaseWatch.close();
      await scraper?.close();
      return stop(running, lock, [ports!, libvirt!, session!, kernel!]);
    },
  };
}

async function stop(server: RpcServer, lock: StateLock, parts: { stop(): Promise<void> }[]): Promise<void> {
  try {
    await server.close();
    for (const part of parts) await part.stop();
  } finally {
    await lock.release();
  }
}

async function readTls(files: { cert: string; key: string; ca: string }): Promise<TlsMaterial> {
  const read = async (what: string, file: string) => {
    try {
      return await readFile(file);
    } catch (e) {
      throw new Error(`cannot read --tls-${what} ${file}: ${(e as Error).message}`);
    }
  };
  return { cert: await read('cert', files.cert), key: await read('key', files.key), ca: await read('ca', files.ca) };
}

function dnsFailed(log: Logger, err: unknown, dev?: string): void {
  log.error({ event: 'dhcp-dns-failed', ...(dev ? { dev } : {}), err: (err as Error).message }, 'could not write the DHCP nameservers');
}

/** The source routes of DHCP networks without defaultRoute, following their leases between changes. */
function dhcpSourceRoutes(ipr: Iproute, view: KernelView, store: ConfigStore, clients: () => DhcpClients, log: Logger): LeaseRoutes {
  return new LeaseRoutes({
    ipr, log, current: () => view.get('config'), config: () => store.running(), learned: (dev) => learnedIpv4(clients().lease(dev)?.v4),
  });
}

function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}


