#!/usr/bin/env bash
# What runs on the GPU machine (the device tool): build libroadlog_gpu.so there with
# nvcc, then the CUDA tests and benchmarks of detect/gpu with a test binary built here
# (CGO_ENABLED=0 go test -c). Laid out by docs/gpu/pack.sh in <repo>/.gpu:
#   .gpu/src (detect/gpu/cuda), .gpu/gpu.test, .gpu/shared (the corpus subset), .gpu/run.sh
# Usage (from the repository root there): bash .gpu/run.sh TESTS BENCH [ARCHS]
set -u
TESTS=${1:-.}
BENCH=${2:-.}
ARCHS=${3:-90}
OUT=${OUT:-/tmp/out}
cd "$(dirname "$0")"
export ROADLOG_SHARED=$PWD/shared PYTHONUNBUFFERED=1
[ -f gpu.test.xz ] && xz -dc gpu.test.xz >gpu.test && chmod +x gpu.test
{
	date -u
	nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
	nvcc --version | tail -2
	python3 -c "import nvidia.cudnn as c, torch; print('cudnn', list(c.__path__), 'torch', torch.__version__, torch.backends.cudnn.version())"
	ls /usr/local/cuda/lib64 | grep -E "^lib(nvjpeg|cublas)\.so" | head
	nproc; which gcc
} >"$OUT/env.txt" 2>&1
# build: all of it, else without cuDNN, else without nvJPEG too
build() { (cd src && make -j8 OUT="$PWD/../bin" ARCHS="$ARCHS" "$@"); }
{
	time build || { echo "== retry without cuDNN"; build CUDNN_HOME=none; } || { echo "== retry without cuDNN and nvJPEG"; build CUDNN_HOME=none NVJPEG=none; }
	ldd bin/libroadlog_gpu.so
} >"$OUT/build.txt" 2>&1
tail -3 "$OUT/build.txt"
[ -f bin/libroadlog_gpu.so ] || { grep -B2 -A8 -iE "error" "$OUT/build.txt" | head -60; exit 1; }
export ROADLOG_GPU_LIB=$PWD/bin/libroadlog_gpu.so
CUDNN_LIB=$(python3 -c "import nvidia.cudnn as c; print(list(c.__path__)[0] + '/lib')" 2>/dev/null)
export LD_LIBRARY_PATH=${CUDNN_LIB}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
if [ "$TESTS" != "-" ]; then
	timeout 280 ./gpu.test -test.v -test.timeout 270s -test.run "$TESTS" 2>&1 | grep -v "^=== RUN" >"$OUT/tests.txt"
	grep -E "^(--- |FAIL|ok|PASS)|cuda" "$OUT/tests.txt" | grep -vE "^\s+--- PASS: .*twin" | tail -60
fi
if [ "$BENCH" != "-" ]; then
	timeout 300 ./gpu.test -test.run XXX -test.bench "$BENCH" -test.benchtime 200x -test.timeout 290s 2>&1 | tee "$OUT/bench.txt" | tail -45
fi
if [ -n "${ALLARCH:-}" ]; then
	# every architecture this nvcc builds (CUDA 13: sm_87 sm_80 sm_90; sm_72 needs CUDA <= 12)
	(cd src && time make -j8 OUT="$PWD/../bin-all") >"$OUT/build-all.txt" 2>&1
	tail -4 "$OUT/build-all.txt"
	cuobjdump --list-elf bin-all/libroadlog_gpu.so 2>/dev/null | sed 's/.*\.//' | sort | uniq -c >>"$OUT/build-all.txt"
fi
