/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): self time by package or project file, and busy
 * time by the nearest project function on the stack. Idle time and the garbage collector are shown apart.
 * Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top=15]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

/** `kafkajs`, `node:net`, `lib/platform/publisher.ts`, or the special V8 names. */
function moduleOf(url: string, name: string): string {
  if (!url) return `(${name.replace(/[()]/g, '') || 'native'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return url;
  const project = /\/((?:lib|services|bench|test)\/.*)$/.exec(url);
  return project ? (project[1] as string) : url;
}

const isProject = (url: string) => /\/(lib|services)\//.test(url) && !url.includes('node_modules');

function main(): void {
  const [file, top = '15'] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [top]');
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const nearest = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id) as Node;
    if (node.callFrame.functionName === '(idle)') return void (idle += dt);
    busy += dt;
    const mod = moduleOf(node.callFrame.url, node.callFrame.functionName);
    self.set(mod, (self.get(mod) ?? 0) + dt);
    let at: Node | undefined = node;
    while (at && !isProject(at.callFrame.url)) at = byId.get(parent.get(at.id) ?? -1);
    const label = at
      ? `${at.callFrame.functionName || '(anonymous)'} ${moduleOf(at.callFrame.url, '')}`
      : '(no project frame: I/O callbacks, GC, timers)';
    nearest.set(label, (nearest.get(label) ?? 0) + dt);
  });
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}:`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
      console.log(`${((100 * v) / busy).toFixed(1).padStart(7)}%  ${k}`);
  };
  console.log(`busy ${busy.toFixed(0)} ms, idle ${idle.toFixed(0)} ms`);
  show('self time by package/module (busy time)', self);
  show('busy time by the nearest project function on the stack', nearest);
}

main();
