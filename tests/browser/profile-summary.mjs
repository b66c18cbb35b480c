#!/usr/bin/env node
// Summarises a Chrome DevTools CPU profile (.cpuprofile, as `bench.mjs --profile` writes): self
// time by function, the share of idle, native ("(program)"), garbage collection, wasm and
// JavaScript, and with --timeline the busy share per slice of the run (where the page waited).
// Build the package with CONTRAIL_WASM_NAMES=1 (scripts/build-pkg) so wasm functions carry names.
//
//   node tests/browser/profile-summary.mjs out.cpuprofile [--top 15] [--timeline 50]
import { readFileSync } from 'node:fs';

/** Self microseconds per profile node id (from the samples and their time deltas). */
function selfByNode(profile) {
  const us = new Map();
  const { samples, timeDeltas } = profile;
  // A sample's delta is the time since the previous one: it belongs to the sample before it.
  for (let i = 0; i < samples.length; i++) {
    const d = timeDeltas[i + 1] ?? 0;
    us.set(samples[i], (us.get(samples[i]) ?? 0) + d);
  }
  return us;
}

/** What a node's frame is: idle, program, gc, wasm or js. */
function kindOf(frame) {
  const n = frame.functionName;
  if (n === '(idle)') return 'idle';
  if (n === '(program)') return 'program';
  if (n === '(garbage collector)') return 'gc';
  if (frame.url.endsWith('.wasm')) return 'wasm';
  return frame.url ? 'js' : 'native';
}

/** A readable name: Rust hashes (`::h0123…`) and crate disambiguators (`[c593…]`) dropped. */
function nameOf(frame) {
  const n = (frame.functionName || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');
  if (!frame.url || frame.url.endsWith('.wasm')) return n;
  return `${n} ${frame.url.replace(/^.*\/\/[^/]+/, '')}:${frame.lineNumber + 1}`;
}

/** `{ total, kinds: {kind: us}, top: [{ fn, kind, us }] }`. */
export function summarise(profile, top = 15) {
  const self = selfByNode(profile);
  const byFn = new Map();
  const kinds = {};
  let total = 0;
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (!us) continue;
    total += us;
    const kind = kindOf(node.callFrame);
    kinds[kind] = (kinds[kind] ?? 0) + us;
    const fn = nameOf(node.callFrame);
    const e = byFn.get(fn) ?? { fn, kind, us: 0 };
    e.us += us;
    byFn.set(fn, e);
  }
  const sorted = [...byFn.values()].sort((a, b) => b.us - a.us);
  return { total, kinds, top: sorted.slice(0, top) };
}

/** Busy (not idle) share per `sliceMs` of the run. */
export function timeline(profile, sliceMs) {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const slices = [];
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const d = profile.timeDeltas[i + 1] ?? 0;
    const k = Math.floor(t / 1000 / sliceMs);
    slices[k] ??= { busy: 0, all: 0 };
    slices[k].all += d;
    if (!idle.has(profile.samples[i])) slices[k].busy += d;
    t += d;
  }
  return slices.map((s) => (s ? s.busy / Math.max(1, s.all) : 0));
}

function main() {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i < 0 ? dflt : Number(args[i + 1]);
  };
  if (!file) throw new Error('usage: profile-summary.mjs out.cpuprofile [--top 15] [--timeline ms]');
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const { total, kinds, top } = summarise(profile, opt('top', 15));
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  console.log(`${(total / 1000).toFixed(1)} ms sampled: ${Object.entries(kinds).sort((a, b) => b[1] - a[1]).map(([k, us]) => `${k} ${pct(us).trim()}`).join(', ')}`);
  for (const e of top) console.log(`${(e.us / 1000).toFixed(1).padStart(8)} ms ${pct(e.us)}  ${e.kind.padEnd(7)} ${e.fn}`);
  const slice = opt('timeline', 0);
  if (slice) console.log(`busy share per ${slice} ms: ${timeline(profile, slice).map((b) => b.toFixed(2)).join(' ')}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
