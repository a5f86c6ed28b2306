// Columns of simclr::augment_views' params tensor, one float32 row per output view: the only C++ definition, shared
// by the CPU kernel (augment.cc), the blockwise operator and the CUDA kernel. src/augment/fused.ts builds the same
// list from its COLUMN table and compares it with kParamLayout, which the libraries report (simclr::param_layout,
// simclr::cuda_param_layout), so a change on one side only fails when the kernels load.
#pragma once

namespace simclr {
namespace columns {

enum Param {
  kImage, kX0, kY0, kCropW, kCropH, kFlip, kJitter, kBrightness, kContrast, kSaturation, kHue,
  kOrder0, kOrder1, kOrder2, kOrder3, kGrayscale, kBlurSigma, kSolarize, kParamCount
};

// The enum's names in order, comma-separated (crop is x0,y0,crop_w,crop_h; order is the 4 jitter op codes).
constexpr const char* kParamLayout =
    "image,x0,y0,crop_w,crop_h,flip,jitter,brightness,contrast,saturation,hue,order0,order1,order2,order3,"
    "grayscale,blur_sigma,solarize";

}  // namespace columns
using namespace columns;
}  // namespace simclr
