// The one place where libtorch versions differ for the binding. Every other file is written against the APIs that
// 1.13 and 2.x share; what 2.x renamed or reshaped is wrapped here, keyed on TORCH_VERSION_MAJOR/MINOR.
//   - c10d (2.0): a Gloo group is a c10d::Backend; c10d::ProcessGroup became a dispatcher over backends.
//   - autograd (later 2.x): nodes are owned by c10::intrusive_ptr instead of std::shared_ptr, and the shared_ptr
//     deleter torch::autograd::deleteNode is gone (detected from the Node type, not a version number).
//   - autocast (2.4): per-device-type set_autocast_enabled / set_autocast_dtype replace set_cpu_enabled & co.
//   - CUDA hooks: getNumGPUs(), which both releases have (2.x adds deviceCount() beside it).
//   - CUDA caching allocator statistics (SIMCLR_WITH_CUDA builds only): their type and StatType's namespace moved
//     during 2.x (c10::cuda::CUDACachingAllocator -> c10::CachingAllocator / CachingDeviceAllocator).
//   - TF32 switches: 2.x keeps the 1.13 getters and setters beside its fp32-precision API; these use the former.
#pragma once
#include <torch/csrc/api/include/torch/version.h>  // 2.x forwards this to torch/headeronly/version.h

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/autograd/function.h>

#include <memory>
#include <type_traits>
#include <utility>

#define TN_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#if defined(SIMCLR_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#if defined(TN_COMPAT_C10D)
#if TN_TORCH_AT_LEAST(2, 0)
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#endif

namespace tn::compat {

#if defined(TN_COMPAT_C10D)
// What runs collectives for one backend (allreduce, allgather, broadcast, barrier, getBackendName): the Gloo (or NCCL)
// object itself in both versions, typed by its base class.
#if TN_TORCH_AT_LEAST(2, 0)
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

// Tells an NCCL group which GPU this rank uses (its barrier runs there). Releases before 2.3 cannot be told; their
// barrier guesses the GPU from the rank.
inline void bindDevice(Collectives& pg, const c10::Device& device) {
#if TN_TORCH_AT_LEAST(2, 3)
  pg.setBoundDeviceId(device);
#else
  (void)pg;
  (void)device;
#endif
}
#endif

// How autograd nodes are owned: std::shared_ptr up to the 2.x releases that made Node an intrusive_ptr_target, then
// c10::intrusive_ptr. Detected from the type itself rather than a version number, since the switch came mid-2.x.
inline constexpr bool kIntrusiveNodes = std::is_base_of_v<c10::intrusive_ptr_target, torch::autograd::Node>;
template <class T>
using NodePtr = std::conditional_t<kIntrusiveNodes, c10::intrusive_ptr<T>, std::shared_ptr<T>>;

// A new autograd node of type T. 1.13 frees nodes with deleteNode (which frees long graphs without deep recursion);
// intrusive_ptr releases have no such deleter.
template <class T>
NodePtr<T> makeNode() {
  if constexpr (kIntrusiveNodes) {
    return c10::make_intrusive<T>();
  } else {
#if TORCH_VERSION_MAJOR < 2
    return std::shared_ptr<T>(new T(), torch::autograd::deleteNode);
#else
    // (A name the branch not taken cannot even look up: 2.x releases without deleteNode would not compile.) Freeing
    // this node releases the graph below it through that graph's own deleters, so plain ownership suffices here.
    return std::make_shared<T>();
#endif
  }
}

// Autocast state of one device type (CPU or CUDA).
inline void setAutocast(c10::DeviceType device, bool enabled, c10::ScalarType dtype) {
#if TN_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device, enabled);
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

inline bool isAutocastEnabled(c10::DeviceType device) {
#if TN_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

// Number of visible CUDA devices; 0 when the libtorch has no CUDA.
inline int cudaDeviceCount() {
  if (!at::globalContext().hasCUDA()) return 0;
  return static_cast<int>(at::detail::getCUDAHooks().getNumGPUs());
}

// TF32 use by cuDNN convolutions and by cuBLAS matmuls (PyTorch's defaults: cuDNN on, cuBLAS off). Plain flags in
// at::globalContext(), present in CPU builds too, where they change nothing.
inline bool allowTF32CuDNN() { return at::globalContext().allowTF32CuDNN(); }
inline void setAllowTF32CuDNN(bool on) { at::globalContext().setAllowTF32CuDNN(on); }
inline bool allowTF32CuBLAS() { return at::globalContext().allowTF32CuBLAS(); }
inline void setAllowTF32CuBLAS(bool on) { at::globalContext().setAllowTF32CuBLAS(on); }

#if defined(SIMCLR_WITH_CUDA)
// Bytes the CUDA caching allocator has handed out on one device: now, or the peak since the last reset.
// CUDA's lazy initialisation (as Python's torch.cuda._lazy_init): sets up the caching allocator for every device,
// whose statistics calls otherwise fail with "Invalid device argument" before the first CUDA allocation. 2.x
// releases renamed lazyInitCUDA() to lazyInitDevice(kCUDA) and made the old name warn at run time.
template <class C>
auto lazyInitCudaOf(C& c, int) -> decltype(c.lazyInitDevice(c10::DeviceType::CUDA), void()) {
  c.lazyInitDevice(c10::DeviceType::CUDA);
}
template <class C>
void lazyInitCudaOf(C& c, long) {
  c.lazyInitCUDA();
}
inline void lazyInitCuda() { lazyInitCudaOf(at::globalContext(), 0); }

inline int64_t cudaAllocatedBytes(c10::DeviceIndex device, bool peak) {
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
  // Entry 0 is StatType::AGGREGATE (all pools) in every release, whichever namespace StatType lives in.
  const auto& s = stats.allocated_bytes[0];
  return peak ? s.peak : s.current;
}
#endif

}  // namespace tn::compat
