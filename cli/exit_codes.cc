#include "cli/exit_codes.h"

namespace amid::cli {

ExitCode exit_code_for(const std::string& code) {
  auto ends_with = [&](const char* s) {
    std::string suffix(s);
    return code.size() >= suffix.size() && code.compare(code.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".NotFound") || code == "NoSuchEntity") return kNotFound;
  if (code == "RequestLimitExceeded") return kBusy;
  if (code == "IncorrectInstanceState" || code == "IncorrectState" || code == "InvalidAMIID.Unavailable" ||
      code == "UnsupportedOperation" || code == "OperationNotPermitted" || code == "CannotDelete" ||
      code == "DependencyViolation") {
    return kWrongState;
  }
  if (code.rfind("InvalidParameter", 0) == 0 || code == "MissingParameter" || code == "UnknownParameter" ||
      ends_with(".Malformed") || code == "InvalidAMIName.Duplicate" || code == "InvalidAction" ||
      code == "InvalidAMIAttributeItemValue" ||
      code == "MalformedQueryString" || code == "IdempotentParameterMismatch" || code == "InvalidID" ||
      code == "InvalidNextToken" || code == "TagLimitExceeded" || code == "InvalidGroup.Duplicate" ||
      code == "InvalidPermission.Duplicate" || code == "RulesPerSecurityGroupLimitExceeded" ||
      code == "LimitExceeded") {
    return kBadArguments;
  }
  return kFailed;
}

}  // namespace amid::cli
