// node reference/ort_run.js MODEL.onnx IO.safetensors: runs onnxruntime-node on "input",
// compares with "output" and times 50 single-threaded inferences. Needs
// onnxruntime-node on NODE_PATH (see reference/README.md).
const ort = require('onnxruntime-node');
const fs = require('fs');
function readST(p) {
  const b = fs.readFileSync(p);
  const n = Number(b.readBigUInt64LE(0));
  const hdr = JSON.parse(b.slice(8, 8 + n).toString());
  const out = {};
  for (const [k, v] of Object.entries(hdr)) {
    if (k === '__metadata__') continue;
    const [lo, hi] = v.data_offsets;
    const buf = b.slice(8 + n + lo, 8 + n + hi);
    out[k] = { shape: v.shape, data: new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)) };
  }
  return out;
}
(async () => {
  const [model, io] = process.argv.slice(2);
  const t = readST(io);
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const feeds = { input: new ort.Tensor('float32', t.input.data, t.input.shape) };
  const r = (await s.run(feeds)).output;
  let maxd = 0, maxo = 0;
  for (let i = 0; i < r.data.length; i++) {
    maxd = Math.max(maxd, Math.abs(r.data[i] - t.output.data[i]));
    maxo = Math.max(maxo, Math.abs(t.output.data[i]));
  }
  console.log(`ort ${ort.env.versions ? JSON.stringify(ort.env.versions) : ''} output ${r.dims} max|diff| ${maxd} max|out| ${maxo} rel ${maxd / maxo}`);
  const N = 50, t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await s.run(feeds);
  console.log(`ORT 1 thread: ${(Number(process.hrtime.bigint() - t0) / 1e6 / N).toFixed(3)} ms/inference`);
})().catch(e => { console.error(e); process.exit(1); });
