// sendfile(2): file pages to a socket without a copy through user space. The
// call differs on every OS that has one, so each has its own file:
// sendfile_linux.cc, sendfile_mac.cc, sendfile_freebsd.cc, and
// sendfile_none.cc for the others (OpenBSD, NetBSD, the portable build),
// where src/sendfile.ts falls back to reading and sending.
// sendfile.cc is the shared N-API wrapper over it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace coio {

// Sends up to `count` (> 0) bytes of file_fd, starting at `offset`, to the
// socket sock_fd; file_fd's own position is neither used nor moved. Returns
// 0 with *sent set (0: offset at or past the end of the file), or an errno
// with *sent = 0. A partial send that the OS reports with an error (BSD and
// macOS return EAGAIN or EINTR with the count sent so far) is a success of
// that count, so no sent byte is ever lost behind an error. EINTR with
// nothing sent is returned for the caller to retry.
int SendfileChunk(int sock_fd, int file_fd, int64_t offset, size_t count, size_t* sent);

// Whether this build makes a sendfile call at all (native.build.sendfile).
bool SendfileCompiled();

}  // namespace coio
