{
  "target_defaults": {
    "include_dirs": ["<!@(node ../scripts/find-libtorch.mjs include)"],
    "libraries": [
      "-L<!(node ../scripts/find-libtorch.mjs lib)",
      "-Wl,-rpath,<!(node ../scripts/find-libtorch.mjs lib)",
      "-Wl,--no-as-needed",
      "<!@(node ../scripts/find-libtorch.mjs libs)"
    ],
    "defines": ["_GLIBCXX_USE_CXX11_ABI=<!(node ../scripts/find-libtorch.mjs abi)"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
    "cflags_cc": ["-std=<!(node ../scripts/find-libtorch.mjs std)", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
  },
  "targets": [
    {
      "target_name": "torch_node",
      "sources": [
        "src/addon.cc",
        "src/tensor.cc",
        "src/convert.cc",
        "src/ops.cc",
        "src/autograd.cc",
        "src/runtime.cc",
        "src/dist.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": [
        "NAPI_EXPERIMENTAL",
        "USE_C10D_GLOO",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags_cc": ["-O2"],
      "conditions": [
        # A CUDA libtorch: the CUDA runtime calls and ProcessGroupNCCL are compiled in (libtorch_cuda and c10_cuda
        # are linked by `libs`); a CPU libtorch builds exactly as without this block.
        ["<!(node ../scripts/find-libtorch.mjs cuda)==1", {
          "defines": ["SIMCLR_WITH_CUDA=1", "USE_C10D_NCCL"],
          "include_dirs": ["<!@(node ../scripts/find-libtorch.mjs cudaInclude)"]
        }]
      ]
    },
    {
      "target_name": "simclr_ops",
      "type": "loadable_module",
      "sources": ["kernels/augment.cc", "kernels/augment_blockwise.cc"],
      "cflags_cc": ["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"],
      "ldflags": ["-fopenmp"]
    }
  ]
}
