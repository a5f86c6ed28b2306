// Columns of simclr::augment_views' params tensor, one float32 row per output view: the only C++ definition, shared
// by the CPU kernel (augment.cc), the blockwise operator and the CUDA kernel. src/augment/fused.ts builds the same
// list from the columns of the ops it runs (FUSED_OPS, each defined in src/augment/ops/) and compares it with
// kParamLayout, which the libraries report (simclr::param_layout, simclr::cuda_param_layout), so a change on one side
// fails when the kernels load. The luma weights ride along.
#pragma once

namespace simclr {
namespace columns {

enum Param {
  kImage, kX0, kY0, kCropW, kCropH, kFlip, kJitter, kBrightness, kContrast, kSaturation, kHue,
  kOrder0, kOrder1, kOrder2, kOrder3, kGrayscale, kBlurSigma, kSolarize, kParamCount
};

// ITU-R 601-2 luma weights (grayscale, saturation, contrast). The definition is src/data/colour.ts; these are its
// copy for the kernels, reported in kParamLayout so a difference fails when the libraries load.
#define SIMCLR_LUMA_R 0.299
#define SIMCLR_LUMA_G 0.587
#define SIMCLR_LUMA_B 0.114
constexpr float kLumaR = SIMCLR_LUMA_R, kLumaG = SIMCLR_LUMA_G, kLumaB = SIMCLR_LUMA_B;
#define SIMCLR_STRINGIFY(x) #x
#define SIMCLR_TEXT(x) SIMCLR_STRINGIFY(x)

// The enum's names in order, comma-separated (crop is x0,y0,crop_w,crop_h; order is the 4 jitter op codes), then
// ';luma=' and the three luma weights as written above.
constexpr const char* kParamLayout =
    "image,x0,y0,crop_w,crop_h,flip,jitter,brightness,contrast,saturation,hue,order0,order1,order2,order3,"
    "grayscale,blur_sigma,solarize;luma=" SIMCLR_TEXT(SIMCLR_LUMA_R) "," SIMCLR_TEXT(SIMCLR_LUMA_G) ","
    SIMCLR_TEXT(SIMCLR_LUMA_B);

}  // namespace columns
using namespace columns;
}  // namespace simclr
