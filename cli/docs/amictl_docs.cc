// amictl_docs OUT_DIR EXIT_CODES_H: writes amictl.1, amictl.bash and _amictl
// (zsh) into OUT_DIR from the same CLI::App amictl parses with (cli/app.h).
// Run by the build (cli/CMakeLists.txt); not installed.
#include <fstream>
#include <iostream>

#include "cli/app.h"
#include "cli/docs/app_model.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace amid::cli;
  if (argc != 3) {
    std::cerr << "usage: amictl_docs OUT_DIR EXIT_CODES_H\n";
    return 2;
  }
  try {
    GlobalOptions globals;
    // The app's commands never run here: nothing calls make_ctx.
    ContextFactory no_ctx = []() -> Context& { throw std::logic_error("amictl_docs runs no command"); };
    std::unique_ptr<CLI::App> app = make_app(globals, no_ctx);
    docs::AppDoc doc = docs::describe_app(*app);
    auto exit_codes = docs::read_exit_codes(argv[2]);
    std::string dir = argv[1];
    auto write = [&](const std::string& name, auto&& writer) {
      std::ofstream out(dir + "/" + name);
      writer(out);
      out.close();
      if (!out) throw std::runtime_error("cannot write " + dir + "/" + name);
    };
    write("amictl.1", [&](std::ostream& o) { docs::write_man_page(doc, exit_codes, amid::kVersion, o); });
    write("amictl.bash", [&](std::ostream& o) { docs::write_bash_completion(doc, o); });
    write("_amictl", [&](std::ostream& o) { docs::write_zsh_completion(doc, o); });
  } catch (const std::exception& e) {
    std::cerr << "amictl_docs: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
