#ifndef FIBD_CMEMFD_SHIM_H
#define FIBD_CMEMFD_SHIM_H

// memfd_create(2) and the file seals, which the journal's native protocol needs for an entry too large for one
// datagram. glibc declares them only under _GNU_SOURCE, which Swift's Glibc module is built without. Nothing is
// linked beyond libc.
#include <fcntl.h>
#include <sys/mman.h>

int memfd_create(const char *name, unsigned int flags);

static const unsigned int fibd_memfd_cloexec = 0x0001U;        // MFD_CLOEXEC
static const unsigned int fibd_memfd_allow_sealing = 0x0002U;  // MFD_ALLOW_SEALING
static const int fibd_fcntl_add_seals = 1024 + 9;              // F_ADD_SEALS (F_LINUX_SPECIFIC_BASE + 9)
static const int fibd_fcntl_get_seals = 1024 + 10;             // F_GET_SEALS
static const int fibd_seal_seal = 0x0001;                      // F_SEAL_SEAL
static const int fibd_seal_shrink = 0x0002;                    // F_SEAL_SHRINK
static const int fibd_seal_grow = 0x0004;                      // F_SEAL_GROW
static const int fibd_seal_write = 0x0008;                     // F_SEAL_WRITE

#endif
