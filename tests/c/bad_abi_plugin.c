/* A plugin from the future: exports the entry point, but with ABI version 99.
 * libdfd must refuse it before reading anything past the first two fields. */
#include <stdint.h>
struct table { uint32_t abi_version; uint32_t table_size; };
static const struct table t = { 99, sizeof(struct table) };
const void *dfd_backend_v1(void) { return &t; }
