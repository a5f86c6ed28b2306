// One SimCLR view made by a group of cooperating threads: the per-view algorithm of simclr::augment_views, written
// once for two builds. nvcc compiles it with one CUDA thread block per view (augment_cuda.cu); g++ compiles it with
// one "thread" per view (augment_blockwise.cc, operator simclr::augment_views_blockwise), which is how its logic is
// tested on machines without a GPU. The Exec policy supplies the thread index and count, the barrier and a block
// sum; everything else is shared.
//
// Semantics are those of the CPU kernel augment.cc (and so of the tensor path, src/augment/apply.ts), with the same
// float operations in the same order where that decides rounding: bilinear taps in double, x / 255 as a division,
// torch.lerp's two forms, clamps after each jitter op, the contrast mean as the luma of per-channel double sums,
// blur sums accumulated tap by tap from 0. Differences left are a few ulps: expf on the device, and whatever fused
// multiply-adds a compiler contracts (the CUDA build turns contraction off). Measured: blockwise equals augment.cc
// bit for bit on an AVX2 machine; on an H200 host (AVX-512 clones of augment.cc) the CPU kernel is up to 7e-6 off
// both, and CUDA vs blockwise up to 5e-7 (values in [0, 1]).
//
// Passes over a view's S*S pixels, with a barrier between them:
//   0. axis taps (and the blur kernel) into the workspace
//   1. only with contrast in the jitter: resample + the jitter ops before contrast, summed per channel (block sum)
//   2. resample + all jitter ops + grayscale; written out directly (solarize, normalise, layout) when there is no
//      blur, else as planar floats into the view's own output slot
//   3. vertical blur: output slot -> tmp
//   4. horizontal blur + clamp + solarize + normalise + layout: tmp -> output slot
// Pass 1 recomputes the resample rather than storing it: the uint8 source is a quarter of a float plane's bytes.
#pragma once

#include <math.h>
#include <stdint.h>

#include "augment_params.h"

#if defined(__CUDACC__)
#define SIMCLR_HD __host__ __device__ __forceinline__
#else
#define SIMCLR_HD inline
#endif

namespace simclr {

// What every view of one call shares.
struct ViewBatch {
  const uint8_t* images;  // [B,C,H,W] contiguous
  int64_t count;          // B
  int height, width;
  int size;               // S: views are S x S
  int blurKernel;         // odd tap count
  bool normalize;
  bool channelsLast;
  float means[3], stds[3];
};

// Per-view scratch the caller provides: 6*S words of axis taps, 256 floats for the byte -> [0, 1] table,
// blurKernel floats of blur weights, and (only where the view blurs) C*S*S floats of tmp.
struct ViewWork {
  int32_t *xlo, *xhi, *ylo, *yhi;
  float *xfrac, *yfrac;
  float* unit;
  float* kernel;
  float* tmp;
};
// Words of ViewWork scratch before tmp (the CUDA kernel keeps them in shared memory).
inline constexpr int64_t viewWorkWords(int size, int blurKernel) { return 6 * static_cast<int64_t>(size) + 256 + blurKernel; }

SIMCLR_HD float clamp01(float v) { return fminf(fmaxf(v, 0.0f), 1.0f); }
SIMCLR_HD int reflectIndex(int i, int length) { return i < 0 ? -i : (i >= length ? 2 * (length - 1) - i : i); }

// Output pixel j of an axis reads between lo and hi with weight frac on hi: interpolate(align_corners=False)'s
// pixel centres, clamped to the crop's edge pixel centres; hi stays inside the crop (augment.cc AxisTaps).
SIMCLR_HD void axisTap(int j, int size, double origin, double span, bool flip, int32_t* lo, int32_t* hi, float* frac) {
  double offset = (j + 0.5) * span / size;
  double src = (flip ? origin + span - offset : origin + offset) - 0.5;
  src = fmin(fmax(src, origin), origin + span - 1.0);
  int l = static_cast<int>(floor(src));
  lo[j] = l;
  int last = static_cast<int>(origin + span) - 1;
  hi[j] = l + 1 < last ? l + 1 : last;
  frac[j] = static_cast<float>(src - l);
}

// Whether a row is one the kernel can make without reading outside the image (the host checks give the messages;
// this guard keeps a device kernel fed unchecked device params from reading out of bounds).
SIMCLR_HD bool rowIsValid(const float* p, const ViewBatch& b) {
  const float index = p[kImage];
  if (!(index >= 0.0f && index < static_cast<float>(b.count) && index == floorf(index))) return false;
  for (int k = kX0; k <= kCropH; k++)
    if (p[k] != floorf(p[k])) return false;
  if (!(p[kX0] >= 0.0f && p[kY0] >= 0.0f && p[kCropW] >= 1.0f && p[kCropH] >= 1.0f &&
        p[kX0] + p[kCropW] <= static_cast<float>(b.width) && p[kY0] + p[kCropH] <= static_cast<float>(b.height)))
    return false;
  return !(p[kBlurSigma] > 0.0f) || b.blurKernel / 2 < b.size;
}

// ---- colour ops on one pixel (C = 1 or 3 channels), each as augment.cc's loops do it -------------------------

template <int C>
SIMCLR_HD void brightnessPx(float* v, float f) {
  for (int c = 0; c < C; c++) v[c] = clamp01(v[c] * f);
}

template <int C>
SIMCLR_HD void blendPx(float* v, float mean, float f) {
  if (f < 0.5f) {
    for (int c = 0; c < C; c++) v[c] = clamp01(mean + f * (v[c] - mean));
  } else {
    const float rest = 1.0f - f;
    for (int c = 0; c < C; c++) v[c] = clamp01(v[c] - (v[c] - mean) * rest);
  }
}

SIMCLR_HD float lumaPx(const float* v) { return v[0] * kLumaR + v[1] * kLumaG + v[2] * kLumaB; }

SIMCLR_HD float hueChannel(float sixths, float offset, float maxc, float chroma) {
  float k = sixths + offset;
  k = k - 6.0f * floorf(k / 6.0f);
  return maxc - fminf(fmaxf(fminf(k, 4.0f - k), 0.0f), 1.0f) * chroma;
}

SIMCLR_HD void huePx(float* v, float turns) {
  const float shift = turns * 6.0f;
  const float rv = v[0], gv = v[1], bv = v[2];
  const float maxc = fmaxf(fmaxf(rv, gv), bv), minc = fminf(fminf(rv, gv), bv);
  const float chroma = maxc - minc;
  const float scaled = rv == maxc ? gv - bv : (gv == maxc ? (bv - rv) + 2.0f * chroma : (rv - gv) + 4.0f * chroma);
  const float sixths = scaled / (chroma > 0.0f ? chroma : 1.0f) + shift;
  v[0] = hueChannel(sixths, 5.0f, maxc, chroma);
  v[1] = hueChannel(sixths, 3.0f, maxc, chroma);
  v[2] = hueChannel(sixths, 1.0f, maxc, chroma);
}

// Jitter op `op` (0 brightness, 1 contrast, 2 saturation, 3 hue) on one pixel; contrast blends with `mean`.
template <int C>
SIMCLR_HD void jitterPx(int op, float* v, const float* p, float mean) {
  switch (op) {
    case 0: brightnessPx<C>(v, p[kBrightness]); break;
    case 1: blendPx<C>(v, mean, p[kContrast]); break;
    case 2:
      if (C == 3) blendPx<C>(v, lumaPx(v), p[kSaturation]);
      break;
    case 3:
      if (C == 3) huePx(v, p[kHue]);
      break;
    default: break;
  }
}

// ---- the view ---------------------------------------------------------------------------------------------

template <int C>
class ViewMaker {
 public:
  SIMCLR_HD ViewMaker(const ViewBatch& b, const float* p, const ViewWork& w, float* out)
      : b_(b), p_(p), w_(w), out_(out), n_(static_cast<int64_t>(b.size) * b.size),
        src_(b.images + static_cast<int64_t>(p[kImage]) * C * b.height * b.width) {
    // The jitter ops that apply, in this view's order: saturation and hue are identities on one channel.
    ops_ = 0;
    contrastAt_ = -1;
    if (p[kJitter] != 0.0f) {
      for (int position = 0; position < 4; position++) {
        const int op = static_cast<int>(p[kOrder0 + position]);
        if (op < 0 || op > 3 || (C == 1 && op >= 2)) continue;
        if (op == 1 && contrastAt_ < 0) contrastAt_ = ops_;
        order_[ops_++] = op;
      }
    }
    blur_ = p[kBlurSigma] > 0.0f;
  }

  template <class Exec>
  SIMCLR_HD void run(Exec& ex) {
    const int S = b_.size, t0 = ex.thread(), nt = ex.threads();
    // Pass 0: taps and blur weights.
    const double x0 = p_[kX0], y0 = p_[kY0], cw = p_[kCropW], ch = p_[kCropH];
    const bool flip = p_[kFlip] != 0.0f;
    for (int j = t0; j < S; j += nt) {
      axisTap(j, S, x0, cw, flip, w_.xlo, w_.xhi, w_.xfrac);
      axisTap(j, S, y0, ch, false, w_.ylo, w_.yhi, w_.yfrac);
    }
    // x / 255 for every byte, as a division (a multiply by 1/255 is an ulp off for about half the values); a table
    // read instead of four divisions per channel and pixel.
    for (int j = t0; j < 256; j += nt) w_.unit[j] = static_cast<float>(j) / 255.0f;
    if (blur_ && t0 == 0) {
      const float sigma = p_[kBlurSigma];
      const int k = b_.blurKernel, half = k / 2;
      float total = 0.0f;
      for (int t = 0; t < k; t++) {
        const float z = static_cast<float>(t - half) / sigma;
        w_.kernel[t] = expf(-0.5f * z * z);
        total += w_.kernel[t];
      }
      for (int t = 0; t < k; t++) w_.kernel[t] /= total;
    }
    ex.sync();

    // Pass 1: the mean contrast blends with, of the view as it is when contrast's turn comes.
    float mean = 0.0f;
    if (contrastAt_ >= 0) {
      double sums[C];
      for (int c = 0; c < C; c++) sums[c] = 0.0;
      for (int i = t0; i < n_; i += nt) {
        float v[C];
        resample(i, v);
        for (int o = 0; o < contrastAt_; o++) jitterPx<C>(order_[o], v, p_, 0.0f);
        for (int c = 0; c < C; c++) sums[c] += v[c];
      }
      ex.template sum<C>(sums);
      const double n = static_cast<double>(n_);
      mean = C == 3 ? static_cast<float>(sums[0] / n) * kLumaR + static_cast<float>(sums[1] / n) * kLumaG +
                          static_cast<float>(sums[C - 1] / n) * kLumaB
                    : static_cast<float>(sums[0] / n);
    }

    // Pass 2: every colour op; straight to the output unless a blur still needs the whole plane.
    const bool gray = C == 3 && p_[kGrayscale] != 0.0f;
    for (int i = t0; i < n_; i += nt) {
      float v[C];
      resample(i, v);
      for (int o = 0; o < ops_; o++) jitterPx<C>(order_[o], v, p_, mean);
      if (gray) {
        const float l = lumaPx(v);
        for (int c = 0; c < C; c++) v[c] = l;
      }
      if (blur_) {
        for (int c = 0; c < C; c++) out_[c * n_ + i] = v[c];
      } else {
        store(i, v);
      }
    }
    if (!blur_) return;
    ex.sync();

    // Pass 3: vertical blur, planar output slot -> tmp.
    const int k = b_.blurKernel, half = k / 2;
    const float* w = w_.kernel;
    for (int i = t0; i < n_; i += nt) {
      const int y = i / S, x = i - y * S;
      for (int c = 0; c < C; c++) {
        const float* plane = out_ + c * n_ + x;
        float acc = 0.0f;
        for (int t = 0; t < k; t++) acc += w[t] * plane[reflectIndex(y + t - half, S) * S];
        w_.tmp[c * n_ + i] = acc;
      }
    }
    ex.sync();

    // Pass 4: horizontal blur, clamped, then the last pixel ops and the output layout.
    for (int i = t0; i < n_; i += nt) {
      const int y = i / S, x = i - y * S;
      float v[C];
      for (int c = 0; c < C; c++) {
        const float* row = w_.tmp + c * n_ + y * S;
        float acc = 0.0f;
        for (int t = 0; t < k; t++) acc += w[t] * row[reflectIndex(x + t - half, S)];
        v[c] = clamp01(acc);
      }
      store(i, v);
    }
  }

 private:
  // Bilinear sample of output pixel i from the uint8 source, as augment.cc's two separable passes round it: along x
  // within each source row first, then between the two rows.
  SIMCLR_HD void resample(int i, float* v) const {
    const int S = b_.size;
    const int y = i / S, x = i - y * S;
    const int a = w_.xlo[x], bx = w_.xhi[x];
    const float f = w_.xfrac[x], g = 1.0f - f;
    const float fy = w_.yfrac[y], gy = 1.0f - fy;
    const int64_t plane = static_cast<int64_t>(b_.height) * b_.width;
    const uint8_t* top = src_ + static_cast<int64_t>(w_.ylo[y]) * b_.width;
    const uint8_t* bottom = src_ + static_cast<int64_t>(w_.yhi[y]) * b_.width;
    for (int c = 0; c < C; c++) {
      const uint8_t* t = top + c * plane;
      const uint8_t* u = bottom + c * plane;
      const float* unit = w_.unit;
      const float h0 = unit[t[a]] * g + unit[t[bx]] * f;
      const float h1 = unit[u[a]] * g + unit[u[bx]] * f;
      v[c] = h0 * gy + h1 * fy;
    }
  }

  // Solarize, normalise, and write pixel i in the output layout.
  SIMCLR_HD void store(int i, float* v) const {
    const bool solarize = p_[kSolarize] != 0.0f;
    for (int c = 0; c < C; c++) {
      float x = v[c];
      if (solarize) x = x >= 0.5f ? 1.0f - x : x;
      if (b_.normalize) x = (x - b_.means[c]) / b_.stds[c];
      if (b_.channelsLast) out_[static_cast<int64_t>(i) * C + c] = x;
      else out_[c * n_ + i] = x;
    }
  }

  // Copies: on the device the batch description is a kernel parameter, and members in registers beat references.
  const ViewBatch b_;
  const float* p_;
  const ViewWork w_;
  float* out_;
  int64_t n_;
  const uint8_t* src_;
  int order_[4];
  int ops_;
  int contrastAt_;
  bool blur_;
};

// One view: the thread group `ex` makes view row `p` into `out` (C*S*S floats).
template <int C, class Exec>
SIMCLR_HD void makeView(Exec& ex, const ViewBatch& b, const float* p, const ViewWork& w, float* out) {
  ViewMaker<C> maker(b, p, w, out);
  maker.run(ex);
}

}  // namespace simclr
