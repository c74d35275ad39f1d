/*
 * FreeBSD's sendfile prototype (sendfile(2) on FreeBSD), for compile-checking
 * native/sendfile_freebsd.cc on Linux, whose <sys/socket.h> has none.
 * Pre-included by scripts/check-kqueue.sh, never by the build.
 */
#ifndef COIO_SHIM_SENDFILE_FREEBSD_H
#define COIO_SHIM_SENDFILE_FREEBSD_H
#include <stddef.h>
#include <sys/types.h>
struct sf_hdtr;
extern "C" int sendfile(int fd, int s, off_t offset, size_t nbytes, struct sf_hdtr* hdtr, off_t* sbytes, int flags);
#endif
