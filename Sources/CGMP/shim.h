#ifndef FIBD_CGMP_SHIM_H
#define FIBD_CGMP_SHIM_H
#include <gmp.h>
#endif
