#!/bin/bash
# The runs behind recipes.py, as run (2-core CPU, two at a time, ~4 min each on one thread).
# usage: bash docs/results/2026-12-07-audio2au-seeds/train.sh RUNS PREPARED CODEC_CACHE
set -e
runs=${1:-/work/runs}; data=${2:-/work/prepared}; cache=${3:-/work/codec_cache}
val='[grid_f_lbbc2a,grid_m_lbax4n,lrs2_deepavsr_00009,theresa_may,clips__pcavs_voxceleb__00010]'
test='grid_s2,grid_f_brbk7n,grid_m_sbwe5n,lrs2_deepavsr_00001,lrs2_deepavsr_00019,obama,macron,cnn_anchor_jim_acosta,clips__video_retalking__1,clips__pcavs_voxceleb__00002,clips__liveportrait_driving__*'
train() {  # name model seed exclude [overrides...]
  local name=$1 model=$2 seed=$3 exclude=$4; shift 4
  talkinghead train audio2au audio2au/model=$model data=prepared data.root=$data train.threads=1 \
    train.codec_cache=$cache "split.val_speakers=$val" "split.exclude=[$exclude]" seed=$seed \
    run_dir=$runs/$name "$@"
}
for s in 1 2 3 4 5; do train o_s$s offline $s "$test"; done           # seed 0: the shipped audio2au.pt
for s in 1 2 3; do train st_s$s stream $s "$test"; done               # seed 0: the shipped audio2au_stream.pt
for s in 1 2 3; do train v1_s$s offline $s "$test" train.speaker_balance=1.0; done
for s in 1 2 3; do train v2_s$s offline $s "$test" train.gap_corr_weight=3.0; done
for s in 1 2 3; do train v3_s$s offline $s "$test" train.formant_warp=0.1; done
for s in 1 2 3; do train v4_s$s offline $s "$test" 'train.band_masks=[2,6]'; done
for s in 1 2 3; do train v5_s$s offline $s "$test" train.speaker_balance=0.4; done
for s in 1 2 3; do train stv2_s$s stream $s "$test" train.gap_corr_weight=3.0; done
for s in 1 2 3; do train v6_s$s offline $s "$test" train.speaker_balance=0.4 train.gap_corr_weight=3.0; done
for s in 1 2 3; do train stv5_s$s stream $s "$test" train.speaker_balance=0.4; done
# learning curve: GRID s1 plus the first K of the other 66 training speakers in this order
# (sorted names shuffled with random.Random(0)); the rest join the excluded test speakers
others=$(python - "$data" "$val" "$test" <<'PY'
import csv, fnmatch, random, sys
data, val, test = sys.argv[1], sys.argv[2].strip("[]").split(","), sys.argv[3].split(",")
names = {r["speaker"] for r in csv.DictReader(open(f"{data}/target/clips.csv")) if r["audio"]}
names = sorted(s for s in names if s not in val and s != "grid_s1" and not any(fnmatch.fnmatch(s, t) for t in test))
random.Random(0).shuffle(names)
print(" ".join(names))
PY
)
read -ra others <<< "$others"
for k in 0 16 33; do
  drop=$(IFS=,; echo "${others[*]:$k}")
  for s in 1 2; do train lc${k}_s$s offline $s "$test,$drop"; done
done
