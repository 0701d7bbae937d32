#!/usr/bin/env node
/**
 * The kernel reader at 3000 links (1000 bridges, 1000 veth pairs with one end a port), in a
 * fresh namespace, alternating rounds in the same run:
 *  - a full in-process enumeration (one rtnetlink socket, link + addr + route + FDB dumps);
 *  - what it replaced: `ip -j -d link show` alone, a process plus JSON.parse;
 *  - a read of the long-lived view while nothing changes (the barrier's round trip + the shared
 *    rendered state).
 * Usage: node bench/kernel-view.mjs [links/3]   (default 1000). Needs root and `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { readKernelState } from '../dist/kernel/snapshot.js';
import { KernelView } from '../dist/kernel/view.js';

const n = Number(process.argv[2] ?? 1000);
const ns = `hnb-view-${process.pid}`;
const ip = (args, input) => execFileSync('ip', args, { input, maxBuffer: 1 << 30 });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = async (fn) => { const t = performance.now(); await fn(); return performance.now() - t; };

ip(['netns', 'add', ns]);
try {
  let script = '';
  for (let i = 0; i < n; i++) script += `link add br${i} up type bridge\nlink add veth_${i} up master br${i} type veth peer name vp_${i}\n`;
  ip(['-n', ns, '-batch', '-'], script);
  const view = new KernelView({ log: pino({ level: 'silent' }), netns: ns });
  await view.start();
  const links = Object.keys((await view.get()).links).length;
  // the 1000 bridges' own late events (IPv6 link-local, DAD) pass first: "nothing changes" means that
  // (a view read returns the same rendered state while nothing changed)
  for (let before = await view.get(); ;) {
    await new Promise((r) => setTimeout(r, 500));
    const after = await view.get();
    if (after === before) break;
    before = after;
  }
  const enumerate = []; const dump = []; const viewRead = [];
  for (let round = 0; round < 15; round++) {
    enumerate.push(await time(() => readKernelState({ netns: ns }, 'view')));
    dump.push(await time(() => JSON.parse(ip(['-n', ns, '-j', '-d', 'link', 'show']).toString())));
    viewRead.push(await time(() => view.get()));
  }
  await view.stop();
  console.log(`kernel reader, ${links} links (${new Date().toISOString()}), medians of 15 alternating rounds:`);
  console.log(`  in-process enumeration (links, addresses, routes, FDB)   ${median(enumerate).toFixed(1)} ms`);
  console.log(`  ip -j -d link show + JSON.parse (links only, before)     ${median(dump).toFixed(1)} ms`);
  console.log(`  view read while nothing changes (barrier)                ${median(viewRead).toFixed(2)} ms`);
} finally {
  ip(['netns', 'del', ns]);
}
