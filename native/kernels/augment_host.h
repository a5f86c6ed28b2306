// Host-side argument checks and batch description shared by the blockwise CPU operator and the CUDA operator, with
// the messages augment.cc gives for the same mistakes (each names its operator).
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "augment_view.h"

namespace simclr {

// Checks the arguments of an augment_views-like call (not the params rows; see checkRows) and describes the batch.
// images must already be contiguous; means/stds are (x - mean) / std in float, as the tensor path.
inline ViewBatch describeBatch(const char* op, const at::Tensor& images, const at::Tensor& params, int64_t size,
                               int64_t blurKernel, const c10::optional<at::ArrayRef<double>>& mean,
                               const c10::optional<at::ArrayRef<double>>& std, bool channelsLast) {
  TORCH_CHECK(images.scalar_type() == at::kByte && images.dim() == 4, op, ": images must be uint8 [B,C,H,W], got ",
              images.scalar_type(), " ", images.sizes());
  TORCH_CHECK(params.scalar_type() == at::kFloat && params.dim() == 2 && params.size(1) == kParamCount, op,
              ": params must be float32 [V,", static_cast<int>(kParamCount), "], got ", params.scalar_type(), " ",
              params.sizes());
  const int64_t channels = images.size(1);
  TORCH_CHECK(channels == 1 || channels == 3, op, ": 1 or 3 channels, got ", channels);
  TORCH_CHECK(size > 0 && blurKernel >= 1 && blurKernel % 2 == 1, op, ": bad size ", size, " or blur kernel ",
              blurKernel);
  TORCH_CHECK(size <= 1 << 15 && images.size(2) < (1 << 30) && images.size(3) < (1 << 30), op, ": sizes too large");
  TORCH_CHECK(mean.has_value() == std.has_value() &&
                  (!mean || (static_cast<int64_t>(mean->size()) == channels &&
                             static_cast<int64_t>(std->size()) == channels)),
              op, ": mean and std need one value per channel");
  ViewBatch b{};
  b.images = nullptr;
  b.count = images.size(0);
  b.height = static_cast<int>(images.size(2));
  b.width = static_cast<int>(images.size(3));
  b.size = static_cast<int>(size);
  b.blurKernel = static_cast<int>(blurKernel);
  b.normalize = mean.has_value();
  b.channelsLast = channelsLast;
  for (int c = 0; c < 3; c++) {
    b.means[c] = 0.0f;
    b.stds[c] = 1.0f;
  }
  if (mean)
    for (int64_t c = 0; c < channels; c++) {
      b.means[c] = static_cast<float>((*mean)[c]);
      b.stds[c] = static_cast<float>((*std)[c]);
    }
  return b;
}

// Checks every params row (contiguous float32 [views, kParamCount] on the CPU) as augment.cc does; returns whether
// any view blurs.
inline bool checkRows(const char* op, const float* pd, int64_t views, const ViewBatch& b) {
  bool anyBlur = false;
  for (int64_t v = 0; v < views; v++) {
    const float* row = pd + v * kParamCount;
    const double index = row[kImage];
    TORCH_CHECK(index >= 0 && index < b.count && index == std::floor(index), op, ": view ", v, " names image ", index,
                " of ", b.count);
    bool whole = true;
    for (int k : {kX0, kY0, kCropW, kCropH}) whole = whole && row[k] == std::floor(row[k]);
    TORCH_CHECK(whole, op, ": view ", v, " crop box is not in whole pixels");
    TORCH_CHECK(row[kX0] >= 0 && row[kY0] >= 0 && row[kCropW] >= 1 && row[kCropH] >= 1 &&
                    row[kX0] + row[kCropW] <= b.width && row[kY0] + row[kCropH] <= b.height,
                op, ": view ", v, " crop box is outside the ", b.height, "x", b.width, " image");
    TORCH_CHECK(!(row[kBlurSigma] > 0) || b.blurKernel / 2 < b.size, op, ": view ", v, " blurs with a ", b.blurKernel,
                "-tap kernel, too wide for ", b.size, "-pixel views");
    anyBlur = anyBlur || row[kBlurSigma] > 0;
  }
  return anyBlur;
}

// The output: float32 [V,C,S,S], channels-last strides when asked for and C > 1 (augment.cc's choice).
inline at::Tensor emptyViews(const at::Tensor& images, int64_t views, const ViewBatch& b) {
  const int64_t channels = images.size(1);
  const auto format = b.channelsLast && channels > 1 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  return at::empty({views, channels, b.size, b.size}, images.options().dtype(at::kFloat).memory_format(format));
}

inline std::string paramLayout() { return kParamLayout; }

}  // namespace simclr
