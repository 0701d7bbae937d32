// VM tier: the rtnetlink reader against iproute2's JSON for what the host's kernel cannot make
// (bonds, VLANs, bridge vlan_filtering), and the long-lived kernel view following changes of
// them (test/vm/inner/netlink.inner.ts, one boot, veths in a namespace: no NIC needed).
import { defineVmSuite } from './suite.js';

await defineVmSuite({ nics: 0, files: ['test/vm/inner/netlink.inner.ts'], timeoutMs: 8 * 60_000 });
