// How amictl shows answers: JSON (EC2's field names, for scripts), a table (for
// people) or tab-separated text (for shell pipelines, like aws --output text).
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/client.h"
#include "common/protocol.h"

namespace amid::cli {

enum class Format { kJson, kTable, kText };

struct Column {
  std::string title;
  std::function<std::string(const protocol::Json&)> value;
};

// What every command gets: the client, the chosen format, where to print.
struct Context {
  Client& client;
  Format format;
  std::ostream& out;
  std::ostream& err;
  int exit_code = 0;
};

// Prints `answer` as JSON, or `rows` through `columns` as a table or text; when
// the answer has a NextToken, a table ends with next_page_hint (text: on stderr).
void print_rows(Context& ctx, const protocol::Json& answer, const protocol::Json& rows,
                const std::vector<Column>& columns);
// The line that tells a person how to get the next page.
std::string next_page_hint(const std::string& token);
// A table with a header and aligned columns; pure (for golden tests).
std::string render_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows);
// The string at a JSON pointer ("/State/Name"), or "-" when absent.
std::string field(const protocol::Json& j, const std::string& pointer);

// Calls amid; on an error answer prints it and sets ctx.exit_code, returning false.
bool call(Context& ctx, const std::string& action, const protocol::Json& params,
          protocol::Json& body);

}  // namespace amid::cli
