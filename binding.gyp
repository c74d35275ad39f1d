{
  # The build picks one file per OS for the default backend; poll and select
  # are POSIX and built everywhere. No #ifdef in shared logic: what differs
  # by OS is a file of its own, picked below.
  # common.gypi of some Node releases tests openssl_fips without defining it.
  "variables": { "openssl_fips%": "" },
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
        "native/sendfile.cc",
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
      # The per-OS files, one of each kind: OS backend (poller_*), waker,
      # pidfd, how new fds get O_NONBLOCK / FD_CLOEXEC (fd_new_*), and the
      # sendfile call (sendfile_*: each OS has its own signature; OpenBSD and
      # NetBSD have none).
      # coio_portable=1 (node-gyp rebuild -- -Dcoio_portable=1, as
      # scripts/portable.sh does) builds, on any OS, those of a POSIX system
      # with none of the fast paths, so Linux runs the paths macOS takes
      # (all but kqueue itself and SO_NOSIGPIPE).
      "variables": {"coio_portable%": 0},
      "defines": ["COIO_PORTABLE=<(coio_portable)"],
      "conditions": [
        ["coio_portable==1", {
          "sources": ["native/poller_none.cc", "native/waker_pipe.cc", "native/pidfd_none.cc", "native/fd_new_fcntl.cc", "native/uring_none.cc", "native/sendfile_none.cc"]
        }, {
          "conditions": [
            ["OS=='linux'", {
              "sources": ["native/poller_epoll.cc", "native/poller_uring.cc", "native/uring.cc", "native/waker_eventfd.cc", "native/pidfd_linux.cc", "native/fd_new_atomic.cc", "native/sendfile_linux.cc"]
            }],
            ["OS=='freebsd' or OS=='openbsd' or OS=='netbsd'", {
              "sources": ["native/poller_kqueue.cc", "native/waker_pipe.cc", "native/pidfd_none.cc", "native/fd_new_atomic.cc", "native/uring_none.cc"]
            }],
            ["OS=='freebsd'", { "sources": ["native/sendfile_freebsd.cc"] }],
            ["OS=='openbsd' or OS=='netbsd'", { "sources": ["native/sendfile_none.cc"] }],
            ["OS=='mac'", {
              "sources": ["native/poller_kqueue.cc", "native/waker_pipe.cc", "native/pidfd_none.cc", "native/fd_new_fcntl.cc", "native/uring_none.cc", "native/sendfile_mac.cc"]
            }],
            ["OS!='linux' and OS!='mac' and OS!='freebsd' and OS!='openbsd' and OS!='netbsd'", {
              "sources": ["native/poller_none.cc", "native/waker_pipe.cc", "native/pidfd_none.cc", "native/fd_new_fcntl.cc", "native/uring_none.cc", "native/sendfile_none.cc"]
            }]
          ]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }]
      ]
    },
    {
      # TLS is its own addon, loaded on the first TLS call (src/tls_native.ts):
      # when OpenSSL cannot be reached, TLS fails with a clear error and the
      # rest of coio works. It uses the OpenSSL that Node carries: Node
      # exports its symbols to addons and node-gyp's headers include
      # <openssl/ssl.h> (include/node/openssl), so nothing is linked and no
      # system OpenSSL headers are needed. A Node built against a shared
      # OpenSSL (node_shared_openssl) links the system's -lssl -lcrypto; a
      # Node without OpenSSL (node_use_openssl false) gets no TLS addon.
      # OPENSSL_API_COMPAT 1.1.0: the API used here exists in 1.1.1 and 3.x,
      # and 3.0's deprecation warnings stay quiet.
      "target_name": "coio_tls",
      "conditions": [
        ["node_use_openssl=='true'", {
          "sources": ["native/tls.cc", "native/tls_bio.cc", "native/args.cc"],
          "defines": ["OPENSSL_API_COMPAT=0x10100000L", "OPENSSL_SUPPRESS_DEPRECATED"],
          "conditions": [
            ["node_shared_openssl=='true'", { "libraries": ["-lssl", "-lcrypto"] }]
          ]
        }, {
          "type": "none"
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }]
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
