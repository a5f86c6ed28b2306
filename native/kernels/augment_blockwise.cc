// simclr::augment_views_blockwise: the CUDA kernel's per-view algorithm (augment_view.h) compiled for the CPU, one
// "thread" per view and OpenMP across views. Not a fast path (augment.cc is that): it exists so the code the GPU
// runs is tested against the CPU kernel on machines without a GPU. Also simclr::param_layout, the params columns
// these kernels were built with.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <omp.h>
#include <torch/library.h>

#include <exception>
#include <vector>

#include "augment_host.h"
#include "augment_view.h"

namespace {

using namespace simclr;

// A thread group of one: the barrier is a no-op and a sum over the group is the value itself.
struct SerialExec {
  int thread() const { return 0; }
  int threads() const { return 1; }
  void sync() const {}
  template <int C>
  void sum(double*) const {}
};

struct Workspace {
  std::vector<int32_t> words;  // taps, then the float tables (int32 and float are both 4 bytes)
  std::vector<float> tmp;
  ViewWork bind(int size, int blurKernel, int64_t tmpFloats) {
    words.resize(viewWorkWords(size, blurKernel));
    if (static_cast<int64_t>(tmp.size()) < tmpFloats) tmp.resize(tmpFloats);
    int32_t* t = words.data();
    float* f = reinterpret_cast<float*>(t + 4 * size);
    return ViewWork{t, t + size, t + 2 * size, t + 3 * size, f, f + size, f + 2 * size, f + 2 * size + 256, tmp.data()};
  }
};

at::Tensor augmentViewsBlockwise(const at::Tensor& images, const at::Tensor& params, int64_t size, int64_t blurKernel,
                                 c10::optional<at::ArrayRef<double>> mean, c10::optional<at::ArrayRef<double>> std,
                                 bool channelsLast) {
  const char* op = "simclr::augment_views_blockwise";
  TORCH_CHECK(images.device().is_cpu() && params.device().is_cpu(), op, ": CPU tensors only");
  ViewBatch b = describeBatch(op, images, params, size, blurKernel, mean, std, channelsLast);
  const at::Tensor src = images.contiguous();
  const at::Tensor p = params.contiguous();
  const int64_t views = p.size(0);
  const float* pd = p.data_ptr<float>();
  checkRows(op, pd, views, b);
  b.images = src.data_ptr<uint8_t>();
  at::Tensor out = emptyViews(images, views, b);
  float* od = out.data_ptr<float>();
  const int channels = static_cast<int>(images.size(1));
  const int64_t viewFloats = channels * size * size;

  std::exception_ptr failure;
#pragma omp parallel num_threads(at::get_num_threads())
  {
    Workspace ws;
#pragma omp for schedule(dynamic, 4)
    for (int64_t v = 0; v < views; v++) {
      try {
        const ViewWork w = ws.bind(b.size, b.blurKernel, viewFloats);
        SerialExec ex;
        if (channels == 3) makeView<3>(ex, b, pd + v * kParamCount, w, od + v * viewFloats);
        else makeView<1>(ex, b, pd + v * kParamCount, w, od + v * viewFloats);
      } catch (...) {
#pragma omp critical
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(simclr, m) {
  m.def("augment_views_blockwise(Tensor images, Tensor params, int size, int blur_kernel, float[]? mean=None, "
        "float[]? std=None, bool channels_last=False) -> Tensor");
  m.impl("augment_views_blockwise", c10::DispatchKey::CPU, TORCH_FN(augmentViewsBlockwise));
  m.def("param_layout() -> str", &simclr::paramLayout);
}
