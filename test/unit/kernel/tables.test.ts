import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../../src/kernel/addon.js';
import type { LinkMsg } from '../../../src/kernel/netlink.js';
import { KernelTables } from '../../../src/kernel/tables.js';

// A bridge as the addon writes it: its option values in the order of bridgeOptionNames(), empty
// where the kernel has no such option (here: this kernel knows no vlan_protocol).
function bridgeMsg(values: Record<string, string>): LinkMsg {
  const optValues = loadAddon().bridgeOptionNames().map((n) => values[n] ?? '').join(',');
  return {
    t: 'link', seq: 0, mine: false, del: false, replace: false, ifindex: 7, name: 'br0', kind: 'bridge', mtu: 1500,
    address: '02:00:00:00:00:07', up: true, operstate: 'UP', promiscuity: 0,
    bridge: { stp: true, vlanFiltering: false, optValues },
  };
}

describe('KernelTables: a bridge rendered from its option values', () => {
  const values = { forward_delay: '1500', stp_state: '1', group_addr: '01:80:c2:00:00:00', no_linklocal_learn: '0' };

  it('names every value the kernel sent and leaves out the options it lacks', () => {
    const tables = new KernelTables();
    tables.apply(bridgeMsg(values));
    const br = tables.render('view').links.br0!.bridge!;
    expect(br.stp).toBe(true);
    expect(br.opts).toEqual(values);
    expect('vlan_protocol' in br.opts).toBe(false);
  });

  it('shows the options to JSON, as the journal and the CLI write them', () => {
    const tables = new KernelTables();
    tables.apply(bridgeMsg(values));
    const link = JSON.parse(JSON.stringify(tables.render('view').links.br0)) as { bridge: unknown };
    expect(link.bridge).toEqual({ stp: true, vlanFiltering: false, opts: values });
  });

  it('shares one BridgeInfo between renders of the same message, and makes a new one for a new message', () => {
    const tables = new KernelTables();
    tables.apply(bridgeMsg(values));
    const first = tables.render('view').links.br0!.bridge;
    expect(tables.render('view').links.br0!.bridge).toBe(first);
    tables.apply(bridgeMsg({ ...values, forward_delay: '1200' }));
    const next = tables.render('view').links.br0!.bridge!;
    expect(next).not.toBe(first);
    expect(next.opts.forward_delay).toBe('1200');
  });
});
