import { execFileSync, spawn } from 'node:child_process';
import { openRtnl } from './dist/kernel/netlink.js';
const ip = (args, input) => execFileSync('ip', args, { input, maxBuffer: 1 << 30 });
const n = 1000;
function setup(name) {
  ip(['netns','add',name]); ip(['netns','add',name+'-sw']);
  let s=''; for (let i=0;i<n;i++) s+=`link add veth_${i} type veth peer name p_${i} netns ${name}-sw\n`;
  ip(['-n',name,'-batch','-'],s);
}
const addr = (i) => `10.${(i >> 8) & 255}.${i & 255}.1/24`;
const mtu = process.argv[2] !== 'nomtu';
let script=''; for (let i=0;i<n;i++){ script += `link add name net${i} type bridge stp_state 0\nlink set dev veth_${i} master net${i}\n` + (mtu ? `link set dev net${i} mtu 1500\n` : ''); }
for (let i=0;i<n;i++) script += `link set dev veth_${i} up\nlink set dev net${i} up\n`;
for (let i=0;i<n;i++) script += `address add ${addr(i)} dev net${i}\n`;
const run = (name) => new Promise((res) => { const t=performance.now(); const p = spawn('ip',['-n',name,'-batch','-']); p.stdin.end(script); p.on('exit',()=>res(performance.now()-t)); });
const res = {none:[], listen:[], drain:[]};
for (let r=0;r<5;r++) for (const mode of ['none','listen','drain']) {
  const name = `lt-${mode}-${process.pid}-${r}`;
  setup(name);
  let sock, count=0;
  if (mode!=='none') { sock = openRtnl({subscribe:true, netns:name, rcvbuf: 64<<20}, () => { if (mode==='listen') count += sock.read(256).length; }); sock.poll(mode==='listen'); }
  const t = await run(name);
  if (sock) { sock.poll(false); sock.close(); }
  res[mode].push(t);
  ip(['netns','del',name]); ip(['netns','del',name+'-sw']);
}
const med = xs => [...xs].sort((a,b)=>a-b)[xs.length>>1].toFixed(0);
for (const [k,v] of Object.entries(res)) console.log(k, med(v), v.map(x=>x.toFixed(0)).join(' '));
