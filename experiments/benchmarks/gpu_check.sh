#!/usr/bin/env bash
# The GPU check: on a machine with one or more CUDA GPUs, in under 8 minutes, from the repository's root:
#
#   bash experiments/benchmarks/gpu_check.sh            # install, CUDA tests, benchmarks, one summary table
#   bash experiments/benchmarks/gpu_check.sh --dry-run  # print the plan and the commands; run nothing
#   bash experiments/benchmarks/gpu_check.sh --cpu      # the same steps in their tiny modes on the CPU
#
# Steps, each under its own time limit within a total budget (GPU_CHECK_BUDGET seconds, 450 by default):
#   1. install: a virtual environment (.venv-gpu) that sees the system's packages (a CUDA torch stays as
#      it is), then `pip install -e ".[dev]"`; offline or refused, the check goes on with what is installed;
#   2. the CUDA tests (pytest -k cuda, slow ones included);
#   3. train_throughput.py: eager and compiled steps (torch.compile) of the MLP and conv pairs;
#   4. iw_speed.py and 5. ppc_cost.py (each on the GPU when it takes --device);
#   6. scaling.py with one process per GPU, when there are several.
# Nothing stops the check: a step that is missing, fails or runs out of time is reported as such, with the
# last lines of its log, and the next step runs. Logs go to $OUT (when set) or a temporary folder.
# Data: binarized MNIST from $PPL_VAE_DATA or ../shared/data when present, random images otherwise.

set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
MODE=gpu
case "${1:-}" in
  --dry-run) MODE=dry ;;
  --cpu) MODE=cpu ;;
  "") ;;
  *) echo "usage: $0 [--dry-run | --cpu]"; exit 2 ;;
esac
BUDGET=${GPU_CHECK_BUDGET:-450}
LOGS=${OUT:-$(mktemp -d)}/gpu_check
mkdir -p "$LOGS"
START=$(date +%s)
PYTHON=${PYTHON:-python3}
BENCH=experiments/benchmarks
declare -a NAMES STATUS TIMES FIGURES

remaining() { echo $((BUDGET - ($(date +%s) - START))); }

# step NAME LIMIT PATTERN COMMAND...: run COMMAND with at most LIMIT seconds (less if the budget is nearly
# spent), log it, and record its status and the lines of its output that match PATTERN.
step() {
  local name=$1 limit=$2 pattern=$3
  shift 3
  local left
  left=$(remaining)
  ((limit > left)) && limit=$left
  NAMES+=("$name")
  if [[ $MODE == dry ]]; then
    echo "[$name] at most ${limit}s: $*"
    STATUS+=("planned"); TIMES+=("-"); FIGURES+=("-")
    return
  fi
  if ((limit < 5)); then
    STATUS+=("skipped: budget spent"); TIMES+=("0"); FIGURES+=("-")
    return
  fi
  echo "== $name (at most ${limit}s): $*"
  local begin code log="$LOGS/$name.log"
  begin=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  code=$?
  TIMES+=("$(($(date +%s) - begin))")
  if ((code == 0)); then
    STATUS+=("ok")
  elif ((code == 124 || code == 137)); then
    STATUS+=("timed out after ${limit}s")
  else
    STATUS+=("failed (exit $code)")
  fi
  local found
  found=$(grep -E "$pattern" "$log" | tail -n 4 | cut -c1-160 | paste -sd '|' -)
  if [[ -z $found ]]; then
    found=$(tail -n 2 "$log" | cut -c1-160 | paste -sd '|' -)
  fi
  FIGURES+=("${found:-no output}")
  tail -n 3 "$log"
}

# note NAME STATUS: a step that could not run at all.
note() { NAMES+=("$1"); STATUS+=("$2"); TIMES+=("0"); FIGURES+=("-"); }

has_option() { "$PY" "$1" --help 2>/dev/null | grep -q -- "$2"; }

# 1. install
PY=$PYTHON
if [[ $MODE == gpu ]]; then
  if "$PYTHON" -m venv --system-site-packages .venv-gpu >/dev/null 2>&1; then
    PY=$ROOT/.venv-gpu/bin/python
  fi
  if "$PY" -c "import torch" >/dev/null 2>&1; then
    step install 150 "Successfully|already satisfied|ERROR" "$PY" -m pip install --quiet --retries 1 --timeout 15 -e ".[dev]"
  else
    step install 200 "Successfully|ERROR" "$PY" -m pip install --quiet --retries 1 --timeout 15 torch -e ".[dev]"
  fi
elif [[ $MODE == dry ]]; then
  step install 150 "" "$PYTHON" -m pip install --quiet --retries 1 --timeout 15 -e ".[dev]"
else
  PY=$(command -v python)
  note install "skipped (--cpu)"
fi

GPUS=0
if [[ $MODE != dry ]]; then
  GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null)
  GPUS=${GPUS:-0}
  echo "python: $PY; CUDA GPUs: $GPUS; torch: $("$PY" -c 'import torch; print(torch.__version__)' 2>&1 | tail -n 1)"
  if [[ $MODE == gpu && $GPUS == 0 ]]; then
    echo "no CUDA GPU is visible to torch: the GPU steps report what they can"
  fi
fi
DEVICE=cuda
TINY=()
if [[ $MODE == cpu ]]; then
  DEVICE=cpu
  TINY=(--tiny)
fi

# 2. the CUDA tests (they skip without a GPU)
step cuda_tests 120 "passed|failed|skipped|error" "$PY" -m pytest -q -p no:cacheprovider -m "slow or not slow" -k cuda tests

# 3. training steps, eager and compiled
THROUGHPUT=(--device "$DEVICE" --steps 200 --repeats 2)
[[ $MODE == cpu ]] && THROUGHPUT=(--device cpu --tiny)
step train_throughput 150 "ms/step|data:" "$PY" $BENCH/train_throughput.py "${THROUGHPUT[@]}"

# 4. and 5. the importance-weighted estimator and the predictive check
for script in iw_speed ppc_cost; do
  if [[ ! -f $BENCH/$script.py ]]; then
    note "$script" "missing: $BENCH/$script.py"
    continue
  fi
  args=("${TINY[@]}")
  if [[ $MODE != cpu ]]; then
    [[ $script == iw_speed ]] && args=(--examples 200 --pyro-examples 2)
    [[ $script == ppc_cost ]] && args=(--examples 2000)
    if [[ $MODE == dry ]]; then
      echo "($script.py gets --device cuda when it takes one)"
    elif has_option $BENCH/$script.py --device; then
      args+=(--device cuda)
    else
      echo "$script.py takes no --device: it measures on the CPU"
    fi
  fi
  step "$script" 60 "x the bound|x hand|whole check|projected|data:" "$PY" $BENCH/$script.py "${args[@]}"
done

# 6. several GPUs: one process per GPU
if [[ ! -f $BENCH/scaling.py ]]; then
  note scaling "missing: $BENCH/scaling.py"
elif [[ $MODE == cpu ]]; then
  step scaling 90 "process\(es\):" "$PY" $BENCH/scaling.py --tiny
elif [[ $MODE == dry || $GPUS -gt 1 ]]; then
  step scaling 90 "process\(es\):" "$PY" $BENCH/scaling.py --device cuda --steps 50  # one process per GPU
else
  note scaling "skipped: one GPU (scaling needs several)"
fi

# the summary table
echo
echo "GPU check ($MODE mode), $(date -u +%Y-%m-%dT%H:%MZ), $(($(date +%s) - START)) s of a ${BUDGET} s budget; logs in $LOGS"
printf '| %-16s | %-28s | %7s | %s\n' step status seconds figures
printf '|%s|%s|%s|%s\n' ------------------ ------------------------------ --------- -------
for i in "${!NAMES[@]}"; do
  printf '| %-16s | %-28s | %7s | %s\n' "${NAMES[$i]}" "${STATUS[$i]}" "${TIMES[$i]}" "${FIGURES[$i]}"
done
exit 0
