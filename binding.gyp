{
  # The build picks one file per OS for the default backend; poll and select
  # are POSIX and built everywhere. No #ifdef in shared logic (STYLE.md 1).
  "targets": [
    {
      "target_name": "coio",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/errors.cc",
        "native/fd_util.cc",
        "native/memory.cc",
        "native/guest.cc",
        "native/microtasks.cc",
        "native/poller.cc",
        "native/poller_poll.cc",
        "native/poller_select.cc",
        "native/signals.cc",
        "native/sockaddr.cc",
        "native/socket.cc",
        "native/spawn.cc",
        "native/waker.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/poller_epoll.cc", "native/waker_eventfd.cc"]
        }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd' or OS=='netbsd'", {
          "sources": ["native/poller_kqueue.cc", "native/waker_pipe.cc"],
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        ["OS!='linux' and OS!='mac' and OS!='freebsd' and OS!='openbsd' and OS!='netbsd'", {
          "sources": ["native/poller_none.cc", "native/waker_pipe.cc"]
        }]
      ]
    }
  ]
}
