// The one error type that operations with side effects throw, and the small
// Result<T> that parsers and validators return instead of throwing.
//
// An AmidError carries an EC2-style code ("InvalidAMIID.NotFound",
// "IncorrectInstanceState", ...) and a human message. The daemon's dispatcher
// turns it into a protocol error; amictl's main turns it into a message and an
// exit code. Nothing else catches it except to roll back and rethrow.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace amid {

// EC2 error codes amid uses. Strings, as on the wire; never reused for another meaning.
namespace codes {
inline constexpr const char* kInvalidParameterValue = "InvalidParameterValue";
inline constexpr const char* kMissingParameter = "MissingParameter";
inline constexpr const char* kUnknownParameter = "UnknownParameter";
inline constexpr const char* kInvalidAction = "InvalidAction";
inline constexpr const char* kMalformedRequest = "MalformedQueryString";
inline constexpr const char* kInvalidAmiIdMalformed = "InvalidAMIID.Malformed";
inline constexpr const char* kInvalidAmiIdNotFound = "InvalidAMIID.NotFound";
inline constexpr const char* kInvalidAmiIdUnavailable = "InvalidAMIID.Unavailable";
inline constexpr const char* kInvalidAmiNameDuplicate = "InvalidAMIName.Duplicate";
inline constexpr const char* kInvalidAmiNameMalformed = "InvalidAMIName.Malformed";
// A launch permission's UserId or Group that is not one (EC2's code for it).
inline constexpr const char* kInvalidAmiAttributeItemValue = "InvalidAMIAttributeItemValue";
inline constexpr const char* kInvalidInstanceIdMalformed = "InvalidInstanceID.Malformed";
inline constexpr const char* kInvalidInstanceIdNotFound = "InvalidInstanceID.NotFound";
inline constexpr const char* kInvalidVolumeIdMalformed = "InvalidVolumeID.Malformed";
inline constexpr const char* kInvalidVolumeNotFound = "InvalidVolume.NotFound";
inline constexpr const char* kInvalidSnapshotIdMalformed = "InvalidSnapshotID.Malformed";
inline constexpr const char* kInvalidSnapshotNotFound = "InvalidSnapshot.NotFound";
inline constexpr const char* kInvalidId = "InvalidID";  // an id of no resource type amid knows
inline constexpr const char* kTagLimitExceeded = "TagLimitExceeded";
inline constexpr const char* kInvalidNextToken = "InvalidNextToken";
inline constexpr const char* kInvalidParameterCombination = "InvalidParameterCombination";
inline constexpr const char* kIncorrectInstanceState = "IncorrectInstanceState";
inline constexpr const char* kIncorrectState = "IncorrectState";  // a resource other than an instance
inline constexpr const char* kUnsupportedOperation = "UnsupportedOperation";
inline constexpr const char* kInvalidDisk = "InvalidParameterValue.Disk";
inline constexpr const char* kAuthFailure = "AuthFailure";
// AWS Signature Version 4 (api/sigv4.h): a signature that is not the secret's,
// one missing a part or malformed, and one too old (or too far ahead) for its time.
inline constexpr const char* kSignatureDoesNotMatch = "SignatureDoesNotMatch";
inline constexpr const char* kIncompleteSignature = "IncompleteSignature";
inline constexpr const char* kRequestExpired = "RequestExpired";
inline constexpr const char* kInsufficientCapacity = "InsufficientInstanceCapacity";
inline constexpr const char* kInternalError = "InternalError";
inline constexpr const char* kRequestLimitExceeded = "RequestLimitExceeded";
// A request that did not arrive in full in time (daemon.request_timeout_seconds).
inline constexpr const char* kRequestTimeout = "RequestTimeout";
// EC2's code for an action a resource's own setting forbids (a protected image's deregistration).
inline constexpr const char* kOperationNotPermitted = "OperationNotPermitted";
// A ClientToken used again by the same caller for the same action with other parameters.
inline constexpr const char* kIdempotentParameterMismatch = "IdempotentParameterMismatch";
// EC2's answer to a request with DryRun=true that would have been allowed.
inline constexpr const char* kDryRunOperation = "DryRunOperation";
}  // namespace codes

class AmidError : public std::runtime_error {
 public:
  AmidError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// A parse or validation failure: what is wrong, and the field (or file:line:col) it is about.
struct Problem {
  std::string code = codes::kInvalidParameterValue;
  std::string message;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Problem p) : v_(std::move(p)) {}    // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const Problem& problem() const { return std::get<Problem>(v_); }
  // Throws the problem as an AmidError; for callers that have side effects ahead.
  T value_or_throw() && {
    if (!ok()) throw AmidError(problem().code, problem().message);
    return std::get<T>(std::move(v_));
  }

 private:
  std::variant<T, Problem> v_;
};

inline Problem problem(std::string message, std::string code = codes::kInvalidParameterValue) {
  return Problem{std::move(code), std::move(message)};
}

}  // namespace amid
