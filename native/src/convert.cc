// Converts JS values to boxed IValues by an operator's schema, and boxed results back to JS.
#include <ATen/core/jit_type.h>

#include <cmath>

#include "common.h"

namespace tn {

static const double kMaxSafeInt = 9007199254740991.0;

static int64_t toInt(Napi::Env env, Napi::Value v, const std::string& where) {
  if (v.IsBigInt()) {
    bool lossless = true;
    int64_t r = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, where + ": integer out of int64 range");
    return r;
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, where + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d) throw Napi::TypeError::New(env, where + ": expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

static double toDouble(Napi::Env env, Napi::Value v, const std::string& where) {
  if (v.IsNumber()) return v.As<Napi::Number>().DoubleValue();
  if (v.IsBigInt()) {
    bool lossless = true;
    return static_cast<double>(v.As<Napi::BigInt>().Int64Value(&lossless));
  }
  throw Napi::TypeError::New(env, where + ": expected a number");
}

static bool toBool(Napi::Env env, Napi::Value v, const std::string& where) {
  if (!v.IsBoolean()) throw Napi::TypeError::New(env, where + ": expected a boolean");
  return v.As<Napi::Boolean>().Value();
}

// JS numbers carry no int/float distinction: integral values become integer Scalars, like Python's `x + 1`.
static c10::IValue toScalar(Napi::Env env, Napi::Value v, const std::string& where) {
  if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
  if (v.IsBigInt()) return c10::IValue(toInt(env, v, where));
  if (!v.IsNumber()) throw Napi::TypeError::New(env, where + ": expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= kMaxSafeInt) return c10::IValue(static_cast<int64_t>(d));
  return c10::IValue(d);
}

static c10::IValue toList(Napi::Env env, Napi::Value v, const c10::TypePtr& elem, c10::optional<int32_t> n, const std::string& where) {
  c10::TypeKind kind = elem->kind();
  bool isIntLike = kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType;
  // int[2] and friends accept a single number, broadcast to N (as PyTorch's Python binding does).
  if (!v.IsArray()) {
    if (isIntLike && v.IsNumber()) {
      int64_t x = toInt(env, v, where);
      return c10::IValue(c10::List<int64_t>(std::vector<int64_t>(n.value_or(1), x)));
    }
    if (kind == c10::TypeKind::FloatType && v.IsNumber()) {
      return c10::IValue(c10::List<double>(std::vector<double>(n.value_or(1), toDouble(env, v, where))));
    }
    if (kind == c10::TypeKind::BoolType && v.IsBoolean()) {
      c10::List<bool> l;
      for (int32_t i = 0; i < n.value_or(1); i++) l.push_back(toBool(env, v, where));
      return c10::IValue(l);
    }
    throw Napi::TypeError::New(env, where + ": expected an array");
  }
  Napi::Array a = v.As<Napi::Array>();
  uint32_t len = a.Length();
  if (isIntLike) {
    c10::List<int64_t> l;
    l.reserve(len);
    for (uint32_t i = 0; i < len; i++) l.push_back(toInt(env, a.Get(i), where));
    return c10::IValue(l);
  }
  switch (kind) {
    case c10::TypeKind::FloatType: {
      c10::List<double> l;
      for (uint32_t i = 0; i < len; i++) l.push_back(toDouble(env, a.Get(i), where));
      return c10::IValue(l);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> l;
      for (uint32_t i = 0; i < len; i++) l.push_back(toBool(env, a.Get(i), where));
      return c10::IValue(l);
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> l;
      l.reserve(len);
      for (uint32_t i = 0; i < len; i++) l.push_back(unwrapTensor(env, a.Get(i), where + "[" + std::to_string(i) + "]"));
      return c10::IValue(l);
    }
    case c10::TypeKind::OptionalType: {
      if (elem->castRaw<c10::OptionalType>()->getElementType()->kind() == c10::TypeKind::TensorType) {
        c10::List<c10::optional<at::Tensor>> l;
        for (uint32_t i = 0; i < len; i++) {
          Napi::Value e = a.Get(i);
          if (e.IsNull() || e.IsUndefined()) l.push_back(c10::nullopt);
          else l.push_back(unwrapTensor(env, e, where + "[" + std::to_string(i) + "]"));
        }
        return c10::IValue(l);
      }
      break;
    }
    default:
      break;
  }
  throw Napi::TypeError::New(env, where + ": unsupported list type " + elem->str());
}

c10::IValue toIValue(Napi::Env env, Napi::Value v, const c10::Argument& arg, const std::string& where) {
  const c10::TypePtr& type = arg.type();
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return c10::IValue(unwrapTensor(env, v, where));
    case c10::TypeKind::OptionalType: {
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      c10::Argument inner(arg.name(), type->castRaw<c10::OptionalType>()->getElementType(), arg.N());
      return toIValue(env, v, inner, where);
    }
    case c10::TypeKind::ListType:
      return toList(env, v, type->castRaw<c10::ListType>()->getElementType(), arg.N(), where);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return c10::IValue(toInt(env, v, where));
    case c10::TypeKind::FloatType:
      return c10::IValue(toDouble(env, v, where));
    case c10::TypeKind::BoolType:
      return c10::IValue(toBool(env, v, where));
    case c10::TypeKind::NumberType:
      return toScalar(env, v, where);
    case c10::TypeKind::StringType:
      if (!v.IsString()) throw Napi::TypeError::New(env, where + ": expected a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) throw Napi::TypeError::New(env, where + ": expected a device string such as 'cpu' or 'cuda:0'");
      try {
        return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
      } catch (const c10::Error&) {
        throw Napi::TypeError::New(env, where + ": invalid device '" + v.As<Napi::String>().Utf8Value() + "'");
      }
    case c10::TypeKind::GeneratorType:
      return c10::IValue(unwrapGenerator(env, v, where));
    default:
      throw Napi::TypeError::New(env, where + ": unsupported argument type " + type->str());
  }
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Undefined();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, elems[i]));
    return out;
  }
  if (v.isList()) {
    c10::List<c10::IValue> list = v.toList();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, list.get(i)));
    return out;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isDevice()) return Napi::String::New(env, v.toDevice().str());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isGenerator()) return wrapGenerator(env, v.toGenerator());
  throw Napi::TypeError::New(env, std::string("unsupported return type ") + v.tagKind());
}

}  // namespace tn
