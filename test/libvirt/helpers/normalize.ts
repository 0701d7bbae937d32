/**
 * Meaning-level comparison of libvirt network XML: two documents that libvirt would treat the
 * same normalize to the same tree. It drops whitespace-only text, quoting and attribute order,
 * sorts sibling elements by name (keeping the order of same-named siblings, which can matter:
 * the first <interface> is the forward dev), and fills in libvirt's defaults on both sides:
 *   - <forward> without mode is mode='nat'; <forward dev='X'> alone means <interface dev='X'/>,
 *     and libvirt prints the first interface as dev=;
 *   - a network whose bridge libvirt creates (no forward, nat, route, open) has a <bridge> with
 *     stp='on' delay='0' unless told otherwise;
 *   - <network ipv6='no'> is the default; MAC addresses and UUIDs are case-insensitive.
 */
import { DOMParser, type Element } from '@xmldom/xmldom';

export interface Canon {
  name: string;
  attrs: Record<string, string>;
  text?: string;
  children: Canon[];
}

function canon(e: Element): Canon {
  const attrs: Record<string, string> = {};
  for (const a of Array.from(e.attributes)) {
    if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
    attrs[a.namespaceURI ? `{${a.namespaceURI}}${a.localName}` : a.name] = a.value;
  }
  const kids: Canon[] = [];
  let text = '';
  for (const n of Array.from(e.childNodes)) {
    if (n.nodeType === 1) kids.push(canon(n as Element));
    else if (n.nodeType === 3 || n.nodeType === 4) text += n.nodeValue ?? '';
  }
  const local = e.localName ?? e.nodeName;
  const name = e.namespaceURI ? `{${e.namespaceURI}}${local}` : local;
  const c: Canon = { name, attrs: sortKeys(attrs), children: kids };
  if (text.trim() !== '') c.text = text.trim();
  return c;
}

const sortKeys = (o: Record<string, string>) =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

const find = (c: Canon, name: string) => c.children.find((k) => k.name === name);

function applyDefaults(net: Canon): void {
  if (net.attrs.ipv6 === 'no') delete net.attrs.ipv6;
  const fwd = find(net, 'forward');
  if (fwd) {
    fwd.attrs.mode ??= 'nat';
    const ifs = fwd.children.filter((k) => k.name === 'interface');
    const pfs = fwd.children.filter((k) => k.name === 'pf');
    if (fwd.attrs.dev !== undefined && ifs.length === 0 && pfs.length === 0) {
      fwd.children.push({ name: 'interface', attrs: { dev: fwd.attrs.dev }, children: [] });
    }
    const first = fwd.children.find((k) => k.name === 'interface');
    if (pfs.length === 0 && first?.attrs.dev !== undefined) fwd.attrs.dev = first.attrs.dev;
    fwd.attrs = sortKeys(fwd.attrs);
  }
  const mode = fwd?.attrs.mode ?? 'none';
  if (['none', 'nat', 'route', 'open'].includes(mode)) {
    let br = find(net, 'bridge');
    if (!br) {
      br = { name: 'bridge', attrs: {}, children: [] };
      net.children.push(br);
    }
    const stp = br.attrs.stp ?? 'on';
    br.attrs.stp = stp === 'yes' ? 'on' : stp === 'no' ? 'off' : stp;
    br.attrs.delay ??= '0';
    br.attrs = sortKeys(br.attrs);
  }
  const lower = (c: Canon, key: string) => {
    if (c.attrs[key] !== undefined) c.attrs[key] = c.attrs[key]!.toLowerCase();
  };
  const mac = find(net, 'mac');
  if (mac) lower(mac, 'address');
  for (const ip of net.children.filter((k) => k.name === 'ip')) {
    for (const h of find(ip, 'dhcp')?.children.filter((k) => k.name === 'host') ?? []) lower(h, 'mac');
  }
  const uuid = find(net, 'uuid');
  if (uuid?.text) uuid.text = uuid.text.toLowerCase();
}

function sortChildren(c: Canon): void {
  c.children.forEach(sortChildren);
  // stable: same-named siblings keep their order
  c.children = c.children
    .map((k, i) => ({ k, i }))
    .sort((a, b) => (a.k.name < b.k.name ? -1 : a.k.name > b.k.name ? 1 : a.i - b.i))
    .map(({ k }) => k);
}

export function normalizeNetworkXml(xml: string): Canon {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  if (!root) throw new Error('empty XML document');
  const c = canon(root);
  if (c.name === 'network') applyDefaults(c);
  sortChildren(c);
  return c;
}
