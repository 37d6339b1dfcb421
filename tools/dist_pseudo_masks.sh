#!/usr/bin/env bash
# Usage: tools/dist_pseudo_masks.sh CONFIG CHECKPOINT GPUS [make_pseudo_masks.py args...]
# GPUS processes on this node (CPU processes with gloo when there is no CUDA),
# each writing the masks of its share of the images.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

PYTHONPATH="$DIR/..":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    "$DIR/make_pseudo_masks.py" \
    "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
