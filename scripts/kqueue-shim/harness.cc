// Exercises native/poller_kqueue.cc through the PollerBackend contract
// (native/poller.h), against kqueue_shim.cc (or libkqueue when present).
// Prints "N passed, N failed" and exits non-zero on any failure.
#include <sys/event.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "../../native/poller.h"

using namespace coio;

namespace {

int passed = 0;
int failed = 0;

void Check(bool ok, const char* what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    std::printf("FAIL: %s\n", what);
  }
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Bits of fd in the first n pairs of out, -1 if absent; counts duplicates.
int BitsOf(const int32_t* out, int n, int fd, int* times = nullptr) {
  int bits = -1;
  int seen = 0;
  for (int i = 0; i < n; ++i) {
    if (out[2 * i] == fd) {
      bits = out[2 * i + 1];
      ++seen;
    }
  }
  if (times != nullptr) *times = seen;
  return bits;
}

}  // namespace

int main() {
  const BackendEntry* entries;
  size_t count = OsBackends(&entries);
  Check(count == 1 && std::strcmp(entries[0].name, "kqueue") == 0, "OsBackends lists kqueue");

  int err = 0;
  auto backend = entries[0].create(4, &err);
  Check(backend != nullptr && backend->Fileno() >= 0, "create gives a kqueue fd");
  if (!backend) return 1;

  int32_t out[2 * 4 + 2];
  const int32_t kGuard = 0x5a5a5a5a;
  out[8] = out[9] = kGuard;

  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  const int a = sp[0];
  const int b = sp[1];

  Check(backend->Add(a, kPollRead | kPollWrite) == 0, "add read+write");
  int n = backend->Wait(0, out, 4);
  Check(n == 1 && BitsOf(out, n, a) == kPollWrite, "idle socket: writable only");

  write(b, "x", 1);
  int times = 0;
  n = backend->Wait(0, out, 4);
  Check(n == 1 && BitsOf(out, n, a, &times) == (kPollRead | kPollWrite) && times == 1,
        "readable+writable: two kevents merged into one pair");

  Check(backend->Modify(a, kPollRead | kPollWrite, kPollRead) == 0, "modify to read");
  n = backend->Wait(0, out, 4);
  Check(n == 1 && BitsOf(out, n, a) == kPollRead, "read only after modify");

  Check(backend->Remove(a, kPollRead) == 0, "remove");
  Check(backend->Wait(0, out, 4) == 0, "nothing after remove");

  Check(backend->Add(a, 0) == 0, "add with interest 0");
  Check(backend->Wait(0, out, 4) == 0, "interest 0 reports nothing");
  Check(backend->Modify(a, 0, kPollWrite) == 0, "modify 0 -> write");
  n = backend->Wait(0, out, 4);
  Check(n == 1 && BitsOf(out, n, a) == kPollWrite, "write after modify from 0");
  Check(backend->Modify(a, kPollWrite, kPollRead) == 0, "modify write -> read");

  int sp2[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp2);
#ifndef COIO_REAL_KQUEUE
  // A failing change is undone: the filter that succeeded is deleted again.
  // (Needs the shim's fault injection.)
  kqueue_shim_fail_next(static_cast<uintptr_t>(sp2[0]), EVFILT_WRITE, ENOMEM);
  int knotes_before = kqueue_shim_knotes(backend->Fileno());
  Check(backend->Add(sp2[0], kPollRead | kPollWrite) == ENOMEM, "add reports the failed filter");
  Check(kqueue_shim_knotes(backend->Fileno()) == knotes_before,
        "the succeeded filter is rolled back");
#endif

  // Capacity: 3 ready fds, room for 2 pairs; nothing written past it.
  Check(backend->Add(sp2[0], kPollWrite) == 0, "add second fd");
  Check(backend->Add(sp2[1], kPollWrite) == 0, "add third fd");
  n = backend->Wait(0, out, 2);
  Check(n == 2, "capacity respected");
  Check(out[8] == kGuard && out[9] == kGuard, "no write past the buffer");

  // EOF: the peer closes.
  close(b);
  n = backend->Wait(0, out, 4);
  int bits = BitsOf(out, n, a);
  Check(bits >= 0 && (bits & kPollRead) && (bits & kPollHup), "peer close: read + hang-up");

  // Remove after the owner closed the fd: the knotes went with close(2).
  close(a);
  int rerr = backend->Remove(a, kPollRead);
  Check(rerr == 0 || rerr == EBADF || rerr == ENOENT, "remove of a closed fd: EBADF/ENOENT/0");

  // Timeouts: a timespec, never early.
  Check(backend->Remove(sp2[0], kPollWrite) == 0 && backend->Remove(sp2[1], kPollWrite) == 0,
        "remove the rest");
  int64_t start = NowNs();
  n = backend->Wait(20 * 1000000, out, 4);
  Check(n == 0 && NowNs() - start >= 20 * 1000000, "a 20 ms wait lasts >= 20 ms");

  Check(backend->Close() == 0, "close");
  close(sp2[0]);
  close(sp2[1]);

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
