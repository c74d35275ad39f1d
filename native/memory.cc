// Heap tuning for large messages: the read buffers coio hands user code are
// Buffers V8 owns and frees, so glibc's trimming decides what they cost.
//
// With glibc's defaults, a 100 KiB Buffer comes from the heap's top and,
// when V8 frees many of them at once, free() trims the heap back to the OS
// (M_TRIM_THRESHOLD, 128 KiB): the next reads fault every page back in.
// Buffers of 128 KiB and more are mmap()ed and munmap()ed each time (the
// dynamic M_MMAP_THRESHOLD only rises after a free). Measured on the echo
// benchmark, this doubled the cost of every path that hands user code a
// fresh Buffer per read. Raising both thresholds keeps those pages mapped
// and reused. Process-wide by nature; coio applies it once, and only where
// the C library is glibc (other allocators have their own policies).
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "args.h"

namespace coio {

namespace {

// tuneMalloc(trimThreshold, mmapThreshold) -> true if applied.
Napi::Value TuneMalloc(const Napi::CallbackInfo& info) {
  int64_t trim = ArgInteger(info, 0, "tuneMalloc", "trimThreshold", 0, INT32_MAX);
  int64_t mmap = ArgInteger(info, 1, "tuneMalloc", "mmapThreshold", 0, 32 * 1024 * 1024);
#if defined(__GLIBC__)
  bool ok = mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim)) == 1 && mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap)) == 1;
  return Napi::Boolean::New(info.Env(), ok);
#else
  (void)trim;
  (void)mmap;
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("tuneMalloc", Napi::Function::New(env, TuneMalloc, "tuneMalloc"));
}

}  // namespace coio
