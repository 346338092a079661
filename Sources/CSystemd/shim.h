#ifndef FIBD_CSYSTEMD_SHIM_H
#define FIBD_CSYSTEMD_SHIM_H

// libsystemd's daemon and journal APIs (Debian: libsystemd-dev). sd_journal_send() is variadic and
// cannot be called from Swift: FibSystemd uses sd_journal_sendv() with iovecs instead.
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
