// The inside of api/query_protocol.h, shared by its two halves:
// query_protocol.cc (the model compiled from ec2_query_model.json, and forms
// read into amid's parameters) and query_xml.cc (answers written as EC2's XML).
// Not for anyone else: the public face is query_protocol.h.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace amid::query {

enum class Type { kStructure, kList, kString, kInteger, kLong, kBoolean, kTimestamp, kBlob, kDouble, kFloat };
const char* type_name(Type t);

// An answer of amid's that EC2's model cannot carry: a bug of amid's (InternalError).
[[noreturn]] void bad_answer(const std::string& message);

// A client's text quoted in a message: printable ASCII as is, other bytes as \xNN,
// at most `max` bytes of it, so that a message stays short and plain whatever was sent.
std::string quoted(std::string_view s, std::size_t max = 200);

// Names amid writes as elements: letters, digits, '_', '-', '.', not starting with a
// digit, '-' or '.' (no ':' either, which would name a namespace).
bool xml_name(std::string_view name);

// Reads one UTF-8 code point at s[i], advancing i; nullopt (i unchanged) for an
// invalid sequence: overlong forms, surrogates and values past U+10FFFF included.
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i);

struct CompiledModel {
  struct Member {
    std::string name;        // in amid's JSON: botocore's member name
    std::string query_name;  // in a form: queryName, else locationName Capitalised, else name
    std::string xml_name;    // in a response: locationName, else name
    std::size_t shape = 0;
  };
  struct Shape {
    std::string name;
    Type type = Type::kString;
    std::vector<Member> members;                                // structure
    std::map<std::string, std::size_t, std::less<>> by_query;  // structure: query name -> member
    std::map<std::string, std::size_t, std::less<>> by_name;   // structure: JSON name -> member
    std::size_t item = 0;                                       // list: its elements' shape
    std::string item_xml_name;                                  // list: each element's element
  };
  struct Operation {
    std::optional<std::size_t> input;
    std::optional<std::size_t> output;
  };

  std::vector<Shape> shapes;
  std::map<std::string, Operation, std::less<>> operations;
  std::string api_version;
  std::string xml_namespace;

  const Operation& operation(const std::string& action) const {
    auto it = operations.find(action);
    if (it == operations.end()) {
      throw AmidError(codes::kInvalidAction,
                      "The action " + quoted(action, 100) + " is not valid for this web service.");
    }
    return it->second;
  }
};

}  // namespace amid::query
