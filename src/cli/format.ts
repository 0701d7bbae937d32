/**
 * Human-readable renderings of capabilities and statistics, pure. Tolerant of missing fields:
 * the daemon may be newer or older than this CLI.
 */
import { isPlainObject } from '../model/dict.js';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (isPlainObject(v) ? v : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (v === undefined || v === null || v === '' ? '-' : String(v));
const yesNo = (v: unknown): string => (v === true ? 'yes' : v === false ? 'no' : '-');

/** Left-aligned columns, two spaces apart; '(none)' under the header when empty. */
export function table(title: string, headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const body = rows.length > 0 ? rows.map(line) : ['(none)'];
  return [title, line(headers), ...body].join('\n') + '\n';
}

function addresses(entry: Obj): string {
  const all = [...list(entry.ipv4addrs), ...list(entry.ipv6addrs)].map(String);
  return all.length > 0 ? all.join(' ') : '-';
}

const byName = (m: Obj) => Object.keys(m).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

/** 'veth_1 (isolated, no-learning)': flags that differ from a fresh port's defaults. */
export function portWithFlags(port: string, flags: unknown): string {
  const f = obj(flags);
  const marks: string[] = [];
  if (f.isolated === true) marks.push('isolated');
  if (f.learning === false) marks.push('no-learning');
  if (f.flood === false) marks.push('no-flood');
  return marks.length > 0 ? `${port} (${marks.join(', ')})` : port;
}

export function formatCapabilities(caps: unknown): string {
  const c = obj(caps);
  const nics = obj(c.nics);
  const bridges = obj(c.bridges);
  const networks = obj(c.networks);
  const bonds = obj(c.bondings);
  const vlans = obj(c.vlans);
  const out: string[] = [];
  out.push(
    table(
      'NICS',
      ['NAME', 'HWADDR', 'MTU', 'SPEED', 'ADDRESSES'],
      byName(nics).map((n) => {
        const e = obj(nics[n]);
        return [n, str(e.hwaddr), str(e.mtu), str(e.speed), addresses(e)];
      }),
    ),
  );
  out.push(
    table(
      'BRIDGES',
      ['NAME', 'STP', 'MTU', 'ADDRESSES', 'FDB', 'PORTS'],
      byName(bridges).map((b) => {
        const e = obj(bridges[b]);
        const flags = obj(e.portFlags);
        const ports = list(e.ports).map((p) => portWithFlags(String(p), flags[String(p)]));
        return [b, str(e.stp), str(e.mtu), addresses(e), String(list(e.fdb).length), ports.length ? ports.join(', ') : '-'];
      }),
    ),
  );
  out.push(
    table(
      'NETWORKS',
      ['NAME', 'BRIDGED', 'IFACE', 'SOUTHBOUND', 'VLAN', 'MTU', 'ADDRESSES', 'GATEWAY', 'DEFAULT-ROUTE'],
      byName(networks).map((n) => {
        const e = obj(networks[n]);
        const gw = [e.gateway, e.ipv6gateway].filter((g) => g && g !== '::').map(String);
        return [
          n,
          yesNo(e.bridged),
          str(e.iface),
          str(e.southbound),
          str(e.vlanid),
          str(e.mtu),
          addresses(e),
          gw.length ? gw.join(' ') : '-',
          yesNo(e.ipv4defaultroute),
        ];
      }),
    ),
  );
  out.push(
    table(
      'BONDS',
      ['NAME', 'SLAVES', 'ACTIVE', 'MODE', 'MTU', 'ADDRESSES'],
      byName(bonds).map((b) => {
        const e = obj(bonds[b]);
        return [b, list(e.slaves).join(',') || '-', str(e.active_slave), str(obj(e.opts).mode), str(e.mtu), addresses(e)];
      }),
    ),
  );
  out.push(
    table(
      'VLANS',
      ['NAME', 'BASE', 'ID', 'MTU', 'ADDRESSES'],
      byName(vlans).map((v) => {
        const e = obj(vlans[v]);
        return [v, str(e.iface), str(e.vlanid), str(e.mtu), addresses(e)];
      }),
    ),
  );
  out.push(summary(c));
  return out.join('\n');
}

function summary(c: Obj): string {
  const lines: string[] = [];
  const ns = list(c.nameservers);
  lines.push(`nameservers:     ${ns.length ? ns.join(' ') : '-'}`);
  lines.push(`supportsIPv6:    ${yesNo(c.supportsIPv6)}`);
  const dirty = c.netConfigDirty === true;
  lines.push(`netConfigDirty:  ${yesNo(c.netConfigDirty)}${dirty ? "  (running config not yet safe: 'hostnetctl persist' keeps it across reboots)" : ''}`);
  const h = obj(c.hostnet);
  if (Object.keys(h).length > 0) {
    const k = obj(h.kernel);
    const feats = Object.keys(k).map((f) => `${f} ${yesNo(k[f])}`);
    lines.push(`kernel features: ${feats.length ? feats.join(', ') : '-'}`);
    const lv = obj(h.libvirt);
    const libvirt = lv.uri === undefined ? '-' : `${str(lv.uri)} (${lv.connected === true ? 'connected' : 'not connected'})`;
    lines.push(`hostnetd:        ${str(h.version)}, libvirt ${libvirt}`);
  }
  const os = obj(c.operatingSystem);
  if (c.cpuCores !== undefined || os.pretty_name !== undefined) {
    lines.push(`host:            ${str(os.pretty_name)}, kernel ${str(c.kernelRelease)}, ${str(c.cpuCores)} cores, ${str(c.memSize)} MiB`);
  }
  return lines.join('\n') + '\n';
}

export function formatStatistics(stats: unknown): string {
  const net = obj(obj(stats).network);
  return table(
    'INTERFACES',
    ['NAME', 'STATE', 'SPEED', 'RX', 'TX', 'RX-DROP', 'TX-DROP', 'RX-ERR', 'TX-ERR'],
    byName(net).map((n) => {
      const e = obj(net[n]);
      return [n, str(e.state), str(e.speed), str(e.rx), str(e.tx), str(e.rxDropped), str(e.txDropped), str(e.rxErrors), str(e.txErrors)];
    }),
  );
}
