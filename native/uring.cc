// The ring (uring.h): setup with the best flags this kernel takes, the
// probe and its diagnostics, submission and completion queues.
#include "uring.h"

#include <linux/io_uring.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "uring_abi.h"

namespace coio {
namespace {

int SysSetup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}

int SysEnter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg,
             size_t argsz) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz));
}

unsigned LoadAcquire(const unsigned* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void StoreRelease(unsigned* p, unsigned v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// The setup flags to try, best first. SINGLE_ISSUER + DEFER_TASKRUN (6.1)
// is what makes the ring cheaper than epoll: completions are posted only
// when the loop's thread enters the kernel to wait, with no task-work
// interrupts in between; COOP_TASKRUN (5.19) is the next best. SUBMIT_ALL
// (5.18) keeps submitting past an entry that fails to prepare. An older
// kernel refuses an unknown flag with EINVAL: the next set is tried.
const unsigned kSetupChoices[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
    IORING_SETUP_SUBMIT_ALL,
    0,
};

// What the kernel must offer: EXT_ARG (5.11: a timeout passed to
// io_uring_enter itself, so one syscall submits and waits), NODROP (5.5:
// completions are never lost when the queue is full).
constexpr unsigned kRequiredFeatures = IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP;

// Reads a sysctl of one integer, or -1.
int ReadSysctl(const char* path) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  int value = -1;
  if (std::fscanf(f, "%d", &value) != 1) value = -1;
  std::fclose(f);
  return value;
}

std::string Reason(int err) {
  const char* name = err == ENOSYS   ? "ENOSYS"
                     : err == EPERM  ? "EPERM"
                     : err == EACCES ? "EACCES"
                     : err == ENOMEM ? "ENOMEM"
                     : err == EINVAL ? "EINVAL"
                     : err == EMFILE ? "EMFILE"
                                     : "error";
  std::string head = std::string("io_uring_setup failed with ") + name + " (" + std::strerror(err) + "): ";
  int disabled = ReadSysctl("/proc/sys/kernel/io_uring_disabled");
  switch (err) {
    case ENOSYS:
      return head +
             "this kernel has no io_uring (built without CONFIG_IO_URING), or a seccomp filter hides it "
             "(Docker's and Kubernetes' default profiles do)";
    case EPERM:
    case EACCES:
      if (disabled == 2) return head + "io_uring is disabled by the sysctl kernel.io_uring_disabled=2";
      if (disabled == 1) {
        return head +
               "kernel.io_uring_disabled=1 lets only root and the members of kernel.io_uring_group make "
               "rings";
      }
      return head + "refused by a seccomp filter or a security module (a container's profile, say)";
    case ENOMEM:
      return head + "the ring's memory could not be allocated or locked (RLIMIT_MEMLOCK on kernels before 5.12)";
    case EINVAL:
      return head + "this kernel refuses every setup tried (too old: Linux 5.11 or later is needed)";
    case EOPNOTSUPP:
      return "io_uring is too old here: the kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11) or "
             "IORING_FEAT_NODROP (Linux 5.5)";
    default:
      return head + "the ring could not be made";
  }
}

}  // namespace

int Ring::Setup(unsigned sq_entries, unsigned cq_entries, bool defer) {
  io_uring_params p;
  int fd = -1;
  int err = EINVAL;
  for (unsigned flags : kSetupChoices) {
    // DEFER_TASKRUN needs SINGLE_ISSUER; without it the flags left are
    // still a valid choice (SINGLE_ISSUER + COOP_TASKRUN + SUBMIT_ALL).
    if (!defer) flags &= ~IORING_SETUP_DEFER_TASKRUN;
    std::memset(&p, 0, sizeof p);
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = cq_entries;
    fd = SysSetup(sq_entries, &p);
    if (fd >= 0) break;
    err = errno;
    if (err != EINVAL) return err;
  }
  if (fd < 0) return err;
  if ((p.features & kRequiredFeatures) != kRequiredFeatures) {
    close(fd);
    return EOPNOTSUPP;
  }
  fd_ = fd;
  setup_flags_ = p.flags & ~IORING_SETUP_CQSIZE;
  features_ = p.features;

  sq_map_len_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_map_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_map_len_ > sq_map_len_) sq_map_len_ = cq_map_len_;
  sq_map_ = mmap(nullptr, sq_map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (sq_map_ == MAP_FAILED) {
    sq_map_ = nullptr;
    err = errno;
    Close();
    return err;
  }
  if (single) {
    cq_map_ = sq_map_;
  } else {
    cq_map_ = mmap(nullptr, cq_map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (cq_map_ == MAP_FAILED) {
      cq_map_ = nullptr;
      err = errno;
      Close();
      return err;
    }
  }
  sqes_len_ = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqes_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) {
    err = errno;
    Close();
    return err;
  }
  sqes_ = static_cast<io_uring_sqe*>(sqes);

  char* sq = static_cast<char*>(sq_map_);
  sq_head_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
  sq_tail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  sq_array_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  sq_flags_ = reinterpret_cast<unsigned*>(sq + p.sq_off.flags);
  sq_mask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  sq_entries_ = p.sq_entries;
  sq_local_tail_ = *sq_tail_;
  // The index array maps slot i to entry i once and for all.
  for (unsigned i = 0; i < sq_entries_; ++i) sq_array_[i] = i;
  char* cq = static_cast<char*>(cq_map_);
  cq_head_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
  cq_tail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
  cq_mask_ = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
  cq_flags_ = reinterpret_cast<unsigned*>(cq + p.cq_off.flags);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
  return 0;
}

void Ring::Swap(Ring& o) noexcept {
  std::swap(fd_, o.fd_);
  std::swap(event_fd_, o.event_fd_);
  std::swap(cq_flags_, o.cq_flags_);
  std::swap(setup_flags_, o.setup_flags_);
  std::swap(features_, o.features_);
  std::swap(sq_map_, o.sq_map_);
  std::swap(sq_map_len_, o.sq_map_len_);
  std::swap(cq_map_, o.cq_map_);
  std::swap(cq_map_len_, o.cq_map_len_);
  std::swap(sqes_, o.sqes_);
  std::swap(sqes_len_, o.sqes_len_);
  std::swap(sq_head_, o.sq_head_);
  std::swap(sq_tail_, o.sq_tail_);
  std::swap(sq_array_, o.sq_array_);
  std::swap(sq_flags_, o.sq_flags_);
  std::swap(sq_mask_, o.sq_mask_);
  std::swap(sq_entries_, o.sq_entries_);
  std::swap(sq_local_tail_, o.sq_local_tail_);
  std::swap(cq_head_, o.cq_head_);
  std::swap(cq_tail_, o.cq_tail_);
  std::swap(cqes_, o.cqes_);
  std::swap(cq_mask_, o.cq_mask_);
}

int Ring::Close() {
  if (event_fd_ >= 0) {
    close(event_fd_);
    event_fd_ = -1;
  }
  if (sqes_ != nullptr) munmap(sqes_, sqes_len_);
  if (cq_map_ != nullptr && cq_map_ != sq_map_) munmap(cq_map_, cq_map_len_);
  if (sq_map_ != nullptr) munmap(sq_map_, sq_map_len_);
  sqes_ = nullptr;
  cq_map_ = nullptr;
  sq_map_ = nullptr;
  int err = 0;
  if (fd_ >= 0) {
    // close(2): on Linux the fd is released even when close reports EINTR.
    if (close(fd_) != 0 && errno != EINTR) err = errno;
    fd_ = -1;
  }
  return err;
}

io_uring_sqe* Ring::NextSqe(int* err) {
  if (sq_local_tail_ - LoadAcquire(sq_head_) >= sq_entries_) {
    // Full: submit what is queued (no wait) to make room.
    int r = Enter(false, 0);
    if (r < 0 && r != -EINTR) {
      *err = -r;
      return nullptr;
    }
    if (sq_local_tail_ - LoadAcquire(sq_head_) >= sq_entries_) {
      *err = EBUSY;
      return nullptr;
    }
  }
  io_uring_sqe* sqe = &sqes_[sq_local_tail_ & sq_mask_];
  std::memset(sqe, 0, sizeof *sqe);
  ++sq_local_tail_;
  return sqe;
}

unsigned Ring::Pending() const { return sq_local_tail_ - LoadAcquire(sq_head_); }

// A watcher elsewhere (guest mode's libuv) waits on this eventfd, which
// the kernel signals when it posts a completion. With DEFER_TASKRUN it
// also signals it when it queues deferred work, but measured on Linux
// 6.18 that signal can come one RCU grace period late (8-35 ms) once the
// thread has read or written the eventfd since the request was armed,
// which a guest does every step: a socketpair ping-pong in guest mode
// made 31 round trips a second. So a ring that is to be watched from
// outside is made again without DEFER_TASKRUN first (UringBackend::Fileno):
// its completions are then posted by task work, which wakes the thread
// wherever it sleeps, and each one signals the eventfd at once.
int Ring::EventFd() {
  if (event_fd_ >= 0) return event_fd_;
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return -errno;
  if (syscall(__NR_io_uring_register, fd_, IORING_REGISTER_EVENTFD, &efd, 1) != 0) {
    int err = errno;
    close(efd);
    return -err;
  }
  event_fd_ = efd;
  return efd;
}

void Ring::QuietEventFd() {
  if (event_fd_ < 0) return;
  StoreRelease(cq_flags_, LoadAcquire(cq_flags_) | IORING_CQ_EVENTFD_DISABLED);
  uint64_t count;
  while (read(event_fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

void Ring::AnnounceLeftWork() {
  if (event_fd_ < 0) return;
  StoreRelease(cq_flags_, LoadAcquire(cq_flags_) & ~IORING_CQ_EVENTFD_DISABLED);
  // Work queued while the signals were off: the ring's fd polls readable
  // for it (completions, or deferred work pending).
  pollfd pfd{fd_, POLLIN, 0};
  if (Ready() > 0 || (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))) {
    uint64_t one = 1;
    while (write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
}

bool Ring::Overflowed() const { return (LoadAcquire(sq_flags_) & IORING_SQ_CQ_OVERFLOW) != 0; }

int Ring::Enter(bool wait, int64_t timeout_ns) {
  StoreRelease(sq_tail_, sq_local_tail_);
  unsigned to_submit = sq_local_tail_ - LoadAcquire(sq_head_);
  if (!wait) {
    if (to_submit == 0) return 0;
    return SysEnter(fd_, to_submit, 0, 0, nullptr, 0) < 0 ? -errno : 0;
  }
  // With DEFER_TASKRUN, completions are posted only while we are in here
  // with GETEVENTS: even a poll (timeout 0) must ask for events.
  UringGeteventsArg arg{};
  UringTimespec ts{};
  unsigned min_complete = 1;
  if (timeout_ns == 0) {
    // A poll: ask for nothing, so the kernel runs one batch of its deferred
    // work and returns without sleeping. (Asking for many with a timeout
    // already passed goes through the sleeping path: a reschedule, which
    // costs milliseconds on a loaded machine.) The caller polls again
    // while a batch came back full.
    min_complete = 0;
  } else if (timeout_ns > 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    arg.ts = reinterpret_cast<uint64_t>(&ts);
  }
  int r = SysEnter(fd_, to_submit, min_complete, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg,
                   sizeof arg);
  return r < 0 ? -errno : 0;
}

unsigned Ring::Ready() const { return LoadAcquire(cq_tail_) - *cq_head_; }

const io_uring_cqe* Ring::Peek(unsigned i) const { return &cqes_[(*cq_head_ + i) & cq_mask_]; }

void Ring::Advance(unsigned n) { StoreRelease(cq_head_, *cq_head_ + n); }

int Ring::Register(unsigned opcode, void* arg, unsigned nr) {
  return syscall(__NR_io_uring_register, fd_, opcode, arg, nr) == 0 ? 0 : errno;
}

int BufRing::Setup(Ring& ring, uint16_t bgid, uint8_t* base, unsigned entries, unsigned size) {
  if (mem_ != nullptr) return EEXIST;
  if (entries == 0 || entries > 32768 || (entries & (entries - 1)) != 0 || size == 0) return EINVAL;
  mem_len_ = entries * sizeof(UringBuf);
  // Page-aligned, as the kernel requires of a ring it is given.
  void* mem = mmap(nullptr, mem_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return errno;
  UringBufReg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = entries;
  reg.bgid = bgid;
  int err = ring.Register(kRegisterPbufRing, &reg, 1);
  if (err != 0) {
    munmap(mem, mem_len_);
    return err;
  }
  mem_ = mem;
  base_ = base;
  size_ = size;
  mask_ = entries - 1;
  bgid_ = bgid;
  tail_ = 0;
  for (unsigned i = 0; i < entries; ++i) Add(i);
  Publish();
  return 0;
}

void BufRing::Add(unsigned bid) {
  if (bid > mask_) return;
  // addr, len and bid only: the resv of entry 0 is the ring's tail.
  UringBuf* b = &static_cast<UringBuf*>(mem_)[tail_ & mask_];
  b->addr = reinterpret_cast<uint64_t>(base_ + static_cast<size_t>(bid) * size_);
  b->len = size_;
  b->bid = static_cast<uint16_t>(bid);
  ++tail_;
}

void BufRing::Publish() {
  uint16_t* tail = reinterpret_cast<uint16_t*>(static_cast<char*>(mem_) + 14);
  __atomic_store_n(tail, tail_, __ATOMIC_RELEASE);
}

void BufRing::Release(int ring_fd) {
  if (mem_ == nullptr) return;
  if (ring_fd >= 0) {
    UringBufReg reg{};
    reg.bgid = bgid_;
    syscall(__NR_io_uring_register, ring_fd, kUnregisterPbufRing, &reg, 1);
  }
  munmap(mem_, mem_len_);
  mem_ = nullptr;
}

namespace {

// Whether a multishot recv into a provided-buffer ring works here: one
// byte through a socketpair must complete into a buffer of the ring
// (IORING_CQE_F_BUFFER) with the recv still armed (IORING_CQE_F_MORE).
// Before 5.19 the registration fails; before 6.0 the recv is refused
// (EINVAL). The probe's buffers are static: nothing the kernel may still
// write is ever freed.
bool ProbeMultishotRecv(Ring& ring) {
  static uint8_t memory[2 * 64];
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  bool ok = false;
  BufRing bufs;
  if (bufs.Setup(ring, 0, memory, 2, 64) == 0 && write(sv[1], "x", 1) == 1) {
    int err;
    io_uring_sqe* sqe = ring.NextSqe(&err);
    if (sqe != nullptr) {
      sqe->opcode = IORING_OP_RECV;
      sqe->fd = sv[0];
      sqe->ioprio = IORING_RECV_MULTISHOT;
      sqe->flags = IOSQE_BUFFER_SELECT;
      sqe->buf_group = 0;
      sqe->user_data = 1;
      bool armed = false;
      // Wait for the first completion, then cancel and wait for the last.
      for (int tries = 0; tries < 20; ++tries) {
        int r = ring.Enter(true, 50 * 1000000LL);
        if (r < 0 && r != -ETIME && r != -EINTR) break;
        unsigned ready = ring.Ready();
        bool last = false;
        for (unsigned i = 0; i < ready; ++i) {
          const io_uring_cqe* cqe = ring.Peek(i);
          if (cqe->user_data != 1) continue;
          if (!armed && cqe->res == 1 && (cqe->flags & IORING_CQE_F_BUFFER) && (cqe->flags & IORING_CQE_F_MORE)) ok = true;
          if (!(cqe->flags & IORING_CQE_F_MORE)) last = true;
        }
        ring.Advance(ready);
        if (last) break;
        if (!armed && ready > 0) {
          armed = true;
          io_uring_sqe* cancel = ring.NextSqe(&err);
          if (cancel == nullptr) break;
          cancel->opcode = IORING_OP_ASYNC_CANCEL;
          cancel->fd = -1;
          cancel->addr = 1;
          cancel->user_data = 2;
        }
      }
    }
  }
  bufs.Release(ring.fd());
  close(sv[0]);
  close(sv[1]);
  return ok;
}

// Whether the kernel lists opcode as supported (IORING_REGISTER_PROBE, 5.6).
// An opcode is either in the kernel or not: unlike multishot recv, nothing
// about it depends on a flag a trial would have to show.
// The kernel refuses a result buffer that is not zeroed (EINVAL).
bool ProbeOp(Ring& ring, unsigned opcode) {
  UringProbeOps probe{};
  return ring.Register(kRegisterProbe, &probe, 256) == 0 && opcode <= probe.last_op && opcode < probe.ops_len &&
         (probe.ops[opcode].flags & kProbeOpSupported) != 0;
}

}  // namespace

UringProbe ProbeUring(int simulate_errno) {
  UringProbe probe;
  int err = simulate_errno;
  if (err == 0) {
    Ring ring;
    err = ring.Setup(4, 8);
    if (err == 0) {
      probe.setup_flags = ring.setup_flags();
      probe.features = ring.features();
      probe.multishot_recv = ProbeMultishotRecv(ring);
      probe.connect = ProbeOp(ring, IORING_OP_CONNECT);
    }
  }
  probe.available = err == 0;
  probe.err = err;
  if (err != 0) probe.reason = Reason(err);
  return probe;
}

}  // namespace coio

// ---- JS: uringProbe ---------------------------------------------------------

#include <napi.h>

#include "addon.h"
#include "args.h"

namespace coio {
namespace {

Napi::Value UringProbeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int simulate = 0;
  if (!info[0].IsUndefined()) {
    simulate = static_cast<int>(ArgInteger(info, 0, "uringProbe", "simulateErrno", 0, 4095));
  }
  UringProbe probe = ProbeUring(simulate);
  Napi::Object result = Napi::Object::New(env);
  result.Set("available", Napi::Boolean::New(env, probe.available));
  result.Set("errno", Napi::Number::New(env, probe.err));
  result.Set("reason", Napi::String::New(env, probe.reason));
  Napi::Array flags = Napi::Array::New(env);
  struct Named {
    unsigned bit;
    const char* name;
  };
  const Named kFlags[] = {
      {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
      {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
      {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
      {IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL"},
  };
  uint32_t k = 0;
  for (const Named& f : kFlags) {
    if (probe.setup_flags & f.bit) flags.Set(k++, f.name);
  }
  result.Set("setupFlags", flags);
  result.Set("features", Napi::Number::New(env, probe.features));
  result.Set("multishotRecv", Napi::Boolean::New(env, probe.multishot_recv));
  result.Set("connect", Napi::Boolean::New(env, probe.connect));
  return result;
}

}  // namespace

void InitUring(Napi::Env env, Napi::Object exports) {
  exports.Set("uringProbe", Napi::Function::New(env, UringProbeJs, "uringProbe"));
}

}  // namespace coio
