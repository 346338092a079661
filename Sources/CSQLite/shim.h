#ifndef FIBD_CSQLITE_SHIM_H
#define FIBD_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a cast macro Swift cannot import: the value that tells SQLite to copy a bound buffer.
static inline sqlite3_destructor_type fibd_sqlite_transient(void) { return SQLITE_TRANSIENT; }
#endif
