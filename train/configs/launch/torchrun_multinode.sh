#!/usr/bin/env bash
# Multi-node training with torchrun. Run on every node with the same MASTER_ADDR and its own NODE_RANK:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 GPUS_PER_NODE=8 \
#     train/configs/launch/torchrun_multinode.sh --recipe lima --data train.jsonl --model BASE_DIR --out /shared/ckpt/
# Parallelism: FSDP2 by default on GPUs; add `--set parallelism=zero3` for DeepSpeed ZeRO-3
# (launch/zero3.json) or `--set parallelism=ddp` for plain data parallelism.
set -euo pipefail
exec torchrun \
  --nnodes "${NNODES:-1}" \
  --node_rank "${NODE_RANK:-0}" \
  --nproc_per_node "${GPUS_PER_NODE:-8}" \
  --rdzv_backend c10d \
  --rdzv_endpoint "${MASTER_ADDR:-127.0.0.1}:${MASTER_PORT:-29500}" \
  --rdzv_id "${RDZV_ID:-evalkit-train}" \
  -m evalkit train "$@"
