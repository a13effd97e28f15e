// libvirt's QEMU save image (what virDomainSave writes), read and given a new
// domain XML, so that one saved guest can be restored as many instances.
//
// The file: a 92-byte header, `data_len` bytes of data, then QEMU's migration
// stream ("QEVM"...) to the end. The header is "LibvirtQemudSave" (16 bytes, no
// NUL) and 19 u32s in the saving host's byte order: version (2), data_len,
// was_running, compressed (0 = raw), cookieOffset, 14 unused (libvirt writes 0
// and never reads them). The data is the domain XML and its NUL, then, when
// cookieOffset is not 0, a <cookie> XML and its NUL at cookieOffset (counted
// from the start of the data), then zeros: libvirt leaves 64 KiB of room so the
// XML can be edited in place (src/qemu/qemu_saveimage.c).
//
// libvirt's restore compares a caller's XML with the header's and refuses a new
// name, UUID, MAC or genid, but it trusts the header's own XML. So amid writes,
// per instance, a header naming the instance, with the same data_len, and puts
// the shared image's stream unchanged after it (through a FIFO or in a copy).
// This leans on libvirt's private file format; it holds for libvirt 9.0.
//
// Only what libvirt 9.0 writes is read: version 2, uncompressed. Blocking file
// I/O, no shared state: any thread. Failures throw AmidError (InternalError)
// whose message names the file and what is wrong with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace amid {

inline constexpr std::size_t kSaveImageHeaderSize = 92;
// More data than this is not a domain XML and its cookie: the file is damaged.
inline constexpr std::uint32_t kSaveImageMaxDataLen = 16u << 20;

struct SaveImageHeader {
  std::string path;         // the file it was read from, for messages
  std::string domain_xml;
  std::string cookie_xml;   // "" when the image has none (cookieOffset 0)
  bool was_running = false;  // libvirt resumes the guest after the restore
  std::uint32_t data_len = 0;
  std::uint64_t stream_offset = 0;  // where QEMU's stream starts: kSaveImageHeaderSize + data_len
};

// Reads and checks the header and data of the save image at `path`: the magic
// (an unfinished save, "LibvirtQemudPart", is named as such), version 2, not
// compressed, 0 < data_len <= kSaveImageMaxDataLen and inside the file, the XML
// and the cookie NUL-terminated inside the data, "QEVM" at stream_offset.
SaveImageHeader read_save_image_header(const std::string& path);

// The first stream_offset bytes of a save image for `new_domain_xml`: header,
// the XML, `original`'s cookie, zeros up to `original`'s data_len, so that
// `original`'s stream follows unchanged. `running` sets was_running (false:
// the guest stays paused after the restore). Throws when the new XML is empty
// or holds a NUL, or when the XML and cookie do not fit in data_len (the
// message says by how many bytes).
std::string render_save_image_header(const SaveImageHeader& original, const std::string& new_domain_xml,
                                     bool running);

// Writes at `dest` a save image of `src`'s guest for `new_domain_xml`: the
// rendered header, then `src`'s stream copied in the kernel (copy_file_range;
// holes stay holes). Goes through dest + ".tmp" and a rename; mode 0600. Not
// fsynced: the copy serves one restore and goes right after it (a crash loses
// nothing the next launch does not write again), and a launch waits for it.
void write_save_image(const std::string& src, const std::string& dest, const std::string& new_domain_xml,
                      bool running);

}  // namespace amid
