#include "common.h"

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tn {

AddonState& state(Napi::BasicEnv env) { return *env.GetInstanceData<AddonState>(); }

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

// glibc malloc fragments under libtorch's aligned allocations: a loop that freed every tensor grew RSS without
// bound (16 MB blocks: gigabytes, once glibc's dynamic mmap threshold rose; 16 KB blocks: ~15 KB a step). Blocks
// of a page or more mmapped and returned at free kept RSS flat. A preloaded tcmalloc (simclr's default, faster)
// or jemalloc needs none of this.
static void tameGlibcMalloc() {
#if defined(__GLIBC__)
  const char* preload = std::getenv("LD_PRELOAD");
  bool otherAllocator = preload != nullptr && (std::strstr(preload, "tcmalloc") || std::strstr(preload, "jemalloc"));
  if (!otherAllocator && std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 4096);
#endif
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tameGlibcMalloc();
  env.SetInstanceData(new tn::AddonState());
  tn::InitTensor(env, exports);
  tn::InitOps(env, exports);
  tn::InitAutograd(env, exports);
  tn::InitRuntime(env, exports);
  tn::InitDist(env, exports);
  return exports;
}

NODE_API_MODULE(torch_node, Init)
