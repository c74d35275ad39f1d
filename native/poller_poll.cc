// poll(2) backend: portable, no fd-number limit, O(registered fds) per wait.
// Registration is a pollfd array plus an fd -> slot index, so add, modify
// and remove are O(1) (remove swaps the last slot into the hole).
#include <poll.h>

#include <cerrno>
#include <new>
#include <vector>

#include "poller.h"

namespace coio {
namespace {

short PollEvents(int interest) {
  short events = 0;
  if (interest & kPollRead) events |= POLLIN;
  if (interest & kPollWrite) events |= POLLOUT;
  // POLLERR, POLLHUP and POLLNVAL are output-only and always reported
  // (poll(2)), so interest 0 still tells about errors and hang-ups.
  return events;
}

int32_t Bits(short revents) {
  int32_t bits = 0;
  if (revents & (POLLIN | POLLPRI)) bits |= kPollRead;
  if (revents & POLLOUT) bits |= kPollWrite;
  if (revents & POLLERR) bits |= kPollError;
  // POLLNVAL: the fd was closed while still registered.
  if (revents & POLLNVAL) bits |= kPollError | kPollNval;
  if (revents & POLLHUP) bits |= kPollHup;
  return bits;
}

class PollBackend final : public PollerBackend {
 public:
  int Add(int fd, int interest) override {
    try {
      if (static_cast<size_t>(fd) >= slot_of_fd_.size()) slot_of_fd_.resize(fd + 1, -1);
      ids_.reserve(fds_.size() + 1);
      fds_.push_back(pollfd{fd, PollEvents(interest), 0});
    } catch (const std::bad_alloc&) {
      return ENOMEM;
    }
    ids_.push_back(FileIdOf(fd));
    slot_of_fd_[fd] = static_cast<int32_t>(fds_.size() - 1);
    return 0;
  }

  // One fstat: was the number closed and reused since it was added?
  int Modify(int fd, int, int interest) override {
    int32_t slot = slot_of_fd_[fd];
    fds_[slot].events = PollEvents(interest);
    FileId now = FileIdOf(fd);
    if (now == ids_[slot]) return 0;
    ids_[slot] = now;
    return kReAdded;
  }

  int Remove(int fd, int) override {
    int32_t slot = slot_of_fd_[fd];
    pollfd last = fds_.back();
    fds_[slot] = last;
    ids_[slot] = ids_.back();
    slot_of_fd_[last.fd] = slot;
    fds_.pop_back();
    ids_.pop_back();
    slot_of_fd_[fd] = -1;
    return 0;
  }

  int Wait(int64_t timeout_ns, int32_t* out, int max_pairs) override {
    int ready = poll(fds_.data(), fds_.size(), TimeoutNsToMs(timeout_ns));
    if (ready <= 0) return ready < 0 ? -errno : 0;

    // Scan from where the last overflowing wait stopped: when more fds are
    // ready than `out` holds, the ones past the end are reported first next
    // time instead of the low slots winning every wait.
    size_t n = fds_.size();
    size_t i = scan_start_ < n ? scan_start_ : 0;
    int found = 0;
    int count = 0;
    for (size_t k = 0; k < n && found < ready; ++k, i = (i + 1 == n ? 0 : i + 1)) {
      short revents = fds_[i].revents;
      if (revents == 0) continue;
      ++found;
      if (count == max_pairs) {
        scan_start_ = i;
        break;
      }
      out[2 * count] = fds_[i].fd;
      out[2 * count + 1] = Bits(revents);
      ++count;
    }
    return count;
  }

  int Close() override {
    // No kernel object: drop the table (and its memory).
    std::vector<pollfd>().swap(fds_);
    std::vector<FileId>().swap(ids_);
    std::vector<int32_t>().swap(slot_of_fd_);
    return 0;
  }

  const char* CtlSyscall() const override { return "poll"; }
  const char* WaitSyscall() const override { return "poll"; }

 private:
  std::vector<pollfd> fds_;
  std::vector<FileId> ids_;  // per slot: the file fds_[slot].fd named when added
  std::vector<int32_t> slot_of_fd_;  // fd -> index in fds_, -1 if absent
  size_t scan_start_ = 0;
};

}  // namespace

std::unique_ptr<PollerBackend> CreatePollBackend(int, int* err) {
  std::unique_ptr<PollerBackend> backend(new (std::nothrow) PollBackend());
  if (!backend) *err = ENOMEM;
  return backend;
}

}  // namespace coio
