// c10d: key-value stores for rendezvous (TCP, file), Gloo process groups (and NCCL ones in builds against a CUDA
// libtorch) with collectives under a timeout, differentiable all-gather / all-reduce and synchronised batch norm
// (autograd nodes whose backward runs the matching collective), and a bucketed gradient all-reduce that can start
// buckets from autograd hooks while backward runs.
//
// Everything here is device-agnostic: tensors stay on their device, and nothing reads a value back to the host. A
// Gloo collective blocks the calling thread until it is done. An NCCL collective runs on NCCL's own CUDA stream;
// waiting for it only orders the calling thread's current stream after it (no host synchronisation), and NCCL's
// watchdog enforces the timeout. CUDA backward runs on autograd's device threads, so the backward nodes and the
// reducer's hooks issue collectives from there, on the stream autograd set for them.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(SIMCLR_WITH_CUDA)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <ATen/core/grad_mode.h>
#include <ATen/ops/batch_norm_update_stats.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/native_batch_norm.h>
#include <ATen/ops/native_batch_norm_backward.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>

#include "common.h"
#define TN_COMPAT_C10D
#include "compat.h"

namespace tn {

using ms = std::chrono::milliseconds;

static std::string describe(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

// ---------------------------------------------------------------------------------------------- stores

class NativeStore : public Napi::ObjectWrap<NativeStore> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeStore",
                       {InstanceMethod("set", &NativeStore::Set), InstanceMethod("get", &NativeStore::Get),
                        InstanceMethod("add", &NativeStore::Add), InstanceMethod("check", &NativeStore::Check),
                        InstanceMethod("wait", &NativeStore::Wait), InstanceMethod("port", &NativeStore::Port)});
  }

  // new NativeStore('tcp', host, port, isServer, worldSize, timeoutMs) | new NativeStore('file', path, worldSize, timeoutMs)
  // A TCP server waits (up to the timeout) until worldSize clients, itself included, have connected.
  explicit NativeStore(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeStore>(info) {
    Napi::Env env = info.Env();
    std::string kind = info[0].As<Napi::String>().Utf8Value();
    TN_GUARD(env, "Store", {
      if (kind == "tcp") {
        c10d::TCPStoreOptions o;
        o.port = static_cast<std::uint16_t>(info[2].As<Napi::Number>().Uint32Value());
        o.isServer = info[3].As<Napi::Boolean>().Value();
        o.numWorkers = static_cast<std::size_t>(info[4].As<Napi::Number>().Uint32Value());
        o.waitWorkers = true;
        o.timeout = ms(info[5].As<Napi::Number>().Int64Value());
        auto tcp = c10::make_intrusive<c10d::TCPStore>(info[1].As<Napi::String>().Utf8Value(), o);
        port_ = tcp->getPort();
        store = tcp;
      } else if (kind == "file") {
        store = c10::make_intrusive<c10d::FileStore>(info[1].As<Napi::String>().Utf8Value(), info[2].As<Napi::Number>().Int32Value());
        store->setTimeout(ms(info[3].As<Napi::Number>().Int64Value()));
      } else {
        throw std::runtime_error("unknown store kind '" + kind + "' (expected 'tcp' or 'file')");
      }
    })
  }

  c10::intrusive_ptr<c10d::Store> store;

 private:
  int port_ = -1;

  Napi::Value Set(const Napi::CallbackInfo& info) {
    std::string key = info[0].As<Napi::String>().Utf8Value();
    Napi::Uint8Array value = info[1].As<Napi::Uint8Array>();
    std::vector<uint8_t> bytes(value.Data(), value.Data() + value.ByteLength());
    TN_GUARD(info.Env(), "Store.set", { store->set(key, bytes); })
    return info.Env().Undefined();
  }

  // Blocks until the key exists or the store's timeout passes.
  Napi::Value Get(const Napi::CallbackInfo& info) {
    std::string key = info[0].As<Napi::String>().Utf8Value();
    std::vector<uint8_t> bytes;
    TN_GUARD(info.Env(), "Store.get", { bytes = store->get(key); })
    return Napi::Buffer<uint8_t>::Copy(info.Env(), bytes.data(), bytes.size());
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    std::string key = info[0].As<Napi::String>().Utf8Value();
    int64_t result = 0;
    TN_GUARD(info.Env(), "Store.add", { result = store->add(key, info[1].As<Napi::Number>().Int64Value()); })
    return Napi::Number::New(info.Env(), static_cast<double>(result));
  }

  Napi::Value Check(const Napi::CallbackInfo& info) {
    std::vector<std::string> keys;
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) keys.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    bool ok = false;
    TN_GUARD(info.Env(), "Store.check", { ok = store->check(keys); })
    return Napi::Boolean::New(info.Env(), ok);
  }

  // wait(keys, timeoutMs)
  Napi::Value Wait(const Napi::CallbackInfo& info) {
    std::vector<std::string> keys;
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) keys.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    TN_GUARD(info.Env(), "Store.wait", { store->wait(keys, ms(info[1].As<Napi::Number>().Int64Value())); })
    return info.Env().Undefined();
  }

  // The bound port of a TCP store (useful when a server asked for port 0); -1 for other stores.
  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }
};

// ---------------------------------------------------------------------------------------------- process groups

// Class references for instanceof checks, one set per environment (each worker thread loads its own addon instance
// and calls it only from its own thread).
struct DistState {
  Napi::FunctionReference storeClass;
  Napi::FunctionReference groupClass;
};
static thread_local DistState* distState = nullptr;

static c10::intrusive_ptr<c10d::Store> unwrapStore(Napi::Env env, Napi::Value v) {
  if (v.IsObject() && v.As<Napi::Object>().InstanceOf(distState->storeClass.Value())) return NativeStore::Unwrap(v.As<Napi::Object>())->store;
  throw Napi::TypeError::New(env, "ProcessGroup: expected a Store");
}

static std::string seconds(ms t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, t.count() % 1000 == 0 ? "%.0f s" : "%.1f s", t.count() / 1000.0);
  return buf;
}

// A process group shared by its JS handle, autograd nodes and gradient reducers (any of them may outlive the others).
struct Group {
  c10::intrusive_ptr<compat::Collectives> pg;
  int rank = 0;
  int size = 1;
  ms timeout{0};
  // NCCL: collectives need CUDA tensors, and waiting is stream-ordered rather than blocking (see the top of the file).
  bool nccl = false;
  // Set once a collective failed. ProcessGroupGloo's destructor waits for queued work, which may never finish when a
  // peer is gone, so a failed group is leaked instead of destroyed: the process is about to report and exit anyway.
  std::atomic<bool> failed{false};

  ~Group() {
    if (failed.load()) (void)pg.release();
  }

  // Waits for one collective. Gloo enforces the group timeout itself; the wait gets a little longer so that Gloo's own,
  // more specific message (which peer, which operation) is the one reported. NCCL's wait without a timeout makes the
  // current CUDA stream wait for NCCL's (a timeout would block the host until the collective ends).
  void wait(const c10::intrusive_ptr<c10d::Work>& work) const {
    if (nccl) work->wait();
    else work->wait(timeout + ms(5000));
  }

  // NCCL reduces CUDA tensors only; said before starting, rather than as an NCCL error blamed on the other ranks.
  void checkDevice(const char* what, const at::Tensor& t) const {
    if (nccl && !t.is_cuda()) {
      throw std::invalid_argument(std::string(what) + ": backend 'nccl' needs CUDA tensors, got one on " + t.device().str());
    }
  }

  // Starts a collective and waits for it (as wait() does).
  void run(const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
    if (failed.load()) throw std::runtime_error(std::string(what) + ": the process group failed earlier and cannot be used");
    try {
      auto work = start();
      wait(work);
    } catch (const std::exception& e) {
      failed.store(true);
      throw std::runtime_error(std::string(what) + " failed on rank " + std::to_string(rank) + " of " + std::to_string(size) +
                               " (" + pg->getBackendName() + ", timeout " + seconds(timeout) + "): " + describe(e));
    }
  }
};

static c10d::ReduceOp reduceOp(const std::string& name) {
  if (name == "sum") return c10d::ReduceOp::SUM;
  if (name == "product") return c10d::ReduceOp::PRODUCT;
  if (name == "min") return c10d::ReduceOp::MIN;
  if (name == "max") return c10d::ReduceOp::MAX;
  throw std::runtime_error("unknown reduce op '" + name + "' (expected sum, product, min or max)");
}

// Same-dtype, same-device tensors flattened into one buffer per group, so a list costs one collective per dtype.
struct Coalesced {
  at::Tensor flat;
  std::vector<size_t> members;
};

static std::vector<Coalesced> coalesce(const std::vector<at::Tensor>& tensors) {
  std::map<std::pair<int, std::string>, std::vector<size_t>> groups;
  for (size_t i = 0; i < tensors.size(); i++) {
    groups[{static_cast<int>(tensors[i].scalar_type()), tensors[i].device().str()}].push_back(i);
  }
  std::vector<Coalesced> out;
  for (auto& kv : groups) {
    std::vector<at::Tensor> parts;
    for (size_t i : kv.second) parts.push_back(tensors[i].detach().reshape(-1));
    out.push_back({at::cat(parts), kv.second});
  }
  return out;
}

static void scatterBack(const Coalesced& c, std::vector<at::Tensor>& tensors) {
  int64_t offset = 0;
  for (size_t i : c.members) {
    at::Tensor t = tensors[i];
    int64_t n = t.numel();
    t.detach().copy_(c.flat.narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
}

class NativeProcessGroup : public Napi::ObjectWrap<NativeProcessGroup> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeProcessGroup",
                       {InstanceMethod("rank", &NativeProcessGroup::Rank), InstanceMethod("size", &NativeProcessGroup::Size),
                        InstanceMethod("backend", &NativeProcessGroup::Backend),
                        InstanceMethod("allReduce", &NativeProcessGroup::AllReduce),
                        InstanceMethod("broadcast", &NativeProcessGroup::Broadcast),
                        InstanceMethod("allGather", &NativeProcessGroup::AllGather),
                        InstanceMethod("barrier", &NativeProcessGroup::Barrier),
                        InstanceMethod("close", &NativeProcessGroup::Close)});
  }

  // new NativeProcessGroup(store, rank, size, {backend, timeoutMs, threads?, hostname?, interface?, device?})
  // Gloo connects to every other rank through the store (blocking, up to the timeout); NCCL connects lazily, on the
  // first collective on a device. `device` ('cuda:N', NCCL only) is this rank's GPU, where barrier() runs.
  explicit NativeProcessGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProcessGroup>(info) {
    Napi::Env env = info.Env();
    auto store = unwrapStore(env, info[0]);
    int rank = info[1].As<Napi::Number>().Int32Value();
    int size = info[2].As<Napi::Number>().Int32Value();
    Napi::Object o = info[3].As<Napi::Object>();
    std::string backend = o.Get("backend").As<Napi::String>().Utf8Value();
    ms timeout(o.Get("timeoutMs").As<Napi::Number>().Int64Value());
    if (backend != "gloo" && backend != "nccl") {
      throw Napi::Error::New(env, "ProcessGroup: unknown backend '" + backend + "' (expected 'gloo' or 'nccl')");
    }
    auto g = std::make_shared<Group>();
    g->rank = rank;
    g->size = size;
    g->timeout = timeout;
    if (backend == "nccl") {
#if defined(SIMCLR_WITH_CUDA)
      g->nccl = true;
      TN_GUARD(env, "ProcessGroup(nccl)", {
        auto opts = c10d::ProcessGroupNCCL::Options::create();
        opts->timeout = timeout;
        auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
        g->pg = pg;
        if (o.Has("device") && o.Get("device").IsString()) {
          c10::Device device(o.Get("device").As<Napi::String>().Utf8Value());
          if (!device.is_cuda() || !device.has_index()) throw std::invalid_argument("device must be 'cuda:N', got '" + device.str() + "'");
          compat::bindDevice(*g->pg, device);
        }
      })
      group = g;
      return;
#else
      throw Napi::Error::New(env, "ProcessGroup: backend 'nccl' needs a libtorch built with CUDA; this addon was built against " TORCH_VERSION " (CPU only)");
#endif
    }
    TN_GUARD(env, "ProcessGroup(gloo)", {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      if (o.Has("interface") && o.Get("interface").IsString()) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(o.Get("interface").As<Napi::String>().Utf8Value()));
      } else if (o.Has("hostname") && o.Get("hostname").IsString()) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.Get("hostname").As<Napi::String>().Utf8Value()));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      if (o.Has("threads") && o.Get("threads").IsNumber()) opts->threads = o.Get("threads").As<Napi::Number>().Int32Value();
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
    })
    group = g;
  }

  std::shared_ptr<Group> group;

  // The group behind a handle; throws naming `what` if it is not a live process group.
  static std::shared_ptr<Group> unwrap(Napi::Env env, Napi::Value v, const std::string& what);

 private:
  Group& live(Napi::Env env, const char* what) {
    if (!group) throw Napi::Error::New(env, std::string(what) + ": process group was closed");
    return *group;
  }

  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env(), "rank").rank); }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env(), "size").size); }
  Napi::Value Backend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), live(info.Env(), "backend").pg->getBackendName());
  }

  std::vector<at::Tensor> tensorArray(Napi::Env env, Napi::Value v, const std::string& where) {
    if (!v.IsArray()) throw Napi::TypeError::New(env, where + ": expected an array of tensors");
    Napi::Array a = v.As<Napi::Array>();
    std::vector<at::Tensor> out;
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(unwrapTensor(env, a.Get(i), where));
    return out;
  }

  // allReduce(tensors, op): every tensor becomes the reduction of that tensor over all ranks, in place.
  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = live(env, "allReduce");
    auto tensors = tensorArray(env, info[0], "allReduce");
    std::string opName = info[1].As<Napi::String>().Utf8Value();
    TN_GUARD(env, "c10d", {
      at::NoGradGuard noGrad;
      c10d::AllreduceOptions opts;
      opts.reduceOp = reduceOp(opName);
      for (auto& t : tensors) g.checkDevice("allReduce", t);
      for (auto& c : coalesce(tensors)) {
        std::vector<at::Tensor> buf{c.flat};
        g.run("allReduce", [&] { return g.pg->allreduce(buf, opts); });
        scatterBack(c, tensors);
      }
    })
    return env.Undefined();
  }

  // broadcast(tensors, root): every tensor takes the root rank's values, in place.
  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = live(env, "broadcast");
    auto tensors = tensorArray(env, info[0], "broadcast");
    int root = info[1].As<Napi::Number>().Int32Value();
    if (root < 0 || root >= g.size) throw Napi::RangeError::New(env, "broadcast: root " + std::to_string(root) + " is not a rank of a group of " + std::to_string(g.size));
    TN_GUARD(env, "c10d", {
      at::NoGradGuard noGrad;
      c10d::BroadcastOptions opts;
      opts.rootRank = root;
      for (auto& t : tensors) g.checkDevice("broadcast", t);
      for (auto& c : coalesce(tensors)) {
        std::vector<at::Tensor> buf{c.flat};
        g.run("broadcast", [&] { return g.pg->broadcast(buf, opts); });
        scatterBack(c, tensors);
      }
    })
    return env.Undefined();
  }

  // allGather(tensor) -> one tensor per rank, in rank order (every rank must pass the same shape and dtype).
  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = live(env, "allGather");
    at::Tensor input = unwrapTensor(env, info[0], "allGather");
    std::vector<std::vector<at::Tensor>> out(1);
    TN_GUARD(env, "c10d", {
      at::NoGradGuard noGrad;
      g.checkDevice("allGather", input);
      std::vector<at::Tensor> in{input.detach().contiguous()};
      for (int i = 0; i < g.size; i++) out[0].push_back(at::empty_like(in[0]));
      g.run("allGather", [&] { return g.pg->allgather(out, in); });
    })
    Napi::Array result = Napi::Array::New(env, out[0].size());
    for (size_t i = 0; i < out[0].size(); i++) result.Set(static_cast<uint32_t>(i), wrapTensor(env, out[0][i]));
    return result;
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Group& g = live(env, "barrier");
    TN_GUARD(env, "c10d", { g.run("barrier", [&] { return g.pg->barrier(); }); })
    return env.Undefined();
  }

  // Drops this handle's reference; the group ends once autograd graphs and reducers using it are gone.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    group.reset();
    return info.Env().Undefined();
  }
};

std::shared_ptr<Group> NativeProcessGroup::unwrap(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsObject() && v.As<Napi::Object>().InstanceOf(distState->groupClass.Value())) {
    auto g = NativeProcessGroup::Unwrap(v.As<Napi::Object>())->group;
    if (!g) throw Napi::Error::New(env, what + ": process group was closed");
    return g;
  }
  throw Napi::TypeError::New(env, what + ": expected a ProcessGroup");
}

// ---------------------------------------------------------------------------------------------- differentiable collectives

// Backward of allGather: rank r's rows of the output feed every rank's loss, so the gradient of the summed loss with
// respect to them is the sum over ranks of the output gradient, sliced to r's rows.
struct AllGatherBackward : torch::autograd::Node {
  std::shared_ptr<Group> group;
  std::vector<int64_t> outSizes;
  at::TensorOptions outOptions;
  int64_t rows = 0;

  std::string name() const override { return "AllGatherBackward"; }

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    at::Tensor g = grads[0].defined() ? grads[0].contiguous().clone() : at::zeros(outSizes, outOptions);
    std::vector<at::Tensor> buf{g};
    group->run("allGather backward", [&] { return group->pg->allreduce(buf); });
    return {g.narrow(0, group->rank * rows, rows)};
  }
};

// Backward of allReduce(sum): every rank's output depends on this rank's input with weight one.
struct AllReduceBackward : torch::autograd::Node {
  std::shared_ptr<Group> group;
  std::vector<int64_t> sizes;
  at::TensorOptions options;

  std::string name() const override { return "AllReduceBackward"; }

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    at::Tensor g = grads[0].defined() ? grads[0].contiguous().clone() : at::zeros(sizes, options);
    std::vector<at::Tensor> buf{g};
    group->run("allReduce backward", [&] { return group->pg->allreduce(buf); });
    return {g};
  }
};

// allGatherCat(group, t) -> the inputs of all ranks concatenated along dim 0, differentiable (first order).
static Napi::Value AllGatherCat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto group = NativeProcessGroup::unwrap(env, info[0], "allGather");
  at::Tensor input = unwrapTensor(env, info[1], "allGather");
  if (input.dim() < 1) throw Napi::RangeError::New(env, "allGather: expected a tensor with at least one dimension");
  at::Tensor result;
  TN_GUARD(env, "c10d", {
    group->checkDevice("allGather", input);
    std::vector<at::Tensor> in{input.detach().contiguous()};
    std::vector<std::vector<at::Tensor>> out(1);
    {
      at::NoGradGuard noGrad;
      for (int i = 0; i < group->size; i++) out[0].push_back(at::empty_like(in[0]));
      group->run("allGather", [&] { return group->pg->allgather(out, in); });
      result = at::cat(out[0], 0);
    }
    if (at::GradMode::is_enabled() && input.requires_grad()) {
      auto node = compat::makeNode<AllGatherBackward>();
      node->group = group;
      node->outSizes = result.sizes().vec();
      node->outOptions = result.options();
      node->rows = input.size(0);
      node->set_next_edges(torch::autograd::collect_next_edges(input));
      torch::autograd::set_history(result, node);
    }
  })
  return wrapTensor(env, result);
}

// allReduceSum(group, t) -> the sum of t over all ranks (a new tensor), differentiable (first order).
static Napi::Value AllReduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto group = NativeProcessGroup::unwrap(env, info[0], "allReduce");
  at::Tensor input = unwrapTensor(env, info[1], "allReduce");
  at::Tensor result;
  TN_GUARD(env, "c10d", {
    {
      at::NoGradGuard noGrad;
      group->checkDevice("allReduce", input);
      result = input.detach().contiguous().clone();
      std::vector<at::Tensor> buf{result};
      group->run("allReduce", [&] { return group->pg->allreduce(buf); });
    }
    if (at::GradMode::is_enabled() && input.requires_grad()) {
      auto node = compat::makeNode<AllReduceBackward>();
      node->group = group;
      node->sizes = result.sizes().vec();
      node->options = result.options();
      node->set_next_edges(torch::autograd::collect_next_edges(input));
      torch::autograd::set_history(result, node);
    }
  })
  return wrapTensor(env, result);
}

// ---------------------------------------------------------------------------------------------- synchronised batch norm

// Backward of syncBatchNorm. With xhat = (x - mean) * invstd over the global batch of `total` samples, the input
// gradient needs two per-channel sums over every rank's samples: sum(dy) and sum(dy * (x - mean)). ATen's eval-mode
// batch-norm backward yields this rank's share of both (as its bias and weight gradients) and dy * weight * invstd;
// after one all-reduce of the sums the rest is a per-channel affine correction of that. Weight and bias gradients stay
// local: they are summed over ranks with the other parameters' gradients.
struct SyncBatchNormBackward : torch::autograd::Node {
  std::shared_ptr<Group> group;
  at::Tensor input;   // in the compute dtype
  at::Tensor weight;  // ones when the layer has none
  at::Tensor mean, var, invstd;
  at::Tensor total;  // [C] samples over all ranks (every entry equal), kept on the device: no host round trip
  double eps = 0;
  c10::ScalarType inputType = at::kFloat;

  std::string name() const override { return "SyncBatchNormBackward"; }

  void release_variables() override {
    input.reset();
    weight.reset();
    mean.reset();
    var.reset();
    invstd.reset();
    total.reset();
  }

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    at::Tensor dy = grads[0].defined() ? grads[0].to(input.scalar_type()) : at::zeros_like(input);
    auto local = at::native_batch_norm_backward(dy, input, weight, mean, var, {}, {}, false, eps, {true, true, true});
    at::Tensor& dxLocal = std::get<0>(local);
    at::Tensor& dWeight = std::get<1>(local);  // sum(dy * (x - mean)) * invstd over this rank
    at::Tensor& dBias = std::get<2>(local);    // sum(dy) over this rank
    int64_t c = mean.numel();
    at::Tensor sums = at::cat({dBias, dWeight / invstd});
    std::vector<at::Tensor> buf{sums};
    group->run("SyncBatchNorm backward", [&] { return group->pg->allreduce(buf); });
    at::Tensor meanDy = sums.narrow(0, 0, c) / total;
    at::Tensor meanDyXmu = sums.narrow(0, c, c) / total;
    // dx = w * invstd * (dy - meanDy - (x - mean) * invstd^2 * meanDyXmu) = dxLocal + k0 + k1 * x
    at::Tensor k1 = -(weight * invstd.pow(3) * meanDyXmu);
    at::Tensor k0 = -(weight * invstd * meanDy) - k1 * mean;
    std::vector<int64_t> shape(input.dim(), 1);
    shape[1] = c;
    at::Tensor dx = dxLocal.add_(k0.view(shape)).addcmul_(input, k1.view(shape));
    if (dx.scalar_type() != inputType) dx = dx.to(inputType);
    return {task_should_compute_output(0) ? dx : at::Tensor(), task_should_compute_output(1) ? dWeight : at::Tensor(),
            task_should_compute_output(2) ? dBias : at::Tensor()};
  }
};

static at::Tensor optionalTensor(Napi::Env env, Napi::Value v, const std::string& what) {
  return v.IsNull() || v.IsUndefined() ? at::Tensor() : unwrapTensor(env, v, what);
}

struct SyncBatchNormArgs {
  std::shared_ptr<Group> group;
  at::Tensor input, weight, bias, runningMean, runningVar;
  double eps = 1e-5;
  double momentum = 0.1;
};

static at::Tensor syncBatchNorm(const SyncBatchNormArgs& a) {
  a.group->checkDevice("SyncBatchNorm", a.input);
  int64_t c = a.input.size(1);
  // Half-precision inputs (autocast) are normalised in float32: their statistics need the digits.
  bool wide = a.input.scalar_type() == at::kFloat || a.input.scalar_type() == at::kDouble;
  at::Tensor x = wide ? a.input.detach() : a.input.detach().to(at::kFloat);
  at::Tensor mean;
  at::Tensor var;
  at::Tensor output;
  at::Tensor total;
  {
    at::NoGradGuard noGrad;
    auto stats = at::batch_norm_update_stats(x, {}, {}, 0.0);
    double count = static_cast<double>(x.numel() / c);
    at::Tensor local = at::stack({std::get<0>(stats), std::get<1>(stats), at::full({c}, count, x.options())});
    std::vector<at::Tensor> in{local};
    std::vector<std::vector<at::Tensor>> out(1);
    for (int i = 0; i < a.group->size; i++) out[0].push_back(at::empty_like(local));
    a.group->run("SyncBatchNorm", [&] { return a.group->pg->allgather(out, in); });
    at::Tensor all = at::stack(out[0]);  // [world, 3, C]
    at::Tensor means = all.select(1, 0);
    at::Tensor counts = all.select(1, 2);
    total = counts.sum(0);
    mean = (means * counts).sum(0) / total;
    var = ((all.select(1, 1) + (means - mean).square()) * counts).sum(0) / total;
    output = std::get<0>(at::native_batch_norm(x, a.weight, a.bias, mean, var, false, 0.0, a.eps));
    if (a.runningMean.defined()) a.runningMean.mul_(1 - a.momentum).add_(mean.to(a.runningMean.scalar_type()), a.momentum);
    if (a.runningVar.defined()) {
      at::Tensor unbiased = var * (total / (total - 1).clamp_min(1));
      a.runningVar.mul_(1 - a.momentum).add_(unbiased.to(a.runningVar.scalar_type()), a.momentum);
    }
  }
  bool needsGrad = a.input.requires_grad() || (a.weight.defined() && a.weight.requires_grad()) || (a.bias.defined() && a.bias.requires_grad());
  if (at::GradMode::is_enabled() && needsGrad) {
    auto node = compat::makeNode<SyncBatchNormBackward>();
    node->group = a.group;
    node->input = x;
    node->weight = a.weight.defined() ? a.weight.detach() : at::ones({c}, x.options());
    node->mean = mean;
    node->var = var;
    node->invstd = (var + a.eps).rsqrt();
    node->total = total;
    node->eps = a.eps;
    node->inputType = a.input.scalar_type();
    node->set_next_edges(torch::autograd::collect_next_edges(a.input, a.weight, a.bias));
    torch::autograd::set_history(output, node);
  }
  return wide ? output : output.to(a.input.scalar_type());
}

// syncBatchNorm(group, input, weight|null, bias|null, runningMean|null, runningVar|null, eps, momentum) -> output
// Training-mode batch normalisation over the samples of every rank (ranks may hold different numbers): each rank's
// mean, biased variance and count are all-gathered and combined with Chan et al.'s parallel formula; running
// statistics move towards the global mean and unbiased variance by `momentum`. Differentiable (first order).
static Napi::Value SyncBatchNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SyncBatchNormArgs a;
  a.group = NativeProcessGroup::unwrap(env, info[0], "syncBatchNorm");
  a.input = unwrapTensor(env, info[1], "syncBatchNorm: input");
  a.weight = optionalTensor(env, info[2], "syncBatchNorm: weight");
  a.bias = optionalTensor(env, info[3], "syncBatchNorm: bias");
  a.runningMean = optionalTensor(env, info[4], "syncBatchNorm: runningMean");
  a.runningVar = optionalTensor(env, info[5], "syncBatchNorm: runningVar");
  a.eps = info[6].As<Napi::Number>().DoubleValue();
  a.momentum = info[7].As<Napi::Number>().DoubleValue();
  if (a.input.dim() < 2) throw Napi::RangeError::New(env, "syncBatchNorm: expected an input of at least 2 dimensions [N, C, ...]");
  at::Tensor output;
  TN_GUARD(env, "c10d", { output = syncBatchNorm(a); })
  return wrapTensor(env, output);
}

// ---------------------------------------------------------------------------------------------- gradient reducer

// Averages parameter gradients over the group in buckets of about bucketBytes. Buckets follow reverse parameter
// order (roughly the order backward produces gradients). When armed before backward, a bucket starts its
// all-reduce from the gradient-accumulator hooks as soon as all of its gradients exist, so communication overlaps
// the rest of backward; buckets always start in index order, which keeps every rank's sequence of collectives equal.
// On CUDA the hooks run on autograd's device thread, under the stream that produced the gradient: the copy into the
// bucket and the all-reduce's start are ordered on that stream, and finish() orders the caller's stream after them.
struct ReducerState {
  struct Bucket {
    std::vector<size_t> params;
    std::vector<int64_t> offsets;
    at::Tensor flat;
    size_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };

  std::shared_ptr<Group> group;
  std::vector<at::Tensor> params;
  std::vector<compat::NodePtr<torch::autograd::Node>> accumulators;
  std::vector<uintptr_t> hookKeys;
  std::vector<std::pair<size_t, size_t>> where;  // parameter -> (bucket, position in bucket)
  std::vector<Bucket> buckets;
  std::vector<bool> copied;
  size_t nextLaunch = 0;
  bool armed = false;
  std::mutex mu;

  void copyIn(size_t i) {
    at::NoGradGuard noGrad;
    auto [b, k] = where[i];
    Bucket& bucket = buckets[b];
    const at::Tensor& p = params[i];
    at::Tensor slice = bucket.flat.narrow(0, bucket.offsets[k], p.numel()).view(p.sizes());
    const at::Tensor& grad = p.grad();
    if (grad.defined()) slice.copy_(grad);
    else slice.zero_();
    copied[i] = true;
    bucket.pending--;
  }

  void launchReady() {
    while (nextLaunch < buckets.size() && buckets[nextLaunch].pending == 0) {
      Bucket& bucket = buckets[nextLaunch++];
      std::vector<at::Tensor> buf{bucket.flat};
      try {
        bucket.work = group->pg->allreduce(buf);
      } catch (const std::exception& e) {
        group->failed.store(true);
        throw std::runtime_error("gradient all-reduce failed on rank " + std::to_string(group->rank) + " of " + std::to_string(group->size) + ": " + describe(e));
      }
    }
  }

  // From the accumulator hook: parameter i's gradient for this backward is final.
  void ready(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) return;
    if (copied[i]) {
      throw std::runtime_error("gradient reducer: a parameter's gradient was accumulated twice before finish() (two backward passes per step need finish() in between, or no arm())");
    }
    copyIn(i);
    launchReady();
  }

  void finish() {
    std::lock_guard<std::mutex> lock(mu);
    armed = false;
    for (size_t i = 0; i < params.size(); i++) if (!copied[i]) copyIn(i);
    launchReady();
    std::string error;
    for (auto& bucket : buckets) {
      try {
        group->wait(bucket.work);
      } catch (const std::exception& e) {
        if (error.empty()) error = describe(e);
      }
      bucket.work.reset();
    }
    if (!error.empty()) {
      group->failed.store(true);
      reset();
      throw std::runtime_error("gradient all-reduce failed on rank " + std::to_string(group->rank) + " of " + std::to_string(group->size) + ": " + error);
    }
    at::NoGradGuard noGrad;
    for (auto& bucket : buckets) {
      bucket.flat.div_(group->size);
      for (size_t k = 0; k < bucket.params.size(); k++) {
        at::Tensor& p = params[bucket.params[k]];
        at::Tensor avg = bucket.flat.narrow(0, bucket.offsets[k], p.numel()).view(p.sizes());
        // Every rank ends with a gradient, even one that produced none itself, so optimizers stay in step.
        if (p.grad().defined()) p.mutable_grad().copy_(avg);
        else p.mutable_grad() = avg.clone();
      }
    }
    reset();
  }

  void reset() {
    nextLaunch = 0;
    std::fill(copied.begin(), copied.end(), false);
    for (auto& bucket : buckets) bucket.pending = bucket.params.size();
  }
};

struct ReadyHook : torch::autograd::FunctionPostHook {
  std::weak_ptr<ReducerState> state;
  size_t index;
  ReadyHook(std::weak_ptr<ReducerState> s, size_t i) : state(std::move(s)), index(i) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) override {
    if (auto s = state.lock()) s->ready(index);
    return outputs;
  }
};

class NativeGradReducer : public Napi::ObjectWrap<NativeGradReducer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeGradReducer",
                       {InstanceMethod("arm", &NativeGradReducer::Arm), InstanceMethod("finish", &NativeGradReducer::Finish),
                        InstanceMethod("bucketSizes", &NativeGradReducer::BucketSizes)});
  }

  // new NativeGradReducer(group, params, bucketBytes)
  explicit NativeGradReducer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeGradReducer>(info) {
    Napi::Env env = info.Env();
    auto s = std::make_shared<ReducerState>();
    s->group = NativeProcessGroup::unwrap(env, info[0], "GradReducer");
    Napi::Array a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      at::Tensor p = unwrapTensor(env, a.Get(i), "GradReducer: params");
      if (!p.is_leaf() || !p.requires_grad()) throw Napi::TypeError::New(env, "GradReducer: parameter " + std::to_string(i) + " is not a leaf that requires grad");
      if (s->group->nccl && !p.is_cuda()) throw Napi::TypeError::New(env, "GradReducer: backend 'nccl' needs CUDA parameters, parameter " + std::to_string(i) + " is on " + p.device().str());
      s->params.push_back(p);
    }
    int64_t cap = info[2].As<Napi::Number>().Int64Value();
    TN_GUARD(env, "GradReducer", {
      s->where.resize(s->params.size());
      s->copied.assign(s->params.size(), false);
      int64_t bytes = 0;
      for (size_t j = s->params.size(); j-- > 0;) {
        const at::Tensor& p = s->params[j];
        bool fresh = s->buckets.empty() || bytes >= cap ||
                     s->params[s->buckets.back().params.front()].options().dtype() != p.options().dtype() ||
                     s->params[s->buckets.back().params.front()].device() != p.device();
        if (fresh) {
          s->buckets.emplace_back();
          bytes = 0;
        }
        auto& bucket = s->buckets.back();
        int64_t offset = bucket.offsets.empty() ? 0 : bucket.offsets.back() + s->params[bucket.params.back()].numel();
        s->where[j] = std::make_pair(s->buckets.size() - 1, bucket.params.size());
        bucket.params.push_back(j);
        bucket.offsets.push_back(offset);
        bytes += p.numel() * static_cast<int64_t>(p.element_size());
      }
      for (auto& bucket : s->buckets) {
        const at::Tensor& last = s->params[bucket.params.back()];
        bucket.flat = at::empty({bucket.offsets.back() + last.numel()}, last.options().requires_grad(false));
        bucket.pending = bucket.params.size();
      }
      for (size_t j = 0; j < s->params.size(); j++) {
        auto acc = torch::autograd::impl::grad_accumulator(s->params[j]);
        s->hookKeys.push_back(acc->add_post_hook(std::make_unique<ReadyHook>(s, j)));
        s->accumulators.push_back(std::move(acc));
      }
    })
    state = s;
  }

  ~NativeGradReducer() override {
    if (!state) return;
    for (size_t j = 0; j < state->accumulators.size(); j++) state->accumulators[j]->del_post_hook(state->hookKeys[j]);
  }

 private:
  std::shared_ptr<ReducerState> state;

  // Lets the next backward start bucket all-reduces as gradients become ready.
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(state->mu);
    state->armed = true;
    return info.Env().Undefined();
  }

  // Starts what backward did not, waits for every bucket, and replaces each gradient with its average over ranks.
  Napi::Value Finish(const Napi::CallbackInfo& info) {
    TN_GUARD(info.Env(), "c10d", { state->finish(); })
    return info.Env().Undefined();
  }

  Napi::Value BucketSizes(const Napi::CallbackInfo& info) {
    Napi::Array out = Napi::Array::New(info.Env(), state->buckets.size());
    for (size_t b = 0; b < state->buckets.size(); b++) out.Set(static_cast<uint32_t>(b), Napi::Number::New(info.Env(), static_cast<double>(state->buckets[b].params.size())));
    return out;
  }
};

void InitDist(Napi::Env env, Napi::Object exports) {
  distState = new DistState();
  env.AddCleanupHook([] {
    delete distState;
    distState = nullptr;
  });
  Napi::Function store = NativeStore::Define(env);
  distState->storeClass = Napi::Persistent(store);
  Napi::Function group = NativeProcessGroup::Define(env);
  distState->groupClass = Napi::Persistent(group);
  exports.Set("NativeStore", store);
  exports.Set("NativeProcessGroup", group);
  exports.Set("NativeGradReducer", NativeGradReducer::Define(env));
  exports.Set("allGatherCat", Napi::Function::New(env, AllGatherCat));
  exports.Set("allReduceSum", Napi::Function::New(env, AllReduceSum));
  exports.Set("syncBatchNorm", Napi::Function::New(env, SyncBatchNorm));
}

}  // namespace tn
