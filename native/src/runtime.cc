// Process-level settings: threads, seeds, autocast, backend availability, build facts, and the torch.cuda runtime
// calls (device selection and properties, synchronisation, caching-allocator statistics), which are compiled only
// against a CUDA libtorch (SIMCLR_WITH_CUDA); elsewhere they report that this libtorch has no CUDA.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>

#if defined(SIMCLR_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#endif

#include <dlfcn.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>

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
// (TORCH_LIBRARY), as torch.ops.load_library; they are then found by resolveOp like any ATen operator. RTLD_LOCAL, as
// torch.ops.load_library (ctypes' default mode): registration needs no exported symbols, and RTLD_GLOBAL put the
// library's whole dependency tree in the global scope, where it captures later modules' lookups. With Debian's
// libtorch, which links the system's GLib, sharp's libvips then called that GLib's g_object_ref on objects of its
// own bundled copy: 32 GLib-GObject-CRITICAL lines per process that used sharp.
// flock(fd, op, wait): flock(2) on a file descriptor Node opened ('ex' exclusive, 'sh' shared, 'un' release). Returns
// false when the lock is held elsewhere and wait is false. Node has no file locks; a lock that the kernel drops when
// its process ends, however it ends, needs no stale-lock guessing (pids, start times, hosts).
static Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string op = info[1].As<Napi::String>().Utf8Value();
  bool wait = info[2].As<Napi::Boolean>().Value();
  int how = op == "ex" ? LOCK_EX : op == "sh" ? LOCK_SH : op == "un" ? LOCK_UN : -1;
  if (how < 0) {
    Napi::TypeError::New(env, "flock: op must be 'ex', 'sh' or 'un', got '" + op + "'").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!wait && how != LOCK_UN) how |= LOCK_NB;
  int rc;
  do {
    rc = flock(fd, how);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  Napi::Error::New(env, std::string("flock: ") + std::strerror(errno)).ThrowAsJavaScriptException();
  return env.Undefined();
}

static Napi::Value LoadLibrary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL) == nullptr) {
    const char* why = dlerror();
    Napi::Error::New(env, "loadLibrary: cannot load " + path + ": " + (why ? why : "unknown error")).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

static Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), compat::cudaDeviceCount());
}

// ---------------------------------------------------------------------------------------------- torch.cuda

// The device a torch.cuda call means: `index` (-1: the current device) checked against the visible devices. Throws
// naming the call and the reason when this addon has no CUDA, no device is visible or the index is out of range.
static int cudaDevice(Napi::Env env, const std::string& what, const Napi::Value& index) {
#if defined(SIMCLR_WITH_CUDA)
  int count = compat::cudaDeviceCount();
  if (count == 0) {
    throw Napi::Error::New(env, "torch.cuda." + what + ": no CUDA device is visible (this libtorch has CUDA, but deviceCount() is 0: check the driver, nvidia-smi and CUDA_VISIBLE_DEVICES)");
  }
  int i = index.IsNumber() ? index.As<Napi::Number>().Int32Value() : -1;
  if (i < 0) {
    TN_GUARD(env, "torch.cuda." + what, { i = c10::cuda::current_device(); })
  }
  if (i >= count) throw Napi::RangeError::New(env, "torch.cuda." + what + ": device " + std::to_string(i) + " does not exist (" + std::to_string(count) + " visible)");
  TN_GUARD(env, "torch.cuda." + what, { compat::lazyInitCuda(); })
  return i;
#else
  throw Napi::Error::New(env, "torch.cuda." + what + ": this libtorch has no CUDA (the addon was built against libtorch " TORCH_VERSION ", CPU only)");
#endif
}

// cudaResolve(what, index|-1) -> the device index a torch.cuda call means, or the error cudaDevice() throws.
static Napi::Value CudaResolve(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cudaDevice(info.Env(), info[0].As<Napi::String>().Utf8Value(), info[1]));
}

// cudaSynchronize(index|-1): waits for all work queued on the device; a no-op without a CUDA device.
static Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(SIMCLR_WITH_CUDA)
  if (compat::cudaDeviceCount() == 0) return env.Undefined();
  int i = cudaDevice(env, "synchronize", info[0]);
  TN_GUARD(env, "torch.cuda.synchronize", {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(i));
    c10::cuda::device_synchronize();
  })
#endif
  return env.Undefined();
}

static Napi::Value CudaCurrentDevice(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cudaDevice(info.Env(), "currentDevice", info.Env().Undefined()));
}

static Napi::Value CudaSetDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int i = cudaDevice(env, "setDevice", info[0]);
#if defined(SIMCLR_WITH_CUDA)
  TN_GUARD(env, "torch.cuda.setDevice", { c10::cuda::set_device(static_cast<c10::DeviceIndex>(i)); })
#endif
  (void)i;
  return env.Undefined();
}

// cudaDeviceProperties(index|-1) -> {name, totalMemory (bytes), major, minor, multiProcessorCount}
static Napi::Value CudaDeviceProperties(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int i = cudaDevice(env, "getDeviceProperties", info[0]);
  Napi::Object o = Napi::Object::New(env);
#if defined(SIMCLR_WITH_CUDA)
  TN_GUARD(env, "torch.cuda.getDeviceProperties", {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(i));
    o.Set("name", std::string(p->name));
    o.Set("totalMemory", static_cast<double>(p->totalGlobalMem));
    o.Set("major", p->major);
    o.Set("minor", p->minor);
    o.Set("multiProcessorCount", p->multiProcessorCount);
  })
#endif
  (void)i;
  return o;
}

// cudaMemoryAllocated(index|-1, peak) -> bytes of tensor memory the caching allocator holds for tensors on the device.
static Napi::Value CudaMemoryAllocated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool peak = info[1].ToBoolean().Value();
  int i = cudaDevice(env, peak ? "maxMemoryAllocated" : "memoryAllocated", info[0]);
  double bytes = 0;
#if defined(SIMCLR_WITH_CUDA)
  TN_GUARD(env, "torch.cuda.memoryAllocated", { bytes = static_cast<double>(compat::cudaAllocatedBytes(static_cast<c10::DeviceIndex>(i), peak)); })
#endif
  (void)i;
  return Napi::Number::New(env, bytes);
}

static Napi::Value CudaResetPeakMemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int i = cudaDevice(env, "resetPeakMemoryStats", info[0]);
#if defined(SIMCLR_WITH_CUDA)
  TN_GUARD(env, "torch.cuda.resetPeakMemoryStats", { c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(i)); })
#endif
  (void)i;
  return env.Undefined();
}

// Returns cached, unused blocks to the driver (other processes see the memory free); a no-op without a CUDA device.
static Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(SIMCLR_WITH_CUDA)
  if (compat::cudaDeviceCount() > 0) {
    TN_GUARD(env, "torch.cuda.emptyCache", { c10::cuda::CUDACachingAllocator::emptyCache(); })
  }
#endif
  return env.Undefined();
}

// backendFlag(name) / setBackendFlag(name, on): torch.backends switches kept in at::globalContext().
static Napi::Value BackendFlag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  bool on = false;
  if (name == "cudnn.benchmark") on = at::globalContext().benchmarkCuDNN();
  else if (name == "cudnn.allowTF32") on = compat::allowTF32CuDNN();
  else if (name == "cuda.matmul.allowTF32") on = compat::allowTF32CuBLAS();
  else throw Napi::Error::New(env, "torch.backends: unknown flag '" + name + "'");
  return Napi::Boolean::New(env, on);
}

static Napi::Value SetBackendFlag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  bool on = info[1].As<Napi::Boolean>().Value();
  TN_GUARD(env, "torch.backends." + name, {
    if (name == "cudnn.benchmark") at::globalContext().setBenchmarkCuDNN(on);
    else if (name == "cudnn.allowTF32") compat::setAllowTF32CuDNN(on);
    else if (name == "cuda.matmul.allowTF32") compat::setAllowTF32CuBLAS(on);
    else throw std::runtime_error("unknown flag '" + name + "'");
  })
  return env.Undefined();
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
#if defined(SIMCLR_WITH_CUDA)
  o.Set("withCuda", true);  // the addon's own CUDA code (NCCL, torch.cuda calls) is compiled in
#else
  o.Set("withCuda", false);
#endif
  o.Set("hasMkldnn", at::globalContext().hasMKLDNN());
  return o;
}

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("setNumInteropThreads", Napi::Function::New(env, SetNumInteropThreads));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("loadLibrary", Napi::Function::New(env, LoadLibrary));
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount));
  exports.Set("cudaResolve", Napi::Function::New(env, CudaResolve));
  exports.Set("cudaSynchronize", Napi::Function::New(env, CudaSynchronize));
  exports.Set("cudaCurrentDevice", Napi::Function::New(env, CudaCurrentDevice));
  exports.Set("cudaSetDevice", Napi::Function::New(env, CudaSetDevice));
  exports.Set("cudaDeviceProperties", Napi::Function::New(env, CudaDeviceProperties));
  exports.Set("cudaMemoryAllocated", Napi::Function::New(env, CudaMemoryAllocated));
  exports.Set("cudaResetPeakMemoryStats", Napi::Function::New(env, CudaResetPeakMemoryStats));
  exports.Set("cudaEmptyCache", Napi::Function::New(env, CudaEmptyCache));
  exports.Set("backendFlag", Napi::Function::New(env, BackendFlag));
  exports.Set("setBackendFlag", Napi::Function::New(env, SetBackendFlag));
  exports.Set("setAutocast", Napi::Function::New(env, SetAutocast));
  exports.Set("isAutocastEnabled", Napi::Function::New(env, IsAutocastEnabled));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
}

}  // namespace tn
