#include "daemon/api/query_protocol.h"

#include <pugixml.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <variant>

#include "common/error.h"
#include "daemon/api/ec2_query_model_json.h"

namespace amid::query {

using protocol::Json;

namespace {

enum class Type { kStructure, kList, kString, kInteger, kLong, kBoolean, kTimestamp, kBlob, kDouble, kFloat };

std::optional<Type> type_named(std::string_view name) {
  static const std::map<std::string_view, Type> kTypes = {
      {"structure", Type::kStructure}, {"list", Type::kList},       {"string", Type::kString},
      {"integer", Type::kInteger},     {"long", Type::kLong},       {"boolean", Type::kBoolean},
      {"timestamp", Type::kTimestamp}, {"blob", Type::kBlob},       {"double", Type::kDouble},
      {"float", Type::kFloat}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::kStructure: return "structure";
    case Type::kList: return "list";
    case Type::kString: return "string";
    case Type::kInteger: return "integer";
    case Type::kLong: return "long";
    case Type::kBoolean: return "boolean";
    case Type::kTimestamp: return "timestamp";
    case Type::kBlob: return "blob";
    case Type::kDouble: return "double";
    case Type::kFloat: return "float";
  }
  return "?";
}

[[noreturn]] void bad_model(const std::string& why) {
  throw AmidError(codes::kInternalError, "EC2 query model: " + why);
}

[[noreturn]] void invalid(const std::string& message) {
  throw AmidError(codes::kInvalidParameterValue, message);
}

[[noreturn]] void bad_answer(const std::string& message) {
  throw AmidError(codes::kInternalError, "answer does not fit EC2's model: " + message);
}

// Reads one UTF-8 code point at s[i], advancing i; nullopt (i unchanged) for an
// invalid sequence: overlong forms, surrogates and values past U+10FFFF included.
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len;
  char32_t cp;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F, min = 0x80;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F, min = 0x800;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07, min = 0x10000;
  else return std::nullopt;
  if (i + len > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  i += len;
  return cp;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (!next_code_point(s, i)) return false;
  }
  return true;
}

// What XML 1.0 text can carry and give back unchanged: its Char production, less
// CR, which every parser reads back as LF.
bool xml_char(char32_t c) {
  if (c < 0x20) return c == '\t' || c == '\n';
  return c != 0xFFFE && c != 0xFFFF;
}

bool xml_safe(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = next_code_point(s, i);
    if (!c || !xml_char(*c)) return false;
  }
  return true;
}

// The same text with every byte or character XML cannot carry as U+FFFD.
std::string xml_sanitised(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t start = i;
    auto c = next_code_point(s, i);
    if (!c) ++i;
    if (c && xml_char(*c)) out.append(s.substr(start, i - start));
    else out.append("\xEF\xBF\xBD");
  }
  return out;
}

// A client's text quoted in a message: printable ASCII as is, other bytes as \xNN,
// at most `max` bytes of it, so that a message stays short and plain whatever was sent.
std::string quoted(std::string_view s, std::size_t max = 200) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// A form key as a message names it.
std::string shown_key(std::string_view key) { return key.empty() ? "(a parameter with no name)" : quoted(key); }

std::string upper_first(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string lower_camel(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z') out[0] = static_cast<char>(out[0] - 'A' + 'a');
  return out;
}

// Names amid writes as elements: letters, digits, '_', '-', '.', not starting with a
// digit, '-' or '.' (no ':' either, which would name a namespace).
bool xml_name(std::string_view name) {
  if (name.empty()) return false;
  const auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!letter(name[0])) return false;
  for (char c : name) {
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '.') return false;
  }
  return true;
}

std::string save(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw, pugi::encoding_utf8);
  return out.str();
}

void add_declaration(pugi::xml_document& doc) {
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version").set_value("1.0");
  decl.append_attribute("encoding").set_value("UTF-8");
}

}  // namespace

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

namespace {

// A member of a model object, or null when it has none (no copy either way).
const Json& field(const Json& object, const char* name) {
  static const Json kNone;
  auto it = object.find(name);
  return it == object.end() ? kNone : *it;
}

std::string string_field(const Json& object, const char* field, const std::string& where) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string()) bad_model(where + ": " + field + " must be a string");
  return it->get<std::string>();
}

std::optional<std::string> optional_string_field(const Json& object, const char* field,
                                                 const std::string& where) {
  if (!object.contains(field)) return std::nullopt;
  return string_field(object, field, where);
}

std::unique_ptr<const CompiledModel> compile(const Json& model) {
  auto compiled = std::make_unique<CompiledModel>();
  if (!model.is_object()) bad_model("not a JSON object");
  const Json& header = field(model, "amid");
  if (!header.is_object()) bad_model("amid: the header object is missing");
  compiled->api_version = string_field(header, "apiVersion", "amid");
  compiled->xml_namespace = string_field(header, "xmlNamespace", "amid");

  const Json& shapes = field(model, "shapes");
  if (!shapes.is_object()) bad_model("shapes: must be an object");
  std::map<std::string, std::size_t, std::less<>> index;
  for (const auto& [name, spec] : shapes.items()) {
    index.emplace(name, compiled->shapes.size());
    compiled->shapes.emplace_back().name = name;
  }
  const auto shape_of = [&](const Json& ref, const std::string& where) {
    if (!ref.is_object()) bad_model(where + ": must be an object");
    const std::string name = string_field(ref, "shape", where);
    auto it = index.find(name);
    if (it == index.end()) bad_model(where + ": shape " + name + " is not in the model");
    return it->second;
  };

  for (const auto& [name, spec] : shapes.items()) {
    CompiledModel::Shape& shape = compiled->shapes[index.at(name)];
    if (!spec.is_object()) bad_model(name + ": must be an object");
    const auto type = type_named(string_field(spec, "type", name));
    if (!type) bad_model(name + ": type " + spec["type"].get<std::string>() + " is not one amid serialises");
    shape.type = *type;
    if (shape.type == Type::kStructure) {
      const Json& members = field(spec, "members");
      if (!members.is_object()) bad_model(name + ".members: must be an object");
      for (const auto& [member_name, ref] : members.items()) {
        const std::string where = name + "." + member_name;
        CompiledModel::Member member;
        member.name = member_name;
        member.shape = shape_of(ref, where);
        const auto location = optional_string_field(ref, "locationName", where);
        const auto query = optional_string_field(ref, "queryName", where);
        // botocore's EC2Serializer._get_serialized_name: a locationName goes Capitalised.
        if (query) member.query_name = *query;
        else if (location && !location->empty()) member.query_name = upper_first(*location);
        else member.query_name = member_name;
        member.xml_name = location ? *location : member_name;
        if (member.query_name.empty() || member.query_name.find('.') != std::string::npos) {
          bad_model(where + ": query name '" + member.query_name + "' cannot be read back from a form");
        }
        if (!xml_name(member.xml_name)) bad_model(where + ": '" + member.xml_name + "' is not an XML name");
        const std::size_t at = shape.members.size();
        if (!shape.by_query.emplace(member.query_name, at).second) {
          bad_model(where + ": another member of " + name + " has the query name " + member.query_name);
        }
        shape.by_name.emplace(member.name, at);
        shape.members.push_back(std::move(member));
      }
    } else if (shape.type == Type::kList) {
      if (!spec.contains("member")) bad_model(name + ": a list needs a member");
      shape.item = shape_of(spec["member"], name + ".member");
      shape.item_xml_name = optional_string_field(spec["member"], "locationName", name + ".member").value_or("item");
      if (!xml_name(shape.item_xml_name)) bad_model(name + ".member: '" + shape.item_xml_name + "' is not an XML name");
    }
  }

  // A cycle would let a key nest as deep as a client likes; the parser relies on
  // every walk down the shapes ending.
  std::vector<int> state(compiled->shapes.size(), 0);  // 0 new, 1 on the path, 2 done
  std::function<void(std::size_t)> visit = [&](std::size_t s) {
    if (state[s] == 2) return;
    if (state[s] == 1) bad_model("shape " + compiled->shapes[s].name + " contains itself");
    state[s] = 1;
    const CompiledModel::Shape& shape = compiled->shapes[s];
    for (const auto& m : shape.members) visit(m.shape);
    if (shape.type == Type::kList) visit(shape.item);
    state[s] = 2;
  };
  for (std::size_t s = 0; s < compiled->shapes.size(); ++s) visit(s);

  const Json& operations = field(model, "operations");
  if (!operations.is_object()) bad_model("operations: must be an object");
  for (const auto& [name, spec] : operations.items()) {
    if (!spec.is_object()) bad_model(name + ": must be an object");
    CompiledModel::Operation op;
    for (const char* part : {"input", "output"}) {
      auto shape_name = optional_string_field(spec, part, name);
      if (!shape_name) continue;
      auto it = index.find(*shape_name);
      if (it == index.end()) bad_model(name + "." + part + ": shape " + *shape_name + " is not in the model");
      if (compiled->shapes[it->second].type != Type::kStructure) {
        bad_model(name + "." + part + ": shape " + *shape_name + " is not a structure");
      }
      (std::string_view(part) == "input" ? op.input : op.output) = it->second;
    }
    compiled->operations.emplace(name, op);
  }
  return compiled;
}

// One form read into a tree of the input shape: a node per key prefix, its children
// by member (structures) or by index (lists, kept in index order), since keys come
// in any order and a list's elements in any numbering with gaps.
class FormTree {
 public:
  FormTree(const CompiledModel& model, std::string action, std::size_t input)
      : model_(model), action_(std::move(action)) {
    nodes_.push_back(Node{input, std::nullopt, {}});
  }

  void add(const std::string& key, const std::string& value) {
    std::string_view k(key);
    std::size_t node = 0;
    std::size_t start = 0;
    // Each segment goes one shape down; shapes do not nest in cycles, so a key can go
    // no deeper than the model, however many dots it has.
    for (;;) {
      const std::size_t dot = k.find('.', start);
      const std::size_t end = dot == std::string_view::npos ? k.size() : dot;
      const std::string_view segment = k.substr(start, end - start);
      const std::string_view prefix = k.substr(0, start == 0 ? 0 : start - 1);
      const CompiledModel::Shape& shape = model_.shapes[nodes_[node].shape];
      if (nodes_[node].value && (shape.type == Type::kStructure || shape.type == Type::kList)) {
        invalid(shown_key(key) + ": " + shown_key(prefix) + " was given a value too; it cannot be both");
      }
      std::size_t child_key;
      std::size_t child_shape;
      if (shape.type == Type::kStructure) {
        auto it = shape.by_query.find(segment);
        if (it == shape.by_query.end()) {
          throw AmidError(codes::kUnknownParameter,
                          shown_key(key) + ": unknown parameter; " + (start == 0 ? action_ : shown_key(prefix)) +
                              " takes " + member_list(shape));
        }
        child_key = it->second;
        child_shape = shape.members[it->second].shape;
      } else if (shape.type == Type::kList) {
        child_key = list_index(key, segment);
        child_shape = shape.item;
      } else {
        invalid(shown_key(key) + ": " + shown_key(prefix) + " is a single value (" + type_name(shape.type) +
                "), it has no " + shown_key(segment));
      }
      node = child(node, child_key, child_shape);
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    assign(node, key, value);
  }

  Json json() const { return json(0); }

 private:
  struct Node {
    std::size_t shape;
    std::optional<Json> value;                    // given to this very key
    std::map<std::size_t, std::size_t> children;  // member or list index -> node
  };

  std::size_t child(std::size_t node, std::size_t key, std::size_t shape) {
    auto it = nodes_[node].children.find(key);
    if (it != nodes_[node].children.end()) return it->second;
    nodes_.push_back(Node{shape, std::nullopt, {}});
    nodes_[node].children.emplace(key, nodes_.size() - 1);
    return nodes_.size() - 1;
  }

  // 1..kMaxListElements, in plain decimal: "01" would be a second name for element 1.
  static std::size_t list_index(const std::string& key, std::string_view segment) {
    const bool digits = !segment.empty() && segment.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits || segment[0] == '0') {
      invalid(shown_key(key) + ": '" + quoted(segment, 40) +
              "' is not a list index (1, 2, 3, ... in decimal, without leading zeros)");
    }
    std::size_t n = 0;
    for (char c : segment) {
      n = n * 10 + static_cast<std::size_t>(c - '0');
      if (n > kMaxListElements) {
        invalid(shown_key(key) + ": list index " + quoted(segment, 40) + " is above " +
                std::to_string(kMaxListElements) + ", the most elements a list may hold");
      }
    }
    return n;
  }

  // What a structure takes, as a form names it: "Filter.N, ImageId.N, MaxResults".
  std::string member_list(const CompiledModel::Shape& shape) const {
    std::string out;
    for (const auto& [query, at] : shape.by_query) {
      if (!out.empty()) out += ", ";
      out += query;
      if (model_.shapes[shape.members[at].shape].type == Type::kList) out += ".N";
    }
    return out.empty() ? "no parameters" : out;
  }

  void assign(std::size_t node, const std::string& key, const std::string& value) {
    Node& n = nodes_[node];
    const CompiledModel::Shape& shape = model_.shapes[n.shape];
    if (n.value) invalid(shown_key(key) + ": given twice");
    switch (shape.type) {
      case Type::kStructure:
        invalid(shown_key(key) + ": is a structure; give its members (" + member_list(shape) +
                ") as sub-keys rather than a value");
      case Type::kList:
        if (!value.empty()) {
          invalid(shown_key(key) + ": is a list; give its elements as " + shown_key(key) + ".1, " +
                  shown_key(key) + ".2, ... (an empty value stands for an empty list)");
        }
        if (!n.children.empty()) invalid(shown_key(key) + ": given as an empty list and with elements too");
        n.value = Json::array();
        return;
      default:
        n.value = scalar(key, shape.type, value);
    }
  }

  [[noreturn]] static void not_a(const std::string& key, const std::string& value, const char* what) {
    invalid(shown_key(key) + ": '" + quoted(value, 64) + "' is not " + what);
  }

  static Json scalar(const std::string& key, Type type, const std::string& value) {
    if (!valid_utf8(value)) invalid(shown_key(key) + ": the value is not UTF-8 text");
    switch (type) {
      case Type::kBoolean:
        if (value == "true") return true;
        if (value == "false") return false;
        not_a(key, value, "a boolean (true or false)");
      case Type::kInteger:
      case Type::kLong: {
        std::int64_t n = 0;
        const char* end = value.data() + value.size();
        auto [ptr, ec] = std::from_chars(value.data(), end, n);
        if (value.empty() || ec == std::errc::invalid_argument || ptr != end) not_a(key, value, "an integer");
        const bool fits = ec == std::errc() && (type == Type::kLong || (n >= std::numeric_limits<std::int32_t>::min() &&
                                                                      n <= std::numeric_limits<std::int32_t>::max()));
        if (!fits) not_a(key, value, type == Type::kLong ? "an integer of 64 bits" : "an integer of 32 bits");
        return n;
      }
      case Type::kDouble:
      case Type::kFloat: {
        double d = 0;
        const char* end = value.data() + value.size();
        auto [ptr, ec] = std::from_chars(value.data(), end, d);
        if (value.empty() || ec != std::errc() || ptr != end || !std::isfinite(d)) not_a(key, value, "a number");
        return d;
      }
      default:  // string; timestamp and blob stay text (ISO 8601, base64): the actions read them
        return value;
    }
  }

  // Depth: one level a key segment, bounded by the model's (acyclic) shapes.
  Json json(std::size_t node) const {
    const Node& n = nodes_[node];
    if (n.value) return *n.value;
    const CompiledModel::Shape& shape = model_.shapes[n.shape];
    if (shape.type == Type::kList) {
      Json out = Json::array();
      for (const auto& [index, child] : n.children) out.push_back(json(child));
      return out;
    }
    Json out = Json::object();
    for (const auto& [member, child] : n.children) out[shape.members[member].name] = json(child);
    return out;
  }

  const CompiledModel& model_;
  std::string action_;
  std::vector<Node> nodes_;
};

// Writes an answer's members as XML text, by the output shape where it has the
// member, straight into a string (as pugixml's raw format would: `<a/>` for an
// empty element, &amp; &lt; &gt; in text): an answer of 1,000 images is some
// 750 kB, and a tree of it would cost more than the answer itself took.
class XmlWriter {
 public:
  XmlWriter(const CompiledModel& model, std::string& out) : model_(model), out_(out) {}

  void structure(const CompiledModel::Shape& shape, const Json& object, int depth) {
    // The model's names are distinct; a name of amid's own must not repeat one.
    std::vector<std::string_view> unmodelled;
    for (const auto& [name, value] : object.items()) {
      if (value.is_null()) continue;
      auto it = shape.by_name.find(name);
      const CompiledModel::Member* member = it == shape.by_name.end() ? nullptr : &shape.members[it->second];
      path_.push_back(name);
      if (member) {
        const std::size_t at = open(member->xml_name);
        value_of(model_.shapes[member->shape], value, depth + 1);
        close(member->xml_name, at);
      } else {
        const std::string element = lower_camel(name);
        if (!xml_name(element)) bad_answer(path() + ": '" + quoted(element, 60) + "' cannot name an XML element");
        bool taken = std::find(unmodelled.begin(), unmodelled.end(), element) != unmodelled.end();
        for (const auto& m : shape.members) {
          auto present = object.find(m.name);
          taken = taken || (m.xml_name == element && present != object.end() && !present->is_null());
        }
        if (taken) bad_answer(path() + ": a second <" + element + "> in one element");
        unmodelled.push_back(lower_camel_names_.emplace_back(element));
        const std::size_t at = open(element);
        this->unmodelled(value, depth + 1);
        close(element, at);
      }
      path_.pop_back();
    }
  }

  // Members the model lacks: amid's own (PortForwards, Progress, ...), named the way
  // EC2 names its own (lower camel case), lists as <item>s.
  void members_unmodelled(const Json& object, int depth) {
    CompiledModel::Shape none;
    none.type = Type::kStructure;
    structure(none, object, depth);
  }

  // <name>, and where its content starts.
  std::size_t open(const std::string& name) {
    out_ += '<';
    out_ += name;
    out_ += '>';
    return out_.size();
  }
  // </name>, or <name/> when nothing was written since open().
  void close(const std::string& name, std::size_t content_at) {
    if (out_.size() == content_at) {
      out_.back() = '/';
      out_ += '>';
      return;
    }
    out_ += "</";
    out_ += name;
    out_ += '>';
  }
  void escaped(std::string_view s) {
    for (char c : s) {
      switch (c) {
        case '&': out_ += "&amp;"; break;
        case '<': out_ += "&lt;"; break;
        case '>': out_ += "&gt;"; break;
        default: out_ += c;
      }
    }
  }

 private:
  // amid's answers nest a few levels; this only stops a runaway one.
  static constexpr int kMaxDepth = 64;

  void value_of(const CompiledModel::Shape& shape, const Json& value, int depth) {
    check_depth(depth);
    switch (shape.type) {
      case Type::kStructure:
        if (!value.is_object()) mismatch(shape, value);
        structure(shape, value, depth);
        return;
      case Type::kList: {
        if (!value.is_array()) mismatch(shape, value);
        const CompiledModel::Shape& item = model_.shapes[shape.item];
        for (std::size_t i = 0; i < value.size(); ++i) {
          if (value[i].is_null()) continue;
          path_.push_back(i);
          const std::size_t at = open(shape.item_xml_name);
          value_of(item, value[i], depth + 1);
          close(shape.item_xml_name, at);
          path_.pop_back();
        }
        return;
      }
      case Type::kString:
        if (value.is_structured()) mismatch(shape, value);
        text(value);
        return;
      case Type::kInteger:
      case Type::kLong:
        if (!value.is_number_integer()) mismatch(shape, value);
        text(value);
        return;
      case Type::kDouble:
      case Type::kFloat:
        if (!value.is_number()) mismatch(shape, value);
        text(value);
        return;
      case Type::kBoolean:
        if (!value.is_boolean()) mismatch(shape, value);
        text(value);
        return;
      case Type::kTimestamp:
      case Type::kBlob:
        if (!value.is_string()) mismatch(shape, value);
        text(value);
        return;
    }
  }

  void unmodelled(const Json& value, int depth) {
    check_depth(depth);
    if (value.is_object()) {
      members_unmodelled(value, depth);
    } else if (value.is_array()) {
      static const std::string kItem = "item";
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i].is_null()) continue;
        path_.push_back(i);
        const std::size_t at = open(kItem);
        unmodelled(value[i], depth + 1);
        close(kItem, at);
        path_.pop_back();
      }
    } else {
      text(value);
    }
  }

  void text(const Json& value) {
    if (value.is_string()) {
      const std::string& s = value.get_ref<const std::string&>();
      if (!xml_safe(s)) bad_answer(path() + ": the text holds bytes or characters XML 1.0 cannot carry");
      escaped(s);
    } else if (value.is_boolean()) {
      out_ += value.get<bool>() ? "true" : "false";
    } else {
      out_ += value.dump();
    }
  }

  void check_depth(int depth) const {
    if (depth > kMaxDepth) bad_answer(path() + ": nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }

  [[noreturn]] void mismatch(const CompiledModel::Shape& shape, const Json& value) const {
    bad_answer(path() + ": a JSON " + value.type_name() + " where the model has a " + type_name(shape.type) +
               " (" + shape.name + ")");
  }

  // Where in the answer, for a message: Images[0].Tags[1].Key.
  std::string path() const {
    std::string out;
    for (const auto& part : path_) {
      if (const auto* name = std::get_if<std::string_view>(&part)) {
        if (!out.empty()) out += '.';
        out += quoted(*name, 60);
      } else {
        out += "[" + std::to_string(std::get<std::size_t>(part)) + "]";
      }
    }
    return out.empty() ? "the answer" : out;
  }

  const CompiledModel& model_;
  std::string& out_;
  std::vector<std::variant<std::string_view, std::size_t>> path_;
  std::deque<std::string> lower_camel_names_;  // keeps the names `unmodelled` points into
};

}  // namespace

Ec2Model::Ec2Model(const Json& model) : model_(compile(model)) {}

Ec2Model::~Ec2Model() = default;

const Ec2Model& Ec2Model::instance() {
  // Parsed on first use; a function-local static is initialised once, thread-safely.
  static const Ec2Model model(Json::parse(ec2_query_model_json()));
  return model;
}

bool Ec2Model::has_action(const std::string& action) const { return model_->operations.count(action) > 0; }

const std::string& Ec2Model::api_version() const { return model_->api_version; }

Json Ec2Model::parameters(const std::string& action,
                          const std::vector<std::pair<std::string, std::string>>& form) const {
  const CompiledModel::Operation& op = model_->operation(action);
  if (!op.input) {
    if (!form.empty()) {
      throw AmidError(codes::kUnknownParameter, shown_key(form.front().first) + ": unknown parameter; " + action +
                                                    " takes no parameters");
    }
    return Json::object();
  }
  FormTree tree(*model_, action, *op.input);
  for (const auto& [key, value] : form) tree.add(key, value);
  return tree.json();
}

std::string Ec2Model::response_xml(const std::string& action, const Json& answer,
                                   const std::string& request_id) const {
  const CompiledModel::Operation& op = model_->operation(action);
  if (!answer.is_object()) bad_answer("the answer is a JSON " + std::string(answer.type_name()) + ", not an object");
  if (!xml_safe(request_id)) bad_answer("the request id holds characters XML 1.0 cannot carry");
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  XmlWriter writer(*model_, out);
  const std::string root = action + "Response";
  out += '<' + root + " xmlns=\"";
  writer.escaped(model_->xml_namespace);
  out += "\">";
  // botocore takes the request id from <requestId>, EC2's first element.
  const std::size_t at = writer.open("requestId");
  writer.escaped(request_id);
  writer.close("requestId", at);
  if (op.output) writer.structure(model_->shapes[*op.output], answer, 0);
  else writer.members_unmodelled(answer, 0);
  out += "</" + root + ">";
  return out;
}

std::string error_xml(const std::string& code, const std::string& message, const std::string& request_id) {
  pugi::xml_document doc;
  add_declaration(doc);
  pugi::xml_node response = doc.append_child("Response");
  pugi::xml_node error = response.append_child("Errors").append_child("Error");
  error.append_child("Code").text().set(xml_sanitised(code).c_str());
  error.append_child("Message").text().set(xml_sanitised(message).c_str());
  response.append_child("RequestID").text().set(xml_sanitised(request_id).c_str());
  return save(doc);
}

}  // namespace amid::query
