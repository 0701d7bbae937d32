{
  "targets": [
    {
      "target_name": "hostnet_libvirt",
      "sources": ["native/libvirt_addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(pkg-config --cflags-only-I libvirt | sed -e 's/-I//g')"
      ],
      "libraries": ["<!@(pkg-config --libs libvirt)"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "hostnet_notify",
      "sources": ["native/notify_addon.c"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}
