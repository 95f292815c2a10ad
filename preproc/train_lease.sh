#!/bin/bash
# Train for a fixed time on a borrowed GPU (one lease of the workplace's `device` tool) and return the weights.
#
#   CONFIG=gpu_medium TRAIN_S=390 MAXMIN=7.3 bash preproc/train_lease.sh
#
# 1. probes the training speed (PROBE_IT iterations), 2. writes a copy of CONFIG whose schedule is one
# cosine period of the iterations that fit in TRAIN_S seconds (after the iterations of the config's `init`
# weights, if any), 3. trains it (stopping after MAXMIN minutes in any case), 4. copies best.pth and the
# last weights to $OUT in pieces of 15 MB (the tool returns files of at most 16 MiB).
# The lease machine has no ../shared: the training images travel in the ignored folder .gpu/train
# (cp -r ../shared/data/train .gpu/; carried with `carry: [".gpu"]`) and are linked to ../shared/data/train.
# Used for the H200 runs in preproc/weights/cajnn_small.md; locally: DEVICE=cpu PY=python OUT=/tmp/x ...
set -u
export PYTHONUNBUFFERED=1
DEVICE=${DEVICE:-cuda}; WORKERS=${WORKERS:-12}; PROBE_IT=${PROBE_IT:-150}; TRAIN_S=${TRAIN_S:-390}
MAXMIN=${MAXMIN:-7.3}; CONFIG=${CONFIG:-gpu_medium}; PY=${PY:-python3}; RUN=${RUN:-/tmp/gpu_run}
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
if [ ! -e ../shared/data/train ]; then mkdir -p ../shared/data && ln -sfn "$PWD/.gpu/train" ../shared/data/train; fi
{ nvidia-smi -L; $PY -c "import torch, numpy, PIL; print('torch', torch.__version__, 'numpy', numpy.__version__, 'PIL', PIL.__version__, 'cuda', torch.cuda.is_available())"; nproc; } 2>&1
rm -rf /tmp/gpu_probe
START=$($PY -c "
import sys, torch
from preproc.train import TrainConfig, _resolve_path
c = TrainConfig.load(sys.argv[1])
print(int(torch.load(_resolve_path(c.init), weights_only=False).get('iterations', 0)) if c.init else 0)" $CONFIG)
echo "start iteration $START"
t0=$(date +%s)
$PY -m preproc.train --config $CONFIG --out /tmp/gpu_probe --device $DEVICE --workers $WORKERS --iterations $((START + PROBE_IT)) > /tmp/gpu_probe.txt 2>&1; tail -4 /tmp/gpu_probe.txt
echo "probe wall $(( $(date +%s) - t0 )) s"
$PY - "$CONFIG" "$TRAIN_S" "$RUN" "$START" <<'PY'
import json, sys
from preproc.train import TrainConfig
from dataclasses import asdict
cfg = TrainConfig.load(sys.argv[1])
speeds = [json.loads(l)["it_per_s"] for l in open("/tmp/gpu_probe/log.jsonl") if '"loss"' in l]
speed = speeds[-1]
n = max(500, int(speed * float(sys.argv[2])) // 500 * 500)
start = int(sys.argv[4])
d = asdict(cfg); d["iterations"] = start + n; d["periods"] = [start, n] if start else [n]
import pathlib; pathlib.Path(sys.argv[3]).mkdir(parents=True, exist_ok=True)
json.dump(d, open(sys.argv[3] + "/config.json", "w"), indent=1)
print(f"probe speed {speed:.2f} it/s -> {n} iterations from {start}, one cosine period")
PY
cp "$RUN/config.json" "$OUT/config.json"
$PY -m preproc.train --config "$RUN/config.json" --out "$RUN/out" --device $DEVICE --workers $WORKERS --max-minutes $MAXMIN > "$OUT/train.txt" 2>&1
echo "train rc $?"; grep -E "validation|stopping|^\{" "$OUT/train.txt" | tail -8
cp "$RUN/out/log.jsonl" "$OUT/log.jsonl"
$PY - "$RUN/out" "$OUT" <<'PY'
import sys, torch
out, dest = sys.argv[1], sys.argv[2]
torch.save(torch.load(out + "/best.pth", weights_only=False), dest + "/best.pth")
last = torch.load(out + "/last.pth", weights_only=False)
torch.save({"model": last["model"], "iteration": last["iteration"], "best": last["best"],
            "elapsed_s": last["elapsed_s"], "config": last["config"]}, dest + "/last_model.pth")
PY
cd "$OUT" && for f in best.pth last_model.pth; do split -b 15M -d "$f" "$f.part" && rm "$f"; done; ls -la "$OUT"
