#!/usr/bin/env node
/**
 * The kernel reader at 3000 links (1000 bridges, 1000 veth pairs with one end a port), in a
 * fresh namespace, alternating rounds in the same run:
 *  - a full in-process enumeration (one rtnetlink socket, link + addr + route + FDB dumps);
 *  - what it replaced: `ip -j -d link show` alone, a process plus JSON.parse;
 *  - a read of the long-lived view while nothing changes (the barrier's round trip + the shared
 *    rendered state).
 * Each round runs twice: once with a full garbage collection before each timed step, so that no
 * step pays for the collection of another's garbage (the `ip -j` side parses ~10 MB of JSON, which
 * the next enumeration would otherwise collect), and once as they come.
 * Usage: node bench/kernel-view.mjs [links/3]   (default 1000). Needs root and `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { readKernelState } from '../dist/kernel/snapshot.js';
import { KernelView } from '../dist/kernel/view.js';

const n = Number(process.argv[2] ?? 1000);
const ns = `hnb-view-${process.pid}`;
const ip = (args, input) => execFileSync('ip', args, { input, maxBuffer: 1 << 30 });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc');
let collecting = true;
const time = async (fn) => {
  if (collecting) collect();
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

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
  const enumerate = []; const dump = []; const viewRead = []; const enumerateAsItComes = [];
  for (let round = 0; round < 30; round++) {
    collecting = round < 15;
    (collecting ? enumerate : enumerateAsItComes).push(await time(() => readKernelState({ netns: ns }, 'view')));
    const d = await time(() => JSON.parse(ip(['-n', ns, '-j', '-d', 'link', 'show']).toString()));
    const v = await time(() => view.get());
    if (collecting) dump.push(d), viewRead.push(v);
  }
  await view.stop();
  console.log(`kernel reader, ${links} links (${new Date().toISOString()}), medians of 15 alternating rounds (30 for the enumeration):`);
  console.log(`  in-process enumeration (links, addresses, routes, FDB)   ${median(enumerate).toFixed(1)} ms`);
  console.log(`    the same, no collection before it (after an ip -j step)  ${median(enumerateAsItComes).toFixed(1)} ms`);
  console.log(`  ip -j -d link show + JSON.parse (links only, before)     ${median(dump).toFixed(1)} ms`);
  console.log(`  view read while nothing changes (barrier)                ${median(viewRead).toFixed(2)} ms`);
} finally {
  ip(['netns', 'del', ns]);
}
