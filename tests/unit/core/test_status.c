/* test_status.c -- the status codes are pinned (docs/LUA_API.md: Defold's values,
 * then ours below -12, append-only), each has its own name, and the
 * run-time version call agrees with the header. */
#include "helpers.h"

/* Every lu_status enumerator with the number it must keep. Renumbering or
 * removing one fails here; adding one fails the "next free value" check
 * below until it is added to this table. */
#define S(e, v) {e, v, #e}
static const struct {
    lu_status status;
    int value;
    const char *enumerator;
} pinned[] = {
    /* Defold's liveupdate.LIVEUPDATE_* values */
    S(LU_OK, 0),
    S(LU_INVALID_HEADER, -1),
    S(LU_MEM_ERROR, -2),
    S(LU_INVALID_RESOURCE, -3),
    S(LU_VERSION_MISMATCH, -4),
    S(LU_ENGINE_VERSION_MISMATCH, -5),
    S(LU_SIGNATURE_MISMATCH, -6),
    S(LU_SCHEME_MISMATCH, -7),
    S(LU_BUNDLED_RESOURCE_MISMATCH, -8),
    S(LU_FORMAT_ERROR, -9),
    S(LU_IO_ERROR, -10),
    S(LU_INVAL, -11),
    S(LU_NOT_INITIALIZED, -12),
    S(LU_UNKNOWN, -1000),
    /* ours */
    S(LU_NAME_EXISTS, -13),
    S(LU_NOT_FOUND, -14),
    S(LU_LOCKED, -15),
    S(LU_NO_SPACE, -16),
    S(LU_NETWORK_ERROR, -17),
    S(LU_TIMEOUT, -18),
    S(LU_CANCELLED, -19),
    S(LU_HASH_MISMATCH, -20),
    S(LU_UNSAFE_ARCHIVE, -21),
};
#undef S
#define NPINNED (sizeof pinned / sizeof pinned[0])
#define LOWEST_OURS (-21)

Test(status, every_value_is_pinned)
{
    for (size_t i = 0; i < NPINNED; i++)
        cr_expect_eq((int)pinned[i].status, pinned[i].value, "%s is %d, must stay %d", pinned[i].enumerator,
                     (int)pinned[i].status, pinned[i].value);
}

Test(status, every_value_has_its_own_name)
{
    for (size_t i = 0; i < NPINNED; i++) {
        const char *name = lu_status_name(pinned[i].status);
        cr_assert_not_null(name, "%s", pinned[i].enumerator);
        cr_expect_neq(name[0], '\0', "%s has an empty name", pinned[i].enumerator);
        /* The name is the enumerator without its "LU_" prefix. */
        cr_expect_str_eq(name, pinned[i].enumerator + 3, "lu_status_name(%s)", pinned[i].enumerator);
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(name, lu_status_name(pinned[j].status), "%s and %s share a name",
                              pinned[i].enumerator, pinned[j].enumerator);
    }
}

Test(status, values_are_contiguous_and_the_next_is_free)
{
    /* 0 down to the lowest of ours without a gap, so a value in between
     * cannot be taken by a new code. */
    for (int v = 0; v >= LOWEST_OURS; v--) {
        bool found = false;
        for (size_t i = 0; i < NPINNED; i++) found = found || pinned[i].value == v;
        cr_expect(found, "no status has the value %d", v);
        cr_expect_str_neq(lu_status_name(v), "UNKNOWN", "value %d has no name", v);
    }
    /* A status appended below LOWEST_OURS must be added to `pinned`. */
    cr_expect_str_eq(lu_status_name(LOWEST_OURS - 1), "UNKNOWN",
                     "a status has the value %d: pin it in test_status.c", LOWEST_OURS - 1);
    cr_expect_str_eq(lu_status_name(1), "UNKNOWN");
    cr_expect_str_eq(lu_status_name(-999), "UNKNOWN");
    cr_expect_str_eq(lu_status_name(-1001), "UNKNOWN");
}

Test(status, runtime_version_matches_the_header)
{
    cr_assert_not_null(lu_version());
    cr_expect_str_eq(lu_version(), LU_VERSION_STR);
    cr_expect_eq(lu_version_number(), (unsigned)LU_VERSION_NUM);
    /* The string and the number say the same version: "M.m.p" is 0xMMmmpp. */
    unsigned major, minor, patch;
    char rest;
    cr_assert_eq(sscanf(lu_version(), "%u.%u.%u%c", &major, &minor, &patch, &rest), 3, "'%s'", lu_version());
    cr_expect(major <= 0xff && minor <= 0xff && patch <= 0xff, "'%s'", lu_version());
    cr_expect_eq(lu_version_number(), major << 16 | minor << 8 | patch, "'%s' is not 0x%06x", lu_version(),
                 lu_version_number());
}
