#include "daemon/host/ssh_keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "common/base64.h"
#include "daemon/host/fs.h"
#include "daemon/host/process.h"

namespace amid {
namespace {

// One owner per libcrypto handle type.
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct P8Free {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
struct OpensslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string digest(const std::string& data, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    throw AmidError(codes::kInternalError, "libcrypto: digest failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hex_with_colons(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ':';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// DER of a libcrypto object through its i2d function.
template <typename T, typename I2d>
std::string der_of(T* object, I2d i2d) {
  unsigned char* buf = nullptr;
  int len = i2d(object, &buf);
  if (len <= 0) throw AmidError(codes::kInternalError, "libcrypto: cannot encode a key as DER");
  std::unique_ptr<unsigned char, OpensslFree> owned(buf);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
}

// SSH's wire strings (RFC 4251): uint32 length, bytes.
class WireReader {
 public:
  explicit WireReader(const std::string& data) : data_(data) {}
  bool read(std::string& out) {
    if (data_.size() - at_ < 4) return false;
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(data_[at_ + i]);
    at_ += 4;
    if (data_.size() - at_ < n) return false;
    out = data_.substr(at_, n);
    at_ += n;
    return true;
  }
  bool done() const { return at_ == data_.size(); }

 private:
  const std::string& data_;
  std::size_t at_ = 0;
};

// An RSA public key from its modulus and exponent (big-endian bytes).
Pkey rsa_public_key(const std::string& n, const std::string& e) {
  auto to_bn = [](const std::string& s) {
    return std::unique_ptr<BIGNUM, BnFree>(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()), nullptr));
  };
  auto bn_n = to_bn(n), bn_e = to_bn(e);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return Pkey(key);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

Result<PublicKey> read_public_key(const std::string& material, const std::string& field) {
  auto bad = [&](const std::string& why) {
    return problem(field + ": " + why, "InvalidKeyPair.Format");
  };
  std::istringstream words(material);
  std::string algorithm, blob_b64, comment;
  words >> algorithm >> blob_b64;
  std::getline(words, comment);
  while (!comment.empty() && (comment.front() == ' ' || comment.front() == '\t')) comment.erase(0, 1);
  while (!comment.empty() && (comment.back() == '\n' || comment.back() == '\r' || comment.back() == ' ')) comment.pop_back();
  if (algorithm != "ssh-rsa" && algorithm != "ssh-ed25519") {
    return bad("not an OpenSSH public key of a type amid takes (ssh-rsa or ssh-ed25519, as in a .pub file)");
  }
  auto blob = base64_decode(blob_b64);
  if (!blob) return bad("the key after '" + algorithm + "' is not base64");
  WireReader r(*blob);
  std::string name;
  if (!r.read(name) || name != algorithm) return bad("the key's own type is not " + algorithm);
  PublicKey out;
  out.openssh = algorithm + " " + blob_b64 + (comment.empty() ? "" : " " + comment);
  if (algorithm == "ssh-ed25519") {
    std::string key;
    if (!r.read(key) || key.size() != 32 || !r.done()) return bad("not a 32-byte Ed25519 key");
    out.type = "ed25519";
    out.bits = 256;
    out.fingerprint = base64_encode(digest(*blob, EVP_sha256()));
    return out;
  }
  std::string e, n;
  if (!r.read(e) || !r.read(n) || !r.done() || e.empty() || n.empty()) return bad("not an RSA key (e, n)");
  Pkey key = rsa_public_key(n, e);
  if (!key) return bad("not a valid RSA key");
  out.type = "rsa";
  out.bits = EVP_PKEY_get_bits(key.get());
  if (out.bits < 1024 || out.bits > 4096) {
    return bad("an RSA key of " + std::to_string(out.bits) + " bits; EC2 takes 1024 to 4096");
  }
  out.fingerprint = hex_with_colons(digest(der_of(key.get(), i2d_PUBKEY), EVP_md5()));
  return out;
}

MadeKeyPair make_key_pair(const std::string& type, const std::string& format, const std::string& comment,
                          const std::string& work_dir) {
  fs::PrivateTempDir folder(work_dir + "/key.");
  const std::string& dir = folder.path();

  const std::string key = dir + "/key";
  std::vector<std::string> argv = {"ssh-keygen", "-q", "-N", "", "-C", comment, "-f", key};
  if (type == "rsa") {
    argv.insert(argv.end(), {"-t", "rsa", "-b", "2048", "-m", "PEM"});
  } else {
    argv.insert(argv.end(), {"-t", "ed25519"});
  }
  ProcessResult made = run_process(argv);
  if (made.exit_code != 0) {
    throw AmidError(codes::kInternalError, "ssh-keygen failed: " + made.err + " (is openssh-client installed?)");
  }
  MadeKeyPair out;
  out.public_key = read_file(key + ".pub");
  while (!out.public_key.empty() && (out.public_key.back() == '\n' || out.public_key.back() == '\r')) {
    out.public_key.pop_back();
  }
  const std::string pem = read_file(key);
  if (type == "rsa") {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    Pkey pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!pkey) throw AmidError(codes::kInternalError, "libcrypto cannot read the key ssh-keygen made");
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, P8Free> p8(EVP_PKEY2PKCS8(pkey.get()));
    if (!p8) throw AmidError(codes::kInternalError, "libcrypto cannot encode the key as PKCS#8");
    out.fingerprint = hex_with_colons(digest(der_of(p8.get(), i2d_PKCS8_PRIV_KEY_INFO), EVP_sha1()));
  } else {
    auto pub = read_public_key(out.public_key, "KeyMaterial");
    if (!pub) throw AmidError(codes::kInternalError, "ssh-keygen made a key amid cannot read: " + pub.problem().message);
    out.fingerprint = pub.value().fingerprint;
  }
  if (format == "ppk") {
    ProcessResult ppk = run_process({"puttygen", key, "-O", "private", "-o", key + ".ppk"});
    if (ppk.exit_code != 0) {
      throw AmidError(codes::kInternalError, "puttygen failed: " + ppk.err + " (is putty-tools installed?)");
    }
    out.private_key = read_file(key + ".ppk");
  } else {
    out.private_key = pem;
  }
  return out;
}

}  // namespace amid
