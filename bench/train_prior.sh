#!/usr/bin/env bash
# The look prior's recipe on the 217-look film library, from the project root with ../shared beside it (its runs and
# scores: docs/experiments.md, "Run v2"; it has not beaten the shipped 24-look prior, weights/README.md):
#   1. a base prior on procedural looks only (it has seen no film look, so every fold prior may start from it);
#   2. from the base, a prior on procedural looks and the 217 film looks (the candidate for weights/), and with
#      --folds N also N fold priors, fold K without the film families of fold K (influgan.training.pretrain.family_fold).
#      The runs of stage 2 run side by side, one thread each (on 2 cores as fast as one after another).
#
#   bench/train_prior.sh OUT_DIR [--folds N]   → OUT_DIR/base.safetensors, OUT_DIR/prior.safetensors, OUT_DIR/foldK.safetensors
#
# THREADS (default 1) sets the base's torch threads; BASE_STEPS (default 1200) and FILM_STEPS (default 800) the
# length of the two stages; a base already in OUT_DIR is kept (delete it to train it again). Each run writes OUT_DIR/NAME.log and OUT_DIR/NAME.data.sha256, the digests of the files it read.
# Score the fold priors: python bench/feedbench.py --methods identity,prior,prior+gan --prior 'OUT_DIR/fold{fold}.safetensors' --folds N
set -euo pipefail
out=${1:?usage: bench/train_prior.sh OUT_DIR [--folds N]}
folds=0
if [ "${2:-}" = "--folds" ]; then folds=${3:?--folds needs N}; fi
threads=${THREADS:-1}
base_steps=${BASE_STEPS:-1200}
film_steps=${FILM_STEPS:-800}
mkdir -p "$out"
pretrain="python -m influgan.training.pretrain --photos ../shared/data/photos --device cpu"
film="--looks ../shared/data/looks-train/film_looks.npz --init $out/base.safetensors --steps $film_steps --seed 1 --threads 1"

[ -f "$out/base.safetensors" ] || $pretrain --threads "$threads" --steps "$base_steps" --seed 0 --out "$out/base.safetensors" > "$out/base.log"
pids=()
$pretrain $film --out "$out/prior.safetensors" > "$out/prior.log" & pids+=($!)
for ((k = 0; k < folds; k++)); do
  $pretrain $film --fold "$k/$folds" --out "$out/fold$k.safetensors" > "$out/fold$k.log" & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
