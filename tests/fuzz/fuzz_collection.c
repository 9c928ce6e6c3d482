/* fuzz_collection.c -- bytes as a collection file a proxy loads (content
 * from a volume): the scripts lurun instantiates from its `script: "..."`
 * lines (lua/host/host_collection.c). Aborts on a path or instance URL
 * that is not what the line said. */
#include "fuzz.h"
#include "host.h"

static bool on_script(void *ud, const char *path, const char *url)
{
    size_t *n = ud;
    size_t pl = strlen(path), ul = strlen(url);
    if (!pl || pl > 1023 || strchr(path, '"') || strchr(path, '\n')) abort();
    if (strncmp(url, "level1:/", 8) != 0 || ul < 15 || strcmp(url + ul - 7, "#script") != 0) abort();
    return ++*n % 2 == 0;   /* a failing load does not stop the others */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);   /* lu_read appends a NUL, so does this */
    memcpy(text, data, size);
    text[size] = '\0';
    size_t n = 0;
    bool ok = lu_host_collection_scripts("level1", text, on_script, &n);
    if (ok != (n < 1)) abort();
    free(text);
    return 0;
}
