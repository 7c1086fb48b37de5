// harness.mjs: times resgen-generated Go and ONNX Runtime side by side on
// the same seeded model and input, interleaved in one run, and writes
// BENCHMARKS.md. Run it through bench/run.sh, which prepares what it reads
// from bench/.cache (ONNX files, input/output, weights, summaries, the
// resgenbench binary); see bench/README.md.
//
//   node bench/harness.mjs [--models cifar-resnet20,resnet18,resnet50] [--threads 1,2]
//                          [--rounds 15] [--round-ms 1000] [--warmup-ms 1500] [--quick]
//                          [--batch 8] [--batch-models M1,M2] [--no-batch]
//                          [--out BENCHMARKS.md] [--no-write] [--no-layers]
//
// First it measures the machine: `resgenbench peak` times a register-only
// FMA loop (AVX-512 or AVX2 assembly) on one core, and that GFLOP/s is the
// "peak" of every "% peak" column (threads × it).
//
// For each model and thread count: one ORT session (in this process) and one
// resgenbench -serve process (pure Go). Both run the input once and their
// outputs are compared. Each side warms up for --warmup-ms; its median warm-up
// iteration sets how many iterations make one round (about --round-ms). Then
// --rounds rounds alternate the sides (resgen first in even rounds, ORT first
// in odd ones, so neither always runs on a machine its rival just warmed or
// heated). Every iteration is timed alone; the table reports medians and
// minima of the per-iteration times of each side.
//
// Then, per layer type (conv3x3/s1, conv1x1/s1, …, linear): resgen's kernels
// timed one layer at a time (`resgenbench -layers`, the network's shapes)
// and ORT's per-node times from its profiler on the same model, each summed
// over the layers of that type; "rest" is the whole-network median minus the
// sum over all layers, on each side.
//
// Then the same whole-network comparison at batch 8 (--batch): one Forward
// and one session.run on 8 images (a batch-8 ONNX export and its saved
// input/output), reported as images/s, for the models of --batch-models.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const cache = path.join(here, '.cache');

// Rounds per model: the big ones get fewer so a full run stays near 15
// minutes. At batch 8 one iteration of a big model outlasts a round, so a
// round is one iteration per side.
const ALL_MODELS = ['cifar-resnet20', 'resnet18', 'resnet50', 'resnext50_32x4d', 'wide_resnet50_2', 'unet32'];
const DEFAULT_ROUNDS = { 'cifar-resnet20': 15, resnet18: 12, resnet50: 8, resnext50_32x4d: 8, wide_resnet50_2: 5, unet32: 5 };
const DEFAULT_BATCH_ROUNDS = { 'cifar-resnet20': 10, resnet18: 6, resnet50: 5, resnext50_32x4d: 5, wide_resnet50_2: 4, unet32: 4 };

// What the models are, for the report (the presets at their default inputs,
// except where noted).
const MODEL_NOTES = { unet32: 'the unet preset at width 32, 3×256×256 (bench/gen/unet32)' };

function parseArgs(argv) {
  const a = {
    models: ALL_MODELS, threads: [1, 2], rounds: null,
    roundMs: 1000, warmupMs: 1500, out: path.join(root, 'BENCHMARKS.md'), write: true, layers: true, layerMs: 200,
    batch: 8, batchModels: null, peakSeconds: 0.5, peakRepeats: 5,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    switch (k) {
      case '--models': a.models = v().split(','); break;
      case '--threads': a.threads = v().split(',').map(Number); break;
      case '--rounds': a.rounds = Number(v()); break;
      case '--round-ms': a.roundMs = Number(v()); break;
      case '--warmup-ms': a.warmupMs = Number(v()); break;
      case '--quick': a.rounds = 3; a.roundMs = 300; a.warmupMs = 500; a.layerMs = 50; a.peakSeconds = 0.2; a.peakRepeats = 3; break;
      case '--batch': a.batch = Number(v()); break;
      case '--batch-models': a.batchModels = v().split(','); break;
      case '--no-batch': a.batch = 0; break;
      case '--out': a.out = path.resolve(v()); break;
      case '--no-write': a.write = false; break;
      case '--no-layers': a.layers = false; break;
      default: throw new Error(`unknown argument ${k} (see the comment at the top of harness.mjs)`);
    }
  }
  if (a.threads.some(t => !(t >= 1))) throw new Error('--threads: want positive integers');
  if (a.batch !== 0 && !(Number.isInteger(a.batch) && a.batch >= 2)) throw new Error('--batch: want an integer of at least 2 (or --no-batch)');
  // Batch rows: the --batch-models that are also in --models, in --models order.
  a.batchModels = a.batch === 0 ? [] : a.models.filter(m => (a.batchModels ?? a.models).includes(m));
  return a;
}

// readSafetensors returns {name: {shape, data: Float32Array}} for F32 tensors.
function readSafetensors(p) {
  const b = fs.readFileSync(p);
  const n = Number(b.readBigUInt64LE(0));
  const hdr = JSON.parse(b.subarray(8, 8 + n).toString());
  const out = {};
  for (const [k, v] of Object.entries(hdr)) {
    if (k === '__metadata__' || v.dtype !== 'F32') continue;
    const [lo, hi] = v.data_offsets;
    const buf = b.subarray(8 + n + lo, 8 + n + hi);
    out[k] = { shape: v.shape, data: new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)) };
  }
  return out;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function quantile(xs, q) {
  const s = [...xs].sort((x, y) => x - y);
  const i = (s.length - 1) * q, lo = Math.floor(i), hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
}
const median = xs => quantile(xs, 0.5);

function maxAbsDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i] - b[i]);
    d = Number.isNaN(x) ? Infinity : Math.max(d, x);
  }
  return d;
}
const maxAbs = a => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

// ResgenSide drives one `resgenbench -serve` process over stdin/stdout.
class ResgenSide {
  static async start(model, threads, ioFile) {
    const exe = path.join(cache, 'resgenbench');
    const args = ['-model', model, '-threads', String(threads), '-serve',
      '-weights', path.join(cache, `${model}.safetensors`), '-io', ioFile];
    const p = spawn(exe, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const s = new ResgenSide(p);
    s.ready = await s.next();
    if (!s.ready.ready) throw new Error(`resgenbench: unexpected first line ${JSON.stringify(s.ready)}`);
    return s;
  }
  constructor(p) {
    this.p = p;
    this.lines = [];
    this.waiting = null;
    this.exited = false;
    createInterface({ input: p.stdout }).on('line', l => {
      this.lines.push(l);
      this.wake();
    });
    p.on('exit', code => {
      this.exited = code;
      this.wake();
    });
  }
  wake() {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w();
    }
  }
  async next() {
    while (this.lines.length === 0) {
      if (this.exited !== false) throw new Error(`resgenbench exited (${this.exited})`);
      await new Promise(r => { this.waiting = r; });
    }
    return JSON.parse(this.lines.shift());
  }
  async run(n) {
    this.p.stdin.write(`run ${n}\n`);
    const ms = [];
    for (;;) {
      const r = await this.next();
      if (r.done !== undefined) return ms;
      ms.push(r.ms);
    }
  }
  async close() {
    this.p.stdin.end('quit\n');
    await new Promise(r => (this.exited !== false ? r() : this.p.on('exit', r)));
  }
}

// OrtSide is one InferenceSession in this process.
class OrtSide {
  static async start(onnxFile, threads, input) {
    const s = new OrtSide();
    const t0 = nowMs();
    s.session = await ort.InferenceSession.create(onnxFile, {
      intraOpNumThreads: threads, interOpNumThreads: 1,
      executionMode: 'sequential', graphOptimizationLevel: 'all',
    });
    s.loadMs = nowMs() - t0;
    s.feeds = { [s.session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
    s.outName = s.session.outputNames[0];
    const t1 = nowMs();
    s.output = (await s.session.run(s.feeds))[s.outName].data;
    s.firstMs = nowMs() - t1;
    return s;
  }
  async run(n) {
    const ms = [];
    for (let i = 0; i < n; i++) {
      const t = nowMs();
      await this.session.run(this.feeds);
      ms.push(nowMs() - t);
    }
    return ms;
  }
  async close() { await this.session.release(); }
}

// warmup runs a side until warmupMs have passed (at least 3 iterations) and
// returns how many iterations fill one round.
async function warmup(side, warmupMs, roundMs) {
  const t0 = nowMs();
  let ms = [];
  while (ms.length < 3 || nowMs() - t0 < warmupMs) ms = ms.concat(await side.run(1));
  const per = median(ms.slice(Math.floor(ms.length / 2)));
  return Math.max(1, Math.min(500, Math.round(roundMs / per)));
}

// resgenbench runs the resgenbench binary with args and returns its output
// lines, parsed as JSON.
async function resgenbench(args) {
  const exe = path.join(cache, 'resgenbench');
  const p = spawn(exe, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', d => { out += d; });
  const code = await new Promise(r => p.on('exit', r));
  if (code !== 0) throw new Error(`resgenbench ${args.join(' ')} exited ${code}`);
  return out.trim().split('\n').map(l => JSON.parse(l));
}

// resgenLayers runs `resgenbench -layers` and returns its lines.
const resgenLayers = (model, threads, layerMs) =>
  resgenbench(['-model', model, '-threads', String(threads), '-layers', '-layer-ms', String(layerMs)]);

// measurePeak runs `resgenbench peak`: the best GFLOP/s of a register-only
// FMA loop on one core (and, for information, on every thread count above 1
// at once). Run first, while nothing else of the harness is busy.
async function measurePeak(opt) {
  const multi = opt.threads.filter(t => t > 1);
  const [p] = await resgenbench(['peak', '-seconds', String(opt.peakSeconds), '-repeats', String(opt.peakRepeats), '-threads', multi.join(',')]);
  return p;
}

// ortLayerType classifies a profiled ORT node like resgen's layer types:
// a Conv by its weight's kernel and the ratio of input to output height. ORT
// prepacks a ConvTranspose's weight, so its profile shows no kernel shape:
// it takes the type of resgen's transposed conv with the same input and
// output shapes (rgTypes: "CxHxW→CxHxW" → type).
function ortLayerType(ev, rgTypes) {
  const a = ev.args, op = a.op_name;
  if (op === 'Gemm' || op === 'MatMul') return 'linear';
  if (!/Conv/.test(op)) return null;
  const shape = x => (x ? Object.values(x)[0] : null);
  const x = shape(a.input_type_shape?.[0]), w = shape(a.input_type_shape?.[1]), y = shape(a.output_type_shape?.[0]);
  if (/ConvTranspose/.test(op)) {
    if (!x || !y || x.length !== 4 || y.length !== 4) return null;
    const t = rgTypes.get(`${x.slice(1).join('x')}→${y.slice(1).join('x')}`);
    return t?.startsWith('convT') ? t : `convT?/s${Math.round(y[2] / x[2])}`;
  }
  if (!x || !w || !y || w.length !== 4) return null;
  // Groups: input channels over the weight's input channels per group, as
  // resgen's types say /gN.
  const g = x[1] / w[1];
  return `conv${w[2]}x${w[3]}/s${Math.round(x[2] / y[2])}` + (g > 1 ? `/g${g}` : '');
}

// ortLayers profiles `iters` runs of a separate ORT session (profiling adds
// overhead, so never the timed one) and returns, per node, its median time.
async function ortLayers(model, threads, input, iters, rgTypes) {
  const prefix = path.join(cache, `ortprof-${model}-t${threads}`);
  const s = await ort.InferenceSession.create(path.join(cache, `${model}.onnx`), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    enableProfiling: true, profileFilePrefix: prefix,
  });
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
  const warm = 2;
  for (let i = 0; i < warm + iters; i++) await s.run(feeds);
  s.endProfiling();
  await s.release();
  const dir = path.dirname(prefix), base = path.basename(prefix);
  const files = fs.readdirSync(dir).filter(f => f.startsWith(base) && f.endsWith('.json'))
    .map(f => path.join(dir, f)).sort((x, y) => fs.statSync(y).mtimeMs - fs.statSync(x).mtimeMs);
  if (files.length === 0) throw new Error(`no ORT profile ${prefix}*.json`);
  const events = JSON.parse(fs.readFileSync(files[0], 'utf8'));
  for (const f of files) fs.unlinkSync(f);
  const byNode = new Map();
  for (const ev of events) {
    if (ev.cat !== 'Node' || !ev.name.endsWith('_kernel_time')) continue;
    if (!byNode.has(ev.name)) byNode.set(ev.name, []);
    byNode.get(ev.name).push(ev);
  }
  const nodes = [];
  for (const [name, evs] of byNode) {
    evs.sort((x, y) => x.ts - y.ts);
    const runs = evs.slice(warm).map(ev => ev.dur / 1e3);
    if (runs.length === 0) continue;
    nodes.push({ name, op: evs[0].args.op_name, type: ortLayerType(evs[0], rgTypes), ms: median(runs), minMs: Math.min(...runs) });
  }
  return nodes;
}

// layerTypes sums both sides' per-layer times by type.
function layerTypes(rgLayers, oxNodes, wholeRg, wholeOx) {
  const types = new Map();
  const get = t => {
    if (!types.has(t)) types.set(t, { type: t, macs: 0, rgCount: 0, oxCount: 0, rgMs: 0, rgMin: 0, oxMs: 0, oxMin: 0 });
    return types.get(t);
  };
  for (const l of rgLayers) {
    const t = get(l.type);
    t.macs += l.macs; t.rgCount++; t.rgMs += l.ms; t.rgMin += l.min_ms;
  }
  let oxOther = 0;
  for (const n of oxNodes) {
    if (n.type === null) { oxOther += n.ms; continue; }
    const t = get(n.type);
    t.oxCount++; t.oxMs += n.ms; t.oxMin += n.minMs;
  }
  const rows = [...types.values()].sort((x, y) => y.macs - x.macs);
  const sum = k => rows.reduce((s, r) => s + r[k], 0);
  return { rows, rgRest: wholeRg - sum('rgMs'), oxRest: wholeOx - sum('oxMs'), oxOther };
}

// measure compares the two sides on one model, thread count and batch: the
// batch-1 files are MODEL.onnx and MODEL.io.safetensors, the batch-N ones
// MODEL.bN.onnx and MODEL.bN.io.safetensors (bench/run.sh writes both).
async function measure(model, threads, opt, summary, batch = 1) {
  const stem = batch === 1 ? model : `${model}.b${batch}`;
  const io = readSafetensors(path.join(cache, `${stem}.io.safetensors`));
  if (io.input.shape[0] !== batch) throw new Error(`${stem}.io.safetensors: input ${JSON.stringify(io.input.shape)}, want batch ${batch} (rerun bench/run.sh)`);
  const rg = await ResgenSide.start(model, threads, path.join(cache, `${stem}.io.safetensors`));
  const ox = await OrtSide.start(path.join(cache, `${stem}.onnx`), threads, io.input);
  const ref = io.output ? io.output.data : null;
  const check = {
    resgenVsOrt: maxAbsDiff(rg.ready.output, ox.output),
    resgenVsTorch: ref ? maxAbsDiff(rg.ready.output, ref) : null,
    ortVsTorch: ref ? maxAbsDiff(ox.output, ref) : null,
    maxOut: maxAbs(ox.output),
  };
  if (rg.ready.macs !== summary.macs) throw new Error(`${model}: resgenbench says ${rg.ready.macs} MACs, resgen summary ${summary.macs}`);
  if (rg.ready.batch !== batch) throw new Error(`${model}: resgenbench runs batch ${rg.ready.batch}, want ${batch}`);
  if (ox.output.length !== rg.ready.output.length) throw new Error(`${model}: ORT gives ${ox.output.length} outputs, resgen ${rg.ready.output.length}`);

  // Iterations per round: first from the warm-up, then re-estimated after
  // every round from the side's median so far, so that a disturbed warm-up
  // does not leave one side with far fewer samples.
  const n = { resgen: await warmup(rg, opt.warmupMs, opt.roundMs), ort: await warmup(ox, opt.warmupMs, opt.roundMs) };
  const rounds = opt.rounds ?? (batch === 1 ? DEFAULT_ROUNDS : DEFAULT_BATCH_ROUNDS)[model] ?? (batch === 1 ? 10 : 5);
  const label = `${model} threads=${threads}${batch === 1 ? '' : ` batch=${batch}`}`;
  const t = { resgen: [], ort: [] }, perRound = { resgen: [], ort: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [['resgen', rg], ['ort', ox]] : [['ort', ox], ['resgen', rg]];
    for (const [name, side] of order) {
      perRound[name].push(n[name]);
      t[name].push(...(await side.run(n[name])));
      n[name] = Math.max(1, Math.min(500, Math.round(opt.roundMs / median(t[name]))));
    }
    if (process.stderr.isTTY) process.stderr.write(`\r  ${label} round ${r + 1}/${rounds}`);
  }
  process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}  ${label}: ${rounds} rounds done\n`);
  await rg.close();
  await ox.close();
  let layers = null;
  if (opt.layers && batch === 1) {
    const rgL = await resgenLayers(model, threads, opt.layerMs);
    const rgTypes = new Map(rgL.map(l => [l.shape, l.type]));
    const oxL = await ortLayers(model, threads, io.input, Math.max(5, Math.min(50, Math.round(opt.warmupMs / median(t.ort)))), rgTypes);
    layers = layerTypes(rgL, oxL, median(t.resgen), median(t.ort));
    process.stderr.write(`  ${model} threads=${threads}: per-layer timings done\n`);
  }
  const stats = xs => ({ median: median(xs), min: Math.min(...xs), p10: quantile(xs, 0.1), p90: quantile(xs, 0.9), n: xs.length });
  return {
    model, threads, batch, rounds, perRound, check,
    load: { resgen: rg.ready.load_ms, ort: ox.loadMs },
    resgen: stats(t.resgen), ort: stats(t.ort), go: rg.ready.go, gomaxprocs: rg.ready.gomaxprocs, layers,
  };
}

const loadavg = () => os.loadavg().map(x => x.toFixed(2)).join(' ');

function cpuModel() {
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown';
}

const f = (x, d = 2) => x.toFixed(d);
const gflops = (macs, ms) => (2 * macs) / (ms * 1e-3) / 1e9;
const e = x => (x === null ? 'n/a' : x.toExponential(1));

// peakText describes the measured peak for the report.
function peakText(peak) {
  const multi = (peak.threads ?? []).map(t => ` (${t.threads} threads at once: ${f(t.gflops, 1)} GFLOP/s together)`).join('');
  return `${f(peak.gflops, 1)} GFLOP/s per core of the ${cpuModel()}${multi}, measured by \`resgenbench peak\` at the start of this run: a register-only loop of ${peak.instruction} (${peak.lanes} float32 lanes) on ${peak.accumulators} independent accumulators, one thread, best of ${peak.repeats_gflops.length} runs of ${peak.seconds_per_repeat} s; GFLOP/s = 2 × lanes × FMAs / s`;
}

function report(all, summaries, opt, started, load, peak) {
  const results = all.filter(r => r.batch === 1), batched = all.filter(r => r.batch > 1);
  const peakPerCore = peak.gflops;
  const r0 = all[0];
  const cmd = process.env.RESGEN_BENCH_CMD || `node bench/harness.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const L = [];
  L.push('# Benchmarks: resgen vs ONNX Runtime');
  L.push('');
  L.push(`Written by \`${cmd}\` (bench/harness.mjs); do not edit by hand. How to run: bench/README.md.`);
  L.push('');
  L.push(`- Date: ${started.toISOString().replace(/\.\d+Z$/, 'Z')}`);
  L.push(`- Machine: ${cpuModel()}, ${os.cpus().length} logical CPUs visible, Linux ${os.release()} (shared; see the notes on noise)`);
  L.push(`- FMA peak: ${peakText(peak)}`);
  L.push(`- Load average (1, 5, 15 min): ${load.before} at the start, ${load.after} at the end`);
  L.push(`- resgen: ${r0.go}, pure Go (no cgo), GOMAXPROCS ${r0.gomaxprocs}; ONNX Runtime: onnxruntime-node ${ort.env.versions?.node ?? '?'} (CPU execution provider), Node ${process.version}`);
  L.push('- ORT session: intraOpNumThreads = threads, interOpNumThreads 1, sequential execution, graph optimization "all"');
  const notes = opt.models.filter(m => MODEL_NOTES[m]).map(m => `; ${m}: ${MODEL_NOTES[m]}`).join('');
  L.push(`- Models: the presets at their default inputs (cifar-resnet20 3×32×32, the ImageNet ones 3×224×224)${notes}; batch 1${batched.length ? ` and batch ${opt.batch}` : ''}; seeded weights (seed 1), the same seeded input on both sides`);
  L.push('');
  L.push('## Whole network, batch 1');
  L.push('');
  L.push('Median per-inference time of each side (min in parentheses); ratio = resgen / ORT median (below 1: resgen is faster); min ratio = resgen / ORT min, the least-disturbed runs. A * marks a side whose p90 exceeds its p10 by more than 30%: that run was disturbed (see the spread table).');
  L.push(`GFLOP/s = 2·MACs / median time; % peak = GFLOP/s / (threads × ${f(peakPerCore, 1)} GFLOP/s, the FMA ceiling of one core measured above).`);
  L.push('');
  L.push('| model | GMACs | threads | resgen ms | ORT ms | ratio | min ratio | resgen GFLOP/s | ORT GFLOP/s | resgen % peak | ORT % peak |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const star = st => (st.p90 > 1.3 * st.p10 ? '*' : '');
  for (const r of results) {
    const macs = summaries[r.model].macs, peak = r.threads * peakPerCore;
    const gr = gflops(macs, r.resgen.median), go = gflops(macs, r.ort.median);
    L.push(`| ${r.model} | ${f(macs / 1e9, 3)} | ${r.threads} | ${f(r.resgen.median, 3)} (${f(r.resgen.min, 3)})${star(r.resgen)} | ${f(r.ort.median, 3)} (${f(r.ort.min, 3)})${star(r.ort)} | ${f(r.resgen.median / r.ort.median)} | ${f(r.resgen.min / r.ort.min)} | ${f(gr, 1)} | ${f(go, 1)} | ${f((100 * gr) / peak, 1)} | ${f((100 * go) / peak, 1)} |`);
  }
  L.push('');
  if (opt.batchModels.length) {
    const B = opt.batch;
    L.push(`## Whole network, batch ${B} (throughput)`);
    L.push('');
    L.push(`One Forward (resgen) or session.run (ORT, a batch-${B} export) on ${B} images. Median time per batch (min in parentheses); images/s = ${B} / median; ratio = resgen / ORT time per batch (below 1: resgen is faster); GFLOP/s and % peak as above, over the ${B} images; max\\|diff\\| over all ${B} outputs on the shared input, "torch" being PyTorch's output saved at export.`);
    const skipped = opt.models.filter(m => !opt.batchModels.includes(m));
    if (skipped.length) L.push(`Not run at batch ${B} (left out with --batch-models, to keep the run short): ${skipped.join(', ')}.`);
    L.push('');
    L.push('| model | GMACs/image | threads | resgen ms/batch | ORT ms/batch | resgen images/s | ORT images/s | ratio | min ratio | resgen % peak | ORT % peak | max\\|resgen−ORT\\| | max\\|resgen−torch\\| | max\\|output\\| |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of batched) {
      const macs = summaries[r.model].macs, peakT = r.threads * peakPerCore;
      const gr = gflops(B * macs, r.resgen.median), go = gflops(B * macs, r.ort.median);
      L.push(`| ${r.model} | ${f(macs / 1e9, 3)} | ${r.threads} | ${f(r.resgen.median, 1)} (${f(r.resgen.min, 1)})${star(r.resgen)} | ${f(r.ort.median, 1)} (${f(r.ort.min, 1)})${star(r.ort)} | ${f((1e3 * B) / r.resgen.median, 1)} | ${f((1e3 * B) / r.ort.median, 1)} | ${f(r.resgen.median / r.ort.median)} | ${f(r.resgen.min / r.ort.min)} | ${f((100 * gr) / peakT, 1)} | ${f((100 * go) / peakT, 1)} | ${e(r.check.resgenVsOrt)} | ${e(r.check.resgenVsTorch)} | ${f(r.check.maxOut, 1)} |`);
    }
    L.push('');
  }
  L.push('## Spread and agreement');
  L.push('');
  L.push('p10–p90 of the per-iteration times, iterations timed per side, load time (weights → ready model), and max |difference| of the outputs on the shared input (max|output| for scale; "torch" is PyTorch\'s output saved at ONNX export).');
  L.push('');
  L.push('| model | batch | threads | resgen p10–p90 ms | ORT p10–p90 ms | iterations resgen / ORT | load ms resgen / ORT | max\\|resgen−ORT\\| | max\\|resgen−torch\\| | max\\|ORT−torch\\| | max\\|output\\| |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of all) {
    L.push(`| ${r.model} | ${r.batch} | ${r.threads} | ${f(r.resgen.p10, 3)}–${f(r.resgen.p90, 3)} | ${f(r.ort.p10, 3)}–${f(r.ort.p90, 3)} | ${r.resgen.n} / ${r.ort.n} | ${f(r.load.resgen, 0)} / ${f(r.load.ort, 0)} | ${e(r.check.resgenVsOrt)} | ${e(r.check.resgenVsTorch)} | ${e(r.check.ortVsTorch)} | ${f(r.check.maxOut, 1)} |`);
  }
  L.push('');
  if (results.some(r => r.layers)) {
    L.push('## Per layer type, batch 1');
    L.push('');
    L.push('resgen: each convolution\'s (and transposed convolution\'s) runtime kernel timed alone (`resgenbench -layers`: the network\'s shapes, median of about ' + opt.layerMs + ' ms of iterations, hot caches). ORT: per-node times from its profiler over a separate session\'s runs (median per node). Both summed over the layers of each type; ms is per inference. GFLOP/s = 2·MACs / ms; % peak as above. "rest" = whole-network median (above) − the sum over the typed layers: pooling, layout changes, other ops and overhead (for ORT also its profiler\'s view of MaxPool, ReorderInput/Output, …). Layer counts are resgen / ORT nodes. ORT\'s profile shows no kernel shape for a ConvTranspose (its weight is prepacked); it is typed like resgen\'s transposed conv of the same input and output shapes.');
    for (const r of results.filter(r => r.layers)) {
      const peak = r.threads * peakPerCore, lr = r.layers;
      L.push('');
      L.push(`**${r.model}, ${r.threads} thread${r.threads > 1 ? 's' : ''}**`);
      L.push('');
      L.push('| type | layers | GMACs | resgen ms | resgen GFLOP/s | resgen % peak | ORT ms | ORT GFLOP/s | ORT % peak | ratio |');
      L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
      for (const t of lr.rows) {
        const gr = t.rgMs > 0 ? gflops(t.macs, t.rgMs) : 0, go = t.oxMs > 0 ? gflops(t.macs, t.oxMs) : 0;
        L.push(`| ${t.type} | ${t.rgCount} / ${t.oxCount} | ${f(t.macs / 1e9, 3)} | ${f(t.rgMs, 3)} | ${f(gr, 1)} | ${f((100 * gr) / peak, 1)} | ${f(t.oxMs, 3)} | ${f(go, 1)} | ${f((100 * go) / peak, 1)} | ${t.oxMs > 0 ? f(t.rgMs / t.oxMs) : 'n/a'} |`);
      }
      L.push(`| rest | | | ${f(lr.rgRest, 3)} | | | ${f(lr.oxRest, 3)} | | | |`);
    }
    L.push('');
  }
  L.push('## Notes on noise and method');
  L.push('');
  L.push('- The machine is shared and has 2 cores; other jobs (builds, tests) may run at the same time. Interleaving puts both sides under the same background load: a ratio is more trustworthy than either absolute time. The median resists outliers; the min is the least-disturbed run and the best guess at what the code can do; a wide p10–p90 means the run was disturbed.');
  L.push('- The FMA peak is a ceiling no real kernel reaches (no loads or stores, only FMAs); it is measured on this machine at the start of each run, so "% peak" is relative to the machine the table was measured on.' +
    (peak.threads?.length ? ` If the threads-at-once figure above is near one core\'s rather than threads × it, the ${os.cpus().length} logical CPUs share a core or another process held one, and the multi-thread "% peak" (threads × the per-core figure) understates what each thread got.` : ''));
  const busy = Math.max(...[load.before, load.after].map(x => Number(x.split(' ')[0])));
  if (busy >= 1 && opt.threads.some(t => t > 1)) {
    L.push(`- The 1-minute load average reached ${busy.toFixed(1)} (see above) on ${os.cpus().length} CPUs: other processes held a core for much of this run, so the multi-thread rows measure sharing that core. ORT\'s thread pool, which waits for every thread at each op, suffers more from that than resgen\'s; do not read its 2-thread numbers as its speed on an idle machine.`);
  }
  L.push('- Rounds alternate the order of the sides. Before the rounds each side warms up (at least 3 iterations, and ' + opt.warmupMs + ' ms), which gives its first iterations per round (about ' + opt.roundMs + ' ms of work; re-estimated after every round).');
  L.push('- ORT times are taken in Node around `await session.run(feeds)`, so they include the binding\'s call overhead (tens of µs; it matters only for cifar-resnet20). resgen times are taken in Go around `Forward`.');
  L.push('- Neither side is pinned to CPUs. After a run, idle worker threads spin briefly before they sleep on both sides (ORT\'s default spinning; resgen\'s pool for 500 µs): negligible next to a round.');
  L.push('- Per-layer times are not interleaved: resgen\'s layers run right after the whole-network rounds, then ORT\'s profiled session. A layer timed alone runs with its input in cache and its kernel warm, so the sum over layers can be less than a whole inference (a negative "rest" means exactly that, or noise). Profiling adds a little overhead to ORT\'s node times.');
  L.push('- Seeded weights are not normalized for depth, so outputs grow with depth (max|output| above); compare the differences relative to it.');
  return L.join('\n') + '\n';
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const started = new Date();
  const load = { before: loadavg() };
  const summaries = {};
  for (const m of opt.models) summaries[m] = JSON.parse(fs.readFileSync(path.join(cache, `${m}.summary.json`), 'utf8'));
  const peak = await measurePeak(opt);
  process.stderr.write(`  FMA peak: ${peakText(peak)}\n`);
  const results = [];
  for (const m of opt.models) {
    for (const t of opt.threads) results.push(await measure(m, t, opt, summaries[m]));
  }
  for (const m of opt.batchModels) {
    for (const t of opt.threads) results.push(await measure(m, t, opt, summaries[m], opt.batch));
  }
  load.after = loadavg();
  const md = report(results, summaries, opt, started, load, peak);
  fs.writeFileSync(path.join(cache, 'results.json'), JSON.stringify({ started, opt, peak, results }, null, 1));
  if (opt.write) fs.writeFileSync(opt.out, md + keptTrainSection(opt.out));
  process.stdout.write(md);
}

// keptTrainSection returns the training section of the file at out (written
// by bench/train/run.sh between its markers), so that rewriting the
// inference tables keeps it.
function keptTrainSection(out) {
  let old = '';
  try { old = fs.readFileSync(out, 'utf8'); } catch { return ''; }
  const begin = old.indexOf('<!-- train:begin -->'), end = old.indexOf('<!-- train:end -->');
  if (begin < 0 || end < begin) return '';
  return '\n' + old.slice(begin, end + '<!-- train:end -->'.length) + '\n';
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
