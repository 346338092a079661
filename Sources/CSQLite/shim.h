#ifndef FIBD_CSQLITE_SHIM_H
#define FIBD_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a cast macro Swift cannot import: the value that tells SQLite to copy a bound buffer.
static inline sqlite3_destructor_type fibd_sqlite_transient(void) { return SQLITE_TRANSIENT; }

// sqlite3_config is variadic, which Swift cannot call. Turns off SQLite's count of its own memory, which takes a
// process-wide mutex around every allocation; only before SQLite initializes (else SQLITE_MISUSE, harmlessly).
static inline int fibd_sqlite_disable_memory_status(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
#endif
