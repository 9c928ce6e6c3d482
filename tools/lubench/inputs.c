/* inputs.c -- lubench's inputs, generated with the library's zip writer
 * (reproducible: fixed seeds), so every run measures the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveupdate/liveupdate.h"
#include "lubench.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(next_rand() >> 24);
}

/* Text-like bytes: words from a small vocabulary (compresses about 3:1). */
static void fill_text(unsigned char *p, size_t n)
{
    static const char *words[] = {"tree ", "stone ", "castle ", "dragon ", "forest ", "level ", "gate ",
                                  "{\"x\": 12, \"y\": 40}\n", "sprite ", "tile_07 "};
    size_t i = 0;
    while (i < n) {
        const char *w = words[next_rand() % 10];
        for (size_t k = 0; w[k] && i < n; k++) p[i++] = (unsigned char)w[k];
    }
}

/* Defold-like text resources (collections, game objects): instances with
 * ids, component paths and random positions (deflate about 10:1). */
static void fill_scene(unsigned char *p, size_t n)
{
    static const char *kinds[] = {"tree", "stone", "castle", "dragon", "forest", "gate", "sprite", "tile",
                                  "enemy", "coin", "door", "wall", "lamp", "chest", "boss", "bridge"};
    char item[400];
    size_t i = 0;
    while (i < n) {
        const char *k = kinds[next_rand() % 16], *dir = kinds[next_rand() % 16];
        unsigned id = (unsigned)(next_rand() % 10000), x = (unsigned)(next_rand() % 40960),
                 y = (unsigned)(next_rand() % 40960), z = (unsigned)(next_rand() % 100);
        int len = snprintf(item, sizeof item,
                           "embedded_instances {\n  id: \"%s_%04u\"\n"
                           "  data: \"components { id: \\\"sprite\\\" component: \\\"/%s/%s.sprite\\\" }\"\n"
                           "  position { x: %u.%u y: %u.%u z: 0.%02u }\n  scale3 { x: 1.0 y: 1.0 z: 1.0 }\n}\n",
                           k, id, dir, k, x / 10, x % 10, y / 10, y % 10, z);
        for (int c = 0; c < len && i < n; c++) p[i++] = (unsigned char)item[c];
    }
}

static int fail(const char *what, const lu_error *err)
{
    fprintf(stderr, "lubench: %s: %s\n", what, err->message);
    return 1;
}

int bench_zip_small(const char *path, const char *prefix, int entries, bool version_file, const char *vname)
{
    lu_zip_writer *w;
    lu_error err;
    if (lu_zip_writer_open(path, &w, &err) != LU_OK) return fail(path, &err);
    char name[256], data[64];
    for (int i = 0; i < entries; i++) {
        snprintf(name, sizeof name, "%s/%d.txt", prefix, i);
        int len = snprintf(data, sizeof data, "entry %d of %s\n", i, prefix);
        if (lu_zip_writer_add(w, name, data, (size_t)len, 0, &err) != LU_OK) {
            lu_zip_writer_close(w, &err);
            return fail(path, &err);
        }
    }
    if (version_file) {
        snprintf(name, sizeof name, "version_%s.json", vname);
        if (lu_zip_writer_add(w, name, "{\"version\": 3}", 14, 0, &err) != LU_OK) {
            lu_zip_writer_close(w, &err);
            return fail(path, &err);
        }
    }
    return lu_zip_writer_close(w, &err) == LU_OK ? 0 : fail(path, &err);
}

int bench_zip_mixed(const char *path, uint64_t bytes)
{
    lu_zip_writer *w;
    lu_error err;
    if (lu_zip_writer_open(path, &w, &err) != LU_OK) return fail(path, &err);
    size_t max = 2u << 20;
    unsigned char *buf = malloc(max);
    int rc = buf ? 0 : 1;
    uint64_t done = 0;
    for (int i = 0; !rc && done < bytes; i++) {
        /* sizes from 4 KiB to 2 MiB, alternating text (deflated) and random (stored) */
        size_t n = 4096 + (size_t)(next_rand() % (max - 4096));
        bool text = i % 2 == 0;
        if (text) fill_text(buf, n);
        else fill_random(buf, n);
        char name[64];
        snprintf(name, sizeof name, "%s/%05d.%s", text ? "text" : "bin", i, text ? "json" : "png");
        if (lu_zip_writer_add(w, name, buf, n, text ? 6 : 0, &err) != LU_OK) rc = fail(path, &err);
        done += n;
    }
    free(buf);
    if (lu_zip_writer_close(w, &err) != LU_OK && !rc) rc = fail(path, &err);
    return rc;
}

int bench_zip_big(const char *path, uint64_t bytes)
{
    lu_zip_writer *w;
    lu_error err;
    if (lu_zip_writer_open(path, &w, &err) != LU_OK) return fail(path, &err);
    unsigned char *buf = malloc(bytes);
    if (!buf) {
        lu_zip_writer_close(w, &err);
        fprintf(stderr, "lubench: out of memory\n");
        return 1;
    }
    fill_random(buf, bytes);
    int rc = lu_zip_writer_add(w, "big.bin", buf, bytes, 0, &err) == LU_OK ? 0 : fail(path, &err);
    free(buf);
    if (lu_zip_writer_close(w, &err) != LU_OK && !rc) rc = fail(path, &err);
    return rc;
}

int bench_zip_text_pair(const char *deflate_path, const char *zstd_path, uint64_t bytes)
{
    lu_zip_writer *wd = NULL, *wz = NULL;
    lu_error err;
    if (lu_zip_writer_open(deflate_path, &wd, &err) != LU_OK) return fail(deflate_path, &err);
    if (lu_zip_writer_open(zstd_path, &wz, &err) != LU_OK) {
        lu_zip_writer_close(wd, &err);
        return fail(zstd_path, &err);
    }
    size_t max = 1u << 20;
    unsigned char *buf = malloc(max);
    int rc = buf ? 0 : 1;
    uint64_t done = 0;
    for (int i = 0; !rc && done < bytes; i++) {
        /* sizes from 4 KiB to 1 MiB, as the bundler writes them: deflate 6, zstd at LU_ZIP_ZSTD_LEVEL */
        size_t n = 4096 + (size_t)(next_rand() % (max - 4096));
        fill_scene(buf, n);
        char name[64];
        snprintf(name, sizeof name, "scene/%05d.collection", i);
        if (lu_zip_writer_add_method(wd, name, buf, n, LU_ZIP_DEFLATE, 6, &err) != LU_OK) rc = fail(deflate_path, &err);
        else if (lu_zip_writer_add_method(wz, name, buf, n, LU_ZIP_ZSTD, -1, &err) != LU_OK) rc = fail(zstd_path, &err);
        done += n;
    }
    free(buf);
    if (lu_zip_writer_close(wd, &err) != LU_OK && !rc) rc = fail(deflate_path, &err);
    if (lu_zip_writer_close(wz, &err) != LU_OK && !rc) rc = fail(zstd_path, &err);
    return rc;
}
