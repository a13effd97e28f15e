// AWS Signature Version 4, the verifier side: whether an HTTP request to EC2's
// Query API was signed with the secret of the access key it names, and when.
// Both of AWS's forms are taken: the Authorization header (with X-Amz-Date, or
// Date), and the presigned query (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-SignedHeaders, X-Amz-Signature, optional X-Amz-Expires). The canonical
// form is botocore's (non-S3 SigV4Auth/SigV4QueryAuth), which is AWS's spec.
//
// Pure: no I/O, no globals; thread-safe. verify() throws AmidError (codes below)
// whose message says what is wrong and never holds a secret or the signature
// amid expected.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace amid::sigv4 {

struct HttpRequest {
  std::string method;  // "POST", "GET"
  // The request-target as received, path and query still percent-encoded:
  // "/", "/?Action=DescribeImages&X-Amz-Signature=...".
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // as received (any case), in order
  std::string body;                                          // raw bytes
};

// Who signed a request, from its credential scope.
struct Identity {
  std::string access_key_id;
  std::string region;   // amid serves the region a request was signed for
  std::string service;  // always "ec2"
};

// The secret access key of an access key id; nullopt when the id is unknown.
using SecretLookup = std::function<std::optional<std::string>(const std::string& access_key_id)>;

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kService = "ec2";
// How far a request's time may be from the server's, either way (AWS's rule).
inline constexpr std::chrono::minutes kMaxClockSkew{15};
// The longest X-Amz-Expires of a presigned request: 7 days, as AWS.
inline constexpr std::chrono::seconds kMaxPresignedExpiry{604800};

// Checks the request's signature and returns who made it. Throws AmidError:
//  - AuthFailure: no signature at all, both forms at once, an unknown access key
//    id, an algorithm other than AWS4-HMAC-SHA256, a scope's service not "ec2";
//  - IncompleteSignature: an Authorization header or X-Amz-* parameters
//    malformed or missing a part, a scope not KEY/YYYYMMDD/REGION/SERVICE/aws4_request,
//    "host" not signed, no (or a malformed) X-Amz-Date/Date, a scope date other
//    than the request's, an X-Amz-Expires not in 1..604800;
//  - MalformedQueryString: a query with a broken %-escape;
//  - SignatureDoesNotMatch: a signature (compared in constant time) that is not
//    the one the secret gives, a signed header absent from the request, or an
//    X-Amz-Content-SHA256 that is neither the body's hash nor UNSIGNED-PAYLOAD;
//  - RequestExpired: header form, a request time more than 15 minutes from `now`
//    either way; query form, a request time more than 15 minutes ahead of `now`,
//    or `now` past X-Amz-Date + X-Amz-Expires (15 minutes when it is absent).
// The payload hash is X-Amz-Content-SHA256 when present (UNSIGNED-PAYLOAD leaves
// the body unsigned, the client's choice, as on AWS), else the body's SHA-256;
// this is also what botocore's presigner signs (of an empty body, for a GET).
Identity verify(const HttpRequest& request, const SecretLookup& secret_of, std::chrono::system_clock::time_point now);

// Signs `request` in the header form at `now`, for tests and benchmarks: sets
// X-Amz-Date and Authorization (replacing any), signing every header it has.
// Throws std::invalid_argument when the request has no Host header.
void sign(HttpRequest& request, const std::string& access_key_id, const std::string& secret, const std::string& region,
          std::chrono::system_clock::time_point now, const std::string& service = std::string(kService));

// The steps of the computation, exposed so tests can hold each to AWS's
// published vectors.

// The path of a request-target, canonical as botocore makes it for services
// other than S3: "." and ".." segments and empty segments ("//") removed, then
// percent-encoded once more (RFC 3986 unreserved characters and "/" kept), so
// "/c%20d" becomes "/c%2520d". "/" and "" give "/". `path` is origin-form (the
// front door's job): an absolute-form "http://host/p" is not taken apart.
std::string canonical_uri(std::string_view path);

// The query of a request-target, canonical: every parameter but X-Amz-Signature,
// name and value %-decoded then encoded again (unreserved kept, uppercase hex,
// space as %20, "+" taken literally), sorted by encoded name then value; "a"
// alone is a="". Throws AmidError MalformedQueryString on a broken %-escape.
std::string canonical_query(std::string_view query);

// The canonical request of `request`, covering `signed_headers` (lowercase,
// sorted, unique) and `payload_hash`. A signed header absent from the request
// throws AmidError SignatureDoesNotMatch.
std::string canonical_request(const HttpRequest& request, const std::vector<std::string>& signed_headers,
                              std::string_view payload_hash);

// "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + hex(sha256(canonical_request)),
// where scope is "YYYYMMDD/REGION/SERVICE/aws4_request".
std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request);

// The hex signature of `string_to_sign` with the key derived from `secret` for
// the scope's date (YYYYMMDD), region and service.
std::string signature(std::string_view secret, std::string_view date, std::string_view region, std::string_view service,
                      std::string_view string_to_sign);

// Lowercase hex of the SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace amid::sigv4
