#include "cli/output.h"

#include <iostream>

#include "cli/exit_codes.h"

namespace amid::cli {

std::string field(const protocol::Json& j, const std::string& pointer) {
  protocol::Json::json_pointer ptr(pointer);
  if (!j.contains(ptr)) return "-";
  const auto& v = j.at(ptr);
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

std::string render_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < headers.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      out << c;
      if (i + 1 < headers.size()) out << std::string(width[i] - c.size() + 2, ' ');
    }
    out << "\n";
  };
  line(headers);
  for (const auto& r : rows) line(r);
  return out.str();
}

void print_rows(Context& ctx, const protocol::Json& answer, const protocol::Json& rows,
                const std::vector<Column>& columns) {
  if (ctx.format == Format::kJson) {
    ctx.out << answer.dump(4) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (const auto& c : columns) line.push_back(c.value(row));
    cells.push_back(std::move(line));
  }
  if (ctx.format == Format::kText) {
    for (const auto& line : cells) {
      for (size_t i = 0; i < line.size(); ++i) ctx.out << (i ? "\t" : "") << line[i];
      ctx.out << "\n";
    }
    // stdout stays rows only, for pipelines.
    if (answer.contains("NextToken")) ctx.err << next_page_hint(answer["NextToken"].get<std::string>());
    return;
  }
  std::vector<std::string> headers;
  for (const auto& c : columns) headers.push_back(c.title);
  ctx.out << render_table(headers, cells);
  if (answer.contains("NextToken")) ctx.out << next_page_hint(answer["NextToken"].get<std::string>());
}

std::string next_page_hint(const std::string& token) {
  return "(more results: run the same command with --next-token " + token + ")\n";
}

bool call(Context& ctx, const std::string& action, const protocol::Json& params,
          protocol::Json& body) {
  protocol::Response r = ctx.client.call(action, params);
  if (!r.ok) {
    ctx.err << "amictl: " << r.error_code << ": " << r.error_message << "\n";
    ctx.exit_code = exit_code_for(r.error_code);
    return false;
  }
  body = std::move(r.body);
  return true;
}

}  // namespace amid::cli
