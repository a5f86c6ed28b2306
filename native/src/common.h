// Shared declarations of the libtorch binding. The binding is general: it knows tensors, operators and
// autograd, and nothing of any model built on it.
#pragma once
#include <napi.h>

#include <ATen/core/Tensor.h>
#include <ATen/core/Generator.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace tn {

struct StorageEntry {
  int64_t handles = 0;
  int64_t bytes = 0;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;                // "aten::add.Tensor", for messages
  std::vector<std::string> where;  // "aten::add.Tensor argument 'other'", one per argument
};

// Per-environment state: each worker_thread loads its own instance of the addon.
struct AddonState {
  Napi::FunctionReference tensorClass;
  Napi::FunctionReference generatorClass;
  // Bytes reported to V8 per storage, so views of one storage are counted once.
  std::unordered_map<const void*, StorageEntry> storages;
  std::vector<OpEntry> ops;
};

AddonState& state(Napi::BasicEnv env);

// A JS handle owning one at::Tensor reference.
class NativeTensor : public Napi::ObjectWrap<NativeTensor> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeTensor(const Napi::CallbackInfo& info);
  // Runs synchronously inside GC (a basic finalizer), so dropped tensors free native memory at once.
  void Finalize(Napi::BasicEnv env) override;
  at::Tensor tensor;
  void Release(Napi::BasicEnv env);

 private:
  const void* storageKey_ = nullptr;
};

class NativeGenerator : public Napi::ObjectWrap<NativeGenerator> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeGenerator(const Napi::CallbackInfo& info);
  at::Generator generator;

 private:
  Napi::Value Seed(const Napi::CallbackInfo& info);
  Napi::Value ManualSeed(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
};

// Wraps a tensor in a new JS handle; an undefined tensor becomes null.
Napi::Value wrapTensor(Napi::Env env, at::Tensor t);
// The tensor behind a handle; throws a JS TypeError naming `what` if it is not a live tensor handle.
at::Tensor& unwrapTensor(Napi::Env env, Napi::Value v, const std::string& what);
at::Generator unwrapGenerator(Napi::Env env, Napi::Value v, const std::string& what);
Napi::Value wrapGenerator(Napi::Env env, at::Generator g);

// Boxed-value conversion driven by an operator's schema.
c10::IValue toIValue(Napi::Env env, Napi::Value v, const c10::Argument& arg, const std::string& where);
Napi::Value fromIValue(Napi::Env env, const c10::IValue& v);
std::vector<int64_t> toIntVector(Napi::Env env, Napi::Value v, const std::string& where);

// Rethrows libtorch and standard exceptions as JS errors that carry `where` (usually the op's name).
[[noreturn]] void throwJs(Napi::Env env, const std::string& where);

void InitTensor(Napi::Env env, Napi::Object exports);
void InitOps(Napi::Env env, Napi::Object exports);
void InitAutograd(Napi::Env env, Napi::Object exports);
void InitRuntime(Napi::Env env, Napi::Object exports);
void InitDist(Napi::Env env, Napi::Object exports);

}  // namespace tn

// Runs body, converting C++ exceptions into a pending JS exception named after `where`.
#define TN_GUARD(env, where, body)   \
  try {                              \
    body                             \
  } catch (const Napi::Error&) {     \
    throw;                           \
  } catch (...) {                    \
    ::tn::throwJs(env, where);       \
  }
