// EC2's XML: answers written by the output shape (Ec2Model::response_xml) and
// the error document (error_xml), the half of api/query_protocol.h that writes.
#include <algorithm>
#include <deque>
#include <pugixml.hpp>
#include <sstream>
#include <string_view>
#include <variant>

#include "daemon/api/query_model.h"
#include "daemon/api/query_protocol.h"

namespace amid::query {

using protocol::Json;

namespace {

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

std::string lower_camel(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z') out[0] = static_cast<char>(out[0] - 'A' + 'a');
  return out;
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

  // One element of the list `field` of the answer (`list` its shape), the
  // index-th: <item>...</item>.
  void list_item(const std::string& field, const CompiledModel::Shape& list, std::size_t index, const Json& row) {
    path_.push_back(std::string_view(field));
    path_.push_back(index);
    const std::size_t at = open(list.item_xml_name);
    value_of(model_.shapes[list.item], row, 2);
    close(list.item_xml_name, at);
    path_.pop_back();
    path_.pop_back();
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

namespace {

// The response's start: declaration, <ActionResponse xmlns=...>, <requestId>.
// Returns the root element's name, for its end.
std::string open_response(const CompiledModel& model, XmlWriter& writer, std::string& out, const std::string& action,
                          const std::string& request_id) {
  if (!xml_safe(request_id)) bad_answer("the request id holds characters XML 1.0 cannot carry");
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  std::string root = action + "Response";
  out += '<' + root + " xmlns=\"";
  writer.escaped(model.xml_namespace);
  out += "\">";
  // botocore takes the request id from <requestId>, EC2's first element.
  const std::size_t at = writer.open("requestId");
  writer.escaped(request_id);
  writer.close("requestId", at);
  return root;
}

}  // namespace

std::string Ec2Model::response_xml(const std::string& action, const Json& answer,
                                   const std::string& request_id) const {
  const CompiledModel::Operation& op = model_->operation(action);
  if (!answer.is_object()) bad_answer("the answer is a JSON " + std::string(answer.type_name()) + ", not an object");
  std::string out;
  XmlWriter writer(*model_, out);
  const std::string root = open_response(*model_, writer, out, action, request_id);
  if (op.output) writer.structure(model_->shapes[*op.output], answer, 0);
  else writer.members_unmodelled(answer, 0);
  out += "</" + root + ">";
  return out;
}

std::string Ec2Model::listing_xml(const std::string& action, const std::string& request_id, const std::string& field,
                                  const protocol::RowSource& rows) const {
  const CompiledModel::Operation& op = model_->operation(action);
  if (!op.output) bad_answer(action + " has no output shape to hold " + field);
  const CompiledModel::Shape& output = model_->shapes[*op.output];
  auto member = output.by_name.find(field);
  if (member == output.by_name.end() || model_->shapes[output.members[member->second].shape].type != Type::kList) {
    bad_answer(action + "'s output has no list " + field);
  }
  const CompiledModel::Member& list_member = output.members[member->second];
  const CompiledModel::Shape& list = model_->shapes[list_member.shape];
  std::string out;
  XmlWriter writer(*model_, out);
  const std::string root = open_response(*model_, writer, out, action, request_id);
  const std::size_t at = writer.open(list_member.xml_name);
  std::size_t index = 0;
  const std::string next_token = rows([&](const Json& row) {
    if (!row.is_null()) writer.list_item(field, list, index, row);
    ++index;
  });
  writer.close(list_member.xml_name, at);
  if (!next_token.empty()) writer.structure(output, Json{{"NextToken", next_token}}, 0);
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
