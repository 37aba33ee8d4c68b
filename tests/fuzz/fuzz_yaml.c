/* fuzz_yaml.c: libFuzzer target for the YAML policy loader: every input is
 * loaded with limitr_new(..., "yaml", ...) and, when it loads, exercised. */
#include "fuzz_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_policy(data, size, "yaml");
    return 0;
}
