// Fuzz target: libvirt's save image header reader (daemon/host/save_image.h),
// which amid runs on a warm image's memory file before every warm launch: a
// damaged or truncated file must fail that launch with a clear error, never
// crash amid.
//
// The input is the file's bytes (in a memfd). Checked: no crash, leak, hang or
// UB; a refusal is an AmidError naming the file; an accepted header has its
// stream right after its data, and a header rendered from it for a new XML
// reads back with that XML, the same cookie and the same stream offset.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "daemon/host/save_image.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// A memfd holding `bytes`, and its path; closed when it goes.
class MemFile {
 public:
  explicit MemFile(const std::string& bytes) {
    fd_ = ::memfd_create("amid-fuzz-save-image", MFD_CLOEXEC);
    AMID_FUZZ_CHECK(fd_ >= 0);
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      AMID_FUZZ_CHECK(n > 0);
      done += static_cast<std::size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace amid;
  const std::string bytes = fuzz::text(data, size);
  MemFile file(bytes);
  SaveImageHeader header;
  try {
    header = read_save_image_header(file.path());
  } catch (const AmidError& e) {
    AMID_FUZZ_CHECK(std::string(e.what()).find(file.path()) != std::string::npos, e.what());
    return 0;
  }
  AMID_FUZZ_CHECK(header.stream_offset == kSaveImageHeaderSize + header.data_len);
  AMID_FUZZ_CHECK(header.stream_offset + 4 <= bytes.size());
  AMID_FUZZ_CHECK(bytes.compare(header.stream_offset, 4, "QEVM") == 0);
  AMID_FUZZ_CHECK(!header.domain_xml.empty());

  const std::string new_xml = "<domain type='qemu'><name>i-0123456789abcdef0</name></domain>";
  std::string rendered;
  try {
    rendered = render_save_image_header(header, new_xml, !header.was_running);
  } catch (const AmidError& e) {
    // Only a data area too small for the new XML and the cookie is refused.
    AMID_FUZZ_CHECK(header.data_len < new_xml.size() + 1 + header.cookie_xml.size() + 1, e.what());
    return 0;
  }
  AMID_FUZZ_CHECK(rendered.size() == header.stream_offset);
  MemFile again(rendered + bytes.substr(header.stream_offset));
  const SaveImageHeader reread = read_save_image_header(again.path());
  AMID_FUZZ_CHECK(reread.domain_xml == new_xml);
  AMID_FUZZ_CHECK(reread.cookie_xml == header.cookie_xml);
  AMID_FUZZ_CHECK(reread.was_running == !header.was_running);
  AMID_FUZZ_CHECK(reread.stream_offset == header.stream_offset);
  return 0;
}
