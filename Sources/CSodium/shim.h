// The door to libsodium. Only DuetCrypto imports this module (ImportRulesTests enforces it).
//
// Swift imports most of <sodium.h> directly. What it cannot import — constants defined as
// expressions or through other macros — is re-exported here as `static inline` functions, so
// DuetCrypto never hard-codes a size libsodium already knows.
#ifndef DUET_CSODIUM_SHIM_H
#define DUET_CSODIUM_SHIM_H

#include <sodium.h>

/// `crypto_pwhash_ALG_ARGON2ID13` is a macro aliasing another macro.
static inline int duet_pwhash_alg_argon2id13(void) {
    return crypto_pwhash_ALG_ARGON2ID13;
}

/// The system source, for the simulator's hook to fall back on (a C global Swift 6 cannot
/// read without calling it shared mutable state; libsodium never changes it).
static inline void duet_sysrandom_buf(void * const buf, const size_t size) {
    randombytes_sysrandom_implementation.buf(buf, size);
}

#endif
