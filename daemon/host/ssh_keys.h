// SSH key pairs as EC2 makes and reads them: made with OpenSSH's ssh-keygen
// (and PuTTY's puttygen for the ppk format), read from OpenSSH's public key
// line, fingerprinted with OpenSSL's libcrypto exactly as EC2 fingerprints them:
//
//   made by amid,  rsa      SHA-1 of the private key's PKCS#8 DER, hex with colons
//   imported,      rsa      MD5 of the public key's DER (SubjectPublicKeyInfo), hex with colons
//   either,        ed25519  SHA-256 of the public key (OpenSSH's blob), base64
//
// A made private key exists on disk only in a private folder (0700) of
// `work_dir`, for as long as the tools take, and is removed before the call
// returns. Blocking (child processes); call from worker threads.
#pragma once

#include <string>

#include "common/error.h"

namespace amid {

struct MadeKeyPair {
  std::string private_key;  // rsa + pem: PKCS#1 ("BEGIN RSA PRIVATE KEY"); ed25519 + pem: OpenSSH's format; ppk: PuTTY's
  std::string public_key;   // OpenSSH's line: "ssh-ed25519 AAAA... COMMENT"
  std::string fingerprint;
};

// A new key pair. type: rsa (2048 bits) or ed25519; format: pem or ppk.
// Throws AmidError(InternalError) when a tool fails.
MadeKeyPair make_key_pair(const std::string& type, const std::string& format, const std::string& comment,
                          const std::string& work_dir);

struct PublicKey {
  std::string type;         // rsa | ed25519
  std::string openssh;      // "ssh-rsa AAAA..." with the given comment, or none
  std::string fingerprint;  // as EC2 gives an imported key's
  int bits = 0;             // rsa: the modulus' length
};

// An OpenSSH public key line ("ssh-rsa AAAA... comment" or "ssh-ed25519 AAAA...").
// Anything else, a blob that does not hold what its type says, an RSA key
// shorter than 1024 or longer than 4096 bits: InvalidKeyPair.Format naming `field`.
Result<PublicKey> read_public_key(const std::string& material, const std::string& field);

}  // namespace amid
