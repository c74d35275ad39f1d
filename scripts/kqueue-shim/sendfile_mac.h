/*
 * macOS's sendfile prototype (sendfile(2) on macOS), for compile-checking
 * native/sendfile_mac.cc on Linux, whose <sys/socket.h> has none.
 * Pre-included by scripts/check-kqueue.sh, never by the build.
 */
#ifndef COIO_SHIM_SENDFILE_MAC_H
#define COIO_SHIM_SENDFILE_MAC_H
#include <sys/types.h>
struct sf_hdtr;
extern "C" int sendfile(int fd, int s, off_t offset, off_t* len, struct sf_hdtr* hdtr, int flags);
#endif
