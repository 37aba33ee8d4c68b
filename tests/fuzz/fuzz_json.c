/* fuzz_json.c: libFuzzer target for the JSON policy loader: every input is
 * loaded with limitr_new(..., "json", ...) and, when it loads, exercised. */
#include "fuzz_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_policy(data, size, "json");
    return 0;
}
