// simclr::augment_views: SimCLR's view augmentation fused into one CPU pass per view, registered as a PyTorch
// custom operator. The binding knows nothing of it: src/augment loads this library (torch.loadLibrary, as
// torch.ops.load_library) and calls the operator through the dispatcher like any ATen op.
//
// Why a kernel: the same pipeline as batched tensor ops (src/augment/apply.ts, which stays the reference and the
// path for other devices) makes ~25 passes over every float image in memory; at 96 px that was 35-40% of a
// training step on 2 cores. Here each view is made in a per-thread scratch that stays in cache, and written once,
// already in the layout the model reads. Semantics are those of the tensor path (itself tested against
// torchvision): bilinear crop-resize-flip as grid_sample/interpolate(align_corners=False) with the crop's edge
// pixels clamped, colour jitter in each view's order with torchvision's clamps, HSV hue rotation, ITU-R 601-2
// grayscale, separable Gaussian blur with reflect padding, solarize, optional per-channel normalisation.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <omp.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <vector>

#include "augment_params.h"

namespace {

// Columns of the params tensor (kImage, kX0, ... kParamCount): augment_params.h.
using namespace simclr::columns;

inline float clamp01(float v) { return std::min(std::max(v, 0.0f), 1.0f); }

// Source sample positions along one axis: output pixel j reads between pixels lo[j] and hi[j] with weight frac[j]
// on hi. Pixel-centre convention of interpolate(align_corners=False), clamped to the crop's edge pixel centres.
struct AxisTaps {
  std::vector<int32_t> lo, hi;
  std::vector<float> frac;
  void build(int size, double origin, double span, bool flip) {
    lo.resize(size); hi.resize(size); frac.resize(size);
    for (int j = 0; j < size; j++) {
      double offset = (j + 0.5) * span / size;
      double src = (flip ? origin + span - offset : origin + offset) - 0.5;
      // Inside the image too: the crop box was checked to be.
      src = std::min(std::max(src, origin), origin + span - 1.0);
      int l = static_cast<int>(std::floor(src));
      lo[j] = l;
      // The crop's last pixel rather than its neighbour where the weight on it is 0: only crop pixels are read.
      hi[j] = std::min(l + 1, static_cast<int>(origin + span) - 1);
      frac[j] = static_cast<float>(src - l);
    }
  }
};

// The per-view work on planar float channels of n = size*size pixels each: plain loops over contiguous rows that
// the compiler vectorises, built for several instruction sets and picked at load time. Blends follow torch.lerp's
// two forms (start + w * (end - start) below w = 0.5, end - (end - start) * (1 - w) from there); results still
// differ from the tensor path by rounding where its vectorised kernels fuse or reorder operations.
#define SIMCLR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

SIMCLR_CLONES void brightness(float* x, int64_t count, float f) {
  for (int64_t i = 0; i < count; i++) x[i] = clamp01(x[i] * f);
}

SIMCLR_CLONES void blendWithScalar(float* x, int64_t count, float mean, float f) {
  if (f < 0.5f) {
    for (int64_t i = 0; i < count; i++) x[i] = clamp01(mean + f * (x[i] - mean));
  } else {
    const float rest = 1.0f - f;
    for (int64_t i = 0; i < count; i++) x[i] = clamp01(x[i] - (x[i] - mean) * rest);
  }
}

// The weight is the same for every pixel, so each of lerp's two forms gets its own branch-free loop.
SIMCLR_CLONES void saturation(float* r, float* g, float* b, int64_t n, float f) {
  if (f < 0.5f) {
    for (int64_t i = 0; i < n; i++) {
      float gray = r[i] * kLumaR + g[i] * kLumaG + b[i] * kLumaB;
      r[i] = clamp01(gray + f * (r[i] - gray));
      g[i] = clamp01(gray + f * (g[i] - gray));
      b[i] = clamp01(gray + f * (b[i] - gray));
    }
  } else {
    const float rest = 1.0f - f;
    for (int64_t i = 0; i < n; i++) {
      float gray = r[i] * kLumaR + g[i] * kLumaG + b[i] * kLumaB;
      r[i] = clamp01(r[i] - (r[i] - gray) * rest);
      g[i] = clamp01(g[i] - (g[i] - gray) * rest);
      b[i] = clamp01(b[i] - (b[i] - gray) * rest);
    }
  }
}

// HSV hue rotation by `turns`. Hue in sixths of a turn from the largest channel (first of r, g, b on ties); back to
// RGB each channel is max - chroma * clamp(min(k, 4 - k), 0, 1), k = (offset + hue) mod 6, offsets 5, 3, 1.
inline float hueChannel(float sixths, float offset, float maxc, float chroma) {
  float k = sixths + offset;
  k = k - 6.0f * std::floor(k / 6.0f);
  return maxc - std::min(std::max(std::min(k, 4.0f - k), 0.0f), 1.0f) * chroma;
}

SIMCLR_CLONES void hue(float* r, float* g, float* b, int64_t n, float turns) {
  const float shift = turns * 6.0f;
  for (int64_t i = 0; i < n; i++) {
    float rv = r[i], gv = g[i], bv = b[i];
    float maxc = std::max(std::max(rv, gv), bv), minc = std::min(std::min(rv, gv), bv);
    float chroma = maxc - minc;
    // All three candidates, then selects: branch-free, so the loop vectorises.
    float fromRed = gv - bv, fromGreen = (bv - rv) + 2.0f * chroma, fromBlue = (rv - gv) + 4.0f * chroma;
    float scaled = rv == maxc ? fromRed : (gv == maxc ? fromGreen : fromBlue);
    float sixths = scaled / (chroma > 0.0f ? chroma : 1.0f) + shift;
    r[i] = hueChannel(sixths, 5.0f, maxc, chroma);
    g[i] = hueChannel(sixths, 3.0f, maxc, chroma);
    b[i] = hueChannel(sixths, 1.0f, maxc, chroma);
  }
}

SIMCLR_CLONES void grayscale(float* r, float* g, float* b, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float gray = r[i] * kLumaR + g[i] * kLumaG + b[i] * kLumaB;
    r[i] = gray; g[i] = gray; b[i] = gray;
  }
}

SIMCLR_CLONES void solarize(float* x, int64_t count) {
  for (int64_t i = 0; i < count; i++) x[i] = x[i] >= 0.5f ? 1.0f - x[i] : x[i];
}

SIMCLR_CLONES double sum(const float* x, int64_t count) {
  double total = 0.0;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < count; i++) total += x[i];
  return total;
}

inline int reflect(int i, int length) { return i < 0 ? -i : (i >= length ? 2 * (length - 1) - i : i); }

// 16 floats as one value (a single AVX-512 register, or several narrower ones in the other builds); aligned(4)
// lets it load from and store to any float address.
typedef float Float16 __attribute__((vector_size(64), aligned(4)));

__attribute__((always_inline)) inline Float16 clamp01(Float16 v) {
  v = v < 0.0f ? Float16{} : v;
  return v > 1.0f ? Float16{} + 1.0f : v;
}

// out[x] = sum over t of w[t] * rows[t][x], clamped to [0, 1] if asked. Sums stay in registers across all taps;
// four blocks at a time give four independent FMA chains instead of one that waits on each add.
SIMCLR_CLONES void weightedRowSum(const float* const* rows, const float* w, int k, float* out, int count, bool clamp) {
  int x = 0;
  for (; x + 64 <= count; x += 64) {
    Float16 a0 = {}, a1 = {}, a2 = {}, a3 = {};
    for (int t = 0; t < k; t++) {
      const Float16* row = reinterpret_cast<const Float16*>(rows[t] + x);
      const float wt = w[t];
      a0 += wt * row[0];
      a1 += wt * row[1];
      a2 += wt * row[2];
      a3 += wt * row[3];
    }
    Float16* o = reinterpret_cast<Float16*>(out + x);
    o[0] = clamp ? clamp01(a0) : a0;
    o[1] = clamp ? clamp01(a1) : a1;
    o[2] = clamp ? clamp01(a2) : a2;
    o[3] = clamp ? clamp01(a3) : a3;
  }
  for (; x + 16 <= count; x += 16) {
    Float16 a = {};
    for (int t = 0; t < k; t++) a += w[t] * *reinterpret_cast<const Float16*>(rows[t] + x);
    *reinterpret_cast<Float16*>(out + x) = clamp ? clamp01(a) : a;
  }
  for (; x < count; x++) {
    float acc = 0.0f;
    for (int t = 0; t < k; t++) acc += w[t] * rows[t][x];
    out[x] = clamp ? clamp01(acc) : acc;
  }
}

// Separable blur of one size x size plane into itself (tmp holds the vertical pass), then clamped to [0, 1].
void blurPlane(float* plane, float* tmp, int size, const float* kernel, int k, std::vector<const float*>& taps,
               std::vector<float>& padded) {
  const int half = k / 2;
  taps.resize(k);
  for (int y = 0; y < size; y++) {
    for (int t = 0; t < k; t++) taps[t] = plane + static_cast<int64_t>(reflect(y + t - half, size)) * size;
    weightedRowSum(taps.data(), kernel, k, tmp + static_cast<int64_t>(y) * size, size, false);
  }
  padded.resize(size + 2 * half);
  for (int t = 0; t < k; t++) taps[t] = padded.data() + t;
  for (int y = 0; y < size; y++) {
    const float* in = tmp + static_cast<int64_t>(y) * size;
    std::copy(in, in + size, padded.data() + half);
    for (int x = 1; x <= half; x++) {
      padded[half - x] = in[reflect(-x, size)];
      padded[half + size - 1 + x] = in[reflect(size - 1 + x, size)];
    }
    weightedRowSum(taps.data(), kernel, k, plane + static_cast<int64_t>(y) * size, size, true);
  }
}

// Bilinear resampling of a uint8 image (planar, channels x height x width) into planar floats, in two separable
// passes: every crop row is interpolated along x once (all channels together, so each tap index and weight is
// loaded once per pixel), then each output row blends its two source rows.
SIMCLR_CLONES void resample(const uint8_t* src, int channels, int height, int width, int cropX0, int cropW, int cropY0,
                            int cropH, float* dst, int size, const AxisTaps& ys, const AxisTaps& xs,
                            std::vector<float>& lines, std::vector<float>& rows) {
  const int64_t plane = static_cast<int64_t>(height) * width;
  const int64_t rowsPerChannel = static_cast<int64_t>(cropH) * size;
  lines.resize(static_cast<size_t>(channels) * width);
  rows.resize(channels * rowsPerChannel);
  const int32_t* lo = xs.lo.data();
  const int32_t* hi = xs.hi.data();
  const float* fx = xs.frac.data();
  for (int r = 0; r < cropH; r++) {
    for (int c = 0; c < channels; c++) {
      const uint8_t* in = src + c * plane + static_cast<int64_t>(cropY0 + r) * width;
      float* line = lines.data() + static_cast<int64_t>(c) * width;
      // A division, as the tensor path's x / 255 (a multiply by 1/255 is an ulp off for about half the values).
      for (int x = cropX0; x < cropX0 + cropW; x++) line[x] = static_cast<float>(in[x]) / 255.0f;
    }
    const float* l0 = lines.data();
    float* o0 = rows.data() + static_cast<int64_t>(r) * size;
    if (channels == 3) {
      const float* l1 = l0 + width;
      const float* l2 = l1 + width;
      float* o1 = o0 + rowsPerChannel;
      float* o2 = o1 + rowsPerChannel;
      for (int j = 0; j < size; j++) {
        const int a = lo[j], b = hi[j];
        const float f = fx[j], g = 1.0f - f;
        o0[j] = l0[a] * g + l0[b] * f;
        o1[j] = l1[a] * g + l1[b] * f;
        o2[j] = l2[a] * g + l2[b] * f;
      }
    } else {
      for (int j = 0; j < size; j++) o0[j] = l0[lo[j]] * (1.0f - fx[j]) + l0[hi[j]] * fx[j];
    }
  }
  const int64_t n = static_cast<int64_t>(size) * size;
  for (int c = 0; c < channels; c++) {
    const float* base = rows.data() + c * rowsPerChannel;
    for (int i = 0; i < size; i++) {
      const float* top = base + static_cast<int64_t>(ys.lo[i] - cropY0) * size;
      const float* bottom = base + static_cast<int64_t>(ys.hi[i] - cropY0) * size;
      const float fy = ys.frac[i];
      float* out = dst + c * n + static_cast<int64_t>(i) * size;
      for (int j = 0; j < size; j++) out[j] = top[j] * (1.0f - fy) + bottom[j] * fy;
    }
  }
}

// Writes one view's planar result to its output slot as NCHW or interleaved NHWC, normalised when means is set.
SIMCLR_CLONES void store(const float* x, float* o, int64_t channels, int64_t n, const float* means, const float* stds,
                         bool channelsLast) {
  if (channelsLast && channels == 3) {
    const float* r = x;
    const float* g = x + n;
    const float* b = x + 2 * n;
    if (means == nullptr) {
      for (int64_t i = 0; i < n; i++) {
        o[3 * i] = r[i];
        o[3 * i + 1] = g[i];
        o[3 * i + 2] = b[i];
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        o[3 * i] = (r[i] - means[0]) / stds[0];
        o[3 * i + 1] = (g[i] - means[1]) / stds[1];
        o[3 * i + 2] = (b[i] - means[2]) / stds[2];
      }
    }
    return;
  }
  // NCHW, or one channel (where both layouts are the same).
  if (means == nullptr) {
    std::copy(x, x + channels * n, o);
    return;
  }
  for (int64_t c = 0; c < channels; c++)
    for (int64_t i = 0; i < n; i++) o[c * n + i] = (x[c * n + i] - means[c]) / stds[c];
}

struct Scratch {
  std::vector<float> planes, tmp, line, rows, padded, kernel;
  std::vector<const float*> taps;
  AxisTaps ys, xs;
};

void augmentOne(const uint8_t* image, int channels, int height, int width, const float* p, int size, int blurKernel,
                Scratch& s) {
  const int64_t n = static_cast<int64_t>(size) * size;
  s.planes.resize(channels * n);
  float* x = s.planes.data();
  s.ys.build(size, p[kY0], p[kCropH], false);
  s.xs.build(size, p[kX0], p[kCropW], p[kFlip] != 0.0f);
  resample(image, channels, height, width, static_cast<int>(p[kX0]), static_cast<int>(p[kCropW]),
           static_cast<int>(p[kY0]), static_cast<int>(p[kCropH]), x, size, s.ys, s.xs, s.line, s.rows);

  // Channel planes of a colour view (unused for one channel).
  float* r = x;
  float* g = channels == 3 ? x + n : nullptr;
  float* b = channels == 3 ? x + 2 * n : nullptr;
  if (p[kJitter] != 0.0f) {
    for (int position = 0; position < 4; position++) {
      const int op = static_cast<int>(p[kOrder0 + position]);
      if (channels == 1 && op >= 2) continue;  // saturation and hue are identities on one channel
      switch (op) {
        case 0: brightness(x, channels * n, p[kBrightness]); break;
        case 1: {
          double sums[3] = {0, 0, 0};
          for (int c = 0; c < channels; c++) sums[c] = sum(x + c * n, n);
          const float mean = channels == 3
              ? static_cast<float>(sums[0] / n) * kLumaR + static_cast<float>(sums[1] / n) * kLumaG +
                    static_cast<float>(sums[2] / n) * kLumaB
              : static_cast<float>(sums[0] / n);
          blendWithScalar(x, channels * n, mean, p[kContrast]);
          break;
        }
        case 2: saturation(r, g, b, n, p[kSaturation]); break;
        case 3: hue(r, g, b, n, p[kHue]); break;
      }
    }
  }
  if (channels == 3 && p[kGrayscale] != 0.0f) grayscale(r, g, b, n);
  if (p[kBlurSigma] > 0.0f) {
    const float sigma = p[kBlurSigma];
    const int half = blurKernel / 2;
    std::vector<float>& kernel = s.kernel;
    kernel.resize(blurKernel);
    float total = 0.0f;
    for (int t = 0; t < blurKernel; t++) {
      const float z = static_cast<float>(t - half) / sigma;
      kernel[t] = std::exp(-0.5f * z * z);
      total += kernel[t];
    }
    for (float& w : kernel) w /= total;
    s.tmp.resize(n);
    for (int c = 0; c < channels; c++) blurPlane(x + c * n, s.tmp.data(), size, kernel.data(), blurKernel, s.taps, s.padded);
  }
  if (p[kSolarize] != 0.0f) solarize(x, channels * n);
}

at::Tensor augmentViews(const at::Tensor& images, const at::Tensor& params, int64_t size, int64_t blurKernel,
                        c10::optional<at::ArrayRef<double>> mean, c10::optional<at::ArrayRef<double>> std,
                        bool channelsLast) {
  TORCH_CHECK(images.device().is_cpu() && params.device().is_cpu(), "simclr::augment_views: CPU tensors only");
  TORCH_CHECK(images.scalar_type() == at::kByte && images.dim() == 4,
              "simclr::augment_views: images must be uint8 [B,C,H,W], got ", images.scalar_type(), " ", images.sizes());
  TORCH_CHECK(params.scalar_type() == at::kFloat && params.dim() == 2 && params.size(1) == kParamCount,
              "simclr::augment_views: params must be float32 [V,", static_cast<int>(kParamCount), "], got ",
              params.scalar_type(), " ", params.sizes());
  const int64_t count = images.size(0), channels = images.size(1), height = images.size(2), width = images.size(3);
  TORCH_CHECK(channels == 1 || channels == 3, "simclr::augment_views: 1 or 3 channels, got ", channels);
  TORCH_CHECK(size > 0 && blurKernel >= 1 && blurKernel % 2 == 1,
              "simclr::augment_views: bad size ", size, " or blur kernel ", blurKernel);
  TORCH_CHECK(mean.has_value() == std.has_value() && (!mean || (static_cast<int64_t>(mean->size()) == channels &&
                                                               static_cast<int64_t>(std->size()) == channels)),
              "simclr::augment_views: mean and std need one value per channel");
  const at::Tensor src = images.contiguous();
  const at::Tensor p = params.contiguous();
  const int64_t views = p.size(0);
  const float* pd = p.data_ptr<float>();
  for (int64_t v = 0; v < views; v++) {
    const float* row = pd + v * kParamCount;
    const double index = row[kImage];
    TORCH_CHECK(index >= 0 && index < count && index == std::floor(index), "simclr::augment_views: view ", v,
                " names image ", index, " of ", count);
    // Whole pixels: only the crop's rows and columns are read into the scratch buffers.
    bool whole = true;
    for (int k : {kX0, kY0, kCropW, kCropH}) whole = whole && row[k] == std::floor(row[k]);
    TORCH_CHECK(whole, "simclr::augment_views: view ", v, " crop box is not in whole pixels");
    TORCH_CHECK(row[kX0] >= 0 && row[kY0] >= 0 && row[kCropW] >= 1 && row[kCropH] >= 1 &&
                    row[kX0] + row[kCropW] <= width && row[kY0] + row[kCropH] <= height,
                "simclr::augment_views: view ", v, " crop box is outside the ", height, "x", width, " image");
    // Reflect padding needs the kernel's half-width inside the image, as F.pad(mode='reflect') does.
    TORCH_CHECK(!(row[kBlurSigma] > 0) || blurKernel / 2 < size, "simclr::augment_views: view ", v,
                " blurs with a ", blurKernel, "-tap kernel, too wide for ", size, "-pixel views");
  }

  // One channel: both layouts are the same bytes, and the strides are those .contiguous(channels_last) leaves on
  // such a tensor (NCHW), so libtorch picks the same kernels as for the tensor path's output.
  const auto format = channelsLast && channels > 1 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  at::Tensor out = at::empty({views, channels, size, size}, images.options().dtype(at::kFloat).memory_format(format));
  float* od = out.data_ptr<float>();
  const uint8_t* sd = src.data_ptr<uint8_t>();
  const int64_t n = size * size;
  // (x - mean) / std in float, as the tensor path does.
  std::vector<float> means(channels, 0.0f), stds(channels, 1.0f);
  if (mean)
    for (int64_t c = 0; c < channels; c++) {
      means[c] = static_cast<float>((*mean)[c]);
      stds[c] = static_cast<float>((*std)[c]);
    }

  // Views are handed out a few at a time rather than split into one fixed share per thread: they differ in cost
  // (blur, jitter), and on a shared machine a thread that loses its core would otherwise hold up the whole call.
  // OpenMP directly (the runtime this library links), with torch's thread count.
  std::exception_ptr failure;
#pragma omp parallel num_threads(at::get_num_threads())
  {
    // Per thread and kept across calls: OpenMP reuses its threads, so the buffers are allocated (and their pages
    // touched) once, not on every call.
    static thread_local Scratch scratch;
#pragma omp for schedule(dynamic, 4)
    for (int64_t v = 0; v < views; v++) {
      try {
        const float* row = pd + v * kParamCount;
        const uint8_t* image = sd + static_cast<int64_t>(row[kImage]) * channels * height * width;
        augmentOne(image, channels, height, width, row, size, blurKernel, scratch);
        store(scratch.planes.data(), od + v * channels * n, channels, n, mean ? means.data() : nullptr, stds.data(),
              channelsLast);
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

TORCH_LIBRARY(simclr, m) {
  m.def("augment_views(Tensor images, Tensor params, int size, int blur_kernel, float[]? mean=None, "
        "float[]? std=None, bool channels_last=False) -> Tensor");
  m.impl("augment_views", c10::DispatchKey::CPU, TORCH_FN(augmentViews));
}
