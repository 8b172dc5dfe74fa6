#include "mss/handlers/audit_handler.hpp"

#include <cassert>
#include <cstdio>

namespace courier::mss {

void audit_handler::run(std::shared_ptr<const handler_input> input, handler_done done) {
  assert(log_ && "built for a check (handler_build_options::open_audit_logs false): never run");
  audit_record record;
  record.subject = input->subject;
  record.payload = input->payload;
  record.received = input->received;
  log_->append(std::move(record), [done = std::move(done), name = name()](std::error_code ec) {
    handler_result result;
    result.ok = !ec;
    if (ec) result.error = "audit handler '" + name + "': " + ec.message();
    done(std::move(result));
  });
}

log_handler::log_handler(std::string name, log_sink sink) : handler(std::move(name)), sink_(std::move(sink)) {
  if (!sink_) sink_ = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
}

void log_handler::run(std::shared_ptr<const handler_input> input, handler_done done) {
  std::string snippet = input->payload.substr(0, max_snippet);
  // Keep the log line one line and printable.
  for (char& c : snippet)
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = '.';
  std::string line = "[mss " + name() + "] subject=" + input->subject;
  if (input->message.correlation_id) line += " correlationId=" + *input->message.correlation_id;
  line += " payload=" + snippet;
  if (input->payload.size() > max_snippet) line += "...(" + std::to_string(input->payload.size()) + " bytes)";
  sink_(line);
  done({true, {}, {}});
}

}  // namespace courier::mss
