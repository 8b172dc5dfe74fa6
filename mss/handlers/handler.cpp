#include "mss/handlers/handler.hpp"

namespace courier::mss {

std::shared_ptr<const handler_input> handler_input::make(std::string subject, std::string name, std::string payload) {
  auto input = std::make_shared<handler_input>();
  input->subject = std::move(subject);
  input->name = std::move(name);
  input->message = inspect_message(payload);
  input->payload = std::move(payload);
  return input;
}

}  // namespace courier::mss
