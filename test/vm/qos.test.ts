// VM tier: hostQos with HFSC through the real daemon (issue 13 item 2): VDSM's net_qos_test
// scenarios on NIC, bond and VLAN networks, the netlink reader checked against tc's own output,
// edits, removals and failure rollbacks. dist/ is built here, on the host.
import { ensureBuilt } from '../helpers/daemon.js';
import { defineVmSuite } from './suite.js';

await ensureBuilt();
await defineVmSuite({ nics: 5, files: ['test/vm/inner/qos.inner.ts'], timeoutMs: 15 * 60_000 });
