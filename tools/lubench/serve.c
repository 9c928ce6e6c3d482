/* serve.c -- nginx on a free loopback port for the cases that download
 * (download, update_bytes): the same server a game's CDN would be, with
 * sendfile, and optionally an access log of "<status> <uri> <bytes sent>"
 * per request, which is how update_bytes counts what travelled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lubench.h"

int bench_nginx_start(bench *b, const char *root, bool log)
{
    char conf[700], cmd[1600], logline[800];
    snprintf(conf, sizeof conf, "%s/nginx.conf", b->dir);
    if (log)
        snprintf(logline, sizeof logline, "log_format st '$status $uri $body_bytes_sent'; access_log %s/access.log st;",
                 b->dir);
    else
        snprintf(logline, sizeof logline, "access_log off;");
    srand((unsigned)time(NULL));
    for (int attempt = 0; attempt < 20; attempt++) {
        int p = 20000 + rand() % 25000;
        FILE *f = fopen(conf, "w");
        if (!f) return 0;
        fprintf(f, "user root; worker_processes 1; error_log %s/nginx-error.log; pid %s/nginx.pid;\n"
                   "events { worker_connections 64; }\n"
                   "http { %s sendfile on; client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
                   "  fastcgi_temp_path %s/fcgi; uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
                   "  server { listen 127.0.0.1:%d; root %s; } }\n",
                b->dir, b->dir, logline, b->dir, b->dir, b->dir, b->dir, b->dir, p, root);
        fclose(f);
        snprintf(cmd, sizeof cmd, "nginx -c %s -p %s 2>/dev/null", conf, b->dir);
        if (system(cmd) == 0) return p;
    }
    fprintf(stderr, "lubench: cannot start nginx (tools/setup installs nginx-light)\n");
    return 0;
}

void bench_nginx_stop(bench *b)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "nginx -c %s/nginx.conf -p %s -s stop 2>/dev/null", b->dir, b->dir);
    if (system(cmd) != 0) fprintf(stderr, "lubench: could not stop nginx\n");
}
