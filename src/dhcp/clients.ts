/**
 * The DHCP clients (dhcpcd, one per interface), supervised as VDSM supervises dhclient: each
 * outlives hostnetd. Under systemd each runs in a transient service of its own
 * (`hostnetd-dhcp-<dev>`, started by systemd-run, so hostnetd.service keeps its narrow
 * capabilities); outside systemd it is a detached process. Either way its pid and spec are in
 * `<run-dir>/dhcp/<dev>.json`, which is how a new hostnetd (or the daemon after `hostnetd
 * restore`) finds and adopts it.
 *
 * Leases come from the hook script (scripts/dhcp-hook.sh) as files in the same folder, watched
 * here; a lease gained, changed or lost calls `onLease`.
 *
 *   const clients = new DhcpClients({ runDir, log, onLease: () => events.changed() });
 *   await clients.open();
 *   await clients.apply(clientSpecs(config, exists));   // start, stop, restart what differs
 */
import { spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { errnoOf, writeFileAtomic } from '../store/atomic.js';
import { DhcpClientRecordSchema, describeIssues } from '../store/schema.js';
import { faultPoint } from '../faults.js';
import { clientConf, planClients, sameSpec, type ClientSpec } from './spec.js';
import { hasAddress, parseLeaseFile, sameLease } from './lease.js';
import type { FamilyLease, Lease } from '../model/lease.js';
import { Lane } from '../model/concurrency.js';

export const DHCPCD = process.env.HOSTNETD_DHCPCD ?? '/usr/sbin/dhcpcd';
const HOOK = fileURLToPath(new URL('../../scripts/dhcp-hook.sh', import.meta.url));

export interface DhcpClientsOptions {
  runDir: string;
  log: Logger;
  /** a lease was gained, changed or lost on this device */
  onLease?: (dev: string) => void;
  /** run clients as systemd transient services (default: when systemd is PID 1) */
  systemd?: boolean;
}

/** What `<dev>.json` holds. */
interface ClientRecord {
  pid: number;
  spec: ClientSpec;
  unit?: string;
}

export class DhcpClients {
  readonly dir: string;
  private readonly log: Logger;
  private readonly systemd: boolean;
  private readonly leases = new Map<string, Lease>();
  /** bumped on every change of `leases` (capabilities are rebuilt when it moves) */
  leaseVersion = 0;
  private readonly records = new Map<string, ClientRecord>();
  /** what should run: a client of these that dies is started again */
  private wanted = new Map<string, ClientSpec>();
  private readonly stopping = new Set<string>();
  private readonly waiters = new Set<() => void>();
  private watcher: FSWatcher | undefined;
  private liveness: NodeJS.Timeout | undefined;
  private readonly lane = new Lane();
  private closed = false;

  constructor(private readonly o: DhcpClientsOptions) {
    this.dir = path.join(o.runDir, 'dhcp');
    this.log = o.log.child({ component: 'dhcp' });
    this.systemd = o.systemd ?? existsSync('/run/systemd/system');
  }

  /** Reads the records of clients already running (adoption happens in apply) and watches leases. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    for (const name of await readdir(this.dir)) {
      if (name.endsWith('.json')) await this.readRecord(name.slice(0, -5));
      if (/\.lease[46]$/.test(name)) this.readLease(name);
    }
    this.watcher = watch(this.dir, (_type, name) => { if (name && /\.lease[46]$/.test(name)) this.readLease(name); });
    this.watcher.on('error', (err) => this.log.error({ event: 'dhcp-watch-failed', err: err.message }, 'lease folder watch failed'));
  }

  /** Stops watching; the clients keep running (they outlive hostnetd). */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.liveness);
  }

  /** The clients running now (alive), by device. */
  /** The pids of the clients this daemon supervises (they are not foreign to a NIC-owner check). */
  pids(): Set<number> {
    return new Set([...this.records.values()].map((r) => r.pid));
  }

  running(): Map<string, ClientSpec> {
    return new Map([...this.records].filter(([, r]) => clientAlive(r.pid, r.spec.dev)).map(([dev, r]) => [dev, r.spec]));
  }

  lease(dev: string): Lease | undefined {
    return this.leases.get(dev);
  }

  /** Stop, before a change's kernel batch, the clients it does not keep as they are (`want`: after the change). */
  stopUnwanted(want: ReadonlyMap<string, ClientSpec>): Promise<{ started: ClientSpec[]; stopped: ClientSpec[] }> {
    const keep = new Map([...this.running()].filter(([dev, spec]) => { const w = want.get(dev); return w !== undefined && sameSpec(w, spec); }));
    return this.apply(keep, want);
  }

  /**
   * Make the running clients match `want`: stop the unwanted (releasing their leases), restart
   * changed and dead ones, start new ones, adopt the rest. Returns what it did, so a failed
   * change can undo it with the previous `want`.
   */
  apply(want: ReadonlyMap<string, ClientSpec>, final: ReadonlyMap<string, ClientSpec> = want): Promise<{ started: ClientSpec[]; stopped: ClientSpec[] }> {
    return this.serial(async () => {
      this.wanted = new Map(want);
      const { stop, start } = planClients(want, this.running());
      for (const [dev, r] of [...this.records].filter(([d]) => !this.running().has(d) && !want.has(d))) {
        await killLeftovers(r);
        await this.forget(dev);
      }
      // a client that will not run again releases its lease; one only being reconfigured keeps it
      for (const spec of stop) await this.stopOne(spec, !final.has(spec.dev));
      for (const spec of start) await this.startOne(spec);
      const adopted = [...want.keys()].filter((d) => !start.some((s) => s.dev === d));
      if (stop.length || start.length) this.log.info({ event: 'dhcp-clients', started: start.map((s) => s.dev), stopped: stop.map((s) => s.dev), kept: adopted }, 'DHCP clients in step');
      this.watchLiveness();
      return { started: start, stopped: stop };
    });
  }

  /**
   * Wait until every spec has its leases (an IPv4 address for v4, an IPv6 one for v6) or the
   * deadline passes; returns the devices still without.
   */
  async waitLeases(specs: readonly ClientSpec[], timeoutMs: number): Promise<string[]> {
    const missing = () => specs.filter((s) => !this.hasLeases(s)).map((s) => s.dev);
    if (missing().length === 0) return [];
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(missing());
      };
      const check = () => { if (missing().length === 0) done(); };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(check);
    });
  }

  hasLeases(spec: ClientSpec): boolean {
    const l = this.leases.get(spec.dev);
    return (!spec.v4 || hasAddress(l?.v4)) && (!spec.v6 || hasAddress(l?.v6));
  }

  // ---- one client --------------------------------------------------------------------------

  private async startOne(spec: ClientSpec): Promise<void> {
    if (faultPoint(`dhcp-start:${spec.dev}`)) throw new Error(`cannot start the DHCP client on ${spec.dev}: injected fault`);
    // a dead client's privilege-separation helpers outlive their master and hold the DHCPv6 port
    const dead = this.records.get(spec.dev);
    // (a unit's are ended by startUnit itself)
    if (dead && dead.unit === undefined && !clientAlive(dead.pid, spec.dev)) await killLeftovers(dead);
    await rm(this.file(spec.dev, 'lease4'), { force: true });
    await rm(this.file(spec.dev, 'lease6'), { force: true });
    if (this.leases.delete(spec.dev)) this.leaseVersion++;
    await writeFile(this.file(spec.dev, 'conf'), clientConf(spec), { mode: 0o644 });
    const argv = [
      '-B', '-f', this.file(spec.dev, 'conf'), '-c', HOOK, '-e', `HOSTNETD_DHCP_DIR=${this.dir}`,
      '-j', this.file(spec.dev, 'log'), ...(spec.v4 && !spec.v6 ? ['-4'] : !spec.v4 ? ['-6'] : []), spec.dev,
    ];
    // A record before the process, with pid 0: a crash before its pid is recorded must not leave
    // a client nobody knows (the next start ends the one this record names, see killLeftovers).
    const unit = this.systemd ? unitName(spec.dev) : undefined;
    const pending: ClientRecord = { pid: 0, spec, ...(unit ? { unit } : {}) };
    this.records.set(spec.dev, pending);
    await writeFileAtomic(this.file(spec.dev, 'json'), `${JSON.stringify(pending)}\n`, { mode: 0o644 });
    const record = unit ? await this.startUnit(spec, unit, argv) : this.startDetached(spec, argv);
    // known before it is on disk: a failed write fails the change, whose undo stops this client
    this.records.set(spec.dev, record);
    await writeFileAtomic(this.file(spec.dev, 'json'), `${JSON.stringify(record)}\n`, { mode: 0o644 });
    this.log.info({ event: 'dhcp-client-started', dev: spec.dev, network: spec.network, pid: record.pid, v4: spec.v4, v6: spec.v6, ...(record.unit ? { unit: record.unit } : {}) }, `DHCP client started on ${spec.dev}`);
  }

  private startDetached(spec: ClientSpec, argv: string[]): ClientRecord {
    const child = spawn(DHCPCD, argv, { detached: true, stdio: 'ignore' });
    if (child.pid === undefined) throw new Error(`cannot start ${DHCPCD} on ${spec.dev}`);
    const pid = child.pid;
    // our own child: its death is seen at once (an adopted one by the liveness timer)
    child.on('exit', (code, signal) => this.died(spec.dev, pid, `exit ${code ?? signal}`));
    child.unref();
    return { pid, spec };
  }

  /**
   * A transient service of its own, with the capabilities dhcpcd needs (raw sockets, privilege
   * separation). Type=exec: systemd-run returns once dhcpcd itself runs, so MainPID is dhcpcd and
   * not systemd's fork before exec. No default dependencies: `hostnetd restore` starts clients
   * before sysinit.target and basic.target, which such a unit would otherwise wait for.
   */
  private async startUnit(spec: ClientSpec, unit: string, argv: string[]): Promise<ClientRecord> {
    // a killed client's unit may still hold its helpers, which ignore SIGTERM: systemd-run refuses a unit that exists
    await endUnit(unit);
    await execa('systemd-run', ['--quiet', '--collect', `--unit=${unit}`, '--property=Type=exec', '--property=TimeoutStopSec=10s',
      '--property=DefaultDependencies=no', '--property=Conflicts=shutdown.target', '--property=Before=shutdown.target',
      `--description=hostnetd DHCP client on ${spec.dev} (network ${spec.network})`,
      '--property=CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL',
      DHCPCD, ...argv]);
    const { stdout } = await execa('systemctl', ['show', '--property=MainPID', '--value', unit]);
    const pid = Number(stdout.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${unit} has no main process`);
    return { pid, spec, unit };
  }

  /** Stop a client: `release` sends the DHCP release (SIGALRM), else it just ends (SIGTERM); dhcpcd removes its addresses either way. */
  private async stopOne(spec: ClientSpec, release: boolean): Promise<void> {
    if (faultPoint(`dhcp-stop:${spec.dev}`)) throw new Error(`cannot stop the DHCP client on ${spec.dev}: injected fault`);
    const record = this.records.get(spec.dev);
    if (record && clientAlive(record.pid, spec.dev)) {
      this.stopping.add(spec.dev);
      try {
        await signal(record, release ? 'SIGALRM' : 'SIGTERM');
        if (!(await exited(record.pid, spec.dev, 10_000))) {
          this.log.warn({ event: 'dhcp-client-killed', dev: spec.dev, pid: record.pid }, 'DHCP client did not stop in 10 s; killed');
          await signal(record, 'SIGKILL');
          await exited(record.pid, spec.dev, 5_000);
        }
      } finally {
        this.stopping.delete(spec.dev);
      }
    }
    if (record) await killLeftovers(record);
    await this.forget(spec.dev);
    this.log.info({ event: 'dhcp-client-stopped', dev: spec.dev, network: spec.network, release }, `DHCP client stopped on ${spec.dev}`);
  }

  private async forget(dev: string): Promise<void> {
    this.records.delete(dev);
    for (const ext of ['json', 'conf', 'lease4', 'lease6']) await rm(this.file(dev, ext), { force: true });
    if (this.leases.delete(dev)) {
      this.leaseVersion++;
      this.o.onLease?.(dev);
    }
  }

  /** A wanted client died without being asked to: start it again (the lease file keeps its address). */
  private died(dev: string, pid: number, how: string): void {
    if (this.closed || this.stopping.has(dev) || this.records.get(dev)?.pid !== pid) return;
    const spec = this.wanted.get(dev);
    this.log.warn({ event: 'dhcp-client-died', dev, pid, how }, `DHCP client on ${dev} died`);
    if (!spec) return;
    void this.serial(async () => {
      if (this.closed || this.records.get(dev)?.pid !== pid || !sameSpec(this.wanted.get(dev) ?? spec, spec)) return;
      await this.startOne(spec);
    }).catch((err: unknown) => this.log.error({ event: 'dhcp-restart-failed', dev, err: (err as Error).message }, `could not restart the DHCP client on ${dev}`));
  }

  /** Adopted clients are not our children: check them every few seconds. */
  private watchLiveness(): void {
    if (this.liveness || this.closed) return;
    this.liveness = setInterval(() => {
      // pid 0: a client being started (its pid not known yet)
      for (const [dev, r] of this.records) if (r.pid !== 0 && !clientAlive(r.pid, dev)) this.died(dev, r.pid, 'gone');
    }, 5_000);
    this.liveness.unref();
  }

  // ---- files -------------------------------------------------------------------------------

  private file(dev: string, ext: string): string {
    return path.join(this.dir, `${dev}.${ext}`);
  }

  private async readRecord(dev: string): Promise<void> {
    try {
      const r = parseRecord(JSON.parse(await readFile(this.file(dev, 'json'), 'utf8')), dev);
      this.records.set(dev, r);
    } catch (e) {
      this.log.warn({ event: 'dhcp-record-bad', dev, err: (e as Error).message }, 'ignoring a bad DHCP client record');
    }
  }

  private readLease(name: string): void {
    const m = /^(.+)\.lease([46])$/.exec(name);
    if (!m) return;
    const dev = m[1]!;
    const fam = m[2] === '4' ? 4 : 6;
    let parsed: FamilyLease | undefined;
    try {
      parsed = parseLeaseFile(readFileSync(path.join(this.dir, name), 'utf8'), fam);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') this.log.warn({ event: 'dhcp-lease-bad', dev, err: (e as Error).message }, 'ignoring a bad lease file');
    }
    const lease = { ...this.leases.get(dev) };
    const key = fam === 4 ? 'v4' : 'v6';
    if (sameLease(lease[key], parsed)) return;
    if (parsed) lease[key] = parsed;
    else delete lease[key];
    this.leases.set(dev, lease);
    this.leaseVersion++;
    this.log.info({ event: 'dhcp-lease', dev, family: fam, reason: parsed?.reason, addresses: parsed?.addresses ?? [], routers: parsed?.routers ?? [], dns: parsed?.dns ?? [] }, `DHCPv${fam} lease on ${dev}`);
    this.o.onLease?.(dev);
    for (const w of [...this.waiters]) w();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.lane.run(fn);
  }
}

/**
 * `<dev>.json` against its schema. The unit must be the one this device's client gets: the
 * record names what is SIGKILLed and stopped, and a record naming any other unit is refused.
 */
export function parseRecord(v: unknown, dev: string): ClientRecord {
  const r = DhcpClientRecordSchema.safeParse(v);
  if (!r.success) throw new Error(describeIssues(r.error));
  const { pid, spec, unit } = r.data;
  if (spec.dev !== dev) throw new Error(`field spec.dev: ${JSON.stringify(spec.dev)} is not the record's device ${dev}`);
  if (unit !== undefined && unit !== unitName(dev)) throw new Error(`field unit: ${JSON.stringify(unit)} is not ${unitName(dev)}`);
  return { pid, spec, ...(unit !== undefined ? { unit } : {}) };
}

/**
 * A client's helper processes (dhcpcd's privilege separation forks proxies) that outlived its
 * master (they ignore SIGTERM): outside systemd the client leads its own process group, so the
 * group goes; under systemd its unit's cgroup is killed and the unit stopped. A record with pid 0 was written just
 * before its client started, which a crash interrupted: the client may run unrecorded, so its
 * unit is stopped, or outside systemd the dhcpcd of that interface (it retitles itself
 * `dhcpcd: <dev> ...`, its helpers `dhcpcd: [...] <dev>`) and its group are ended.
 */
async function killLeftovers(record: ClientRecord): Promise<void> {
  if (record.unit !== undefined) return endUnit(record.unit);
  const pids = record.pid === 0 ? dhcpcdPidsOn(record.spec.dev) : [record.pid];
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // no process left in the group
    }
  }
}

/**
 * Signal a client's main process. A unit's goes through systemd: hostnetd.service lacks
 * CAP_KILL, and the kernel refused it the signal to dhcpcd in its own unit (EPERM, VM tier).
 */
async function signal(record: ClientRecord, sig: 'SIGALRM' | 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (record.unit === undefined) process.kill(record.pid, sig);
  else await execa('systemctl', ['kill', '--kill-whom=main', `--signal=${sig}`, record.unit]);
}

/**
 * A client's unit gone: whatever its cgroup holds killed, the unit stopped and its failure
 * forgotten. --collect unloads a unit once it is inactive or failed, so a unit not loaded (every
 * client a boot's restore starts) costs one systemctl instead of three (a second or two under TCG).
 */
async function endUnit(unit: string): Promise<void> {
  const { stdout } = await execa('systemctl', ['show', '--property=LoadState', '--value', unit], { reject: false });
  if (stdout.trim() === 'not-found') return;
  await execa('systemctl', ['kill', '--signal=SIGKILL', unit], { reject: false });
  await execa('systemctl', ['stop', unit], { reject: false });
  await execa('systemctl', ['reset-failed', unit], { reject: false });
}

/** The dhcpcd masters running for `dev` in this network namespace (from /proc). */
function dhcpcdPidsOn(dev: string): number[] {
  const netns = (pid: number | 'self') => { try { return readlinkSync(`/proc/${pid}/ns/net`); } catch { return null; } };
  const ours = netns('self');
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => clientAlive(pid, dev) && netns(pid) === ours);
}

/** The pid is a live dhcpcd for this interface (not a recycled pid, not a zombie). */
export function clientAlive(pid: number, dev: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    // dhcpcd retitles itself 'dhcpcd: <dev> [ip4] [ip6]' (privilege separation); before that, its argv
    if (argv[0]?.startsWith('dhcpcd: ')) return argv[0].split(' ')[1] === dev;
    return argv[0]?.endsWith('dhcpcd') === true && argv.at(-1) === dev;
  } catch {
    return false;
  }
}

async function exited(pid: number, dev: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (clientAlive(pid, dev)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

function unitName(dev: string): string {
  return `hostnetd-dhcp-${/^[A-Za-z0-9_.-]+$/.test(dev) ? dev : Buffer.from(dev).toString('hex')}.service`;
}
