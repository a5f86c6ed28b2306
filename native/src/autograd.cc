// Autograd: backward, torch.autograd.grad, .grad access, requires_grad and grad mode.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <ATen/core/grad_mode.h>

#include "common.h"

namespace tn {

static std::vector<at::Tensor> tensorList(Napi::Env env, Napi::Value v, const std::string& where, bool allowNull) {
  std::vector<at::Tensor> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (allowNull && (e.IsNull() || e.IsUndefined())) out.emplace_back();
    else out.push_back(unwrapTensor(env, e, where));
  }
  return out;
}

static c10::optional<bool> optionalBool(Napi::Value v) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  return c10::nullopt;
}

// backward(tensors, grads|null, retainGraph?, createGraph?)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto tensors = tensorList(env, info[0], "backward", false);
  auto grads = tensorList(env, info[1], "backward: gradient", true);
  bool createGraph = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  TN_GUARD(env, "backward", { torch::autograd::backward(tensors, grads, optionalBool(info[2]), createGraph); })
  return env.Undefined();
}

// grad(outputs, inputs, gradOutputs|null, retainGraph?, createGraph?, allowUnused?) -> (handle|null)[]
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto outputs = tensorList(env, info[0], "autograd.grad: outputs", false);
  auto inputs = tensorList(env, info[1], "autograd.grad: inputs", false);
  auto gradOutputs = tensorList(env, info[2], "autograd.grad: gradOutputs", true);
  bool createGraph = info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
  bool allowUnused = info[5].IsBoolean() && info[5].As<Napi::Boolean>().Value();
  std::vector<at::Tensor> result;
  TN_GUARD(env, "autograd.grad", {
    result = torch::autograd::grad(outputs, inputs, gradOutputs, optionalBool(info[3]), createGraph, allowUnused);
  })
  Napi::Array out = Napi::Array::New(env, result.size());
  for (size_t i = 0; i < result.size(); i++) out.Set(static_cast<uint32_t>(i), wrapTensor(env, result[i]));
  return out;
}

static Napi::Value GetGrad(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), unwrapTensor(info.Env(), info[0], "grad").grad());
}

// setGrad(t, g|null): assigns or clears .grad
static Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = unwrapTensor(env, info[0], "grad");
  TN_GUARD(env, "grad", {
    if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad().reset();
    else t.mutable_grad() = unwrapTensor(env, info[1], "grad");
  })
  return env.Undefined();
}

static Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info.Env(), info[0], "requiresGrad").requires_grad());
}

static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor& t = unwrapTensor(env, info[0], "requiresGrad_");
  TN_GUARD(env, "requiresGrad_", { t.set_requires_grad(info[1].As<Napi::Boolean>().Value()); })
  return env.Undefined();
}

static Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info.Env(), info[0], "isLeaf").is_leaf());
}

static Napi::Value GradFnName(const Napi::CallbackInfo& info) {
  at::Tensor& t = unwrapTensor(info.Env(), info[0], "gradFn");
  const auto& fn = t.grad_fn();
  if (!fn) return info.Env().Null();
  return Napi::String::New(info.Env(), fn->name());
}

static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool previous = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].As<Napi::Boolean>().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

static Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

void InitAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("getGrad", Napi::Function::New(env, GetGrad));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad));
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf));
  exports.Set("gradFnName", Napi::Function::New(env, GradFnName));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
}

}  // namespace tn
