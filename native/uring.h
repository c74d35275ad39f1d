// A minimal io_uring of our own, on the kernel ABI alone (<linux/io_uring.h>
// and the raw io_uring_setup / io_uring_enter syscalls): no liburing, so the
// build needs nothing the kernel headers do not have. Linux-only; the build
// adds uring.cc and poller_uring.cc on Linux and uring_none.cc elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct io_uring_sqe;
struct io_uring_cqe;

namespace coio {

// What the probe found: whether a ring can be set up here, with which setup
// flags, and if not, why (a sentence for the user, naming the errno).
struct UringProbe {
  bool available = false;
  int err = 0;               // the errno of the failure, 0 when available
  unsigned setup_flags = 0;  // IORING_SETUP_* the ring was made with
  unsigned features = 0;     // IORING_FEAT_* the kernel reported
  // A provided-buffer ring (5.19) and multishot recv (6.0) work here: a
  // trial recv on a socketpair completed into a buffer the kernel picked,
  // with more to come.
  bool multishot_recv = false;
  // IORING_OP_CONNECT (5.5) is among the opcodes the kernel lists as
  // supported (IORING_REGISTER_PROBE): the proactor loops connect in the ring.
  bool connect = false;
  std::string reason;        // why it is unavailable ("" when available)
};

// Tries to set a ring up (and closes it). simulate_errno != 0 pretends
// io_uring_setup failed with it, so the diagnostics can be tested on a
// kernel that has io_uring.
UringProbe ProbeUring(int simulate_errno = 0);

// One ring: the mmapped submission and completion queues. Single-threaded
// (the loop's thread is its only issuer).
class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() { Close(); }

  // Sets up a ring of sq_entries submissions (a power of two) and
  // cq_entries completions, with the best setup flags this kernel takes;
  // without IORING_SETUP_DEFER_TASKRUN when defer is false (a ring waited
  // on from outside: see Ring::EventFd). Returns 0 or an errno.
  int Setup(unsigned sq_entries, unsigned cq_entries, bool defer = true);
  // Exchanges this ring with other, every field (the caller then closes
  // the old one).
  void Swap(Ring& other) noexcept;
  // Unmaps and closes; in-flight operations are cancelled by the kernel.
  // Returns 0 or an errno.
  int Close();

  int fd() const { return fd_; }
  // io_uring_register(opcode, arg, nr). Returns 0 or an errno.
  int Register(unsigned opcode, void* arg, unsigned nr);
  unsigned setup_flags() const { return setup_flags_; }
  unsigned features() const { return features_; }

  // A zeroed submission entry, or nullptr when the queue is full and
  // submitting what is queued did not make room (then *err says why).
  io_uring_sqe* NextSqe(int* err);
  // Takes back the entry NextSqe just gave (not yet published).
  void Unget() { --sq_local_tail_; }
  // Entries queued since the last Enter.
  unsigned Pending() const;
  // io_uring_enter: submits every queued entry; with wait, also runs the
  // ring's deferred work and waits for one completion at most timeout_ns
  // (-1: forever, 0: not at all). Returns 0 or -errno (-ETIME: the timeout
  // passed; -EINTR: a signal).
  // With DEFER_TASKRUN a poll (timeout 0) runs one batch of the kernel's
  // deferred work (20 items): more may be waiting when it comes back full.
  int Enter(bool wait, int64_t timeout_ns);
  // Completions overflowed into the kernel's list (the queue was full): an
  // Enter with wait moves them into the queue.
  bool Overflowed() const;
  // An eventfd the kernel signals when the ring has work for us (a
  // completion, or deferred work that would post one), for a caller that
  // waits elsewhere (guest mode: libuv watches it). Made on first use.
  // Returns the fd, or -errno.
  int EventFd();
  // The eventfd if made, else -1.
  int EventFdOpen() const { return event_fd_; }
  // Around a wait of our own: no signals while we are in the kernel
  // anyway, then signal the eventfd if work is already waiting (so none
  // arrives unannounced between our last look and the next step).
  void QuietEventFd();
  void AnnounceLeftWork();

  // The completion queue: Ready() completions wait; Peek(i) is the i-th of
  // them (i < Ready()); Advance(n) hands the first n back to the kernel.
  const io_uring_cqe* Peek(unsigned i) const;
  unsigned Ready() const;
  void Advance(unsigned n);

 private:
  int fd_ = -1;
  int event_fd_ = -1;
  unsigned* cq_flags_ = nullptr;
  unsigned setup_flags_ = 0;
  unsigned features_ = 0;
  void* sq_map_ = nullptr;
  size_t sq_map_len_ = 0;
  void* cq_map_ = nullptr;  // == sq_map_ with IORING_FEAT_SINGLE_MMAP
  size_t cq_map_len_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_len_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned* sq_flags_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned sq_entries_ = 0;
  unsigned sq_local_tail_ = 0;  // entries written, not yet published
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned cq_mask_ = 0;
};

// A provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19): the buffers a
// recv with IOSQE_BUFFER_SELECT picks from when data comes, so that a recv
// waiting on an idle socket holds no buffer. The ring of buffer entries
// (entries x 16 bytes) is our own page-aligned memory; the buffers are the
// caller's (base + bid * size), which must stay valid until the ring is
// closed and every operation that may write into them has completed.
class BufRing {
 public:
  BufRing() = default;
  BufRing(const BufRing&) = delete;
  BufRing& operator=(const BufRing&) = delete;
  ~BufRing() { Release(-1); }

  // Registers `entries` buffers (a power of two, at most 32768) of `size`
  // bytes at base as ring's buffer group bgid, every one given to the
  // kernel. Returns 0 or an errno (EINVAL before 5.19, EEXIST if done).
  int Setup(Ring& ring, uint16_t bgid, uint8_t* base, unsigned entries, unsigned size);
  // Gives buffer bid back to the kernel: queued; Publish makes the queued
  // ones visible (one store). An id out of range is ignored.
  void Add(unsigned bid);
  void Publish();
  // Unregisters it from the ring whose fd is ring_fd (-1: that ring is
  // closed, which dropped it) and unmaps the entries.
  void Release(int ring_fd);
  bool active() const { return mem_ != nullptr; }
  unsigned entries() const { return mask_ + 1; }

 private:
  void* mem_ = nullptr;
  size_t mem_len_ = 0;
  uint8_t* base_ = nullptr;
  unsigned size_ = 0;
  unsigned mask_ = 0;
  uint16_t tail_ = 0;
  uint16_t bgid_ = 0;
};

}  // namespace coio
