/* A device in C: signs reports with its Ed25519 key and posts them to a node (docs/devices.md).
 *
 *   device envelope DEVICE_ID KIND TS SEQ key=number ...   the envelope's deterministic CBOR, in hex
 *   device sign KIND TS SEQ key=number ...                 one signed report as JSON (ids, bytes, signature)
 *   device send HOST PORT KIND COUNT SEQ key=number ...    COUNT reports timed now, seq SEQ, SEQ+1, ... in one
 *                                                          batch to POST /v1/reports; prints the node's answer
 *
 * The device secret (32 bytes, hex) comes from DEPIN_DEVICE_SECRET, never the command line. Onboarding is
 * the maker's and the owner's business (their signatures, docs/devices.md): register the device first. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "depin_report.h"

#define MAX_FIELDS 32
#define MAX_BATCH 1000

static int usage(void) {
    fprintf(stderr,
            "usage: device envelope DEVICE_ID KIND TS SEQ key=number ...\n"
            "       device sign KIND TS SEQ key=number ...\n"
            "       device send HOST PORT KIND COUNT SEQ key=number ...\n"
            "DEPIN_DEVICE_SECRET: the Ed25519 secret, 64 hex digits\n");
    return 2;
}

static int parse_fields(int argc, char **argv, depin_field *fields, size_t *count) {
    *count = 0;
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        char *end = NULL;
        if (eq == NULL || *count == MAX_FIELDS) return -1;
        *eq = 0;
        fields[*count].key = argv[i];
        fields[*count].value = strtod(eq + 1, &end);
        if (end == eq + 1 || *end != 0) return -1;
        (*count)++;
    }
    return 0;
}

static int load_secret(uint8_t secret[32]) {
    const char *hex = getenv("DEPIN_DEVICE_SECRET");
    if (hex == NULL || depin_unhex(hex, secret, 32) != 0) {
        fprintf(stderr, "error: set DEPIN_DEVICE_SECRET to the device's 32-byte secret in hex\n");
        return -1;
    }
    return 0;
}

/* A signed report into `wire`; its envelope into `env` (for the id). */
static int signed_report(const uint8_t secret[32], const char *device_id, const char *kind, uint64_t ts,
                         uint64_t seq, const depin_field *fields, size_t count, depin_buf *env, depin_buf *wire,
                         uint8_t sig[64]) {
    if (depin_envelope(env, kind, device_id, ts, seq, fields, count) != 0) return -1;
    if (depin_ed25519_sign(secret, env->data, env->len, sig) != 0) return -1;
    depin_wire(wire, env->data, env->len, sig, 64);
    return wire->overflow ? -1 : 0;
}

static int post(const char *host, const char *port, const uint8_t *body, size_t len) {
    struct addrinfo hints = {0}, *found = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &found) != 0) {
        fprintf(stderr, "error: cannot resolve %s\n", host);
        return -1;
    }
    int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
    if (fd < 0 || connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
        fprintf(stderr, "error: cannot connect to %s:%s\n", host, port);
        freeaddrinfo(found);
        return -1;
    }
    freeaddrinfo(found);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /v1/reports HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/cbor\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     host, port, len);
    if (write(fd, head, (size_t)n) != n || write(fd, body, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    static char answer[1 << 20];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof answer - 1 && (r = read(fd, answer + got, sizeof answer - 1 - got)) > 0) got += (size_t)r;
    close(fd);
    answer[got] = 0;
    int status = 0;
    sscanf(answer, "HTTP/1.%*d %d", &status);
    char *text = strstr(answer, "\r\n\r\n");
    printf("{\"status\": %d, \"body\": %s}\n", status, text ? text + 4 : "null");
    return status == 200 ? 0 : -1;
}

int main(int argc, char **argv) {
    static uint8_t env_storage[DEPIN_MAX_REPORT], wire_storage[DEPIN_MAX_REPORT];
    depin_field fields[MAX_FIELDS];
    size_t count;
    uint8_t secret[32], sig[64];
    char device_id[73], id[65];
    depin_buf env, wire;
    depin_buf_init(&env, env_storage, sizeof env_storage);
    depin_buf_init(&wire, wire_storage, sizeof wire_storage);
    if (argc < 2) return usage();

    if (strcmp(argv[1], "envelope") == 0 && argc >= 6) {
        if (parse_fields(argc - 6, argv + 6, fields, &count) != 0) return usage();
        if (depin_envelope(&env, argv[3], argv[2], strtoull(argv[4], NULL, 10), strtoull(argv[5], NULL, 10),
                           fields, count) != 0)
            return 1;
        static char hex[2 * DEPIN_MAX_REPORT + 1];
        depin_hex(env.data, env.len, hex);
        printf("%s\n", hex);
        return 0;
    }
    if (strcmp(argv[1], "sign") == 0 && argc >= 5) {
        if (parse_fields(argc - 5, argv + 5, fields, &count) != 0 || load_secret(secret) != 0) return usage();
        if (depin_ed25519_device_id(secret, device_id) != 0) return 1;
        if (signed_report(secret, device_id, argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10),
                          fields, count, &env, &wire, sig) != 0)
            return 1;
        static char env_hex[2 * DEPIN_MAX_REPORT + 1], wire_hex[2 * DEPIN_MAX_REPORT + 1];
        char sig_hex[129];
        depin_hex(env.data, env.len, env_hex);
        depin_hex(wire.data, wire.len, wire_hex);
        depin_hex(sig, 64, sig_hex);
        if (depin_report_id(env.data, env.len, id) != 0) return 1;
        printf("{\"device_id\": \"%s\", \"envelope_cbor\": \"%s\", \"signature\": \"%s\", \"report_id\": \"%s\", "
               "\"wire\": \"%s\"}\n",
               device_id, env_hex, sig_hex, id, wire_hex);
        return 0;
    }
    if (strcmp(argv[1], "send") == 0 && argc >= 7) {
        long reports = strtol(argv[5], NULL, 10);
        uint64_t seq = strtoull(argv[6], NULL, 10);
        if (reports < 1 || reports > MAX_BATCH) return usage();
        if (parse_fields(argc - 7, argv + 7, fields, &count) != 0 || load_secret(secret) != 0) return usage();
        if (depin_ed25519_device_id(secret, device_id) != 0) return 1;
        size_t cap = (size_t)reports * 1024 + 16;
        uint8_t *batch_storage = malloc(cap);
        depin_buf batch;
        depin_buf_init(&batch, batch_storage, cap);
        depin_cbor_head(&batch, 4, (uint64_t)reports);
        for (long i = 0; i < reports; i++) {
            depin_buf_init(&env, env_storage, sizeof env_storage);
            depin_buf_init(&wire, wire_storage, sizeof wire_storage);
            if (signed_report(secret, device_id, argv[4], (uint64_t)time(NULL), seq + (uint64_t)i, fields, count,
                              &env, &wire, sig) != 0)
                return 1;
            depin_cbor_bytes(&batch, wire.data, wire.len);
        }
        if (batch.overflow) return 1;
        fprintf(stderr, "%s: %ld reports to %s:%s\n", device_id, reports, argv[2], argv[3]);
        int rc = post(argv[2], argv[3], batch.data, batch.len);
        free(batch_storage);
        return rc == 0 ? 0 : 1;
    }
    return usage();
}
