/* fuzz_version_file.c -- bytes as a volume's /version_<name>.json. */
#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long long v;
    lu__parse_version_file((const char *)data, size, &v);
    return 0;
}
