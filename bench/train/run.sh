#!/usr/bin/env bash
# bench/train/run.sh [options]: resgen's generated trainer against PyTorch's
# CPU training, side by side, one round of each alternately; writes the
# table between <!-- train:begin --> and <!-- train:end --> in BENCHMARKS.md
# and prints it. See bench/train/README.md.
#
#   bench/train/run.sh                                # every row, 5 rounds (about 30 minutes)
#   bench/train/run.sh --rounds 2 --rows cifar-resnet20:1x28x28:1 --no-write
#   bench/train/run.sh --pytorch-only --rounds 2 --no-write   # before resgentrain exists
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-/usr/bin/python3}
cache=bench/.cache
rounds=5
rows=""
write=1
pytorch_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) rounds=$2; shift 2 ;;
	--rows) rows=$2; shift 2 ;; # comma-separated model:CxHxW:threads
	--no-write) write=0; shift ;;
	--pytorch-only) pytorch_only=1; shift ;;
	*) echo "bench/train/run.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
	esac
done
case "$rounds" in '' | *[!0-9]* | 0) echo "bench/train/run.sh: --rounds wants a positive integer, have '$rounds'" >&2; exit 2 ;; esac

"$PYTHON" -c 'import torch' 2>/dev/null || {
	echo "bench/train/run.sh: $PYTHON lacks torch (apt-get install -y python3-torch python3-torchvision; or set PYTHON)" >&2
	exit 1
}
mkdir -p "$cache"
if [ "$pytorch_only" = 0 ]; then
	command -v go >/dev/null || { echo "bench/train/run.sh: needs the Go toolchain" >&2; exit 1; }
	if [ ! -d bench/train/resgentrain ]; then
		echo "bench/train/run.sh: bench/train/resgentrain does not exist yet (use --pytorch-only)" >&2
		exit 1
	fi
	# Built once; each round runs the binary with the flags `go run
	# ./bench/train/resgentrain` takes, without go run's compile check per round.
	CGO_ENABLED=0 go build -o "$cache/resgentrain" ./bench/train/resgentrain
fi

if [ -z "$rows" ]; then
	rows=$("$PYTHON" bench/train/torch_bench.py -list | tr ' ' ':' | paste -sd, -)
fi
IFS=, read -ra rowlist <<<"$rows"

results=$cache/train-results.jsonl
: >"$results"
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

side() { # side IMPL MODEL INPUT THREADS: one round, its JSON line into $results
	local out
	if [ "$1" = pytorch ]; then
		out=$("$PYTHON" bench/train/torch_bench.py -model "$2" -input "$3" -threads "$4" -rounds 1)
	else
		out=$("$cache/resgentrain" -model "$2" -input "$3" -threads "$4" -rounds 1)
	fi
	printf '%s\n' "$out" | grep '^{' >>"$results" || {
		echo "bench/train/run.sh: $1 $2 $3 threads $4 printed no result line:" >&2
		printf '%s\n' "$out" >&2
		exit 1
	}
	printf '%s\n' "$out" | grep '^{' >&2
}

for ((r = 1; r <= rounds; r++)); do
	for row in "${rowlist[@]}"; do
		IFS=: read -r model input threads <<<"$row"
		# The side that goes first alternates, so neither always runs on a
		# machine the other just warmed (or heated).
		if [ "$pytorch_only" = 1 ]; then
			sides=(pytorch)
		elif ((r % 2)); then
			sides=(pytorch resgen)
		else
			sides=(resgen pytorch)
		fi
		for s in "${sides[@]}"; do
			echo "bench/train/run.sh: round $r/$rounds $s $model $input threads $threads" >&2
			side "$s" "$model" "$input" "$threads"
		done
	done
done

torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
notes=(
	-note "Date: $started; $rounds rounds per row"
	-note "Machine: ${cpu:-unknown CPU}, $(nproc) logical CPUs visible; load average (1, 5, 15 min) $load_start at the start, $(load) at the end"
	-note "PyTorch $torch_version (CPU, MKL-DNN on, torch.set_num_threads = threads${OMP_WAIT_POLICY:+, OMP_WAIT_POLICY=$OMP_WAIT_POLICY}); resgen: $(go version 2>/dev/null | cut -d' ' -f3), pure Go"
)
if [ "$write" = 1 ]; then
	"$PYTHON" bench/train/report.py "$results" "${notes[@]}"
else
	"$PYTHON" bench/train/report.py "$results" -no-write "${notes[@]}"
fi
