/* See depin_report.h. */
#include "depin_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

void depin_buf_init(depin_buf *buf, uint8_t *storage, size_t cap) {
    buf->data = storage;
    buf->len = 0;
    buf->cap = cap;
    buf->overflow = 0;
}

static void put(depin_buf *buf, const uint8_t *bytes, size_t len) {
    if (buf->overflow || len > buf->cap - buf->len) {
        buf->overflow = 1;
        return;
    }
    memcpy(buf->data + buf->len, bytes, len);
    buf->len += len;
}

void depin_cbor_head(depin_buf *buf, unsigned major, uint64_t value) {
    uint8_t head[9];
    size_t size;
    if (value < 24) {
        head[0] = (uint8_t)(major << 5 | value);
        size = 1;
    } else if (value <= 0xff) {
        head[0] = (uint8_t)(major << 5 | 24);
        size = 2;
    } else if (value <= 0xffff) {
        head[0] = (uint8_t)(major << 5 | 25);
        size = 3;
    } else if (value <= 0xffffffffu) {
        head[0] = (uint8_t)(major << 5 | 26);
        size = 5;
    } else {
        head[0] = (uint8_t)(major << 5 | 27);
        size = 9;
    }
    for (size_t i = 1; i < size; i++) head[i] = (uint8_t)(value >> (8 * (size - 1 - i)));
    put(buf, head, size);
}

void depin_cbor_text(depin_buf *buf, const char *text) {
    size_t len = strlen(text);
    depin_cbor_head(buf, 3, len);
    put(buf, (const uint8_t *)text, len);
}

void depin_cbor_bytes(depin_buf *buf, const uint8_t *bytes, size_t len) {
    depin_cbor_head(buf, 2, len);
    put(buf, bytes, len);
}

/* The half-precision bits of `x`, or -1 when a half cannot hold it exactly. */
static long half_bits(double x) {
    if (isnan(x)) return 0x7e00;
    if (isinf(x)) return x > 0 ? 0x7c00 : 0xfc00;
    long sign = signbit(x) ? 0x8000 : 0;
    double a = fabs(x);
    if (a == 0) return sign;
    if (a < ldexp(1, -14)) { /* subnormal: a multiple of 2^-24 */
        double m = ldexp(a, 24);
        return m == floor(m) ? sign | (long)m : -1;
    }
    int exponent;
    double fraction = frexp(a, &exponent); /* a = fraction * 2^exponent, fraction in [0.5, 1) */
    exponent -= 1;                          /* a = (2 * fraction) * 2^exponent */
    if (exponent > 15) return -1;
    double mantissa = (2 * fraction - 1) * 1024;
    if (mantissa != floor(mantissa)) return -1;
    return sign | (long)(exponent + 15) << 10 | (long)mantissa;
}

void depin_cbor_number(depin_buf *buf, double value) {
    if (value == floor(value) && fabs(value) < 9007199254740992.0 && !(value == 0 && signbit(value))) {
        if (value >= 0) depin_cbor_head(buf, 0, (uint64_t)value);
        else depin_cbor_head(buf, 1, (uint64_t)(-value) - 1);
        return;
    }
    long half = half_bits(value);
    uint8_t out[9];
    if (half >= 0) {
        out[0] = 0xf9;
        out[1] = (uint8_t)(half >> 8);
        out[2] = (uint8_t)half;
        put(buf, out, 3);
        return;
    }
    float single = (float)value;
    if ((double)single == value) {
        uint32_t bits;
        memcpy(&bits, &single, 4);
        out[0] = 0xfa;
        for (int i = 0; i < 4; i++) out[1 + i] = (uint8_t)(bits >> (24 - 8 * i));
        put(buf, out, 5);
        return;
    }
    uint64_t bits;
    memcpy(&bits, &value, 8);
    out[0] = 0xfb;
    for (int i = 0; i < 8; i++) out[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    put(buf, out, 9);
}

static int compare_keys(const void *a, const void *b) {
    /* encoded text keys sort by length first (their head), then bytewise */
    const depin_field *x = a, *y = b;
    size_t lx = strlen(x->key), ly = strlen(y->key);
    if (lx != ly) return lx < ly ? -1 : 1;
    return memcmp(x->key, y->key, lx);
}

int depin_envelope(depin_buf *out, const char *kind, const char *device_id, uint64_t ts, uint64_t seq,
                   const depin_field *fields, size_t count) {
    depin_field sorted[64];
    if (count > 64) return -1;
    memcpy(sorted, fields, count * sizeof *fields);
    qsort(sorted, count, sizeof *sorted, compare_keys);
    depin_cbor_head(out, 5, 6); /* keys in encoded order: v, ts, seq, kind, device, payload */
    depin_cbor_text(out, "v");
    depin_cbor_head(out, 0, 1);
    depin_cbor_text(out, "ts");
    depin_cbor_head(out, 0, ts);
    depin_cbor_text(out, "seq");
    depin_cbor_head(out, 0, seq);
    depin_cbor_text(out, "kind");
    depin_cbor_text(out, kind);
    depin_cbor_text(out, "device");
    depin_cbor_text(out, device_id);
    depin_cbor_text(out, "payload");
    depin_cbor_head(out, 5, count);
    for (size_t i = 0; i < count; i++) {
        depin_cbor_text(out, sorted[i].key);
        depin_cbor_number(out, sorted[i].value);
    }
    return out->overflow ? -1 : 0;
}

void depin_hex(const uint8_t *bytes, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = 0;
}

int depin_unhex(const char *hex, uint8_t *out, size_t len) {
    if (strlen(hex) != 2 * len) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned value;
        if (sscanf(hex + 2 * i, "%2x", &value) != 1) return -1;
        out[i] = (uint8_t)value;
    }
    return 0;
}

int depin_ed25519_device_id(const uint8_t secret[32], char device_id[73]) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secret, 32);
    uint8_t public_key[32];
    size_t len = sizeof public_key;
    int ok = key != NULL && EVP_PKEY_get_raw_public_key(key, public_key, &len) == 1 && len == 32;
    EVP_PKEY_free(key);
    if (!ok) return -1;
    memcpy(device_id, "ed25519:", 8);
    depin_hex(public_key, 32, device_id + 8);
    return 0;
}

int depin_ed25519_sign(const uint8_t secret[32], const uint8_t *message, size_t len, uint8_t signature[64]) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secret, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sig_len = 64;
    int ok = key != NULL && ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestSign(ctx, signature, &sig_len, message, len) == 1 && sig_len == 64;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

int depin_report_id(const uint8_t *envelope, size_t len, char id[65]) {
    uint8_t digest[32];
    unsigned digest_len = 0;
    if (EVP_Digest(envelope, len, digest, &digest_len, EVP_sha256(), NULL) != 1 || digest_len != 32) return -1;
    depin_hex(digest, 32, id);
    return 0;
}

void depin_wire(depin_buf *out, const uint8_t *envelope, size_t env_len, const uint8_t *sig, size_t sig_len) {
    depin_cbor_head(out, 4, 2);
    depin_cbor_bytes(out, envelope, env_len);
    depin_cbor_bytes(out, sig, sig_len);
}
