// Parse throughput over OPA's corpus modules, and parse time of generated
// 100 KB and 1 MB policies (their ratio shows linearity: ~10 is linear).
//
// Run: npm run bench:parse   (env ROUNDS=N to change the number of rounds)
//
// Each measured pipeline is a Stage: `parse`, and `parse+check` (the modules of
// one conformance case are checked together, as they are compiled together).

import { corpusDir, loadCases } from '../scripts/conformance/corpus.js';
import { checkModules } from '../src/rego/check/index.js';
import { parseModule } from '../src/rego/parse/index.js';
import { generatePolicy } from '../test/rego/parse/generate.js';

interface Source {
  file: string;
  text: string;
  /** Sources with the same group are checked together. */
  group?: string;
}

interface Stage {
  name: string;
  run: (sources: Source[]) => void;
}

function parseAll(sources: Source[]) {
  const out = [];
  for (const s of sources) {
    const r = parseModule(s.text, s.file);
    if (!r.module) throw new Error(`${s.file}: ${r.errors[0]?.message}`);
    out.push(r.module);
  }
  return out;
}

function parseAndCheck(sources: Source[]): void {
  const groups = new Map<string, Source[]>();
  for (const s of sources) {
    const key = s.group ?? s.file;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const g of groups.values()) checkModules(parseAll(g));
}

const stages: Stage[] = [
  { name: 'parse', run: (sources) => void parseAll(sources) },
  { name: 'parse+check', run: parseAndCheck },
];

const rounds = Number(process.env.ROUNDS ?? 9);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Median time in ms of `n` runs after one warm-up run: CPU time of this process
 * (user + system, robust when other work shares the machine) and wall time.
 */
function time(fn: () => void, n = rounds): { cpu: number; wall: number } {
  fn();
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { cpu: median(cpu), wall: median(wall) };
}

const fmt = (t: { cpu: number; wall: number }) => `${t.cpu.toFixed(1)} ms CPU (${t.wall.toFixed(1)} ms wall)`;

const dir = corpusDir();
let corpus: Source[] = [];
if (dir) {
  for (const c of loadCases(dir)) {
    c.modules.forEach((text, i) => {
      const source = { file: `${c.file}#${i}`, text, group: `${c.file}:${c.note}` };
      // Modules using syntax the parser does not support yet are left out of the timing.
      if (parseModule(text, source.file).module) corpus.push(source);
    });
  }
} else {
  console.log('OPA corpus not found (../shared/conformance/opa): corpus figures skipped');
}
const corpusBytes = corpus.reduce((n, s) => n + Buffer.byteLength(s.text), 0);

const small = [{ file: 'gen-100k.rego', text: generatePolicy(100_000) }];
const large = [{ file: 'gen-1m.rego', text: generatePolicy(1_000_000) }];

console.log(`node ${process.version}, ${rounds} rounds, median; throughput from CPU time`);
for (const stage of stages) {
  if (corpus.length > 0) {
    const t = time(() => stage.run(corpus));
    console.log(
      `${stage.name} corpus: ${corpus.length} modules, ${(corpusBytes / 1024).toFixed(1)} KB in ${fmt(t)} -> ` +
        `${((corpusBytes / 1024 / t.cpu) * 1000).toFixed(0)} KB/s, ${((corpus.length / t.cpu) * 1000).toFixed(0)} modules/s`,
    );
  }
  const tSmall = time(() => stage.run(small));
  const tLarge = time(() => stage.run(large), Math.max(3, Math.ceil(rounds / 2)));
  const bytes = (s: Source[]) => Buffer.byteLength(s[0]!.text);
  console.log(`${stage.name} generated ${(bytes(small) / 1024).toFixed(0)} KB: ${fmt(tSmall)}`);
  console.log(
    `${stage.name} generated ${(bytes(large) / 1024).toFixed(0)} KB: ${fmt(tLarge)} -> ` +
      `${((bytes(large) / 1024 / tLarge.cpu) * 1000).toFixed(0)} KB/s`,
  );
  console.log(
    `${stage.name} linearity: time(1 MB) / time(100 KB) = ${(tLarge.cpu / tSmall.cpu).toFixed(2)} CPU, ` +
      `${(tLarge.wall / tSmall.wall).toFixed(2)} wall (size ratio ${(bytes(large) / bytes(small)).toFixed(1)}: equal means linear)`,
  );
}
corpus = [];
