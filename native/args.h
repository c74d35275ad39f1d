// Argument checks shared by every exported function: each throws a
// TypeError (wrong type) or RangeError (right type, bad value) naming the
// function and the argument, before any syscall is made. They call N-API
// directly (one call per argument) because they sit on the hot path.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace coio {

// A Uint8Array's (or Buffer's) bytes, or a checked range inside them.
struct Bytes {
  uint8_t* data;
  size_t length;
};

// A number (any double, NaN included); TypeError otherwise.
double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);

// An integer in [min, max]: TypeError if not a number, RangeError if NaN,
// fractional or outside the range.
int64_t ArgInteger(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name,
                   int64_t min, int64_t max);

// A file descriptor: an integer in [0, INT_MAX].
int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* fn);

// A Uint8Array (Buffer included): its whole contents.
Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);

// Arguments (buf, offset, length) at i, i+1, i+2: the range buf[offset, offset+length),
// which must lie inside buf (RangeError otherwise).
Bytes ArgByteRange(const Napi::CallbackInfo& info, size_t i, const char* fn);

// A string copied as UTF-8 (NUL bytes included) into out[0, cap). Returns its
// full UTF-8 length: a result >= cap means it did not fit (out is then truncated).
size_t ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name,
                 char* out, size_t cap);

// A boolean (as 0 / 1) or an int32 integer.
int ArgIntOrBool(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);

}  // namespace coio
