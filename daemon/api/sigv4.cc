#include "daemon/api/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <stdexcept>

#include "common/error.h"
#include "daemon/api/sigv4_text.h"

namespace amid::sigv4 {

using namespace text;

namespace {

constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

[[noreturn]] void fail(const char* code, const std::string& message) { throw AmidError(code, message); }

// --- crypto ---

std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xF];
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &size) == nullptr) {
    fail(codes::kInternalError, "HMAC-SHA256 failed in libcrypto");
  }
  std::string mac(reinterpret_cast<const char*>(out), size);
  OPENSSL_cleanse(out, sizeof out);
  return mac;
}

// Wipes a derived key: it is as good as the secret for its day, region and service.
void wipe(std::string& key) {
  OPENSSL_cleanse(key.data(), key.size());
  key.clear();
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return hex_digit(c) >= 0; });
}

// --- what a request claims about its signature ---

struct Credential {
  std::string access_key_id;
  std::string date;  // YYYYMMDD
  std::string region;
  std::string service;
  std::string scope() const { return date + "/" + region + "/" + service + "/" + std::string(kTerminator); }
};

struct Claim {
  Credential credential;
  std::vector<std::string> signed_headers;  // lowercase, sorted, unique
  std::string signature;
  std::string amz_date;  // YYYYMMDD'T'HHMMSS'Z', as signed
  Clock::time_point time;
  bool presigned = false;
  std::optional<std::chrono::seconds> expires;  // X-Amz-Expires, query form only
};

// KEY/YYYYMMDD/REGION/SERVICE/aws4_request; `where` names its source for messages.
Credential parse_credential(std::string_view text, const std::string& where) {
  std::vector<std::string_view> parts = split(text, '/');
  bool empty_part = std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); });
  if (parts.size() != 5 || empty_part || parts[4] != kTerminator) {
    fail(codes::kIncompleteSignature,
         where + " '" + std::string(text) + "' is not of the form ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request");
  }
  if (!valid_scope_date(parts[1])) {
    fail(codes::kIncompleteSignature,
         where + " '" + std::string(text) + "' has '" + std::string(parts[1]) + "' where a date YYYYMMDD belongs");
  }
  return Credential{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]), std::string(parts[3])};
}

std::vector<std::string> parse_signed_headers(std::string_view text, const std::string& where) {
  std::vector<std::string> names;
  for (std::string_view name : split(text, ';')) {
    name = trim(name);
    if (name.empty()) {
      fail(codes::kIncompleteSignature,
           where + " '" + std::string(text) + "' is not a ';'-separated list of header names");
    }
    names.push_back(lower(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string_view> header_values(const HttpRequest& request, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [n, v] : request.headers) {
    if (iequals(n, name)) values.push_back(v);
  }
  return values;
}

// The one value of a header that may appear at most once; nullopt when absent.
std::optional<std::string_view> single_header(const HttpRequest& request, std::string_view name) {
  std::vector<std::string_view> values = header_values(request, name);
  if (values.empty()) return std::nullopt;
  if (values.size() > 1)
    fail(codes::kIncompleteSignature, "the request has more than one " + std::string(name) + " header");
  return trim(values.front());
}

void check_algorithm(std::string_view algorithm, const std::string& where) {
  if (algorithm != kAlgorithm) {
    fail(codes::kAuthFailure, where + " '" + std::string(algorithm) + "' is not supported: amid takes only " +
                                  std::string(kAlgorithm) + " (AWS Signature Version 4)");
  }
}

// Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...
Claim header_claim(const HttpRequest& request, std::string_view authorization) {
  authorization = trim(authorization);
  size_t space = authorization.find_first_of(" \t");
  std::string_view algorithm = authorization.substr(0, space);
  check_algorithm(algorithm, "the Authorization header's algorithm");
  std::string_view rest = space == std::string_view::npos ? std::string_view() : authorization.substr(space);

  std::optional<std::string_view> credential, signed_headers, signature;
  for (std::string_view part : split(rest, ',')) {
    part = trim(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view name = part.substr(0, eq);
    std::optional<std::string_view>* slot = name == "Credential"      ? &credential
                                            : name == "SignedHeaders" ? &signed_headers
                                            : name == "Signature"     ? &signature
                                                                      : nullptr;
    if (eq == std::string_view::npos || slot == nullptr) {
      fail(codes::kIncompleteSignature, "the Authorization header has '" + std::string(part) +
                                            "' where only Credential=..., SignedHeaders=... and Signature=... belong");
    }
    if (slot->has_value()) {
      fail(codes::kIncompleteSignature, "the Authorization header has " + std::string(name) + "= twice");
    }
    *slot = trim(part.substr(eq + 1));
  }
  std::vector<std::string> missing;
  if (!credential || credential->empty()) missing.push_back("Credential");
  if (!signed_headers || signed_headers->empty()) missing.push_back("SignedHeaders");
  if (!signature || signature->empty()) missing.push_back("Signature");
  if (!missing.empty()) {
    fail(codes::kIncompleteSignature, "the Authorization header has no (or an empty) " + join(missing, ", ") +
                                          " (it needs Credential=, SignedHeaders= and Signature=)");
  }

  Claim claim;
  claim.credential = parse_credential(*credential, "the Authorization header's Credential");
  claim.signed_headers = parse_signed_headers(*signed_headers, "the Authorization header's SignedHeaders");
  claim.signature = std::string(*signature);

  // X-Amz-Date wins over Date, as on AWS; the string to sign has the former's
  // form. Neither need be among the signed headers: the time is in the string
  // to sign, so changing it breaks the signature all the same.
  if (std::optional<std::string_view> amz_date = single_header(request, "X-Amz-Date")) {
    std::optional<Clock::time_point> time = parse_amz_date(*amz_date);
    if (!time) {
      fail(codes::kIncompleteSignature,
           "the X-Amz-Date header '" + std::string(*amz_date) + "' is not of the form YYYYMMDD'T'HHMMSS'Z'");
    }
    claim.time = *time;
    claim.amz_date = std::string(*amz_date);
  } else if (std::optional<std::string_view> date = single_header(request, "Date")) {
    std::optional<Clock::time_point> time = parse_http_date(*date);
    if (!time) {
      fail(codes::kIncompleteSignature,
           "the Date header '" + std::string(*date) + "' is not an HTTP date such as 'Thu, 15 Jan 2026 10:20:30 GMT'");
    }
    claim.time = *time;
    claim.amz_date = format_time(*time, true);
  } else {
    fail(codes::kIncompleteSignature,
         "the request has an Authorization header but neither an X-Amz-Date nor a Date header");
  }
  return claim;
}

constexpr std::string_view kQueryAuthParams[] = {"X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",
                                                 "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Expires"};

bool has_query_signature(const Params& params) {
  return std::any_of(params.begin(), params.end(), [](const auto& p) {
    return p.first == "X-Amz-Algorithm" || p.first == "X-Amz-Credential" || p.first == "X-Amz-Signature";
  });
}

// X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders,
// X-Amz-Signature and optionally X-Amz-Expires in the query.
Claim query_claim(const Params& params) {
  std::optional<std::string> found[std::size(kQueryAuthParams)];
  for (const auto& [name, value] : params) {
    for (size_t i = 0; i < std::size(kQueryAuthParams); ++i) {
      if (name != kQueryAuthParams[i]) continue;
      if (found[i]) fail(codes::kIncompleteSignature, "the query has " + name + " twice");
      found[i] = value;
    }
  }
  auto& [algorithm, credential, amz_date, signed_headers, signature, expires] = found;
  if (algorithm) check_algorithm(*algorithm, "X-Amz-Algorithm");
  std::vector<std::string> missing;
  for (size_t i = 0; i + 1 < std::size(kQueryAuthParams); ++i) {  // all but X-Amz-Expires
    if (!found[i] || found[i]->empty()) missing.push_back(std::string(kQueryAuthParams[i]));
  }
  if (!missing.empty()) {
    fail(codes::kIncompleteSignature, "the presigned query has no (or an empty) " + join(missing, ", ") +
                                          " (it needs X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, "
                                          "X-Amz-SignedHeaders and X-Amz-Signature)");
  }

  Claim claim;
  claim.presigned = true;
  claim.credential = parse_credential(*credential, "X-Amz-Credential");
  claim.signed_headers = parse_signed_headers(*signed_headers, "X-Amz-SignedHeaders");
  claim.signature = *signature;
  std::optional<Clock::time_point> time = parse_amz_date(*amz_date);
  if (!time) {
    fail(codes::kIncompleteSignature, "X-Amz-Date '" + *amz_date + "' is not of the form YYYYMMDD'T'HHMMSS'Z'");
  }
  claim.time = *time;
  claim.amz_date = *amz_date;
  if (expires) {
    long long seconds = all_digits(*expires) && expires->size() <= 7 ? std::stoll(*expires) : 0;
    if (seconds < 1 || seconds > kMaxPresignedExpiry.count()) {
      fail(codes::kIncompleteSignature, "X-Amz-Expires '" + *expires + "' is not a number of seconds from 1 to " +
                                            std::to_string(kMaxPresignedExpiry.count()));
    }
    claim.expires = std::chrono::seconds(seconds);
  }
  return claim;
}

void check_time(const Claim& claim, Clock::time_point now) {
  const std::string when = format_time(claim.time, false);
  const std::string server = format_time(now, false);
  const std::string skew = std::to_string(kMaxClockSkew.count()) + " minutes";
  if (!claim.presigned) {
    if (claim.time > now + kMaxClockSkew || claim.time < now - kMaxClockSkew) {
      fail(codes::kRequestExpired,
           "the request's time " + when + " is more than " + skew + " from the server's " + server);
    }
    return;
  }
  // A presigned request is meant to be used later, up to its X-Amz-Expires.
  if (claim.time > now + kMaxClockSkew) {
    fail(codes::kRequestExpired,
         "the request's time " + when + " is more than " + skew + " ahead of the server's " + server);
  }
  std::chrono::seconds lifetime = claim.expires.value_or(kMaxClockSkew);
  if (now > claim.time + lifetime) {
    fail(codes::kRequestExpired, "the presigned request expired at " + format_time(claim.time + lifetime, false) +
                                     " (X-Amz-Date " + when +
                                     (claim.expires ? " plus X-Amz-Expires " + std::to_string(lifetime.count()) + " s"
                                                    : " plus " + skew + ", as it has no X-Amz-Expires") +
                                     "); the server's time is " + server);
  }
}

// The hash the client signed the body under: X-Amz-Content-SHA256 when sent
// (the body's own hash, or UNSIGNED-PAYLOAD), else the body's SHA-256.
std::string payload_hash(const HttpRequest& request) {
  std::string body_hash = sha256_hex(request.body);
  std::optional<std::string_view> declared = single_header(request, "X-Amz-Content-SHA256");
  if (!declared) return body_hash;
  if (*declared == kUnsignedPayload) return std::string(*declared);
  if (is_sha256_hex(*declared) && lower(*declared) == body_hash) return std::string(*declared);
  fail(codes::kSignatureDoesNotMatch,
       "the X-Amz-Content-SHA256 header is neither the SHA-256 of the body nor UNSIGNED-PAYLOAD");
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), md, &size, EVP_sha256(), nullptr) != 1) {
    fail(codes::kInternalError, "SHA-256 failed in libcrypto");
  }
  return hex(md, size);
}

std::string canonical_uri(std::string_view path) {
  // botocore's remove_dot_segments: RFC 3986 5.2.4, and empty segments dropped.
  std::vector<std::string_view> kept;
  for (std::string_view segment : split(path, '/')) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(segment);
  }
  std::string normalized = !path.empty() && path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) normalized += '/';
    normalized += kept[i];
  }
  if (!path.empty() && path.back() == '/' && !kept.empty()) normalized += '/';
  if (normalized.empty()) return "/";
  return uri_encode(normalized, true);
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [name, value] : parse_query(query)) {
    if (name == "X-Amz-Signature") continue;
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string canonical_request(const HttpRequest& request, const std::vector<std::string>& signed_headers,
                              std::string_view payload_hash) {
  auto [path, query] = split_target(request.target);
  std::string out = request.method + "\n" + canonical_uri(path) + "\n" + canonical_query(query) + "\n";
  for (const std::string& name : signed_headers) {
    std::vector<std::string_view> values = header_values(request, name);
    if (values.empty()) {
      fail(codes::kSignatureDoesNotMatch,
           "the header '" + name + "' is among the signed headers but not in the request");
    }
    std::string joined;
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) joined += ',';
      joined += collapse_spaces(values[i]);
    }
    out += name + ":" + joined + "\n";
  }
  out += "\n" + join(signed_headers, ";") + "\n";
  out += payload_hash;
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request) {
  return std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" +
         sha256_hex(canonical_request);
}

std::string signature(std::string_view secret, std::string_view date, std::string_view region, std::string_view service,
                      std::string_view string_to_sign) {
  std::string seed = "AWS4" + std::string(secret);
  std::string k_date = hmac_sha256(seed, date);
  std::string k_region = hmac_sha256(k_date, region);
  std::string k_service = hmac_sha256(k_region, service);
  std::string k_signing = hmac_sha256(k_service, kTerminator);
  std::string mac = hmac_sha256(k_signing, string_to_sign);
  for (std::string* key : {&seed, &k_date, &k_region, &k_service, &k_signing}) wipe(*key);
  return hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

Identity verify(const HttpRequest& request, const SecretLookup& secret_of, Clock::time_point now) {
  std::vector<std::string_view> authorization = header_values(request, "Authorization");
  Params params = parse_query(split_target(request.target).second);
  bool presigned = has_query_signature(params);
  if (authorization.empty() && !presigned) {
    fail(codes::kAuthFailure,
         "the request is not signed: it has neither an Authorization header nor X-Amz-Signature in its query "
         "(amid takes AWS Signature Version 4)");
  }
  if (!authorization.empty() && presigned) {
    fail(codes::kAuthFailure,
         "the request is signed twice, in an Authorization header and in its query (X-Amz-*); send one");
  }
  if (authorization.size() > 1) fail(codes::kIncompleteSignature, "the request has more than one Authorization header");
  Claim claim = presigned ? query_claim(params) : header_claim(request, authorization.front());
  const Credential& credential = claim.credential;
  const std::string signed_list = join(claim.signed_headers, ";");

  if (credential.service != kService) {
    fail(codes::kAuthFailure, "the credential scope " + credential.scope() + " is for the service '" +
                                  credential.service + "'; amid serves '" + std::string(kService) + "'");
  }
  if (!std::binary_search(claim.signed_headers.begin(), claim.signed_headers.end(), "host")) {
    fail(codes::kIncompleteSignature,
         "the signed headers '" + signed_list + "' do not include 'host', which SigV4 requires to be signed");
  }
  if (claim.amz_date.compare(0, 8, credential.date) != 0) {
    fail(codes::kIncompleteSignature,
         "the credential scope's date " + credential.date + " is not the date of the request's time " + claim.amz_date);
  }
  check_time(claim, now);

  std::optional<std::string> secret = secret_of(credential.access_key_id);
  if (!secret) {
    fail(codes::kAuthFailure, "the access key id '" + credential.access_key_id + "' is not known to amid");
  }
  std::string scope = credential.scope();
  std::string expected = signature(
      *secret, credential.date, credential.region, credential.service,
      string_to_sign(claim.amz_date, scope, canonical_request(request, claim.signed_headers, payload_hash(request))));
  OPENSSL_cleanse(secret->data(), secret->size());
  std::string given = lower(claim.signature);
  bool match = given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  if (!match) {
    fail(codes::kSignatureDoesNotMatch,
         "the request's signature does not match: check the secret access key of '" + credential.access_key_id +
             "' and how the request was signed (amid computed it for the scope " + scope + ", the signed headers " +
             signed_list + " and the request's method, path, query and body as received)");
  }
  return Identity{credential.access_key_id, credential.region, credential.service};
}

void sign(HttpRequest& request, const std::string& access_key_id, const std::string& secret, const std::string& region,
          Clock::time_point now, const std::string& service) {
  std::erase_if(request.headers,
                [](const auto& h) { return iequals(h.first, "Authorization") || iequals(h.first, "X-Amz-Date"); });
  if (header_values(request, "Host").empty()) {
    throw std::invalid_argument("sigv4::sign: the request has no Host header, which SigV4 requires to be signed");
  }
  const std::string amz_date = format_time(now, true);
  request.headers.emplace_back("X-Amz-Date", amz_date);

  std::vector<std::string> names;
  for (const auto& [name, value] : request.headers) names.push_back(lower(name));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  std::vector<std::string_view> declared = header_values(request, "X-Amz-Content-SHA256");
  std::string payload = declared.empty() ? sha256_hex(request.body) : std::string(trim(declared.front()));
  Credential credential{access_key_id, amz_date.substr(0, 8), region, service};
  std::string sig = signature(secret, credential.date, region, service,
                              string_to_sign(amz_date, credential.scope(), canonical_request(request, names, payload)));
  request.headers.emplace_back("Authorization", std::string(kAlgorithm) + " Credential=" + access_key_id + "/" +
                                                    credential.scope() + ", SignedHeaders=" + join(names, ";") +
                                                    ", Signature=" + sig);
}

}  // namespace amid::sigv4
