/* opendepin device reports in C (docs/devices.md): deterministic CBOR envelopes, Ed25519 signatures,
 * report ids, signed reports and batches. Depends on OpenSSL >= 3.0 (libcrypto) only. */
#ifndef DEPIN_REPORT_H
#define DEPIN_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define DEPIN_MAX_REPORT 16384 /* the node's default [ingest] max_report_bytes */

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int overflow; /* set when a write did not fit: the buffer's content is then unusable */
} depin_buf;

/* One payload field: a text key and a number (the wireless heartbeat and speed test carry numbers only). */
typedef struct {
    const char *key;
    double value;
} depin_field;

void depin_buf_init(depin_buf *buf, uint8_t *storage, size_t cap);

/* Deterministic CBOR (RFC 8949 §4.2.1) writers. */
void depin_cbor_head(depin_buf *buf, unsigned major, uint64_t value);
void depin_cbor_text(depin_buf *buf, const char *text);
void depin_cbor_bytes(depin_buf *buf, const uint8_t *bytes, size_t len);
/* A number: an integer when it has no fraction and |value| < 2^53 (JavaScript's safe integers; -0.0 stays a
 * float), else the shortest float (half, single, double) that holds it exactly. */
void depin_cbor_number(depin_buf *buf, double value);

/* The envelope {v: 1, kind, device, ts, seq, payload} with payload keys sorted by their encoded bytes. */
int depin_envelope(depin_buf *out, const char *kind, const char *device_id, uint64_t ts, uint64_t seq,
                   const depin_field *fields, size_t count);

/* An Ed25519 device key from its 32-byte secret: the device id `ed25519:<hex>` (72 chars + NUL). */
int depin_ed25519_device_id(const uint8_t secret[32], char device_id[73]);
/* The 64-byte Ed25519 signature of `message`. */
int depin_ed25519_sign(const uint8_t secret[32], const uint8_t *message, size_t len, uint8_t signature[64]);
/* SHA-256 of the envelope bytes as 64 lower-case hex digits + NUL: the report id. */
int depin_report_id(const uint8_t *envelope, size_t len, char id[65]);
/* The signed report on the wire: the CBOR array [envelope bytes, signature]. */
void depin_wire(depin_buf *out, const uint8_t *envelope, size_t env_len, const uint8_t *sig, size_t sig_len);

void depin_hex(const uint8_t *bytes, size_t len, char *out); /* 2*len hex digits + NUL */
int depin_unhex(const char *hex, uint8_t *out, size_t len);  /* exactly 2*len hex digits; 0 on success */

#endif
