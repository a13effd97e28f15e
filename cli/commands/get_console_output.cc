#include <chrono>
#include <thread>

#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "common/base64.h"

namespace amid::cli {

void add_get_console_output(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("get-console-output", "Show an instance's serial console output");
  struct Opts {
    std::string id, wait_for;
    int timeout = 300;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--instance-id", o->id, "i-...")->required();
  cmd->add_option("--wait-for", o->wait_for, "poll until the output holds this text");
  cmd->add_option("--timeout", o->timeout, "seconds --wait-for waits at most")->default_str("300");
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    const auto start = std::chrono::steady_clock::now();
    auto deadline = start + std::chrono::seconds(o->timeout);
    for (;;) {
      protocol::Json body;
      if (!call(ctx, "GetConsoleOutput", {{"InstanceId", o->id}}, body)) return;
      std::string text = base64_decode(body.value("Output", "")).value_or("");
      bool done = o->wait_for.empty() || text.find(o->wait_for) != std::string::npos;
      if (done || std::chrono::steady_clock::now() >= deadline) {
        if (ctx.format == Format::kJson) {
          body["Output"] = text;
          ctx.out << body.dump(4) << "\n";
        } else {
          ctx.out << text;
          if (!text.empty() && text.back() != '\n') ctx.out << "\n";
        }
        if (!done) {
          ctx.err << "amictl: timed out after " << o->timeout << " s waiting for '" << o->wait_for
                  << "' on " << o->id << "\n";
          ctx.exit_code = kTimedOut;
        }
        return;
      }
      // Every 100 ms for the first 5 s (a warm launch is ready in about one:
      // the wait should not add half a second to it), then every 500 ms (a
      // boot takes many seconds; no need to ask ten times a second).
      bool early = std::chrono::steady_clock::now() - start < std::chrono::seconds(5);
      std::this_thread::sleep_for(std::chrono::milliseconds(early ? 100 : 500));
    }
  });
}

}  // namespace amid::cli
