// One place where a failed syscall becomes a JS error, so every error has
// the same shape (code, errno, syscall, as Node's own) and no call site
// formats its own.
//
// The error looks like Node's own system errors (lib/internal/errors.js,
// UVExceptionWithHostPort): message "<syscall> <CODE>[ <address>[:<port>]]",
// properties code ('ECONNRESET'), errno (NEGATIVE, as in Node), syscall, and
// address / port when the call had one. The errno number is always kept.
#pragma once

#include <napi.h>

#include <cstddef>

namespace coio {

// The address a failed call was about, for the message and properties.
// host may contain NUL bytes (Linux abstract socket names), hence the length.
struct SysAddress {
  const char* host = nullptr;
  size_t host_len = 0;
  int port = -1;  // -1: no port (Unix sockets)
};

// The symbolic name of an errno ("EAGAIN"), or nullptr when this OS has none.
const char* ErrnoName(int err);

// Builds the error; `err` is the positive errno.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const SysAddress& address = SysAddress());

// Throws ErrnoError as a C++ exception (the addon is built with C++
// exceptions; node-addon-api turns it into a JS throw at the boundary).
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall,
                             const SysAddress& address = SysAddress());

// Every errno name this OS defines, name -> positive value: the `errno` export.
Napi::Object ErrnoConstants(Napi::Env env);

}  // namespace coio
