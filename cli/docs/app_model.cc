#include "cli/docs/app_model.h"

#include <fstream>
#include <regex>
#include <stdexcept>

namespace amid::cli::docs {
namespace {

OptionDoc describe_option(const CLI::Option& o) {
  OptionDoc d;
  d.name = o.get_lnames().empty() ? (o.get_snames().empty() ? o.get_name() : "-" + o.get_snames()[0])
                                  : "--" + o.get_lnames()[0];
  if (o.get_positional() && !o.nonpositional()) d.name = o.get_name(true);
  d.description = o.get_description();
  d.required = o.get_required();
  bool flag = o.get_type_size_max() == 0 || o.get_type_name().empty();
  if (!flag) {
    std::string type = o.get_type_name();
    // "TEXT:{json,table,text}": the value's kind, then an IsMember check's values.
    auto colon = type.find(':');
    d.value_name = type.substr(0, colon);
    auto open = type.find('{'), close = type.rfind('}');
    if (open != std::string::npos && close != std::string::npos && close > open) {
      std::string list = type.substr(open + 1, close - open - 1);
      for (size_t start = 0;;) {
        auto comma = list.find(',', start);
        d.choices.push_back(list.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    d.many = o.get_items_expected_max() > 1;
    d.default_value = o.get_default_str();
  }
  d.live_ids = live_ids_for(d.name);
  return d;
}

void add_commands(const CLI::App& parent, const std::string& prefix, std::vector<CommandDoc>& out) {
  for (const CLI::App* sub : parent.get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); })) {
    CommandDoc c{prefix + sub->get_name(), {}, sub->get_description(), {}, {}};
    for (const CLI::Option* o : sub->get_options()) {
      if (o == sub->get_help_ptr()) continue;
      OptionDoc d = describe_option(*o);
      (o->nonpositional() ? c.options : c.positionals).push_back(d);
    }
    for (const CLI::App* nested : sub->get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); }))
      c.subcommands.push_back(nested->get_name());
    out.push_back(std::move(c));
    add_commands(*sub, prefix + sub->get_name() + " ", out);
  }
}

}  // namespace

std::string live_ids_for(const std::string& name) {
  if (name == "--instance-id" || name == "--instance-ids") return "instance";
  if (name == "--image-id" || name == "--image-ids") return "image";
  if (name == "--key-name" || name == "--key-names") return "key-pair";
  if (name == "--group-id" || name == "--group-ids" || name == "--security-group-ids") return "security-group";
  if (name == "--volume-id" || name == "--volume-ids") return "volume";
  return "";
}

AppDoc describe_app(const CLI::App& app) {
  AppDoc doc;
  doc.description = app.get_description();
  for (const CLI::Option* o : app.get_options()) {
    OptionDoc d = describe_option(*o);
    // The socket's default is where the generating user's runtime dir is: the man
    // page says where it is for whom instead (ENVIRONMENT, FILES).
    if (d.name == "--socket") d.default_value.clear();
    doc.global_options.push_back(d);
  }
  add_commands(app, "", doc.commands);
  return doc;
}

std::vector<ExitCodeDoc> read_exit_codes(const std::string& header_path) {
  std::ifstream in(header_path);
  if (!in) throw std::runtime_error("cannot read " + header_path);
  static const std::regex entry(R"(^\s*(k\w+)\s*=\s*(\d+),\s*(?://\s*(.*))?$)");
  std::vector<ExitCodeDoc> codes;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, entry)) continue;
    std::string meaning = m[3].matched ? m[3].str() : std::string();
    if (meaning.empty() && m[2] == "0") meaning = "success";
    codes.push_back({std::stoi(m[2]), m[1], meaning});
  }
  if (codes.empty()) throw std::runtime_error(header_path + ": no exit codes found");
  return codes;
}

}  // namespace amid::cli::docs
