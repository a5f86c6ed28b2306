// Operator calls through the c10 dispatcher's boxed interface: any ATen operator, by schema, with autograd,
// autocast and every backend the linked libtorch registers. The typed TS layer is generated from listSchemas().
#include <c10/util/Exception.h>

#include "common.h"

namespace tn {

static std::string qualified(const c10::OperatorName& n) {
  return n.overload_name.empty() ? n.name : n.name + "." + n.overload_name;
}

// resolveOp(name, overload) -> id, or -1 when this libtorch lacks the operator.
static Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].As<Napi::String>().Utf8Value();
  auto handle = c10::Dispatcher::singleton().findSchema(c10::OperatorName(name, overload));
  if (!handle.has_value()) return Napi::Number::New(env, -1);
  AddonState& s = state(env);
  OpEntry entry{*handle, qualified(handle->operator_name()), {}};
  for (const auto& a : handle->schema().arguments()) entry.where.push_back(entry.name + " argument '" + a.name() + "'");
  s.ops.push_back(std::move(entry));
  return Napi::Number::New(env, static_cast<double>(s.ops.size() - 1));
}

// call(id, args[], discardResult?) -> result: a handle, a number/boolean, an array for tuples and lists.
static Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& s = state(env);
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= s.ops.size()) throw Napi::RangeError::New(env, "call: unknown operator id");
  const OpEntry& oi = s.ops[id];
  const c10::OperatorHandle& op = oi.handle;
  Napi::Array args = info[1].As<Napi::Array>();
  const auto& formals = op.schema().arguments();
  uint32_t given = args.Length();
  if (given > formals.size()) {
    throw Napi::TypeError::New(env, oi.name + ": takes " + std::to_string(formals.size()) + " arguments, got " + std::to_string(given));
  }
  std::vector<c10::IValue> stack;
  stack.reserve(formals.size());
  for (size_t i = 0; i < formals.size(); i++) {
    Napi::Value v = i < given ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
    if (v.IsUndefined()) {
      const auto& dflt = formals[i].default_value();
      if (dflt.has_value()) {
        stack.push_back(*dflt);
        continue;
      }
      if (formals[i].type()->kind() == c10::TypeKind::OptionalType) {
        stack.emplace_back();
        continue;
      }
      throw Napi::TypeError::New(env, oi.where[i] + " is required");
    }
    stack.push_back(toIValue(env, v, formals[i], oi.where[i]));
  }
  TN_GUARD(env, oi.name, { op.callBoxed(&stack); })
  if (info.Length() > 2 && info[2].ToBoolean().Value()) return env.Undefined();
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(env, stack[0]);
  Napi::Array out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
  return out;
}

// opSignature(id) -> "name:Type[!][=],...->Type,...": an operator's declaration as this libtorch has it, compact
// enough to be embedded per operator in the generated layer and compared at load ('!' marks an argument the operator
// writes in place, '=' one that may be left out). Default values are left out: releases print them differently
// (1.13's `int[2] stride=1` is 2.x's `[1, 1]`).
static Napi::Value OpSignature(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& s = state(env);
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= s.ops.size()) throw Napi::RangeError::New(env, "opSignature: unknown operator id");
  const c10::FunctionSchema& schema = s.ops[id].handle.schema();
  std::string out;
  for (size_t i = 0; i < schema.arguments().size(); i++) {
    const c10::Argument& a = schema.arguments()[i];
    bool omittable = a.default_value().has_value() || a.real_type()->kind() == c10::TypeKind::OptionalType;
    bool written = a.alias_info() != nullptr && a.alias_info()->isWrite();
    out += (i ? "," : "") + a.name() + ":" + a.real_type()->annotation_str() + (written ? "!" : "") + (omittable ? "=" : "");
  }
  out += "->";
  for (size_t i = 0; i < schema.returns().size(); i++) out += (i ? "," : "") + schema.returns()[i].real_type()->annotation_str();
  return Napi::String::New(env, out);
}

static Napi::Object describeArgument(Napi::Env env, const c10::Argument& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", a.name());
  o.Set("type", a.type()->annotation_str());
  o.Set("realType", a.real_type()->annotation_str());
  if (a.N().has_value()) o.Set("N", *a.N());
  if (a.default_value().has_value()) {
    std::ostringstream ss;
    ss << *a.default_value();
    o.Set("default", ss.str());
  }
  o.Set("kwargOnly", a.kwarg_only());
  o.Set("isWrite", a.alias_info() != nullptr && a.alias_info()->isWrite());
  o.Set("isAlias", a.alias_info() != nullptr);
  return o;
}

// listSchemas(namespacePrefix = "aten::") -> [{name, overload, schema, arguments, returns}]
static Napi::Value ListSchemas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prefix = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "aten::";
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (const auto& opName : c10::Dispatcher::singleton().getAllOpNames()) {
    if (opName.name.rfind(prefix, 0) != 0) continue;
    auto handle = c10::Dispatcher::singleton().findSchema(opName);
    if (!handle.has_value()) continue;
    const c10::FunctionSchema& schema = handle->schema();
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", opName.name);
    o.Set("overload", opName.overload_name);
    std::ostringstream ss;
    ss << schema;
    o.Set("schema", ss.str());
    Napi::Array args = Napi::Array::New(env);
    for (size_t i = 0; i < schema.arguments().size(); i++) args.Set(static_cast<uint32_t>(i), describeArgument(env, schema.arguments()[i]));
    o.Set("arguments", args);
    Napi::Array rets = Napi::Array::New(env);
    for (size_t i = 0; i < schema.returns().size(); i++) rets.Set(static_cast<uint32_t>(i), describeArgument(env, schema.returns()[i]));
    o.Set("returns", rets);
    out.Set(k++, o);
  }
  return out;
}

void InitOps(Napi::Env env, Napi::Object exports) {
  exports.Set("resolveOp", Napi::Function::New(env, ResolveOp));
  exports.Set("call", Napi::Function::New(env, Call));
  exports.Set("listSchemas", Napi::Function::New(env, ListSchemas));
  exports.Set("opSignature", Napi::Function::New(env, OpSignature));
}

}  // namespace tn
