// simclr::augment_views for CUDA tensors: one thread block per output view running the per-view algorithm of
// augment_view.h (the same code the CPU operator simclr::augment_views_blockwise runs, and tested there), so a
// batch's views are one kernel launch instead of the tensor path's ~200 small ones with host-side syncs.
// Built into native/build/Release/simclr_ops_cuda.so by scripts/build-cuda-kernels.mjs; src/augment/fused.ts loads
// it after simclr_ops.node, which defines the operator's schema.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <string>

#include "augment_host.h"
#include "augment_view.h"

namespace {

using namespace simclr;

constexpr int kMaxThreads = 512;
constexpr int kWarps = kMaxThreads / 32;

// The policy for augment_view.h: the block's threads, __syncthreads, and a block-wide double sum through shared memory.
struct BlockExec {
  double* partials;  // shared, 3 * kWarps
  __device__ int thread() const { return threadIdx.x; }
  __device__ int threads() const { return blockDim.x; }
  __device__ void sync() const { __syncthreads(); }
  // Every thread's v[0..C) summed over the block; every thread gets the totals.
  template <int C>
  __device__ void sum(double* v) const {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    for (int c = 0; c < C; c++) {
      double x = v[c];
      for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_down_sync(0xffffffffu, x, offset);
      if (lane == 0) partials[c * kWarps + warp] = x;
    }
    __syncthreads();
    for (int c = 0; c < C; c++) {
      double total = 0.0;
      for (int w = 0; w < warps; w++) total += partials[c * kWarps + w];
      v[c] = total;
    }
    // The partials may be written again by a later sum.
    __syncthreads();
  }
};

template <int C>
__global__ void __launch_bounds__(kMaxThreads) augmentViewsKernel(ViewBatch batch, const float* __restrict__ params,
                                                                   float* __restrict__ out, float* tmp) {
  // Dynamic shared memory: 4*S int32 taps, 2*S float fractions, the 256-entry byte table, blur weights.
  extern __shared__ int32_t taps[];
  __shared__ float row[kParamCount];
  __shared__ double partials[3 * kWarps];
  const int64_t view = blockIdx.x;
  const int64_t viewFloats = static_cast<int64_t>(C) * batch.size * batch.size;
  if (threadIdx.x < kParamCount) row[threadIdx.x] = params[view * kParamCount + threadIdx.x];
  __syncthreads();
  float* o = out + view * viewFloats;
  // Rows from the CPU were checked with messages on the host; device-resident ones get this guard only: a view
  // that would read outside its image comes out as NaN.
  if (!rowIsValid(row, batch)) {
    for (int64_t i = threadIdx.x; i < viewFloats; i += blockDim.x) o[i] = __int_as_float(0x7fc00000);
    return;
  }
  const int S = batch.size;
  float* fracs = reinterpret_cast<float*>(taps + 4 * S);
  const ViewWork work{taps, taps + S, taps + 2 * S, taps + 3 * S, fracs, fracs + S, fracs + 2 * S,
                      fracs + 2 * S + 256, tmp == nullptr ? nullptr : tmp + view * viewFloats};
  BlockExec ex{partials};
  makeView<C>(ex, batch, row, work, o);
}

at::Tensor augmentViewsCuda(const at::Tensor& images, const at::Tensor& params, int64_t size, int64_t blurKernel,
                            c10::optional<at::ArrayRef<double>> mean, c10::optional<at::ArrayRef<double>> std,
                            bool channelsLast) {
  const char* op = "simclr::augment_views (CUDA)";
  TORCH_CHECK(images.is_cuda(), op, ": images must be a CUDA tensor");
  TORCH_CHECK(params.is_cpu() || params.device() == images.device(), op,
              ": params must be on the CPU or on the images' device ", images.device(), ", got ", params.device());
  const c10::cuda::CUDAGuard guard(images.device());
  ViewBatch b = describeBatch(op, images, params, size, blurKernel, mean, std, channelsLast);
  const at::Tensor src = images.contiguous();
  const int64_t views = params.size(0);
  TORCH_CHECK(views <= INT32_MAX, op, ": too many views (", views, ")");

  // Rows from the CPU are checked here and sent from pinned memory without blocking the host: the copy is queued on
  // the current stream ahead of the kernel, and the caching host allocator keeps the pinned block until it is done.
  at::Tensor p;
  bool anyBlur = true;
  if (params.is_cpu()) {
    at::Tensor host = params.contiguous();
    anyBlur = checkRows(op, host.data_ptr<float>(), views, b);
    if (!host.is_pinned()) host = host.pin_memory();
    p = host.to(images.device(), /*non_blocking=*/true);
  } else {
    p = params.contiguous();
  }
  at::Tensor out = emptyViews(images, views, b);
  if (views == 0) return out;

  const int channels = static_cast<int>(images.size(1));
  const int64_t n = size * size;
  // Blurred views need a second plane per channel; unchecked device rows may all blur.
  at::Tensor tmp;
  if (anyBlur) tmp = at::empty({views * channels * n}, images.options().dtype(at::kFloat));
  const size_t shared = static_cast<size_t>(viewWorkWords(b.size, b.blurKernel)) * 4;
  TORCH_CHECK(shared <= 48 * 1024, op, ": ", size, "-pixel views with a ", blurKernel,
              "-tap blur need more shared memory than a block gets by default");
  // Enough threads per block to keep a big view's passes short, few enough that small views fill the GPU.
  const int threads = n >= 8192 ? kMaxThreads : 256;
  b.images = src.data_ptr<uint8_t>();
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  float* tmpPtr = anyBlur ? tmp.data_ptr<float>() : nullptr;
  if (channels == 3) {
    augmentViewsKernel<3><<<static_cast<unsigned>(views), threads, shared, stream>>>(b, p.data_ptr<float>(),
                                                                                     out.data_ptr<float>(), tmpPtr);
  } else {
    augmentViewsKernel<1><<<static_cast<unsigned>(views), threads, shared, stream>>>(b, p.data_ptr<float>(),
                                                                                     out.data_ptr<float>(), tmpPtr);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

// The columns this library was compiled with, checked by fused.ts against its own (a stale build fails loudly).
std::string cudaParamLayout() { return kParamLayout; }

}  // namespace

TORCH_LIBRARY_FRAGMENT(simclr, m) { m.def("cuda_param_layout() -> str", &cudaParamLayout); }

TORCH_LIBRARY_IMPL(simclr, CUDA, m) { m.impl("augment_views", TORCH_FN(augmentViewsCuda)); }
