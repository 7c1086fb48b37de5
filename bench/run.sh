#!/usr/bin/env bash
# bench/run.sh [harness arguments]: the whole side-by-side benchmark in one
# command. Prepares bench/.cache (ONNX exports, seeded weights, summaries, the
# resgenbench binary), then runs bench/harness.mjs, which interleaves resgen
# and ONNX Runtime, writes BENCHMARKS.md and prints it. See bench/README.md.
#
#   bench/run.sh                      # full run (about 5 minutes)
#   bench/run.sh --quick --no-write   # smoke test, prints the table only
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
SEED=1
MODELS=(cifar-resnet20 resnet18 resnet50 resnext50_32x4d wide_resnet50_2) # keep in step with bench/cmd/resgenbench/models.go
cache=bench/.cache
mkdir -p "$cache"

need() { command -v "$1" >/dev/null || { echo "bench/run.sh: needs $1 ($2)" >&2; exit 1; }; }
need go "the Go toolchain"
need node "Node.js 18 or newer"
need npm "npm, to install onnxruntime-node"
"$PYTHON" -c 'import torch' 2>/dev/null || {
	echo "bench/run.sh: $PYTHON lacks torch (apt-get install -y python3-torch python3-torchvision; or set PYTHON)" >&2
	exit 1
}

# ONNX Runtime, pinned by bench/package-lock.json.
if [ ! -d bench/node_modules/onnxruntime-node ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
	(cd bench && npm ci --ignore-scripts --no-audit --no-fund)
fi

# The packages under generated/: always regenerated, so the run measures the
# current compiler and runtime; a diff here means the committed copies were stale.
go generate ./generated/...
if [ -n "$(git status --porcelain -- generated 2>/dev/null)" ]; then
	echo "bench/run.sh: note: generated/ changed on regeneration (commit it to keep the checked-in packages current)" >&2
fi
CGO_ENABLED=0 go build -o "$cache/resgen" ./cmd/resgen
CGO_ENABLED=0 go build -o "$cache/resgenbench" ./bench/cmd/resgenbench

for m in "${MODELS[@]}"; do
	spec=generated/$(echo "$m" | tr -d -- -)/spec.yaml
	"$cache/resgen" summary -json "$spec" >"$cache/$m.summary.json"
	if [ ! -f "$cache/$m.safetensors" ] || [ "$spec" -nt "$cache/$m.safetensors" ] || [ "$cache/resgen" -nt "$cache/$m.safetensors" ]; then
		"$cache/resgen" weights init "$spec" -seed "$SEED" -o "$cache/$m.safetensors" >/dev/null
	fi
	# The export loads the same seeded weights in PyTorch (reference/seeded.py
	# is bit-identical to resgen's generator) and saves PyTorch's output on
	# the seeded input, which both sides then run.
	onnx=$cache/$m.onnx
	if [ ! -f "$onnx" ] || [ ! -f "$cache/$m.io.safetensors" ] || [ reference/reference.py -nt "$onnx" ] || [ reference/seeded.py -nt "$onnx" ]; then
		echo "bench/run.sh: exporting $m to ONNX" >&2
		"$PYTHON" reference/reference.py onnx "$m" "$onnx" --seed "$SEED" --save-io "$cache/$m.io.safetensors" >"$cache/$m.export.log" 2>&1 ||
			{ cat "$cache/$m.export.log" >&2; exit 1; }
	fi
done

RESGEN_BENCH_CMD="bench/run.sh${*:+ $*}" exec node bench/harness.mjs "$@"
