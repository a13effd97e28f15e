// amid's side of the resume port (images/README.md, "Warm images"): a guest
// restored from a warm image resumes where the image's guest was saved, with
// its identity; amid tells it who it now is over the virtio-serial port
// org.amid.resume.0 (domain_xml.h: kResumeChannel), whose host end is a Unix
// socket QEMU listens on.
//
// The guest's listener greets every new connection with `amid-resume-ready 1`
// (it waits for amid by writing that line), reads one message, and answers
// `amid-resumed ID` once its clock, random pool, hostname, MAC and address are
// set, or `amid-resume-failed REASON`. Blocking calls with deadlines, for a
// worker thread; errors are AmidError(InternalError) saying what the guest did
// or did not do.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace amid {

struct ResumeMessage {
  std::string instance_id;
  std::int64_t time = 0;  // the host's Unix time, seconds
  std::string seed;       // random bytes for the guest's pool (64)
  std::string hostname;   // "" = none
  std::string network;    // the words of fw_cfg's opt/amid/network; "" = none
  std::optional<std::string> user_data;
};

// The message as its lines, ending with "end\n". Throws AmidError when a field
// cannot be sent as it is (a newline in the network words, an empty id or seed).
std::string render_resume_message(const ResumeMessage& message);

// Waits until the guest behind `socket_path` greets a connection: its boot is
// done and its listener waits for amid. False at the deadline (a guest whose
// image has no listener never greets). The socket may not exist yet (QEMU
// makes it when it starts): it is looked for until the deadline.
bool wait_for_resume_listener(const std::string& socket_path, std::chrono::milliseconds timeout);

// Sends `message` to the guest behind `socket_path` as soon as it connects
// (greetings are passed over: a guest saved while it waited for a message
// never greets) and waits for its answer. Throws when the guest answers
// amid-resume-failed, or nothing for this instance before the deadline.
void resume_guest(const std::string& socket_path, const ResumeMessage& message, std::chrono::milliseconds timeout);

}  // namespace amid
