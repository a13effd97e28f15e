// EC2's Query protocol, translated by EC2's own API model: a form's parameters
// (`Filter.1.Name=state&Filter.1.Value.1=available`) become amid's JSON Parameters
// (`{"Filters":[{"Name":"state","Values":["available"]}]}`), and amid's JSON
// answers become EC2's XML responses, named and typed as botocore's EC2 model says
// (daemon/api/ec2_query_model.json, written by scripts/ec2-query-model and compiled
// in). Nothing here checks what a value means: the actions do, as for the socket.
//
// Pure and thread-safe: an Ec2Model is immutable once made; instance() parses the
// embedded model once, on first use. Bad input is refused with an AmidError
// (UnknownParameter, InvalidParameterValue, InvalidAction) whose message starts
// with the query key it is about; nothing is returned half-made.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/protocol.h"

namespace amid::query {

// The most elements a list of a form may hold: its indexes are 1..kMaxListElements.
// EC2's own lists are far shorter (filters: 200 values); the bound keeps a hostile
// `ImageId.99999999` from costing anything.
inline constexpr std::size_t kMaxListElements = 10000;

// The model as the translation reads it: shapes by index, names resolved once
// (query_protocol.cc).
struct CompiledModel;

class Ec2Model {
 public:
  // The model compiled into amid (daemon/api/ec2_query_model.json).
  static const Ec2Model& instance();
  // A model in ec2_query_model.json's form (for tests). A model that names a shape
  // it lacks, has a type it cannot serialise, or whose shapes nest in a cycle is
  // refused with InternalError.
  explicit Ec2Model(const protocol::Json& model);
  ~Ec2Model();
  Ec2Model(const Ec2Model&) = delete;
  Ec2Model& operator=(const Ec2Model&) = delete;

  bool has_action(const std::string& action) const;
  // The API version clients send as Version (2016-11-15).
  const std::string& api_version() const;

  // The form's parameters (URL-decoded, in order; Action, Version and X-Amz-* already
  // removed) -> amid's Parameters object for `action`: members by their model name,
  // integers as numbers, booleans as bools, lists as arrays in index order (gaps
  // allowed), structures as objects; `Name=` with an empty value is an empty list
  // (as the JS SDK sends one). Refused, naming the key:
  //  - an action the model lacks: InvalidAction;
  //  - a key the input shape does not have, or a sub-key a structure lacks: UnknownParameter;
  //  - a key given twice, a list index that is not 1..kMaxListElements written plainly
  //    (not 0, 01, -1, x), a value not of its member's type (integer; boolean: "true" or
  //    "false"), a value given to a structure or a list, a key going on past a single
  //    value (ImageId.1 and ImageId.1.X), a value that is not UTF-8: InvalidParameterValue.
  protocol::Json parameters(const std::string& action,
                            const std::vector<std::pair<std::string, std::string>>& form) const;

  // amid's JSON answer for `action` -> EC2's XML response document: declaration,
  // <ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">, <requestId>
  // first, then the answer's members named by the output shape (locationName, lists
  // as <xSet><item>...). Members the model does not have (amid's own, such as
  // PortForwards) are written too, lower-camel-cased, arrays as <item> lists; null
  // members are left out. An answer that does not fit the model (a string where it
  // has a list, text XML 1.0 cannot carry) is an InternalError: a bug of amid's.
  std::string response_xml(const std::string& action, const protocol::Json& answer,
                           const std::string& request_id) const;
  // The answer {field: [rows...], "NextToken": token} the same way, written as
  // `rows` renders them (protocol::RowSource): the list, then <nextToken> when the
  // token is not "". `field` must be a list of the action's output shape.
  std::string listing_xml(const std::string& action, const std::string& request_id, const std::string& field,
                          const protocol::RowSource& rows) const;

 private:
  std::unique_ptr<const CompiledModel> model_;
};

// Whether `s` is UTF-8 text (no overlong forms, surrogates or values past
// U+10FFFF): what a form's names and values must be.
bool valid_utf8(std::string_view s);

// EC2's error document: <Response><Errors><Error><Code>..</Code><Message>..</Message>
// </Error></Errors><RequestID>..</RequestID></Response>, after the declaration.
// Never fails: characters XML cannot carry become U+FFFD, since a message may quote
// what a client sent.
std::string error_xml(const std::string& code, const std::string& message, const std::string& request_id);

}  // namespace amid::query
