// The io_uring readiness backend (Linux): the poller contract (poller.h) on
// a ring of our own (uring.h), so that addReader / addWriter, sock* and
// every transport run on io_uring unchanged.
//
// Each watched fd has one poll request in the ring. add / modify / remove
// only write submission entries into the ring's shared memory (no syscall;
// add makes one fstat, to refuse a closed fd with EBADF as epoll does);
// Wait submits them all and waits in the same io_uring_enter, with the
// loop's timeout passed along (IORING_ENTER_EXT_ARG).
//
// Level-triggered, like epoll here: a multishot poll is edge-triggered
// (it posts on wakeups, not while data stays unread; IORING_POLL_ADD_LEVEL
// with MULTI is refused with EINVAL), and the loop relies on being told
// again about readiness it did not consume. So each poll is one-shot, and
// an fd reported by a wait is armed again at the start of the next one,
// after the callbacks ran: arming checks the file's state at once, so a
// still-ready fd completes inside that same io_uring_enter. The re-arm is
// one more entry in a syscall made anyway.
//
// The ring always reports EPOLLRDHUP (with ERR and HUP) whatever was asked.
// For an fd watched for writing only, a peer's half-close would then
// complete every one-shot poll at once: a spin, where epoll (which reports
// RDHUP only when asked) stays quiet. Such an fd gets a multishot poll
// instead, which posts only on later wakeups (the send buffer draining),
// and is back on one-shot polls once it reports.
//
// A poll request holds a reference to the file: an fd closed while still
// watched stays open in the kernel until it is removed from the poller (or
// the poller is closed). Socket.close() removes first; the removal reaches
// the kernel at the loop's next wait.
#include <linux/io_uring.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <new>
#include <vector>

#include "poller.h"
#include "uring.h"
#include "uring_abi.h"

namespace coio {
namespace {

// user_data: the fd in the low 32 bits, the fd's generation in the next 31
// (a completion of a request since replaced is recognised and dropped), and
// the top bit for the ring's own cancellations, whose completions are
// dropped too.
constexpr uint64_t kCancelTag = uint64_t{1} << 63;
// Completion operations: this bit and the caller's token in the low 32 bits.
constexpr uint64_t kOpTag = uint64_t{1} << 62;
constexpr uint32_t kGenMask = 0x7fffffff;

uint64_t UserData(int fd, uint32_t gen) {
  return (static_cast<uint64_t>(gen & kGenMask) << 32) | static_cast<uint32_t>(fd);
}

uint32_t PollMask(int interest) {
  uint32_t events = 0;
  if (interest & kPollRead) events |= POLLIN | POLLRDHUP;
  if (interest & kPollWrite) events |= POLLOUT;
  return events;
}

int32_t Bits(uint32_t events) {
  int32_t bits = 0;
  if (events & (POLLIN | POLLPRI)) bits |= kPollRead;
  if (events & POLLOUT) bits |= kPollWrite;
  if (events & POLLERR) bits |= kPollError;
  if (events & (POLLHUP | POLLRDHUP)) bits |= kPollHup;
  if (events & POLLNVAL) bits |= kPollError | kPollNval;
  return bits;
}

enum : uint8_t {
  kIdle,     // not watched, no request in the ring
  kPending,  // watched, to be armed by the next Wait
  kArmed,    // a one-shot poll in the ring
  kQuiet,    // a multishot poll in the ring (write-only fd after a half-close)
};

struct FdState {
  uint32_t gen = 0;
  uint8_t state = kIdle;
  uint8_t interest = 0;
  bool queued = false;  // in pending_ (which may hold stale entries)
  FileId id;
};

// Submission entries: 256 a batch (a longer batch is submitted in several
// io_uring_enter calls), and room for 4096 completions (NODROP keeps any
// excess in the kernel until we reap).
constexpr unsigned kSqEntries = 256;
// How many deferred completions the kernel posts per io_uring_enter that
// does not wait (IO_LOCAL_TW_DEFAULT_MAX); a poll that brought this many
// polls again. A smaller batch only costs one more io_uring_enter.
constexpr unsigned kTaskRunBatch = 16;
constexpr unsigned kCqEntries = 4096;
// The buffer group of the provided-buffer ring (one per ring).
constexpr uint16_t kBufGroup = 0;

class UringBackend final : public PollerBackend {
 public:
  int Init() { return ring_.Setup(kSqEntries, kCqEntries); }

  int Add(int fd, int interest) override {
    struct stat st;
    if (fstat(fd, &st) != 0) return errno;
    try {
      if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(fd + 1);
    } catch (const std::bad_alloc&) {
      return ENOMEM;
    }
    FdState& s = fds_[fd];
    // A request left by an owner that closed the fd unremoved (the registry
    // forgot it) is replaced.
    if (s.state == kArmed || s.state == kQuiet) CancelPoll(fd, s);
    s.id = FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
    s.interest = static_cast<uint8_t>(interest);
    ++s.gen;
    MarkPending(fd, s);
    return 0;
  }

  int Modify(int fd, int old_interest, int interest) override {
    FdState& s = fds_[fd];
    FileId now = FileIdOf(fd);
    bool reused = !(now == s.id);
    s.id = now;
    if (reused || interest != s.interest) {
      s.interest = static_cast<uint8_t>(interest);
      if (s.state == kArmed || s.state == kQuiet) {
        CancelPoll(fd, s);
        ++s.gen;
        s.state = kPending;
      }
      if (s.state == kPending) MarkPending(fd, s);
    }
    return reused ? kReAdded : 0;
  }

  int Remove(int fd, int) override {
    FdState& s = fds_[fd];
    if (s.state == kArmed || s.state == kQuiet) CancelPoll(fd, s);
    ++s.gen;
    s.state = kIdle;
    return 0;
  }

  int Wait(int64_t timeout_ns, int32_t* out, int max_pairs) override {
    ring_.QuietEventFd();
    int n = WaitQuiet(timeout_ns, out, max_pairs);
    ring_.AnnounceLeftWork();
    return n;
  }

  int Submit(const OpRequest& req) override {
    int err;
    io_uring_sqe* sqe = ring_.NextSqe(&err);
    if (sqe == nullptr) return err;
    sqe->fd = req.fd;
    sqe->user_data = kOpTag | req.token;
    switch (req.op) {
      case kOpRecv:
        sqe->opcode = IORING_OP_RECV;
        sqe->addr = reinterpret_cast<uint64_t>(req.data);
        sqe->len = req.length;
        break;
      case kOpRecvMulti:
        if (!bufs_.active()) {
          ring_.Unget();
          return ENOBUFS;
        }
        sqe->opcode = IORING_OP_RECV;
        // arg 1: one read only (one buffer), for a fair share of a scarce pool.
        if (req.arg == 0) sqe->ioprio = IORING_RECV_MULTISHOT;
        sqe->flags = IOSQE_BUFFER_SELECT;
        sqe->buf_group = kBufGroup;
        break;
      case kOpSend:
        sqe->opcode = IORING_OP_SEND;
        sqe->addr = reinterpret_cast<uint64_t>(req.data);
        sqe->len = req.length;
        sqe->msg_flags = MSG_NOSIGNAL;
        break;
      case kOpSendmsg:
        // The kernel reads the msghdr and its iovecs when it prepares the
        // operation; the poller keeps them until the completion anyway.
        sqe->opcode = IORING_OP_SENDMSG;
        sqe->addr = reinterpret_cast<uint64_t>(req.data);
        sqe->len = 1;
        sqe->msg_flags = MSG_NOSIGNAL;
        break;
      case kOpAccept:
        sqe->opcode = IORING_OP_ACCEPT;
        sqe->ioprio = IORING_ACCEPT_MULTISHOT;
        sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        break;
      case kOpConnect:
        // The kernel copies the address when it prepares the operation on
        // recent kernels, and only when it first issues it on older ones:
        // the caller keeps it until the completion either way. A TCP connect
        // that cannot finish at once is parked on the socket's writability
        // in the kernel and tried again there; the completion is its end.
        sqe->opcode = IORING_OP_CONNECT;
        sqe->addr = reinterpret_cast<uint64_t>(req.data);
        sqe->off = req.length;
        break;
      case kOpClose:
        sqe->opcode = IORING_OP_CLOSE;
        break;
      case kOpShutdown:
        sqe->opcode = IORING_OP_SHUTDOWN;
        sqe->len = static_cast<uint32_t>(req.arg);
        break;
      case kOpCancel:
        // Its own completion is dropped; the cancelled operation completes
        // with -ECANCELED (or with its result, if it finished first).
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->fd = -1;
        sqe->addr = kOpTag | static_cast<uint32_t>(req.arg);
        sqe->user_data = kCancelTag;
        if (ring_.features() & IORING_FEAT_CQE_SKIP) sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
        return 0;
      default:
        ring_.Unget();
        return EINVAL;
    }
    ++ops_in_flight_;
    return 0;
  }

  void SetCompletions(int32_t* comp, int max_triples) override {
    comp_ = comp;
    max_triples_ = max_triples;
  }

  int OpsInFlight() const override { return ops_in_flight_; }

  int SetBufRing(uint8_t* base, unsigned count, unsigned size, int32_t* recycle) override {
    if (bufs_.active()) return EEXIST;
    int err = bufs_.Setup(ring_, kBufGroup, base, count, size);
    if (err == 0) recycle_ = recycle;
    return err;
  }

  // Guest mode, after a step's callbacks: arm what they registered, so the
  // eventfd libuv watches is signalled when it becomes ready.
  // With settle (a proactor socket about to be closed): also run the
  // deferred work its cancellations set off, so the kernel lets go of the
  // file now; their completions wait in the queue for the next Wait.
  int Flush(bool settle) override {
    ReturnBuffers();
    int err = ArmPending();
    if (err == 0 && (ring_.Pending() > 0 || settle)) {
      int r = ring_.Enter(settle, 0);
      if (r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN) err = -r;
    }
    return err;
  }

  int Close() override {
    // Operations still in flight may write into buffers the caller frees
    // once we return: cancel them all and wait for their completions.
    if (ops_in_flight_ > 0) {
      int err;
      io_uring_sqe* sqe = ring_.NextSqe(&err);
      if (sqe != nullptr) {
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->fd = -1;
        sqe->cancel_flags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY;
        sqe->user_data = kCancelTag;
      }
      for (int tries = 0; ops_in_flight_ > 0 && tries < 100; ++tries) {
        int r = ring_.Enter(true, 10 * 1000000LL);
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN) break;
        unsigned ready = ring_.Ready();
        for (unsigned i = 0; i < ready; ++i) {
          const io_uring_cqe* cqe = ring_.Peek(i);
          if ((cqe->user_data & kOpTag) && !(cqe->user_data & kCancelTag) && !(cqe->flags & IORING_CQE_F_MORE)) {
            --ops_in_flight_;
          }
        }
        ring_.Advance(ready);
      }
    }
    int err = ring_.Close();
    // The ring is gone, and with it the kernel's use of the buffer ring.
    bufs_.Release(-1);
    recycle_ = nullptr;
    return err;
  }

  // Not the ring's fd: an eventfd the ring signals (see Ring::EventFd),
  // which is what a watcher outside (guest mode's libuv) can wait on. The
  // first call moves to a ring without DEFER_TASKRUN (ForWatcher).
  int Fileno() const override {
    auto* self = const_cast<UringBackend*>(this);
    if (self->ring_.EventFdOpen() < 0) self->ForWatcher();
    int fd = self->ring_.EventFd();
    return fd >= 0 ? fd : -1;
  }
  const char* CtlSyscall() const override { return "io_uring_enter"; }
  const char* WaitSyscall() const override { return "io_uring_enter"; }

 private:
  // A ring with DEFER_TASKRUN posts completions only when this thread
  // waits in io_uring_enter, and tells a watcher elsewhere of deferred
  // work only through the eventfd, late at times (Ring::EventFd). Before
  // the eventfd is first handed out, the ring is replaced by one without
  // DEFER_TASKRUN, and every watched fd is armed again there (the old
  // ring's polls die with it; arming checks readiness at once, so none is
  // missed). Not while operations are in flight or provided buffers are
  // registered: they cannot move to another ring; that ring stays (and a
  // guest on it may wait those milliseconds).
  void ForWatcher() {
    if (!(ring_.setup_flags() & IORING_SETUP_DEFER_TASKRUN)) return;
    if (ops_in_flight_ > 0 || bufs_.active()) return;
    Ring fresh;
    if (fresh.Setup(kSqEntries, kCqEntries, false) != 0) return;
    ring_.Swap(fresh);
    fresh.Close();
    for (size_t fd = 0; fd < fds_.size(); ++fd) {
      FdState& s = fds_[fd];
      if (s.state == kIdle) continue;
      ++s.gen;
      MarkPending(static_cast<int>(fd), s);
    }
  }

  // The buffer ids the caller wrote into the recycle array since the last
  // call, back to the kernel's ring: one store publishes them all.
  void ReturnBuffers() {
    if (recycle_ == nullptr) return;
    int n = recycle_[0];
    if (n <= 0) return;
    unsigned max = bufs_.entries();
    if (static_cast<unsigned>(n) > max) n = static_cast<int>(max);
    for (int i = 1; i <= n; ++i) bufs_.Add(static_cast<unsigned>(recycle_[i]));
    bufs_.Publish();
    recycle_[0] = 0;
  }

  int WaitQuiet(int64_t timeout_ns, int32_t* out, int max_pairs) {
    ReturnBuffers();
    int err = ArmPending();
    if (err != 0) return -err;
    if (comp_ != nullptr) comp_[0] = 0;
    // Completions left by a wait that filled `out` are reported first,
    // without blocking.
    if (ring_.Ready() > 0) timeout_ns = 0;
    unsigned before = ring_.Ready();
    int r = ring_.Enter(true, timeout_ns);
    // ETIME: the timeout passed. EINTR: a signal (reported when nothing
    // completed, so the caller retries with the time left). EBUSY /
    // EAGAIN: completions overflowed to the kernel's list; reap, and the
    // next wait flushes them.
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN) return r;
    unsigned came = ring_.Ready() - before;
    int n = Reap(out, max_pairs);
    // More may be waiting: the kernel's deferred work is run a batch per
    // call (DEFER_TASKRUN), and completions beyond the queue's size wait
    // in its overflow list (NODROP). Poll again while a batch came back
    // full or completions overflowed, and there is room to report them.
    for (int rounds = 0; n < max_pairs && rounds < 64 && (came >= kTaskRunBatch || ring_.Overflowed()); ++rounds) {
      before = ring_.Ready();
      r = ring_.Enter(true, 0);
      if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN) return r;
      came = ring_.Ready() - before;
      if (ring_.Ready() == 0) break;
      n += Reap(out + 2 * n, max_pairs - n);
    }
    if (n == 0 && r == -EINTR && (comp_ == nullptr || comp_[0] == 0)) return -EINTR;
    return n;
  }

  // Marks fd to be armed by the next Wait. pending_ holds each fd at most
  // once (stale entries are skipped), so it rarely grows; when it cannot,
  // the fd stays unarmed until modified: better than throwing from here.
  void MarkPending(int fd, FdState& s) {
    s.state = kPending;
    if (s.queued) return;
    try {
      pending_.push_back(fd);
      s.queued = true;
    } catch (const std::bad_alloc&) {
      s.state = kIdle;
    }
  }

  // Queues the removal of fd's request. Its own completion is dropped
  // (skipped when the kernel can skip it: IOSQE_CQE_SKIP_SUCCESS); so is
  // the cancelled request's (-ECANCELED, an old generation).
  void CancelPoll(int fd, FdState& s) {
    int err;
    io_uring_sqe* sqe = ring_.NextSqe(&err);
    if (sqe == nullptr) {
      // The ring refuses even a submission: nothing can be cancelled. The
      // request's completion will carry an old generation and be dropped.
      return;
    }
    sqe->opcode = IORING_OP_POLL_REMOVE;
    sqe->fd = -1;
    sqe->addr = UserData(fd, s.gen);
    sqe->user_data = kCancelTag;
    if (ring_.features() & IORING_FEAT_CQE_SKIP) sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
  }

  int ArmPending() {
    size_t i = 0;
    for (; i < pending_.size(); ++i) {
      int fd = pending_[i];
      FdState& s = fds_[fd];
      if (s.state != kPending) {
        s.queued = false;
        continue;
      }
      int err = Arm(fd, s, false);
      if (err != 0) {
        pending_.erase(pending_.begin(), pending_.begin() + i);
        return err;
      }
      s.queued = false;
    }
    pending_.clear();
    return 0;
  }

  int Arm(int fd, FdState& s, bool multishot) {
    int err;
    io_uring_sqe* sqe = ring_.NextSqe(&err);
    if (sqe == nullptr) return err;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = fd;
    sqe->poll32_events = PollMask(s.interest);
    sqe->len = multishot ? IORING_POLL_ADD_MULTI : 0;
    sqe->user_data = UserData(fd, s.gen);
    s.state = multishot ? kQuiet : kArmed;
    return 0;
  }

  int Reap(int32_t* out, int max_pairs) {
    unsigned ready = ring_.Ready();
    unsigned i = 0;
    int n = 0;
    for (; i < ready; ++i) {
      const io_uring_cqe* cqe = ring_.Peek(i);
      uint64_t ud = cqe->user_data;
      if (ud & kCancelTag) continue;
      if (ud & kOpTag) {
        if (comp_ == nullptr) {
          // No array to report into: the operation's result is dropped.
          if (!(cqe->flags & IORING_CQE_F_MORE)) --ops_in_flight_;
          continue;
        }
        int k = comp_[0];
        if (k >= max_triples_) break;  // full: left for the next wait
        comp_[1 + 3 * k] = static_cast<int32_t>(static_cast<uint32_t>(ud));
        comp_[2 + 3 * k] = cqe->res;
        bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
        int32_t flags = more ? kOpMore : 0;
        // The buffer a recv picked: its id in the upper 16 bits (below
        // 32768, so the flags stay positive).
        if (cqe->flags & IORING_CQE_F_BUFFER) flags |= kOpBuffer | static_cast<int32_t>(cqe->flags & 0xffff0000u);
        comp_[3 + 3 * k] = flags;
        comp_[0] = k + 1;
        if (!more) --ops_in_flight_;
        continue;
      }
      if (n >= max_pairs) break;
      int fd = static_cast<int>(static_cast<uint32_t>(ud));
      uint32_t gen = static_cast<uint32_t>(ud >> 32);
      if (static_cast<size_t>(fd) >= fds_.size()) continue;
      FdState& s = fds_[fd];
      if (gen != (s.gen & kGenMask) || (s.state != kArmed && s.state != kQuiet)) continue;
      bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
      if (cqe->res < 0) {
        if (more) continue;
        // EBADF: the fd was closed before its poll was armed; like poll's
        // POLLNVAL, report it once and arm it no more.
        s.state = kIdle;
        if (cqe->res == -ECANCELED) continue;
        out[2 * n] = fd;
        out[2 * n + 1] = kPollError | (cqe->res == -EBADF ? kPollNval : 0);
        ++n;
        continue;
      }
      uint32_t events = static_cast<uint32_t>(cqe->res);
      if (!(s.interest & kPollRead)) events &= ~static_cast<uint32_t>(POLLRDHUP);
      if (events == 0) {
        // Only a half-close, which this fd did not ask about: wait quietly
        // for something it did ask about.
        if (!more) {
          ++s.gen;
          if (Arm(fd, s, true) != 0) MarkPending(fd, s);
        }
        continue;
      }
      if (s.state == kQuiet && more) CancelPoll(fd, s);
      ++s.gen;
      MarkPending(fd, s);
      out[2 * n] = fd;
      out[2 * n + 1] = Bits(events);
      ++n;
    }
    ring_.Advance(i);
    return n;
  }

  Ring ring_;
  BufRing bufs_;                 // the provided buffers of kOpRecvMulti, once set up
  int32_t* recycle_ = nullptr;   // [count, bid * count]: buffers to give back
  int32_t* comp_ = nullptr;
  int max_triples_ = 0;
  int ops_in_flight_ = 0;
  std::vector<FdState> fds_;
  std::vector<int> pending_;  // fds to arm at the next Wait
};

}  // namespace

std::unique_ptr<PollerBackend> CreateUringBackend(int max_pairs, int* err) {
  std::unique_ptr<UringBackend> backend(new (std::nothrow) UringBackend());
  if (!backend) {
    *err = ENOMEM;
    return nullptr;
  }
  int e = backend->Init();
  if (e != 0) {
    *err = e;
    return nullptr;
  }
  return backend;
}

}  // namespace coio
