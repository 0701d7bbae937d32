/**
 * Op → lines of an `ip -batch` script. Pure. Every word comes from a validated name, a number
 * or an address checked by the validator, so nothing here can split a line; `assertWord`
 * re-checks anyway because a batch line is parsed by whitespace.
 */
import { BOND_OPTIONS } from '../model/bond-options.js';
import { BRIDGE_OPTIONS } from '../model/bridge-options.js';
import type { Op } from '../model/op.js';

export interface BatchScript {
  /** the script, one command per line */
  text: string;
  /** line number (1-based, as ip reports it) → index of the op it belongs to */
  opOfLine: number[];
}

export function renderBatch(ops: readonly Op[]): BatchScript {
  const lines: string[] = [];
  const opOfLine: number[] = [0];
  ops.forEach((op, i) => {
    for (const words of renderOp(op)) {
      words.forEach(assertWord);
      lines.push(words.join(' '));
      opOfLine.push(i);
    }
  });
  return { text: lines.length ? `${lines.join('\n')}\n` : '', opOfLine };
}

export function renderOp(op: Op): string[][] {
  switch (op.op) {
    case 'add-bridge':
      return [['link', 'add', 'name', op.dev, ...(op.mtu !== undefined ? ['mtu', String(op.mtu)] : []), 'type', 'bridge', 'stp_state', op.stp ? '1' : '0', ...bridgeOpts(op.opts)]];
    case 'set-bridge':
      return [['link', 'set', 'dev', op.dev, 'type', 'bridge', 'stp_state', op.stp ? '1' : '0', ...bridgeOpts(op.opts)]];
    case 'add-vlan':
      return [['link', 'add', 'link', op.base, 'name', op.dev, 'mtu', String(op.mtu), 'type', 'vlan', 'id', String(op.id)]];
    case 'add-bond':
      return [['link', 'add', 'name', op.dev, 'type', 'bond', ...bondOpts(op.options)]];
    case 'set-bond':
      return [['link', 'set', 'dev', op.dev, 'type', 'bond', ...bondOpts(op.options)]];
    case 'del':
      return [['link', 'del', 'dev', op.dev]];
    case 'master':
      if (op.master === null) return [['link', 'set', 'dev', op.dev, 'nomaster']];
      // the bonding driver takes slaves that are down
      if (op.master.startsWith('bond')) return [['link', 'set', 'dev', op.dev, 'down'], ['link', 'set', 'dev', op.dev, 'master', op.master]];
      return [['link', 'set', 'dev', op.dev, 'master', op.master]];
    case 'mtu':
      return [['link', 'set', 'dev', op.dev, 'mtu', String(op.mtu)]];
    case 'hwaddr':
      return [['link', 'set', 'dev', op.dev, 'address', op.hwaddr]];
    case 'up':
      // the kernel sets the MTU before it changes the flags (do_setlink)
      return [['link', 'set', 'dev', op.dev, ...(op.mtu !== undefined ? ['mtu', String(op.mtu)] : []), 'up']];
    case 'down':
      return [['link', 'set', 'dev', op.dev, 'down']];
    case 'addr-add':
      // nodad: a static address is ours; waiting for DAD only delays the verification
      return [['address', op.replace ? 'replace' : 'add', op.cidr, 'dev', op.dev, ...(op.cidr.includes(':') ? ['nodad'] : [])]];
    case 'addr-del':
      return [['address', 'del', op.cidr, 'dev', op.dev]];
    case 'route-replace':
      return [['route', 'replace', defaultDst(op.family), 'via', op.gateway, 'dev', op.dev]];
    case 'route-del':
      return [['route', 'del', defaultDst(op.family), ...(op.gateway ? ['via', op.gateway] : []), 'dev', op.dev]];
    case 'table-route-replace':
      return [['route', 'replace', tableDst(op.family, op.dst), ...(op.gateway ? ['via', op.gateway] : []), 'dev', op.dev, 'table', String(op.table)]];
    case 'table-route-del':
      return [['route', 'del', tableDst(op.family, op.dst), ...(op.gateway ? ['via', op.gateway] : []), 'dev', op.dev, 'table', String(op.table)]];
    case 'rule-add':
    case 'rule-del':
      return [['rule', op.op === 'rule-add' ? 'add' : 'del', ...ruleSelector(op.family, 'from', op.src), ...ruleSelector(op.family, 'to', op.dst),
        'priority', String(op.priority), 'table', String(op.table)]];
  }
}

function tableDst(family: 'inet' | 'inet6', dst: string): string {
  return dst === 'default' ? defaultDst(family) : dst;
}

/** 'all' is no selector; a batch line cannot carry -6, so a rule matching all needs the family's /0. */
function ruleSelector(family: 'inet' | 'inet6', word: 'from' | 'to', prefix: string): string[] {
  if (prefix !== 'all') return [word, prefix];
  return word === 'from' ? ['from', defaultDst(family)] : [];
}

/** A batch line cannot carry -4/-6; the prefix's own family tells ip which table to use. */
const defaultDst = (family: 'inet' | 'inet6') => (family === 'inet' ? '0.0.0.0/0' : '::/0');

function bridgeOpts(opts: Record<string, string>): string[] {
  return Object.entries(opts).flatMap(([k, v]) => [BRIDGE_OPTIONS[k] ?? k, v]);
}

/**
 * `type bond` arguments. The kernel applies them in its own fixed order (mode first), so their
 * order here does not matter, except for one: `arp_ip_target` as the last word with no value
 * sends an empty list, which is how iproute2 clears the targets.
 */
function bondOpts(opts: Record<string, string>): string[] {
  const words = Object.entries(opts).flatMap(([k, v]) => (k === 'arp_ip_target' && v === '' ? [] : [BOND_OPTIONS[k]?.ip ?? k, v]));
  if (opts.arp_ip_target === '') words.push('arp_ip_target');
  return words;
}

function assertWord(w: string): void {
  if (!/^[A-Za-z0-9_.:\/+,\-]+$/.test(w)) throw new Error(`refusing to put ${JSON.stringify(w)} in an ip batch`);
}
