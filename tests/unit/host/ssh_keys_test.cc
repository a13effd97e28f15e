// Key pairs as EC2 makes and reads them (daemon/host/ssh_keys.h). Every
// fingerprint is checked against what OpenSSL's and OpenSSH's own command-line
// tools compute from the same key, the recipes AWS documents for checking a key
// pair's fingerprint, so that amid's and EC2's agree.
#include "daemon/host/ssh_keys.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "daemon/host/process.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

class SshKeysTest : public ::amid::testing::TempDirTest {
 protected:
  // The first line a shell pipeline prints, run in the temp dir.
  std::string sh(const std::string& script) {
    ProcessResult r = run_process({"sh", "-c", "cd '" + tmp_.path() + "' && " + script});
    EXPECT_EQ(r.exit_code, 0) << script << ": " << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(tmp_.file(name)) << text; }
};

TEST_F(SshKeysTest, AMadeRsaKeyIsFingerprintedAsEc2DoesItsOwn) {
  MadeKeyPair k = make_key_pair("rsa", "pem", "web key", tmp_.path());
  EXPECT_NE(k.private_key.find("-----BEGIN RSA PRIVATE KEY-----"), std::string::npos) << "EC2's pem: PKCS#1";
  EXPECT_EQ(k.public_key.rfind("ssh-rsa AAAA", 0), 0u);
  EXPECT_NE(k.public_key.find("web key"), std::string::npos) << "the name is the comment";
  write("k.pem", k.private_key);
  // AWS: openssl pkcs8 -in key.pem -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c
  std::string expected = sh("openssl pkcs8 -in k.pem -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c");
  EXPECT_EQ("SHA1(stdin)= " + k.fingerprint, expected);
  EXPECT_EQ(k.fingerprint.size(), 59u) << "20 bytes, hex, with colons";
}

TEST_F(SshKeysTest, AMadeEd25519KeyIsFingerprintedAsOpenSshDoes) {
  MadeKeyPair k = make_key_pair("ed25519", "pem", "ed", tmp_.path());
  EXPECT_NE(k.private_key.find("-----BEGIN OPENSSH PRIVATE KEY-----"), std::string::npos);
  write("k", k.private_key);
  ASSERT_EQ(::chmod(tmp_.file("k").c_str(), 0600), 0);
  // ssh-keygen -l prints "256 SHA256:<base64 without padding> comment (ED25519)"; EC2 pads it.
  std::string line = sh("ssh-keygen -l -f k");
  std::string b64 = line.substr(line.find("SHA256:") + 7);
  b64 = b64.substr(0, b64.find(' '));
  EXPECT_EQ(k.fingerprint, b64 + "=");
  // The public key is the private key's own.
  EXPECT_EQ(sh("ssh-keygen -y -f k"), k.public_key);
}

TEST_F(SshKeysTest, PpkIsPuttysFormatOfTheSameKey) {
  MadeKeyPair k = make_key_pair("ed25519", "ppk", "p", tmp_.path());
  EXPECT_EQ(k.private_key.rfind("PuTTY-User-Key-File-", 0), 0u) << k.private_key.substr(0, 40);
  write("k.ppk", k.private_key);
  std::string pub = sh("puttygen k.ppk -O public-openssh -o /dev/stdout");
  EXPECT_EQ(pub.substr(0, pub.rfind(' ')), k.public_key.substr(0, k.public_key.rfind(' ')));
}

TEST_F(SshKeysTest, AnImportedRsaKeyIsFingerprintedAsEc2DoesImportedOnes) {
  sh("ssh-keygen -q -t rsa -b 3072 -N '' -C me@host -f r");
  auto pub = read_public_key(sh("cat r.pub"), "PublicKeyMaterial");
  ASSERT_TRUE(pub.ok()) << pub.problem().message;
  EXPECT_EQ(pub.value().type, "rsa");
  EXPECT_EQ(pub.value().bits, 3072);
  // AWS: ssh-keygen -e -f key.pub -m pkcs8 | openssl pkey -pubin -outform DER | openssl md5 -c
  EXPECT_EQ("MD5(stdin)= " + pub.value().fingerprint,
            sh("ssh-keygen -e -f r.pub -m pkcs8 | openssl pkey -pubin -outform DER | openssl md5 -c"));
}

TEST_F(SshKeysTest, AnImportedEd25519KeyKeepsItsLine) {
  sh("ssh-keygen -q -t ed25519 -N '' -C me@host -f e");
  std::string line = sh("cat e.pub");
  auto pub = read_public_key(line + "\n", "PublicKeyMaterial");
  ASSERT_TRUE(pub.ok()) << pub.problem().message;
  EXPECT_EQ(pub.value().type, "ed25519");
  EXPECT_EQ(pub.value().openssh, line);
}

TEST_F(SshKeysTest, WhatIsNotAnOpenSshPublicKeyIsRefusedNamingTheField) {
  sh("ssh-keygen -q -t rsa -b 1024 -N '' -f small && ssh-keygen -q -t ecdsa -N '' -f ec");
  std::string rsa1024 = sh("cat small.pub");
  for (const std::string& bad : {std::string(""), std::string("hello"), std::string("ssh-rsa !!!notbase64"),
                                std::string("ssh-ed25519 AAAAC3NzaC1yc2EAAAADAQABAAABAQ=="),  // says ed25519, holds "ssh-rsa"
                                sh("cat ec.pub"), sh("cat small")}) {
    auto pub = read_public_key(bad, "PublicKeyMaterial");
    ASSERT_FALSE(pub.ok()) << bad;
    EXPECT_EQ(pub.problem().code, "InvalidKeyPair.Format") << bad;
    EXPECT_NE(pub.problem().message.find("PublicKeyMaterial"), std::string::npos) << pub.problem().message;
  }
  // 1024 bits is EC2's smallest RSA key: taken.
  EXPECT_TRUE(read_public_key(rsa1024, "PublicKeyMaterial").ok());
}

}  // namespace
}  // namespace amid
