// Tensor and generator handles, buffer I/O, metadata, and the memory accounting that lets V8 see tensor bytes.
#include <ATen/ops/empty.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <cstring>

#include "common.h"

namespace tn {

namespace {
// Handed from wrapTensor to the constructor, which runs synchronously on the same thread.
thread_local at::Tensor pendingTensor;
thread_local bool pendingSet = false;
thread_local at::Generator pendingGenerator;
}  // namespace

// Host memory only: V8 weighs reported bytes when it schedules garbage collection, which can free host tensors that
// were dropped without dispose(). Device memory is the caching allocator's; reported, a GPU step's gigabytes of
// activations made V8 collect over and over while the host queued work (measured on an H200: the host, not the GPU,
// set the pace).
static void track(Napi::BasicEnv env, const at::Tensor& t, const void** key) {
  if (!t.defined() || !t.has_storage() || !t.storage().device().is_cpu()) return;
  const c10::StorageImpl* impl = t.storage().unsafeGetStorageImpl();
  *key = impl;
  StorageEntry& entry = state(env).storages[impl];
  if (entry.handles++ == 0) {
    entry.bytes = static_cast<int64_t>(impl->nbytes());
    Napi::MemoryManagement::AdjustExternalMemory(env, entry.bytes);
  }
}

static void untrack(Napi::BasicEnv env, const void* key) {
  if (key == nullptr) return;
  auto& storages = state(env).storages;
  auto it = storages.find(key);
  if (it == storages.end()) return;
  if (--it->second.handles == 0) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -it->second.bytes);
    storages.erase(it);
  }
}

Napi::Function NativeTensor::Define(Napi::Env env) {
  return DefineClass(env, "NativeTensor", {});
}

NativeTensor::NativeTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTensor>(info) {
  if (!pendingSet) throw Napi::TypeError::New(info.Env(), "NativeTensor cannot be constructed from JavaScript");
  tensor = std::move(pendingTensor);
  pendingTensor = at::Tensor();
  pendingSet = false;
  track(info.Env(), tensor, &storageKey_);
}

void NativeTensor::Release(Napi::BasicEnv env) {
  untrack(env, storageKey_);
  storageKey_ = nullptr;
  tensor = at::Tensor();
}

void NativeTensor::Finalize(Napi::BasicEnv env) { Release(env); }

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  pendingTensor = std::move(t);
  pendingSet = true;
  return state(env).tensorClass.New({});
}

at::Tensor& unwrapTensor(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    if (o.InstanceOf(state(env).tensorClass.Value())) {
      NativeTensor* nt = NativeTensor::Unwrap(o);
      if (!nt->tensor.defined()) throw Napi::Error::New(env, what + ": tensor was disposed");
      return nt->tensor;
    }
  }
  throw Napi::TypeError::New(env, what + ": expected a Tensor, got " + (v.IsNull() ? "null" : v.IsUndefined() ? "undefined" : v.IsNumber() ? "a number" : v.IsArray() ? "an array" : "another value"));
}

// ---------------------------------------------------------------------------------------------- generators

Napi::Function NativeGenerator::Define(Napi::Env env) {
  return DefineClass(env, "NativeGenerator",
                     {InstanceMethod("seed", &NativeGenerator::Seed),
                      InstanceMethod("manualSeed", &NativeGenerator::ManualSeed),
                      InstanceMethod("getState", &NativeGenerator::GetState),
                      InstanceMethod("setState", &NativeGenerator::SetState),
                      InstanceMethod("device", &NativeGenerator::Device)});
}

// new NativeGenerator(device?: string): a fresh generator; wrapGenerator() adopts an existing one.
NativeGenerator::NativeGenerator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeGenerator>(info) {
  if (pendingGenerator.defined()) {
    generator = std::move(pendingGenerator);
    pendingGenerator = at::Generator();
    return;
  }
  std::string device = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu";
  TN_GUARD(info.Env(), "Generator", {
    c10::Device dev(device);
    if (dev.is_cpu()) {
      generator = at::make_generator<at::CPUGeneratorImpl>();
    } else {
      // Other backends: clone the default generator of that device, so hooks need not be compiled in.
      at::Generator def = at::globalContext().defaultGenerator(dev);
      generator = def.clone();
    }
  })
}

Napi::Value NativeGenerator::Seed(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(generator.current_seed()));
}

Napi::Value NativeGenerator::ManualSeed(const Napi::CallbackInfo& info) {
  bool lossless = true;
  uint64_t seed = info[0].IsBigInt() ? info[0].As<Napi::BigInt>().Uint64Value(&lossless)
                                      : static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(seed);
  return info.Env().Undefined();
}

Napi::Value NativeGenerator::GetState(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  at::Tensor s;
  TN_GUARD(info.Env(), "Generator.getState", { s = generator.get_state(); })
  return wrapTensor(info.Env(), s);
}

Napi::Value NativeGenerator::SetState(const Napi::CallbackInfo& info) {
  at::Tensor& s = unwrapTensor(info.Env(), info[0], "Generator.setState");
  std::lock_guard<std::mutex> lock(generator.mutex());
  TN_GUARD(info.Env(), "Generator.setState", { generator.set_state(s); })
  return info.Env().Undefined();
}

Napi::Value NativeGenerator::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), generator.device().str());
}

Napi::Value wrapGenerator(Napi::Env env, at::Generator g) {
  pendingGenerator = std::move(g);
  return state(env).generatorClass.New({});
}

at::Generator unwrapGenerator(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsObject() && v.As<Napi::Object>().InstanceOf(state(env).generatorClass.Value())) {
    return NativeGenerator::Unwrap(v.As<Napi::Object>())->generator;
  }
  throw Napi::TypeError::New(env, what + ": expected a Generator");
}

// ---------------------------------------------------------------------------------------------- buffers

std::vector<int64_t> toIntVector(Napi::Env env, Napi::Value v, const std::string& where) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, where + ": expected an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(env, where + ": expected an array of integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) throw Napi::TypeError::New(env, where + ": " + std::to_string(d) + " is not an integer");
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

// fromBuffer(view: TypedArray|ArrayBufferView, shape: number[], dtype: number) -> NativeTensor (a copy)
static Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() && !info[0].IsDataView()) throw Napi::TypeError::New(env, "tensor: data must be a typed array");
  std::vector<int64_t> shape = toIntVector(env, info[1], "tensor: shape");
  auto dtype = static_cast<c10::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  const uint8_t* src;
  size_t bytes;
  if (info[0].IsTypedArray()) {
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    bytes = ta.ByteLength();
  } else {
    Napi::DataView dv = info[0].As<Napi::DataView>();
    src = static_cast<const uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
    bytes = dv.ByteLength();
  }
  at::Tensor t;
  TN_GUARD(env, "tensor", {
    t = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (static_cast<size_t>(t.nbytes()) != bytes) {
      throw Napi::RangeError::New(env, "tensor: data has " + std::to_string(bytes) + " bytes but shape " + c10::str(c10::IntArrayRef(shape)) + " of " + c10::toString(dtype) + " needs " + std::to_string(t.nbytes()));
    }
    if (bytes > 0) std::memcpy(t.data_ptr(), src, bytes);
  })
  return wrapTensor(env, t);
}

// toBuffer(t) -> ArrayBuffer holding a contiguous CPU copy of the tensor's elements.
static Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = unwrapTensor(env, info[0], "toArray");
  at::Tensor c;
  TN_GUARD(env, "toArray", { c = t.detach().to(at::kCPU).contiguous(); })
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, c.nbytes());
  if (c.nbytes() > 0) std::memcpy(out.Data(), c.data_ptr(), c.nbytes());
  return out;
}

// copyFromBuffer(t, view): fills a contiguous CPU tensor in place, for reusable staging buffers.
static Napi::Value CopyFromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = unwrapTensor(env, info[0], "copyFromBuffer");
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  if (!t.is_contiguous() || !t.device().is_cpu()) throw Napi::Error::New(env, "copyFromBuffer: target must be a contiguous CPU tensor");
  if (static_cast<size_t>(t.nbytes()) != ta.ByteLength()) throw Napi::RangeError::New(env, "copyFromBuffer: byte length mismatch");
  std::memcpy(t.data_ptr(), static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ByteLength());
  return env.Undefined();
}

static Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Value v = info[0];
  if (v.IsObject() && v.As<Napi::Object>().InstanceOf(state(info.Env()).tensorClass.Value())) {
    NativeTensor::Unwrap(v.As<Napi::Object>())->Release(info.Env());
  }
  return info.Env().Undefined();
}

static Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !NativeTensor::Unwrap(info[0].As<Napi::Object>())->tensor.defined());
}

static Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = unwrapTensor(env, info[0], "shape");
  auto sizes = t.sizes();
  Napi::Array out = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  return out;
}

static Napi::Value Strides(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = unwrapTensor(env, info[0], "stride");
  auto strides = t.strides();
  Napi::Array out = Napi::Array::New(env, strides.size());
  for (size_t i = 0; i < strides.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(strides[i])));
  return out;
}

static Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(unwrapTensor(info.Env(), info[0], "dtype").scalar_type()));
}

static Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), unwrapTensor(info.Env(), info[0], "device").device().str());
}

static Napi::Value Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(unwrapTensor(info.Env(), info[0], "numel").numel()));
}

static Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  at::Tensor& t = unwrapTensor(info.Env(), info[0], "isContiguous");
  auto format = static_cast<c10::MemoryFormat>(info[1].As<Napi::Number>().Int32Value());
  return Napi::Boolean::New(info.Env(), t.is_contiguous(format));
}

// Bytes of tensor storage V8 currently knows about (for tests of the accounting and leak checks).
static Napi::Value TrackedBytes(const Napi::CallbackInfo& info) {
  int64_t total = 0;
  for (auto& kv : state(info.Env()).storages) total += kv.second.bytes;
  return Napi::Number::New(info.Env(), static_cast<double>(total));
}

static Napi::Value LiveStorages(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(state(info.Env()).storages.size()));
}

static Napi::Value DefaultGenerator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string device = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu";
  at::Generator g;
  TN_GUARD(env, "defaultGenerator", {
    c10::Device dev(device);
    g = dev.is_cpu() ? at::detail::getDefaultCPUGenerator() : at::globalContext().defaultGenerator(dev);
  })
  return wrapGenerator(env, g);
}

void InitTensor(Napi::Env env, Napi::Object exports) {
  AddonState& s = state(env);
  Napi::Function tensorClass = NativeTensor::Define(env);
  s.tensorClass = Napi::Persistent(tensorClass);
  Napi::Function generatorClass = NativeGenerator::Define(env);
  s.generatorClass = Napi::Persistent(generatorClass);
  exports.Set("NativeTensor", tensorClass);
  exports.Set("NativeGenerator", generatorClass);
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer));
  exports.Set("toBuffer", Napi::Function::New(env, ToBuffer));
  exports.Set("copyFromBuffer", Napi::Function::New(env, CopyFromBuffer));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed));
  exports.Set("shape", Napi::Function::New(env, Shape));
  exports.Set("strides", Napi::Function::New(env, Strides));
  exports.Set("dtype", Napi::Function::New(env, Dtype));
  exports.Set("device", Napi::Function::New(env, DeviceOf));
  exports.Set("numel", Napi::Function::New(env, Numel));
  exports.Set("isContiguous", Napi::Function::New(env, IsContiguous));
  exports.Set("trackedBytes", Napi::Function::New(env, TrackedBytes));
  exports.Set("liveStorages", Napi::Function::New(env, LiveStorages));
  exports.Set("defaultGenerator", Napi::Function::New(env, DefaultGenerator));
}

}  // namespace tn
