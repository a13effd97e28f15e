#include "daemon/host/qemu_img.h"

#include <nlohmann/json.hpp>

#include "daemon/host/process.h"

namespace amid {

Result<DiskInfo> parse_disk_info(const std::string& json_text) {
  auto doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return problem("qemu-img info gave no JSON");
  DiskInfo info;
  if (!doc.contains("format") || !doc["format"].is_string()) {
    return problem("qemu-img info did not name the format");
  }
  info.format = doc["format"];
  if (!doc.contains("virtual-size") || !doc["virtual-size"].is_number_unsigned()) {
    return problem("qemu-img info did not give the virtual size");
  }
  info.virtual_size = doc["virtual-size"];
  if (doc.contains("actual-size") && doc["actual-size"].is_number_unsigned()) {
    info.actual_size = doc["actual-size"];
  }
  if (doc.contains("backing-filename") && doc["backing-filename"].is_string()) {
    info.backing_file = doc["backing-filename"];
  }
  if (doc.contains("full-backing-filename") && info.backing_file.empty() &&
      doc["full-backing-filename"].is_string()) {
    info.backing_file = doc["full-backing-filename"];
  }
  if (doc.contains("encrypted") && doc["encrypted"].is_boolean()) info.encrypted = doc["encrypted"];
  auto& specific = doc["format-specific"];
  if (specific.is_object() && specific["data"].is_object()) {
    auto& data = specific["data"];
    if (data.contains("data-file") && data["data-file"].is_string()) info.data_file = data["data-file"];
    if (data.contains("encrypt") && !data["encrypt"].is_null()) info.encrypted = true;
  }
  return info;
}

Result<DiskInfo> check_importable(const DiskInfo& info, const std::string& path,
                                  std::uint64_t max_bytes) {
  if (info.format != "qcow2" && info.format != "raw") {
    return problem("disk: " + path + " is " + info.format + "; amid accepts qcow2 or raw");
  }
  if (!info.backing_file.empty()) {
    return problem("disk: " + path + " has a backing file (" + info.backing_file +
                   "); flatten it first with 'qemu-img convert -O qcow2 " + path + " flat.qcow2'");
  }
  if (!info.data_file.empty()) {
    return problem("disk: " + path + " names an external data file (" + info.data_file +
                   "); amid accepts only self-contained images");
  }
  if (info.encrypted) return problem("disk: " + path + " is encrypted; amid cannot use it");
  if (info.virtual_size == 0) return problem("disk: " + path + " has a virtual size of 0");
  if (info.virtual_size > max_bytes) {
    return problem("disk: " + path + " has a virtual size of " + std::to_string(info.virtual_size) +
                   " bytes, past the cap of " + std::to_string(max_bytes) +
                   " (limits.max_image_gib in amid.toml)");
  }
  return info;
}

namespace {
void run_or_throw(const std::vector<std::string>& argv, const std::string& what) {
  ProcessResult r = run_process(argv);
  if (r.exit_code != 0) {
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    throw AmidError(codes::kInternalError, what + ": qemu-img failed: " + err);
  }
}
}  // namespace

DiskInfo QemuImg::info(const std::string& path) const {
  // -U: a shared lock is enough to read the header, and works on disks in use.
  ProcessResult r = run_process({"qemu-img", "info", "-U", "--output=json", path});
  if (r.exit_code != 0) {
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    throw AmidError(codes::kInvalidDisk, "disk: cannot read " + path + ": " + err);
  }
  return parse_disk_info(r.out).value_or_throw();
}

void QemuImg::convert_to_qcow2(const std::string& src, const std::string& src_format,
                               const std::string& dst) const {
  run_or_throw({"qemu-img", "convert", "-q", "-f", src_format, "-O", "qcow2", "-o",
                "cluster_size=65536", src, dst},
               "copy of " + src);
}

void QemuImg::flatten(const std::string& src, const std::string& dst,
                      const std::function<void(double)>& progress) const {
  ProcessResult r = run_process(
      {"qemu-img", "convert", "-p", "-U", "-f", "qcow2", "-O", "qcow2", "-o", "cluster_size=65536",
       src, dst},
      [&](const std::string& line) {
        // "    (42.00/100%)"
        auto open = line.find('(');
        auto slash = line.find('/', open);
        if (open == std::string::npos || slash == std::string::npos || !progress) return;
        try {
          progress(std::stod(line.substr(open + 1, slash - open - 1)) / 100.0);
        } catch (const std::exception&) {
        }
      });
  if (r.exit_code != 0) {
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    throw AmidError(codes::kInternalError, "copy of " + src + ": qemu-img failed: " + err);
  }
}

void QemuImg::commit(const std::string& overlay) const {
  run_or_throw({"qemu-img", "commit", "-q", "-f", "qcow2", overlay}, "merging " + overlay + " into its backing file");
}

void QemuImg::create_blank(const std::string& path, std::uint64_t size_bytes) const {
  run_or_throw({"qemu-img", "create", "-q", "-f", "qcow2", path, std::to_string(size_bytes)},
               "blank volume " + path);
}

void QemuImg::create_overlay(const std::string& backing, const std::string& overlay,
                             std::uint64_t size_bytes) const {
  std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                                   "-b", backing, overlay};
  if (size_bytes) argv.push_back(std::to_string(size_bytes));
  run_or_throw(argv, "overlay on " + backing);
}

void QemuImg::set_backing_file(const std::string& overlay, const std::string& backing) const {
  run_or_throw({"qemu-img", "rebase", "-q", "-u", "-f", "qcow2", "-F", "qcow2", "-b", backing, overlay},
               "backing file of " + overlay);
}

}  // namespace amid
