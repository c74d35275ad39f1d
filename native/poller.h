// The poller contract: one abstract backend, one file per backend, one
// factory that picks by name, so adding a backend touches no other file
// and the policy written in poller.cc holds for all of them.
//
//   poller_epoll.cc   Linux             (the build adds it on Linux)
//   poller_uring.cc   Linux io_uring    (the build adds it on Linux)
//   poller_kqueue.cc  macOS / *BSD      (the build adds it there)
//   poller_none.cc    other POSIX       (no OS-specific backend)
//   poller_poll.cc    poll(2)           (everywhere)
//   poller_select.cc  select(2)         (everywhere)
//   poller.cc         the JS class Poller and the shared policy
//
// The JS Poller (poller.cc) does everything backends have in common:
// argument checks, the fd registry that answers EEXIST / ENOENT the same way
// for every backend, the closed state, the deadline and the EINTR retry with
// the remaining time. A backend only makes syscalls. Backend methods never
// throw: they return 0 or a positive errno (Wait: a count or -errno).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cerrno>
#include <memory>

namespace coio {

// Interest / readiness bits; the same values as POLL_* in src/native.ts.
constexpr int kPollRead = 1;
constexpr int kPollWrite = 2;
constexpr int kPollError = 4;
constexpr int kPollHup = 8;
// The fd is not open: it was closed while registered (poll's POLLNVAL,
// select's EBADF). Always reported with kPollError.
constexpr int kPollNval = 16;
constexpr int kInterestMask = kPollRead | kPollWrite;

// Modify's answer when the fd had been closed behind the poller's back and
// its number reused (epoll: the kernel had dropped the old registration;
// poll, select: the file's identity changed): the backend now watches the
// new file with the interest asked for.
constexpr int kReAdded = -1;

// Completion operations (io_uring only): what Poller.submit queues. Each
// finishes with one completion (token, result, flags) in the completions
// array, several for a multishot accept (flags has kOpMore until the last).
enum OpCode : int {
  kOpRecv = 1,      // recv(fd, data, length)
  kOpSend = 2,      // send(fd, data, length, MSG_NOSIGNAL)
  kOpAccept = 3,    // multishot accept4(fd, SOCK_NONBLOCK | SOCK_CLOEXEC): a new fd per completion
  kOpClose = 4,     // close(fd)
  kOpShutdown = 5,  // shutdown(fd, arg)
  kOpCancel = 6,    // cancel the operation whose token is arg (it completes with -ECANCELED)
  // multishot recv(fd) into buffers the kernel picks from the provided-buffer
  // ring (SetBufRing): a completion per read, each naming its buffer, until
  // EOF, an error, a cancel or -ENOBUFS (no buffer left) ends it. With
  // arg 1, a single recv into one picked buffer.
  kOpRecvMulti = 7,
  kOpSendmsg = 8,   // sendmsg(fd, data: a msghdr the caller keeps until completion, MSG_NOSIGNAL)
  // connect(fd, data: a struct sockaddr of length bytes, which the caller
  // keeps until the completion): 0 once connected, or -errno
  // (-ECONNREFUSED, ...). The kernel finishes a TCP handshake itself (it
  // waits for the socket to become writable and reads its error).
  kOpConnect = 9,
};
constexpr int kOpMore = 1;  // completion flag: more completions of this operation follow
// Completion flag: the bytes are in a provided buffer, whose id is in the
// flags' upper 16 bits (flags >>> 16); give it back with the recycle array.
constexpr int kOpBuffer = 2;

struct OpRequest {
  int op;
  int fd;
  void* data;
  uint32_t length;
  uint32_t token;
  int arg;
};

class PollerBackend {
 public:
  virtual ~PollerBackend() = default;

  // Start watching fd (not registered yet: the caller's registry says so).
  // interest is kPollRead | kPollWrite, possibly 0.
  virtual int Add(int fd, int interest) = 0;
  // Start watching fd (registered in the caller's registry) with interest,
  // which may equal old_interest: the caller asks again when a new owner
  // takes the fd over, in case the number was closed and reused behind its
  // back. Returns 0, an errno, or kReAdded (see above).
  virtual int Modify(int fd, int old_interest, int interest) = 0;
  // fd is registered with old_interest; stop watching it. EBADF / ENOENT
  // from the kernel mean fd was closed already; the caller forgets fd anyway.
  virtual int Remove(int fd, int old_interest) = 0;

  // Waits at most timeout_ns nanoseconds (-1: forever, 0: do not block),
  // rounded UP to the backend's resolution. Writes up to max_pairs
  // (fd, bits) pairs into out[0, 2 * max_pairs) and returns how many, or
  // -errno (-EINTR included: the caller retries with the remaining time).
  // Allocates nothing. max_pairs is the capacity given at creation.
  virtual int Wait(int64_t timeout_ns, int32_t* out, int max_pairs) = 0;

  // Hands queued registration changes to the kernel now instead of at the
  // next Wait (io_uring queues them), for a caller about to wait elsewhere
  // on Fileno(): guest mode, before libuv blocks. With settle, also lets
  // the kernel finish what the submissions set off at once (io_uring: the
  // deferred work of a cancellation, which drops the cancelled operation's
  // reference to its file), leaving the completions for the next Wait.
  // Returns 0 or an errno.
  virtual int Flush(bool settle) { return 0; }

  // Completion operations (io_uring): queue one (no syscall; the next Wait
  // submits it). Returns 0 or an errno (ENOTSUP: this backend has none).
  virtual int Submit(const OpRequest& req) { return ENOTSUP; }
  // Where Wait writes finished operations: comp[0] their count, then
  // (token, result, flags) triples, up to max_triples.
  virtual void SetCompletions(int32_t* comp, int max_triples) {}
  // Operations submitted and not yet completed.
  virtual int OpsInFlight() const { return 0; }
  // Provided buffers (io_uring): registers count buffers (a power of two,
  // at most 32768) of size bytes at base, all given to the kernel for
  // kOpRecvMulti. recycle[0] counts the buffer ids written after it, which
  // each Wait (and Flush) gives back to the kernel before submitting, then
  // zeroes. base and recycle must stay valid until Close has returned.
  // Returns 0 or an errno (ENOTSUP: this backend has none; EEXIST: done).
  virtual int SetBufRing(uint8_t* base, unsigned count, unsigned size, int32_t* recycle) { return ENOTSUP; }

  // Releases the kernel object. Called at most once. A backend with
  // operations in flight cancels them and waits for their completions
  // first, so no buffer is written after Close returns.
  virtual int Close() = 0;

  // The fd a watcher outside can wait on for readiness: the kernel object's
  // fd (epoll, kqueue), an eventfd the ring signals (io_uring), or -1.
  virtual int Fileno() const { return -1; }
  // Exclusive upper bound on watchable fd numbers (select: FD_SETSIZE), 0 for none.
  virtual int FdLimit() const { return 0; }
  // Syscall names for error messages.
  virtual const char* CtlSyscall() const = 0;
  virtual const char* WaitSyscall() const = 0;
};

// Creates a backend that reports up to max_pairs pairs per Wait (buffers are
// sized here, once). On failure returns nullptr and sets *err to an errno.
using BackendFactory = std::unique_ptr<PollerBackend> (*)(int max_pairs, int* err);

struct BackendEntry {
  const char* name;
  BackendFactory create;
  const char* create_syscall;  // for the error when creation fails
};

// The OS's own backends, best first, defined by the one per-OS file the
// build picks (poller_epoll.cc, poller_kqueue.cc or poller_none.cc).
size_t OsBackends(const BackendEntry** entries);

// io_uring's readiness backend (poller_uring.cc, Linux builds only).
std::unique_ptr<PollerBackend> CreateUringBackend(int max_pairs, int* err);

// The POSIX backends, built everywhere.
std::unique_ptr<PollerBackend> CreatePollBackend(int max_pairs, int* err);
std::unique_ptr<PollerBackend> CreateSelectBackend(int max_pairs, int* err);

// Which open file an fd names (st_dev, st_ino), so that poll and select,
// which watch fd numbers, can tell when the number was closed and reused
// behind their back (epoll and kqueue are told by the kernel). An fd that
// fstat refuses has the identity {0, 0}.
struct FileId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileId& other) const { return dev == other.dev && ino == other.ino; }
};
FileId FileIdOf(int fd);

// Timeout conversions shared by the backends: always round up, so a wait
// never ends before the requested time.
int TimeoutNsToMs(int64_t timeout_ns);  // -1 forever, capped at INT_MAX ms

}  // namespace coio
