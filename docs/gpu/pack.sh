#!/usr/bin/env bash
# Lays out <main checkout>/.gpu for docs/gpu/run.sh on the GPU machine: the CUDA
# sources, a static test binary of detect/gpu, and the part of ../shared it needs
# (reference tensors, public images, the model, the PyTorch peer). Keep it under the
# device tool's 64 MiB with the checkout.
set -eu
WT=$(cd "$(dirname "$0")/../.." && pwd)
DST=${1:-/work/main/.gpu}
SH=${SHARED:-/work/shared}
rm -rf "$DST"
mkdir -p "$DST/src" "$DST/shared/testdata/reference/centernet" "$DST/shared/models/centernet" "$DST/shared/bench"
cp "$WT"/detect/gpu/cuda/* "$DST/src/"
cp "$WT/docs/gpu/run.sh" "$DST/run.sh"
(cd "$WT" && CGO_ENABLED=0 go test -c -ldflags "-s -w" -o "$DST/gpu.test" ./detect/gpu)
xz -T0 -6 "$DST/gpu.test" # 11 MB -> 3 MB: the corpus subset and the checkout fill the rest
for d in "$SH"/testdata/reference/centernet/*/; do
	s=$(basename "$d")
	mkdir -p "$DST/shared/testdata/reference/centernet/$s"
	for f in keypoints.bin wh.bin input_512.bin; do
		# 000008 is a PNG: its input is the CPU stretch of the image, bit for bit
		[ "$s" = 000008 ] && [ $f = input_512.bin ] && continue
		cp "$d/$f" "$DST/shared/testdata/reference/centernet/$s/"
	done
done
(cd "$SH" && find testdata/images -name '*.jpg' -o -name '*.png' | while read -r f; do mkdir -p "$DST/shared/$(dirname "$f")"; cp "$f" "$DST/shared/$f"; done)
cp "$SH"/models/centernet/centernet.json "$SH"/models/centernet/centernet.bin "$DST/shared/models/centernet/"
cp "$SH"/bench/torch_centernet.py "$DST/shared/bench/"
du -sh "$DST"
