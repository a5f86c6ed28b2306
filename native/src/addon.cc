#include "common.h"

#include <c10/util/Exception.h>

namespace tn {

AddonState& state(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

void throwJs(Napi::Env env, const std::string& where) {
  try {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, where + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, where + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, where + ": unknown native error");
  }
}

}  // namespace tn

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new tn::AddonState());
  tn::InitTensor(env, exports);
  tn::InitOps(env, exports);
  tn::InitAutograd(env, exports);
  tn::InitRuntime(env, exports);
  return exports;
}

NODE_API_MODULE(torch_node, Init)
