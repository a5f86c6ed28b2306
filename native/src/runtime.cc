// Process-level settings: threads, seeds, autocast, backend availability, build facts.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>

#include <dlfcn.h>

#include "common.h"
#include "compat.h"

namespace tn {

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  TN_GUARD(info.Env(), "setNumThreads", { at::set_num_threads(info[0].As<Napi::Number>().Int32Value()); })
  return info.Env().Undefined();
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

static Napi::Value SetNumInteropThreads(const Napi::CallbackInfo& info) {
  TN_GUARD(info.Env(), "setNumInteropThreads", { at::set_num_interop_threads(info[0].As<Napi::Number>().Int32Value()); })
  return info.Env().Undefined();
}

// manualSeed(seed): seeds the default generators of every device, like torch.manual_seed.
static Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool lossless = true;
  uint64_t seed = info[0].IsBigInt() ? info[0].As<Napi::BigInt>().Uint64Value(&lossless)
                                      : static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  TN_GUARD(env, "manualSeed", {
    auto gen = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    for (int i = 0; i < compat::cudaDeviceCount(); i++) {
      auto g = at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, i));
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_current_seed(seed);
    }
  })
  return env.Undefined();
}

// loadLibrary(path): dlopens a shared library whose static initialisers register operators with the dispatcher
// (TORCH_LIBRARY), as torch.ops.load_library; they are then found by resolveOp like any ATen operator.
static Napi::Value LoadLibrary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* why = dlerror();
    Napi::Error::New(env, "loadLibrary: cannot load " + path + ": " + (why ? why : "unknown error")).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

static Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), compat::cudaDeviceCount());
}

// setAutocast(deviceType, enabled, dtype): mixed precision for ops the autocast lists cover.
static Napi::Value SetAutocast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string device = info[0].As<Napi::String>().Utf8Value();
  bool enabled = info[1].As<Napi::Boolean>().Value();
  auto dtype = static_cast<c10::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  TN_GUARD(env, "autocast", {
    if (device != "cpu" && device != "cuda") throw std::runtime_error("autocast supports 'cpu' and 'cuda', not '" + device + "'");
    compat::setAutocast(device == "cpu" ? c10::DeviceType::CPU : c10::DeviceType::CUDA, enabled, dtype);
    // Cached casts of weights are valid only inside one autocast region.
    if (!enabled) at::autocast::clear_cache();
  })
  return env.Undefined();
}

static Napi::Value IsAutocastEnabled(const Napi::CallbackInfo& info) {
  std::string device = info[0].As<Napi::String>().Utf8Value();
  bool on = compat::isAutocastEnabled(device == "cpu" ? c10::DeviceType::CPU : c10::DeviceType::CUDA);
  return Napi::Boolean::New(info.Env(), on);
}

static Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", TORCH_VERSION);
  o.Set("config", at::show_config());
  o.Set("parallel", at::get_parallel_info());
  o.Set("hasCuda", at::globalContext().hasCUDA());
  o.Set("hasMkldnn", at::globalContext().hasMKLDNN());
  return o;
}

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("setNumInteropThreads", Napi::Function::New(env, SetNumInteropThreads));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("loadLibrary", Napi::Function::New(env, LoadLibrary));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount));
  exports.Set("setAutocast", Napi::Function::New(env, SetAutocast));
  exports.Set("isAutocastEnabled", Napi::Function::New(env, IsAutocastEnabled));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
}

}  // namespace tn
