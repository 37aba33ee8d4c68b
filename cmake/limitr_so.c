/* limitr_so.c: the one source of the shared library liblimitr.so
 * (cmake/install.cmake). Its code is the whole static core, linked in with
 * --whole-archive; -fvisibility=hidden leaves only the LIMITR_API functions
 * of limitr.h exported. */
typedef int limitr_so_unit; /* ISO C wants a non-empty translation unit */
