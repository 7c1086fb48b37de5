#!/usr/bin/env bash
# bench/run.sh [harness arguments]: the whole side-by-side benchmark in one
# command. Prepares bench/.cache (ONNX exports, seeded weights, summaries, the
# resgenbench binary), then runs bench/harness.mjs, which measures the FMA
# peak, interleaves resgen and ONNX Runtime at batch 1 and 8, writes
# BENCHMARKS.md and prints it. See bench/README.md.
#
#   bench/run.sh                      # full run (about 15 minutes)
#   bench/run.sh --quick --no-write   # smoke test, prints the tables only
#   bench/run.sh --quick --no-write --models cifar-resnet20 # the smallest
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
SEED=1
MODELS=(cifar-resnet20 resnet18 resnet50 resnext50_32x4d wide_resnet50_2 unet32) # keep in step with bench/cmd/resgenbench/models.go and ALL_MODELS in harness.mjs
cache=bench/.cache
mkdir -p "$cache"

# Only what the harness will read is prepared: its --models, and the batch-N
# exports for --batch-models (default: the same) unless --no-batch.
BATCH=8
batch_models=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	--models) IFS=, read -r -a MODELS <<<"${args[i + 1]:-}" ;;
	--batch) BATCH=${args[i + 1]:-} ;;
	--batch-models) batch_models=${args[i + 1]:-} ;;
	--no-batch) BATCH=0 ;;
	esac
done
if [ "$BATCH" = 0 ]; then
	BATCH_MODELS=()
elif [ -n "$batch_models" ]; then
	IFS=, read -r -a BATCH_MODELS <<<"$batch_models"
else
	BATCH_MODELS=("${MODELS[@]}")
fi

# spec_of MODEL: the spec its resgenbench package was built from.
# export_of MODEL: reference.py's preset and flags for the same network.
spec_of() {
	case $1 in
	unet32) echo bench/gen/unet32/spec.yaml ;;
	*) echo "generated/$(echo "$1" | tr -d -- -)/spec.yaml" ;;
	esac
}
export_of() {
	case $1 in
	unet32) echo "unet --width 32 --input 3x256x256" ;;
	*) echo "$1" ;;
	esac
}

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
go generate ./generated/... ./bench/gen/...
if [ -n "$(git status --porcelain -- generated bench/gen 2>/dev/null)" ]; then
	echo "bench/run.sh: note: generated/ or bench/gen/ changed on regeneration (commit it to keep the checked-in packages current)" >&2
fi
CGO_ENABLED=0 go build -o "$cache/resgen" ./cmd/resgen
CGO_ENABLED=0 go build -o "$cache/resgenbench" ./bench/cmd/resgenbench

# export_onnx MODEL STEM BATCH: the ONNX file STEM.onnx with a fixed batch and
# STEM.io.safetensors. The export loads the same seeded weights in PyTorch
# (reference/seeded.py is bit-identical to resgen's generator) and saves
# PyTorch's output on the seeded input, which both sides then run. Redone
# only when missing or older than reference/*.py.
export_onnx() {
	local m=$1 stem=$cache/$2 batch=$3
	if [ ! -f "$stem.onnx" ] || [ ! -f "$stem.io.safetensors" ] || [ reference/reference.py -nt "$stem.onnx" ] || [ reference/seeded.py -nt "$stem.onnx" ]; then
		echo "bench/run.sh: exporting $m at batch $batch to ONNX" >&2
		# shellcheck disable=SC2046 # export_of gives several words on purpose
		"$PYTHON" reference/reference.py onnx $(export_of "$m") "$stem.onnx" --seed "$SEED" --batch "$batch" --save-io "$stem.io.safetensors" >"$stem.export.log" 2>&1 ||
			{ cat "$stem.export.log" >&2; exit 1; }
	fi
}

for m in "${MODELS[@]}"; do
	spec=$(spec_of "$m")
	[ -f "$spec" ] || { echo "bench/run.sh: unknown model $m (no $spec)" >&2; exit 1; }
	"$cache/resgen" summary -json "$spec" >"$cache/$m.summary.json"
	if [ ! -f "$cache/$m.safetensors" ] || [ "$spec" -nt "$cache/$m.safetensors" ] || [ "$cache/resgen" -nt "$cache/$m.safetensors" ]; then
		"$cache/resgen" weights init "$spec" -seed "$SEED" -o "$cache/$m.safetensors" >/dev/null
	fi
	export_onnx "$m" "$m" 1
done
for m in "${BATCH_MODELS[@]}"; do
	case " ${MODELS[*]} " in *" $m "*) export_onnx "$m" "$m.b$BATCH" "$BATCH" ;; esac
done

RESGEN_BENCH_CMD="bench/run.sh${*:+ $*}" exec node bench/harness.mjs "$@"
