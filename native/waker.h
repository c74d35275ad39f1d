// The waker's fds, one file per OS (waker_eventfd.cc on Linux, waker_pipe.cc
// elsewhere); waker.cc is the JS class over them.
#pragma once

namespace coio {

struct WakerFds {
  int read_fd = -1;   // registered for reading by the loop
  int write_fd = -1;  // written by wake(); equal to read_fd for an eventfd
};

// Opens non-blocking, close-on-exec fds. Returns 0 or an errno.
int OpenWaker(WakerFds* fds);
// Makes read_fd readable. Async-signal-safe: one write(2), no allocation,
// errno preserved. Returns 0 or the write's errno; a full counter or pipe
// (EAGAIN) already means "woken" and returns 0. With a pipe whose read end
// is closed the write fails with EPIPE, and raises SIGPIPE: callers that
// may meet that use WakeWrite (waker.cc).
int SignalWaker(int write_fd);
// Consumes every pending wakeup. Returns 0 or an errno; *woken tells
// whether there was one.
int DrainWaker(int read_fd, bool* woken);
// The syscall that creates the fds, for error messages.
const char* WakerCreateSyscall();

}  // namespace coio
